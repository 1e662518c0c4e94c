"""Allocation (toewijzing) rules: does a declaration line fit the allocation it draws on?

Matching (``match_allocations``)
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

import weakref
from types import SimpleNamespace

import numpy as np
import pandas as pd

from jzcli.render import euro, mask_bsn
from jzcli.rules.registry import findings, rule

__all__ = [
    "match_allocations",
    "explain_unmatched",
    "days_in",
    "iso_weeks_touched",
    "sundays_in",
    "months_touched",
    "output_weeks_in",
    "period_allowance",
    "total_allowance",
    "volume_text",
]

FAMILY = "allocation"
NUMMER = "nummer"
INHOUD = "inhoud"

MINUUT = "01"
UUR = "04"
MINUTES = {"01": 1, "04": 60}  # time units, in minutes
OUTPUT_UNITS = ["82", "83"]  # units of the outputgericht variant (§9)
UNIT_LABEL = {"01": "min", "04": "uur", "14": "etmaal", "16": "dagdeel", "82": "stuks", "83": "euro", "84": "stuks"}
FREQ_LABEL = {"1": "dag", "2": "week", "4": "maand"}

_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0 … Sunday = 6)
_MIN_DAY = np.int64(-(10**7))

TEXT_COLUMNS = ["toewijzingnummer", "bsn", "aanbieder", "gemeente", "productcategorie", "productcode", "eenheid"]
ALLOCATION_COLUMNS = [
    "id", "toewijzingnummer", "bsn", "aanbieder", "gemeente", "productcategorie", "productcode", "ingangsdatum",
    "einddatum", "volume", "eenheid", "frequentie", "budget", "reden_wijziging", "toewijzingsdatum", "verwijderd",
]


# ============================================================================== text/codes
def _as_text(values, index=None) -> pd.Series:
    """Codes/text as a pandas ``str`` Series, stripped, NaN for missing or blank."""
    s = values if isinstance(values, pd.Series) else pd.Series(values, index=index, dtype=object)
    t = s.astype("str").str.strip()
    return t.mask(t == "")


def _text_col(frame: pd.DataFrame, col: str) -> pd.Series:
    if col in frame.columns:
        return _as_text(frame[col])
    return pd.Series(np.nan, index=frame.index, dtype="str")


def _int_col(frame: pd.DataFrame, col: str) -> pd.Series:
    if col in frame.columns:
        return pd.Series(pd.array(frame[col], dtype="Int64"), index=frame.index)
    return pd.Series(pd.array([pd.NA] * len(frame), dtype="Int64"), index=frame.index)


def _date_col(frame: pd.DataFrame, col: str) -> pd.Series:
    if col in frame.columns:
        return pd.to_datetime(frame[col])
    return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")


def volume_text(volume, eenheid) -> pd.Series:
    """'25 uur', '1500 min', '€ 300,00' (eenheid 83 holds cents); '' where volume is missing."""
    vol = volume if isinstance(volume, pd.Series) else pd.Series(volume)
    vol = pd.Series(pd.array(vol, dtype="Int64"), index=vol.index)
    unit = _as_text(eenheid if isinstance(eenheid, pd.Series) else pd.Series([eenheid] * len(vol) if np.ndim(eenheid) == 0 else eenheid))
    unit.index = vol.index
    text = (vol.astype("str") + (" " + unit.map(UNIT_LABEL)).fillna("")).astype(object)
    money = (unit == "83") & vol.notna()
    if money.any():
        text[money] = vol[money].map(euro)
    return text.where(vol.notna(), "")


def _minutes_text(minutes: pd.Series, in_minutes: pd.Series) -> pd.Series:
    """A time volume held in minutes: 'N min' when asked or not whole hours, else 'N uur'."""
    v = pd.Series(pd.array(minutes, dtype="Int64"), index=minutes.index)
    whole = (v % 60 == 0).fillna(False).astype(bool) & ~in_minutes
    return (v.astype("str") + " min").where(~whole, (v // 60).astype("str") + " uur").astype(object)


def _date_text(s: pd.Series, missing: str = "?") -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m-%d").fillna(missing).astype(object)


def _period_text(begin: pd.Series, end: pd.Series) -> pd.Series:
    """'2025-03' for a whole calendar month, else '2025-03-10..2025-03-31'."""
    b = pd.to_datetime(begin)
    e = pd.to_datetime(end)
    whole = ((b.dt.day == 1) & (e == b + pd.offsets.MonthEnd(0))).fillna(False).astype(bool)
    month = b.dt.strftime("%Y-%m").astype(object)
    span = _date_text(b) + ".." + _date_text(e)
    return month.where(whole, span)


# ==================================================================================== dates
# Small vectorised date helpers. Each accepts scalars, lists, arrays or Series of dates and
# returns an Int64 Series (index of the first Series argument; NA where a date is missing), or
# a plain int / None when every argument is a scalar.


def _is_scalar(x) -> bool:
    return np.ndim(x) == 0


def _length(*args) -> int:
    return next((len(a) for a in args if not _is_scalar(a)), 1)


def _index_of(*args) -> pd.Index | None:
    return next((a.index for a in args if isinstance(a, pd.Series)), None)


def _days(x, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Dates → (day numbers since 1970-01-01, missing mask), broadcast to length n."""
    if _is_scalar(x):
        ts = pd.NaT if x is None or pd.isna(x) else pd.Timestamp(x)
        missing = ts is pd.NaT
        day = 0 if missing else int((ts.normalize() - pd.Timestamp("1970-01-01")).days)
        return np.full(n, day, dtype="int64"), np.full(n, missing)
    arr = np.asarray(pd.to_datetime(pd.Series(list(x)) if not isinstance(x, pd.Series) else x).to_numpy()).astype("datetime64[D]")
    missing = np.isnat(arr)
    return np.where(missing, 0, arr.astype("int64")).astype("int64"), missing


def _result(values: np.ndarray, missing: np.ndarray, *args):
    if all(_is_scalar(a) for a in args):
        return None if missing[0] else int(values[0])
    out = pd.array(np.asarray(values, dtype="int64"), dtype="Int64")
    out[missing] = pd.NA
    return pd.Series(out, index=_index_of(*args))


