"""Build iJw XML messages for tests from the shipped XSDs' structure.

The element order, the namespace of every element (message namespace, or the basisschema
namespace for the children of shared types such as ``ProductPeriode/Begindatum``) and which
elements repeat are read from the XSD sequences (``XsdModel``), not written by hand: a test
gives the *values* as nested dicts and the builder puts them where the schema says.

Generic:
    build_message("JW323", {"Header": {...}, "Declaratie": {...}}) -> bytes
    write_message(path, "JW325", data) -> path    (streams; repeated elements may be generators)

    ``pretty=False`` writes compact XML with one line per repeated element (every Client,
    Prestatie, ToegewezenProduct starts a line), the densest realistic layout.

    Values: dict = complex element; list/tuple/generator = repeated element; str/int/date/time
    = text; None = left out. Keys are the XSD element names; an unknown key raises KeyError, so
    a typo cannot silently produce another message. ``schema_order=False`` keeps the dict order
    instead (to build messages with elements out of order).

iJw shortcuts (friendly snake_case keys; money in cents; dates as datetime.date or "YYYY-MM-DD"):
    prestatie(referentienummer, toewijzingnummer, begindatum, einddatum, volume, ...) -> dict
    client(bsn, prestaties) -> dict
    build_jw323(header={...}, clients=[client(...), ...], declaratienummer=..., periode=(b, e),
                dagtekening=..., totaal=None (Σ D − Σ C), ...) -> bytes
    write_jw323(path, **same) -> path
    toegewezen_product(toewijzingnummer, ingangsdatum, ...) -> dict
    build_jw301(header={...}, bsn=..., producten=[toegewezen_product(...), ...]) -> bytes
    write_jw301(path, **same) -> path
    make_header(naam, **overrides) -> dict (Header for any message, XsdVersie from the shipped XSD)

Defaults match tests/validate_kit.py (AGB 98001101, gemeente 0406, test BSNs that pass the
11-proef), so declarations built here fit that kit's contract and allocations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from jzcli import ijw

AGB = "98001101"
GEM = "0406"
BSN = "999900006"
BSN2 = "999900018"
BAD_BSN = "999900398"  # 9 digits, fails the 11-proef
DAGTEKENING = dt.date(2025, 4, 2)
MARCH = (dt.date(2025, 3, 1), dt.date(2025, 3, 31))

XS = f"{{{ijw.XS_NS}}}"


# ============================================================================ the XSD model
@dataclass(frozen=True)
class Child:
    name: str
    namespace: str  # namespace the element is in (qualified: the declaring schema's target)
    type: tuple[str, str] | None  # (namespace, name) of a complex type; None = simple content
    min: int
    max: int | None  # None = unbounded


class XsdModel:
    """Complex types of one message schema and the basisschema, as ordered child lists."""

    def __init__(self, naam: str):
        self.bericht = ijw.bericht(naam)
        self.types: dict[tuple[str, str], list[Child]] = {}
        self.simple: set[tuple[str, str]] = set()
        self.root: Child | None = None
        for name in ("basisschema.xsd", self.bericht.xsd):
            self._load(ijw.schema_document(name).getroot())

    def _qname(self, node, text: str) -> tuple[str, str]:
        prefix, _, local = text.rpartition(":")
        return node.nsmap.get(prefix or None), local

    def _load(self, schema) -> None:
        target = schema.get("targetNamespace")
        for st in schema.findall(f"{XS}simpleType"):
            self.simple.add((target, st.get("name")))
        for ct in schema.findall(f"{XS}complexType"):
            self.types[(target, ct.get("name"))] = self._sequence(ct, target)
        for el in schema.findall(f"{XS}element"):
            self.root = Child(el.get("name"), target, self._qname(el, el.get("type")), 1, 1)

    def _sequence(self, ct, target: str) -> list[Child]:
        seq = ct.find(f"{XS}sequence")
        children = []
        for el in seq.findall(f"{XS}element") if seq is not None else []:
            typ = self._qname(el, el.get("type")) if el.get("type") else None
            if el.find(f"{XS}complexType") is not None:
                raise NotImplementedError(f"inline complex type for {el.get('name')}")
            mx = el.get("maxOccurs", "1")
            children.append(
                Child(
                    el.get("name"), target, typ, int(el.get("minOccurs", "1")), None if mx == "unbounded" else int(mx)
                )
            )
        return children

    def children(self, typ: tuple[str, str] | None) -> list[Child] | None:
        """The ordered children of a complex type; None for simple content."""
        if typ is None or typ in self.simple or typ[0] == ijw.XS_NS:
            return None
        return self.types[typ]


@cache
def model(naam: str) -> XsdModel:
    return XsdModel(naam)


# ============================================================================ serialisation
def _text(value) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans have no iJw representation")
    if isinstance(value, dt.datetime):
        raise TypeError("give a date and a time separately (iJw has no datetime type)")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class _Writer:
    def __init__(self, naam: str, out, *, pretty: bool, schema_order: bool, newline: str):
        self.model = model(naam)
        self.own = self.model.bericht.namespace
        self.out = out
        self.pretty = pretty
        self.schema_order = schema_order
        self.newline = newline

    def _name(self, child: Child) -> str:
        if child.namespace == self.own:
            return child.name
        if child.namespace == ijw.BASIS_NS:
            return "ijw:" + child.name
        raise ValueError(f"unexpected namespace {child.namespace} for {child.name}")

    def _indent(self, depth: int, child: Child | None = None) -> str:
        if self.pretty:
            return self.newline + "  " * depth
        # compact: one line per repeated element (Client, Prestatie, ...), as software writes them
        return self.newline if child is not None and child.max != 1 else ""

    def document(self, data: dict) -> None:
        root = self.model.root
        self.out('<?xml version="1.0" encoding="UTF-8"?>')
        attrs = f' xmlns="{self.own}" xmlns:ijw="{ijw.BASIS_NS}"'
        self.element(root, data, 0, attrs)
        self.out(self.newline)

    def element(self, child: Child, value, depth: int, attrs: str = "") -> None:
        name = self._name(child)
        kids = self.model.children(child.type)
        self.out(self._indent(depth, child) + f"<{name}{attrs}>")
        if kids is None:
            self.out(escape(_text(value)))
        else:
            if not isinstance(value, dict):
                raise TypeError(f"{child.name} is a complex element: give a dict, not {value!r}")
            known = {k.name: k for k in kids}
            unknown = [k for k in value if k not in known]
            if unknown:
                raise KeyError(f"{child.name} has no element {', '.join(unknown)} (XSD order: {', '.join(known)})")
            order = kids if self.schema_order else [known[k] for k in value]
            for kid in order:
                v = value.get(kid.name)
                if v is None:
                    continue
                items = v if isinstance(v, (list, tuple, Iterator)) or _is_generator(v) else [v]
                for item in items:
                    self.element(kid, item, depth + 1)
            self.out(self._indent(depth))
        self.out(f"</{name}>")


def _is_generator(v) -> bool:
    return isinstance(v, Iterable) and not isinstance(v, (str, bytes, dict))


def build_message(
    naam: str, data: dict, *, pretty: bool = True, schema_order: bool = True, newline: str = "\n"
) -> bytes:
    """The message ``naam`` ("JW323", "JW301", "JW325") with ``data`` under its root element."""
    parts: list[str] = []
    _Writer(naam, parts.append, pretty=pretty, schema_order=schema_order, newline=newline).document(data)
    return "".join(parts).encode("utf-8")


def write_message(
    path, naam: str, data: dict, *, pretty: bool = True, schema_order: bool = True, newline: str = "\n"
) -> Path:
    """Stream the message to ``path`` (repeated elements may be generators: constant memory)."""
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        buf: list[str] = []

        def out(s: str) -> None:
            buf.append(s)
            if len(buf) >= 4096:
                fh.write("".join(buf))
                buf.clear()

        _Writer(naam, out, pretty=pretty, schema_order=schema_order, newline=newline).document(data)
        fh.write("".join(buf))
    return path


# ============================================================================ iJw shortcuts
_HEADER_KEYS = {
    "berichtcode": "BerichtCode",
    "berichtversie": "BerichtVersie",
    "berichtsubversie": "BerichtSubversie",
    "afzender": "Afzender",
    "ontvanger": "Ontvanger",
}


def make_header(
    naam: str,
    *,
    identificatie: str = "BERICHT1",
    dagtekening=DAGTEKENING,
    xsd_versie: tuple[str, str] | None = None,
    **overrides,
) -> dict:
    """A Header for message ``naam``; overrides by snake_case key (afzender, ontvanger,
    berichtcode, ...) or by XSD element name (e.g. DeclaratieIdentificatie for a JW325)."""
    b = ijw.bericht(naam)
    basis, own = xsd_versie or ijw.xsd_versions(naam)
    h = {
        "BerichtCode": b.code,
        "BerichtVersie": "3",
        "BerichtSubversie": "2",
        "Afzender": AGB if naam == "JW323" else GEM,
        "Ontvanger": GEM if naam == "JW323" else AGB,
        "BerichtIdentificatie": {"Identificatie": identificatie, "Dagtekening": dagtekening},
        "XsdVersie": {"BasisschemaXsdVersie": basis, "BerichtXsdVersie": own},
    }
    for key, value in overrides.items():
        h[_HEADER_KEYS.get(key, key)] = value
    return h


def prestatie(
    referentienummer: str,
    toewijzingnummer: int | str = 1001,
    begindatum=MARCH[0],
    einddatum=MARCH[1],
    volume: int = 10,
    *,
    productcategorie: str = "45",
    productcode: str = "45A48",
    eenheid: str = "04",
    tarief: int | None = 7980,
    bedrag: int | None = None,
    debet_credit: str = "D",
    vorig_referentienummer: str | None = None,
) -> dict:
    """One Prestatie. ``bedrag`` defaults to volume × tarief (eenheid 83: the volume, no tarief)."""
    if eenheid == "83" and tarief == 7980:
        tarief = None
    if bedrag is None:
        bedrag = volume if eenheid == "83" else volume * (tarief or 0)
    return {
        "ProductReferentie": {"ReferentieNummer": referentienummer, "VorigReferentieNummer": vorig_referentienummer},
        "ToewijzingNummer": toewijzingnummer,
        "ProductCategorie": productcategorie,
        "ProductCode": productcode,
        "ProductPeriode": {"Begindatum": begindatum, "Einddatum": einddatum},
        "GeleverdVolume": volume,
        "Eenheid": eenheid,
        "ProductTarief": tarief,
        "IngediendBedrag": {"Bedrag": bedrag, "DebetCredit": debet_credit},
    }


def credit(of: dict, referentienummer: str) -> dict:
    """The credit line of debet Prestatie ``of``: a copy with a new ReferentieNummer,
    VorigReferentieNummer = the debet's, DebetCredit C (IV091)."""
    c = {k: (dict(v) if isinstance(v, dict) else v) for k, v in of.items()}
    c["ProductReferentie"] = {
        "ReferentieNummer": referentienummer,
        "VorigReferentieNummer": of["ProductReferentie"]["ReferentieNummer"],
    }
    c["IngediendBedrag"] = {"Bedrag": of["IngediendBedrag"]["Bedrag"], "DebetCredit": "C"}
    return c


