"""The report as an Excel workbook people can send on.

One sheet per table, with Dutch column headers as people read them ("Aandeel %"; the JSON/CSV
keys are in the Toelichting sheet): money as numbers in euros with
a € number format (exact: written from integer cents as Decimal), months as real dates formatted
``yyyy-mm``, percentages as Excel percentages, counts with a thousands separator. Every sheet has
a bold, frozen header row, an autofilter over the data rows (the totals row stays below it, bold)
and column widths fitted to the content; it prints landscape on the page width with the header
row on every page. Native Excel charts: cost per month (stacked columns:
approved, rejected, not judged), cost per aanbieder (bars) and first-time-right per month (line).
Text that starts with ``=``, ``+``, ``-``, ``@`` is written as a text cell, never as a formula.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd

from jzcli.domain.report import MONEY_COLUMNS, PCT_COLUMNS, Report
from jzcli.output.xlsx import (
    COUNT_FORMAT,
    EURO_FORMAT,
    MONTH_FORMAT,
    PCT_FORMAT,
    display_width,
    header,
    is_missing,
    save,
    write_notes,
    write_sheet,
)

SHEETS = {
    "kosten": "Kosten",
    "maand": "Per maand",
    "aanbieder": "Per aanbieder",
    "productcategorie": "Per productcategorie",
    "budget": "Budget",
    "lasten_aanbieder": "Lasten per aanbieder",
    "lasten_regel": "Lasten per regel",
    "lasten_maand": "Lasten per maand",
}
COUNT_COLUMNS = {
    "regels",
    "clienten",
    "volume",
    "beoordeeld",
    "afgekeurd_regels",
    "eerste_indieningen",
    "eerste_goedgekeurd",
    "herindieningen",
    "aanbieders",
    "maanden",
    "jaar",
}


def _write_report(report: Report, target: Path, *, generated: dt.datetime | None = None) -> list[str]:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    names = []
    for key, title in SHEETS.items():
        frame = report.tables.get(key)
        if frame is None:
            continue
        ws = wb.create_sheet(title)
        _write_frame(ws, frame, key)
        names.append(title)
        if key == "maand":
            _month_chart(ws, frame)
        elif key == "aanbieder":
            _aanbieder_chart(ws, frame)
        elif key == "lasten_maand":
            _ftr_chart(ws, frame)
    ws = wb.create_sheet("Toelichting")
    _write_notes(ws, report, generated or dt.datetime.now().replace(microsecond=0))
    names.append("Toelichting")
    save(wb, target)
    return names


def write_report(report: Report, target: Path, *, generated: dt.datetime | None = None) -> list[str]:
    """Write every table of ``report`` (and a Toelichting sheet) to ``target``; returns sheet names."""
    from jzcli.domain.text import xlsx_guard

    with xlsx_guard(target):
        return _write_report(report, target, generated=generated)


# ------------------------------------------------------------------------------ cells
def _cell_value(key: str, column: str, value):
    """(value, number_format) for one cell of column ``column``."""
    if is_missing(value):
        return None, None
    if column in MONEY_COLUMNS:
        return Decimal(int(value)) / 100, EURO_FORMAT
    if column in PCT_COLUMNS:
        return Decimal(str(value)) / 100, PCT_FORMAT
    if column == "maand" and isinstance(value, str) and len(value) == 7:
        return dt.datetime(int(value[:4]), int(value[5:7]), 1), MONTH_FORMAT
    if column == "jaar" and isinstance(value, str) and value.isdigit():
        return int(value), "0"
    if column in COUNT_COLUMNS and not isinstance(value, str):
        return int(value), ("0" if column == "jaar" else COUNT_FORMAT)
    if hasattr(value, "item"):
        value = value.item()
    return value, None


def _write_frame(ws, frame: pd.DataFrame, key: str) -> None:
    """One table as a sheet: its detail rows under the autofilter, subtotal and total rows bold."""
    columns = list(frame.columns)
    rows = []
    widths = [len(header(c)) + 2 for c in columns]
    for raw in frame.itertuples(index=False, name=None):
        row = []
        for j, (name, value) in enumerate(zip(columns, raw)):
            value, fmt = _cell_value(key, name, value)
            row.append(value)
            widths[j] = max(widths[j], display_width(value, fmt))
        rows.append(row)
    niveau = frame["niveau"].tolist() if "niveau" in frame else ["detail"] * len(frame)
    strong = [n != "detail" for n in niveau]
    details = [i for i, s in enumerate(strong, start=1) if not s]
    write_sheet(
        ws,
        [header(c) for c in columns],
        rows,
        widths=[min(60, max(8, w)) for w in widths],
        filter_rows=details[-1] if details else 0,
        formats=[_column_format(c) for c in columns],
        strong=strong,
    )


def _column_format(column: str) -> str | None:
    """The number format of a column's non-text cells (as ``_cell_value`` gives them)."""
    if column in MONEY_COLUMNS:
        return EURO_FORMAT
    if column in PCT_COLUMNS:
        return PCT_FORMAT
    if column == "maand":
        return MONTH_FORMAT
    if column == "jaar":
        return "0"
    return COUNT_FORMAT if column in COUNT_COLUMNS else None


# ------------------------------------------------------------------------------ charts
def _detail_rows(frame: pd.DataFrame) -> int:
    return int((frame["niveau"] == "detail").sum()) if "niveau" in frame else len(frame)


def _col(frame: pd.DataFrame, name: str) -> int:
    return list(frame.columns).index(name) + 1


