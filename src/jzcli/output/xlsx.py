"""What every workbook jzcli writes for people has in common: column headers in Dutch as people
read them ("Aandeel %", not ``aandeel_pct``) and a page setup that prints on few pages
(landscape, fit to the page width, the header row repeated on every page).

The keys stay what they are in JSON and CSV (stable names for other systems); only the header
cells people read in a workbook are labelled here.
"""

from __future__ import annotations

# number formats every workbook shares
EURO_FORMAT = '"€" #,##0.00;"€" -#,##0.00'
PCT_FORMAT = "0.00%"
COUNT_FORMAT = "#,##0"
MONTH_FORMAT = "yyyy-mm"
DATE_FORMAT = "dd-mm-yyyy"

HEADERS = {
    "niveau": "Niveau",
    "gemeente": "Gemeente",
    "gemeente_naam": "Gemeentenaam",
    "gemeente_opmerking": "Opmerking gemeente",
    "aanbieder": "Aanbieder (AGB)",
    "aanbieders": "Aanbieders",
    "productcategorie": "Productcategorie",
    "productcategorie_omschrijving": "Omschrijving productcategorie",
    "productcode": "Productcode",
    "maand": "Maand",
    "kwartaal": "Kwartaal",
    "jaar": "Jaar",
    "regels": "Regels",
    "clienten": "Cliënten",
    "volume": "Volume",
    "ingediend": "Ingediend",
    "goedgekeurd": "Goedgekeurd",
    "afgekeurd": "Afgekeurd",
    "onbeoordeeld": "Onbeoordeeld",
    "aandeel_pct": "Aandeel %",
    "budget": "Budget",
    "gerealiseerd": "Gerealiseerd",
    "maanden": "Maanden",
    "prognose": "Prognose",
    "verschil": "Ruimte (budget − prognose)",
    "uitputting_pct": "Uitputting %",
    "prognose_pct": "Prognose %",
    "opmerking": "Opmerking",
    "beoordeeld": "Beoordeeld",
    "afgekeurd_regels": "Afgekeurde regels",
    "afgekeurd_pct": "Afgekeurd %",
    "afgekeurd_bedrag": "Afgekeurd bedrag",
    "eerste_indieningen": "Eerste indieningen",
    "eerste_goedgekeurd": "Eerste keer goedgekeurd",
    "herindieningen": "Herindieningen",
    "first_time_right_pct": "First-time-right %",
    "regel": "Regel",
    "retourcode": "Retourcode",
    "omschrijving": "Omschrijving",
    "titel": "Wat wordt gecontroleerd",
    "ernst": "Ernst",
    "bedrag": "Bedrag",
    "batch": "Batch",
    "bestand": "Bestand",
    "bron": "Bestand",
    "blad": "Blad",
    "rij": "Rij",
    "kolom": "Kolom",
    "waarde": "Waarde",
    "melding": "Melding",
    "status": "Status",
    "hint": "Wat te veranderen",
    "declaratienummer": "Declaratienummer",
    "referentienummer": "Referentienummer",
    "vorig_referentienummer": "Vorig referentienummer",
    "bsn": "BSN",
    "toewijzingnummer": "Toewijzingnummer",
    "begindatum": "Begindatum",
    "einddatum": "Einddatum",
    "eenheid": "Eenheid",
    "tarief": "Tarief",
    "debet_credit": "Debet/credit",
    "goedgekeurd_regels": "Goedgekeurde regels",
    "productperiode_afgeleid": "ProductPeriode afgeleid",
    "toewijzing_gevonden": "Toewijzing gevonden",
    "contract_productcategorie": "Productcategorie (contract)",
    "contract_eenheid": "Eenheid (contract)",
    "retourcodes": "Retourcodes",
}


def header(key: object) -> str:
    """The Dutch column header for a key; an unknown key with its underscores as spaces."""
    text = str(key)
    return HEADERS.get(text) or (text[:1].upper() + text[1:]).replace("_", " ")