def client(bsn: str, prestaties) -> dict:
    """One Client with its Prestaties (a list, or a generator for large messages)."""
    return {"Bsn": bsn, "Prestaties": {"Prestatie": prestaties}}


def signed_total(clients: Iterable[dict]) -> int:
    """Σ debet − Σ credit of the clients' Prestaties, in cents."""
    total = 0
    for c in clients:
        for p in c["Prestaties"]["Prestatie"]:
            amount = int(p["IngediendBedrag"]["Bedrag"])
            total += -amount if p["IngediendBedrag"]["DebetCredit"] == "C" else amount
    return total


def jw323(
    *,
    header: dict | None = None,
    clients: list[dict] | Iterable[dict],
    declaratienummer: str = "DECL2025031",
    periode=MARCH,
    dagtekening=DAGTEKENING,
    totaal: int | None = None,
    totaal_debet_credit: str | None = None,
    **declaratie,
) -> dict:
    """The data of a JW323 (for ``build_message``/``write_message``).

    ``header``: overrides for ``make_header("JW323", ...)``. ``totaal``: the signed total in cents
    (default Σ D − Σ C of the clients; give it for generated clients); its sign becomes the
    DebetCredit unless ``totaal_debet_credit`` is given. Extra keyword arguments override
    Declaratie elements by XSD name.
    """
    if totaal is None:
        clients = list(clients)
        totaal = signed_total(clients)
    dc = totaal_debet_credit or ("C" if totaal < 0 else "D")
    decl = {
        "DeclaratieNummer": declaratienummer,
        "DeclaratiePeriode": {"Begindatum": periode[0], "Einddatum": periode[1]},
        "DeclaratieDagtekening": dagtekening,
        "TotaalIngediendBedrag": {"TotaalBedrag": abs(totaal), "DebetCredit": dc},
        "Clienten": {"Client": clients},
    }
    decl.update(declaratie)
    return {"Header": make_header("JW323", **(header or {})), "Declaratie": decl}


