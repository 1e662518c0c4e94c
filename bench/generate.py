"""Generate realistic fictional benchmark data of any size: declarations, a contract, allocations.

    python bench/generate.py --lines 1000000 --out bench/out/1m [--xlsx-lines 100000]

Writes into OUT:
  declaraties.csv      ';'-separated, Windows-1252, Dutch numbers ("1.234,56") and dates (dd-mm-yyyy)
  declaraties.xlsx     (with --xlsx-lines) the first N lines as a workbook with real dates/numbers
  contract.toml        the contract for all gemeenten of the data (tariff change on 2025-07-01)
  toewijzingen.csv     one allocation per client (volume per week), for every client
One line per client per month (January–October 2025), so clients = lines / 10. About 1 % of the
lines carry a wrong tariff, 0.5 % exceed the weekly volume, 0.5 % are duplicates, and 0.5 % are
credits of an earlier line (with its correction): the validator has real work to do.
The BSNs are random numbers that pass the 11-proef; the data is fictional and never committed.
"""

from __future__ import annotations

import argparse
import calendar
from pathlib import Path

import numpy as np
import pandas as pd

TWENTE = [
    "0141",
    "0147",
    "0148",
    "0153",
    "0158",
    "0163",
    "0164",
    "0168",
    "0173",
    "0175",
    "0177",
    "0183",
    "0189",
    "1774",
]
PRODUCTS = [  # code, categorie, eenheid, tarief cents (from 2025-07-01 +2 %), omschrijving
    ("45A48", "45", "04", 7800, "Jeugdhulp ambulant regulier individueel"),
    ("45A49", "45", "04", 5100, "Jeugdhulp ambulant regulier groep"),
    ("54001", "54", "04", 7560, "Jeugd-ggz diagnostiek en behandeling regulier"),
    ("54002", "54", "01", 165, "Jeugd-ggz generalistisch (minuut)"),
    ("41A00", "41", "16", 6882, "Dagbehandeling A"),
    ("44A27", "44", "14", 8355, "Verblijf 24-uurszorg"),
]
MONTHS = 10


def tariff(base: np.ndarray, month: np.ndarray) -> np.ndarray:
    raised = (base * 102 + 50) // 100
    return np.where(month >= 7, raised, base)