def print_setup(ws, *, header_rows: int = 1) -> None:
    """Landscape A4, every column on the page width (as many pages down as needed), the header
    row(s) repeated at the top of each printed page. Works on normal and write-only sheets."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # 0 = as many pages as needed
    if ws.sheet_properties.pageSetUpPr is None:
        from openpyxl.worksheet.properties import PageSetupProperties

        ws.sheet_properties.pageSetUpPr = PageSetupProperties()
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if header_rows:
        ws.print_title_rows = f"1:{header_rows}"
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4


def is_missing(value) -> bool:
    """None, NaN, pd.NA or pd.NaT: an empty cell."""
    import pandas as pd

    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def display_width(value, fmt) -> int:
    """About how many characters a cell shows: the column width it needs."""
    if value is None:
        return 0
    if fmt == EURO_FORMAT:
        return len(f"€ {abs(value):,.2f}") + 3
    if fmt == PCT_FORMAT:
        return 9
    if fmt == MONTH_FORMAT:
        return 9
    return len(str(value)) + 2


def write_sheet(
    ws,
    headers: list[str],
    rows,
    *,
    widths: list[float],
    filter_rows: int,
    formats: list[str | None] | None = None,
    alignments: list | None = None,
    strong=None,
) -> None:
    """The one sheet writer of every workbook jzcli writes (report, feedback, validate/check -o
    .xlsx, export declaraties): ``headers`` bold in a frozen first row, an autofilter over it and
    the first ``filter_rows`` data rows (a totals row below stays out of it), column ``widths``,
    printed landscape on the page width with the header on every page. ``rows`` are cell values
    (missing values become empty cells, a pandas Timestamp a datetime); a text cell is literal text,
    even when it starts with "=" (never a formula). Column j's number format ``formats[j]`` goes on
    its non-text cells, its ``alignments[j]`` (an openpyxl Alignment) on all; a row whose entry in
    ``strong`` is true is bold. ``ws`` is a sheet of a write-only workbook (rows are streamed, one
    style per column copied to each cell, so tens of thousands of rows take seconds)."""
    from copy import copy

    import pandas as pd
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = "A2"
    print_setup(ws)
    if headers:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{filter_rows + 1}"
    bold = Font(bold=True)
    head = []
    for text in headers:
        cell = WriteOnlyCell(ws, value=text)
        cell.data_type = "s"
        cell.font = bold
        head.append(cell)
    ws.append(head)

    styles = []  # per column: (style of its text cells, style of its other cells)
    for j in range(len(headers)):
        text, other = WriteOnlyCell(ws), WriteOnlyCell(ws)
        if alignments is not None:
            text.alignment = other.alignment = alignments[j]
        if formats is not None and formats[j]:
            other.number_format = formats[j]
        styles.append((text._style, other._style))
    strong = strong if strong is not None else ()
    for i, row in enumerate(rows):
        is_strong = i < len(strong) and strong[i]
        cells = []
        for value, (text_style, other_style) in zip(row, styles):
            if is_missing(value):
                value = None
            elif isinstance(value, pd.Timestamp):
                value = value.to_pydatetime()
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell._style = copy(text_style)
                cell.data_type = "s"  # literal text, even when it starts with "="
            else:
                cell._style = copy(other_style)
            if is_strong:
                cell.font = bold
            cells.append(cell)
        ws.append(cells)


def write_notes(ws, rows, *, widths: tuple[float, float], stamp_format: str, wrap: bool = False) -> None:
    """A Toelichting sheet: two columns, the key bold, the value literal text or a number or a
    date(time) (``stamp_format`` for a datetime, DATE_FORMAT for a date); ``wrap``: values wrapped,
    aligned to the top. No header row: printed on the page width. ``ws`` is write-only."""
    import datetime as dt

    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = widths
    print_setup(ws, header_rows=0)
    bold = Font(bold=True)
    for key, value in rows:
        a = WriteOnlyCell(ws, value=key)
        a.data_type = "s"
        a.font = bold
        cell = WriteOnlyCell(ws, value=value)
        if wrap:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(value, str):
            cell.data_type = "s"
        elif isinstance(value, dt.datetime):
            cell.number_format = stamp_format
        elif isinstance(value, dt.date):
            cell.number_format = DATE_FORMAT
        ws.append([a, cell])


def save(wb, target) -> None:
    """Save a workbook atomically (a temporary file moved into place)."""
    from pathlib import Path

    from jzcli.output.records import atomic_path

    with atomic_path(Path(target)) as tmp:
        wb.save(tmp)


def write_frames(sheets: dict, target, *, number_formats: dict | None = None, labels: bool = False) -> None:
    """Write frames as sheets (``write_sheet``): widths fitted to the header and the first 200
    values (8 to 40), ``number_formats`` by column key. ``labels``: Dutch column headers as people
    read them (``HEADERS``) instead of the keys."""
    from openpyxl import Workbook

    from jzcli.domain.text import xlsx_guard

    number_formats = number_formats or {}
    with xlsx_guard(target):
        wb = Workbook(write_only=True)
        for name, frame in sheets.items():
            names = [header(c) if labels else str(c) for c in frame.columns]
            widths = []
            for text, col in zip(names, frame.columns):
                sample = frame[col].head(200).map(lambda v: len(str(v)) if v is not None else 0)
                widths.append(max(max(8, min(40, len(text) + 2)), min(40, int(sample.max()) + 2) if len(sample) else 0))
            write_sheet(
                wb.create_sheet(title=name[:31]),
                names,
                frame.itertuples(index=False, name=None),
                widths=widths,
                filter_rows=len(frame),
                formats=[number_formats.get(c) for c in frame.columns],
            )
        save(wb, target)
