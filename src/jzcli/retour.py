"""``jzcli retour``: answer judged declarations — a JW325 per JW323, a feedback workbook otherwise.

JW325 (declaratie-antwoord, reference §6)
    One answer per judged JW323 message (a batch with a ``berichten`` row, berichtcode 490). What
    the answer says follows from the stored verdicts and findings, in the standard's order:

    1. **Level 2** — an afkeur finding of a bericht-level rule with code ``0001`` (CS/CD and the
       in-message TRs): Header ``0001`` only, with XsltVersie; no DeclaratieAntwoord. The whole
       message counts as not sent.
    2. **Header (level 3/4)** — an afkeur finding of a bericht-level rule with another code
       (S300, 8848, 9056): Header with those codes only; no DeclaratieAntwoord.
    3. **Declaration** — an afkeur finding of a declaratie-level rule (9333, 8214): Header ``0200``,
       DeclaratieAntwoord with those codes, TotaalToegekendBedrag 0 (D), no Clienten.
    4. **Lines** — some lines rejected: Header ``0200``, DeclaratieAntwoord ``0200``,
       TotaalToegekendBedrag = TotaalIngediendBedrag − (Σ rejected D − Σ rejected C) (TR342),
       Clienten with only the clients that have a rejected line (client ``0200``), each rejected
       Prestatie copied from the stored line (TR366/TR367) with its retourcodes.
    5. **All approved**: Header ``0200``, DeclaratieAntwoord ``8001``, TotaalToegekendBedrag =
       TotaalIngediendBedrag, no Clienten.

    A rule's level comes from the registry (``niveau``); for a rule the registry does not know,
    from where its code lands (§13). A line's retourcodes are the distinct codes of its afkeur
    findings, in rule order. LDT_RetourCode is a closed list of 4-character codes, so jzcli's own
    codes are mapped to the nearest official code (``XML_RETOURCODE``); any other code outside
    the list becomes ``0233`` (class not assessed).

    Header: Afzender = the 323's Ontvanger (gemeente), Ontvanger = the 323's Afzender (AGB),
    BerichtIdentificatie = ``JZ<batch>R<ronde>`` (batch id and validate round: unique per store,
    the same as long as the batch is not judged again; ≤ 12 characters) with Dagtekening = today, XsdVersie
    = the versions in the shipped JW325.xsd, DeclaratieIdentificatie = the 323's
    BerichtIdentificatie (TR337), XsdVersieDeclaratie = the 323's XsdVersie (TR371).

    Every answer is checked against JW325.xsd before it is written; the file is UTF-8 without BOM
    with CR/LF line ends (OP192), written atomically.

Feedback workbook
    Spreadsheet declarations have no message to answer: per aanbieder one workbook with a summary
    per file (lines and amounts submitted, approved, rejected) and one row per rejected line with
    the provider's own file, sheet and Excel row, the line's values (BSN in full: the file is for
    the provider), retourcodes, rules, omschrijvingen and messages (see ``feedback_xlsx``).

A batch whose lines are not all judged yet is skipped with a reason, never answered empty.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from lxml import etree

from jzcli import ijw, refdata
from jzcli.domain.codes import AFGEKEURD, AFKEUR, BERICHT, CREDIT, DEBET, DECLARATIE, GOEDGEKEURD, REGEL
from jzcli.domain.lines import FIELDS
from jzcli.engine.facts import afgeleid_nl, productperiode_afgeleid
from jzcli.engine.load import load_lines
from jzcli.errors import FileReadError
from jzcli.output.feedback_xlsx import SUMMARY_COLUMNS
from jzcli.rules.catalog import load_rules
from jzcli.rules.kit import no_ints, signed_amount
from jzcli.rules.registry import rule_rank
from jzcli.store.schema import batches, beoordelingen, berichten, bevindingen, declaratieregels
from jzcli.store.store import Store

NS_325 = ijw.bericht("JW325").namespace
NS_BASIS = ijw.BASIS_NS

BERICHTCODE_323 = ijw.bericht("JW323").code
BERICHTCODE_325 = ijw.bericht("JW325").code
BERICHTVERSIE = "3"
BERICHTSUBVERSIE = "2"

# Version of the iJw rule set (XSLT) whose level-2 rules jzcli applies; sent as XsltVersie when
# those rules rejected the message.
XSLT_VERSIE = "2.10.5"

TECHNISCH = "0001"  # message rejected for technical reasons (all level-2 rules)
GEEN_OPMERKING = "0200"  # no remarks on this class
NIET_BEOORDEELD = "0233"  # class not assessed
VOLLEDIG_TOEGEKEND = "8001"  # declaration fully approved

# Where a code lands when the registry does not know the rule (reference §13).
HEADER_CODES = frozenset({TECHNISCH, "8848", "9056", "S300"})
DECLARATIE_CODES = frozenset({"8214", "9333"})

# jzcli's own codes have no place in LDT_RetourCode; the official code a provider's software
# understands for the same situation:
XML_RETOURCODE = {
    "JZ-C01": "0611",  # product not contracted for this gemeente/aanbieder: no contract tariff (TR418)
    "JZ-C02": "9341",  # eenheid differs from the contract's (TR341: the contract decides the unit)
    "JZ-C03": "9338",  # taakgericht product declared per client: no allocation to draw on (TR338)
    "JZ-I01": NIET_BEOORDEELD,  # a value could not be read: the line could not be assessed
}

# Outcomes (what the answer says about the declaration as a whole).
BERICHT_AFGEKEURD = "bericht afgekeurd"
HEADER_AFGEKEURD = "header afgekeurd"
DECLARATIE_AFGEKEURD = "declaratie afgekeurd"
REGELS_AFGEKEURD = "regels afgekeurd"
VOLLEDIG = "volledig toegekend"


# ============================================================================ results
@dataclass
class Answer:
    """One JW325 answer, built but not written yet."""

    batch: int
    bestand: str  # the 323's file name
    gemeente: str
    aanbieder: str
    declaratienummer: str
    identificatie: str  # the 325's BerichtIdentificatie/Identificatie
    uitkomst: str
    header_codes: list[str]
    declaratie_codes: list[str]
    regels: int
    goedgekeurd: int  # lines approved by the answer
    afgekeurd: int  # lines rejected by the answer
    ingediend: int  # signed cents (TotaalIngediendBedrag)
    toegekend: int  # signed cents (TotaalToegekendBedrag; 0 without DeclaratieAntwoord)
    tree: etree._ElementTree
    path: Path | None = None

    @property
    def filename(self) -> str:
        parts = ["JW325", self.gemeente, self.aanbieder, self.declaratienummer, self.identificatie]
        return "_".join(_safe_name(p) for p in parts) + ".xml"


@dataclass
class Skipped:
    batch: int
    bestand: str
    reason: str


@dataclass
class Feedback:
    """One feedback workbook for one aanbieder."""

    aanbieder: str
    summary: pd.DataFrame  # per batch (see ``feedback_summary``)
    rejected: pd.DataFrame  # one row per rejected line (see ``feedback_rows``)
    path: Path | None = None

    def filename(self, today: dt.date) -> str:
        return f"feedback_{_safe_name(self.aanbieder)}_{today.isoformat()}.xlsx"

    @property
    def regels(self) -> int:
        return int(self.summary["regels"].sum())

    @property
    def afgekeurd(self) -> int:
        return int(self.summary["afgekeurd_regels"].sum())

    @property
    def goedgekeurd(self) -> int:
        return int(self.summary["goedgekeurd_regels"].sum())


@dataclass
class RetourResult:
    answers: list[Answer] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(a.path is not None for a in self.answers) + sum(f.path is not None for f in self.feedback)


# ============================================================================ the XSD
@lru_cache(maxsize=1)
def xsd_versie_325() -> tuple[str, str]:
    """(BasisschemaXsdVersie, BerichtXsdVersie) from the annotation of the shipped JW325.xsd."""
    basis, bericht = ijw.xsd_versions("JW325")
    if not basis or not bericht:  # pragma: no cover - the shipped file has both
        raise FileReadError("JW325.xsd (package data): no BasisschemaXsdVersie/BerichtXsdVersie annotation")
    return basis, bericht


@lru_cache(maxsize=1)
def retourcodes_325() -> frozenset[str]:
    """The codes LDT_RetourCode allows (basisschema.xsd enumeration)."""
    values = ijw.schema_document("basisschema.xsd").xpath(
        "/xs:schema/xs:simpleType[@name='LDT_RetourCode']/xs:restriction/xs:enumeration/@value",
        namespaces={"xs": ijw.XS_NS},
    )
    return frozenset(str(v) for v in values)


@lru_cache(maxsize=1)
def max_retourcodes() -> int | None:
    """How many RetourCode elements one RetourCodes may hold in a JW325 (None = unbounded)."""
    found = ijw.schema_document("JW325.xsd").xpath(
        "/xs:schema/xs:complexType[@name='RetourCodes']/xs:sequence/xs:element[@name='RetourCode']/@maxOccurs",
        namespaces={"xs": ijw.XS_NS},
    )
    value = found[0] if found else "1"
    return None if value == "unbounded" else int(value)


def validate_325(tree: etree._ElementTree) -> list[str]:
    """Schema errors of a JW325 tree ('line N, /path: message'); empty when valid."""
    return [str(e) for e in ijw.validate_xsd(tree, "JW325")]


# ============================================================================ loading
def _scope_where(batch=None, gemeente=None):
    t = declaratieregels
    conditions = []
    if batch:
        conditions.append(t.c.batch.in_([int(b) for b in batch]))
    if gemeente:
        conditions.append(t.c.gemeente.in_(list(gemeente)))
    return sa.and_(*conditions) if conditions else None


@dataclass
class Loaded:
    """What retour reads from the store once: the lines in scope (with ``status`` and ``ronde``),
    their afkeur findings of that round, the berichten rows of their batches, batch → file name."""

    lines: pd.DataFrame
    found: pd.DataFrame
    msgs: pd.DataFrame
    bestand: dict


def load(store: Store, *, batch=None, gemeente=None) -> Loaded:
    lines, found, msgs, files = _load(store, _scope_where(batch, gemeente))
    return Loaded(lines, found, msgs, dict(zip(files["id"].astype("int64"), files["bestand"])))


def _load(store: Store, where) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Lines in scope (with status and ronde), their afkeur findings, the berichten rows of
    their batches and the batches' file names."""
    lines = load_lines(store, where)
    ids = sa.select(declaratieregels.c.id)
    if where is not None:
        ids = ids.where(where)
    b = beoordelingen
    verdicts = store.read_frame(sa.select(b.c.regel_id, b.c.status, b.c.ronde).where(b.c.regel_id.in_(ids)))
    if len(verdicts):
        verdicts = verdicts.astype({"regel_id": "int64", "ronde": "int64"}).set_index("regel_id")
        lines["status"] = lines["id"].map(verdicts["status"]).astype(object)
        lines["ronde"] = pd.array(lines["id"].map(verdicts["ronde"]), dtype="Int64")
    else:
        lines["status"] = pd.Series(None, index=lines.index, dtype=object)
        lines["ronde"] = no_ints(len(lines))

    f = bevindingen
    found = store.read_frame(
        sa.select(f.c.id, f.c.regel_id, f.c.regel, f.c.retourcode, f.c.melding, f.c.ronde)
        .where(f.c.regel_id.in_(ids) & (f.c.ernst == AFKEUR))
        .order_by(f.c.id)
    )
    if found.empty:
        found = pd.DataFrame(
            {c: pd.Series(dtype=object) for c in ("id", "regel_id", "regel", "retourcode", "melding", "ronde")}
        )
    found = found.astype({"id": "int64", "regel_id": "int64", "ronde": "int64"})
    # only the findings of the round that gave the line its verdict
    verdict_ronde = found["regel_id"].map(pd.Series(lines["ronde"].to_numpy(), index=lines["id"].to_numpy()))
    found = found[(found["ronde"] == verdict_ronde).fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)

    batch_ids = sorted(int(x) for x in lines["batch"].unique())
    m = berichten
    msgs = (
        store.read_frame(sa.select(m).where(m.c.batch.in_(batch_ids)))
        if batch_ids
        else pd.DataFrame(columns=[c.name for c in m.columns])
    )
    files = (
        store.read_frame(sa.select(batches.c.id, batches.c.bestand).where(batches.c.id.in_(batch_ids)))
        if batch_ids
        else pd.DataFrame(columns=["id", "bestand"])
    )
    if len(msgs):
        msgs["batch"] = msgs["batch"].astype("int64")
    return lines, found, msgs, files