def bsns(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 9-digit numbers that pass the 11-proef (random, fictional)."""
    out: list[np.ndarray] = []
    seen = 0
    while seen < n:
        first8 = rng.integers(10_000_000, 99_999_999, size=int(n * 1.3) + 10)
        digits = np.stack([(first8 // 10 ** (7 - i)) % 10 for i in range(8)], axis=1)
        weighted = (digits * np.arange(9, 1, -1)).sum(axis=1) % 11
        ok = weighted < 10
        full = first8[ok] * 10 + weighted[ok]
        out.append(full)
        seen += len(full)
    values = np.unique(np.concatenate(out))[:n]
    rng.shuffle(values)
    return np.char.zfill(values.astype(str), 9)


def dutch_money(cents: np.ndarray) -> np.ndarray:
    euros = cents // 100
    rest = cents % 100
    text = pd.Series(euros).map(lambda e: f"{e:,}".replace(",", ".")).to_numpy(dtype=object)
    return text + "," + np.char.zfill(rest.astype(str), 2).astype(object)


def generate(
    lines: int, out: Path, xlsx_lines: int = 0, seed: int = 20251125, month_only: int = 0, clients: int = 0
) -> dict:
    """With `month_only` (1–12) every line falls in that month of 2025, one per client in turn;
    `clients` then fixes the number of clients (default: one line each), so that files of several
    months made with the same seed and clients share their clients, aanbieders and allocations."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    extra = lines // 100  # 0.5 % duplicates + 0.5 % credits, appended to the base lines
    if not month_only:
        clients = max(1, -(-(lines - extra) // MONTHS))
    elif not clients:
        clients = max(1, lines - extra)
    bsn = bsns(rng, clients)
    gemeente = rng.choice(TWENTE, size=clients)
    agb_pool = np.array([f"98{n:06d}" for n in rng.choice(1_000_000, size=200, replace=False)])
    aanbieder = agb_pool[np.minimum(rng.zipf(1.6, size=clients) - 1, len(agb_pool) - 1)]
    product = rng.integers(0, len(PRODUCTS), size=clients)
    per_week = rng.integers(2, 9, size=clients)  # eenheden per week
    toewijzing = np.arange(100_000_001, 100_000_001 + clients)

    codes = np.array([p[0] for p in PRODUCTS])
    cats = np.array([p[1] for p in PRODUCTS])
    units = np.array([p[2] for p in PRODUCTS])
    base = np.array([p[3] for p in PRODUCTS])
    unit_factor = np.where(units == "01", 60, 1)  # minutes are allocated in hours

    alloc = pd.DataFrame(
        {
            "toewijzingnummer": toewijzing,
            "bsn": bsn,
            "aanbieder": aanbieder,
            "gemeente": gemeente,
            "productcategorie": cats[product],
            "productcode": codes[product],
            "ingangsdatum": "01-01-2025",
            "einddatum": "31-12-2025",
            "volume": per_week,
            "eenheid": np.where(units[product] == "01", "04", units[product]),
            "frequentie": 2,
            "budget": "",
            "reden_wijziging": "",
            "toewijzingsdatum": "15-12-2024",
        }
    )
    alloc.to_csv(out / "toewijzingen.csv", sep=";", index=False, encoding="cp1252")

    # One line per client per month; ISO weeks touched per month of 2025 bound the volume.
    if month_only:
        client = np.resize(np.arange(clients), lines - extra)
        month = np.full(len(client), month_only)
    else:
        client = np.repeat(np.arange(clients), MONTHS)[: lines - extra]
        month = np.tile(np.arange(1, MONTHS + 1), clients)[: lines - extra]
    n = len(client)
    weeks = np.array([_weeks_touched(2025, m) for m in range(1, 13)])
    allowed = per_week[client] * weeks[month - 1] * unit_factor[product[client]]
    volume = np.maximum(1, (allowed * rng.uniform(0.5, 1.0, size=n)).astype(np.int64))
    over = rng.random(n) < 0.005
    volume = np.where(over, allowed + rng.integers(1, 5, size=n), volume)
    p = product[client]
    tarief = tariff(base[p], month)
    wrong = rng.random(n) < 0.01
    tarief = np.where(wrong, tarief + 500, tarief)
    bedrag = volume * tarief
    last_day = np.array([calendar.monthrange(2025, m)[1] for m in range(1, 13)])
    begin = np.char.add(np.char.add("01-", np.char.zfill(month.astype(str), 2)), "-2025")
    end = np.char.add(
        np.char.add(np.char.add(last_day[month - 1].astype(str), "-"), np.char.zfill(month.astype(str), 2)), "-2025"
    )
    unit_names = {"01": "minuut", "04": "uur", "14": "etmaal", "16": "dagdeel"}
    frame = pd.DataFrame(
        {
            "BSN": bsn[client],
            "AGB-code": aanbieder[client],
            "Gemeente": gemeente[client],
            "Productcode": codes[p],
            "Van": begin,
            "Tot": end,
            "Aantal": volume,
            "Eenheid": pd.Series(units[p]).map(unit_names).to_numpy(),
            "Tarief": dutch_money(tarief),
            "Bedrag": dutch_money(bedrag),
        }
    )
    # Duplicates (a line sent twice) and credits (negative copy) of a line, with its correction.
    dup = frame.sample(n=extra // 2, random_state=seed)
    credit = frame.sample(n=extra - extra // 2, random_state=seed + 1).copy()
    credit["Aantal"] = -credit["Aantal"]
    credit["Bedrag"] = "-" + credit["Bedrag"]
    frame = pd.concat([frame, dup, credit], ignore_index=True)
    frame.to_csv(out / "declaraties.csv", sep=";", index=False, encoding="cp1252")

    if xlsx_lines:
        _write_xlsx(frame.head(xlsx_lines), out / "declaraties.xlsx")

    _write_contract(out / "contract.toml")
    return {"lines": len(frame), "clients": clients, "allocations": clients}


def _weeks_touched(year: int, month: int) -> int:
    first = pd.Timestamp(year, month, 1)
    last = first + pd.offsets.MonthEnd(0)
    return len({d.isocalendar()[:2] for d in pd.date_range(first, last)})


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Declaraties")
    ws.append(list(frame.columns))

    def date(text: str) -> dt.date:
        d, m, y = text.split("-")
        return dt.date(int(y), int(m), int(d))

    def euros(text: str) -> float:
        return float(text.replace(".", "").replace(",", "."))

    for row in frame.itertuples(index=False):
        ws.append(
            [
                row[0],
                row[1],
                row[2],
                row[3],
                date(row[4]),
                date(row[5]),
                int(row[6]),
                row[7],
                euros(row[8]),
                euros(row[9]),
            ]
        )
    wb.save(path)


def _write_contract(path: Path) -> None:
    lines = [
        "[contract]",
        'naam = "Jeugdhulp Twente 2025 (benchmark)"',
        "gemeenten = [" + ", ".join(f'"{g}"' for g in TWENTE) + "]",
        "",
    ]
    for code, cat, unit, cents, name in PRODUCTS:
        for van, tot, value in (
            ("2025-01-01", "2025-06-30", cents),
            ("2025-07-01", "2025-12-31", (cents * 102 + 50) // 100),
        ):
            tarief_unit = unit
            lines += [
                "[[product]]",
                f'productcategorie = "{cat}"',
                f'productcode = "{code}"',
                f'omschrijving = "{name}"',
                f'eenheid = "{tarief_unit}"',
                f'tarief = "{value // 100},{value % 100:02d}"',
                'uitvoeringsvariant = "inspanningsgericht"',
                f"geldig_van = {van}",
                f"geldig_tot = {tot}",
                "",
            ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--xlsx-lines", type=int, default=0)
    parser.add_argument("--seed", type=int, default=20251125)
    parser.add_argument("--month", type=int, default=0, help="every line in this month of 2025 (1-12), one per client")
    parser.add_argument("--clients", type=int, default=0, help="with --month: this many clients (default: lines)")
    args = parser.parse_args()
    print(generate(args.lines, args.out, args.xlsx_lines, args.seed, args.month, args.clients))


if __name__ == "__main__":
    main()
