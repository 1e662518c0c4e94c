"""iJw XML messages in ``jzcli import``: JW323 declarations and JW301 allocations.

Recognised by root element and namespace, whatever the file is called (``identify``: JW323 holds
"declaraties", JW301 "toewijzingen"). ``readers.registry`` sends an XML file of those soorten to the
message reader here (``prepare_jw323``, ``prepare_jw301``), anything else to the spreadsheet reader;
both return a ``Prepared`` and are written in the importer's one transaction per file.

Order of checks (the standard's levels, §11 of the reference):
    1. hardened parsing: a DOCTYPE is refused before anything is parsed (``ijw.check_prolog``);
       lxml never resolves entities, loads DTDs or touches the network (``ijw.SAFE_PARSE``);
    2. root element ``Bericht`` in the iJw 3.2 JW323/JW301 namespace, and a BerichtCode that
       belongs to it; otherwise a clear refusal naming what the file is;
    3. level 1, the XSD: the file is validated while it is read (streaming, constant memory);
       an invalid message is refused whole, naming line number and element path of the first
       errors (``ijw.locate_xsd_errors``); nothing is stored;
    4. level 2 and higher are not import's business: a valid JW323 is stored as it is, and
       ``jzcli validate`` judges it (rules with niveau ``bericht`` reject the whole message).

JW323 → one canonical declaration line per Prestatie: aanbieder = Header Afzender, gemeente =
Header Ontvanger, declaratienummer = DeclaratieNummer, and the Prestatie's values as in the
message (money already in cents; ProductTarief absent for eenheid 83 stays empty; toewijzingnummer
as the integer's digits). Provenance: ``bron`` = file name, ``blad`` = None, ``rij`` = the line
number of the Prestatie element in the file. The message itself goes to ``berichten`` (one row
per batch: header, DeclaratieNummer, DeclaratiePeriode, DeclaratieDagtekening,
TotaalIngediendBedrag + DebetCredit, XsdVersie as "Basisschema|Bericht") — what a JW325 answer
must copy. ``batches.details`` holds ``bericht`` (kind, clients, Prestaties, and per repeated
Client Bsn the lines involved, for TR101) and one ``sheets`` entry with ``blad`` None and
``vermeld_totaal`` = the signed TotaalIngediendBedrag (credit negative), so the engine's TR358
compares the message total with Σ debet − Σ credit of its lines.

JW301 → one allocation version per ToegewezenProduct (toewijzingen table): toewijzingnummer,
bsn (Client), gemeente = Afzender, aanbieder = Ontvanger, Product Categorie/Code, Ingangsdatum,
Einddatum, RedenWijziging, Omvang (Volume, Eenheid, Frequentie) or Budget (cents), and
toewijzingsdatum = Toewijzingsdatum + Toewijzingstijd. Which version is current is decided when
reading (``agreements.toewijzingen_actueel``). As for allocation spreadsheets, an allocation that
contradicts itself (BSN failing the 11-proef, einddatum before ingangsdatum, an unknown gemeente)
refuses the file. The client's personal data (name, address, ...) is never read into the store.

``--aanbieder``/``--gemeente`` are for files that do not name them; a message names both, so a
value that differs from the message's is refused rather than silently ignored. ``--map`` does
not apply to messages.

Memory: the message is read with ``iterparse`` and every Client/Prestatie is cleared once read,
so memory grows only with the extracted values (raw text, repeated values shared); a 25 MB
message stays within a few hundred MB (see tests/test_ijw_read.py). Only an invalid message is
parsed whole, to locate its errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from lxml import etree

from jzcli import ijw, refdata
from jzcli.domain.lines import FIELDS
from jzcli.domain.text import mask_bsn
from jzcli.errors import FileReadError
from jzcli.readers.declaraties import insert_lines
from jzcli.readers.prepared import FileResult, ImportOptions, Prepared
from jzcli.readers.spreadsheet import read_head, sniff_kind
from jzcli.readers.toewijzingen import TOEWIJZING_FIELDS, insert_versions
from jzcli.readers.values import elfproef
from jzcli.store.schema import berichten
from jzcli.store.store import Store

JW323 = ijw.bericht("JW323")
JW301 = ijw.bericht("JW301")
SHOWN_ERRORS = 5  # XSD errors spelled out in a refusal

# Columns of the berichten table (besides batch).
BERICHT_COLUMNS = [
    "berichtcode",
    "berichtversie",
    "berichtsubversie",
    "afzender",
    "ontvanger",
    "identificatie",
    "dagtekening",
    "xsd_versie",
    "declaratienummer",
    "declaratieperiode_begin",
    "declaratieperiode_eind",
    "declaratie_dagtekening",
    "totaal_ingediend",
    "totaal_debet_credit",
]


# ============================================================================ recognising
def is_xml(path: Path) -> bool:
    head = read_head(path)
    return bool(head) and sniff_kind(path, head) == "xml"


def identify(path: Path) -> ijw.Bericht:
    """Which iJw message a file is (root element + namespace + BerichtCode), or a refusal that
    says what it is instead. Refuses a DOCTYPE first."""
    path = Path(path)
    root, header = ijw.read_root(path)
    ns, local = ijw.namespace_of(root), ijw.local_name(root)
    wanted = f"JW323 ({JW323.namespace}) or JW301 ({JW301.namespace})"
    b = ijw.bericht_by_namespace(ns)
    if b is None:
        other = ijw.other_bericht(ns)
        if other:
            raise FileReadError(
                f"{path.name}: an iJw {other[0]} message ({other[1]}); jzcli imports JW323 declarations and JW301 "
                "allocations only; nothing was stored"
            )
        raise FileReadError(
            f"{path.name}: not an iJw 3.2 message jzcli reads: root element '{local}' in {ijw.describe_namespace(ns)}; "
            f"expected 'Bericht' in the namespace of {wanted}; nothing was stored"
        )
    if local != "Bericht":
        raise FileReadError(
            f"{path.name}: root element '{local}' in the {b.naam} namespace; an iJw message has root 'Bericht'; nothing was stored"
        )
    if b.soort is None:
        raise FileReadError(
            f"{path.name}: a {b.naam} {b.titel} message (what jzcli retour writes); it cannot be imported"
        )
    code = header.get("BerichtCode")
    if code != b.code:
        other = ijw.bericht_by_code(code)
        named = f" (the code of {other.naam})" if other else ""
        raise FileReadError(
            f"{path.name}: BerichtCode {code or '(missing)'}{named} does not match the {b.naam} namespace, whose "
            f"BerichtCode is {b.code}; nothing was stored"
        )
    return b


# ============================================================================ streaming
def _iterparse(path: Path, b: ijw.Bericht, tags: list[str]):
    return etree.iterparse(str(path), events=("end",), tag=tags, schema=ijw.schema(b.naam), **ijw.SAFE_STREAM)


def _release(el) -> None:
    """Free what has been read: the element's content and its earlier siblings."""
    el.clear(keep_tail=True)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def _run(path: Path, b: ijw.Bericht, tags: list[str], handle) -> None:
    """Stream the message through ``handle(element)`` while validating it against the XSD.

    A schema error refuses the file with line numbers and element paths; malformed XML and
    parser limits (entity expansion) refuse it with the parser's message.
    """
    first = True
    root = ijw.tag(b, "Bericht")
    complete = False  # the end of the root element was read: the file is not cut short
    try:
        for _event, el in _iterparse(path, b, [*tags, root]):
            if first:
                ijw.refuse_dtd(path, el)
                first = False
            if el.tag == root:
                complete = True
            else:
                handle(el)
    except etree.XMLSyntaxError as exc:
        if not any(e.domain_name == "SCHEMASV" for e in exc.error_log):
            raise ijw.syntax_error(path, exc) from None
        errors = ijw.locate_xsd_errors(path, b.naam)
        if not errors:  # pragma: no cover - the streamed and the whole-tree check always agree
            errors = [
                ijw.XsdFout(0, "?", ijw.clean_message(e.message, b, True))
                for e in exc.error_log
                if e.domain_name == "SCHEMASV"
            ]
        n = len(errors)
        raise FileReadError(
            f"{path.name}: refused: the {b.naam} message does not conform to {b.xsd} (level 1, {n} error{'s' if n != 1 else ''}); "
            f"nothing was stored:{ijw.describe_errors(errors, SHOWN_ERRORS)}"
        ) from None
    if not complete:
        raise FileReadError(
            f"{path.name}: refused: the {b.naam} message ends before its closing </Bericht> "
            "(the file is incomplete, e.g. cut off while copying); nothing was stored"
        )


