"""The local store: SQLAlchemy Core over DuckDB (the default, one file), PostgreSQL, or SQLite (stores of
jzcli before 0.2; a plain path to such a file is converted into DuckDB on opening, see ``store.upgrade``).

Each imported file is one batch and one transaction: either the batch with all its lines and
findings is there, or nothing of it is. Money is integer eurocents; dates are DATE columns.
"""

from __future__ import annotations

import getpass
import itertools
import json
import os
import stat
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from jzcli.domain.lines import EXPORT_COLUMNS, FIELDS
from jzcli.errors import StoreError
from jzcli.store.schema import (
    SCHEMA_VERSION,
    batches,
    beoordelingen,
    declaratieregels,
    importbevindingen,
    kolomkoppelingen,
    meta_table,
    metadata,
    migrate,
)

ENV_DB = "JZCLI_DB"


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("jzcli", appauthor=False))


def default_db_path() -> Path:
    return data_dir() / "jzcli.duckdb"


def legacy_default_db_path() -> Path:
    """Where jzcli before 0.2 kept its SQLite store (converted into ``default_db_path`` once)."""
    return data_dir() / "jzcli.db"


def resolve_url(db: str | None) -> str:
    """A --db value (path or SQLAlchemy URL), else $JZCLI_DB, else the default DuckDB file."""
    value = db or os.environ.get(ENV_DB) or str(default_db_path())
    if "://" in value:
        return value
    return "duckdb:///" + str(Path(value).expanduser().resolve())


