"""``jzcli export jw323``: a provider's spreadsheet lines as iJw 3.2 JW323 declaration messages.

Reading
    The files are read with the same readers as ``jzcli import`` (imported into a temporary store,
    see ``check.temporary_store``), or taken from a store (``--db`` with ``--batch``). A line keeps
    its provenance (file, sheet, Excel row) so every line left out can be named.

One message per aanbieder × gemeente × DeclaratiePeriode
    The DeclaratiePeriode is one calendar month for the whole export: ``--periode``, else the
    latest ProductPeriode month among the lines that can become a Prestatie. Lines of earlier
    months go into that period's message (late declaring, OP354/IV090), never into a message of
    their own month; lines of a later month are left out. The period must have ended: a period
    that ends after the DeclaratieDagtekening (default today) is refused unless ``--dagtekening``
    names a day on or after its end.

The message (``build_message``; element order of JW323.xsd, built with lxml)
    Header: BerichtCode 490, BerichtVersie 3, BerichtSubversie 2, Afzender = AGB, Ontvanger =
    gemeente, BerichtIdentificatie (Identificatie + Dagtekening), XsdVersie = the versions of the
    shipped JW323.xsd. Declaratie: DeclaratieNummer, DeclaratiePeriode, DeclaratieDagtekening,
    TotaalIngediendBedrag = Σ debet − Σ credit (absolute value, sign via DebetCredit; 0 is D),
    Clienten: one Client per BSN (in the order of first appearance) with its Prestaties. Money is
    integer cents, as stored; ToewijzingNummer is written as the integer.

Identifiers (stable: exporting the same file again gives the same numbers, so a second sending
is recognised by the gemeente as a repeat instead of being paid twice)
    * ReferentieNummer: the provider's own where the line has one; otherwise ``JZ`` + 18
      base-32 characters (A–Z, 2–7) of SHA-256 over the aanbieder, the SHA-256 of the source
      file, the sheet, the Excel row and the line's content. Two different files (or two rows of
      one file) never get the same input; 2^90 values make an accidental repeat for a provider
      practically impossible (a birthday bound of ~10^13 lines).
    * DeclaratieNummer: the provider's own when every line of the message carries the same one,
      it is 1–12 letters/digits and no other message of this export uses it; otherwise ``JZ`` + 10
      base-32 characters of SHA-256 over aanbieder, gemeente, period and the message's
      ReferentieNummers (2^50 values).
    * BerichtIdentificatie: ``JB`` + 10 base-32 characters of the same content hash with another
      salt (≤ 12 characters, TR056).

Lines left out (``LeftOut``; never repaired or invented)
    A line that cannot become a valid Prestatie is listed with file, sheet, row and every reason:
    a value that could not be read; no aanbieder, gemeente (CBS code), BSN passing the 11-proef,
    toewijzingnummer (≤ 9 digits), productcategorie (JZ020), productcode (≤ 5), begindatum,
    einddatum, volume, eenheid (WJ756), tarief (unless eenheid 83), bedrag; a ProductPeriode
    spanning months, ending before it begins, before 2021 or more than 5 years old; eenheid 83
    with a tarief or with bedrag ≠ volume; a credit without VorigReferentieNummer, a debet with
    one, a credit of € 0 (CS325); numbers beyond the XSD limits; a line after the period; a line
    rejected by ``jzcli validate`` (``--db``). Then, inside each message (level-2 rules that would
    reject the whole message): a second debet for the same toewijzing, product and ProductPeriode
    (TR416), a ReferentieNummer used twice by the aanbieder (TR101/TR314), a VorigReferentieNummer
    used twice (TR315), and a credit of a debet in the same message (TR316: both left out).

Writing: every message is checked against JW323.xsd before anything is written (a failure is an
internal error and writes nothing); files are UTF-8 without BOM with CR/LF line ends (OP192),
each written atomically, named ``JW323_<AGB>_<gemeente>_<YYYYMM>_<DeclaratieNummer>.xml``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from lxml import etree

from jzcli import ijw, refdata
from jzcli.domain.codes import AFGEKEURD, CREDIT, DEBET, EENHEDEN
from jzcli.domain.findings import mask_value
from jzcli.domain.text import mask_bsn
from jzcli.engine.load import load_import_findings, load_lines, load_verdicts
from jzcli.errors import FileReadError, UsageError
from jzcli.output.records import atomic_path
from jzcli.readers.prepared import FileResult, ImportOptions
from jzcli.readers.values import elfproef
from jzcli.rules.kit import signed_amount
from jzcli.store.schema import batches, berichten
from jzcli.store.store import Store

JW323 = ijw.bericht("JW323")
NS = JW323.namespace
NS_BASIS = ijw.BASIS_NS
BERICHTVERSIE = "3"
BERICHTSUBVERSIE = "2"

EURO = "83"
EARLIEST = pd.Timestamp("2021-01-01")
MAX_AMOUNT = 99_999_999  # LDT_Bedrag, LDT_Volume (RS005)
MAX_TOTAL = 999_999_999_999  # LDT_TotaalBedrag (RS040)
MAX_NUMMER = 999_999_999  # LDT_Nummer (RS006)
REF_PREFIX = "JZ"
REF_LENGTH = 20  # LDT_ReferentieNummer
ID_LENGTH = 12  # LDT_IdentificatieBericht, LDT_IdentificatieDeclaratie


# ============================================================================ results
@dataclass
class Message:
    """One JW323, built and checked against the XSD, not written yet."""

    aanbieder: str
    gemeente: str
    periode: dt.date  # first day of the DeclaratiePeriode
    declaratienummer: str
    identificatie: str
    dagtekening: dt.date
    lines: pd.DataFrame  # the Prestaties: provenance + FIELDS, final referentienummer
    totaal: int  # Σ debet − Σ credit, cents
    tree: etree._ElementTree

    @property
    def filename(self) -> str:
        return f"JW323_{self.aanbieder}_{self.gemeente}_{self.periode:%Y%m}_{self.declaratienummer}.xml"

    @property
    def clients(self) -> int:
        return int(self.lines["bsn"].nunique())

    def as_dict(self, folder: Path | None = None) -> dict:
        return {
            "file": str(folder / self.filename) if folder is not None else self.filename,
            "aanbieder": self.aanbieder,
            "gemeente": self.gemeente,
            "declaratieperiode": f"{self.periode:%Y-%m}",
            "declaratienummer": self.declaratienummer,
            "berichtidentificatie": self.identificatie,
            "dagtekening": self.dagtekening.isoformat(),
            "clienten": self.clients,
            "prestaties": len(self.lines),
            "totaal_ingediend": self.totaal,
        }


@dataclass
class Export:
    """What an export made: the messages, the lines left out and why, and the files read."""

    messages: list[Message]
    left_out: pd.DataFrame  # bron, blad, rij, reden (BSNs masked unless show_bsn)
    periode: dt.date | None
    dagtekening: dt.date
    lines: int  # lines read
    files: list[FileResult] = field(default_factory=list)
    folder: Path | None = None

    @property
    def exported(self) -> int:
        return sum(len(m.lines) for m in self.messages)

    def as_dict(self) -> dict:
        return {
            "declaratieperiode": f"{self.periode:%Y-%m}" if self.periode else None,
            "dagtekening": self.dagtekening.isoformat(),
            "regels": self.lines,
            "geexporteerd": self.exported,
            "berichten": [m.as_dict(self.folder) for m in self.messages],
            "weggelaten": [
                {"bron": r.bron, "blad": r.blad, "rij": None if pd.isna(r.rij) else int(r.rij), "reden": r.reden}
                for r in self.left_out.itertuples(index=False)
            ],
        }


LEFT_OUT_COLUMNS = ["bron", "blad", "rij", "reden"]


# ============================================================================ sources
@dataclass
class Source:
    """Lines to export with what the export needs to know about them."""

    lines: pd.DataFrame  # validate.LINE_COLUMNS + sha (the source file's SHA-256)
    imports: pd.DataFrame  # unresolved import findings: regel_id, veld, kolom, waarde, melding
    rejected: pd.DataFrame  # regel_id, regels (rules of a stored afkeur verdict), for --db
    files: list[FileResult] = field(default_factory=list)


def _sha_of_batches(store: Store) -> pd.Series:
    b = store.read_frame(sa.select(batches.c.id, batches.c.sha256))
    if b.empty:
        return pd.Series(dtype=object)
    return pd.Series(b["sha256"].to_numpy(), index=b["id"].astype("int64").to_numpy())


def _source_from(
    store: Store, where=None, *, verdicts: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    lines = load_lines(store, where)
    lines["sha"] = lines["batch"].map(_sha_of_batches(store)).astype(object)
    imports = load_import_findings(store)
    imports = imports[imports["regel_id"].isin(lines["id"])]
    rejected = pd.DataFrame({"regel_id": pd.Series(dtype="int64"), "regels": pd.Series(dtype=object)})
    if verdicts:
        from jzcli.store.schema import bevindingen

        v = load_verdicts(store)
        if len(v):
            latest = v.sort_values("ronde").drop_duplicates("regel_id", keep="last")
            bad = latest.loc[
                (latest["status"] == AFGEKEURD) & latest["regel_id"].isin(lines["id"]), ["regel_id", "ronde"]
            ]
            if len(bad):
                f = store.read_frame(
                    sa.select(bevindingen.c.regel_id, bevindingen.c.regel, bevindingen.c.ronde, bevindingen.c.ernst)
                )
                f = f.merge(bad, on=["regel_id", "ronde"]) if len(f) else f
                f = f[f["ernst"] == "afkeur"] if len(f) else f
                rules = (
                    f.groupby("regel_id")["regel"].agg(lambda s: ", ".join(dict.fromkeys(s)))
                    if len(f)
                    else pd.Series(dtype=object)
                )
                rejected = pd.DataFrame({"regel_id": bad["regel_id"].astype("int64").to_numpy()})
                rejected["regels"] = rejected["regel_id"].map(rules).fillna("").astype(object).to_numpy()
    return lines, imports, rejected


def read_files(files, opts: ImportOptions, progress=None) -> Source:
    """Declaration files through the real importer into a temporary store. A file that cannot be
    read refuses the export (exit 3): half an export is worse than none."""
    from jzcli.check import declaration_files, import_declaraties, temporary_store

    paths, _ignored = declaration_files(list(files), [])
    with temporary_store() as store:
        results = import_declaraties(store, paths, opts, progress)
        bad = [r for r in results if r.status == "error"]
        if bad:
            raise FileReadError("; ".join(r.message for r in bad) + "; nothing was exported")
        lines, imports, rejected = _source_from(store)
    return Source(lines, imports, rejected, results)


def read_store(store: Store, batch: list[int]) -> Source:
    """Stored lines of these spreadsheet batches; lines of iJw messages are refused (they are
    messages already), lines rejected by jzcli validate are left out."""
    from jzcli.store.schema import declaratieregels

    if not batch:
        raise UsageError("--db needs --batch: say which imported files to turn into messages (see jzcli batches)")
    known = store.read_frame(
        sa.select(batches.c.id, batches.c.soort, batches.c.bestand).where(batches.c.id.in_([int(b) for b in batch]))
    )
    missing = sorted(
        set(int(b) for b in batch) - set(known["id"].astype(int)) if len(known) else set(int(b) for b in batch)
    )
    if missing:
        raise UsageError(f"--batch {', '.join(map(str, missing))}: no such batch in the store (see jzcli batches)")
    other = known[known["soort"] != "declaraties"]
    if len(other):
        r = other.iloc[0]
        raise UsageError(f"--batch {r['id']}: {r['bestand']} holds {r['soort']}, not declarations")
    msgs = store.read_frame(sa.select(berichten.c.batch).where(berichten.c.batch.in_([int(b) for b in batch])))
    if len(msgs):
        b = int(msgs["batch"].iloc[0])
        raise UsageError(f"--batch {b}: this batch is an iJw message already; export spreadsheet batches")
    lines, imports, rejected = _source_from(store, declaratieregels.c.batch.in_([int(b) for b in batch]), verdicts=True)
    return Source(lines, imports, rejected)


# ============================================================================ left out
class _Reasons:
    """Reasons per line (all of them, in order), collected with masks. A reason is a text, a
    Series aligned with the lines, or a function of the masked lines (built only for them)."""

    def __init__(self, lines: pd.DataFrame):
        self.lines = lines
        self.text = pd.Series("", index=lines.index, dtype=object)

    def add(self, mask, reason) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        idx = self.text.index[mask]
        if callable(reason):
            reason = reason(self.lines.loc[idx])
        r = reason.reindex(idx) if isinstance(reason, pd.Series) else pd.Series(reason, index=idx)
        cur = self.text.loc[idx]
        self.text.loc[idx] = np.where(cur == "", r.astype(str), cur + "; " + r.astype(str))

    @property
    def bad(self) -> pd.Series:
        return self.text != ""


def _text(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "").astype(str)


def _digits(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "").astype(str).str.fullmatch(r"\d+").fillna(False).astype(bool)


def _line_reasons(lines: pd.DataFrame, src: Source, dagtekening: dt.date, show_bsn: bool) -> _Reasons:
    """Everything that keeps a line from being a valid Prestatie on its own, in this order: what
    could not be read or was rejected, text XML cannot carry, who (aanbieder, gemeente, BSN,
    toewijzing), what and when (product, period), how much (eenheid, volume, tarief, bedrag) and
    the references (debet/credit)."""
    r = _Reasons(lines)
    ids = lines["id"]

    def missing(col: str, what: str) -> None:
        r.add(lines[col].isna().to_numpy() & ~_failed(src, ids, col), what)

    _unreadable_reasons(r, lines, src, show_bsn)
    _xml_reasons(r, lines)
    _who_reasons(r, lines, missing, show_bsn)
    _what_when_reasons(r, lines, missing, dagtekening)
    _amount_reasons(r, lines, src, missing)
    _reference_reasons(r, lines)
    return r


def _unreadable_reasons(r: _Reasons, lines: pd.DataFrame, src: Source, show_bsn: bool) -> None:
    ids = lines["id"]
    # values that could not be read at import (the raw text shown, a BSN masked)
    f = src.imports
    if len(f):
        f = f[f["regel_id"].isin(ids)]
        raw = pd.Series(
            [str(mask_value(v, w, show_bsn)) for v, w in zip(f["veld"], f["waarde"].fillna(""))],
            index=f.index,
            dtype=object,
        )
        col = f["kolom"].astype(object).where(f["kolom"].notna(), "").astype(str)
        text = (
            f["veld"].astype(str)
            + " could not be read ('"
            + raw
            + "'"
            + np.where(col != "", " in column '" + col + "'", "")
            + "): "
            + f["melding"].astype(str)
        )
        per_line = text.groupby(f["regel_id"].to_numpy()).agg("; ".join)
        r.add(ids.isin(per_line.index), lambda x: x["id"].map(per_line))
    if len(src.rejected):
        rules = src.rejected.set_index("regel_id")["regels"]
        r.add(
            ids.isin(rules.index),
            lambda x: (
                "rejected by jzcli validate ("
                + x["id"].map(rules).fillna("").astype(str)
                + "): fix it and import it again"
            ),
        )


def _xml_reasons(r: _Reasons, lines: pd.DataFrame) -> None:
    # a text XML 1.0 cannot carry (control characters): left out, never changed in the message
    from jzcli.domain.text import visible, xml_unsafe

    for col in lines.columns:
        if (lines[col].dtype == object or pd.api.types.is_string_dtype(lines[col])) and col not in ("bron", "blad"):
            bad = lines[col].map(xml_unsafe).to_numpy(dtype=bool)
            r.add(
                bad,
                lambda x, col=col: (
                    col + " '" + x[col].map(visible) + "' holds control characters an XML message cannot carry"
                ),
            )


def _who_reasons(r: _Reasons, lines: pd.DataFrame, missing, show_bsn: bool) -> None:
    missing("aanbieder", "no aanbieder (AGB code): give it with --aanbieder")
    missing("gemeente", "no gemeente: give it with --gemeente")
    known = set(refdata.gemeenten()) | {x["oude_code"] for x in refdata.gemeenten_historie()}
    g = lines["gemeente"]
    r.add(g.notna() & ~g.isin(known), lambda x: "gemeente " + _text(x["gemeente"]) + " is not a CBS gemeentecode")

    b = lines["bsn"]
    missing("bsn", "no BSN")
    r.add(
        b.notna() & ~elfproef(b.astype(str)).to_numpy(),
        lambda x: "bsn " + x["bsn"].map(lambda v: mask_bsn(v, show_bsn)).astype(str) + " fails the 11-proef (CS002)",
    )

    t = lines["toewijzingnummer"]
    missing("toewijzingnummer", "no toewijzingnummer: a Prestatie names the allocation it draws on")
    digits = _digits(t)
    r.add(t.notna() & ~digits, lambda x: "toewijzingnummer '" + _text(x["toewijzingnummer"]) + "' is not a number")
    length = _text(t).str.lstrip("0").str.len()
    r.add(
        t.notna() & digits & (length > 9),
        lambda x: "toewijzingnummer " + _text(x["toewijzingnummer"]) + " has more than 9 digits",
    )


def _what_when_reasons(r: _Reasons, lines: pd.DataFrame, missing, dagtekening: dt.date) -> None:
    cat = lines["productcategorie"]
    missing("productcategorie", "no productcategorie")
    r.add(
        cat.notna() & ~cat.isin(set(refdata.codelijst("productcategorie"))),
        lambda x: "productcategorie " + _text(x["productcategorie"]) + " is not in the list JZ020",
    )
    code = lines["productcode"]
    missing("productcode", "no productcode")
    r.add(
        code.notna() & (_text(code).str.len() > 5),
        lambda x: "productcode " + _text(x["productcode"]) + " is longer than 5 characters",
    )

    begin, end = lines["begindatum"], lines["einddatum"]
    missing("begindatum", "no begindatum")
    missing("einddatum", "no einddatum")
    both = begin.notna() & end.notna()
    r.add(
        both & (end < begin),
        lambda x: "einddatum " + _date(x["einddatum"]) + " is before begindatum " + _date(x["begindatum"]),
    )
    spans = both & (end >= begin) & ((begin.dt.year != end.dt.year) | (begin.dt.month != end.dt.month))
    r.add(
        spans,
        lambda x: (
            "ProductPeriode "
            + _date(x["begindatum"])
            + ".."
            + _date(x["einddatum"])
            + " spans more than one month: one line per month (CS337)"
        ),
    )
    r.add(
        (begin < EARLIEST).fillna(False),
        lambda x: "begindatum " + _date(x["begindatum"]) + " is before 2021-01-01 (CS100)",
    )
    oldest = pd.Timestamp(dagtekening) - pd.DateOffset(months=60)
    r.add(
        (end < oldest).fillna(False),
        lambda x: "einddatum " + _date(x["einddatum"]) + " is more than 5 years before the dagtekening (TR335)",
    )


def _amount_reasons(r: _Reasons, lines: pd.DataFrame, src: Source, missing) -> None:
    ids = lines["id"]
    unit = lines["eenheid"]
    missing("eenheid", "no eenheid")
    r.add(
        unit.notna() & ~unit.isin(set(EENHEDEN)),
        lambda x: "eenheid " + _text(x["eenheid"]) + " is not in the list WJ756",
    )
    vol, tarief, bedrag = lines["volume"], lines["tarief"], lines["bedrag"]
    missing("volume", "no volume")
    missing("bedrag", "no bedrag")
    euro = (unit == EURO).fillna(False).to_numpy(dtype=bool)
    r.add(
        unit.notna().to_numpy() & ~euro & tarief.isna().to_numpy() & ~_failed(src, ids, "tarief"),
        "no tarief (required unless eenheid is 83)",
    )
    r.add(euro & tarief.notna().to_numpy(), "tarief given with eenheid 83 (Euro's): leave it empty (CD087)")
    r.add(euro & (vol != bedrag).fillna(False).to_numpy(dtype=bool), "eenheid 83: bedrag differs from volume (CS339)")
    for name, s_ in (("volume", vol), ("tarief", tarief), ("bedrag", bedrag)):
        r.add((s_ > MAX_AMOUNT).fillna(False).to_numpy(dtype=bool), f"{name} is larger than the iJw maximum 99.999.999")


def _reference_reasons(r: _Reasons, lines: pd.DataFrame) -> None:
    bedrag = lines["bedrag"]
    credit = (lines["debet_credit"] == CREDIT).fillna(False).to_numpy(dtype=bool)
    vorig = lines["vorig_referentienummer"]
    r.add(
        credit & vorig.isna().to_numpy(),
        "credit line without VorigReferentieNummer (the ReferentieNummer of the debet it cancels, CD060)",
    )
    r.add(
        ~credit & vorig.notna().to_numpy(),
        lambda x: (
            "VorigReferentieNummer "
            + _text(x["vorig_referentienummer"])
            + " on a debet line (only a credit names the line it cancels, CD060)"
        ),
    )
    r.add(
        credit & (bedrag == 0).fillna(False).to_numpy(dtype=bool),
        "a credit of € 0,00 (an amount of 0 is always debet, CS325)",
    )
    for name, col in (("ReferentieNummer", "referentienummer"), ("VorigReferentieNummer", "vorig_referentienummer")):
        s_ = lines[col]
        present = s_.notna()
        bad = pd.Series(False, index=lines.index)
        if present.any():
            txt = _text(s_[present])
            bad[present] = ((txt.str.len() > REF_LENGTH) | (txt.str.strip() == "")).to_numpy()
        r.add(bad, lambda x, c=col, n=name: n + " '" + _text(x[c]) + "' is not 1–20 characters")


def _failed(src: Source, ids: pd.Series, veld: str) -> np.ndarray:
    f = src.imports
    if f is None or f.empty:
        return np.zeros(len(ids), dtype=bool)
    return ids.isin(
        f.loc[f["veld"].isin([veld, "periode"] if veld in ("begindatum", "einddatum") else [veld]), "regel_id"]
    ).to_numpy()


def _date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m-%d").fillna("").astype(str)


def _where(frame: pd.DataFrame) -> pd.Series:
    blad = frame["blad"]
    sheet = pd.Series(np.where(blad.notna(), "sheet '" + _text(blad) + "' ", ""), index=frame.index, dtype=object)
    return _text(frame["bron"]) + " " + sheet + "row " + _text(frame["rij"].astype("Int64"))


def _in_message_reasons(lines: pd.DataFrame, r: _Reasons) -> None:
    """Level-2 rules between the lines of one message (lines = the candidates, grouped later by
    aanbieder × gemeente): TR416, TR101/TR314 (ReferentieNummer per aanbieder), TR315, TR316."""

    def where(idx) -> pd.Series:
        return _where(lines.loc[idx]).set_axis(pd.Index(idx))

    ok = lines[~r.bad.to_numpy()].sort_values("id", kind="mergesort")
    credit = ok["debet_credit"] == CREDIT

    _same_message_credits(lines, ok, credit, r, where)

    def later_duplicates(frame: pd.DataFrame, keys: list[str], reason: str) -> None:
        frame = frame[~r.bad.reindex(frame.index).to_numpy()]
        if frame.empty:
            return
        k = frame[keys]  # the lines here passed the checks: no key is missing
        dup = k.duplicated(keep="first").to_numpy()
        if not dup.any():
            return
        firsts = k[~dup].assign(_first=k.index[~dup])
        later = k[dup].assign(_hit=k.index[dup]).merge(firsts, on=keys, how="left")
        hit = pd.Index(later["_hit"])
        first = pd.Series(where(later["_first"].to_numpy()).to_numpy(), index=hit)
        r.add(lines.index.isin(hit), reason + " as " + first)

    ok = ok[~r.bad.reindex(ok.index).to_numpy()]
    credit = ok["debet_credit"] == CREDIT
    debets = ok[~credit].assign(_nr=_int_text(ok.loc[~credit, "toewijzingnummer"]))
    later_duplicates(
        debets,
        ["aanbieder", "gemeente", "_nr", "productcategorie", "productcode", "begindatum", "einddatum"],
        "a second debet for the same toewijzing, product and ProductPeriode in one message (TR416)",
    )
    later_duplicates(
        ok[ok["referentienummer"].notna()],
        ["aanbieder", "referentienummer"],
        "ReferentieNummer used twice (TR101/TR314)",
    )
    later_duplicates(
        ok[credit],
        ["aanbieder", "gemeente", "vorig_referentienummer"],
        "VorigReferentieNummer used twice in one message (TR315)",
    )


def _same_message_credits(lines: pd.DataFrame, ok: pd.DataFrame, credit: pd.Series, r: _Reasons, where) -> None:
    """TR316: a credit of a debet in the same message; both stay out."""
    deb = ok[~credit & ok["referentienummer"].notna()]
    cred = ok[credit]
    if len(cred) and len(deb):
        left = pd.DataFrame(
            {
                "_i": cred.index,
                "aanbieder": cred["aanbieder"].to_numpy(),
                "gemeente": cred["gemeente"].to_numpy(),
                "ref": cred["vorig_referentienummer"].to_numpy(),
            }
        )
        right = pd.DataFrame(
            {
                "_d": deb.index,
                "aanbieder": deb["aanbieder"].to_numpy(),
                "gemeente": deb["gemeente"].to_numpy(),
                "ref": deb["referentienummer"].to_numpy(),
            }
        )
        m = left.merge(right, on=["aanbieder", "gemeente", "ref"])
        if len(m):
            c = m.drop_duplicates("_i")
            d = m.drop_duplicates("_d")
            credit_text = (
                "credits "
                + pd.Series(c["ref"].astype(str).to_numpy(), index=c["_i"])
                + " ("
                + pd.Series(where(c["_d"]).to_numpy(), index=c["_i"])
                + ")"
            )
            r.add(
                lines.index.isin(c["_i"]),
                credit_text + " in the same message (TR316): send the credit in a later declaration",
            )
            debet_text = "credited by " + pd.Series(where(d["_i"]).to_numpy(), index=d["_d"])
            r.add(
                lines.index.isin(d["_d"]),
                debet_text + " in the same message (TR316): a line and its own credit cannot travel together",
            )


def _int_text(s: pd.Series) -> pd.Series:
    """Toewijzingnummer digits as the integer's text ('0406250101' → '406250101')."""
    t = _text(s).str.lstrip("0")
    return t.where(t != "", "0").where(s.notna(), None)


