"""jzcli batches: the imported batches, and whether validate has judged them."""

from __future__ import annotations

import json

from jzcli.cli import terminal
from jzcli.cli.common import (
    DbOption,
    Format,
    FormatOption,
    open_store,
)
from jzcli.domain.text import number
from jzcli.output.records import records_text

EPILOG = "Examples:\n\n  jzcli batches\n\n  jzcli batches --format json"


def batches_command(fmt: FormatOption = Format.table, db: DbOption = None) -> None:
    """List imported batches: one per file, with its rows, skipped rows and findings, and
    whether jzcli validate has judged its lines (and when)."""
    store = open_store(db)
    frame = store.list_batches()
    columns = [
        "id",
        "soort",
        "bestand",
        "rijen_gelezen",
        "rijen_opgeslagen",
        "rijen_overgeslagen",
        "bevindingen",
        "geimporteerd_op",
        "gebruiker",
        "sha256",
    ]
    frame = frame[columns]
    judged = store.batch_verdicts().set_index("batch")
    frame["beoordeeld_regels"] = [
        int(judged["beoordeeld"].get(b, 0)) if soort == "declaraties" else None
        for b, soort in zip(frame["id"], frame["soort"])
    ]
    frame["beoordeeld_op"] = [judged["beoordeeld_op"].get(b) for b in frame["id"]]
    if fmt != Format.table:
        terminal.data_out(
            records_text(
                fmt.value,
                records=lambda: json.loads(frame.to_json(orient="records", date_format="iso")),
                table=lambda: frame.astype(object).where(frame.notna(), None),
            )
        )
        return
    t = terminal.table("Batches")
    for col, label in (
        ("id", "batch"),
        ("soort", "kind"),
        ("bestand", "file"),
        ("rijen_gelezen", "rows"),
        ("rijen_opgeslagen", "stored"),
        ("rijen_overgeslagen", "skipped"),
        ("bevindingen", "findings"),
        ("geimporteerd_op", "imported"),
        ("gebruiker", "by"),
        ("beoordeeld_op", "validated"),
    ):
        t.add_column(label, justify="right" if col.startswith(("rijen", "bev", "id")) else "left", key=col == "id")
    for row in frame.itertuples():
        t.add_row(
            str(row.id),
            row.soort,
            terminal.escape(row.bestand),
            number(row.rijen_gelezen),
            number(row.rijen_opgeslagen),
            number(row.rijen_overgeslagen),
            number(row.bevindingen),
            str(row.geimporteerd_op)[:19],
            terminal.escape(row.gebruiker),
            _validated(row),
        )
    terminal.out.print(t)
    if frame.empty:
        terminal.status_line("The store is empty: start with jzcli import FILE_OR_FOLDER")


def _validated(row) -> str:
    """'yes, <when>', 'no', or 'n of m lines, <when>' for a declaration batch; '' for others."""
    if row.soort != "declaraties":
        return ""
    judged, stored = int(row.beoordeeld_regels or 0), int(row.rijen_opgeslagen or 0)
    when = str(row.beoordeeld_op)[:16] if judged else ""
    if judged == 0:
        return "[yellow]no[/]" if stored else "no lines"
    if judged >= stored:
        return f"yes, {when}"
    return f"[yellow]{number(judged)} of {number(stored)} lines[/], {when}"