def _rule_levels(found: pd.DataFrame) -> pd.Series:
    """niveau per finding: the registry's, else by where the code lands (§13)."""
    rules = load_rules()
    known = found["regel"].map({r: rules[r].niveau for r in pd.unique(found["regel"]) if r in rules})
    code = found["retourcode"].astype(str)
    by_code = np.where(code.isin(HEADER_CODES), BERICHT, np.where(code.isin(DECLARATIE_CODES), DECLARATIE, REGEL))
    return known.where(known.notna(), pd.Series(by_code, index=found.index)).astype(object)


def xml_codes(codes: pd.Series) -> pd.Series:
    """Codes as LDT_RetourCode allows them: jzcli's own mapped, anything else unknown → 0233."""
    codes = codes.astype(str)
    mapped = codes.map(XML_RETOURCODE).fillna(codes)
    return mapped.where(mapped.isin(retourcodes_325()), NIET_BEOORDEELD)


def _ranks(regel: pd.Series) -> pd.Series:
    """rule_rank per finding (computed once per distinct rule)."""
    return regel.map({r: rule_rank(r) for r in pd.unique(regel)})


def _distinct_codes(frame: pd.DataFrame, key: str) -> dict:
    """key → list of distinct ``code`` values in rule order (capped as the XSD allows)."""
    if frame.empty:
        return {}
    f = frame.assign(_rank=_ranks(frame["regel"])).sort_values([key, "_rank", "id"], kind="mergesort")
    f = f.drop_duplicates([key, "code"])
    limit = max_retourcodes()
    keys = f[key].to_numpy()
    values = f["code"].tolist()
    starts = [0, *(np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist()]
    ends = [*starts[1:], len(values)]
    out = {}
    for start, end in zip(starts, ends):  # the rows of one key are contiguous (sorted above)
        out[keys[start].item() if hasattr(keys[start], "item") else keys[start]] = values[
            start : end if limit is None else min(end, start + limit)
        ]
    return out


# ============================================================================ JW325
def build_answers(
    store: Store,
    *,
    batch=None,
    aanbieder=None,
    gemeente=None,
    today: dt.date | None = None,
    loaded: Loaded | None = None,
) -> tuple[list[Answer], list[Skipped]]:
    """A JW325 tree for every judged JW323 batch in scope; unjudged batches are skipped."""
    today = today or dt.date.today()
    data = loaded or load(store, batch=batch, gemeente=gemeente)
    msgs, bestand = data.msgs, data.bestand
    msgs = msgs[msgs["berichtcode"].astype(str) == BERICHTCODE_323] if len(msgs) else msgs
    if aanbieder and len(msgs):
        msgs = msgs[msgs["afzender"].isin(list(aanbieder))]
    if msgs.empty:
        return [], []
    lines, found = data.lines, data.found
    lines = lines[lines["batch"].isin(msgs["batch"])].reset_index(drop=True)
    found = found[found["regel_id"].isin(lines["id"])].reset_index(drop=True)
    found["niveau"] = _rule_levels(found)
    found["batch"] = (
        found["regel_id"].map(pd.Series(lines["batch"].to_numpy(), index=lines["id"].to_numpy())).astype("int64")
    )

    unjudged = lines["status"].isna().groupby(lines["batch"]).sum()
    by_batch = dict(tuple(lines.groupby("batch", sort=False)))
    found_by_batch = dict(tuple(found.groupby("batch", sort=False)))
    no_findings = found.iloc[0:0]
    skipped = []
    answers = []
    for msg in msgs.sort_values("batch").to_dict("records"):
        bid = int(msg["batch"])
        name = str(bestand.get(bid, ""))
        if bid not in by_batch:
            continue
        if unjudged[bid]:
            skipped.append(
                Skipped(bid, name, f"{int(unjudged[bid])} of its lines are not judged yet: run jzcli validate first")
            )
            continue
        answers.append(_answer(msg, name, by_batch[bid], found_by_batch.get(bid, no_findings), today))
    return answers, skipped


def _outcome(found: pd.DataFrame, rejected: pd.DataFrame) -> tuple[str, list[str], list[str]]:
    """The answer's outcome and its header and declaration retourcodes: a technical rejection of
    the message, a rejected header, a rejected declaration, rejected lines, or all approved."""
    level2 = found[(found["niveau"] == BERICHT) & (found["retourcode"] == TECHNISCH)]
    header = found[(found["niveau"] == BERICHT) & (found["retourcode"] != TECHNISCH)]
    decl = found[found["niveau"] == DECLARATIE]
    if len(level2):
        return BERICHT_AFGEKEURD, [TECHNISCH], []
    if len(header):
        return HEADER_AFGEKEURD, _distinct_codes(header.assign(code=xml_codes(header["retourcode"]), _k=0), "_k")[0], []
    if len(decl):
        codes = _distinct_codes(decl.assign(code=xml_codes(decl["retourcode"]), _k=0), "_k")[0]
        return DECLARATIE_AFGEKEURD, [GEEN_OPMERKING], codes
    if len(rejected):
        return REGELS_AFGEKEURD, [GEEN_OPMERKING], [GEEN_OPMERKING]
    return VOLLEDIG, [GEEN_OPMERKING], [VOLLEDIG_TOEGEKEND]


def _header(h, msg: dict, ident: str, today: dt.date, uitkomst: str, header_codes: list[str]) -> None:
    _sub(h, "BerichtCode", BERICHTCODE_325)
    _sub(h, "BerichtVersie", BERICHTVERSIE)
    _sub(h, "BerichtSubversie", BERICHTSUBVERSIE)
    _sub(h, "Afzender", msg["ontvanger"])
    _sub(h, "Ontvanger", msg["afzender"])
    _identificatie(_sub(h, "BerichtIdentificatie"), ident, today)
    _xsd_versie(_sub(h, "XsdVersie"), *xsd_versie_325())
    _identificatie(_sub(h, "DeclaratieIdentificatie"), msg["identificatie"], _date(msg["dagtekening"]))
    if uitkomst == BERICHT_AFGEKEURD:
        _sub(h, "XsltVersie", XSLT_VERSIE)
    basis, bericht = _split_versie(msg.get("xsd_versie"))
    _xsd_versie(_sub(h, "XsdVersieDeclaratie"), basis, bericht)
    _codes(h, header_codes)


def _answer(msg: dict, bestand: str, lines: pd.DataFrame, found: pd.DataFrame, today: dt.date) -> Answer:
    bid = int(msg["batch"])
    ronde = int(lines["ronde"].max())
    ident = identificatie_325(bid, ronde)
    rejected = lines[lines["status"] == AFGEKEURD]

    ingediend = _signed(msg.get("totaal_ingediend"), msg.get("totaal_debet_credit"))
    if ingediend is None:
        ingediend = int(signed_amount(lines).sum())

    uitkomst, header_codes, declaratie_codes = _outcome(found, rejected)
    root = etree.Element(etree.QName(NS_325, "Bericht"), nsmap={None: NS_325, "ijw": NS_BASIS})
    _header(_sub(root, "Header"), msg, ident, today, uitkomst, header_codes)

    n = len(lines)
    if uitkomst in (BERICHT_AFGEKEURD, HEADER_AFGEKEURD):
        toegekend, afgekeurd = 0, n
    else:
        da = _sub(root, "DeclaratieAntwoord")
        _sub(da, "DeclaratieNummer", msg.get("declaratienummer") or _first(lines["declaratienummer"]))
        _bedrag(_sub(da, "TotaalIngediendBedrag"), "TotaalBedrag", ingediend)
        if uitkomst == DECLARATIE_AFGEKEURD:
            toegekend, afgekeurd = 0, n
        else:
            rejected_sum = int(signed_amount(rejected).sum())
            toegekend = ingediend - rejected_sum  # TR342
            afgekeurd = len(rejected)
        _bedrag(_sub(da, "TotaalToegekendBedrag"), "TotaalBedrag", toegekend)
        if uitkomst == REGELS_AFGEKEURD:
            _clienten(_sub(da, "Clienten"), rejected, found)
        _codes(da, declaratie_codes)

    return Answer(
        batch=bid,
        bestand=bestand,
        gemeente=str(msg["ontvanger"]),
        aanbieder=str(msg["afzender"]),
        declaratienummer=str(msg.get("declaratienummer") or _first(lines["declaratienummer"]) or ""),
        identificatie=ident,
        uitkomst=uitkomst,
        header_codes=header_codes,
        declaratie_codes=declaratie_codes,
        regels=n,
        goedgekeurd=n - afgekeurd,
        afgekeurd=afgekeurd,
        ingediend=ingediend,
        toegekend=toegekend,
        tree=etree.ElementTree(root),
    )


def _prestatie_texts(r: pd.DataFrame) -> dict[str, list]:
    """The rejected lines' values as the texts their elements get (None where an element is left out)."""
    text = {
        c: _texts(r[c])
        for c in (
            "bsn",
            "referentienummer",
            "vorig_referentienummer",
            "toewijzingnummer",
            "productcategorie",
            "productcode",
            "eenheid",
            "debet_credit",
        )
    }
    for c in ("begindatum", "einddatum"):
        d = pd.to_datetime(r[c])
        text[c] = d.dt.strftime("%Y-%m-%d").astype(object).where(d.notna(), None).tolist()
    for c in ("volume", "tarief", "bedrag"):
        v = pd.array(r[c], dtype="Int64")
        text[c] = [None if x is pd.NA else str(x) for x in v]
    return text


def _clienten(parent, rejected: pd.DataFrame, found: pd.DataFrame) -> None:
    """Client per BSN (in message order) with its rejected Prestaties copied from the stored line.

    The values are turned into text column by column first; the loop only creates elements.
    """
    f = found[found["regel_id"].isin(rejected["id"]) & (found["niveau"] != BERICHT) & (found["niveau"] != DECLARATIE)]
    codes = _distinct_codes(f.assign(code=xml_codes(f["retourcode"])), "regel_id")
    r = rejected.assign(_first=rejected.groupby("bsn", sort=False)["id"].transform("min"))
    r = r.sort_values(["_first", "id"], kind="mergesort")
    text = _prestatie_texts(r)
    line_codes = [codes.get(i) or [NIET_BEOORDEELD] for i in r["id"].astype("int64").tolist()]

    m, b = _tags(NS_325), _tags(NS_BASIS)
    sub = etree.SubElement
    client = prestaties = None
    previous = object()
    rows = zip(
        text["bsn"],
        text["referentienummer"],
        text["vorig_referentienummer"],
        text["toewijzingnummer"],
        text["productcategorie"],
        text["productcode"],
        text["begindatum"],
        text["einddatum"],
        text["volume"],
        text["eenheid"],
        text["tarief"],
        text["bedrag"],
        text["debet_credit"],
        line_codes,
    )
    for bsn, ref, vorig, nummer, cat, code, begin, eind, volume, eenheid, tarief, bedrag, dc, retour_codes in rows:
        if bsn != previous:
            if prestaties is not None:
                _codes(client, [GEEN_OPMERKING])
            client = sub(parent, m["Client"])
            sub(client, m["Bsn"]).text = bsn
            prestaties = sub(client, m["Prestaties"])
            previous = bsn
        p = sub(prestaties, m["Prestatie"])
        pr = sub(p, m["ProductReferentie"])
        sub(pr, b["ReferentieNummer"]).text = ref
        if vorig is not None:
            sub(pr, b["VorigReferentieNummer"]).text = vorig
        sub(p, m["ToewijzingNummer"]).text = nummer
        sub(p, m["ProductCategorie"]).text = cat
        sub(p, m["ProductCode"]).text = code
        period = sub(p, m["ProductPeriode"])
        sub(period, b["Begindatum"]).text = begin
        sub(period, b["Einddatum"]).text = eind
        sub(p, m["GeleverdVolume"]).text = volume
        sub(p, m["Eenheid"]).text = eenheid
        if tarief is not None:
            sub(p, m["ProductTarief"]).text = tarief
        amount = sub(p, m["IngediendBedrag"])
        sub(amount, b["Bedrag"]).text = bedrag
        sub(amount, b["DebetCredit"]).text = dc
        rc = sub(p, m["RetourCodes"])
        for c in retour_codes:
            sub(rc, m["RetourCode"]).text = c
    if prestaties is not None:
        _codes(client, [GEEN_OPMERKING])


def _texts(s: pd.Series) -> list:
    """A text column as a list of str, None where missing or empty."""
    return [None if x is None or x is pd.NA or x != x or x == "" else str(x) for x in s.astype(object).tolist()]


class _tags(dict):
    """Clark names of one namespace: _tags(ns)["Client"] == "{ns}Client"."""

    def __init__(self, ns: str):
        super().__init__()
        self.ns = ns

    def __missing__(self, local: str) -> str:
        self[local] = name = f"{{{self.ns}}}{local}"
        return name


# ------------------------------------------------------------------------------ XML helpers
def _sub(parent, name: str, text=None, *, ns: str = NS_325):
    el = etree.SubElement(parent, etree.QName(ns, name))
    if text is not None:
        el.text = str(text)
    return el


def _identificatie(el, identificatie: str, dagtekening: dt.date) -> None:
    _sub(el, "Identificatie", identificatie, ns=NS_BASIS)
    _sub(el, "Dagtekening", dagtekening.isoformat(), ns=NS_BASIS)


def _xsd_versie(el, basis: str, bericht: str) -> None:
    _sub(el, "BasisschemaXsdVersie", basis, ns=NS_BASIS)
    _sub(el, "BerichtXsdVersie", bericht, ns=NS_BASIS)


def _bedrag(el, name: str, signed: int) -> None:
    _sub(el, name, abs(int(signed)), ns=NS_BASIS)
    _sub(el, "DebetCredit", CREDIT if signed < 0 else DEBET, ns=NS_BASIS)


def _codes(parent, codes: list[str]) -> None:
    el = _sub(parent, "RetourCodes")
    for code in codes:
        _sub(el, "RetourCode", code)


def _split_versie(value) -> tuple[str, str]:
    """The stored 'Basisschema|Bericht' XsdVersie of the 323."""
    text = "" if value is None or value != value else str(value)
    basis, _, bericht = text.partition("|")
    return basis.strip(), bericht.strip()


def _signed(amount, dc) -> int | None:
    if amount is None or amount != amount:
        return None
    return -int(amount) if str(dc) == CREDIT else int(amount)


def _date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def _present(value) -> bool:
    return not (value is None or value is pd.NA or (isinstance(value, float) and value != value) or value == "")


def _first(s: pd.Series):
    s = s.dropna()
    return s.iloc[0] if len(s) else None


def identificatie_325(batch: int, ronde: int) -> str:
    """``JZ<batch>R<ronde>``: unique per store, the same for the same verdicts; ≤ 12 characters
    (base 36 when the decimal form would be longer)."""
    ident = f"JZ{batch}R{ronde}"
    if len(ident) > 12:
        ident = f"JZ{_base36(batch)}R{_base36(ronde)}"
    return ident


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _safe_name(text) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "_", str(text or "")).strip("_") or "x"


