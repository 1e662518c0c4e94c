"""Line rules (rules/line.py) on files written by the test, imported and judged for real: for every
rule a line that breaks it and one that just passes."""

from __future__ import annotations

import datetime as dt

from jzcli.engine.run import validate
from jzcli.store.store import Store
from validate_kit import (
    ALLOCATION_HEADER,
    BAD_BSN,
    BSNS,
    CONTRACT,
    GEM,
    HEADER,
    TODAY,
    allocation_rows,
    by_row,
    finding,
    import_files,
    line,
    messages,
    setup,
    status,
    write_xlsx,
)


def test_bsn_11_proef_unreadable_and_missing(tmp_path, db_url):
    rows = [
        line(BSNS[0]),  # row 2 passes
        line(BAD_BSN),  # row 3 fails the 11-proef
        line("12-34"),  # row 4 unreadable
        line(None, volume=11),  # row 5 missing
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    found = by_row(result)
    assert "CS002" not in found.get(2, set())
    cs = finding(result, 3, "CS002")
    assert cs["retourcode"] == "0001" and cs["waarde"] == BAD_BSN and cs["kolom"] == "bsn"
    assert cs["melding"] == "bsn *****0398 fails the 11-proef"  # messages never hold a full BSN
    unreadable = finding(result, 4, "CS002")
    assert (
        unreadable["waarde"] == "12-34"
        and unreadable["melding"] == "bsn could not be read ('*2-34' in column 'Bsn'): BSN must have 9 digits"
    )
    assert messages(result, 5, "CS002") == ["bsn is missing"]
    assert status(result) == {2: "goedgekeurd", 3: "afgekeurd", 4: "afgekeurd", 5: "afgekeurd"}
    # a line rejected at level 2 counts as not sent: no level-3 rules judge it
    assert found[3] == {"CS002"}


def test_period_within_one_month_and_unreadable_date(tmp_path, db_url):
    rows = [
        line(BSNS[0], begin=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31)),  # row 2: last day of the month passes
        line(BSNS[1], begin=dt.date(2025, 3, 15), end=dt.date(2025, 4, 10)),  # row 3 spans two months
        line(BSNS[2], begin="31-02-2025"),  # row 4 unreadable begindatum
        line(BSNS[3], begin=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28)),  # row 5: February's last day
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    found = by_row(result)
    assert "CS337" not in found.get(2, set()) and "CS337" not in found.get(5, set())
    assert messages(result, 3, "CS337") == [
        "ProductPeriode 2025-03-15..2025-04-10 is not within one calendar month (declare one line per month)"
    ]
    bad = finding(result, 4, "CS337")
    assert bad["kolom"] == "begindatum" and bad["waarde"] == "31-02-2025"
    assert bad["melding"].startswith("begindatum could not be read ('31-02-2025' in column 'Begindatum'): not a date")
    assert status(result)[4] == "afgekeurd"


def test_begin_not_before_2021_and_not_after_today(tmp_path, db_url):
    rows = [
        line(BSNS[0], "54002", begin=dt.date(2020, 12, 1), end=dt.date(2020, 12, 31)),  # row 2: CS100
        line(BSNS[1], "54002", begin=dt.date(2021, 1, 1), end=dt.date(2021, 1, 31)),  # row 3: passes CS100
        line(BSNS[2], begin=dt.date(2025, 5, 1), end=dt.date(2025, 5, 31)),  # row 4: after today
        line(BSNS[3], begin=dt.date(2025, 4, 1), end=dt.date(2025, 4, 30)),  # row 5: ends today: passes
        line(BSNS[4], begin=dt.date(2025, 3, 20), end=dt.date(2025, 3, 10)),  # row 6: end before begin
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=dt.date(2025, 4, 30))
    found = by_row(result)
    assert messages(result, 2, "CS100") == ["begindatum 2020-12-01 is before 2021-01-01"]
    assert "CS100" not in found.get(3, set())
    assert messages(result, 4, "TR134") == ["begindatum 2025-05-01 is after today (2025-04-30)"]
    assert messages(result, 4, "TR137") == ["einddatum 2025-05-31 is after today (2025-04-30)"]
    assert not found.get(5, set()) & {"TR134", "TR137", "TR319"}
    assert status(result)[5] == "goedgekeurd"
    assert messages(result, 6, "TR137") == ["einddatum 2025-03-10 is before begindatum 2025-03-20"]


