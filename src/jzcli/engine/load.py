"""Reading what a run needs from the store: the lines (typed as ``domain.lines`` declares), verdicts,
import findings, messages, sheets, the current allocations and contract products.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
import sqlalchemy as sa

from jzcli.domain.codes import AFKEUR
from jzcli.domain.lines import DATE_FIELDS, INT_FIELDS, STORED_COLUMNS
from jzcli.rules.kit import ALLOCATION_COLUMNS, ints, no_ints
from jzcli.store import agreements
from jzcli.store.schema import batches, beoordelingen, berichten, bevindingen, declaratieregels, importbevindingen
from jzcli.store.store import Store


def _typed_column(col: str, values: np.ndarray) -> pd.Series:
    """The driver's values of a date or text line column → its Context type: datetime64 (SQLite
    gives ISO text, PostgreSQL dates) or str with NaN for missing."""
    s = pd.Series(values, dtype=object)
    if col in DATE_FIELDS:
        if pd.api.types.infer_dtype(s, skipna=True) == "string":
            return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
        return pd.to_datetime(s.where(s.notna(), None), errors="coerce")
    return s.where(s.notna(), np.nan).astype("str")


_NUMBER_COLUMNS = {"id", "batch", "rij", "periode_uit_maand", *INT_FIELDS}


def _read_lines(store: Store, query) -> dict:
    """The selected line columns, typed, straight from the raw driver cursor.

    READ_CHUNK rows at a time: numbers are collected as they come; every other column is
    factorised per chunk, so its distinct values are typed once (a million lines hold a few
    hundred dates and codes) and a repeated value is one shared object, not one per line.
    """
    if store.dialect == "duckdb":
        return _read_lines_arrow(store.read_arrow(query))
    parts: dict[str, list] = {}

    def take(names: list[str], rows: list[tuple]) -> None:
        block = np.empty((len(rows), len(names)), dtype=object)
        block[:] = rows
        for j, name in enumerate(names):
            col = block[:, j]
            parts.setdefault(name, []).append(_numbers(name, col) if name in _NUMBER_COLUMNS else _factorize32(col))

    names = store.read_chunks(query, take)
    data = {}
    for name in names:
        chunks = parts.pop(name, [])
        if name in _NUMBER_COLUMNS:
            values = np.concatenate([v for v, _ in chunks]) if chunks else np.array([], dtype="int64")
            missing = np.concatenate([m for _, m in chunks]) if chunks else np.array([], dtype=bool)
            data[name] = values if name in ("id", "batch") else pd.arrays.IntegerArray(values, missing)
            continue
        # one vocabulary over the chunks; each chunk's codes mapped into it
        vocab, start, codes = [np.asarray(u, dtype=object) for _, u in chunks], 0, []
        joint, uniques = pd.factorize(np.concatenate(vocab) if vocab else np.array([], dtype=object))
        for (c, _), u in zip(chunks, vocab):
            recode = np.append(joint[start : start + len(u)], -1)  # code -1 (NULL) stays -1
            codes.append(recode[c])
            start += len(u)
        typed = _typed_column(name, np.asarray(uniques, dtype=object))
        taken = typed.array.take(np.concatenate(codes) if codes else np.array([], dtype="int64"), allow_fill=True)
        data[name] = taken
    return data


def _read_lines_arrow(table) -> dict:
    """The same columns from an Arrow table (DuckDB): numbers as they are; every other column
    dictionary-encoded, so each distinct value is typed once, exactly as ``_typed_column`` types the
    driver's values."""
    import pyarrow.compute as pc

    data: dict = {}
    for name in table.column_names:
        col = table.column(name)
        if name in _NUMBER_COLUMNS:
            values = pc.fill_null(col, 0).to_numpy().astype("int64", copy=False)
            if name in ("id", "batch"):
                data[name] = values
            else:
                data[name] = pd.arrays.IntegerArray(values, col.is_null().to_numpy(zero_copy_only=False))
            continue
        codes, values = _dictionary(col)
        typed = _typed_column(name, np.asarray(values, dtype=object))
        data[name] = typed.array.take(codes, allow_fill=True)
    return data