def write_answer(answer: Answer, directory: Path) -> Path:
    """Check the answer against JW325.xsd and write it atomically; FileReadError when invalid."""
    from jzcli.output.records import atomic_path

    errors = validate_325(answer.tree)
    if errors:
        raise FileReadError(
            f"JW325 for batch {answer.batch} ({answer.bestand}, declaratie {answer.declaratienummer}) does not "
            f"validate against JW325.xsd and was not written: {errors[0]}"
        )
    target = Path(directory) / answer.filename
    try:
        with atomic_path(target) as tmp:
            tmp.write_bytes(ijw.serialise(answer.tree))
    except OSError as exc:
        raise FileReadError(f"{target}: cannot be written: {exc.strerror or exc}") from None
    answer.path = target
    return target


# ============================================================================ feedback (spreadsheets)
def build_feedback(
    store: Store, *, batch=None, aanbieder=None, gemeente=None, loaded: Loaded | None = None
) -> tuple[list[Feedback], list[Skipped]]:
    """Per aanbieder the summary and rejected-line rows of its judged spreadsheet batches."""
    data = loaded or load(store, batch=batch, gemeente=gemeente)
    msgs, bestand, found = data.msgs, data.bestand, data.found
    xml = set(msgs["batch"].astype("int64")) if len(msgs) else set()
    lines = data.lines[~data.lines["batch"].isin(xml)].reset_index(drop=True)
    if lines.empty:
        return [], []

    # a line whose aanbieder could not be read belongs to the provider of the rest of its file
    known = lines["aanbieder"].where(lines["aanbieder"].notna())
    mode = known.groupby(lines["batch"]).agg(lambda s: s.value_counts().index[0] if s.notna().any() else np.nan)
    lines["ontvanger"] = known.fillna(lines["batch"].map(mode))
    if aanbieder:
        lines = lines[lines["ontvanger"].isin(list(aanbieder))].reset_index(drop=True)

    skipped = []
    unjudged = lines["status"].isna().groupby(lines["batch"]).sum()
    judged = unjudged == 0
    for bid, n in unjudged[unjudged > 0].items():
        skipped.append(
            Skipped(
                int(bid),
                str(bestand.get(int(bid), "")),
                f"{int(n)} of its lines are not judged yet: run jzcli validate first",
            )
        )
    unknown = lines["ontvanger"].isna() & lines["batch"].map(judged).astype(bool)
    for bid in pd.unique(lines.loc[unknown, "batch"]):
        skipped.append(
            Skipped(
                int(bid), str(bestand.get(int(bid), "")), "no aanbieder is known for its lines: no feedback workbook"
            )
        )
    lines = lines[lines["batch"].map(judged).astype(bool) & lines["ontvanger"].notna()].reset_index(drop=True)
    if lines.empty:
        return [], skipped
    found = found[found["regel_id"].isin(lines.loc[lines["status"] == AFGEKEURD, "id"])]

    summary = feedback_summary(lines, bestand)
    bad = (lines["status"] == AFGEKEURD).to_numpy()
    lines["productperiode_afgeleid"] = None
    if bad.any():
        lines.loc[bad, "productperiode_afgeleid"] = afgeleid_nl(productperiode_afgeleid(store, lines[bad])).to_numpy()
    rows = feedback_rows(lines, found, bestand)
    result = []
    for agb, s in summary.groupby("aanbieder", sort=True):
        r = rows[rows["aanbieder"] == agb] if len(rows) else rows
        result.append(Feedback(aanbieder=str(agb), summary=s.reset_index(drop=True), rejected=r.reset_index(drop=True)))
    return result, skipped


