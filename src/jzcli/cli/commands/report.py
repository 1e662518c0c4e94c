"""jzcli report: what youth care costs per gemeente, with whom, on what, per month."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.cli.common import (
    EXCEL_NEEDS_CSV,
    NOTHING_IMPORTED,
    DbOption,
    ExcelOption,
    Format,
    FormatOption,
    QuietOption,
    open_store,
    resolve_gemeenten,
)
from jzcli.domain.text import euro, number, unit_label
from jzcli.output.records import records_text, write_records

# --by and --view take plain text checked by the core (a UsageError, exit 2), with completion.


def complete_by(incomplete: str) -> list[str]:
    from jzcli.report import DIMENSIONS

    return [d for d in DIMENSIONS if d.startswith(incomplete or "")]


def complete_view(incomplete: str) -> list[str]:
    from jzcli.report import VIEW_CHOICES

    return [v for v in VIEW_CHOICES if v.startswith(incomplete or "")]


def complete_gemeente(incomplete: str) -> list[str]:
    """Shell completion for --gemeente: CBS names (and their short forms) starting with the text."""
    from jzcli import refdata
    from jzcli.readers.values import normalise_text

    key = normalise_text(incomplete or "")
    names: list[str] = []
    for row in refdata.gemeenten().values():
        name = row["gemeentenaam"]
        short = name.split(" (")[0]
        for candidate in (name, short):
            if normalise_text(candidate).startswith(key) and candidate not in names:
                names.append(candidate)
    for alias in ("Den Haag", "Den Bosch"):
        if normalise_text(alias).startswith(key) and alias not in names:
            names.append(alias)
    return sorted(names, key=normalise_text)


EPILOG = (
    "Examples:\n\n"
    "  jzcli report --gemeente Huizen\n\n"
    "  jzcli report --gemeente Huizen --gemeente Blaricum --by aanbieder --by maand\n\n"
    "  jzcli report --by productcategorie --van 2025-01 --tot 2025-06\n\n"
    "  jzcli report --gemeente 0406 --view lasten\n\n"
    "  jzcli report --budget budget-2025.xlsx --view budget\n\n"
    "  jzcli report --gemeente Huizen -o huizen-2025.xlsx\n\n"
    "  jzcli report --by aanbieder --format csv > kosten.csv"
)


GemeenteOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--gemeente",
        "-g",
        help="Gemeente by CBS name or code (Huizen, 'Laren', \"'s-Hertogenbosch\", 0406, GM0406); repeat for "
        "several. Default: all gemeenten side by side.",
        autocompletion=complete_gemeente,
        show_default=False,
    ),
]
ByOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--by",
        metavar="aanbieder|productcategorie|productcode|maand|kwartaal|jaar",
        help="Group the cost view by one or two levels (e.g. --by aanbieder --by maand).",
        autocompletion=complete_by,
        show_default=False,
    ),
]
VanOption = Annotated[
    Optional[str], typer.Option("--van", help="First ProductPeriode month, YYYY-MM.", show_default=False)
]
TotOption = Annotated[
    Optional[str], typer.Option("--tot", help="Last ProductPeriode month (inclusive), YYYY-MM.", show_default=False)
]
AanbiederOption = Annotated[
    Optional[list[str]], typer.Option("--aanbieder", help="Only these aanbieders (AGB code).", show_default=False)
]
ViewOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--view",
        metavar="kosten|maand|afkeur|budget|lasten|alles",
        autocompletion=complete_view,
        help="What to show: kosten (cost table; without --by also per aanbieder and per productcategorie), "
        "maand (month trend with bars), afkeur (findings per rule), budget (needs --budget), lasten "
        "(administrative load: rejections and first-time-right per aanbieder, per rule, per month), alles. "
        "Default: kosten, maand and afkeur (plus budget with --budget); a workbook gets everything.",
        show_default=False,
    ),
]
BudgetOption = Annotated[
    Optional[Path],
    typer.Option(
        "--budget",
        help="Budget file (csv/xlsx) with columns gemeente, jaar, budget (euros), optional productcategorie.",
        show_default=False,
    ),
]
OutputOption = Annotated[
    Optional[Path],
    typer.Option(
        "--output",
        "-o",
        help="Write to a file instead: .xlsx (a workbook with every view and charts: the best way into Excel), "
        ".json, or .csv (UTF-8 with BOM; see --excel).",
        show_default=False,
    ),
]


def report_command(
    gemeente: GemeenteOption = None,
    by: ByOption = None,
    van: VanOption = None,
    tot: TotOption = None,
    aanbieder: AanbiederOption = None,
    view: ViewOption = None,
    budget: BudgetOption = None,
    fmt: FormatOption = Format.table,
    output: OutputOption = None,
    excel: ExcelOption = False,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """What youth care costs per gemeente: with whom, on what, per month, and what was rejected.

    Each row: lines, clients (distinct BSNs), volume and the net amounts approved, rejected and not
    judged, with its share of the total; a totals row. Also: the month trend with bars, budget vs
    realised with a year projection (--budget), and the administrative load (--view lasten).

    Amounts are net (debet minus credit), exact to the cent, and belong to the gemeente in the line.
    A retired (merged) gemeente code is shown under its own code and old name, with a note naming
    its successor. In --format json/csv amounts are euros as text with a dot ("1234.56").
    """
    from jzcli import report as core
    from jzcli.errors import UsageError

    by_values = list(core.check_by(by or []))
    codes = resolve_gemeenten(gemeente or [])
    sel = core.make_selection(codes, aanbieder or [], van, tot)

    suffix = output.suffix.lower() if output else None
    if output is not None and suffix not in (".xlsx", ".json", ".csv"):
        raise UsageError(f"-o {output}: use a .xlsx, .json or .csv file name")
    out_format = {".json": Format.json, ".csv": Format.csv}.get(suffix, fmt) if suffix != ".xlsx" else None

    if excel and out_format != Format.csv:
        raise UsageError(EXCEL_NEEDS_CSV)
    tables = core.plan_tables(
        list(view or []), by_values, budget=budget is not None, workbook=suffix == ".xlsx", csv=out_format == Format.csv
    )
    budgets = core.read_budget(budget) if budget else None
    store = open_store(db)
    empty = store.is_empty()
    with terminal.Steps(quiet) as step:

        def progress(text: str) -> None:  # the one-off index build: said once, and shown while it runs
            if not quiet:
                terminal.status_line(terminal.escape(text))
            step(text)

        step("summing the lines")
        report = core.build_report(store, sel, by_values, tables, budgets, progress=progress)

    if output is not None or out_format != Format.table:
        _deliver(report, output, out_format, excel=excel, quiet=quiet)
        _hints(report, quiet, empty)
        return
    if empty:  # nothing but zeros to show
        terminal.status_line(NOTHING_IMPORTED)
        return
    _render(report)
    _hints(report, quiet)


# ------------------------------------------------------------------------------ json / csv
def _deliver(report, output: Path | None, out_format: Format | None, *, excel: bool, quiet: bool) -> None:
    """The report to a workbook (``out_format`` None), a .json/.csv file, or as JSON/CSV on stdout."""

    if out_format is None:
        from jzcli.output.report_xlsx import write_report

        sheets = write_report(report, output)
        if not quiet:
            terminal.status_line(f"wrote {terminal.escape(str(output))} (sheets: {', '.join(sheets)})")
        return
    makers = {"records": lambda: _records(report), "table": lambda: _table_rows(report)}
    from jzcli.domain.report import MONEY_COLUMNS, PCT_COLUMNS

    numbers = [*MONEY_COLUMNS, *PCT_COLUMNS]  # a decimal comma with --excel
    if output is not None:
        write_records(output, **makers, excel=excel, decimal_columns=numbers)
        if not quiet:
            terminal.status_line(f"wrote {terminal.escape(str(output))}")
    else:
        terminal.data_out(records_text(out_format.value, **makers, excel=excel, decimal_columns=numbers))


def _records(report) -> dict:
    """The report as JSON data: the selection, every table's rows, the notes."""
    from jzcli import report as core

    data: dict = {"selectie": {**report.selection.describe(), "by": list(report.by)}}
    for name in report.tables:
        data[name] = core.rows_for_output(report.tables[name])
    data["opmerkingen"] = report.notes
    return data


