"""Options and error handling shared by all commands."""

from __future__ import annotations

import os
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from jzcli.cli import terminal
from jzcli.errors import EXIT_IO, JzError

DbOption = Annotated[
    Optional[str],
    typer.Option(
        "--db",
        envvar="JZCLI_DB",
        help="Store: a SQLite file path or a SQLAlchemy URL (postgresql+psycopg://user:pw@host/db). "
        "Default: jzcli.db in your user data folder.",
        show_default=False,
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages on stderr.")]
ShowBsnOption = Annotated[
    bool, typer.Option("--show-bsn", help="Show BSNs in full in terminal output (they are masked by default).")
]
OutputOption = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file.")]


ExcelOption = Annotated[
    bool,
    typer.Option(
        "--excel",
        help="CSV for Dutch Excel: ';' between fields and a decimal comma (1234,56), so Excel with Dutch "
        "settings opens it as numbers. (A .xlsx file is the best way into Excel: numbers, dates and € as they are.)",
    ),
]
EXCEL_NEEDS_CSV = "--excel is for CSV output (-o FILE.csv or --format csv); a .xlsx file needs no dialect"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[Format, typer.Option("--format", help="Output format on stdout.")]


def open_store(db: str | None, *, create: bool = False):
    """The store --db names (else $JZCLI_DB, else the default file). Only jzcli import creates
    one (``create=True``); any other command refuses a store file that does not exist, so a
    mistyped --db never silently becomes a new, empty store. A store of jzcli before 0.2 (SQLite)
    is converted into DuckDB first, once (``store.upgrade``)."""
    from jzcli.store.store import Store
    from jzcli.store.upgrade import convert_old_store

    convert_old_store(db, progress=lambda text: typer.echo(text, err=True))
    store = Store.open(db, create=create)
    _OPENED.append(store)
    return store


# The stores this command opened: closed when it ends (a DuckDB file is held by one process at a
# time; a command run in-process, as the tests do, must let go of it like a finished process does).
_OPENED: list = []


def close_stores() -> None:
    while _OPENED:
        _OPENED.pop().close()


def check_batches(store, batches: list[int] | None) -> None:
    """--batch values that name no batch in the store are a usage error (exit 2), not an empty answer."""
    if not batches:
        return
    from jzcli.errors import UsageError

    known = set(int(b) for b in store.list_batches()["id"])
    unknown = [b for b in batches if b not in known]
    if unknown:
        listed = (
            f" (batches {min(known)}–{max(known)}; jzcli batches lists them)"
            if known
            else " (the store has no batches)"
        )
        raise UsageError(f"--batch {', '.join(map(str, unknown))}: no such batch in this store{listed}")


NOTHING_IMPORTED = "nothing imported yet: run jzcli import FILES (files or folders) first"


def _is_click_exception(exc: Exception) -> bool:
    """A usage error from click — either the click package or the copy vendored inside typer."""
    return any(cls.__name__ == "ClickException" and cls.__module__.endswith("exceptions") for cls in type(exc).__mro__)


# --- help a person can read: every value named as people write it, options in panels -------------
METAVARS = {
    "--gemeente": "CODE|NAAM",
    "--aanbieder": "AGB",
    "--batch": "N",
    "--van": "YYYY-MM",
    "--tot": "YYYY-MM",
    "--periode": "YYYY-MM",
    "--dagtekening": "YYYY-MM-DD",
    "--db": "FILE|URL",
    "--output": "FILE",
    "--budget": "FILE",
    "--sleutel-bestand": "FILE",
    "--contract": "FILE",
    "--toewijzingen": "FILE",
    "--map": '"COLUMN=FIELD"',
    "--soort": "declaraties|toewijzingen|contract",
    "--format": "table|json|csv",
}
METAVAR_OVERRIDES = {  # (command path, option) -> metavar
    ("retour", "--output"): "DIR",
    ("export jw323", "--output"): "DIR",
    ("export jw323", "--format"): "table|json",
}
ARGUMENT_METAVAR = "FILE_OR_FOLDER..."
READING = "Reading the files"
PANELS = {
    "--gemeente": "Selection",
    "--aanbieder": "Selection",
    "--batch": "Selection",
    "--van": "Selection",
    "--tot": "Selection",
    "--by": "What to show",
    "--view": "What to show",
    "--budget": "What to show",
    "--format": "Output",
    "--output": "Output",
    "--show-bsn": "Output",
    "--quiet": "Output",
    "--details": "Output",
    "--excel": "Output",
    "--pseudoniem": "Output",
    "--sleutel-bestand": "Output",
    "--db": "Store",
    "--soort": READING,
    "--map": READING,
    "--contract": READING,
    "--toewijzingen": READING,
    "--periode": "The messages",
    "--dagtekening": "The messages",
}
READS_FILES = ("import", "check", "export jw323")  # there --aanbieder/--gemeente fill in what a file does not say


def tight_examples(text: str) -> str:
    """Consecutive example paragraphs (indented lines such as "  jzcli report ...") become one
    block with a line each, instead of a blank line between every two."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        if out and paragraph.startswith("  ") and out[-1].startswith("  "):
            out[-1] += "\n" + paragraph
        else:
            out.append(paragraph)
    return "\n\n".join(out)


def _plain_flag(param) -> None:
    """A yes/no flag without an environment variable is always True, False or None, which Typer
    passes on as is; give it Typer's pass-through coercion up front, so that parsing it (the root
    --help of ``jzcli COMMAND --help``) does not import pydantic to build a validator never used."""
    descriptor = getattr(param, "type_descriptor", None)
    if (
        param.envvar
        or getattr(param, "_runtime_param", ...) is not None
        or getattr(descriptor, "annotation", None) is not bool
    ):
        return
    try:
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # another Typer: it builds its own, as before
        return
    param._runtime_param = PassThroughRuntimeParam(parameter_info=descriptor.parameter_info, annotation=bool)


def polish_help(command, path: str = "") -> None:
    """Give every option of every command a metavar people understand (no Python type names
    such as <bool> or <list[str]>; none for a flag) and a help panel (selection, output,
    store, …). Applied to the click command Typer builds, so no option can be forgotten."""
    for param in command.params:
        long = next((o for o in param.opts if o.startswith("--")), None)
        if param.param_type_name == "argument":
            name = ARGUMENT_METAVAR if param.nargs != 1 else param.name.upper()
            param.metavar = name
            # Typer writes "{paths}..." in the usage line and "<list[Path]>" beside the name: this
            # one argument says it once, plainly ("jzcli import [OPTIONS] FILE_OR_FOLDER...").
            param.get_usage_pieces = lambda ctx, name=name: [name]
            param.display_type_rich = lambda ctx: None
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
            _plain_flag(param)
        elif param.metavar is None:
            param.metavar = (
                METAVAR_OVERRIDES.get((path, long)) or METAVARS.get(long) or (long or "VALUE").lstrip("-").upper()
            )
        elif (path, long) in METAVAR_OVERRIDES:
            param.metavar = METAVAR_OVERRIDES[(path, long)]
        panel = READING if path in READS_FILES and long in ("--aanbieder", "--gemeente") else PANELS.get(long)
        if path == "export jw323" and long == "--db":
            panel = "Selection"
        if panel and hasattr(param, "rich_help_panel"):
            param.rich_help_panel = panel
    for attr in ("help", "epilog"):
        text = getattr(command, attr, None)
        if text:
            setattr(command, attr, tight_examples(text))
    help_option = getattr(command, "get_help_option", None)
    if help_option is not None:
        from types import SimpleNamespace

        option = help_option(SimpleNamespace(help_option_names=["-h", "--help"]))
        if option is not None:
            option.metavar = ""
            _plain_flag(option)
    for name, sub in getattr(command, "commands", {}).items():
        polish_help(sub, f"{path} {name}".strip())


def run_guarded(app: typer.Typer) -> int:
    """Run the Typer app; turn JzError into one line and its exit code, never a traceback."""
    try:
        return _run(app)
    finally:
        close_stores()
        from jzcli.domain.text import take_notices

        for notice in take_notices():  # what a writer changed to fit a file format, said once
            terminal.warning_line(notice)


def _run(app: typer.Typer) -> int:
    try:
        command = typer.main.get_command(app)
        polish_help(command)
        code = command(standalone_mode=False, prog_name="jzcli")
        return code if isinstance(code, int) else 0
    except JzError as exc:
        terminal.error_line(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        terminal.error_line("aborted")
        return 130
    except KeyboardInterrupt:
        terminal.error_line("interrupted; nothing half-written was kept")
        return 130
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except OSError as exc:  # a file or folder the command was told to use: name it and the reason
        where = f"{exc.filename}: " if exc.filename else ""
        terminal.error_line(f"{where}{exc.strerror or exc}; nothing half-written was kept")
        return EXIT_IO
    except Exception as exc:  # click usage errors and anything unexpected
        if _is_click_exception(exc):
            exc.show()
            return exc.exit_code
        if os.environ.get("JZCLI_DEBUG"):
            traceback.print_exc()
        terminal.error_line(
            f"unexpected internal error ({type(exc).__name__}); nothing half-written was kept. "
            "Run again with JZCLI_DEBUG=1 for details and report it."
        )
        return EXIT_IO


def resolve_gemeenten(values: list[str]) -> list[str]:
    """--gemeente values (codes, GM-codes or names) → CBS codes; unknown names are a usage error."""
    from jzcli import refdata
    from jzcli.errors import UsageError

    codes = []
    for value in values:
        code = refdata.gemeente_code(value)
        if code is None:
            hints = refdata.gemeente_suggestions(value)
            raise UsageError(
                f"--gemeente {value}: unknown gemeente" + (f"; did you mean {', '.join(hints)}?" if hints else "")
            )
        codes.append(code)
    return codes


def resolve_agbs(values: list[str]) -> list[str]:
    """--aanbieder values → 8-digit AGB codes (numbers that lost leading zeros padded); else a usage error."""
    import pandas as pd

    from jzcli.errors import UsageError
    from jzcli.readers.values import parse_agb

    parsed = parse_agb(pd.Series(values, dtype=object))
    for value, error in zip(values, parsed.errors):
        if error:
            raise UsageError(f"--aanbieder {value}: {error} (an AGB code has 8 digits)")
    return [str(v) for v in parsed.values]


def one_agb(value: str | None) -> str | None:
    """An --aanbieder value (one AGB code), checked; None stays None."""
    return None if value is None else resolve_agbs([value])[0]


def one_gemeente(value: str | None) -> str | None:
    """A --gemeente value (one CBS code or name) as its code; None stays None."""
    return None if value is None else resolve_gemeenten([value])[0]


MapOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--map", help='Column mapping "Column name=field" for the declaration files (repeatable), as in jzcli import.'
    ),
]
