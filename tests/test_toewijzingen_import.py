"""jzcli import of allocations (toewijzingen): versions, deletions, refusals and kind detection."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from jzcli.readers.registry import detect_soort
from jzcli.store import agreements
from jzcli.store.schema import metadata
from jzcli.store.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
BSN1, BSN2, BSN3 = "999900006", "999900018", "999900031"

HEADER = [
    "toewijzingnummer",
    "bsn",
    "aanbieder",
    "gemeente",
    "productcategorie",
    "productcode",
    "ingangsdatum",
    "einddatum",
    "volume",
    "eenheid",
    "frequentie",
    "budget",
    "reden_wijziging",
    "toewijzingsdatum",
]


def row(
    nummer,
    bsn=BSN1,
    *,
    begin=dt.date(2025, 1, 1),
    end=dt.date(2025, 12, 31),
    volume=3,
    eenheid="04",
    freq="2",
    budget=None,
    reden=None,
    when=dt.date(2024, 12, 16),
    gemeente="0406",
    code="45A48",
    cat="45",
    agb="98001101",
):
    return [nummer, bsn, agb, gemeente, cat, code, begin, end, volume, eenheid, freq, budget, reden, when]


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "cp1252", delimiter: str = ";") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def with_store(url: str, fn):
    store = Store.open(url)
    try:
        return fn(store)
    finally:
        store.close()


def actueel(url: str) -> pd.DataFrame:
    return with_store(url, agreements.toewijzingen_actueel)


def versions(url: str) -> pd.DataFrame:
    return with_store(url, agreements.toewijzingen_alle)


def table_counts(url: str) -> dict[str, int]:
    def count(store):
        with store.engine.connect() as conn:
            return {
                t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in metadata.sorted_tables
            }

    return with_store(url, count)


def test_sample_allocations_current_versions_and_deletion(db_url, cli):
    r = cli("import", SAMPLES / "toewijzingen_2025.xlsx", "--db", db_url, "-q", "--format", "json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)[0]
    assert (result["soort"], result["stored"], result["sheets"]) == ("toewijzingen", 52, ["Toewijzingen"])
    assert len(versions(db_url)) == 52
    current = actueel(db_url).set_index("toewijzingnummer")
    assert len(current) == 50
    extended = current.loc["406250110"]  # re-sent 2025-02-20 with reden 04: end moved to 2025-06-30
    assert extended["einddatum"] == pd.Timestamp("2025-06-30") and extended["reden_wijziging"] == "04"
    assert extended["versies"] == 2 and extended["rij"] == 31 and extended["bron"] == "toewijzingen_2025.xlsx"
    assert current.loc["417250304", "verwijderd"]
    assert current["verwijderd"].sum() == 1
    aspecific = current.loc["406250116"]
    assert aspecific["budget"] == 150000 and pd.isna(aspecific["productcode"]) and pd.isna(aspecific["volume"])
    assert current.loc["153250401", "bsn"] == "001234572"
    assert current.loc["376250210", "frequentie"] == "6"
    assert (
        str(current["ingangsdatum"].dtype) == "datetime64[ns]"
        and str(current["toewijzingsdatum"].dtype) == "datetime64[ns]"
    )
    assert list(current.reset_index().columns) == [
        "toewijzingnummer",
        "id",
        "batch",
        "bron",
        "blad",
        "rij",
        "bsn",
        "aanbieder",
        "gemeente",
        "productcategorie",
        "productcode",
        "ingangsdatum",
        "einddatum",
        "volume",
        "eenheid",
        "frequentie",
        "budget",
        "reden_wijziging",
        "toewijzingsdatum",
        "verwijderd",
        "versies",
    ]


def test_header_synonyms_names_and_euro_budget(tmp_path, db_url, cli):
    header = [
        "Beschikkingsnummer",
        "BSN",
        "AGB-code",
        "Gemeente",
        "Categorie",
        "Productcode",
        "Startdatum",
        "Einddatum",
        "Omvang",
        "Eenheid",
        "Frequentie",
        "Budget",
        "Reden wijziging",
        "Toewijzingsdatum",
    ]
    rows = [
        ["Export toewijzingen gemeente Huizen"],
        [],
        header,
        [
            406001,
            BSN1,
            98001101,
            "Huizen",
            45,
            "45A48",
            dt.date(2025, 1, 1),
            dt.date(2025, 6, 30),
            3,
            "uur",
            "per week",
            None,
            None,
            dt.datetime(2024, 12, 16, 9, 30),
        ],
        [
            406002,
            BSN2,
            "98001101",
            "Laren",
            "54",
            "54001",
            dt.date(2025, 2, 1),
            None,
            40,
            "Uur",
            "Totaal",
            None,
            None,
            dt.datetime(2025, 1, 20, 14, 5, 10),
        ],
        [
            406003,
            BSN3,
            "98001101",
            "0406",
            "45",
            None,
            dt.date(2025, 2, 1),
            dt.date(2025, 7, 31),
            None,
            None,
            None,
            "€ 1.500,00",
            None,
            dt.date(2025, 1, 24),
        ],
        [
            406004,
            BSN3,
            "98001101",
            "0406",
            "41",
            "41A00",
            dt.date(2025, 2, 1),
            dt.date(2025, 2, 1),
            4,
            "dagdeel",
            "per maand",
            None,
            "Verwijderd",
            dt.date(2025, 1, 27),
        ],
        [],
        ["Bron: zaaksysteem"],
    ]
    src = write_xlsx(tmp_path / "export.xlsx", {"Blad1": rows})
    assert detect_soort(src) == "toewijzingen"
    r = cli("import", src, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    cur = actueel(db_url).set_index("toewijzingnummer")
    assert cur.loc["406001", "gemeente"] == "0406" and cur.loc["406002", "gemeente"] == "0417"
    assert cur.loc["406001", "aanbieder"] == "98001101" and cur.loc["406001", "productcategorie"] == "45"
    assert cur.loc["406001", "eenheid"] == "04" and cur.loc["406001", "frequentie"] == "2"
    assert cur.loc["406002", "frequentie"] == "6" and pd.isna(cur.loc["406002", "einddatum"])
    assert cur.loc["406003", "budget"] == 150000
    assert cur.loc["406004", "reden_wijziging"] == "13" and cur.loc["406004", "verwijderd"]
    assert cur.loc["406004", "frequentie"] == "4" and cur.loc["406004", "eenheid"] == "16"
    # The time of day of the toewijzingsdatum is kept (IV013: datum + tijd decide).
    assert cur.loc["406001", "toewijzingsdatum"] == pd.Timestamp("2024-12-16 09:30:00")
    assert cur.loc["406002", "toewijzingsdatum"] == pd.Timestamp("2025-01-20 14:05:10")
    assert cur.loc["406001", "rij"] == 4 and cur.loc["406001", "blad"] == "Blad1"


def test_cp1252_csv_with_dutch_dates_and_gemeente_names(tmp_path, db_url, cli):
    rows = [
        [
            "Toewijzingsnummer",
            "Burgerservicenummer",
            "Aanbieder",
            "Gemeente",
            "Productcategorie",
            "Productcode",
            "Ingangsdatum",
            "Einddatum",
            "Volume",
            "Eenheid",
            "Frequentie",
            "Budget",
            "Reden wijziging",
            "Toewijzingsdatum",
        ],
        [
            "417001",
            BSN1,
            "98001303",
            "Laren (NH.)",
            "45",
            "45A48",
            "01-02-2025",
            "31-12-2025",
            "2",
            "04",
            "2",
            "",
            "",
            "20-01-2025 10:15",
        ],
        [
            "417002",
            "9999.00.018",
            "98001303",
            "Laren",
            "44",
            "44A08",
            "1-1-2025",
            "31-12-2025",
            "7",
            "etmaal",
            "per week",
            "",
            "",
            "16-12-2024",
        ],
        [
            "417003",
            BSN3,
            "98001303",
            "Laren",
            "45",
            "",
            "01-02-2025",
            "31-07-2025",
            "",
            "",
            "",
            "€ 2.500,50",
            "",
            "24-01-2025",
        ],
    ]
    src = write_csv(tmp_path / "toewijzingen laren.csv", rows)
    assert detect_soort(src) == "toewijzingen"
    r = cli("import", src, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    cur = actueel(db_url).set_index("toewijzingnummer")
    assert set(cur["gemeente"]) == {"0417"}
    assert cur.loc["417002", "bsn"] == BSN2 and cur.loc["417002", "eenheid"] == "14"
    assert cur.loc["417003", "budget"] == 250050
    assert cur.loc["417001", "toewijzingsdatum"] == pd.Timestamp("2025-01-20 10:15")
    assert cur.loc["417001", "ingangsdatum"] == pd.Timestamp("2025-02-01")
    assert pd.isna(cur.loc["417001", "blad"]) and cur.loc["417001", "rij"] == 2


def test_resent_allocation_newest_toewijzingsdatum_wins_regardless_of_import_order(tmp_path, db_url, cli):
    newer = write_xlsx(
        tmp_path / "feb.xlsx",
        {"T": [HEADER, row(1001, end=dt.date(2025, 6, 30), reden="04", when=dt.date(2025, 2, 20))]},
    )
    older = write_xlsx(tmp_path / "jan.xlsx", {"T": [HEADER, row(1001, end=dt.date(2025, 2, 28)), row(1002, BSN2)]})
    for src in (newer, older):  # the older allocation file arrives last
        assert cli("import", src, "--db", db_url, "-q").exit_code == 0
    cur = actueel(db_url).set_index("toewijzingnummer")
    assert cur.loc["1001", "einddatum"] == pd.Timestamp("2025-06-30") and cur.loc["1001", "versies"] == 2
    assert cur.loc["1001", "bron"] == "feb.xlsx"
    # Same toewijzingsdatum: the later time of day wins; on a full tie the latest import wins.
    same_day = write_xlsx(
        tmp_path / "mar.xlsx",
        {
            "T": [
                HEADER,
                row(1002, BSN2, end=dt.date(2025, 3, 31), when=dt.datetime(2025, 3, 1, 16, 0)),
                row(1002, BSN2, end=dt.date(2025, 4, 30), when=dt.datetime(2025, 3, 1, 9, 0)),
            ]
        },
    )
    assert cli("import", same_day, "--db", db_url, "-q").exit_code == 0
    assert actueel(db_url).set_index("toewijzingnummer").loc["1002", "einddatum"] == pd.Timestamp("2025-03-31")
    tie = write_xlsx(
        tmp_path / "mar2.xlsx",
        {"T": [HEADER, row(1002, BSN2, end=dt.date(2025, 5, 31), when=dt.datetime(2025, 3, 1, 16, 0))]},
    )
    assert cli("import", tie, "--db", db_url, "-q").exit_code == 0
    cur = actueel(db_url).set_index("toewijzingnummer")
    assert cur.loc["1002", "einddatum"] == pd.Timestamp("2025-05-31") and cur.loc["1002", "versies"] == 4
    # The same number in another gemeente is another allocation.
    other = write_xlsx(tmp_path / "laren.xlsx", {"T": [HEADER, row(1001, gemeente="0417", when=dt.date(2025, 1, 2))]})
    assert cli("import", other, "--db", db_url, "-q").exit_code == 0
    cur = actueel(db_url)
    assert len(cur[cur["toewijzingnummer"] == "1001"]) == 2
    assert len(versions(db_url)) == 7


def test_deleted_allocations_are_flagged(tmp_path, db_url, cli):
    rows = [
        HEADER,
        row(2001, when=dt.date(2025, 1, 2)),
        row(2001, begin=dt.date(2025, 1, 1), end=dt.date(2025, 1, 1), reden="13", when=dt.date(2025, 1, 20)),
        row(
            2002, BSN2, begin=dt.date(2025, 2, 1), end=dt.date(2025, 2, 1), reden="01", when=dt.date(2025, 1, 20)
        ),  # retired 01
        row(2003, BSN3, end=dt.date(2025, 6, 30), reden="01", when=dt.date(2025, 1, 20)),  # 01, not a deletion
        row(2004, BSN3, reden="13", when=dt.date(2025, 1, 20)),
        row(2004, BSN3, reden="04", when=dt.date(2025, 2, 1)),  # re-sent after the deletion: live again
    ]
    src = write_xlsx(tmp_path / "t.xlsx", {"T": rows})
    assert cli("import", src, "--db", db_url, "-q").exit_code == 0
    flags = actueel(db_url).set_index("toewijzingnummer")["verwijderd"].to_dict()
    assert flags == {"2001": True, "2002": True, "2003": False, "2004": False}


REFUSALS = {
    "unreadable date": (
        lambda: [HEADER, row(1), row(2, BSN2, begin="31-02-2025")],
        ["sheet 'T' row 3", "column 'ingangsdatum'", "value '31-02-2025'", "no such day"],
    ),
    "bsn fails 11-proef": (
        lambda: [HEADER, row(1, "999900007")],
        ["sheet 'T' row 2", "column 'bsn'", "value '*****0007'", "11-proef"],
    ),
    "unknown frequentie": (
        lambda: [HEADER, row(1, freq="per jaar")],
        ["column 'frequentie'", "value 'per jaar'", "unknown frequentie"],
    ),
    "end before begin": (
        lambda: [HEADER, row(1, end=dt.date(2024, 12, 31))],
        ["sheet 'T' row 2", "einddatum 2024-12-31 is before ingangsdatum 2025-01-01"],
    ),
    "incomplete omvang": (
        lambda: [HEADER, row(1, eenheid=None)],
        ["sheet 'T' row 2", "incomplete omvang", "missing: eenheid"],
    ),
    "missing toewijzingnummer": (
        lambda: [HEADER, row(1), row(None, BSN2)],
        ["sheet 'T' row 3", "column 'toewijzingnummer'", "toewijzingnummer is missing"],
    ),
    "unknown gemeente": (
        lambda: [HEADER, row(1, gemeente="Huyzen")],
        ["value 'Huyzen'", "did you mean", "Huizen (0406)"],
    ),
    "unknown reden": (
        lambda: [HEADER, row(1, reden="99")],
        ["column 'reden_wijziging'", "unknown reden_wijziging code '99'"],
    ),
    "bad budget": (
        lambda: [HEADER, row(1, volume=None, eenheid=None, freq=None, budget="€ 12,345")],
        ["column 'budget'", "more than 2 decimals"],
    ),
    "missing column": (
        lambda: [HEADER[:6] + HEADER[7:], row(1)[:6] + row(1)[7:]],
        ["sheet 'T' row 1", "required columns not found: ingangsdatum"],
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_unreadable_allocations_refuse_the_file_and_leave_the_store_unchanged(tmp_path, db_url, cli, case):
    good = write_xlsx(tmp_path / "good.xlsx", {"T": [HEADER, row(9001)]})
    assert cli("import", good, "--db", db_url, "-q").exit_code == 0
    before, before_rows = table_counts(db_url), actueel(db_url)
    make_rows, expected = REFUSALS[case]
    bad = write_xlsx(tmp_path / "bad.xlsx", {"T": make_rows()})
    r = cli("import", bad, "--soort", "toewijzingen", "--db", db_url, "-q")
    assert r.exit_code == 3, r.output
    message = " ".join(r.stderr.split())
    assert "bad.xlsx" in message
    for part in expected:
        assert part in message, (part, message)
    assert BSN1 not in r.output and BSN2 not in r.output  # BSNs are masked in messages
    assert table_counts(db_url) == before
    pd.testing.assert_frame_equal(actueel(db_url), before_rows)


def test_every_problem_is_listed_up_to_a_limit(tmp_path, embedded_url, cli):
    rows = [HEADER] + [row(i, begin="nooit") for i in range(1, 16)]
    bad = write_xlsx(tmp_path / "bad.xlsx", {"T": rows})
    r = cli("import", bad, "--soort", "toewijzingen", "--db", embedded_url, "-q")
    message = " ".join(r.stderr.split())
    assert r.exit_code == 3 and "15 problems" in message and "and 5 more" in message
    assert message.index("row 2,") < message.index("row 11,")


def test_options_fill_missing_aanbieder_and_gemeente_columns(tmp_path, embedded_url, cli):
    header = [h for h in HEADER if h not in ("aanbieder", "gemeente")]
    data = [v for i, v in enumerate(row(5001)) if HEADER[i] not in ("aanbieder", "gemeente")]
    src = write_xlsx(tmp_path / "t.xlsx", {"T": [header, data]})
    r = cli("import", src, "--soort", "toewijzingen", "--db", embedded_url, "-q")
    assert (
        r.exit_code == 3
        and "required columns not found: aanbieder (or give --aanbieder), gemeente (or give --gemeente)"
        in " ".join(r.stderr.split())
    )
    r = cli(
        "import",
        src,
        "--soort",
        "toewijzingen",
        "--aanbieder",
        "98001101",
        "--gemeente",
        "Blaricum",
        "--db",
        embedded_url,
        "-q",
    )
    assert r.exit_code == 0, r.output
    cur = actueel(embedded_url).iloc[0]
    assert (cur["aanbieder"], cur["gemeente"]) == ("98001101", "0376")


EXPECTED_KINDS = {
    "blaricum_jeugdzorg-de-horizon_2025-03.csv": "declaraties",
    "contract_gooi-en-vechtstreek_2025.toml": "contract",
    "enschede_twentezorg_2025.xlsx": "declaraties",
    "huizen_zorgfirst_2025-03.xlsx": "declaraties",
    "huizen_zorgfirst_2025-04.xlsx": "declaraties",
    "laren-huizen_kindcentrum-t-gooi_2025-02.xlsx": "declaraties",
    "tarieven_twente_2025.xlsx": "contract",
    "toewijzingen_2025.xlsx": "toewijzingen",
}


def test_detection_of_every_sample_file():
    found = {p.name: detect_soort(p) for p in sorted(SAMPLES.iterdir()) if p.suffix in (".xlsx", ".csv", ".toml")}
    assert found == EXPECTED_KINDS


def test_declarations_with_ingangsdatum_and_toewijzingnummer_stay_declarations(tmp_path):
    decl = write_xlsx(
        tmp_path / "d.xlsx",
        {
            "D": [
                ["ToewijzingNummer", "BSN", "Productcode", "Ingangsdatum", "Einddatum", "Volume", "Eenheid", "Bedrag"],
                [1001, BSN1, "45A48", dt.date(2025, 3, 1), dt.date(2025, 3, 31), 3, "04", 234.0],
            ]
        },
    )
    assert detect_soort(decl) == "declaraties"
    # One allocation-only column is not enough to call a file allocations.
    one = write_xlsx(
        tmp_path / "one.xlsx",
        {
            "D": [
                [
                    "Toewijzingnummer",
                    "BSN",
                    "Productcode",
                    "Ingangsdatum",
                    "Einddatum",
                    "Volume",
                    "Eenheid",
                    "Frequentie",
                ],
                [1001, BSN1, "45A48", dt.date(2025, 3, 1), dt.date(2025, 3, 31), 3, "04", 2],
            ]
        },
    )
    assert detect_soort(one) == "declaraties"


def test_import_of_the_sample_folder_gives_every_file_its_kind(tmp_path, db_url, cli):
    folder = tmp_path / "samples"
    folder.mkdir()
    for name in EXPECTED_KINDS:
        shutil.copy(SAMPLES / name, folder / name)
    r = cli("import", folder, "--aanbieder", "98001202", "--db", db_url, "-q", "--format", "json")
    assert r.exit_code == 0, r.output
    results = {Path(x["file"]).name: x for x in json.loads(r.stdout)}
    assert {name: x["soort"] for name, x in results.items()} == EXPECTED_KINDS
    assert all(x["status"] == "imported" for x in results.values())
    assert len(actueel(db_url)) == 50
    assert len(with_store(db_url, agreements.contract_products)) == 19


def test_detection_reads_only_the_head_of_each_sheet_and_finds_a_low_header(tmp_path):
    from jzcli.readers.spreadsheet import read_sheets
    from jzcli.readers.tables import sheet_heads

    notes = [["Toelichting bij de export"], ["Gemaakt op 1 maart 2025"]]
    rows = [[f"regel {i}"] for i in range(1, 30)] + [HEADER] + [row(i) for i in range(1, 200)]
    src = write_xlsx(tmp_path / "t.xlsx", {"Toelichting": notes, "Export": rows})
    heads = sheet_heads(src)
    assert [h.name for h in heads] == ["Toelichting", "Export"]
    full = read_sheets(src)[1].cells
    assert len(heads[1].cells) == 50
    assert heads[1].cells.loc[30].tolist() == full.loc[30].tolist() == HEADER
    assert detect_soort(src) == "toewijzingen"


def test_client_and_product_columns_spelt_as_on_declarations(tmp_path, embedded_url, cli):
    """An allocation export names BSN, productcategorie and productcode the way declarations do
    (Sofinummer, Productgroep, Zorgproduct): the allocation reader knows the same spellings."""
    header = ["Toewijzingnummer", "Sofinummer", "AGB-code", "Gemeente", "Productgroep", "Zorgproduct", "Ingangsdatum"]
    rows = [header, [406001, BSN1, 98001101, "Huizen", 45, "45A48", dt.date(2025, 1, 1)]]
    path = write_xlsx(tmp_path / "toewijzingen.xlsx", {"Toewijzingen": rows})
    result = cli("import", path, "--soort", "toewijzingen", "--db", embedded_url)
    assert result.exit_code == 0, result.output
    got = actueel(embedded_url)
    assert got[["toewijzingnummer", "bsn", "productcategorie", "productcode"]].values.tolist() == [
        ["406001", BSN1, "45", "45A48"]
    ]
