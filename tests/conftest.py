"""Shared fixtures: a store on DuckDB (the embedded default) and on a real PostgreSQL server, and a CLI runner."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["COLUMNS"] = "200"  # Rich reads the width when its consoles are created
os.environ.pop("JZCLI_DB", None)

PG_URL = os.environ.get("JZCLI_TEST_DATABASE_URL")
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["duckdb", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty store URL: a DuckDB file, or a new schema on the test PostgreSQL server."""
    if request.param == "duckdb":
        yield "duckdb:///" + str(tmp_path / "store.duckdb")
        return
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("JZCLI_TEST_DATABASE_URL is not set in CI: PostgreSQL tests must run")
        pytest.skip("PostgreSQL tests need JZCLI_TEST_DATABASE_URL (see README, Development)")
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.fixture
def embedded_url(tmp_path):
    """The embedded default store (DuckDB) in a fresh file."""
    return "duckdb:///" + str(tmp_path / "store.duckdb")


@pytest.fixture
def sqlite_url(tmp_path):
    """A store of jzcli before 0.2 (SQLite), for the tests of converting one."""
    return "sqlite:///" + str(tmp_path / "store.db")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run jzcli in-process exactly as the console script does (errors → one line + exit code)."""
    from jzcli.cli.app import app
    from jzcli.cli.common import run_guarded

    def run(*args: str) -> Result:
        capsys.readouterr()
        monkeypatch.setattr("sys.argv", ["jzcli", *map(str, args)])
        code = run_guarded(app)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