# ============================================================================ identifiers
_ALPHABET32 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_BASE32 = bytes(_ALPHABET32[b & 31] for b in range(256))  # each digest byte → one of 32 characters (5 bits)


def _hash_id(prefix: str, text: str, n: int) -> str:
    """``prefix`` + ``n`` characters from A–Z, 2–7 (5 bits each) taken from SHA-256(text)."""
    return prefix + hashlib.sha256(text.encode("utf-8")).digest()[:n].translate(_TO_BASE32).decode("ascii")


CONTENT = [
    "bsn",
    "toewijzingnummer",
    "productcategorie",
    "productcode",
    "begindatum",
    "einddatum",
    "volume",
    "eenheid",
    "tarief",
    "bedrag",
    "debet_credit",
    "vorig_referentienummer",
]


def generated_references(lines: pd.DataFrame) -> pd.Series:
    """``JZ`` + 18 base-32 characters per line: SHA-256 of aanbieder, source file SHA-256, sheet,
    Excel row and content (see the module docstring). One hash per line: the XML is written per
    Prestatie anyway."""
    parts = [_text(lines["aanbieder"]), _text(lines["sha"]), _text(lines["blad"]), _text(lines["rij"].astype("Int64"))]
    for c in CONTENT:
        s = lines[c]
        parts.append(_date(s) if c in ("begindatum", "einddatum") else _text(s.astype(object)))
    n = REF_LENGTH - len(REF_PREFIX)
    keys = ("|".join(t) for t in zip(*(p.tolist() for p in parts)))
    return pd.Series([_hash_id(REF_PREFIX, "jzcli-ref-v1|" + k, n) for k in keys], index=lines.index, dtype=object)


