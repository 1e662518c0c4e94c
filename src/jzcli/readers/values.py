"""Parse raw spreadsheet cells into canonical values, one pandas Series (column) at a time.

Raw cells come from python-calamine / openpyxl (str, int, float, bool, datetime, date, time,
None) or from CSV (str). Every ``parse_*`` function takes a Series (a list is accepted too) and
returns ``Parsed(values, errors)`` with the input's index:

* ``errors[i]`` is ``None`` when the cell is fine or empty, else a short English reason;
* ``values[i]`` is missing (``pd.NA`` / ``NaT``) for empty cells and for cells with an error.

Empty means None, NaN/NA/NaT or a string of only whitespace. Nothing else is empty ("-" is an
error). Ambiguous input is an error, never a guess.

Value dtypes: money/whole numbers -> ``Int64`` (money in eurocents), dates -> ``datetime64[ns]``
at midnight, decimals -> ``object`` holding ``decimal.Decimal``, codes and text -> ``string``
(``pd.NA`` for missing). Booleans are treated as the text "TRUE"/"FALSE" (Excel's display), so a
boolean in a number or date column is an error.

Speed: columns repeat values a lot, so most parsers parse each *unique* value once and map the
result back (``pd.factorize``). Columns whose values are all different (BSN, free text) have a
vectorised numpy path for the common cases.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Container
from decimal import Decimal
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from jzcli import refdata
from jzcli.domain.codes import EENHEDEN

__all__ = [
    "Parsed",
    "normalise_text",
    "parse_money",
    "parse_decimal",
    "parse_whole",
    "parse_date",
    "parse_period",
    "parse_period_kinds",
    "parse_bsn",
    "elfproef",
    "parse_code",
    "parse_text",
    "parse_eenheid",
    "parse_debet_credit",
    "parse_agb",
    "parse_gemeente",
]


class Parsed(NamedTuple):
    """Parsed column: ``values`` and ``errors`` (None or a reason), both with the input's index."""

    values: pd.Series
    errors: pd.Series


# ---------------------------------------------------------------------------------------------
# Scalar helpers


def normalise_text(s: str) -> str:
    """Header key: lowercase, accents stripped, only letters and digits kept.

    "BSN cliënt" -> "bsnclient", "Prijs per eenheid (€)" -> "prijspereenheid". Idempotent.
    """
    out = str(s)
    for _ in range(4):  # NFKD/casefold can expose new decomposable characters; iterate to a fixpoint
        decomposed = unicodedata.normalize("NFKD", out)
        step = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
        step = "".join(ch for ch in step if ch.isalnum())
        if step == out:
            break
        out = step
    return out


_INT64_MAX = 2**63 - 1
_OK = None  # error slot for a good value


class _Err(str):
    """An error reason (a str subclass so scalar parsers can return it in place of a value)."""


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _is_float(x: Any) -> bool:
    return isinstance(x, (float, np.floating))


def _is_datetime(x: Any) -> bool:
    return isinstance(x, (dt.datetime, np.datetime64))


def _describe(x: Any) -> str:
    if isinstance(x, str):
        return "text"
    if _is_datetime(x) or isinstance(x, dt.date):
        return "a date"
    if isinstance(x, dt.time):
        return "a time"
    return type(x).__name__


# ---------------------------------------------------------------------------------------------
# Column machinery


def _series(s: Any) -> pd.Series:
    return s if isinstance(s, pd.Series) else pd.Series(list(s), dtype=object)


# Cell kinds for the vectorised paths (exact types only; subclasses take the general path).
_OTHER, _STR, _INT, _FLOAT, _BOOL, _DECIMAL = 0, 1, 2, 3, 4, 5
_KIND_OF = {str: _STR, int: _INT, float: _FLOAT, bool: _BOOL, np.bool_: _BOOL, Decimal: _DECIMAL}


