"""Property-based tests: no cell crashes a parser, header names match however they are written,
and what a provider writes comes back exactly from ``export declaraties`` after ``import``.

The round trip writes generated lines the two ways providers do: an xlsx with native cells (dates
as dates, amounts as numbers, BSNs sometimes as numbers that lost their leading zeros) and a
Windows-1252 CSV with Dutch numbers (``1.234,56``) and dates (``31-03-2025``), into a SQLite
and a PostgreSQL store.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from jzcli import refdata
from jzcli.domain.text import FORMULA_START
from jzcli.importer import import_paths
from jzcli.output.export import export_declaraties
from jzcli.readers import values as V
from jzcli.readers.headers import DECLARATIE_SYNONYMS, match_field
from jzcli.readers.prepared import ImportOptions
from jzcli.store.store import Store

# ------------------------------------------------------------------------------ parsers never crash

CELLS = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.text(alphabet="0123456789.,-+ €eE/:", max_size=20),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.decimals(allow_nan=False, allow_infinity=False),
)

PARSERS = {
    "money": V.parse_money,
    "decimal": V.parse_decimal,
    "whole": V.parse_whole,
    "date": V.parse_date,
    "period": lambda s: V.parse_period(s)[0],
    "period_end": lambda s: V.parse_period(s)[1],
    "bsn": V.parse_bsn,
    "agb": V.parse_agb,
    "gemeente": V.parse_gemeente,
    "code": lambda s: V.parse_code(s, 2),
    "text": lambda s: V.parse_text(s, max_len=20),
    "eenheid": V.parse_eenheid,
    "debet_credit": V.parse_debet_credit,
}


@pytest.mark.parametrize("name", list(PARSERS))
@settings(max_examples=150, deadline=None)
@given(cells=st.lists(CELLS, max_size=25))
def test_no_cell_crashes_a_parser(name, cells):
    index = pd.Index(range(100, 100 + len(cells)))
    series = pd.Series(cells, index=index, dtype=object)
    parsed = PARSERS[name](series)
    assert list(parsed.values.index) == list(index) and list(parsed.errors.index) == list(index)
    has_value = parsed.values.notna().to_numpy()
    has_error = parsed.errors.notna().to_numpy()
    assert not (has_value & has_error).any()  # a value is read, or it is a finding; never both
    assert parsed.errors.dropna().map(lambda e: isinstance(e, str) and bool(e)).all()
    empty = np.array([c is None for c in cells], dtype=bool)
    assert not has_value[empty].any() and not has_error[empty].any()  # an empty cell is missing, not a problem


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(min_value=-(10**11), max_value=10**11), euro_sign=st.booleans(), thousands=st.booleans())
def test_dutch_money_text_round_trips(cents, euro_sign, thousands):
    text = dutch_money(abs(cents), thousands)
    text = ("-" if cents < 0 else "") + ("€ " if euro_sign else "") + text
    parsed = V.parse_money(pd.Series([text, "1.234,56"], dtype=object))  # a Dutch column
    assert parsed.errors.isna().all(), (text, parsed.errors.tolist())
    assert int(parsed.values.iloc[0]) == cents


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    style=st.sampled_from(["%d-%m-%Y", "%Y-%m-%d", "%d/%m/%Y", "%-d-%-m-%Y"]),
)
def test_date_text_round_trips(day, style):
    text = day.strftime(style)
    parsed = V.parse_date(pd.Series([text], dtype=object))
    assert parsed.errors.isna().all(), text
    assert parsed.values.iloc[0].date() == day


# ------------------------------------------------------------------------- header normalisation

SYNONYMS = [(field, name) for field, names in DECLARATIE_SYNONYMS.items() for name in [field, *names]]


def decorate(name: str, draw) -> str:
    """A synonym as a provider might type it: other case, spaces, underscores, accents, a colon."""
    out = []
    for ch in name:
        if ch.isalpha():
            ch = ch.upper() if draw(st.booleans()) else ch
            if ch in "eE" and draw(st.integers(0, 9)) == 0:
                ch = "ë" if ch == "e" else "Ë"
        out.append(ch)
        if draw(st.integers(0, 6)) == 0:
            out.append(draw(st.sampled_from([" ", "_", "-", ".", "  "])))
    text = "".join(out)
    return draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " ", ":", " *"]))


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_header_names_match_however_they_are_written(data):
    field, name = data.draw(st.sampled_from(SYNONYMS))
    expected = match_field(name)
    written = decorate(name, data.draw)
    assert match_field(written) == expected
    assert V.normalise_text(written) == V.normalise_text(name)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30))
def test_header_matching_never_crashes(text):
    result = match_field(text)
    assert result is None or result in DECLARATIE_SYNONYMS


# --------------------------------------------------------------------- import → export round trip

GEMEENTEN = sorted(refdata.gemeenten())
TEXT = (
    st.text(
        alphabet=st.sampled_from(
            list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éëüöïçñø-_/.;\"'=+@ ")
        ),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(lambda t: t and not t.startswith("'") and "  " not in t)
)


def valid_bsn(first8: int) -> str:
    digits = f"{first8:08d}"
    weights = [9, 8, 7, 6, 5, 4, 3, 2]
    total = sum(int(d) * w for d, w in zip(digits, weights))
    last = total % 11
    assume(last < 10)
    return digits + str(last)


@st.composite
def declaration_lines(draw):
    n = draw(st.integers(min_value=1, max_value=8))
    lines = []
    for _ in range(n):
        begin = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
        end = begin + dt.timedelta(days=draw(st.integers(0, 60)))
        assume(end <= dt.date(2100, 12, 31))
        lines.append(
            {
                "aanbieder": f"{draw(st.integers(1, 99_999_999)):08d}",
                "gemeente": draw(st.sampled_from(GEMEENTEN)),
                "declaratienummer": draw(st.none() | TEXT),
                "referentienummer": draw(TEXT),
                "vorig_referentienummer": draw(st.none() | TEXT),
                "bsn": valid_bsn(draw(st.integers(1, 99_999_999))),
                "toewijzingnummer": draw(st.none() | TEXT),
                "productcategorie": f"{draw(st.integers(0, 99)):02d}",
                "productcode": draw(TEXT),
                "begindatum": begin,
                "einddatum": end,
                "volume": draw(st.integers(0, 10**7)),
                "eenheid": draw(st.sampled_from(["01", "04", "14", "16", "82", "83", "84"])),
                "tarief": draw(st.integers(0, 99_999_999)),  # iJw's maximum (LDT_Bedrag); beyond: a finding
                "bedrag": draw(st.integers(0, 99_999_999)),
                "debet_credit": draw(st.sampled_from(["D", "C"])),
            }
        )
    return lines


HEADER = {
    "aanbieder": "AGB-code",
    "gemeente": "Gemeente",
    "declaratienummer": "Factuurnummer",
    "referentienummer": "Referentienummer",
    "vorig_referentienummer": "Vorig referentienummer",
    "bsn": "BSN",
    "toewijzingnummer": "Toewijzingnummer",
    "productcategorie": "Productcategorie",
    "productcode": "Productcode",
    "begindatum": "Begindatum",
    "einddatum": "Einddatum",
    "volume": "Aantal",
    "eenheid": "Eenheid",
    "tarief": "Tarief",
    "bedrag": "Bedrag",
    "debet_credit": "Debet/Credit",
}


def dutch_money(cents: int, thousands: bool = True) -> str:
    euros, rest = divmod(cents, 100)
    whole = f"{euros:,}".replace(",", ".") if thousands else str(euros)
    return f"{whole},{rest:02d}"


def write_xlsx(path: Path, lines: list[dict], bsn_as_number: bool) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Declaratie"
    ws.append(list(HEADER.values()))
    for line in lines:
        row = []
        for field in HEADER:
            v = line[field]
            if field in ("tarief", "bedrag"):
                v = float(Decimal(v) / 100)  # Excel holds amounts as numbers in euros
            elif field == "bsn" and bsn_as_number:
                v = int(v)  # Excel dropped the leading zeros
            row.append(v)
        ws.append(row)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # typed text, also when it starts with "="
    wb.save(path)


def write_cp1252_csv(path: Path, lines: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(list(HEADER.values()))
    for line in lines:
        row = []
        for field in HEADER:
            v = line[field]
            if v is None:
                v = ""
            elif field in ("tarief", "bedrag"):
                v = dutch_money(v)
            elif field in ("begindatum", "einddatum"):
                v = v.strftime("%d-%m-%Y")
            row.append(v)
        w.writerow(row)
    path.write_bytes(buf.getvalue().encode("cp1252"))


def read_csv_export(path: Path) -> list[dict]:
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    out = []
    for r in rows:
        line = {}
        for field in HEADER:
            v = r[field]
            if v.startswith("'") and v[1:].startswith(FORMULA_START):
                v = v[1:]  # the export's formula guard
            if v == "":
                line[field] = None
            elif field in ("tarief", "bedrag"):
                line[field] = int(Decimal(v) * 100)
            elif field == "volume":
                line[field] = int(v)
            elif field in ("begindatum", "einddatum"):
                line[field] = dt.date.fromisoformat(v)
            else:
                line[field] = v
        out.append(line)
    return out


def read_xlsx_export(path: Path) -> list[dict]:
    ws = openpyxl.load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    out = []
    for values in rows[1:]:
        r = dict(zip(header, values))
        line = {}
        for field in HEADER:
            v = r[field]
            if v is None:
                line[field] = None
            elif field in ("tarief", "bedrag"):
                line[field] = int((Decimal(str(v)) * 100).to_integral_value())
            elif field in ("begindatum", "einddatum"):
                line[field] = v.date() if isinstance(v, dt.datetime) else v
            else:
                line[field] = v
        out.append(line)
    return out


EDGE = {
    "aanbieder": "00000001",
    "gemeente": "0406",
    "declaratienummer": '=HYPERLINK("x")',
    "referentienummer": "+31612345678",
    "vorig_referentienummer": "-x",
    "bsn": "001234572",
    "toewijzingnummer": "@SUM(A1)",
    "productcategorie": "05",
    "productcode": "0045",
    "begindatum": dt.date(1900, 1, 1),
    "einddatum": dt.date(1900, 2, 28),
    "volume": 0,
    "eenheid": "83",
    "tarief": 1,
    "bedrag": 99_999_999,
    "debet_credit": "C",  # € 999.999,99: the iJw maximum
}
EDGE_2100 = {
    **EDGE,
    "begindatum": dt.date(2100, 12, 1),
    "einddatum": dt.date(2100, 12, 31),
    "declaratienummer": 'Zoë;"ø"',
    "debet_credit": "D",
}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
@given(lines=declaration_lines(), kind=st.sampled_from(["xlsx", "xlsx-bsn-numbers", "csv"]))
@example(lines=[EDGE, EDGE_2100], kind="xlsx")
@example(lines=[EDGE, EDGE_2100], kind="xlsx-bsn-numbers")
@example(lines=[EDGE, EDGE_2100], kind="csv")
def test_import_then_export_gives_back_exactly_what_was_written(db_url, lines, kind):
    """One store per test (SQLite and PostgreSQL); each example is its own batch in it."""
    from jzcli.store.schema import declaratieregels

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if kind == "csv":
            src = folder / "aanlevering.csv"
            write_cp1252_csv(src, lines)
        else:
            src = folder / "aanlevering.xlsx"
            write_xlsx(src, lines, bsn_as_number=kind == "xlsx-bsn-numbers")
        store = Store.open(db_url)
        try:
            [result] = import_paths(store, [src], ImportOptions(soort="declaraties"))
            assert result.status in ("imported", "unchanged"), result.message  # unchanged: the same bytes again
            findings = store.import_findings(result.batch)
            assert findings.empty, findings[["rij", "kolom", "waarde", "melding"]]
            frame = store.declaraties(where=declaratieregels.c.batch == result.batch)
        finally:
            store.close()
        assert len(frame) == len(lines)
        export_declaraties(frame, folder / "export.csv")
        export_declaraties(frame, folder / "export.xlsx")
        assert read_csv_export(folder / "export.csv") == lines
        assert read_xlsx_export(folder / "export.xlsx") == lines


# ------------------------------------------------------------------------------ JSON output

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # cents, counts, row numbers
    st.text(alphabet=st.characters(exclude_categories=("Cs",))),  # what a store can hold
)
JSON_RECORDS = st.lists(
    st.dictionaries(st.text(max_size=12, alphabet=st.characters(exclude_categories=("Cs",))), JSON_SCALARS, max_size=6),
    max_size=8,
)


@given(JSON_RECORDS)
@settings(max_examples=300, deadline=None)
@example(
    [{"melding": 'tarief € 80,60 ≠ "contract"\n\ttab \\ \u2028 \x00 \U0001f600', "batch": 3, "blad": None, "ok": True}]
)
@example([])
def test_json_text_is_what_the_standard_library_writes(records):
    # every --format json output and .json file: orjson must give json.dumps' text exactly
    from jzcli.output.records import json_text

    assert json_text(records) == json.dumps(records, ensure_ascii=False, indent=2) + "\n"
