"""jzcli report on files written by the test and imported through the real importer.

The verdicts (beoordelingen, bevindingen) are written directly, as jzcli validate would, so the
numbers can be computed by hand. Every expectation below is worked out in the comments.

Lines (aanbieder A = 98001234 unless noted, euros):
  batch 1 (ronde 1)
    L1 0406 Huizen   BSN1 45A48 (cat 45) 2025-01  10 uur × 78,00 =   780,00 D  goedgekeurd
    L2 0406 Huizen   BSN2 45A48          2025-03   5 uur × 79,80 =   399,00 D  afgekeurd  TR418/0611
    L3 0406 Huizen   BSN1 54001 (cat 54) 2025-02  90 min × 1,26  =   113,40 D  (not judged)
    L4 0406 Huizen   BSN3 45A48          2025-02   2 uur × 78,00 =   156,00 C  goedgekeurd
    L5 0381 Bussum   BSN2 45A48          2025-02   3 uur × 78,00 =   234,00 D  goedgekeurd + TR378 signaal
  batch 2 (ronde 1), aanbieder B = 98005678
    L6 0406 Huizen   BSN4 44001 (cat 44) 2025-03  20 etm × 150,00 = 3.000,00 D  goedgekeurd
    L7 0376 Blaricum BSN1 45A48          2025-03   4 uur × 79,80 =   319,20 D  afgekeurd  TR308/9308
  batch 3 (ronde 2), aanbieder A
    L8 0406 Huizen   BSN2 45A48          2025-03   5 uur × 79,80 =   399,00 D  goedgekeurd (resubmission of L2)
    L9 0406 Huizen   BSN5 45A48          2025-03   1 uur × 79,80 =    79,80 D  afgekeurd  TR418/0611
The tariff of 45A48 changes on 2025-03-01 (78,00 → 79,80): January/February and March lines differ.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import uuid
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from jzcli import report as R
from jzcli.store.schema import beoordelingen, bevindingen, declaratieregels
from jzcli.store.store import Store

A, B = "98001234", "98005678"
BSN1, BSN2, BSN3, BSN4, BSN5 = "999900006", "999900018", "999900031", "999900043", "999900055"
HEADER = [
    "Aanbieder",
    "Gemeente",
    "DeclaratieNummer",
    "ReferentieNummer",
    "VorigReferentieNummer",
    "Bsn",
    "ToewijzingNummer",
    "ProductCategorie",
    "ProductCode",
    "Begindatum",
    "Einddatum",
    "GeleverdVolume",
    "Eenheid",
    "ProductTarief",
    "IngediendBedrag",
    "DebetCredit",
]
D = dt.date


def month(y, m):
    import calendar

    return D(y, m, 1), D(y, m, calendar.monthrange(y, m)[1])


def line(agb, gem, ref, bsn, cat, code, ym, vol, eenheid, tarief, bedrag, dc="D", vorig=None):
    begin, end = month(*ym)
    return [agb, gem, "D1", ref, vorig, bsn, 1000, cat, code, begin, end, vol, eenheid, tarief, bedrag, dc]


def write_xlsx(path: Path, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Declaratie"
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


BATCH1 = [  # rows 2..6 → L1..L5
    line(A, "0406", "R1", BSN1, "45", "45A48", (2025, 1), 10, "04", 78.00, 780.00),
    line(A, "0406", "R2", BSN2, "45", "45A48", (2025, 3), 5, "04", 79.80, 399.00),
    line(A, "0406", "R3", BSN1, "54", "54001", (2025, 2), 90, "01", 1.26, 113.40),
    line(A, "0406", "R4", BSN3, "45", "45A48", (2025, 2), 2, "04", 78.00, 156.00, "C", "R0"),
    line(A, "0381", "R5", BSN2, "45", "45A48", (2025, 2), 3, "04", 78.00, 234.00),
]
BATCH2 = [  # rows 2..3 → L6, L7
    line(B, "0406", "B1", BSN4, "44", "44001", (2025, 3), 20, "14", 150.00, 3000.00),
    line(B, "0376", "B2", BSN1, "45", "45A48", (2025, 3), 4, "04", 79.80, 319.20),
]
BATCH3 = [  # rows 2..3 → L8, L9
    line(A, "0406", "R8", BSN2, "45", "45A48", (2025, 3), 5, "04", 79.80, 399.00),
    line(A, "0406", "R9", BSN5, "45", "45A48", (2025, 3), 1, "04", 79.80, 79.80),
]
FILES = {"b1.xlsx": BATCH1, "b2.xlsx": BATCH2, "b3.xlsx": BATCH3}
LABELS = {("b1.xlsx", 2 + i): f"L{1 + i}" for i in range(5)}
LABELS.update({("b2.xlsx", 2): "L6", ("b2.xlsx", 3): "L7", ("b3.xlsx", 2): "L8", ("b3.xlsx", 3): "L9"})
STATUS = {
    "L1": "goedgekeurd",
    "L2": "afgekeurd",
    "L4": "goedgekeurd",
    "L5": "goedgekeurd",
    "L6": "goedgekeurd",
    "L7": "afgekeurd",
    "L8": "goedgekeurd",
    "L9": "afgekeurd",
}
FINDINGS = [
    ("L2", "TR418", "0611", "afkeur"),
    ("L5", "TR378", "0001", "signaal"),
    ("L7", "TR308", "9308", "afkeur"),
    ("L9", "TR418", "0611", "afkeur"),
]


def import_files(tmp_path: Path, url: str, cli) -> dict[str, int]:
    for name, rows in FILES.items():
        r = cli("import", write_xlsx(tmp_path / name, rows), "--db", url, "-q")
        assert r.exit_code == 0, r.output
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(declaratieregels.c.id, declaratieregels.c.bron, declaratieregels.c.rij)).all()
    finally:
        store.close()
    ids = {LABELS[(bron, rij)]: i for i, bron, rij in rows}
    assert len(ids) == 9
    return ids


def judge(url: str, ids: dict[str, int], status=STATUS, findings=FINDINGS) -> None:
    """Write verdicts as jzcli validate does: one beoordeling per judged line, findings per rule."""
    store = Store.open(url)
    try:
        verdicts = pd.DataFrame(
            [
                {
                    "regel_id": ids[k],
                    "status": v,
                    "ronde": 2 if k in ("L8", "L9") else 1,
                    "beoordeeld_op": "2025-04-10 10:00:00+00:00",
                }
                for k, v in status.items()
            ]
        )
        found = pd.DataFrame(
            [
                {
                    "regel_id": ids[k],
                    "regel": rule,
                    "retourcode": code,
                    "ernst": ernst,
                    "melding": f"{rule} on {k}",
                    "ronde": 2 if k in ("L8", "L9") else 1,
                }
                for k, rule, code, ernst in findings
            ]
        )
        with store.transaction() as conn:
            store.insert_frame(conn, beoordelingen, verdicts)
            store.insert_frame(conn, bevindingen, found)
    finally:
        store.close()


@pytest.fixture
def store_url(tmp_path, db_url, cli):
    ids = import_files(tmp_path, db_url, cli)
    judge(db_url, ids)
    return db_url


def open_store(url):
    return Store.open(url)


def rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Rows as tuples; a missing value (a volume left out over mixed eenheden) as None."""
    return [tuple(None if v is pd.NA else v for v in r) for r in frame[columns].itertuples(index=False, name=None)]


