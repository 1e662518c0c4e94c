"""jzcli export declaraties, jzcli export jw323: stored lines to files, spreadsheets to JW323 messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.cli.common import (
    EXCEL_NEEDS_CSV,
    DbOption,
    ExcelOption,
    Format,
    MapOption,
    QuietOption,
    ShowBsnOption,
    check_batches,
    one_agb,
    one_gemeente,
    open_store,
)
from jzcli.domain.text import euro, number
from jzcli.errors import EXIT_FINDINGS, UsageError
from jzcli.output.records import json_text

export_app = typer.Typer(help="Write stored data to files (csv, xlsx).", no_args_is_help=True)


DeclaratiesOutputOption = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="Target file: .xlsx (the best way into Excel: dates, amounts and codes as they are) or .csv "
        "(UTF-8 with BOM, ',' and dot decimals; see --excel).",
    ),
]
DeclaratiesGemeenteOption = Annotated[
    Optional[list[str]], typer.Option("--gemeente", help="Only these gemeenten (code or name).")
]
DeclaratiesAanbiederOption = Annotated[Optional[list[str]], typer.Option("--aanbieder", help="Only these AGB codes.")]
DeclaratiesBatchOption = Annotated[Optional[list[int]], typer.Option("--batch", help="Only these batches.")]
DeclaratiesPseudoniemOption = Annotated[
    bool,
    typer.Option(
        "--pseudoniem",
        help="Replace each BSN by a pseudonym (keyed HMAC-SHA256; column bsn_pseudoniem): "
        "the same BSN always gets the same pseudonym under one key.",
    ),
]
DeclaratiesSleutelBestandOption = Annotated[
    Optional[Path],
    typer.Option(
        "--sleutel-bestand",
        help="File holding the secret pseudonym key (at least 16 characters). "
        "Default: the environment variable JZCLI_PSEUDONIEM_SLEUTEL.",
        show_default=False,
    ),
]


@export_app.command(
    "declaraties",
    epilog=(
        "Examples:\n\n  jzcli export declaraties -o alle-regels.csv\n\n  jzcli export declaraties -o huizen.xlsx --gemeente Huizen\n\n"
        "  jzcli export declaraties -o analyse.csv --pseudoniem --sleutel-bestand ~/.jzcli-sleutel"
    ),
)
def export_declaraties_command(
    output: DeclaratiesOutputOption,
    gemeente: DeclaratiesGemeenteOption = None,
    aanbieder: DeclaratiesAanbiederOption = None,
    batch: DeclaratiesBatchOption = None,
    pseudoniem: DeclaratiesPseudoniemOption = False,
    sleutel_bestand: DeclaratiesSleutelBestandOption = None,
    excel: ExcelOption = False,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Write all stored declaration lines with the full BSN (a file for other systems), or with
    pseudonyms instead of BSNs (--pseudoniem) for analysis without personal data.

    Columns: batch, bron, blad, rij, aanbieder, gemeente, declaratienummer, referentienummer,
    vorig_referentienummer, bsn, toewijzingnummer, productcategorie, productcode, begindatum,
    einddatum, volume, eenheid, tarief, bedrag, debet_credit as stored (what the provider wrote),
    then what jzcli knows of each line: status (goedgekeurd, afgekeurd, empty when not judged),
    retourcodes (of its rejection), toewijzing_gevonden (the allocation the line draws on, matched
    on its toewijzingnummer or its content), contract_productcategorie and contract_eenheid (of its
    product in the contract), and productperiode_afgeleid (how the period was derived from a month
    column; empty when both dates are as written). Dates ISO, money in euros (dot; --excel:
    decimal comma).
    """
    from jzcli.errors import UsageError
    from jzcli.output.export import export_declaraties
    from jzcli.store.schema import declaratieregels as t

    if output.suffix.lower() not in (".csv", ".xlsx"):
        raise UsageError(f"-o {output}: use a .csv or .xlsx file name")
    if excel and output.suffix.lower() != ".csv":
        raise UsageError(EXCEL_NEEDS_CSV)
    pseudonym = None
    if pseudoniem:
        from jzcli.output.export import pseudonym_key, pseudonymiser

        pseudonym = pseudonymiser(pseudonym_key(sleutel_bestand))
    elif sleutel_bestand is not None:
        raise UsageError("--sleutel-bestand is only used with --pseudoniem")
    store = open_store(db)
    check_batches(store, batch)
    where = None
    conditions = []
    if gemeente:
        from jzcli.cli.common import resolve_gemeenten

        conditions.append(t.c.gemeente.in_(resolve_gemeenten(gemeente)))
    if aanbieder:
        conditions.append(t.c.aanbieder.in_(aanbieder))
    if batch:
        conditions.append(t.c.batch.in_(batch))
    if conditions:
        import sqlalchemy as sa

        where = sa.and_(*conditions)
    from jzcli.domain.lines import EXPORT_COLUMNS
    from jzcli.engine.facts import line_facts, productperiode_afgeleid

    with terminal.Steps(quiet) as step:
        step("reading the lines")
        frame = store.declaraties(["id", *EXPORT_COLUMNS, "periode_uit_maand"], where=where)
        step("their verdicts and what validate derives")
        facts = line_facts(store, where)
        facts["productperiode_afgeleid"] = (
            productperiode_afgeleid(store, frame).set_axis(frame["id"].astype("int64")).reindex(facts.index)
        )
        step(f"writing {output.name}")
        n = export_declaraties(
            frame.drop(columns=["periode_uit_maand"]), output, pseudonym=pseudonym, facts=facts, excel=excel
        )
    if not quiet:
        terminal.status_line(f"wrote {number(n)} lines to {terminal.escape(str(output))}")


def _date_option(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value}: not a date (write it as 2025-04-02)") from None


Jw323PathsArgument = Annotated[
    Optional[list[Path]], typer.Argument(help="Declaration spreadsheets or folders.", show_default=False)
]
Jw323OutputOption = Annotated[
    Optional[Path], typer.Option("--output", "-o", help="Folder for the messages (created when missing).")
]
Jw323AanbiederOption = Annotated[
    Optional[str], typer.Option("--aanbieder", help="AGB code for files that do not name the provider.")
]
Jw323GemeenteOption = Annotated[
    Optional[str], typer.Option("--gemeente", help="Gemeente (CBS code or name) for files that do not name it.")
]
Jw323PeriodeOption = Annotated[
    Optional[str],
    typer.Option(
        "--periode", help="DeclaratiePeriode, a month such as 2025-03. Default: the latest month in the lines."
    ),
]
Jw323DagtekeningOption = Annotated[
    Optional[str],
    typer.Option("--dagtekening", help="Date the messages (default today); needed when the period has not ended yet."),
]
Jw323BatchOption = Annotated[
    Optional[list[int]],
    typer.Option("--batch", help="With --db: the imported spreadsheet batches to export (repeatable)."),
]
Jw323DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="Export stored lines (with --batch) instead of files.", show_default=False),
]
Jw323FormatOption = Annotated[Format, typer.Option("--format", help="Output format on stdout (table or json).")]


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
    paths: Jw323PathsArgument = None,
    output: Jw323OutputOption = None,
    aanbieder: Jw323AanbiederOption = None,
    gemeente: Jw323GemeenteOption = None,
    periode: Jw323PeriodeOption = None,
    dagtekening: Jw323DagtekeningOption = None,
    maps: MapOption = None,
    batch: Jw323BatchOption = None,
    db: Jw323DbOption = None,
    fmt: Jw323FormatOption = Format.table,
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
                aanbieder=one_agb(aanbieder),
                gemeente=one_gemeente(gemeente),
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
