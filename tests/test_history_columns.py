"""The history the rules get (``ctx.history``) holds only ``rules.kit.HISTORY_COLUMNS``: the same
verdicts and findings as with every line column, on histories that use every history and total
rule (reference numbers, credits by reference and by content, corrections, duplicates, totals
and budgets across batches), judged in one run and batch by batch across runs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import validate_kit as K
from jzcli.domain.lines import LINE_COLUMNS
from jzcli.engine.run import validate

JAN = dict(begin=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31))
FEB = dict(begin=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28))


def _allocations(bsn: str) -> list[list]:
    total = ["100001", bsn, K.AGB, K.GEM, "45", "45A48", dt.date(2025, 1, 1), dt.date(2025, 3, 31), 3, "04", "2"]
    budget = ["100002", bsn, K.AGB, K.GEM, "54", None, dt.date(2025, 1, 1), dt.date(2025, 12, 31), None, None, None]
    return [[*total, None, None, dt.date(2024, 12, 16)], [*budget, 500, None, dt.date(2024, 12, 16)]]


def _references() -> list[list[list]]:
    b = K.BSNS
    return [
        [K.line(b[0], ref="D1", decl="DEC1"), K.line(b[1], ref="D2", decl="DEC1"), K.line(b[2], ref="D5", decl="DEC1")],
        [
            K.line(b[0], volume=8, ref="D3", decl="DEC2"),  # the correction of D1
            K.line(b[0], ref="C1", vorig="D1", dc="C", decl="DEC2"),
            K.line(b[1], ref="C2", vorig="D9", dc="C", decl="DEC2"),  # TR323: no such debet
            K.line(b[1], volume=5, ref="D4", decl="DEC2"),  # TR389: D2 still live
            K.line(b[2], ref="D5", decl="DEC1"),  # TR314 and TR333: used before
        ],
        [
            K.line(b[0], ref="C4", vorig="D1", dc="C", decl="DEC3"),  # TR390: D1 credited already
            K.line(b[0], ref="C5", vorig="C1", dc="C", decl="DEC3"),  # TR323: C1 is a credit
            K.line(b[1], ref="C6", vorig="D2", dc="C", decl="DEC3"),
        ],
    ]


def _content() -> list[list[list]]:
    b = K.BSNS
    return [
        [K.line(b[0]), K.line(b[1]), K.line(b[2], **FEB)],
        [K.line(b[0], dc="C"), K.line(b[0], volume=7), K.line(b[1], dc="C", volume=9), K.line(b[1], dc="C")],
        [K.line(b[1], dc="C"), K.line(b[2], **FEB), K.line(b[0], volume=7, dc="C"), K.line(b[0], volume=6)],
    ]


def _totals() -> list[list[list]]:
    bsn = K.BSNS[0]
    kw = dict(nummer="100001")
    return [
        [
            K.line(bsn, "45A48", **JAN, volume=15, ref="B1R1", decl="B1", **kw),
            K.line(bsn, "45A48", **FEB, volume=12, ref="B1R2", decl="B1", **kw),
            K.line(bsn, "54002", **FEB, volume=3, ref="B1R3", decl="B1", nummer="100002"),
        ],
        [
            K.line(bsn, "45A48", volume=16, ref="B2R1", decl="B2", **kw),  # TR322
            K.line(bsn, "54M01", volume=2, ref="B2R2", decl="B2", nummer="100002"),
            K.line(bsn, "54002", volume=1, ref="B2R3", decl="B2", nummer="100002"),  # TR369
        ],
        [
            K.line(bsn, "45A48", **FEB, volume=12, ref="B3R1", vorig="B1R2", dc="C", decl="B3", **kw),
            K.line(bsn, "45A48", **FEB, volume=12, ref="B3R2", decl="B3", **kw),
            K.line(bsn, "45A48", volume=15, ref="B3R3", decl="B3", **kw),
        ],
    ]


SCENARIOS = {"references": (_references, None), "content": (_content, None), "totals": (_totals, _allocations)}


def _judge(url: str, tmp_path, name: str, across_runs: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Findings and verdicts (batch, row, rule, …) of the scenario's batches, sorted."""
    batches, allocations = SCENARIOS[name]
    declared = batches()
    store = K.setup(url, tmp_path, *declared, allocations=allocations(K.BSNS[0]) if allocations else None)
    try:
        # after the contract (batch 1) and the allocations (batch 2): one batch per run, so the
        # history comes from earlier rounds; or all in one run, the history growing step by step
        runs = [[b] for b in range(3, 3 + len(declared))] if across_runs else [None]
        results = [validate(store, today=K.TODAY, batch=b) for b in runs]
    finally:
        store.close()
    keys = ["batch", "rij", "regel"]
    f = pd.concat([r.findings for r in results], ignore_index=True)
    f = f[[*keys, "retourcode", "ernst", "kolom", "melding"]].sort_values(keys, kind="mergesort")
    v = pd.concat([r.verdicts for r in results], ignore_index=True)
    v = v[["batch", "rij", "status"]].sort_values(["batch", "rij"], kind="mergesort")
    return f.reset_index(drop=True).astype(object), v.reset_index(drop=True).astype(object)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("across_runs", [False, True], ids=["one-run", "run-per-batch"])
def test_history_columns_judge_as_every_column(tmp_path, db_url, monkeypatch, name, across_runs):
    (tmp_path / "kept").mkdir()
    (tmp_path / "all").mkdir()
    found, verdicts = _judge(db_url, tmp_path / "kept", name, across_runs)
    # the same batches in a second store, judged with every line column in the history
    monkeypatch.setattr("jzcli.engine.run.HISTORY_COLUMNS", LINE_COLUMNS)
    monkeypatch.setattr("jzcli.engine.derive.HISTORY_COLUMNS", LINE_COLUMNS)
    second = "duckdb:///" + str(tmp_path / "all" / "store.duckdb") if db_url.startswith("duckdb") else _fresh_pg(db_url)
    found_all, verdicts_all = _judge(second, tmp_path / "all", name, across_runs)
    history_rules = {"TR314", "TR323", "TR389", "TR390", "TR333", "TR322", "TR369"}
    assert set(found["regel"]) & history_rules  # the scenario reaches the history
    pd.testing.assert_frame_equal(found, found_all)
    pd.testing.assert_frame_equal(verdicts, verdicts_all)


def _fresh_pg(url: str) -> str:
    """A second, empty schema beside the fixture's (dropped with the test's own at the end)."""
    import uuid

    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    base = url.split("?")[0]
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    _CREATED.append((base, schema))
    return f"{base}?options=-csearch_path%3D{schema}"


_CREATED: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _drop_schemas():
    yield
    import sqlalchemy as sa

    while _CREATED:
        base, schema = _CREATED.pop()
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()
