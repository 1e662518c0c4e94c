"""Allocations (toewijzingen, iJw JW301 ToegewezenProduct) from a spreadsheet export.

Columns (header synonyms as for declarations): toewijzingnummer, bsn, aanbieder, gemeente,
productcategorie, productcode, ingangsdatum, einddatum, volume, eenheid, frequentie, budget,
reden_wijziging, toewijzingsdatum (and optionally toewijzingstijd).

Every row is stored as one *version* of its allocation, with provenance (file, sheet, row); which
version is current is decided when reading (``jzcli.store.agreements.toewijzingen_actueel``: the latest
toewijzingsdatum, IV013). Allocations are the municipality's own data and decide which
declarations are approved, so a file with any value that cannot be read (or an allocation that
contradicts itself: einddatum before ingangsdatum, a volume without eenheid or frequentie, a BSN
failing the 11-proef) is refused as a whole with every problem named by sheet/row/column/value;
a half-understood allocation is never stored.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jzcli import refdata
from jzcli.domain.agreements import TOEWIJZING_FIELDS
from jzcli.errors import FileReadError
from jzcli.readers import values as V
from jzcli.readers.headers import DECLARATIE_SYNONYMS, SynonymTable, match_field
from jzcli.readers.prepared import FileResult, ImportOptions, Prepared
from jzcli.readers.spreadsheet import RawSheet, read_sheets
from jzcli.readers.tables import (
    Problems,
    find_table,
    map_unique,
    most_text_row,
    raw_text,
    sheet_heads,
    table_body,
)
from jzcli.store.schema import toewijzingen
from jzcli.store.store import Store

REQUIRED_COLUMNS = ["toewijzingnummer", "bsn", "ingangsdatum"]  # aanbieder/gemeente: column or option
# Fields only allocations have: a header needs two of them to be detected as allocations.
ALLOCATION_ONLY = {"frequentie", "toewijzingsdatum", "reden_wijziging", "budget"}

TOEWIJZING_SYNONYMS: dict[str, list[str]] = {
    # The fields that mean the same on an allocation as on a declaration line are recognised by the
    # same spellings (not aanbieder: "afzender" of an allocation export is the gemeente).
    "toewijzingnummer": DECLARATIE_SYNONYMS["toewijzingnummer"],
    "bsn": DECLARATIE_SYNONYMS["bsn"],
    "aanbieder": [
        "aanbieder",
        "zorgaanbieder",
        "agb",
        "agbcode",
        "agbcodeaanbieder",
        "agbaanbieder",
        "aanbiedercode",
        "codeaanbieder",
        "agbcodezorgaanbieder",
        "zorgaanbiedercode",
        "agbnummer",
    ],
    "gemeente": [
        "gemeente",
        "gemeentecode",
        "cbscode",
        "gemeentenaam",
        "verantwoordelijkegemeente",
        "gemeentecbs",
        "cbsgemeentecode",
        "woongemeente",
        "codegemeente",
        "afzender",
    ],
    "productcategorie": DECLARATIE_SYNONYMS["productcategorie"],
    "productcode": DECLARATIE_SYNONYMS["productcode"],
    "ingangsdatum": [
        "ingangsdatum",
        "startdatum",
        "begindatum",
        "datumingang",
        "ingang",
        "vanaf",
        "van",
        "geldigvan",
        "ingangsdatumtoewijzing",
    ],
    "einddatum": [
        "einddatum",
        "stopdatum",
        "datumeinde",
        "einde",
        "tot",
        "totenmet",
        "tm",
        "geldigtot",
        "einddatumtoewijzing",
    ],
    "volume": ["volume", "omvang", "omvangvolume", "aantal", "hoeveelheid", "toegewezenvolume"],
    "eenheid": ["eenheid", "omvangeenheid", "eenheidcode", "volumeeenheid"],
    "frequentie": ["frequentie", "omvangfrequentie", "freq", "frequentiecode"],
    "budget": ["budget", "budgetbedrag", "budgeteuro", "toegewezenbudget"],
    "reden_wijziging": [
        "redenwijziging",
        "redenwijzigingtoewijzing",
        "wijzigingsreden",
        "reden",
        "redenwijzigingcode",
    ],
    "toewijzingsdatum": [
        "toewijzingsdatum",
        "toewijzingdatum",
        "datumtoewijzing",
        "beschikkingsdatum",
        "datumbeschikking",
    ],
    "toewijzingstijd": ["toewijzingstijd", "toewijzingtijd", "tijdtoewijzing"],
}
_WORD_RULES: list[tuple[str, str]] = [
    (r"toewijzingsdatum|toewijzingdatum|datumtoewijzing|beschikkingsdatum", "toewijzingsdatum"),
    (r"toewijzingstijd|toewijzingtijd|tijdtoewijzing", "toewijzingstijd"),
    (r"reden", "reden_wijziging"),
    (r"burgerservice|^bsn|bsn$", "bsn"),
    (r"toewijzing|beschikking", "toewijzingnummer"),
    (r"agb|aanbieder", "aanbieder"),
    (r"gemeente", "gemeente"),
    (r"categorie", "productcategorie"),
    (r"productcode|prestatiecode", "productcode"),
    (r"frequentie", "frequentie"),
    (r"budget", "budget"),
    (r"ingang|startdatum|begindatum|^van", "ingangsdatum"),
    (r"einddatum|stopdatum|^tot|^eind", "einddatum"),
    (r"eenheid", "eenheid"),
    (r"omvang|volume|aantal", "volume"),
]
TOEWIJZING_TABLE = SynonymTable(
    TOEWIJZING_SYNONYMS,
    _WORD_RULES,
    frozenset(
        {
            "toewijzingnummer",
            "bsn",
            "ingangsdatum",
            "einddatum",
            "productcode",
            "productcategorie",
            "toewijzingsdatum",
            "frequentie",
        }
    ),
    min_matches=3,
    min_anchors=2,
)

_FREQUENTIE_NAMES = {
    "1": ["perdag", "dag", "dagelijks", "daily", "perday"],
    "2": ["perweek", "week", "wekelijks", "weekly"],
    "4": ["permaand", "maand", "maandelijks", "monthly"],
    "6": ["totaal", "totaalbinnengeldigheidsduur", "totaalbinnengeldigheidsduurtoewijzing", "pertoewijzing", "total"],
}
_FREQUENTIE_BY_NAME = {n: code for code, names in _FREQUENTIE_NAMES.items() for n in names}
_FREQUENTIE_BY_NAME.update({V.normalise_text(v): k for k, v in refdata.codelijst("frequentie").items()})
_CODE_NAME = re.compile(r"(\d{1,2})(?:\.0+)?\s*(?:[-:\u2013]\s*)?(.*)")
_TIME_TEXT = re.compile(r"(?:^|[ t])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?$", re.IGNORECASE)


def _code_or_name(x: object, codes: dict[str, str], by_name: dict[str, str], width: int, what: str) -> str:
    if isinstance(x, float) and not (math.isfinite(x) and x.is_integer()):
        raise ValueError(f"unknown {what} {raw_text(x)!r}")
    text = raw_text(x).strip()
    m = _CODE_NAME.fullmatch(text)
    code = m.group(1).lstrip("0").zfill(width) if m else None
    name = m.group(2) if m else text
    named = by_name.get(V.normalise_text(name)) if name else None
    valid = ", ".join(f"{c} {v}" for c, v in codes.items())
    if name and named is None:
        raise ValueError(f"unknown {what} {text!r} (valid: {valid})")
    return V.agreeing_code(code, named, text, codes, what, valid)


def _frequentie(x: object) -> str:
    return _code_or_name(x, refdata.codelijst("frequentie"), _FREQUENTIE_BY_NAME, 1, "frequentie")


_REDENEN = refdata.codelijst("reden_wijziging_toewijzing")
_REDEN_BY_NAME = {V.normalise_text(v): k for k, v in _REDENEN.items()}
_REDEN_BY_NAME["verwijderd"] = "13"


def _reden(x: object) -> str:
    return _code_or_name(x, _REDENEN, _REDEN_BY_NAME, 2, "reden_wijziging")


def _seconds_of_day(x: object) -> int | None:
    """Time of day in a date(time) cell: datetimes, "yyyy-mm-dd hh:mm[:ss]" text, Excel serials."""
    if isinstance(x, dt.datetime):
        return x.hour * 3600 + x.minute * 60 + x.second
    if isinstance(x, np.datetime64):
        return _seconds_of_day(pd.Timestamp(x).to_pydatetime())
    if isinstance(x, str):
        m = _TIME_TEXT.search(x.strip())
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0) if m else 0
    if isinstance(x, float) and math.isfinite(x) and 1 <= x < 80000:  # Excel serial with a fraction
        return round((x - math.floor(x)) * 86400) % 86400
    return 0


def _time_cell(x: object) -> int | None:
    """A separate toewijzingstijd cell: time, "14:30[:00]", or a fraction of a day."""
    if isinstance(x, dt.time):
        return x.hour * 3600 + x.minute * 60 + x.second
    if isinstance(x, dt.datetime):
        return _seconds_of_day(x)
    if isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x < 1:
        return round(x * 86400) % 86400
    text = raw_text(x).strip()
    m = re.fullmatch(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?", text)
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60 and int(m.group(3) or 0) < 60:
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)
    raise ValueError("not a time of day (hh:mm or hh:mm:ss)")


def parse_datetime(s: pd.Series) -> V.Parsed:
    """Date or date-with-time cells → datetime64 (the time of day is kept, unlike ``parse_date``)."""
    dates = V.parse_date(s)
    seconds = map_unique(s, _seconds_of_day).values.fillna(0).astype("int64")
    values = dates.values + pd.to_timedelta(seconds.where(dates.values.notna(), 0), unit="s")
    return V.Parsed(values, dates.errors)


@dataclass
class SheetAllocations:
    sheet: str | None
    header_row: int
    columns: dict[str, str]
    rows: pd.DataFrame  # TOEWIJZING_FIELDS + bron, blad, rij
    rows_read: int
    skipped: list[dict] = field(default_factory=list)


def _label(sheet: RawSheet) -> str:
    return f"sheet '{sheet.name}' " if sheet.name is not None else ""


def read_sheet(path: Path, sheet: RawSheet, header, opts: ImportOptions, problems: Problems) -> SheetAllocations:
    """One sheet under its allocation header → one allocation version per row.

    The steps: the required columns must be there (aanbieder and gemeente may come from the
    options); the body's rows are read (blank rows, notes set aside); who (toewijzingnummer, BSN,
    aanbieder, gemeente), what (product, period, omvang, budget, reden) and when (toewijzingsdatum
    and -tijd) are parsed; then allocations that contradict themselves are problems.
    """
    names = {f: header.names[i] for f, i in header.columns.items()}
    label = _label(sheet)
    header_row = int(sheet.cells.index[header.row_index])
    _require_columns(path, label, header_row, header, opts)
    body = table_body(sheet, header, ["toewijzingnummer", "bsn"])
    cells = _Cells(body.raw, names, label, problems)
    out = pd.DataFrame(index=body.raw.index)
    _parse_who(cells, out, opts)
    _parse_what(cells, out)
    out["toewijzingsdatum"] = _parse_when(cells)
    _check_allocations(cells, out)
    out.insert(0, "rij", out.index.astype(int))
    out.insert(0, "blad", sheet.name)
    out.insert(0, "bron", path.name)
    out = out.reset_index(drop=True)
    return SheetAllocations(sheet.name, header_row, names, out, body.rows_read, body.skipped)


def _require_columns(path: Path, label: str, header_row: int, header, opts: ImportOptions) -> None:
    """Refuse a sheet without toewijzingnummer, BSN or ingangsdatum, or without aanbieder or
    gemeente column when the option does not give it."""
    columns = header.columns
    missing = [f for f in REQUIRED_COLUMNS if f not in columns]
    missing += [
        f"{f} (or give {opt})"
        for f, opt in (("aanbieder", "--aanbieder"), ("gemeente", "--gemeente"))
        if f not in columns and not getattr(opts, f)
    ]
    if missing:
        raise FileReadError(
            f"{path.name}: {label}row {header_row}: required columns not found: {', '.join(missing)}. "
            f"Headers found: {', '.join(repr(n) for n in header.names if n)}"
        )


class _Cells:
    """The raw cells of a sheet's allocation rows, and the problems found in them (by row)."""

    def __init__(self, raw: pd.DataFrame, names: dict[str, str], label: str, problems: Problems):
        self.raw, self.names, self.problems = raw, names, problems
        self.index = raw.index
        self.where = pd.Series([f"{label}row {r}".strip() for r in raw.index], index=raw.index, dtype=object)

    def col(self, f: str) -> pd.Series:
        return self.raw[f] if f in self.raw else pd.Series(None, index=self.index, dtype=object)

    def parse(self, f: str, parsed: V.Parsed, *, bsn: bool = False) -> pd.Series:
        """The parsed values of field ``f``; its errors are problems."""
        return self.problems.add_parsed(parsed, self.col(f), self.where, self.names.get(f, f), bsn=bsn)

    def flag(self, mask: pd.Series, reason, f: str | None = None, *, value: bool = True, bsn: bool = False) -> None:
        """A problem for each row in ``mask``, on field ``f``'s column (with its cell value)."""
        raw = self.col(f) if f is not None and value else None
        self.problems.add_mask(mask, self.where, reason, self.names.get(f) if f else None, raw, bsn=bsn)