def _texts(el, names: dict[str, str]) -> dict[str, str | None]:
    """{field: text} for the descendants of ``el`` whose Clark name is in ``names``."""
    found: dict[str, str | None] = {}
    for child in el.iter():
        name = names.get(child.tag)
        if name is not None:
            found[name] = child.text
    return found


def _header_names(b: ijw.Bericht) -> dict[str, str]:
    m, basis = (lambda n: ijw.tag(b, n)), ijw.basis_tag
    return {
        m("BerichtCode"): "berichtcode",
        m("BerichtVersie"): "berichtversie",
        m("BerichtSubversie"): "berichtsubversie",
        m("Afzender"): "afzender",
        m("Ontvanger"): "ontvanger",
        basis("Identificatie"): "identificatie",
        basis("Dagtekening"): "dagtekening",
        basis("BasisschemaXsdVersie"): "basisschema_xsd",
        basis("BerichtXsdVersie"): "bericht_xsd",
    }


class _Column:
    """Raw text values of one field; equal strings are stored once."""

    def __init__(self):
        self.values: list[str | None] = []
        self._shared: dict[str, str] = {}

    def add(self, text: str | None, share: bool) -> None:
        if text is not None and share:
            text = self._shared.setdefault(text, text)
        self.values.append(text)


def _strip(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.isna(), s.astype(str).str.strip())


