"""iJw 3.2 XML messages: namespaces, the shipped XSDs, hardened parsing and schema validation.

Shared by the reader (``readers/ijw_xml.py``: JW323 declarations, JW301 allocations) and the
writer of JW325 answers.

* ``BERICHTEN`` / ``bericht(naam)`` / ``bericht_by_namespace(ns)``: the message kinds jzcli knows
  (name, BerichtCode, namespace, XSD file, what an import makes of it).
* ``tag(bericht, local)`` / ``basis_tag(local)``: Clark names (``{namespace}Local``). Elements
  declared in a message schema are in the message's namespace; the children of the shared
  complex types (``BerichtIdentificatie/Identificatie``, ``ProductPeriode/Begindatum``,
  ``IngediendBedrag/Bedrag``, ...) are in the basisschema namespace (both schemas are
  ``elementFormDefault="qualified"``).
* ``schema(naam)``: the ``lxml.etree.XMLSchema`` of a message, loaded from the package data
  ``jzcli/reference/xsd`` with a resolver that serves only those files (no network, no disk
  outside the package).
* ``SAFE_PARSE``: the hardened parser options (no entity resolution, no DTD loading, no
  network, no huge trees); ``check_prolog(path)`` refuses a DOCTYPE before anything is parsed:
  iJw messages never have one, and a DTD is how XXE and entity-expansion bombs get in.
* ``validate_xsd(source, naam)``: level 1, the list of schema errors (``XsdFout``: line number,
  element path such as ``/Bericht/Declaratie/Clienten/Client[2]/Bsn``, message). A file path is
  checked streaming (constant memory, also for a 25 MB message) and parsed whole only when it
  is invalid, to locate the errors; bytes, an lxml tree or element are validated as they are.
* ``serialise(tree)``: the bytes of a message as written (UTF-8, no BOM, CR/LF; OP192), for the
  JW323 and the JW325 writer alike.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from lxml import etree

from jzcli.errors import FileReadError

IJW_RELEASE = "3_2"
BASIS_NS = f"http://www.istandaarden.nl/ijw/{IJW_RELEASE}/basisschema/schema"
XS_NS = "http://www.w3.org/2001/XMLSchema"
_NS_PATTERN = re.compile(r"^http://www\.istandaarden\.nl/ijw/(\d+_\d+)/(jw\d{3})/schema$")

# Hardened parsing: never resolve entities, never load a DTD, never touch the network, keep
# libxml2's limits on text node size and depth. Use with etree.XMLParser(**SAFE_PARSE) or
# etree.iterparse(..., **SAFE_PARSE).
SAFE_PARSE = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False)
# For iterparse with schema=: lxml 6 with libxml2 2.14 swallows the fatal error of a file cut short
# (and closes the open elements itself) when resolve_entities=False is combined with a schema, so a
# truncated JW323 streamed as if complete. "internal" resolves no external entity either, and no
# internal one can exist: a DOCTYPE is refused before parsing (check_prolog/refuse_dtd).
SAFE_STREAM = {**SAFE_PARSE, "resolve_entities": "internal"}


@dataclass(frozen=True)
class Bericht:
    naam: str  # "JW323"
    code: str  # BerichtCode, "490"
    titel: str
    soort: str | None = None  # what jzcli import makes of it: declaraties | toewijzingen | None

    @property
    def namespace(self) -> str:
        return f"http://www.istandaarden.nl/ijw/{IJW_RELEASE}/{self.naam.lower()}/schema"

    @property
    def xsd(self) -> str:
        return f"{self.naam}.xsd"


BERICHTEN: dict[str, Bericht] = {
    "JW301": Bericht("JW301", "436", "Toewijzing", "toewijzingen"),
    "JW323": Bericht("JW323", "490", "Declaratie", "declaraties"),
    "JW325": Bericht("JW325", "491", "Declaratie-antwoord"),
}
# Other iJw 3.2 messages: recognised (to say clearly that they are not imported), not read.
OTHER_BERICHTEN: dict[str, tuple[str, str]] = {
    "JW302": ("437", "Retourbericht toewijzing"),
    "JW305": ("438", "Start zorg"),
    "JW306": ("439", "Retourbericht start zorg"),
    "JW307": ("440", "Stop zorg"),
    "JW308": ("441", "Retourbericht stop zorg"),
    "JW315": ("446", "Verzoek om toewijzing"),
    "JW316": ("447", "Retourbericht verzoek om toewijzing"),
    "JW317": ("486", "Verzoek om wijziging"),
    "JW318": ("487", "Retourbericht verzoek om wijziging"),
    "JW319": ("488", "Antwoordbericht"),
    "JW320": ("489", "Retourbericht antwoordbericht"),
}
# Parts of the header every message has, in XSD order (``CDT_BerichtIdentificatie`` children in
# the basisschema namespace).
HEADER_FIELDS = ("BerichtCode", "BerichtVersie", "BerichtSubversie", "Afzender", "Ontvanger")


def bericht(naam: str) -> Bericht:
    try:
        return BERICHTEN[naam.upper()]
    except KeyError:
        raise ValueError(f"unknown iJw message {naam!r}; known: {', '.join(BERICHTEN)}") from None


def bericht_by_namespace(namespace: str | None) -> Bericht | None:
    for b in BERICHTEN.values():
        if b.namespace == namespace:
            return b
    return None


def bericht_by_code(code: str | None) -> Bericht | None:
    for b in BERICHTEN.values():
        if b.code == code:
            return b
    return None


def tag(b: Bericht | str, local: str) -> str:
    """``{message namespace}local``."""
    b = bericht(b) if isinstance(b, str) else b
    return f"{{{b.namespace}}}{local}"


def basis_tag(local: str) -> str:
    """``{basisschema namespace}local``."""
    return f"{{{BASIS_NS}}}{local}"


def local_name(clark: str) -> str:
    return clark.rsplit("}", 1)[-1]


def namespace_of(clark: str) -> str | None:
    return clark[1:].split("}", 1)[0] if clark.startswith("{") else None


def describe_namespace(namespace: str | None) -> str:
    """What a root namespace is, in words, for refusals ("iJw 3.1 JW323", "no namespace", ...)."""
    if not namespace:
        return "no namespace"
    m = _NS_PATTERN.match(namespace)
    if m:
        release, naam = m.group(1).replace("_", "."), m.group(2).upper()
        return f"iJw {release} {naam} ({namespace})"
    return namespace


def other_bericht(namespace: str | None) -> tuple[str, str] | None:
    """(name, title) of an iJw 3.2 message jzcli recognises but does not read."""
    m = _NS_PATTERN.match(namespace or "")
    if m and m.group(1) == IJW_RELEASE and m.group(2).upper() in OTHER_BERICHTEN:
        naam = m.group(2).upper()
        return naam, OTHER_BERICHTEN[naam][1]
    return None


# ============================================================================ schemas
XSD_PACKAGE = ("reference", "xsd")


def _xsd_bytes(name: str) -> bytes:
    return resources.files("jzcli").joinpath(*XSD_PACKAGE, name).read_bytes()


def shipped_xsds() -> list[str]:
    return sorted(p.name for p in resources.files("jzcli").joinpath(*XSD_PACKAGE).iterdir() if p.name.endswith(".xsd"))


class _PackageResolver(etree.Resolver):
    """Serves only the XSDs shipped in the package; anything else is an error, never a fetch."""

    def resolve(self, url, pubid, context):
        name = (url or "").replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        if name not in shipped_xsds():
            raise FileReadError(f"XSD {url!r} is not shipped with jzcli (schemas are never fetched)")
        return self.resolve_string(_xsd_bytes(name), context, base_url=f"jzcli-xsd:{name}")


def _schema_parser() -> etree.XMLParser:
    parser = etree.XMLParser(**SAFE_PARSE)
    parser.resolvers.add(_PackageResolver())
    return parser


@cache
def schema_document(name: str) -> etree._ElementTree:
    """A shipped XSD file as an lxml tree (e.g. for reading its sequences)."""
    return etree.parse(io.BytesIO(_xsd_bytes(name)), _schema_parser(), base_url=f"jzcli-xsd:{name}")


@cache
def schema(naam: str) -> etree.XMLSchema:
    """The XMLSchema of a message (``"JW323"``), imports resolved from the package only."""
    return etree.XMLSchema(schema_document(bericht(naam).xsd))


@cache
def xsd_versions(naam: str) -> tuple[str, str]:
    """(BasisschemaXsdVersie, BerichtXsdVersie) the shipped XSD declares in its appinfo."""
    doc = schema_document(bericht(naam).xsd)
    basis = doc.findtext(f".//{{{BASIS_NS}}}BasisschemaXsdVersie")
    own = doc.findtext(f".//{{{BASIS_NS}}}BerichtXsdVersie")
    return (basis or "").strip(), (own or "").strip()


@cache
def repeatable_elements() -> frozenset[str]:
    """Local names of elements that may occur more than once (maxOccurs > 1) in any shipped XSD."""
    names = set()
    for name in shipped_xsds():
        for el in schema_document(name).iter(f"{{{XS_NS}}}element"):
            if el.get("maxOccurs", "1") not in ("0", "1") and el.get("name"):
                names.add(el.get("name"))
    return frozenset(names)


# ============================================================================ hardened reading
_PROLOG_LIMIT = 1 << 20


def check_prolog(path: Path, head: bytes | None = None) -> None:
    """Refuse a DOCTYPE (DTD, entity declarations) before the XML is parsed at all.

    iJw messages never have one; a DTD is how external entities (XXE) and entity expansion bombs
    ("billion laughs") get in. Only the prolog (before the root element) is scanned.
    """
    if head is None:
        try:
            with Path(path).open("rb") as fh:
                head = fh.read(_PROLOG_LIMIT)
        except OSError as exc:
            raise FileReadError(f"{Path(path).name}: cannot be read ({exc.strerror or exc})") from None
    text = _decode_head(head)
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n\ufeff":
            i += 1
        if text.startswith("<?", i):
            end = text.find("?>", i)
            if end < 0:
                return
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i)
            if end < 0:
                return
            i = end + 3
        elif text.startswith("<!DOCTYPE", i) or text.startswith("<!ENTITY", i) or text.startswith("<!", i):
            entities = "<!ENTITY" in text[i:]
            raise FileReadError(
                f"{Path(path).name}: refused: the XML has a DOCTYPE declaration"
                + (" with entity definitions" if entities else "")
                + " (line "
                + str(text.count("\n", 0, i) + 1)
                + "). iJw messages never have one, and a DTD is how "
                "external entities (XXE) and entity expansion bombs get in; nothing was read or stored"
            )
        else:
            return


def _decode_head(head: bytes) -> str:
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace")


def refuse_dtd(path: Path, event_element) -> None:
    """Defence in depth after the first parse event: no DTD may have been declared."""
    info = event_element.getroottree().docinfo
    if info.internalDTD is not None or info.externalDTD is not None or info.system_url:
        raise FileReadError(
            f"{Path(path).name}: refused: the XML has a DOCTYPE declaration (DTD). iJw messages never have one; "
            "nothing was read or stored"
        )


def _last_line(path: Path) -> int:
    """The number of the file's last line (1 for a file without newlines); 0 when unreadable."""
    try:
        with open(path, "rb") as fh:
            n, last = 1, b""
            while chunk := fh.read(1 << 20):
                n += chunk.count(b"\n")
                last = chunk
            return n - 1 if last.endswith(b"\n") else n
    except OSError:
        return 0