MONEY = ["regels", "clienten", "volume", "ingediend", "goedgekeurd", "afgekeurd", "onbeoordeeld"]


# ---------------------------------------------------------------------------------------------- kosten
def test_cost_per_gemeente_with_credits_rejections_and_merged_gemeente(store_url):
    store = open_store(store_url)
    frame = R.kosten(store, R.make_selection())
    # Huizen: L1 780 + L2 399 + L3 113,40 − L4 156 + L6 3000 + L8 399 + L9 79,80 = 4615,20
    #   approved L1 + L4 + L6 + L8 = 780 − 156 + 3000 + 399 = 4023,00; rejected L2 + L9 = 478,80; open L3 113,40
    #   clients BSN1..BSN5 = 5; volume: hours (04), minutes (01) and etmalen (14) do not add up:
    #   left out (None), as for the total; Blaricum and Bussum declare hours only
    assert rows(frame, ["niveau", "gemeente", "gemeente_naam", *MONEY]) == [
        ("detail", "0376", "Blaricum", 1, 1, 4, 31920, 0, 31920, 0),
        ("detail", "0381", "Bussum", 1, 1, 3, 23400, 23400, 0, 0),
        ("detail", "0406", "Huizen", 7, 5, None, 461520, 402300, 47880, 11340),
        ("totaal", None, None, 9, 5, None, 516840, 425700, 79800, 11340),
    ]
    assert frame["aandeel_pct"].tolist() == [6.18, 4.53, 89.3, 100.0]  # 319,20 / 5168,40 = 6,176 %
    # the retired code keeps its own row and name, with a note pointing at the successor
    note = frame.loc[frame["gemeente"] == "0381", "gemeente_opmerking"].item()
    assert note.startswith("merged into Gooise Meren (1942) on 2016-01-01")
    assert frame.loc[frame["gemeente"] == "0406", "gemeente_opmerking"].item() is None