# ============================================================================ building
def build_message(
    aanbieder: str,
    gemeente: str,
    periode: dt.date,
    declaratienummer: str,
    identificatie: str,
    dagtekening: dt.date,
    lines: pd.DataFrame,
) -> Message:
    """A JW323 for these lines (already valid Prestaties with a referentienummer), in XSD order."""
    last = (pd.Timestamp(periode) + pd.offsets.MonthEnd(0)).date()
    totaal = int(signed_amount(lines).sum())
    if abs(totaal) > MAX_TOTAL:
        raise UsageError(
            f"the total of aanbieder {aanbieder} for gemeente {gemeente} exceeds the iJw maximum; split the export"
        )
    root = etree.Element(etree.QName(NS, "Bericht"), nsmap={None: NS, "ijw": NS_BASIS})
    _header_323(_sub(root, "Header"), aanbieder, gemeente, identificatie, dagtekening)

    d = _sub(root, "Declaratie")
    _sub(d, "DeclaratieNummer", declaratienummer)
    p = _sub(d, "DeclaratiePeriode")
    _sub(p, "Begindatum", periode.isoformat(), ns=NS_BASIS)
    _sub(p, "Einddatum", last.isoformat(), ns=NS_BASIS)
    _sub(d, "DeclaratieDagtekening", dagtekening.isoformat())
    t = _sub(d, "TotaalIngediendBedrag")
    _sub(t, "TotaalBedrag", abs(totaal), ns=NS_BASIS)
    _sub(t, "DebetCredit", CREDIT if totaal < 0 else DEBET, ns=NS_BASIS)
    clienten = _sub(d, "Clienten")

    _clienten_323(clienten, lines)
    return Message(
        aanbieder,
        gemeente,
        periode,
        declaratienummer,
        identificatie,
        dagtekening,
        lines,
        totaal,
        etree.ElementTree(root),
    )


