#!/usr/bin/env python3
"""Generate the bundled jzcli sample data in ``data/samples/``.

Run from the repository root::

    python data/samples/make_samples.py

Every sample file in this folder (except README.md and this script) is rewritten. The output is
deterministic, byte for byte: fixed workbook properties and fixed zip timestamps.

All people, providers, AGB codes and addresses are fictional. BSNs are 11-proef-valid test
numbers in the 9999xxxxx range, except two ``00xxxxxxx`` numbers (Enschede file, stored as numbers
so they lose their leading zeros) and one deliberately invalid BSN (a planted mistake).

Amounts are derived from the contract below, so every line is correct unless it is one of the
seven planted mistakes (``planted=...``); see README.md for the table.

Only the standard library and openpyxl are used.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill

OUT = Path(__file__).resolve().parent
D = dt.date
CENT = Decimal("0.01")
EURO_FMT = '"€" #,##0.00'
FIXED_TIME = dt.datetime(2025, 4, 1, 9, 0, 0)


# --------------------------------------------------------------------------------------------
# BSN helpers
# --------------------------------------------------------------------------------------------

def elfproef(bsn: str) -> bool:
    """CS002: sum(9*d1 + 8*d2 + ... + 2*d8) - d9 == 0 (mod 11)."""
    if len(bsn) != 9 or not bsn.isdigit():
        return False
    d = [int(c) for c in bsn]
    return (sum((9 - i) * d[i] for i in range(8)) - d[8]) % 11 == 0


def test_bsns(count: int) -> list[str]:
    """The first ``count`` 11-proef-valid numbers in the test range 9999xxxxx."""
    out = []
    n = 999900000
    while len(out) < count:
        s = f"{n:09d}"
        if elfproef(s):
            out.append(s)
        n += 1
    return out


BSN_POOL = iter(test_bsns(60))
ZERO_BSNS = ["001234572", "007654315"]  # valid, but lose their leading zeros as numbers
assert all(elfproef(b) for b in ZERO_BSNS)


# --------------------------------------------------------------------------------------------
# Providers, contracts
# --------------------------------------------------------------------------------------------

AGB_A = "98001101"  # ZorgFirst Jeugd B.V. (Huizen)
AGB_B = "98001202"  # Jeugdzorg De Horizon (Blaricum)
AGB_C = "98001303"  # Kindcentrum 't Gooi (Laren + Huizen)
AGB_D = "98001404"  # TwenteZorg Jeugd B.V. (Enschede)

HUIZEN, BLARICUM, LAREN, ENSCHEDE = "0406", "0376", "0417", "0153"
GOOISE_MEREN = "1942"  # Bussum, Muiden and Naarden merged into it on 2016-01-01


@dataclass
class Product:
    productcategorie: str
    productcode: str
    omschrijving: str
    eenheid: str
    tarief: Decimal
    geldig_van: dt.date = D(2025, 1, 1)
    geldig_tot: dt.date = D(2025, 12, 31)
    uitvoeringsvariant: str = "inspanningsgericht"


def P(cat, code, oms, eenheid, tarief, van=D(2025, 1, 1), tot=D(2025, 12, 31)):
    return Product(cat, code, oms, eenheid, Decimal(tarief), van, tot)


GOOI = {
    "naam": "Jeugdhulp Gooi en Vechtstreek 2025",
    "gemeenten": [HUIZEN, BLARICUM, LAREN, GOOISE_MEREN],
    "aanbieders": [AGB_A, AGB_B, AGB_C],
    "producten": [
        P("45", "45A48", "Jeugdhulp ambulant regulier individueel", "04", "78.00", tot=D(2025, 2, 28)),
        P("45", "45A48", "Jeugdhulp ambulant regulier individueel", "04", "79.80", van=D(2025, 3, 1)),
        P("45", "45A49", "Jeugdhulp ambulant regulier groep", "04", "51.00"),
        P("45", "45A76", "Ernstige enkelvoudige dyslexie", "04", "68.40"),
        P("54", "54001", "Jeugd-GGZ diagnostiek en behandeling regulier", "04", "111.60"),
        P("54", "54002", "Jeugd-GGZ diagnostiek en behandeling generalistisch", "04", "98.50"),
        P("54", "54003", "Jeugd-GGZ hoogspecialistisch", "04", "131.40"),
        P("41", "41A00", "Dagbehandeling A", "16", "68.82"),
        P("41", "41A03", "Dagbehandeling B", "16", "74.37"),
        P("44", "44A27", "Verblijf 24-uurszorg", "14", "95.06"),
        P("44", "44A08", "Verblijf gezinshuis", "14", "163.59"),
        P("42", "42A03", "Vervoer bij dagbehandeling", "84", "14.36"),
    ],
}

TWENTE = {
    "naam": "Jeugdhulp Twente 2025",
    "gemeenten": [ENSCHEDE],
    "aanbieders": [AGB_D],
    "producten": [
        P("45", "45A48", "Jeugdhulp ambulant regulier individueel", "04", "81.60"),
        P("45", "45A49", "Jeugdhulp ambulant regulier groep", "04", "52.20"),
        P("54", "54001", "Jeugd-GGZ diagnostiek en behandeling regulier", "04", "108.00"),
        P("41", "41A00", "Dagbehandeling A", "16", "70.20"),
        P("43", "43A10", "Jeugdhulp verblijf inclusief behandeling", "14", "218.50"),
        P("44", "44A27", "Verblijf 24-uurszorg", "14", "96.40"),
        P("42", "42A03", "Vervoer bij dagbehandeling", "84", "14.90"),
    ],
}


def contract_for(gemeente: str) -> dict:
    return TWENTE if gemeente == ENSCHEDE else GOOI


def contract_product(gemeente: str, code: str, on: dt.date) -> Product:
    for p in contract_for(gemeente)["producten"]:
        if p.productcode == code and p.geldig_van <= on <= p.geldig_tot:
            return p
    raise KeyError((gemeente, code, on))


# --------------------------------------------------------------------------------------------
# Clients and allocations (toewijzingen)
# --------------------------------------------------------------------------------------------

CLIENTS: dict[str, tuple[str, str]] = {}  # key -> (bsn, name)


def client(key: str, name: str = "", bsn: str | None = None) -> str:
    CLIENTS[key] = (bsn or next(BSN_POOL), name)
    return key


@dataclass
class Alloc:
    nr: int
    client: str
    aanbieder: str
    gemeente: str
    cat: str
    code: str  # "" = aspecific (category only)
    ingang: dt.date
    eind: dt.date
    volume: int | None
    eenheid: str
    freq: str
    toewijzingsdatum: dt.date
    budget: Decimal | None = None
    reden: str = ""

    @property
    def bsn(self) -> str:
        return CLIENTS[self.client][0]


VERSIONS: list[Alloc] = []


def A(nr, cl, agb, gem, code, ingang, eind, volume, eenheid, freq, td, cat=None, budget=None, reden=""):
    a = Alloc(nr, cl, agb, gem, cat or code[:2], code, ingang, eind, volume, eenheid, freq, td,
              Decimal(budget) if budget else None, reden)
    VERSIONS.append(a)
    return a


def alloc(nr: int) -> Alloc:
    """The valid version: latest toewijzingsdatum (IV013)."""
    return max((a for a in VERSIONS if a.nr == nr), key=lambda a: a.toewijzingsdatum)


Y0, Y1 = D(2025, 1, 1), D(2025, 12, 31)
TD = D(2024, 12, 16)  # usual toewijzingsdatum for allocations starting 1 January

# --- Provider A, ZorgFirst Jeugd, Huizen ------------------------------------------------------
client("c01"); client("c02"); client("c03"); client("c04"); client("c05"); client("c06")
client("c07"); client("c08"); client("c09"); client("c10"); client("c11"); client("c12")
client("c13"); client("c14"); client("c15"); client("c16"); client("c17")
A(406250101, "c01", AGB_A, HUIZEN, "45A48", Y0, Y1, 3, "04", "2", TD)
A(406250102, "c01", AGB_A, HUIZEN, "54001", Y0, Y1, 1, "04", "2", TD)
A(406250103, "c02", AGB_A, HUIZEN, "45A48", Y0, D(2025, 6, 30), 2, "04", "2", TD)
A(406250104, "c03", AGB_A, HUIZEN, "54001", Y0, Y1, 4, "04", "2", TD)
A(406250105, "c04", AGB_A, HUIZEN, "54002", D(2025, 3, 10), D(2025, 8, 31), 3, "04", "2", D(2025, 3, 5))
A(406250106, "c05", AGB_A, HUIZEN, "41A00", Y0, Y1, 6, "16", "2", TD)
A(406250107, "c05", AGB_A, HUIZEN, "42A03", Y0, Y1, 3, "84", "2", TD)
A(406250108, "c06", AGB_A, HUIZEN, "44A27", D(2025, 2, 17), Y1, 7, "14", "2", D(2025, 2, 12))
A(406250109, "c07", AGB_A, HUIZEN, "45A49", Y0, D(2025, 2, 28), 2, "04", "2", TD)  # not extended
A(406250110, "c08", AGB_A, HUIZEN, "45A48", Y0, D(2025, 2, 28), 3, "04", "2", TD)
A(406250110, "c08", AGB_A, HUIZEN, "45A48", Y0, D(2025, 6, 30), 3, "04", "2", D(2025, 2, 20), reden="04")
A(406250111, "c09", AGB_A, HUIZEN, "45A76", D(2025, 1, 6), D(2025, 9, 30), 40, "04", "6", D(2024, 12, 20))
A(406250112, "c10", AGB_A, HUIZEN, "54003", Y0, D(2025, 5, 15), 2, "04", "2", TD)
A(406250113, "c11", AGB_A, HUIZEN, "44A08", Y0, D(2025, 3, 20), 7, "14", "2", TD)
A(406250114, "c12", AGB_A, HUIZEN, "45A48", Y0, Y1, 2, "04", "2", TD)
A(406250115, "c13", AGB_A, HUIZEN, "41A03", Y0, Y1, 16, "16", "4", TD)
A(406250116, "c14", AGB_A, HUIZEN, "", D(2025, 2, 1), D(2025, 7, 31), None, "", "", D(2025, 1, 24),
  cat="45", budget="1500.00")
A(406250117, "c15", AGB_A, HUIZEN, "54002", Y0, Y1, 2, "04", "2", TD)
A(406250118, "c16", AGB_A, HUIZEN, "45A48", D(2025, 3, 17), D(2025, 9, 30), 2, "04", "2", D(2025, 3, 12))
A(406250119, "c17", AGB_A, HUIZEN, "45A49", Y0, Y1, 1, "04", "2", TD)

# --- Provider B, Jeugdzorg De Horizon, Blaricum ------------------------------------------------
client("b01", "Noëlle de Vries"); client("b02", "Chloé van Dijk"); client("b03", "Zoë Hendriks")
client("b04", "Daniël Mulder"); client("b05", "René Bakker"); client("b06", "Anaïs Smit")
client("b07", "Sem Brouwer"); client("b08", "Fenna Wolters"); client("b09", "Loïs Kramer")
client("b10", "Mees Visser")
A(376250201, "b01", AGB_B, BLARICUM, "45A48", Y0, Y1, 3, "04", "2", TD)
A(376250202, "b01", AGB_B, BLARICUM, "54001", Y0, Y1, 1, "04", "2", TD)
A(376250203, "b02", AGB_B, BLARICUM, "54002", Y0, D(2025, 6, 30), 2, "04", "2", TD)
A(376250204, "b03", AGB_B, BLARICUM, "44A27", D(2025, 3, 12), D(2025, 9, 30), 7, "14", "2", D(2025, 3, 10))
A(376250205, "b04", AGB_B, BLARICUM, "45A48", Y0, Y1, 3, "04", "2", TD)
A(376250206, "b05", AGB_B, BLARICUM, "41A00", Y0, Y1, 4, "16", "2", TD)
A(376250207, "b05", AGB_B, BLARICUM, "42A03", Y0, Y1, 2, "84", "2", TD)
A(376250208, "b06", AGB_B, BLARICUM, "54001", D(2025, 2, 1), D(2025, 3, 19), 2, "04", "2", D(2025, 1, 27))
A(376250209, "b07", AGB_B, BLARICUM, "45A49", Y0, Y1, 2, "04", "2", TD)
A(376250210, "b08", AGB_B, BLARICUM, "45A76", D(2025, 1, 13), D(2025, 7, 31), 30, "04", "6", D(2025, 1, 8))
A(376250211, "b09", AGB_B, BLARICUM, "54003", D(2025, 3, 3), D(2025, 8, 31), 2, "04", "2", D(2025, 2, 26))
A(376250212, "b10", AGB_B, BLARICUM, "41A03", Y0, Y1, 3, "16", "2", TD)

# --- Provider C, Kindcentrum 't Gooi, Laren and Huizen ------------------------------------------
client("l01", "Jesse van den Berg"); client("l02", "Liv Jansen"); client("l03", "Bram de Graaf")
client("l04", "Saar Koster"); client("l05", "Thijs Vermeulen")
client("h01", "Noor Dekker"); client("h02", "Julia Bos"); client("h03", "Finn Peters")
client("h04", "Lotte Hoekstra"); client("h05", "Gijs Prins")
A(417250301, "l01", AGB_C, LAREN, "45A48", Y0, Y1, 2, "04", "2", TD)
A(417250302, "l02", AGB_C, LAREN, "41A00", D(2025, 2, 10), D(2025, 7, 31), 5, "16", "2", D(2025, 2, 4))
A(417250303, "l02", AGB_C, LAREN, "42A03", D(2025, 2, 10), D(2025, 7, 31), 3, "84", "2", D(2025, 2, 4))
A(417250304, "l03", AGB_C, LAREN, "45A48", D(2025, 2, 1), Y1, 2, "04", "2", D(2025, 1, 20))
A(417250304, "l03", AGB_C, LAREN, "45A48", D(2025, 2, 1), D(2025, 2, 1), 2, "04", "2", D(2025, 1, 27),
  reden="13")  # deleted: counts as never sent
A(417250305, "l04", AGB_C, LAREN, "54001", Y0, Y1, 1, "04", "2", TD)
A(417250306, "l05", AGB_C, LAREN, "44A08", Y0, Y1, 7, "14", "2", TD)
A(406250307, "h01", AGB_C, HUIZEN, "45A49", Y0, Y1, 2, "04", "2", TD)
A(406250308, "h02", AGB_C, HUIZEN, "45A48", D(2025, 1, 20), D(2025, 4, 30), 3, "04", "2", D(2025, 1, 14))
A(406250309, "h03", AGB_C, HUIZEN, "54002", Y0, D(2025, 2, 19), 2, "04", "2", TD)
A(406250310, "h04", AGB_C, HUIZEN, "41A03", Y0, Y1, 4, "16", "2", TD)
A(406250311, "h05", AGB_C, HUIZEN, "45A76", D(2025, 1, 6), D(2025, 6, 30), 40, "04", "6", D(2024, 12, 20))

# --- Provider D, TwenteZorg Jeugd, Enschede -----------------------------------------------------
client("e01", bsn=ZERO_BSNS[0]); client("e02", bsn=ZERO_BSNS[1]); client("e03"); client("e04")
client("e05"); client("e06")
A(153250401, "e01", AGB_D, ENSCHEDE, "45A48", Y0, Y1, 3, "04", "2", TD)
A(153250402, "e02", AGB_D, ENSCHEDE, "44A27", D(2025, 1, 15), D(2025, 6, 30), 7, "14", "2", D(2025, 1, 10))
A(153250403, "e03", AGB_D, ENSCHEDE, "45A49", Y0, Y1, 2, "04", "2", TD)
A(153250404, "e04", AGB_D, ENSCHEDE, "54001", D(2025, 2, 1), D(2025, 3, 31), 2, "04", "2", D(2025, 1, 28))
A(153250405, "e05", AGB_D, ENSCHEDE, "41A00", Y0, Y1, 4, "16", "2", TD)
A(153250406, "e05", AGB_D, ENSCHEDE, "42A03", Y0, Y1, 2, "84", "2", TD)
A(153250407, "e06", AGB_D, ENSCHEDE, "43A10", Y0, D(2025, 2, 20), 7, "14", "2", TD)

# --- Provider B again: a client of Gooise Meren (defined last, so no other test BSN shifts) ------
client("b11", "Yara Meijer")
A(1942250213, "b11", AGB_B, GOOISE_MEREN, "45A48", Y0, Y1, 2, "04", "2", TD)  # lives in Bussum (0381 until 2016)


# --------------------------------------------------------------------------------------------
# Declaration lines
# --------------------------------------------------------------------------------------------

def month_last(y: int, m: int) -> dt.date:
    return D(y, m, calendar.monthrange(y, m)[1])


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Line:
    nr: int  # toewijzingnummer
    bsn: str
    aanbieder: str
    gemeente: str
    cat: str
    code: str
    omschrijving: str
    begin: dt.date
    end: dt.date
    volume: int
    eenheid: str
    tarief: Decimal
    bedrag: Decimal
    dc: str = "D"
    ref: str = ""
    vorig: str = ""
    name: str = ""
    planted: str = ""
    extra: dict = field(default_factory=dict)


def L(nr, y, m, volume, *, code=None, minutes=False, tarief=None, clip=True, bsn=None, planted=""):
    """A declaration line on allocation ``nr`` for month ``m``, correct unless overridden.

    Period: whole month clipped to the allocation (TR387/TR388), unless ``clip=False``.
    Tarief: contract tariff valid on the begin date (TR418); minutes: hourly tariff / 60 rounded
    half-up; Bedrag = volume x tarief, or for minutes round_half_up(hourly x minutes / 60) (TR346).
    """
    a = alloc(nr)
    code = code or a.code
    begin, end = D(y, m, 1), month_last(y, m)
    if clip:
        begin, end = max(begin, a.ingang), min(end, a.eind)
    prod = contract_product(a.gemeente, code, begin)
    hourly = prod.tarief
    if minutes:
        assert prod.eenheid == "04"
        eenheid = "01"
        line_tarief = cents(hourly / 60)
        bedrag = cents(hourly * volume / 60)
    else:
        eenheid = prod.eenheid
        line_tarief = Decimal(tarief) if tarief is not None else hourly
        bedrag = cents(line_tarief * volume)
    return Line(nr, bsn or a.bsn, a.aanbieder, a.gemeente, prod.productcategorie, code,
                prod.omschrijving, begin, end, volume, eenheid, line_tarief, bedrag,
                name=CLIENTS[a.client][1], planted=planted)


def credit_of(line: Line, ref: str, vorig: str, planted="") -> Line:
    c = Line(**{**line.__dict__, "extra": {}})
    c.dc, c.ref, c.vorig, c.planted = "C", ref, vorig, planted
    return c


# File 1: ZorgFirst, Huizen, DeclaratiePeriode March 2025 (with a few late Jan/Feb lines).
F1_LINES = [
    L(406250101, 2025, 3, 15),
    L(406250102, 2025, 3, 5),
    L(406250103, 2025, 1, 9),
    L(406250103, 2025, 2, 8),
    L(406250103, 2025, 3, 11),
    L(406250104, 2025, 3, 20),
    L(406250105, 2025, 3, 400, minutes=True),
    L(406250106, 2025, 3, 26),
    L(406250107, 2025, 3, 13),
    L(406250108, 2025, 2, 12),
    L(406250108, 2025, 3, 31),
    L(406250109, 2025, 3, 8, clip=False, planted="TR308"),
    L(406250110, 2025, 3, 12),
    L(406250111, 2025, 1, 5),
    L(406250111, 2025, 2, 6),
    L(406250111, 2025, 3, 6),
    L(406250112, 2025, 3, 8),
    L(406250113, 2025, 3, 20),
    L(406250114, 2025, 3, 8, tarief="95.00", planted="TR418"),
    L(406250115, 2025, 3, 14),
    L(406250116, 2025, 3, 6, code="45A48"),
    L(406250116, 2025, 3, 4, code="45A49"),
    L(406250117, 2025, 3, 6),
    L(406250118, 2025, 3, 5),
    L(406250119, 2025, 3, 5),
]
for i, ln in enumerate(F1_LINES, 1):
    ln.ref = f"ZF2503{i:04d}"

# File 5: ZorgFirst, Huizen, DeclaratiePeriode April 2025: corrections of March only.
_f5_debet_c01 = L(406250101, 2025, 3, 13)
_f5_redeclare_c12 = L(406250114, 2025, 3, 8)  # the March line was rejected (TR418): new debet, no credit
F5_LINES = [
    credit_of(F1_LINES[0], "", F1_LINES[0].ref),
    _f5_debet_c01,
    _f5_redeclare_c12,
    credit_of(F1_LINES[5], "", "ZF25030060", planted="TR323"),  # meant ZF25030006
]
for i, ln in enumerate(F5_LINES, 1):
    ln.ref = f"ZF2504{i:04d}"

# File 2: De Horizon, Blaricum, March 2025 (CSV).
F2_LINES = [
    L(376250201, 2025, 3, 15),
    L(376250202, 2025, 3, 4),
    L(376250203, 2025, 3, 355, minutes=True),
    L(376250204, 2025, 3, 20),
    L(376250205, 2025, 3, 25, planted="TR321"),
    L(376250206, 2025, 3, 24),
    L(376250207, 2025, 3, 12),
    L(376250208, 2025, 3, 6),
    L(376250209, 2025, 3, 10),
    L(376250210, 2025, 3, 5),
    L(376250211, 2025, 3, 9),
    L(376250212, 2025, 3, 15),
]
# The provider's client system still says "Bussum" (0381, merged into Gooise Meren in 2016): the line
# is judged against Gooise Meren's contract and allocation (JZ-G01 signal) and passes.
_bussum = L(1942250213, 2025, 3, 8)
_bussum.extra["gemeentenaam"] = "Bussum"
F2_LINES.append(_bussum)

# File 3: Kindcentrum 't Gooi, February 2025, one sheet per gemeente.
_h04 = CLIENTS["h04"][0]
BAD_BSN = _h04[:7] + _h04[8] + _h04[7]  # last two digits swapped (typo); fails the 11-proef
assert not elfproef(BAD_BSN)
F3_LAREN = [
    L(417250301, 2025, 2, 9),
    L(417250302, 2025, 2, 14),
    L(417250303, 2025, 2, 8),
    L(417250304, 2025, 2, 8, clip=False, planted="TR384"),
    L(417250305, 2025, 2, 4),
    L(417250306, 2025, 2, 28),
]
F3_HUIZEN = [
    L(406250307, 2025, 2, 8),
    L(406250308, 2025, 2, 12),
    L(406250309, 2025, 2, 6),
    L(406250310, 2025, 2, 18, bsn=BAD_BSN, planted="CS002"),
    L(406250311, 2025, 2, 6),
]

# File 4: TwenteZorg, Enschede, January-March 2025 in one sheet with a "Maand" column.
F4_VOLUMES = {  # toewijzingnummer: volume in (January, February, March)
    153250401: (12, 13, 14),
    153250402: (17, 28, 31),
    153250403: (8, 8, 10),
    153250404: (None, 8, 9),
    153250405: (18, 16, 20),
    153250406: (9, 8, 10),
    153250407: (31, 20, None),
}
F4_LINES = []
for m, style in ((1, "januari 2025"), (2, "feb 2025"), (3, "2025-03")):
    for nr, v in F4_VOLUMES.items():
        if v[m - 1] is not None:
            ln = L(nr, 2025, m, v[m - 1])
            ln.extra["maand"] = style
            F4_LINES.append(ln)
# Mixed month styles within a month, as when several people fill the sheet.
F4_LINES[1].extra["maand"] = "jan 2025"
F4_LINES[10].extra["maand"] = "februari 2025"
F4_LINES[15].extra["maand"] = "maart 2025"
_dup = L(153250404, 2025, 2, 8, planted="TR416")
_dup.extra["maand"] = "Februari 2025"
F4_LINES.append(_dup)


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------

def nl_number(x: Decimal) -> str:
    """1234.5 -> '1.234,50'."""
    s = f"{x:,.2f}"
    return s.replace(",", "_").replace(".", ",").replace("_", ".")


EENHEID_NAAM = {"01": "minuten", "04": "uur", "14": "etmaal", "16": "dagdeel", "84": "stuks"}


def new_workbook() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    p = wb.properties
    p.creator = "jzcli make_samples.py"
    p.lastModifiedBy = "jzcli make_samples.py"
    p.created = FIXED_TIME
    p.modified = FIXED_TIME
    return wb


def save_deterministic(wb: openpyxl.Workbook, path: Path) -> None:
    """Save with a fixed modification time and fixed zip entry timestamps."""
    buf = io.BytesIO()
    wb.save(buf)
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + stamp.encode() + rb"\2", data)
            zi = zipfile.ZipInfo(info.filename, date_time=(2025, 4, 1, 9, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    path.write_bytes(out.getvalue())


def style_header(ws, row: int, ncols: int, first_col: int = 1) -> None:
    for c in range(first_col, first_col + ncols):
        cell = ws.cell(row=row, column=c)
        if cell.value not in (None, ""):
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDEBF7")


def widths(ws, values: dict[str, float]) -> None:
    for col, w in values.items():
        ws.column_dimensions[col].width = w


IJW_HEADERS = [
    "Aanbieder", "Gemeente", "DeclaratieNummer", "ReferentieNummer", "VorigReferentieNummer", "Bsn",
    "ToewijzingNummer", "ProductCategorie", "ProductCode", "Begindatum", "Einddatum", "GeleverdVolume",
    "Eenheid", "ProductTarief", "IngediendBedrag", "DebetCredit",
]


def write_ijw_xlsx(path: Path, declaratienummer: str, lines: list[Line], sheet: str) -> None:
    wb = new_workbook()
    ws = wb.create_sheet(sheet)
    ws.append(IJW_HEADERS)
    style_header(ws, 1, len(IJW_HEADERS))
    for ln in lines:
        ws.append([
            ln.aanbieder, ln.gemeente, declaratienummer, ln.ref, ln.vorig or None, ln.bsn, ln.nr,
            ln.cat, ln.code, ln.begin, ln.end, ln.volume, ln.eenheid, float(ln.tarief),
            float(ln.bedrag), ln.dc,
        ])
        r = ws.max_row
        for col in ("A", "B", "C", "D", "E", "F", "H", "I", "M", "P"):
            ws[f"{col}{r}"].number_format = "@"
        ws[f"J{r}"].number_format = "yyyy-mm-dd"
        ws[f"K{r}"].number_format = "yyyy-mm-dd"
        ws[f"N{r}"].number_format = EURO_FMT
        ws[f"O{r}"].number_format = EURO_FMT
        ln.extra["row"] = r
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:P{ws.max_row}"
    widths(ws, {c: 14 for c in "ABCDEFGHIJKLMNOP"} | {"E": 22, "D": 18, "G": 17, "O": 16})
    save_deterministic(wb, path)


def write_blaricum_csv(path: Path, lines: list[Line]) -> None:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(["Burgerservicenummer", "Naam cliënt", "Productcode", "Omschrijving", "Periode van",
                "Periode tot", "Aantal", "Eenheid", "Prijs per eenheid", "Totaal", "Gemeente"])
    for i, ln in enumerate(lines, 2):
        w.writerow([
            ln.bsn, ln.name, ln.code, ln.omschrijving, ln.begin.strftime("%d-%m-%Y"),
            ln.end.strftime("%d-%m-%Y"), ln.volume, EENHEID_NAAM[ln.eenheid],
            "€ " + nl_number(ln.tarief), nl_number(ln.bedrag), ln.extra.get("gemeentenaam", "Blaricum"),
        ])
        ln.extra["row"] = i
    path.write_bytes(buf.getvalue().encode("cp1252"))


def write_kindcentrum_xlsx(path: Path, sheets: list[tuple[str, str, list[Line]]]) -> None:
    wb = new_workbook()
    headers = ["BSN cliënt", "Naam cliënt", "Woonplaatsgemeente", "Prestatiecode", "Omschrijving",
               "Van", "Tot en met", "Geleverd volume", "Eenheid", "Tarief", "Ingediend bedrag"]
    for title, gemeentenaam, lines in sheets:
        ws = wb.create_sheet(title)
        ws["A1"] = "Kindcentrum 't Gooi"
        ws["A1"].font = Font(bold=True, size=14)
        ws["A2"] = "Postbus 9912"
        ws["A3"] = "1250 AB  Laren"
        ws["A4"] = "Declaratie februari 2025"
        ws["A4"].font = Font(bold=True)
        ws["A5"] = f"AGB-code: {AGB_C}"
        header_row = 7
        for c, h in enumerate(headers, 1):
            ws.cell(row=header_row, column=c, value=h)
        style_header(ws, header_row, len(headers))
        r = header_row
        for ln in lines:
            r += 1
            vals = [ln.bsn, ln.name, gemeentenaam, ln.code, ln.omschrijving, ln.begin, ln.end,
                    ln.volume, EENHEID_NAAM[ln.eenheid].capitalize(), float(ln.tarief), float(ln.bedrag)]
            for c, v in enumerate(vals, 1):
                ws.cell(row=r, column=c, value=v)
            ws.cell(row=r, column=1).number_format = "@"
            ws.cell(row=r, column=6).number_format = "dd-mm-yyyy"
            ws.cell(row=r, column=7).number_format = "dd-mm-yyyy"
            ws.cell(row=r, column=10).number_format = EURO_FMT
            ws.cell(row=r, column=11).number_format = EURO_FMT
            ln.extra["row"] = r
        last = r
        r += 2  # one blank row
        ws.cell(row=r, column=1, value="Totaal").font = Font(bold=True)
        tot = ws.cell(row=r, column=11, value=f"=SUM(K{header_row + 1}:K{last})")
        tot.number_format = EURO_FMT
        tot.font = Font(bold=True)
        r += 2
        ws.cell(row=r, column=1, value="Voor akkoord: M. Schouten, directeur, Laren, 3 maart 2025")
        ws.cell(row=r, column=1).font = Font(italic=True)
        widths(ws, {"A": 14, "B": 20, "C": 19, "D": 13, "E": 44, "F": 12, "G": 12, "H": 15,
                    "I": 10, "J": 11, "K": 16})
    ws = wb.create_sheet("Toelichting")
    notes = [
        "Toelichting bij de declaratie februari 2025",
        "",
        "Per gemeente een apart tabblad (Laren, Huizen).",
        "Tarieven conform contract Jeugdhulp Gooi en Vechtstreek 2025.",
        "Dagbehandeling wordt per dagdeel gedeclareerd, vervoer per dag (stuks).",
        "Vragen over deze declaratie: administratie@kindcentrum-tgooi.example",
    ]
    for i, t in enumerate(notes, 1):
        ws.cell(row=i, column=1, value=t or None)
    ws["A1"].font = Font(bold=True)
    ws.column_dimensions["A"].width = 70
    save_deterministic(wb, path)


def write_enschede_xlsx(path: Path, lines: list[Line]) -> None:
    wb = new_workbook()
    ws = wb.create_sheet("Declaratie Q1 2025")
    headers = ["Maand", None, "AGB-code", "Gemeente", "BSN", None, "Productcode", "Omschrijving",
               "Aantal", "Eenheid", "Tarief", "Bedrag"]
    ws.append(headers)
    style_header(ws, 1, len(headers))
    for ln in lines:
        ws.append([ln.extra["maand"], None, int(ln.aanbieder), "Enschede", int(ln.bsn), None, ln.code,
                   ln.omschrijving, ln.volume, int(ln.eenheid), float(ln.tarief), float(ln.bedrag)])
        r = ws.max_row
        ws[f"K{r}"].number_format = "0.00"
        ws[f"L{r}"].number_format = "0.00"
        ln.extra["row"] = r
    widths(ws, {"A": 15, "B": 3, "C": 11, "D": 11, "E": 12, "F": 3, "G": 12, "H": 44, "I": 8,
                "J": 8, "K": 9, "L": 11})
    save_deterministic(wb, path)


def toml_contract(c: dict) -> str:
    out = [
        "# Sample contract for jzcli (fictional providers). Generated by data/samples/make_samples.py.",
        "[contract]",
        f'naam = "{c["naam"]}"',
        "gemeenten = [" + ", ".join(f'"{g}"' for g in c["gemeenten"]) + "]",
        "aanbieders = [" + ", ".join(f'"{a}"' for a in c["aanbieders"]) + "]"
        "          # optional; absent = all providers",
    ]
    for p in c["producten"]:
        out += [
            "",
            "[[product]]",
            f'productcategorie = "{p.productcategorie}"',
            f'productcode = "{p.productcode}"',
            f'omschrijving = "{p.omschrijving}"',
            f'eenheid = "{p.eenheid}"',
            f"tarief = {p.tarief:.2f}",
            f'uitvoeringsvariant = "{p.uitvoeringsvariant}"',
            f"geldig_van = {p.geldig_van.isoformat()}",
            f"geldig_tot = {p.geldig_tot.isoformat()}",
        ]
    return "\n".join(out) + "\n"


def write_tarieven_xlsx(path: Path, c: dict) -> None:
    wb = new_workbook()
    ws = wb.create_sheet("Contract")
    for k, v in (("naam", c["naam"]), ("gemeenten", ", ".join(c["gemeenten"])),
                 ("aanbieders", ", ".join(c["aanbieders"]))):
        ws.append([k, v])
        ws.cell(row=ws.max_row, column=2).number_format = "@"
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    widths(ws, {"A": 14, "B": 32})
    ws = wb.create_sheet("Producten")
    hdr = ["productcategorie", "productcode", "omschrijving", "eenheid", "tarief", "uitvoeringsvariant",
           "geldig_van", "geldig_tot"]
    ws.append(hdr)
    style_header(ws, 1, len(hdr))
    for p in c["producten"]:
        ws.append([p.productcategorie, p.productcode, p.omschrijving, p.eenheid, float(p.tarief),
                   p.uitvoeringsvariant, p.geldig_van, p.geldig_tot])
        r = ws.max_row
        for col in "ABD":
            ws[f"{col}{r}"].number_format = "@"
        ws[f"E{r}"].number_format = EURO_FMT
        ws[f"G{r}"].number_format = "yyyy-mm-dd"
        ws[f"H{r}"].number_format = "yyyy-mm-dd"
    widths(ws, {"A": 16, "B": 12, "C": 46, "D": 9, "E": 11, "F": 20, "G": 12, "H": 12})
    save_deterministic(wb, path)


def write_toewijzingen_xlsx(path: Path) -> None:
    wb = new_workbook()
    ws = wb.create_sheet("Toewijzingen")
    hdr = ["toewijzingnummer", "bsn", "aanbieder", "gemeente", "productcategorie", "productcode",
           "ingangsdatum", "einddatum", "volume", "eenheid", "frequentie", "budget", "reden_wijziging",
           "toewijzingsdatum"]
    ws.append(hdr)
    style_header(ws, 1, len(hdr))
    for a in sorted(VERSIONS, key=lambda a: (a.gemeente, a.nr, a.toewijzingsdatum)):
        ws.append([a.nr, a.bsn, a.aanbieder, a.gemeente, a.cat, a.code or None, a.ingang, a.eind,
                   a.volume, a.eenheid or None, a.freq or None,
                   float(a.budget) if a.budget is not None else None, a.reden or None,
                   a.toewijzingsdatum])
        r = ws.max_row
        for col in "BCDEFJKM":
            ws[f"{col}{r}"].number_format = "@"
        for col in "GHN":
            ws[f"{col}{r}"].number_format = "yyyy-mm-dd"
        ws[f"L{r}"].number_format = EURO_FMT
    ws.freeze_panes = "A2"
    widths(ws, {c: 13 for c in "ABCDEFGHIJKLMN"} | {"A": 17, "E": 17, "M": 16, "N": 16})
    save_deterministic(wb, path)


def main() -> None:
    write_ijw_xlsx(OUT / "huizen_zorgfirst_2025-03.xlsx", "ZF202503", F1_LINES, "Declaratie")
    write_ijw_xlsx(OUT / "huizen_zorgfirst_2025-04.xlsx", "ZF202504", F5_LINES, "Declaratie")
    write_blaricum_csv(OUT / "blaricum_jeugdzorg-de-horizon_2025-03.csv", F2_LINES)
    write_kindcentrum_xlsx(OUT / "laren-huizen_kindcentrum-t-gooi_2025-02.xlsx",
                           [("Laren", "Laren", F3_LAREN), ("Huizen", "Huizen", F3_HUIZEN)])
    write_enschede_xlsx(OUT / "enschede_twentezorg_2025.xlsx", F4_LINES)
    (OUT / "contract_gooi-en-vechtstreek_2025.toml").write_text(toml_contract(GOOI), encoding="utf-8")
    write_tarieven_xlsx(OUT / "tarieven_twente_2025.xlsx", TWENTE)
    write_toewijzingen_xlsx(OUT / "toewijzingen_2025.xlsx")

    files = [
        ("huizen_zorgfirst_2025-03.xlsx", "Declaratie", F1_LINES),
        ("huizen_zorgfirst_2025-04.xlsx", "Declaratie", F5_LINES),
        ("blaricum_jeugdzorg-de-horizon_2025-03.csv", "", F2_LINES),
        ("laren-huizen_kindcentrum-t-gooi_2025-02.xlsx", "Laren", F3_LAREN),
        ("laren-huizen_kindcentrum-t-gooi_2025-02.xlsx", "Huizen", F3_HUIZEN),
        ("enschede_twentezorg_2025.xlsx", "Declaratie Q1 2025", F4_LINES),
    ]
    for name, sheet, lines in files:
        print(f"{name:46} {sheet:20} {len(lines):3} lines")
    print("planted mistakes:")
    for name, sheet, lines in files:
        for ln in lines:
            if ln.planted:
                print(f"  {ln.planted:6} {name} {sheet or '-'} row {ln.extra['row']}")


if __name__ == "__main__":
    main()
