"""jzcli import"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.cli.common import (
    DbOption,
    Format,
    FormatOption,
    QuietOption,
    ShowBsnOption,
    one_agb,
    one_gemeente,
    open_store,
)
from jzcli.domain.text import cell_text, mask_bsn, mask_bsns_in, number
from jzcli.errors import EXIT_FINDINGS, EXIT_IO, UsageError
from jzcli.output.records import records_text

EPILOG = (
    "Examples:\n\n"
    "  jzcli import declaraties/2025-03/\n\n"
    "  jzcli import horizon_maart.csv --aanbieder 98001234\n\n"
    '  jzcli import export.xlsx --map "Cliëntnr=bsn" --map "Uren=volume"\n\n'
    "  jzcli import toewijzingen.xlsx --soort toewijzingen"
)


PathsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="Files or folders to import: declarations (xlsx, xlsm, xls, ods, csv, txt, JW323 xml), contracts (toml, xlsx) and allocations (xlsx, csv, JW301 xml).",
        show_default=False,
    ),
]
SoortOption = Annotated[
    Optional[str],
    typer.Option("--soort", help="What the files hold: declaraties, toewijzingen or contract. Default: detected."),
]
AanbiederOption = Annotated[
    Optional[str], typer.Option("--aanbieder", help="AGB code for files that do not name the provider.")
]
GemeenteOption = Annotated[
    Optional[str], typer.Option("--gemeente", help="Gemeente (CBS code or name) for files that do not name it.")
]
MapsOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--map",
        help='Column mapping "Column name=field" (repeatable); remembered for the aanbieder\'s next files.',
    ),
]


def import_command(
    paths: PathsArgument,
    soort: SoortOption = None,
    aanbieder: AanbiederOption = None,
    gemeente: GemeenteOption = None,
    maps: MapsOption = None,
    fmt: FormatOption = Format.table,
    db: DbOption = None,
    quiet: QuietOption = False,
    show_bsn: ShowBsnOption = False,
) -> None:
    """Read provider files into the store: one batch per file, all or nothing.

    The header row is found wherever it is; column names are matched against Dutch and iJw
    synonyms. Values that cannot be read are kept as findings with file, sheet, row and column.
    Importing a byte-identical file again changes nothing.
    """
    from jzcli import importer
    from jzcli.readers.prepared import ImportOptions
    from jzcli.readers.registry import READERS

    opts = ImportOptions(soort=soort, maps=list(maps or []))
    if soort is not None and soort not in READERS:
        raise UsageError(f"--soort {soort}: choose one of {', '.join(READERS)}")
    if aanbieder is not None:
        opts.aanbieder = one_agb(aanbieder)
    if gemeente is not None:
        opts.gemeente = one_gemeente(gemeente)

    store = open_store(db, create=True)

    total = len(importer.expand_paths(paths))
    done = 0
    with terminal.Steps(quiet) as step:

        def progress(path: Path) -> None:
            nonlocal done
            done += 1
            step(f"reading {path.name}" + (f" ({done} of {total})" if total > 1 else ""))

        results = importer.import_paths(store, paths, opts, progress=progress)
    # only this run's batches: the store may hold millions of findings of earlier imports
    new_findings = store.import_findings(sorted({r.batch for r in results if r.status == "imported"}))

    if fmt != Format.table:
        terminal.data_out(
            records_text(fmt.value, records=lambda: _records(results), table=lambda: _results_table(results))
        )
    else:
        _render_results(
            results, new_findings[new_findings["regel"] != "TR385"] if len(new_findings) else new_findings, show_bsn
        )
        _render_refused(results)

    for r in results:
        if r.status == "error":
            terminal.error_line(r.message)
    refused = [x for r in results for x in r.refused]
    if refused and fmt != Format.table:
        terminal.warning_line(
            f"{len(refused)} allocation deletion(s) refused (TR385, 9385): the allocations have approved declaration lines"
        )
    if any(r.status == "error" for r in results):
        raise typer.Exit(EXIT_IO)
    if refused:  # stored, but the gemeente has to act: the deletion did not take effect
        raise typer.Exit(EXIT_FINDINGS)


def _records(results) -> list[dict]:
    """Each file's result as JSON data (paths, dates and other objects as their text)."""
    return json.loads(json.dumps([r.as_dict() for r in results], default=str))