def test_two_levels_aanbieder_then_month(store_url):
    store = open_store(store_url)
    frame = R.kosten(store, R.make_selection(["0406"]), ["aanbieder", "maand"])
    # B (3000,00) before A (1615,20): largest aanbieder first, months ascending within
    assert rows(
        frame,
        ["niveau", "aanbieder", "maand", "regels", "clienten", "ingediend", "goedgekeurd", "afgekeurd", "onbeoordeeld"],
    ) == [
        ("detail", B, "2025-03", 1, 1, 300000, 300000, 0, 0),
        ("detail", A, "2025-01", 1, 1, 78000, 78000, 0, 0),
        ("detail", A, "2025-02", 2, 2, -4260, -15600, 0, 11340),  # 113,40 − 156,00 (credit)
        ("detail", A, "2025-03", 3, 2, 87780, 39900, 47880, 0),  # 399 + 399 + 79,80
        ("totaal", None, None, 7, 5, 461520, 402300, 47880, 11340),
    ]
    assert "gemeente" in frame and frame["gemeente"].tolist()[:4] == ["0406"] * 4


def test_subtotals_per_gemeente_when_several(store_url):
    store = open_store(store_url)
    frame = R.kosten(store, R.make_selection(["0406", "0376"]), ["aanbieder"])
    assert rows(frame, ["niveau", "gemeente", "aanbieder", "regels", "ingediend"]) == [
        ("detail", "0376", B, 1, 31920),
        ("gemeente", "0376", None, 1, 31920),
        ("detail", "0406", B, 1, 300000),
        ("detail", "0406", A, 6, 161520),
        ("gemeente", "0406", None, 7, 461520),
        ("totaal", None, None, 8, 493440),
    ]
    # clients are distinct per level, not summed: BSN1 is a client in both gemeenten
    assert frame["clienten"].tolist() == [1, 1, 1, 4, 5, 5]


def test_van_tot_selects_on_productperiode_month(store_url):
    store = open_store(store_url)
    frame = R.kosten(store, R.make_selection(["0406"], van="2025-02", tot="2025-02"))
    # only L3 (113,40 open; 90 minutes) and L4 (credit 156,00 approved; 2 hours): no volume
    assert rows(frame, ["niveau", *MONEY]) == [
        ("detail", 2, 2, None, -4260, -15600, 0, 11340),
        ("totaal", 2, 2, None, -4260, -15600, 0, 11340),
    ]
    frame = R.kosten(store, R.make_selection(van="2025-03"), ["jaar"])
    assert frame.loc[frame["niveau"] == "totaal", "ingediend"].item() == 399_00 + 3000_00 + 319_20 + 399_00 + 79_80
    # --aanbieder: B has L6 (Huizen, 3000,00) and L7 (Blaricum, 319,20)
    frame = R.kosten(store, R.make_selection(aanbieders=[B]))
    assert rows(frame, ["gemeente", "regels", "ingediend"]) == [
        ("0376", 1, 31920),
        ("0406", 1, 300000),
        (None, 2, 331920),
    ]


def test_by_productcode_across_a_tariff_change_and_quarter_labels(store_url):
    store = open_store(store_url)
    frame = R.kosten(store, R.make_selection(["0406"]), ["productcode"])
    # 45A48: 780 (78,00/uur) + 399 (79,80) − 156 + 399 + 79,80 = 1501,80; volume 10 + 5 − 2 + 5 + 1 = 19
    # uur; the total over etmalen, uren and minuten has no volume
    assert rows(frame, ["productcode", "regels", "volume", "eenheid", "ingediend"]) == [
        ("44001", 1, 20, "14", 300000),
        ("45A48", 5, 19, "04", 150180),
        ("54001", 1, 90, "01", 11340),
        (None, 7, None, "(mixed)", 461520),
    ]
    frame = R.kosten(store, R.make_selection(["0406"]), ["kwartaal", "productcategorie"])
    assert rows(frame, ["kwartaal", "productcategorie", "productcategorie_omschrijving", "ingediend"])[:3] == [
        ("2025-Q1", "44", "Jeugdhulp verblijf (excl. behandeling)", 300000),
        ("2025-Q1", "45", "Jeugdhulp ambulant", 150180),
        ("2025-Q1", "54", "Jeugd-ggz", 11340),
    ]
    frame = R.kosten(store, R.make_selection(), ["jaar"])
    assert rows(frame, ["niveau", "gemeente", "jaar"]) == [
        ("detail", "0376", "2025"),
        ("gemeente", "0376", None),
        ("detail", "0381", "2025"),
        ("gemeente", "0381", None),
        ("detail", "0406", "2025"),
        ("gemeente", "0406", None),
        ("totaal", None, None),
    ]