def _integers(s: pd.Series) -> pd.Series:
    """XSD-valid integer text → Int64 (whitespace and leading zeros allowed by xs:integer)."""
    return pd.array(pd.to_numeric(_strip(s), errors="raise"), dtype="Int64") if len(s) else pd.array([], dtype="Int64")


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(_strip(s), format="%Y-%m-%d")


def _number_text(s: pd.Series) -> pd.Series:
    """An LDT_Nummer (xs:integer) as its plain digits: " 0001001 " → "1001"."""
    values = _integers(s)
    return pd.Series(values, index=s.index).astype("string")


def _date(text: str | None):
    return pd.Timestamp((text or "").strip()) if text else pd.NaT


# ============================================================================ JW323
# a Prestatie's own fields: the line's fields but the message's (aanbieder, gemeente, declaratienummer) and the Client's
PRESTATIE_FIELDS = [f for f in FIELDS if f not in ("aanbieder", "gemeente", "declaratienummer", "bsn")]
_UNIQUE = {"referentienummer", "vorig_referentienummer"}  # per line: not worth sharing


@dataclass
class Declaratie:
    """A JW323 message as read: the berichten row, the lines and what TR101 needs."""

    bericht: dict
    lines: pd.DataFrame
    clients: int
    duplicate_clients: list[dict] = field(default_factory=list)

    @property
    def signed_total(self) -> int:
        total = int(self.bericht["totaal_ingediend"])
        return -total if self.bericht["totaal_debet_credit"] == "C" else total


def read_jw323(path: Path) -> Declaratie:
    """Stream a JW323 (validating it) into a ``Declaratie``; refuses an invalid message."""
    path = Path(path)
    stream = _Jw323Stream()
    _run(path, JW323, stream.tags, stream.handle)
    # The message is valid: convert the raw text once per column.
    bericht = {**_bericht_header(stream.header), **_declaratie_fields(stream.decl)}
    return Declaratie(bericht, _jw323_lines(path, stream), stream.client, list(stream.duplicates.values()))


