"""A declared date is never changed or lost (issue 15 §1).

* Header spellings: a date header that names a side (van, vanaf, begin, start, ingang, aanvang /
  tot, t/m, tm, tot en met, eind, einde, stop, afloop) is that side's date, also when it says
  "periode"; month columns stay month columns.
* Values: a column of full dates is never read as a month.
* A ProductPeriode side is derived from a month only where the file gives a month; only that side
  may be set to the allocation's ingangsdatum/einddatum (IV089), visibly (JZ-P01); a written date
  is judged as written (TR307/TR308/TR387/TR388).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
import pytest
import sqlalchemy as sa

from jzcli.readers.headers import find_header, match_field
from jzcli.store.store import Store
from validate_kit import AGB, ALLOCATION_HEADER, BSNS, CONTRACT, GEM, write_xlsx

# --- the header spelling tables -------------------------------------------------------------

BEGIN_HEADERS = [
    # plain
    "Begindatum",
    "begindatum",
    "BEGINDATUM",
    "Begin datum",
    "Begin-datum",
    "Begin",
    "Startdatum",
    "Start datum",
    "Start",
    "Ingangsdatum",
    "Ingang",
    "Datum ingang",
    "Aanvangsdatum",
    "Datum aanvang",
    "Aanvang",
    "Van",
    "VAN",
    "van:",
    "Vanaf",
    "Datum van",
    "Datum vanaf",
    "Van datum",
    "Begindat.",
    "Begin dat.",
    "Startdat.",
    # with periode
    "Periode van",
    "Periode vanaf",
    "Periode begin",
    "Begin periode",
    "Beginperiode",
    "Periode start",
    "Start periode",
    "Periode ingang",
    "Ingang periode",
    "Begindatum periode",
    "Begindatum (periode)",
    "Periode - van",
    "Periode: van",
    "Periode/van",
    "PERIODE VAN",
    "periode.van",
    # with zorg / levering / prestatie / product
    "Begin zorgperiode",
    "Zorgperiode begin",
    "Zorgperiode van",
    "Zorgperiode vanaf",
    "Zorg van",
    "Zorg vanaf",
    "Startdatum zorg",
    "Begindatum zorg",
    "Ingangsdatum zorg",
    "Aanvang zorg",
    "Ingangsdatum levering",
    "Leveringsperiode vanaf",
    "Leveringsperiode van",
    "Levering van",
    "Begindatum levering",
    "Start levering",
    "Leveringsstart",
    "Prestatieperiode van",
    "Prestatieperiode vanaf",
    "Begindatum prestatie",
    "Prestatie van",
    "Begindatum productperiode",
    "Productperiode begin",
    "Productperiode van",
    "Declaratieperiode van",
    # date format hints, Belgian/English
    "Van (dd-mm-jjjj)",
    "Begindatum (DD-MM-JJJJ)",
    "Startdatum dd/mm/jjjj",
    "Date from",
    "Period start",
    "Datum begin",
    "Periodestart",
    "Periodebegin",
]

END_HEADERS = [
    # plain
    "Einddatum",
    "einddatum",
    "EINDDATUM",
    "Eind datum",
    "Eind-datum",
    "Eind",
    "Einde",
    "Stopdatum",
    "Stop datum",
    "Stop",
    "Afloopdatum",
    "Datum afloop",
    "Afloop",
    "Tot",
    "TOT",
    "tot:",
    "T/m",
    "t/m",
    "T/M",
    "Tm",
    "TM",
    "t.m.",
    "Tot en met",
    "tot en met",
    "Datum tot",
    "Datum t/m",
    "Datum tot en met",
    "T/M datum",
    "Tot datum",
    "Einddat.",
    "Eind dat.",
    "Datum einde",
    "Datum eind",
    # with periode
    "Periode tot",
    "Periode t/m",
    "Periode tm",
    "Periode tot en met",
    "Periode eind",
    "Einde periode",
    "Eind periode",
    "Eindperiode",
    "Periode einde",
    "Periodeeinde",
    "Einddatum periode",
    "Einddatum (periode)",
    "Periode - tot",
    "Periode: t/m",
    "Periode/tot",
    "PERIODE T.M.",
    "periode.tot",
    # with zorg / levering / prestatie / product
    "Zorgperiode einde",
    "Zorgperiode eind",
    "Zorgperiode tot",
    "Zorgperiode t/m",
    "Zorg tot",
    "Zorg t/m",
    "Einddatum zorg",
    "Einde zorg",
    "Stopdatum zorg",
    "Afloop zorg",
    "Einddatum levering",
    "Leveringsperiode tot",
    "Leveringsperiode t/m",
    "Levering tot",
    "Leveringseinde",
    "Prestatieperiode t/m",
    "Prestatieperiode tot",
    "Einddatum prestatie",
    "Prestatie t/m",
    "Einddatum productperiode",
    "Productperiode einde",
    "Productperiode tot",
    "Declaratieperiode t/m",
    # date format hints, Belgian/English
    "Tot en met (dd-mm-jjjj)",
    "Einddatum (DD-MM-JJJJ)",
    "Datum t.e.m.",
    "Date to",
    "Period end",
    "Date until",
]

MONTH_HEADERS = [
    "Maand",
    "maand",
    "MAAND",
    "Periode",
    "periode",
    "PERIODE",
    "Zorgperiode",
    "Leveringsperiode",
    "Prestatieperiode",
    "Declaratieperiode",
    "Productperiode",
    "Declaratiemaand",
    "Zorgmaand",
    "Leveringsmaand",
    "Prestatiemaand",
    "Maand/jaar",
    "Maand jaar",
    "Periode (maand)",
    "Maand van levering",
    "Periode van/tot",
    "Periode (mm-jjjj)",
]

NOT_DATES = {  # words that contain a side word but are something else
    "Totaal": "bedrag",
    "Totaalbedrag": "bedrag",
    "Eindbedrag": "bedrag",
    "Totaal periode": "bedrag",
    "Eindtotaal": "bedrag",
    "Bedrag": "bedrag",
    "Aantal": "volume",
    "Tarief": "tarief",
}


def test_the_tables_are_big_enough():
    assert len(set(BEGIN_HEADERS)) == len(BEGIN_HEADERS) >= 60
    assert len(set(END_HEADERS)) == len(END_HEADERS) >= 60


@pytest.mark.parametrize("header", BEGIN_HEADERS)
def test_begin_header_spellings(header):
    assert match_field(header) == "begindatum"


@pytest.mark.parametrize("header", END_HEADERS)
def test_end_header_spellings(header):
    assert match_field(header) == "einddatum"


@pytest.mark.parametrize("header", MONTH_HEADERS)
def test_month_header_spellings(header):
    assert match_field(header) == "periode"


@pytest.mark.parametrize("header, fieldname", NOT_DATES.items())
def test_side_words_inside_other_words_are_not_dates(header, fieldname):
    assert match_field(header) == fieldname


@pytest.mark.parametrize("begin, end", list(zip(BEGIN_HEADERS, END_HEADERS)))
def test_a_header_row_with_each_pair_maps_both_dates(begin, end):
    row = ["BSN", "Productcode", begin, end, "Aantal", "Bedrag"]
    header = find_header([row])
    assert header is not None
    assert header.columns["begindatum"] == 2 and header.columns["einddatum"] == 3
    assert "periode" not in header.columns


# --- through the real CLI, on every file format ------------------------------------------------

HEADER = ["Aanbieder", "Gemeente", "BSN", "Productcode", None, None, "Aantal", "Eenheid", "Tarief", "Bedrag"]
D = dt.date


def _rows(begin_name, end_name, lines):
    header = list(HEADER)
    header[4], header[5] = begin_name, end_name
    return [header, *([AGB, GEM, bsn, "45A48", b, e, 2, "04", 79.80, 159.60] for bsn, b, e in lines)]


def _text(v):
    if isinstance(v, dt.date):
        return v.strftime("%d-%m-%Y")
    if isinstance(v, float):
        return f"{v:.2f}".replace(".", ",")
    return "" if v is None else str(v)


def write_csv(path: Path, rows, encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows([[_text(v) for v in r] for r in rows])
    data = buf.getvalue()
    if encoding == "utf-16":
        path.write_bytes(codecs.BOM_UTF16_LE + data.encode("utf-16-le"))
    else:
        path.write_bytes(data.encode(encoding))
    return path


def write_xls(path: Path, rows) -> Path:
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("Declaratie")
    date = xlwt.easyxf(num_format_str="DD-MM-YYYY")
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v, date if isinstance(v, dt.date) else xlwt.Style.default_style)
    wb.save(str(path))
    return path


def write_ods(path: Path, rows, sheet: str = "Declaratie") -> Path:
    """A minimal OpenDocument spreadsheet: text, float and date cells (no library needed)."""

    def cell(v):
        if v is None:
            return "<table:table-cell/>"
        if isinstance(v, dt.date):
            return f'<table:table-cell office:value-type="date" office:date-value="{v.isoformat()}"><text:p>{v:%d-%m-%Y}</text:p></table:table-cell>'
        if isinstance(v, (int, float)):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'office:version="1.2"><office:body><office:spreadsheet>'
        f'<table:table table:name="{sheet}">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        z.writestr("META-INF/manifest.xml", manifest)
        z.writestr("content.xml", content)
    return path


WRITERS = {
    "xlsx": lambda p, rows: write_xlsx(p.with_suffix(".xlsx"), {"Declaratie": rows}),
    "xls": lambda p, rows: write_xls(p.with_suffix(".xls"), rows),
    "ods": lambda p, rows: write_ods(p.with_suffix(".ods"), rows),
    "csv-cp1252": lambda p, rows: write_csv(p.with_suffix(".csv"), rows, "cp1252"),
    "csv-utf16": lambda p, rows: write_csv(p.with_suffix(".csv"), rows, "utf-16"),
}

# Per format a few spelling pairs of the kind the issue names; every one must keep the day.
PAIRS = {
    "xlsx": [("Begin zorgperiode", "Zorgperiode einde"), ("Periode van", "Periode tot")],
    "xls": [("Datum van", "Periode tot en met"), ("Ingangsdatum levering", "Einde periode")],
    "ods": [("Leveringsperiode vanaf", "Prestatieperiode t/m"), ("Start", "Einddatum zorg")],
    "csv-cp1252": [("Aanvang zorgperiode", "T/M datum"), ("Begindatum (dd-mm-jjjj)", "Tm")],
    "csv-utf16": [("Periode begin", "Periode einde"), ("Zorg vanaf", "Afloop zorg")],
}


def _stored(url: str) -> pd.DataFrame:
    store = Store.open(url)
    return store.declaraties(["id", "bron", "rij", "begindatum", "einddatum", "periode_uit_maand"])


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_written_dates_are_stored_as_written_in_every_format(tmp_path, db_url, cli, fmt):
    lines = [(BSNS[0], D(2025, 3, 5), D(2025, 3, 19)), (BSNS[1], D(2025, 3, 1), D(2025, 3, 31))]
    paths = []
    for n, (begin, end) in enumerate(PAIRS[fmt]):
        paths.append(WRITERS[fmt](tmp_path / f"decl{n}", _rows(begin, end, lines)))
    r = cli("import", *paths, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    got = _stored(db_url)
    assert len(got) == 4
    assert [str(d)[:10] for d in got["begindatum"]] == ["2025-03-05", "2025-03-01"] * 2
    assert [str(d)[:10] for d in got["einddatum"]] == ["2025-03-19", "2025-03-31"] * 2
    assert got["periode_uit_maand"].tolist() == [0, 0, 0, 0]


# --- values: a column of full dates is not a month column -------------------------------------


def test_a_month_column_of_full_dates_is_never_a_month(tmp_path, db_url, cli):
    header = ["Aanbieder", "Gemeente", "BSN", "Productcode", "Periode", "Aantal", "Eenheid", "Tarief", "Bedrag"]
    rows = [
        header,
        [AGB, GEM, BSNS[0], "45A48", D(2025, 3, 17), 2, "04", 79.80, 159.60],
        [AGB, GEM, BSNS[1], "45A48", "maart 2025", 2, "04", 79.80, 159.60],
        [AGB, GEM, BSNS[2], "45A48", "01-03-2025 t/m 15-03-2025", 2, "04", 79.80, 159.60],
    ]
    src = write_xlsx(tmp_path / "periode.xlsx", {"Blad1": rows})
    r = cli("import", src, "--db", db_url)
    assert r.exit_code == 0, r.output
    got = _stored(db_url).set_index("rij")
    # the day of 17-03-2025 is not thrown away for "March": the line has no period and a finding
    assert pd.isna(got.loc[2, "begindatum"]) and pd.isna(got.loc[2, "einddatum"])
    f = Store.open(db_url).import_findings()
    one = f[f["rij"] == 2].iloc[0]
    assert one["veld"] == "periode" and one["kolom"] == "Periode" and one["waarde"].startswith("2025-03-17")
    assert "cannot tell whether it is the begin or the end" in one["melding"]
    # a month is a month (both sides derived); a range is two written dates
    assert [str(got.loc[3, c])[:10] for c in ("begindatum", "einddatum")] == ["2025-03-01", "2025-03-31"]
    assert got.loc[3, "periode_uit_maand"] == 3
    assert [str(got.loc[4, c])[:10] for c in ("begindatum", "einddatum")] == ["2025-03-01", "2025-03-15"]
    assert got.loc[4, "periode_uit_maand"] == 0


def test_excel_months_stored_as_the_first_day_are_months(tmp_path, db_url, cli):
    header = ["Aanbieder", "Gemeente", "BSN", "Productcode", "Maand", "Aantal", "Eenheid", "Tarief", "Bedrag"]
    rows = [header, *([AGB, GEM, b, "45A48", D(2025, m, 1), 2, "04", 79.80, 159.60] for b, m in zip(BSNS, (2, 3)))]
    src = write_xlsx(tmp_path / "maand.xlsx", {"Blad1": rows})
    assert cli("import", src, "--db", db_url, "-q").exit_code == 0
    got = _stored(db_url)
    assert [str(d)[:10] for d in got["einddatum"]] == ["2025-02-28", "2025-03-31"]
    assert got["periode_uit_maand"].tolist() == [3, 3]


def test_a_date_column_beside_one_side_column_is_the_other_side(tmp_path, db_url, cli):
    header = [
        "Aanbieder",
        "Gemeente",
        "BSN",
        "Productcode",
        "Startdatum",
        "Zorgperiode",
        "Aantal",
        "Eenheid",
        "Tarief",
        "Bedrag",
    ]
    rows = [header, [AGB, GEM, BSNS[0], "45A48", D(2025, 3, 4), D(2025, 3, 18), 2, "04", 79.80, 159.60]]
    src = write_xlsx(tmp_path / "x.xlsx", {"Blad1": rows})
    assert cli("import", src, "--db", db_url, "-q").exit_code == 0
    got = _stored(db_url).iloc[0]
    assert (str(got["begindatum"])[:10], str(got["einddatum"])[:10], got["periode_uit_maand"]) == (
        "2025-03-04",
        "2025-03-18",
        0,
    )


# --- validate: only a side a month gave may be set to the allocation (IV089) -----------------


def _setup_store(tmp_path, url, cli, rows, allocation_start, allocation_end=None, sheet="Blad1"):
    contract = tmp_path / "contract.toml"
    contract.write_text(CONTRACT, encoding="utf-8")
    alloc = [ALLOCATION_HEADER] + [
        [
            f"90000{i}",
            bsn,
            AGB,
            GEM,
            "45",
            "45A48",
            allocation_start,
            allocation_end,
            99_999,
            "04",
            "6",
            None,
            None,
            D(2020, 12, 1),
        ]
        for i, bsn in enumerate(BSNS[:4], 1)
    ]
    toew = write_xlsx(tmp_path / "toewijzingen.xlsx", {"Toewijzingen": alloc})
    src = write_xlsx(tmp_path / "decl.xlsx", {sheet: rows})
    r = cli("import", contract, toew, src, "--db", url, "-q")
    assert r.exit_code == 0, r.output
    return src


def _validate(cli, url):
    import json

    r = cli("validate", "--db", url, "--format", "json", "-q", "--show-bsn")
    assert r.exit_code in (0, 1), r.output
    return json.loads(r.stdout)


def _by_row(records):
    out: dict[int, dict[str, dict]] = {}
    for rec in records:
        out.setdefault(rec["rij"], {})[rec["regel"]] = rec
    return out


def test_only_the_month_side_is_clipped_and_a_written_date_is_judged_as_written(tmp_path, db_url, cli):
    header = [
        "Aanbieder",
        "Gemeente",
        "BSN",
        "Productcode",
        "Datum van",
        "Maand",
        "Aantal",
        "Eenheid",
        "Tarief",
        "Bedrag",
    ]
    rows = [
        header,
        # row 2: month only: begins on the 1st, the allocation on the 10th: clipped, approved, JZ-P01
        [AGB, GEM, BSNS[0], "45A48", None, "maart 2025", 2, "04", 79.80, 159.60],
        # row 3: the provider wrote 05-03: before the allocation: never moved, rejected (TR307)
        [AGB, GEM, BSNS[1], "45A48", D(2025, 3, 5), "maart 2025", 2, "04", 79.80, 159.60],
        # row 4: written on the allocation's first day: fine; the end comes from the month
        [AGB, GEM, BSNS[2], "45A48", D(2025, 3, 10), "2025-03", 2, "04", 79.80, 159.60],
    ]
    _setup_store(tmp_path, db_url, cli, rows, D(2025, 3, 10))
    stored = _stored(db_url).set_index("rij")
    assert stored["periode_uit_maand"].to_dict() == {2: 3, 3: 2, 4: 2}
    assert [str(d)[:10] for d in stored["begindatum"]] == ["2025-03-01", "2025-03-05", "2025-03-10"]  # as read
    by = _by_row(_validate(cli, db_url))
    assert set(by[2]) == {"JZ-P01"} and by[2]["JZ-P01"]["status"] == "goedgekeurd"
    assert by[2]["JZ-P01"]["waarde"] == "2025-03-10 t/m 2025-03-31"
    assert by[2]["JZ-P01"]["melding"] == (
        "ProductPeriode from the month 2025-03 (month column), with begindatum 2025-03-10 = the ingangsdatum of toewijzing 900001 (IV089)"
    )
    assert set(by[3]) == {"TR307", "TR387"} and by[3]["TR307"]["status"] == "afgekeurd"
    assert (
        by[3]["TR307"]["melding"]
        == "toewijzing 900002 (matched on content): ProductPeriode begins 2025-03-05, before the allocation's ingangsdatum 2025-03-10"
    )
    assert 4 not in by
    # the store still holds what was read
    assert [str(d)[:10] for d in _stored(db_url).set_index("rij")["begindatum"]] == [
        "2025-03-01",
        "2025-03-05",
        "2025-03-10",
    ]


def test_a_written_end_after_the_allocation_is_rejected_and_a_month_end_is_clipped(tmp_path, db_url, cli):
    header = [
        "Aanbieder",
        "Gemeente",
        "BSN",
        "Productcode",
        "Maand",
        "Periode tot",
        "Aantal",
        "Eenheid",
        "Tarief",
        "Bedrag",
    ]
    rows = [
        header,
        [
            AGB,
            GEM,
            BSNS[0],
            "45A48",
            "maart 2025",
            None,
            2,
            "04",
            79.80,
            159.60,
        ],  # end from the month: clipped to 20-03
        [AGB, GEM, BSNS[1], "45A48", "maart 2025", D(2025, 3, 31), 2, "04", 79.80, 159.60],  # written 31-03: TR308
    ]
    _setup_store(tmp_path, db_url, cli, rows, D(2025, 1, 1), D(2025, 3, 20))
    by = _by_row(_validate(cli, db_url))
    assert set(by[2]) == {"JZ-P01"}
    assert by[2]["JZ-P01"]["melding"].endswith("with einddatum 2025-03-20 = the einddatum of toewijzing 900001 (IV089)")
    assert {"TR308", "TR388"} <= set(by[3]) and by[3]["TR308"]["status"] == "afgekeurd"
    assert "ends 2025-03-31, after the allocation's einddatum 2025-03-20" in by[3]["TR308"]["melding"]


def test_a_month_wholly_before_the_allocation_says_the_date_came_from_the_month(tmp_path, db_url, cli):
    header = [
        "Aanbieder",
        "Gemeente",
        "BSN",
        "Toewijzingnummer",
        "Productcode",
        "Maand",
        "Aantal",
        "Eenheid",
        "Tarief",
        "Bedrag",
    ]
    rows = [header, [AGB, GEM, BSNS[0], "900001", "45A48", "februari 2025", 2, "04", 79.80, 159.60]]
    _setup_store(tmp_path, db_url, cli, rows, D(2025, 3, 10))
    by = _by_row(_validate(cli, db_url))
    assert "JZ-P01" not in by[2] and by[2]["TR307"]["status"] == "afgekeurd"
    assert by[2]["TR307"]["melding"] == (
        "toewijzing 900001: ProductPeriode begins 2025-02-01 (the first day of the month in the file's month column), "
        "before the allocation's ingangsdatum 2025-03-10"
    )


# --- a store written before schema 2 keeps working ---------------------------------------------


def test_a_schema_1_store_is_migrated_and_its_month_lines_still_clipped(tmp_path, db_url, cli):
    header = ["Aanbieder", "Gemeente", "BSN", "Productcode", "Maand", "Aantal", "Eenheid", "Tarief", "Bedrag"]
    rows = [header, [AGB, GEM, BSNS[0], "45A48", "maart 2025", 2, "04", 79.80, 159.60]]
    _setup_store(tmp_path, db_url, cli, rows, D(2025, 3, 10))
    # make it look like a store of the previous jzcli: no column, schema version 1
    store = Store.open(db_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE declaratieregels DROP COLUMN periode_uit_maand")
        conn.exec_driver_sql("UPDATE meta SET waarde = '1' WHERE sleutel = 'schema_version'")
    store.close()
    reopened = Store.open(db_url)
    with reopened.engine.connect() as conn:
        assert conn.execute(sa.text("select waarde from meta where sleutel='schema_version'")).scalar() == "2"
        assert conn.execute(sa.text("select count(*), count(periode_uit_maand) from declaratieregels")).one() == (1, 0)
    by = _by_row(_validate(cli, db_url))
    # the old line has no per-line mark: the sheet's columns (a month column only) say both sides
    assert set(by[2]) == {"JZ-P01"}
    assert by[2]["JZ-P01"]["waarde"] == "2025-03-10 t/m 2025-03-31"


# --- the derivation is visible in export declaraties and in the feedback workbook -----------------


def test_export_and_feedback_say_how_the_period_was_derived(tmp_path, db_url, cli):
    header = [
        "Aanbieder",
        "Gemeente",
        "BSN",
        "Productcode",
        "Datum van",
        "Maand",
        "Aantal",
        "Eenheid",
        "Tarief",
        "Bedrag",
    ]
    rows = [
        header,
        [AGB, GEM, BSNS[0], "45A48", None, "maart 2025", 2, "04", 79.80, 159.60],  # clipped, approved
        [AGB, GEM, BSNS[1], "45A48", D(2025, 3, 5), "maart 2025", 2, "04", 79.80, 159.60],  # written begin: TR307
        [AGB, GEM, BSNS[2], "45A48", D(2025, 3, 10), D(2025, 3, 20), 2, "04", 79.80, 159.60],  # both written: TR388
        [AGB, GEM, BSNS[3], "45A48", None, "maart 2025", 2, "04", 95.00, 190.00],  # clipped, and a wrong tariff: TR418
    ]
    _setup_store(tmp_path, db_url, cli, rows, D(2025, 3, 10))
    # before validate: only what the file gave
    r = cli("export", "declaraties", "--db", db_url, "-o", tmp_path / "voor.csv", "-q")
    assert r.exit_code == 0, r.output
    before = pd.read_csv(tmp_path / "voor.csv", dtype=str, keep_default_na=False).set_index("rij")
    assert before["productperiode_afgeleid"].to_dict() == {
        "2": "begindatum and einddatum from the month column",
        "3": "einddatum from the month column",
        "4": "",
        "5": "begindatum and einddatum from the month column",
    }
    _validate(cli, db_url)
    for name in ("na.csv", "na.xlsx"):
        r = cli("export", "declaraties", "--db", db_url, "-o", tmp_path / name, "-q")
        assert r.exit_code == 0, r.output
    after = pd.read_csv(tmp_path / "na.csv", dtype=str, keep_default_na=False).set_index("rij")
    clipped = "ProductPeriode from the month 2025-03 (month column), with begindatum 2025-03-10 = the ingangsdatum of toewijzing {} (IV089)"
    assert after.loc["2", "productperiode_afgeleid"] == clipped.format("900001")
    assert after.loc["5", "productperiode_afgeleid"] == clipped.format("900004")
    assert after.loc["3", "productperiode_afgeleid"] == "einddatum from the month column"
    assert after["begindatum"].tolist() == ["2025-03-01", "2025-03-05", "2025-03-10", "2025-03-01"]  # as stored
    xl = pd.read_excel(tmp_path / "na.xlsx").set_index("rij")
    assert xl.loc[2, "productperiode_afgeleid"] == clipped.format("900001") and pd.isna(
        xl.loc[4, "productperiode_afgeleid"]
    )
    assert list(xl.columns)[-1] == "productperiode_afgeleid"

    r = cli("retour", "--db", db_url, "-o", tmp_path / "retour", "-q")
    assert r.exit_code in (0, 1), r.output
    import openpyxl

    (book,) = sorted((tmp_path / "retour").glob("*.xlsx"))
    ws = openpyxl.load_workbook(book)["Afgekeurde regels"]
    head = [c.value for c in ws[1]]
    got = {
        row[head.index("Rij")]: row[head.index("ProductPeriode afgeleid")]
        for row in ws.iter_rows(min_row=2, values_only=True)
    }
    assert got == {
        3: "einddatum uit de maandkolom",
        4: None,  # both dates as written
        5: "ProductPeriode uit de maand 2025-03 (maandkolom), met begindatum 2025-03-10 = de ingangsdatum van toewijzing 900004 (IV089)",
    }
    notes = [c.value for c in openpyxl.load_workbook(book)["Toelichting"]["A"]]
    assert "Kolom ProductPeriode afgeleid" in notes
