"""The line frame the engine hands to rules is exactly the one declared in jzcli.domain.lines:
every stored and derived column, in order, with its dtype (the history: the columns
``rules.kit.HISTORY_COLUMNS`` names). Adding or dropping a column in the engine without
declaring it fails here."""

from __future__ import annotations

import pandas as pd
import pytest

import jzcli.engine.run as run
from jzcli.domain.lines import DERIVED, DTYPES, LINE_COLUMNS, STORED, STORED_COLUMNS, conform
from jzcli.engine.load import load_lines
from jzcli.rules.kit import HISTORY_COLUMNS
from test_validate_engine import TODAY, import_samples


def shape(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return [(c, str(t)) for c, t in frame.dtypes.items()]


DECLARED = [(c, DTYPES[c]) for c in LINE_COLUMNS]


def test_the_engine_hands_rules_exactly_the_declared_frame(tmp_path, monkeypatch):
    store = import_samples("sqlite:///" + str(tmp_path / "store.db"))
    derived: list[pd.DataFrame] = []
    seen: list[pd.DataFrame] = []

    def strict(frame: pd.DataFrame) -> pd.DataFrame:  # what derive made, before conform could fill it in
        derived.append(frame)
        return conform(frame)

    real_run_rules = run.run_rules

    histories: list[pd.DataFrame] = []

    def spy(ctx, rules=None):
        seen.append(ctx.lines)
        histories.append(ctx.history)
        return real_run_rules(ctx, rules)

    monkeypatch.setattr(run, "conform", strict)
    monkeypatch.setattr(run, "run_rules", spy)
    result = run.validate(store, today=TODAY)
    assert result.judged > 0 and len(derived) == 1 and seen
    assert shape(derived[0]) == DECLARED
    for frame in seen:
        assert shape(frame) == DECLARED
    # the history: the declared columns HISTORY_COLUMNS names, with their dtypes, in that order
    assert histories and any(len(h) for h in histories)
    for frame in histories:
        assert shape(frame) == [(c, DTYPES[c]) for c in HISTORY_COLUMNS]


def test_load_lines_gives_the_stored_columns(tmp_path):
    store = import_samples("sqlite:///" + str(tmp_path / "store.db"))
    assert shape(load_lines(store)) == [(c.name, c.dtype) for c in STORED]


def test_conform_fills_missing_columns_and_refuses_undeclared_ones():
    frame = pd.DataFrame({"id": [1, 2], "bsn": ["999900006", None], "volume": [3, None]})
    out = conform(frame)
    assert shape(out) == DECLARED
    assert out["bsn"].isna().tolist() == [False, True] and str(out["volume"].dtype) == "Int64"
    assert not out["gecrediteerd"].any() and (out["inhoud_sleutel"] == -1).all()
    assert conform(out) is out  # already in shape: no copy
    with pytest.raises(ValueError, match="undeclared line columns"):
        conform(frame.assign(nieuw=1))


def test_every_column_has_a_meaning_and_stored_comes_first():
    assert LINE_COLUMNS[: len(STORED_COLUMNS)] == STORED_COLUMNS
    assert len(set(LINE_COLUMNS)) == len(LINE_COLUMNS) == len(STORED) + len(DERIVED)
    assert all(c.meaning for c in STORED + DERIVED)
