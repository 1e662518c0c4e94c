"""What the engine derives per stored line for exports and the importer, outside a run: verdict facts,
how a ProductPeriode was derived, and the allocation deletions TR385 refuses.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from jzcli.domain.codes import AFKEUR, CREDIT, GOEDGEKEURD
from jzcli.domain.text import euro
from jzcli.engine.derive import derive, link_approved_credits, match_allocations, normalised_allocations
from jzcli.engine.load import (
    load_berichten,
    load_import_findings,
    load_lines,
    load_products,
    load_sheets,
    load_toewijzingen,
    load_verdicts,
)
from jzcli.rules.kit import as_successor, ints, no_ints, objects, signed_amount, successor_codes, where_text
from jzcli.rules.registry import rule_rank
from jzcli.store import agreements
from jzcli.store.schema import beoordelingen, bevindingen, declaratieregels
from jzcli.store.store import Store

PERIODE_AFGELEID = {
    0: "",
    1: "begindatum from the month column",
    2: "einddatum from the month column",
    3: "begindatum and einddatum from the month column",
}


# The same texts in Dutch, for the feedback workbook (a provider's file): fixed phrases of
# PERIODE_AFGELEID and of JZ-P01's message (rules.allocation), replaced in order.
_AFGELEID_NL = [
    (" and einddatum from the month column", " en einddatum uit de maandkolom"),
    (" from the month column", " uit de maandkolom"),
    ("ProductPeriode from the month ", "ProductPeriode uit de maand "),
    (" (month column), with ", " (maandkolom), met "),
    (" = the ingangsdatum of toewijzing ", " = de ingangsdatum van toewijzing "),
    (" = the einddatum of toewijzing ", " = de einddatum van toewijzing "),
]


def afgeleid_nl(texts: pd.Series) -> pd.Series:
    """``productperiode_afgeleid`` texts in Dutch."""
    out = texts.astype(object).fillna("").astype(str)
    for en, nl in _AFGELEID_NL:
        out = out.str.replace(en, nl, regex=False)
    return out.astype(object)


def productperiode_afgeleid(store: Store, lines: pd.DataFrame) -> pd.Series:
    """Per stored line (a frame with id, batch, blad and periode_uit_maand): how its ProductPeriode
    was derived, as text ("" when the provider wrote both dates). A side a month column gave says
    so; when the last validate set it to the allocation's ingangsdatum/einddatum (IV089), the
    JZ-P01 message of that round says what was set. Lines stored before schema 2 go by the
    sheet's columns, as validate does. For exports: one small query for the JZ-P01 findings."""
    if lines.empty:
        return pd.Series([], index=lines.index, dtype=object)
    stored = ints(lines["periode_uit_maand"]) if "periode_uit_maand" in lines.columns else no_ints(len(lines))
    bits = np.asarray(stored.fillna(-1), dtype="int64")
    old = bits < 0
    if old.any():
        sheets = load_sheets(store)
        info = sheets.set_index(["batch", "blad"])["maand"] if len(sheets) else pd.Series(dtype="int64")
        blad = lines["blad"].astype(object).where(lines["blad"].notna(), "")
        keys = pd.MultiIndex.from_arrays([pd.to_numeric(lines["batch"]).astype("int64"), blad])
        bits = np.where(old, info.reindex(keys).fillna(0).astype("int64").to_numpy(), bits)
    text = pd.Series(bits, index=lines.index).map(PERIODE_AFGELEID).fillna("").astype(object)
    b = bevindingen
    query = (
        sa.select(b.c.regel_id, b.c.melding)
        .join(beoordelingen, (beoordelingen.c.regel_id == b.c.regel_id) & (beoordelingen.c.ronde == b.c.ronde))
        .where(b.c.regel == "JZ-P01")
    )
    clipped = store.read_frame(query)
    if len(clipped):
        by_id = clipped.drop_duplicates("regel_id").set_index("regel_id")["melding"]
        found = pd.to_numeric(lines["id"]).map(by_id)
        text = text.where(found.isna(), found.astype(object))
    return text


LINE_FACT_COLUMNS = ["status", "retourcodes", "toewijzing_gevonden", "contract_productcategorie", "contract_eenheid"]