def describe_url(url: str) -> str:
    """The URL without a password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


class Store:
    """An open store. Use ``Store.open(db)``; the schema is created on first use."""

    def __init__(self, engine: Engine, root: Any = None):
        self.engine = engine
        self.dialect = engine.dialect.name
        self._root = root  # DuckDB: the process's one connection to the file (holds its lock)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, db: str | None = None, *, create: bool = True) -> Store:
        url = resolve_url(db)
        try:
            parsed = sa.engine.make_url(url)
        except Exception:
            raise StoreError(f"--db {db!r}: not a path or database URL") from None
        root = None
        if parsed.get_backend_name() == "duckdb":
            engine, root = _duckdb_engine(parsed, create=create)
        elif parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed, create=create)
        else:
            try:
                # Fail within seconds, not minutes, when the server cannot be reached.
                connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
                engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
            except Exception as exc:
                raise StoreError(f"store {describe_url(url)}: {exc}") from None
        store = cls(engine, root)
        try:
            store._ensure_schema()
        except BaseException:
            store.close()
            raise
        return store

    def _ensure_schema(self) -> None:
        try:
            with self.transaction() as conn:
                if self.dialect == "postgresql":
                    # Two processes opening a new schema at once would both CREATE TABLE; the
                    # second waits here until the first has committed, then finds the tables.
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('jzcli schema ' || current_schema()))")
                metadata.create_all(conn)
                version = conn.execute(
                    sa.select(meta_table.c.waarde).where(meta_table.c.sleutel == "schema_version")
                ).scalar()
                if version is None:
                    conn.execute(meta_table.insert().values(sleutel="schema_version", waarde=str(SCHEMA_VERSION)))
                elif int(version) < SCHEMA_VERSION:
                    migrate(conn, int(version))
                elif int(version) > SCHEMA_VERSION:
                    raise StoreError(
                        f"store {describe_url(str(self.engine.url))} has schema version {version}; "
                        f"this jzcli knows up to {SCHEMA_VERSION}: upgrade jzcli"
                    )
        except StoreError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store {describe_url(str(self.engine.url))} cannot be opened: {_short(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()
        if self._root is not None:
            self._root.close()
            self._root = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; on any error everything in it is rolled back."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(jz_write=True)
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(f"store {describe_url(str(self.engine.url))}: {_short(exc)}") from None

    # ------------------------------------------------------------------ batches
    def batch_by_sha(self, sha256: str, conn: Connection | None = None) -> dict | None:
        query = sa.select(batches).where(batches.c.sha256 == sha256)
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).mappings().first()
        return dict(row) if row else None

    def add_batch(self, conn: Connection, **values) -> int:
        values.setdefault("geimporteerd_op", datetime.now(UTC))
        values.setdefault("gebruiker", _os_user())
        if isinstance(values.get("details"), dict):
            values["details"] = json.dumps(values["details"], ensure_ascii=False, default=str)
        return conn.execute(batches.insert().values(**values).returning(batches.c.id)).scalar_one()

    def list_batches(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(batches).order_by(batches.c.id), conn)

    def is_empty(self) -> bool:
        """True when nothing has been imported yet (no batch of any kind)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(batches.c.id).limit(1)).first() is None

    def batch_verdicts(self) -> pd.DataFrame:
        """Per declaration batch: how many of its lines have a verdict (``beoordeeld``) and when
        the latest was given (``beoordeeld_op``, UTC). Batches with no judged line are absent."""
        t, v = declaratieregels, beoordelingen
        query = (
            sa.select(
                t.c.batch,
                sa.func.count(v.c.regel_id).label("beoordeeld"),
                sa.func.max(v.c.beoordeeld_op).label("beoordeeld_op"),
            )
            .select_from(t.join(v, v.c.regel_id == t.c.id))
            .group_by(t.c.batch)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame(
            [(int(b), int(n), pd.Timestamp(when)) for b, n, when in rows],
            columns=["batch", "beoordeeld", "beoordeeld_op"],
        )

    # ------------------------------------------------------------------ bulk reads
    def read_chunks(self, query, take) -> list[str]:
        """Run a select on the raw driver cursor (much faster than pandas.read_sql for big tables):
        ``take(names, rows)`` gets READ_CHUNK row tuples at a time, so the driver's Python values
        live for one chunk. Returns the column names."""
        with self.engine.connect() as conn:
            cur = _driver(conn).cursor()
            try:
                cur.execute(self._sql(query))
                names = [d[0] for d in cur.description]
                while rows := cur.fetchmany(READ_CHUNK):
                    take(names, rows)
                    del rows
            finally:
                cur.close()
        return names

    def read_frame(self, query) -> pd.DataFrame:
        """A select's rows as a frame, read with ``read_chunks``."""
        chunks: list[pd.DataFrame] = []
        names = self.read_chunks(
            query,
            lambda names, rows: chunks.append(
                _shared_text(pd.DataFrame.from_records(rows, columns=names, coerce_float=False))
            ),
        )
        if not chunks:
            return pd.DataFrame(columns=names)
        return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)

    def read_arrow(self, query):
        """DuckDB: a select's result as an Arrow table, columns as stored (no Python object per cell)."""
        with self.engine.connect() as conn:
            return _driver(conn).execute(self._sql(query)).to_arrow_table()

    def _sql(self, query) -> str:
        """A select as SQL text with its values inline, for the raw driver."""
        return str(query.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}))

    # ------------------------------------------------------------------ bulk writes
    def insert_frame(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> list[int] | None:
        """Insert a frame's rows (columns named as the table's) with one bulk statement.

        Values are converted to plain Python types (None for missing, ISO strings for dates) and
        sent with the driver's executemany (COPY on PostgreSQL).
        """
        if frame.empty:
            return None
        if self.dialect == "duckdb":
            _duckdb_insert(_driver(conn), table, frame)
            return None
        # Columns that are empty on every row are left out: they get NULL all the same, and an
        # SQLite executemany binds a NULL at a real cost (1 M lines with 5 always-empty columns:
        # 38 % less insert time).
        filled = [c for c in frame.columns if _any_value(frame[c])]
        if filled and len(filled) < len(frame.columns):
            frame = frame[filled]
        columns = list(frame.columns)
        # Converted a slice at a time while the driver consumes the rows: the plain Python values
        # of a million lines never exist at once (1M-line import: 680 -> 475 MB peak RSS).
        rows = itertools.chain.from_iterable(
            _plain_rows(frame.iloc[start : start + PLAIN_ROWS_CHUNK])
            for start in range(0, len(frame), PLAIN_ROWS_CHUNK)
        )
        raw = _driver(conn)
        if self.dialect == "postgresql":
            cols = ", ".join(columns)
            with raw.cursor() as cur:
                with cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"
            cur = raw.cursor()
            try:
                rebuild = _sqlite_indexes_to_rebuild(cur, table.name, len(frame))
                for name, _create in rebuild:
                    cur.execute(f'DROP INDEX "{name}"')
                cur.executemany(sql, rows)
                for _name, create in rebuild:
                    cur.execute(create)
            finally:
                cur.close()
        return None

    def next_id(self, conn: Connection, table: sa.Table) -> int:
        return (conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1

    # ------------------------------------------------------------------ reads
    def declaraties(self, columns: Sequence[str] | None = None, where=None) -> pd.DataFrame:
        cols = [declaratieregels.c[c] for c in (columns or ["id", *EXPORT_COLUMNS])]
        query = sa.select(*cols).order_by(declaratieregels.c.id)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn)

    def import_findings(self, batch: int | Iterable[int] | None = None) -> pd.DataFrame:
        """Import findings, of one batch or several (None = all), in id order."""
        query = sa.select(importbevindingen).order_by(importbevindingen.c.id)
        if isinstance(batch, int):
            query = query.where(importbevindingen.c.batch == batch)
        elif batch is not None:
            query = query.where(importbevindingen.c.batch.in_([int(b) for b in batch]))
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn)

    # ------------------------------------------------------------------ column mappings
    def remembered_mapping(self, aanbieder: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(kolomkoppelingen.c.kolom, kolomkoppelingen.c.veld).where(
                    kolomkoppelingen.c.aanbieder == aanbieder
                )
            ).all()
        return {kolom: veld for kolom, veld in rows}

    def remember_mapping(self, conn: Connection, aanbieder: str, mapping: dict[str, str]) -> None:
        for kolom, veld in mapping.items():
            conn.execute(
                kolomkoppelingen.delete().where(
                    (kolomkoppelingen.c.aanbieder == aanbieder) & (kolomkoppelingen.c.kolom == kolom)
                )
            )
            conn.execute(kolomkoppelingen.insert().values(aanbieder=aanbieder, kolom=kolom, veld=veld))


