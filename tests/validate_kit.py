"""Building blocks for the validate tests: a contract, allocations and declaration files written
by the test and read by the real importer, then judged by the real engine."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pandas as pd

from jzcli.importer import import_paths
from jzcli.readers.prepared import ImportOptions
from jzcli.store.store import Store

AGB = "98001101"
OTHER_AGB = "98009996"
GEM = "0406"
TODAY = dt.date(2025, 4, 15)
# 11-proef-valid test BSNs
BSNS = [
    "999900006",
    "999900018",
    "999900031",
    "999900043",
    "999900055",
    "999900067",
    "999900079",
    "999900080",
    "999900092",
    "999900109",
    "999900110",
    "999900122",
    "999900134",
    "999900146",
    "999900158",
    "999900171",
]
BAD_BSN = "999900398"

MARCH = (dt.date(2025, 3, 1), dt.date(2025, 3, 31))

CONTRACT = """
[contract]
naam = "Testcontract 2025"
gemeenten = ["0406", "0376"]
aanbieders = ["98001101"]

[[product]]
productcategorie = "45"
productcode = "45A48"
eenheid = "04"
tarief = 79.80
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-01-01
geldig_tot = 2025-12-31

[[product]]
productcategorie = "45"
productcode = "45A49"
eenheid = "04"
tarief = 51.00
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-01-01
geldig_tot = 2025-02-28

[[product]]
productcategorie = "45"
productcode = "45A49"
eenheid = "04"
tarief = 52.00
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-03-01
geldig_tot = 2025-12-31

[[product]]
productcategorie = "54"
productcode = "54002"
eenheid = "04"
tarief = 98.50
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2021-01-01

[[product]]
productcategorie = "54"
productcode = "54M01"
eenheid = "04"
tarief = 87.30
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-01-01

[[product]]
productcategorie = "54"
productcode = "54M02"
eenheid = "04"
tarief = 87.24
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-01-01

[[product]]
productcategorie = "42"
productcode = "42A03"
eenheid = "84"
tarief = 14.36
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-01-01

[[product]]
productcategorie = "44"
productcode = "44A27"
eenheid = "14"
tarief = 95.06
uitvoeringsvariant = "inspanningsgericht"
geldig_van = 2025-01-01

[[product]]
productcategorie = "45"
productcode = "45E01"
eenheid = "83"
tarief = 1.00
uitvoeringsvariant = "outputgericht"
geldig_van = 2025-01-01

[[product]]
productcategorie = "43"
productcode = "43T01"
eenheid = "04"
tarief = 50.00
uitvoeringsvariant = "taakgericht"
geldig_van = 2025-01-01
"""

CATEGORIE = {
    "45A48": "45",
    "45A49": "45",
    "54002": "54",
    "54M01": "54",
    "54M02": "54",
    "42A03": "42",
    "44A27": "44",
    "45E01": "45",
    "43T01": "43",
}
UNIT = {
    "45A48": "04",
    "45A49": "04",
    "54002": "04",
    "54M01": "04",
    "54M02": "04",
    "42A03": "84",
    "44A27": "14",
    "45E01": "83",
    "43T01": "04",
}
TARIEF = {
    "45A48": 7980,
    "45A49": 5200,
    "54002": 9850,
    "54M01": 8730,
    "54M02": 8724,
    "42A03": 1436,
    "44A27": 9506,
    "45E01": None,
    "43T01": 5000,
}

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

ALLOCATION_HEADER = [
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


def euros(cents: int | None):
    """Cents → a float in euros as a provider's Excel cell holds it (None stays None)."""
    return None if cents is None else float(Decimal(cents) / 100)


