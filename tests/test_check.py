"""jzcli check: import + validate in a temporary store, per-finding hints, exit codes, and the
same rejections as jzcli import + jzcli validate on the same files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pytest

from jzcli import check as check_mod
from jzcli.check import CHECK_RECORD_KEYS, HINTS, check, generic_hint
from jzcli.domain.findings import RECORD_KEYS
from jzcli.engine.result import findings_records
from jzcli.engine.run import validate
from jzcli.importer import import_paths
from jzcli.readers.prepared import ImportOptions
from jzcli.store.store import Store
from validate_kit import (
    ALLOCATION_HEADER,
    BAD_BSN,
    BSNS,
    CONTRACT,
    MARCH,
    TODAY,
    allocation_rows,
    declaration,
    line,
    write_xlsx,
)

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
CONTRACTS = [SAMPLES / "contract_gooi-en-vechtstreek_2025.toml", SAMPLES / "tarieven_twente_2025.xlsx"]
ALLOCATIONS = [SAMPLES / "toewijzingen_2025.xlsx"]
DECLARATIONS = [
    SAMPLES / "laren-huizen_kindcentrum-t-gooi_2025-02.xlsx",
    SAMPLES / "enschede_twentezorg_2025.xlsx",
    SAMPLES / "huizen_zorgfirst_2025-03.xlsx",
    SAMPLES / "blaricum_jeugdzorg-de-horizon_2025-03.csv",
    SAMPLES / "huizen_zorgfirst_2025-04.xlsx",
]
SAMPLE_TODAY = dt.date(2025, 5, 15)


def _contract(tmp_path: Path) -> Path:
    path = tmp_path / "contract.toml"
    path.write_text(CONTRACT, encoding="utf-8")
    return path


def _allocations(tmp_path: Path, rows: list[list]) -> Path:
    return write_xlsx(tmp_path / "toewijzingen.xlsx", {"Toewijzingen": [ALLOCATION_HEADER, *allocation_rows(rows)]})


def _by_line(records: list[dict]) -> dict:
    out: dict = {}
    for r in records:
        out.setdefault((r["bron"], r["blad"], r["rij"]), {})[r["regel"]] = r
    return out


# ============================================================================ one implementation
def test_check_reports_the_same_rejections_as_import_plus_validate(db_url):
    """The same files in the same order (contracts, allocations, declarations): identical records
    (without --eerder, as validate on a store without the earlier months: history_complete=False)."""
    result = check(DECLARATIONS, CONTRACTS, ALLOCATIONS, aanbieder="98001202", today=SAMPLE_TODAY)

    store = Store.open(db_url)
    try:
        for path in [*CONTRACTS, *ALLOCATIONS, *DECLARATIONS]:
            r = import_paths(store, [path], ImportOptions(aanbieder="98001202"))
            assert r[0].status == "imported", r[0].message
        expected = findings_records(validate(store, today=SAMPLE_TODAY, history_complete=False))
    finally:
        store.close()

    got = [{k: v for k, v in rec.items() if k != "hint"} for rec in result.records]
    assert got == expected
    assert all(list(rec) == CHECK_RECORD_KEYS for rec in result.records)
    rejected = {(r["bron"], r["blad"], r["rij"], r["regel"]) for r in result.records if r["status"] == "afgekeurd"}
    assert rejected == {
        ("huizen_zorgfirst_2025-03.xlsx", "Declaratie", 20, "TR418"),
        ("huizen_zorgfirst_2025-03.xlsx", "Declaratie", 13, "TR308"),
        ("blaricum_jeugdzorg-de-horizon_2025-03.csv", None, 6, "TR321"),
        ("enschede_twentezorg_2025.xlsx", "Declaratie Q1 2025", 21, "TR416"),
        ("laren-huizen_kindcentrum-t-gooi_2025-02.xlsx", "Laren", 11, "TR384"),
        ("laren-huizen_kindcentrum-t-gooi_2025-02.xlsx", "Huizen", 11, "CS002"),
    }
    # the credit of ZF25030060 (never declared in these files) may cancel a line of an earlier
    # month: without --eerder that cannot be known, so a signal, not TR323
    signal = {(r["bron"], r["rij"], r["regel"], r["ernst"]) for r in result.records if r["regel"] == "JZ-H01"}
    assert signal == {("huizen_zorgfirst_2025-04.xlsx", 5, "JZ-H01", "signaal")}
    assert result.exit_code == 1 and result.rejected == 6 and result.lines == 73
    assert "TR323" in result.history_rules and "TR389" in result.history_rules


def test_with_the_earlier_months_the_planted_credit_is_rejected():
    """--eerder with the February and March files: the April credit of ZF25030060 has no debet
    in any month given: TR323 (the typing error of planted mistake #5)."""
    earlier = DECLARATIONS[:4]
    result = check([DECLARATIONS[4]], CONTRACTS, ALLOCATIONS, aanbieder="98001202", today=SAMPLE_TODAY, eerder=earlier)
    # the earlier files are judged as the gemeente judged them: their 6 planted mistakes are no history
    assert (
        result.lines == 4 and result.history_lines == 63 and result.history_rejected == 6 and result.history_rules == []
    )
    # row 2 credits March's ZF25030001 (found), row 4 resubmits the rejected March row 20 (no
    # second debet: a rejected line is no history), row 5 credits a number never declared
    assert [(r["rij"], r["regel"], r["status"]) for r in result.records] == [(5, "TR323", "afgekeurd")]
    assert "ZF25030060" in result.records[0]["hint"] and "typing error" in result.records[0]["hint"]


def test_hints_say_what_to_change_for_the_planted_mistakes():
    result = check(DECLARATIONS, CONTRACTS, ALLOCATIONS, aanbieder="98001202", today=SAMPLE_TODAY)
    by = _by_line(result.records)
    tariff = by[("huizen_zorgfirst_2025-03.xlsx", "Declaratie", 20)]["TR418"]
    assert tariff["hint"].startswith("use € 79,80 as tarief")
    volume = by[("blaricum_jeugdzorg-de-horizon_2025-03.csv", None, 6)]["TR321"]
    assert volume["hint"].startswith("at most 18 uur: 3 uur/week × 6 ISO weeks touched by 2025-03")
    # row 13: March on an allocation that ended in February: extending it is the only way
    period = by[("huizen_zorgfirst_2025-03.xlsx", "Declaratie", 13)]["TR308"]
    assert "ended on 2025-02-28" in period["hint"] and "extend" in period["hint"]
    dup = by[("enschede_twentezorg_2025.xlsx", "Declaratie Q1 2025", 21)]["TR416"]
    assert "row 11" in dup["hint"]
    credit = by[("huizen_zorgfirst_2025-04.xlsx", "Declaratie", 5)]["JZ-H01"]
    assert "--eerder" in credit["hint"] and "typing error" not in credit["hint"]
    deleted = by[("laren-huizen_kindcentrum-t-gooi_2025-02.xlsx", "Laren", 11)]["TR384"]
    assert "417250304" in deleted["hint"] and "withdrawn" in deleted["hint"]  # a toewijzingnummer, not masked
    bsn = by[("laren-huizen_kindcentrum-t-gooi_2025-02.xlsx", "Huizen", 11)]["CS002"]
    assert "11-proef" in bsn["hint"] and BAD_BSN not in json.dumps(result.records)
    for rec in result.records:
        assert rec["hint"] != generic_hint(rec["regel"]), rec


def test_the_period_hint_names_the_allocations_einddatum(tmp_path):
    rows = [line(BSNS[0], begin=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31), ref="R1", nummer="900001")]
    alloc = [
        [
            "900001",
            BSNS[0],
            "98001101",
            "0406",
            "45",
            "45A48",
            dt.date(2025, 1, 1),
            dt.date(2025, 3, 20),
            40,
            "04",
            "4",
            None,
            None,
            dt.date(2024, 12, 1),
        ]
    ]
    toew = write_xlsx(tmp_path / "toewijzingen.xlsx", {"Toewijzingen": [ALLOCATION_HEADER, *alloc]})
    result = check([declaration(tmp_path / "d.xlsx", rows)], [_contract(tmp_path)], [toew], today=TODAY)
    by = _by_line(result.records)[("d.xlsx", "Declaratie", 2)]
    assert by["TR308"]["hint"] == "ProductPeriode must end on 2025-03-20, the allocation's einddatum"
    assert by["TR388"]["hint"].startswith("einddatum must be 2025-03-20")