def _table_rows(report):
    """The one table CSV carries, its amounts as euro text."""
    import pandas as pd

    from jzcli import report as core

    (frame,) = report.tables.values()
    rows = pd.DataFrame(core.rows_for_output(frame), columns=list(frame.columns))
    return rows.astype(object).where(rows.notna(), None)


def _hints(report, quiet: bool, empty: bool = False) -> None:
    if quiet:
        return
    if empty:
        terminal.status_line(NOTHING_IMPORTED)
    elif not report.judged_any:
        terminal.status_line("No line has been judged yet: every amount is 'not judged'. Run jzcli validate first.")


# ------------------------------------------------------------------------------ terminal
MONEY_COLS = [
    ("ingediend", "declared"),
    ("goedgekeurd", "approved"),
    ("afgekeurd", "rejected"),
    ("onbeoordeeld", "not judged"),
]
BAR_WIDTH = 24


def _pct(value) -> str:
    if value is None or value != value:
        return ""
    return f"{value:.1f}%".replace(".", ",")


def _gemeente_label(row) -> str:
    if row.get("gemeente") is None:
        return "(none)"
    label = f"{row['gemeente']} {row.get('gemeente_naam') or '?'}"
    return label + (" *" if row.get("gemeente_opmerking") else "")


def _missing(value) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _dim_label(row: dict, dim: str) -> str:
    value = row.get(dim)
    if value is None:
        return "(none)"
    if dim == "productcategorie" and row.get("productcategorie_omschrijving"):
        return f"{value} {row['productcategorie_omschrijving']}"  # a terminal's column shortens the name
    return str(value)


