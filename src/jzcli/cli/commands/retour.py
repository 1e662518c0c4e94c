"""jzcli retour: answer judged declarations (JW325 per JW323, a feedback workbook per aanbieder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.cli.common import DbOption, QuietOption, check_batches, open_store, resolve_gemeenten
from jzcli.domain.text import euro, number
from jzcli.errors import FileReadError

EPILOG = (
    "Examples:\n\n"
    "  jzcli retour -o antwoorden/2025-03/                 every judged declaration\n\n"
    "  jzcli retour -o antwoorden/ --gemeente Huizen        only Huizen's declarations\n\n"
    "  jzcli retour -o antwoorden/ --batch 12 --batch 13    only these batches (see jzcli batches)"
)


def retour_command(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Folder to write the answers to (created when missing).", show_default=False
        ),
    ],
    batch: Annotated[
        Optional[list[int]], typer.Option("--batch", help="Only this batch (see jzcli batches; repeatable).")
    ] = None,
    aanbieder: Annotated[
        Optional[list[str]], typer.Option("--aanbieder", help="Only this AGB code (repeatable).")
    ] = None,
    gemeente: Annotated[
        Optional[list[str]], typer.Option("--gemeente", help="Only this gemeente (CBS code or name; repeatable).")
    ] = None,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Write the answers to judged declarations (run jzcli validate first).

    Every judged iJw JW323 declaration gets a JW325 declaratie-antwoord (checked against
    JW325.xsd): 8001 when every line was approved; otherwise only the clients with rejected lines,
    each rejected Prestatie copied unchanged with its retourcodes, and the approved total. A
    declaration-level rejection (9333, 8214) answers with that code and 0 approved; a level-2
    rejection with 0001 in the header only. Files: JW325_<gemeente>_<agb>_<declaratienummer>_<id>.xml.

    Spreadsheet declarations get one feedback workbook per aanbieder,
    feedback_<agb>_<date>.xlsx: a summary per file and one row per rejected line with the
    provider's own file, sheet and row, the values (BSN in full: the file is for the provider),
    retourcode, rule, omschrijving and message.

    Batches with lines not judged yet are skipped with a message.
    """
    from jzcli.cli.common import resolve_agbs
    from jzcli.retour import retour

    if output.exists() and not output.is_dir():
        raise FileReadError(f"-o {output}: is a file; give a folder to write the answers to")
    codes = resolve_gemeenten(gemeente) if gemeente else None
    agbs = resolve_agbs(aanbieder) if aanbieder else None
    store = open_store(db)
    check_batches(store, batch)
    result = retour(store, output, batch=batch, aanbieder=agbs, gemeente=codes)

    for s in result.skipped:
        terminal.warning_line(f"batch {s.batch} ({s.bestand}) skipped: {s.reason}")
    if not result.answers and not result.feedback:
        if not quiet:
            terminal.status_line(
                "Nothing to answer: no judged declaration in scope (import and run jzcli validate first)."
            )
        return
    _render(result)
    if not quiet:
        terminal.status_line(f"wrote {number(result.written)} files to {terminal.escape(str(output))}")
    if result.errors:
        for message in result.errors[1:]:
            terminal.error_line(message)
        raise FileReadError(result.errors[0])


def _render(result) -> None:
    out = terminal.out
    if result.answers:
        t = terminal.table("JW325 declaratie-antwoorden")
        for col, just in (
            ("file", "left"),
            ("declaratie", "left"),
            ("answer", "left"),
            ("approved", "right"),
            ("rejected", "right"),
            ("ingediend", "right"),
            ("toegekend", "right"),
        ):
            t.add_column(col, justify=just, overflow="fold")
        for a in result.answers:
            codes = ", ".join(a.declaratie_codes or a.header_codes)
            answer = f"{codes} {a.uitkomst}"
            t.add_row(
                terminal.escape(a.path.name if a.path else f"not written ({a.filename})"),
                terminal.escape(a.declaratienummer),
                answer if a.uitkomst == "volledig toegekend" else f"[red]{answer}[/]",
                number(a.goedgekeurd),
                number(a.afgekeurd),
                euro(a.ingediend),
                euro(a.toegekend),
            )
        out.print(t)
    if result.feedback:
        t = terminal.table("Feedback workbooks (spreadsheet declarations)")
        for col, just in (
            ("file", "left"),
            ("files", "right"),
            ("approved", "right"),
            ("rejected", "right"),
            ("ingediend", "right"),
            ("goedgekeurd", "right"),
            ("afgekeurd", "right"),
        ):
            t.add_column(col, justify=just, overflow="fold")
        for f in result.feedback:
            s = f.summary
            t.add_row(
                terminal.escape(f.path.name if f.path else ""),
                number(len(s)),
                number(f.goedgekeurd),
                number(f.afgekeurd),
                euro(int(s["ingediend"].sum())),
                euro(int(s["goedgekeurd"].sum())),
                euro(int(s["afgekeurd"].sum())),
            )
        out.print(t)