class _Jw323Stream:
    """What streaming a JW323 collects: per Prestatie its raw texts, its Client's Bsn, client
    number and line; the Header and the declaration's own fields; the Clients whose Bsn was
    already given (TR101). Each Client and Prestatie is released once read."""

    def __init__(self) -> None:
        b = JW323
        m, basis = (lambda n: ijw.tag(b, n)), ijw.basis_tag
        self.names = {
            basis("ReferentieNummer"): "referentienummer",
            basis("VorigReferentieNummer"): "vorig_referentienummer",
            m("ToewijzingNummer"): "toewijzingnummer",
            m("ProductCategorie"): "productcategorie",
            m("ProductCode"): "productcode",
            basis("Begindatum"): "begindatum",
            basis("Einddatum"): "einddatum",
            m("GeleverdVolume"): "volume",
            m("Eenheid"): "eenheid",
            m("ProductTarief"): "tarief",
            basis("Bedrag"): "bedrag",
            basis("DebetCredit"): "debet_credit",
        }
        self.header_names = _header_names(b)
        self.periode_names = {basis("Begindatum"): "begin", basis("Einddatum"): "eind"}
        self.totaal_names = {basis("TotaalBedrag"): "bedrag", basis("DebetCredit"): "dc"}
        self.columns = {f: _Column() for f in PRESTATIE_FIELDS}
        self.bsn_col, self.client_col, self.rij = _Column(), [], []
        self.header: dict[str, str | None] = {}
        self.decl: dict[str, str | None] = {}
        self.client, self.bsn = 0, None
        self.first_client: dict[str, int] = {}  # Bsn → line of its first Client
        self.duplicates: dict[int, dict] = {}  # client number → {rij, eerste_rij, regels}
        self.handlers = {
            m("Prestatie"): self._prestatie,
            m("Bsn"): self._bsn,
            m("Client"): _release,
            m("Header"): self._header,
            m("DeclaratieNummer"): self._nummer,
            m("DeclaratiePeriode"): self._periode,
            m("DeclaratieDagtekening"): self._dagtekening,
            m("TotaalIngediendBedrag"): self._totaal,
        }
        self.tags = list(self.handlers)

    def handle(self, el) -> None:
        self.handlers[el.tag](el)

    def _prestatie(self, el) -> None:
        values = _texts(el, self.names)
        for f in PRESTATIE_FIELDS:
            self.columns[f].add(values.get(f), f not in _UNIQUE)
        self.bsn_col.add(self.bsn, True)
        self.client_col.append(self.client)
        self.rij.append(el.sourceline)
        dup = self.duplicates.get(self.client)
        if dup is not None:
            dup["regels"].append(el.sourceline)
        _release(el)

    def _bsn(self, el) -> None:
        self.client += 1
        bsn = (el.text or "").strip()
        self.bsn = bsn
        if bsn in self.first_client:
            self.duplicates[self.client] = {"rij": el.sourceline, "eerste_rij": self.first_client[bsn], "regels": []}
        else:
            self.first_client[bsn] = el.sourceline

    def _header(self, el) -> None:
        self.header.update(_texts(el, self.header_names))

    def _nummer(self, el) -> None:
        self.decl["declaratienummer"] = el.text

    def _periode(self, el) -> None:
        p = _texts(el, self.periode_names)
        self.decl["declaratieperiode_begin"], self.decl["declaratieperiode_eind"] = p.get("begin"), p.get("eind")

    def _dagtekening(self, el) -> None:
        self.decl["declaratie_dagtekening"] = el.text

    def _totaal(self, el) -> None:
        t = _texts(el, self.totaal_names)
        self.decl["totaal_ingediend"], self.decl["totaal_debet_credit"] = t.get("bedrag"), t.get("dc")


def _jw323_lines(path: Path, stream: _Jw323Stream) -> pd.DataFrame:
    """One canonical declaration line per Prestatie (aanbieder = Afzender, gemeente = Ontvanger)."""
    raw = pd.DataFrame({f: pd.Series(c.values, dtype=object) for f, c in stream.columns.items()})
    header, decl = stream.header, stream.decl
    n = len(raw)
    lines = pd.DataFrame(index=range(n))
    lines["bron"] = path.name
    lines["blad"] = None
    lines["rij"] = pd.Series(stream.rij, dtype="int64")
    lines["aanbieder"] = pd.Series([(header.get("afzender") or "").strip()] * n, dtype="string")
    lines["gemeente"] = pd.Series([(header.get("ontvanger") or "").strip()] * n, dtype="string")
    lines["declaratienummer"] = pd.Series([decl.get("declaratienummer")] * n, dtype="string")
    lines["referentienummer"] = raw["referentienummer"].astype("string")
    lines["vorig_referentienummer"] = raw["vorig_referentienummer"].astype("string")
    lines["bsn"] = pd.Series(stream.bsn_col.values, dtype="string")
    lines["toewijzingnummer"] = _number_text(raw["toewijzingnummer"])
    for f in ("productcategorie", "productcode", "eenheid", "debet_credit"):
        lines[f] = _strip(raw[f]).astype("string")
    lines["begindatum"] = _dates(raw["begindatum"])
    lines["einddatum"] = _dates(raw["einddatum"])
    for f in ("volume", "tarief", "bedrag"):
        lines[f] = _integers(raw[f])
    return lines[["bron", "blad", "rij", *FIELDS]]


def _bericht_header(header: dict[str, str | None]) -> dict:
    """The berichten row's fields from the message's Header (JW323 and JW301 alike)."""

    def text(key: str) -> str:
        return (header.get(key) or "").strip()

    return {
        "berichtcode": text("berichtcode"),
        "berichtversie": text("berichtversie"),
        "berichtsubversie": text("berichtsubversie"),
        "afzender": text("afzender"),
        "ontvanger": text("ontvanger"),
        "identificatie": header.get("identificatie"),
        "dagtekening": _date(header.get("dagtekening")),
        "xsd_versie": f"{text('basisschema_xsd')}|{text('bericht_xsd')}",
    }


