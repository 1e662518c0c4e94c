"""The floor of storing declaration lines in SQLite: one executemany of plain tuples, nothing else.

    python bench/sqlite_floor.py --lines 1000000 --db /tmp/floor.db

Creates a fresh store with jzcli's own schema, indexes and connection settings (Store.open), builds
`lines` rows shaped like the benchmark's (text codes, ISO dates, integer cents; not timed), then
times only storing those rows in one transaction the way jzcli's bulk path does (secondary indexes
dropped, one executemany, indexes created again) — what `jzcli import` cannot go below on SQLite,
whatever it does before — and then reading them all back as plain row tuples, what `jzcli
validate` cannot go below. Prints JSON: {"lines", "seconds", "cpu_seconds", "read_seconds",
"read_cpu_seconds"}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import sqlalchemy as sa

from jzcli.store.schema import declaratieregels
from jzcli.store.store import Store, _sqlite_indexes_to_rebuild

COLUMNS = [
    "id",
    "batch",
    "bron",
    "blad",
    "rij",
    "aanbieder",
    "gemeente",
    "declaratienummer",
    "referentienummer",
    "vorig_referentienummer",
    "bsn",
    "toewijzingnummer",
    "productcategorie",
    "productcode",
    "begindatum",
    "einddatum",
    "volume",
    "eenheid",
    "tarief",
    "bedrag",
    "debet_credit",
]


def rows(n: int) -> list[tuple]:
    out = []
    for i in range(n):
        month = i % 10 + 1
        out.append(
            (
                i + 1,
                1,
                "declaraties.csv",
                None,
                i + 2,
                f"98{i % 200:06d}",
                "0153",
                None,
                None,
                None,
                f"{100_000_000 + i // 10:09d}",
                None,
                "45",
                "45A48",
                f"2025-{month:02d}-01",
                f"2025-{month:02d}-28",
                12 + i % 7,
                "04",
                7800,
                7800 * (12 + i % 7),
                "D",
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    args.db.unlink(missing_ok=True)
    store = Store.open("sqlite:///" + str(args.db.resolve()))  # SQLite by name: the floor of the 0.1 store
    # Only the 16 columns the benchmark's lines fill (the 5 always-empty ones stay NULL unbound,
    # as insert_frame does): the cheapest honest way to store these lines.
    data = [tuple(v for v in row if v is not None) for row in rows(args.lines)]
    columns = [c for c, v in zip(COLUMNS, rows(1)[0]) if v is not None]
    sql = f"INSERT INTO declaratieregels ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    with store.transaction() as conn:
        store.add_batch(conn, soort="declaraties", bestand="floor", pad="floor", sha256="0" * 64, grootte=0)
        raw = conn.connection.driver_connection
        start, cpu = time.perf_counter(), time.process_time()
        cur = raw.cursor()
        rebuild = _sqlite_indexes_to_rebuild(cur, "declaratieregels", len(data))
        for name, _create in rebuild:
            cur.execute(f'DROP INDEX "{name}"')
        cur.executemany(sql, data)
        for _name, create in rebuild:
            cur.execute(create)
        cur.close()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    del data
    # The other half of the floor: `jzcli validate` must read every line back. Store.read_chunks,
    # the reader validate uses, with the driver's row tuples only counted (no typing, no frame).
    t = declaratieregels
    query = sa.select(*[t.c[c] for c in columns]).order_by(t.c.id)
    read_start, read_cpu, chunk_rows = time.perf_counter(), time.process_time(), []
    store.read_chunks(query, lambda _names, rows: chunk_rows.append(len(rows)))
    read_seconds, read_cpu_seconds = time.perf_counter() - read_start, time.process_time() - read_cpu
    assert sum(chunk_rows) == args.lines
    store.close()
    args.db.unlink(missing_ok=True)
    print(
        json.dumps(
            {
                "lines": args.lines,
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "read_seconds": round(read_seconds, 3),
                "read_cpu_seconds": round(read_cpu_seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
