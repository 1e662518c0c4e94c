"""Contract rules (rules/contract.py): tariff, contracted product, unit, category, variant."""

from __future__ import annotations

import datetime as dt

from jzcli.engine.run import validate
from validate_kit import BSNS, OTHER_AGB, TODAY, by_row, finding, line, messages, setup, status


def test_tariff_equals_the_contract_tariff_on_begindatum(tmp_path, db_url):
    rows = [
        line(BSNS[0], tarief=79.80, bedrag=798.00),  # row 2: exactly the contract tariff
        line(BSNS[1], tarief=79.81, bedrag=798.10),  # row 3: one cent more
        # 45A49: € 51,00 until 2025-02-28, € 52,00 from 2025-03-01
        line(
            BSNS[2], "45A49", begin=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28), tarief=51.00, bedrag=510.00
        ),  # row 4
        line(BSNS[3], "45A49", tarief=51.00, bedrag=510.00),  # row 5: March at the old tariff
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    assert status(result) == {2: "goedgekeurd", 3: "afgekeurd", 4: "goedgekeurd", 5: "afgekeurd"}
    tr = finding(result, 3, "TR418")
    assert tr["retourcode"] == "0611" and tr["kolom"] == "tarief" and tr["waarde"] == "€ 79,81"
    assert tr["melding"] == "tarief € 79,81 ≠ contracttarief € 79,80 for 45A48 on 2025-03-01"
    assert messages(result, 5, "TR418") == ["tarief € 51,00 ≠ contracttarief € 52,00 for 45A49 on 2025-03-01"]


