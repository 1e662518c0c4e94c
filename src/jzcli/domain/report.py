"""What a cost report covers and what it returns — the seam between the report stage (report.py, which
queries the store) and what shows it (the terminal tables, records and the workbook in output/).

A ``Selection`` says which lines (gemeenten, aanbieders, months); a ``Report`` holds named tables (small
DataFrames), notes and whether any line was judged. ``MONEY_COLUMNS`` and ``PCT_COLUMNS`` name the
columns that hold eurocents and percentages, so every writer formats them alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from jzcli.refdata import predecessors

MONEY_COLUMNS = {
    "ingediend",
    "goedgekeurd",
    "afgekeurd",
    "onbeoordeeld",
    "budget",
    "gerealiseerd",
    "prognose",
    "verschil",
    "afgekeurd_bedrag",
    "bedrag",
}
PCT_COLUMNS = {"aandeel_pct", "uitputting_pct", "prognose_pct", "afgekeurd_pct", "first_time_right_pct"}


@dataclass(frozen=True)
class Selection:
    """Which lines a report covers. Empty tuples mean "all"."""

    gemeenten: tuple[str, ...] = ()  # CBS codes as asked for (predecessors are added, see codes())
    aanbieders: tuple[str, ...] = ()  # AGB codes
    van: dt.date | None = None  # first day of the first month (inclusive)
    tot: dt.date | None = None  # first day of the month after the last month (exclusive)

    def codes(self) -> tuple[str, ...]:
        """The gemeente codes to select: the asked ones plus the retired codes that went into them."""
        found: list[str] = []
        for code in self.gemeenten:
            for c in (code, *sorted(predecessors(code))):
                if c not in found:
                    found.append(c)
        return tuple(found)

    def describe(self) -> dict:
        return {
            "gemeenten": list(self.gemeenten),
            "aanbieders": list(self.aanbieders),
            "van": self.van.strftime("%Y-%m") if self.van else None,
            "tot": month_before(self.tot).strftime("%Y-%m") if self.tot else None,
        }


@dataclass
class Report:
    selection: Selection
    by: tuple[str, ...]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    judged_any: bool = True


def month_before(d: dt.date) -> dt.date:
    return dt.date(d.year - (d.month == 1), (d.month - 2) % 12 + 1, 1)
