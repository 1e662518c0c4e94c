"""jzcli batches, jzcli export declaraties"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.cli.app import app
from jzcli.cli.common import (
    EXCEL_NEEDS_CSV,
    DbOption,
    ExcelOption,
    Format,
    FormatOption,
    QuietOption,
    check_batches,
    open_store,
)
from jzcli.domain.text import number
from jzcli.output.records import records_text

export_app = typer.Typer(help="Write stored data to files (csv, xlsx).", no_args_is_help=True)
app.add_typer(export_app, name="export")


@app.command("batches", epilog="Examples:\n\n  jzcli batches\n\n  jzcli batches --format json")
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


@export_app.command(
    "declaraties",
    epilog=(
        "Examples:\n\n  jzcli export declaraties -o alle-regels.csv\n\n  jzcli export declaraties -o huizen.xlsx --gemeente Huizen\n\n"
        "  jzcli export declaraties -o analyse.csv --pseudoniem --sleutel-bestand ~/.jzcli-sleutel"
    ),
)
def export_declaraties_command(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Target file: .xlsx (the best way into Excel: dates, amounts and codes as they are) or .csv "
            "(UTF-8 with BOM, ',' and dot decimals; see --excel).",
        ),
    ],
    gemeente: Annotated[
        Optional[list[str]], typer.Option("--gemeente", help="Only these gemeenten (code or name).")
    ] = None,
    aanbieder: Annotated[Optional[list[str]], typer.Option("--aanbieder", help="Only these AGB codes.")] = None,
    batch: Annotated[Optional[list[int]], typer.Option("--batch", help="Only these batches.")] = None,
    pseudoniem: Annotated[
        bool,
        typer.Option(
            "--pseudoniem",
            help="Replace each BSN by a pseudonym (keyed HMAC-SHA256; column bsn_pseudoniem): "
            "the same BSN always gets the same pseudonym under one key.",
        ),
    ] = False,
    sleutel_bestand: Annotated[
        Optional[Path],
        typer.Option(
            "--sleutel-bestand",
            help="File holding the secret pseudonym key (at least 16 characters). "
            "Default: the environment variable JZCLI_PSEUDONIEM_SLEUTEL.",
            show_default=False,
        ),
    ] = None,
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
    from jzcli.store.store import declaratieregels as t

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
    from jzcli.validate import line_facts, productperiode_afgeleid

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