def line(
    bsn: str = BSNS[0],
    code: str = "45A48",
    *,
    begin: dt.date = MARCH[0],
    end: dt.date = MARCH[1],
    volume=10,
    eenheid=None,
    tarief="auto",
    bedrag="auto",
    dc: str = "D",
    ref=None,
    vorig=None,
    nummer=None,
    decl=None,
    cat="auto",
    agb=AGB,
    gemeente=GEM,
) -> list:
    """One declaration row in the iJw layout; tarief/bedrag default to the contract's (in euros)."""
    eenheid = UNIT.get(code, "04") if eenheid is None else eenheid
    if tarief == "auto":
        cents = TARIEF.get(code)
        tarief = euros(cents) if eenheid != "83" else None
    if bedrag == "auto":
        if not isinstance(volume, int) or not (tarief is None or isinstance(tarief, (int, float))):
            bedrag = 100.00
        elif eenheid == "83":
            bedrag = euros(volume)
        else:
            t = Decimal(str(tarief)) if tarief is not None else Decimal(0)
            bedrag = float((t * volume).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    cat = CATEGORIE.get(code) if cat == "auto" else cat
    return [agb, gemeente, decl, ref, vorig, bsn, nummer, cat, code, begin, end, volume, eenheid, tarief, bedrag, dc]


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def declaration(path: Path, rows: list[list], sheet: str = "Declaratie") -> Path:
    return write_xlsx(path, {sheet: [HEADER, *rows]})


def allocation_rows(rows: list[list], *, start=dt.date(2021, 1, 1)) -> list[list]:
    """A roomy allocation (frequentie 6, large volume) for every (bsn, product, gemeente, aanbieder)
    declared in ``rows``, so that lines meant to pass find one."""
    from jzcli import refdata
    from jzcli.readers.values import elfproef

    seen = {}
    for r in rows:
        agb, gemeente, bsn, code = r[0], r[1], r[5], r[8]
        if not bsn or not code or (bsn, code, gemeente, agb) in seen:
            continue
        valid = isinstance(bsn, str) and len(bsn) == 9 and bool(elfproef([bsn]).iloc[0])
        if (
            not valid
            or gemeente not in refdata.gemeenten()
            or not (isinstance(agb, str) and agb.isdigit() and len(agb) == 8)
        ):
            continue
        unit = UNIT.get(code, "04")
        seen[(bsn, code, gemeente, agb)] = [
            f"9{len(seen) + 1:05d}",
            bsn,
            agb,
            gemeente,
            CATEGORIE.get(code, "45"),
            code,
            start,
            None,
            99_999_999 if unit == "83" else 99_999,
            unit,
            "6",
            None,
            None,
            dt.date(2020, 12, 1),
        ]
    return list(seen.values())


def import_files(store: Store, *paths: Path, aanbieder: str | None = None):
    results = import_paths(store, list(paths), ImportOptions(aanbieder=aanbieder))
    bad = [r for r in results if r.status == "error"]
    assert not bad, [r.message for r in bad]
    return results


def setup(
    url: str,
    tmp_path: Path,
    *batches: list[list],
    allocations: list[list] | None = None,
    extra_allocations=(),
    sheets=None,
) -> Store:
    """A store with the test contract, allocations for all declared lines, and each of ``batches``
    imported as its own declaration file (batch ids in that order)."""
    store = Store.open(url)
    contract = tmp_path / "contract.toml"
    contract.write_text(CONTRACT, encoding="utf-8")
    all_rows = [r for b in batches for r in b]
    alloc = allocation_rows(all_rows) if allocations is None else allocations
    alloc = [*alloc, *extra_allocations]
    files = [contract]
    if alloc:
        files.append(write_xlsx(tmp_path / "toewijzingen.xlsx", {"Toewijzingen": [ALLOCATION_HEADER, *alloc]}))
    import_files(store, *files)
    for n, rows in enumerate(batches, 1):
        import_files(store, declaration(tmp_path / f"declaratie_{n}.xlsx", rows))
    return store


def by_row(result, batch: int | None = None) -> dict[int, set[str]]:
    """Excel row → the rule ids found on that line (of one batch, when given)."""
    f = result.findings
    if batch is not None:
        f = f[f["batch"] == batch]
    out: dict[int, set[str]] = {}
    for rij, regel in zip(f["rij"], f["regel"]):
        out.setdefault(int(rij), set()).add(regel)
    return out


def messages(result, rij: int, regel: str, batch: int | None = None) -> list[str]:
    f = result.findings
    f = f[(f["rij"] == rij) & (f["regel"] == regel)]
    if batch is not None:
        f = f[f["batch"] == batch]
    return list(f["melding"])


def finding(result, rij: int, regel: str, batch: int | None = None) -> dict:
    f = result.findings
    f = f[(f["rij"] == rij) & (f["regel"] == regel)]
    if batch is not None:
        f = f[f["batch"] == batch]
    assert len(f) == 1, f"{regel} on row {rij}: {len(f)} findings"
    return f.iloc[0].to_dict()


def status(result, batch: int | None = None) -> dict[int, str]:
    """Excel row → goedgekeurd/afgekeurd (of one batch, when given)."""
    v = result.verdicts
    if batch is not None:
        v = v[v["batch"] == batch]
    return {int(r): s for r, s in zip(v["rij"], v["status"])}


def rows_of(result) -> pd.DataFrame:
    return result.verdicts