def _header_323(h, aanbieder: str, gemeente: str, identificatie: str, dagtekening: dt.date) -> None:
    basis, own = ijw.xsd_versions("JW323")
    _sub(h, "BerichtCode", JW323.code)
    _sub(h, "BerichtVersie", BERICHTVERSIE)
    _sub(h, "BerichtSubversie", BERICHTSUBVERSIE)
    _sub(h, "Afzender", aanbieder)
    _sub(h, "Ontvanger", gemeente)
    ident = _sub(h, "BerichtIdentificatie")
    _sub(ident, "Identificatie", identificatie, ns=NS_BASIS)
    _sub(ident, "Dagtekening", dagtekening.isoformat(), ns=NS_BASIS)
    x = _sub(h, "XsdVersie")
    _sub(x, "BasisschemaXsdVersie", basis, ns=NS_BASIS)
    _sub(x, "BerichtXsdVersie", own, ns=NS_BASIS)


def _clienten_323(clienten, lines: pd.DataFrame) -> None:
    """One Client per BSN with its Prestaties, in the lines' order."""
    # One element per value: the texts are prepared per column, the loop only creates elements.
    vorig = lines["vorig_referentienummer"]
    tarief = lines["tarief"]
    columns = (
        _text(lines["referentienummer"]).tolist(),
        [v if isinstance(v, str) else None for v in vorig.astype(object).where(vorig.notna(), None).tolist()],
        _int_text(lines["toewijzingnummer"]).tolist(),
        _text(lines["productcategorie"]).tolist(),
        _text(lines["productcode"]).tolist(),
        _date(lines["begindatum"]).tolist(),
        _date(lines["einddatum"]).tolist(),
        [str(int(v)) for v in lines["volume"].tolist()],
        _text(lines["eenheid"]).tolist(),
        [None if pd.isna(v) else str(int(v)) for v in tarief.astype(object).tolist()],
        [str(int(v)) for v in lines["bedrag"].tolist()],
        _text(lines["debet_credit"]).tolist(),
    )
    bsn = _text(lines["bsn"])
    groups = pd.Series(np.arange(len(lines))).groupby(bsn.to_numpy(), sort=False).indices
    sub = etree.SubElement
    templates = {(v, t): _prestatie_template(v, t) for v in (False, True) for t in (False, True)}
    for client_bsn in pd.unique(bsn.to_numpy()):
        client = sub(clienten, T["Client"])
        sub(client, T["Bsn"]).text = client_bsn
        prestaties = sub(client, T["Prestaties"])
        for i in groups[client_bsn]:
            values = [c[i] for c in columns]
            has_vorig, has_tarief = values[1] is not None, values[9] is not None
            pr = copy.deepcopy(templates[(has_vorig, has_tarief)])
            texts = [v for v in values if v is not None]
            for leaf, text in zip((e for e in pr.iter() if not len(e)), texts):
                leaf.text = text
            prestaties.append(pr)


