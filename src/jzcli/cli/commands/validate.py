"""jzcli validate: judge the new lines with the iJw rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.cli.common import (
    NOTHING_IMPORTED,
    DbOption,
    Format,
    FormatOption,
    OutputOption,
    QuietOption,
    ShowBsnOption,
    check_batches,
    open_store,
)
from jzcli.domain.text import cell_text, euro, number
from jzcli.errors import EXIT_FINDINGS, UsageError
from jzcli.output.records import json_text, records_text, write_records

SHOWN_LINES = 20


EPILOG = (
    "Examples:\n\n"
    "  jzcli validate                               judge every new line\n\n"
    "  jzcli validate --gemeente Huizen --details   only Huizen's lines, list every rejected line\n\n"
    "  jzcli validate --opnieuw -o afkeur.xlsx      judge everything again, findings to a workbook\n\n"
    "  jzcli validate --format json > bevindingen.json"
)


OpnieuwOption = Annotated[
    bool,
    typer.Option(
        "--opnieuw", help="Judge all lines again from scratch (old verdicts are replaced in one transaction)."
    ),
]
GemeenteOption = Annotated[
    Optional[list[str]],
    typer.Option("--gemeente", help="Only lines of this gemeente (CBS code or name; repeatable)."),
]
AanbiederOption = Annotated[
    Optional[list[str]], typer.Option("--aanbieder", help="Only lines of this AGB code (repeatable).")
]
BatchOption = Annotated[
    Optional[list[int]], typer.Option("--batch", help="Only lines of this batch (see jzcli batches; repeatable).")
]
DetailsOption = Annotated[
    bool, typer.Option("--details", help=f"List every rejected line, not only the first {SHOWN_LINES}.")
]


def validate_command(
    opnieuw: OpnieuwOption = False,
    gemeente: GemeenteOption = None,
    aanbieder: AanbiederOption = None,
    batch: BatchOption = None,
    details: DetailsOption = False,
    show_bsn: ShowBsnOption = False,
    fmt: FormatOption = Format.table,
    output: OutputOption = None,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Judge every line not judged yet with the iJw rules (see jzcli rules), in import order.

    Each line is approved (goedgekeurd) or rejected (afgekeurd); a rejection names the rule, its
    retourcode and the values involved. Earlier approved lines count as history (duplicates,
    credits, volume and budget totals), whatever --gemeente/--aanbieder/--batch select.
    -o writes every finding to .csv, .json or .xlsx (BSNs masked unless --show-bsn).
    Exit code 0 when no line was rejected, 1 when any was.
    """
    from jzcli.cli.common import resolve_agbs, resolve_gemeenten
    from jzcli.domain.codes import AFGEKEURD
    from jzcli.engine.result import findings_records, findings_table
    from jzcli.engine.run import validate

    if output is not None and output.suffix.lower() not in (".csv", ".json", ".xlsx"):
        raise UsageError(f"-o {output}: use a .csv, .json or .xlsx file name")
    codes = resolve_gemeenten(gemeente) if gemeente else None
    agbs = resolve_agbs(aanbieder) if aanbieder else None
    store = open_store(db)
    check_batches(store, batch)
    if store.is_empty():
        if not quiet:
            terminal.status_line(NOTHING_IMPORTED)
        if fmt == Format.json:
            terminal.data_out(json_text([]))
        return

    with terminal.Steps(quiet) as progress:
        result = validate(store, opnieuw=opnieuw, gemeente=codes, aanbieder=agbs, batch=batch, progress=progress)

    if output is not None:
        _write_output(result, output, show_bsn)
        if not quiet:
            terminal.status_line(f"wrote {number(len(result.findings))} findings to {terminal.escape(str(output))}")

    if fmt != Format.table:
        terminal.data_out(
            records_text(
                fmt.value,
                records=lambda: findings_records(result, show_bsn=show_bsn),
                table=lambda: findings_table(result, show_bsn=show_bsn),
            )
        )
    else:
        _render(result, details=details, quiet=quiet)

    if result.judged and (result.verdicts["status"] == AFGEKEURD).any():
        raise typer.Exit(EXIT_FINDINGS)


