"""The feedback workbook for one aanbieder: what jzcli validate decided on its spreadsheet lines.

Sheets
    ``Samenvatting``: one row per file (batch): gemeente(n), lines and net amounts (debet − credit)
    submitted, approved and rejected, and a bold total row below the autofilter range.
    ``Afgekeurde regels``: one row per rejected line: the provider's own file, sheet and Excel
    row, the line's values as stored (BSN in full — this file is for the provider), and the
    retourcodes, rules, omschrijvingen and messages of every rejecting finding (one per text line
    in the cell, wrapped).
    ``Toelichting``: who the workbook is for, when it was made and how to read it.

Money is written from integer cents as an exact Decimal with the report's € format, dates as
real dates (dd-mm-yyyy), counts as numbers; the header row is bold and frozen, with an autofilter.
Every text cell is literal text (a provider's "=cmd" stays text, never a formula).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd

from jzcli.export import atomic_path
from jzcli.report_xlsx import COUNT_FORMAT, EURO_FORMAT, _display_width, _is_missing

DATE_FORMAT = "dd-mm-yyyy"

SUMMARY_SHEET = "Samenvatting"
REJECTED_SHEET = "Afgekeurde regels"
NOTES_SHEET = "Toelichting"

SUMMARY_COLUMNS = [
    "batch", "bestand", "gemeente", "regels", "ingediend", "goedgekeurd_regels", "goedgekeurd", "afgekeurd_regels", "afgekeurd",
]  # fmt: skip
REJECTED_COLUMNS = [
    "bestand", "blad", "rij", "declaratienummer", "referentienummer", "vorig_referentienummer", "bsn", "toewijzingnummer",
    "productcategorie", "productcode", "begindatum", "einddatum", "volume", "eenheid", "tarief", "bedrag", "debet_credit",
    "gemeente", "retourcode", "regel", "omschrijving", "melding",
]  # fmt: skip

MONEY = {"ingediend", "goedgekeurd", "afgekeurd", "tarief", "bedrag"}
DATES = {"begindatum", "einddatum"}
COUNTS = {"regels", "goedgekeurd_regels", "afgekeurd_regels"}
INTEGERS = {"batch", "rij", "volume"}
WRAPPED = {"retourcode", "regel", "omschrijving", "melding"}

NOTES = [
    ("ingediend / goedgekeurd / afgekeurd", "net amount of the lines: debet minus credit (a credit line reduces it)"),
    ("regels", "number of declaration lines read from the file"),
    ("bestand, blad, rij", "your file, its sheet and the Excel row number of the line"),
    ("retourcode", "the iJw retourcode of each reason for rejection (JZ-… = jzcli's own code where iJw has none)"),
    ("regel", "the iJw rule (TR…, CS…, CD…) or jzcli rule (JZ-…) that rejected the line"),
    ("melding", "the specific reason, with the values involved"),
    ("Correcting", "a rejected line was not accepted: send a corrected line with a new referentienummer in a next "
     "declaration (a rejected line is never credited)"),
]  # fmt: skip


def write_feedback(feedback, target: Path, *, generated: dt.date | dt.datetime | None = None) -> list[str]:
    """Write ``feedback`` (a ``retour.Feedback``) to ``target``; returns the sheet names."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    summary = feedback.summary
    ws = wb.create_sheet(SUMMARY_SHEET)
    totals = {
        "batch": None, "bestand": "Totaal", "gemeente": None,
        **{c: int(summary[c].sum()) for c in ("regels", "ingediend", "goedgekeurd_regels", "goedgekeurd", "afgekeurd_regels", "afgekeurd")},
    }  # fmt: skip
    _write_sheet(ws, summary.reindex(columns=SUMMARY_COLUMNS), totals=totals)
    ws = wb.create_sheet(REJECTED_SHEET)
    _write_sheet(ws, feedback.rejected.reindex(columns=REJECTED_COLUMNS))
    ws = wb.create_sheet(NOTES_SHEET)
    _write_notes(ws, feedback, generated or dt.date.today())
    with atomic_path(Path(target)) as tmp:
        wb.save(tmp)
    return wb.sheetnames


def _cell_value(column: str, value):
    """(value, number_format) for one cell of ``column``."""
    if _is_missing(value):
        return None, None
    if column in MONEY:
        return Decimal(int(value)) / 100, EURO_FORMAT
    if column in DATES:
        ts = pd.Timestamp(value)
        return dt.datetime(ts.year, ts.month, ts.day), DATE_FORMAT
    if column in COUNTS:
        return int(value), COUNT_FORMAT
    if column in INTEGERS:
        return int(value), "0"
    return str(value), None


def _write_sheet(ws, frame: pd.DataFrame, *, totals: dict | None = None) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    top = Alignment(vertical="top")
    wrap = Alignment(vertical="top", wrap_text=True)
    columns = list(frame.columns)
    widths = [len(c) + 2 for c in columns]
    for j, name in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=name)
        cell.data_type = "s"
        cell.font = bold
    rows = list(frame.itertuples(index=False, name=None))
    if totals is not None:
        rows.append(tuple(totals.get(c) for c in columns))
    for i, row in enumerate(rows, start=2):
        strong = totals is not None and i == len(rows) + 1
        for j, (name, raw) in enumerate(zip(columns, row), start=1):
            value, fmt = _cell_value(name, raw)
            cell = ws.cell(row=i, column=j)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # literal text, even when it starts with "=" (never a formula)
            if fmt:
                cell.number_format = fmt
            cell.alignment = wrap if name in WRAPPED else top
            if strong:
                cell.font = bold
            longest = max((len(part) for part in value.split("\n")), default=0) + 2 if isinstance(value, str) else _display_width(value, fmt)
            if fmt == DATE_FORMAT:
                longest = 12
            widths[j - 1] = max(widths[j - 1], longest)
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(80 if columns[j - 1] == "melding" else 50, max(8, w))
    ws.freeze_panes = "A2"
    if columns:
        last = len(frame) + 1
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(last, 1)}"


def _write_notes(ws, feedback, generated) -> None:
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    gemeenten = sorted({g.strip() for v in feedback.summary["gemeente"] for g in str(v).split(",") if g.strip()})
    rows: list[tuple[str, object]] = [
        ("Feedback", "jzcli retour: verdicts on your declaration lines"),
        ("Aanbieder", feedback.aanbieder),
        ("Gemeente", ", ".join(gemeenten)),
        ("Generated", generated),
        ("Files", len(feedback.summary)),
        ("Rejected lines", len(feedback.rejected)),
        ("", ""),
        *((f"Column {k}" if k != "Correcting" else k, v) for k, v in NOTES),
    ]
    for i, (k, v) in enumerate(rows, start=1):
        a = ws.cell(row=i, column=1, value=k)
        a.data_type = "s"
        a.font = bold
        cell = ws.cell(row=i, column=2, value=v)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(v, str):
            cell.data_type = "s"
        elif isinstance(v, dt.datetime):
            cell.number_format = "dd-mm-yyyy hh:mm"
        elif isinstance(v, dt.date):
            cell.number_format = DATE_FORMAT
    ws.column_dimensions["A"].width = 38
    ws.column_dimensions["B"].width = 100
