"""History rules (rules/history.py): duplicates, reference numbers and credits, across batches
(import order) and within one batch (credits before debets)."""

from __future__ import annotations

import datetime as dt

from jzcli.engine.run import validate
from validate_kit import AGB, BSNS, TODAY, by_row, declaration, finding, import_files, line, messages, setup, status

FEB = dict(begin=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28))


def test_referentienummer_used_before(tmp_path, db_url):
    first = [line(BSNS[0], ref="R1"), line(BSNS[1], ref="R2", tarief=99.00, bedrag=990.00)]  # R2 rejected (TR418)
    second = [
        line(BSNS[2], ref="R1"),  # row 2: R1 approved in batch 1
        line(BSNS[3], ref="R2"),  # row 3: R2 was rejected: may be used again
        line(BSNS[4], ref="R3"),  # row 4
        line(BSNS[5], ref="R3"),  # row 5: twice in this file
    ]
    store = setup(db_url, tmp_path, first, second)
    result = validate(store, today=TODAY)
    b1, b2 = status(result, batch=3), status(result, batch=4)
    assert b1 == {2: "goedgekeurd", 3: "afgekeurd"}
    assert b2 == {2: "afgekeurd", 3: "goedgekeurd", 4: "goedgekeurd", 5: "afgekeurd"}
    tr = finding(result, 2, "TR314", batch=4)
    assert tr["retourcode"] == "8021"
    assert tr["melding"] == (
        "referentienummer R1 was already used by aanbieder 98001101 (approved earlier: batch 3, declaratie_1.xlsx, sheet 'Declaratie', row 2)"
    )
    assert messages(result, 5, "TR314", batch=4) == [
        "referentienummer R3 was already used by aanbieder 98001101 (earlier in this file: batch 4, declaratie_2.xlsx, sheet 'Declaratie', row 4)"
    ]


