"""Value parsers (jzcli.readers.values) and gemeente name lookup (jzcli.refdata)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jzcli import refdata
from jzcli.readers.values import (
    Parsed,
    elfproef,
    normalise_text,
    parse_agb,
    parse_bsn,
    parse_code,
    parse_date,
    parse_debet_credit,
    parse_decimal,
    parse_eenheid,
    parse_gemeente,
    parse_money,
    parse_period,
    parse_text,
    parse_whole,
)

# Parsing builds pandas objects, so single examples can be slow: no deadline (applied per test,
# without touching the global Hypothesis profile other test modules use).
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def one(parser, raw, **kw):
    """Parse a single cell: (value or None, error or None)."""
    p = parser(pd.Series([raw], dtype=object), **kw)
    v = p.values.iloc[0]
    return (None if pd.isna(v) else v), p.errors.iloc[0]


def ok(parser, raw, **kw):
    value, error = one(parser, raw, **kw)
    assert error is None, f"{raw!r}: {error}"
    return value


def err(parser, raw, **kw):
    value, error = one(parser, raw, **kw)
    assert value is None and error, f"{raw!r} parsed as {value!r}"
    return error


def D(y, m, d):
    return pd.Timestamp(y, m, d)


# --- normalise_text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, key",
    [
        ("BSN cliënt", "bsnclient"),
        ("Prijs per eenheid (€)", "prijspereenheid"),
        ("  Begin-datum ", "begindatum"),
        ("Product code 2", "productcode2"),
        ("Één Ürk", "eenurk"),
        ("", ""),
    ],
)
def test_normalise_text(raw, key):
    assert normalise_text(raw) == key


@relaxed
@given(st.text())
def test_normalise_text_idempotent_and_clean(text):
    key = normalise_text(text)
    assert normalise_text(key) == key
    assert all(ch.isalnum() for ch in key)
    assert key == key.casefold()


# --- money ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, cents",
    [
        ("1.234,56", 123456),
        ("€ 98,50", 9850),
        ("€98,50", 9850),
        ("EUR 98,50", 9850),
        ("eur98,50", 9850),
        ("98,50 €", 9850),
        ("98,50 EUR", 9850),
        ("-12,00", -1200),
        ("- 12,00", -1200),
        ("-€ 12,00", -1200),
        ("€ -12,00", -1200),
        ("\u221212,00", -1200),
        ("+12,00", 1200),
        ("98.50", 9850),
        ("1234", 123400),
        ("1 234,56", 123456),
        ("1\u00a0234,56", 123456),
        ("1\u202f234,5", 123450),
        ("1 234 567,89", 123456789),
        ("1.234.567,89", 123456789),
        ("1,234,567.89", 123456789),
        ("12,-", 1200),
        ("1.234,-", 123400),
        ("12,5", 1250),
        (",5", 50),
        ("0,01", 1),
        ("  98,50  ", 9850),
        (1234, 123400),
        (-7, -700),
        (98.5, 9850),
        (0.1 + 0.2, 30),
        (1e-10, 0),
        (np.int64(5), 500),
        (np.float64(98.5), 9850),
        (Decimal("12.34"), 1234),
    ],
)
def test_money_examples(raw, cents):
    assert ok(parse_money, raw) == cents


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("(12,00)", "not a number"),
        ("-", "not a number"),
        ("€", "not a number"),
        ("abc", "not a number"),
        ("12,00-", "not a number"),
        ("1,2,3", "not a number"),
        ("1.23.4", "not a number"),
        ("1 23,45", "not a number"),
        ("1e5", "not a number"),
        ("12,345", "more than 2 decimals for an amount"),
        ("98,505", "more than 2 decimals for an amount"),
        ("0.125", "more than 2 decimals for an amount"),
        (98.505, "more than 2 decimals for an amount"),
        (0.001, "more than 2 decimals for an amount"),
        (Decimal("1.005"), "more than 2 decimals for an amount"),
        (float("inf"), "not a number"),
        (1e20, "number too large"),
        ("9" * 40, "number too large"),
        ("9" * 20, "number too large"),
        (True, "not a number"),
        (dt.date(2025, 1, 1), "not a number"),
    ],
)
def test_money_errors(raw, reason):
    assert err(parse_money, raw).startswith(reason)


def test_money_two_versus_three_decimals():
    assert ok(parse_money, "1,23") == 123
    assert err(parse_money, "1,234") == "more than 2 decimals for an amount"  # Dutch default
    assert ok(parse_money, 1.23) == 123
    assert err(parse_money, 1.234) == "more than 2 decimals for an amount"


def test_money_empty_cells_are_missing_without_error():
    p = parse_money(pd.Series([None, np.nan, "", "   ", "\t", pd.NA], dtype=object))
    assert p.values.isna().all()
    assert p.errors.isna().all()


def test_money_column_decision():
    # no evidence: Dutch, "." is thousands
    assert parse_money(pd.Series(["1.234", "5"])).values.tolist() == [123400, 500]
    # evidence of "," decimals: Dutch
    assert parse_money(pd.Series(["1.234", "98,50"])).values.tolist() == [123400, 9850]
    assert parse_money(pd.Series(["1.234", "12,-"])).values.tolist() == [123400, 1200]
    # evidence of "." decimals: "," is thousands, "." is decimal
    p = parse_money(pd.Series(["1,234", "98.50", "1.234"]))
    assert p.values.iloc[:2].tolist() == [123400, 9850]
    assert p.errors.iloc[2] == "more than 2 decimals for an amount"
    # both separators in one value is unambiguous by the last-separator rule, even in a Dutch column
    assert parse_money(pd.Series(["1,234.56", "1.234,56"])).values.tolist() == [123456, 123456]
    # a column that proves both conventions: the 3-digit values are ambiguous (never guess)
    p = parse_money(pd.Series(["98,50", "98.50", "1.234"]))
    assert p.values.iloc[:2].tolist() == [9850, 9850]
    assert "ambiguous" in p.errors.iloc[2]
    # numbers (floats) are not evidence
    assert parse_money(pd.Series([98.5, "1.234"], dtype=object)).values.tolist() == [9850, 123400]


def test_money_forced_separator():
    assert parse_money(pd.Series(["1.234", "1,5"]), decimal=",").values.tolist() == [123400, 150]
    p = parse_money(pd.Series(["1,234", "1.5", "98,50"]), decimal=".")
    assert p.values.iloc[:2].tolist() == [123400, 150]
    assert p.errors.iloc[2] == "not a number"
    with pytest.raises(ValueError):
        parse_money(pd.Series(["1"]), decimal=";")


def test_money_dtype_and_index():
    s = pd.Series(["1,00", None, "x"], index=[10, 20, 30])
    p = parse_money(s)
    assert isinstance(p, Parsed)
    assert str(p.values.dtype) == "Int64"
    assert list(p.values.index) == [10, 20, 30] == list(p.errors.index)
    assert p.errors.tolist() == [None, None, "not a number"]


def _dutch(cents: int, euro_sign: bool = False, sep: str = ".") -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    text = f"{whole:,}".replace(",", sep) + f",{frac:02d}"
    return f"{sign}€ {text}" if euro_sign else sign + text


@relaxed
@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_money_round_trip(cents):
    whole, frac = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    formats = [
        _dutch(cents),
        _dutch(cents, euro_sign=True),
        _dutch(cents, sep=" "),
        f"{sign}{whole}.{frac:02d}",
        f"{sign}{whole:,}.{frac:02d}",
        f"{sign}EUR {whole},{frac:02d}",
    ]
    for text in formats:
        assert ok(parse_money, text) == cents, text
    assert ok(parse_money, cents / 100) == cents  # an Excel float
    assert parse_money(pd.Series(formats)).values.tolist() == [cents] * len(formats)


@relaxed
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20))
def test_money_round_trip_whole_euros_dutch_column(euros):
    # "1.234" (whole euros with a thousands dot) in a Dutch column next to "98,50"
    texts = [f"{e:,}".replace(",", ".") for e in euros] + ["98,50"]
    assert parse_money(pd.Series(texts)).values.tolist() == [e * 100 for e in euros] + [9850]


# --- decimal and whole ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1,23456", Decimal("1.23456")),
        ("0,125", Decimal("0.125")),
        ("€ 78,0012", Decimal("78.0012")),
        ("1.234,5678", Decimal("1234.5678")),
        ("-3", Decimal("-3")),
        (1.5, Decimal("1.5")),
        (7, Decimal("7")),
        ("1.234", Decimal("1234")),
    ],
)
def test_decimal_examples(raw, expected):
    value = ok(parse_decimal, raw)
    assert isinstance(value, Decimal) and value == expected


def test_decimal_column_decision_and_errors():
    assert parse_decimal(pd.Series(["1.234", "0.5"])).values.tolist() == [Decimal("1.234"), Decimal("0.5")]
    assert err(parse_decimal, "1,2,3.4,5") == "not a number"
    assert one(parse_decimal, float("nan")) == (None, None)


@pytest.mark.parametrize(
    "raw, expected",
    [("3", 3), ("3,0", 3), ("3,00", 3), (3.0, 3), (3, 3), ("1.200", 1200), ("-2", -2), (" 12 ", 12), (0.1 * 3 * 10, 3)],
)
def test_whole_examples(raw, expected):
    assert ok(parse_whole, raw) == expected


@pytest.mark.parametrize("raw", ["1,5", 1.5, "0,001", Decimal("2.5")])
def test_whole_not_whole(raw):
    assert err(parse_whole, raw) == "not a whole number"


def test_whole_dot_decimal_column():
    p = parse_whole(pd.Series(["1.200", "2.5"]))
    assert p.errors.tolist() == ["not a whole number", "not a whole number"]
    assert str(p.values.dtype) == "Int64"


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "01-03-2025",
        "1-3-2025",
        "01/03/2025",
        "1/3/2025",
        "01.03.2025",
        "2025-03-01",
        "2025-3-1",
        "2025-03-01 00:00:00",
        "2025-03-01 14:30:59",
        "2025-03-01T14:30",
        "20250301",
        "1 maart 2025",
        "1 Maart 2025",
        "1 mrt 2025",
        "1 mrt. 2025",
        "01-mrt-2025",
        "1 maa 2025",
        "01-Mar-2025",
        " 01-03-2025 ",
        dt.date(2025, 3, 1),
        dt.datetime(2025, 3, 1),
        dt.datetime(2025, 3, 1, 17, 45),  # time of day dropped
        pd.Timestamp("2025-03-01 08:00"),
        np.datetime64("2025-03-01"),
        45717,  # Excel serial
        45717.0,
        45717.99,
        20250301,  # yyyymmdd typed as a number
    ],
)
def test_date_formats(raw):
    assert ok(parse_date, raw) == D(2025, 3, 1)


@pytest.mark.parametrize(
    "month, names",
    [
        (1, ["jan", "januari"]),
        (2, ["feb", "februari"]),
        (3, ["mrt", "maa", "maart"]),
        (4, ["apr", "april"]),
        (5, ["mei"]),
        (6, ["jun", "juni"]),
        (7, ["jul", "juli"]),
        (8, ["aug", "augustus"]),
        (9, ["sep", "sept", "september"]),
        (10, ["okt", "oktober"]),
        (11, ["nov", "november"]),
        (12, ["dec", "december"]),
    ],
)
def test_date_dutch_month_names(month, names):
    for name in names:
        assert ok(parse_date, f"2 {name} 2024") == D(2024, month, 2)
        assert ok(parse_date, f"02-{name.upper()}-2024") == D(2024, month, 2)


def test_date_day_first():
    assert ok(parse_date, "03/04/2025") == D(2025, 4, 3)
    assert ok(parse_date, "12-01-2025") == D(2025, 1, 12)
    assert "no such day" in err(parse_date, "04/25/2025")  # US order is not guessed


@pytest.mark.parametrize("raw", ["01-03-25", "1/3/25", "1 mrt 25", "01-mrt-25"])
def test_date_two_digit_year_is_error(raw):
    assert "two-digit year" in err(parse_date, raw)


def test_date_range_boundaries():
    assert ok(parse_date, "1900-01-01") == D(1900, 1, 1)
    assert ok(parse_date, "31-12-2100") == D(2100, 12, 31)
    for raw in ["1899-12-31", "2101-01-01", "31-12-1899", "01-01-2101", dt.date(1899, 12, 31), dt.datetime(2101, 1, 1)]:
        assert err(parse_date, raw) == "date out of range (1900-2100)"


def test_date_excel_serial_boundaries():
    assert ok(parse_date, 1) == D(1900, 1, 1)
    assert ok(parse_date, 59) == D(1900, 2, 28)
    assert "serial 60" in err(parse_date, 60)
    assert ok(parse_date, 61) == D(1900, 3, 1)
    assert ok(parse_date, 73415) == D(2100, 12, 31)
    assert err(parse_date, 73416) == "date out of range (1900-2100)"
    assert err(parse_date, 0) == "date out of range (1900-2100)"
    assert err(parse_date, -5) == "date out of range (1900-2100)"


@pytest.mark.parametrize(
    "raw", ["31-02-2025", "2025-13-01", "foo", "-", "2025-03-01 25:00", "1 foo 2025", dt.time(12, 0), True, "45717"]
)
def test_date_errors(raw):
    assert err(parse_date, raw).startswith("not a date")


def test_date_column_types():
    p = parse_date(pd.Series(["01-03-2025", None, "x", 45717], index=list("abcd"), dtype=object))
    assert p.values.dtype == "datetime64[ns]"
    assert list(p.values.index) == list("abcd")
    assert p.values.isna().tolist() == [False, True, True, False]
    assert p.errors.tolist() == [None, None, "not a date", None]
    # a real datetime64 column (calamine/openpyxl via pandas), tz-aware too
    s = pd.Series(pd.to_datetime(["2025-03-01 10:00", None, "2025-04-02 00:00"]))
    assert parse_date(s).values.tolist()[::2] == [D(2025, 3, 1), D(2025, 4, 2)]
    assert parse_date(s.dt.tz_localize("Europe/Amsterdam")).values.iloc[0] == D(2025, 3, 1)


_DATE_FORMATS = [
    lambda d: d.strftime("%d-%m-%Y"),
    lambda d: f"{d.day}-{d.month}-{d.year}",
    lambda d: d.strftime("%d/%m/%Y"),
    lambda d: d.strftime("%d.%m.%Y"),
    lambda d: d.isoformat(),
    lambda d: d.isoformat() + " 00:00:00",
    lambda d: d.strftime("%Y%m%d"),
    lambda d: (
        f"{d.day} {['januari', 'februari', 'maart', 'april', 'mei', 'juni', 'juli', 'augustus', 'september', 'oktober', 'november', 'december'][d.month - 1]} {d.year}"
    ),
    lambda d: (
        f"{d.day} {['jan', 'feb', 'mrt', 'apr', 'mei', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dec'][d.month - 1]} {d.year}"
    ),
    lambda d: (
        f"{d.day:02d}-{['jan', 'feb', 'mrt', 'apr', 'mei', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dec'][d.month - 1]}-{d.year}"
    ),
    lambda d: d,
    lambda d: dt.datetime(d.year, d.month, d.day, 13, 14, 15),
]


@relaxed
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_date_round_trip(day):
    raws = [f(day) for f in _DATE_FORMATS]
    if day >= dt.date(1900, 3, 1):
        raws.append((day - dt.date(1899, 12, 30)).days)  # Excel serial
    p = parse_date(pd.Series(raws, dtype=object))
    assert p.errors.isna().all(), list(zip(raws, p.errors))
    assert (p.values == pd.Timestamp(day)).all()


@relaxed
@given(st.dates(max_value=dt.date(1899, 12, 31)) | st.dates(min_value=dt.date(2101, 1, 1)))
def test_date_out_of_range_property(day):
    p = parse_date(pd.Series([day, day.strftime("%d-%m-%Y") if day.year >= 1000 else day.isoformat()], dtype=object))
    assert p.values.isna().all()
    assert p.errors.notna().all()


# --- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "2025-03",
        "2025-3",
        "03-2025",
        "3-2025",
        "03/2025",
        "3/2025",
        "202503",
        "maart 2025",
        "mrt 2025",
        "Maart 2025",
        "MRT. 2025",
        "mrt-2025",
        "2025 maart",
        "15-03-2025",
        "2025-03-31",
        dt.date(2025, 3, 17),
        dt.datetime(2025, 3, 17, 9, 0),
        45736,  # serial for 2025-03-20
        202503,
    ],
)
def test_period_month(raw):
    begin, end = parse_period(pd.Series([raw], dtype=object))
    assert begin.errors.iloc[0] is None
    assert begin.values.iloc[0] == D(2025, 3, 1)
    assert end.values.iloc[0] == D(2025, 3, 31)


def test_period_month_lengths():
    begin, end = parse_period(pd.Series(["2024-02", "2025-02", "2025-04", "2025-12"]))
    assert end.values.dt.day.tolist() == [29, 28, 30, 31]
    assert begin.values.dt.day.tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize(
    "raw, first, last",
    [
        ("2025-03-01 t/m 2025-03-31", D(2025, 3, 1), D(2025, 3, 31)),
        ("01-03-2025 - 31-03-2025", D(2025, 3, 1), D(2025, 3, 31)),
        ("01-03-2025 t/m 15-03-2025", D(2025, 3, 1), D(2025, 3, 15)),
        ("1-3-2025 tot en met 15-3-2025", D(2025, 3, 1), D(2025, 3, 15)),
        ("01-03-2025 \u2013 15-03-2025", D(2025, 3, 1), D(2025, 3, 15)),
        ("01-03-2025\u201315-03-2025", D(2025, 3, 1), D(2025, 3, 15)),
        ("2025-01 t/m 2025-03", D(2025, 1, 1), D(2025, 3, 31)),
        ("2025-03-05 t/m 2025-03-05", D(2025, 3, 5), D(2025, 3, 5)),
    ],
)
def test_period_ranges(raw, first, last):
    begin, end = parse_period(pd.Series([raw]))
    assert begin.errors.iloc[0] is None
    assert (begin.values.iloc[0], end.values.iloc[0]) == (first, last)


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("mrt-25", "two-digit year"),
        ("03-25", "two-digit year"),
        ("2025-13", "not a period"),
        ("2025-03-31 t/m 2025-03-01", "period ends before it begins"),
        ("2025-03-01 tot 2025-03-31", "not a period"),
        ("1899-12", "date out of range"),
        ("2101-01", "date out of range"),
        ("31-02-2025 t/m 31-03-2025", "not a date"),
        ("foo", "not a period"),
        (60, "not a date"),
        (True, "not a"),
    ],
)
def test_period_errors(raw, reason):
    begin, end = parse_period(pd.Series([raw], dtype=object))
    assert pd.isna(begin.values.iloc[0]) and pd.isna(end.values.iloc[0])
    assert reason in begin.errors.iloc[0]


def test_period_shape():
    s = pd.Series(["2025-03", None, "x", "2025-04"], index=[5, 6, 7, 8])
    begin, end = parse_period(s)
    assert begin.errors is end.errors
    assert begin.values.dtype == end.values.dtype == "datetime64[ns]"
    assert list(begin.values.index) == [5, 6, 7, 8]
    assert begin.errors.tolist() == [None, None, "not a period", None]
    dates = pd.Series(pd.to_datetime(["2025-03-15", None]))
    b, e = parse_period(dates)
    assert b.values.iloc[0] == D(2025, 3, 1) and e.values.iloc[0] == D(2025, 3, 31) and pd.isna(b.values.iloc[1])


@relaxed
@given(st.integers(1900, 2100), st.integers(1, 12))
def test_period_round_trip(year, month):
    names = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ]
    raws = [
        f"{year}-{month:02d}",
        f"{year}-{month}",
        f"{month:02d}-{year}",
        f"{month}/{year}",
        f"{year}{month:02d}",
        f"{names[month - 1]} {year}",
        f"{names[month - 1][:3].upper()} {year}",
        dt.date(year, month, 1),
    ]
    if month != 3:
        raws.append(f"{names[month - 1][:3]} {year}")
    begin, end = parse_period(pd.Series(raws, dtype=object))
    assert begin.errors.isna().all(), list(zip(raws, begin.errors))
    assert (begin.values == pd.Timestamp(year, month, 1)).all()
    assert (end.values == pd.Timestamp(year, month, 1) + pd.offsets.MonthEnd(0)).all()


# --- BSN ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, bsn",
    [
        ("999900006", "999900006"),
        (999900006, "999900006"),
        (999900006.0, "999900006"),
        (np.int64(999900006), "999900006"),
        (12345672, "012345672"),
        (12345672.0, "012345672"),
        ("012345672", "012345672"),
        ("12345672", "012345672"),
        ("12345672.0", "012345672"),
        ("9999 00 006", "999900006"),
        ("9999.00.006", "999900006"),
        ("9999-00-006", "999900006"),
        ("9999\u00a000\u00a0006", "999900006"),
        ("  999900018 ", "999900018"),
    ],
)
def test_bsn_examples(raw, bsn):
    assert ok(parse_bsn, raw) == bsn


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("9999000061", "BSN must have 9 digits"),
        (1234567890, "BSN must have 9 digits"),
        ("1234 5678", "BSN must have 9 digits"),
        ("99990000a", "BSN may only contain digits"),
        ("BSN 999900006", "BSN may only contain digits"),
        ("9999--00006", "BSN: separators"),
        (1.5, "BSN must be a whole number"),
        (-999900006, "BSN cannot be negative"),
        (0, "BSN cannot be zero"),
        ("000000000", "BSN cannot be zero"),
        (True, "BSN may only contain digits"),
        (dt.date(2025, 1, 1), "BSN may only contain digits"),
    ],
)
def test_bsn_errors(raw, reason):
    assert err(parse_bsn, raw).startswith(reason)


def test_bsn_does_not_apply_elfproef_and_keeps_index():
    p = parse_bsn(pd.Series(["123456789", None, ""], index=[3, 1, 2]))
    assert p.values.tolist()[0] == "123456789" and p.values.iloc[1:].isna().all()
    assert p.errors.isna().all()
    assert list(p.values.index) == [3, 1, 2]
    assert str(p.values.dtype) == "string"


@relaxed
@given(st.integers(min_value=1, max_value=999_999_999))
def test_bsn_number_round_trip(n):
    expected = f"{n:09d}"
    raws = [
        n,
        float(n),
        str(n),
        expected,
        f"{expected[:4]} {expected[4:6]} {expected[6:]}",
        f"{expected[:4]}.{expected[4:6]}.{expected[6:]}",
    ]
    assert parse_bsn(pd.Series(raws, dtype=object)).values.tolist() == [expected] * len(raws)
    # typed numeric columns take the vectorised path
    assert parse_bsn(pd.Series([n, n], dtype="int64")).values.tolist() == [expected] * 2
    assert parse_bsn(pd.Series([float(n)])).values.tolist() == [expected]


@relaxed
@given(
    st.lists(
        st.one_of(st.integers(-(10**12), 10**12), st.text(alphabet="0123456789 .-a", max_size=12), st.none()),
        max_size=30,
    )
)
def test_bsn_vectorised_matches_cell_by_cell(cells):
    whole = parse_bsn(pd.Series(cells, dtype=object))
    for i, cell in enumerate(cells):
        value, error = one(parse_bsn, cell)
        got = whole.values.iloc[i]
        assert (None if pd.isna(got) else got) == value
        assert whole.errors.iloc[i] == error


# --- 11-proef -------------------------------------------------------------------------------


def _elf(bsn: str) -> bool:
    d = [int(c) for c in bsn]
    return (sum(w * x for w, x in zip(range(9, 1, -1), d[:8])) - d[8]) % 11 == 0


def test_elfproef_examples():
    s = pd.Series(
        ["999900006", "999900018", "999900007", "123456782", "012345672", None, "12345672", "abcdefghi", "9999000061"]
    )
    assert elfproef(s).tolist() == [True, True, False, True, True, False, False, False, False]
    assert elfproef(parse_bsn(pd.Series([999900006, 12345672])).values).tolist() == [True, True]


@relaxed
@given(st.lists(st.integers(0, 999_999_999), min_size=1, max_size=50))
def test_elfproef_matches_definition(numbers):
    bsns = [f"{n:09d}" for n in numbers]
    assert elfproef(pd.Series(bsns)).tolist() == [_elf(b) for b in bsns]


@relaxed
@given(st.integers(0, 99_999_999))
def test_elfproef_pass_and_fail_by_last_digit(first8):
    head = f"{first8:08d}"
    check = sum(w * int(c) for w, c in zip(range(9, 1, -1), head)) % 11
    results = elfproef(pd.Series([head + str(d) for d in range(10)])).tolist()
    assert results == [d == check for d in range(10)]


# --- codes and text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, width, expected",
    [
        ("4", 2, "04"),
        (4, 2, "04"),
        ("04", 2, "04"),
        (381, 4, "0381"),
        (45.0, 2, "45"),
        (" 7 ", 2, "07"),
        ("45A48", 5, "45A48"),
        ("ab c", 2, "ab c"),
    ],
)
def test_code_examples(raw, width, expected):
    assert ok(parse_code, raw, width=width) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        (381, "code has more than 2 digits"),
        ("123", "code has more than 2 digits"),
        (4.5, "not a whole-number code"),
        (-1, "a code cannot be negative"),
    ],
)
def test_code_errors(raw, reason):
    assert err(parse_code, raw, width=2) == reason


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  abc ", "abc"),
        (123.0, "123"),
        (123, "123"),
        (1.5, "1.5"),
        (dt.date(2025, 1, 2), "2025-01-02"),
        (dt.datetime(2025, 1, 2), "2025-01-02"),
        (dt.datetime(2025, 1, 2, 3, 4, 5), "2025-01-02 03:04:05"),
        (True, "TRUE"),
        ("a\u00a0b", "a\u00a0b"),
    ],
)
def test_text_examples(raw, expected):
    assert ok(parse_text, raw) == expected


def test_text_empty_and_max_len():
    p = parse_text(pd.Series(["", "  ", None, "12345", "123456", 123456.0], dtype=object), max_len=5)
    assert p.values.iloc[:3].isna().all() and p.errors.iloc[:3].isna().all()
    assert p.values.iloc[3] == "12345"
    assert p.errors.iloc[4:].tolist() == ["longer than 5 characters"] * 2
    assert str(p.values.dtype) == "string"


# --- eenheid, debet/credit, AGB --------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, code",
    [
        (1, "01"),
        ("1", "01"),
        ("01", "01"),
        (4, "04"),
        ("4", "04"),
        (4.0, "04"),
        ("14", "14"),
        (16, "16"),
        ("82", "82"),
        (83, "83"),
        ("84", "84"),
        ("minuut", "01"),
        ("Minuten", "01"),
        ("MIN", "01"),
        ("uur", "04"),
        ("Uren", "04"),
        ("u", "04"),
        ("hour", "04"),
        ("Hours", "04"),
        ("dagdeel", "16"),
        ("Dagdelen", "16"),
        ("Dagdeel (4 uur)", "16"),
        ("etmaal", "14"),
        ("Etmalen", "14"),
        ("dag", "14"),
        ("dagen", "14"),
        ("etm", "14"),
        ("stuks (output)", "82"),
        ("Stuks (Output)", "82"),
        ("stuks (inspanning)", "84"),
        ("euro", "83"),
        ("euro's", "83"),
        ("Euro's", "83"),
        ("EUR", "83"),
        ("€", "83"),
        ("04 Uur", "04"),
        ("04 - uur", "04"),
        ("82 stuks", "82"),
    ],
)
def test_eenheid_examples(raw, code):
    assert ok(parse_eenheid, raw) == code


def test_eenheid_errors():
    for raw in ["stuks", "Stuk", "STUKS"]:
        reason = err(parse_eenheid, raw)
        assert "ambiguous" in reason and "82" in reason and "84" in reason
    reason = err(parse_eenheid, "05")
    assert "unknown" in reason and "01, 04, 14, 16, 82, 83, 84" in reason
    assert "unknown" in err(parse_eenheid, "week")
    assert "disagree" in err(parse_eenheid, "04 minuut")
    assert err(parse_eenheid, 4.5)


@pytest.mark.parametrize(
    "raw, dc",
    [
        ("D", "D"),
        ("d", "D"),
        ("Debet", "D"),
        ("DB", "D"),
        ("debit", "D"),
        ("C", "C"),
        ("credit", "C"),
        ("Cr", "C"),
        (" c ", "C"),
    ],
)
def test_debet_credit(raw, dc):
    assert ok(parse_debet_credit, raw) == dc


def test_debet_credit_errors():
    for raw in ["X", "+", "-", 1, True]:
        assert err(parse_debet_credit, raw).startswith("not D or C")
    assert one(parse_debet_credit, None) == (None, None)


@pytest.mark.parametrize(
    "raw, agb",
    [
        (98123456, "98123456"),
        ("98123456", "98123456"),
        (1234567, "01234567"),
        ("1234567", "01234567"),
        (1234567.0, "01234567"),
        ("98 12 34 56", "98123456"),
    ],
)
def test_agb(raw, agb):
    assert ok(parse_agb, raw) == agb


@pytest.mark.parametrize("raw", [123456789, "123456789", "9812345a", 1.5, 0, "98 12 34 5"])
def test_agb_errors(raw):
    assert err(parse_agb, raw).startswith("AGB code")


# --- gemeente -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, code",
    [
        (406, "0406"),
        ("0406", "0406"),
        ("406", "0406"),
        ("GM0406", "0406"),
        ("gm 0406", "0406"),
        (406.0, "0406"),
        ("Huizen", "0406"),
        ("HUIZEN", "0406"),
        ("Laren", "0417"),
        ("Laren (NH.)", "0417"),
        ("laren nh", "0417"),
        ("Den Haag", "0518"),
        ("'s-Gravenhage", "0518"),
        ("Den Bosch", "0796"),
        ("'s-Hertogenbosch", "0796"),
        ("s Hertogenbosch", "0796"),
        ("Bergen (L.)", "0893"),
        ("Bergen (NH.)", "0373"),
        ("Súdwest-Fryslân", "1900"),
        ("Sudwest Fryslan", "1900"),
        ("Bussum", "0381"),
        ("0381", "0381"),
        ("9999", "9999"),
        ("0406 Huizen", "0406"),
        ("Huizen (0406)", "0406"),
        ("0406 - Huizen", "0406"),
    ],
)
def test_gemeente(raw, code):
    assert ok(parse_gemeente, raw) == code


def test_gemeente_errors():
    reason = err(parse_gemeente, "Bergen")
    assert "ambiguous" in reason and "0373" in reason and "0893" in reason
    reason = err(parse_gemeente, "Amsterdm")
    assert "did you mean" in reason and "Amsterdam (0363)" in reason
    assert err(parse_gemeente, "Xyzzyqq") == "unknown gemeente 'Xyzzyqq'"
    assert "disagree" in err(parse_gemeente, "0406 Laren")
    assert "4 digits" in err(parse_gemeente, "12345")
    assert "4 digits" in err(parse_gemeente, 12345)


def test_refdata_gemeente_lookup():
    assert refdata.gemeente_code("Laren") == "0417"
    assert refdata.gemeente_code("laren (nh.)") == "0417"
    assert refdata.gemeente_code("Bergen") is None
    assert refdata.gemeente_code("Bergen op Zoom") == "0748"
    assert refdata.gemeente_code("Den Haag") == "0518"
    assert refdata.gemeente_code("s Hertogenbosch") == "0796"
    assert refdata.gemeente_code("Bussum") == "0381"
    assert refdata.gemeente_code("Hengelo") == "0164"
    assert refdata.gemeente_code("GM0406") == "0406"
    assert refdata.gemeente_code("0381") == "0381"  # historic code
    assert refdata.gemeente_code("9999") is None
    assert refdata.gemeente_code("Atlantis") is None
    hints = refdata.gemeente_suggestions("Bergen")
    assert hints[:2] == ["Bergen (NH.) (0373)", "Bergen (L.) (0893)"] or hints[:2] == [
        "Bergen (L.) (0893)",
        "Bergen (NH.) (0373)",
    ]
    assert "Amsterdam (0363)" in refdata.gemeente_suggestions("Amsterdm")
    assert len(refdata.gemeente_suggestions("a", n=3)) <= 3
    assert refdata.gemeente_suggestions("") == []
    assert refdata.gemeente_naam("0417") == "Laren (NH.)"
    assert refdata.gemeente_naam("381") == "Bussum"
    assert refdata.gemeente_naam("0000") is None


def test_refdata_every_current_name_and_code_resolves():
    for code, row in refdata.gemeenten().items():
        assert refdata.gemeente_code(row["gemeentenaam"]) == code
        assert refdata.gemeente_code(code) == code
        assert refdata.gemeente_naam(code) == row["gemeentenaam"]


# --- properties common to every parser ------------------------------------------------------

PARSERS = {
    "money": parse_money,
    "money_dot": lambda s: parse_money(s, decimal="."),
    "decimal": parse_decimal,
    "whole": parse_whole,
    "date": parse_date,
    "period_begin": lambda s: parse_period(s)[0],
    "period_end": lambda s: parse_period(s)[1],
    "bsn": parse_bsn,
    "code": lambda s: parse_code(s, 4),
    "text": lambda s: parse_text(s, max_len=10),
    "eenheid": parse_eenheid,
    "debet_credit": parse_debet_credit,
    "agb": parse_agb,
    "gemeente": parse_gemeente,
}

cells = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.text(max_size=15),
    st.from_regex(r"[-+€ ]{0,2}[0-9.,\s]{1,12}(,-)?(€| EUR)?", fullmatch=True),
    st.from_regex(r"[0-9]{1,2}[-/. ][0-9a-z]{1,9}[-/. ][0-9]{2,4}( t/m [0-9]{4}-[0-9]{2})?", fullmatch=True),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.decimals(),
)


@pytest.mark.parametrize("name", sorted(PARSERS))
@relaxed
@given(raw=st.lists(cells, max_size=12))
def test_no_input_crashes(name, raw):
    index = pd.Index(range(100, 100 + len(raw)))
    p = PARSERS[name](pd.Series(raw, index=index, dtype=object))
    assert isinstance(p, Parsed)
    assert p.values.index.equals(index) and p.errors.index.equals(index)
    bad = p.errors.notna()
    assert p.values[bad].isna().all()  # an error never comes with a value
    assert all(isinstance(e, str) and e and not e.startswith("cannot read value") for e in p.errors[bad])
    for cell, value, error in zip(raw, p.values, p.errors):
        empty = (
            cell is None or (isinstance(cell, float) and np.isnan(cell)) or (isinstance(cell, str) and not cell.strip())
        )
        if empty:
            assert pd.isna(value) and error is None


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_empty_series(name):
    p = PARSERS[name](pd.Series([], dtype=object))
    assert len(p.values) == len(p.errors) == 0


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_typed_columns(name):
    """Columns as pandas builds them (str, Int64, float64 with NaN, bool) are accepted too."""
    for s in [
        pd.Series(["1", None, "2025-03"]),
        pd.Series([1, None, 3], dtype="Int64"),
        pd.Series([1.0, np.nan, 2.5]),
        pd.Series([True, False]),
        pd.Series(["a", None], dtype="string"),
    ]:
        p = PARSERS[name](s)
        assert p.values.index.equals(s.index)
        assert p.errors[s.isna()].isna().all()


def test_list_input_is_accepted():
    assert parse_money(["1,00", None]).values.tolist()[0] == 100