def _declaratie_fields(decl: dict[str, str | None]) -> dict:
    """The berichten row's JW323 fields: DeclaratieNummer, -Periode, -Dagtekening, TotaalIngediendBedrag."""
    return {
        "declaratienummer": decl.get("declaratienummer"),
        "declaratieperiode_begin": _date(decl.get("declaratieperiode_begin")),
        "declaratieperiode_eind": _date(decl.get("declaratieperiode_eind")),
        "declaratie_dagtekening": _date(decl.get("declaratie_dagtekening")),
        "totaal_ingediend": int((decl.get("totaal_ingediend") or "0").strip()),
        "totaal_debet_credit": (decl.get("totaal_debet_credit") or "").strip(),
    }


def _check_options(path: Path, opts: ImportOptions, aanbieder: str, gemeente: str) -> None:
    for option, given, in_message, where in (
        ("--aanbieder", opts.aanbieder, aanbieder, "AGB code"),
        ("--gemeente", opts.gemeente, gemeente, "gemeente"),
    ):
        if given and given != in_message:
            raise FileReadError(
                f"{path.name}: {option} {given} differs from the message's {where} {in_message}; a message names its "
                f"own aanbieder and gemeente (leave {option} out); nothing was stored"
            )


def _bericht_frame(batch_id: int, bericht: dict) -> pd.DataFrame:
    row = {"batch": batch_id, **{c: bericht.get(c) for c in BERICHT_COLUMNS}}
    frame = pd.DataFrame([row])
    for c in ("dagtekening", "declaratieperiode_begin", "declaratieperiode_eind", "declaratie_dagtekening"):
        frame[c] = pd.to_datetime(frame[c])
    frame["totaal_ingediend"] = pd.array(frame["totaal_ingediend"], dtype="Int64")
    return frame


def prepare_jw323(path: Path, opts: ImportOptions, store: Store) -> Prepared:
    d = read_jw323(path)
    bericht = d.bericht
    _check_options(path, opts, bericht["afzender"], bericht["ontvanger"])
    lines = d.lines
    if lines.empty:  # pragma: no cover - the XSD requires at least one Prestatie
        raise FileReadError(f"{path.name}: the JW323 message has no Prestaties")
    periode = bericht["declaratieperiode_begin"]
    result = FileResult(
        path=path,
        status="imported",
        soort="declaraties",
        rows=len(lines),
        stored=len(lines),
        message=(
            f"JW323 declaratie {bericht['declaratienummer']} ({periode:%Y-%m}) of aanbieder {bericht['afzender']} to "
            f"gemeente {bericht['ontvanger']}: {len(lines)} Prestaties of {d.clients} clients"
        ),
    )
    details = {
        "bericht": {
            "naam": JW323.naam,
            "berichtcode": bericht["berichtcode"],
            "identificatie": bericht["identificatie"],
            "clienten": d.clients,
            "prestaties": len(lines),
            # a Bsn in more than one Client (TR101): the repeated Client's line, the first one's, its Prestaties
            "dubbele_clienten": d.duplicate_clients,
        },
        # what the message states as its total (signed cents), compared by TR358 like a sheet total
        "sheets": [{"blad": None, "vermeld_totaal": d.signed_total, "rijen": len(lines), "regels": len(lines)}],
    }

    def write(store: Store, conn, batch_id: int) -> None:
        insert_lines(store, conn, batch_id, lines)
        store.insert_frame(conn, berichten, _bericht_frame(batch_id, bericht))

    return Prepared("declaraties", result, write, details, aanbieder=bericht["afzender"])