def test_every_hint_pattern_matches_the_messages_the_rules_write(tmp_path):
    """Lines breaking many rules at once: every finding gets its rule's own hint, not the generic
    one (a message that changes shape makes this test fail, not the hint silently vague)."""
    rows = [
        line(BSNS[0], tarief=95.0, bedrag=950.0, ref="A1", decl="D1"),  # TR418
        line(BSNS[1], bedrag=1.0, ref="A2", decl="D1"),  # TR346
        line(BSNS[2], begin=dt.date(2025, 2, 20), end=dt.date(2025, 3, 10), ref="A3", decl="D1"),  # CS337
        line(BAD_BSN, ref="A4", decl="D1"),  # CS002
        line(BSNS[3], code="45A48", tarief=None, bedrag=100.0, ref="A5", decl="D1"),  # CD087 missing tarief
        line(
            BSNS[4], code="45E01", volume=5000, tarief=1.0, bedrag=60.0, ref="A6", decl="D1"
        ),  # CD087 tarief on 83, CS339
        line(BSNS[5], code="99X99", tarief=79.8, bedrag=798.0, ref="A7", decl="D1"),  # JZ-C01 not contracted
        line(BSNS[6], eenheid="14", ref="A8", decl="D1"),  # JZ-C02 unit
        line(BSNS[7], cat="54", ref="A9", decl="D1"),  # TR381
        line(BSNS[8], code="43T01", ref="A10", decl="D1"),  # JZ-C03
        line(BSNS[9], ref="A1", decl="D1"),  # TR314 (A1 again)
        line(BSNS[10], vorig="X9", ref="A12", decl="D1"),  # CD060 on a debet
        line(BSNS[11], dc="C", ref="A13", vorig="NOPE", decl="D1"),  # TR323
        line(BSNS[12], ref="A14", decl="D1"),
        line(BSNS[12], ref="A15", decl="D1"),  # TR416 (same as the row above)
        line(BSNS[13], begin=dt.date(2025, 3, 1), end=dt.date(2025, 2, 1), ref="A16", decl="D1"),  # TR137
        line(BSNS[14], gemeente="0999", ref="A17", decl="D1"),  # TR378
    ]
    many = declaration(tmp_path / "many.xlsx", rows)
    earlier = declaration(
        tmp_path / "feb.xlsx",
        [line(BSNS[15], ref="F1", decl="D0", begin=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28))],
    )
    result = check([many], [_contract(tmp_path)], today=TODAY, eerder=[earlier])
    found = {r["regel"] for r in result.records}
    assert {
        "TR418",
        "TR346",
        "CS337",
        "CS002",
        "CD087",
        "CS339",
        "JZ-C01",
        "JZ-C02",
        "TR381",
        "JZ-C03",
        "TR314",
        "CD060",
        "TR323",
        "TR416",
        "TR137",
        "TR378",
    } <= found
    for rec in result.records:
        if rec["regel"] in HINTS:
            assert rec["hint"] != generic_hint(rec["regel"]), rec
    by = _by_line(result.records)
    assert (
        by[("many.xlsx", "Declaratie", 3)]["TR346"]["hint"]
        == "bedrag must be € 798,00 (10 × € 79,80), or correct volume or tarief"
    )
    assert by[("many.xlsx", "Declaratie", 4)]["CS337"]["hint"].startswith(
        "split the line into one line per calendar month"
    )
    assert "gemeente 0406" in by[("many.xlsx", "Declaratie", 8)]["JZ-C01"]["hint"]
    assert by[("many.xlsx", "Declaratie", 9)]["JZ-C02"]["hint"].startswith("declare 45A48 in eenheid 04 (Uur)")
    assert by[("many.xlsx", "Declaratie", 10)]["TR381"]["hint"] == "use productcategorie 45 for 45A48"
    assert (
        by[("many.xlsx", "Declaratie", 17)]["CS337"]["hint"]
        == "correct the dates: einddatum 2025-02-01 is before begindatum 2025-03-01"
    )


