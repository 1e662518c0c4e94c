"""Converting a store of jzcli before 0.2 (SQLite) into the DuckDB store, nothing lost.

The SQLite file is read as it is (read-only: it is not migrated first), every table is copied into a
new DuckDB file beside it, and the copy is verified against the original: per table the row count, and
per column the count of values and, for number columns, their sum. Only then does the new file take
the old one's place; the old file is kept as ``NAME.sqlite-backup``. A crash or an error at any
moment leaves the old store where it was (an unfinished copy is removed the next time).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from jzcli.errors import StoreError
from jzcli.store.schema import SCHEMA_VERSION, meta_table, metadata, sequence_name, serial_id
from jzcli.store.store import SQLITE_MAGIC, Store, default_db_path, legacy_default_db_path, resolve_url

CHUNK_ROWS = 200_000


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


@dataclass
class Upgrade:
    source: Path
    target: Path
    backup: Path | None
    tables: dict[str, int] = field(default_factory=dict)  # rows copied per table
    checks: int = 0  # counts and sums compared


def backup_path(path: Path) -> Path:
    """NAME.sqlite-backup, or NAME.sqlite-backup-2, -3 … when that exists already."""
    candidate = path.with_name(path.name + ".sqlite-backup")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.sqlite-backup-{n}")
        n += 1
    return candidate


def upgrade_sqlite(
    source: Path, target: Path | None = None, *, progress: Callable[[str], None] | None = None
) -> Upgrade:
    """Convert the SQLite store ``source`` into DuckDB at ``target`` (default: in its place, the
    SQLite file kept as a backup beside it). Returns what was copied and checked."""
    source = source.resolve()
    if not is_sqlite_file(source):
        raise StoreError(f"{source} is not an SQLite store of an earlier jzcli")
    in_place = target is None or target.resolve() == source
    final = source if in_place else Path(target).resolve()  # type: ignore[arg-type]
    if not in_place and final.exists():
        raise StoreError(f"{final} exists already; give a new file for the converted store")
    work = final.with_name(final.name + ".converting")
    _remove_duckdb_file(work)
    if progress:
        progress(f"converting the SQLite store {source} into a DuckDB store (once; nothing in it is changed)")
    result = Upgrade(source=source, target=final, backup=None)
    old = _open_sqlite(source)
    try:
        store = Store.open("duckdb:///" + str(work))
        try:
            with store.transaction() as conn:
                for table in metadata.sorted_tables:
                    if table is not meta_table:
                        result.tables[table.name] = _copy_table(old, store, conn, table)
                result.checks = _verify(old, conn.connection.driver_connection)
        finally:
            store.close()
    except BaseException:
        _remove_duckdb_file(work)
        raise
    finally:
        old.close()
    if in_place:
        result.backup = backup_path(source)
        _keep(source, result.backup)
    os.replace(work, final)
    return result


def _open_sqlite(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"store {path} cannot be read as SQLite: {exc}") from None
    return conn


def _remove_duckdb_file(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _keep(source: Path, backup: Path) -> None:
    """The backup as a second name of the same file (a copy where links are not possible)."""
    try:
        os.link(source, backup)
    except OSError:
        shutil.copy2(source, backup)


def _common_columns(old: sqlite3.Connection, table: sa.Table) -> list[sa.Column]:
    """The table's columns the SQLite store has (an older version has fewer; none: no such table)."""
    present = {row[1] for row in old.execute(f'PRAGMA table_info("{table.name}")')}
    return [c for c in table.columns if c.name in present]


def _is_number(column: sa.Column) -> bool:
    return isinstance(column.type, sa.Integer)  # SmallInteger and BigInteger too


def _copy_table(old: sqlite3.Connection, store: Store, conn, table: sa.Table) -> int:
    """The SQLite table's rows into the new store by its own bulk insert, numbers as numbers and
    everything else as the text SQLite kept (DuckDB casts it to the column's DATE or TIMESTAMP)."""
    columns = _common_columns(old, table)
    if not columns:
        return 0
    names = ", ".join(f'"{c.name}"' for c in columns)
    cur = old.execute(f'SELECT {names} FROM "{table.name}" ORDER BY rowid')
    copied = 0
    while rows := cur.fetchmany(CHUNK_ROWS):
        frame = pd.DataFrame.from_records(rows, columns=[c.name for c in columns], coerce_float=False)
        for c in columns:
            if _is_number(c):
                frame[c.name] = pd.array(frame[c.name].tolist(), dtype="Int64")
            else:
                frame[c.name] = frame[c.name].astype(object).where(frame[c.name].notna(), None).astype("string")
        store.insert_frame(conn, table, frame)
        copied += len(frame)
    _advance_sequence(conn.connection.driver_connection, table)
    return copied


def _advance_sequence(raw, table: sa.Table) -> None:
    """A table whose ids came from SQLite: its sequence goes past the highest id."""
    if serial_id(table) is None:
        return
    top = raw.execute(f"SELECT max(id) FROM {table.name}").fetchone()[0]
    if top:
        raw.execute(f"SELECT max(nextval('{sequence_name(table)}')) FROM range({int(top)})").fetchone()


def _verify(old: sqlite3.Connection, raw) -> int:
    """Rows per table, values per column and sums of number columns, in both stores; the first
    difference is an error (and the conversion is undone)."""
    checks = 0
    for table in metadata.sorted_tables:
        if table is meta_table:
            continue
        columns = _common_columns(old, table)
        if not columns:
            continue
        parts = ["count(*)"]
        for c in columns:
            parts.append(f'count("{c.name}")')
            if _is_number(c):
                parts.append(f'sum("{c.name}")')
        before = old.execute(f'SELECT {", ".join(parts)} FROM "{table.name}"').fetchone()
        after = raw.execute(f"SELECT {', '.join(parts)} FROM {table.name}").fetchone()
        for i, (a, b) in enumerate(zip(before, after)):
            checks += 1
            if (a or 0) != (b or 0):
                raise StoreError(
                    f"converting the store: table {table.name} differs after copying ({parts[i]}: "
                    f"{a} in SQLite, {b} in DuckDB); nothing was changed"
                )
    version = raw.execute("SELECT waarde FROM meta WHERE sleutel = 'schema_version'").fetchone()
    if version is None or int(version[0]) != SCHEMA_VERSION:
        raise StoreError("converting the store: the new store has no schema version; nothing was changed")
    return checks


def convert_old_store(db: str | None, progress: Callable[[str], None] | None = None) -> Upgrade | None:
    """Before opening ``db`` (a --db value, else $JZCLI_DB, else the default file): an SQLite store
    there is converted in its place; with no store in the default place but one of jzcli before 0.2
    (``jzcli.db`` beside it), that one is converted into the default place and kept as it was."""
    url = sa.engine.make_url(resolve_url(db))
    if url.get_backend_name() != "duckdb" or not url.database:
        return None
    path = Path(url.database)
    if path.is_file() and is_sqlite_file(path):
        return upgrade_sqlite(path, progress=progress)
    legacy = legacy_default_db_path()
    if path == default_db_path() and not path.exists() and legacy.is_file() and is_sqlite_file(legacy):
        return upgrade_sqlite(legacy, path, progress=progress)
    return None
