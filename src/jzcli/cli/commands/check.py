"""jzcli check: what the gemeente would reject, before the provider sends anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.cli.common import (
    Format,
    FormatOption,
    MapOption,
    OutputOption,
    QuietOption,
    ShowBsnOption,
    one_agb,
    one_gemeente,
)
from jzcli.domain.text import euro, number
from jzcli.errors import UsageError
from jzcli.output.records import records_text, write_records

EPILOG = (
    "Examples:\n\n"
    "  jzcli check maart.xlsx --contract gooi.toml --toewijzingen toewijzingen.xlsx\n\n"
    "  jzcli check declaraties/ --contract gooi.toml --contract twente.xlsx --aanbieder 98001202\n\n"
    "  jzcli check maart.xlsx --contract gooi.toml --format json > afkeur.json\n\n"
    "  jzcli check april.xlsx --contract gooi.toml --toewijzingen toewijzingen.xlsx --eerder maart.xlsx"
)


PathsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="Declaration files or folders (xlsx, xlsm, xls, ods, csv, txt, JW323 xml).", show_default=False
    ),
]
ContractOption = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--contract",
        help="Required. The gemeente's contract: TOML or tariff sheet (repeatable: each line is checked against its gemeente's contract).",
    ),
]
ToewijzingenOption = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--toewijzingen",
        help="Allocations (spreadsheet or JW301 xml; repeatable). Without them the allocation rules are skipped.",
    ),
]
EerderOption = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--eerder",
        help="Files or JW323 messages of earlier months, already sent (repeatable; folders too): judged with the same rules, their "
        "approved lines are the history, so credits of earlier lines and TR314/TR389/TR390/TR322 can be checked. Without them those "
        "are reported as not checkable.",
    ),
]
AanbiederOption = Annotated[
    Optional[str], typer.Option("--aanbieder", help="AGB code for files that do not name the provider.")
]
GemeenteOption = Annotated[
    Optional[str], typer.Option("--gemeente", help="Gemeente (CBS code or name) for files that do not name it.")
]


def check_command(
    paths: PathsArgument,
    contract: ContractOption = None,
    toewijzingen: ToewijzingenOption = None,
    eerder: EerderOption = None,
    aanbieder: AanbiederOption = None,
    gemeente: GemeenteOption = None,
    maps: MapOption = None,
    fmt: FormatOption = Format.table,
    output: OutputOption = None,
    show_bsn: ShowBsnOption = False,
    quiet: QuietOption = False,
) -> None:
    """Show, line by line, what the gemeente would reject, before you send anything.

    Reads your declaration files with the same readers as jzcli import and applies every rule
    the given contract(s) and allocations allow (a temporary store, deleted afterwards; your
    own store is not touched). Per finding: file, sheet, Excel row, retourcode, omschrijving,
    the values that clash and what to change. Without --toewijzingen the allocation rules are
    skipped, and the output says so. --eerder gives the earlier months (files already sent; their
    approved lines are the history): without it a credit of an earlier line is "not checkable without the
    earlier months" (a signal), and the rules that compare with earlier months are named as
    checked within these files only. -o writes the findings to .csv, .json or .xlsx.
    Exit code 0 when no line would be rejected, 1 when one would, 3 when a file cannot be read.
    """
    from jzcli.check import check

    if not contract:
        raise UsageError(
            "--contract CONTRACT is required: the gemeente's contract (TOML or tariff sheet) the lines are checked against"
        )
    if output is not None and output.suffix.lower() not in (".csv", ".json", ".xlsx"):
        raise UsageError(f"-o {output}: use a .csv, .json or .xlsx file name")

    with terminal.Steps(quiet) as progress:
        result = check(
            paths,
            contract,
            toewijzingen or [],
            aanbieder=one_agb(aanbieder),
            gemeente=one_gemeente(gemeente),
            maps=maps or [],
            show_bsn=show_bsn,
            progress=progress,
            eerder=eerder or [],
        )

    if output is not None:
        _write_check_output(result, output)
        if not quiet:
            terminal.status_line(f"wrote {number(len(result.records))} findings to {terminal.escape(str(output))}")
    if fmt != Format.table:
        terminal.data_out(records_text(fmt.value, **_check_records(result)))
    else:
        _render_check(result)
    if fmt != Format.table and result.skipped_families:
        terminal.warning_line(_skipped_text(result))
    if fmt != Format.table and result.history_rules:
        terminal.warning_line(_history_text(result))
    for path, reason in result.ignored:
        if not quiet:
            terminal.warning_line(f"{path}: not checked: {reason}")
    for r in result.unreadable:
        terminal.error_line(r.message)
    code = result.exit_code
    if code:
        raise typer.Exit(code)


def _skipped_text(result) -> str:
    return (
        f"allocation rules not applied ({', '.join(result.skipped_rules)}): no --toewijzingen given; "
        "the gemeente will also check every line against its allocation"
    )


def _history_text(result) -> str:
    return (
        f"no --eerder given: {', '.join(result.history_rules)} compared these files only, not the earlier months; "
        "a credit of an earlier line is not checkable without them (JZ-H01)"
    )


def _check_records(result) -> dict:
    """The records writer's makers for check's findings: the records as they are, and as a table."""
    from jzcli.check import records_frame

    return {"records": lambda: result.records, "table": lambda: records_frame(result.records)}


def _write_check_output(result, output: Path) -> None:
    from jzcli.check import records_frame
    from jzcli.output.xlsx import write_frames

    if output.suffix.lower() != ".xlsx":
        write_records(output, **_check_records(result))
    else:
        write_frames({"Check": records_frame(result.records)}, output, labels=True)


def _render_files(result) -> None:
    """The files checked: sheets, lines, skipped rows and how many lines would be rejected."""
    from jzcli.domain.codes import AFGEKEURD

    out = terminal.out
    files = terminal.table("Files checked")
    for col, just in (
        ("file", "left"),
        ("sheets", "left"),
        ("lines", "right"),
        ("skipped rows", "right"),
        ("would be rejected", "right"),
    ):
        files.add_column(col, justify=just, overflow="fold")
    v = result.result.verdicts
    for r in result.declaraties:
        if r.status == "error":
            files.add_row(terminal.escape(r.path.name), "", "", "", "[red]cannot be read[/]")
            continue
        if r.status == "unchanged":
            files.add_row(terminal.escape(r.path.name), "", "", "", "[dim]the same file was given twice[/]")
            continue
        mine = v[(v["batch"] == r.batch)] if r.batch is not None and len(v) else v.iloc[0:0]
        rejected = int((mine["status"] == AFGEKEURD).sum()) if len(mine) else 0
        files.add_row(
            terminal.escape(r.path.name),
            terminal.escape(", ".join(r.sheet_labels)),
            number(r.stored),
            number(r.skipped),
            f"[red]{number(rejected)}[/]" if rejected else "0",
        )
    out.print(files)


def _render_check(result) -> None:
    from jzcli.check import amounts
    from jzcli.domain.codes import AFGEKEURD

    out = terminal.out
    _render_files(result)

    if result.skipped_families:
        out.print(f"[yellow]Note:[/] {terminal.escape(_skipped_text(result))}.")
    if result.history_rules:
        out.print(f"[yellow]Note:[/] {terminal.escape(_history_text(result))}.")
    if result.eerder:
        names = ", ".join(r.path.name for r in result.eerder)
        rejected = (
            f"; {number(result.history_rejected)} lines there are rejected by the same rules and are no history"
            if result.history_rejected
            else ""
        )
        out.print(
            f"Earlier months (--eerder): {number(result.history_lines)} approved lines are the history ({terminal.escape(names)}){rejected}."
        )

    if result.records:
        t = terminal.table("What the gemeente would reject, and what to change", show_lines=True)
        for col in ("file", "sheet", "row", "retourcode", "problem", "what to change"):
            t.add_column(col, justify="right" if col == "row" else "left", overflow="fold")
        for rec in result.records:
            code = rec["retourcode"] if rec["retourcode"] == rec["regel"] else f"{rec['retourcode']} ({rec['regel']})"
            code = terminal.escape(code) + "\n[dim]" + terminal.escape(rec["omschrijving"] or "") + "[/]"
            if rec["ernst"] != "afkeur":
                code = "[yellow]signal only[/]\n" + code
            problem = terminal.escape(rec["melding"] or "")
            if rec["kolom"] and rec["waarde"] is not None:
                problem += f"\n[dim]{terminal.escape(rec['kolom'])}: {terminal.escape(str(rec['waarde']))}[/]"
            t.add_row(
                terminal.escape(rec["bron"] or ""),
                terminal.escape(rec["blad"] or ""),
                "" if rec["rij"] is None else str(rec["rij"]),
                code,
                problem,
                terminal.escape(rec.get("hint") or ""),
            )
        out.print(t)

    a = amounts(result.result)
    if not result.lines:
        out.print("No declaration lines were checked.")
    elif result.rejected:
        out.print(
            f"[red]{number(result.rejected)} of {number(result.lines)} lines would be rejected[/] "
            f"({euro(a[AFGEKEURD])} of {euro(a['total'])}); fix them before sending."
        )
    else:
        out.print(f"[green]No line would be rejected[/]: {number(result.lines)} lines, {euro(a['total'])}.")