def _cells(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(object ndarray of the cells, int8 kind per cell). Missing cells have kind _OTHER.

    Booleans become the text "TRUE"/"FALSE" (Excel's display). This also keeps them apart from
    1 and 0, which they equal when hashing.
    """
    arr = s.to_numpy(dtype=object, copy=True)
    n = len(arr)
    dtype = s.dtype
    if dtype == object:  # noqa: E721 (a numpy dtype compares equal to object)
        kinds = np.fromiter(map(_KIND_OF.get, map(type, arr), repeat(_OTHER)), dtype=np.int8, count=n)
    else:
        if pd.api.types.is_bool_dtype(dtype):
            k = _BOOL
        elif pd.api.types.is_integer_dtype(dtype):
            k = _INT
        elif pd.api.types.is_float_dtype(dtype):
            k = _FLOAT
        elif isinstance(dtype, pd.StringDtype):
            k = _STR
        else:
            k = _OTHER
        kinds = np.where(s.isna().to_numpy(), _OTHER, k).astype(np.int8)
    is_dec = kinds == _DECIMAL
    if is_dec.any():  # Decimal("NaN") is missing; a signalling NaN cannot even be hashed
        arr[is_dec] = [np.nan if x.is_nan() else x for x in arr[is_dec]]
        kinds[is_dec] = _OTHER
    is_bool = kinds == _BOOL
    if is_bool.any():
        arr[is_bool] = np.where(arr[is_bool].astype(bool), "TRUE", "FALSE")
        kinds[is_bool] = _STR
    return arr, kinds


def _is_datetime_column(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(s.dtype)


def _factorize_datetimes(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Factorize a datetime64 column by calendar day (fast; no Timestamp objects per cell)."""
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)  # the local wall-clock date
    days = s.to_numpy().astype("datetime64[D]")
    codes, uniques = pd.factorize(days.view(np.int64))
    codes[np.isnat(days)] = -1
    return codes, np.asarray(uniques).astype("datetime64[D]").astype(object)


class _Sink:
    """Collects per-row results in typed numpy arrays; ``kind`` is int, date, string or object."""

    def __init__(self, n: int, kind: str):
        self.kind = kind
        self.ok = np.zeros(n, dtype=bool)
        self.data = np.zeros(n, dtype=np.int64) if kind in ("int", "date") else np.full(n, None, dtype=object)
        self.errors = np.full(n, None, dtype=object)

    def put_scalar_results(
        self,
        positions: np.ndarray,
        sub: np.ndarray,
        fn: Callable[[Any], Any],
        factorized: tuple[np.ndarray, Any] | None = None,
    ) -> None:
        """Parse each unique value of ``sub`` (cells at ``positions``) with ``fn`` and map back.

        ``fn`` returns a value, or an ``_Err`` for an error, or None for empty.
        """
        if len(positions) == 0:
            return
        codes, uniques = factorized if factorized is not None else pd.factorize(sub, use_na_sentinel=True)
        m = len(uniques)
        ok = np.zeros(m + 1, dtype=bool)  # the extra last slot serves code -1 (missing)
        data = np.zeros(m + 1, dtype=np.int64) if self.kind in ("int", "date") else np.full(m + 1, None, dtype=object)
        errs = np.full(m + 1, None, dtype=object)
        for i, u in enumerate(uniques):
            if u is None:
                continue
            try:
                r = fn(u)
            except Exception as exc:  # a parser bug must not kill the import; report the cell
                r = _Err(f"cannot read value ({type(exc).__name__})")
            if isinstance(r, _Err):
                errs[i] = str(r)
            elif r is not None:
                data[i] = r
                ok[i] = True
        n = len(self.ok)
        if len(positions) == n and positions[0] == 0 and positions[-1] == n - 1:
            # Every cell (positions are increasing): take the mapped arrays as they are instead of
            # scattering into the preallocated ones (1 M cells: ~20 ms per array).
            self.data = data[codes]
            self.ok = ok[codes]
        else:
            self.data[positions] = data[codes]
            self.ok[positions] = ok[codes]
        if any(e is not None for e in errs):  # the errors array is all None until something fails
            self.errors[positions] = errs[codes]

    def result(self, index: pd.Index) -> Parsed:
        errors = pd.Series(self.errors, index=index, dtype=object)
        if self.kind == "int":
            values = pd.Series(pd.arrays.IntegerArray(self.data, ~self.ok), index=index)
        elif self.kind == "date":
            days = np.where(self.ok, self.data, 0).astype("datetime64[D]").astype("datetime64[ns]")
            days[~self.ok] = np.datetime64("NaT")
            values = pd.Series(days, index=index)
        elif self.kind == "string":
            data = self.data
            data[~self.ok] = pd.NA
            values = pd.Series(pd.array(data, dtype="string"), index=index)
        else:
            data = self.data
            data[~self.ok] = pd.NA
            values = pd.Series(data, index=index, dtype=object)
        return Parsed(values, errors)


def _run(s: Any, kind: str, fn: Callable[[Any], Any]) -> Parsed:
    """Parse every unique cell once with ``fn``."""
    s = _series(s)
    sink = _Sink(len(s), kind)
    if _is_datetime_column(s):
        sink.put_scalar_results(np.arange(len(s)), None, fn, _factorize_datetimes(s))
    else:
        arr, codes, uniques = _factorized_cells(s)
        sink.put_scalar_results(np.arange(len(arr)), arr, fn, (codes, uniques))
    return sink.result(s.index)


def _factorized_cells(s: pd.Series) -> tuple[np.ndarray, np.ndarray, Any]:
    """``_cells(s)[0]`` factorized: (cells, codes, uniques).

    A column whose distinct values are all ``str`` (every CSV column) holds no booleans or
    Decimals to convert, so the type of every cell need not be looked up (1 M cells: ~35 ms per
    column); any other column takes the ``_cells`` path.
    """
    if s.dtype == object:
        arr = s.to_numpy(dtype=object)
        try:
            codes, uniques = pd.factorize(arr, use_na_sentinel=True)
        except TypeError:  # Decimal("sNaN") cannot be hashed; _cells makes it NaN first
            pass
        else:
            if all(type(u) is str for u in uniques):
                return arr, codes, uniques
    arr, _ = _cells(s)
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    return arr, codes, uniques


def _via_uniques(s: pd.Series, parse: Callable[[pd.Series], Parsed]) -> Parsed | None:
    """``parse(s)`` computed on the distinct values of a text column and mapped back, for parsers
    that judge each cell on its own (BSN, text): a million BSN cells hold a tenth as many distinct
    values. None when the column is not all text or hardly repeats (then parse it directly)."""
    if s.dtype != object or len(s) < 1000:
        return None
    arr = s.to_numpy(dtype=object)
    try:
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    except TypeError:  # Decimal("sNaN") cannot be hashed
        return None
    if len(uniques) > len(arr) // 2 or not all(type(u) is str for u in uniques):
        return None
    once = parse(pd.Series(uniques, dtype=object))
    values = pd.Series(once.values.array.take(codes, allow_fill=True), index=s.index)
    errors = np.append(once.errors.to_numpy(dtype=object), None)[codes]  # code -1 (missing): None
    return Parsed(values, pd.Series(errors, index=s.index, dtype=object))


# ---------------------------------------------------------------------------------------------
# Numbers

_WS = re.compile(r"[\s\u00a0\u202f\u2007\u2009]+")
_CUR_LEAD = re.compile(r"^(?:€|euro|eur)(?![a-z])\s*", re.IGNORECASE)
_CUR_TRAIL = re.compile(r"\s*(?:€|euro|eur)$", re.IGNORECASE)
_BODY = re.compile(r"[0-9]+(?:[., ][0-9]+)*")
_SEP = re.compile(r"[., ]")

_NOT_A_NUMBER = "not a number"


class _Num(NamedTuple):
    """A number read from text: sign, integer digits, fraction digits ('' when none)."""

    negative: bool
    int_digits: str
    frac_digits: str


class _Ambiguous(NamedTuple):
    """One separator followed by exactly 3 digits ("1.234"): the column decides what it is."""

    negative: bool
    sep: str
    groups: tuple[str, ...]


def _thousands_ok(groups: list[str]) -> bool:
    """Thousands grouping: a first group of 1-3 digits (no leading zero), then groups of 3."""
    if len(groups) == 1:
        return True
    first = groups[0]
    return 1 <= len(first) <= 3 and not (first.startswith("0")) and all(len(g) == 3 for g in groups[1:])


def _num_from_text(text: str, forced: str | None) -> _Num | _Ambiguous | _Err | None:
    """Read a number written as text. ``forced`` is the decimal separator if the caller fixed it.

    Returns None (empty), a ``_Num``, an ``_Ambiguous`` (column decision needed) or an ``_Err``.
    """
    t = _WS.sub(" ", text.replace("\u2212", "-")).strip()
    if not t:
        return None
    negative, t = _sign_and_currency(t)
    dash = False
    for ending in (",--", ",-", ",\u2013"):  # Dutch "12,-" = 12,00
        if t.endswith(ending) and len(t) > len(ending):
            t, dash = t[: -len(ending)], True
            break
    if t and t[0] in ".," and t[1:2].isdigit() and not dash:  # ",5" / ".5"
        t = "0" + t
    if not _BODY.fullmatch(t):
        return _Err(_NOT_A_NUMBER)
    groups = _SEP.split(t)
    if sum(len(g) for g in groups) > 30:
        return _Err("number too large")
    return _grouped_number(negative, groups, _SEP.findall(t), forced, dash)


def _sign_and_currency(t: str) -> tuple[bool, str]:
    """(negative, the text without sign and currency): in either order, "-€ 12", "€ -12", "EUR 12", "12 €"."""
    negative = False
    seen_sign = seen_cur = False
    while True:
        if not seen_sign and t and t[0] in "-+":
            negative, seen_sign, t = t[0] == "-", True, t[1:].lstrip()
            continue
        m = _CUR_LEAD.match(t)
        if not seen_cur and m:
            seen_cur, t = True, t[m.end() :]
            continue
        break
    if not seen_cur:
        t = _CUR_TRAIL.sub("", t)
    return negative, t


def _grouped_number(
    negative: bool, groups: list[str], seps: list[str], forced: str | None, dash: bool
) -> _Num | _Ambiguous | _Err:
    """Digit groups and the separators between them → a number: which separator is the decimal
    one (the forced one; the last of two kinds; one "1.234" is left to the column)."""
    marks = [c for c in seps if c != " "]
    kinds = set(marks)
    if dash:
        if "," in kinds:
            return _Err(_NOT_A_NUMBER)
        return _build_num(negative, groups, "", seps)
    if forced is not None:
        if seps and seps[-1] == forced:
            return _build_num(negative, groups[:-1], groups[-1], seps[:-1])
        if forced in seps:
            return _Err(_NOT_A_NUMBER)
        return _build_num(negative, groups, "", seps)
    if len(kinds) == 2:
        if seps[-1] == " ":
            return _Err(_NOT_A_NUMBER)
        return _build_num(negative, groups[:-1], groups[-1], seps[:-1])  # last separator is the decimal one
    if len(kinds) == 1:
        c = marks[0]
        if len(marks) > 1:  # "1.234.567": thousands only
            return _build_num(negative, groups, "", seps)
        if seps[-1] != c:
            return _Err(_NOT_A_NUMBER)
        after = groups[-1]
        if len(seps) > 1 or len(after) != 3 or not _thousands_ok(groups):
            return _build_num(negative, groups[:-1], after, seps[:-1])  # cannot be a thousands separator
        return _Ambiguous(negative, c, tuple(groups))
    return _build_num(negative, groups, "", seps)


def _build_num(negative: bool, int_groups: list[str], frac: str, thousands_seps: list[str]) -> _Num | _Err:
    """The number, when the integer groups are a valid thousands grouping with one separator."""
    if len(set(thousands_seps)) > 1 or not _thousands_ok(int_groups):
        return _Err(_NOT_A_NUMBER)
    return _Num(negative, "".join(int_groups), frac)


def _evidence(text: str, r: _Num | _Ambiguous | _Err | None) -> str | None:
    """The decimal separator a text value (read as ``r``) proves on its own (',' or '.'), else None."""
    if not isinstance(r, _Num):
        return None
    t = text.strip()
    if re.search(r",[-\u2013]+$", t):
        return ","
    marks = [c for c in t if c in ".,"]
    if not marks:
        return None
    if r.frac_digits:
        return marks[-1]
    # only thousands separators ("1.234.567"): the other one is the decimal separator
    return "," if marks[-1] == "." else "."


def _decide_column(texts: dict[str, _Num | _Ambiguous | _Err | None], decimal: str) -> str | None:
    """Decimal separator for the column's ambiguous values; None when the column contradicts itself.

    With ``decimal="auto"``: if some value proves ',' decimals (and none '.') -> ','; if some value
    proves '.' decimals (and none ',') -> '.'; both -> None (ambiguous values become errors);
    neither -> ',' because these are Dutch files.
    """
    if decimal in (",", "."):
        return decimal
    found = set()
    for t, r in texts.items():
        e = _evidence(t, r)
        if e:
            found.add(e)
            if len(found) == 2:
                return None
    if found == {"."}:
        return "."
    return ","


def _resolve(r: _Num | _Ambiguous | _Err | None, column_sep: str | None) -> _Num | _Err | None:
    if not isinstance(r, _Ambiguous):
        return r
    if column_sep is None:
        return _Err("ambiguous number: the column uses both ',' and '.' as decimal separator")
    if r.sep == column_sep:
        return _Num(r.negative, r.groups[0], r.groups[1])
    return _Num(r.negative, "".join(r.groups), "")


def _check_decimal_arg(decimal: str) -> None:
    if decimal not in ("auto", ",", "."):
        raise ValueError(f"decimal must be 'auto', ',' or '.', not {decimal!r}")


def _run_number(
    s: Any, decimal: str, kind: str, from_num: Callable[[_Num], Any], from_other: Callable[[Any], Any]
) -> Parsed:
    """Shared driver for money / decimal / whole: decide the column separator, then parse uniques."""
    _check_decimal_arg(decimal)
    forced = decimal if decimal in (",", ".") else None
    s = _series(s)
    arr, codes, uniques = _factorized_cells(s)
    texts = {u: _num_from_text(u, forced) for u in uniques if isinstance(u, str)}
    column_sep = _decide_column(texts, decimal)

    def fn(x: Any) -> Any:
        if isinstance(x, str):
            r = _resolve(texts[x], column_sep)
            if r is None or isinstance(r, _Err):
                return r
            return from_num(r)
        return from_other(x)

    sink = _Sink(len(arr), kind)
    sink.put_scalar_results(np.arange(len(arr)), arr, fn, (codes, uniques))
    return sink.result(s.index)


def _float_decimal(x: float) -> Decimal | _Err:
    x = float(x)
    if not math.isfinite(x):
        return _Err(_NOT_A_NUMBER)
    if abs(x) >= 1e16:
        return _Err("number too large")
    return Decimal(repr(x))


def _other_decimal(x: Any) -> Decimal | _Err:
    """A non-text cell as Decimal (ints exact, floats via repr)."""
    if _is_int(x):
        return Decimal(int(x))
    if _is_float(x):
        return _float_decimal(x)
    if isinstance(x, Decimal):
        return x if x.is_finite() else _Err(_NOT_A_NUMBER)
    return _Err(f"{_NOT_A_NUMBER} ({_describe(x)})")


def _to_int64(v: int, what: str = "number too large") -> int | _Err:
    return v if -_INT64_MAX <= v <= _INT64_MAX else _Err(what)


def _money_from_num(r: _Num) -> int | _Err:
    if len(r.frac_digits) > 2:
        return _Err("more than 2 decimals for an amount")
    cents = int(r.int_digits + r.frac_digits.ljust(2, "0"))
    return _to_int64(-cents if r.negative else cents)


_CENT = Decimal("0.01")
_FLOAT_NOISE = Decimal("1e-9")
_TOO_LARGE = Decimal(10**17)


def _money_from_other(x: Any) -> int | _Err:
    if _is_int(x):
        return _to_int64(int(x) * 100)
    d = _other_decimal(x)
    if isinstance(d, _Err):
        return d
    if abs(d) >= _TOO_LARGE:
        return _Err("number too large")
    q = d.quantize(_CENT)
    # more than 2 decimals is an error, unless it is binary float noise (0.1 + 0.2)
    if q != d and not (_is_float(x) and abs(d - q) < _FLOAT_NOISE):
        return _Err("more than 2 decimals for an amount")
    return _to_int64(int(q * 100))


def parse_money(s: Any, decimal: str = "auto") -> Parsed:
    """Amounts -> nullable Int64 **eurocents**; no float arithmetic.

    Text: "1.234,56", "€ 98,50", "EUR 98,50", "98,50 €", "-12,00", "- 12,00", "98.50", "1234",
    "1 234,56" (space or no-break space thousands), "12,-" (= 12,00). Brackets "(12,00)" are an error.
    Numbers: ints; floats via ``Decimal(repr(x))``, where more than 2 decimals is an error unless
    it is float noise (difference to the cent value < 1e-9, e.g. 0.1 + 0.2).

    Separators (``decimal="auto"``): per value, if both '.' and ',' occur the last one is the
    decimal separator; a single separator not followed by exactly 3 digits is the decimal
    separator. A single separator followed by exactly 3 digits ("1.234", "1,234") is decided for
    the whole column: if other text values prove ',' decimals the column is Dutch ('.' is
    thousands); if they prove '.' decimals, ',' is thousands; if they prove both, such values are
    errors; with no evidence the column is taken as Dutch. ``decimal=","`` or ``"."`` forces it.
    More than 2 decimals is an error.
    """
    return _run_number(s, decimal, "int", _money_from_num, _money_from_other)


def _decimal_from_num(r: _Num) -> Decimal:
    text = r.int_digits + ("." + r.frac_digits if r.frac_digits else "")
    d = Decimal(text)
    return -d if r.negative else d


def parse_decimal(s: Any, decimal: str = "auto") -> Parsed:
    """Numbers -> ``decimal.Decimal`` objects (object dtype), any number of decimals.

    Same text rules and column separator decision as ``parse_money``. Floats go through
    ``repr`` (98.5 -> Decimal("98.5"); 0.1 + 0.2 -> Decimal("0.30000000000000004")).
    """
    return _run_number(s, decimal, "object", _decimal_from_num, _other_decimal)


def _whole_from_num(r: _Num) -> int | _Err:
    if r.frac_digits.strip("0"):
        return _Err("not a whole number")
    v = int(r.int_digits)
    return _to_int64(-v if r.negative else v)


def _whole_from_other(x: Any) -> int | _Err:
    d = _other_decimal(x)
    if isinstance(d, _Err):
        return d
    i = d.to_integral_value()
    if d != i:
        if not (_is_float(x) and abs(d - i) < _FLOAT_NOISE):
            return _Err("not a whole number")
    return _to_int64(int(i))


def parse_whole(s: Any, decimal: str = "auto") -> Parsed:
    """Whole numbers (volumes) -> Int64: "3", "3,0", 3.0, "1.200" (Dutch thousands: 1200).

    "1,5" -> "not a whole number". Negative numbers are allowed (the caller decides). Same
    separator rules as ``parse_money``, so "1.200" is 1200 unless the column uses '.' decimals.
    """
    return _run_number(s, decimal, "int", _whole_from_num, _whole_from_other)


# ---------------------------------------------------------------------------------------------
# Dates

_EPOCH = dt.date(1970, 1, 1)
_MIN_DATE = dt.date(1900, 1, 1)
_MAX_DATE = dt.date(2100, 12, 31)
_EXCEL_BASE = dt.date(1899, 12, 30)
_MAX_SERIAL = (_MAX_DATE - _EXCEL_BASE).days  # 73415
_OUT_OF_RANGE = "date out of range (1900-2100)"
_NOT_A_DATE = "not a date"
_TWO_DIGIT_YEAR = "two-digit year is ambiguous; write the year in full"

_MONTHS = {
    "jan": 1,
    "januari": 1,
    "january": 1,
    "feb": 2,
    "febr": 2,
    "februari": 2,
    "february": 2,
    "mrt": 3,
    "maa": 3,
    "maart": 3,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "mei": 5,
    "may": 5,
    "jun": 6,
    "juni": 6,
    "june": 6,
    "jul": 7,
    "juli": 7,
    "july": 7,
    "aug": 8,
    "augustus": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "okt": 10,
    "oktober": 10,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}

_TIME = r"(?:[ t]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]+)?)?)?"
_RE_ISO = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})" + _TIME)
_RE_DMY = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})" + _TIME)
_RE_DMY2 = re.compile(r"[0-9]{1,2}([-/.])[0-9]{1,2}\1[0-9]{2}" + _TIME)
_RE_YMD8 = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_RE_DMONY = re.compile(r"([0-9]{1,2})[\s\-./]*([a-z]+)\.?[\s\-./']*([0-9]{2,4})")