def _parse_who(c: _Cells, out: pd.DataFrame, opts: ImportOptions) -> None:
    """toewijzingnummer, BSN (11-proef), aanbieder and gemeente (a CBS code; column or option)."""
    out["toewijzingnummer"] = c.parse("toewijzingnummer", V.parse_text(c.col("toewijzingnummer"), max_len=20))
    bsn = c.parse("bsn", V.parse_bsn(c.col("bsn")), bsn=True)
    c.flag(bsn.notna() & ~V.elfproef(bsn), "BSN fails the 11-proef", "bsn", bsn=True)
    out["bsn"] = bsn
    for f, option in (("aanbieder", opts.aanbieder), ("gemeente", opts.gemeente)):
        if f in c.raw:
            parser = V.parse_agb if f == "aanbieder" else V.parse_gemeente
            out[f] = c.parse(f, parser(c.col(f)))
        else:
            out[f] = pd.Series(option, index=c.index, dtype="string")
    unknown = out["gemeente"].notna() & out["gemeente"].map(
        lambda code: refdata.gemeente_naam(code) is None if isinstance(code, str) else False
    )
    c.flag(unknown, "not a CBS gemeente code", "gemeente")


def _parse_what(c: _Cells, out: pd.DataFrame) -> None:
    """Product (categorie in JZ020, code), period, omvang (volume, eenheid, frequentie), budget, reden."""
    out["productcategorie"] = c.parse("productcategorie", V.parse_code(c.col("productcategorie"), 2))
    known = list(refdata.codelijst("productcategorie"))
    c.flag(
        out["productcategorie"].notna() & ~out["productcategorie"].isin(known),
        "unknown productcategorie (not in the iJw list JZ020)",
        "productcategorie",
    )
    out["productcode"] = c.parse("productcode", V.parse_text(c.col("productcode"), max_len=20))
    out["ingangsdatum"] = c.parse("ingangsdatum", V.parse_date(c.col("ingangsdatum")))
    out["einddatum"] = c.parse("einddatum", V.parse_date(c.col("einddatum")))
    volume = c.parse("volume", V.parse_whole(c.col("volume"))).astype("Int64")
    c.flag(volume < 0, "volume cannot be negative", "volume")
    out["volume"] = volume
    out["eenheid"] = c.parse("eenheid", V.parse_eenheid(c.col("eenheid")))
    out["frequentie"] = c.parse("frequentie", map_unique(c.col("frequentie"), _frequentie)).astype("string")
    budget = c.parse("budget", V.parse_money(c.col("budget"))).astype("Int64")
    c.flag(budget < 0, "budget cannot be negative", "budget")
    out["budget"] = budget
    out["reden_wijziging"] = c.parse("reden_wijziging", map_unique(c.col("reden_wijziging"), _reden)).astype("string")


