"""jzcli import on files written by the tests, in the layouts and encodings providers really use."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from jzcli.importer import import_paths
from jzcli.readers.prepared import ImportOptions
from jzcli.store.store import Store

BSN1, BSN2, BSN3 = "999900006", "999900018", "999900031"
AGB = "98001234"


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "cp1252", delimiter: str = ";", bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else encoding, newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


IJW_HEADER = [
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


def clean_rows():
    return [
        IJW_HEADER,
        [
            AGB,
            "0406",
            "D2025031",
            "R1",
            None,
            BSN1,
            1001,
            "45",
            "45A48",
            dt.date(2025, 3, 1),
            dt.date(2025, 3, 31),
            12,
            "04",
            78.0,
            936.0,
            "D",
        ],
        [
            AGB,
            "0406",
            "D2025031",
            "R2",
            None,
            BSN2,
            1002,
            "54",
            "54001",
            dt.date(2025, 3, 10),
            dt.date(2025, 3, 31),
            90,
            "01",
            1.26,
            113.4,
            "D",
        ],
        [
            AGB,
            "0406",
            "D2025031",
            "R3",
            "R0",
            BSN3,
            1003,
            "45",
            "45A48",
            dt.date(2025, 2, 1),
            dt.date(2025, 2, 28),
            2,
            "04",
            78.0,
            156.0,
            "C",
        ],
    ]


def stored(url: str) -> pd.DataFrame:
    store = Store.open(url)
    try:
        return store.declaraties()
    finally:
        store.close()


def test_clean_ijw_xlsx_round_trips_through_export(tmp_path, db_url, cli):
    src = write_xlsx(tmp_path / "clean.xlsx", {"Declaratie": clean_rows()})
    r = cli("import", src, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    lines = stored(db_url)
    assert len(lines) == 3
    first = lines.iloc[0]
    assert first["aanbieder"] == AGB and first["gemeente"] == "0406" and first["bsn"] == BSN1
    assert first["tarief"] == 7800 and first["bedrag"] == 93600 and first["volume"] == 12
    assert first["rij"] == 2 and first["blad"] == "Declaratie" and first["bron"] == "clean.xlsx"
    assert str(first["begindatum"]) == "2025-03-01"
    assert lines.iloc[2]["debet_credit"] == "C" and lines.iloc[2]["vorig_referentienummer"] == "R0"

    out = tmp_path / "export.csv"
    r = cli("export", "declaraties", "-o", out, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    exported = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert list(exported[0].keys()) == [
        "batch",
        "bron",
        "blad",
        "rij",
        "aanbieder",
        "gemeente",
        "declaratienummer",
        "referentienummer",
        "vorig_referentienummer",
        "bsn",
        "toewijzingnummer",
        "productcategorie",
        "productcode",
        "begindatum",
        "einddatum",
        "volume",
        "eenheid",
        "tarief",
        "bedrag",
        "debet_credit",
        # what jzcli knows of the line: not judged yet, no contract or allocation stored
        "status",
        "retourcodes",
        "toewijzing_gevonden",
        "contract_productcategorie",
        "contract_eenheid",
        "productperiode_afgeleid",
    ]
    assert {row["status"] for row in exported} == {""}
    # The export equals the source, field by field; both dates as written: nothing derived.
    assert {row["productperiode_afgeleid"] for row in exported} == {""}
    for row, source in zip(exported, clean_rows()[1:]):
        assert row["aanbieder"] == source[0] and row["gemeente"] == source[1]
        assert row["referentienummer"] == source[3] and row["bsn"] == source[5]
        assert row["toewijzingnummer"] == str(source[6]) and row["productcode"] == source[8]
        assert row["begindatum"] == source[9].isoformat() and row["einddatum"] == source[10].isoformat()
        assert row["volume"] == str(source[11]) and row["eenheid"] == source[12]
        assert row["tarief"] == f"{source[13]:.2f}" and row["bedrag"] == f"{source[14]:.2f}"
        assert row["debet_credit"] == source[15] and row["rij"] in {"2", "3", "4"}


def test_cp1252_semicolon_csv_with_dutch_numbers_and_aanbieder_option(tmp_path, db_url, cli):
    rows = [
        [
            "Burgerservicenummer",
            "Naam cliënt",
            "Gemeente",
            "Productcode",
            "Periode van",
            "Periode tot",
            "Aantal",
            "Eenheid",
            "Prijs per eenheid",
            "Totaal",
        ],
        [
            BSN1,
            "Daniëlle Jansen",
            "Blaricum",
            "45A48",
            "01-03-2025",
            "31-03-2025",
            "16",
            "uur",
            "€ 78,00",
            "€ 1.248,00",
        ],
        [BSN2, "René de Vries", "Blaricum", "54001", "1-3-2025", "31-3-2025", "135", "minuten", "1,26", "170,10"],
        [BSN3, "Zoë Bakker", "Blaricum", "44A27", "01-03-2025", "31-03-2025", "31", "etmaal", "83,55", "2.590,05"],
    ]
    src = write_csv(tmp_path / "horizon.csv", rows, encoding="cp1252")
    assert "ë".encode("cp1252") in src.read_bytes()
    r = cli("import", src, "--aanbieder", AGB, "--db", db_url)
    assert r.exit_code == 0, r.output
    lines = stored(db_url)
    assert lines["gemeente"].tolist() == ["0376"] * 3
    assert lines["aanbieder"].tolist() == [AGB] * 3
    assert lines["bedrag"].tolist() == [124800, 17010, 259005]
    assert lines["tarief"].tolist() == [7800, 126, 8355]
    assert lines["eenheid"].tolist() == ["04", "01", "14"]
    assert lines["rij"].tolist() == [2, 3, 4]
    assert lines["blad"].isna().all()


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
@pytest.mark.parametrize("encoding,bom", [("utf-8", True), ("utf-8", False), ("cp1252", False)])
def test_csv_encodings_and_delimiters(tmp_path, embedded_url, delimiter, encoding, bom):
    rows = [
        ["BSN cliënt", "Prestatiecode", "Van", "Tot", "Aantal", "Tarief", "Bedrag", "Gemeente", "AGB-code"],
        [
            BSN1,
            "45A48",
            "2025-03-01",
            "2025-03-31",
            "3",
            "78.00" if delimiter != "," else "78",
            "234.00" if delimiter != "," else "234",
            "Huizen",
            AGB,
        ],
    ]
    src = write_csv(tmp_path / "f.csv", rows, encoding=encoding, delimiter=delimiter, bom=bom)
    store = Store.open(embedded_url)
    results = import_paths(store, [src], ImportOptions())
    assert results[0].status == "imported", results[0].message
    line = store.declaraties().iloc[0]
    assert (line["bsn"], line["productcode"], line["bedrag"], line["gemeente"]) == (BSN1, "45A48", 23400, "0406")


def test_title_rows_totals_signature_and_two_sheets(tmp_path, db_url, cli):
    header = [
        "BSN cliënt",
        "Woonplaatsgemeente",
        "Prestatiecode",
        "Van",
        "Tot en met",
        "Geleverd volume",
        "Eenheid",
        "Tarief",
        "Ingediend bedrag",
    ]
    title = [
        ["Kindcentrum 't Gooi B.V."],
        ["Voorbeeldlaan 1, 1234 AB Laren"],
        ["Declaratie februari 2025"],
        [f"AGB-code: {AGB}"],
        [],
    ]

    def sheet(gemeente, bsns):
        rows = title + [header]
        for b in bsns:
            rows.append([b, gemeente, "45A48", dt.date(2025, 2, 1), dt.date(2025, 2, 28), 4, "uur", 78, 312])
        rows += [
            [],
            ["Totaal", None, None, None, None, None, None, None, 312 * len(bsns)],
            ["Voor akkoord: J. de Boer, 3 maart 2025"],
        ]
        return rows

    src = write_xlsx(
        tmp_path / "gooi.xlsx",
        {
            "Laren": sheet("Laren", [BSN1, BSN2]),
            "Huizen": sheet("Huizen", [BSN3]),
            "Toelichting": [["Alle bedragen in euro's."]],
        },
    )
    r = cli("import", src, "--db", db_url, "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)[0]
    assert summary["stored"] == 3
    assert summary["skipped_reasons"] == {"blank row": 2, "totals row": 2, "not a declaration line": 2}
    lines = stored(db_url)
    assert lines["aanbieder"].tolist() == [AGB] * 3
    assert lines["gemeente"].tolist() == ["0417", "0417", "0406"]
    assert lines[["blad", "rij"]].values.tolist() == [["Laren", 7], ["Laren", 8], ["Huizen", 7]]
    store = Store.open(db_url)
    details = json.loads(store.list_batches().iloc[0]["details"])
    assert details["overgeslagen_bladen"] == [{"blad": "Toelichting", "reden": "running text, not a table"}]
    assert details["sheets"][0]["vermeld_totaal"] == 62400


def test_month_column_and_bsn_numbers_that_lost_leading_zero(tmp_path, db_url, cli):
    rows = [
        ["AGB-code", "Gemeente", "BSN", None, "Productcode", "Maand", "Aantal", "Eenheid", "Tarief", "Bedrag"],
        [int(AGB), "Enschede", 12345672, None, "45A48", "maart 2025", 3, 4, 78, 234],
        [int(AGB), "Enschede", int(BSN1), None, "45A48", "feb 2025", 3, 4, 78, 234],
        [int(AGB), "Enschede", int(BSN2), None, "45A48", "2025-01", 3, 4, 78, 234],
        [int(AGB), "Enschede", int(BSN3), None, "45A48", "03-2025", 3, 4, 78, 234],
    ]
    src = write_xlsx(tmp_path / "twente.xlsx", {"Blad1": rows})
    r = cli("import", src, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    lines = stored(db_url)
    assert lines["bsn"].tolist() == ["012345672", BSN1, BSN2, BSN3]
    assert lines["eenheid"].tolist() == ["04"] * 4
    assert [str(d) for d in lines["begindatum"]] == ["2025-03-01", "2025-02-01", "2025-01-01", "2025-03-01"]
    assert [str(d) for d in lines["einddatum"]] == ["2025-03-31", "2025-02-28", "2025-01-31", "2025-03-31"]
    assert lines["gemeente"].unique().tolist() == ["0153"]


def test_unreadable_values_are_kept_with_a_finding_never_guessed(tmp_path, db_url, cli):
    rows = [
        IJW_HEADER,
        [
            AGB,
            "0406",
            None,
            "R1",
            None,
            BSN1,
            1001,
            "45",
            "45A48",
            "32-03-2025",
            dt.date(2025, 3, 31),
            "12,5",
            "04",
            "78,00",
            "abc",
            "D",
        ],
        [
            AGB,
            "0406",
            None,
            "R2",
            None,
            BSN2,
            1002,
            "45",
            "45A48",
            dt.date(2025, 3, 1),
            dt.date(2025, 3, 31),
            2,
            "stuks",
            78,
            156,
            "X",
        ],
    ]
    src = write_xlsx(tmp_path / "bad.xlsx", {"Blad1": rows})
    r = cli("import", src, "--db", db_url)
    assert r.exit_code == 0, r.output
    lines = stored(db_url)
    assert len(lines) == 2  # both rows kept
    assert (
        pd.isna(lines.iloc[0]["begindatum"]) and pd.isna(lines.iloc[0]["volume"]) and pd.isna(lines.iloc[0]["bedrag"])
    )
    assert lines.iloc[0]["tarief"] == 7800
    store = Store.open(db_url)
    f = store.import_findings()
    got = {(int(r.rij), r.kolom, r.waarde) for r in f.itertuples()}
    assert got == {
        (2, "Begindatum", "32-03-2025"),
        (2, "GeleverdVolume", "12,5"),
        (2, "IngediendBedrag", "abc"),
        (3, "Eenheid", "stuks"),
        (3, "DebetCredit", "X"),
    }
    assert f["regel_id"].notna().all()
    assert "Values that could not be read (5" in r.stdout


def test_negative_amounts_mean_credit(tmp_path, embedded_url, cli):
    rows = [
        ["BSN", "Productcode", "Van", "Tot", "Aantal", "Tarief", "Bedrag", "Gemeente", "AGB"],
        [BSN1, "45A48", "01-03-2025", "31-03-2025", "-2", "78,00", "-156,00", "0406", AGB],
    ]
    src = write_csv(tmp_path / "credit.csv", rows)
    assert cli("import", src, "--db", embedded_url, "-q").exit_code == 0
    line = stored(embedded_url).iloc[0]
    assert (line["debet_credit"], line["bedrag"], line["volume"]) == ("C", 15600, 2)


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_volume_and_bedrag_of_opposite_signs_are_not_guessed_a_credit(tmp_path, db_url, cli, encoding):
    """-10 uur for € 510,00 (or 10 uur for € -510,00): debet or credit cannot be known. The negative
    value is left empty with a JZ-I02 finding; the line is never taken as a credit (before: stored
    as C with volume 10 and approved, lowering the total by € 510,00)."""
    rows = [
        ["BSN", "Productcode", "Van", "Tot", "Aantal", "Tarief", "Bedrag", "Gemeente", "AGB"],
        [BSN1, "45A48", "01-03-2025", "31-03-2025", "-10", "51,00", "510,00", "0406", AGB],
        [BSN1, "45A48", "01-04-2025", "30-04-2025", "10", "51,00", "-510,00", "0406", AGB],
        [BSN1, "45A48", "01-05-2025", "31-05-2025", "-10", "51,00", "-510,00", "0406", AGB],  # a credit, as usual
    ]
    src = write_csv(tmp_path / "tekens.csv", rows, encoding=encoding, delimiter="\t" if encoding == "utf-16" else ";")
    r = cli("import", src, "--db", db_url, "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    lines = stored(db_url).set_index("rij")
    assert lines.loc[2, "debet_credit"] == "D" and pd.isna(lines.loc[2, "volume"]) and lines.loc[2, "bedrag"] == 51000
    assert lines.loc[3, "debet_credit"] == "D" and pd.isna(lines.loc[3, "bedrag"]) and lines.loc[3, "volume"] == 10
    assert (lines.loc[4, "debet_credit"], lines.loc[4, "volume"], lines.loc[4, "bedrag"]) == ("C", 10, 51000)
    found = Store.open(db_url).import_findings().set_index("rij")
    assert set(found.index) == {2, 3}
    assert found.loc[2, "regel"] == "JZ-I02" and found.loc[2, "waarde"] == "-10"
    assert "negative volume while bedrag is positive" in found.loc[2, "melding"]
    assert "negative bedrag while volume is positive" in found.loc[3, "melding"]


def test_reimport_of_identical_file_is_a_noop(tmp_path, db_url, cli):
    src = write_xlsx(tmp_path / "clean.xlsx", {"Declaratie": clean_rows()})
    assert cli("import", src, "--db", db_url, "-q").exit_code == 0
    r = cli("import", src, "--db", db_url)
    assert r.exit_code == 0
    assert "already imported as batch 1" in r.stdout
    assert len(stored(db_url)) == 3
    assert len(Store.open(db_url).list_batches()) == 1


def test_unknown_layout_error_lists_headers_and_map_fixes_it(tmp_path, db_url, cli):
    rows = [
        ["Cliëntnr", "Zorgsoort", "Datum start", "Datum eind", "Uren", "Euro"],
        [BSN1, "45A48", "01-03-2025", "31-03-2025", "3", "234,00"],
    ]
    src = write_csv(tmp_path / "odd.csv", rows)
    r = cli("import", src, "--db", db_url, "--aanbieder", AGB, "--gemeente", "Huizen")
    assert r.exit_code == 3
    assert "odd.csv" in r.stderr and "'Cliëntnr'" in r.stderr and "--map" in r.stderr
    assert "Traceback" not in r.output
    assert len(stored(db_url)) == 0
    r = cli(
        "import",
        src,
        "--db",
        db_url,
        "--aanbieder",
        AGB,
        "--gemeente",
        "Huizen",
        "--map",
        "Cliëntnr=bsn",
        "--map",
        "Zorgsoort=productcode",
        "--map",
        "Datum start=begindatum",
        "--map",
        "Datum eind=einddatum",
        "--map",
        "Euro=bedrag",
        "-q",
    )
    assert r.exit_code == 0, r.output
    line = stored(db_url).iloc[0]
    assert (line["bsn"], line["productcode"], line["volume"], line["bedrag"]) == (BSN1, "45A48", 3, 23400)
    # The mapping is remembered for this aanbieder: its next file needs no --map.
    rows[1][0] = BSN2
    src2 = write_csv(tmp_path / "odd2.csv", rows)
    r = cli("import", src2, "--db", db_url, "--aanbieder", AGB, "--gemeente", "Huizen", "-q")
    assert r.exit_code == 0, r.output
    assert stored(db_url)["bsn"].tolist() == [BSN1, BSN2]


def test_a_bad_file_among_good_ones_leaves_the_store_unchanged_for_that_file(tmp_path, db_url, cli):
    good = write_xlsx(tmp_path / "a_good.xlsx", {"Declaratie": clean_rows()})
    broken = tmp_path / "b_broken.xlsx"
    broken.write_bytes(good.read_bytes()[:500])
    r = cli("import", tmp_path, "--db", db_url)
    assert r.exit_code == 3
    assert "b_broken.xlsx" in r.stderr and "damaged" in r.stderr
    assert "Traceback" not in r.output
    assert len(stored(db_url)) == 3
    assert Store.open(db_url).list_batches()["bestand"].tolist() == ["a_good.xlsx"]


def test_failure_while_writing_rolls_back_the_whole_batch(tmp_path, db_url, monkeypatch):
    src = write_xlsx(tmp_path / "clean.xlsx", {"Declaratie": clean_rows()})
    store = Store.open(db_url)
    from jzcli.store import store as store_mod

    calls = {"n": 0}
    original = store_mod.Store.insert_frame

    def failing(self, conn, table, frame):
        calls["n"] += 1
        original(self, conn, table, frame)
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_mod.Store, "insert_frame", failing)
    with pytest.raises(RuntimeError):
        import_paths(store, [src], ImportOptions())
    monkeypatch.undo()
    assert calls["n"] == 1
    assert store.declaraties().empty
    assert store.list_batches().empty


def test_sqlite_store_file_is_private(tmp_path, cli):
    db = tmp_path / "sub" / "store.db"
    src = write_xlsx(tmp_path / "clean.xlsx", {"Declaratie": clean_rows()})
    assert cli("import", src, "--db", db, "-q").exit_code == 0
    assert (db.stat().st_mode & 0o777) == 0o600


def test_batches_and_json_summary(tmp_path, embedded_url, cli):
    src = write_xlsx(tmp_path / "clean.xlsx", {"Declaratie": clean_rows()})
    r = cli("import", src, "--db", embedded_url, "--format", "json", "-q")
    data = json.loads(r.stdout)
    assert data[0]["status"] == "imported" and data[0]["stored"] == 3 and data[0]["batch"] == 1
    r = cli("batches", "--db", embedded_url, "--format", "json")
    rows = json.loads(r.stdout)
    assert rows[0]["bestand"] == "clean.xlsx" and rows[0]["rijen_opgeslagen"] == 3
    assert len(rows[0]["sha256"]) == 64
    r = cli("batches", "--db", embedded_url)
    assert "clean.xlsx" in r.stdout


def test_schema_version_is_recorded(embedded_url):
    store = Store.open(embedded_url)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select waarde from meta where sleutel='schema_version'")).scalar() == "2"


def test_terminal_output_masks_bsn(tmp_path, embedded_url, cli):
    rows = [
        IJW_HEADER,
        [
            AGB,
            "0406",
            None,
            "R1",
            None,
            "99990000X",
            1,
            "45",
            "45A48",
            dt.date(2025, 3, 1),
            dt.date(2025, 3, 31),
            1,
            "04",
            78,
            78,
            "D",
        ],
    ]
    src = write_xlsx(tmp_path / "x.xlsx", {"B": rows})
    r = cli("import", src, "--db", embedded_url)
    assert r.exit_code == 0
    assert "99990000X" not in r.output
    assert "*****000X" in r.stdout


def test_version_and_help(cli):
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.startswith("jzcli ")
    for command in (["import"], ["batches"], ["export", "declaraties"]):
        r = cli(*command, "--help")
        assert r.exit_code == 0 and "Examples" in r.stdout, command


def test_usage_error_exit_code_2(cli, tmp_path):
    r = cli("import", tmp_path / "x.csv", "--soort", "nonsense")
    assert r.exit_code == 2
    r = cli("import", tmp_path / "x.csv", "--gemeente", "Huizne")
    assert r.exit_code == 2 and "Huizen" in r.stderr


def test_csv_mixing_utf8_and_cp1252_lines_is_read_line_by_line(tmp_path, embedded_url, cli):
    header = b"BSN;Productcode;Van;Tot;Aantal;Bedrag;Gemeente;AGB;Naam\n"
    utf8 = f"{BSN1};45A48;01-03-2025;31-03-2025;3;234,00;Huizen;{AGB};Zoë\n".encode()
    cp = f"{BSN2};45A48;01-03-2025;31-03-2025;3;234,00;Huizen;{AGB};Zoë\n".encode("cp1252")
    src = tmp_path / "mixed.csv"
    src.write_bytes(header + utf8 + cp)
    assert cli("import", src, "--db", embedded_url, "-q").exit_code == 0
    assert stored(embedded_url)["bsn"].tolist() == [BSN1, BSN2]


def test_console_script_and_module_run_in_a_subprocess(tmp_path):
    import subprocess
    import sys

    src = write_xlsx(tmp_path / "clean.xlsx", {"Declaratie": clean_rows()})
    db = tmp_path / "s.db"
    env = {k: v for k, v in __import__("os").environ.items() if k != "JZCLI_DB"}
    r = subprocess.run(
        [sys.executable, "-m", "jzcli", "import", str(src), "--db", str(db), "--format", "json", "-q"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["stored"] == 3
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not a workbook")
    # the console script installed beside this Python (a venv's bin/ or Scripts\, not always on PATH)
    import shutil
    from pathlib import Path as _Path

    script = shutil.which("jzcli", path=str(_Path(sys.executable).parent)) or shutil.which("jzcli")
    assert script, "the jzcli console script is not installed beside " + sys.executable
    r = subprocess.run([script, "import", str(broken), "--db", str(db)], capture_output=True, text=True, env=env)
    assert r.returncode == 3
    assert "broken.xlsx" in r.stderr and "Traceback" not in r.stderr


def test_unknown_option_and_bad_choice_are_usage_errors(cli):
    r = cli("import", "--nonsense")
    assert r.exit_code == 2 and "No such option" in r.output and "internal error" not in r.output
    r = cli("batches", "--format", "xml")
    assert r.exit_code == 2 and "internal error" not in r.output


def _sqlite_indexes(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'declaratieregels' ORDER BY name"
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_bulk_insert_rebuilds_indexes_and_a_failure_keeps_them(tmp_path, sqlite_url, monkeypatch):
    """A large insert into a small table drops and re-creates the indexes inside the transaction;
    a failure after the drop rolls the drop back with the rows."""
    from jzcli.store import store as store_mod

    monkeypatch.setattr(store_mod, "BULK_REINDEX_MIN_ROWS", 2)
    store = Store.open(sqlite_url)
    before = _sqlite_indexes(sqlite_url)
    assert len(before) == 3
    src = write_xlsx(tmp_path / "clean.xlsx", {"Declaratie": clean_rows()})
    assert [r.status for r in import_paths(store, [src], ImportOptions())] == ["imported"]
    assert _sqlite_indexes(sqlite_url) == before
    assert len(stored(sqlite_url)) == 3
    with sa.create_engine(sqlite_url).connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT id FROM declaratieregels WHERE aanbieder = 'x'").all()
        assert "ix_declaratieregels_aanbieder" in str(plan)

    # A second file of as many lines as the table holds: again rebuilt; then one whose insert fails
    # halfway (a NOT NULL column missing on the last line) after the indexes were dropped.
    rows = clean_rows()
    rows[1][3], rows[2][3], rows[3][3] = "R7", "R8", "R9"
    again = write_xlsx(tmp_path / "again.xlsx", {"Declaratie": rows})
    assert [r.status for r in import_paths(store, [again], ImportOptions())] == ["imported"]
    assert _sqlite_indexes(sqlite_url) == before

    original = store_mod.Store.insert_frame

    def broken(self, conn, table, frame):
        frame = frame.copy()
        frame["bron"] = frame["bron"].astype(object)
        frame.loc[frame.index[-1], "bron"] = None
        return original(self, conn, table, frame)

    dropped = []
    plan_rebuild = store_mod._sqlite_indexes_to_rebuild

    def recording(*args):
        dropped.extend(plan_rebuild(*args))
        return dropped

    monkeypatch.setattr(store_mod, "BULK_REINDEX_MIN_ROWS", 1)
    monkeypatch.setattr(store_mod, "_sqlite_indexes_to_rebuild", recording)
    monkeypatch.setattr(store_mod.Store, "insert_frame", broken)
    big = write_xlsx(
        tmp_path / "big.xlsx",
        {"Declaratie": [rows[0]] + [r[:3] + [f"B{i}"] + r[4:] for i in range(10) for r in rows[1:]]},
    )
    with pytest.raises(sqlite3.IntegrityError):  # the bulk insert runs on the driver's own cursor
        import_paths(store, [big], ImportOptions())
    monkeypatch.undo()
    assert sorted(dropped) == before  # the indexes were dropped before the failing insert
    assert _sqlite_indexes(sqlite_url) == before
    assert len(stored(sqlite_url)) == 6
