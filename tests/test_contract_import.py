"""jzcli import of contracts: TOML and tariff sheets (xlsx, cp1252 csv), refusals, versions."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from jzcli.store import agreements
from jzcli.store.schema import metadata
from jzcli.store.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"

TOML = """\
[contract]
naam = "Jeugdhulp Gooi 2025"
gemeenten = ["Huizen", "0376", "Laren"]
aanbieders = ["98001101", "98001202"]

[[product]]
productcategorie = "45"
productcode = "45A48"
omschrijving = "Ambulante jeugdhulp individueel"
eenheid = "uur"
tarief = 78.00
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-01-01
geldig_tot = 2025-02-28

[[product]]
productcategorie = "45"
productcode = "45A48"
omschrijving = "Ambulante jeugdhulp individueel"
eenheid = "04"
tarief = "79,80"
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-03-01

[[product]]
productcategorie = "54"
productcode = "54002"
omschrijving = "Jeugd-GGZ generalistisch"
eenheid = "04"
tarief = 98.5
uitvoeringsvariant = "Inspanningsgericht"
geldig_van = 2025-01-01
geldig_tot = 2025-12-31

[[product]]
productcategorie = "42"
productcode = "42A03"
omschrijving = "Vervoer"
eenheid = "84"
tarief = 14
uitvoeringsvariant = "outputgericht"
geldig_van = "01-01-2025"
geldig_tot = "31-12-2025"
"""

SHEET_HEADER = [
    "Categorie",
    "Product code",
    "Omschrijving",
    "Eenheid",
    "Prijs per eenheid",
    "Variant",
    "Geldig vanaf",
    "Geldig tot en met",
]
SHEET_PRODUCTS = [
    [
        "45",
        "45A48",
        "Ambulante jeugdhulp individueel",
        "Uur",
        78.0,
        "inspanningsgericht",
        dt.date(2025, 1, 1),
        dt.date(2025, 2, 28),
    ],
    ["45", "45A48", "Ambulante jeugdhulp individueel", "04", 79.8, "inspanningsgericht", dt.date(2025, 3, 1), None],
    [
        54,
        "54002",
        "Jeugd-GGZ generalistisch",
        4,
        98.5,
        "inspanningsgericht",
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
    ],
    ["42", "42A03", "Vervoer", "84", 14, "Outputgericht", dt.date(2025, 1, 1), dt.date(2025, 12, 31)],
]
CSV_PRODUCTS = [
    [
        "45",
        "45A48",
        "Ambulante jeugdhulp individueel",
        "uur",
        "€ 78,00",
        "inspanningsgericht",
        "01-01-2025",
        "28-02-2025",
    ],
    ["45", "45A48", "Ambulante jeugdhulp individueel", "04", "79,80", "inspanningsgericht", "01-03-2025", ""],
    ["54", "54002", "Jeugd-GGZ generalistisch", "4", "98,50", "inspanningsgericht", "1-1-2025", "31-12-2025"],
    ["42", "42A03", "Vervoer", "84", "14,00", "outputgericht", "01-01-2025", "31-12-2025"],
]
EXPECTED = [  # productcategorie, productcode, eenheid, tarief (cents), variant, geldig_van, geldig_tot
    ("45", "45A48", "04", 7800, "inspanningsgericht", "2025-01-01", "2025-02-28"),
    ("45", "45A48", "04", 7980, "inspanningsgericht", "2025-03-01", None),
    ("54", "54002", "04", 9850, "inspanningsgericht", "2025-01-01", "2025-12-31"),
    ("42", "42A03", "84", 1400, "outputgericht", "2025-01-01", "2025-12-31"),
]


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "cp1252", delimiter: str = ";") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def products(url: str) -> pd.DataFrame:
    store = Store.open(url)
    try:
        return agreements.contract_products(store)
    finally:
        store.close()


def as_tuples(frame: pd.DataFrame) -> list[tuple]:
    return [
        (
            r.productcategorie,
            r.productcode,
            r.eenheid,
            int(r.tarief),
            r.uitvoeringsvariant,
            r.geldig_van.strftime("%Y-%m-%d"),
            None if pd.isna(r.geldig_tot) else r.geldig_tot.strftime("%Y-%m-%d"),
        )
        for r in frame.itertuples()
    ]


def table_counts(url: str) -> dict[str, int]:
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            return {
                t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in metadata.sorted_tables
            }
    finally:
        store.close()


def test_sample_contracts_are_imported(db_url, cli):
    r = cli(
        "import",
        SAMPLES / "contract_gooi-en-vechtstreek_2025.toml",
        SAMPLES / "tarieven_twente_2025.xlsx",
        "--db",
        db_url,
        "-q",
    )
    assert r.exit_code == 0, r.output
    p = products(db_url)
    gooi = p[p["contract_naam"] == "Jeugdhulp Gooi en Vechtstreek 2025"]
    twente = p[p["contract_naam"] == "Jeugdhulp Twente 2025"]
    assert len(gooi) == 12 and len(twente) == 7
    assert gooi.iloc[0]["gemeenten"] == ["0406", "0376", "0417", "1942"]
    assert gooi.iloc[0]["aanbieders"] == ["98001101", "98001202", "98001303"]
    assert twente.iloc[0]["gemeenten"] == ["0153"] and twente.iloc[0]["aanbieders"] == ["98001404"]
    # 45A48 changes tariff on 2025-03-01.
    a48 = gooi[gooi["productcode"] == "45A48"]
    assert a48["tarief"].tolist() == [7800, 7980]
    assert a48["geldig_tot"].dt.strftime("%Y-%m-%d").tolist() == ["2025-02-28", "2025-12-31"]
    assert twente.set_index("productcode").loc["43A10", "tarief"] == 21850
    assert p["tarief"].dtype == "int64" and str(p["geldig_van"].dtype) == "datetime64[ns]"
    exploded = agreements.contract_products_exploded(Store.open(db_url))
    assert len(exploded) == 12 * 4 + 7  # Gooi: 12 products × 4 gemeenten
    assert set(exploded[exploded["contract_naam"] == "Jeugdhulp Twente 2025"]["gemeente"]) == {"0153"}


def test_toml_xlsx_and_csv_tariff_sheets_give_the_same_products(tmp_path, db_url, cli):
    """The same contract three ways; each import supersedes the previous one (same naam)."""
    toml = tmp_path / "gooi.toml"
    toml.write_text(TOML, encoding="utf-8")
    xlsx = write_xlsx(
        tmp_path / "gooi.xlsx",
        {
            "Contract": [
                ["Naam", "Jeugdhulp Gooi 2025"],
                ["Gemeenten", "Huizen; Blaricum, Laren"],
                ["Aanbieders", "98001101, 98001202"],
            ],
            "Tarieven": [["Tarieven 2025"], [], SHEET_HEADER, *SHEET_PRODUCTS],
        },
    )
    csv_file = write_csv(
        tmp_path / "gooi.csv",
        [
            ["Naam:", "Jeugdhulp Gooi 2025"],
            ["Gemeenten:", "0406", "Blaricum", "Laren (NH.)"],
            ["AGB-codes:", "98001101;98001202"],
            [],
            SHEET_HEADER,
            *CSV_PRODUCTS,
            [],
            ["Opgesteld door de afdeling inkoop"],
        ],
    )
    assert "€".encode("cp1252") in csv_file.read_bytes()
    seen = []
    for src in (toml, xlsx, csv_file):
        r = cli("import", src, "--db", db_url, "-q", "--format", "json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)[0]["soort"] == "contract"
        p = products(db_url)
        assert as_tuples(p) == EXPECTED, src.name
        assert p.iloc[0]["gemeenten"] == ["0406", "0376", "0417"]
        assert p.iloc[0]["aanbieders"] == ["98001101", "98001202"]
        assert p["omschrijving"].iloc[0] == "Ambulante jeugdhulp individueel"
        seen.append(int(p["contract_id"].iloc[0]))
    assert len(set(seen)) == 3  # three versions stored, the newest one served
    counts = table_counts(db_url)
    assert counts["contracten"] == 3 and counts["contractproducten"] == 12 and counts["batches"] == 3


def test_newest_import_of_a_contract_naam_supersedes_older_ones(tmp_path, db_url, cli):
    v1 = tmp_path / "v1.toml"
    v1.write_text(TOML, encoding="utf-8")
    v2 = tmp_path / "v2.toml"
    v2.write_text(
        TOML.replace('naam = "Jeugdhulp Gooi 2025"', 'naam = "jeugdhulp  gooi 2025"').replace("98.5", "99.10"),
        encoding="utf-8",
    )
    other = tmp_path / "other.toml"
    other.write_text(TOML.replace("Jeugdhulp Gooi 2025", "Jeugdhulp Gooi 2026"), encoding="utf-8")
    for src in (v1, other, v2):
        assert cli("import", src, "--db", db_url, "-q").exit_code == 0
    p = products(db_url)
    assert sorted(set(p["contract_naam"])) == ["Jeugdhulp Gooi 2026", "jeugdhulp  gooi 2025"]
    current = p[p["contract_naam"] == "jeugdhulp  gooi 2025"].set_index("productcode")
    assert current.loc["54002", "tarief"] == 9910
    assert p[p["contract_naam"] == "Jeugdhulp Gooi 2026"].set_index("productcode").loc["54002", "tarief"] == 9850
    assert table_counts(db_url)["contracten"] == 3


def test_missing_naam_uses_file_name_and_absent_aanbieders_means_all(tmp_path, embedded_url, cli):
    src = tmp_path / "inkoop_laren.toml"
    src.write_text(
        TOML.replace('naam = "Jeugdhulp Gooi 2025"\n', "").replace('aanbieders = ["98001101", "98001202"]\n', ""),
        encoding="utf-8",
    )
    assert cli("import", src, "--db", embedded_url, "-q").exit_code == 0
    p = products(embedded_url)
    assert set(p["contract_naam"]) == {"inkoop_laren"}
    assert p["aanbieders"].isna().all()


def _toml_with(product_change: tuple[str, str] | None = None, head_change: tuple[str, str] | None = None) -> str:
    text = TOML
    if head_change:
        assert head_change[0] in text
        text = text.replace(head_change[0], head_change[1], 1)
    if product_change:
        assert product_change[0] in text
        text = text.replace(product_change[0], product_change[1], 1)
    return text


TOML_REFUSALS = {
    "unknown gemeente": (
        _toml_with(head_change=('"Huizen"', '"Huyzen"')),
        ["[contract] gemeenten", "unknown gemeente 'Huyzen'", "did you mean", "Huizen (0406)"],
    ),
    "unknown gemeente code": (_toml_with(head_change=('"0376"', '"9999"')), ["unknown gemeente code '9999'"]),
    "bad eenheid": (
        _toml_with(('eenheid = "uur"', 'eenheid = "jaar"')),
        ["[[product]] 1 (line 6)", "eenheid", "unknown eenheid 'jaar'"],
    ),
    "bad date": (
        _toml_with(('geldig_van = "01-01-2025"', 'geldig_van = "31-02-2025"')),
        ["[[product]] 4 (line 35)", "geldig_van", "31-02-2025", "no such day"],
    ),
    "end before begin": (
        _toml_with(("geldig_tot = 2025-02-28", "geldig_tot = 2024-12-31")),
        ["[[product]] 1", "geldig_tot 2024-12-31 is before geldig_van 2025-01-01"],
    ),
    "overlapping tariffs": (
        _toml_with(("geldig_tot = 2025-02-28", "geldig_tot = 2025-03-15")),
        ["[[product]] 2 (line 16)", "overlaps [[product]] 1 (line 6)", "45A48"],
    ),
    "unknown variant": (
        _toml_with(('uitvoeringsvariant = "outputgericht"', 'uitvoeringsvariant = "resultaatgericht"')),
        [
            "[[product]] 4",
            "unknown uitvoeringsvariant 'resultaatgericht'",
            "inspanningsgericht, outputgericht, taakgericht",
        ],
    ),
    "sub-cent tarief": (
        _toml_with(("tarief = 98.5", "tarief = 98.505")),
        ["[[product]] 3", "tarief", "98.505", "more than 2 decimals"],
    ),
    "negative tarief": (_toml_with(("tarief = 98.5", "tarief = -98.5")), ["tarief cannot be negative"]),
    "missing variant": (
        _toml_with(('uitvoeringsvariant = "outputgericht"\n', "")),
        ["[[product]] 4", "uitvoeringsvariant is missing"],
    ),
    "unknown key": (_toml_with(("tarief = 14\n", "tarif = 14\n")), ["unknown key(s) 'tarif'", "tarief is missing"]),
    "no gemeenten": (
        _toml_with(head_change=('gemeenten = ["Huizen", "0376", "Laren"]\n', "")),
        ["a contract must say for which gemeenten it holds", 'add gemeenten = ["0406", "Laren"]'],
    ),
    "bad toml": ("[contract\nnaam = 1\n", ["not valid TOML", "line 1"]),
}


@pytest.mark.parametrize("case", list(TOML_REFUSALS))
def test_toml_refusals_exit_3_and_leave_the_store_unchanged(tmp_path, db_url, cli, case):
    good = tmp_path / "good.toml"
    good.write_text(TOML.replace("Jeugdhulp Gooi 2025", "Eerder contract"), encoding="utf-8")
    assert cli("import", good, "--db", db_url, "-q").exit_code == 0
    before = table_counts(db_url)
    before_products = products(db_url)
    text, expected = TOML_REFUSALS[case]
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    r = cli("import", bad, "--db", db_url, "-q")
    assert r.exit_code == 3, r.output
    message = " ".join(r.stderr.split())
    assert "bad.toml" in message
    for part in expected:
        assert part in message, (part, message)
    assert "Traceback" not in r.output
    assert table_counts(db_url) == before
    pd.testing.assert_frame_equal(products(db_url), before_products)


def test_all_problems_of_a_contract_are_named_together(tmp_path, embedded_url, cli):
    text = TOML.replace('eenheid = "uur"', 'eenheid = "jaar"').replace("tarief = 98.5", "tarief = 98.505")
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    r = cli("import", bad, "--db", embedded_url, "-q")
    message = " ".join(r.stderr.split())
    assert r.exit_code == 3 and "2 problems" in message
    assert message.index("[[product]] 1") < message.index("[[product]] 3")


SHEET_REFUSALS = {
    "unknown gemeente": (
        {"Contract": [["naam", "X"], ["gemeenten", "Huizen, Blarikum"]], "Tarieven": [SHEET_HEADER, *SHEET_PRODUCTS]},
        ["sheet 'Contract' row 2", "unknown gemeente 'Blarikum'", "Blaricum (0376)"],
    ),
    "bad eenheid": (
        {
            "Tarieven": [
                ["gemeenten", "0406"],
                [],
                SHEET_HEADER,
                *SHEET_PRODUCTS[:2],
                ["54", "54002", "x", "stuks", 98.5, "inspanningsgericht", dt.date(2025, 1, 1), None],
            ]
        },
        ["sheet 'Tarieven' row 6", "column 'Eenheid'", "value 'stuks'", "ambiguous eenheid"],
    ),
    "bad date": (
        {"Tarieven": [["gemeenten", "0406"], SHEET_HEADER, [*SHEET_PRODUCTS[2][:6], "2025-13-01", None]]},
        ["sheet 'Tarieven' row 3", "column 'Geldig vanaf'", "value '2025-13-01'", "not a date"],
    ),
    "overlap": (
        {
            "Tarieven": [
                ["gemeenten", "0406"],
                SHEET_HEADER,
                SHEET_PRODUCTS[0],
                [*SHEET_PRODUCTS[0][:6], dt.date(2025, 2, 1), None],
            ]
        },
        ["sheet 'Tarieven' row 4", "overlaps sheet 'Tarieven' row 3"],
    ),
    "no gemeenten": (
        {"Tarieven": [["naam", "X"], SHEET_HEADER, *SHEET_PRODUCTS]},
        ["a contract must say for which gemeenten it holds", "add a row 'gemeenten'"],
    ),
    "missing column": (
        {
            "Tarieven": [
                ["gemeenten", "0406"],
                SHEET_HEADER[:5] + SHEET_HEADER[6:],
                *[p[:5] + p[6:] for p in SHEET_PRODUCTS],
            ]
        },
        ["sheet 'Tarieven' row 2", "required columns not found: uitvoeringsvariant"],
    ),
    "missing value": (
        {"Tarieven": [["gemeenten", "0406"], SHEET_HEADER, [*SHEET_PRODUCTS[0][:4], None, *SHEET_PRODUCTS[0][5:]]]},
        ["sheet 'Tarieven' row 3", "column 'Prijs per eenheid'", "tarief is missing"],
    ),
}


@pytest.mark.parametrize("case", list(SHEET_REFUSALS))
def test_tariff_sheet_refusals_name_sheet_row_and_column(tmp_path, db_url, cli, case):
    sheets, expected = SHEET_REFUSALS[case]
    src = write_xlsx(tmp_path / "tarieven.xlsx", sheets)
    before = table_counts(db_url)
    r = cli("import", src, "--soort", "contract", "--db", db_url, "-q")
    assert r.exit_code == 3, r.output
    message = " ".join(r.stderr.split())
    for part in expected:
        assert part in message, (part, message)
    assert table_counts(db_url) == before


def test_gemeente_option_fills_a_contract_without_gemeenten(tmp_path, embedded_url, cli):
    src = write_xlsx(tmp_path / "laren.xlsx", {"Tarieven": [SHEET_HEADER, *SHEET_PRODUCTS]})
    r = cli("import", src, "--gemeente", "Laren", "--db", embedded_url, "-q")
    assert r.exit_code == 0, r.output
    assert products(embedded_url).iloc[0]["gemeenten"] == ["0417"]


def test_tariff_sheet_is_detected_but_a_declaration_with_tarief_is_not(tmp_path):
    from jzcli.readers.registry import detect_soort

    tariff = write_xlsx(tmp_path / "t.xlsx", {"Blad1": [["gemeenten", "0406"], SHEET_HEADER, *SHEET_PRODUCTS]})
    declaration = write_xlsx(
        tmp_path / "d.xlsx",
        {
            "Blad1": [
                ["BSN", "Productcode", "Eenheid", "Tarief", "Ingangsdatum", "Einddatum", "Volume", "Bedrag"],
                ["999900006", "45A48", "04", 78, dt.date(2025, 3, 1), dt.date(2025, 3, 31), 2, 156],
            ]
        },
    )
    assert detect_soort(tariff) == "contract"
    assert detect_soort(declaration) == "declaraties"