def _parse_when(c: _Cells) -> pd.Series:
    """toewijzingsdatum, with the time of day from its own column (toewijzingstijd) when there is one."""
    when = c.parse("toewijzingsdatum", parse_datetime(c.col("toewijzingsdatum")))
    if "toewijzingstijd" in c.raw:
        seconds = c.parse("toewijzingstijd", map_unique(c.col("toewijzingstijd"), _time_cell))
        extra = pd.to_timedelta(pd.to_numeric(seconds, errors="coerce").fillna(0), unit="s")
        when = when.dt.normalize() + extra.where(seconds.notna(), pd.to_timedelta(when - when.dt.normalize()))
    return when


def _check_allocations(c: _Cells, out: pd.DataFrame) -> None:
    """Required values, and allocations that contradict themselves: einddatum before
    ingangsdatum, an incomplete omvang, a productcode without productcategorie."""
    for f in ("toewijzingnummer", "bsn", "aanbieder", "gemeente", "ingangsdatum"):
        if f in c.raw:
            c.flag(_blank(c.col(f)), f"{f} is missing", f, value=False)
    backwards = out["einddatum"].notna() & out["ingangsdatum"].notna() & (out["einddatum"] < out["ingangsdatum"])
    c.flag(
        backwards,
        lambda r: (
            f"einddatum {out.at[r, 'einddatum']:%Y-%m-%d} is before ingangsdatum {out.at[r, 'ingangsdatum']:%Y-%m-%d}"
        ),
        "einddatum",
        value=False,
    )
    omvang = out[["volume", "eenheid", "frequentie"]].notna()
    partial = omvang.any(axis=1) & ~omvang.all(axis=1)
    c.flag(
        partial,
        lambda r: (
            "incomplete omvang: volume, eenheid and frequentie go together (missing: "
            + ", ".join(f for f in ("volume", "eenheid", "frequentie") if not omvang.at[r, f])
            + ")"
        ),
    )
    code_only = out["productcode"].notna() & out["productcategorie"].isna()
    c.flag(code_only, "productcode without productcategorie", "productcategorie", value=False)


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | s.map(lambda v: isinstance(v, str) and not v.strip())


