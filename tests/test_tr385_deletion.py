"""TR385 (9385, OP362): a gemeente may not delete an allocation (reden wijziging 13) that has
approved, not credited declaration lines. The allocation import reports it by allocation and the
lines concerned, stores the version as written and does not apply it; files written here,
imported through the real CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json

from ijw_builders import toegewezen_product, write_jw301
from jzcli.engine.run import validate
from jzcli.store.agreements import toewijzingen_actueel
from jzcli.store.store import Store
from validate_kit import ALLOCATION_HEADER, BSNS, CONTRACT, HEADER, TODAY, line, write_xlsx

JAN1 = dt.date(2025, 1, 1)


def _alloc(nummer: str, bsn: str, *, reden=None, eind=None, when=dt.date(2024, 12, 1)) -> list:
    return [nummer, bsn, "98001101", "0406", "45", "45A48", JAN1, eind, 200, "04", "4", None, reden, when]


def _setup(tmp_path, db_url, cli, rows):
    (tmp_path / "contract.toml").write_text(CONTRACT, encoding="utf-8")
    first = write_xlsx(
        tmp_path / "toewijzingen.xlsx",
        {"T": [ALLOCATION_HEADER, _alloc("5001", BSNS[0]), _alloc("5002", BSNS[1]), _alloc("5003", BSNS[2])]},
    )
    march = write_xlsx(tmp_path / "maart.xlsx", {"Declaratie": [HEADER, *rows]})
    r = cli("import", tmp_path / "contract.toml", first, march, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    validate(Store.open(db_url), today=TODAY)


def test_deleting_an_allocation_with_approved_lines_is_refused(tmp_path, db_url, cli):
    rows = [
        line(BSNS[0], nummer="5001", ref="R1"),  # row 2: approved on 5001
        line(
            BSNS[0], nummer="5001", ref="R2", begin=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28), volume=4
        ),  # row 3: approved on 5001
        line(BSNS[1], nummer="5002", ref="R3"),  # row 4: approved on 5002, credited below
        line(BSNS[2], nummer="5003", ref="R4", tarief=95.0),  # row 5: rejected (TR418): not an approved line
    ]
    _setup(tmp_path, db_url, cli, rows)
    credit = write_xlsx(
        tmp_path / "april.xlsx", {"Declaratie": [HEADER, line(BSNS[1], nummer="5002", dc="C", ref="R5", vorig="R3")]}
    )
    assert cli("import", credit, "--db", db_url, "-q").exit_code == 0
    validate(Store.open(db_url), today=TODAY)

    deletions = write_xlsx(
        tmp_path / "intrekking.xlsx",
        {
            "T": [
                ALLOCATION_HEADER,
                *[
                    _alloc(n, b, reden="13", eind=JAN1, when=dt.date(2025, 4, 1))
                    for n, b in (("5001", BSNS[0]), ("5002", BSNS[1]), ("5003", BSNS[2]))
                ],
            ]
        },
    )
    r = cli("import", deletions, "--db", db_url)
    assert r.exit_code == 1, r.output  # stored, but the gemeente has to act
    out = " ".join(r.stdout.split())
    assert "Allocation deletions refused (1; TR385, retourcode 9385" in out
    assert "batch 3, maart.xlsx, sheet 'Declaratie', row 2" in out and "row 3" in out
    assert "the previous version of each allocation stays current" in out

    store = Store.open(db_url)
    findings = store.import_findings()
    refused = findings[findings["regel"] == "TR385"]
    assert list(zip(refused["rij"], refused["waarde"])) == [
        (2, "13")
    ]  # 5001 only: 5002's line was credited, 5003's rejected
    assert refused.iloc[0]["melding"].startswith(
        "toewijzing 5001 of gemeente 0406 has 2 approved declaration lines that were not credited (€ 1.117,20: "
    )
    current = toewijzingen_actueel(store).set_index("toewijzingnummer")
    assert not current.loc["5001", "verwijderd"] and current.loc["5001", "versies"] == 2  # stored, not applied
    assert current.loc["5002", "verwijderd"] and current.loc["5003", "verwijderd"]

    # a new March line on 5001 is judged on the live allocation (no TR384)
    more = write_xlsx(
        tmp_path / "laat.xlsx",
        {
            "Declaratie": [
                HEADER,
                line(BSNS[0], nummer="5001", ref="R9", begin=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31), volume=2),
            ]
        },
    )
    assert cli("import", more, "--db", db_url, "-q").exit_code == 0
    result = validate(store, today=TODAY)
    assert set(result.verdicts["status"]) == {"goedgekeurd"}, result.findings[["regel", "melding"]]

    r = cli("import", deletions, "--db", db_url, "--format", "json")  # byte-identical: unchanged
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["status"] == "unchanged"


def test_a_jw301_deletion_is_refused_and_json_lists_the_lines(tmp_path, db_url, cli):
    _setup(tmp_path, db_url, cli, [line(BSNS[0], nummer="5001", ref="R1")])
    msg = write_jw301(
        tmp_path / "jw301.xml",
        bsn=BSNS[0],
        producten=[
            toegewezen_product(
                "5001",
                JAN1,
                einddatum=JAN1,
                reden_wijziging="13",
                toewijzingsdatum=dt.date(2025, 4, 1),
                productcode="45A48",
                volume=200,
                eenheid="04",
                frequentie="4",
            )
        ],
    )
    r = cli("import", msg, "--db", db_url, "--format", "json")
    assert r.exit_code == 1, r.output
    [res] = json.loads(r.stdout)
    assert res["status"] == "imported" and res["findings"] == 1
    [refused] = res["refused_deletions"]
    assert refused["toewijzingnummer"] == "5001" and refused["regels"] == [
        "batch 3, maart.xlsx, sheet 'Declaratie', row 2"
    ]
    assert "TR385" in r.stderr


def test_a_deletion_without_approved_lines_is_applied(tmp_path, db_url, cli):
    _setup(tmp_path, db_url, cli, [line(BSNS[1], nummer="5002", ref="R1")])
    deletion = write_xlsx(
        tmp_path / "intrekking.xlsx",
        {"T": [ALLOCATION_HEADER, _alloc("5001", BSNS[0], reden="13", eind=JAN1, when=dt.date(2025, 4, 1))]},
    )
    r = cli("import", deletion, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    assert "refused" not in r.stdout and Store.open(db_url).import_findings().empty
    assert toewijzingen_actueel(Store.open(db_url)).set_index("toewijzingnummer").loc["5001", "verwijderd"]