def _weekday(days: np.ndarray) -> np.ndarray:
    return (days + _EPOCH_WEEKDAY) % 7


def days_in(begin, end):
    """Calendar days from begin to end, both included (0 when end < begin)."""
    n = _length(begin, end)
    (b, mb), (e, me) = _days(begin, n), _days(end, n)
    return _result(np.maximum(e - b + 1, 0), mb | me, begin, end)


def iso_weeks_touched(begin, end):
    """ISO calendar weeks (Monday–Sunday) the period touches; partial weeks count whole.

    2025-03-01..2025-03-31 → 6 (weeks 9–14); 2022-10-11..2022-12-28 → 12 (weeks 41–52).
    """
    n = _length(begin, end)
    (b, mb), (e, me) = _days(begin, n), _days(end, n)
    weeks = ((e - _weekday(e)) - (b - _weekday(b))) // 7 + 1
    return _result(np.where(e < b, 0, weeks), mb | me, begin, end)


def sundays_in(begin, end):
    """Sundays from begin to end, both included (2022-10-11..2022-10-31 → 3)."""
    n = _length(begin, end)
    (b, mb), (e, me) = _days(begin, n), _days(end, n)
    first = b + (6 - _weekday(b))
    return _result(np.where(first > e, 0, (e - first) // 7 + 1), mb | me, begin, end)


def months_touched(begin, end):
    """Calendar months the period touches (2025-01-15..2025-03-01 → 3)."""
    n = _length(begin, end)
    (b, mb), (e, me) = _days(begin, n), _days(end, n)
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
    (b, mb), (e, me) = _days(begin, n), _days(end, n)
    (i, mi), (z, mz) = _days(ingangsdatum, n), _days(einddatum, n)
    first = b + (6 - _weekday(b))
    sundays = np.where(first > e, 0, (e - first) // 7 + 1)
    last_sunday = z - ((_weekday(z) + 1) % 7)
    anchor = np.where(last_sunday < np.where(mi, _MIN_DAY, i), z, last_sunday)
    extra = ~mz & (_weekday(z) != 6) & (anchor >= b) & (anchor <= e)
    return _result(sundays + extra.astype("int64"), mb | me, begin, end, ingangsdatum, einddatum)


# ============================================================================ allowances
def _aligned(n: int, **values) -> pd.DataFrame:
    """Scalars and sequences → one frame with a RangeIndex of length n."""
    out = {}
    for name, v in values.items():
        if _is_scalar(v):
            out[name] = [v] * n
        elif isinstance(v, pd.Series):
            out[name] = v.to_numpy()
        else:
            out[name] = list(v)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def _freq_code(values: pd.Series) -> pd.Series:
    """Frequentie codes as '1', '2', '4', '6' (leading zeros dropped)."""
    t = _as_text(values)
    return t.str.lstrip("0").mask(t.isna())


def _output(variant: pd.Series, unit: pd.Series) -> pd.Series:
    """The outputgericht variant: from the contract, else from the unit (82/83)."""
    v = _as_text(variant)
    return ((v == "outputgericht") | (v.isna() & unit.isin(OUTPUT_UNITS))).astype(bool)


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
    freq = _freq_code(f["freq"])
    vol = pd.Series(pd.array(f["vol"], dtype="Int64"))
    unit = _as_text(f["unit"])
    b, e = pd.to_datetime(f["b"]), pd.to_datetime(f["e"])
    output = _output(f["var"], unit)
    week = freq == "2"
    count = pd.Series(pd.array([pd.NA] * n, dtype="Int64"))
    if (freq == "1").any():
        count = count.mask(freq == "1", days_in(b, e))
    if (week & ~output).any():
        count = count.mask(week & ~output, iso_weeks_touched(b, e))
    if (week & output).any():
        count = count.mask(week & output, output_weeks_in(b, e, pd.to_datetime(f["i"]), pd.to_datetime(f["z"])))
    count = count.mask(freq == "4", 1)
    allowed = (vol * count).astype("Int64")
    result = pd.DataFrame({"toegestaan": allowed, "aantal": count})
    if explain:
        per = volume_text(vol, unit) + "/" + freq.map(FREQ_LABEL).fillna("").astype(object) + " × "
        period = _period_text(b, e)
        cnt = count.astype("str").astype(object)
        uitleg = pd.Series([None] * n, dtype=object)
        uitleg = uitleg.mask(freq == "1", per + cnt + " days in " + period)
        uitleg = uitleg.mask(week & ~output, per + cnt + " ISO weeks touched by " + period)
        if (week & output).any():
            sundays = sundays_in(b, e)
            out = per + sundays.astype("str").astype(object) + " Sundays in " + period
            plus = (count > sundays).fillna(False).astype(bool)
            out = out.where(~plus, out + " + 1 (the allocation's last, partial week)")
            uitleg = uitleg.mask(week & output, out)
        uitleg = uitleg.mask(freq == "4", volume_text(vol, unit) + "/maand for " + period)
        result["uitleg"] = uitleg.where(allowed.notna(), None)
    idx = _index_of(frequentie, volume, eenheid, begin, end)
    if idx is not None:
        result.index = idx
    return result


def total_allowance(frequentie, volume, eenheid, ingangsdatum, einddatum, *, explain: bool = True) -> pd.DataFrame:
    """The most an allocation allows over its whole period (TR322, §8), in its own unit.

    Frequentie 1: volume × days of the allocation; 2: × ISO calendar weeks from ingangsdatum to
    einddatum (for outputgericht the same: Σ Sundays + 1 for a last partial week); 4: × months
    touched; 6: volume. An open-ended allocation (no einddatum) has no total limit, except with
    frequentie 6. Columns ``toegestaan`` (Int64, NA = no limit), ``aantal``, ``uitleg``.
    """
    n = _length(frequentie, volume, eenheid, ingangsdatum, einddatum)
    f = _aligned(n, freq=frequentie, vol=volume, unit=eenheid, i=ingangsdatum, z=einddatum)
    freq = _freq_code(f["freq"])
    vol = pd.Series(pd.array(f["vol"], dtype="Int64"))
    unit = _as_text(f["unit"])
    i, z = pd.to_datetime(f["i"]), pd.to_datetime(f["z"])
    count = pd.Series(pd.array([pd.NA] * n, dtype="Int64"))
    count = count.mask(freq == "1", days_in(i, z))
    count = count.mask(freq == "2", iso_weeks_touched(i, z))
    count = count.mask(freq == "4", months_touched(i, z))
    count = count.mask(freq == "6", 1)
    allowed = (vol * count).astype("Int64")
    result = pd.DataFrame({"toegestaan": allowed, "aantal": count})
    if explain:
        per = volume_text(vol, unit)
        span = " from " + _date_text(i) + " to " + _date_text(z)
        cnt = count.astype("str").astype(object)
        uitleg = pd.Series([None] * n, dtype=object)
        uitleg = uitleg.mask(freq == "1", per + "/dag × " + cnt + " days" + span)
        uitleg = uitleg.mask(freq == "2", per + "/week × " + cnt + " ISO weeks" + span)
        uitleg = uitleg.mask(freq == "4", per + "/maand × " + cnt + " months" + span)
        uitleg = uitleg.mask(freq == "6", per + " in total")
        result["uitleg"] = uitleg.where(allowed.notna(), None)
    idx = _index_of(frequentie, volume, eenheid, ingangsdatum, einddatum)
    if idx is not None:
        result.index = idx
    return result


def _unit_factors(line_unit: pd.Series, alloc_unit: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """(line factor, allocation factor, comparable, time) to compare volumes in one basis.

    Minutes and hours (in any combination) are compared in minutes; otherwise the units must be
    equal (factors 1); anything else is not comparable.
    """
    time = (line_unit.isin(MINUTES) & alloc_unit.isin(MINUTES)).astype(bool)
    lf = line_unit.map(MINUTES).where(time, 1).fillna(1).astype("int64")
    af = alloc_unit.map(MINUTES).where(time, 1).fillna(1).astype("int64")
    comparable = (time | (line_unit.notna() & (line_unit == alloc_unit))).astype(bool)
    return lf, af, comparable, time


def _basis_text(values: pd.Series, time: pd.Series, in_minutes: pd.Series, alloc_unit: pd.Series) -> pd.Series:
    """Values in the comparison basis of _unit_factors as text."""
    text = volume_text(values, alloc_unit)
    if time.any():
        text = text.where(~time, _minutes_text(values, in_minutes))
    return text


# ============================================================================== matching
def _normalise_nummer(text: pd.Series) -> pd.Series:
    """Toewijzingnummers are integers in iJw: '0406250101' and '406250101' are equal."""
    digits = text.str.fullmatch(r"\d+").fillna(False).astype(bool)
    stripped = text.str.lstrip("0").replace("", "0")
    return stripped.where(digits, text)


def _allocations(toewijzingen: pd.DataFrame) -> pd.DataFrame:
    """Allocations with normalised codes, ``_del`` (deleted) and ``_nummer``; unique ids."""
    t = toewijzingen
    a = pd.DataFrame(index=pd.RangeIndex(len(t)))
    a["id"] = pd.to_numeric(t["id"]).astype("int64").to_numpy() if "id" in t.columns else np.arange(len(t))
    for col in TEXT_COLUMNS + ["reden_wijziging"]:
        a[col] = _text_col(t, col).to_numpy()
    for col in ("ingangsdatum", "einddatum", "toewijzingsdatum"):
        a[col] = _date_col(t, col).to_numpy()
    for col in ("volume", "budget"):
        a[col] = _int_col(t, col).to_numpy()
    a["frequentie"] = _freq_code(_text_col(t, "frequentie")).to_numpy()
    if "verwijderd" in t.columns:
        a["_del"] = t["verwijderd"].fillna(False).astype(bool).to_numpy()
    else:  # reden 13 (Verwijderd), or the retired 01 with einddatum = ingangsdatum (CS336)
        same = (a["einddatum"] == a["ingangsdatum"]).fillna(False)
        a["_del"] = ((a["reden_wijziging"] == "13") | ((a["reden_wijziging"] == "01") & same)).astype(bool)
    a["_nummer"] = _normalise_nummer(a["toewijzingnummer"])
    # toewijzingen_actueel holds one version per number; keep the latest if more came in
    a = a.sort_values(["toewijzingsdatum", "id"], na_position="first", kind="mergesort")
    return a.drop_duplicates("id", keep="last")


def _line_keys(lines: pd.DataFrame) -> pd.DataFrame:
    k = pd.DataFrame(index=lines.index)
    for col in TEXT_COLUMNS:
        k[col] = _text_col(lines, col)
    k["begindatum"] = _date_col(lines, "begindatum")
    k["einddatum"] = _date_col(lines, "einddatum")
    k["_nummer"] = _normalise_nummer(k["toewijzingnummer"])
    k["_pos"] = np.arange(len(k))
    return k


def _number_candidates(keys: pd.DataFrame, alloc: pd.DataFrame) -> pd.DataFrame:
    """Numbered lines joined to the allocation with that number in their gemeente."""
    numbered = keys[keys["_nummer"].notna() & keys["gemeente"].notna()]
    cand = numbered[["_pos", "_nummer", "gemeente", "aanbieder"]].merge(
        alloc.loc[alloc["_nummer"].notna() & alloc["gemeente"].notna(), ["_nummer", "gemeente", "aanbieder", "id", "toewijzingsdatum"]],
        on=["_nummer", "gemeente"],
        suffixes=("", "_a"),
    )
    cand["aanbieder_ok"] = (cand["aanbieder"].isna() | cand["aanbieder_a"].isna() | (cand["aanbieder"] == cand["aanbieder_a"])).astype(bool)
    return cand


def _content_candidates(keys: pd.DataFrame, alloc: pd.DataFrame) -> pd.DataFrame:
    """Lines without a number × allocations of the same bsn, aanbieder and gemeente.

    Adds product_ok, spec (0 specific, 1 aspecific, 2 generic), overlap, contains and rank
    (lower is better: live before deleted, containing before overlapping, then spec).
    """
    loose = keys[keys["_nummer"].isna() & keys["bsn"].notna() & keys["aanbieder"].notna() & keys["gemeente"].notna()]
    left = loose[["_pos", "bsn", "aanbieder", "gemeente", "productcategorie", "productcode", "begindatum", "einddatum"]]
    right = alloc.loc[
        alloc["bsn"].notna() & alloc["aanbieder"].notna() & alloc["gemeente"].notna(),
        ["id", "bsn", "aanbieder", "gemeente", "productcategorie", "productcode", "ingangsdatum", "einddatum", "_del", "toewijzingnummer"],
    ]
    cand = left.merge(right, on=["bsn", "aanbieder", "gemeente"], suffixes=("", "_a"))
    code_a, cat_a = cand["productcode_a"], cand["productcategorie_a"]
    code_l, cat_l = cand["productcode"], cand["productcategorie"]
    specific = (code_a.notna() & (code_a == code_l) & (cat_l.isna() | cat_a.isna() | (cat_l == cat_a))).astype(bool)
    aspecific = (code_a.isna() & cat_a.notna() & (cat_a == cat_l)).astype(bool)
    generic = (code_a.isna() & cat_a.isna()).astype(bool)
    cand["product_ok"] = specific | aspecific | generic
    cand["spec"] = np.select([specific, aspecific], [0, 1], 2)
    lb = cand["begindatum"].fillna(pd.Timestamp.min)
    le = cand["einddatum"].fillna(pd.Timestamp.max)
    start = cand["ingangsdatum"].fillna(pd.Timestamp.min)
    stop = cand["einddatum_a"].mask(cand["_del"])  # a deletion's einddatum is no real end
    cand["overlap"] = ((start <= le) & (stop.isna() | (stop >= lb))).astype(bool)
    cand["contains"] = ((start <= lb) & (stop.isna() | (stop >= le)) & ~cand["_del"]).astype(bool)
    cand["rank"] = cand["_del"].astype(int) * 100 + (~cand["contains"]).astype(int) * 10 + cand["spec"]
    return cand


def _best_content(cand: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the unique best candidate per line: _pos, id; all tied best candidates of ambiguous lines)."""
    ok = cand[cand["product_ok"] & cand["overlap"]]
    top = ok[ok["rank"] == ok.groupby("_pos")["rank"].transform("min")]
    size = top.groupby("_pos")["id"].transform("size")
    return top[size == 1][["_pos", "id"]], top[size > 1]


def match_allocations(lines: pd.DataFrame, toewijzingen: pd.DataFrame) -> pd.DataFrame:
    """The allocation each line draws on: ``toewijzing_id`` (Int64) and ``toewijzing_match``.

    ``toewijzing_match`` is "nummer" (by toewijzingnummer), "inhoud" (on content, for lines
    without a number) or None (nothing found, or ambiguous: ``explain_unmatched`` says why).
    Index = ``lines.index``. Vectorised: a merge per kind of line, then filters and a rank.
    """
    n = len(lines)
    ids = np.full(n, -1, dtype="int64")
    how = np.full(n, None, dtype=object)
    if n and len(toewijzingen):
        alloc = _allocations(toewijzingen)
        keys = _line_keys(lines)
        num = _number_candidates(keys, alloc)
        num = num[num["aanbieder_ok"]].sort_values(["_pos", "toewijzingsdatum", "id"], na_position="first")
        num = num.drop_duplicates("_pos", keep="last")
        ids[num["_pos"].to_numpy()] = num["id"].to_numpy()
        how[num["_pos"].to_numpy()] = NUMMER
        unique, _ties = _best_content(_content_candidates(keys, alloc))
        ids[unique["_pos"].to_numpy()] = unique["id"].to_numpy()
        how[unique["_pos"].to_numpy()] = INHOUD
    toewijzing_id = pd.array(ids, dtype="Int64")
    toewijzing_id[ids < 0] = pd.NA
    return pd.DataFrame({"toewijzing_id": toewijzing_id, "toewijzing_match": how}, index=lines.index)


def _join_unique(values, limit: int = 4) -> str:
    seen = list(dict.fromkeys(str(v) for v in values if v is not None and v == v))
    text = ", ".join(seen[:limit])
    return text + (f" and {len(seen) - limit} more" if len(seen) > limit else "")


def explain_unmatched(lines: pd.DataFrame, toewijzingen: pd.DataFrame) -> pd.Series:
    """Why a line has no allocation (what was searched and what was found); None when matched."""
    reason = pd.Series([None] * len(lines), dtype=object, index=lines.index)
    if not len(lines):
        return reason
    keys = _line_keys(lines)
    alloc = _allocations(toewijzingen if len(toewijzingen) else pd.DataFrame(columns=ALLOCATION_COLUMNS))
    matched = match_allocations(lines, toewijzingen)["toewijzing_id"].notna().to_numpy()
    out = np.full(len(lines), None, dtype=object)

    numbered = keys["_nummer"].notna().to_numpy() & ~matched
    if numbered.any():
        k = keys[numbered]
        gem = k["gemeente"].fillna("(none)").astype(object)
        text = "toewijzingnummer " + k["toewijzingnummer"].astype(object) + " not found for gemeente " + gem
        elsewhere = k[["_pos", "_nummer", "gemeente"]].merge(alloc[["_nummer", "gemeente"]], on="_nummer", suffixes=("", "_a"))
        elsewhere = elsewhere[elsewhere["gemeente_a"] != elsewhere["gemeente"]]
        hint = k["_pos"].map(elsewhere.groupby("_pos")["gemeente_a"].agg(_join_unique))
        text = text.where(hint.isna(), text + " (it exists for gemeente " + hint.astype(object) + ")")
        other = _number_candidates(k, alloc)
        other = other[~other["aanbieder_ok"]].drop_duplicates("_pos").set_index("_pos")
        if len(other):
            for_other = k["_pos"].map(
                "toewijzing " + other["_nummer"].astype(object) + " of gemeente " + other["gemeente"].astype(object)
                + " is for another aanbieder (" + other["aanbieder_a"].astype(object) + "), not "
                + other["aanbieder"].astype(object)
            )
            text = text.where(for_other.isna(), for_other)
        out[k["_pos"].to_numpy()] = text.to_numpy()

    loose = keys["_nummer"].isna().to_numpy() & ~matched
    if loose.any():
        k = keys[loose]
        product = k["productcode"].fillna("?").astype(object) + " (categorie " + k["productcategorie"].fillna("?").astype(object) + ")"
        who = (
            "bsn " + k["bsn"].map(mask_bsn, na_action="ignore").fillna("(none)").astype(object)
            + ", aanbieder " + k["aanbieder"].fillna("(none)").astype(object)
            + ", gemeente " + k["gemeente"].fillna("(none)").astype(object)
        )
        searched = (
            "no toewijzingnummer; searched on content (" + who + ", product " + product + ", period "
            + _date_text(k["begindatum"]) + ".." + _date_text(k["einddatum"]) + "): "
        )
        missing_key = (k["bsn"].isna() | k["aanbieder"].isna() | k["gemeente"].isna()).astype(bool)
        text = (searched + "this client has no allocation from this gemeente to this aanbieder").where(
            ~missing_key, searched + "bsn, aanbieder or gemeente is missing on the line"
        )
        cand = _content_candidates(k, alloc)
        if len(cand):
            pos = k["_pos"]
            cand["product"] = cand["productcode_a"].fillna("categorie " + cand["productcategorie_a"].fillna("any")).astype(object)
            products = pos.map(cand.groupby("_pos")["product"].agg(_join_unique))
            fitting = cand[cand["product_ok"]]
            runs = fitting["toewijzingnummer"].astype(object) + " runs " + _date_text(fitting["ingangsdatum"]) + ".." + _date_text(
                fitting["einddatum_a"], "open"
            )
            runs = pos.map(runs.groupby(fitting["_pos"]).agg(_join_unique))
            _unique, ties = _best_content(cand)
            tied = ties["toewijzingnummer"].astype(object) + np.where(ties["_del"], " (deleted)", "")
            tied = pos.map(tied.groupby(ties["_pos"]).agg(_join_unique))
            text = text.where(products.isna(), searched + "this client's allocations are for other products: " + products.astype(object))
            text = text.where(runs.isna(), searched + "no allocation for this product covers the period (toewijzing " + runs.astype(object) + ")")
            text = text.where(
                tied.isna(), searched + "ambiguous: toewijzingen " + tied.astype(object) + " fit equally well; declare with the toewijzingnummer"
            )
        out[k["_pos"].to_numpy()] = text.to_numpy()
    reason[:] = out
    return reason


# ========================================================================= rule plumbing
_cache: list = []  # [(weakref to ctx, id(lines), id(toewijzingen), id(history), prepared)]


def _prepared(ctx) -> SimpleNamespace:
    """Lines joined to their allocation (columns a_*), computed once per Context.

    ``judged`` = a debet with a matched, live allocation; ``a_del`` = matched to a deleted one.
    """
    if _cache:
        ref, lid, tid, hid, prep = _cache[0]
        if ref() is ctx and lid == id(ctx.lines) and tid == id(ctx.toewijzingen) and hid == id(ctx.history):
            return prep
    prep = _prepare(ctx)
    try:
        _cache[:] = [(weakref.ref(ctx), id(ctx.lines), id(ctx.toewijzingen), id(ctx.history), prep)]
    except TypeError:  # not weak-referenceable: no cache
        _cache.clear()
    return prep


def _prepare(ctx) -> SimpleNamespace:
    lines = ctx.lines
    toew = ctx.toewijzingen if ctx.toewijzingen is not None and len(ctx.toewijzingen) else pd.DataFrame(columns=ALLOCATION_COLUMNS)
    alloc = _allocations(toew)
    by_id = alloc.set_index("id")

    if "toewijzing_id" in lines.columns:
        tid = pd.Series(pd.array(lines["toewijzing_id"], dtype="Int64"), index=lines.index)
        how = lines["toewijzing_match"].astype(object) if "toewijzing_match" in lines.columns else pd.Series(NUMMER, index=lines.index)
    else:
        m = match_allocations(lines, toew)
        tid, how = m["toewijzing_id"], m["toewijzing_match"]

    f = pd.DataFrame(index=lines.index)
    f["id"] = pd.to_numeric(lines["id"]).astype("int64")
    for col in TEXT_COLUMNS + ["aanbieder"]:
        f[col] = _text_col(lines, col)
    f["begindatum"] = _date_col(lines, "begindatum")
    f["einddatum"] = _date_col(lines, "einddatum")
    f["volume"] = _int_col(lines, "volume")
    f["bedrag"] = _int_col(lines, "bedrag")
    f["credit"] = (_text_col(lines, "debet_credit") == "C").astype(bool)
    f["contract_eenheid"] = _text_col(lines, "contract_eenheid")
    f["contract_variant"] = _text_col(lines, "contract_variant")
    f["tid"] = tid
    f["how"] = how.where(how.notna(), None)
    found = (tid.notna() & tid.isin(by_id.index)).astype(bool)
    joined = by_id.reindex(pd.Index(tid.where(found, -1).astype("int64")))
    joined.index = f.index
    for col in ["toewijzingnummer", "bsn", "aanbieder", "gemeente", "productcategorie", "productcode", "ingangsdatum",
                "einddatum", "volume", "eenheid", "frequentie", "budget", "reden_wijziging", "toewijzingsdatum"]:
        f["a_" + col] = joined[col]
    f["found"] = found
    f["a_del"] = (joined["_del"].fillna(False).astype(bool) & found).astype(bool)
    f["judged"] = f["found"] & ~f["a_del"] & ~f["credit"]
    label = "toewijzing " + f["a_toewijzingnummer"].fillna(f["toewijzingnummer"]).fillna("?").astype(object)
    f["label"] = label.where(f["how"] != INHOUD, label + " (matched on content)")
    return SimpleNamespace(f=f, alloc=alloc, by_id=by_id)


def _none() -> pd.DataFrame:
    return findings([], "")


# ================================================================================= rules
@rule("TR338", "9338", "The line draws on an existing allocation (its toewijzingnummer, or matched on content)", family=FAMILY)
def tr338_allocation_exists(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    bad = ~f["found"] & ~f["credit"]
    if not bad.any():
        return _none()
    reasons = explain_unmatched(ctx.lines[bad.to_numpy()], ctx.toewijzingen if ctx.toewijzingen is not None else pd.DataFrame(columns=ALLOCATION_COLUMNS))
    b = f[bad]
    stale = "the allocation matched earlier (id " + b["tid"].astype("str").astype(object) + ") is no longer in the store"
    msg = "no allocation found: " + reasons.where(reasons.notna(), stale).astype(object)
    return findings(b["id"], msg.tolist(), "toewijzingnummer", b["toewijzingnummer"].astype(object).where(b["toewijzingnummer"].notna(), None).tolist())


@rule("TR304", "8187", "The allocation belongs to the line's client (BSN)", family=FAMILY)
def tr304_allocation_of_client(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    b = f[f["judged"] & f["a_bsn"].notna() & f["bsn"].notna() & (f["a_bsn"] != f["bsn"])]
    msg = b["label"] + " belongs to another client (bsn " + b["a_bsn"].map(mask_bsn).astype(object) + "), not to this line's client"
    return findings(b["id"], msg.tolist(), "bsn", b["bsn"].map(mask_bsn).tolist())


@rule("TR384", "9384", "No lines on an allocation deleted with reden wijziging 13", family=FAMILY)
def tr384_deleted(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    b = f[f["a_del"] & ~f["credit"]]
    msg = (
        b["label"] + " was deleted (reden wijziging " + b["a_reden_wijziging"].fillna("13").astype(object)
        + ", toewijzingsdatum " + _date_text(b["a_toewijzingsdatum"]) + "): a deleted allocation counts as never sent"
    )
    return findings(b["id"], msg.tolist(), "toewijzingnummer", b["a_toewijzingnummer"].astype(object).tolist())


@rule("TR307", "9307", "ProductPeriode begins on or after the allocation's ingangsdatum", family=FAMILY)
def tr307_begin_in_allocation(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    b = f[f["judged"] & (f["begindatum"] < f["a_ingangsdatum"]).fillna(False)]
    msg = b["label"] + ": ProductPeriode begins " + _date_text(b["begindatum"]) + ", before the allocation's ingangsdatum " + _date_text(b["a_ingangsdatum"])
    return findings(b["id"], msg.tolist(), "begindatum", _date_text(b["begindatum"]).tolist())


@rule("TR308", "9308", "ProductPeriode ends on or before the allocation's einddatum", family=FAMILY)
def tr308_end_in_allocation(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    b = f[f["judged"] & (f["einddatum"] > f["a_einddatum"]).fillna(False)]
    msg = b["label"] + ": ProductPeriode ends " + _date_text(b["einddatum"]) + ", after the allocation's einddatum " + _date_text(b["a_einddatum"])
    return findings(b["id"], msg.tolist(), "einddatum", _date_text(b["einddatum"]).tolist())


@rule("TR387", "9387", "ProductPeriode begins on the 1st, or on the ingangsdatum when the allocation starts later that month", family=FAMILY)
def tr387_begin_of_month(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    begin, start = f["begindatum"], f["a_ingangsdatum"]
    first = begin - pd.to_timedelta(begin.dt.day - 1, unit="D")
    later = ((start > first) & (start <= first + pd.offsets.MonthEnd(0))).fillna(False).astype(bool)
    expected = start.where(later, first)
    b_mask = f["judged"] & begin.notna() & (begin != expected).fillna(False)
    b = f[b_mask]
    why = pd.Series(np.where(later[b_mask], " (the allocation's ingangsdatum in that month)", " (the first day of the month)"), index=b.index, dtype=object)
    msg = b["label"] + ": ProductPeriode begins " + _date_text(b["begindatum"]) + "; expected " + _date_text(expected[b_mask]) + why
    return findings(b["id"], msg.tolist(), "begindatum", _date_text(b["begindatum"]).tolist())


@rule("TR388", "9388", "ProductPeriode ends on the last day, or on the einddatum when the allocation ends earlier that month", family=FAMILY)
def tr388_end_of_month(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    end, stop = f["einddatum"], f["a_einddatum"]
    last = end + pd.offsets.MonthEnd(0)
    first = end - pd.to_timedelta(end.dt.day - 1, unit="D")
    earlier = ((stop < last) & (stop >= first)).fillna(False).astype(bool)
    expected = stop.where(earlier, last)
    b_mask = f["judged"] & end.notna() & (end != expected).fillna(False)
    b = f[b_mask]
    why = pd.Series(np.where(earlier[b_mask], " (the allocation's einddatum in that month)", " (the last day of the month)"), index=b.index, dtype=object)
    msg = b["label"] + ": ProductPeriode ends " + _date_text(b["einddatum"]) + "; expected " + _date_text(expected[b_mask]) + why
    return findings(b["id"], msg.tolist(), "einddatum", _date_text(b["einddatum"]).tolist())


@rule("TR339", "9339", "ProductCategorie equals the allocation's productcategorie when it has one", family=FAMILY)
def tr339_categorie(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    b = f[f["judged"] & f["a_productcategorie"].notna() & f["productcategorie"].notna() & (f["productcategorie"] != f["a_productcategorie"])]
    msg = b["label"] + ": productcategorie " + b["productcategorie"].astype(object) + " ≠ the allocation's " + b["a_productcategorie"].astype(object)
    return findings(b["id"], msg.tolist(), "productcategorie", b["productcategorie"].astype(object).tolist())


@rule("TR340", "9340", "ProductCode equals the allocation's productcode when it has one", family=FAMILY)
def tr340_productcode(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    b = f[f["judged"] & f["a_productcode"].notna() & f["productcode"].notna() & (f["productcode"] != f["a_productcode"])]
    msg = b["label"] + ": productcode " + b["productcode"].astype(object) + " ≠ the allocation's " + b["a_productcode"].astype(object)
    return findings(b["id"], msg.tolist(), "productcode", b["productcode"].astype(object).tolist())


def _unit_name(codes: pd.Series) -> pd.Series:
    return (codes.astype(object) + " (" + codes.map(UNIT_LABEL).fillna("?").astype(object) + ")").astype(object)


@rule("TR341", "9341", "Eenheid fits the allocation's (minutes allowed against hours); without Omvang the contract's", family=FAMILY)
def tr341_eenheid(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    from_alloc = f["a_eenheid"].notna()
    target = f["a_eenheid"].where(from_alloc, f["contract_eenheid"])
    fits = (f["eenheid"] == target) | ((f["eenheid"] == MINUUT) & (target == UUR))
    bad = f["judged"] & target.notna() & f["eenheid"].notna() & ~fits
    b = f[bad]
    alloc_text = "the allocation's eenheid " + _unit_name(target[bad])
    contract_text = "the contract's eenheid " + _unit_name(target[bad]) + " for " + b["productcode"].fillna("?").astype(object) + " (the allocation has no Omvang)"
    msg = b["label"] + ": eenheid " + _unit_name(b["eenheid"]) + " does not fit " + alloc_text.where(from_alloc[bad], contract_text)
    return findings(b["id"], msg.tolist(), "eenheid", b["eenheid"].astype(object).tolist())


@rule("TR321", "9321", "Volume within what the allocation allows for the ProductPeriode (§8)", family=FAMILY)
def tr321_volume_per_period(ctx) -> pd.DataFrame:
    f = _prepared(ctx).f
    lf, af, comparable, time = _unit_factors(f["eenheid"], f["a_eenheid"])
    use = f["judged"] & f["a_volume"].notna() & f["a_frequentie"].isin(["1", "2", "4"]) & comparable
    use &= f["volume"].notna() & f["begindatum"].notna() & f["einddatum"].notna()
    g = f[use]
    if g.empty:
        return _none()
    args = dict(variant=g["contract_variant"], ingangsdatum=g["a_ingangsdatum"], einddatum=g["a_einddatum"])
    allow = period_allowance(g["a_frequentie"], g["a_volume"], g["a_eenheid"], g["begindatum"], g["einddatum"], explain=False, **args)
    limit = allow["toegestaan"] * af[use]
    over = (g["volume"] * lf[use] > limit).fillna(False).astype(bool)
    if not over.any():
        return _none()
    b = g[over]
    args = {k: v[over] for k, v in args.items()}
    why = period_allowance(b["a_frequentie"], b["a_volume"], b["a_eenheid"], b["begindatum"], b["einddatum"], **args)
    in_minutes = (b["eenheid"] == MINUUT).astype(bool)
    limit_text = _basis_text(limit[over], time[use][over], in_minutes, b["a_eenheid"])
    converted = (af[use][over] != lf[use][over]).astype(bool)
    uitleg = why["uitleg"].astype(object)
    uitleg = uitleg.where(~converted, uitleg + " = " + volume_text(why["toegestaan"], b["a_eenheid"]) + " = " + limit_text)
    msg = b["label"] + ": volume " + volume_text(b["volume"], b["eenheid"]) + " exceeds " + limit_text + " allowed: " + uitleg
    return findings(b["id"], msg.tolist(), "volume", b["volume"].astype("str").tolist())


# ------------------------------------------------------------------------ running totals
def _history_allocation(ctx, history: pd.DataFrame, by_id: pd.DataFrame) -> pd.Series:
    """The current allocation id of each history line: the id it was matched to when that still
    exists, else matched again (by number or content) against the current allocations."""
    stored = _int_col(history, "toewijzing_id")
    ok = (stored.notna() & stored.isin(by_id.index)).astype(bool)
    if (~ok).any() and len(by_id):
        again = match_allocations(history[~ok.to_numpy()], ctx.toewijzingen)["toewijzing_id"]
        stored = stored.where(ok, again.reindex(stored.index))
    return stored.astype("Int64")


def _running(ctx, value_of, limited_ids: pd.Index) -> pd.DataFrame | None:
    """Running totals per allocation for this batch's judged debets (credits counted too).

    ``value_of(frame, alloc)`` gives each row's value in the comparison basis (NA = left out).
    Returns the judged debet rows on ``limited_ids`` with sum_tid, earlier (approved before),
    batch_sum (this batch up to and including the row) and total.
    """
    prep = _prepared(ctx)
    f = prep.f.copy()
    lines = ctx.lines
    history = ctx.history if ctx.history is not None else pd.DataFrame()
    if len(history) and "id" in history.columns:
        history = history[~history["id"].isin(f["id"])]
    if not (f["judged"] & f["tid"].isin(limited_ids)).any():
        return None

    # A credit counts on the allocation of the debet it cancels, when we have that debet; not
    # at all when that debet is already marked credited (its credit was approved before).
    f["sum_tid"] = f["tid"]
    skip = pd.Series(False, index=f.index)
    credits = f["credit"] & _text_col(lines, "vorig_referentienummer").notna()
    if credits.any() and len(history) and "referentienummer" in history.columns:
        h_debets = history[(_text_col(history, "debet_credit") != "C").to_numpy()]
        h = pd.DataFrame(
            {
                "aanbieder": _text_col(h_debets, "aanbieder"),
                "ref": _text_col(h_debets, "referentienummer"),
                "h_tid": _history_allocation(ctx, h_debets, prep.by_id),
                "h_cred": h_debets["gecrediteerd"].fillna(False).astype(bool) if "gecrediteerd" in h_debets.columns else False,
            }
        ).dropna(subset=["ref"]).drop_duplicates(["aanbieder", "ref"], keep="last")
        c = pd.DataFrame({"aanbieder": f["aanbieder"], "ref": _text_col(lines, "vorig_referentienummer"), "_i": np.arange(len(f))})
        c = c[credits.to_numpy()].merge(h, on=["aanbieder", "ref"])
        pos = c["_i"].to_numpy()
        f.iloc[pos, f.columns.get_loc("sum_tid")] = c["h_tid"].to_numpy()
        skip.iloc[pos] = c["h_cred"].to_numpy()

    in_scope = f["sum_tid"].isin(limited_ids).fillna(False).astype(bool) & ~skip & ~f["a_del"]
    g = f[in_scope].copy()
    ga = prep.by_id.reindex(pd.Index(g["sum_tid"].astype("int64")))
    ga.index = g.index
    g["val"] = value_of(g, ga)
    g = g[g["val"].notna()]
    g["signed"] = g["val"].where(~g["credit"], -g["val"]).astype("int64")

    earlier = pd.Series(dtype="int64")
    if len(history):
        keep = (_text_col(history, "debet_credit") != "C").to_numpy()
        if "gecrediteerd" in history.columns:
            keep = keep & ~history["gecrediteerd"].fillna(False).astype(bool).to_numpy()
        hist = history[keep]
        if len(hist):
            hf = pd.DataFrame(
                {
                    "eenheid": _text_col(hist, "eenheid"),
                    "volume": _int_col(hist, "volume"),
                    "bedrag": _int_col(hist, "bedrag"),
                    "sum_tid": _history_allocation(ctx, hist, prep.by_id),
                },
                index=hist.index,
            )
            hf = hf[hf["sum_tid"].isin(limited_ids).fillna(False).astype(bool)]
            if len(hf):
                ha = prep.by_id.reindex(pd.Index(hf["sum_tid"].astype("int64")))
                ha.index = hf.index
                hf["val"] = value_of(hf, ha)
                hf = hf[hf["val"].notna()]
                earlier = hf["val"].astype("int64").groupby(hf["sum_tid"].astype("int64")).sum()

    g["_batch"] = pd.to_numeric(lines["batch"], errors="coerce").reindex(g.index).fillna(0) if "batch" in lines.columns else 0
    g["_debet"] = (~g["credit"]).astype(int)
    g = g.sort_values(["_batch", "_debet", "begindatum", "id"], na_position="last", kind="mergesort")
    key = g["sum_tid"].astype("int64")
    g["batch_sum"] = g["signed"].groupby(key).cumsum()
    g["earlier"] = key.map(earlier).fillna(0).astype("int64")
    g["total"] = g["earlier"] + g["batch_sum"]
    return g[g["judged"]]


def _volume_value(frame: pd.DataFrame, alloc: pd.DataFrame) -> pd.Series:
    lf, _af, comparable, _time = _unit_factors(frame["eenheid"], _as_text(alloc["eenheid"]))
    return (frame["volume"] * lf).where(comparable).astype("Int64")


def _amount_value(frame: pd.DataFrame, alloc: pd.DataFrame) -> pd.Series:
    return frame["bedrag"].astype("Int64")


@rule("TR322", "9322", "Total volume on the allocation (approved earlier + this batch) within the allocated total (§8)", family=FAMILY)
def tr322_volume_total(ctx) -> pd.DataFrame:
    prep = _prepared(ctx)
    a = prep.alloc
    total = total_allowance(a["frequentie"], a["volume"], a["eenheid"], a["ingangsdatum"], a["einddatum"], explain=False)
    total.index = a["id"].to_numpy()
    limited = total.index[total["toegestaan"].notna().to_numpy() & ~a["_del"].to_numpy()]
    g = _running(ctx, _volume_value, limited)
    if g is None or g.empty:
        return _none()
    _lf, af, _c, time = _unit_factors(g["eenheid"], g["a_eenheid"])
    limit = g["sum_tid"].astype("int64").map(total["toegestaan"]).astype("Int64") * af
    over = (g["total"] > limit).fillna(False).astype(bool)
    b = g[over]
    if b.empty:
        return _none()
    why = total_allowance(b["a_frequentie"], b["a_volume"], b["a_eenheid"], b["a_ingangsdatum"], b["a_einddatum"])
    t_over, in_min = time[over], (b["eenheid"] == MINUUT).astype(bool)
    text = lambda s: _basis_text(s, t_over, in_min, b["a_eenheid"])  # noqa: E731
    same_unit = (b["eenheid"] == b["a_eenheid"]).astype(bool)
    uitleg = why["uitleg"].astype(object).where(same_unit, why["uitleg"].astype(object) + " = " + text(limit[over]))
    msg = (
        b["label"] + ": total " + text(b["total"]) + " on the allocation exceeds " + text(limit[over]) + " allowed: " + uitleg
        + " (approved earlier " + text(b["earlier"]) + ", this batch up to and including this line " + text(b["batch_sum"]) + ")"
    )
    return findings(b["id"], msg.tolist(), "volume", b["volume"].astype("str").tolist())


@rule("TR369", "9369", "Total amount on a budget allocation (approved earlier + this batch) within the budget", family=FAMILY)
def tr369_budget(ctx) -> pd.DataFrame:
    prep = _prepared(ctx)
    a = prep.alloc
    limited = pd.Index(a.loc[a["budget"].notna() & ~a["_del"], "id"])
    g = _running(ctx, _amount_value, limited)
    if g is None or g.empty:
        return _none()
    over = (g["total"] > g["a_budget"]).fillna(False).astype(bool)
    b = g[over]
    money = lambda s: s.map(euro).astype(object)  # noqa: E731
    msg = (
        b["label"] + ": total " + money(b["total"]) + " on the allocation exceeds its budget " + money(b["a_budget"])
        + " (approved earlier " + money(b["earlier"]) + ", this batch up to and including this line " + money(b["batch_sum"]) + ")"
    )
    return findings(b["id"], msg.tolist(), "bedrag", money(b["bedrag"]).tolist())