def test_successor_gemeente_shows_retired_code_as_its_own_row(store_url, cli):
    store = open_store(store_url)
    frame = R.kosten(store, R.make_selection(["1942"]))  # Gooise Meren
    assert rows(frame, ["niveau", "gemeente", "gemeente_naam", "ingediend"]) == [
        ("detail", "0381", "Bussum", 23400),
        ("totaal", None, None, 23400),
    ]
    r = cli("report", "--gemeente", "Gooise Meren", "--db", store_url)
    assert r.exit_code == 0, r.output
    assert "0381 Bussum *" in r.stdout
    assert "0381 Bussum: merged into Gooise Meren (1942) on 2016-01-01" in " ".join(r.stdout.split())


def test_month_view_fills_gaps_and_totals(store_url):
    store = open_store(store_url)
    frame = R.per_maand(store, R.make_selection(["0406"], van="2024-12", tot="2025-04"))
    assert rows(frame, ["niveau", "maand", "regels", "ingediend", "goedgekeurd", "afgekeurd", "onbeoordeeld"]) == [
        ("detail", "2024-12", 0, 0, 0, 0, 0),
        ("detail", "2025-01", 1, 78000, 78000, 0, 0),
        ("detail", "2025-02", 2, -4260, -15600, 0, 11340),
        ("detail", "2025-03", 4, 387780, 339900, 47880, 0),  # L2 + L6 + L8 + L9
        ("detail", "2025-04", 0, 0, 0, 0, 0),
        ("totaal", None, 7, 461520, 402300, 47880, 11340),
    ]


