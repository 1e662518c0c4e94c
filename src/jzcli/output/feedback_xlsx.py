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

from jzcli.output.xlsx import (
    COUNT_FORMAT,
    DATE_FORMAT,
    EURO_FORMAT,
    display_width,
    header,
    is_missing,
    save,
    write_notes,
    write_sheet,
)

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
    save(wb, target)
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
    return [None if is_missing(x) else str(x) for x in s.astype(object).tolist()]


def _width(column: str, values: list) -> int:
    kind = _kind(column)
    if kind == "date":
        return 12
    if kind == "money":
        shown = [display_width(v, EURO_FORMAT) for v in values if v is not None]
    else:
        shown = [max(len(part) for part in str(v).split("\n")) + 2 for v in values if v is not None]
    longest = max([len(column) + 2, *shown[:5000]])
    return min(80 if column == "melding" else 50, max(8, longest))


def _write_sheet(ws, frame: pd.DataFrame, *, totals: dict | None = None) -> None:
    from openpyxl.styles import Alignment

    columns = list(frame.columns)
    data = [_values(c, frame[c]) for c in columns]
    total_row = (
        [_values(c, pd.Series([totals.get(c)], dtype=object))[0] for c in columns] if totals is not None else None
    )
    top = Alignment(vertical="top")
    wrap = Alignment(vertical="top", wrap_text=True)
    rows = list(zip(*data)) + ([total_row] if total_row is not None else [])
    write_sheet(
        ws,
        [header(c) for c in columns],
        rows,
        widths=[
            _width(c, values + ([total_row[j]] if total_row else []))
            for j, (c, values) in enumerate(zip(columns, data))
        ],
        filter_rows=len(frame),
        formats=[FORMATS[_kind(c)] for c in columns],
        alignments=[wrap if c in WRAPPED else top for c in columns],
        strong=[False] * len(frame) + [True] if total_row is not None else None,
    )


def _write_notes(ws, feedback, generated) -> None:
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
    write_notes(ws, rows, widths=(38, 100), stamp_format="dd-mm-yyyy hh:mm", wrap=True)
