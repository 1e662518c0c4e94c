"""jzcli store upgrade: convert a store of jzcli before 0.2 (SQLite) into the DuckDB store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.domain.text import number

store_app = typer.Typer(help="Look after the store file (convert an older store).", no_args_is_help=True)

UPGRADE_EPILOG = (
    "Examples:\n\n  jzcli store upgrade jzcli.db\n\n  jzcli store upgrade oud.db --to regio.duckdb\n\n"
    "Any command converts an old store on first use as well; this does it ahead, or into a new file."
)


@store_app.command("upgrade", epilog=UPGRADE_EPILOG)
def upgrade_command(
    file: Annotated[Path, typer.Argument(help="The SQLite store file of an earlier jzcli.")],
    to: Annotated[
        Optional[Path],
        typer.Option("--to", help="Write the DuckDB store here and leave FILE as it is (default: in FILE's place)."),
    ] = None,
) -> None:
    """Convert an SQLite store (jzcli before 0.2) into a DuckDB store: every table copied, counts and
    sums of every column compared, the old file kept as FILE.sqlite-backup."""
    from jzcli.errors import UsageError
    from jzcli.store.upgrade import is_sqlite_file, upgrade_sqlite

    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    if not is_sqlite_file(file):
        raise UsageError(f"{file} is not an SQLite store of an earlier jzcli (nothing to convert)")
    done = upgrade_sqlite(file, to, progress=lambda text: terminal.status_line(terminal.escape(text)))
    rows = sum(done.tables.values())
    terminal.status_line(
        terminal.escape(
            f"converted {done.source} → {done.target}: {number(rows)} rows in {len(done.tables)} tables, "
            f"{number(done.checks)} counts and sums identical"
            + (f"; the SQLite file is kept as {done.backup}" if done.backup else "")
        )
    )