RESULT_COLUMNS = ["file", "status", "soort", "batch", "rows", "stored", "skipped", "findings", "message"]


def _results_table(results):
    import pandas as pd

    return pd.DataFrame([[r.as_dict()[k] for k in RESULT_COLUMNS] for r in results], columns=RESULT_COLUMNS)


def _render_refused(results) -> None:
    """Allocation deletions refused by TR385, per allocation with the lines concerned."""
    rows = [(r.path.name, x) for r in results for x in r.refused]
    if not rows:
        return
    t = terminal.table(
        f"Allocation deletions refused ({len(rows)}; TR385, retourcode 9385: the allocation has approved declaration lines)",
        show_lines=True,
    )
    for col in ("file", "sheet", "row", "toewijzing", "gemeente", "approved lines not credited"):
        t.add_column(col, justify="right" if col == "row" else "left", overflow="fold")
    for name, x in rows:
        lines = x["regels"]
        shown = "\n".join(lines[:10]) + (f"\n… and {len(lines) - 10} more" if len(lines) > 10 else "")
        t.add_row(
            terminal.escape(name),
            terminal.escape(cell_text(x["blad"])),
            str(x["rij"]),
            terminal.escape(str(x["toewijzingnummer"])),
            terminal.escape(str(x["gemeente"])),
            terminal.escape(shown),
        )
    terminal.out.print(t)
    terminal.out.print(
        "The deletions are stored as written but not applied: the previous version of each allocation stays current. "
        "Credit the approved lines first, then send the deletion again."
    )


def _render_results(results, findings, show_bsn: bool) -> None:
    t = terminal.table("Import", show_lines=False)
    for col, just in (
        ("file", "left"),
        ("kind", "left"),
        ("sheets", "left"),
        ("rows", "right"),
        ("stored", "right"),
        ("skipped", "right"),
        ("findings", "right"),
        ("result", "left"),
    ):
        t.add_column(col, justify=just)
    for r in results:
        if r.status == "imported":
            reasons = ", ".join(f"{n} {k}" for k, n in r.skipped_reasons.items())
            result = f"batch {r.batch}" + (f" (skipped: {reasons})" if reasons else "")
        elif r.status == "unchanged":
            result = f"[dim]{terminal.escape(r.message)}[/]"
        else:
            result = "[red]not imported[/]"
        t.add_row(
            terminal.escape(r.path.name),
            r.soort or "",
            terminal.escape(", ".join(r.sheet_labels)),
            number(r.rows) if r.status == "imported" else "",
            number(r.stored) if r.status == "imported" else "",
            number(r.skipped) if r.status == "imported" else "",
            number(r.findings) if r.status == "imported" else "",
            result,
        )
    terminal.out.print(t)
    if len(findings):
        ft = terminal.table(
            f"Values that could not be read ({len(findings)}; the lines are stored, the values left empty)"
        )
        for col in ("file", "sheet", "row", "column", "value", "problem"):
            ft.add_column(col)
        for f in findings.head(50).itertuples():
            value = cell_text(f.waarde)
            value = mask_bsn(value, show_bsn) if f.veld == "bsn" else mask_bsns_in(value, show_bsn)
            ft.add_row(
                terminal.escape(cell_text(f.bron)),
                terminal.escape(cell_text(f.blad)),
                str(f.rij),
                terminal.escape(cell_text(f.kolom)),
                terminal.escape(value[:40]),
                terminal.escape(mask_bsns_in(f.melding, show_bsn)),
            )
        terminal.out.print(ft)
        if len(findings) > 50:
            terminal.out.print(f"… and {len(findings) - 50} more (jzcli validate shows them all per line)")
