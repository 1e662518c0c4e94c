"""Line rules: what one declaration line must satisfy on its own (periods, amounts, codes).

The iJw CD/CS rules and the in-message TRs are level-2 rules: in an XML message they reject the
whole message with retourcode 0001 (niveau ``bericht``). A spreadsheet has no message, so for
spreadsheet lines such a rule rejects only the line that breaks it, with code 0001.

A value that could not be read at import is empty on the line; the rule that needs the value
rejects the line and shows the raw text (``validate.IMPORT_FIELD_RULES``): bsn → CS002, dates and
period → CS337, volume and bedrag → TR346, tarief → CD087, gemeente → TR378, anything else JZ-I01.
A rule never reports a value as wrong when it is missing for such a reason; then the owning rule
speaks.

Dates without a message: a spreadsheet has no Dagtekening, so TR134/TR137/TR335 compare with the
day of validation (``today``). Lines of an iJw message compare with the message's Dagtekening
(TR134/TR137) and DeclaratieDagtekening (TR335), and TR134/TR137/CS100 also check the message's
DeclaratiePeriode (every line of the message gets that finding; the engine rejects the message). TR319 compares with the batch's DeclaratiePeriode; a spreadsheet
has none, so the engine takes the latest ProductPeriode month in the batch and TR319 cannot fire
for spreadsheet lines (a month in the future is rejected by TR134/TR137); it will for iJw XML.

TR335: iJw allows an einddatum "at most 60 months before" the DeclaratieDagtekening, so an
einddatum exactly 60 months before the reference day passes and one day earlier is rejected.

TR358: a spreadsheet may state a total per sheet (a "Totaal" row); when it does, it must equal
Σ debet − Σ credit of the sheet's lines, else every line of that sheet is rejected (0001; in iJw
this would reject the whole message). Sheets with a line whose bedrag could not be read are not
compared: that line is rejected by TR346 already.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from jzcli import refdata
from jzcli.domain.codes import BERICHT, REGEL, SIGNAAL
from jzcli.domain.findings import concat_findings, findings
from jzcli.domain.text import mask_bsn
from jzcli.readers.values import elfproef
from jzcli.rules.kit import (
    AMBIGUOUS_EENHEID,
    IMPORT_FIELD_RULES,
    Context,
    date_text,
    euro_text,
    failed_import,
    import_failures,
    minute_amount,
    month_text,
    split_text,
    text_of,
    unit_text,
    unresolved_import_findings,
)
from jzcli.rules.registry import rule

FAMILY = "line"
EARLIEST = pd.Timestamp("2021-01-01")
EURO = "83"


def _today(ctx: Context) -> pd.Timestamp:
    return pd.Timestamp(ctx.today)


def _reference(
    ctx: Context, column: str = "bericht_dagtekening", name: str = "the message Dagtekening"
) -> tuple[pd.Series, pd.Series]:
    """Per line: the date its dates are compared with, and what to call it in a message: the
    iJw message's ``column`` for lines of a message, today for spreadsheet lines."""
    lines = ctx.lines
    today = _today(ctx)
    own = pd.to_datetime(lines[column])
    return own.where(own.notna(), today), pd.Series(
        np.where(own.notna(), name, "today"), index=lines.index, dtype=object
    )


def _period_lines(ctx: Context, bad: pd.Series) -> pd.DataFrame:
    """Lines of an iJw message whose DeclaratiePeriode fails ``bad`` (a bool per line)."""
    lines = ctx.lines
    return lines[bad.fillna(False).astype(bool)]


def _period_finding(decl: pd.DataFrame, edge: str, why: pd.Series | str) -> pd.DataFrame:
    """A finding on each line of ``decl`` (from ``_period_lines``): "DeclaratiePeriode begins|ends
    <date>, <why>", for ``edge`` "begin" or "eind"."""
    col = "declaratieperiode_" + edge
    verb = "begins" if edge == "begin" else "ends"
    day = date_text(decl[col])
    return findings(decl, f"DeclaratiePeriode {verb} " + day + ", " + why, "declaratieperiode", day)


def _after_dagtekening(decl: pd.DataFrame) -> pd.Series:
    return "after the message Dagtekening (" + date_text(decl["bericht_dagtekening"]) + ")"


def _missing(ctx: Context, column: str, fields: list[str]) -> pd.Series:
    """Bool: the column is empty on the line and not because its value could not be read."""
    return ctx.lines[column].isna() & ~failed_import(ctx, fields)