def _title(report, what: str) -> str:
    sel = report.selection
    codes = list(sel.gemeenten)
    if len(codes) == 1:
        from jzcli.report import gemeente_naam

        where = f"{gemeente_naam(codes[0])} ({codes[0]})"
    elif codes:
        where = f"{len(codes)} gemeenten"
    else:
        where = "all gemeenten"
    desc = sel.describe()
    period = ""
    if desc["van"] or desc["tot"]:
        period = f", {desc['van'] or '…'} to {desc['tot'] or '…'}"
    extra = f", aanbieder {', '.join(sel.aanbieders)}" if sel.aanbieders else ""
    return f"{what} — {where}{period}{extra}"


def _render(report) -> None:
    renderers = {
        "kosten": _render_kosten,
        "aanbieder": _render_dimension,
        "productcategorie": _render_dimension,
        "maand": _render_maand,
        "budget": _render_budget,
        "lasten_aanbieder": _render_lasten_aanbieder,
        "lasten_regel": _render_lasten_regel,
        "lasten_maand": _render_lasten_maand,
    }
    noted = False
    for name, frame in report.tables.items():
        if name == "kosten" and not report.by and "aanbieder" in report.tables and _only_selected(report, frame):
            continue  # one gemeente, one row: its totals are in the aanbieder table
        if name == "lasten_regel" and not report.judged_any and len(report.tables) > 1:
            continue  # nothing judged: the hint on stderr says so
        if name in ("aanbieder", "productcategorie"):
            _render_dimension(report, frame, name)
        else:
            renderers[name](report, frame)
        note = net_note(frame)
        if note and not noted:  # under the first table where it shows; the others hold the same lines
            terminal.out.print(note, style="dim", markup=False, highlight=False)
            noted = True
        terminal.out.print()
    for note in report.notes:
        terminal.out.print(f"* {terminal.escape(note)}", style="dim")


NET_NOTE = (
    "approved above declared, or rejected below zero: amounts are net (debet − credit); a rejected "
    "credit line counts as a negative rejected amount, and the debet it was meant to cancel stays approved"
)


def net_note(frame) -> str | None:
    """The note under a cost table where a rejected credit makes a figure look impossible."""
    if not {"goedgekeurd", "ingediend", "afgekeurd"} <= set(frame.columns) or frame.empty:
        return None
    odd = (frame["afgekeurd"] < 0) | (frame["goedgekeurd"] > frame["ingediend"])
    return NET_NOTE if bool(odd.any()) else None


def _money_columns(t, cols=MONEY_COLS) -> None:
    for _, label in cols:
        if isinstance(t, terminal.TextTable):
            t.add_column(label, justify="right")
        else:
            t.add_column(label, justify="right", no_wrap=True)


def _table(title: str, **kwargs):
    from rich import box

    return terminal.table(title, box=box.SIMPLE_HEAD, pad_edge=False, **kwargs)


def _only_selected(report, frame) -> bool:
    """True when the cost table holds exactly the one gemeente asked for (no column needed)."""
    shown = set(frame.loc[frame["niveau"] != "totaal", "gemeente"])
    return len(report.selection.gemeenten) == 1 and shown <= set(report.selection.gemeenten)


