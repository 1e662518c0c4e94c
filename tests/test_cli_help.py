"""Help a person can read: every command's --help, rendered by the installed Typer, names values
as people write them (FILE, AGB, CODE|NAAM, YYYY-MM), never as Python types."""

from __future__ import annotations

import re

import pytest
import typer

from jzcli.cli.app import app

# Python / click type names Typer or click print when an option has no metavar
TYPE_NAMES = re.compile(
    r"<(?:bool|str|int|float|path|Path|text|list\[[^>]*\]|tuple[^>]*|dict[^>]*|datetime|[a-z]+ range)>"
    r"|\{[a-z_]+\}"
    r"|\b(?:TEXT|INTEGER|BOOLEAN|FLOAT|PATH|FILENAME)\b"
    r"|\b(?:NoneType|Optional\[|list\[str\]|list\[Path\])"
)


def commands(group=None, path=()):
    """Every command path of the app: (), ("import",), ("export", "jw323"), ..."""
    group = group or typer.main.get_command(app)
    yield path
    for name, sub in getattr(group, "commands", {}).items():
        yield from commands(sub, (*path, name))


ALL = list(commands())


def test_every_command_is_covered():
    names = {" ".join(p) for p in ALL}
    assert {
        "",
        "import",
        "validate",
        "report",
        "batches",
        "rules",
        "retour",
        "check",
        "export declaraties",
        "export jw323",
    } <= names


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "jzcli" for p in ALL])
def test_help_has_no_python_type_names(cli, path):
    r = cli(*path, "--help")
    assert r.exit_code == 0, r.output
    assert "Usage: jzcli" in r.stdout
    found = TYPE_NAMES.findall(r.stdout)
    assert not found, (path, found)


def test_values_are_named_as_people_write_them(cli):
    text = cli("report", "--help").stdout
    for option, metavar in (
        ("--gemeente", "CODE|NAAM"),
        ("--aanbieder", "AGB"),
        ("--van", "YYYY-MM"),
        ("--budget", "FILE"),
        ("--db", "FILE|URL"),
    ):
        line = next(line for line in text.splitlines() if line.lstrip("│ ").startswith(option))
        assert metavar in line, (option, line)
    quiet = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("--quiet"))
    assert re.search(r"--quiet\s+-q\s+No progress", quiet), quiet  # a flag takes no value
    assert "Usage: jzcli import [OPTIONS] FILE_OR_FOLDER..." in cli("import", "--help").stdout
    assert re.search(r"--output\s+-o\s+DIR", cli("retour", "--help").stdout)


def test_options_are_grouped_in_panels(cli):
    text = cli("report", "--help").stdout
    for panel in ("Selection", "What to show", "Output", "Store"):
        assert f"─ {panel} ─" in text, panel
    selection = text[text.index("─ Selection ─") : text.index("─ What to show ─")]
    assert "--gemeente" in selection and "--db" not in selection
    text = cli("import", "--help").stdout
    assert "─ Reading the files ─" in text and "--map" in text[text.index("─ Reading the files ─") :]


def test_a_flag_given_a_value_is_refused_and_examples_are_one_per_line(cli):
    r = cli("validate", "--opnieuw", "true", "--db", "x.db")
    assert r.exit_code == 2  # "true" is not a value of --opnieuw: a usage error, not a silent yes
    lines = [line.strip() for line in cli("validate", "--help").stdout.splitlines()]
    start = lines.index("Examples:")
    examples = [line for line in lines[start + 1 :] if line]
    assert examples[0].startswith("jzcli validate") and examples[1].startswith("jzcli validate --gemeente")
    assert lines[lines.index(examples[0]) + 1] == examples[1]  # no blank line between two examples