def feedback_summary(lines: pd.DataFrame, bestand: dict) -> pd.DataFrame:
    """Per (aanbieder, batch): file, gemeenten, lines and net amounts submitted/approved/rejected."""
    amount = signed_amount(lines)
    ok = (lines["status"] == GOEDGEKEURD).to_numpy()
    bad = (lines["status"] == AFGEKEURD).to_numpy()
    frame = pd.DataFrame(
        {
            "aanbieder": lines["ontvanger"].to_numpy(),
            "batch": lines["batch"].to_numpy(),
            "gemeente": lines["gemeente"].to_numpy(),
            "bedrag": amount.to_numpy(),
            "ok": ok.astype("int64"),
            "ok_bedrag": np.where(ok, amount.to_numpy(), 0),
            "bad": bad.astype("int64"),
            "bad_bedrag": np.where(bad, amount.to_numpy(), 0),
        }
    )
    g = frame.groupby(["aanbieder", "batch"], sort=True)
    out = g.agg(
        regels=("bedrag", "size"),
        ingediend=("bedrag", "sum"),
        goedgekeurd_regels=("ok", "sum"),
        goedgekeurd=("ok_bedrag", "sum"),
        afgekeurd_regels=("bad", "sum"),
        afgekeurd=("bad_bedrag", "sum"),
    ).reset_index()
    gem = (
        frame.dropna(subset=["gemeente"])
        .groupby(["aanbieder", "batch"])["gemeente"]
        .agg(lambda s: ", ".join(sorted(set(s))))
    )
    out["gemeente"] = [gem.get((a, b), "") for a, b in zip(out["aanbieder"], out["batch"])]
    out["bestand"] = out["batch"].map(lambda b: bestand.get(int(b), ""))
    return out[["aanbieder", *SUMMARY_COLUMNS]]