def test_an_unreadable_value_is_named_in_the_hint(tmp_path):
    rows = [line(BSNS[0], ref="R1")]
    rows[0][9] = "31-02-2025"  # no such day
    result = check([declaration(tmp_path / "d.xlsx", rows)], [_contract(tmp_path)], today=TODAY)
    rec = next(r for r in result.records if r["regel"] == "CS337")
    assert rec["hint"].startswith("correct the begindatum value '31-02-2025' in the file")


# ============================================================================ several contracts
def test_each_line_is_checked_against_the_contract_of_its_gemeente(tmp_path):
    huizen = tmp_path / "huizen.toml"
    huizen.write_text(
        '[contract]\nnaam = "Huizen 2025"\ngemeenten = ["0406"]\n\n[[product]]\nproductcategorie = "45"\nproductcode = "45A48"\n'
        'eenheid = "04"\ntarief = 79.80\nuitvoeringsvariant = "inspanningsgericht"\ngeldig_van = 2025-01-01\n',
        encoding="utf-8",
    )
    blaricum = tmp_path / "blaricum.toml"
    blaricum.write_text(
        '[contract]\nnaam = "Blaricum 2025"\ngemeenten = ["0376"]\n\n[[product]]\nproductcategorie = "45"\nproductcode = "45A48"\n'
        'eenheid = "04"\ntarief = 81.00\nuitvoeringsvariant = "inspanningsgericht"\ngeldig_van = 2025-01-01\n',
        encoding="utf-8",
    )
    rows = [
        line(BSNS[0], ref="R1"),  # Huizen at 79,80: fine
        line(BSNS[1], gemeente="0376", tarief=81.0, ref="R2"),  # Blaricum at 81,00: fine
        line(BSNS[2], gemeente="0376", ref="R3"),  # Blaricum at Huizen's 79,80: TR418
        line(BSNS[3], gemeente="0417", ref="R4"),  # Laren: no contract given
    ]
    result = check([declaration(tmp_path / "d.xlsx", rows)], [huizen, blaricum], today=TODAY)
    by = _by_line(result.records)
    assert ("d.xlsx", "Declaratie", 2) not in by and ("d.xlsx", "Declaratie", 3) not in by
    assert set(by[("d.xlsx", "Declaratie", 4)]) == {"TR418"}
    assert by[("d.xlsx", "Declaratie", 4)]["TR418"]["hint"].startswith("use € 81,00 as tarief")
    laren = by[("d.xlsx", "Declaratie", 5)]["JZ-C01"]
    assert laren["hint"].startswith("give the contract of gemeente 0417 (Laren (NH.)) with --contract")