def test_productperiode_not_after_declaratieperiode():
    """TR319 compares with the DeclaratiePeriode. A spreadsheet has none: the engine takes the
    latest month in the batch, so a spreadsheet line can never be after it (future months are
    TR134/TR137's); the rule itself is tested on a frame with a DeclaratiePeriode."""
    import pandas as pd

    from jzcli.domain.lines import conform
    from jzcli.rules.kit import Context
    from jzcli.rules.line import tr319_not_after_declaratieperiode

    lines = pd.DataFrame(
        {
            "id": [1, 2],
            "begindatum": pd.to_datetime(["2025-04-01", "2025-05-01"]),
            "einddatum": pd.to_datetime(["2025-04-30", "2025-05-31"]),
            "declaratieperiode": pd.to_datetime(["2025-04-01", "2025-04-01"]),
        }
    )
    ctx = Context(
        lines=conform(lines),
        history=pd.DataFrame(),
        toewijzingen=pd.DataFrame(),
        products=pd.DataFrame(),
        import_findings=pd.DataFrame(),
        today=TODAY,
    )
    found = tr319_not_after_declaratieperiode(ctx)
    assert list(found["id"]) == [2]
    assert found.iloc[0]["melding"] == "ProductPeriode 2025-05 is after the DeclaratiePeriode 2025-04"


def test_spreadsheet_declaratieperiode_is_the_latest_month_in_the_batch(tmp_path, db_url):
    rows = [line(BSNS[0], begin=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28)), line(BSNS[1])]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    assert status(result) == {2: "goedgekeurd", 3: "goedgekeurd"}  # late declaring of February is fine


def test_einddatum_at_most_60_months_old(tmp_path, db_url):
    today = dt.date(2026, 3, 15)  # the limit is 2021-03-15
    rows = [
        line(BSNS[0], "54002", begin=dt.date(2021, 3, 1), end=dt.date(2021, 3, 15)),  # row 2: exactly 60 months: passes
        line(BSNS[1], "54002", begin=dt.date(2021, 3, 1), end=dt.date(2021, 3, 14)),  # row 3: one day older
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=today)
    assert "TR335" not in by_row(result).get(2, set())
    assert messages(result, 3, "TR335") == [
        "einddatum 2021-03-14 is more than 5 years (60 months) before today (2026-03-15; the earliest allowed einddatum is 2021-03-15)"
    ]
    assert finding(result, 3, "TR335")["retourcode"] == "0001"