DECLARATIE_COLUMNS = ["id", "batch", "bron", "blad", "rij", *FIELDS]

DUCKDB_INSERT_ROWS = 122_880  # rows per INSERT … SELECT from a frame (one DuckDB row group)
PLAIN_ROWS_CHUNK = 65_536  # rows converted to plain Python values at a time by insert_frame

# A bulk insert of at least this many rows into an SQLite table that holds no more rows than it
# adds drops the table's secondary indexes and creates them again afterwards, in the same
# transaction: building an index from sorted keys is cheaper than inserting a million keys at random
# places (1 M declaration lines into an empty table: 6.3 s -> 4.1 s). Into a table that already
# holds as many rows as are added the two ways cost about the same; with more it would rebuild
# more than it inserts, so the indexes are kept. The DDL is part of the import's transaction: an
# error or a crash rolls it back with the rows, and other connections only ever see the indexes.
BULK_REINDEX_MIN_ROWS = 100_000


READ_CHUNK = 100_000


def _shared_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Repeated text values as one shared object each (the driver makes a new string per cell).

    Read in chunks of READ_CHUNK rows, a million lines then take a fraction of the memory: the
    driver's row tuples live for one chunk, and "declaraties.csv", "0153", "2025-01-01" are
    stored once per chunk instead of once per line.
    """
    for name in frame.columns:
        col = frame[name]
        if col.dtype.kind in "iufbM":
            continue
        codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
        if len(uniques) * 2 > len(col):
            continue  # mostly distinct: nothing to share
        values = (
            np.asarray(uniques, dtype=object).take(np.maximum(codes, 0))
            if len(uniques)
            else np.full(len(col), None, dtype=object)
        )
        values[codes < 0] = None
        frame[name] = pd.Series(values, index=frame.index, dtype=col.dtype)
    return frame


def _sqlite_indexes_to_rebuild(cur, table: str, adding: int) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes worth rebuilding for this insert, else []."""
    if adding < BULK_REINDEX_MIN_ROWS:
        return []
    # max(rowid) is an upper bound of the row count, read from the end of the table's b-tree.
    held = cur.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    if held > adding:
        return []
    # Only explicit indexes (sql is NULL for those backing PRIMARY KEY/UNIQUE constraints), and
    # not unique ones: their constraint is checked row by row as before, with the same error.
    found = cur.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table,),
    ).fetchall()
    return [(name, sql) for name, sql in found if not sql.lstrip().upper().startswith("CREATE UNIQUE")]