# ============================================================================ allocations optional
def test_without_allocations_the_allocation_rules_are_skipped_and_the_output_says_so(tmp_path, cli):
    rows = [line(BSNS[0], ref="R1", nummer="123")]  # no allocation anywhere: TR338 if it were applied
    src = declaration(tmp_path / "d.xlsx", rows)
    contract = _contract(tmp_path)
    result = check([src], [contract], today=TODAY)
    assert result.records == [] and result.exit_code == 0
    assert (
        result.skipped_families == ("allocation",)
        and "TR338" in result.skipped_rules
        and "TR321" in result.skipped_rules
    )

    r = cli("check", src, "--contract", contract, "-q")
    assert r.exit_code == 0, r.output
    assert (
        "allocation rules not applied" in r.stdout and "TR338" in r.stdout and "No line would be rejected" in r.stdout
    )
    r = cli("check", src, "--contract", contract, "--format", "json", "-q")
    assert json.loads(r.stdout) == [] and "allocation rules not applied" in r.stderr

    # allocations given (none for this client): TR338 applies
    allocations = write_xlsx(
        tmp_path / "t.xlsx",
        {
            "Toewijzingen": [
                ALLOCATION_HEADER,
                [
                    "900009",
                    BSNS[5],
                    "98001101",
                    "0406",
                    "45",
                    "45A48",
                    dt.date(2025, 1, 1),
                    None,
                    99,
                    "04",
                    "6",
                    None,
                    None,
                    dt.date(2024, 12, 1),
                ],
            ]
        },
    )
    r = cli("check", src, "--contract", contract, "--toewijzingen", allocations, "--format", "json", "-q")
    assert r.exit_code == 1
    assert [x["regel"] for x in json.loads(r.stdout)] == ["TR338"] and "not applied" not in r.stderr