def _month_chart(ws, frame: pd.DataFrame) -> None:
    from openpyxl.chart import BarChart, Reference

    n = _detail_rows(frame)
    if n == 0:
        return
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = "Kosten per maand"
    chart.y_axis.title = "€"
    chart.y_axis.numFmt = '"€" #,##0'
    chart.x_axis.title = "maand"
    chart.x_axis.number_format = MONTH_FORMAT
    for name in ("goedgekeurd", "afgekeurd", "onbeoordeeld"):
        c = _col(frame, name)
        chart.add_data(Reference(ws, min_col=c, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=_col(frame, "maand"), min_row=2, max_row=n + 1))
    chart.width, chart.height = 24, 12
    ws.add_chart(chart, f"{_letter(len(frame.columns) + 2)}2")


def _aanbieder_chart(ws, frame: pd.DataFrame) -> None:
    from openpyxl.chart import BarChart, Reference

    n = min(_detail_rows(frame), 25)  # the 25 largest (the sheet is sorted largest first)
    if n == 0:
        return
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Kosten per aanbieder" + (" (top 25)" if _detail_rows(frame) > 25 else "")
    chart.x_axis.title = "aanbieder (AGB)"
    chart.y_axis.title = "€"
    chart.y_axis.numFmt = '"€" #,##0'
    chart.add_data(Reference(ws, min_col=_col(frame, "ingediend"), min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=_col(frame, "aanbieder"), min_row=2, max_row=n + 1))
    chart.x_axis.scaling.orientation = "maxMin"  # largest at the top
    chart.width, chart.height = 24, max(8, 1 + 0.6 * n)
    ws.add_chart(chart, f"{_letter(len(frame.columns) + 2)}2")


def _ftr_chart(ws, frame: pd.DataFrame) -> None:
    from openpyxl.chart import LineChart, Reference

    n = _detail_rows(frame)
    if n == 0:
        return
    chart = LineChart()
    chart.title = "First-time-right en afkeur per maand"
    chart.y_axis.title = "%"
    chart.y_axis.numFmt = "0%"
    chart.x_axis.number_format = MONTH_FORMAT
    for name in ("first_time_right_pct", "afgekeurd_pct"):
        chart.add_data(Reference(ws, min_col=_col(frame, name), min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=_col(frame, "maand"), min_row=2, max_row=n + 1))
    chart.width, chart.height = 24, 12
    ws.add_chart(chart, f"{_letter(len(frame.columns) + 2)}2")


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


# ------------------------------------------------------------------------------ notes
NOTES = [
    ("ingediend", "netto gedeclareerd bedrag: debet min credit (een creditregel verlaagt het bedrag)"),
    ("goedgekeurd", "netto bedrag van de regels die jzcli validate heeft goedgekeurd"),
    (
        "afgekeurd",
        "netto bedrag van de afgekeurde regels; een afgekeurde creditregel telt negatief, en de debetregel "
        "die zij had moeten opheffen blijft goedgekeurd: zo kan goedgekeurd hoger zijn dan ingediend",
    ),
    ("onbeoordeeld", "netto bedrag van de regels die nog niet beoordeeld zijn (voer jzcli validate uit)"),
    ("clienten", "aantal verschillende BSN's"),
    (
        "volume",
        "netto GeleverdVolume (debet min credit) in de eenheid van de rij; leeg waar de regels van een rij "
        "verschillende eenheden hebben (uren en minuten worden nooit opgeteld)",
    ),
    (
        "productcategorie",
        "de ProductCategorie van de regel; waar het bestand er geen heeft, de categorie die jzcli "
        "validate vond: die van het contractproduct, anders die van de toewijzing (een opmerking hieronder zegt hoeveel regels elk)",
    ),
    ("aandeel_pct", "aandeel in het totaal ingediend van het rapport"),
    ("maand", "maand van de ProductPeriode (begindatum); --van/--tot selecteren daarop"),
    (
        "gemeente",
        "de gemeente in de regel (iJw IV046); een vervallen code blijft onder de eigen code en naam, met een opmerking",
    ),
    ("gerealiseerd", "goedgekeurd + onbeoordeeld (alles wat niet is afgekeurd)"),
    (
        "prognose",
        "gerealiseerd ÷ m × 12, m = nummer van de laatste maand van dat jaar met een gedeclareerde regel voor de gemeente",
    ),
    (
        "first_time_right_pct",
        "goedgekeurde eerste indieningen ÷ beoordeelde eerste indieningen (debetregels); een regel is "
        "een herindiening wanneer een beoordeelde debetregel met dezelfde aanbieder, BSN, productcode en maand van de "
        "ProductPeriode in een eerdere batch bestaat",
    ),
    ("afgekeurd_bedrag", "netto bedrag (debet min credit) van de afgekeurde regels"),
]


def _write_notes(ws, report: Report, generated: dt.datetime) -> None:
    sel = report.selection.describe()
    rows: list[tuple[str, object]] = [
        ("Rapport", "jzcli report"),
        ("Gemaakt op", generated),
        ("Gemeenten", ", ".join(sel["gemeenten"]) or "alle"),
        ("Aanbieders", ", ".join(sel["aanbieders"]) or "alle"),
        ("Van", sel["van"] or "eerste maand"),
        ("Tot en met", sel["tot"] or "laatste maand"),
        ("Gegroepeerd op", ", ".join(report.by) or "gemeente"),
        ("", ""),
    ]
    rows += [(f"Kolom {header(k)}", f"{v} (sleutel in JSON/CSV: {k})") for k, v in NOTES]
    if report.notes:
        rows.append(("", ""))
        rows += [("Opmerking", n) for n in report.notes]
    if not report.judged_any:
        rows.append(
            ("Opmerking", "nog geen regel beoordeeld: alle bedragen zijn onbeoordeeld (voer jzcli validate uit)")
        )
    write_notes(ws, rows, widths=(30, 110), stamp_format="yyyy-mm-dd hh:mm")