def build_jw323(**kwargs) -> bytes:
    """A JW323 message as bytes; see ``jw323`` for the arguments."""
    return build_message("JW323", jw323(**kwargs))


def write_jw323(path, **kwargs) -> Path:
    return write_message(path, "JW323", jw323(**kwargs))


def toegewezen_product(
    toewijzingnummer: int | str,
    ingangsdatum=dt.date(2025, 1, 1),
    einddatum=dt.date(2025, 12, 31),
    *,
    productcategorie: str | None = "45",
    productcode: str | None = "45A48",
    toewijzingsdatum=dt.date(2024, 12, 15),
    toewijzingstijd=dt.time(9, 30),
    reden_wijziging: str | None = None,
    volume: int | None = 10,
    eenheid: str | None = "04",
    frequentie: str | None = "2",
    budget: int | None = None,
    referentie_aanbieder: str | None = None,
) -> dict:
    """One ToegewezenProduct (Omvang when volume is given, Budget in cents when budget is)."""
    product = None
    if productcategorie is not None:
        product = {"Categorie": productcategorie, "Code": productcode}
    omvang = {"Volume": volume, "Eenheid": eenheid, "Frequentie": frequentie} if volume is not None else None
    return {
        "ToewijzingNummer": toewijzingnummer,
        "ReferentieAanbieder": referentie_aanbieder,
        "Product": product,
        "Toewijzingsdatum": toewijzingsdatum,
        "Toewijzingstijd": toewijzingstijd,
        "Ingangsdatum": ingangsdatum,
        "Einddatum": einddatum,
        "RedenWijziging": reden_wijziging,
        "Omvang": omvang,
        "Budget": budget,
    }


def jw301(*, header: dict | None = None, bsn: str = BSN, producten: list[dict], **client_overrides) -> dict:
    """The data of a JW301: one client (with the personal data the XSD requires) and its
    ToegewezenProducten."""
    c = {
        "Bsn": bsn,
        "Geboortedatum": {"Datum": dt.date(2012, 5, 17)},
        "Geslacht": "1",
        "Naam": {"Geslachtsnaam": {"Achternaam": "Testpersoon"}, "Voorletters": "T", "NaamGebruik": "1"},
        "Contactgegevens": {"Contact": [{"Soort": "01", "Adres": {"Postcode": "1234AB", "Plaatsnaam": "Huizen"}}]},
        "ToegewezenProducten": {"ToegewezenProduct": producten},
    }
    c.update(client_overrides)
    return {"Header": make_header("JW301", **(header or {})), "Client": c}


def build_jw301(**kwargs) -> bytes:
    return build_message("JW301", jw301(**kwargs))


def write_jw301(path, **kwargs) -> Path:
    return write_message(path, "JW301", jw301(**kwargs))


def write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    path.write_bytes(data)
    return path