def read_toewijzingen(
    path: Path, sheets: list[RawSheet], opts: ImportOptions
) -> tuple[list[SheetAllocations], list[dict]]:
    problems = Problems(path)
    results: list[SheetAllocations] = []
    skipped_sheets: list[dict] = []
    diagnosis: tuple[str | None, list[str]] = (None, [])
    for sheet in sheets:
        header = find_table(sheet, TOEWIJZING_TABLE)
        if header is None or "toewijzingnummer" not in header.columns:
            skipped_sheets.append(
                {"blad": sheet.name, "reden": "empty sheet" if sheet.cells.empty else "no allocation header found"}
            )
            if not sheet.cells.empty:
                best = most_text_row(sheet)
                if len(best) > len(diagnosis[1]):
                    diagnosis = (sheet.name, best)
            continue
        problems.part = len(results) + 1
        results.append(read_sheet(path, sheet, header, opts, problems))
    if not results:
        where = f", sheet '{diagnosis[0]}'" if diagnosis[0] else ""
        headers = ", ".join(repr(h) for h in diagnosis[1][:20]) or "none"
        raise FileReadError(
            f"{path.name}{where}: no allocation header found (looked for columns such as Toewijzingnummer, "
            f"BSN, Aanbieder, Gemeente, Productcode, Ingangsdatum, Einddatum, Volume, Eenheid, Frequentie, "
            f"Toewijzingsdatum). Headers found: {headers}"
        )
    if not problems and sum(len(r.rows) for r in results) == 0:
        where = ", ".join(f"{_label_name(r.sheet)}row {r.header_row}" for r in results)
        raise FileReadError(f"{path.name}: no allocations under the header ({where})")
    problems.raise_if_any("allocation file")
    return results, skipped_sheets


