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
from copy import copy
from decimal import Decimal
from pathlib import Path

import pandas as pd

from jzcli.output.export import atomic_path
from jzcli.output.report_xlsx import _display_width, _is_missing
from jzcli.output.xlsx import COUNT_FORMAT, DATE_FORMAT, EURO_FORMAT

SUMMARY_SHEET = "Samenvatting"
REJECTED_SHEET = "Afgekeurde regels"
NOTES_SHEET = "Toelichting"

SUMMARY_COLUMNS = [
    "batch",
    "bestand",
    "gemeente",
    "regels",
    "ingediend",
    "goedgekeurd_regels",
    "goedgekeurd",
    "afgekeurd_regels",
    "afgekeurd",
]
REJECTED_COLUMNS = [
    "bestand",
    "blad",
    "rij",
    "declaratienummer",
    "referentienummer",
    "vorig_referentienummer",
    "bsn",
    "toewijzingnummer",
    "productcategorie",
    "productcode",
    "begindatum",
    "einddatum",
    "productperiode_afgeleid",
    "volume",
    "eenheid",
    "tarief",
    "bedrag",
    "debet_credit",
    "gemeente",
    "retourcode",
    "regel",
    "omschrijving",
    "melding",
]

MONEY = {"ingediend", "goedgekeurd", "afgekeurd", "tarief", "bedrag"}
DATES = {"begindatum", "einddatum"}
COUNTS = {"regels", "goedgekeurd_regels", "afgekeurd_regels"}
INTEGERS = {"batch", "rij", "volume"}
WRAPPED = {"productperiode_afgeleid", "retourcode", "regel", "omschrijving", "melding"}

NOTES = [
    (
        "Ingediend / Goedgekeurd / Afgekeurd",
        "netto bedrag van de regels: debet min credit (een creditregel verlaagt het)",
    ),
    ("Regels", "aantal declaratieregels dat uit het bestand is gelezen"),
    ("Bestand, Blad, Rij", "uw bestand, het werkblad en het rijnummer in Excel van de regel"),
    (
        "Begindatum, Einddatum",
        'de datums zoals uw bestand ze gaf; voor een maand ("maart 2025") de eerste en laatste dag',
    ),
    (
        "ProductPeriode afgeleid",
        "leeg als u beide datums schreef; anders welke datum uit uw maandkolom kwam en, waar de "
        "toewijzing binnen die maand begint of eindigt, de datum die jzcli in plaats daarvan gebruikte (IV089)",
    ),
    (
        "Retourcode",
        "de iJw-retourcode van elke reden van afkeur (JZ-… = een eigen code van jzcli waar iJw er geen heeft)",
    ),
    ("Regel", "de iJw-regel (TR…, CS…, CD…) of jzcli-regel (JZ-…) die de regel afkeurde"),
    ("Melding", "de reden, met de waarden waar het om gaat"),
    (
        "Corrigeren",
        "een afgekeurde regel is niet geaccepteerd: stuur in een volgende declaratie een gecorrigeerde regel "
        "met een nieuw referentienummer (een afgekeurde regel wordt nooit gecrediteerd)",
    ),
]


def write_feedback(feedback, target: Path, *, generated: dt.date | dt.datetime | None = None) -> list[str]:
    """Write ``feedback`` (a ``retour.Feedback``) to ``target``; returns the sheet names (see
    ``_write_feedback``). Text an xlsx cell cannot hold is escaped (``jzcli.domain.text.xlsx_guard``)."""
    from jzcli.domain.text import xlsx_guard

    with xlsx_guard(target):
        return _write_feedback(feedback, target, generated=generated)


def _write_feedback(feedback, target: Path, *, generated: dt.date | dt.datetime | None = None) -> list[str]:
    """Write ``feedback`` (a ``retour.Feedback``) to ``target``; returns the sheet names.

    Written in openpyxl's write-only mode (rows streamed, one style object per column kind), so
    a provider with tens of thousands of rejected lines gets its workbook in seconds.
    """
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    summary = feedback.summary
    totals = {
        "batch": None,
        "bestand": "Totaal",
        "gemeente": None,
        **{
            c: int(summary[c].sum())
            for c in ("regels", "ingediend", "goedgekeurd_regels", "goedgekeurd", "afgekeurd_regels", "afgekeurd")
        },
    }
    _write_sheet(wb.create_sheet(SUMMARY_SHEET), summary.reindex(columns=SUMMARY_COLUMNS), totals=totals)
    _write_sheet(wb.create_sheet(REJECTED_SHEET), feedback.rejected.reindex(columns=REJECTED_COLUMNS))
    _write_notes(wb.create_sheet(NOTES_SHEET), feedback, generated or dt.date.today())
    names = [ws.title for ws in wb.worksheets]
    with atomic_path(Path(target)) as tmp:
        wb.save(tmp)
    return names


