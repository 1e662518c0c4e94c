"""The command line: thin commands that parse options, call one core function and render.

Each command lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

import importlib
import sys

import typer

from jzcli import __version__

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


# Command modules register themselves on import (one module per command family).
COMMAND_MODULES = ("import_", "store_cmds", "report", "validate", "retour", "check")

for _name in COMMAND_MODULES:
    importlib.import_module(f"jzcli.cli.commands.{_name}")


def main() -> None:
    """Entry point: run the app; a JzError becomes one line on stderr and its exit code."""
    from jzcli.cli.common import run_guarded
    from jzcli.domain.text import guard_terminal

    sys.stdout, sys.stderr = guard_terminal(sys.stdout), guard_terminal(sys.stderr)
    sys.exit(run_guarded(app))


__all__ = ["app", "main"]
