"""The DuckDB store: converting a store of jzcli before 0.2 (SQLite), and waiting for a store another
process holds.

Old stores are made here with this jzcli on an ``sqlite:///`` URL (the schema of 0.1), and by hand for
schema version 1 (before periode_uit_maand).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jzcli.errors import StoreError
from jzcli.store import upgrade as upgrade_mod
from jzcli.store.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
SAMPLE_FILES = [
    "contract_gooi-en-vechtstreek_2025.toml",
    "tarieven_twente_2025.xlsx",
    "toewijzingen_2025.xlsx",
    "huizen_zorgfirst_2025-03.xlsx",
    "huizen_zorgfirst_2025-04.xlsx",
    "laren-huizen_kindcentrum-t-gooi_2025-02.xlsx",
    "enschede_twentezorg_2025.xlsx",
]


def _old_store(cli, path: Path) -> str:
    url = "sqlite:///" + str(path)
    r = cli("import", *[SAMPLES / f for f in SAMPLE_FILES], "--db", url, "-q")
    assert r.exit_code == 0, r.output
    assert cli("validate", "--db", url, "-q").exit_code == 1  # the samples hold rejected lines
    return url


def _report(cli, db: str) -> list:
    r = cli("report", "--gemeente", "Huizen", "--db", db, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _batches(cli, db: str) -> list:
    """The batches listing; import times as UTC without the zone mark (an SQLite store gives the
    time without 'Z', DuckDB and PostgreSQL with it: the same instant)."""
    r = cli("batches", "--db", db, "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    for row in rows:
        for key in ("geimporteerd_op", "beoordeeld_op"):
            if row[key]:
                row[key] = row[key].removesuffix("Z")
    return rows


def test_store_upgrade_converts_in_place_keeps_the_old_file_and_reports_the_same(tmp_path, cli):
    path = tmp_path / "regio.db"
    url = _old_store(cli, path)
    report_before, batches_before = _report(cli, url), _batches(cli, url)
    old_bytes = path.read_bytes()

    r = cli("store", "upgrade", path)
    assert r.exit_code == 0, r.output
    assert "counts and sums identical" in r.stderr
    backup = tmp_path / "regio.db.sqlite-backup"
    assert backup.read_bytes() == old_bytes  # the old store, untouched
    assert path.read_bytes()[8:12] == b"DUCK"
    assert _report(cli, str(path)) == report_before
    assert _batches(cli, str(path)) == batches_before
    # the converted store goes on: a new file imports with fresh ids after the old ones
    store = Store.open(str(path))
    try:
        ids = store.declaraties(["id"])["id"]
        assert ids.is_unique and ids.max() == len(ids)
    finally:
        store.close()
    extra = tmp_path / "extra.csv"
    extra.write_text(
        "BSN;Productcode;Begindatum;Einddatum;Volume;Eenheid;Tarief;Bedrag;Gemeente;AGB\n"
        "999990019;45A48;01-05-2025;31-05-2025;2;04;78,00;156,00;Huizen;98001101\n",
        encoding="cp1252",
    )
    assert cli("import", extra, "--db", str(path), "-q").exit_code == 0
    assert [b["id"] for b in _batches(cli, str(path))] == [b["id"] for b in batches_before] + [
        batches_before[-1]["id"] + 1
    ]


def test_any_command_converts_an_old_store_on_first_use(tmp_path, cli):
    path = tmp_path / "jz.db"
    url = _old_store(cli, path)
    before = _report(cli, url)
    r = cli("report", "--gemeente", "Huizen", "--db", str(path), "--format", "json")
    assert r.exit_code == 0, r.output
    assert "converting the SQLite store" in r.stderr
    assert json.loads(r.stdout) == before
    assert (tmp_path / "jz.db.sqlite-backup").exists()
    again = cli("report", "--gemeente", "Huizen", "--db", str(path), "--format", "json")
    assert "converting" not in again.stderr  # once


def test_the_old_default_store_is_converted_into_the_new_default_place(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    legacy = tmp_path / "data" / "jzcli" / "jzcli.db"
    legacy.parent.mkdir(parents=True)
    url = _old_store(cli, legacy)
    before, old_bytes = _report(cli, url), legacy.read_bytes()
    r = cli("report", "--gemeente", "Huizen", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == before
    assert (tmp_path / "data" / "jzcli" / "jzcli.duckdb").exists()
    assert legacy.read_bytes() == old_bytes  # kept as it was


def test_a_schema_1_store_converts_with_the_column_it_lacked_empty(tmp_path, cli):
    path = tmp_path / "v1.db"
    _old_store(cli, path)
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE declaratieregels DROP COLUMN periode_uit_maand")
        conn.execute("UPDATE meta SET waarde = '1' WHERE sleutel = 'schema_version'")
        lines = conn.execute("SELECT count(*), sum(bedrag) FROM declaratieregels").fetchone()
    r = cli("store", "upgrade", path, "--to", tmp_path / "v1.duckdb")
    assert r.exit_code == 0, r.output
    assert path.read_bytes()[:6] == b"SQLite"  # --to leaves the file where it was
    store = Store.open(str(tmp_path / "v1.duckdb"))
    try:
        got = store.declaraties(["id", "bedrag", "periode_uit_maand"])
        assert (len(got), int(got["bedrag"].sum())) == lines
        assert got["periode_uit_maand"].isna().all()
    finally:
        store.close()


def test_a_copy_that_differs_is_refused_and_nothing_changes(tmp_path, cli, monkeypatch):
    path = tmp_path / "jz.db"
    _old_store(cli, path)
    old_bytes = path.read_bytes()
    real = upgrade_mod._copy_table

    def losing(old, store, conn, table):
        n = real(old, store, conn, table)
        if table.name == "bevindingen":
            conn.exec_driver_sql("DELETE FROM bevindingen WHERE id = (SELECT max(id) FROM bevindingen)")
        return n

    monkeypatch.setattr(upgrade_mod, "_copy_table", losing)
    with pytest.raises(StoreError, match="bevindingen differs"):
        upgrade_mod.upgrade_sqlite(path)
    assert path.read_bytes() == old_bytes
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("jz.db")) == ["jz.db"]


def test_upgrade_refuses_what_is_not_an_old_store(tmp_path, cli):
    new = tmp_path / "new.duckdb"
    Store.open(str(new)).close()
    r = cli("store", "upgrade", new)
    assert r.exit_code == 2 and "not an SQLite store" in r.stderr
    r = cli("store", "upgrade", tmp_path / "missing.db")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_a_file_that_is_no_store_is_refused_by_name(tmp_path, cli):
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"these are notes, not a database" * 10)
    r = cli("batches", "--db", junk)
    assert r.exit_code != 0 and "not a jzcli store" in r.stderr and "Traceback" not in r.output


HOLD = """
import sys, time
from jzcli.store.store import Store
store = Store.open(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
store.close()
"""


def _holder(db: Path, seconds: float) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "holding"
    return p


def _jzcli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jzcli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != "JZCLI_DB"}, **(env or {})},
        timeout=120,
    )


def test_a_second_process_waits_for_the_store_and_says_so(tmp_path):
    db = tmp_path / "busy.duckdb"
    Store.open(str(db)).close()
    holder = _holder(db, 3.5)
    try:
        start = time.monotonic()
        r = _jzcli("batches", "--db", db, "--format", "json")
        waited = time.monotonic() - start
    finally:
        holder.wait(30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []
    assert "waiting for store" in r.stderr and "another jzcli" in r.stderr
    assert waited >= 2.0


def test_a_store_held_too_long_is_one_clear_error(tmp_path):
    db = tmp_path / "busy.duckdb"
    Store.open(str(db)).close()
    holder = _holder(db, 6)
    try:
        r = _jzcli("batches", "--db", db, env={"JZCLI_STORE_WAIT": "1"})
    finally:
        holder.kill()
        holder.wait(30)
    assert r.returncode != 0
    assert "in use by another process" in r.stderr and str(db) in r.stderr
    assert "Traceback" not in r.stderr
