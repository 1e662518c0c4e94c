"""What youth care costs: aggregations over the store (SQL GROUP BY) → small DataFrames.

Everything is summed in the database; Python only sees one row per group. Money stays integer
eurocents in every frame (columns ``ingediend``, ``goedgekeurd``, ``afgekeurd``, ``onbeoordeeld``,
``budget``, ...); conversion to euros happens only on output (``rows_for_output``).

Definitions (also in the README):

* A line belongs to the gemeente in the line (iJw IV046), to the aanbieder (AGB code) and to the
  month of its ProductPeriode (``begindatum``). ``--van``/``--tot`` select on that month.
* Amounts are net: debet minus credit (a credit line counts ``-bedrag``), also for volume.
  ``goedgekeurd``/``afgekeurd`` follow the line's verdict in ``beoordelingen``; a line without a
  verdict is ``onbeoordeeld``. ``ingediend`` = all three together. ``aandeel_pct`` is the row's
  share of the report's total ``ingediend``.
* ``clienten`` counts distinct BSNs (only ever shown as a count).
* A retired gemeente code (merged, renamed or split, see ``gemeenten-historie.csv``) is reported
  under that old code with its historic name and a note naming its successor; asking for the
  successor (``--gemeente "Gooise Meren"``) also shows the old codes as their own rows. Money is
  never moved between codes.
* Budget projection: ``gerealiseerd`` = goedgekeurd + onbeoordeeld (everything not rejected);
  ``prognose`` = gerealiseerd ÷ m × 12, where m is the number of the last month of that year with
  any declared line for that gemeente (January = 1), rounded half-up to the cent.
* First-time-right: among judged debet lines, a line is a resubmission when a judged debet line
  with the same aanbieder, bsn, productcode and ProductPeriode month exists in an earlier batch;
  ``first_time_right_pct`` = approved first submissions ÷ judged first submissions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from jzcli import refdata
from jzcli.domain.report import MONEY_COLUMNS, Report, Selection, month_before
from jzcli.domain.text import euro, euro_decimal
from jzcli.errors import FileReadError, StoreError, UsageError
from jzcli.refdata import predecessors
from jzcli.store.schema import afgeleide_categorieen, beoordelingen, bevindingen, declaratieregels
from jzcli.store.store import Store

DIMENSIONS = ("aanbieder", "productcategorie", "productcode", "maand", "kwartaal", "jaar")
TIME_DIMENSIONS = ("maand", "kwartaal", "jaar")
VIEWS = ("kosten", "maand", "afkeur", "budget", "lasten")
# The tables each view produces (kosten without --by also gives "aanbieder" and
# "productcategorie"; the lasten view has three).
VIEW_TABLES = {
    "kosten": ("kosten",),
    "maand": ("maand",),
    "afkeur": ("lasten_regel",),
    "budget": ("budget",),
    "lasten": ("lasten_aanbieder", "lasten_regel", "lasten_maand"),
}
DEFAULT_VIEWS = ("kosten", "maand", "afkeur")
VIEW_CHOICES = (*VIEWS, "alles")  # what --view takes: a view, or all of them
TABLES = (
    "kosten",
    "aanbieder",
    "productcategorie",
    "maand",
    "budget",
    "lasten_aanbieder",
    "lasten_regel",
    "lasten_maand",
)

METRICS = ["regels", "clienten", "volume", "ingediend", "goedgekeurd", "afgekeurd", "onbeoordeeld"]
# volume is a net sum of GeleverdVolume only where every line of the row has one eenheid; where
# the row's lines have several (products in hours and in etmalen, one product in minutes and in
# hours), a sum would mix units: volume is then missing (NA) and ``eenheid`` says "(mixed)".
COUNT_METRICS = [m for m in METRICS if m != "volume"]
UNIT_BOUNDS = ["_eenheid_min", "_eenheid_max"]  # min/max eenheid per group ('?' = none): they roll up
MIXED_UNITS = "(mixed)"
GOEDGEKEURD = "goedgekeurd"
AFGEKEURD = "afgekeurd"

r = declaratieregels
b = beoordelingen
ac = afgeleide_categorieen

# For the first-time-right probe (one lookup per judged line), created by ensure_indexes the first
# time a report needs it. Plain DDL, not an sa.Index on the shared table: that would join the
# schema only in processes that happened to import this module (a store made by `jzcli import`
# never had it, a store made after a report in the same process did).
RESUBMISSION_INDEX_NAME = "ix_declaratieregels_indiening"
RESUBMISSION_INDEX_DDL = (
    f"CREATE INDEX IF NOT EXISTS {RESUBMISSION_INDEX_NAME} ON declaratieregels (bsn, productcode, aanbieder)"
)

# SQLite only: every column the cost views read, in the order they group by, so a report reads
# the index alone (no row of the wide line table) and GROUP BY [gemeente,] month[, aanbieder]
# needs no sort: the month is the indexed expression month_text() gives, textually the same.
# 5 M lines: the three cost queries for one gemeente 3.5 s -> 0.4 s; the index is ~90 bytes a line.
# Not part of the shared schema (PostgreSQL has no immutable month-of-date text to index, and
# hash-aggregates instead); created the first time a report runs on a store, then kept up to date
# by SQLite on every import.
# eenheid is in it since volume is only summed within one eenheid (with_units); a store with the
# older index (without eenheid) gets the new one the first time and the old one is dropped.
REPORT_INDEX_NAME = "ix_declaratieregels_rapport_2"
REPORT_INDEX_OLD = "ix_declaratieregels_rapport"
REPORT_INDEX_SQLITE = (
    f"CREATE INDEX IF NOT EXISTS {REPORT_INDEX_NAME} ON declaratieregels "
    "(gemeente, substr(begindatum, 1, 7), aanbieder, bsn, debet_credit, bedrag, volume, begindatum, eenheid)"
)


# ------------------------------------------------------------------------------ selection
def parse_month(value: str, option: str, *, end: bool = False) -> dt.date:
    """ "2025-03" (or "2025-3", "2025") → the first day of that month; with ``end`` the first day
    of the month after it (for an exclusive upper bound; "2025" then means up to December)."""
    m = re.fullmatch(r"\s*(\d{4})(?:[-/](\d{1,2}))?\s*", str(value))
    if not m or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
        raise UsageError(f"{option} {value}: give a month as YYYY-MM (e.g. 2025-03) or a year (2025)")
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else (12 if end else 1)
    first = dt.date(year, month, 1)
    return _next_month(first) if end else first


def make_selection(
    gemeenten: Sequence[str] = (), aanbieders: Sequence[str] = (), van: str | None = None, tot: str | None = None
) -> Selection:
    """A Selection from already-resolved gemeente codes, AGB codes and month texts."""
    from jzcli.readers.values import parse_agb

    agbs: list[str] = []
    if aanbieders:
        parsed = parse_agb(list(aanbieders))
        for raw, value, error in zip(aanbieders, parsed.values, parsed.errors):
            if error is not None or value is pd.NA:
                raise UsageError(f"--aanbieder {raw}: not an AGB code ({error or 'empty'}); give 8 digits")
            if value not in agbs:
                agbs.append(value)
    start = parse_month(van, "--van") if van else None
    end = parse_month(tot, "--tot", end=True) if tot else None
    if start and end and start >= end:
        raise UsageError(f"--van {van} is after --tot {tot}")
    codes: list[str] = []
    for c in gemeenten:
        if c not in codes:
            codes.append(c)
    return Selection(tuple(codes), tuple(agbs), start, end)


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _where(sel: Selection, *, gemeente: bool = True) -> list:
    conditions = []
    if gemeente and sel.gemeenten:
        conditions.append(r.c.gemeente.in_(sel.codes()))
    if sel.aanbieders:
        conditions.append(r.c.aanbieder.in_(sel.aanbieders))
    if sel.van is not None:
        conditions.append(r.c.begindatum >= sel.van)
    if sel.tot is not None:
        conditions.append(r.c.begindatum < sel.tot)
    return conditions


# ------------------------------------------------------------------------------ gemeenten
def gemeente_naam(code: object) -> str | None:
    if code is None or code != code:
        return None
    return refdata.gemeente_naam(str(code))


@cache
def gemeente_opmerking(code: str | None) -> str | None:
    """None for a current gemeente; a note for a retired code ("merged into ...") or an unknown one."""
    if code is None:
        return "no gemeente in the line"
    if code in refdata.gemeenten():
        return None
    rows = refdata.history_rows(code)
    if not rows:
        return "not a CBS gemeente code"
    date = rows[0]["ingangsdatum"]
    if rows[0]["soort"] == "opsplitsing" or len(rows) > 1:
        parts = ", ".join(f"{_current_label(r_['nieuwe_code'])} {r_['aandeel_pct']}%" for r_ in rows)
        return f"split on {date} over {parts}; reported under the old code"
    verb = "renamed to" if rows[0]["soort"] == "naamswijziging" else "merged into"
    return f"{verb} {_current_label(rows[0]['nieuwe_code'])} on {date}; reported under the old code"


def _current_label(code: str) -> str:
    label = f"{refdata.gemeente_naam(code) or '?'} ({code})"
    onward = refdata.history_rows(code)
    if onward and code not in refdata.gemeenten():  # a chain: the successor was retired later too
        label += " → " + ", ".join(_current_label(row["nieuwe_code"]) for row in onward)
    return label


def _add_gemeente_labels(frame: pd.DataFrame) -> pd.DataFrame:
    pos = list(frame.columns).index("gemeente") + 1
    codes = [c if c is not None and c == c else None for c in frame["gemeente"]]
    frame.insert(pos, "gemeente_naam", pd.Series([gemeente_naam(c) for c in codes], index=frame.index, dtype=object))
    frame.insert(
        pos + 1,
        "gemeente_opmerking",
        pd.Series([gemeente_opmerking(c) for c in codes], index=frame.index, dtype=object),
    )
    return frame


# ------------------------------------------------------------------------------ SQL building blocks
def month_text(dialect: str, column=None):
    """'YYYY-MM' of a DATE column, the same text on SQLite (ISO text dates) and PostgreSQL.

    The only dialect-specific expression; quarter and year are derived from it in portable SQL.
    Constants are literal SQL (not bind parameters) so the expression in SELECT and GROUP BY is
    textually identical on PostgreSQL.
    """
    column = r.c.begindatum if column is None else column
    if dialect == "postgresql":
        return sa.func.to_char(column, sa.literal_column("'YYYY-MM'"), type_=sa.String)
    if dialect == "duckdb":
        return sa.func.strftime(column, sa.literal_column("'%Y-%m'"), type_=sa.String)
    return sa.func.substr(column, sa.literal_column("1"), sa.literal_column("7"), type_=sa.String)


def period_expr(dialect: str, unit: str, column=None):
    """Label of the ProductPeriode month, quarter ('2025-Q1') or year ('2025')."""
    month = month_text(dialect, column)
    if unit == "maand":
        return month
    year = sa.func.substr(month, sa.literal_column("1"), sa.literal_column("4"), type_=sa.String)
    if unit == "jaar":
        return year
    if unit == "kwartaal":
        mm = sa.func.substr(month, sa.literal_column("6"), sa.literal_column("2"), type_=sa.String)
        quarter = sa.case(
            (mm <= sa.literal_column("'03'"), sa.literal_column("'-Q1'")),
            (mm <= sa.literal_column("'06'"), sa.literal_column("'-Q2'")),
            (mm <= sa.literal_column("'09'"), sa.literal_column("'-Q3'")),
            else_=sa.literal_column("'-Q4'"),
        )
        return year.concat(quarter)
    raise ValueError(unit)


def _key_expr(dialect: str, key: str):
    if key in TIME_DIMENSIONS:
        return period_expr(dialect, key)
    if key == "productcategorie":
        # the file's category, else the one validate resolved (contract product, else allocation)
        return sa.func.coalesce(r.c.productcategorie, ac.c.productcategorie)
    return r.c[key]


def _lines(keys: Sequence[str], *, verdicts: bool = True):
    """The FROM clause: the lines, with their verdicts, and with the resolved categories when
    grouped by productcategorie (a primary-key probe per line, only then)."""
    source = r.outerjoin(b, b.c.regel_id == r.c.id) if verdicts else r
    if "productcategorie" in keys:
        source = source.outerjoin(ac, ac.c.regel_id == r.c.id)
    return source


def _signed(column, debet_credit=r.c.debet_credit):
    return sa.case((debet_credit == sa.literal_column("'C'"), -column), else_=column)


def _sum(expr):
    return sa.cast(sa.func.coalesce(sa.func.sum(expr), sa.literal_column("0")), sa.BigInteger)


def _metric_columns():
    signed = _signed(r.c.bedrag)
    status = b.c.status
    zero = sa.literal_column("0")
    return [
        sa.func.count().label("regels"),
        sa.func.count(sa.distinct(r.c.bsn)).label("clienten"),
        _sum(_signed(r.c.volume)).label("volume"),
        _sum(signed).label("ingediend"),
        _sum(sa.case((status == sa.literal_column("'goedgekeurd'"), signed), else_=zero)).label("goedgekeurd"),
        _sum(sa.case((status == sa.literal_column("'afgekeurd'"), signed), else_=zero)).label("afgekeurd"),
        _sum(sa.case((status.is_(None), signed), else_=zero)).label("onbeoordeeld"),
        sa.func.min(sa.func.coalesce(r.c.eenheid, sa.literal_column("'?'"))).label("_eenheid_min"),
        sa.func.max(sa.func.coalesce(r.c.eenheid, sa.literal_column("'?'"))).label("_eenheid_max"),
    ]


def _read(store: Store, query) -> pd.DataFrame:
    with store.engine.connect() as conn:
        return pd.read_sql(query, conn)


def aggregate(store: Store, sel: Selection, keys: Sequence[str]) -> pd.DataFrame:
    """One GROUP BY over the selected lines: ``keys`` (gemeente and/or DIMENSIONS) + METRICS."""
    key_cols = [_key_expr(store.dialect, k).label(k) for k in keys]
    query = sa.select(*key_cols, *_metric_columns()).select_from(_lines(keys)).where(*_where(sel))
    if key_cols:
        query = query.group_by(*[_key_expr(store.dialect, k) for k in keys])
    frame = _read(store, query)
    return _normalise(frame, keys, METRICS)


def with_units(frame: pd.DataFrame) -> pd.DataFrame:
    """``volume`` left out (NA) where a row's lines have more than one eenheid, and ``eenheid``:
    the row's one eenheid code, MIXED_UNITS, or None (no eenheid given / no lines)."""
    low, high = frame["_eenheid_min"], frame["_eenheid_max"]
    mixed = (low.notna() & (low != high)).to_numpy(dtype=bool)
    volume = pd.array(frame["volume"].to_numpy(dtype="int64"), dtype="Int64")
    volume[mixed] = pd.NA
    frame["volume"] = volume
    unit = low.astype(object).where(low.notna() & (low != "?"), None)
    frame["eenheid"] = unit.where(~mixed, MIXED_UNITS)
    return frame.drop(columns=UNIT_BOUNDS)


