"""A line with a gemeente code retired by a merger is judged as the gemeente it became (IV046:
the successor carries the obligations): its contracts and allocations, its duplicates. The code
stays as written in the store and the report; a split code with no single successor is a clear
finding. Files written here, imported and judged for real (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from jzcli import refdata
from jzcli.engine.run import validate
from jzcli.store.schema import declaratieregels
from jzcli.store.store import Store
from validate_kit import ALLOCATION_HEADER, BSNS, HEADER, TODAY, import_files, line, write_xlsx

GOOISE_MEREN = "1942"  # Bussum (0381), Muiden (0424) and Naarden (0425) merged on 2016-01-01
CONTRACT = """
[contract]
naam = "Gooise Meren 2025"
gemeenten = ["1942"]

[[product]]
productcategorie = "45"
productcode = "45A48"
eenheid = "04"
tarief = 79.80
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-01-01
geldig_tot = 2025-12-31
"""


def _allocation(nummer: str, bsn: str, gemeente: str = GOOISE_MEREN) -> list:
    return [
        nummer,
        bsn,
        "98001101",
        gemeente,
        "45",
        "45A48",
        dt.date(2025, 1, 1),
        None,
        200,
        "04",
        "4",
        None,
        None,
        dt.date(2024, 12, 1),
    ]


def _store(db_url: str, tmp_path, rows: list[list]) -> Store:
    store = Store.open(db_url)
    (tmp_path / "contract.toml").write_text(CONTRACT, encoding="utf-8")
    allocations = write_xlsx(
        tmp_path / "toewijzingen.xlsx",
        {
            "Toewijzingen": [
                ALLOCATION_HEADER,
                _allocation("7001", BSNS[0]),
                _allocation("7002", BSNS[1]),
                _allocation("7003", BSNS[2]),
                _allocation("7004", BSNS[4]),
            ]
        },
    )
    import_files(store, tmp_path / "contract.toml", allocations)
    import_files(store, write_xlsx(tmp_path / "maart.xlsx", {"Declaratie": [HEADER, *rows]}))
    return store


def _found(result) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for rij, regel, melding in zip(result.findings["rij"], result.findings["regel"], result.findings["melding"]):
        out.setdefault(int(rij), {})[regel] = melding
    return out


def test_a_merged_code_is_judged_against_its_successors_contract_and_allocations(tmp_path, db_url):
    rows = [
        line(BSNS[0], gemeente="0381", nummer="7001"),  # row 2: Bussum, by toewijzingnummer
        line(BSNS[1], gemeente="0425"),  # row 3: Naarden, matched on content
        line(BSNS[2], gemeente="0381", tarief=81.00),  # row 4: Gooise Meren's tariff applies: TR418
        line(BSNS[3], gemeente="0381"),  # row 5: no allocation for this client at Gooise Meren either
        line(BSNS[4], gemeente=GOOISE_MEREN),  # row 6: the new code itself
        line(
            BSNS[4], gemeente="0424"
        ),  # row 7: Muiden = Gooise Meren: the same debet twice (TR416, level 2: nothing else)
    ]
    store = _store(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    found = _found(result)
    status = dict(zip(result.verdicts["rij"].astype(int), result.verdicts["status"]))
    assert status == {
        2: "goedgekeurd",
        3: "goedgekeurd",
        4: "afgekeurd",
        5: "afgekeurd",
        6: "goedgekeurd",
        7: "afgekeurd",
    }
    assert set(found[2]) == {"JZ-G01"} and set(found[3]) == {"JZ-G01"}
    assert found[2]["JZ-G01"] == (
        "gemeente 0381 (Bussum) merged into 1942 Gooise Meren on 2016-01-01: judged as 1942 Gooise Meren (its contracts and "
        "allocations: the successor carries the obligations, IV046); the line keeps 0381, declare on the new code from now on"
    )
    assert set(found[4]) == {"JZ-G01", "TR418"} and "contracttarief € 79,80 for 45A48" in found[4]["TR418"]
    assert set(found[5]) == {"JZ-G01", "TR338"}
    assert found[5]["TR338"].startswith("no allocation found for gemeente 0381 (Bussum) → 1942 (Gooise Meren): ")
    assert set(found[7]) == {"TR416"} and "sheet 'Declaratie' row 6" in found[7]["TR416"]
    assert 6 not in found
    # the codes stay as written
    with store.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(declaratieregels.c.rij, declaratieregels.c.gemeente)).all())
    assert stored == {2: "0381", 3: "0425", 4: "0381", 5: "0381", 6: GOOISE_MEREN, 7: "0424"}


def test_a_merged_code_without_a_contract_at_the_successor_says_so(tmp_path, db_url):
    rows = [line(BSNS[0], gemeente="0381", nummer="7001", code="54002")]  # not in Gooise Meren's contract
    store = _store(db_url, tmp_path, rows)
    found = _found(validate(store, today=TODAY))
    assert (
        found[2]["JZ-C01"] == "productcode 54002 is not in any contract of gemeente 0381 (Bussum) → 1942 (Gooise Meren)"
    )


def test_a_split_code_has_no_single_successor(tmp_path, db_url):
    rows = [line(BSNS[0], gemeente="0140", nummer="7001")]  # Littenseradiel: split over three gemeenten in 2018
    store = _store(db_url, tmp_path, rows)
    result = validate(store, today=TODAY)
    found = _found(result)
    assert set(result.verdicts["status"]) == {"afgekeurd"}
    split = "gemeente 0140 (Littenseradiel) was split on 2018-01-01 over 0080 Leeuwarden, 1900 Súdwest-Fryslân, 1949 Waadhoeke and has no single successor"
    assert (
        found[2]["JZ-C01"]
        == split + ": no contract can be chosen for it; declare on the gemeente responsible for the client"
    )
    assert (
        found[2]["TR338"]
        == split + ": no allocation can be chosen for it; declare on the gemeente responsible for the client"
    )
    assert "no single successor" in found[2]["JZ-G01"] and "TR378" not in found[2]


def test_successors_follow_chains_as_of_the_lines_period():
    history = {
        "0001": [{"oude_code": "0001", "nieuwe_code": "0002", "ingangsdatum": "2018-01-01", "soort": "samenvoeging"}],
        "0002": [{"oude_code": "0002", "nieuwe_code": "0003", "ingangsdatum": "2021-01-01", "soort": "samenvoeging"}],
        "0009": [
            {"oude_code": "0009", "nieuwe_code": "0001", "ingangsdatum": "2017-01-01", "soort": "opsplitsing"},
            {"oude_code": "0009", "nieuwe_code": "0004", "ingangsdatum": "2017-01-01", "soort": "opsplitsing"},
        ],
    }
    follow = refdata.follow_successors
    assert follow(history, "0001", "2017-12-31") == ("0001",)  # not merged yet
    assert follow(history, "0001", "2019-03-01") == ("0002",)  # the gemeente of that time
    assert follow(history, "0001", "2025-03-01") == ("0003",)  # merged again: today's
    assert follow(history, "0001") == ("0003",)
    assert follow(history, "0009", "2025-03-01") == ("0003", "0004")  # split: no single successor
    assert follow(history, "0406", "2025-03-01") == ("0406",)
    assert refdata.successors("0381", "2025-03-01") == ("1942",) and refdata.successors("0381", "2015-12-01") == (
        "0381",
    )


def test_cli_validate_and_report_show_the_merged_line(tmp_path, db_url, cli):
    rows = [line(BSNS[0], gemeente="0381", nummer="7001"), line(BSNS[4], gemeente=GOOISE_MEREN)]
    _store(db_url, tmp_path, rows)
    r = cli("validate", "--db", db_url, "--format", "json")
    assert r.exit_code == 0, r.output
    records = json.loads(r.stdout)
    assert [(x["rij"], x["regel"], x["ernst"], x["status"]) for x in records] == [
        (2, "JZ-G01", "signaal", "goedgekeurd")
    ]
    r = cli("report", "--gemeente", "Gooise Meren", "--db", db_url, "--format", "json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    rows_ = report["kosten"]
    detail = {x["gemeente"]: x for x in rows_ if x.get("niveau") == "detail"}
    total = next(x for x in rows_ if x.get("niveau") == "totaal")
    assert set(detail) == {"0381", GOOISE_MEREN}
    assert detail["0381"]["gemeente_opmerking"].startswith("merged into Gooise Meren (1942) on 2016-01-01")
    assert float(detail["0381"]["goedgekeurd"]) == float(detail[GOOISE_MEREN]["goedgekeurd"]) == 798.00
    assert float(total["goedgekeurd"]) == 1596.00  # the old code counts in the successor's total


def test_check_says_the_merged_line_is_judged_as_its_successor(tmp_path, cli):
    (tmp_path / "contract.toml").write_text(CONTRACT, encoding="utf-8")
    toew = write_xlsx(tmp_path / "toewijzingen.xlsx", {"T": [ALLOCATION_HEADER, _allocation("7001", BSNS[0])]})
    src = write_xlsx(tmp_path / "maart.xlsx", {"Declaratie": [HEADER, line(BSNS[0], gemeente="Bussum", nummer="7001")]})
    r = cli("check", src, "--contract", tmp_path / "contract.toml", "--toewijzingen", toew, "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    [rec] = json.loads(r.stdout)
    assert (rec["regel"], rec["ernst"], rec["waarde"]) == ("JZ-G01", "signaal", "0381")
    assert rec["hint"] == "nothing to change in this line; use gemeente 1942 Gooise Meren from now on"