def _in_range(d: dt.date) -> int | _Err:
    if not (_MIN_DATE <= d <= _MAX_DATE):
        return _Err(_OUT_OF_RANGE)
    return (d - _EPOCH).days


def _ymd(y: int, m: int, d: int) -> dt.date | _Err:
    if not (1900 <= y <= 2100):
        return _Err(_OUT_OF_RANGE)
    try:
        return dt.date(y, m, d)
    except ValueError:
        return _Err(f"{_NOT_A_DATE} (no such day)")


def _time_ok(h: str | None, mi: str | None, sec: str | None) -> bool:
    return h is None or (int(h) < 24 and int(mi) < 60 and (sec is None or int(sec) < 60))


def _date_from_text(text: str) -> dt.date | _Err | None:
    t = _WS.sub(" ", text).strip().lower()
    if not t:
        return None
    m = _RE_ISO.fullmatch(t)
    if m:
        if not _time_ok(m.group(5), m.group(6), m.group(7)):
            return _Err(_NOT_A_DATE)
        return _ymd(int(m.group(1)), int(m.group(3)), int(m.group(4)))
    m = _RE_DMY.fullmatch(t)
    if m:  # day first (Dutch): "03/04/2025" is 3 April 2025
        if not _time_ok(m.group(5), m.group(6), m.group(7)):
            return _Err(_NOT_A_DATE)
        return _ymd(int(m.group(4)), int(m.group(3)), int(m.group(1)))
    if _RE_DMY2.fullmatch(t):
        return _Err(_TWO_DIGIT_YEAR)
    m = _RE_YMD8.fullmatch(t)
    if m:
        return _ymd(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _RE_DMONY.fullmatch(t)
    if m and m.group(2) in _MONTHS:
        if len(m.group(3)) != 4:
            return _Err(_TWO_DIGIT_YEAR) if len(m.group(3)) == 2 else _Err(_NOT_A_DATE)
        return _ymd(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)))
    return _Err(_NOT_A_DATE)