def test_duplicate_debet_within_one_batch(tmp_path, db_url):
    rows = [
        line(BSNS[0], "54002", **FEB),  # row 2
        line(BSNS[1], "54002"),  # row 3: another client
        line(BSNS[0], "54002", volume=8, **FEB),  # row 4: same client, product and period as row 2
        line(BSNS[0], "54002"),  # row 5: same client and product, another month
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    assert status(result) == {2: "goedgekeurd", 3: "goedgekeurd", 4: "afgekeurd", 5: "goedgekeurd"}
    tr = finding(result, 4, "TR416")
    assert tr["retourcode"] == "0001"
    assert tr["melding"] == (
        "debet declared twice in this file: same toewijzing, product 54002 and ProductPeriode 2025-02-01..2025-02-28 as sheet 'Declaratie' row 2"
    )


def test_duplicate_of_an_approved_debet_in_a_later_batch(tmp_path, db_url):
    """Batch 1 approves a debet; the same line again in batch 2 → TR389. A rejected debet does not
    block its corrected resubmission."""
    first = [line(BSNS[0]), line(BSNS[1], tarief=90.00, bedrag=900.00)]  # row 3 rejected: TR418
    second = [line(BSNS[0], volume=12), line(BSNS[1])]  # row 2: duplicate; row 3: the resubmission
    store = setup(db_url, tmp_path, first, second)
    result = validate(store, today=TODAY)
    assert status(result, batch=3) == {2: "goedgekeurd", 3: "afgekeurd"}
    assert status(result, batch=4) == {2: "afgekeurd", 3: "goedgekeurd"}
    tr = finding(result, 2, "TR389", batch=4)
    assert tr["retourcode"] == "9389"
    assert tr["melding"] == (
        "a debet for the same toewijzing, product 45A48 and ProductPeriode 2025-03-01..2025-03-31 was approved earlier and not "
        "credited: batch 3, declaratie_1.xlsx, sheet 'Declaratie', row 2"
    )


def test_batches_are_judged_in_import_order_across_runs(tmp_path, db_url):
    """Batch 1 judged in one run is history for batch 2 judged in the next."""
    store = setup(db_url, tmp_path, [line(BSNS[0])])
    first = validate(store, today=TODAY)
    assert status(first) == {2: "goedgekeurd"}
    import_files(store, declaration(tmp_path / "later.xlsx", [line(BSNS[0], volume=3)]))
    second = validate(store, today=TODAY)
    assert second.judged == 1 and status(second) == {2: "afgekeurd"}
    assert by_row(second)[2] == {"TR389"}


def test_credit_and_correction_in_one_batch(tmp_path, db_url):
    """OP366: credits first. The credit of an approved debet and its corrected debet travel together."""
    first = [line(BSNS[0], ref="D1", decl="DEC1"), line(BSNS[1], ref="D2", decl="DEC1")]
    second = [
        line(BSNS[0], volume=8, ref="D3", decl="DEC2"),  # row 2: the correction (a debet before its credit in the file)
        line(BSNS[0], ref="C1", vorig="D1", dc="C", decl="DEC2"),  # row 3: credit of D1
        line(BSNS[1], ref="C2", vorig="D9", dc="C", decl="DEC2"),  # row 4: credit of an unknown line
        line(BSNS[1], volume=5, ref="D4", decl="DEC2"),  # row 5: D2 not credited: duplicate
    ]
    store = setup(db_url, tmp_path, first, second)
    result = validate(store, today=TODAY)
    assert status(result, batch=4) == {2: "goedgekeurd", 3: "goedgekeurd", 4: "afgekeurd", 5: "afgekeurd"}
    assert messages(result, 4, "TR323", batch=4) == [
        "no approved debet with referentienummer D9 of aanbieder 98001101 to cancel (a credit can only cancel an earlier approved debet)"
    ]
    assert finding(result, 4, "TR323", batch=4)["retourcode"] == "8017"
    assert by_row(result, batch=4)[5] == {"TR389"}


def test_credit_twice_and_credit_of_a_credit(tmp_path, db_url):
    first = [line(BSNS[0], ref="D1"), line(BSNS[1], ref="D2")]
    second = [
        line(BSNS[0], ref="C1", vorig="D1", dc="C"),
        line(BSNS[1], ref="C2", vorig="D2", dc="C"),
        line(BSNS[1], ref="C3", vorig="D2", dc="C"),
    ]
    third = [line(BSNS[0], ref="C4", vorig="D1", dc="C"), line(BSNS[0], ref="C5", vorig="C1", dc="C")]
    store = setup(db_url, tmp_path, first, second, third)
    result = validate(store, today=TODAY)
    assert status(result, batch=4) == {2: "goedgekeurd", 3: "goedgekeurd", 4: "afgekeurd"}
    assert messages(result, 4, "TR390", batch=4) == ["debet D2 of aanbieder 98001101 has already been credited"]
    assert finding(result, 4, "TR390", batch=4)["retourcode"] == "9390"
    assert status(result, batch=5) == {2: "afgekeurd", 3: "afgekeurd"}
    assert by_row(result, batch=5)[2] == {"TR390"}
    assert by_row(result, batch=5)[3] == {"TR323"}  # C1 is a credit, not a debet


def test_credit_without_reference_numbers_matches_on_content(tmp_path, db_url):
    """Spreadsheets without reference numbers: a credit cancels the approved debet with the same
    client, product, period and bedrag; then the corrected debet is not a duplicate."""
    first = [line(BSNS[0]), line(BSNS[1])]
    second = [
        line(BSNS[0], dc="C"),  # row 2: cancels batch 1 row 2
        line(BSNS[0], volume=7),  # row 3: its correction
        line(BSNS[1], dc="C", volume=9),  # row 4: no approved debet with this bedrag
        line(BSNS[1], dc="C"),  # row 5: cancels batch 1 row 3
        line(BSNS[1], dc="C"),  # row 6: ... and again
    ]
    store = setup(db_url, tmp_path, first, second)
    result = validate(store, today=TODAY)
    assert status(result, batch=4) == {
        2: "goedgekeurd",
        3: "goedgekeurd",
        4: "afgekeurd",
        5: "goedgekeurd",
        6: "afgekeurd",
    }
    assert messages(result, 4, "TR323", batch=4) == [
        "no approved debet of the same client, product 45A48, ProductPeriode 2025-03-01..2025-03-31 and bedrag € 718,20 to cancel "
        "(credit without vorig_referentienummer)"
    ]
    assert by_row(result, batch=4)[6] == {"TR390"}
    assert "CD060" not in {r for rules in by_row(result).values() for r in rules}


def test_vorig_referentienummer_only_on_credits(tmp_path, db_url):
    first = [line(BSNS[0], ref="D1")]
    second = [
        line(BSNS[1], ref="D2", vorig="D1"),  # row 2: debet with a vorig
        line(BSNS[0], ref="C1", dc="C"),  # row 3: credit without vorig in a file that uses reference numbers
        line(BSNS[2], ref="D3"),  # row 4 fine
    ]
    store = setup(db_url, tmp_path, first, second)
    result = validate(store, today=TODAY)
    assert messages(result, 2, "CD060", batch=4) == [
        "vorig_referentienummer D1 on a debet line: only a credit line refers to the line it cancels"
    ]
    assert messages(result, 3, "CD060", batch=4) == [
        "credit line without vorig_referentienummer (the referentienummer of the debet it cancels)"
    ]
    assert status(result, batch=4) == {2: "afgekeurd", 3: "afgekeurd", 4: "goedgekeurd"}


def test_declaratienummer_used_in_an_earlier_batch(tmp_path, db_url):
    first = [line(BSNS[0], decl="DEC1")]
    second = [line(BSNS[1], decl="DEC1"), line(BSNS[2], decl="DEC2")]
    third = [line(BSNS[3], decl="DEC1", agb="98001202")]  # another aanbieder may use the same number
    store = setup(db_url, tmp_path, first, second, third)
    result = validate(store, today=TODAY)
    tr = finding(result, 2, "TR333", batch=4)
    assert tr["retourcode"] == "9333"
    assert (
        tr["melding"] == "declaratienummer DEC1 was already used by aanbieder 98001101 in batch 3 (declaratie_1.xlsx)"
    )
    assert "TR333" not in by_row(result, batch=4).get(3, set())
    assert "TR333" not in by_row(result, batch=5).get(2, set())


def test_filters_judge_a_subset_and_history_counts_every_approved_line(tmp_path, db_url):
    store = setup(db_url, tmp_path, [line(BSNS[0]), line(BSNS[1], gemeente="0376")])
    only = validate(store, today=TODAY, gemeente="0376")
    assert only.judged == 1 and set(only.verdicts["gemeente"]) == {"0376"}
    rest = validate(store, today=TODAY)
    assert rest.judged == 1 and set(rest.verdicts["gemeente"]) == {"0406"}
    import_files(store, declaration(tmp_path / "again.xlsx", [line(BSNS[1], gemeente="0376", volume=3)]))
    # judging only batch 4 of aanbieder AGB: the approved line of batch 3 is history all the same
    again = validate(store, today=TODAY, aanbieder=AGB, batch=4)
    assert again.judged == 1 and by_row(again)[2] == {"TR389"}
