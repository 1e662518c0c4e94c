"""Crashes and concurrency with real processes: SIGKILL mid-write, two imports at once, file mode.

A killed import leaves the store exactly as it was (no batch, no lines) and the same file imports
fine afterwards. Two imports at the same time both succeed, on one DuckDB file (the second waits for
the first) and on one PostgreSQL schema, without "database is locked".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import sqlalchemy as sa

from jzcli.store.schema import metadata
from jzcli.store.store import Store

AGB = "98001234"
ELF = [9, 8, 7, 6, 5, 4, 3, 2, -1]


def bsn(n: int) -> str:
    """The n-th valid (elfproef) test BSN in the 9999xxxxx range."""
    while True:
        digits = f"9999{n:05d}"[:8]
        for last in range(10):
            cand = digits + str(last)
            if sum(int(c) * w for c, w in zip(cand, ELF)) % 11 == 0:
                return cand
        n += 1


def big_csv(path: Path, lines: int, seed: int = 0) -> Path:
    """A cp1252 provider CSV with Dutch numbers and dates, ``lines`` lines."""
    bsns = [bsn(i) for i in range(500)]
    out = ["BSN;Productcode;Van;Tot;Aantal;Tarief;Bedrag;Gemeente;AGB;Omschrijving"]
    for i in range(lines):
        aantal = 1 + (i + seed) % 40
        out.append(
            f"{bsns[i % 500]};45A48;01-03-2025;31-03-2025;{aantal};78,00;{aantal * 78},00;Huizen;{AGB};regel {i} van {seed}"
        )
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("cp1252"))
    return path


def jzcli(*args: str, **kw) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "JZCLI_DB"}
    return subprocess.Popen(
        [sys.executable, "-m", "jzcli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def contents(url: str, store: Store | None = None) -> dict:
    """Every table's rows (sorted), to compare a store before and after; through ``store`` when this
    process has it open (a DuckDB file takes one opener per process)."""
    engine = store.engine if store is not None else sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: sorted(map(repr, conn.execute(sa.select(t)).all())) for t in metadata.sorted_tables}
    finally:
        if store is None:
            engine.dispose()


def pg_schema(url: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(sa.engine.make_url(url).render_as_string(False)).query)
    return query["options"][0].split("search_path=")[1]


def wait_for(condition, timeout: float, interval: float = 0.002) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(interval)
    return False


# ----------------------------------------------------------------------------------- SIGKILL


def _writing_duckdb(db: Path):
    """DuckDB writes a big insert's row groups into the file before the commit: it grows."""
    size = db.stat().st_size
    wal = Path(str(db) + ".wal")
    return lambda: db.stat().st_size > size or (wal.exists() and wal.stat().st_size > 0)


def _writing_pg(url: str, admin: sa.Engine):
    schema = pg_schema(url)

    def copying() -> bool:
        with admin.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select a.query from pg_locks l join pg_class c on c.oid = l.relation "
                    "join pg_namespace n on n.oid = c.relnamespace join pg_stat_activity a on a.pid = l.pid "
                    "where n.nspname = :schema and c.relname = 'declaratieregels' and l.granted"
                ),
                {"schema": schema},
            ).all()
        return any(r.query.lstrip().upper().startswith("COPY") for r in rows)

    return copying


def test_sigkill_in_the_middle_of_an_import_leaves_the_store_as_it_was(tmp_path, db_url):
    small = big_csv(tmp_path / "februari.csv", 20, seed=1)
    p = jzcli("import", small, "--db", db_url, "-q")
    assert p.wait(120) == 0, p.stderr.read()
    before = contents(db_url)
    big = big_csv(tmp_path / "maart.csv", 300_000)

    admin = None
    if db_url.startswith("duckdb"):
        db = Path(db_url.removeprefix("duckdb:///"))
        writing = _writing_duckdb(db)
    else:
        admin = sa.create_engine(os.environ["JZCLI_TEST_DATABASE_URL"], poolclass=sa.pool.NullPool)
        writing = _writing_pg(db_url, admin)

    proc = jzcli("import", big, "--db", db_url, "-q")
    try:
        assert wait_for(writing, timeout=300, interval=0.002 if admin is None else 0.02), (
            "the import never started writing"
        )
        time.sleep(0.05)  # well inside the write
        assert proc.poll() is None, "the import finished before it could be killed; use a bigger file"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(60)
    assert proc.returncode == -signal.SIGKILL

    if admin is not None:  # the server ends the dead client's transaction when it notices
        schema = pg_schema(db_url)

        def released() -> bool:
            with admin.connect() as conn:
                return not conn.execute(
                    sa.text(
                        "select 1 from pg_locks l join pg_class c on c.oid = l.relation "
                        "join pg_namespace n on n.oid = c.relnamespace where n.nspname = :s and c.relname = 'batches'"
                    ),
                    {"s": schema},
                ).first()

        assert wait_for(released, timeout=60, interval=0.1)
        admin.dispose()
    else:
        assert (db.stat().st_mode & 0o777) == 0o600

    assert contents(db_url) == before
    store = Store.open(db_url)
    try:
        assert store.list_batches()["bestand"].tolist() == ["februari.csv"]
        assert len(store.declaraties()) == 20
    finally:
        store.close()

    again = jzcli("import", big, "--db", db_url, "-q", "--format", "json")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert json.loads(out)[0]["stored"] == 300_000
    store = Store.open(db_url)
    try:
        assert store.list_batches()["bestand"].tolist() == ["februari.csv", "maart.csv"]
        assert len(store.declaraties(["id"])) == 300_020
    finally:
        store.close()


