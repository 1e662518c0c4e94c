"""What a reader hands the importer: the options it reads with, and a prepared batch.

A reader reads and checks everything *before* the store is touched and returns a ``Prepared``: the
``FileResult`` to show, the batch details, and a ``write`` that stores the rows inside the batch's
one transaction (``importer.import_file``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jzcli.store.store import Store


@dataclass
class FileResult:
    """What happened to one file; ``status`` is imported, unchanged or error."""

    path: Path
    status: str
    soort: str | None = None
    batch: int | None = None
    sheets: list[str] = field(default_factory=list)
    rows: int = 0
    stored: int = 0
    skipped: int = 0
    findings: int = 0
    message: str = ""
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    hidden_sheets: list[str] = field(default_factory=list)  # sheets read that are hidden in Excel
    hidden_rows: int = 0  # hidden Excel rows that were read
    refused: list[dict] = field(default_factory=list)  # allocation deletions refused by TR385

    @property
    def sheet_labels(self) -> list[str]:
        """Sheet names for the summary, hidden ones marked "(hidden)"."""
        return [f"{s} (hidden)" if s in self.hidden_sheets else s for s in self.sheets if s]

    def as_dict(self) -> dict:
        return {
            "file": str(self.path),
            "status": self.status,
            "soort": self.soort,
            "batch": self.batch,
            "sheets": self.sheets,
            "rows": self.rows,
            "stored": self.stored,
            "skipped": self.skipped,
            "skipped_reasons": self.skipped_reasons,
            "hidden_sheets": self.hidden_sheets,
            "hidden_rows": self.hidden_rows,
            "findings": self.findings,
            "message": self.message,
            "refused_deletions": self.refused,
        }


@dataclass
class ImportOptions:
    soort: str | None = None  # None = detect
    aanbieder: str | None = None
    gemeente: str | None = None
    maps: list[str] = field(default_factory=list)


Writer = Callable[[Store, object, int], None]  # (store, connection, batch id), inside the batch's transaction


@dataclass
class Prepared:
    soort: str
    result: FileResult
    write: Writer
    details: dict = field(default_factory=dict)
    aanbieder: str | None = None
    versions: pd.DataFrame | None = None  # allocation files: the versions to store (bron, blad, rij, fields)
