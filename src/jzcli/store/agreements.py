"""Contracts and allocations as the validator and the reports use them: pure reads of a Store.

* ``contract_products``: the product tariffs of the valid version of every contract. Every import
  of a contract is kept (its own batch); for one contract naam (compared without case and extra
  spaces) the newest import supersedes the older ones, so re-importing a corrected tariff sheet
  replaces the whole contract, and importing an old file again makes that one valid again.
* ``toewijzingen_actueel``: the current version of every allocation. Each imported row is a
  version; per (gemeente, toewijzingnummer) the version with the latest toewijzingsdatum (date and
  time, IV013) is current; on a tie the latest import (batch), then the later row, wins. A current
  version with reden_wijziging 13 (or the retired 01 with einddatum = ingangsdatum) is flagged
  ``verwijderd``: the allocation counts as never sent (TR384). A deletion the import refused
  (TR385: the allocation has approved lines) is stored but never current.

Works the same on SQLite and PostgreSQL: plain SELECTs, the rest in pandas.
"""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa

from jzcli.domain.agreements import PRODUCT_FIELDS
from jzcli.store.schema import contracten, contractproducten, importbevindingen, toewijzingen
from jzcli.store.store import Store

CONTRACT_PRODUCT_COLUMNS = ["contract_id", "contract_naam", "gemeenten", "aanbieders", *PRODUCT_FIELDS, "product_id"]
TOEWIJZING_COLUMNS = [c.name for c in toewijzingen.columns]  # id, batch, bron, blad, rij, fields...
_TOEWIJZING_DATES = ["ingangsdatum", "einddatum", "toewijzingsdatum"]
_TOEWIJZING_INTS = ["volume", "budget"]
VERWIJDERD = "13"
VERVALLEN = "01"  # retired "administratieve correctie (vervallen)": deleted when einddatum = ingangsdatum


def _read(store: Store, query) -> pd.DataFrame:
    with store.engine.connect() as conn:
        return pd.read_sql(query, conn)


def contract_naam_key(naam: pd.Series) -> pd.Series:
    """The key that makes two imports the same contract: case and runs of spaces ignored."""
    return naam.astype(str).str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()


def current_contracts(store: Store) -> pd.DataFrame:
    """The newest import of every contract naam: id, batch, naam, gemeenten (list), aanbieders (list or None)."""
    frame = _read(store, sa.select(contracten).order_by(contracten.c.id))
    if frame.empty:
        return pd.DataFrame(
            {
                "id": pd.Series(dtype="int64"),
                "batch": pd.Series(dtype="int64"),
                "naam": pd.Series(dtype=object),
                "gemeenten": pd.Series(dtype=object),
                "aanbieders": pd.Series(dtype=object),
            }
        )
    frame = frame.assign(_key=contract_naam_key(frame["naam"]))
    frame = frame.sort_values(["batch", "id"], kind="stable").drop_duplicates("_key", keep="last")
    frame["gemeenten"] = frame["gemeenten"].map(json.loads)
    frame["aanbieders"] = frame["aanbieders"].map(lambda v: json.loads(v) if isinstance(v, str) else None)
    return frame.drop(columns="_key").sort_values("id").reset_index(drop=True)