# ============================================================================ CLI
def test_cli_table_masks_bsns_and_exit_codes(tmp_path, cli):
    r = cli(
        "check",
        *DECLARATIONS,
        *sum((["--contract", c] for c in CONTRACTS), []),
        "--toewijzingen",
        ALLOCATIONS[0],
        "--aanbieder",
        "98001202",
        "-q",
    )
    assert r.exit_code == 1, r.output
    assert BAD_BSN not in r.output and "*****0398" in r.stdout
    for text in (
        "huizen_zorgfirst_2025-03.xlsx",
        "0611 (TR418)",
        "use € 79,80 as tarief",
        "at most 18 uur",
        "6 of 73 lines would be rejected",
    ):
        assert text in r.stdout, text
    r = cli(
        "check",
        *DECLARATIONS,
        "--contract",
        CONTRACTS[0],
        "--contract",
        CONTRACTS[1],
        "--toewijzingen",
        ALLOCATIONS[0],
        "--aanbieder",
        "98001202",
        "--format",
        "json",
        "--show-bsn",
        "-q",
    )
    records = json.loads(r.stdout)
    assert any(rec["waarde"] == BAD_BSN for rec in records)


def test_cli_json_csv_and_output_files_hold_the_records(tmp_path, cli):
    rows = [line(BSNS[0], tarief=95.0, bedrag=950.0, ref="R1"), line(BSNS[1], ref="R2")]
    src = declaration(tmp_path / "d.xlsx", rows)
    contract = _contract(tmp_path)
    core = check([src], [contract]).records
    r = cli("check", src, "--contract", contract, "--format", "json", "-q")
    assert r.exit_code == 1 and json.loads(r.stdout) == core
    r = cli("check", src, "--contract", contract, "--format", "csv", "-q")
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert (
        list(table[0]) == CHECK_RECORD_KEYS
        and table[0]["regel"] == "TR418"
        and table[0]["hint"].startswith("use € 79,80")
    )
    for suffix in ("json", "csv", "xlsx"):
        out = tmp_path / f"afkeur.{suffix}"
        r = cli("check", src, "--contract", contract, "-o", out, "-q")
        assert r.exit_code == 1 and out.exists()
    assert json.loads((tmp_path / "afkeur.json").read_text(encoding="utf-8")) == core
    ws = openpyxl.load_workbook(tmp_path / "afkeur.xlsx").active
    from jzcli.output.xlsx import header

    assert [c.value for c in ws[1]] == [header(k) for k in CHECK_RECORD_KEYS]
    r = cli("check", src, "--contract", contract, "-o", tmp_path / "afkeur.txt")
    assert r.exit_code == 2