ROW_FIELDS = [*FIELDS[2:], "gemeente"]  # the Prestatie fields after aanbieder and gemeente, then gemeente


def feedback_rows(lines: pd.DataFrame, found: pd.DataFrame, bestand: dict) -> pd.DataFrame:
    """One row per rejected line: provenance, the line's values and its findings joined (one per text line)."""
    rejected = lines[lines["status"] == AFGEKEURD].sort_values(["ontvanger", "batch", "id"], kind="mergesort")
    derived = ["productperiode_afgeleid"] if "productperiode_afgeleid" in lines.columns else []
    cols = [
        "aanbieder",
        "batch",
        "bestand",
        "blad",
        "rij",
        *ROW_FIELDS,
        *derived,
        "retourcode",
        "regel",
        "omschrijving",
        "melding",
    ]
    if rejected.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    rules = load_rules()
    names = refdata.codelijst("retourcode")
    f = found.assign(_rank=_ranks(found["regel"])).sort_values(["regel_id", "_rank", "id"], kind="mergesort")
    by_rule = f["regel"].map({r: rules[r].omschrijving for r in pd.unique(f["regel"]) if r in rules}).fillna("")
    by_code = f["retourcode"].astype(str).map(names).fillna("")
    f = f.assign(omschrijving=by_rule.where(by_rule != "", by_code))
    g = f.groupby("regel_id", sort=False)
    joined = pd.DataFrame(
        {
            "retourcode": g["retourcode"].agg(lambda s: "\n".join(dict.fromkeys(s.astype(str)))),
            "regel": g["regel"].agg(lambda s: "\n".join(s.astype(str))),
            "omschrijving": g["omschrijving"].agg(lambda s: "\n".join(dict.fromkeys(s.astype(str)))),
            "melding": g["melding"].agg(lambda s: "\n".join(s.astype(str))),
        }
    )
    out = pd.DataFrame({"aanbieder": rejected["ontvanger"].to_numpy(), "batch": rejected["batch"].to_numpy()})
    out["bestand"] = rejected["bron"].to_numpy()
    out["blad"] = rejected["blad"].to_numpy()
    out["rij"] = rejected["rij"].to_numpy()
    for c in (*ROW_FIELDS, *derived):
        out[c] = rejected[c].to_numpy()
    j = joined.reindex(rejected["id"].to_numpy())
    for c in ("retourcode", "regel", "omschrijving", "melding"):
        out[c] = j[c].to_numpy()
    return out[cols]