def _duckdb_insert(raw, table: sa.Table, frame: pd.DataFrame) -> None:
    """One INSERT … SELECT from the frame itself (DuckDB scans pandas columns in place). Columns of
    Python objects are cast to the table's types by DuckDB; a datetime64 into a DATE column keeps the day."""
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    name = "_jz_insert_frame"
    for start in range(0, len(frame), DUCKDB_INSERT_ROWS):
        raw.register(name, frame.iloc[start : start + DUCKDB_INSERT_ROWS])
        try:
            raw.execute(f'INSERT INTO {table.name} ({columns}) SELECT {columns} FROM "{name}"')
        finally:
            raw.unregister(name)


def _driver(conn: Connection) -> Any:
    """The DB-API connection under a SQLAlchemy connection (for cursors and COPY)."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the store's connection is closed")
    return raw


def _any_value(col: pd.Series) -> bool:
    """Whether a column holds any value; a filled first cell answers without a scan."""
    if len(col) and pd.isna(col.iat[0]) is False:  # type: ignore[arg-type]  # stubs: iat may be any scalar
        return True
    return bool(col.notna().any())


def _plain_rows(frame: pd.DataFrame) -> Iterable[tuple]:
    """Rows as tuples of plain Python values: None for missing, ISO strings for dates.

    An iterator: the driver consumes the tuples one by one, a million of them never exist at once.
    """
    converted = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col) and getattr(col.dt, "tz", None) is None:
            # Format each distinct day once (a million lines hold a few hundred dates; formatting
            # every cell took 0.6 s per column) and share the strings; NaT becomes None.
            days = col.to_numpy().astype("datetime64[D]")  # in the column's own unit: 9999-12-31 fits
            codes, uniques = pd.factorize(days.view(np.int64))
            unique_days = np.asarray(uniques, dtype=np.int64).view("datetime64[D]")
            texts = np.datetime_as_string(unique_days).astype(object)
            texts[np.isnat(unique_days)] = None
            converted.append(texts[codes].tolist())
            continue
        dtype = col.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iub":
            converted.append(col.to_numpy().tolist())  # no missing values; tolist makes Python ints
            continue
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iub" and not col.hasnans:
            converted.append(col.to_numpy(dtype=dtype.numpy_dtype).tolist())  # type: ignore[attr-defined]  # Int64 without NA
            continue
        if pd.api.types.is_datetime64_any_dtype(col):
            values = col.dt.strftime("%Y-%m-%d").astype(object)
            values = values.where(col.notna(), None)
        else:
            values = col.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]  # one pass: no .where copy
        converted.append(values.tolist())
    return zip(*converted)


def missing_store_message(path: Path) -> str:
    """'no store at PATH', naming the store in the default place when there is one."""
    message = f"no store at {path}: only jzcli import creates a store (jzcli import FILES --db {path}); check --db or JZCLI_DB"
    default = default_db_path()
    if default.exists() and default.resolve() != path.resolve():
        message += f". There is a store in the default place: {default} (used without --db)"
    return message


# A DuckDB file admits one process at a time: a second jzcli waits for it (polling), saying so
# after WAIT_NOTICE_SECONDS, and gives up after $JZCLI_STORE_WAIT seconds (default 10 minutes).
WAIT_NOTICE_SECONDS = 2.0
WAIT_POLL_SECONDS = 0.1
ENV_WAIT = "JZCLI_STORE_WAIT"
DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of a DuckDB file
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of an SQLite file


def _wait_limit() -> float:
    try:
        return float(os.environ.get(ENV_WAIT, "600"))
    except ValueError:
        return 600.0


def _notify(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _duckdb_connect(path: Path):
    """The process's connection to a DuckDB file, waiting while another process holds it."""
    import duckdb

    start = time.monotonic()
    told = False
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise StoreError(f"store {path} cannot be opened: {text.splitlines()[0]}") from None
            waited = time.monotonic() - start
            if waited >= _wait_limit():
                raise StoreError(
                    f"store {path} is in use by another process (another jzcli?) and stayed so for "
                    f"{waited:.0f} s; try again when it has finished"
                ) from None
            if not told and waited >= WAIT_NOTICE_SECONDS:
                _notify(f"waiting for store {path}: another jzcli is using it (Ctrl+C to stop waiting)")
                told = True
            time.sleep(WAIT_POLL_SECONDS)
        except duckdb.Error as exc:
            raise StoreError(f"store {path} cannot be opened: {str(exc).splitlines()[0]}") from None