def count_clients(store: Store, sel: Selection, keys: Sequence[str]) -> pd.DataFrame:
    """``keys`` + ``clienten`` (distinct BSNs) over the selected lines: no join with the verdicts."""
    key_cols = [_key_expr(store.dialect, k).label(k) for k in keys]
    query = (
        sa.select(*key_cols, sa.func.count(sa.distinct(r.c.bsn)).label("clienten"))
        .select_from(_lines(keys, verdicts=False))
        .where(*_where(sel))
    )
    if key_cols:
        query = query.group_by(*[_key_expr(store.dialect, k) for k in keys])
    return _normalise(_read(store, query), keys, ["clienten"])


def roll_up(store: Store, sel: Selection, finer: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``aggregate(store, sel, keys)`` from an aggregate by more keys: counts and amounts are
    summed in pandas (exact integers), distinct clients counted again in SQL (they do not add
    up). The verdicts are joined once per report instead of once per view (each join probes
    beoordelingen once per selected line)."""
    keys = list(keys)
    sums = [m for m in METRICS if m != "clienten"]
    bounds = {"_eenheid_min": "min", "_eenheid_max": "max"}
    if keys:
        grouped = finer.groupby(keys, dropna=False, sort=True)
        frame = grouped[sums].sum().join(grouped.agg(**{c: (c, f) for c, f in bounds.items()})).reset_index()
    else:
        frame = pd.DataFrame(
            [
                {
                    **{m: int(finer[m].sum()) for m in sums},
                    **{
                        c: getattr(finer[c].dropna(), f)() if finer[c].notna().any() else None
                        for c, f in bounds.items()
                    },
                }
            ]
        )
    frame = _normalise(frame, keys, sums)
    clients = count_clients(store, sel, keys)
    found = {tuple(row[:-1]): row[-1] for row in clients[[*keys, "clienten"]].itertuples(index=False, name=None)}
    frame["clienten"] = (
        [int(found.get(k, 0)) for k in frame[keys].itertuples(index=False, name=None)]
        if keys
        else [int(clients["clienten"].iloc[0]) if len(clients) else 0]
    )
    return frame[[*keys, *METRICS, *UNIT_BOUNDS]]


class Aggregates:
    """The GROUP BY results of one report, each computed once (views share totals). A coarser
    grouping is rolled up from a finer one already computed (see roll_up)."""

    def __init__(self, store: Store, sel: Selection):
        self.store, self.sel = store, sel
        self._cache: dict[tuple[str, ...], pd.DataFrame] = {}

    def get(self, keys: Sequence[str]) -> pd.DataFrame:
        """The aggregate by ``keys`` with volume and eenheid per row (``with_units``)."""
        return with_units(self._raw(keys).copy())

    def _raw(self, keys: Sequence[str]) -> pd.DataFrame:
        key = tuple(keys)
        if key not in self._cache:
            codes = self.sel.codes()
            finer = [k for k in self._cache if set(key) < set(k)]
            if key and key[0] == "gemeente" and len(codes) == 1:
                # one gemeente code selected: grouping by it adds nothing; reuse the coarser result
                frame = self._raw(key[1:]).copy()
                if not key[1:]:
                    frame = frame[frame["regels"] > 0]
                frame.insert(0, "gemeente", pd.Series([codes[0]] * len(frame), index=frame.index, dtype=object))
                self._cache[key] = frame.reset_index(drop=True)
            elif finer:
                self._cache[key] = roll_up(self.store, self.sel, self._cache[min(finer, key=len)], key)
            else:
                self._cache[key] = aggregate(self.store, self.sel, key)
        return self._cache[key]


def _agg(store: Store, sel: Selection, agg: Aggregates | None) -> Aggregates:
    return agg if agg is not None and agg.sel == sel else Aggregates(store, sel)


def _normalise(frame: pd.DataFrame, keys: Sequence[str], ints: Sequence[str]) -> pd.DataFrame:
    """Identical dtypes on SQLite and PostgreSQL: keys object (None for missing), counts int64."""
    for k in keys:
        frame[k] = frame[k].astype(object).where(frame[k].notna(), None)
    for c in ints:
        if c == "volume" and isinstance(frame[c].dtype, pd.Int64Dtype):
            continue  # left out where the units differ (with_units): stays NA, never 0
        frame[c] = pd.to_numeric(frame[c]).fillna(0).astype("int64") if len(frame) else frame[c].astype("int64")
    for c in UNIT_BOUNDS:
        if c in frame.columns:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    return frame


def _share(values: pd.Series, total: int) -> pd.Series:
    if not total:
        return pd.Series([None] * len(values), index=values.index, dtype=object)
    t = Decimal(int(total))
    return values.map(lambda v: float((Decimal(int(v)) * 100 / t).quantize(Decimal("0.01"), ROUND_HALF_UP))).astype(
        object
    )


def _pct(num: pd.Series, den: pd.Series) -> pd.Series:
    out = []
    for n, d in zip(num.tolist(), den.tolist()):
        out.append(
            None if not d else float((Decimal(int(n)) * 100 / Decimal(int(d))).quantize(Decimal("0.01"), ROUND_HALF_UP))
        )
    return pd.Series(out, index=num.index, dtype=object)


def _sort_key_na_last(s: pd.Series) -> pd.Series:
    return s.map(lambda v: (1, "") if v is None or v != v else (0, str(v)))


# ------------------------------------------------------------------------------ views
def kosten(store: Store, sel: Selection, by: Sequence[str] = (), agg: Aggregates | None = None) -> pd.DataFrame:
    """Cost per gemeente (and per ``by`` level, one or two): detail rows, a subtotal per gemeente
    when there are several gemeenten and a ``by``, and a final totals row (``niveau``)."""
    agg = _agg(store, sel, agg)
    by = list(by)
    detail = agg.get(["gemeente", *by])
    total = agg.get([])
    grand = int(total["ingediend"].iloc[0]) if len(total) else 0

    # order: gemeente code, then per level: time ascending, others by amount (descending)
    sort_cols: list[str] = []
    detail["_g"] = _sort_key_na_last(detail["gemeente"])
    sort_cols.append("_g")
    for i, d in enumerate(by):
        if d not in TIME_DIMENSIONS:
            rank = f"_r{i}"
            detail[rank] = -detail.groupby(["_g", *by[: i + 1]], dropna=False)["ingediend"].transform("sum")
            sort_cols.append(rank)
        key = f"_k{i}"
        detail[key] = _sort_key_na_last(detail[d])
        sort_cols.append(key)
    detail = detail.sort_values(sort_cols, kind="stable")
    detail["niveau"] = "detail"

    parts = []
    several = detail["gemeente"].nunique(dropna=False) > 1
    if by and several:
        sub = agg.get(["gemeente"])
        sub["niveau"] = "gemeente"
        sub["_g"] = _sort_key_na_last(sub["gemeente"])
        for _, group in detail.groupby("_g", sort=True):
            parts.append(group)
            parts.append(sub[sub["_g"] == group["_g"].iloc[0]])
    else:
        parts.append(detail)
    total["niveau"] = "totaal"
    total["gemeente"] = None
    parts.append(total)
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else total
    columns = ["niveau", "gemeente", *by, *METRICS]
    if "productcode" in by:  # the product's eenheid next to its volume
        columns.insert(columns.index("volume") + 1, "eenheid")
    frame = frame.reindex(columns=columns)
    for d in ["gemeente", *by]:
        frame[d] = frame[d].astype(object).where(frame[d].notna(), None)
    frame = _add_gemeente_labels(frame)
    frame.loc[frame["niveau"] == "totaal", ["gemeente_naam", "gemeente_opmerking"]] = None
    if "productcategorie" in by:
        names = refdata.codelijst("productcategorie")
        pos = list(frame.columns).index("productcategorie") + 1
        labels = [names.get(c) if c else None for c in frame["productcategorie"]]
        frame.insert(pos, "productcategorie_omschrijving", pd.Series(labels, index=frame.index, dtype=object))
    for c in COUNT_METRICS:
        frame[c] = frame[c].astype("int64")
    frame["volume"] = pd.array(frame["volume"], dtype="Int64")
    frame["aandeel_pct"] = _share(frame["ingediend"], grand)
    return frame.reset_index(drop=True)


def _months_between(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def per_maand(store: Store, sel: Selection, agg: Aggregates | None = None) -> pd.DataFrame:
    """The month-by-month trend over the whole selection; months without lines inside the range
    appear with zeros; a totals row last."""
    agg = _agg(store, sel, agg)
    frame = agg.get(["maand"])
    known = sorted(m for m in frame["maand"] if m is not None)
    if known or (sel.van and sel.tot):
        first = min(known + ([sel.van.strftime("%Y-%m")] if sel.van else []))
        last = max(known + ([month_before(sel.tot).strftime("%Y-%m")] if sel.tot else []))
        months = pd.DataFrame({"maand": _months_between(first, last)})
        dated = months.merge(frame[frame["maand"].notna()], on="maand", how="left")
        volume = pd.Series(pd.array(dated["volume"], dtype="Int64"), index=dated.index)
        dated["volume"] = volume.mask(dated["regels"].isna(), 0)  # a month without lines: 0, not "mixed"
        frame = pd.concat([dated, frame[frame["maand"].isna()]], ignore_index=True)
    frame = _normalise(frame, ["maand"], METRICS)
    frame["niveau"] = "detail"
    total = agg.get([])
    total["niveau"] = "totaal"
    total["maand"] = None
    frame = pd.concat([frame, total], ignore_index=True) if len(frame) else total
    frame = frame[["niveau", "maand", *METRICS]]
    frame = _normalise(frame, ["maand"], METRICS)
    grand = int(total["ingediend"].iloc[0])
    frame["aandeel_pct"] = _share(frame["ingediend"], grand)
    return frame


def per_dimension(store: Store, sel: Selection, dim: str, agg: Aggregates | None = None) -> pd.DataFrame:
    """Cost per aanbieder / productcategorie / productcode over the whole selection (all gemeenten
    together), largest first, with a totals row."""
    agg = _agg(store, sel, agg)
    frame = agg.get([dim])
    frame["_k"] = _sort_key_na_last(frame[dim])
    frame["_n"] = -frame["ingediend"]
    frame = frame.sort_values(["_n", "_k"], kind="stable")
    frame["niveau"] = "detail"
    total = agg.get([])
    total["niveau"] = "totaal"
    total[dim] = None
    frame = pd.concat([frame, total], ignore_index=True) if len(frame) else total
    frame = _normalise(frame[["niveau", dim, *METRICS]], [dim], METRICS)
    if dim == "productcategorie":
        names = refdata.codelijst("productcategorie")
        labels = [names.get(c) if c else None for c in frame[dim]]
        frame.insert(2, "productcategorie_omschrijving", pd.Series(labels, index=frame.index, dtype=object))
    frame["aandeel_pct"] = _share(frame["ingediend"], int(total["ingediend"].iloc[0]))
    return frame


def per_aanbieder(store: Store, sel: Selection, agg: Aggregates | None = None) -> pd.DataFrame:
    return per_dimension(store, sel, "aanbieder", agg)


# ------------------------------------------------------------------------------ budget
BUDGET_COLUMNS = [
    "gemeente",
    "gemeente_naam",
    "jaar",
    "productcategorie",
    "budget",
    "goedgekeurd",
    "onbeoordeeld",
    "gerealiseerd",
    "maanden",
    "prognose",
    "verschil",
    "uitputting_pct",
    "prognose_pct",
    "opmerking",
]

_BUDGET_HEADERS = {
    "gemeente": ("gemeente", "gemeentecode", "gemeentenaam", "cbscode", "cbs"),
    "jaar": ("jaar", "boekjaar", "year"),
    "productcategorie": ("productcategorie", "categorie", "productcat"),
    "budget": ("budget", "budgeteuro", "budgetineuro", "budgetineuros", "bedrag", "begroting"),
}


def read_budget(path: Path) -> pd.DataFrame:
    """A budget file (csv/xlsx): columns gemeente (name or code), jaar, optional productcategorie,
    budget (euros, Dutch or dot decimals). Returns gemeente, jaar, productcategorie (None = whole
    gemeente), budget (cents), rij. Errors name the file, sheet, row and column."""
    from jzcli.readers.spreadsheet import read_sheets

    path = Path(path)
    if not path.exists():
        raise FileReadError(f"--budget {path}: file not found")
    for sheet in read_sheets(path):
        head = _budget_header(sheet.cells)
        if head is None:
            continue
        rownum, found = head
        cells = sheet.cells
        where = f"{path.name}" + (f", sheet {sheet.name}" if sheet.name else "")
        data = cells.loc[cells.index > rownum]
        data = data[data.apply(lambda row: any(v is not None and v == v and str(v).strip() for v in row), axis=1)]
        header_text = {k: str(cells.loc[rownum, c]) for k, c in found.items()}
        return _budget_rows(data, found, header_text, where)
    raise FileReadError(
        f"--budget {path.name}: no header row with the columns gemeente, jaar and budget (optional: productcategorie)"
    )


def _budget_header(cells: pd.DataFrame) -> tuple[object, dict[str, object]] | None:
    """(row, field -> column) of the first of the first 20 rows naming gemeente, jaar and budget."""
    from jzcli.readers.values import normalise_text

    lookup = {syn: field_ for field_, syns in _BUDGET_HEADERS.items() for syn in syns}
    for rownum in list(cells.index)[:20]:
        found: dict[str, object] = {}
        for col, value in cells.loc[rownum].items():
            if value is None or value != value:
                continue
            name = lookup.get(normalise_text(str(value)))
            if name and name not in found:
                found[name] = col
        if {"gemeente", "jaar", "budget"} <= found.keys():
            return rownum, found
    return None


def _budget_rows(data: pd.DataFrame, found: dict, header_text: dict, where: str) -> pd.DataFrame:
    """The budget rows under the header, parsed; the first bad value is a FileReadError."""
    from jzcli.readers.values import parse_money, parse_whole

    out = pd.DataFrame(index=data.index)
    out["rij"] = data.index
    out["gemeente"] = _budget_gemeenten(data[found["gemeente"]], header_text, where)
    for name, parsed in (
        ("jaar", parse_whole(data[found["jaar"]])),
        ("budget", parse_money(data[found["budget"]])),
    ):
        bad = parsed.errors.notna() | parsed.values.isna()
        if bad.any():
            rij = bad.idxmax()
            reason = parsed.errors.loc[rij] or "empty"
            raise FileReadError(
                f"{where}, row {rij}, column {header_text[name]}: {reason} ({data.loc[rij, found[name]]!r})"
            )
        out[name] = parsed.values.astype("int64")
    out["productcategorie"] = _budget_categories(data, found, header_text, where)
    bad_year = ~out["jaar"].between(2015, 2100)
    if bad_year.any():
        rij = bad_year.idxmax()
        raise FileReadError(f"{where}, row {rij}, column {header_text['jaar']}: not a year ({out.loc[rij, 'jaar']})")
    dup = out.duplicated(["gemeente", "jaar", "productcategorie"], keep="first")
    if dup.any():
        rij = dup.idxmax()
        raise FileReadError(f"{where}, row {rij}: a second budget for the same gemeente, jaar and productcategorie")
    return out[["gemeente", "jaar", "productcategorie", "budget", "rij"]].reset_index(drop=True)


def _budget_gemeenten(values: pd.Series, header_text: dict, where: str) -> list[str]:
    codes = []
    for rij, value in values.items():
        code = refdata.gemeente_code(str(value)) if value is not None and value == value else None
        if code is None:
            hints = refdata.gemeente_suggestions(str(value)) if value is not None and value == value else []
            raise FileReadError(
                f"{where}, row {rij}, column {header_text['gemeente']}: unknown gemeente {value!r}"
                + (f"; did you mean {', '.join(hints)}?" if hints else "")
            )
        codes.append(code)
    return codes


def _budget_categories(data: pd.DataFrame, found: dict, header_text: dict, where: str):
    if "productcategorie" not in found:
        return None
    from jzcli.readers.values import parse_code

    parsed = parse_code(data[found["productcategorie"]], 2)
    if parsed.errors.notna().any():
        rij = parsed.errors.notna().idxmax()
        raise FileReadError(f"{where}, row {rij}, column {header_text['productcategorie']}: {parsed.errors.loc[rij]}")
    return parsed.values.astype(object).where(parsed.values.notna(), None)


def budget(store: Store, sel: Selection, budgets: pd.DataFrame) -> pd.DataFrame:
    """Budget vs realised and the linear projection per budget row (see the module docstring)."""
    rows = budgets.copy()
    if sel.gemeenten:
        rows = rows[rows["gemeente"].isin(sel.gemeenten)]
    if rows.empty:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    # one small GROUP BY: gemeente × month × category over the gemeenten with a budget (and their
    # retired predecessors, for the note); everything else is arithmetic on that.
    sub = Selection(tuple(dict.fromkeys(rows["gemeente"])), sel.aanbieders, sel.van, sel.tot)
    facts = aggregate(store, sub, ["gemeente", "maand", "productcategorie"])
    facts = facts[facts["maand"].notna()].copy()
    facts["jaar"] = facts["maand"].str[:4].astype("int64")
    facts["mnd"] = facts["maand"].str[5:7].astype("int64")
    out = []
    for row in rows.itertuples(index=False):  # one iteration per budget row, not per line
        own = facts[(facts["gemeente"] == row.gemeente) & (facts["jaar"] == row.jaar)]
        months = int(own["mnd"].max()) if len(own) else 0
        part = own if row.productcategorie is None else own[own["productcategorie"] == row.productcategorie]
        goed = int(part["goedgekeurd"].sum())
        open_ = int(part["onbeoordeeld"].sum())
        real = goed + open_
        prognose = _round_cents(Decimal(real) * 12 / months) if months else None
        notes = []
        older = facts[(facts["gemeente"].isin(predecessors(row.gemeente))) & (facts["jaar"] == row.jaar)]
        if row.productcategorie is not None:
            older = older[older["productcategorie"] == row.productcategorie]
        if len(older):
            for code, grp in older.groupby("gemeente"):
                amount = int(grp["goedgekeurd"].sum() + grp["onbeoordeeld"].sum())
                notes.append(
                    f"not included: {euro(amount)} realised (approved + not judged) on retired code {code} {gemeente_naam(code)}"
                )
        if not months:
            notes.append("no lines in this year: no projection")
        out.append(
            {
                "gemeente": row.gemeente,
                "gemeente_naam": gemeente_naam(row.gemeente),
                "jaar": int(row.jaar),
                "productcategorie": row.productcategorie,
                "budget": int(row.budget),
                "goedgekeurd": goed,
                "onbeoordeeld": open_,
                "gerealiseerd": real,
                "maanden": months,
                "prognose": prognose,
                "verschil": None if prognose is None else int(row.budget) - prognose,
                "uitputting_pct": _pct_one(real, int(row.budget)),
                "prognose_pct": None if prognose is None else _pct_one(prognose, int(row.budget)),
                "opmerking": "; ".join(notes) or None,
            }
        )
    ints = {"jaar", "budget", "goedgekeurd", "onbeoordeeld", "gerealiseerd", "maanden"}
    return pd.DataFrame(
        {c: pd.Series([o[c] for o in out], dtype="int64" if c in ints else object) for c in BUDGET_COLUMNS}
    )


def _round_cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def _pct_one(num: int, den: int) -> float | None:
    if not den:
        return None
    return float((Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), ROUND_HALF_UP))


# ------------------------------------------------------------------------------ administrative load
LASTEN_METRICS = [
    "regels",
    "beoordeeld",
    "afgekeurd_regels",
    "afgekeurd_bedrag",
    "eerste_indieningen",
    "eerste_goedgekeurd",
    "herindieningen",
]


def _is_resubmission(dialect: str):
    """EXISTS: a judged debet line with the same aanbieder, bsn, productcode and ProductPeriode
    month in an earlier batch (any gemeente: a resubmission may carry a corrected gemeente).
    One index probe per line (RESUBMISSION_INDEX_DDL), so the cost follows the selection, not the store."""
    p = declaratieregels.alias("eerder")
    pb = beoordelingen.alias("eerder_b")
    return sa.exists(
        sa.select(sa.literal_column("1"))
        .select_from(p.join(pb, pb.c.regel_id == p.c.id))
        .where(
            p.c.bsn == r.c.bsn,
            p.c.productcode == r.c.productcode,
            p.c.aanbieder == r.c.aanbieder,
            p.c.batch < r.c.batch,
            sa.or_(p.c.debet_credit.is_(None), p.c.debet_credit != sa.literal_column("'C'")),
            month_text(dialect, p.c.begindatum) == month_text(dialect, r.c.begindatum),
        )
    )


def ensure_indexes(store: Store, *, resubmission: bool = True, progress=None) -> None:
    """Create the report's indexes on a store made before they existed (create_all adds indexes
    only with new tables): the report index (SQLite) and, with ``resubmission``, the resubmission index.
    A store that cannot be written still reports, only slower."""
    if store.dialect == "duckdb":
        return  # DuckDB scans columns with min/max per row group; an index would only slow imports
    try:
        with store.engine.connect() as conn:  # a read first: no write lock when they exist
            if store.dialect == "sqlite":
                rows = conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'declaratieregels'"
                )
                existing = {row[0] for row in rows}
            else:
                existing = {ix["name"] for ix in sa.inspect(conn).get_indexes(r.name)}
        wanted_report = store.dialect == "sqlite" and REPORT_INDEX_NAME not in existing
        wanted_resubmission = resubmission and RESUBMISSION_INDEX_NAME not in existing
        if not (wanted_report or wanted_resubmission):
            return
        if progress:
            progress("adding the reporting index to this store (once; later reports and imports keep it)")
        with store.transaction() as conn:
            if wanted_report:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {REPORT_INDEX_OLD}")
                conn.exec_driver_sql(REPORT_INDEX_SQLITE)
            if wanted_resubmission:
                conn.exec_driver_sql(RESUBMISSION_INDEX_DDL)
    except (sa.exc.SQLAlchemyError, StoreError):
        pass


def _lasten_metric_columns(dialect: str):
    one, zero = sa.literal_column("1"), sa.literal_column("0")
    judged = b.c.status.isnot(None)
    approved = b.c.status == sa.literal_column("'goedgekeurd'")
    rejected = b.c.status == sa.literal_column("'afgekeurd'")
    judged_debet = sa.and_(judged, sa.or_(r.c.debet_credit.is_(None), r.c.debet_credit != sa.literal_column("'C'")))
    resubmitted = _is_resubmission(dialect)
    # nested CASEs so the EXISTS probe runs only for judged debet lines
    return [
        sa.func.count().label("regels"),
        _sum(sa.case((judged, one), else_=zero)).label("beoordeeld"),
        _sum(sa.case((rejected, one), else_=zero)).label("afgekeurd_regels"),
        _sum(sa.case((rejected, _signed(r.c.bedrag)), else_=zero)).label("afgekeurd_bedrag"),
        _sum(sa.case((judged_debet, one), else_=zero)).label("_debet"),
        _sum(sa.case((sa.and_(judged_debet, approved), one), else_=zero)).label("_debet_goed"),
        _sum(sa.case((judged_debet, sa.case((resubmitted, one), else_=zero)), else_=zero)).label("herindieningen"),
        _sum(sa.case((sa.and_(judged_debet, approved), sa.case((resubmitted, one), else_=zero)), else_=zero)).label(
            "_her_goed"
        ),
    ]


def _lasten(store: Store, sel: Selection, key: str) -> pd.DataFrame:
    key_col = _key_expr(store.dialect, key)
    query = (
        sa.select(key_col.label(key), *_lasten_metric_columns(store.dialect))
        .select_from(r.outerjoin(b, b.c.regel_id == r.c.id))
        .where(*_where(sel))
        .group_by(key_col)
    )
    frame = _read(store, query)
    raw = [
        "regels",
        "beoordeeld",
        "afgekeurd_regels",
        "afgekeurd_bedrag",
        "_debet",
        "_debet_goed",
        "herindieningen",
        "_her_goed",
    ]
    frame = _normalise(frame, [key], raw)
    frame["eerste_indieningen"] = frame["_debet"] - frame["herindieningen"]
    frame["eerste_goedgekeurd"] = frame["_debet_goed"] - frame["_her_goed"]
    return frame[[key, *LASTEN_METRICS]]


def _finish_lasten(frame: pd.DataFrame) -> pd.DataFrame:
    frame["afgekeurd_pct"] = _pct(frame["afgekeurd_regels"], frame["beoordeeld"])
    frame["first_time_right_pct"] = _pct(frame["eerste_goedgekeurd"], frame["eerste_indieningen"])
    return frame


def lasten_aanbieder(store: Store, sel: Selection) -> pd.DataFrame:
    """Per aanbieder: lines, judged, rejected (lines, net euros, %), first submissions,
    resubmissions and the first-time-right rate; most rejected euros first; a totals row."""
    frame = _lasten(store, sel, "aanbieder")
    frame = frame.sort_values(
        ["afgekeurd_bedrag", "afgekeurd_regels", "aanbieder"], ascending=[False, False, True], kind="stable"
    )
    return _lasten_with_total(frame, "aanbieder")


def lasten_maand(store: Store, sel: Selection) -> pd.DataFrame:
    """The same measures per ProductPeriode month (the trend), with a totals row."""
    frame = _lasten(store, sel, "maand")
    frame["_k"] = _sort_key_na_last(frame["maand"])
    frame = frame.sort_values("_k", kind="stable").drop(columns="_k")
    return _lasten_with_total(frame, "maand")


def _lasten_with_total(frame: pd.DataFrame, dim: str) -> pd.DataFrame:
    """The detail rows of a lasten table per ``dim`` with a totals row below, finished."""
    frame["niveau"] = "detail"
    total = frame[LASTEN_METRICS].sum().to_frame().T.astype("int64")
    total["niveau"] = "totaal"
    total[dim] = None
    frame = pd.concat([frame, total], ignore_index=True)
    frame = _normalise(frame[["niveau", dim, *LASTEN_METRICS]], [dim], LASTEN_METRICS)
    return _finish_lasten(frame)


LASTEN_REGEL_COLUMNS = [
    "regel",
    "retourcode",
    "omschrijving",
    "titel",
    "ernst",
    "regels",
    "bedrag",
    "afgekeurd_regels",
    "afgekeurd_bedrag",
    "aanbieders",
]


def lasten_regel(store: Store, sel: Selection) -> pd.DataFrame:
    """Per rule (of the current verdicts): lines with a finding of that rule, their net amount,
    how many of them were rejected (and their amount) and how many aanbieders it concerns.
    A line with findings of two rules counts for both; most lines first."""
    # One row per selected line and rule of its current round (DISTINCT: a rule may report a line
    # more than once). Driven by the selected lines, so the findings of other gemeenten are never
    # read (5 M lines, 10 M findings, one gemeente: 9.2 s -> 1.5 s).
    f = (
        sa.select(
            r.c.id,
            bevindingen.c.regel,
            bevindingen.c.retourcode,
            bevindingen.c.ernst,
            r.c.aanbieder,
            r.c.debet_credit,
            r.c.bedrag,
            b.c.status,
        )
        .select_from(
            r.join(b, b.c.regel_id == r.c.id).join(
                bevindingen, sa.and_(bevindingen.c.regel_id == r.c.id, bevindingen.c.ronde == b.c.ronde)
            )
        )
        .where(*_where(sel))
        .distinct()
        .subquery("f")
    )
    signed = _signed(f.c.bedrag, f.c.debet_credit)
    rejected = f.c.status == sa.literal_column("'afgekeurd'")
    one, zero = sa.literal_column("1"), sa.literal_column("0")
    query = sa.select(
        f.c.regel,
        f.c.retourcode,
        f.c.ernst,
        sa.func.count().label("regels"),
        _sum(signed).label("bedrag"),
        _sum(sa.case((rejected, one), else_=zero)).label("afgekeurd_regels"),
        _sum(sa.case((rejected, signed), else_=zero)).label("afgekeurd_bedrag"),
        sa.func.count(sa.distinct(f.c.aanbieder)).label("aanbieders"),
    ).group_by(f.c.regel, f.c.retourcode, f.c.ernst)
    frame = _read(store, query)
    ints = ["regels", "bedrag", "afgekeurd_regels", "afgekeurd_bedrag", "aanbieders"]
    frame = _normalise(frame, ["regel", "retourcode", "ernst"], ints)
    frame = frame.sort_values(["regels", "bedrag", "regel"], ascending=[False, False, True], kind="stable")
    frame.insert(3, "omschrijving", [_rule_omschrijving(rc) for rc in frame["retourcode"]])
    frame.insert(4, "titel", [_rule_titel(rid) for rid in frame["regel"]])
    return frame[LASTEN_REGEL_COLUMNS].reset_index(drop=True)


def _registry():
    try:  # the rule modules register themselves when validate is imported
        import jzcli.rules.catalog  # noqa: F401
    except Exception:
        pass
    from jzcli.rules import registry

    return registry


def _rule_omschrijving(retourcode: str | None) -> str | None:
    if retourcode is None:
        return None
    registry = _registry()
    return refdata.codelijst("retourcode").get(retourcode) or registry.JZ_CODES.get(retourcode)


def _rule_titel(rule_id: str | None) -> str | None:
    rule = _registry().RULES.get(rule_id) if rule_id else None
    return rule.titel if rule else None


# ------------------------------------------------------------------------------ the whole report
def check_by(by: Sequence[str]) -> tuple[str, ...]:
    by = tuple(by)
    if len(by) > 2:
        raise UsageError("--by: give one or two levels (e.g. --by aanbieder --by maand)")
    if len(set(by)) != len(by):
        raise UsageError(f"--by {by[0]} given twice")
    bad = [d for d in by if d not in DIMENSIONS]
    if bad:
        raise UsageError(f"--by {bad[0]}: use one of {', '.join(DIMENSIONS)}")
    return by


def tables_for_views(views: Sequence[str], by: Sequence[str] = ()) -> list[str]:
    """The tables the views produce, in order, without repeats. Without ``--by`` the kosten view
    is the cost per gemeente plus the cost per aanbieder and per productcategorie."""
    tables: list[str] = []
    for view in views:
        if view not in VIEW_TABLES:
            raise UsageError(f"--view {view}: use one of {', '.join(VIEWS)}")
        names = VIEW_TABLES[view]
        if view == "kosten" and not by:
            names = ("kosten", "aanbieder", "productcategorie")
        tables.extend(t for t in names if t not in tables)
    return tables


def plan_tables(asked: Sequence[str], by: Sequence[str], *, budget: bool, workbook: bool, csv: bool) -> list[str]:
    """The view policy: the tables a report holds for the views ``asked`` (--view), in order.

    No view asked: DEFAULT_VIEWS (plus budget when a budget file is given); a workbook gets every
    view (alles) and always the month and aanbieder tables its charts need; CSV holds one table (the
    cost table itself, or the budget table by default with a budget file). A view or table that
    cannot be made is a UsageError."""
    for view in asked:
        if view not in VIEW_CHOICES:
            raise UsageError(f"--view {view}: use one of {', '.join(VIEW_CHOICES)}")
    everything = ["kosten", "maand", "lasten"] + (["budget"] if budget else [])
    if "alles" in asked or (workbook and not asked):
        views = everything
    elif asked:
        views = list(dict.fromkeys(asked))
    else:
        views = list(DEFAULT_VIEWS) + (["budget"] if budget else [])
    tables = tables_for_views(views, by)
    if workbook:  # the workbook's charts need these two
        tables += [t for t in ("maand", "aanbieder") if t not in tables]
    if csv:
        if not asked:
            tables = ["budget"] if budget else ["kosten"]
        elif views == ["kosten"]:
            tables = ["kosten"]  # the cost table itself (the per-aanbieder/categorie tables are --by views)
        if len(tables) != 1:
            raise UsageError(
                f"csv holds one table; --view {' --view '.join(views)} gives {len(tables)} "
                f"({', '.join(tables)}): use --format json or -o FILE.xlsx, or ask for one view"
            )
    if "budget" in tables and not budget:
        raise UsageError("--view budget needs --budget FILE (columns gemeente, jaar, budget)")
    return tables


def build_report(
    store: Store,
    sel: Selection,
    by: Sequence[str] = (),
    tables: Sequence[str] | None = None,
    budgets: pd.DataFrame | None = None,
    progress=None,
) -> Report:
    """Compute the requested tables (default: those of DEFAULT_VIEWS) for a selection.
    ``progress`` is called with a short text before a long one-off step."""
    by = check_by(by)
    tables = list(tables) if tables is not None else tables_for_views(DEFAULT_VIEWS, by)
    report = Report(sel, by)
    agg = Aggregates(store, sel)
    builders = {
        "kosten": lambda: kosten(store, sel, by, agg),
        "aanbieder": lambda: per_dimension(store, sel, "aanbieder", agg),
        "productcategorie": lambda: per_dimension(store, sel, "productcategorie", agg),
        "maand": lambda: per_maand(store, sel, agg),
        "budget": lambda: budget(store, sel, budgets),
        "lasten_aanbieder": lambda: lasten_aanbieder(store, sel),
        "lasten_regel": lambda: lasten_regel(store, sel),
        "lasten_maand": lambda: lasten_maand(store, sel),
    }
    ensure_indexes(store, resubmission=any(t.startswith("lasten_") for t in tables), progress=progress)
    for name in tables:
        if name == "budget" and budgets is None:
            raise UsageError("--view budget needs --budget FILE (columns gemeente, jaar, budget)")
        report.tables[name] = builders[name]()
    with store.engine.connect() as conn:
        report.judged_any = conn.execute(sa.select(b.c.regel_id).limit(1)).first() is not None
    report.notes = _gemeente_notes(report)
    by_category = (
        "productcategorie" in tables
        or "productcategorie" in by
        or ("budget" in tables and budgets is not None and budgets["productcategorie"].notna().any())
    )
    if by_category:
        report.notes.append(categorie_note(categorie_herkomst(store, sel)))
    return report


CATEGORIE_BRONNEN = {"bestand": "the file", "contract": "the contract product", "toewijzing": "the allocation"}


def categorie_herkomst(store: Store, sel: Selection) -> pd.DataFrame:
    """Where the productcategorie of the selected lines comes from: one row per ``bron``
    ("bestand": the line's own, "contract", "toewijzing": resolved by validate, None: none known)
    with ``regels`` and net ``ingediend``. One GROUP BY in the store."""
    bron = sa.case((r.c.productcategorie.isnot(None), sa.literal_column("'bestand'")), else_=ac.c.bron)
    query = (
        sa.select(bron.label("bron"), sa.func.count().label("regels"), _sum(_signed(r.c.bedrag)).label("ingediend"))
        .select_from(r.outerjoin(ac, ac.c.regel_id == r.c.id))
        .where(*_where(sel))
        .group_by(bron)
    )
    return _normalise(_read(store, query), ["bron"], ["regels", "ingediend"])


def categorie_note(herkomst: pd.DataFrame) -> str:
    """ "productcategorie: from the file for 52 lines, from the contract product for 20 ..."."""
    counts = {row.bron: int(row.regels) for row in herkomst.itertuples(index=False)}
    parts = [f"from {CATEGORIE_BRONNEN[k]} for {counts.get(k, 0)} line(s)" for k in CATEGORIE_BRONNEN]
    text = (
        "productcategorie: "
        + ", ".join(parts)
        + " (where the file has none, the category jzcli validate resolved, as for TR381)"
    )
    if counts.get(None):
        text += (
            f"; {counts[None]} line(s) without any show as (none): not validated yet (validated by an older jzcli: "
            "run jzcli validate --opnieuw), or no contract product or allocation names one"
        )
    return text


def _gemeente_notes(report: Report) -> list[str]:
    codes: list[str] = []
    for name in ("kosten", "budget"):
        frame = report.tables.get(name)
        if frame is not None and "gemeente" in frame:
            codes.extend(c for c in frame["gemeente"] if c is not None and c not in codes)
    notes = []
    for code in codes:
        note = gemeente_opmerking(code)
        if note:
            notes.append(f"{code} {gemeente_naam(code) or ''}".rstrip() + f": {note}")
    return notes


# ------------------------------------------------------------------------------ output rows
def rows_for_output(frame: pd.DataFrame) -> list[dict]:
    """A table as JSON/CSV records with stable keys: money as euro text ("1234.56"), counts as
    int, percentages as numbers with two decimals, missing values as None. Column by column (a
    report by aanbieder and month has thousands of rows)."""
    columns = list(frame.columns)
    values = [_output_values(frame[c], c in MONEY_COLUMNS) for c in columns]
    return [dict(zip(columns, row)) for row in zip(*values)] if columns else [{} for _ in range(len(frame))]


def _output_values(column: pd.Series, money: bool) -> list:
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":  # no missing values, plain ints
        ints = column.tolist()
        return [euro_decimal(v) for v in ints] if money else ints

    def one(value):
        if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
            return None
        if money:
            return euro_decimal(int(value))
        if hasattr(value, "item"):  # numpy scalar
            return value.item()
        return value

    return [one(v) for v in column.to_numpy(dtype=object)]