def test_cli_exit_0_on_a_clean_file_and_3_on_unreadable_input(tmp_path, cli):
    rows = [
        line(BSNS[0], ref="R1"),
        line(BSNS[1], code="54002", volume=90, eenheid="01", tarief=1.64, bedrag=147.75, ref="R2"),
    ]
    src = declaration(tmp_path / "d.xlsx", rows)
    contract = _contract(tmp_path)
    toew = _allocations(tmp_path, rows)
    r = cli("check", src, "--contract", contract, "--toewijzingen", toew, "-q")
    assert r.exit_code == 0, r.output
    assert "No line would be rejected" in r.stdout and "€ 945,75" in r.stdout

    broken = tmp_path / "kapot.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    r = cli("check", src, broken, "--contract", contract, "--toewijzingen", toew, "-q")
    assert r.exit_code == 3
    assert "kapot.xlsx" in r.stderr and "cannot be read" in r.stdout  # the other file was still checked
    r = cli("check", src, "--contract", broken, "-q")
    assert r.exit_code == 3 and "kapot.xlsx" in r.stderr
    r = cli("check", src, "--contract", tmp_path / "missing.toml", "-q")
    assert r.exit_code == 3 and "missing.toml" in r.stderr
    r = cli("check", src)
    assert r.exit_code == 2 and "--contract" in r.output


def test_check_uses_a_temporary_store_and_never_the_users(tmp_path, cli, monkeypatch):
    user_db = tmp_path / "user.db"
    monkeypatch.setenv("JZCLI_DB", str(user_db))
    made: list[str] = []
    real = check_mod.tempfile.mkdtemp

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(check_mod.tempfile, "mkdtemp", spy)
    rows = [line(BSNS[0], ref="R1")]
    r = cli("check", declaration(tmp_path / "d.xlsx", rows), "--contract", _contract(tmp_path), "-q")
    assert r.exit_code == 0, r.output
    assert len(made) == 1 and not Path(made[0]).exists()
    assert not user_db.exists()