def _prestatie_template(vorig: bool, tarief: bool) -> etree._Element:
    """An empty Prestatie in XSD element order; its leaves, in document order, take the values
    ReferentieNummer, [VorigReferentieNummer], ToewijzingNummer, ProductCategorie, ProductCode,
    Begindatum, Einddatum, GeleverdVolume, Eenheid, [ProductTarief], Bedrag, DebetCredit."""
    pr = etree.Element(T["Prestatie"], nsmap={None: NS, "ijw": NS_BASIS})
    ref = etree.SubElement(pr, T["ProductReferentie"])
    etree.SubElement(ref, B["ReferentieNummer"])
    if vorig:
        etree.SubElement(ref, B["VorigReferentieNummer"])
    for name in ("ToewijzingNummer", "ProductCategorie", "ProductCode"):
        etree.SubElement(pr, T[name])
    period = etree.SubElement(pr, T["ProductPeriode"])
    etree.SubElement(period, B["Begindatum"])
    etree.SubElement(period, B["Einddatum"])
    etree.SubElement(pr, T["GeleverdVolume"])
    etree.SubElement(pr, T["Eenheid"])
    if tarief:
        etree.SubElement(pr, T["ProductTarief"])
    amount = etree.SubElement(pr, T["IngediendBedrag"])
    etree.SubElement(amount, B["Bedrag"])
    etree.SubElement(amount, B["DebetCredit"])
    return pr