# ============================================================================ JW301
def read_jw301(path: Path) -> tuple[dict, pd.DataFrame]:
    """Stream a JW301 (validating it): (berichten row, one row per ToegewezenProduct)."""
    path = Path(path)
    b = JW301
    m, basis = (lambda n: ijw.tag(b, n)), ijw.basis_tag
    names = {
        m("ToewijzingNummer"): "toewijzingnummer",
        basis("Categorie"): "productcategorie",
        basis("Code"): "productcode",
        m("Toewijzingsdatum"): "datum",
        m("Toewijzingstijd"): "tijd",
        m("Ingangsdatum"): "ingangsdatum",
        m("Einddatum"): "einddatum",
        m("RedenWijziging"): "reden_wijziging",
        basis("Volume"): "volume",
        basis("Eenheid"): "eenheid",
        basis("Frequentie"): "frequentie",
        m("Budget"): "budget",
    }
    header: dict[str, str | None] = {}
    rows: list[dict] = []
    state = {"bsn": None}

    def handle(el) -> None:
        if el.tag == m("ToegewezenProduct"):
            row = _texts(el, names)
            row["rij"] = el.sourceline
            rows.append(row)
            _release(el)
        elif el.tag == m("Bsn"):
            state["bsn"] = (el.text or "").strip()
        elif el.tag == m("Header"):
            header.update(_texts(el, _header_names(b)))

    _run(path, b, [m("Header"), m("Bsn"), m("ToegewezenProduct")], handle)

    cols = ["rij", *names.values()]
    raw = pd.DataFrame(rows, columns=cols)
    out = pd.DataFrame(index=raw.index)
    out["bron"] = path.name
    out["blad"] = None
    out["rij"] = raw["rij"].astype("int64")
    out["toewijzingnummer"] = _number_text(raw["toewijzingnummer"])
    out["bsn"] = pd.Series([state["bsn"]] * len(raw), dtype="string")
    out["aanbieder"] = pd.Series([(header.get("ontvanger") or "").strip()] * len(raw), dtype="string")
    out["gemeente"] = pd.Series([(header.get("afzender") or "").strip()] * len(raw), dtype="string")
    for f in ("productcategorie", "productcode", "eenheid", "frequentie", "reden_wijziging"):
        out[f] = _strip(raw[f]).astype("string")
    out["ingangsdatum"] = _dates(raw["ingangsdatum"])
    out["einddatum"] = _dates(raw["einddatum"])
    out["volume"] = _integers(raw["volume"])
    out["budget"] = _integers(raw["budget"])
    day = _dates(raw["datum"])
    time = pd.to_timedelta(_strip(raw["tijd"]).fillna("00:00:00").str.slice(0, 8))
    out["toewijzingsdatum"] = day + time
    return _bericht_header(header), out[["bron", "blad", "rij", *TOEWIJZING_FIELDS]]


def _check_allocations(path: Path, bericht: dict, rows: pd.DataFrame) -> None:
    """Refuse allocations that contradict themselves, as for allocation spreadsheets."""
    problems = []
    gemeente = bericht["afzender"]
    if refdata.gemeente_naam(gemeente) is None:
        problems.append(f"Header Afzender {gemeente} is not a CBS gemeente code")
    bsn = rows["bsn"].dropna()
    if len(bsn) and not bool(elfproef(bsn.iloc[:1]).iloc[0]):
        problems.append(f"Client Bsn {mask_bsn(bsn.iloc[0])} fails the 11-proef")
    back = rows[(rows["einddatum"] < rows["ingangsdatum"]).fillna(False)]
    for r in back.itertuples():
        problems.append(
            f"line {r.rij}, ToegewezenProduct {r.toewijzingnummer}: einddatum {r.einddatum:%Y-%m-%d} is before "
            f"ingangsdatum {r.ingangsdatum:%Y-%m-%d}"
        )
    if problems:
        listed = "".join(f"\n  - {p}" for p in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise FileReadError(
            f"{path.name}: allocation message refused, nothing stored ({len(problems)} problem{'s' if len(problems) != 1 else ''}):{listed}{more}"
        )


def prepare_jw301(path: Path, opts: ImportOptions, store: Store) -> Prepared:
    bericht, rows = read_jw301(path)
    _check_options(path, opts, bericht["ontvanger"], bericht["afzender"])
    _check_allocations(path, bericht, rows)
    numbers = rows["toewijzingnummer"].nunique()
    result = FileResult(
        path=path,
        status="imported",
        soort="toewijzingen",
        rows=len(rows),
        stored=len(rows),
        message=f"JW301 of gemeente {bericht['afzender']} to aanbieder {bericht['ontvanger']}: {len(rows)} allocation versions of {numbers} allocations",
    )
    details = {
        "bericht": {
            "naam": JW301.naam,
            "berichtcode": bericht["berichtcode"],
            "identificatie": bericht["identificatie"],
            "toewijzingen": len(rows),
        }
    }

    def write(store: Store, conn, batch_id: int) -> None:
        insert_versions(store, conn, batch_id, rows)
        store.insert_frame(conn, berichten, _bericht_frame(batch_id, bericht))

    return Prepared("toewijzingen", result, write, details, aanbieder=bericht["ontvanger"], versions=rows)
