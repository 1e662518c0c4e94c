"""Every figure in a report is right (issue 15 §3): a line whose file has no ProductCategorie is
reported under the category it resolves to (file, else contract product, else allocation), also
against a budget per category; a product's volume is never added up over different eenheden.

Files are written here (csv in cp1252 without a category column, xlsx with one), imported and
validated through the real CLI, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from validate_kit import AGB, ALLOCATION_HEADER, BSNS, CONTRACT, GEM, write_xlsx

CSV_HEADER = ["BSN", "Productcode", "Periode van", "Periode tot", "Aantal", "Eenheid", "Tarief", "Totaal", "Gemeente"]


def _csv(path, rows):
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows([CSV_HEADER, *rows])
    path.write_bytes(buf.getvalue().encode("cp1252"))
    return path


@pytest.fixture
def store(tmp_path, db_url, cli):
    contract = tmp_path / "contract.toml"
    contract.write_text(CONTRACT, encoding="utf-8")
    start = "01-01-2025"
    alloc = [ALLOCATION_HEADER] + [
        [f"90000{i}", bsn, AGB, GEM, cat, code, start, None, 99_999, unit, "6", None, None, "01-12-2020"]
        for i, (bsn, cat, code, unit) in enumerate(
            [
                (BSNS[0], "45", "45A48", "04"),
                (BSNS[1], "54", "54002", "04"),
                (BSNS[2], "54", "54002", "04"),
                (BSNS[3], "43", "43X99", "04"),  # a product the contract does not have: category from the allocation
            ],
            1,
        )
    ]
    toew = write_xlsx(tmp_path / "toewijzingen.xlsx", {"Toewijzingen": alloc})
    # Huizen's provider sends no ProductCategorie column (Windows-1252 csv, Dutch numbers)
    lines = _csv(
        tmp_path / "maart.csv",
        [
            [BSNS[0], "45A48", "01-03-2025", "31-03-2025", "10", "uur", "79,80", "798,00", "Huizen"],
            [BSNS[1], "54002", "01-03-2025", "31-03-2025", "3", "uur", "98,50", "295,50", "Huizen"],
            [BSNS[2], "54002", "01-03-2025", "31-03-2025", "90", "minuten", "1,64", "147,75", "Huizen"],
            [BSNS[3], "43X99", "01-03-2025", "31-03-2025", "1", "uur", "50,00", "50,00", "Huizen"],
        ],
    )
    r = cli("import", contract, toew, lines, "--aanbieder", AGB, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    r = cli("validate", "--db", db_url, "-q", "--format", "json")
    assert r.exit_code == 1, r.output  # 43X99 has no contract tariff
    rejected = {rec["rij"] for rec in json.loads(r.stdout) if rec["status"] == "afgekeurd"}
    assert rejected == {5}
    return db_url


def _json(cli, *args):
    r = cli("report", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_by_productcategorie_uses_the_resolved_category(store, cli):
    data = _json(cli, "--by", "productcategorie", "--gemeente", "Huizen", "--db", store)
    rows = {row["productcategorie"]: row for row in data["kosten"] if row["niveau"] == "detail"}
    # before: one "(none)" row of € 1.291,25; now each category with its own money
    assert set(rows) == {"45", "54", "43"}
    assert (rows["45"]["ingediend"], rows["45"]["goedgekeurd"]) == ("798.00", "798.00")
    assert (rows["54"]["ingediend"], rows["54"]["goedgekeurd"]) == ("443.25", "443.25")
    assert (rows["43"]["ingediend"], rows["43"]["afgekeurd"]) == ("50.00", "50.00")  # from the allocation
    assert rows["43"]["productcategorie_omschrijving"]
    note = next(n for n in data["opmerkingen"] if n.startswith("productcategorie:"))
    assert (
        "from the file for 0 line(s), from the contract product for 3 line(s), from the allocation for 1 line(s)"
        in note
    )


def test_budget_per_category_counts_lines_without_a_category_column(store, cli, tmp_path):
    budget = tmp_path / "budget.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["gemeente", "jaar", "productcategorie", "budget"])
    ws.append(["Huizen", 2025, "45", 10000])
    ws.append(["Huizen", 2025, "54", 5000])
    ws.append(["Huizen", 2025, "43", 1000])
    wb.save(budget)
    data = _json(cli, "--view", "budget", "--budget", budget, "--db", store)
    got = {row["productcategorie"]: (row["goedgekeurd"], row["gerealiseerd"]) for row in data["budget"]}
    # before the fix: € 0,00 realised in every category although € 1.241,25 was approved
    assert got == {"45": ("798.00", "798.00"), "54": ("443.25", "443.25"), "43": ("0.00", "0.00")}
    assert any(n.startswith("productcategorie:") for n in data["opmerkingen"])
    # the workbook's Toelichting says where the category came from
    out = tmp_path / "budget-report.xlsx"
    r = cli("report", "--view", "budget", "--budget", budget, "--db", store, "-o", out, "-q")
    assert r.exit_code == 0, r.output
    notes = [
        " ".join(str(c.value) for c in row if c.value) for row in openpyxl.load_workbook(out)["Toelichting"].iter_rows()
    ]
    assert any("from the contract product for 3 line(s)" in n for n in notes)
    assert any(n.startswith("Kolom Productcategorie ") and "jzcli validate vond" in n for n in notes), notes


def test_by_productcode_never_adds_up_different_eenheden(store, cli):
    data = _json(cli, "--by", "productcode", "--gemeente", "Huizen", "--db", store)
    rows = {row["productcode"]: row for row in data["kosten"]}
    # 45A48: 10 uur; 54002: 3 uur and 90 minuten: no volume, eenheid "(mixed)"; the total neither
    assert (rows["45A48"]["volume"], rows["45A48"]["eenheid"]) == (10, "04")
    assert (rows["54002"]["volume"], rows["54002"]["eenheid"]) == (None, "(mixed)")
    assert rows["54002"]["ingediend"] == "443.25"  # money still adds up
    total = data["kosten"][-1]
    assert total["niveau"] == "totaal" and total["volume"] is None and total["eenheid"] == "(mixed)"
    # every table: a volume is never a sum over different eenheden
    per_gemeente = _json(cli, "--db", store)["kosten"]
    assert [row["volume"] for row in per_gemeente] == [None, None]
    r = cli("report", "--by", "productcode", "--gemeente", "Huizen", "--db", store)
    assert r.exit_code == 0
    line = next(x for x in r.stdout.splitlines() if x.strip().startswith("54002"))
    assert "–" in line and "(mixed)" in line
    assert "never added up" in r.stdout