def _label_name(name: str | None) -> str:
    return f"sheet '{name}' " if name is not None else ""


def prepare_toewijzingen(path: Path, opts: ImportOptions, store: Store) -> Prepared:
    results, skipped_sheets = read_toewijzingen(path, read_sheets(path), opts)
    rows = pd.concat([r.rows for r in results], ignore_index=True)
    skipped = [s for r in results for s in r.skipped]
    reasons: dict[str, int] = {}
    for s in skipped:
        reasons[s["reden"]] = reasons.get(s["reden"], 0) + 1
    numbers = rows[["gemeente", "toewijzingnummer"]].drop_duplicates()
    result = FileResult(
        path=path,
        status="imported",
        soort="toewijzingen",
        sheets=[r.sheet or "" for r in results],
        rows=sum(r.rows_read for r in results),
        stored=len(rows),
        skipped=len(skipped),
        skipped_reasons=reasons,
        message=f"{len(rows)} allocation versions of {len(numbers)} allocations",
    )
    details = {
        "sheets": [
            {
                "blad": r.sheet,
                "kopregel": r.header_row,
                "kolommen": r.columns,
                "rijen": r.rows_read,
                "toewijzingen": len(r.rows),
            }
            for r in results
        ],
        "overgeslagen_bladen": skipped_sheets,
        "overgeslagen_rijen": skipped,
    }

    def write(store: Store, conn, batch_id: int) -> None:
        insert_versions(store, conn, batch_id, rows)

    return Prepared("toewijzingen", result, write, details, versions=rows)