def _dictionary(column) -> tuple[np.ndarray, list]:
    """An Arrow column as codes (int64, -1 for NULL) into its distinct values (Python objects, each
    made once)."""
    encoded = column.combine_chunks().dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64", copy=False)
    return codes, encoded.dictionary.to_pylist()


def _factorize32(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype("int32"), uniques  # a chunk holds at most READ_CHUNK distinct values


def _numbers(name: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A chunk of a number column from the driver's objects: int64 values (0 where NULL) and the
    NULL mask, in one conversion when the driver gave ints."""
    missing = pd.isna(values)
    filled = values.copy()
    filled[missing] = 0
    if pd.api.types.infer_dtype(filled, skipna=False) == "integer":
        return filled.astype("int64"), missing
    # anything else (2.0 from a REAL cell, text): pandas' checked conversion, which refuses 2.5
    typed = ints(pd.Series(values, dtype=object).where(~missing, None))
    return typed.to_numpy(dtype="int64", na_value=0), np.asarray(typed.isna())


def _no_values(col: str, n: int):
    """A line column no line fills, in its Context type."""
    if col in DATE_FIELDS:
        return pd.Series(pd.NaT, index=pd.RangeIndex(n), dtype="datetime64[us]")
    if col in _NUMBER_COLUMNS:
        return no_ints(n)
    return pd.Series(np.nan, index=pd.RangeIndex(n), dtype="str")


def load_lines(store: Store, where=None) -> pd.DataFrame:
    """Stored declaration lines with the Context column types, in id (import) order."""
    t = declaratieregels
    # Columns no line in scope fills (spreadsheets leave many iJw fields out) are not fetched:
    # reading is per cell, and one counting pass costs far less than a million NULLs.
    counted = [c for c in STORED_COLUMNS if t.c[c].nullable]
    count = sa.select(*[sa.func.count(t.c[c]) for c in counted])
    if where is not None:
        count = count.where(where)
    with store.engine.connect() as conn:
        filled = conn.execute(count).one()
    empty = {c for c, n in zip(counted, filled) if not n}
    query = sa.select(*[t.c[c] for c in STORED_COLUMNS if c not in empty]).order_by(t.c.id)
    if where is not None:
        query = query.where(where)
    data = _read_lines(store, query)
    n = len(data["id"])
    # copy=False: the columns are this frame's own; a copy would cost ~100 MB per million lines
    return pd.DataFrame(
        {c: data.pop(c) if c in data else _no_values(c, n) for c in STORED_COLUMNS}, index=pd.RangeIndex(n), copy=False
    )


NOTHING = object()


def scope_sql(gemeente, aanbieder, batch):
    t = declaratieregels
    conditions = []
    if gemeente:
        conditions.append(t.c.gemeente.in_(list(gemeente)))
    if aanbieder:
        conditions.append(t.c.aanbieder.in_(list(aanbieder)))
    if batch:
        conditions.append(t.c.batch.in_([int(b) for b in batch]))
    return sa.and_(*conditions) if conditions else None


def relevant_lines(store: Store, opnieuw: bool, gemeente, aanbieder, batch):
    """A where clause for the lines a run needs: every line of the aanbieders whose lines are to be
    judged (their history: every history rule compares within one aanbieder) and every line of
    the batches being judged (sheet totals, DeclaratiePeriode). None = all lines; NOTHING =
    nothing to judge."""
    t = declaratieregels
    scope = scope_sql(gemeente, aanbieder, batch)
    if opnieuw and scope is None:
        return None
    query = sa.select(t.c.batch, t.c.aanbieder).distinct()
    if not opnieuw:
        query = query.select_from(t.outerjoin(beoordelingen, beoordelingen.c.regel_id == t.c.id)).where(
            beoordelingen.c.regel_id.is_(None)
        )
    if scope is not None:
        query = query.where(scope)
    with store.engine.connect() as conn:
        pairs = conn.execute(query).all()
    if not pairs:
        return NOTHING
    batch_ids = sorted({int(b) for b, _ in pairs})
    agbs = sorted({a for _, a in pairs if a is not None})
    conditions = [t.c.batch.in_(batch_ids), t.c.aanbieder.is_(None)]
    if agbs:
        conditions.append(t.c.aanbieder.in_(agbs))
    relevant = sa.or_(*conditions)
    # Most runs need every stored line (a first run, or new files of every aanbieder): then no
    # condition at all, so the lines are read straight through the table in id order instead of
    # gathered through three indexes and sorted (1 M lines: ~1 s). One row outside ends the scan.
    with store.engine.connect() as conn:
        if conn.execute(sa.select(t.c.id).where(sa.not_(relevant)).limit(1)).first() is None:
            return None
    return relevant


def rejected_messages(store: Store, tier_rules: Iterable[str]) -> set[int]:
    """The JW323 batches rejected as a whole in earlier rounds (an afkeur finding of a message
    tier rule, niveau bericht or declaratie: level 2, the Header, the declaration). They count
    as not sent (OP286, IV087; §6 of the reference)."""
    rules = sorted(tier_rules)
    if not rules:
        return set()
    t, f = declaratieregels, bevindingen
    query = (
        sa.select(t.c.batch)
        .distinct()
        .select_from(f.join(t, f.c.regel_id == t.c.id).join(berichten, berichten.c.batch == t.c.batch))
        .where(f.c.ernst == AFKEUR, f.c.regel.in_(rules))
    )
    with store.engine.connect() as conn:
        return {int(b) for (b,) in conn.execute(query)}


def last_round(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(beoordelingen.c.ronde))).scalar() or 0)


def load_verdicts(store: Store, where=None) -> pd.DataFrame:
    query = sa.select(beoordelingen.c.regel_id, beoordelingen.c.status, beoordelingen.c.ronde)
    if where is not None:
        query = query.where(beoordelingen.c.regel_id.in_(sa.select(declaratieregels.c.id).where(where)))
    if store.dialect == "duckdb":  # a verdict per stored line: as Arrow columns, not a tuple per row
        return _verdicts_arrow(store.read_arrow(query))
    v = store.read_frame(query)
    if v.empty:
        return pd.DataFrame(
            {"regel_id": pd.Series(dtype="int64"), "status": pd.Series(dtype=object), "ronde": pd.Series(dtype="int64")}
        )
    return v.astype({"regel_id": "int64", "ronde": "int64"})


def _verdicts_arrow(table) -> pd.DataFrame:
    """``load_verdicts`` from an Arrow table: the same columns and types as the driver path."""
    codes, values = _dictionary(table.column("status"))
    words = np.array([*values, None], dtype=object)  # code -1 (NULL) → None
    return pd.DataFrame(
        {
            "regel_id": table.column("regel_id").to_numpy().astype("int64", copy=False),
            "status": pd.Series(words[codes], dtype=object),
            "ronde": table.column("ronde").to_numpy().astype("int64", copy=False),
        }
    )


def load_import_findings(store: Store) -> pd.DataFrame:
    t = importbevindingen
    f = store.read_frame(
        sa.select(t.c.regel_id, t.c.veld, t.c.kolom, t.c.waarde, t.c.regel, t.c.melding)
        .where(t.c.regel_id.is_not(None))
        .order_by(t.c.id)
    )
    if f.empty:
        f = pd.DataFrame(columns=["regel_id", "veld", "kolom", "waarde", "regel", "melding"])
    f["regel_id"] = ints(f["regel_id"]).astype("int64") if len(f) else pd.Series(dtype="int64")
    for c in ("veld", "kolom", "waarde", "regel", "melding"):
        f[c] = f[c].astype(object)
    f["opgelost"] = False
    return f


BERICHT_DATES = ("dagtekening", "declaratieperiode_begin", "declaratieperiode_eind", "declaratie_dagtekening")


def load_berichten(store: Store) -> pd.DataFrame:
    """Every stored iJw message: the berichten columns, the batch's ``bestand`` and ``details``
    (dict), one row per batch in batch order; dates as datetime64, totaal_ingediend Int64."""
    m = berichten
    cols = [c.name for c in m.columns]
    f = store.read_frame(
        sa.select(m, batches.c.bestand, batches.c.details).join(batches, batches.c.id == m.c.batch).order_by(m.c.batch)
    )
    if f.empty:
        f = pd.DataFrame({c: pd.Series(dtype=object) for c in [*cols, "bestand", "details"]})
    f["batch"] = ints(f["batch"]).astype("int64") if len(f) else pd.Series(dtype="int64")
    for c in BERICHT_DATES:
        f[c] = pd.to_datetime(f[c].astype(object).where(f[c].notna(), None), errors="coerce")
    f["totaal_ingediend"] = ints(f["totaal_ingediend"].astype(object).where(f["totaal_ingediend"].notna(), None))
    for c in cols:
        if c not in ("batch", "totaal_ingediend", *BERICHT_DATES):
            f[c] = f[c].astype(object).where(f[c].notna(), None)

    def parse(d):
        try:
            return json.loads(d) if isinstance(d, str) else (d or {})
        except ValueError:
            return {}

    f["details"] = f["details"].map(parse).astype(object)
    return f.reset_index(drop=True)


def load_sheets(store: Store) -> pd.DataFrame:
    """Per imported sheet (batch, blad): the total the file states (cents or NA) and which sides
    of the ProductPeriode a month column gave (``maand``: bit 1 begin, bit 2 end), for lines stored
    before the store kept that per line (``periode_uit_maand`` NULL)."""
    b = store.read_frame(sa.select(batches.c.id, batches.c.details).where(batches.c.soort == "declaraties"))
    rows = []
    for bid, details in zip(b.get("id", []), b.get("details", [])):
        try:
            data = json.loads(details or "{}")
        except ValueError:
            continue
        for sheet in data.get("sheets", []) or []:
            total = sheet.get("vermeld_totaal")
            columns = sheet.get("kolommen") or {}
            month = 0
            if "periode" in columns:
                month = (0 if "begindatum" in columns else 1) | (0 if "einddatum" in columns else 2)
            rows.append(
                {
                    "batch": int(bid),
                    "blad": sheet.get("blad"),
                    "vermeld_totaal": None if total is None else int(total),
                    "maand": month,
                }
            )
    frame = pd.DataFrame(rows, columns=["batch", "blad", "vermeld_totaal", "maand"])
    frame["blad"] = frame["blad"].astype(object).where(frame["blad"].notna(), "")
    frame["vermeld_totaal"] = ints(frame["vermeld_totaal"])
    return frame.drop_duplicates(["batch", "blad"])


def load_toewijzingen(store: Store) -> pd.DataFrame:
    """The current version of every allocation (``agreements.toewijzingen_actueel``)."""
    frame = agreements.toewijzingen_actueel(store)
    return frame.reset_index(drop=True) if frame is not None else _empty_toewijzingen()


def load_products(store: Store) -> pd.DataFrame:
    """Contract products, one row per gemeente (``agreements.contract_products_exploded``)."""
    frame = agreements.contract_products_exploded(store)
    return frame.reset_index(drop=True) if frame is not None else _empty_products()


def _empty_toewijzingen() -> pd.DataFrame:
    cols = ALLOCATION_COLUMNS
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).assign(id=pd.Series(dtype="int64"))


def _empty_products() -> pd.DataFrame:
    cols = [
        "contract",
        "gemeente",
        "aanbieders",
        "productcategorie",
        "productcode",
        "eenheid",
        "tarief",
        "uitvoeringsvariant",
        "geldig_van",
        "geldig_tot",
    ]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
