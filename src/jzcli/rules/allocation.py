"""Allocation (toewijzing) rules: does a declaration line fit the allocation it draws on?

Matching (``engine.derive.match_allocations``, done once per run before the rules)
    A line with a toewijzingnummer uses the allocation with that number in the line's gemeente,
    for the line's aanbieder (TR338: "for this gemeente/aanbieder"). A spreadsheet line without
    a number is matched on content: same bsn, aanbieder and gemeente, a fitting product (the
    productcode for a specific allocation, the productcategorie for an aspecific one, anything
    for a generic one) and an allocation period that overlaps the ProductPeriode. The best
    candidate wins: a live allocation over a deleted one, then one that contains the whole
    ProductPeriode over one that only overlaps it, then specific over aspecific over generic.
    Two equally good candidates are ambiguous: no match, and TR338 names them. Deleted
    allocations (reden wijziging 13) still match, last in preference and with their period
    taken as open-ended (a deletion sets einddatum = ingangsdatum), so TR384 can say why.

Which lines are judged
    TR338 judges every debet line; TR384 judges debets on a deleted allocation, and only TR384
    does (a deleted allocation counts as never sent); every other rule judges debets with a
    matched, live allocation. Credit lines are never rejected here: a credit copies an approved
    debet and a gemeente may refuse it only for technical reasons (IV085); credits do count in
    the sums (TR322, TR369), on the allocation of the debet they cancel when that is known. No
    rule looks at start/stop messages (OP364).

Volume limits (§8 of the reference)
    TR321 compares one line's volume with what its ProductPeriode allows. TR322 and TR369 compare
    a running total on the allocation: the approved, not credited debets of earlier batches
    (approved credits are accounted for by the ``gecrediteerd`` flag of the debet they cancel)
    plus this batch's lines up to and including the line judged. Within a batch the order is:
    batch, credits before debets (OP366), begindatum, line id. A debet is rejected when the
    running total after it exceeds the limit: the line that crosses the limit and every later
    debet on that allocation in the batch (unless a credit brings the total back under), never
    the lines before it. Every line of the batch counts in the running total, also one another
    rule rejects (rules are independent). Minutes and hours are compared in minutes (hours × 60);
    a line in a unit that cannot be converted to the allocation's (TR341 rejects it) is left out
    of the volume checks.

Every finding names the allocation used ("toewijzing 406250109", plus "(matched on content)"
when the line had no toewijzingnummer). Messages never hold a full BSN.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from jzcli.domain.codes import SIGNAAL
from jzcli.domain.findings import findings
from jzcli.domain.text import euro, mask_bsn
from jzcli.rules.kit import (
    INHOUD,
    UNIT_LABEL,
    as_text,
    date_col,
    date_or,
    day_numbers,
    freq_int,
    gemeente_text,
    int_col,
    ints,
    is_scalar,
    no_ints,
    objects,
    split_text,
    text_col,
    unit_int,
)
from jzcli.rules.registry import rule

FAMILY = "allocation"

MINUUT = "01"
UUR = "04"
MINUTES = {"01": 1, "04": 60}  # time units, in minutes
OUTPUT_UNITS = ["82", "83"]  # units of the outputgericht variant (§9)
FREQ_LABEL = {"1": "dag", "2": "week", "4": "maand"}

_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0 … Sunday = 6)
_MIN_DAY = np.int64(-(10**7))


# ============================================================================== text/codes


def volume_text(volume, eenheid) -> pd.Series:
    """'25 uur', '1500 min', '€ 300,00' (eenheid 83 holds cents); '' where volume is missing."""
    vol = volume if isinstance(volume, pd.Series) else pd.Series(volume)
    vol = pd.Series(ints(vol), index=vol.index)
    unit = as_text(
        eenheid
        if isinstance(eenheid, pd.Series)
        else pd.Series([eenheid] * len(vol) if np.ndim(eenheid) == 0 else eenheid)
    )
    unit.index = vol.index
    text = (vol.astype("str") + (" " + unit.map(UNIT_LABEL)).fillna("")).astype(object)
    money = (unit == "83") & vol.notna()
    if money.any():
        text[money] = vol[money].map(euro)
    return text.where(vol.notna(), "")


def _period_text(begin: pd.Series, end: pd.Series) -> pd.Series:
    """'2025-03' for a whole calendar month, else '2025-03-10..2025-03-31'."""
    b = pd.to_datetime(begin)
    e = pd.to_datetime(end)
    whole = ((b.dt.day == 1) & (e == b + pd.offsets.MonthEnd(0))).fillna(False).astype(bool)
    month = b.dt.strftime("%Y-%m").astype(object)
    span = date_or(b) + ".." + date_or(e)
    return month.where(whole, span)


# ==================================================================================== dates
# Small vectorised date helpers. Each accepts scalars, lists, arrays or Series of dates and
# returns an Int64 Series (index of the first Series argument; NA where a date is missing), or
# a plain int / None when every argument is a scalar.


def _length(*args) -> int:
    return next((len(a) for a in args if not is_scalar(a)), 1)


def _index_of(*args) -> pd.Index | None:
    return next((a.index for a in args if isinstance(a, pd.Series)), None)


def _result(values: np.ndarray, missing: np.ndarray, *args):
    if all(is_scalar(a) for a in args):
        return None if missing[0] else int(values[0])
    out = ints(np.asarray(values, dtype="int64"))
    out[missing] = pd.NA
    return pd.Series(out, index=_index_of(*args))


def _weekday(days: np.ndarray) -> np.ndarray:
    return (days + _EPOCH_WEEKDAY) % 7


def days_in(begin, end):
    """Calendar days from begin to end, both included (0 when end < begin)."""
    n = _length(begin, end)
    (b, mb), (e, me) = day_numbers(begin, n), day_numbers(end, n)
    return _result(np.maximum(e - b + 1, 0), mb | me, begin, end)


def iso_weeks_touched(begin, end):
    """ISO calendar weeks (Monday–Sunday) the period touches; partial weeks count whole.

    2025-03-01..2025-03-31 → 6 (weeks 9–14); 2022-10-11..2022-12-28 → 12 (weeks 41–52).
    """
    n = _length(begin, end)
    (b, mb), (e, me) = day_numbers(begin, n), day_numbers(end, n)
    weeks = ((e - _weekday(e)) - (b - _weekday(b))) // 7 + 1
    return _result(np.where(e < b, 0, weeks), mb | me, begin, end)


def sundays_in(begin, end):
    """Sundays from begin to end, both included (2022-10-11..2022-10-31 → 3)."""
    n = _length(begin, end)
    (b, mb), (e, me) = day_numbers(begin, n), day_numbers(end, n)
    first = b + (6 - _weekday(b))
    return _result(np.where(first > e, 0, (e - first) // 7 + 1), mb | me, begin, end)


def months_touched(begin, end):
    """Calendar months the period touches (2025-01-15..2025-03-01 → 3)."""
    n = _length(begin, end)
    (b, mb), (e, me) = day_numbers(begin, n), day_numbers(end, n)
    bm = b.astype("datetime64[D]").astype("datetime64[M]").astype("int64")
    em = e.astype("datetime64[D]").astype("datetime64[M]").astype("int64")
    return _result(np.maximum(em - bm + 1, 0), mb | me, begin, end)


def output_weeks_in(begin, end, ingangsdatum, einddatum):
    """Weeks an outputgericht week allocation allows in one ProductPeriode (IV076/IV077).

    The Sundays in the period, plus one when the allocation's last Sunday lies in the period and
    its einddatum is not a Sunday (its last, partial week). An allocation without any Sunday gets
    that week in the period holding its einddatum. Summed over the months this equals the ISO
    weeks the allocation touches. € 300/week 2022-10-11..2022-12-31 → Oct 3, Nov 4, Dec 4 + 1.
    """
    n = _length(begin, end, ingangsdatum, einddatum)
    (b, mb), (e, me) = day_numbers(begin, n), day_numbers(end, n)
    (i, mi), (z, mz) = day_numbers(ingangsdatum, n), day_numbers(einddatum, n)
    first = b + (6 - _weekday(b))
    sundays = np.where(first > e, 0, (e - first) // 7 + 1)
    last_sunday = z - ((_weekday(z) + 1) % 7)
    anchor = np.where(last_sunday < np.where(mi, _MIN_DAY, i), z, last_sunday)
    extra = ~mz & (_weekday(z) != 6) & (anchor >= b) & (anchor <= e)
    return _result(sundays + extra.astype("int64"), mb | me, begin, end, ingangsdatum, einddatum)


# ============================================================================ allowances
def _aligned(n: int, **values) -> pd.DataFrame:
    """Scalars and sequences → one frame with a RangeIndex of length n."""
    out: dict[str, object] = {}
    for name, v in values.items():
        if is_scalar(v):
            out[name] = [v] * n
        elif isinstance(v, pd.Series):
            out[name] = v.to_numpy()
        else:
            out[name] = list(v)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def _output_mask(variant, alloc_unit: np.ndarray) -> np.ndarray:
    """The outputgericht variant: from the contract, else from the unit (82/83 → output)."""
    v = objects(variant)
    known = pd.notna(v) & (v != "")
    return (v == "outputgericht") | (~known & np.isin(alloc_unit, [82, 83]))


def _period_counts(freq, output, b, e, i, mi, z, mz) -> np.ndarray:
    """Days/weeks/1 that a ProductPeriode b..e counts for TR321; -1 = no per-period limit."""
    count = np.full(len(freq), -1, dtype="int64")
    day = freq == 1
    count[day] = np.maximum(e - b + 1, 0)[day]
    week = freq == 2
    iso = np.where(e < b, 0, ((e - _weekday(e)) - (b - _weekday(b))) // 7 + 1)
    count[week & ~output] = iso[week & ~output]
    if (week & output).any():
        first = b + (6 - _weekday(b))
        sundays = np.where(first > e, 0, (e - first) // 7 + 1)
        last_sunday = z - ((_weekday(z) + 1) % 7)
        anchor = np.where(last_sunday < np.where(mi, _MIN_DAY, i), z, last_sunday)
        extra = ~mz & (_weekday(z) != 6) & (anchor >= b) & (anchor <= e)
        count[week & output] = (sundays + extra)[week & output]
    count[freq == 4] = 1
    return count


def _total_counts(freq, i, mi, z, mz) -> np.ndarray:
    """Days/weeks/months/1 an allocation i..z counts for TR322; -1 = no total limit."""
    count = np.full(len(freq), -1, dtype="int64")
    bounded = ~mi & ~mz
    count[(freq == 1) & bounded] = np.maximum(z - i + 1, 0)[(freq == 1) & bounded]
    iso = np.where(z < i, 0, ((z - _weekday(z)) - (i - _weekday(i))) // 7 + 1)
    count[(freq == 2) & bounded] = iso[(freq == 2) & bounded]
    months = (
        z.astype("datetime64[D]").astype("datetime64[M]").astype("int64")
        - i.astype("datetime64[D]").astype("datetime64[M]").astype("int64")
        + 1
    )
    count[(freq == 4) & bounded] = np.maximum(months, 0)[(freq == 4) & bounded]
    count[freq == 6] = 1
    return count


def period_allowance(
    frequentie, volume, eenheid, begin, end, *, variant=None, ingangsdatum=None, einddatum=None, explain: bool = True
) -> pd.DataFrame:
    """The most an allocation allows in one ProductPeriode (TR321, §8), in the allocation's unit.

    Columns: ``toegestaan`` (Int64; NA = no per-period limit: frequentie 6 or no Omvang),
    ``aantal`` (days/weeks counted), ``uitleg`` (e.g. '3 uur/week × 6 ISO weeks touched by
    2025-03'; only when ``explain``). Frequentie 1: volume × days in the period; 2: volume × ISO
    weeks touched, or for the outputgericht ``variant`` × Sundays (+1, see output_weeks_in);
    4: volume. Without a variant the unit decides (82/83 → outputgericht).
    """
    n = _length(frequentie, volume, eenheid, begin, end)
    f = _aligned(n, freq=frequentie, vol=volume, unit=eenheid, b=begin, e=end, var=variant, i=ingangsdatum, z=einddatum)
    freq = freq_int(f["freq"])
    vol = pd.Series(ints(f["vol"]))
    unit = unit_int(f["unit"])
    output = _output_mask(f["var"], unit)
    (b, mb), (e, me) = day_numbers(f["b"], n), day_numbers(f["e"], n)
    (i, mi), (z, mz) = day_numbers(f["i"], n), day_numbers(f["z"], n)
    raw = _period_counts(freq, output, b, e, i, mi, z, mz)
    count = pd.Series(ints(raw))
    count[(raw < 0) | mb | me] = pd.NA
    allowed = (vol * count).astype("Int64")
    result = pd.DataFrame({"toegestaan": allowed, "aantal": count})
    if explain:
        result["uitleg"] = _period_uitleg(freq, output, vol, f["unit"], f["b"], f["e"], count, allowed)
    idx = _index_of(frequentie, volume, eenheid, begin, end)
    if idx is not None:
        result.index = idx
    return result


def _period_uitleg(freq, output, vol, unit, begin, end, count, allowed) -> pd.Series:
    n = len(freq)
    b, e = (
        pd.to_datetime(pd.Series(begin)).reset_index(drop=True),
        pd.to_datetime(pd.Series(end)).reset_index(drop=True),
    )
    unit = pd.Series(objects(unit))
    amount = volume_text(vol, unit)
    per = amount + "/" + pd.Series(freq).map({1: "dag", 2: "week", 4: "maand"}).fillna("").astype(object) + " × "
    period = _period_text(b, e)
    cnt = count.astype("str").astype(object)
    week = freq == 2
    uitleg = pd.Series([None] * n, dtype=object)
    uitleg = uitleg.mask(freq == 1, per + cnt + " days in " + period)
    uitleg = uitleg.mask(week & ~output, per + cnt + " ISO weeks touched by " + period)
    if (week & output).any():
        sundays = sundays_in(b, e)
        out = per + sundays.astype("str").astype(object) + " Sundays in " + period
        plus = (count > sundays).fillna(False).astype(bool)
        out = out.where(~plus, out + " + 1 (the allocation's last, partial week)")
        uitleg = uitleg.mask(week & output, out)
    uitleg = uitleg.mask(freq == 4, amount + "/maand for " + period)
    return uitleg.where(allowed.notna(), None)


def total_allowance(frequentie, volume, eenheid, ingangsdatum, einddatum, *, explain: bool = True) -> pd.DataFrame:
    """The most an allocation allows over its whole period (TR322, §8), in its own unit.

    Frequentie 1: volume × days of the allocation; 2: × ISO calendar weeks from ingangsdatum to
    einddatum (for outputgericht the same: Σ Sundays + 1 for a last partial week); 4: × months
    touched; 6: volume. An open-ended allocation (no einddatum) has no total limit, except with
    frequentie 6. Columns ``toegestaan`` (Int64, NA = no limit), ``aantal``, ``uitleg``.
    """
    n = _length(frequentie, volume, eenheid, ingangsdatum, einddatum)
    f = _aligned(n, freq=frequentie, vol=volume, unit=eenheid, i=ingangsdatum, z=einddatum)
    freq = freq_int(f["freq"])
    vol = pd.Series(ints(f["vol"]))
    (i, mi), (z, mz) = day_numbers(f["i"], n), day_numbers(f["z"], n)
    raw = _total_counts(freq, i, mi, z, mz)
    count = pd.Series(ints(raw))
    count[raw < 0] = pd.NA
    allowed = (vol * count).astype("Int64")
    result = pd.DataFrame({"toegestaan": allowed, "aantal": count})
    if explain:
        per = volume_text(vol, pd.Series(objects(f["unit"])))
        span = " from " + date_or(f["i"]) + " to " + date_or(f["z"])
        cnt = count.astype("str").astype(object)
        uitleg = pd.Series([None] * n, dtype=object)
        uitleg = uitleg.mask(freq == 1, per + "/dag × " + cnt + " days" + span)
        uitleg = uitleg.mask(freq == 2, per + "/week × " + cnt + " ISO weeks" + span)
        uitleg = uitleg.mask(freq == 4, per + "/maand × " + cnt + " months" + span)
        uitleg = uitleg.mask(freq == 6, per + " in total")
        result["uitleg"] = uitleg.where(allowed.notna(), None)
    idx = _index_of(frequentie, volume, eenheid, ingangsdatum, einddatum)
    if idx is not None:
        result.index = idx
    return result


def _unit_factors(
    line_unit: np.ndarray, alloc_unit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(line factor, allocation factor, comparable, time) over int unit codes (unit_int).

    Minutes and hours (in any combination) are compared in minutes; otherwise the units must be
    equal (factors 1); anything else is not comparable.
    """
    time = np.isin(line_unit, [1, 4]) & np.isin(alloc_unit, [1, 4])
    lf = np.where(time & (line_unit == 4), 60, 1)
    af = np.where(time & (alloc_unit == 4), 60, 1)
    comparable = time | ((line_unit >= 0) & (line_unit == alloc_unit))
    return lf, af, comparable, time


def _basis_text(values: pd.Series, time: np.ndarray, in_minutes: np.ndarray, alloc_unit: pd.Series) -> pd.Series:
    """Values in the comparison basis of _unit_factors as text (minutes when time units meet)."""
    values = pd.Series(ints(values))
    text = volume_text(values, pd.Series(objects(alloc_unit)))
    if time.any():
        whole = (values % 60 == 0).fillna(False).to_numpy(dtype=bool) & ~in_minutes
        minutes = (values.astype("str") + " min").astype(object).where(~whole, (values // 60).astype("str") + " uur")
        text = text.where(~time, minutes)
    return text


# ============================================================================== matching
# Matching works on integer codes: every text key is factorised jointly over lines and
# allocations, so the merges are on int64 and the comparisons on numpy arrays.


# ========================================================================= rule plumbing


def _positions(alloc: pd.DataFrame, ids) -> np.ndarray:
    """Allocation ids → positions in ``alloc`` (-1 when missing or unknown)."""
    ids = ints(ids)
    return pd.Index(alloc["id"].to_numpy()).get_indexer(ids.fillna(-1).to_numpy(dtype="int64"))


def _prepare(ctx) -> SimpleNamespace:
    """Per line: the matched allocation's position and facts, and who is judged.

    ``judged`` = a debet with a matched, live allocation; ``a_del`` = matched to a deleted one.
    Text keys are compared as integer codes; texts are fetched only for findings (``_rows``).
    """
    lines = ctx.lines
    alloc = ctx.allocations
    tid, how = lines["toewijzing_id"], objects(lines["toewijzing_match"])
    apos = _positions(alloc, tid)
    found = apos >= 0
    take = np.maximum(apos, 0)

    f = pd.DataFrame(index=lines.index)
    f["id"] = pd.to_numeric(lines["id"]).astype("int64")
    f["apos"] = apos
    f["found"] = found
    f["how"] = how
    f["credit"] = objects(lines["debet_credit"]) == "C"
    f["begindatum"] = date_col(lines, "begindatum")
    f["einddatum"] = date_col(lines, "einddatum")
    for side in ("begin_uit_maand", "eind_uit_maand"):
        f[side] = lines[side].to_numpy(dtype=bool)
    f["volume"] = int_col(lines, "volume")
    f["bedrag"] = int_col(lines, "bedrag")
    f["unit"] = unit_int(lines["eenheid"])
    f["has_unit"] = text_col(lines, "eenheid").notna().to_numpy()
    f["contract_unit"] = unit_int(lines["contract_eenheid"])
    f["has_contract_unit"] = text_col(lines, "contract_eenheid").notna().to_numpy()
    f["variant"] = objects(lines["contract_variant"])
    if len(alloc):
        for col in ("ingangsdatum", "einddatum"):
            f["a_" + col] = pd.Series(alloc[col].to_numpy()[take], index=f.index).where(found)
        for col in ("volume", "budget"):
            f["a_" + col] = pd.Series(alloc[col].array.take(take), index=f.index).where(found)
        f["a_unit"] = np.where(found, alloc["_unit"].to_numpy()[take], -1)
        f["a_has_unit"] = found & alloc["eenheid"].notna().to_numpy()[take]
        f["a_freq"] = np.where(found, alloc["_freq"].to_numpy()[take], 0)
        f["a_del"] = found & alloc["_del"].to_numpy()[take]
    else:
        f["a_ingangsdatum"] = f["a_einddatum"] = pd.Series(pd.NaT, index=f.index, dtype="datetime64[ns]")
        f["a_volume"] = f["a_budget"] = pd.Series(no_ints(len(f)), index=f.index)
        f["a_unit"], f["a_has_unit"], f["a_freq"], f["a_del"] = -1, False, 0, False
    for col in ("bsn", "productcategorie", "productcode"):
        # both filled and unequal (TR304, TR339, TR340): the line's text against its allocation's
        mine = text_col(lines, col).to_numpy(dtype=object)
        theirs = (
            as_text(alloc[col]).to_numpy(dtype=object)[take]
            if len(alloc)
            else np.full(len(lines), np.nan, dtype=object)
        )
        f["differs_" + col] = found & pd.notna(mine) & pd.notna(theirs) & (mine != theirs)
    f["judged"] = f["found"] & ~f["a_del"] & ~f["credit"]
    return SimpleNamespace(f=f, lines=lines, alloc=alloc)


def _rows(prep: SimpleNamespace, mask, line_cols=(), alloc_cols=()) -> pd.DataFrame:
    """The masked lines with texts for messages: line columns as is, allocation ones as a_*,
    and ``label`` ('toewijzing 406250109 (matched on content)')."""
    mask = np.asarray(mask, dtype=bool)
    b = prep.f[mask].copy()
    for col in line_cols:
        b[col] = objects(prep.lines[col])[mask]
    apos = b["apos"].to_numpy()
    for col in set(alloc_cols) | {"toewijzingnummer"}:
        values = (
            prep.alloc[col].to_numpy(dtype=object, na_value=None) if len(prep.alloc) else np.array([], dtype=object)
        )
        b["a_" + col] = values[np.maximum(apos, 0)] if len(values) else None
        b.loc[apos < 0, "a_" + col] = None
    own = objects(prep.lines["toewijzingnummer"])[mask]
    nummer = b["a_toewijzingnummer"].where(b["a_toewijzingnummer"].notna(), own).fillna("?").astype(object)
    label = "toewijzing " + nummer
    b["label"] = label.where(b["how"] != INHOUD, label + " (matched on content)")
    return b


def _none() -> pd.DataFrame:
    return findings([], "")


def _texts(values: pd.Series) -> list:
    return [None if v is None or v != v else str(v) for v in values.tolist()]


# ================================================================================= rules
@rule(
    "TR338",
    "9338",
    "The line draws on an existing allocation (its toewijzingnummer, or matched on content)",
    family=FAMILY,
)
def tr338_allocation_exists(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    bad = (~prep.f["found"] & ~prep.f["credit"]).to_numpy()
    if not bad.any():
        return _none()
    unmatched = ctx.lines[bad]
    reasons = unmatched["toewijzing_uitleg"]  # engine.derive: a merged code searched as its successor
    b = _rows(prep, bad, ["toewijzingnummer"])
    stale = "the allocation matched before is no longer in the store"
    msg = "no allocation found: " + reasons.where(reasons.notna(), stale).astype(object)
    merged = unmatched["gemeente_opvolger"].notna()
    msg = msg.where(
        ~merged,
        "no allocation found for gemeente "
        + gemeente_text(unmatched)
        + ": "
        + reasons.where(reasons.notna(), stale).astype(object),
    )
    split = split_text(unmatched)
    msg = msg.where(
        split.isna(), split + ": no allocation can be chosen for it; declare on the gemeente responsible for the client"
    )
    return findings(b["id"], msg.tolist(), "toewijzingnummer", _texts(b["toewijzingnummer"]))


@rule("TR304", "8187", "The allocation belongs to the line's client (BSN)", family=FAMILY)
def tr304_allocation_of_client(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    bad = _differs(prep, "bsn")
    b = _rows(prep, bad, ["bsn"], ["bsn"])
    msg = (
        b["label"]
        + " belongs to another client (bsn "
        + b["a_bsn"].map(mask_bsn).astype(object)
        + "), not to this line's client"
    )
    return findings(b["id"], msg.tolist(), "bsn", b["bsn"].map(mask_bsn).tolist())


@rule("TR384", "9384", "No lines on an allocation deleted with reden wijziging 13", family=FAMILY)
def tr384_deleted(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    b = _rows(prep, prep.f["a_del"] & ~prep.f["credit"], (), ["reden_wijziging", "toewijzingsdatum"])
    msg = (
        b["label"]
        + " was deleted (reden wijziging "
        + b["a_reden_wijziging"].fillna("13").astype(object)
        + ", toewijzingsdatum "
        + date_or(b["a_toewijzingsdatum"])
        + "): a deleted allocation counts as never sent"
    )
    return findings(b["id"], msg.tolist(), "toewijzingnummer", _texts(b["a_toewijzingnummer"]))


def _source(b: pd.DataFrame, side: str) -> pd.Series:
    """ " (the 1st of the month in the month column)" where that side of the ProductPeriode came
    from a month, "" where the provider wrote the date: a finding says which it judged."""
    first = side == "begin_uit_maand"
    note = (
        " (the first day of the month in the file's month column)"
        if first
        else " (the last day of the month in the file's month column)"
    )
    return pd.Series(np.where(b[side].to_numpy(dtype=bool), note, ""), index=b.index, dtype=object)


@rule("TR307", "9307", "ProductPeriode begins on or after the allocation's ingangsdatum", family=FAMILY)
def tr307_begin_in_allocation(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    f = prep.f
    b = _rows(prep, f["judged"] & (f["begindatum"] < f["a_ingangsdatum"]).fillna(False))
    msg = (
        b["label"]
        + ": ProductPeriode begins "
        + date_or(b["begindatum"])
        + _source(b, "begin_uit_maand")
        + ", before the allocation's ingangsdatum "
        + date_or(b["a_ingangsdatum"])
    )
    return findings(b["id"], msg.tolist(), "begindatum", date_or(b["begindatum"]).tolist())


@rule("TR308", "9308", "ProductPeriode ends on or before the allocation's einddatum", family=FAMILY)
def tr308_end_in_allocation(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    f = prep.f
    b = _rows(prep, f["judged"] & (f["einddatum"] > f["a_einddatum"]).fillna(False))
    msg = (
        b["label"]
        + ": ProductPeriode ends "
        + date_or(b["einddatum"])
        + _source(b, "eind_uit_maand")
        + ", after the allocation's einddatum "
        + date_or(b["a_einddatum"])
    )
    return findings(b["id"], msg.tolist(), "einddatum", date_or(b["einddatum"]).tolist())


@rule(
    "TR387",
    "9387",
    "ProductPeriode begins on the 1st, or on the ingangsdatum when the allocation starts later that month",
    family=FAMILY,
)
def tr387_begin_of_month(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    f = prep.f
    begin, start = f["begindatum"], f["a_ingangsdatum"]
    first = _first_of_month(begin)
    later = ((start > first) & (start <= first + pd.offsets.MonthEnd(0))).fillna(False).astype(bool)
    expected = start.where(later, first)
    why = (" (the allocation's ingangsdatum in that month)", " (the first day of the month)")
    return _month_edge(prep, "begindatum", "begins", expected, later, why)


@rule(
    "TR388",
    "9388",
    "ProductPeriode ends on the last day, or on the einddatum when the allocation ends earlier that month",
    family=FAMILY,
)
def tr388_end_of_month(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    f = prep.f
    end, stop = f["einddatum"], f["a_einddatum"]
    last = end + pd.offsets.MonthEnd(0)
    first = _first_of_month(end)
    earlier = ((stop < last) & (stop >= first)).fillna(False).astype(bool)
    expected = stop.where(earlier, last)
    why = (" (the allocation's einddatum in that month)", " (the last day of the month)")
    return _month_edge(prep, "einddatum", "ends", expected, earlier, why)


def _first_of_month(day: pd.Series) -> pd.Series:
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def _month_edge(
    prep: SimpleNamespace, col: str, verb: str, expected: pd.Series, by_allocation: pd.Series, why: tuple[str, str]
) -> pd.DataFrame:
    """TR387/TR388: the judged lines whose ``col`` is not ``expected`` (the allocation's date where
    it falls in that month, ``by_allocation``, else the month's first or last day)."""
    f = prep.f
    value = f[col]
    bad = (f["judged"] & value.notna() & (value != expected).fillna(False)).to_numpy()
    b = _rows(prep, bad)
    reason = pd.Series(np.where(by_allocation[bad], *why), index=b.index, dtype=object)
    msg = b["label"] + f": ProductPeriode {verb} " + date_or(b[col]) + "; expected " + date_or(expected[bad]) + reason
    return findings(b["id"], msg.tolist(), col, date_or(b[col]).tolist())


@rule(
    "JZ-P01",
    "JZ-P01",
    "ProductPeriode from a month column set to the allocation's ingangsdatum/einddatum (IV089; signal)",
    family=FAMILY,
    ernst=SIGNAAL,
    omschrijving="ProductPeriode afgeleid uit de maand in het bestand en ingekort tot de ingangsdatum/einddatum van de toewijzing (IV089).",
)
def jz_p01_period_from_month(ctx) -> pd.DataFrame:
    lines = ctx.lines
    text = lines["productperiode_afgeleid"]
    hit = lines[text.notna().to_numpy()]
    if not len(hit):
        return _none()
    begin = date_or(date_col(hit, "begindatum"))
    end = date_or(date_col(hit, "einddatum"))
    return findings(hit["id"], text[hit.index].astype(str).tolist(), "periode", (begin + " t/m " + end).tolist())


def _differs(prep: SimpleNamespace, col: str):
    return prep.f["judged"] & prep.f["differs_" + col]


def _differs_from_allocation(ctx, col: str) -> pd.DataFrame:
    """TR339/TR340: the judged lines whose ``col`` is not the allocation's ``col`` (where it has one)."""
    prep = ctx.shared("allocation", _prepare)
    b = _rows(prep, _differs(prep, col), [col], [col])
    msg = b["label"] + f": {col} " + b[col].astype(object) + " ≠ the allocation's " + b["a_" + col].astype(object)
    return findings(b["id"], msg.tolist(), col, _texts(b[col]))


@rule("TR339", "9339", "ProductCategorie equals the allocation's productcategorie when it has one", family=FAMILY)
def tr339_categorie(ctx) -> pd.DataFrame:
    return _differs_from_allocation(ctx, "productcategorie")


@rule("TR340", "9340", "ProductCode equals the allocation's productcode when it has one", family=FAMILY)
def tr340_productcode(ctx) -> pd.DataFrame:
    return _differs_from_allocation(ctx, "productcode")


def _unit_name(codes: pd.Series) -> pd.Series:
    codes = pd.Series(objects(codes), index=codes.index)
    return (codes.fillna("?").astype(object) + " (" + codes.map(UNIT_LABEL).fillna("?").astype(object) + ")").astype(
        object
    )


@rule(
    "TR341",
    "9341",
    "Eenheid fits the allocation's (minutes allowed against hours); without Omvang the contract's",
    family=FAMILY,
)
def tr341_eenheid(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    f = prep.f
    from_alloc = f["a_has_unit"].to_numpy()
    target = np.where(from_alloc, f["a_unit"], f["contract_unit"])
    has_target = from_alloc | f["has_contract_unit"].to_numpy()
    unit = f["unit"].to_numpy()
    fits = ((unit >= 0) & (unit == target)) | ((unit == 1) & (target == 4))
    bad = f["judged"].to_numpy() & has_target & f["has_unit"].to_numpy() & ~fits
    b = _rows(prep, bad, ["eenheid", "contract_eenheid", "productcode"], ["eenheid"])
    mine = from_alloc[bad]
    alloc_text = "the allocation's eenheid " + _unit_name(b["a_eenheid"])
    contract_text = (
        "the contract's eenheid "
        + _unit_name(b["contract_eenheid"])
        + " for "
        + b["productcode"].fillna("?").astype(object)
        + " (the allocation has no Omvang)"
    )
    msg = (
        b["label"] + ": eenheid " + _unit_name(b["eenheid"]) + " does not fit " + alloc_text.where(mine, contract_text)
    )
    return findings(b["id"], msg.tolist(), "eenheid", _texts(b["eenheid"]))


@rule("TR321", "9321", "Volume within what the allocation allows for the ProductPeriode (§8)", family=FAMILY)
def tr321_volume_per_period(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    f = prep.f
    unit, a_unit = f["unit"].to_numpy(), f["a_unit"].to_numpy()
    lf, af, comparable, time = _unit_factors(unit, a_unit)
    use = f["judged"].to_numpy() & f["a_volume"].notna().to_numpy() & np.isin(f["a_freq"], [1, 2, 4]) & comparable
    use &= f["volume"].notna().to_numpy() & f["begindatum"].notna().to_numpy() & f["einddatum"].notna().to_numpy()
    if not use.any():
        return _none()
    n = int(use.sum())
    (b_, _), (e_, _) = day_numbers(f["begindatum"][use], n), day_numbers(f["einddatum"][use], n)
    (i_, mi), (z_, mz) = day_numbers(f["a_ingangsdatum"][use], n), day_numbers(f["a_einddatum"][use], n)
    output = _output_mask(f["variant"].to_numpy()[use], a_unit[use])
    count = _period_counts(f["a_freq"].to_numpy()[use], output, b_, e_, i_, mi, z_, mz)
    limit = f["a_volume"][use].to_numpy(dtype="int64") * count * af[use]
    value = f["volume"][use].to_numpy(dtype="int64") * lf[use]
    over = np.zeros(len(f), dtype=bool)
    over[np.flatnonzero(use)[(count >= 0) & (value > limit)]] = True
    if not over.any():
        return _none()
    b = _rows(prep, over, ["eenheid"], ["eenheid", "frequentie"])
    why = period_allowance(
        b["a_frequentie"],
        b["a_volume"],
        b["a_eenheid"],
        b["begindatum"],
        b["einddatum"],
        variant=b["variant"],
        ingangsdatum=b["a_ingangsdatum"],
        einddatum=b["a_einddatum"],
    )
    lim = pd.Series(why["toegestaan"].to_numpy(dtype="int64") * af[over], index=b.index)
    limit_text = _basis_text(lim, time[over], unit[over] == 1, b["a_eenheid"]).set_axis(b.index)
    uitleg = why["uitleg"].astype(object)
    converted = unit[over] != a_unit[over]
    uitleg = uitleg.where(
        ~converted, uitleg + " = " + volume_text(why["toegestaan"], b["a_eenheid"]) + " = " + limit_text
    )
    msg = (
        b["label"]
        + ": volume "
        + volume_text(b["volume"], b["eenheid"])
        + " exceeds "
        + limit_text
        + " allowed: "
        + uitleg
    )
    return findings(b["id"], msg.tolist(), "volume", b["volume"].astype("str").tolist())


# ------------------------------------------------------------------------ running totals
def _credit_targets(
    lines: pd.DataFrame, credit: np.ndarray, apos: np.ndarray, history: pd.DataFrame, h_apos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per line, the allocation position it counts on (``sum_apos``) and whether it is left out
    (``skip``). A credit counts on the allocation of the debet it cancels when we have that debet,
    and not at all when that debet is already marked credited (its credit was approved before)."""
    sum_apos = apos.copy()
    skip = np.zeros(len(lines), dtype=bool)
    vorig = objects(lines["vorig_referentienummer"])
    with_ref = credit & pd.notna(vorig)
    if with_ref.any() and len(history):
        h_credit = objects(history["debet_credit"]) == "C"
        h_gecrediteerd = history["gecrediteerd"].to_numpy(dtype=bool)
        debets = np.flatnonzero(~h_credit)
        h = (
            pd.DataFrame(
                {
                    "aanbieder": objects(history["aanbieder"])[debets],
                    "ref": objects(history["referentienummer"])[debets],
                    "h_apos": h_apos[debets],
                    "h_cred": h_gecrediteerd[debets],
                }
            )
            .dropna(subset=["ref"])
            .drop_duplicates(["aanbieder", "ref"], keep="last")
        )
        rows = np.flatnonzero(with_ref)
        c = pd.DataFrame(
            {
                "aanbieder": objects(lines["aanbieder"])[rows],
                "ref": vorig[rows],
                "_i": rows,
            }
        ).merge(h, on=["aanbieder", "ref"])
        sum_apos[c["_i"].to_numpy()] = c["h_apos"].to_numpy()
        skip[c["_i"].to_numpy()] = c["h_cred"].to_numpy(dtype=bool)
    return sum_apos, skip


def _earlier_totals(history, h_credit, h_gecrediteerd, h_apos, limited, value_of, a_unit) -> np.ndarray:
    """Per allocation position: the total of the approved, not credited history debets on it."""
    earlier = np.zeros(len(a_unit), dtype="int64")
    if len(history):
        keep = ~h_credit & ~h_gecrediteerd & (h_apos >= 0)
        keep &= limited[np.maximum(h_apos, 0)]
        if keep.any():
            hv, hc = value_of(
                int_col(history, "volume").to_numpy(dtype="float64", na_value=np.nan),
                int_col(history, "bedrag").to_numpy(dtype="float64", na_value=np.nan),
                unit_int(history["eenheid"]),
                a_unit[np.maximum(h_apos, 0)],
            )
            keep &= hc
            sums = pd.Series(hv[keep].astype("int64")).groupby(h_apos[keep]).sum()
            earlier[sums.index.to_numpy()] = sums.to_numpy()
    return earlier


def _running(ctx, value_of, limited: np.ndarray) -> pd.DataFrame | None:
    """Running totals per allocation for this batch's judged debets (credits counted too).

    ``value_of(volume, bedrag, unit, alloc_unit)`` (numpy arrays) gives each row's value in the
    comparison basis and whether it counts; ``limited`` flags allocation positions that have a
    limit. Returns the judged debet rows on limited allocations with sum_apos, earlier
    (approved before), batch_sum (this batch up to and including the row) and total.
    """
    prep = ctx.shared("allocation", _prepare)
    f, lines, alloc = prep.f, prep.lines, prep.alloc
    apos = f["apos"].to_numpy()
    judged = f["judged"].to_numpy()
    if not len(alloc) or not (judged & (apos >= 0) & limited[np.maximum(apos, 0)]).any():
        return None
    history = ctx.history if ctx.history is not None else pd.DataFrame()
    if len(history):
        history = history[~history["id"].isin(f["id"]).to_numpy()]
    h_credit = objects(history["debet_credit"]) == "C"
    h_gecrediteerd = history["gecrediteerd"].to_numpy(dtype=bool)
    h_apos = _positions(alloc, history["toewijzing_id"])

    credit = f["credit"].to_numpy()
    sum_apos, skip = _credit_targets(lines, credit, apos, history, h_apos)

    in_scope = (sum_apos >= 0) & limited[np.maximum(sum_apos, 0)] & ~skip
    a_unit = alloc["_unit"].to_numpy()
    val, counts = value_of(
        f["volume"].to_numpy(dtype="float64", na_value=np.nan),
        f["bedrag"].to_numpy(dtype="float64", na_value=np.nan),
        f["unit"].to_numpy(),
        a_unit[np.maximum(sum_apos, 0)],
    )
    in_scope &= counts
    rows = np.flatnonzero(in_scope)
    signed = np.where(credit[rows], -val[rows], val[rows]).astype("int64")

    earlier = _earlier_totals(history, h_credit, h_gecrediteerd, h_apos, limited, value_of, a_unit)

    batch = lines["batch"].to_numpy()[rows]
    begin, missing = day_numbers(f["begindatum"].iloc[rows], len(rows))
    begin = np.where(missing, np.iinfo("int64").max, begin)
    order = np.lexsort((f["id"].to_numpy()[rows], begin, (~credit[rows]).astype(int), batch))
    rows, signed = rows[order], signed[order]
    g = f[["id", "unit", "a_unit", "judged"]].iloc[rows]  # what the total rules read: not all of f
    g["sum_apos"] = sum_apos[rows]
    g["batch_sum"] = pd.Series(signed, index=g.index).groupby(g["sum_apos"].to_numpy()).cumsum()
    g["earlier"] = earlier[g["sum_apos"].to_numpy()]
    g["total"] = g["earlier"] + g["batch_sum"]
    return g[g["judged"].to_numpy()]


def _volume_value(volume, bedrag, unit, alloc_unit):
    lf, _af, comparable, _time = _unit_factors(unit, alloc_unit)
    value = volume * lf
    ok = comparable & ~np.isnan(value)
    return np.where(ok, value, 0), ok


def _amount_value(volume, bedrag, unit, alloc_unit):
    ok = ~np.isnan(bedrag)
    return np.where(ok, bedrag, 0), ok


@rule(
    "TR322",
    "9322",
    "Total volume on the allocation (approved earlier + this batch) within the allocated total (§8)",
    family=FAMILY,
    stateful=True,
)
def tr322_volume_total(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    a = prep.alloc
    n = len(a)
    (i, mi), (z, mz) = day_numbers(a["ingangsdatum"], n), day_numbers(a["einddatum"], n)
    count = _total_counts(a["_freq"].to_numpy(), i, mi, z, mz)
    volume = a["volume"].to_numpy(dtype="float64", na_value=np.nan)
    limited = (count >= 0) & ~np.isnan(volume) & ~a["_del"].to_numpy(dtype=bool)
    allowed = np.where(limited, np.nan_to_num(volume) * count, 0).astype("int64")
    g = _running(ctx, _volume_value, limited)
    if g is None or g.empty:
        return _none()
    _lf, af, _c, time = _unit_factors(g["unit"].to_numpy(), g["a_unit"].to_numpy())
    limit = allowed[g["sum_apos"].to_numpy()] * af
    over = g["total"].to_numpy() > limit
    if not over.any():
        return _none()
    g = g[over]
    mask = np.zeros(len(prep.f), dtype=bool)
    mask[prep.f.index.get_indexer(g.index)] = True
    b = _rows(prep, mask, ["eenheid"], ["eenheid", "frequentie"]).loc[g.index]
    why = total_allowance(b["a_frequentie"], b["a_volume"], b["a_eenheid"], b["a_ingangsdatum"], b["a_einddatum"])
    t_over, in_min = time[over], (g["unit"].to_numpy() == 1)
    text = lambda s: _basis_text(pd.Series(np.asarray(s)), t_over, in_min, b["a_eenheid"]).set_axis(b.index)  # noqa: E731
    uitleg = why["uitleg"].astype(object).set_axis(b.index)
    same_unit = g["unit"].to_numpy() == g["a_unit"].to_numpy()
    uitleg = uitleg.where(same_unit, uitleg + " = " + text(limit[over]))
    msg = (
        b["label"]
        + ": total "
        + text(g["total"])
        + " on the allocation exceeds "
        + text(limit[over])
        + " allowed: "
        + uitleg
        + " (approved earlier "
        + text(g["earlier"])
        + ", this batch up to and including this line "
        + text(g["batch_sum"])
        + ")"
    )
    return findings(b["id"], msg.tolist(), "volume", b["volume"].astype("str").tolist())


@rule(
    "TR369",
    "9369",
    "Total amount on a budget allocation (approved earlier + this batch) within the budget",
    family=FAMILY,
    stateful=True,
)
def tr369_budget(ctx) -> pd.DataFrame:
    prep = ctx.shared("allocation", _prepare)
    a = prep.alloc
    budget = a["budget"].to_numpy(dtype="float64", na_value=np.nan)
    limited = ~np.isnan(budget) & ~a["_del"].to_numpy(dtype=bool)
    g = _running(ctx, _amount_value, limited)
    if g is None or g.empty:
        return _none()
    over = g["total"].to_numpy() > np.nan_to_num(budget)[g["sum_apos"].to_numpy()]
    g = g[over]
    if g.empty:
        return _none()
    money = lambda s: pd.Series(np.asarray(s), index=g.index).map(euro).astype(object)  # noqa: E731
    mask = np.zeros(len(prep.f), dtype=bool)
    mask[prep.f.index.get_indexer(g.index)] = True
    b = _rows(prep, mask).loc[g.index]
    msg = (
        b["label"]
        + ": total "
        + money(g["total"])
        + " on the allocation exceeds its budget "
        + money(b["a_budget"])
        + " (approved earlier "
        + money(g["earlier"])
        + ", this batch up to and including this line "
        + money(g["batch_sum"])
        + ")"
    )
    return findings(b["id"], msg.tolist(), "bedrag", money(b["bedrag"]).tolist())