def test_bedrag_is_volume_times_tarief_and_minute_rule(tmp_path, db_url):
    rows = [
        line(BSNS[0], volume=10, tarief=79.80, bedrag=798.00),  # row 2 passes
        line(BSNS[1], volume=10, tarief=79.80, bedrag=800.00),  # row 3 wrong amount
        # IV081: 98,50/uur × 400 min / 60 = 656,666… → 656,67 (not 400 × 1,64 = 656,00)
        line(BSNS[2], "54002", eenheid="01", volume=400, tarief=1.64, bedrag=656.67),  # row 4 passes
        line(BSNS[3], "54002", eenheid="01", volume=400, tarief=1.64, bedrag=656.00),  # row 5 volume × tarief: wrong
        # 87,30/uur × 3 min / 60 = 4,365 → 4,37 half up (banker's rounding would give 4,36)
        line(BSNS[4], "54M01", eenheid="01", volume=3, tarief=1.46, bedrag=4.37),  # row 6 passes
        line(BSNS[5], "54M01", eenheid="01", volume=3, tarief=1.46, bedrag=4.36),  # row 7
        line(BSNS[6], bedrag="12,3,4"),  # row 8 unreadable bedrag
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    found = by_row(result)
    for ok in (2, 4, 6):
        assert "TR346" not in found.get(ok, set()), (ok, found.get(ok))
        assert status(result)[ok] == "goedgekeurd"
    assert messages(result, 3, "TR346") == ["bedrag € 800,00 ≠ volume 10 × tarief € 79,80 = € 798,00"]
    assert finding(result, 3, "TR346")["retourcode"] == "9346"
    assert messages(result, 5, "TR346") == [
        "bedrag € 656,00 ≠ € 98,50 × 400 min / 60 = € 656,67 (minutes on an hourly contract tariff, rounded half up, IV081)"
    ]
    assert messages(result, 7, "TR346") == [
        "bedrag € 4,36 ≠ € 87,30 × 3 min / 60 = € 4,37 (minutes on an hourly contract tariff, rounded half up, IV081)"
    ]
    unreadable = finding(result, 8, "TR346")
    assert unreadable["waarde"] == "12,3,4" and unreadable["kolom"] == "bedrag"
    assert "bedrag could not be read ('12,3,4' in column 'IngediendBedrag')" in unreadable["melding"]


def test_euro_unit_and_tarief_presence(tmp_path, db_url):
    rows = [
        line(BSNS[0], "45E01", volume=10000),  # row 2: € 100,00 = 10000 cents: passes
        line(BSNS[1], "45E01", volume=10000, bedrag=99.00),  # row 3: CS339
        line(BSNS[2], "45E01", volume=10000, tarief=1.00),  # row 4: tarief with 83: CD087
        line(BSNS[3], tarief=None, bedrag=798.00),  # row 5: tarief missing: CD087
        line(BSNS[4], tarief="1.2.3,4"),  # row 6: tarief unreadable: CD087 with the raw text
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    found = by_row(result)
    assert not found.get(2, set()) & {"CS339", "CD087", "TR346"}
    assert status(result)[2] == "goedgekeurd"
    assert messages(result, 3, "CS339") == ["eenheid 83 (Euro's): bedrag € 99,00 ≠ volume 10000 cents (€ 100,00)"]
    assert messages(result, 4, "CD087") == ["tarief € 1,00 given with eenheid 83 (Euro's): leave it empty"]
    assert messages(result, 5, "CD087") == ["tarief is missing (required when eenheid is 04 (Uur))"]
    bad = finding(result, 6, "CD087")
    assert bad["waarde"] == "1.2.3,4" and "could not be read" in bad["melding"]
    assert all(status(result)[r] == "afgekeurd" for r in (3, 4, 5, 6))


def test_gemeente_cbs_list_and_merged_code_signal(tmp_path, db_url):
    rows = [
        line(BSNS[0]),  # row 2: 0406 passes
        line(BSNS[1], gemeente="9999"),  # row 3: unknown code
        line(BSNS[2], gemeente="0381"),  # row 4: Bussum, merged into Gooise Meren in 2016
        line(BSNS[3], gemeente="Atlantis"),  # row 5: unreadable name
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    found = by_row(result)
    assert not found.get(2, set()) & {"TR378", "JZ-G01"}
    tr = finding(result, 3, "TR378")
    assert tr["retourcode"] == "S300" and tr["melding"] == "gemeente 9999 is not in the CBS list of gemeenten"
    signal = finding(result, 4, "JZ-G01")
    assert signal["ernst"] == "signaal" and "TR378" not in found[4]
    assert signal["melding"] == (
        "gemeente 0381 (Bussum) merged into 1942 Gooise Meren on 2016-01-01: judged as 1942 Gooise Meren (its contracts and "
        "allocations: the successor carries the obligations, IV046); the line keeps 0381, declare on the new code from now on"
    )
    bad = finding(result, 5, "TR378")
    assert bad["waarde"] == "Atlantis" and "unknown gemeente 'Atlantis'" in bad["melding"]


def test_stated_sheet_total(tmp_path, db_url):
    good = [line(BSNS[0]), line(BSNS[1], volume=5)]  # € 798,00 + € 399,00
    bad = [line(BSNS[2]), line(BSNS[3], volume=5)]
    good_total = ["Totaal"] + [None] * 13 + [1197.00, None]
    bad_total = ["Totaal"] + [None] * 13 + [1200.00, None]
    store = setup(db_url, tmp_path, allocations=allocation_rows(good + bad))
    path = write_xlsx(
        tmp_path / "totals.xlsx",
        {"Klopt": [HEADER, *good, [], good_total], "Klopt niet": [HEADER, *bad, [], bad_total]},
    )
    import_files(store, path)
    result = validate(store, today=TODAY)
    tr = result.findings[result.findings["regel"] == "TR358"]
    assert sorted(tr["rij"]) == [2, 3] and set(tr["blad"]) == {"Klopt niet"}
    assert tr.iloc[0]["retourcode"] == "0001"
    assert (
        tr.iloc[0]["melding"]
        == "the sheet 'Klopt niet' states a total of € 1.200,00, but its 2 lines add up to € 1.197,00 (Σ debet − Σ credit)"
    )
    v = result.verdicts
    assert set(v.loc[v["blad"] == "Klopt", "status"]) == {"goedgekeurd"}
    assert set(v.loc[v["blad"] == "Klopt niet", "status"]) == {"afgekeurd"}


def test_unreadable_values_no_other_rule_covers(tmp_path, db_url):
    rows = [
        line(BSNS[0], dc="X"),  # row 2: debet/credit unreadable
        line(BSNS[1], agb="ABC"),  # row 3: aanbieder unreadable
        line(BSNS[2]),  # row 4 passes
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    dc = finding(result, 2, "JZ-I01")
    assert dc["kolom"] == "debet_credit" and dc["waarde"] == "X" and dc["retourcode"] == "JZ-I01"
    assert dc["melding"] == "debet_credit could not be read ('X' in column 'DebetCredit'): not D or C: 'X'"
    agb = finding(result, 3, "JZ-I01")
    assert agb["kolom"] == "aanbieder" and agb["waarde"] == "ABC"
    assert status(result) == {2: "afgekeurd", 3: "afgekeurd", 4: "goedgekeurd"}


def test_every_import_finding_leads_to_a_rejection(tmp_path, db_url):
    rows = [
        line(BSNS[0], "45A48", ref="R" * 60),  # referentienummer too long
        line(BSNS[1], volume="tien"),
        line(BSNS[2], end="gisteren"),
        line(BSNS[3], cat="4500"),
        line(BSNS[4], gemeente="Nergenshuizen"),
    ]
    store = setup(db_url, tmp_path, rows)
    imported = store.import_findings()
    assert len(imported) == 5
    result = validate(store, today=TODAY)
    assert set(status(result).values()) == {"afgekeurd"}
    f = result.findings
    for regel_id, veld, waarde in zip(imported["regel_id"], imported["veld"], imported["waarde"]):
        mine = f[(f["regel_id"] == regel_id) & (f["kolom"] == veld)]
        assert len(mine) == 1 and mine.iloc[0]["waarde"] == waarde and "could not be read" in mine.iloc[0]["melding"], (
            veld,
            mine,
        )


def test_ambiguous_stuks_taken_from_contract_or_rejected(tmp_path, db_url):
    rows = [
        line(BSNS[0], "42A03", eenheid="stuks", volume=3),  # row 2: contract says 84
        line(BSNS[1], "45A48", eenheid="stuks", volume=3),  # row 3: contract says 04
    ]
    store = setup(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    signal = finding(result, 2, "JZ-I03")
    assert signal["ernst"] == "signaal" and signal["waarde"] == "stuks"
    assert signal["melding"] == "eenheid 'stuks' read as 84 (Stuks (inspanning)), the contract's eenheid for 42A03"
    assert status(result)[2] == "goedgekeurd"
    rejected = finding(result, 3, "JZ-I01")
    assert rejected["kolom"] == "eenheid"
    assert rejected["melding"].endswith("(the contract's eenheid for 45A48 is 04, not 82 or 84)")
    assert status(result)[3] == "afgekeurd"


def test_month_column_period_is_clipped_to_the_allocation(tmp_path, db_url):
    """A 'Maand' column gives the whole month; an allocation starting mid-month clips it (IV089)."""
    store = Store.open(db_url)
    contract = tmp_path / "contract.toml"
    contract.write_text(CONTRACT, encoding="utf-8")
    alloc = [
        [
            "900001",
            BSNS[0],
            "98001101",
            GEM,
            "45",
            "45A48",
            dt.date(2025, 3, 10),
            dt.date(2025, 12, 31),
            999,
            "04",
            "6",
            None,
            None,
            dt.date(2025, 3, 1),
        ]
    ]
    alloc_file = write_xlsx(tmp_path / "t.xlsx", {"Toewijzingen": [ALLOCATION_HEADER, *alloc]})
    decl = write_xlsx(
        tmp_path / "maand.xlsx",
        {
            "Blad1": [
                ["AGB-code", "Gemeente", "BSN", "Productcode", "Maand", "Aantal", "Eenheid", "Tarief", "Bedrag"],
                ["98001101", "0406", BSNS[0], "45A48", "maart 2025", 4, "04", 79.80, 319.20],
            ]
        },
    )
    import_files(store, contract, alloc_file, decl)
    result = validate(store, today=TODAY)
    assert status(result) == {2: "goedgekeurd"}, result.findings[["regel", "melding"]].to_dict("records")
