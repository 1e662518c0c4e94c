"""Start-up stays light: `jzcli --version`, `jzcli --help` and every `COMMAND --help` run without
importing pandas, numpy, SQLAlchemy or openpyxl (those come in when a command does its work).
A behaviour test, not a timing test: the seconds are in the bench (bench/run.py, "startup")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "sqlalchemy", "openpyxl", "duckdb", "pyarrow", "lxml")

PROBE = """
import json, sys
args, watched = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
from jzcli.cli.app import main
sys.argv = ["jzcli", *args]
try:
    main()
except SystemExit:
    pass
heavy = sorted({name.split(".")[0] for name in sys.modules} & watched)
sys.__stderr__.write("HEAVY=" + json.dumps(heavy) + "\\n")
"""


def imported_heavy(*args: str) -> list[str]:
    env = {**os.environ, "COLUMNS": "100"}
    env.pop("JZCLI_DB", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args)), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("HEAVY="))
    return json.loads(line.removeprefix("HEAVY="))


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("--help",),
        ("import", "--help"),
        ("batches", "--help"),
        ("report", "--help"),
        ("validate", "--help"),
        ("rules", "--help"),
        ("retour", "--help"),
        ("check", "--help"),
        ("export", "--help"),
        ("export", "jw323", "--help"),
        ("export", "declaraties", "--help"),
    ],
    ids=" ".join,
)
def test_help_and_version_import_no_heavy_library(args):
    assert imported_heavy(*args) == []


def test_the_probe_sees_a_heavy_import():
    """The probe itself works: a command that reads rules does import pandas."""
    assert "pandas" in imported_heavy("rules")