# ============================================================================ import
@rule(
    "JZ-I01",
    "JZ-I01",
    "Every value the line needs was readable (values no other rule covers) and the aanbieder is known",
    family=FAMILY,
    omschrijving="Waarde in het bestand is onleesbaar of ontbreekt.",
)
def jz_i01_unreadable(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    covered = set(IMPORT_FIELD_RULES)
    f = unresolved_import_findings(ctx)
    other = sorted(set(f["veld"].dropna()) - covered)
    found = import_failures(ctx, other)
    # explain an unresolved "stuks": what the contract says
    if len(found):
        amb = (found["kolom"] == "eenheid") & found["melding"].str.contains(AMBIGUOUS_EENHEID, regex=False)
        if amb.any():
            by_id = lines.set_index("id")
            unit = found.loc[amb, "id"].map(by_id["contract_eenheid"])
            code = found.loc[amb, "id"].map(by_id["productcode"])
            hint = pd.Series(" (no contract product found for this line to take 82 or 84 from)", index=found.index[amb])
            if unit is not None:
                known = unit.notna()
                hint = hint.where(
                    ~known, " (the contract's eenheid for " + text_of(code) + " is " + text_of(unit) + ", not 82 or 84)"
                )
            found.loc[amb, "melding"] = found.loc[amb, "melding"] + hint
    no_agb = lines[lines["aanbieder"].isna() & ~failed_import(ctx, ["aanbieder"])]
    return concat_findings(
        found,
        findings(no_agb, "aanbieder (AGB code) is missing: give it with --aanbieder when importing", "aanbieder"),
    )


@rule(
    "JZ-I03",
    "JZ-I03",
    "Eenheid 'stuks' is read as the contract's 82 or 84 (signal)",
    family=FAMILY,
    ernst=SIGNAAL,
    omschrijving="Eenheid 'stuks' is overgenomen uit het contract (82 of 84).",
)
def jz_i03_stuks_from_contract(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    hit = lines[lines["eenheid_uit_contract"].astype(bool)]
    raw = pd.Series("stuks", index=hit.index)
    f = ctx.import_findings
    if f is not None and len(f):
        amb = (
            f[(f["veld"] == "eenheid") & f["regel_id"].isin(hit["id"])]
            .drop_duplicates("regel_id")
            .set_index("regel_id")["waarde"]
        )
        raw = hit["id"].map(amb).fillna("stuks").astype(str)
    msg = (
        "eenheid '"
        + raw
        + "' read as "
        + unit_text(hit["eenheid"])
        + ", the contract's eenheid for "
        + text_of(hit["productcode"])
    )
    return findings(hit, msg, "eenheid", raw)


# ============================================================================ client
@rule("CS002", "0001", "BSN passes the 11-proef", family=FAMILY, niveau=BERICHT)
def cs002_bsn(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    missing = lines[_missing(ctx, "bsn", ["bsn"])]
    present = lines[lines["bsn"].notna()]
    codes, uniques = pd.factorize(present["bsn"].astype(str))  # clients recur: test each BSN once
    passes = elfproef(pd.Series(np.asarray(uniques, dtype=object))).to_numpy()
    bad = present[~passes[codes]] if len(present) else present
    return concat_findings(
        import_failures(ctx, ["bsn"]),
        findings(missing, "bsn is missing", "bsn"),
        findings(bad, "bsn " + bad["bsn"].map(mask_bsn).astype(str) + " fails the 11-proef", "bsn", bad["bsn"]),
    )


# ============================================================================ periods
@rule(
    "CS337",
    "0001",
    "ProductPeriode (begindatum and einddatum) lies within one calendar month",
    family=FAMILY,
    niveau=BERICHT,
)
def cs337_one_month(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    b, e = lines["begindatum"], lines["einddatum"]
    no_begin = lines[_missing(ctx, "begindatum", ["begindatum", "periode"])]
    no_end = lines[_missing(ctx, "einddatum", ["einddatum", "periode"])]
    both = b.notna() & e.notna()
    spans = lines[both & ((b.dt.year != e.dt.year) | (b.dt.month != e.dt.month))]
    period = date_text(spans["begindatum"]) + ".." + date_text(spans["einddatum"])
    return concat_findings(
        import_failures(ctx, ["begindatum", "einddatum", "periode"]),
        findings(no_begin, "begindatum is missing", "begindatum"),
        findings(no_end, "einddatum is missing", "einddatum"),
        findings(
            spans,
            "ProductPeriode " + period + " is not within one calendar month (declare one line per month)",
            "einddatum",
            date_text(spans["einddatum"]),
        ),
    )


@rule(
    "CS100",
    "0001",
    "ProductPeriode (and a message's DeclaratiePeriode) begins on or after 2021-01-01",
    family=FAMILY,
    niveau=BERICHT,
)
def cs100_not_before_2021(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    bad = lines[(lines["begindatum"] < EARLIEST).fillna(False)]
    decl = _period_lines(ctx, lines["declaratieperiode_begin"] < EARLIEST)
    return concat_findings(
        findings(
            bad,
            "begindatum " + date_text(bad["begindatum"]) + " is before 2021-01-01",
            "begindatum",
            date_text(bad["begindatum"]),
        ),
        _period_finding(decl, "begin", "before 2021-01-01"),
    )


@rule(
    "TR134",
    "0001",
    "ProductPeriode (and a message's DeclaratiePeriode) begindatum is not after the message's Dagtekening (today for a spreadsheet)",
    family=FAMILY,
    niveau=BERICHT,
)
def tr134_begin_not_future(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    ref, name = _reference(ctx)
    after = (lines["begindatum"] > ref).fillna(False)
    bad = lines[after]
    msg = "begindatum " + date_text(bad["begindatum"]) + " is after " + name[after] + " (" + date_text(ref[after]) + ")"
    decl = _period_lines(ctx, lines["declaratieperiode_begin"] > ref)
    return concat_findings(
        findings(bad, msg, "begindatum", date_text(bad["begindatum"])),
        _period_finding(decl, "begin", _after_dagtekening(decl)),
    )


@rule(
    "TR137",
    "0001",
    "ProductPeriode (and a message's DeclaratiePeriode) einddatum is on or after begindatum and not after the message's Dagtekening (today for a spreadsheet)",
    family=FAMILY,
    niveau=BERICHT,
)
def tr137_end(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    ref, name = _reference(ctx)
    before = lines[(lines["einddatum"] < lines["begindatum"]).fillna(False)]
    after = (lines["einddatum"] > ref).fillna(False)
    future = lines[after]
    b, e = lines["declaratieperiode_begin"], lines["declaratieperiode_eind"]
    d_before = _period_lines(ctx, e < b)
    d_after = _period_lines(ctx, (e > ref) & ~(e < b))
    return concat_findings(
        _period_finding(d_before, "eind", "before it begins (" + date_text(d_before["declaratieperiode_begin"]) + ")"),
        _period_finding(d_after, "eind", _after_dagtekening(d_after)),
        findings(
            before,
            "einddatum " + date_text(before["einddatum"]) + " is before begindatum " + date_text(before["begindatum"]),
            "einddatum",
            date_text(before["einddatum"]),
        ),
        findings(
            future,
            "einddatum "
            + date_text(future["einddatum"])
            + " is after "
            + name[after]
            + " ("
            + date_text(ref[after])
            + ")",
            "einddatum",
            date_text(future["einddatum"]),
        ),
    )


@rule(
    "TR319",
    "9319",
    "ProductPeriode is not in a month after the DeclaratiePeriode (spreadsheet: the latest month in the batch). The standard leaves "
    "the level open (rule page: the line; the XSLT: the message); jzcli rejects the line",
    family=FAMILY,
    niveau=REGEL,
)
def tr319_not_after_declaratieperiode(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    first = lines["begindatum"].dt.to_period("M").dt.to_timestamp()
    bad = lines[(first > lines["declaratieperiode"]).fillna(False)]
    msg = (
        "ProductPeriode "
        + month_text(bad["begindatum"])
        + " is after the DeclaratiePeriode "
        + month_text(bad["declaratieperiode"])
    )
    return findings(bad, msg, "begindatum", date_text(bad["begindatum"]))


@rule(
    "TR335",
    "0001",
    "ProductPeriode einddatum is at most 60 months (5 years) before the DeclaratieDagtekening (today for a spreadsheet)",
    family=FAMILY,
    niveau=BERICHT,
)
def tr335_not_too_old(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    ref, name = _reference(ctx, "declaratie_dagtekening", "the DeclaratieDagtekening")
    limit = pd.Series(pd.DatetimeIndex(ref) - pd.DateOffset(months=60), index=lines.index)
    old = (lines["einddatum"] < limit).fillna(False)
    bad = lines[old]
    msg = (
        "einddatum "
        + date_text(bad["einddatum"])
        + " is more than 5 years (60 months) before "
        + name[old]
        + " ("
        + date_text(ref[old])
        + "; the earliest allowed einddatum is "
        + date_text(limit[old])
        + ")"
    )
    return findings(bad, msg, "einddatum", date_text(bad["einddatum"]))


# ============================================================================ amounts
@rule(
    "TR346",
    "9346",
    "Bedrag = volume × tarief when eenheid is not 83 (minutes on an hourly contract tariff: round_half_up(uurtarief × minutes / 60), IV081)",
    family=FAMILY,
    niveau=REGEL,
)
def tr346_bedrag(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    applies = lines["eenheid"].notna() & (lines["eenheid"] != EURO)
    no_volume = lines[applies & _missing(ctx, "volume", ["volume"])]
    no_bedrag = lines[applies & _missing(ctx, "bedrag", ["bedrag"])]
    usable = applies & lines["volume"].notna() & lines["bedrag"].notna()
    minute = lines["minuutregel"].astype(bool)
    hourly = lines["contract_tarief"].array
    by_minute = usable & minute & pd.Series(hourly, index=lines.index).notna()
    plain = usable & ~by_minute & lines["tarief"].notna()

    m = lines[by_minute]
    m_hourly = pd.Series(hourly, index=lines.index)[by_minute]
    m_expected = minute_amount(m_hourly, m["volume"])
    m_bad = (m["bedrag"] != m_expected).fillna(False).astype(bool)
    mb = m[m_bad]
    m_msg = (
        "bedrag "
        + euro_text(mb["bedrag"])
        + " ≠ "
        + euro_text(m_hourly[m_bad])
        + " × "
        + text_of(mb["volume"])
        + " min / 60 = "
        + euro_text(m_expected[m_bad])
        + " (minutes on an hourly contract tariff, rounded half up, IV081)"
    )

    p = lines[plain]
    p_expected = (p["volume"] * p["tarief"]).astype("Int64")
    p_bad = (p["bedrag"] != p_expected).fillna(False).astype(bool)
    pb = p[p_bad]
    p_msg = (
        "bedrag "
        + euro_text(pb["bedrag"])
        + " ≠ volume "
        + text_of(pb["volume"])
        + " × tarief "
        + euro_text(pb["tarief"])
        + " = "
        + euro_text(p_expected[p_bad])
    )
    return concat_findings(
        import_failures(ctx, ["volume", "bedrag"]),
        findings(no_volume, "volume is missing", "volume"),
        findings(no_bedrag, "bedrag is missing", "bedrag"),
        findings(mb, m_msg, "bedrag", euro_text(mb["bedrag"])),
        findings(pb, p_msg, "bedrag", euro_text(pb["bedrag"])),
    )


@rule(
    "CS339",
    "0001",
    "Eenheid 83 (Euro's): bedrag = volume (the volume is the amount in cents)",
    family=FAMILY,
    niveau=BERICHT,
)
def cs339_euro_amount(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    euro = lines["eenheid"] == EURO
    no_volume = lines[euro & _missing(ctx, "volume", ["volume"])]
    no_bedrag = lines[euro & _missing(ctx, "bedrag", ["bedrag"])]
    bad = lines[(euro & (lines["volume"] != lines["bedrag"])).fillna(False).astype(bool)]
    msg = (
        "eenheid 83 (Euro's): bedrag "
        + euro_text(bad["bedrag"])
        + " ≠ volume "
        + text_of(bad["volume"])
        + " cents ("
        + euro_text(bad["volume"])
        + ")"
    )
    return concat_findings(
        findings(no_volume, "volume is missing (with eenheid 83 it is the amount in cents)", "volume"),
        findings(no_bedrag, "bedrag is missing", "bedrag"),
        findings(bad, msg, "bedrag", euro_text(bad["bedrag"])),
    )


@rule(
    "CD087", "0001", "Tarief is given when eenheid is not 83, and left out when it is 83", family=FAMILY, niveau=BERICHT
)
def cd087_tarief_present(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    missing = lines[lines["eenheid"].notna() & (lines["eenheid"] != EURO) & _missing(ctx, "tarief", ["tarief"])]
    extra = lines[(lines["eenheid"] == EURO) & lines["tarief"].notna()]
    return concat_findings(
        import_failures(ctx, ["tarief"]),
        findings(
            missing, "tarief is missing (required when eenheid is " + unit_text(missing["eenheid"]) + ")", "tarief"
        ),
        findings(
            extra,
            "tarief " + euro_text(extra["tarief"]) + " given with eenheid 83 (Euro's): leave it empty",
            "tarief",
            euro_text(extra["tarief"]),
        ),
    )


# ============================================================================ gemeente
@cache
def _successors() -> dict[str, str]:
    """Retired CBS code → 'gemeente 0381 (Bussum) merged into 1942 Gooise Meren on 2016-01-01'
    (following later mergers to today's gemeenten)."""
    texts = {}
    for old in refdata.gemeenten_historie_codes():
        row = refdata.retirement(old)
        assert row is not None  # every code in the history has a retirement row
        named = ", ".join(f"{c} {refdata.gemeente_naam(c) or '?'}" for c in refdata.successors(old))
        when, soort = row["ingangsdatum"], row["soort"]
        if soort == "opsplitsing":
            what = f"was split over {named} on {when}"
        elif soort == "naamswijziging":
            what = f"got a new code on {when}: {named}"
        else:
            what = f"merged into {named} on {when}"
        texts[old] = f"gemeente {old} ({row['oude_naam']}) {what}"
    return texts


@rule(
    "TR378",
    "S300",
    "Gemeente is a CBS gemeentecode (a code retired by a merger: see JZ-G01)",
    family=FAMILY,
    niveau=BERICHT,
)
def tr378_gemeente(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    known = set(refdata.gemeenten()) | {r["oude_code"] for r in refdata.gemeenten_historie()}
    missing = lines[_missing(ctx, "gemeente", ["gemeente"])]
    bad = lines[lines["gemeente"].notna() & ~lines["gemeente"].isin(known)]
    return concat_findings(
        import_failures(ctx, ["gemeente"]),
        findings(missing, "gemeente is missing", "gemeente"),
        findings(
            bad,
            "gemeente " + text_of(bad["gemeente"]) + " is not in the CBS list of gemeenten",
            "gemeente",
            bad["gemeente"],
        ),
    )


@rule(
    "JZ-G01",
    "JZ-G01",
    "Gemeente code retired by a municipal merger: judged as the gemeente it became (IV046), the code kept as written (signal)",
    family=FAMILY,
    ernst=SIGNAAL,
    omschrijving="Gemeentecode is door een herindeling vervallen; de regel is beoordeeld als de gemeente waarin zij is opgegaan.",
)
def jz_g01_merged_gemeente(ctx: Context) -> pd.DataFrame:
    """The engine judges a merged code as its successor as of the line's begindatum
    (``validate.successor_codes``: contracts, allocations, duplicates). A split code has no single
    successor: JZ-C01 and TR338 then say so; a line from before the merger keeps its own code."""
    lines = ctx.lines
    texts = _successors()
    old = lines[
        lines["gemeente"].notna()
        & ~lines["gemeente"].isin(set(refdata.gemeenten()))
        & lines["gemeente"].isin(set(texts))
    ]
    if old.empty:
        return findings(old, "", None)
    code = text_of(old["gemeente"])
    succ = old["gemeente_opvolger"]
    label = succ.map(lambda c: f"{c} {refdata.gemeente_naam(c) or '?'}", na_action="ignore")
    split = split_text(old)
    base = old["gemeente"].map(texts).astype(str)
    msg = (
        base
        + ": judged as "
        + label.fillna("").astype(str)
        + " (its contracts and allocations: the successor carries the obligations, IV046); the line keeps "
        + code
        + ", declare on the new code from now on"
    )
    msg = msg.where(
        succ.notna(),
        base
        + ": no single successor, so no contract or allocation can be chosen for the line; declare on the gemeente responsible for the client",
    )
    before = succ.isna() & split.isna()
    msg = msg.where(~before, base + "; the line's period is from before that: judged as " + code)
    return findings(old, msg, "gemeente", old["gemeente"])


# ============================================================================ totals
@rule(
    "TR358",
    "0001",
    "A total stated in the file equals Σ debet − Σ credit of its lines (per sheet; a mismatch rejects the sheet's lines)",
    family=FAMILY,
    niveau=BERICHT,
)
def tr358_totals(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    stated, total = lines["blad_vermeld_totaal"], lines["blad_totaal"]
    bad = lines[(stated.notna() & total.notna() & (stated != total)).fillna(False).astype(bool)]
    where = pd.Series("the sheet '", index=bad.index) + text_of(bad["blad"]) + "'"
    where = where.where(bad["blad"].notna(), "the file")
    where = where.where(~bad["bericht"].astype(bool), "the message (TotaalIngediendBedrag)")
    msg = (
        where
        + " states a total of "
        + euro_text(bad["blad_vermeld_totaal"])
        + ", but its "
        + text_of(bad["blad_regels"])
        + " lines add up to "
        + euro_text(bad["blad_totaal"])
        + " (Σ debet − Σ credit)"
    )
    return findings(bad, msg, "bedrag", euro_text(bad["blad_vermeld_totaal"]))