class _Tags(dict):
    """Clark names, made once: ``T["Client"]`` → ``{jw323 namespace}Client``."""

    def __init__(self, ns: str):
        super().__init__()
        self.ns = ns

    def __missing__(self, local: str) -> str:
        self[local] = f"{{{self.ns}}}{local}"
        return self[local]


T = _Tags(NS)  # elements declared in JW323.xsd
B = _Tags(NS_BASIS)  # children of the shared basisschema types


def _sub(parent, name: str, text=None, *, ns: str = NS):
    el = etree.SubElement(parent, etree.QName(ns, name))
    if text is not None:
        el.text = str(text)
    return el


# ============================================================================ the export
def month_start(value) -> dt.date:
    ts = pd.Timestamp(value)
    return dt.date(ts.year, ts.month, 1)


def parse_periode(text: str) -> dt.date:
    """'2025-03' (or '03-2025', 'maart 2025') → 2025-03-01."""
    from jzcli.readers.values import parse_period

    begin, _end = parse_period(pd.Series([text], dtype=object))
    if begin.errors.iloc[0] or pd.isna(begin.values.iloc[0]):
        raise UsageError(f"--periode {text}: not a month (write it as 2025-03)")
    return month_start(begin.values.iloc[0])


def make_export(
    src: Source,
    *,
    periode: dt.date | None = None,
    dagtekening: dt.date | None = None,
    today: dt.date | None = None,
    show_bsn: bool = False,
) -> Export:
    """Lines → messages (not written). See the module docstring for every decision."""
    today = today or dt.date.today()
    explicit_dag = dagtekening is not None
    dag = dagtekening or today
    lines = src.lines.reset_index(drop=True)
    reasons = _line_reasons(lines, src, dag, show_bsn)

    # the declaration period: --periode, else the latest month among the usable lines
    usable = ~reasons.bad
    if periode is None:
        months = lines.loc[usable, "begindatum"]
        if months.notna().any():
            periode = month_start(months.max())
    if periode is not None:
        last = (pd.Timestamp(periode) + pd.offsets.MonthEnd(0)).date()
        if last > dag:
            if explicit_dag:
                raise UsageError(
                    f"--dagtekening {dag.isoformat()} is before the end of the declaration period {periode:%Y-%m} "
                    f"({last.isoformat()}): a declaration is dated on or after the end of its period"
                )
            raise UsageError(
                f"the declaration period {periode:%Y-%m} has not ended yet (today is {today.isoformat()}): declare it from "
                f"{last.isoformat()} on, choose an earlier month with --periode, or date the messages with "
                f"--dagtekening {last.isoformat()} (or later) and send them on or after that day"
            )
        after = (lines["begindatum"] > pd.Timestamp(last)).fillna(False)
        reasons.add(
            after,
            "ProductPeriode "
            + _date(lines["begindatum"]).str[:7]
            + f" is after the declaration period {periode:%Y-%m}: declare it in that month's declaration",
        )
    _in_message_reasons(lines, reasons)

    bad = reasons.bad
    left = lines.loc[bad.to_numpy(), ["bron", "blad", "rij"]].assign(reden=reasons.text[bad].to_numpy())
    left = left.astype(object).where(left.notna(), None).reset_index(drop=True)
    ok = lines[~bad.to_numpy()].copy()
    messages: list[Message] = []
    if len(ok):
        own = ok["referentienummer"].notna()
        ok.loc[~own, "referentienummer"] = generated_references(ok[~own]).to_numpy()
        # referentienummers generated here are unique by construction; a provider's own one that
        # collides with a generated one is practically impossible but checked all the same
        dup = ok.duplicated(["aanbieder", "referentienummer"], keep=False)
        if dup.any():
            raise UsageError("two lines got the same ReferentieNummer; give the lines your own referentienummers")
        messages = _messages(ok, periode, dag)
    return Export(messages=messages, left_out=left, periode=periode, dagtekening=dag, lines=len(lines), files=src.files)