def line_facts(store: Store, where=None, *, today: dt.date | None = None) -> pd.DataFrame:
    """Per stored line (index = line id): its verdict (``status``: goedgekeurd, afgekeurd, or
    None when not judged), the retourcodes of its rejection (space-separated, in rule order), and
    what the engine derives for it from the stored contracts and allocations: the matched
    allocation's toewijzingnummer (also when the line names none: matched on content), and the
    contract's productcategorie and eenheid for its product. Derived as ``validate`` derives them,
    from the agreements stored now; nothing of the line itself is changed."""
    lines = load_lines(store, where)
    facts = pd.DataFrame(
        index=pd.Index(lines["id"].astype("int64"), name="id"), columns=LINE_FACT_COLUMNS, dtype=object
    )
    if lines.empty:
        return facts
    derived = derive(
        lines,
        load_products(store),
        load_toewijzingen(store),
        load_import_findings(store),
        load_sheets(store),
        today or dt.date.today(),
        load_berichten(store),
    )
    ids = derived["id"].astype("int64").to_numpy()
    toewijzingen = load_toewijzingen(store)
    number = (
        pd.Series(toewijzingen["toewijzingnummer"].to_numpy(dtype=object), index=toewijzingen["id"].astype("int64"))
        if len(toewijzingen)
        else pd.Series(dtype=object)
    )
    matched = derived["toewijzing_id"]
    facts["toewijzing_gevonden"] = [None if m is pd.NA or m is None else number.get(int(m)) for m in objects(matched)]
    facts["contract_productcategorie"] = derived["contract_productcategorie"].to_numpy(dtype=object)
    facts["contract_eenheid"] = derived["contract_eenheid"].to_numpy(dtype=object)
    verdicts = load_verdicts(
        store, where if where is None else declaratieregels.c.id.in_(sa.select(declaratieregels.c.id).where(where))
    )
    if len(verdicts):
        status = verdicts.set_index("regel_id")["status"]
        facts["status"] = pd.Series(ids).map(status).to_numpy(dtype=object)
        v, b = beoordelingen, bevindingen
        query = (
            sa.select(b.c.regel_id, b.c.regel, b.c.retourcode)
            .select_from(b.join(v, (v.c.regel_id == b.c.regel_id) & (v.c.ronde == b.c.ronde)))
            .where(b.c.ernst == AFKEUR)
            .order_by(b.c.id)
        )
        if where is not None:
            query = query.where(b.c.regel_id.in_(sa.select(declaratieregels.c.id).where(where)))
        found = store.read_frame(query)
        if len(found):
            found["_rank"] = found["regel"].map(rule_rank)
            found = found.sort_values(["regel_id", "_rank"], kind="mergesort").drop_duplicates(
                ["regel_id", "retourcode"]
            )
            codes = found.groupby("regel_id")["retourcode"].agg(" ".join)
            codes.index = codes.index.astype("int64")
            facts["retourcodes"] = pd.Series(ids).map(codes).to_numpy(dtype=object)
    return facts.astype(object).where(facts.notna(), None)


REFUSED_DELETION = "TR385"  # the import finding that refuses an allocation deletion (agreements skips the version)


def _current_deletions(v: pd.DataFrame, deleting: np.ndarray, current: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The deleting versions of ``v`` that would become their allocation's current version (its
    latest in the file, not older than the stored one), and the stored allocation's id for each."""
    # the version of each allocation this file makes current: its latest, if not older than the stored one
    v = v.assign(_del=deleting, _pos=np.arange(len(v)), _when=pd.to_datetime(v["toewijzingsdatum"]))
    last = v.sort_values(["_when", "_pos"], na_position="first", kind="mergesort").drop_duplicates(
        ["gemeente", "toewijzingnummer"], keep="last"
    )
    last = last[last["_del"]]
    cur = current[~current["verwijderd"].astype(bool)].set_index(["gemeente", "toewijzingnummer"])
    keys = pd.MultiIndex.from_arrays([last["gemeente"].astype(object), last["toewijzingnummer"].astype(object)])
    found = keys.isin(cur.index)
    last = last[found]
    if last.empty:
        return last, np.array([], dtype=object)
    stored_when = pd.to_datetime(cur["toewijzingsdatum"]).reindex(keys[found]).to_numpy()
    last = last[pd.isna(stored_when) | (last["_when"].to_numpy() >= stored_when)]
    if last.empty:
        return last, np.array([], dtype=object)
    return last, (
        cur["id"]
        .reindex(pd.MultiIndex.from_arrays([last["gemeente"].astype(object), last["toewijzingnummer"].astype(object)]))
        .to_numpy()
    )