def _render_kosten(report, frame) -> None:
    by = list(report.by)
    several = not _only_selected(report, frame)
    with_volume = "productcode" in by  # volumes of different products have different units
    title = "Cost" + (f" by {' and '.join(by)}" if by else " per gemeente")
    # thousands of rows with --by aanbieder --by maand: laid out once, not cell by cell by Rich
    t = terminal.TextTable(_title(report, title))
    if several:
        t.add_column("gemeente", key=True)
    for d in by:
        t.add_column(d, key=d != "productcategorie")  # a category's name may give way, its code is first
    t.add_column("lines", justify="right")
    t.add_column("clients", justify="right")
    if with_volume:
        t.add_column("volume", justify="right")
        t.add_column("eenheid")
    _money_columns(t)
    t.add_column("share", justify="right")
    lead_width = int(several) + len(by)
    previous_g = previous_d0 = None
    for row in frame.to_dict(orient="records"):
        level = row["niveau"]
        if level == "totaal":
            t.add_section()
            cells = (["total"] + [""] * (lead_width - 1)) if lead_width else []
        elif level == "gemeente":
            cells = [""] + ["subtotal"] + [""] * (len(by) - 1)
        else:
            cells = []
            if several:
                g = _gemeente_label(row)
                cells.append(g if g != previous_g else "")
                if g != previous_g:
                    previous_g, previous_d0 = g, None
            for i, d in enumerate(by):
                label = _dim_label(row, d)
                cells.append("" if i == 0 and len(by) == 2 and label == previous_d0 else label)
                if i == 0:
                    previous_d0 = label
        values = [number(row["regels"]), number(row["clienten"])]
        if with_volume:
            mixed = _missing(row["volume"])
            values.append("–" if mixed else number(row["volume"]))
            values.append(unit_label(row.get("eenheid")))
        values += [euro(row[c]) for c, _ in MONEY_COLS]
        values.append(_pct(row["aandeel_pct"]))
        style = "bold" if level == "totaal" else ("italic" if level == "gemeente" else None)
        t.add_row(*cells, *values, style=style)
        if level == "gemeente":
            previous_g = previous_d0 = None
    if with_volume:
        t.caption = "volume: net GeleverdVolume in the row's eenheid; – where its lines have different eenheden (never added up)"
    t.print()


def _render_dimension(report, frame, dim: str) -> None:
    title = {"aanbieder": "Cost per aanbieder (AGB)", "productcategorie": "Cost per productcategorie"}[dim]
    t = terminal.TextTable(_title(report, title))
    t.add_column(dim, max_width=34, key=dim == "aanbieder")
    t.add_column("lines", justify="right")
    t.add_column("clients", justify="right")
    _money_columns(t)
    t.add_column("share", justify="right")
    for row in frame.to_dict(orient="records"):
        total = row["niveau"] == "totaal"
        if total:
            t.add_section()
        label = "total" if total else _dim_label(row, dim)
        t.add_row(
            label,
            number(row["regels"]),
            number(row["clienten"]),
            *[euro(row[c]) for c, _ in MONEY_COLS],
            _pct(row["aandeel_pct"]),
            style="bold" if total else None,
        )
    t.print()


def _bar(row, scale: int) -> str:
    if scale <= 0:
        return ""
    parts = [("goedgekeurd", "█", "green"), ("afgekeurd", "▓", "red"), ("onbeoordeeld", "░", "cyan")]
    text = ""
    used = 0.0
    for key, glyph, style in parts:
        value = max(0, int(row[key]))
        width = value * BAR_WIDTH / scale
        n = int(round(used + width)) - int(round(used))
        used += width
        if n > 0:
            text += f"[{style}]{glyph * n}[/]"
    return text


def _render_maand(report, frame) -> None:
    detail = frame[frame["niveau"] == "detail"]
    scale = max(
        [
            max(0, int(r.goedgekeurd)) + max(0, int(r.afgekeurd)) + max(0, int(r.onbeoordeeld))
            for r in detail.itertuples()
        ]
        or [0]
    )
    t = _table(
        _title(report, "Cost per month"),
        caption="[green]█[/] approved  [red]▓[/] rejected  [cyan]░[/] not judged  (net amounts; a negative month shows no bar)",
        caption_justify="left",
    )
    t.add_column("maand", no_wrap=True, key=True)
    t.add_column("lines", justify="right", no_wrap=True)
    t.add_column("clients", justify="right", no_wrap=True)
    _money_columns(t)
    t.add_column("", no_wrap=True, min_width=BAR_WIDTH)
    for row in frame.to_dict(orient="records"):
        total = row["niveau"] == "totaal"
        if total:
            t.add_section()
        label = "total" if total else (row["maand"] or "(no date)")
        t.add_row(
            label,
            number(row["regels"]),
            number(row["clienten"]),
            *[euro(row[c]) for c, _ in MONEY_COLS],
            "" if total else _bar(row, scale),
            style="bold" if total else None,
        )
    terminal.out.print(t)