def _messages(ok: pd.DataFrame, periode: dt.date, dag: dt.date) -> list[Message]:
    groups = list(ok.groupby(["aanbieder", "gemeente"], sort=True))
    # the provider's own DeclaratieNummer when the whole message has one valid number used by no other message
    own: dict[tuple[str, str], str | None] = {}
    for key, g in groups:
        numbers = g["declaratienummer"].astype(object).where(g["declaratienummer"].notna(), None).unique()
        n = numbers[0] if len(numbers) == 1 else None
        valid = isinstance(n, str) and 1 <= len(n) <= ID_LENGTH and n.isascii() and n.isalnum()
        own[key] = n if valid else None
    used: dict[tuple[str, str], int] = {}
    for (agb, _g), n in own.items():
        if n:
            used[(agb, n)] = used.get((agb, n), 0) + 1
    out = []
    for (agb, gem), g in groups:
        g = g.sort_values(["bron", "blad", "rij"], kind="mergesort", na_position="first")
        content = f"{agb}|{gem}|{periode:%Y-%m}|" + "|".join(sorted(g["referentienummer"].astype(str)))
        nummer = own[(agb, gem)]
        if not nummer or used[(agb, nummer)] > 1:
            nummer = _hash_id("JZ", "jzcli-declaratie-v1|" + content, ID_LENGTH - 2)
        ident = _hash_id("JB", "jzcli-bericht-v1|" + content, ID_LENGTH - 2)
        msg = build_message(agb, gem, periode, nummer, ident, dag, g.reset_index(drop=True))
        errors = ijw.validate_xsd(msg.tree, "JW323")
        if errors:  # a bug, never the provider's data: nothing is written
            raise FileReadError(
                f"internal error: the JW323 for aanbieder {agb}, gemeente {gem} does not pass JW323.xsd; nothing was written"
                + ijw.describe_errors(errors)
            )
        out.append(msg)
    return out