def deletion_conflicts(store: Store, versions: pd.DataFrame, limit: int = 10) -> list[dict]:
    """TR385 (9385, OP362): a gemeente may not delete an allocation that has approved, not
    credited declaration lines. ``versions``: the allocation versions about to be imported
    (bron, blad, rij and the toewijzingen fields). For every version that deletes an allocation
    (reden wijziging 13, or the retired 01 with einddatum = ingangsdatum) and would become its
    current version, the approved live debets matched to the allocation now (as ``validate``
    matches them: by toewijzingnummer or on content, a merged gemeente as its successor).
    Returns one import finding per refused deletion: bron, blad, rij, kolom, veld, waarde,
    regel (TR385), melding, plus toewijzingnummer, gemeente and regels (the lines concerned,
    "batch 3, maart.xlsx, sheet 'Declaratie', row 12", the first ``limit``)."""
    v = versions
    reden = v["reden_wijziging"].astype(object)
    same = (pd.to_datetime(v["einddatum"]) == pd.to_datetime(v["ingangsdatum"])).fillna(False).to_numpy()
    deleting = ((reden == "13").fillna(False).to_numpy()) | ((reden == "01").fillna(False).to_numpy() & same)
    if not deleting.any():
        return []
    current = agreements.toewijzingen_actueel(store)
    if current.empty:
        return []
    last, alloc_id = _current_deletions(v, deleting, current)
    if last.empty:
        return []
    # the approved lines of the aanbieders concerned, matched and credit-linked as validate does
    t = declaratieregels
    agbs = sorted({a for a in last["aanbieder"].dropna().astype(str)})
    where: sa.ColumnElement[bool] = t.c.id.in_(
        sa.select(beoordelingen.c.regel_id).where(beoordelingen.c.status == GOEDGEKEURD)
    )
    if agbs:
        where = sa.and_(where, t.c.aanbieder.in_(agbs))
    lines = load_lines(store, where)
    if lines.empty:
        return []
    lines["gemeente_opvolger"] = successor_codes(lines)
    alloc = normalised_allocations(current)
    lines["toewijzing_id"] = match_allocations(as_successor(lines), alloc)["toewijzing_id"].to_numpy()
    lines["gecrediteerd"] = False
    lines["crediteert"] = no_ints(len(lines))
    link_approved_credits(lines, np.ones(len(lines), dtype=bool), pd.Index(lines["id"]))
    live = lines[
        (lines["debet_credit"] != CREDIT).to_numpy()
        & ~lines["gecrediteerd"].astype(bool).to_numpy()
        & lines["toewijzing_id"].notna().to_numpy()
    ]
    out = []
    for row, aid in zip(last.itertuples(index=False), alloc_id):
        mine = live[(live["toewijzing_id"] == int(aid)).to_numpy()].sort_values("id")
        if mine.empty:
            continue
        where_lines = where_text(mine).tolist()
        shown = "; ".join(where_lines[:limit]) + (f"; and {len(mine) - limit} more" if len(mine) > limit else "")
        total = euro(int(signed_amount(mine).sum()))
        n = len(mine)
        melding = (
            f"toewijzing {row.toewijzingnummer} of gemeente {row.gemeente} has {n} approved declaration line{'s' if n != 1 else ''} "
            f"that {'were' if n != 1 else 'was'} not credited ({total}: {shown}): an allocation with approved lines cannot be deleted "
            "(TR385, retourcode 9385). The deletion is stored as written but not applied: the previous version stays current"
        )
        out.append(
            {
                "bron": row.bron,
                "blad": row.blad,
                "rij": int(row.rij),  # type: ignore[arg-type]  # pandas-stubs: itertuples fields are any scalar
                "kolom": "reden_wijziging",
                "veld": "reden_wijziging",
                "waarde": row.reden_wijziging,
                "regel": REFUSED_DELETION,
                "melding": melding,
                "toewijzingnummer": row.toewijzingnummer,
                "gemeente": row.gemeente,
                "regels": where_lines,
            }
        )
    return out
