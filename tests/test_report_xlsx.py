"""The report workbook, reopened with openpyxl: sheets, number formats, charts, frozen header,
autofilter, widths, and text that looks like a formula stays text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from jzcli import report as R
from jzcli.output.report_xlsx import write_report
from jzcli.output.xlsx import EURO_FORMAT, MONTH_FORMAT, PCT_FORMAT
from test_report import A, B, import_files, judge, line, write_xlsx


@pytest.fixture
def workbook(tmp_path, db_url, cli):
    judge(db_url, import_files(tmp_path, db_url, cli))
    budget = tmp_path / "budget.csv"
    budget.write_text("gemeente;jaar;budget\nHuizen;2025;50.000,00\n", encoding="utf-8")
    target = tmp_path / "report.xlsx"
    r = cli("report", "--budget", budget, "-o", target, "--db", db_url)
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and "wrote" in r.stderr
    return openpyxl.load_workbook(target)


def header(ws) -> list[str]:
    return [c.value for c in ws[1]]


def column(ws, name: str) -> list:
    """The cells under the column of key ``name`` (its header is the Dutch label)."""
    from jzcli.output.xlsx import header as label

    j = header(ws).index(label(name)) + 1
    return [ws.cell(row=i, column=j) for i in range(2, ws.max_row + 1)]


def test_sheets_formats_frozen_header_and_autofilter(workbook):
    assert workbook.sheetnames == [
        "Kosten",
        "Per maand",
        "Per aanbieder",
        "Per productcategorie",
        "Budget",
        "Lasten per aanbieder",
        "Lasten per regel",
        "Lasten per maand",
        "Toelichting",
    ]
    for name in workbook.sheetnames[:-1]:
        ws = workbook[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), name
        assert all(c.font.b for c in ws[1]), name
        assert ws.column_dimensions["A"].width >= 8, name

    ws = workbook["Kosten"]
    money = column(ws, "ingediend")
    assert all(c.number_format == EURO_FORMAT for c in money)
    # Blaricum 319,20; Bussum 234,00; Huizen 4615,20; total 5168,40 — exact numbers, not text
    assert [c.value for c in money] == [319.2, 234, 4615.2, 5168.4]
    assert [c.data_type for c in money] == ["n"] * 4
    assert all(c.number_format == PCT_FORMAT for c in column(ws, "aandeel_pct"))
    assert column(ws, "aandeel_pct")[-1].value == 1
    # the totals row is bold and below the autofilter range
    assert ws.auto_filter.ref == f"A1:{ws.cell(row=1, column=ws.max_column).column_letter}{ws.max_row - 1}"
    assert ws.cell(row=ws.max_row, column=1).value == "totaal" and ws.cell(row=ws.max_row, column=1).font.b
    bussum = [c.value for c in column(ws, "gemeente_opmerking")][1]
    assert bussum.startswith("merged into Gooise Meren (1942)")

    ws = workbook["Per maand"]
    months = column(ws, "maand")
    assert [c.value for c in months[:3]] == [dt.datetime(2025, 1, 1), dt.datetime(2025, 2, 1), dt.datetime(2025, 3, 1)]
    assert all(c.is_date and c.number_format == MONTH_FORMAT for c in months[:3])
    assert [c.value for c in column(ws, "ingediend")] == [780, 191.4, 4197, 5168.4]  # all gemeenten

    ws = workbook["Budget"]
    assert column(ws, "prognose")[0].value == 16545.6 and column(ws, "prognose")[0].number_format == EURO_FORMAT
    assert column(ws, "jaar")[0].value == 2025

    ws = workbook["Lasten per aanbieder"]
    assert [c.value for c in column(ws, "aanbieder")] == [A, B, "totaal" and None]
    assert column(ws, "first_time_right_pct")[0].value == 0.5
    assert column(ws, "afgekeurd_bedrag")[0].number_format == EURO_FORMAT
    assert column(ws, "afgekeurd_regels")[0].value == 2


def test_native_charts(workbook):
    assert len(workbook["Per maand"]._charts) == 1
    assert len(workbook["Per aanbieder"]._charts) == 1
    assert len(workbook["Lasten per maand"]._charts) == 1
    chart = workbook["Per maand"]._charts[0]
    assert chart.tagname == "barChart" and chart.grouping == "stacked" and len(chart.series) == 3
    assert workbook["Per aanbieder"]._charts[0].tagname == "barChart"
    assert workbook["Lasten per maand"]._charts[0].tagname == "lineChart"


def test_toelichting_names_selection_and_definitions(workbook):
    ws = workbook["Toelichting"]
    labels = {ws.cell(row=i, column=1).value: ws.cell(row=i, column=2).value for i in range(1, ws.max_row + 1)}
    # in Dutch: the workbook is for the gemeente's people (and the keys of JSON/CSV are named)
    assert labels["Gemeenten"] == "alle" and labels["Gegroepeerd op"] == "gemeente"
    assert (
        "debet min credit" in labels["Kolom Ingediend"]
        and "sleutel in JSON/CSV: ingediend" in labels["Kolom Ingediend"]
    )
    assert "goedgekeurd hoger zijn dan ingediend" in labels["Kolom Afgekeurd"]
    assert isinstance(labels["Gemaakt op"], dt.datetime)


def test_formula_looking_text_stays_text(tmp_path, embedded_url, cli):
    # a provider's product code that looks like a formula, imported through the real importer
    rows = [line(A, "0406", "F1", "999900006", "45", '=HYPERLINK("x")', (2025, 3), 1, "04", 79.80, 79.80)]
    src = write_xlsx(tmp_path / "f.xlsx", rows)
    wb = openpyxl.load_workbook(src)
    wb.active["I2"].data_type = "s"  # a text cell, as the provider typed it (not a formula)
    wb.save(src)
    r = cli("import", src, "--db", embedded_url, "-q")
    assert r.exit_code == 0, r.output
    target = tmp_path / "r.xlsx"
    r = cli("report", "--by", "productcode", "-o", target, "--db", embedded_url)
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(target)["Kosten"]
    cell = column(ws, "productcode")[0]
    assert cell.value == '=HYPERLINK("x")' and cell.data_type == "s"

    # and any text in any table, written by the writer directly
    frame = pd.DataFrame(
        {
            "niveau": ["detail", "totaal"],
            "aanbieder": ['=HYPERLINK("http://evil","klik")', None],
            "regels": [1, 1],
            "ingediend": [12345, 12345],
            "aandeel_pct": [100.0, 100.0],
        }
    )
    for text in ("+31 6 1234", "-2", "@SUM(A1)"):
        frame.loc[len(frame)] = ["detail", text, 1, 1, None]
    report = R.Report(R.Selection(), (), {"aanbieder": frame})
    write_report(report, tmp_path / "direct.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "direct.xlsx")["Per aanbieder"]
    cells = column(ws, "aanbieder")
    assert cells[0].value == '=HYPERLINK("http://evil","klik")' and cells[0].data_type == "s"
    assert [(c.value, c.data_type) for c in cells[2:]] == [("+31 6 1234", "s"), ("-2", "s"), ("@SUM(A1)", "s")]
    assert column(ws, "ingediend")[0].value == 123.45


def test_money_is_exact_to_the_cent(tmp_path):
    frame = pd.DataFrame(
        {
            "niveau": ["detail", "detail", "totaal"],
            "aanbieder": ["1", "2", None],
            "ingediend": [10, 20, 30],
            "goedgekeurd": [123456789012, -1, 0],
        }
    )
    write_report(R.Report(R.Selection(), (), {"aanbieder": frame}), tmp_path / "m.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "m.xlsx")["Per aanbieder"]
    assert [c.value for c in column(ws, "ingediend")] == [0.1, 0.2, 0.3]
    # the stored XML text is the exact decimal, not a binary float
    import zipfile

    xml = zipfile.ZipFile(tmp_path / "m.xlsx").read("xl/worksheets/sheet1.xml").decode()
    assert "<v>1234567890.12</v>" in xml and "<v>-0.01</v>" in xml and "<v>0.3</v>" in xml
    assert Decimal("1234567890.12") == Decimal(123456789012) / 100
