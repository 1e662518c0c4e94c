"""The command line: thin commands that parse options, call one core function and render.

Each command is a plain function in its own module under ``cli/commands/`` (export is a group
with its own Typer app); this module registers them, in the order the help lists them.
"""

from __future__ import annotations

import sys

import typer

from jzcli import __version__
from jzcli.cli.commands import batches, check, export, import_, report, retour, rules, store, validate

app = typer.Typer(
    name="jzcli",
    help=(
        "Import, validate and report Dutch youth-care (Jeugdwet, iJw) declarations.\n\n"
        "Typical month:\n\n"
        "  jzcli import declaraties/2025-03/       read every provider file\n\n"
        "  jzcli validate                          judge every new line (iJw rule codes)\n\n"
        "  jzcli report --gemeente Huizen          what it cost, with whom, on what"
    ),
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jzcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Import, validate and report Dutch youth-care (Jeugdwet, iJw) declarations."""


# The commands in the order the help lists them (the export group comes after the commands).
app.command("import", epilog=import_.EPILOG)(import_.import_command)
app.command("batches", epilog=batches.EPILOG)(batches.batches_command)
app.command("report", epilog=report.EPILOG)(report.report_command)
app.command("validate", epilog=validate.EPILOG)(validate.validate_command)
app.command("rules", epilog=rules.EPILOG)(rules.rules_command)
app.command("retour", epilog=retour.EPILOG)(retour.retour_command)
app.command("check", epilog=check.EPILOG)(check.check_command)
app.add_typer(export.export_app, name="export")
app.add_typer(store.store_app, name="store")


def main() -> None:
    """Entry point: run the app; a JzError becomes one line on stderr and its exit code."""
    from jzcli.cli.common import run_guarded
    from jzcli.domain.text import guard_terminal

    sys.stdout, sys.stderr = guard_terminal(sys.stdout), guard_terminal(sys.stderr)
    sys.exit(run_guarded(app))


__all__ = ["app", "main"]