def test_a_folder_is_checked_file_by_file_and_agreement_files_in_it_are_left_alone(tmp_path, cli):
    folder = tmp_path / "maart"
    folder.mkdir()
    rows = [line(BSNS[0], ref="R1"), line(BSNS[1], tarief=95.0, bedrag=950.0, ref="R2")]
    declaration(folder / "a.xlsx", rows[:1])
    declaration(folder / "b.xlsx", rows[1:])
    contract = _contract(folder)
    r = cli("check", folder, "--contract", contract, "--format", "json", "-q")
    assert r.exit_code == 1
    assert {(x["bron"], x["regel"]) for x in json.loads(r.stdout)} == {("b.xlsx", "TR418")}
    (folder / "other.toml").write_text(CONTRACT.replace("Testcontract 2025", "Other"), encoding="utf-8")
    r = cli("check", folder, "--contract", contract, "--format", "json")
    assert "other.toml" in r.stderr and "--contract" in r.stderr


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_march_lines_judged_with_the_day_of_checking(tmp_path, cli, fmt):
    """A line of a month that has not started yet is rejected (TR134/TR137) with a hint."""
    future = dt.date.today().replace(day=1) + dt.timedelta(days=40)
    start = future.replace(day=1)
    end = (start + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
    rows = [line(BSNS[0], begin=start, end=end, ref="R1")]
    contract = tmp_path / "c.toml"
    contract.write_text(CONTRACT.replace("geldig_tot = 2025-12-31", "geldig_tot = 2099-12-31"), encoding="utf-8")
    r = cli("check", declaration(tmp_path / "d.xlsx", rows), "--contract", contract, "--format", fmt, "-q")
    assert r.exit_code == 1
    assert "in the future" in r.stdout


def test_march_sample_alone_passes_except_its_planted_mistakes():
    result = check([SAMPLES / "huizen_zorgfirst_2025-03.xlsx"], CONTRACTS, ALLOCATIONS, today=SAMPLE_TODAY)
    assert {(r["rij"], r["regel"]) for r in result.records if r["status"] == "afgekeurd"} == {
        (13, "TR308"),
        (20, "TR418"),
    }
    assert result.lines == 25 and set(RECORD_KEYS) < set(result.records[0])
    assert MARCH[0].month == 3


# ============================================================================ earlier months (--eerder)
def _months(tmp_path: Path):
    """March (sent and approved before) and April: a correct credit of March line M1 with its
    corrected debet, and a new April line."""
    april = (dt.date(2025, 4, 1), dt.date(2025, 4, 30))
    march_rows = [line(BSNS[0], ref="M1", decl="D3"), line(BSNS[1], ref="M2", decl="D3")]
    april_rows = [
        line(BSNS[0], dc="C", ref="A1", vorig="M1", decl="D4"),  # row 2: credit of March's M1
        line(BSNS[0], volume=8, ref="A2", decl="D4"),  # row 3: the corrected March debet
        line(BSNS[1], begin=april[0], end=april[1], ref="A3", decl="D4"),  # row 4: April care
    ]
    march = declaration(tmp_path / "maart.xlsx", march_rows)
    april_file = declaration(tmp_path / "april.xlsx", april_rows)
    return march, april_file, _contract(tmp_path), _allocations(tmp_path, march_rows + april_rows)


def test_a_correct_credit_of_an_earlier_month_is_never_called_a_rejection(tmp_path, cli):
    march, april, contract, toew = _months(tmp_path)
    r = cli("check", april, "--contract", contract, "--toewijzingen", toew, "--format", "json", "-q")
    assert r.exit_code == 0, r.output  # nothing would be rejected
    records = json.loads(r.stdout)
    assert [(x["rij"], x["regel"], x["ernst"], x["status"]) for x in records] == [
        (2, "JZ-H01", "signaal", "goedgekeurd")
    ]
    assert (
        "not checkable without the earlier months" in records[0]["melding"]
        and "referentienummer M1" in records[0]["melding"]
    )
    assert "--eerder" in records[0]["hint"] and "typing error" not in records[0]["hint"]
    assert "no --eerder given: " in r.stderr and all(code in r.stderr for code in ("TR314", "TR389", "TR390", "TR322"))

    r = cli("check", april, "--contract", contract, "--toewijzingen", toew, "-q")
    assert r.exit_code == 0 and "signal only" in r.stdout and "Note: no --eerder given" in " ".join(r.stdout.split())
    assert "No line would be rejected" in r.stdout

    # with March given as already sent: the credit finds its debet; nothing to report
    r = cli("check", april, "--contract", contract, "--toewijzingen", toew, "--eerder", march, "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [] and "--eerder" not in r.stderr
    r = cli("check", april, "--contract", contract, "--toewijzingen", toew, "--eerder", march, "-q")
    assert r.exit_code == 0 and "Earlier months (--eerder): 2 approved lines are the history (maart.xlsx)." in " ".join(
        r.stdout.split()
    )
    assert "Files checked" in r.stdout and "maart.xlsx" not in r.stdout.split("Earlier months")[0]


def test_history_rules_judge_against_the_earlier_months(tmp_path, cli):
    march, _april, contract, toew = _months(tmp_path)
    again = declaration(
        tmp_path / "april2.xlsx",
        [
            line(BSNS[1], ref="B1", decl="D5"),  # row 2: March's M2 declared a second time: TR389
            line(
                BSNS[0], ref="M1", decl="D5", begin=dt.date(2025, 4, 1), end=dt.date(2025, 4, 30)
            ),  # row 3: reference M1 reused: TR314
            line(
                BSNS[0], dc="C", ref="B3", vorig="M9", decl="D5"
            ),  # row 4: credit of a line that was never sent: TR323
        ],
    )
    r = cli("check", again, "--contract", contract, "--toewijzingen", toew, "--eerder", march, "--format", "json", "-q")
    assert r.exit_code == 1
    got = {(x["rij"], x["regel"]) for x in json.loads(r.stdout)}
    assert got == {(2, "TR389"), (3, "TR314"), (4, "TR323")}
    tr323 = next(x for x in json.loads(r.stdout) if x["regel"] == "TR323")
    assert "typing error" in tr323["hint"]
    # without the earlier months: not one of them is a rejection
    r = cli("check", again, "--contract", contract, "--toewijzingen", toew, "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    assert {(x["rij"], x["regel"], x["ernst"]) for x in json.loads(r.stdout)} == {(4, "JZ-H01", "signaal")}


def test_eerder_takes_jw323_messages_and_refuses_unreadable_files(tmp_path, cli):
    from ijw_builders import build_jw323, client, prestatie, write_bytes

    sent = write_bytes(
        tmp_path / "maart.xml",
        build_jw323(clients=[client(BSNS[0], [prestatie("X1", "900001", volume=10)])], declaratienummer="D3"),
    )  # allocation 900001: BSNS[0], 45A48
    _march, _april, contract, toew = _months(tmp_path)
    credit = declaration(tmp_path / "april.xlsx", [line(BSNS[0], dc="C", ref="A1", vorig="X1", decl="D4")])
    r = cli("check", credit, "--contract", contract, "--toewijzingen", toew, "--eerder", sent, "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == []

    broken = tmp_path / "kapot.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    r = cli("check", credit, "--contract", contract, "--eerder", broken, "-q")
    assert r.exit_code == 3 and "kapot.xlsx" in r.stderr and "--eerder" in r.stderr
    r = cli("check", credit, "--contract", contract, "--eerder", tmp_path / "weg.xlsx", "-q")
    assert r.exit_code == 3 and "weg.xlsx" in r.stderr


def test_a_line_rejected_in_an_earlier_month_is_no_history(tmp_path, cli):
    """--eerder with the whole March file, a line the gemeente rejected included (wrong tarief):
    its corrected resubmission in April is no second debet, and crediting it is TR323."""
    _march, _april, contract, _toew = _months(tmp_path)
    march_rows = [line(BSNS[0], ref="M1", decl="D3"), line(BSNS[1], ref="M2", decl="D3", tarief=95.0)]  # row 3: TR418
    march = declaration(tmp_path / "maart.xlsx", march_rows)
    april_rows = [line(BSNS[1], ref="A1", decl="D4"), line(BSNS[1], dc="C", ref="A2", vorig="M2", decl="D4")]
    april = declaration(tmp_path / "april.xlsx", april_rows)
    toew = _allocations(tmp_path, march_rows + april_rows)
    r = cli("check", april, "--contract", contract, "--toewijzingen", toew, "--eerder", march, "--format", "json", "-q")
    assert r.exit_code == 1, r.output
    assert [(x["rij"], x["regel"]) for x in json.loads(r.stdout)] == [(3, "TR323")]  # row 2 (the resubmission) passes
    r = cli("check", april, "--contract", contract, "--toewijzingen", toew, "--eerder", march, "-q")
    assert "1 lines there are rejected by the same rules and are no history" in " ".join(r.stdout.split())


def test_eerder_folder_holding_the_checked_file_never_takes_it_as_history(tmp_path, cli):
    """All months in one folder is the obvious --eerder: the file being checked is left out of the
    history (before: it was imported as history, then skipped as given twice; nothing checked, exit 0)."""
    import shutil

    march, _april, contract, toew = _months(tmp_path)
    folder = tmp_path / "maanden"
    folder.mkdir()
    shutil.copy(march, folder / "maart.xlsx")
    again = declaration(folder / "april2.xlsx", [line(BSNS[1], ref="B1", decl="D5")])  # March's M2 again: TR389
    r = cli(
        "check", again, "--contract", contract, "--toewijzingen", toew, "--eerder", folder, "--format", "json", "-q"
    )
    assert r.exit_code == 1, r.output
    assert {(x["rij"], x["regel"]) for x in json.loads(r.stdout)} == {(2, "TR389")}
    # one file named both ways is a usage error, not a silent pass
    r = cli("check", again, "--contract", contract, "--toewijzingen", toew, "--eerder", again, "-q")
    assert r.exit_code == 2 and "both to check and with --eerder" in r.stderr, r.output