def insert_versions(store: Store, conn, batch_id: int, rows: pd.DataFrame) -> None:
    """Store allocation versions (bron, blad, rij, TOEWIJZING_FIELDS) in ``toewijzingen``."""
    frame = rows.copy()
    when = frame["toewijzingsdatum"]
    # DateTime column: keep the time of day (insert_frame writes datetime64 as a date only).
    frame["toewijzingsdatum"] = when.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object).where(when.notna(), None)
    frame.insert(0, "batch", batch_id)
    store.insert_frame(conn, toewijzingen, frame[["batch", "bron", "blad", "rij", *TOEWIJZING_FIELDS]])


def is_toewijzingen(path: Path) -> bool:
    """A spreadsheet whose header has toewijzingnummer, ingangsdatum and at least two
    allocation-only fields (frequentie, toewijzingsdatum, reden_wijziging, budget), and no
    declaration amounts (bedrag, tarief)."""
    if path.suffix.lower() == ".toml":
        return False
    for sheet in sheet_heads(path):
        header = find_table(sheet, TOEWIJZING_TABLE)
        if header is None:
            continue
        found = set(header.columns)
        if not {"toewijzingnummer", "ingangsdatum"} <= found or len(found & ALLOCATION_ONLY) < 2:
            continue
        # Columns the allocation vocabulary does not know, read as declaration columns.
        declaration = {match_field(n) for n in header.unmapped}
        if not declaration & {"bedrag", "tarief"}:
            return True
    return False