def _date_from_serial(x: Any) -> dt.date | _Err:
    """Excel 1900 date system; serial 60 is Excel's non-existent 29-02-1900."""
    v = float(x)
    if not math.isfinite(v):
        return _Err(_NOT_A_DATE)
    n = math.floor(v)
    if 19000101 <= n <= 21001231 and n == v:  # a number typed as yyyymmdd
        r = _ymd(n // 10000, n // 100 % 100, n % 100)
        if not isinstance(r, _Err):
            return r
    if n == 60:
        return _Err(f"{_NOT_A_DATE} (Excel serial 60 is the non-existent 29-02-1900)")
    if not (1 <= n <= _MAX_SERIAL):
        return _Err(_OUT_OF_RANGE)
    return _EXCEL_BASE + dt.timedelta(days=n if n > 60 else n + 1)


def _to_date(x: Any) -> dt.date | _Err | None:
    """Any cell -> date (or error / None). datetime cells keep their date, the time is dropped."""
    if isinstance(x, str):
        return _date_from_text(x)
    if isinstance(x, np.datetime64):
        if np.isnat(x):
            return None
        x = x.astype("datetime64[D]").astype(object)  # a date, or an int when beyond year 9999
        if not isinstance(x, dt.date):
            return _Err(_OUT_OF_RANGE)
    if isinstance(x, dt.datetime):
        if not (1900 <= x.year <= 2100):
            return _Err(_OUT_OF_RANGE)
        return x.date()
    if isinstance(x, dt.date):
        return x
    if isinstance(x, dt.time):
        return _Err(f"{_NOT_A_DATE} (a time of day)")
    if _is_int(x) or _is_float(x):
        return _date_from_serial(x)
    return _Err(f"{_NOT_A_DATE} ({_describe(x)})")


def _date_cell(x: Any) -> int | _Err | None:
    d = _to_date(x)
    if d is None or isinstance(d, _Err):
        return d
    return _in_range(d)


def parse_date(s: Any) -> Parsed:
    """Dates -> ``datetime64[ns]`` at midnight.

    Accepts date/datetime cells (a datetime's time of day is dropped, also when it is not
    00:00:00), Excel serial numbers (1900 date system: serial 1 = 1900-01-01; serial 60 is Excel's
    fictitious 29-02-1900 -> error; serials above 60 are shifted by one day; 1..73415 =
    1900-01-01..2100-12-31), whole numbers 19000101..21001231 read as yyyymmdd, and text:
    "dd-mm-yyyy", "d-m-yyyy", "dd/mm/yyyy", "dd.mm.yyyy" (always day first: "03/04/2025" is
    3 April), "yyyy-mm-dd" (optionally with " hh:mm[:ss]" or "T"), "yyyymmdd", "d maart 2025",
    "1 mrt 2025", "01-mrt-2025" (Dutch and English month names/abbreviations). Two-digit years
    and dates outside 1900-01-01..2100-12-31 are errors.
    """
    return _run(s, "date", _date_cell)


# ---------------------------------------------------------------------------------------------
# Periods

_RE_YM = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})")
_RE_MY = re.compile(r"([0-9]{1,2})[-/.]([0-9]{4})")
_RE_MY2 = re.compile(r"([0-9]{1,2})[-/.]([0-9]{2})")
_RE_YM6 = re.compile(r"([0-9]{4})([0-9]{2})")
_RE_MONY = re.compile(r"([a-z]+)\.?[\s\-./']*([0-9]{2,4})")
_RE_YMON = re.compile(r"([0-9]{4})[\s\-./]*([a-z]+)\.?")
_RANGE_SPLIT = re.compile(r"\s+(?:t/m\.?|tm|tot en met|-|to|until|through)\s+|\s*[\u2013\u2014]\s*")