def syntax_error(path: Path, exc: etree.XMLSyntaxError) -> FileReadError:
    """A parse error (not well-formed XML, or a parser limit) as one clear refusal."""
    name = Path(path).name
    msg = str(exc.msg if getattr(exc, "msg", None) else exc).strip()
    line = exc.lineno or (exc.position[0] if getattr(exc, "position", None) else 0)
    if "amplification" in msg or "entity" in msg.lower():
        return FileReadError(
            f"{name}: refused at line {line}: {msg} (entity expansion is never allowed in iJw messages); nothing was stored"
        )
    if "huge" in msg.lower() or "depth" in msg.lower():
        return FileReadError(f"{name}: refused at line {line}: {msg} (the parser's safety limits); nothing was stored")
    if line and line >= _last_line(Path(path)):
        return FileReadError(
            f"{name}: refused: the message ends at line {line} in the middle of an element ({msg}): the file is "
            "incomplete, e.g. cut off while copying; nothing was stored"
        )
    return FileReadError(f"{name}: not well-formed XML at line {line}: {msg}; nothing was stored")


def read_root(path: Path) -> tuple[str, dict[str, str]]:
    """The root element's Clark name and the header values that come before the first problem.

    Reads only the start of the file (stops after the Header); refuses a DOCTYPE first.
    Returns (root tag, {"BerichtCode": ..., ...} from the Header, as far as present).
    """
    path = Path(path)
    check_prolog(path)
    header: dict[str, str] = {}
    root_tag = None
    try:
        context = etree.iterparse(str(path), events=("start", "end"), **SAFE_PARSE)
        for event, el in context:
            if root_tag is None:
                refuse_dtd(path, el)
                root_tag = el.tag
                continue
            if event == "end" and local_name(el.tag) in HEADER_FIELDS and local_name(el.getparent().tag) == "Header":
                header[local_name(el.tag)] = (el.text or "").strip()
            if event == "end" and local_name(el.tag) == "Header":
                break
            if (
                event == "start"
                and local_name(el.tag) not in ("Header", *HEADER_FIELDS)
                and el.getparent() is not None
                and el.getparent().getparent() is None
            ):
                break  # a second top-level element: there is no more header to read
        del context
    except etree.XMLSyntaxError as exc:
        if root_tag is None:
            raise syntax_error(path, exc) from None
    if root_tag is None:
        raise FileReadError(f"{path.name}: no XML root element found")
    return root_tag, header


