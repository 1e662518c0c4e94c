"""Allocation (toewijzing) rules: matching, the §8 volume limits with the standard's worked
examples, and every TR rule with a line that breaks it and one that just passes.

Most tests build the Context directly (fast, no store); the last ones go through the real
store (allocation versions, toewijzingen_actueel) and, when the engine exists, `jzcli validate`.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from jzcli.domain.findings import FINDING_COLUMNS
from jzcli.domain.lines import conform
from jzcli.engine.derive import allocation_columns, match_allocations, normalised_allocations
from jzcli.rules import allocation as A
from jzcli.rules.kit import Context, as_text
from jzcli.rules.registry import RULES

D = pd.Timestamp
BSN = "999900006"
BSN2 = "999900018"
AGB = "98001101"
GEM = "0406"


def allocation(id, nummer, **kw) -> dict:
    row = dict(
        id=id,
        toewijzingnummer=str(nummer),
        bsn=BSN,
        aanbieder=AGB,
        gemeente=GEM,
        productcategorie="45",
        productcode="45A48",
        ingangsdatum="2025-01-01",
        einddatum="2025-12-31",
        volume=3,
        eenheid="04",
        frequentie="2",
        budget=None,
        reden_wijziging=None,
        toewijzingsdatum="2024-12-16",
        verwijderd=False,
    )
    row.update(kw)
    return row


def allocations(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    for col in ("ingangsdatum", "einddatum", "toewijzingsdatum"):
        frame[col] = pd.to_datetime(frame[col])
    for col in ("volume", "budget"):
        frame[col] = frame[col].astype("Int64")
    frame["id"] = frame["id"].astype("int64")
    frame["verwijderd"] = frame["verwijderd"].astype(bool)
    for col in (
        "toewijzingnummer",
        "bsn",
        "aanbieder",
        "gemeente",
        "productcategorie",
        "productcode",
        "eenheid",
        "frequentie",
        "reden_wijziging",
    ):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def line(id, begin="2025-03-01", end="2025-03-31", volume=12, **kw) -> dict:
    row = dict(
        id=id,
        batch=1,
        bron="test.xlsx",
        blad="Declaratie",
        rij=id + 1,
        aanbieder=AGB,
        gemeente=GEM,
        declaratienummer="D1",
        referentienummer=f"R{id}",
        vorig_referentienummer=None,
        bsn=BSN,
        toewijzingnummer=None,
        productcategorie="45",
        productcode="45A48",
        begindatum=begin,
        einddatum=end,
        volume=volume,
        eenheid="04",
        tarief=7980,
        bedrag=None,
        debet_credit="D",
    )
    row.update(kw)
    if row["bedrag"] is None and row["volume"] is not None and row["tarief"] is not None:
        row["bedrag"] = row["volume"] * row["tarief"]
    return row


def frame_of(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("begindatum", "einddatum"):
        frame[col] = pd.to_datetime(frame[col])
    for col in ("volume", "tarief", "bedrag"):
        frame[col] = frame[col].astype("Int64")
    return frame


def context(
    lines: list[dict],
    allocs: pd.DataFrame,
    history: list[dict] | None = None,
    *,
    variant="inspanningsgericht",
    contract_eenheid=None,
) -> Context:
    """The Context the engine builds: lines with the derived columns (the engine's match, contract
    data), conformed to the line schema."""
    alloc = normalised_allocations(allocs)
    frame = frame_of(lines)
    frame = frame.join(allocation_columns(frame, alloc))
    frame["contract_variant"] = variant
    frame["contract_eenheid"] = contract_eenheid
    frame["contract_tarief"] = frame["tarief"]
    frame["contract_id"] = 1
    frame["contract_product_found"] = True
    hist = frame_of(history) if history else frame_of([line(0)]).iloc[:0]
    if history:
        hist = hist.join(allocation_columns(hist, alloc))
    if "gecrediteerd" not in hist.columns:
        hist["gecrediteerd"] = False
    hist["gecrediteerd"] = hist["gecrediteerd"].fillna(False).astype(bool)
    return Context(
        lines=conform(frame),
        history=conform(hist),
        toewijzingen=allocs,
        products=pd.DataFrame(),
        import_findings=pd.DataFrame(),
        today=dt.date(2025, 4, 15),
        allocations=alloc,
    )


def run(rule_id: str, ctx: Context) -> pd.DataFrame:
    result = RULES[rule_id].check(ctx)
    assert list(result.columns) == FINDING_COLUMNS
    return result


def rejected(rule_id: str, ctx: Context) -> list[int]:
    return sorted(run(rule_id, ctx)["id"].tolist())


def message(rule_id: str, ctx: Context, line_id: int) -> str:
    result = run(rule_id, ctx)
    return result.loc[result["id"] == line_id, "melding"].item()


ALLOCATION_RULES = [
    "TR338",
    "TR304",
    "TR384",
    "TR307",
    "TR308",
    "TR387",
    "TR388",
    "TR339",
    "TR340",
    "TR341",
    "TR321",
    "TR322",
    "TR369",
]


def all_findings(ctx: Context) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for rid in ALLOCATION_RULES:
        for i in run(rid, ctx)["id"]:
            out.setdefault(int(i), []).append(rid)
    return out


# =============================================================================== registry
def test_rules_registered_with_retourcodes():
    expected = {
        "TR338": "9338",
        "TR304": "8187",
        "TR307": "9307",
        "TR308": "9308",
        "TR339": "9339",
        "TR340": "9340",
        "TR341": "9341",
        "TR384": "9384",
        "TR387": "9387",
        "TR388": "9388",
        "TR321": "9321",
        "TR322": "9322",
        "TR369": "9369",
    }
    for rid, code in expected.items():
        assert RULES[rid].retourcode == code
        assert RULES[rid].family == "allocation"
        assert RULES[rid].omschrijving  # the official Dutch text from retourcode.csv


# ============================================================================ date helpers
def test_iso_weeks_worked_example_inspanningsgericht():
    # allocation 3 h/week 2022-10-11..2022-12-28: Oct 4 weeks, Nov 5, Dec 5; total weeks 41-52 = 12
    assert A.iso_weeks_touched("2022-10-11", "2022-10-31") == 4
    assert A.iso_weeks_touched("2022-11-01", "2022-11-30") == 5
    assert A.iso_weeks_touched("2022-12-01", "2022-12-28") == 5
    assert A.iso_weeks_touched("2022-10-11", "2022-12-28") == 12
    assert A.iso_weeks_touched("2025-03-01", "2025-03-31") == 6  # weeks 9-14 (Blaricum planted mistake)
    assert A.iso_weeks_touched("2024-12-30", "2025-01-05") == 1  # ISO week 1 of 2025 spans the new year
    assert A.iso_weeks_touched("2025-03-05", "2025-03-01") == 0


def test_sundays_and_output_weeks_worked_example():
    # € 300/week 2022-10-11..2022-12-31 outputgericht: Oct 3 Sundays, Nov 4, Dec 4 + 1
    assert A.sundays_in("2022-10-11", "2022-10-31") == 3
    assert A.sundays_in("2022-11-01", "2022-11-30") == 4
    assert A.sundays_in("2022-12-01", "2022-12-31") == 4
    weeks = [
        A.output_weeks_in(b, e, "2022-10-11", "2022-12-31")
        for b, e in [("2022-10-11", "2022-10-31"), ("2022-11-01", "2022-11-30"), ("2022-12-01", "2022-12-31")]
    ]
    assert weeks == [3, 4, 5]
    # ending on a Sunday: no extra week
    assert A.output_weeks_in("2022-12-01", "2022-12-25", "2022-10-11", "2022-12-25") == 4
    # the months add up to the ISO weeks of the allocation, also without any Sunday in it
    assert A.output_weeks_in("2025-03-04", "2025-03-07", "2025-03-04", "2025-03-07") == 1
    assert A.iso_weeks_touched("2025-03-04", "2025-03-07") == 1


def test_helpers_vectorised_keep_index_and_missing():
    begin = pd.Series(pd.to_datetime(["2025-01-15", "2025-02-01", None]), index=[7, 8, 9])
    end = pd.Series(pd.to_datetime(["2025-03-01", "2025-02-28", "2025-03-31"]), index=[7, 8, 9])
    months = A.months_touched(begin, end)
    assert months.index.tolist() == [7, 8, 9]
    assert months.tolist()[:2] == [3, 1] and months.isna().tolist() == [False, False, True]
    assert A.days_in(begin, end).tolist()[:2] == [46, 28]
    assert A.days_in("2025-03-01", "2025-03-31") == 31
    assert A.sundays_in(None, "2025-03-31") is None


def test_allowances_explained():
    per = A.period_allowance("2", 3, "04", "2025-03-01", "2025-03-31")
    assert per.loc[0, "toegestaan"] == 18
    assert per.loc[0, "uitleg"] == "3 uur/week × 6 ISO weeks touched by 2025-03"
    out = A.period_allowance(
        "2", 30000, "83", "2022-12-01", "2022-12-31", ingangsdatum="2022-10-11", einddatum="2022-12-31"
    )
    assert out.loc[0, "toegestaan"] == 150000  # no variant given: unit 83 is outputgericht
    assert "4 Sundays in 2022-12 + 1" in out.loc[0, "uitleg"] and "€ 300,00/week" in out.loc[0, "uitleg"]
    total = A.total_allowance(
        ["2", "1", "4", "6", "2"],
        [3, 2, 10, 40, 3],
        ["04", "04", "16", "04", "04"],
        "2022-10-11",
        ["2022-12-28"] * 4 + [None],
    )
    assert total["toegestaan"].tolist()[:4] == [36, 158, 30, 40]
    assert pd.isna(total["toegestaan"][4])  # open-ended week allocation: no total
    assert total.loc[0, "uitleg"] == "3 uur/week × 12 ISO weeks from 2022-10-11 to 2022-12-28"


# ================================================================================ matching
def test_match_by_number_and_other_gemeente():
    allocs = allocations(allocation(1, 406250101), allocation(2, 376250205, gemeente="0376"))
    lines = [
        line(1, toewijzingnummer="406250101"),
        line(2, toewijzingnummer="0406250101"),
        line(3, toewijzingnummer="376250205"),
        line(4, toewijzingnummer="123"),
    ]
    ctx = context(lines, allocs)
    assert ctx.lines["toewijzing_id"].tolist()[:2] == [1, 1]
    assert ctx.lines["toewijzing_match"].tolist()[:2] == ["nummer", "nummer"]
    assert ctx.lines["toewijzing_id"].isna().tolist() == [False, False, True, True]
    assert rejected("TR338", ctx) == [3, 4]
    assert "toewijzingnummer 376250205 not found for gemeente 0406 (it exists for gemeente 0376)" in message(
        "TR338", ctx, 3
    )
    assert "toewijzingnummer 123 not found for gemeente 0406" in message("TR338", ctx, 4)
    # unmatched lines are judged by TR338 only
    assert all_findings(ctx) == {3: ["TR338"], 4: ["TR338"]}


def test_match_by_number_other_aanbieder_is_not_found():
    allocs = allocations(allocation(1, 406250307, aanbieder="98001303"))
    ctx = context([line(1, toewijzingnummer="406250307")], allocs)
    assert rejected("TR338", ctx) == [1]
    assert "is for another aanbieder (98001303), not 98001101" in message("TR338", ctx, 1)


def test_tr304_allocation_of_another_client():
    allocs = allocations(allocation(1, 406250101, bsn=BSN2))
    ctx = context([line(1, toewijzingnummer="406250101"), line(2, toewijzingnummer="406250101", bsn=BSN2)], allocs)
    assert rejected("TR304", ctx) == [1]
    msg = message("TR304", ctx, 1)
    assert msg == "toewijzing 406250101 belongs to another client (bsn *****0018), not to this line's client"
    assert BSN2 not in msg


def test_texts_as_the_rules_compare_them():
    # empty and missing are both "no value"; a number from a driver compares as its text
    col = pd.Series(["45", "", None, np.nan, "45A48"], dtype=object)
    assert as_text(col).tolist()[0] == "45" and as_text(col).tolist()[4] == "45A48"
    assert as_text(col).isna().tolist() == [False, True, True, True, False]
    assert as_text(pd.Series([45, None, "x"], dtype=object)).fillna("-").tolist() == ["45", "-", "x"]
    assert as_text(pd.Series(["", "54"], dtype="str")).fillna("-").tolist() == ["-", "54"]
    assert col.tolist()[1] == ""  # the frame's own values are left alone


def test_content_specific_beats_aspecific_and_generic():
    allocs = allocations(
        allocation(1, 406250116, productcode=None, volume=None, eenheid=None, frequentie=None, budget=150000),
        allocation(2, 406250101),
        allocation(
            3,
            406250199,
            productcode=None,
            productcategorie=None,
            volume=None,
            eenheid=None,
            frequentie=None,
            budget=900000,
        ),
    )
    ctx = context([line(1), line(2, productcode="45A49"), line(3, productcategorie="54", productcode="54001")], allocs)
    assert ctx.lines["toewijzing_id"].tolist() == [2, 1, 3]  # specific, aspecific (45), generic
    assert ctx.lines["toewijzing_match"].tolist() == ["inhoud"] * 3


def test_content_containing_beats_overlapping_and_ties_are_ambiguous():
    # 101 only overlaps March (ends 03-15), 102 contains it: 102 wins although both are specific
    allocs = allocations(
        allocation(1, 406250101, einddatum="2025-03-15"), allocation(2, 406250102, ingangsdatum="2025-03-01")
    )
    ctx = context([line(1)], allocs)
    assert ctx.lines["toewijzing_id"].tolist() == [2]
    # two allocations that both contain the period: ambiguous → TR338 naming both
    allocs = allocations(allocation(1, 406250101), allocation(2, 406250102))
    ctx = context([line(1)], allocs)
    assert ctx.lines["toewijzing_id"].isna().all()
    msg = message("TR338", ctx, 1)
    assert "ambiguous: toewijzingen 406250101, 406250102 fit equally well" in msg
    assert (
        "no toewijzingnummer; searched on content (bsn *****0006, aanbieder 98001101, gemeente 0406, product 45A48 (categorie 45)"
        in msg
    )
    assert BSN not in msg


def test_content_no_match_says_what_was_searched():
    allocs = allocations(
        allocation(1, 406250109, einddatum="2025-02-28"),
        allocation(2, 406250102, productcode="54001", productcategorie="54"),
    )
    ctx = context([line(1), line(2, productcode="45A76"), line(3, bsn=BSN2)], allocs)
    assert rejected("TR338", ctx) == [1, 2, 3]
    assert (
        "no allocation for this product covers the period (toewijzing 406250109 runs 2025-01-01..2025-02-28)"
        in message("TR338", ctx, 1)
    )
    assert "this client's allocations are for other products: 45A48, 54001" in message("TR338", ctx, 2)
    assert "this client has no allocation from this gemeente to this aanbieder" in message("TR338", ctx, 3)


def test_deleted_allocation_matches_and_only_tr384_rejects():
    # 417250304: deleted (reden 13, einddatum = ingangsdatum = 2025-02-01); a February line
    deleted = allocation(
        1,
        417250304,
        gemeente="0417",
        ingangsdatum="2025-02-01",
        einddatum="2025-02-01",
        reden_wijziging="13",
        toewijzingsdatum="2025-01-27",
        verwijderd=True,
    )
    ctx = context(
        [line(1, "2025-02-01", "2025-02-28", gemeente="0417"), line(2, "2025-03-01", "2025-03-31", gemeente="0417")],
        allocations(deleted),
    )
    assert ctx.lines["toewijzing_id"].tolist() == [1, 1]
    assert all_findings(ctx) == {1: ["TR384"], 2: ["TR384"]}
    assert message("TR384", ctx, 1) == (
        "toewijzing 417250304 (matched on content) was deleted (reden wijziging 13, toewijzingsdatum 2025-01-27): "
        "a deleted allocation counts as never sent"
    )
    # a live allocation is preferred over a deleted one
    live = allocation(2, 417250399, gemeente="0417", ingangsdatum="2025-02-01")
    ctx = context([line(1, "2025-02-01", "2025-02-28", gemeente="0417")], allocations(deleted, live))
    assert ctx.lines["toewijzing_id"].tolist() == [2]
    assert all_findings(ctx) == {}


def test_deleted_flag_derived_when_the_column_is_missing():
    deleted = allocations(
        allocation(1, 417250304, ingangsdatum="2025-02-01", einddatum="2025-02-01", reden_wijziging="13")
    )
    ctx = context([line(1, toewijzingnummer="417250304")], deleted.drop(columns="verwijderd"))
    assert rejected("TR384", ctx) == [1]
    assert "toewijzing 417250304 was deleted" in message("TR384", ctx, 1)


# ============================================================================ period rules
def test_tr307_tr308_allocation_period_boundaries():
    allocs = allocations(allocation(1, 406250109, ingangsdatum="2025-01-01", einddatum="2025-02-28"))
    lines = [
        line(1, "2025-02-01", "2025-02-28", toewijzingnummer="406250109"),  # last day of the allocation: passes
        line(2, "2025-03-01", "2025-03-31", toewijzingnummer="406250109"),  # a month later: TR308
        line(3, "2024-12-01", "2024-12-31", toewijzingnummer="406250109"),  # before the start: TR307
        line(4, "2025-01-01", "2025-01-31", toewijzingnummer="406250109"),  # first day: passes
    ]
    ctx = context(lines, allocs)
    assert rejected("TR308", ctx) == [2]
    assert rejected("TR307", ctx) == [3]
    assert (
        message("TR308", ctx, 2)
        == "toewijzing 406250109: ProductPeriode ends 2025-03-31, after the allocation's einddatum 2025-02-28"
    )
    assert (
        message("TR307", ctx, 3)
        == "toewijzing 406250109: ProductPeriode begins 2024-12-01, before the allocation's ingangsdatum 2025-01-01"
    )
    # one day after the allocation's end
    allocs = allocations(allocation(1, 406250113, einddatum="2025-03-20"))
    ctx = context(
        [line(1, "2025-03-01", "2025-03-20", volume=9), line(2, "2025-03-01", "2025-03-21", volume=9)], allocs
    )
    assert rejected("TR308", ctx) == [2]
    assert "(matched on content)" in message("TR308", ctx, 2)


def test_tr387_mid_month_start():
    allocs = allocations(
        allocation(1, 406250105, productcode="54002", productcategorie="54", ingangsdatum="2025-03-10")
    )
    lines = [
        line(1, "2025-03-10", "2025-03-31", productcode="54002", productcategorie="54"),  # = ingangsdatum: passes
        line(2, "2025-03-01", "2025-03-31", productcode="54002", productcategorie="54"),  # should start on 03-10
        line(3, "2025-04-01", "2025-04-30", productcode="54002", productcategorie="54"),  # next month from the 1st
        line(4, "2025-04-02", "2025-04-30", productcode="54002", productcategorie="54"),  # not the 1st
    ]
    ctx = context(lines, allocs)
    assert rejected("TR387", ctx) == [2, 4]
    assert message("TR387", ctx, 2).endswith(
        "begins 2025-03-01; expected 2025-03-10 (the allocation's ingangsdatum in that month)"
    )
    assert message("TR387", ctx, 4).endswith("begins 2025-04-02; expected 2025-04-01 (the first day of the month)")
    assert rejected("TR307", ctx) == [2]  # matched on overlap, and it begins before the allocation


def test_tr307_and_tr387_both_for_a_start_before_a_mid_month_ingangsdatum():
    allocs = allocations(allocation(1, 406250105, ingangsdatum="2025-03-10"))
    ctx = context([line(1, "2025-03-01", "2025-03-31", toewijzingnummer="406250105")], allocs)
    assert all_findings(ctx) == {1: ["TR307", "TR387"]}


def test_tr388_mid_month_end():
    allocs = allocations(
        allocation(
            1, 406250113, productcode="44A08", productcategorie="44", einddatum="2025-03-20", eenheid="14", volume=7
        )
    )
    common = dict(productcode="44A08", productcategorie="44", eenheid="14", volume=20)
    lines = [
        line(1, "2025-03-01", "2025-03-20", **common),  # = einddatum: passes
        line(2, "2025-03-01", "2025-03-19", **common),  # should end on 03-20
        line(3, "2025-02-01", "2025-02-28", **common),  # whole earlier month: passes
        line(4, "2025-02-01", "2025-02-27", **common),  # not the last day
    ]
    ctx = context(lines, allocs)
    assert rejected("TR388", ctx) == [2, 4]
    assert message("TR388", ctx, 2).endswith(
        "ends 2025-03-19; expected 2025-03-20 (the allocation's einddatum in that month)"
    )
    assert message("TR388", ctx, 4).endswith("ends 2025-02-27; expected 2025-02-28 (the last day of the month)")


# =========================================================================== product rules
def test_tr339_tr340_product_of_a_numbered_allocation():
    allocs = allocations(allocation(1, 406250101))
    lines = [
        line(1, toewijzingnummer="406250101"),
        line(2, toewijzingnummer="406250101", productcode="45A49"),
        line(3, toewijzingnummer="406250101", productcategorie="54", productcode="54001"),
    ]
    ctx = context(lines, allocs)
    assert rejected("TR340", ctx) == [2, 3]
    assert rejected("TR339", ctx) == [3]
    assert message("TR340", ctx, 2) == "toewijzing 406250101: productcode 45A49 ≠ the allocation's 45A48"
    assert message("TR339", ctx, 3) == "toewijzing 406250101: productcategorie 54 ≠ the allocation's 45"
    # aspecific allocation: any code of the category; TR340 has nothing to compare
    allocs = allocations(
        allocation(1, 406250116, productcode=None, volume=None, eenheid=None, frequentie=None, budget=150000)
    )
    ctx = context([line(1, toewijzingnummer="406250116", productcode="45A49")], allocs, contract_eenheid="04")
    assert all_findings(ctx) == {}


def test_tr341_units():
    allocs = allocations(allocation(1, 406250101))
    lines = [
        line(1, toewijzingnummer="406250101", eenheid="01", volume=600),  # minutes against hours: allowed
        line(2, toewijzingnummer="406250101", eenheid="16", volume=2),
        line(3, toewijzingnummer="406250101", eenheid="04", volume=12),
    ]
    ctx = context(lines, allocs)
    assert rejected("TR341", ctx) == [2]
    assert (
        message("TR341", ctx, 2)
        == "toewijzing 406250101: eenheid 16 (dagdeel) does not fit the allocation's eenheid 04 (uur)"
    )
    # hours against an allocation in minutes is not allowed (only the other way round)
    ctx = context(
        [line(1, toewijzingnummer="406250101", eenheid="04")],
        allocations(allocation(1, 406250101, eenheid="01", volume=180)),
    )
    assert rejected("TR341", ctx) == [1]
    # aspecific allocation without Omvang: the contract's unit decides
    aspecific = allocations(
        allocation(1, 406250116, productcode=None, volume=None, eenheid=None, frequentie=None, budget=150000)
    )
    ctx = context([line(1, eenheid="16", volume=2), line(2, eenheid="01", volume=90)], aspecific, contract_eenheid="04")
    assert rejected("TR341", ctx) == [1]
    assert message("TR341", ctx, 1) == (
        "toewijzing 406250116 (matched on content): eenheid 16 (dagdeel) does not fit the contract's eenheid 04 (uur) "
        "for 45A48 (the allocation has no Omvang)"
    )


# ================================================================================= TR321
def worked_allocation(**kw) -> pd.DataFrame:
    return allocations(allocation(1, 406250101, ingangsdatum="2022-10-11", einddatum="2022-12-28", **kw))


@pytest.mark.parametrize(
    "begin,end,limit",
    [("2022-10-11", "2022-10-31", 12), ("2022-11-01", "2022-11-30", 15), ("2022-12-01", "2022-12-28", 15)],
)
def test_tr321_inspanningsgericht_worked_example(begin, end, limit):
    allocs = worked_allocation()
    ctx = context([line(1, begin, end, volume=limit), line(2, begin, end, volume=limit + 1)], allocs)
    assert rejected("TR321", ctx) == [2]  # exactly at the limit passes, one over fails


def test_tr321_message_blaricum_example():
    allocs = allocations(allocation(1, 376250205, gemeente="0376", aanbieder="98001202", bsn="999900225"))
    ctx = context(
        [
            line(1, volume=25, gemeente="0376", aanbieder="98001202", bsn="999900225"),
            line(2, volume=18, gemeente="0376", aanbieder="98001202", bsn="999900225"),
        ],
        allocs,
    )
    assert rejected("TR321", ctx) == [1]
    assert message("TR321", ctx, 1) == (
        "toewijzing 376250205 (matched on content): volume 25 uur exceeds 18 uur allowed: "
        "3 uur/week × 6 ISO weeks touched by 2025-03"
    )


@pytest.mark.parametrize(
    "begin,end,weeks",
    [("2022-10-11", "2022-10-31", 3), ("2022-11-01", "2022-11-30", 4), ("2022-12-01", "2022-12-31", 5)],
)
def test_tr321_outputgericht_worked_example(begin, end, weeks):
    allocs = allocations(
        allocation(
            1,
            406250101,
            productcode="45A76",
            ingangsdatum="2022-10-11",
            einddatum="2022-12-31",
            volume=30000,
            eenheid="83",
            frequentie="2",
        )
    )
    limit = 30000 * weeks  # € 900, € 1.200, € 1.500
    lines = [
        line(1, begin, end, volume=limit, eenheid="83", tarief=None, bedrag=limit, productcode="45A76"),
        line(2, begin, end, volume=limit + 1, eenheid="83", tarief=None, bedrag=limit + 1, productcode="45A76"),
    ]
    ctx = context(lines, allocs, variant="outputgericht")
    assert rejected("TR321", ctx) == [2]
    if weeks == 5:
        assert message("TR321", ctx, 2) == (
            "toewijzing 406250101 (matched on content): volume € 1.500,01 exceeds € 1.500,00 allowed: "
            "€ 300,00/week × 4 Sundays in 2022-12 + 1 (the allocation's last, partial week)"
        )


def test_tr321_minutes_against_hours_converted():
    allocs = worked_allocation()
    ctx = context(
        [
            line(1, "2022-10-11", "2022-10-31", volume=720, eenheid="01"),
            line(2, "2022-10-11", "2022-10-31", volume=721, eenheid="01"),
        ],
        allocs,
    )
    assert rejected("TR341", ctx) == []
    assert rejected("TR321", ctx) == [2]
    assert message("TR321", ctx, 2) == (
        "toewijzing 406250101 (matched on content): volume 721 min exceeds 720 min allowed: "
        "3 uur/week × 4 ISO weeks touched by 2022-10-11..2022-10-31 = 12 uur = 720 min"
    )


def test_tr321_per_day_per_month_and_total_frequency():
    day = allocations(
        allocation(1, 406250113, productcode="44A08", productcategorie="44", volume=1, eenheid="14", frequentie="1")
    )
    ctx = context(
        [
            line(1, volume=31, productcode="44A08", productcategorie="44", eenheid="14"),
            line(2, "2025-02-01", "2025-02-28", volume=29, productcode="44A08", productcategorie="44", eenheid="14"),
        ],
        day,
    )
    assert rejected("TR321", ctx) == [2]
    assert message("TR321", ctx, 2).endswith(
        "volume 29 etmaal exceeds 28 etmaal allowed: 1 etmaal/dag × 28 days in 2025-02"
    )
    month = allocations(
        allocation(
            1,
            406250115,
            productcode="41A03",
            productcategorie="41",
            volume=16,
            eenheid="16",
            frequentie="4",
            ingangsdatum="2025-01-15",
        )
    )
    common = dict(productcode="41A03", productcategorie="41", eenheid="16")
    ctx = context([line(1, "2025-01-15", "2025-01-31", volume=16, **common), line(2, volume=17, **common)], month)
    assert rejected("TR321", ctx) == [2]  # a partial first month allows the whole monthly volume (IV078)
    assert message("TR321", ctx, 2).endswith("exceeds 16 dagdeel allowed: 16 dagdeel/maand for 2025-03")
    total = allocations(allocation(1, 406250111, productcode="45A76", volume=40, frequentie="6"))
    ctx = context([line(1, volume=40, productcode="45A76")], total)
    assert rejected("TR321", ctx) == []  # frequentie 6: no per-period check


# ================================================================================= TR322
def hist(id, begin, end, volume, **kw) -> dict:
    row = line(id, begin, end, volume, batch=0, **kw)
    return row


def test_tr322_worked_example_total_36_hours():
    allocs = worked_allocation()
    earlier = [hist(101, "2022-10-11", "2022-10-31", 12), hist(102, "2022-11-01", "2022-11-30", 15)]
    # December: 9 more fits (36), 10 would be 37
    assert rejected("TR322", context([line(1, "2022-12-01", "2022-12-28", 9)], allocs, earlier)) == []
    ctx = context([line(1, "2022-12-01", "2022-12-28", 10)], allocs, earlier)
    assert rejected("TR322", ctx) == [1]
    assert message("TR322", ctx, 1) == (
        "toewijzing 406250101 (matched on content): total 37 uur on the allocation exceeds 36 uur allowed: "
        "3 uur/week × 12 ISO weeks from 2022-10-11 to 2022-12-28 (approved earlier 27 uur, "
        "this batch up to and including this line 10 uur)"
    )


def test_tr322_credited_history_and_credits_in_the_batch():
    allocs = worked_allocation()
    earlier = [
        hist(101, "2022-10-11", "2022-10-31", 12, referentienummer="A1"),
        hist(102, "2022-11-01", "2022-11-30", 15, referentienummer="A2", gecrediteerd=True),
        hist(103, "2022-11-01", "2022-11-30", 15, referentienummer="A3", debet_credit="C", vorig_referentienummer="A2"),
        hist(104, "2022-11-01", "2022-11-30", 10, referentienummer="A4"),
    ]
    # approved and not credited: 12 + 10 = 22; 14 more fits, 15 does not
    assert rejected("TR322", context([line(1, "2022-12-01", "2022-12-28", 14)], allocs, earlier)) == []
    assert rejected("TR322", context([line(1, "2022-12-01", "2022-12-28", 15)], allocs, earlier)) == [1]
    # a credit of A4 (10) in this batch makes room for its correction, whatever the order in the file
    batch = [
        line(1, "2022-11-01", "2022-11-30", 15, referentienummer="B2"),
        line(2, "2022-11-01", "2022-11-30", 10, referentienummer="B1", debet_credit="C", vorig_referentienummer="A4"),
    ]
    ctx = context(batch, allocs, earlier)
    assert rejected("TR322", ctx) == []
    # credits are never rejected by allocation rules (IV085)
    assert 2 not in all_findings(ctx)


def test_tr322_accumulates_in_order_and_rejects_only_lines_crossing():
    allocs = allocations(allocation(1, 406250111, productcode="45A76", volume=40, frequentie="6"))
    common = dict(productcode="45A76")
    batch = [
        line(3, "2025-03-01", "2025-03-31", 10, **common),
        line(1, "2025-01-06", "2025-01-31", 20, **common),
        line(2, "2025-02-01", "2025-02-28", 20, **common),
        line(4, "2025-03-01", "2025-03-31", 1, **common),
    ]
    ctx = context(batch, allocs)
    # order by begindatum then id: 1 (20), 2 (40 = limit), 3 (50), 4 (51)
    assert rejected("TR322", ctx) == [3, 4]
    assert "total 50 uur on the allocation exceeds 40 uur allowed: 40 uur in total" in message("TR322", ctx, 3)


def test_tr322_minutes_and_hours_on_one_allocation():
    allocs = allocations(allocation(1, 406250111, productcode="45A76", volume=2, frequentie="6"))
    earlier = [hist(101, "2025-01-01", "2025-01-31", 1, productcode="45A76")]  # 1 uur = 60 min
    ok = context([line(1, volume=60, eenheid="01", productcode="45A76")], allocs, earlier)
    assert rejected("TR322", ok) == []
    bad = context([line(1, volume=61, eenheid="01", productcode="45A76")], allocs, earlier)
    assert rejected("TR322", bad) == [1]
    assert message("TR322", bad, 1) == (
        "toewijzing 406250111 (matched on content): total 121 min on the allocation exceeds 120 min allowed: "
        "2 uur in total = 120 min (approved earlier 60 min, this batch up to and including this line 61 min)"
    )


def test_tr322_history_matched_to_the_current_version_of_a_resent_allocation():
    # history was judged on id 7 (the first version); the engine matches every line again in each
    # run, so it counts on the current version of 406250110 (id 8)
    allocs = allocations(allocation(8, 406250110, productcode="45A76", volume=10, frequentie="6", reden_wijziging="04"))
    earlier = [hist(101, "2025-01-01", "2025-01-31", 8, productcode="45A76", toewijzingnummer="406250110")]
    ctx = context([line(1, volume=3, productcode="45A76", toewijzingnummer="406250110")], allocs, earlier)
    assert ctx.history["toewijzing_id"].tolist() == [8]
    assert rejected("TR322", ctx) == [1]
    assert "approved earlier 8 uur" in message("TR322", ctx, 1)


# ================================================================================= TR369
def test_tr369_budget_boundary():
    allocs = allocations(
        allocation(1, 406250116, productcode=None, volume=None, eenheid=None, frequentie=None, budget=150000)
    )
    earlier = [hist(101, "2025-02-01", "2025-02-28", 10, tarief=8172, bedrag=81720)]  # € 817,20
    exact = [
        line(1, volume=4, tarief=7980, bedrag=31920),
        line(2, volume=4, productcode="45A49", tarief=9090, bedrag=36360),
    ]
    ctx = context(exact, allocs, earlier, contract_eenheid="04")
    assert 81720 + 31920 + 36360 == 150000
    assert rejected("TR369", ctx) == []
    over = [
        line(1, volume=4, tarief=7980, bedrag=31920),
        line(2, volume=4, productcode="45A49", tarief=9090, bedrag=36361),
    ]
    ctx = context(over, allocs, earlier, contract_eenheid="04")
    assert rejected("TR369", ctx) == [2]
    assert message("TR369", ctx, 2) == (
        "toewijzing 406250116 (matched on content): total € 1.500,01 on the allocation exceeds its budget € 1.500,00 "
        "(approved earlier € 817,20, this batch up to and including this line € 682,81)"
    )
    # a credit in the batch reduces the sum
    credit = line(3, "2025-02-01", "2025-02-28", 10, tarief=8172, bedrag=81720, debet_credit="C")
    assert rejected("TR369", context([*over, credit], allocs, earlier, contract_eenheid="04")) == []


# ====================================================================== general behaviour
def test_credit_lines_are_never_rejected():
    allocs = allocations(allocation(1, 406250109, einddatum="2025-02-28"))
    credit = line(
        1, "2025-03-01", "2025-03-31", 99, debet_credit="C", toewijzingnummer="406250109", vorig_referentienummer="X"
    )
    orphan = line(2, "2025-03-01", "2025-03-31", 99, debet_credit="C", toewijzingnummer="999")
    assert all_findings(context([credit, orphan], allocs)) == {}


def test_no_allocations_at_all():
    empty = allocations(allocation(1, 1)).iloc[:0]
    ctx = context([line(1), line(2, toewijzingnummer="406250101")], empty)
    assert all_findings(ctx) == {1: ["TR338"], 2: ["TR338"]}


def test_matching_is_vectorised_and_fast():
    rng = np.random.default_rng(7)
    n_alloc, n_lines = 20_000, 200_000
    bsns = np.array([f"{i:09d}" for i in range(n_alloc // 2)])
    allocs = pd.DataFrame(
        {
            "id": np.arange(1, n_alloc + 1),
            "toewijzingnummer": [str(100000000 + i) for i in range(n_alloc)],
            "bsn": np.repeat(bsns, 2),
            "aanbieder": AGB,
            "gemeente": GEM,
            "productcategorie": "45",
            "productcode": np.tile(["45A48", "45A49"], n_alloc // 2),
            "ingangsdatum": D("2025-01-01"),
            "einddatum": D("2025-12-31"),
            "volume": pd.array([3] * n_alloc, dtype="Int64"),
            "eenheid": "04",
            "frequentie": "2",
            "budget": pd.array([pd.NA] * n_alloc, dtype="Int64"),
            "reden_wijziging": None,
            "toewijzingsdatum": D("2024-12-16"),
            "verwijderd": False,
        }
    )
    pick = rng.integers(0, n_alloc, n_lines)
    numbered = rng.random(n_lines) < 0.5
    lines = pd.DataFrame(
        {
            "id": np.arange(1, n_lines + 1),
            "bsn": allocs["bsn"].to_numpy()[pick],
            "aanbieder": AGB,
            "gemeente": GEM,
            "toewijzingnummer": np.where(numbered, allocs["toewijzingnummer"].to_numpy()[pick], None),
            "productcategorie": "45",
            "productcode": allocs["productcode"].to_numpy()[pick],
            "begindatum": D("2025-03-01"),
            "einddatum": D("2025-03-31"),
        }
    )
    start = time.perf_counter()
    result = match_allocations(lines, normalised_allocations(allocs))
    elapsed = time.perf_counter() - start
    assert (result["toewijzing_id"].to_numpy() == pick + 1).all()
    assert elapsed < 10, f"matching took {elapsed:.1f} s"


# ================================================================ through the real store
# toewijzingen_actueel (C) and the validate engine (B) with the real importer.


def test_resent_allocation_current_version_through_the_store(db_url):
    """Two versions of 406250110 in the store: toewijzingen_actueel gives the extended one, so a
    March line fits; the deleted 417250304 is flagged verwijderd and rejected by TR384 only."""
    from jzcli.store import agreements
    from jzcli.store.schema import toewijzingen
    from jzcli.store.store import Store

    store = Store.open(db_url)
    first = allocation(0, 406250110, einddatum="2025-02-28", toewijzingsdatum="2024-12-16")
    second = allocation(0, 406250110, einddatum="2025-06-30", reden_wijziging="04", toewijzingsdatum="2025-02-20")
    live = allocation(0, 417250304, gemeente="0417", ingangsdatum="2025-02-01", toewijzingsdatum="2025-01-20")
    gone = allocation(
        0,
        417250304,
        gemeente="0417",
        ingangsdatum="2025-02-01",
        einddatum="2025-02-01",
        reden_wijziging="13",
        toewijzingsdatum="2025-01-27",
    )
    rows = allocations(first, second, live, gone).drop(columns=["id", "verwijderd"])
    with store.transaction() as conn:
        batch = store.add_batch(conn, soort="toewijzingen", bestand="t.xlsx", pad="/t.xlsx", sha256="x" * 64, grootte=1)
        store.insert_frame(
            conn, toewijzingen, rows.assign(batch=batch, bron="t.xlsx", blad="Toewijzingen", rij=range(2, 6))
        )
    current = agreements.toewijzingen_actueel(store)
    assert len(current) == 2
    ctx = context(
        [line(1, toewijzingnummer="406250110"), line(2, "2025-02-01", "2025-02-28", gemeente="0417")], current
    )
    assert ctx.lines["toewijzing_match"].tolist() == ["nummer", "inhoud"]
    assert all_findings(ctx) == {2: ["TR384"]}
    assert message("TR384", ctx, 2).startswith(
        "toewijzing 417250304 (matched on content) was deleted (reden wijziging 13, toewijzingsdatum 2025-01-27)"
    )
    store.close()


def test_sample_data_allocation_findings(tmp_path, db_url):
    """The sample files through import and validate: the allocation rules find exactly the planted
    mistakes #2 (TR308), #3 (TR321) and #6 (TR384), and nothing else (re-sent 406250110, mid-month
    starts/ends, aspecific budget, Blaricum lines exactly at the limit all pass)."""
    from conftest import SAMPLES
    from jzcli.engine import run as V
    from jzcli.importer import import_paths
    from jzcli.readers.prepared import ImportOptions
    from jzcli.store.store import Store

    store = Store.open(db_url)
    agreements_files = ["contract_gooi-en-vechtstreek_2025.toml", "tarieven_twente_2025.xlsx", "toewijzingen_2025.xlsx"]
    results = import_paths(store, [SAMPLES / n for n in agreements_files], ImportOptions())
    assert all(r.status != "error" for r in results)
    for name in [
        "laren-huizen_kindcentrum-t-gooi_2025-02.xlsx",
        "enschede_twentezorg_2025.xlsx",
        "huizen_zorgfirst_2025-03.xlsx",
        "blaricum_jeugdzorg-de-horizon_2025-03.csv",
        "huizen_zorgfirst_2025-04.xlsx",
    ]:
        opts = ImportOptions(aanbieder="98001202" if name.startswith("blaricum") else None)
        assert all(r.status != "error" for r in import_paths(store, [SAMPLES / name], opts))
    result = V.validate(store, today=dt.date(2025, 5, 15))
    f = result.findings
    family = f[f["regel"].isin(ALLOCATION_RULES)]
    got = {
        (bron, None if pd.isna(blad) else blad, int(rij), regel)
        for bron, blad, rij, regel in zip(family["bron"], family["blad"], family["rij"], family["regel"])
    }
    assert got == {
        ("huizen_zorgfirst_2025-03.xlsx", "Declaratie", 13, "TR308"),
        ("blaricum_jeugdzorg-de-horizon_2025-03.csv", None, 6, "TR321"),
        ("laren-huizen_kindcentrum-t-gooi_2025-02.xlsx", "Laren", 11, "TR384"),
    }
    melding = dict(zip(family["regel"], family["melding"]))
    assert (
        melding["TR308"]
        == "toewijzing 406250109: ProductPeriode ends 2025-03-31, after the allocation's einddatum 2025-02-28"
    )
    assert melding["TR321"] == (
        "toewijzing 376250205 (matched on content): volume 25 uur exceeds 18 uur allowed: 3 uur/week × 6 ISO weeks touched by 2025-03"
    )
    assert melding["TR384"].startswith("toewijzing 417250304 (matched on content) was deleted (reden wijziging 13")
    # planted mistake #6: TR384 is the only code on that line
    laren11 = f[(f["bron"].str.startswith("laren")) & (f["blad"] == "Laren") & (f["rij"] == 11)]
    assert laren11["regel"].tolist() == ["TR384"]
    # March row 14 draws on the re-sent (extended) 406250110 and is approved
    v = result.verdicts
    row14 = v[(v["bron"] == "huizen_zorgfirst_2025-03.xlsx") & (v["rij"] == 14)]
    assert row14["status"].tolist() == ["goedgekeurd"]
    store.close()


def test_totals_across_batches_with_credit_and_correction(tmp_path, db_url):
    """TR322 and TR369 through import + validate: approved lines of earlier batches count, a
    rejected line does not, and a credit with its correction in a later batch makes room."""
    import validate_kit as K
    from jzcli.engine import run as V

    bsn = K.BSNS[0]
    allocs = [
        # 3 uur/week, 2025-01-01 (week 1) .. 2025-03-31 (week 14): 14 weeks = 42 uur in total
        [
            "100001",
            bsn,
            K.AGB,
            K.GEM,
            "45",
            "45A48",
            dt.date(2025, 1, 1),
            dt.date(2025, 3, 31),
            3,
            "04",
            "2",
            None,
            None,
            dt.date(2024, 12, 16),
        ],
        # aspecific (categorie 54) with a budget of € 500,00
        [
            "100002",
            bsn,
            K.AGB,
            K.GEM,
            "54",
            None,
            dt.date(2025, 1, 1),
            dt.date(2025, 12, 31),
            None,
            None,
            None,
            500,
            None,
            dt.date(2024, 12, 16),
        ],
    ]
    jan, feb = (dt.date(2025, 1, 1), dt.date(2025, 1, 31)), (dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    batch1 = [
        K.line(bsn, "45A48", begin=jan[0], end=jan[1], volume=15, ref="B1R1", decl="B1", nummer="100001"),
        K.line(bsn, "45A48", begin=feb[0], end=feb[1], volume=12, ref="B1R2", decl="B1", nummer="100001"),
        K.line(bsn, "54002", begin=feb[0], end=feb[1], volume=3, ref="B1R3", decl="B1", nummer="100002"),  # € 295,50
    ]
    batch2 = [
        K.line(bsn, "45A48", volume=16, ref="B2R1", decl="B2", nummer="100001"),  # 27 + 16 = 43 > 42
        K.line(bsn, "54M01", volume=2, ref="B2R2", decl="B2", nummer="100002"),  # € 174,60: € 470,10
        K.line(bsn, "54002", volume=1, ref="B2R3", decl="B2", nummer="100002"),  # € 98,50: € 568,60 > € 500
    ]
    batch3 = [
        K.line(
            bsn,
            "45A48",
            begin=feb[0],
            end=feb[1],
            volume=12,
            ref="B3R1",
            vorig="B1R2",
            dc="C",
            decl="B3",
            nummer="100001",
        ),
        K.line(bsn, "45A48", begin=feb[0], end=feb[1], volume=12, ref="B3R2", decl="B3", nummer="100001"),
        K.line(bsn, "45A48", volume=15, ref="B3R3", decl="B3", nummer="100001"),  # 15 + 12 + 15 = 42: exactly the total
    ]
    store = K.setup(db_url, tmp_path, batch1, batch2, batch3, allocations=allocs)
    result = V.validate(store, today=K.TODAY)
    b1, b2, b3 = sorted(result.verdicts["batch"].unique())  # after the contract and allocation batches
    assert K.by_row(result, b1) == {}
    assert K.by_row(result, b2) == {2: {"TR322"}, 4: {"TR369"}}
    assert K.messages(result, 2, "TR322", b2) == [
        "toewijzing 100001: total 43 uur on the allocation exceeds 42 uur allowed: 3 uur/week × 14 ISO weeks from 2025-01-01 "
        "to 2025-03-31 (approved earlier 27 uur, this batch up to and including this line 16 uur)"
    ]
    assert K.messages(result, 4, "TR369", b2) == [
        "toewijzing 100002: total € 568,60 on the allocation exceeds its budget € 500,00 (approved earlier € 295,50, "
        "this batch up to and including this line € 273,10)"
    ]
    assert set(K.status(result, b3).values()) == {"goedgekeurd"}
    store.close()