def write_messages(export: Export, folder: Path) -> list[Path]:
    """Write every message (atomically each) into ``folder`` (created when missing)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileReadError(f"-o {folder}: cannot create the folder ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise FileReadError(f"-o {folder}: not a folder")
    names = [m.filename for m in export.messages]
    if len(set(names)) != len(names):
        raise FileReadError("internal error: two messages would get the same file name; nothing was written")
    paths = []
    for m in export.messages:
        target = folder / m.filename
        with atomic_path(target) as tmp:
            tmp.write_bytes(ijw.serialise(m.tree))
        paths.append(target)
    export.folder = folder
    return paths


def export_files(
    files,
    folder: Path,
    *,
    aanbieder=None,
    gemeente=None,
    maps=(),
    periode=None,
    dagtekening=None,
    today=None,
    show_bsn=False,
    progress=None,
) -> Export:
    """Spreadsheet files → JW323 messages in ``folder``."""
    src = read_files(
        files, ImportOptions(soort="declaraties", aanbieder=aanbieder, gemeente=gemeente, maps=list(maps)), progress
    )
    export = make_export(src, periode=periode, dagtekening=dagtekening, today=today, show_bsn=show_bsn)
    write_messages(export, folder)
    return export


def export_store(
    store: Store, batch: list[int], folder: Path, *, periode=None, dagtekening=None, today=None, show_bsn=False
) -> Export:
    """Stored spreadsheet batches → JW323 messages in ``folder``."""
    src = read_store(store, batch)
    export = make_export(src, periode=periode, dagtekening=dagtekening, today=today, show_bsn=show_bsn)
    write_messages(export, folder)
    return export


__all__ = [
    "Export",
    "Message",
    "Source",
    "build_message",
    "export_files",
    "export_store",
    "generated_references",
    "make_export",
    "parse_periode",
    "read_files",
    "read_store",
    "write_messages",
    "LEFT_OUT_COLUMNS",
]