def serialise(tree: etree._ElementTree) -> bytes:
    """A message as iJw wants it written (OP192): UTF-8 without BOM, an XML declaration, CR/LF line
    ends. The JW323 and JW325 writers both use it."""
    body = etree.tostring(tree, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# ============================================================================ XSD validation
@dataclass(frozen=True)
class XsdFout:
    """One schema error: line number in the file, element path, readable message."""

    regel: int
    pad: str
    melding: str

    def __str__(self) -> str:
        return f"line {self.regel}, {self.pad}: {self.melding}"


_ELEMENT_IN_MESSAGE = re.compile(r"Element '(\{[^}]*\})?([^']+)'")
_VALUE_IN_MESSAGE = re.compile(r"(value\s+')([^']*)(')")


def validate_xsd(source, naam: str, *, limit: int | None = None) -> list[XsdFout]:
    """Level-1 check of a message against its shipped XSD; [] when valid.

    ``source``: a file path (str or Path), bytes, or an lxml ``_ElementTree``/``_Element``.
    Errors in document order (at most ``limit``), each with line number and element path; values
    of Bsn elements are masked in the messages. A file is first checked while streaming
    (constant memory); only an invalid file is parsed whole to locate its errors (libxml2
    reports no line numbers when validating a stream). A file that is not well-formed XML
    raises ``FileReadError``; so does a DOCTYPE (``check_prolog``).
    """
    xsd = schema(naam)
    if isinstance(source, (str, Path)):
        path = Path(source)
        check_prolog(path)
        if stream_is_valid(path, xsd):
            return []
        return locate_xsd_errors(path, naam, limit=limit)
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        check_prolog(Path("message"), data[:_PROLOG_LIMIT])
        try:
            tree = etree.fromstring(data, etree.XMLParser(**SAFE_PARSE)).getroottree()
        except etree.XMLSyntaxError as exc:
            raise syntax_error(Path("message"), exc) from None
    elif isinstance(source, etree._ElementTree):
        tree = source
    else:
        tree = source.getroottree() if source.getparent() is None else etree.ElementTree(source)
    return _tree_errors(tree, xsd, bericht(naam), limit)


def stream_is_valid(path: Path, xsd: etree.XMLSchema) -> bool:
    """Validate while streaming (constant memory); False on a schema error. Not well-formed XML
    raises ``FileReadError``."""
    try:
        for _event, el in etree.iterparse(str(path), events=("end",), schema=xsd, **SAFE_STREAM):
            el.clear(keep_tail=True)
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
        return True
    except etree.XMLSyntaxError as exc:
        if any(e.domain_name == "SCHEMASV" for e in exc.error_log):
            return False
        raise syntax_error(path, exc) from None


def locate_xsd_errors(path: Path, naam: str, *, limit: int | None = None) -> list[XsdFout]:
    """The schema errors of a file with line numbers and element paths (parses the file whole:
    about 7 bytes of memory per byte of XML)."""
    try:
        tree = etree.parse(str(path), etree.XMLParser(**SAFE_PARSE))
    except etree.XMLSyntaxError as exc:
        raise syntax_error(path, exc) from None
    return _tree_errors(tree, schema(naam), bericht(naam), limit)


def _tree_errors(tree: etree._ElementTree, xsd: etree.XMLSchema, b: Bericht, limit: int | None) -> list[XsdFout]:
    if xsd.validate(tree):
        return []
    errors = []
    prefixes = {k: v for k, v in (tree.getroot().nsmap or {}).items() if k}
    for e in xsd.error_log:
        el = _error_element(tree, e, prefixes)
        errors.append(
            XsdFout(
                e.line,
                element_path(el) if el is not None else (e.path or "?"),
                clean_message(e.message, b, _is_bsn(e.message)),
            )
        )
        if limit and len(errors) >= limit:
            break
    return errors


def _error_element(tree: etree._ElementTree, entry, prefixes: dict[str, str]):
    """The element a libxml2 schema error is about: by its XPath, else the element named in
    the message that starts on the error's line."""
    if entry.path:
        try:
            found = tree.xpath(entry.path, namespaces=prefixes)
            if found and isinstance(found[0], etree._Element):
                return found[0]
        except etree.XPathError:
            pass
    m = _ELEMENT_IN_MESSAGE.search(entry.message or "")
    name = m.group(2) if m else None
    for el in tree.iter():
        if isinstance(el.tag, str) and el.sourceline == entry.line and (name is None or local_name(el.tag) == name):
            return el
    return None


def _is_bsn(message: str) -> bool:
    m = _ELEMENT_IN_MESSAGE.search(message or "")
    return bool(m and m.group(2) == "Bsn")


def clean_message(message: str, b: Bericht, mask_value: bool = False) -> str:
    """libxml2's message with namespaces shortened (own namespace dropped, basisschema ``ijw:``)
    and, for Bsn elements, the value masked."""
    text = (message or "").strip()
    text = text.replace(f"{{{b.namespace}}}", "").replace(f"{{{BASIS_NS}}}", "ijw:")
    if mask_value:
        text = _VALUE_IN_MESSAGE.sub(lambda m: m.group(1) + _mask(m.group(2)) + m.group(3), text)
    return text


def _mask(value: str) -> str:
    return "*" * max(len(value) - 4, 0) + value[-4:] if len(value) > 4 else "*" * len(value)


def element_path(el: etree._Element) -> str:
    """``/Bericht/Declaratie/Clienten/Client[2]/Bsn``: local names, with the position among
    same-named siblings for repeatable elements and whenever it is not the first."""
    parts = []
    while el is not None:
        name = local_name(el.tag) if isinstance(el.tag, str) else "?"
        parent = el.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == el.tag]
            pos = same.index(el) + 1
            if pos > 1 or len(same) > 1 or name in repeatable_elements():
                name += f"[{pos}]"
        parts.append(name)
        el = parent
    return "/" + "/".join(reversed(parts))


def describe_errors(errors: list[XsdFout], shown: int = 5) -> str:
    """The first errors, one per line, for a refusal message."""
    lines = "".join(f"\n  - {e}" for e in errors[:shown])
    more = f"\n  ... and {len(errors) - shown} more" if len(errors) > shown else ""
    return lines + more