def _duckdb_engine(parsed, *, create: bool) -> tuple[Engine, Any]:
    from duckdb_engine import ConnectionWrapper

    path = Path(parsed.database or "")
    if not parsed.database or parsed.database == ":memory:":
        raise StoreError("--db: give a file for the store (an in-memory store would be lost at once)")
    if _store_file(path, create=create):
        if path.stat().st_size == 0:
            path.unlink()  # an empty file (made by hand, or by jzcli before it wrote anything): a new store
        else:
            _check_duckdb_header(path)
    # personal data: the file and its write-ahead log are the owner's only
    mask = os.umask(0o077) if os.name == "posix" else None
    try:
        root = _duckdb_connect(path)
    finally:
        if mask is not None:
            os.umask(mask)
    # Every SQLAlchemy connection is a cursor of the one root connection: its own transaction,
    # the same database instance and file lock.
    engine = sa.create_engine("duckdb://", creator=lambda: ConnectionWrapper(root.cursor()), poolclass=sa.pool.NullPool)
    return engine, root


def _store_file(path: Path, *, create: bool) -> bool:
    """Whether a store file is at ``path``. With none there: its folder is made (``create``), else
    'no store at PATH'. A folder at ``path`` is refused."""
    if path.is_dir():
        raise StoreError(f"store {path} is a folder; give a file path or database URL with --db")
    if path.exists():
        return True
    if not create:
        raise StoreError(missing_store_message(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"store {path} cannot be created: {exc.strerror or exc}") from None
    return False


def _file_head(path: Path) -> bytes:
    """A store file's first 16 bytes (where SQLite and DuckDB say what they are)."""
    try:
        with path.open("rb") as fh:
            return fh.read(16)
    except OSError as exc:
        raise StoreError(f"store {path} cannot be read: {exc.strerror or exc}") from None


def _check_duckdb_header(path: Path) -> None:
    head = _file_head(path)
    if head.startswith(SQLITE_MAGIC):
        raise StoreError(
            f"store {path} is an SQLite store of an earlier jzcli: convert it with jzcli store upgrade {path}"
        )
    if head[8:12] != DUCKDB_MAGIC:
        raise StoreError(f"store {path} is not a jzcli store (not a DuckDB database)")


def _sqlite_engine(parsed, *, create: bool) -> Engine:
    database = parsed.database
    if database and database != ":memory:":
        path = Path(database)
        if not _store_file(path, create=create):
            try:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise StoreError(f"store {path} cannot be created: {exc.strerror or exc}") from None
        _check_sqlite_header(path)
    engine = sa.create_engine(
        parsed,
        connect_args={"timeout": 120, "isolation_level": None, "check_same_thread": False},
        poolclass=sa.pool.NullPool,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=120000")
        # Up to 256 MB of page cache (default 2 MB): a bulk insert updates three secondary
        # indexes at random places; with the small cache index pages are evicted and re-read
        # over and over (1 M lines: 24 s -> 14 s in a minimal executemany script).
        cur.execute("PRAGMA cache_size=-262144")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A writing transaction takes the write lock at once, so concurrent writers wait (busy
        # timeout) instead of failing with "database is locked" halfway; reads stay deferred.
        if conn.get_execution_options().get("jz_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _check_sqlite_header(path: Path) -> None:
    head = _file_head(path)
    if head and not head.startswith(SQLITE_MAGIC):
        raise StoreError(f"store {path} is not a jzcli store (not an SQLite database)")
    try:
        mode = path.stat().st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO) and path.stat().st_size == 0:
            os.chmod(path, 0o600)
    except OSError:
        pass


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "onbekend"
