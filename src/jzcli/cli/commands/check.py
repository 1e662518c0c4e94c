"""jzcli check, jzcli export jw323 (the provider side)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.cli.app import app
from jzcli.cli.commands.store_cmds import export_app
from jzcli.cli.common import Format, FormatOption, OutputOption, QuietOption, ShowBsnOption, check_batches, open_store
from jzcli.domain.text import euro, number
from jzcli.errors import EXIT_FINDINGS, UsageError
from jzcli.output.records import json_text, records_text, write_records

MapOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--map", help='Column mapping "Column name=field" for the declaration files (repeatable), as in jzcli import.'
    ),
]


def _agb(value: str | None) -> str | None:
    if value is None:
        return None
    from jzcli.cli.common import resolve_agbs

    return resolve_agbs([value])[0]


def _gemeente(value: str | None) -> str | None:
    if value is None:
        return None
    from jzcli.cli.common import resolve_gemeenten

    return resolve_gemeenten([value])[0]


def _date_option(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value}: not a date (write it as 2025-04-02)") from None


# ============================================================================ check
@app.command(
    "check",
    epilog=(
        "Examples:\n\n"
        "  jzcli check maart.xlsx --contract gooi.toml --toewijzingen toewijzingen.xlsx\n\n"
        "  jzcli check declaraties/ --contract gooi.toml --contract twente.xlsx --aanbieder 98001202\n\n"
        "  jzcli check maart.xlsx --contract gooi.toml --format json > afkeur.json\n\n"
        "  jzcli check april.xlsx --contract gooi.toml --toewijzingen toewijzingen.xlsx --eerder maart.xlsx"
    ),
)
def check_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Declaration files or folders (xlsx, xlsm, xls, ods, csv, txt, JW323 xml).", show_default=False
        ),
    ],
    contract: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--contract",
            help="Required. The gemeente's contract: TOML or tariff sheet (repeatable: each line is checked against its gemeente's contract).",
        ),
    ] = None,
    toewijzingen: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--toewijzingen",
            help="Allocations (spreadsheet or JW301 xml; repeatable). Without them the allocation rules are skipped.",
        ),
    ] = None,
    eerder: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--eerder",
            help="Files or JW323 messages of earlier months, already sent (repeatable; folders too): judged with the same rules, their "
            "approved lines are the history, so credits of earlier lines and TR314/TR389/TR390/TR322 can be checked. Without them those "
            "are reported as not checkable.",
        ),
    ] = None,
    aanbieder: Annotated[
        Optional[str], typer.Option("--aanbieder", help="AGB code for files that do not name the provider.")
    ] = None,
    gemeente: Annotated[
        Optional[str], typer.Option("--gemeente", help="Gemeente (CBS code or name) for files that do not name it.")
    ] = None,
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
            aanbieder=_agb(aanbieder),
            gemeente=_gemeente(gemeente),
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


def _render_check(result) -> None:
    from jzcli.check import amounts
    from jzcli.validate import AFGEKEURD

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


# ============================================================================ export jw323
@export_app.command(
    "jw323",
    epilog=(
        "Examples:\n\n"
        "  jzcli export jw323 maart.xlsx -o berichten/\n\n"
        "  jzcli export jw323 maart.csv -o berichten/ --aanbieder 98001202 --periode 2025-03\n\n"
        "  jzcli export jw323 --db jzcli.db --batch 4 -o berichten/"
    ),
)
def export_jw323_command(
    paths: Annotated[
        Optional[list[Path]], typer.Argument(help="Declaration spreadsheets or folders.", show_default=False)
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Folder for the messages (created when missing).")
    ] = None,
    aanbieder: Annotated[
        Optional[str], typer.Option("--aanbieder", help="AGB code for files that do not name the provider.")
    ] = None,
    gemeente: Annotated[
        Optional[str], typer.Option("--gemeente", help="Gemeente (CBS code or name) for files that do not name it.")
    ] = None,
    periode: Annotated[
        Optional[str],
        typer.Option(
            "--periode", help="DeclaratiePeriode, a month such as 2025-03. Default: the latest month in the lines."
        ),
    ] = None,
    dagtekening: Annotated[
        Optional[str],
        typer.Option(
            "--dagtekening", help="Date the messages (default today); needed when the period has not ended yet."
        ),
    ] = None,
    maps: MapOption = None,
    batch: Annotated[
        Optional[list[int]],
        typer.Option("--batch", help="With --db: the imported spreadsheet batches to export (repeatable)."),
    ] = None,
    db: Annotated[
        Optional[str],
        typer.Option("--db", help="Export stored lines (with --batch) instead of files.", show_default=False),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format on stdout (table or json).")] = Format.table,
    show_bsn: ShowBsnOption = False,
    quiet: QuietOption = False,
) -> None:
    """Turn declaration spreadsheets into iJw JW323 messages, one per aanbieder × gemeente.

    The DeclaratiePeriode is one calendar month (--periode, default the latest month in the
    lines); lines of earlier months travel in that month's message (late declaring). Your own
    ReferentieNummer and DeclaratieNummer are kept; missing ones are generated, stable and
    unique. Lines that cannot become a valid Prestatie (no toewijzingnummer, a BSN failing the
    11-proef, no tarief, a period spanning months, ...) are listed with file, sheet and row and
    left out, never invented. Every message is checked against JW323.xsd; files are UTF-8 with
    CR/LF line ends. Run jzcli check first to see what the gemeente would reject.
    Exit code 0 when every line was exported, 1 when lines were left out, 2 for a usage error,
    3 when a file cannot be read.
    """
    from jzcli import jw323

    if output is None:
        raise UsageError("-o DIR is required: the folder to write the messages to")
    if fmt == Format.csv:
        raise UsageError("--format csv is not available here; use table or json")
    per = jw323.parse_periode(periode) if periode else None
    dag = _date_option(dagtekening, "--dagtekening")
    if db is not None:
        if paths:
            raise UsageError("give either files or --db with --batch, not both")
        store = open_store(db)
        check_batches(store, batch)
        result = jw323.export_store(store, list(batch or []), output, periode=per, dagtekening=dag, show_bsn=show_bsn)
    else:
        if not paths:
            raise UsageError("give the declaration files to export (or --db with --batch)")
        if batch:
            raise UsageError("--batch only goes with --db")

        with terminal.Steps(quiet) as progress:
            result = jw323.export_files(
                paths,
                output,
                aanbieder=_agb(aanbieder),
                gemeente=_gemeente(gemeente),
                maps=maps or [],
                periode=per,
                dagtekening=dag,
                show_bsn=show_bsn,
                progress=progress,
            )

    if fmt == Format.json:
        terminal.data_out(json_text(result.as_dict()))
    else:
        _render_export(result, output)
    if len(result.left_out):
        raise typer.Exit(EXIT_FINDINGS)


def _render_export(result, folder: Path) -> None:
    out = terminal.out
    if result.messages:
        t = terminal.table(
            f"JW323 messages written to {terminal.escape(str(folder))} (DeclaratiePeriode {result.periode:%Y-%m}, dagtekening {result.dagtekening.isoformat()})"
        )
        for col, just in (
            ("file", "left"),
            ("aanbieder", "left"),
            ("gemeente", "left"),
            ("declaratienummer", "left"),
            ("clients", "right"),
            ("lines", "right"),
            ("total", "right"),
        ):
            t.add_column(col, justify=just, overflow="fold")
        for m in result.messages:
            t.add_row(
                terminal.escape(m.filename),
                m.aanbieder,
                m.gemeente,
                terminal.escape(m.declaratienummer),
                number(m.clients),
                number(len(m.lines)),
                euro(m.totaal),
            )
        out.print(t)
    else:
        out.print("No message was written: no line could become a valid Prestatie.")
    if len(result.left_out):
        t = terminal.table(
            f"Lines left out ({len(result.left_out)} of {result.lines}; fix them and export again)", show_lines=True
        )
        for col in ("file", "sheet", "row", "reason"):
            t.add_column(col, justify="right" if col == "row" else "left", overflow="fold")
        for r in result.left_out.itertuples(index=False):
            t.add_row(
                terminal.escape(r.bron or ""),
                terminal.escape(r.blad or ""),
                "" if r.rij is None else str(r.rij),
                terminal.escape(r.reden),
            )
        out.print(t)
    out.print(
        f"{number(result.exported)} of {number(result.lines)} lines exported in {len(result.messages)} message(s)."
    )