# What a period cell gave (``parse_period_kinds``): bit 1 = the begin came from a month, bit 2 = the
# end came from a month, bit 4 = the cell is one full date (not a month, not a range).
PERIOD_FROM_MONTH_BEGIN = 1
PERIOD_FROM_MONTH_END = 2
PERIOD_FROM_MONTH = 3
PERIOD_ONE_DATE = 4


def _period_from_text(text: str) -> tuple[dt.date, dt.date, int] | _Err | None:
    t = _WS.sub(" ", text).strip().lower()
    if not t:
        return None
    m = _RE_YM.fullmatch(t)
    if m:
        return _month(int(m.group(1)), int(m.group(2)))
    m = _RE_MY.fullmatch(t)
    if m:
        return _month(int(m.group(2)), int(m.group(1)))
    m = _RE_YM6.fullmatch(t)
    if m:
        return _month(int(m.group(1)), int(m.group(2)))
    m = _RE_MONY.fullmatch(t)
    if m and m.group(1) in _MONTHS:
        if len(m.group(2)) != 4:
            return _Err(_TWO_DIGIT_YEAR) if len(m.group(2)) == 2 else _Err("not a period")
        return _month(int(m.group(2)), _MONTHS[m.group(1)])
    m = _RE_YMON.fullmatch(t)
    if m and m.group(2) in _MONTHS:
        return _month(int(m.group(1)), _MONTHS[m.group(2)])
    if _RE_MY2.fullmatch(t):
        return _Err(_TWO_DIGIT_YEAR)
    d = _date_from_text(t)
    if isinstance(d, dt.date):
        return _one_date(d)
    if isinstance(d, _Err) and d != _NOT_A_DATE:
        return d
    parts = _RANGE_SPLIT.split(t)
    if len(parts) == 2:
        first, last = _period_side(parts[0]), _period_side(parts[1])
        if isinstance(first, _Err) or isinstance(last, _Err):
            return first if isinstance(first, _Err) else last
        if first is None or last is None:
            return _Err("not a period")
        begin, end = first[0], last[1]
        if end < begin:
            return _Err("period ends before it begins")
        return begin, end, (first[2] & PERIOD_FROM_MONTH_BEGIN) | (last[2] & PERIOD_FROM_MONTH_END)
    return _Err("not a period")


def _month(y: int, m: int) -> tuple[dt.date, dt.date, int] | _Err:
    if not (1900 <= y <= 2100):
        return _Err(_OUT_OF_RANGE)
    if not 1 <= m <= 12:
        return _Err("not a period (no such month)")
    return dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1]), PERIOD_FROM_MONTH


def _one_date(d: dt.date | _Err | None) -> tuple[dt.date, dt.date, int] | _Err | None:
    """A full date in a period cell: the month it falls in, marked as one date (the reader decides)."""
    if d is None or isinstance(d, _Err):
        return d
    r = _month(d.year, d.month)
    if isinstance(r, _Err):
        return r
    return r[0], r[1], PERIOD_ONE_DATE | (d.day << 3)


def _period_side(text: str) -> tuple[dt.date, dt.date, int] | _Err | None:
    """One side of a range: a full date stays that date; a month gives its first/last day."""
    d = _date_from_text(text)
    if isinstance(d, dt.date):
        return d, d, 0
    if _RE_DMY.fullmatch(text) or _RE_ISO.fullmatch(text):
        return d
    r = _period_from_text(text)
    if isinstance(r, tuple) and r[2] & PERIOD_ONE_DATE:
        return r[0], r[1], 0
    return r