def contract_products(store: Store) -> pd.DataFrame:
    """Product tariffs of the valid version of every contract.

    Columns: contract_id, contract_naam, gemeenten (list of CBS codes), aanbieders (list of AGB
    codes, or None = all providers), productcategorie, productcode, omschrijving, eenheid, tarief
    (int eurocents), uitvoeringsvariant, geldig_van, geldig_tot (datetime64; NaT = open-ended),
    product_id (the stored contractproducten.id). One row per product tariff period; ordered by
    contract, then as in the file.
    """
    contracts = current_contracts(store)
    p = contractproducten.c
    query = (
        sa.select(
            p.id.label("product_id"),
            p.contract.label("contract_id"),
            p.productcategorie,
            p.productcode,
            p.omschrijving,
            p.eenheid,
            p.tarief,
            p.uitvoeringsvariant,
            p.geldig_van,
            p.geldig_tot,
        )
        .where(p.contract.in_([int(i) for i in contracts["id"]]))
        .order_by(p.contract, p.id)
    )
    products = (
        _read(store, query)
        if len(contracts)
        else pd.DataFrame(
            columns=[c for c in CONTRACT_PRODUCT_COLUMNS if c not in ("contract_naam", "gemeenten", "aanbieders")]
        )
    )
    heads = contracts.rename(columns={"id": "contract_id", "naam": "contract_naam"})[
        ["contract_id", "contract_naam", "gemeenten", "aanbieders"]
    ]
    for col in ("contract_id", "product_id"):
        products[col] = products[col].astype("int64")
    out = products.merge(heads, on="contract_id", how="left", sort=False)
    out["tarief"] = out["tarief"].astype("int64")
    for col in ("geldig_van", "geldig_tot"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    return out[CONTRACT_PRODUCT_COLUMNS].reset_index(drop=True)


def contract_products_exploded(store: Store) -> pd.DataFrame:
    """``contract_products`` with one row per gemeente of the contract: column ``gemeente``
    (a CBS code) instead of the list ``gemeenten``; handy for merges on declaration lines."""
    products = contract_products(store)
    out = products.explode("gemeenten", ignore_index=True).rename(columns={"gemeenten": "gemeente"})
    columns = ["contract_id", "contract_naam", "gemeente", *CONTRACT_PRODUCT_COLUMNS[3:]]
    return out[columns]


def toewijzingen_alle(store: Store) -> pd.DataFrame:
    """Every stored allocation version (columns as the table), dates as datetime64, ordered by id."""
    # the raw driver cursor: an allocation file for a region has 100k rows (read_sql takes ~1 s)
    frame = store.read_frame(sa.select(toewijzingen).order_by(toewijzingen.c.id))
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in TOEWIJZING_COLUMNS})
    for col in _TOEWIJZING_DATES:  # SQLite: ISO text; PostgreSQL: date and datetime values
        frame[col] = pd.to_datetime(frame[col], format="ISO8601").astype("datetime64[ns]")
    for col in _TOEWIJZING_INTS:
        frame[col] = frame[col].astype("Int64")
    for col in ("id", "batch"):
        frame[col] = frame[col].astype("int64")
    return frame[TOEWIJZING_COLUMNS]


def _without_refused(store: Store, frame: pd.DataFrame) -> pd.DataFrame:
    """The versions without the deletions the import refused (an import finding TR385: the
    allocation had approved lines, OP362); those stay stored as written, never current."""
    f = importbevindingen
    refused = store.read_frame(sa.select(f.c.batch, f.c.blad, f.c.rij).where(f.c.regel == "TR385"))
    if refused.empty or frame.empty:
        return frame

    def key(b, blad, rij):
        return list(
            zip(pd.array(b, dtype="Int64"), pd.Series(blad, dtype=object).fillna(""), pd.array(rij, dtype="Int64"))
        )

    gone = set(key(refused["batch"], refused["blad"], refused["rij"]))
    keep = [k not in gone for k in key(frame["batch"], frame["blad"], frame["rij"])]
    return frame[keep]


def toewijzingen_actueel(store: Store) -> pd.DataFrame:
    """The current version of every allocation, per (gemeente, toewijzingnummer).

    Current = the latest toewijzingsdatum (IV013; a version without one counts as oldest); on a
    tie the latest import, then the later row. Columns: those of the ``toewijzingen`` table (id,
    batch, bron, blad, rij, toewijzingnummer, bsn, aanbieder, gemeente, productcategorie,
    productcode, ingangsdatum, einddatum, volume, eenheid, frequentie, budget, reden_wijziging,
    toewijzingsdatum) plus ``verwijderd`` (bool: reden_wijziging 13, or 01 with einddatum =
    ingangsdatum) and ``versies`` (how many versions of this allocation are stored).
    """
    frame = toewijzingen_alle(store)
    keys = ["gemeente", "toewijzingnummer"]
    versions = frame.groupby(keys, sort=False, dropna=False)["id"].transform("size")
    frame = _without_refused(store, frame.assign(versies=versions.astype("int64")))  # counted, never current
    frame = frame.sort_values([*keys, "toewijzingsdatum", "batch", "id"], na_position="first", kind="stable")
    current = frame.drop_duplicates(keys, keep="last")
    reden = current["reden_wijziging"]
    deleted = (reden == VERWIJDERD) | ((reden == VERVALLEN) & (current["einddatum"] == current["ingangsdatum"]))
    current = current.assign(verwijderd=deleted.fillna(False).astype(bool))
    return current.sort_values("id").reset_index(drop=True)[[*TOEWIJZING_COLUMNS, "verwijderd", "versies"]]