def _write_output(result, output: Path, show_bsn: bool) -> None:
    from jzcli.engine.result import findings_records, findings_table, rule_summary
    from jzcli.output.xlsx import write_frames

    if output.suffix.lower() != ".xlsx":
        write_records(
            output,
            records=lambda: findings_records(result, show_bsn=show_bsn),
            table=lambda: findings_table(result, show_bsn=show_bsn),
        )
    else:
        from decimal import Decimal

        from jzcli.output.xlsx import EURO_FORMAT

        summary = rule_summary(result)
        summary["bedrag"] = [Decimal(int(c)) / 100 for c in summary["bedrag"]]  # euros, exact, as a number
        write_frames(
            {"Bevindingen": findings_table(result, show_bsn=show_bsn), "Per regel": summary},
            output,
            number_formats={"bedrag": EURO_FORMAT},
            labels=True,
        )


def _render(result, *, details: bool, quiet: bool) -> None:
    from jzcli.domain.codes import AFGEKEURD, GOEDGEKEURD
    from jzcli.engine.result import rule_summary

    out = terminal.out
    if not result.judged:
        if not quiet:
            terminal.status_line(
                "No new lines to judge: every stored line in scope has a verdict (--opnieuw judges them again)."
            )
        return

    summary = rule_summary(result)
    if len(summary):
        t = terminal.table(f"Findings per rule (validate run {result.ronde} on this store)")
        for col, just in (
            ("rule", "left"),
            ("retourcode", "left"),
            ("omschrijving", "left"),
            ("ernst", "left"),
            ("lines", "right"),
            ("amount", "right"),
        ):
            t.add_column(col, justify=just)
        for r in summary.itertuples():
            t.add_row(
                r.regel,
                r.retourcode,
                terminal.escape(r.omschrijving),
                r.ernst if r.ernst == "afkeur" else f"[yellow]{r.ernst}[/]",
                number(r.regels),
                euro(r.bedrag),
            )
        out.print(t)

    totals = terminal.table("Totals")
    for col, just in (("status", "left"), ("lines", "right"), ("amount (debet − credit)", "right")):
        totals.add_column(col, justify=just)
    totals.add_row("goedgekeurd", number(result.approved), euro(result.amount(GOEDGEKEURD)))
    totals.add_row(
        "[red]afgekeurd[/]" if result.rejected else "afgekeurd",
        number(result.rejected),
        euro(result.amount(AFGEKEURD)),
    )
    totals.add_row(
        "[bold]judged[/]",
        number(result.judged),
        euro(result.amount(GOEDGEKEURD) + result.amount(AFGEKEURD)),
    )
    out.print(totals)

    if not result.rejected:
        return
    f = result.findings
    rejected = f[f["status"] == AFGEKEURD]
    ids = list(dict.fromkeys(rejected["regel_id"]))
    shown = ids if details else ids[:SHOWN_LINES]
    title = (
        f"Rejected lines ({len(ids)})"
        if details or len(ids) <= SHOWN_LINES
        else f"Rejected lines (first {SHOWN_LINES} of {len(ids)}; --details shows all)"
    )
    t = terminal.table(title, show_lines=True)
    for col in ("file", "sheet", "row", "rule", "message"):
        t.add_column(col, justify="right" if col == "row" else "left", overflow="fold")
    chosen = rejected[rejected["regel_id"].isin(set(shown))]
    for _regel_id, group in chosen.groupby("regel_id", sort=False):
        first = group.iloc[0]
        rules = "\n".join(f"{r} ({c})" if c != r else r for r, c in zip(group["regel"], group["retourcode"]))
        messages = "\n".join(str(m) for m in group["melding"])
        t.add_row(
            terminal.escape(cell_text(first["bron"])),
            terminal.escape(cell_text(first["blad"])),
            cell_text(first["rij"]),
            terminal.escape(rules),
            terminal.escape(messages),
        )
    out.print(t)