# ============================================================================ the command's core
def retour(
    store: Store,
    directory: Path,
    *,
    batch=None,
    aanbieder=None,
    gemeente=None,
    today: dt.date | None = None,
) -> RetourResult:
    """Build and write every JW325 and feedback workbook in scope into ``directory`` (created).

    An answer that fails the XSD is not written; its error is in ``errors`` (the others are
    written). Unjudged batches are in ``skipped``.
    """
    from jzcli.output.feedback_xlsx import write_feedback

    today = today or dt.date.today()
    result = RetourResult()
    data = load(store, batch=batch, gemeente=gemeente)
    answers, skipped = build_answers(store, aanbieder=aanbieder, today=today, loaded=data)
    feedback, skipped_fb = build_feedback(store, aanbieder=aanbieder, loaded=data)
    result.skipped = [*skipped, *skipped_fb]
    if not answers and not feedback:
        return result
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileReadError(f"-o {directory}: the folder cannot be created: {exc.strerror or exc}") from None
    for answer in answers:
        try:
            write_answer(answer, directory)
        except FileReadError as exc:
            result.errors.append(str(exc))
        result.answers.append(answer)
    for fb in feedback:
        target = directory / fb.filename(today)
        write_feedback(fb, target, generated=today)
        fb.path = target
        result.feedback.append(fb)
    return result