def _render_budget(report, frame) -> None:
    t = _table(_title(report, "Budget vs realised"))
    for label in ("gemeente", "jaar", "categorie"):
        t.add_column(label, no_wrap=True, key=True)
    for label, width in (
        ("budget", 12),
        ("realised", 12),
        ("m", 2),
        ("projection", 12),
        ("headroom", 12),
        ("used", 6),
        ("proj.", 6),
    ):
        t.add_column(label, justify="right", no_wrap=True, min_width=width)
    for row in frame.to_dict(orient="records"):
        t.add_row(
            terminal.escape(f"{row['gemeente']} {row['gemeente_naam']}"),
            str(row["jaar"]),
            row["productcategorie"] or "all",
            euro(row["budget"]),
            euro(row["gerealiseerd"]),
            str(row["maanden"]),
            euro(row["prognose"]),
            euro(row["verschil"]),
            _pct(row["uitputting_pct"]),
            _pct(row["prognose_pct"]),
        )
    t.caption = (
        "realised = approved + not judged; projection = realised ÷ m × 12, m = last month of the year with lines; "
        "headroom = budget − projection; used / proj. = realised / projection as % of budget"
    )
    t.caption_justify = "left"
    terminal.out.print(t)
    for row in frame.to_dict(orient="records"):
        if row["opmerking"]:
            where = " ".join(str(p) for p in (row["gemeente"], row["jaar"], row["productcategorie"]) if p)
            terminal.out.print(f"* {terminal.escape(where)}: {terminal.escape(row['opmerking'])}", style="dim")


def _lasten_columns(t) -> None:
    for label in ("lines", "judged", "rejected", "rej. %", "rejected €", "1st subm.", "resubm.", "first-time-right"):
        t.add_column(label, justify="right")


def _lasten_values(row) -> list[str]:
    return [
        number(row["regels"]),
        number(row["beoordeeld"]),
        number(row["afgekeurd_regels"]),
        _pct(row["afgekeurd_pct"]),
        euro(row["afgekeurd_bedrag"]),
        number(row["eerste_indieningen"]),
        number(row["herindieningen"]),
        _pct(row["first_time_right_pct"]),
    ]


def _render_lasten_aanbieder(report, frame) -> None:
    _render_lasten_per(report, frame, "aanbieder", "Administrative load per aanbieder", "(none)")  # hundreds of rows


def _render_lasten_maand(report, frame) -> None:
    _render_lasten_per(report, frame, "maand", "Administrative load per month", "(no date)")


def _render_lasten_per(report, frame, dim: str, title: str, missing: str) -> None:
    t = terminal.TextTable(_title(report, title))
    t.add_column(dim, key=True)
    _lasten_columns(t)
    for row in frame.to_dict(orient="records"):
        total = row["niveau"] == "totaal"
        if total:
            t.add_section()
        t.add_row("total" if total else (row[dim] or missing), *_lasten_values(row), style="bold" if total else None)
    t.print()


def _render_lasten_regel(report, frame) -> None:
    t = _table(_title(report, "Findings per rule"))
    rule_width = max([len(str(x)) for x in frame["regel"]] + [4])
    t.add_column("rule", no_wrap=True, min_width=rule_width, key=True)
    t.add_column("code", no_wrap=True, min_width=4, key=True)
    t.add_column("omschrijving", max_width=34, overflow="ellipsis", no_wrap=True)
    t.add_column("ernst", no_wrap=True, min_width=7)
    widths = {"lines": 5, "amount": 12, "rej.": 4, "rejected €": 12, "aanb.": 5}
    for label, width in widths.items():
        t.add_column(label, justify="right", no_wrap=True, min_width=width)
    for row in frame.to_dict(orient="records"):
        t.add_row(
            row["regel"],
            row["retourcode"],
            terminal.escape(row["omschrijving"] or row["titel"] or ""),
            row["ernst"],
            number(row["regels"]),
            euro(row["bedrag"]),
            number(row["afgekeurd_regels"]),
            euro(row["afgekeurd_bedrag"]),
            number(row["aanbieders"]),
        )
    if frame.empty:
        t.caption = "no findings (run jzcli validate to judge the lines)"
        t.caption_justify = "left"
    terminal.out.print(t)