# ---------------------------------------------------------------------------------------------- budget
def write_budget(path: Path) -> Path:
    with path.open("w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["Gemeente", "Jaar", "Productcategorie", "Budget (€)"])
        w.writerow(["Huizen", "2025", "", "€ 50.000,00"])
        w.writerow(["0406", "2025", "45", "10.000"])
        w.writerow(["Gooise Meren", "2025", "", "20000,00"])
    return path


def test_budget_vs_realised_and_projection(store_url, tmp_path):
    store = open_store(store_url)
    budgets = R.read_budget(write_budget(tmp_path / "budget.csv"))
    assert rows(budgets, ["gemeente", "jaar", "productcategorie", "budget"]) == [
        ("0406", 2025, None, 5_000_000),
        ("0406", 2025, "45", 1_000_000),
        ("1942", 2025, None, 2_000_000),
    ]
    frame = R.budget(store, R.make_selection(), budgets)
    # Huizen: realised = approved 4023,00 + open 113,40 = 4136,40; last month with lines = March (3)
    #   projection 4136,40 / 3 × 12 = 16.545,60; budget − projection = 33.454,40
    # Huizen cat 45: L1 780 − L4 156 + L8 399 = 1023,00 (L2, L9 rejected) → 4092,00
    # Gooise Meren: nothing on 1942 (the 234,00 on Bussum 0381 is named, not moved)
    assert rows(
        frame,
        [
            "gemeente",
            "productcategorie",
            "budget",
            "goedgekeurd",
            "onbeoordeeld",
            "gerealiseerd",
            "maanden",
            "prognose",
            "verschil",
            "uitputting_pct",
            "prognose_pct",
        ],
    ) == [
        ("0406", None, 5_000_000, 402300, 11340, 413640, 3, 1_654_560, 3_345_440, 8.27, 33.09),
        ("0406", "45", 1_000_000, 102300, 0, 102300, 3, 409_200, 590_800, 10.23, 40.92),
        ("1942", None, 2_000_000, 0, 0, 0, 0, None, None, 0.0, None),
    ]
    note = frame["opmerking"].tolist()[2]
    assert (
        "not included: € 234,00 realised (approved + not judged) on retired code 0381 Bussum" in note
        and "no projection" in note
    )


def test_budget_projection_counts_months_up_to_the_last_with_lines(tmp_path, embedded_url, cli):
    # 100,01 in January and a zero line in March: the pace is 100,01 / 3 months × 12 = 400,04
    rows_ = [
        line(A, "0406", "X1", BSN1, "45", "45A48", (2025, 1), 1, "04", 100.01, 100.01),
        line(A, "0406", "X2", BSN1, "45", "45A48", (2025, 3), 0, "04", 79.80, 0.0),
    ]
    r = cli("import", write_xlsx(tmp_path / "x.xlsx", rows_), "--db", embedded_url, "-q")
    assert r.exit_code == 0, r.output
    budgets = pd.DataFrame([{"gemeente": "0406", "jaar": 2025, "productcategorie": None, "budget": 100000, "rij": 2}])
    frame = R.budget(open_store(embedded_url), R.make_selection(), budgets)
    assert frame["prognose"].tolist() == [40004] and frame["maanden"].tolist() == [3]
    # rounding is half-up to the cent: 3 cents / 8 months × 12 = 4,5 cents → 5 (banker's rounding: 4)
    assert R._round_cents(R.Decimal(3) * 12 / 8) == 5 and R._round_cents(R.Decimal(10001) * 12 / 7) == 17145


def test_budget_file_errors_name_row_and_column(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("gemeente;jaar;budget\nHuizn;2025;100\n", encoding="utf-8")
    with pytest.raises(R.FileReadError) as exc:
        R.read_budget(path)
    assert "b.csv, row 2, column gemeente: unknown gemeente 'Huizn'" in str(exc.value) and "Huizen (0406)" in str(
        exc.value
    )
    path.write_text("gemeente;jaar;budget\nHuizen;2025;veel\n", encoding="utf-8")
    with pytest.raises(R.FileReadError, match="row 2, column budget"):
        R.read_budget(path)
    path.write_text("naam;bedrag\nHuizen;100\n", encoding="utf-8")
    with pytest.raises(R.FileReadError, match="no header row"):
        R.read_budget(path)


def test_budget_from_xlsx_via_cli(store_url, tmp_path, cli):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Budget jeugdhulp 2025"])
    ws.append([])
    ws.append(["gemeente", "jaar", "budget"])
    ws.append(["Huizen", 2025, 50000])
    wb.save(tmp_path / "budget.xlsx")
    r = cli(
        "report",
        "--gemeente",
        "Huizen",
        "--budget",
        tmp_path / "budget.xlsx",
        "--view",
        "budget",
        "--format",
        "json",
        "--db",
        store_url,
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["budget"] == [
        {
            "gemeente": "0406",
            "gemeente_naam": "Huizen",
            "jaar": 2025,
            "productcategorie": None,
            "budget": "50000.00",
            "goedgekeurd": "4023.00",
            "onbeoordeeld": "113.40",
            "gerealiseerd": "4136.40",
            "maanden": 3,
            "prognose": "16545.60",
            "verschil": "33454.40",
            "uitputting_pct": 8.27,
            "prognose_pct": 33.09,
            "opmerking": None,
        }
    ]
    r = cli("report", "--view", "budget", "--db", store_url)
    assert r.exit_code == 2 and "--budget" in r.stderr


# ---------------------------------------------------------------------------------------------- lasten
def test_administrative_load_per_aanbieder_with_first_time_right(store_url):
    store = open_store(store_url)
    frame = R.lasten_aanbieder(store, R.make_selection())
    # A: judged L1 L2 L4 L5 L8 L9 (L3 not judged), rejected L2 + L9 = 478,80;
    #    first submissions (debet) L1 L2 L5 L9, approved L1 L5 → 50 %; L8 resubmits L2 (same bsn,
    #    product, month; earlier batch)
    # B: judged L6 L7, rejected L7 319,20; first submissions L6 L7, approved L6 → 50 %
    cols = [
        "niveau",
        "aanbieder",
        "regels",
        "beoordeeld",
        "afgekeurd_regels",
        "afgekeurd_bedrag",
        "eerste_indieningen",
        "eerste_goedgekeurd",
        "herindieningen",
        "afgekeurd_pct",
        "first_time_right_pct",
    ]
    assert rows(frame, cols) == [
        ("detail", A, 7, 6, 2, 47880, 4, 2, 1, 33.33, 50.0),
        ("detail", B, 2, 2, 1, 31920, 2, 1, 0, 50.0, 50.0),
        ("totaal", None, 9, 8, 3, 79800, 6, 3, 1, 37.5, 50.0),
    ]
    # within Huizen only: A has L1 L2 L4 L8 L9 judged; first submissions L1 L2 L9, approved L1 → 33,33 %
    frame = R.lasten_aanbieder(store, R.make_selection(["0406"]))
    assert rows(frame, cols)[0] == ("detail", A, 6, 5, 2, 47880, 3, 1, 1, 40.0, 33.33)


def test_administrative_load_per_rule_and_month(store_url):
    store = open_store(store_url)
    frame = R.lasten_regel(store, R.make_selection())
    assert rows(
        frame,
        ["regel", "retourcode", "ernst", "regels", "bedrag", "afgekeurd_regels", "afgekeurd_bedrag", "aanbieders"],
    ) == [
        ("TR418", "0611", "afkeur", 2, 47880, 2, 47880, 1),
        ("TR308", "9308", "afkeur", 1, 31920, 1, 31920, 1),
        ("TR378", "0001", "signaal", 1, 23400, 0, 0, 1),
    ]
    assert frame["omschrijving"].tolist()[0] == R.refdata.codelijst("retourcode")["0611"]
    frame = R.lasten_maand(store, R.make_selection())
    # March: L2 L6 L7 L8 L9 judged, L2 L7 L9 rejected (399 + 319,20 + 79,80); first L2 L6 L7 L9, approved L6
    assert rows(
        frame,
        [
            "maand",
            "regels",
            "beoordeeld",
            "afgekeurd_regels",
            "afgekeurd_bedrag",
            "herindieningen",
            "first_time_right_pct",
        ],
    ) == [
        ("2025-01", 1, 1, 0, 0, 0, 100.0),
        ("2025-02", 3, 2, 0, 0, 0, 100.0),
        ("2025-03", 5, 5, 3, 79800, 1, 25.0),
        (None, 9, 8, 3, 79800, 1, 50.0),
    ]


def test_findings_of_an_older_round_are_ignored(tmp_path, embedded_url, cli):
    ids = import_files(tmp_path, embedded_url, cli)
    judge(embedded_url, ids)
    store = open_store(embedded_url)
    with store.transaction() as conn:  # a stale finding of round 0 for L1 (re-judged since)
        conn.execute(
            bevindingen.insert().values(
                regel_id=ids["L1"], regel="TR999", retourcode="9999", ernst="afkeur", melding="old", ronde=0
            )
        )
    assert "TR999" not in R.lasten_regel(store, R.make_selection())["regel"].tolist()


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_default_report_for_huizen(store_url, cli, monkeypatch):
    r = cli("report", "--gemeente", "Huizen", "--db", store_url)
    assert r.exit_code == 0, r.output
    out = r.stdout
    for text in (
        "Cost per aanbieder (AGB) — Huizen (0406)",
        "Cost per productcategorie",
        "Cost per month",
        "Findings per rule",
        "€ 4.615,20",
        "€ 4.023,00",
        "€ 478,80",
        "€ 113,40",
        "€ -42,60",
        "TR418",
    ):
        assert text in out, text
    for bsn in (BSN1, BSN2, BSN3, BSN4, BSN5):
        assert bsn not in r.output
    assert "No line has been judged" not in r.stderr


def test_cli_names_codes_and_unknown_gemeente(store_url, cli):
    for value in ("huizen", "HUIZEN", "0406", "GM0406", "406"):
        r = cli("report", "--gemeente", value, "--format", "json", "--view", "kosten", "--db", store_url)
        assert r.exit_code == 0, (value, r.output)
        assert json.loads(r.stdout)["selectie"]["gemeenten"] == ["0406"]
    for value, code in (
        ("Laren", "0417"),
        ("'s-Hertogenbosch", "0796"),
        ("Den Haag", "0518"),
        ("Súdwest-Fryslân", "1900"),
        ("sudwest fryslan", "1900"),
    ):
        r = cli("report", "--gemeente", value, "--format", "json", "--db", store_url)
        assert r.exit_code == 0, (value, r.output)
        data = json.loads(r.stdout)
        assert data["selectie"]["gemeenten"] == [code]
        assert data["kosten"][-1]["ingediend"] == "0.00"
    r = cli("report", "--gemeente", "Huizn", "--db", store_url)
    assert r.exit_code == 2
    assert "unknown gemeente" in r.stderr and "Huizen (0406)" in r.stderr
    r = cli(
        "report",
        "--gemeente",
        "Huizen",
        "--gemeente",
        "Blaricum",
        "--format",
        "json",
        "--view",
        "kosten",
        "--db",
        store_url,
    )
    assert [row["gemeente"] for row in json.loads(r.stdout)["kosten"]] == ["0376", "0406", None]


def test_cli_json_keys_and_amounts(store_url, cli):
    r = cli("report", "--gemeente", "0406", "--by", "aanbieder", "--by", "maand", "--format", "json", "--db", store_url)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert list(data) == ["selectie", "kosten", "maand", "lasten_regel", "opmerkingen"]
    assert data["selectie"] == {
        "gemeenten": ["0406"],
        "aanbieders": [],
        "van": None,
        "tot": None,
        "by": ["aanbieder", "maand"],
    }
    first = data["kosten"][0]
    assert list(first) == [
        "niveau",
        "gemeente",
        "gemeente_naam",
        "gemeente_opmerking",
        "aanbieder",
        "maand",
        "regels",
        "clienten",
        "volume",
        "ingediend",
        "goedgekeurd",
        "afgekeurd",
        "onbeoordeeld",
        "aandeel_pct",
    ]
    assert first == {
        "niveau": "detail",
        "gemeente": "0406",
        "gemeente_naam": "Huizen",
        "gemeente_opmerking": None,
        "aanbieder": B,
        "maand": "2025-03",
        "regels": 1,
        "clienten": 1,
        "volume": 20,
        "ingediend": "3000.00",
        "goedgekeurd": "3000.00",
        "afgekeurd": "0.00",
        "onbeoordeeld": "0.00",
        "aandeel_pct": 65.0,
    }
    assert data["kosten"][2]["ingediend"] == "-42.60"
    assert data["kosten"][-1]["niveau"] == "totaal" and data["kosten"][-1]["ingediend"] == "4615.20"
    assert [m["maand"] for m in data["maand"]] == ["2025-01", "2025-02", "2025-03", None]
    assert data["lasten_regel"][0]["afgekeurd_bedrag"] == "478.80"


def test_cli_csv_one_table_and_output_files(store_url, cli, tmp_path):
    r = cli("report", "--by", "productcode", "--format", "csv", "--db", store_url)
    assert r.exit_code == 0, r.output
    records = list(csv.DictReader(r.stdout.splitlines()))
    assert list(records[0]) == [
        "niveau",
        "gemeente",
        "gemeente_naam",
        "gemeente_opmerking",
        "productcode",
        "regels",
        "clienten",
        "volume",
        "eenheid",
        "ingediend",
        "goedgekeurd",
        "afgekeurd",
        "onbeoordeeld",
        "aandeel_pct",
    ]
    assert records[-1]["volume"] == "" and records[-1]["eenheid"] == "(mixed)"
    assert records[-1]["niveau"] == "totaal" and records[-1]["ingediend"] == "5168.40" and records[-1]["gemeente"] == ""
    r = cli("report", "--view", "lasten", "--format", "csv", "--db", store_url)
    assert r.exit_code == 2 and "csv holds one table" in r.stderr
    r = cli("report", "--view", "lasten", "--format", "json", "-o", tmp_path / "l.json", "--db", store_url)
    assert r.exit_code == 0 and r.stdout == ""
    data = json.loads((tmp_path / "l.json").read_text(encoding="utf-8"))
    assert list(data) == ["selectie", "lasten_aanbieder", "lasten_regel", "lasten_maand", "opmerkingen"]
    r = cli("report", "--view", "maand", "-o", tmp_path / "m.csv", "--db", store_url)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.csv").read_text(encoding="utf-8-sig").splitlines()[0].startswith("niveau,maand,regels")
    assert (tmp_path / "m.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads UTF-8
    r = cli("report", "-o", tmp_path / "x.txt", "--db", store_url)
    assert r.exit_code == 2


def test_cli_usage_errors(store_url, cli):
    for args in (
        ("--van", "2025-13"),
        ("--van", "maart"),
        ("--van", "2025-05", "--tot", "2025-04"),
        ("--by", "aanbieder", "--by", "maand", "--by", "jaar"),
        ("--by", "maand", "--by", "maand"),
        ("--by", "gemeente"),
        ("--aanbieder", "abc"),
        ("--view", "grafiek"),
    ):
        r = cli("report", *args, "--db", store_url)
        assert r.exit_code == 2, (args, r.output)
        assert "Traceback" not in r.output


def test_cli_administrative_load_view(store_url, cli):
    r = cli("report", "--view", "lasten", "--db", store_url)
    assert r.exit_code == 0, r.output
    flat = " ".join(r.stdout.split())
    assert "Administrative load per aanbieder" in flat and "Administrative load per month" in flat
    assert f"{A} 7 6 2 33,3% € 478,80 4 1 50,0%" in flat
    assert "TR418 0611" in flat


def test_not_judged_hint_and_empty_store(tmp_path, db_url, cli):
    r = cli("report", "--db", db_url)
    if not db_url.startswith("postgresql"):  # no file there: report does not create a store
        assert r.exit_code == 3 and "no store at" in r.stderr, r.output
        assert cli("import", tmp_path / "missing.csv", "--db", db_url, "-q").exit_code == 3  # creates it, empty
        r = cli("report", "--db", db_url)
    assert r.exit_code == 0, r.output  # an empty store: nothing to show but what to do
    assert r.stdout == "" and "nothing imported yet: run jzcli import FILES" in r.stderr
    ids = import_files(tmp_path, db_url, cli)
    assert ids
    r = cli("report", "--gemeente", "Huizen", "--db", db_url)
    assert r.exit_code == 0 and "No line has been judged yet" in r.stderr
    assert "€ 4.615,20" in r.stdout  # all of it not judged


def test_gemeente_completion():
    from jzcli.cli.commands.report import complete_gemeente

    assert "Huizen" in complete_gemeente("hui")
    assert "Laren" in complete_gemeente("lar") and "Laren (NH.)" in complete_gemeente("lar")
    assert "'s-Hertogenbosch" in complete_gemeente("'s-h") and "'s-Hertogenbosch" in complete_gemeente("sh")
    assert "Den Haag" in complete_gemeente("den")
    assert len(complete_gemeente("")) >= 342


def test_period_labels_compile_without_bind_parameters():
    """The month/quarter/year expressions must be textually identical in SELECT and GROUP BY on
    PostgreSQL, so they may not contain bind parameters."""
    from sqlalchemy.dialects import postgresql, sqlite

    for dialect, name in ((postgresql.dialect(), "postgresql"), (sqlite.dialect(), "sqlite")):
        for unit in ("maand", "kwartaal", "jaar"):
            compiled = R.period_expr(name, unit).compile(dialect=dialect)
            assert not compiled.params, (name, unit, str(compiled))


# ---------------------------------------------------------------------------------------------- both stores
PG_URL = os.environ.get("JZCLI_TEST_DATABASE_URL")


@pytest.mark.skipif(not PG_URL and not os.environ.get("CI"), reason="needs JZCLI_TEST_DATABASE_URL")
def test_sqlite_and_postgresql_give_identical_reports(tmp_path, cli):
    assert PG_URL, "JZCLI_TEST_DATABASE_URL must be set in CI"
    schema = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        outputs = []
        pg = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
        for url in ("sqlite:///" + str(tmp_path / "s.db"), pg):
            (tmp_path / url[:6]).mkdir()
            judge(url, import_files(tmp_path / url[:6], url, cli))
            for args in (
                (),
                ("--by", "aanbieder", "--by", "kwartaal"),
                ("--by", "productcategorie", "--by", "jaar"),
                ("--view", "alles", "--gemeente", "Gooise Meren", "--gemeente", "Huizen"),
            ):
                r = cli("report", *args, "--format", "json", "--db", url)
                assert r.exit_code == 0, r.output
                outputs.append(json.loads(r.stdout))
        n = len(outputs) // 2
        assert outputs[:n] == outputs[n:]
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


# ---------------------------------------------------------------------------------------------- with jzcli validate
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def test_samples_imported_and_validated_then_reported(db_url, cli):
    """The README's first command: import every sample, jzcli validate, report on Huizen."""
    r = cli("import", SAMPLES, "--aanbieder", "98001202", "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    r = cli("validate", "--db", db_url, "-q")
    assert r.exit_code == 1, r.output  # the planted mistakes
    r = cli(
        "report", "--gemeente", "Huizen", "--view", "kosten", "--view", "lasten", "--format", "json", "--db", db_url
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    total = data["kosten"][-1]
    cents = {k: int(total[k].replace(".", "")) for k in ("ingediend", "goedgekeurd", "afgekeurd", "onbeoordeeld")}
    assert cents["onbeoordeeld"] == 0 and cents["goedgekeurd"] + cents["afgekeurd"] == cents["ingediend"]
    rules = {row["regel"]: row for row in data["lasten_regel"]}
    # planted mistakes that concern Huizen (data/samples/README.md): #1 TR418 (8 × € 95,00),
    # #2 TR308, #5 TR323 (a credit: it lowers the rejected amount), #7 CS002 (Kindcentrum, sheet Huizen)
    assert {"TR418", "TR308", "TR323", "CS002"} <= set(rules)
    assert rules["TR418"]["afgekeurd_bedrag"] == "760.00" and rules["TR418"]["retourcode"] == "0611"
    assert rules["TR323"]["afgekeurd_bedrag"].startswith("-")
    afkeur = sum(
        int(row["afgekeurd_bedrag"].replace(".", "")) for row in data["lasten_regel"] if row["ernst"] == "afkeur"
    )
    assert afkeur == cents["afgekeurd"]  # each rejected line has exactly one afkeur rule here
    # ZorgFirst's April file corrects a March line and replaces the line rejected for its tariff
    zorgfirst = next(row for row in data["lasten_aanbieder"] if row["aanbieder"] == "98001101")
    assert zorgfirst["herindieningen"] == 2
    r = cli("report", "--gemeente", "Huizen", "--db", db_url)
    assert r.exit_code == 0 and "Findings per rule" in r.stdout and "TR418" in r.stdout


def test_first_report_says_it_adds_the_reporting_index_once(tmp_path, sqlite_url, cli):
    rows_ = [line(A, "0406", "X1", BSN1, "45", "45A48", (2025, 1), 1, "04", 78.0, 78.0)]
    assert cli("import", write_xlsx(tmp_path / "x.xlsx", rows_), "--db", sqlite_url, "-q").exit_code == 0
    first = cli("report", "--gemeente", "Huizen", "--db", sqlite_url)
    again = cli("report", "--gemeente", "Huizen", "--db", sqlite_url)
    assert first.exit_code == 0 and again.exit_code == 0
    assert "reporting index" in first.stderr and "reporting index" not in again.stderr
    assert first.stdout == again.stdout
    with sa.create_engine(sqlite_url).connect() as conn:
        names = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert R.REPORT_INDEX_NAME in names
    quiet = cli("report", "--gemeente", "Huizen", "--db", "sqlite:///" + str(tmp_path / "other.db"), "-q")
    assert "reporting index" not in quiet.stderr
