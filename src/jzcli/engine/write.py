"""Writing a run's verdicts and findings to the store, one transaction per step (see ``engine.run``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from jzcli.domain.codes import AFGEKEURD, GOEDGEKEURD
from jzcli.errors import StoreError
from jzcli.store.schema import afgeleide_categorieen, beoordelingen, bevindingen, declaratieregels
from jzcli.store.store import Store


def lock(store: Store, conn) -> None:
    if store.dialect == "postgresql":
        conn.exec_driver_sql("LOCK TABLE beoordelingen IN SHARE ROW EXCLUSIVE MODE")


def delete_verdicts(conn, where) -> None:
    if where is None:
        conn.execute(bevindingen.delete())
        conn.execute(afgeleide_categorieen.delete())
        conn.execute(beoordelingen.delete())
        return
    ids = sa.select(declaratieregels.c.id).where(where)
    conn.execute(bevindingen.delete().where(bevindingen.c.regel_id.in_(ids)))
    conn.execute(afgeleide_categorieen.delete().where(afgeleide_categorieen.c.regel_id.in_(ids)))
    conn.execute(beoordelingen.delete().where(beoordelingen.c.regel_id.in_(ids)))


def write_categories(store: Store, conn, derived: pd.DataFrame, ids: list[int]) -> None:
    """The resolved productcategorie of this step's lines whose file has none (reports)."""
    if not len(derived):
        return
    rows = derived[np.isin(derived["id"].to_numpy(dtype="int64"), np.asarray(ids, dtype="int64"))]
    if len(rows):
        frame = pd.DataFrame(
            {
                "regel_id": rows["id"].to_numpy(dtype="int64"),
                "productcategorie": rows["categorie_afgeleid"].to_numpy(dtype=object),
                "bron": rows["categorie_bron"].to_numpy(dtype=object),
            }
        )
        store.insert_frame(conn, afgeleide_categorieen, frame)


def check_unjudged(conn, step: list[int], ids: list[int]) -> None:
    """Refuse to write when another run judged some of these lines since we loaded them."""
    t = declaratieregels
    query = sa.select(beoordelingen.c.regel_id).join(t, beoordelingen.c.regel_id == t.c.id).where(t.c.batch.in_(step))
    done = {row[0] for row in conn.execute(query)}
    if done & set(ids):
        raise StoreError(
            "another jzcli validate judged some of these lines at the same time; this run wrote "
            "nothing for them. Run jzcli validate again."
        )


def write_step(
    store: Store,
    conn,
    step: list[int],
    ids: list[int],
    found: pd.DataFrame,
    status: dict[int, str],
    ronde: int,
    stamp,
    scope,
) -> None:
    """Write one step's verdicts and findings. Rejected lines are inserted from the frame; the
    approved ones (usually nearly all) by one INSERT … SELECT over the step's batches in scope
    that have no verdict, which must be exactly the approved lines (else another run interfered)."""
    verdicts = pd.DataFrame({"regel_id": ids})
    verdicts["status"] = verdicts["regel_id"].map(status)
    rejected = verdicts[verdicts["status"] == AFGEKEURD].assign(ronde=ronde)
    # a text timestamp: insert_frame writes datetime64 columns as dates only
    rejected["beoordeeld_op"] = stamp.strftime("%Y-%m-%d %H:%M:%S.%f") + (
        "+00:00" if store.dialect in ("postgresql", "duckdb") else ""
    )
    store.insert_frame(conn, beoordelingen, rejected)
    t = declaratieregels
    unjudged = sa.and_(t.c.batch.in_(step), ~sa.exists().where(beoordelingen.c.regel_id == t.c.id))
    if scope is not None:
        unjudged = sa.and_(unjudged, scope)
    approved = sa.select(
        t.c.id,
        sa.literal(GOEDGEKEURD, sa.String),
        sa.literal(ronde, sa.Integer),
        sa.literal(stamp, sa.DateTime(timezone=True)),
    )
    insert = beoordelingen.insert().from_select(
        ["regel_id", "status", "ronde", "beoordeeld_op"], approved.where(unjudged)
    )
    if store.dialect == "sqlite":  # sqlite3 reports the rows an INSERT … SELECT wrote: no extra counting pass
        written = conn.execute(insert).rowcount
    else:  # psycopg through SQLAlchemy reports -1 here: count first
        written = conn.execute(sa.select(sa.func.count()).select_from(t).where(unjudged)).scalar()
        conn.execute(insert)
    if written != len(verdicts) - len(rejected):  # the transaction is rolled back: nothing stays written
        raise StoreError(
            "another jzcli validate or import changed these lines at the same time; this run wrote "
            "nothing for them. Run jzcli validate again."
        )
    if found is not None and len(found):
        f = found.sort_values(["id", "_order"], kind="mergesort")
        rows = pd.DataFrame(
            {
                "regel_id": f["id"].astype("int64").to_numpy(),
                "regel": f["regel"].to_numpy(),
                "retourcode": f["retourcode"].to_numpy(),
                "ernst": f["ernst"].to_numpy(),
                "kolom": f["kolom"].to_numpy(),
                "waarde": f["waarde"].to_numpy(),
                "melding": f["melding"].to_numpy(),
                "ronde": ronde,
            }
        )
        store.insert_frame(conn, bevindingen, rows)