def _kind(column: str) -> str:
    if column in MONEY:
        return "money"
    if column in DATES:
        return "date"
    if column in COUNTS:
        return "count"
    if column in INTEGERS:
        return "int"
    return "text"


FORMATS = {"money": EURO_FORMAT, "date": DATE_FORMAT, "count": COUNT_FORMAT, "int": "0", "text": None}


def _values(column: str, s: pd.Series) -> list:
    """A column as cell values: Decimal euros, datetimes, ints or str; None where missing."""
    kind = _kind(column)
    if kind == "money":
        return [
            None if x is pd.NA else Decimal(int(x)) / 100
            for x in pd.array(s.astype(object).where(s.notna(), None), dtype="Int64")
        ]
    if kind == "date":
        d = pd.to_datetime(s)
        return [None if x is pd.NaT else x.to_pydatetime() for x in d]
    if kind in ("count", "int"):
        return [
            None if x is pd.NA else int(x) for x in pd.array(s.astype(object).where(s.notna(), None), dtype="Int64")
        ]
    return [None if _is_missing(x) else str(x) for x in s.astype(object).tolist()]


def _width(column: str, values: list) -> int:
    kind = _kind(column)
    if kind == "date":
        return 12
    if kind == "money":
        shown = [_display_width(v, EURO_FORMAT) for v in values if v is not None]
    else:
        shown = [max(len(part) for part in str(v).split("\n")) + 2 for v in values if v is not None]
    longest = max([len(column) + 2, *shown[:5000]])
    return min(80 if column == "melding" else 50, max(8, longest))


def _write_sheet(ws, frame: pd.DataFrame, *, totals: dict | None = None) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    columns = list(frame.columns)
    data = [_values(c, frame[c]) for c in columns]
    total_row = (
        [_values(c, pd.Series([totals.get(c)], dtype=object))[0] for c in columns] if totals is not None else None
    )
    for j, (name, values) in enumerate(zip(columns, data), start=1):
        ws.column_dimensions[get_column_letter(j)].width = _width(
            name, values + ([total_row[j - 1]] if total_row else [])
        )
    ws.freeze_panes = "A2"
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(frame) + 1}"

    bold = Font(bold=True)
    top = Alignment(vertical="top")
    wrap = Alignment(vertical="top", wrap_text=True)
    from jzcli.output.xlsx import header as dutch_header
    from jzcli.output.xlsx import print_setup

    print_setup(ws)
    header = []
    for name in columns:
        cell = WriteOnlyCell(ws, value=dutch_header(name))
        cell.data_type = "s"
        cell.font = bold
        header.append(cell)
    ws.append(header)

    # one template cell per column: number format and alignment are copied as a style id
    templates = []
    for name in columns:
        t = WriteOnlyCell(ws)
        fmt = FORMATS[_kind(name)]
        if fmt:
            t.number_format = fmt
        t.alignment = wrap if name in WRAPPED else top
        templates.append(t._style)

    def row_cells(values, strong: bool = False):
        cells = []
        for value, style in zip(values, templates):
            cell = WriteOnlyCell(ws, value=value)
            cell._style = copy(style)
            if isinstance(value, str):
                cell.data_type = "s"  # literal text, even when it starts with "=" (never a formula)
            if strong:
                cell.font = bold
            cells.append(cell)
        return cells

    for values in zip(*data):
        ws.append(row_cells(values))
    if total_row is not None:
        ws.append(row_cells(total_row, strong=True))


def _write_notes(ws, feedback, generated) -> None:
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    gemeenten = sorted({g.strip() for v in feedback.summary["gemeente"] for g in str(v).split(",") if g.strip()})
    rows: list[tuple[str, object]] = [
        ("Terugkoppeling", "jzcli retour: de beoordeling van uw declaratieregels"),
        ("Aanbieder", feedback.aanbieder),
        ("Gemeente", ", ".join(gemeenten)),
        ("Gemaakt op", generated),
        ("Bestanden", len(feedback.summary)),
        ("Afgekeurde regels", len(feedback.rejected)),
        ("", ""),
        *((f"Kolom {k}" if k != "Corrigeren" else k, v) for k, v in NOTES),
    ]
    from openpyxl.cell import WriteOnlyCell

    ws.column_dimensions["A"].width = 38
    ws.column_dimensions["B"].width = 100
    from jzcli.output.xlsx import print_setup

    print_setup(ws, header_rows=0)
    wrap = Alignment(wrap_text=True, vertical="top")
    for k, v in rows:
        a = WriteOnlyCell(ws, value=k)
        a.data_type = "s"
        a.font = bold
        cell = WriteOnlyCell(ws, value=v)
        cell.alignment = wrap
        if isinstance(v, str):
            cell.data_type = "s"
        elif isinstance(v, dt.datetime):
            cell.number_format = "dd-mm-yyyy hh:mm"
        elif isinstance(v, dt.date):
            cell.number_format = DATE_FORMAT
        ws.append([a, cell])