def _period_cell(x: Any) -> tuple[dt.date, dt.date, int] | _Err | None:
    if isinstance(x, str):
        r = _period_from_text(x)
    elif _is_int(x) or (_is_float(x) and math.isfinite(float(x)) and float(x).is_integer()):
        n = int(x)
        if 190001 <= n <= 210012 and 1 <= n % 100 <= 12:  # a number typed as yyyymm
            r = _month(n // 100, n % 100)
        else:
            r = _one_date(_to_date(x))
    else:
        r = _one_date(_to_date(x))
    if r is None or isinstance(r, _Err):
        return r
    begin, end, _kind = r
    if not (_MIN_DATE <= begin and end <= _MAX_DATE):
        return _Err(_OUT_OF_RANGE)
    return r


def parse_period(s: Any) -> tuple[Parsed, Parsed]:
    """Period cells -> ``(begin, end)``: two ``Parsed`` sharing one ``errors`` Series.

    A month gives its first and last day: "2025-03", "2025-3", "03-2025", "3-2025", "03/2025",
    "202503" (text or number), "maart 2025", "mrt 2025", "Maart 2025", "2025 maart". A date cell,
    Excel serial or date text gives the month it falls in (``parse_period_kinds`` says which cells
    were such a date: the declaration reader does not take a full date for a month). A range gives
    its own dates: "2025-03-01 t/m 2025-03-31", "01-03-2025 - 31-03-2025" (also "tm", "tot en met",
    en dash; a month on either side stands for its first/last day). "tot" alone is not accepted
    (inclusive or not is unclear). Two-digit years ("mrt-25") and ranges that end before they begin
    are errors.
    """
    begin, end, _kinds = parse_period_kinds(s)
    return begin, end


def parse_period_kinds(s: Any) -> tuple[Parsed, Parsed, pd.Series]:
    """``parse_period`` and, per cell, what it gave (Int64, NA where empty or unreadable): a bit
    mask of PERIOD_FROM_MONTH_BEGIN / PERIOD_FROM_MONTH_END (that side is a month's first/last
    day) and PERIOD_ONE_DATE (the cell is one full date; its day of the month times 8 is added)."""
    s = _series(s)
    n = len(s)

    # begin, end and kind packed in one int: ((kind * 10**7) + begin + 10**6) * 10**7 + end + 10**6
    def cell(x: Any) -> Any:
        r = _period_cell(x)
        if r is None or isinstance(r, _Err):
            return r
        return ((r[2] * 10**7 + (r[0] - _EPOCH).days + 10**6) * 10**7) + (r[1] - _EPOCH).days + 10**6

    pairs = _Sink(n, "int")
    if _is_datetime_column(s):
        pairs.put_scalar_results(np.arange(n), None, cell, _factorize_datetimes(s))
    else:
        arr, codes, uniques = _factorized_cells(s)
        pairs.put_scalar_results(np.arange(n), arr, cell, (codes, uniques))
    begin, end = _Sink(n, "date"), _Sink(n, "date")
    begin.ok = end.ok = pairs.ok
    high = pairs.data // 10**7
    begin.data = high % 10**7 - 10**6
    end.data = pairs.data % 10**7 - 10**6
    kinds = pd.Series(pd.arrays.IntegerArray(high // 10**7, ~np.asarray(pairs.ok, dtype=bool)), index=s.index)
    errors = pd.Series(pairs.errors, index=s.index, dtype=object)
    return Parsed(begin.result(s.index).values, errors), Parsed(end.result(s.index).values, errors), kinds


# ---------------------------------------------------------------------------------------------
# Identifiers: BSN, AGB, codes


def _digits_view(strs: np.ndarray, width: int) -> np.ndarray:
    """(k, width) uint32 code points of k strings that all have exactly ``width`` characters."""
    u = np.array(strs, dtype=f"U{width}") if len(strs) else np.empty(0, dtype=f"U{width}")
    return u.view(np.uint32).reshape(-1, width)


def _all_digits(strs: np.ndarray, width: int) -> np.ndarray:
    mat = _digits_view(strs, width)
    return ((mat >= 48) & (mat <= 57)).all(axis=1)


def _padded_number(width: int, label: str) -> Callable[[Any], Any]:
    """Scalar parser for digit identifiers (BSN, AGB): numbers and digit text are zero-padded."""
    plain = re.compile(r"[0-9]+")
    floaty = re.compile(r"([0-9]+)\.0+")  # "999900006.0": a number rendered as text
    grouped = re.compile(r"[0-9]+(?:[ .\-][0-9]+)+")  # _WS has turned no-break spaces into spaces

    def check(digits: str, pad: bool) -> str | _Err:
        if len(digits) > width or (not pad and len(digits) != width):
            return _Err(f"{label} must have {width} digits")
        if int(digits) == 0:
            return _Err(f"{label} cannot be zero")
        return digits.zfill(width)

    def fn(x: Any) -> Any:
        if isinstance(x, str):
            t = _WS.sub(" ", x).strip()
            if not t:
                return None
            if plain.fullmatch(t):
                return check(t, True)
            m = floaty.fullmatch(t)
            if m and len(m.group(1)) <= width:
                return check(m.group(1), True)
            if grouped.fullmatch(t):
                return check(re.sub(r"[ .\-]", "", t), False)
            if re.search(r"[^0-9 .\-]", t):
                return _Err(f"{label} may only contain digits")
            if sum(ch.isdigit() for ch in t) != width:
                return _Err(f"{label} must have {width} digits")
            return _Err(f"{label}: separators are only allowed between digits")
        if _is_int(x) or _is_float(x):
            v = float(x) if _is_float(x) else int(x)
            if _is_float(x) and (not math.isfinite(v) or not v.is_integer()):
                return _Err(f"{label} must be a whole number")
            if v < 0:
                return _Err(f"{label} cannot be negative")
            if v >= 10**width:
                return _Err(f"{label} must have {width} digits")
            return check(str(int(v)), True)
        return _Err(f"{label} may only contain digits ({_describe(x)})")

    return fn


_BSN_CELL = _padded_number(9, "BSN")
_BSN_FORM = re.compile(r"\s*[0-9]+(?:[ .\-\u00a0\u202f][0-9]+)*\s*")  # digits, maybe grouped
_FLOATY = re.compile(r"\s*[0-9]+\.0+\s*")


def parse_bsn(s: Any) -> Parsed:
    """BSN -> 9-character digit strings (``string`` dtype). Does NOT apply the 11-proef.

    Numbers and plain digit text are zero-padded to 9 (999900006.0 -> "999900006", 12345672 ->
    "012345672"; Excel drops leading zeros, also in CSV exports). Text with spaces, dots or dashes
    between digits ("9999 00 006", "9999.00.006") must have exactly 9 digits. More than 9 digits,
    other characters, non-whole numbers and zero are errors. Vectorised for the common cases
    (9-digit text, ints, whole floats); other cells are parsed one unique value at a time.
    """
    s = _series(s)
    mapped = _via_uniques(s, parse_bsn)
    if mapped is not None:
        return mapped
    arr, kinds = _cells(s)
    n = len(arr)
    sink = _Sink(n, "string")
    done = np.zeros(n, dtype=bool)
    # 9-character digit strings (the common CSV case)
    pos = np.flatnonzero(kinds == _STR)
    if len(pos):
        strs = arr[pos]
        lens = np.fromiter(map(len, strs), dtype=np.int64, count=len(strs))
        nine = pos[lens == 9]
        good = nine[_all_digits(arr[nine], 9)]
        good = good[arr[good] != "000000000"]
        sink.data[good] = arr[good]
        sink.ok[good] = True
        done[good] = True
        # other text with 9 digits, maybe grouped by spaces, dots or dashes ("9999 00 006")
        pos = pos[~done[pos]]
        form = np.fromiter(map(bool, map(_BSN_FORM.fullmatch, arr[pos])), dtype=bool, count=len(pos))
        pos = pos[form]
        digits = np.array(
            [
                x.replace(" ", "").replace(".", "").replace("-", "").replace("\u00a0", "").replace("\u202f", "").strip()
                for x in arr[pos]
            ],
            dtype=object,
        )
        floaty = np.array(["." in x and _FLOATY.fullmatch(x) is not None for x in arr[pos]], dtype=bool)
        pos, digits = pos[~floaty], digits[~floaty]  # "12345672.0" is a number as text: padded later
        lens = np.fromiter(map(len, digits), dtype=np.int64, count=len(pos))
        nine = lens == 9
        pos, digits = pos[nine], digits[nine]
        good = _all_digits(digits, 9) & (digits != "000000000")
        sink.data[pos[good]] = digits[good]
        sink.ok[pos[good]] = True
        done[pos[good]] = True
    # whole numbers (Excel cells)
    for typ, kind in ((int, _INT), (float, _FLOAT)):
        pos = np.flatnonzero(kinds == kind)
        if not len(pos):
            continue
        try:
            nums = arr[pos].astype(np.float64 if typ is float else np.int64)
        except OverflowError:
            continue
        good = (nums >= 1) & (nums < 1_000_000_000)
        if typ is float:
            good &= np.floor(nums) == nums
        good_pos = pos[good]
        if len(good_pos):
            ints = nums[good].astype(np.int64)
            sink.data[good_pos] = np.char.zfill(ints.astype("U9"), 9).astype(object)
            sink.ok[good_pos] = True
            done[good_pos] = True
    rest = np.flatnonzero(~done)
    sink.put_scalar_results(rest, arr[rest], _BSN_CELL)
    return sink.result(s.index)


_ELF_WEIGHTS = np.array([9, 8, 7, 6, 5, 4, 3, 2, -1], dtype=np.int64)


def elfproef(bsn: Any) -> pd.Series:
    """Vectorised 11-proef (CS002): sum(9*d1 + 8*d2 + ... + 2*d8) - d9 = 0 (mod 11).

    Input: BSN strings (as from ``parse_bsn``). Missing values, non-strings and anything that is
    not exactly 9 digits give False. Note "000000000" satisfies the formula (``parse_bsn`` rejects it).
    """
    s = _series(bsn)
    arr, kinds = _cells(s)
    out = np.zeros(len(arr), dtype=bool)
    pos = np.flatnonzero(kinds == _STR)
    if len(pos):
        lens = np.fromiter(map(len, arr[pos]), dtype=np.int64, count=len(pos))
        pos = pos[lens == 9]
        mat = _digits_view(arr[pos], 9).astype(np.int64)
        digits = ((mat >= 48) & (mat <= 57)).all(axis=1)
        total = (mat - 48) @ _ELF_WEIGHTS
        out[pos] = digits & (total % 11 == 0)
    return pd.Series(out, index=s.index, dtype=bool)


_AGB_CELL = _padded_number(8, "AGB code")


def parse_agb(s: Any) -> Parsed:
    """AGB codes -> 8-digit strings. Numbers and plain digit text are zero-padded (Excel drops
    leading zeros); text with spaces/dots/dashes must have exactly 8 digits; else an error."""
    return _run(s, "string", _AGB_CELL)


def _number_text(x: Any) -> str | _Err:
    """A numeric cell as text: whole floats without ".0" (Excel turns 123 into 123.0)."""
    if _is_int(x):
        return str(int(x))
    v = float(x)
    if not math.isfinite(v):
        return _Err("not a finite number")
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def _text_of(x: Any) -> str | _Err | None:
    if isinstance(x, str):
        t = x.strip()
        return t or None
    if _is_int(x) or _is_float(x):
        return _number_text(x)
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, np.datetime64):
        return str(x)
    if isinstance(x, dt.datetime):
        return (
            x.isoformat(sep=" ")
            if (x.hour, x.minute, x.second, x.microsecond) != (0, 0, 0, 0)
            else x.date().isoformat()
        )
    if isinstance(x, (dt.date, dt.time)):
        return x.isoformat()
    return str(x).strip() or None


def parse_code(s: Any, width: int) -> Parsed:
    """Codes -> text (``string``): digit codes zero-padded to ``width`` ("4" -> "04", 381 ->
    "0381" for width 4, 45.0 -> "45"); more digits than ``width`` is an error. Codes that are not
    all digits stay as stripped text (use ``parse_text`` for product codes such as "45A48")."""

    def fn(x: Any) -> Any:
        if _is_int(x) or _is_float(x):
            if _is_float(x) and not (math.isfinite(float(x)) and float(x).is_integer()):
                return _Err("not a whole-number code")
            if x < 0:
                return _Err("a code cannot be negative")
        t = _text_of(x)
        if t is None or isinstance(t, _Err):
            return t
        if t.isascii() and t.isdigit():
            if len(t) > width:
                return _Err(f"code has more than {width} digits")
            return t.zfill(width)
        return t

    return _run(s, "string", fn)


def parse_text(s: Any, max_len: int | None = None) -> Parsed:
    """Text -> stripped ``string`` or NA. Whole floats lose ".0" (123.0 -> "123"); dates become
    ISO text; booleans "TRUE"/"FALSE". Longer than ``max_len`` characters -> error.
    Vectorised for text cells (all-unique columns such as reference numbers)."""
    s = _series(s)
    mapped = _via_uniques(s, lambda u: parse_text(u, max_len))
    if mapped is not None:
        return mapped
    arr, kinds = _cells(s)
    n = len(arr)
    sink = _Sink(n, "string")
    is_str = kinds == _STR
    pos = np.flatnonzero(is_str)
    too_long = f"longer than {max_len} characters"
    if len(pos):
        stripped = np.fromiter(map(str.strip, arr[pos]), dtype=object, count=len(pos))
        lens = np.fromiter(map(len, stripped), dtype=np.int64, count=len(pos))
        ok = lens > 0
        if max_len is not None:
            long = lens > max_len
            sink.errors[pos[long]] = too_long
            ok &= ~long
        sink.data[pos[ok]] = stripped[ok]
        sink.ok[pos[ok]] = True
    rest = np.flatnonzero(~is_str)

    def fn(x: Any) -> Any:
        t = _text_of(x)
        if isinstance(t, str) and not isinstance(t, _Err) and max_len is not None and len(t) > max_len:
            return _Err(too_long)
        return t

    sink.put_scalar_results(rest, arr[rest], fn)
    return sink.result(s.index)


# ---------------------------------------------------------------------------------------------
# Code lists

_EENHEID_NAMES = {
    "01": ["minuut", "minuten", "min", "mins", "minute", "minutes"],
    "04": ["uur", "uren", "u", "hour", "hours", "hr", "hrs"],
    "14": ["etmaal", "etmalen", "etm", "dag", "dagen", "day", "days"],
    "16": ["dagdeel", "dagdelen", "dagdeel4uur", "dagdelen4uur"],
    "82": ["stuksoutput", "stukoutput", "output"],
    "83": ["euro", "euros", "eur", "€"],
    "84": ["stuksinspanning", "stukinspanning", "inspanning"],
}
_EENHEID_BY_NAME = {name: code for code, names in _EENHEID_NAMES.items() for name in names}
_EENHEID_BY_NAME.update({normalise_text(v): k for k, v in EENHEDEN.items()})
_STUKS = {"stuks", "stuk", "st", "stk", "stks"}
_VALID_EENHEDEN = ", ".join(EENHEDEN)


def _eenheid_cell(x: Any) -> Any:
    t = _text_of(x)
    if t is None or isinstance(t, _Err):
        return t
    if _is_float(x) and not float(x).is_integer():
        return _Err(f"unknown eenheid {t!r} (valid: {_VALID_EENHEDEN})")
    m = re.fullmatch(r"([0-9]{1,2})\s*(?:[-:\u2013]\s*)?(.*)", t)
    code_part, name_part = (m.group(1).zfill(2), m.group(2)) if m else (None, t)
    by_name = None
    if name_part:
        key = "€" if name_part.strip() == "€" else normalise_text(name_part)
        if key in _STUKS:
            if code_part in ("82", "84"):
                return code_part
            return _Err(f"ambiguous eenheid {t!r}: use 82 (Stuks (output)) or 84 (Stuks (inspanning))")
        by_name = _EENHEID_BY_NAME.get(key)
        if by_name is None:
            return _Err(f"unknown eenheid {t!r} (valid: {_VALID_EENHEDEN} or their names)")
    try:
        return agreeing_code(code_part, by_name, t, EENHEDEN, "eenheid", _VALID_EENHEDEN)
    except ValueError as exc:
        return _Err(str(exc))


def agreeing_code(code: str | None, named: str | None, text: str, codes: Container[str], what: str, valid: str):
    """What a cell holding a code, a name or both ("04 uur", "uur", "4") says: the code, which
    must be one of ``codes`` and agree with the name's; else ValueError with the reason."""
    if code is not None:
        if code not in codes:
            raise ValueError(f"unknown {what} code {text!r} (valid: {valid})")
        if named is not None and named != code:
            raise ValueError(f"{what} code and name disagree: {text!r}")
        return code
    return named


def parse_eenheid(s: Any) -> Parsed:
    """iJw WJ756 Eenheid -> "01", "04", "14", "16", "82", "83" or "84".

    From a code (1, "1", "01", 4.0, ...) or a name, case-insensitive: minuut/minuten/min,
    uur/uren/u/hour/hours, dagdeel/dagdelen, etmaal/etmalen/dag/dagen/etm, "stuks (output)",
    "stuks (inspanning)", euro/euro's/eur/€; also "04 Uur" or "04 - Uur" when code and name agree.
    Plain "stuks"/"stuk" is an error (82 or 84?); unknown codes list the valid ones.
    """
    return _run(s, "string", _eenheid_cell)


_DC = {"d": "D", "debet": "D", "debit": "D", "db": "D", "c": "C", "credit": "C", "cr": "C"}


def _dc_cell(x: Any) -> Any:
    t = _text_of(x)
    if t is None or isinstance(t, _Err):
        return t
    r = _DC.get(normalise_text(t))
    return r if r else _Err(f"not D or C: {t!r}")


def parse_debet_credit(s: Any) -> Parsed:
    """Debet/credit indicator -> "D" or "C" from D, C, debet, debit, credit, db, cr (any case)."""
    return _run(s, "string", _dc_cell)


_RE_GM_CODE = re.compile(r"(?:gm)?\s*-?\s*([0-9]+)(?:\.0+)?", re.IGNORECASE)
_RE_GM_CODE_NAME = re.compile(r"(?:gm)?\s*([0-9]{1,4})\s*(?:[-:,\u2013]\s*|\s)(.*\S)", re.IGNORECASE)
_RE_GM_NAME_CODE = re.compile(r"(.*\S)\s*\(\s*(?:gm)?\s*([0-9]{1,4})\s*\)", re.IGNORECASE)


def _gemeente_cell(x: Any) -> Any:
    if _is_int(x) or _is_float(x):
        if _is_float(x) and not (math.isfinite(float(x)) and float(x).is_integer()):
            return _Err("not a gemeente code (not a whole number)")
        v = int(x)
        if not 0 <= v <= 9999:
            return _Err("gemeente code must have 4 digits")
        return f"{v:04d}"
    t = _text_of(x)
    if t is None or isinstance(t, _Err):
        return t
    m = _RE_GM_CODE.fullmatch(t)
    if m:
        if len(m.group(1)) > 4:
            return _Err("gemeente code must have 4 digits")
        return m.group(1).zfill(4)
    m = _RE_GM_CODE_NAME.fullmatch(t)
    code_name = (m.group(1), m.group(2)) if m else None
    if code_name is None:
        m = _RE_GM_NAME_CODE.fullmatch(t)
        code_name = (m.group(2), m.group(1)) if m else None
    if code_name is not None:  # "0406 Huizen", "0406 - Huizen", "Huizen (0406)"
        code, name = code_name[0].zfill(4), code_name[1]
        known = refdata.gemeente_naam(code)
        if refdata.gemeente_code(name) == code or (known and normalise_text(known) == normalise_text(name)):
            return code
        return _Err(f"gemeente code and name disagree: {t!r}")
    code = refdata.gemeente_code(t)
    if code:
        return code
    hints = refdata.gemeente_suggestions(t)
    key = normalise_text(re.sub(r"\s*\([^()]*\)\s*$", "", t))
    same = [h for h in hints if normalise_text(re.sub(r"\s*\([^()]*\)\s*\([0-9]{4}\)$", "", h)) == key]
    if len(same) > 1:
        return _Err(f"ambiguous gemeente {t!r}: {' or '.join(same)}")
    if hints:
        return _Err(f"unknown gemeente {t!r}; did you mean: {', '.join(hints)}?")
    return _Err(f"unknown gemeente {t!r}")


def parse_gemeente(s: Any) -> Parsed:
    """Gemeente -> 4-digit CBS code from a code (406, "0406", "GM0406", "gm 0406") or a name.

    Names go through ``refdata.gemeente_code`` (case/accents/punctuation-insensitive, CBS
    suffixes optional, aliases such as "Den Haag", names of merged gemeenten give their old code).
    Codes are returned as given even when retired or unknown (the validator reports them, TR378).
    A name that matches nothing, or more than one gemeente ("Bergen"), is an error with
    suggestions. "0406 Huizen" / "Huizen (0406)" are accepted when code and name agree.
    """
    return _run(s, "string", _gemeente_cell)