# ------------------------------------------------------------------------------- concurrency


def test_two_imports_at_the_same_time_both_succeed(tmp_path, db_url):
    """On a store neither process has created yet: both create, wait for each other, import."""
    a = big_csv(tmp_path / "a.csv", 40_000, seed=1)
    b = big_csv(tmp_path / "b.csv", 40_000, seed=2)
    procs = [jzcli("import", f, "--db", db_url, "-q", "--format", "json") for f in (a, b)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
        assert json.loads(out)[0]["status"] == "imported"
    store = Store.open(db_url)
    try:
        batches = store.list_batches()
        assert sorted(batches["bestand"]) == ["a.csv", "b.csv"]
        lines = store.declaraties(["id", "batch", "bron"])
        assert len(lines) == 80_000 and lines["id"].is_unique
        assert lines.groupby("bron")["batch"].nunique().tolist() == [1, 1]
        assert lines.groupby("bron").size().tolist() == [40_000, 40_000]
    finally:
        store.close()


def test_the_same_file_imported_twice_at_once_is_stored_once(tmp_path, db_url):
    src = big_csv(tmp_path / "same.csv", 30_000)
    store = Store.open(db_url)  # the store exists; the race is on the file
    store.close()
    procs = [jzcli("import", src, "--db", db_url, "-q", "--format", "json") for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    statuses = []
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
        statuses.append(json.loads(out)[0]["status"])
    assert sorted(statuses) == ["imported", "unchanged"]
    store = Store.open(db_url)
    try:
        assert len(store.list_batches()) == 1
        assert len(store.declaraties(["id"])) == 30_000
    finally:
        store.close()


def test_store_is_created_private_even_with_a_permissive_umask(tmp_path):
    src = big_csv(tmp_path / "x.csv", 3)
    db = tmp_path / "new" / "folder" / "store.duckdb"
    p = jzcli("import", src, "--db", db, "-q", preexec_fn=lambda: os.umask(0))
    assert p.wait(120) == 0, p.stderr.read()
    assert (db.stat().st_mode & 0o777) == 0o600
    assert not Path(str(db) + ".wal").exists()  # committed and checkpointed at the end


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_default_store_location_is_private(tmp_path):
    src = big_csv(tmp_path / "x.csv", 3)
    env_home = tmp_path / "home"
    p = subprocess.run(
        [sys.executable, "-m", "jzcli", "import", str(src), "-q"],
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "JZCLI_DB"},
            "HOME": str(env_home),
            "XDG_DATA_HOME": str(env_home / "data"),
        },
    )
    assert p.returncode == 0, p.stderr
    db = env_home / "data" / "jzcli" / "jzcli.duckdb"
    assert (db.stat().st_mode & 0o777) == 0o600


def test_a_line_added_while_validate_judges_its_batch_makes_it_write_nothing(tmp_path, db_url, monkeypatch):
    """The approved verdicts are written by one INSERT … SELECT of the batch's unjudged lines; a line
    that appears in the batch meanwhile is caught by the row count and the step is rolled back."""
    from jzcli.engine import run as V
    from jzcli.errors import StoreError
    from jzcli.importer import import_paths
    from jzcli.readers.prepared import ImportOptions
    from jzcli.store.schema import declaratieregels

    store = Store.open(db_url)
    import_paths(store, [big_csv(tmp_path / "d.csv", 50)], ImportOptions())
    before = contents(db_url, store)
    real = V.check_unjudged

    def meanwhile(conn, step, ids):  # another writer adds a line to the batch being judged
        real(conn, step, ids)
        row = conn.execute(sa.select(declaratieregels).where(declaratieregels.c.id == max(ids))).mappings().one()
        conn.execute(declaratieregels.insert().values({**row, "id": max(ids) + 1000, "rij": 9999}))

    monkeypatch.setattr(V, "check_unjudged", meanwhile)
    with pytest.raises(StoreError, match="at the same time"):
        V.validate(store)
    assert contents(db_url, store) == before  # no verdict, no finding, and the added line rolled back too
    monkeypatch.undo()  # without interference the same run writes a verdict for every line
    result = V.validate(store)
    store.close()
    assert result.judged == 50
    with sa.create_engine(db_url).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM beoordelingen")).scalar() == 50