def test_minute_tariff_is_the_hourly_tariff_over_60_rounded_half_up(tmp_path, db_url):
    rows = [
        # 87,30 / 60 = 1,455 → 1,46
        line(BSNS[0], "54M01", eenheid="01", volume=60, tarief=1.46, bedrag=87.30),  # row 2 passes
        line(BSNS[1], "54M01", eenheid="01", volume=60, tarief=1.45, bedrag=87.30),  # row 3
        # 87,24 / 60 = 1,454 → 1,45
        line(BSNS[2], "54M02", eenheid="01", volume=60, tarief=1.45, bedrag=87.24),  # row 4 passes
        line(BSNS[3], "54M02", eenheid="01", volume=60, tarief=1.46, bedrag=87.24),  # row 5
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    assert status(result) == {2: "goedgekeurd", 3: "afgekeurd", 4: "goedgekeurd", 5: "afgekeurd"}
    assert messages(result, 3, "TR418") == [
        "tarief € 1,45 ≠ contracttarief € 87,30 per uur / 60 = € 1,46 per minute (rounded half up, IV081) for 54M01 on 2025-03-01"
    ]
    assert messages(result, 5, "TR418") == [
        "tarief € 1,46 ≠ contracttarief € 87,24 per uur / 60 = € 1,45 per minute (rounded half up, IV081) for 54M02 on 2025-03-01"
    ]
    assert not by_row(result).get(2, set()) & {"TR346", "JZ-C02"}


def test_product_not_contracted(tmp_path, db_url):
    rows = [
        line(BSNS[0]),  # row 2 contracted
        line(BSNS[1], "99X99", cat="45", tarief=10.00, bedrag=100.00),  # row 3 unknown product
        line(BSNS[2], agb=OTHER_AGB),  # row 4 another aanbieder
        line(BSNS[3], begin=dt.date(2024, 12, 1), end=dt.date(2024, 12, 31)),  # row 5 before the tariff period
        line(BSNS[4], gemeente="0153"),  # row 6 a gemeente without contract
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    assert "JZ-C01" not in by_row(result).get(2, set())
    assert messages(result, 3, "JZ-C01") == ["productcode 99X99 is not in any contract of gemeente 0406 (Huizen)"]
    assert messages(result, 4, "JZ-C01") == [
        "45A48 is contracted by gemeente 0406 (Huizen), but not with aanbieder 98009996"
    ]
    assert messages(result, 5, "JZ-C01") == [
        "no contract of gemeente 0406 (Huizen) with aanbieder 98001101 has a tariff for 45A48 on 2024-12-01 (tariff periods: 2025-01-01..2025-12-31)"
    ]
    assert messages(result, 6, "JZ-C01") == [
        "gemeente 0153 (Enschede) has no contract in the store (import the contract first: jzcli import CONTRACT.toml)"
    ]
    c01 = finding(result, 3, "JZ-C01")
    assert (
        c01["retourcode"] == "JZ-C01"
        and c01["ernst"] == "afkeur"
        and c01["omschrijving"].startswith("Product is niet gecontracteerd")
    )


def test_unit_must_be_the_contract_unit_minutes_against_hours_allowed(tmp_path, db_url):
    rows = [
        line(BSNS[0], eenheid="14", tarief=79.80, bedrag=798.00),  # row 2: etmaal on an hourly product
        line(BSNS[1], "54002", eenheid="01", volume=400, tarief=1.64, bedrag=656.67),  # row 3: minutes vs hours
        line(BSNS[2], "44A27", eenheid="04", volume=3, tarief=95.06, bedrag=285.18),  # row 4: hours vs etmaal
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    assert messages(result, 2, "JZ-C02") == [
        "eenheid 14 (Etmaal) ≠ the contract's eenheid 04 (Uur) for 45A48 (only minutes against an hourly tariff are allowed)"
    ]
    assert "JZ-C02" not in by_row(result).get(3, set())
    assert status(result)[3] == "goedgekeurd"
    assert "JZ-C02" in by_row(result)[4]
    assert "TR418" not in by_row(result)[2]  # a day tariff is not compared with an hour tariff


def test_productcode_belongs_to_the_categorie(tmp_path, db_url):
    rows = [
        line(BSNS[0], cat="45"),  # row 2
        line(BSNS[1], cat="54"),  # row 3: 45A48 is a category 45 product
        line(BSNS[2], cat=None),  # row 4: no category: taken from the contract
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    assert "TR381" not in by_row(result).get(2, set())
    tr = finding(result, 3, "TR381")
    assert tr["retourcode"] == "S329" and tr["waarde"] == "54"
    assert (
        tr["melding"]
        == "productcode 45A48 belongs to productcategorie 45 in the contract of gemeente 0406 (Huizen), not to 54"
    )
    assert status(result)[4] == "goedgekeurd"


def test_taakgericht_product_is_not_declared_per_client(tmp_path, db_url):
    rows = [line(BSNS[0], "43T01", tarief=50.00, bedrag=500.00), line(BSNS[1])]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    assert messages(result, 2, "JZ-C03") == [
        "43T01 is taakgericht in the contract: it is paid as a lump sum outside the declarations, not per client"
    ]
    assert status(result) == {2: "afgekeurd", 3: "goedgekeurd"}


def test_contract_lookup_chooses_among_the_products_that_apply():
    """Several products fit a line: eenheid first (an hourly one for minutes), then a contract
    that names the aanbieder, then the lowest contract and product id; validity bounds apply."""
    import pandas as pd

    from jzcli.engine.derive import contract_lookup

    def prod(contract, product, eenheid, tarief, aanbieders=None, van="2025-01-01", tot=None, code="45A48"):
        return {
            "contract_id": contract,
            "product_id": product,
            "gemeente": "0402",
            "aanbieders": aanbieders,
            "productcategorie": "45",
            "productcode": code,
            "eenheid": eenheid,
            "tarief": tarief,
            "uitvoeringsvariant": None,
            "geldig_van": van,
            "geldig_tot": tot,
        }

    products = pd.DataFrame(
        [
            prod(3, 30, "14", 100),  # for all, other unit
            prod(2, 20, "04", 200),  # for all, hourly
            prod(1, 10, "04", 300, '["98000001"]'),  # names 98000001, hourly
            prod(1, 11, "04", 400, "98000002"),  # names 98000002 (a bare JSON number)
            prod(4, 40, "14", 500, van="2025-06-01"),  # only from June
            prod(5, 50, "14", 600, tot="2025-02-28", code="45A49"),  # ended in February
        ]
    )

    def ln(agb, eenheid, begin="2025-03-01", code="45A48"):
        return {
            "aanbieder": agb,
            "gemeente": "0402",
            "productcode": code,
            "eenheid": eenheid,
            "begindatum": pd.Timestamp(begin),
        }

    lines = pd.DataFrame(
        [
            ln("98000001", "04"),  # named + hourly → 300
            ln("98000001", "01"),  # minutes: hourly products fit; named wins → 300
            ln("98000009", "04"),  # not named: the one for all in its unit → 200
            ln("98000009", "14"),  # unit 14 for all: contract 3 (contract 4 not yet valid) → 100
            ln("98000002", "14", begin="2025-07-01"),  # unit fits 3 and 4: lowest contract → 100
            ln("98000002", "04"),  # named by a bare number → 400
            ln("98000009", "14", code="45A49"),  # 45A49 ended before March → none
            ln("98000009", "14", begin="2025-02-01", code="45A49"),  # within its period → 600
            ln("98000009", None, begin="2024-12-01"),  # before every product → none
        ]
    )
    out = contract_lookup(lines, products)
    assert out["contract_tarief"].tolist() == [300, 300, 200, 100, 100, 400, pd.NA, 600, pd.NA]
    assert out["contract_product_found"].tolist() == [True] * 6 + [False, True, False]
    assert out["contract_eenheid"].tolist() == ["04", "04", "04", "14", "14", "04", None, "14", None]
