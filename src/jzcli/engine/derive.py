"""The facts every rule reads, derived once per run for all lines (see ``jzcli.domain.lines``, DERIVED):
the contract product that applies, the allocation each line draws on (matching), the period and
sheet facts, the message columns, the content and reference keys, and the credit links.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd

from jzcli.domain.codes import CREDIT
from jzcli.domain.text import mask_bsn
from jzcli.rules.kit import (
    ALLOCATION_COLUMNS,
    AMBIGUOUS_EENHEID,
    CONTENT_COLUMNS,
    HISTORY_COLUMNS,
    INHOUD,
    NUMMER,
    TEXT_COLUMNS,
    content_groups,
    credit_links,
    date_col,
    date_or,
    day_numbers,
    freq_int,
    int_col,
    ints,
    no_ints,
    normalised_products,
    objects,
    signed_amount,
    successor_codes,
    text_col,
    unit_int,
)

CONTRACT_COLUMNS = {
    "contract_tarief": "Int64",
    "contract_eenheid": object,
    "contract_id": "Int64",
    "contract_variant": object,
    "contract_productcategorie": object,
}


def contract_lookup(lines: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """The contract product that applies to each line (index = lines.index).

    Same gemeente and productcode, the line's aanbieder allowed by the contract (no list = all),
    geldig_van ≤ begindatum ≤ geldig_tot (open end allowed). When several apply, the one in the
    line's eenheid wins (an hourly one for a line in minutes), then a contract that names the
    aanbieder over one for all, then the lowest contract and product id.
    """
    n = len(lines)
    p = normalised_products(products) if n and products is not None and not products.empty else None
    row = _contract_rows(lines, p) if p is not None and not p.empty else np.full(n, -1, dtype="int64")
    found = row >= 0
    take = np.maximum(row, 0)
    out = {}
    for c, dtype in CONTRACT_COLUMNS.items():
        src = CONTRACT_SOURCE[c]
        if dtype == "Int64":
            values = ints(p[src]) if p is not None and found.any() else None
            data = np.zeros(n, dtype="int64")
            mask = ~found
            if values is not None:
                data[found] = values.to_numpy(dtype="int64", na_value=0)[take[found]]
                mask = mask | np.asarray(values.isna())[take]
            out[c] = pd.Series(pd.arrays.IntegerArray(data, mask), index=lines.index)
        else:
            data = np.full(n, None, dtype=object)
            if p is not None and found.any():
                data[found] = p[src].to_numpy(dtype=object)[take[found]]
            out[c] = pd.Series(data, index=lines.index, dtype=object)
    out["contract_product_found"] = pd.Series(found, index=lines.index)
    return pd.DataFrame(out, index=lines.index)


CONTRACT_SOURCE = {
    "contract_tarief": "tarief",
    "contract_eenheid": "eenheid",
    "contract_id": "_contract",
    "contract_variant": "uitvoeringsvariant",
    "contract_productcategorie": "productcategorie",
}


def _codes(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Positions of ``values`` in the small ``index`` of texts (-1 when missing or absent)."""
    return index.get_indexer(objects(values))  # type: ignore[arg-type]  # pandas-stubs: any array-like is fine


def _contract_rows(lines: pd.DataFrame, p: pd.DataFrame) -> np.ndarray:
    """Per line, the row of ``p`` (normalised products) that applies, -1 for none.

    A merge done on integer codes in numpy: every line is paired with the products of its
    (gemeente, productcode) — most with exactly one — then the pairs are filtered and, where
    several remain, ranked.
    """
    p_gem, gem = pd.factorize(p["gemeente"].astype(str))
    p_code, code = pd.factorize(p["productcode"].astype(str))
    p_key = p_gem * len(code) + p_code
    lg, lc = _codes(gem, lines["gemeente"]), _codes(code, lines["productcode"])
    begin = lines["begindatum"].to_numpy(dtype="datetime64[us]")
    line_key = np.where((lg >= 0) & (lc >= 0) & ~np.isnat(begin), lg * len(code) + lc, -1)
    # products grouped by key; each line's candidates are one run of ``order``
    order = np.argsort(p_key, kind="stable")
    keys, starts, counts = np.unique(p_key[order], return_index=True, return_counts=True)
    slot = np.searchsorted(keys, line_key)
    slot = np.minimum(slot, len(keys) - 1)
    has = (line_key >= 0) & (keys[slot] == line_key)
    pos = np.flatnonzero(has)
    n_cand = counts[slot[pos]]
    line_of = np.repeat(pos, n_cand)
    first = np.repeat(np.cumsum(n_cand) - n_cand, n_cand)
    prow = order[np.repeat(starts[slot[pos]], n_cand) + np.arange(len(line_of)) - first]

    p_agb, agb = pd.factorize(p["_aanbieder"].astype(str))
    p_all = (p["_aanbieder"] == "*").to_numpy(dtype=bool)
    line_agb = _codes(agb, lines["aanbieder"])[line_of]
    van = p["geldig_van"].to_numpy(dtype="datetime64[us]")[prow]
    tot = p["geldig_tot"].to_numpy(dtype="datetime64[us]")[prow]
    b = begin[line_of]
    ok = (p_all[prow] | ((line_agb >= 0) & (line_agb == p_agb[prow]))) & ~np.isnat(van) & (van <= b)
    ok &= np.isnat(tot) | (b <= tot)
    line_of, prow = line_of[ok], prow[ok]

    result = np.full(len(lines), -1, dtype="int64")
    several = np.bincount(line_of, minlength=len(lines))[line_of] > 1
    result[line_of[~several]] = prow[~several]
    if several.any():  # choose among the products that apply (rare: most lines have exactly one)
        lo, pr = line_of[several], prow[several]
        p_unit, units = pd.factorize(p["eenheid"].astype(object), use_na_sentinel=True)
        l_unit = _codes(units, lines["eenheid"].iloc[lo])
        l_min = (lines["eenheid"].iloc[lo] == "01").to_numpy(dtype=bool)
        p_hour = (p["eenheid"] == "04").to_numpy(dtype=bool)[pr]
        fit = ((l_unit >= 0) & (l_unit == p_unit[pr])) | (l_min & p_hour)
        big = np.iinfo("int64").max
        contract = ints(p["_contract"]).to_numpy(dtype="int64", na_value=big)[pr]
        product = ints(p["_product"]).to_numpy(dtype="int64", na_value=big)[pr]
        rank = np.lexsort((product, contract, p_all[pr], ~fit, lo))
        lo, pr = lo[rank], pr[rank]
        head = np.r_[True, lo[1:] != lo[:-1]]
        result[lo[head]] = pr[head]
    return result


MATCH_TEXT = ["bsn", "aanbieder", "gemeente", "productcategorie", "productcode"]


def _strip_nummer(u: pd.Series) -> pd.Series:
    """Toewijzingnummers are integers in iJw: '0406250101' and '406250101' are equal."""
    digits = u.str.fullmatch(r"\d+").fillna(False).astype(bool)
    return u.str.lstrip("0").replace("", "0").where(digits, u)


def normalised_allocations(toewijzingen: pd.DataFrame | None) -> pd.DataFrame:
    """Allocations with normalised codes, ``_freq``/``_unit`` as ints and ``_del`` (deleted); unique
    ids, ordered oldest version first (by toewijzingsdatum, then id). Computed once per run: the
    matching and every allocation rule (``Context.allocations``) read it."""
    t = toewijzingen if toewijzingen is not None and len(toewijzingen) else pd.DataFrame(columns=ALLOCATION_COLUMNS)
    a = pd.DataFrame(index=pd.RangeIndex(len(t)))
    a["id"] = pd.to_numeric(t["id"]).astype("int64").to_numpy() if "id" in t.columns else np.arange(len(t))
    for col in TEXT_COLUMNS + ["reden_wijziging"]:
        a[col] = text_col(t, col).to_numpy()
    for col in ("ingangsdatum", "einddatum", "toewijzingsdatum"):
        a[col] = date_col(t, col).to_numpy()
    for col in ("volume", "budget"):
        a[col] = int_col(t, col).to_numpy()
    a["frequentie"] = text_col(t, "frequentie").to_numpy()
    a["_freq"] = freq_int(a["frequentie"])
    a["_unit"] = unit_int(a["eenheid"])
    if "verwijderd" in t.columns:
        a["_del"] = t["verwijderd"].fillna(False).astype(bool).to_numpy()
    else:  # reden 13 (Verwijderd), or the retired 01 with einddatum = ingangsdatum (CS336)
        same = (a["einddatum"] == a["ingangsdatum"]).fillna(False)
        a["_del"] = ((a["reden_wijziging"] == "13") | ((a["reden_wijziging"] == "01") & same)).astype(bool)
    a = a.sort_values(["toewijzingsdatum", "id"], na_position="first", kind="mergesort")
    return a.drop_duplicates("id", keep="last").reset_index(drop=True)


def _joint_codes(left: pd.Series, right: pd.Series, normalise=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes for two text columns over one shared vocabulary (-1 = missing/empty).

    ``normalise`` maps the distinct values (a str Series) to the values to compare.
    """
    values = np.concatenate([objects(left), objects(right)])
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniques, dtype=object)).astype("str")
    if normalise is not None and len(u):
        u = normalise(u)
    u = u.mask(u == "")
    if len(u) and (normalise is not None or u.isna().any()):
        recode, uniques2 = pd.factorize(u, use_na_sentinel=True)
        codes = np.where(codes >= 0, recode[np.maximum(codes, 0)] if len(recode) else -1, -1)
        n = len(uniques2)
    else:
        n = len(u)
    return codes[: len(left)], codes[len(left) :], max(n, 1)


def _encode(lines: pd.DataFrame, alloc: pd.DataFrame) -> SimpleNamespace:
    """Lines and allocations as aligned numpy arrays of codes and day numbers."""
    ln, al, size = {}, {}, {}
    for col in MATCH_TEXT:
        line_col = lines[col] if col in lines.columns else pd.Series(None, index=lines.index, dtype=object)
        ln[col], al[col], size[col] = _joint_codes(line_col, alloc[col])
    nummer = (
        lines["toewijzingnummer"]
        if "toewijzingnummer" in lines.columns
        else pd.Series(None, index=lines.index, dtype=object)
    )
    ln["nummer"], al["nummer"], size["nummer"] = _joint_codes(nummer, alloc["toewijzingnummer"], _strip_nummer)
    n = len(lines)
    b, mb = day_numbers(date_col(lines, "begindatum"), n)
    e, me = day_numbers(date_col(lines, "einddatum"), n)
    ln["begin"] = np.where(mb, -(10**8), b)  # unknown dates do not limit the match
    ln["end"] = np.where(me, 10**8, e)
    s, ms = day_numbers(alloc["ingangsdatum"], len(alloc))
    z, mz = day_numbers(alloc["einddatum"], len(alloc))
    al["del"] = alloc["_del"].to_numpy(dtype=bool)
    al["start"] = np.where(ms, -(10**8), s)
    al["stop"] = np.where(mz | al["del"], 10**8, z)  # a deletion's einddatum is no real end
    al["id"] = alloc["id"].to_numpy(dtype="int64")
    return SimpleNamespace(l=ln, a=al, size=size, n=n)


def _number_candidates(enc: SimpleNamespace, rows: np.ndarray) -> pd.DataFrame:
    """Numbered lines (positions ``rows``) × the allocation(s) with that number in their gemeente.

    Columns _pos, _apos, aanbieder_ok.
    """
    ln, al, g = enc.l, enc.a, enc.size["gemeente"]
    rows = rows[(ln["nummer"][rows] >= 0) & (ln["gemeente"][rows] >= 0)]
    left = pd.DataFrame({"_pos": rows, "k": ln["nummer"][rows].astype("int64") * g + ln["gemeente"][rows]})
    apos = np.flatnonzero((al["nummer"] >= 0) & (al["gemeente"] >= 0))
    right = pd.DataFrame({"_apos": apos, "k": al["nummer"][apos].astype("int64") * g + al["gemeente"][apos]})
    cand = left.merge(right, on="k")
    la, aa = ln["aanbieder"][cand["_pos"].to_numpy()], al["aanbieder"][cand["_apos"].to_numpy()]
    cand["aanbieder_ok"] = (la < 0) | (aa < 0) | (la == aa)
    return cand


def _content_candidates(enc: SimpleNamespace, rows: np.ndarray) -> pd.DataFrame:
    """Lines without a number (positions ``rows``) × allocations with the same bsn, aanbieder
    and gemeente. Columns _pos, _apos, product_ok, spec (0 specific, 1 aspecific, 2 generic),
    overlap, contains, deleted, rank (lower is better: live before deleted, containing before
    overlapping, then specific before aspecific before generic)."""
    ln, al, size = enc.l, enc.a, enc.size

    def key(side, pos):
        return (side["bsn"][pos].astype("int64") * size["aanbieder"] + side["aanbieder"][pos]) * size[
            "gemeente"
        ] + side["gemeente"][pos]

    rows = rows[
        (ln["nummer"][rows] < 0) & (ln["bsn"][rows] >= 0) & (ln["aanbieder"][rows] >= 0) & (ln["gemeente"][rows] >= 0)
    ]
    apos = np.flatnonzero((al["bsn"] >= 0) & (al["aanbieder"] >= 0) & (al["gemeente"] >= 0))
    cand = pd.DataFrame({"_pos": rows, "k": key(ln, rows)}).merge(
        pd.DataFrame({"_apos": apos, "k": key(al, apos)}), on="k"
    )
    p, q = cand["_pos"].to_numpy(), cand["_apos"].to_numpy()
    code_l, code_a = ln["productcode"][p], al["productcode"][q]
    cat_l, cat_a = ln["productcategorie"][p], al["productcategorie"][q]
    specific = (code_a >= 0) & (code_a == code_l) & ((cat_l < 0) | (cat_a < 0) | (cat_l == cat_a))
    aspecific = (code_a < 0) & (cat_a >= 0) & (cat_a == cat_l)
    generic = (code_a < 0) & (cat_a < 0)
    deleted = al["del"][q]
    start, stop = al["start"][q], al["stop"][q]
    begin, end = ln["begin"][p], ln["end"][p]
    cand["product_ok"] = specific | aspecific | generic
    cand["spec"] = np.select([specific, aspecific], [0, 1], 2)
    cand["overlap"] = (start <= end) & (stop >= begin)
    cand["contains"] = (start <= begin) & (stop >= end) & ~deleted
    cand["deleted"] = deleted
    cand["rank"] = deleted.astype(int) * 100 + (~cand["contains"].to_numpy()).astype(int) * 10 + cand["spec"].to_numpy()
    return cand.drop(columns="k")


def _best_content(cand: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the unique best candidate per line: _pos, _apos; all tied best candidates of ambiguous lines)."""
    ok = cand[cand["product_ok"] & cand["overlap"]]
    top = ok[ok["rank"] == ok.groupby("_pos")["rank"].transform("min")]
    size = top.groupby("_pos")["_apos"].transform("size")
    return top[size == 1][["_pos", "_apos"]], top[size > 1]


def _match(enc: SimpleNamespace) -> tuple[np.ndarray, np.ndarray]:
    """(allocation position per line, -1 = none; how: 'nummer' / 'inhoud' / None)."""
    pos = np.full(enc.n, -1, dtype="int64")
    how = np.full(enc.n, None, dtype=object)
    rows = np.arange(enc.n)
    num = _number_candidates(enc, rows)
    # one version per number in toewijzingen_actueel; otherwise the newest (highest position)
    num = num[num["aanbieder_ok"]].sort_values(["_pos", "_apos"]).drop_duplicates("_pos", keep="last")
    pos[num["_pos"].to_numpy()] = num["_apos"].to_numpy()
    how[num["_pos"].to_numpy()] = NUMMER
    unique, _ties = _best_content(_content_candidates(enc, rows))
    pos[unique["_pos"].to_numpy()] = unique["_apos"].to_numpy()
    how[unique["_pos"].to_numpy()] = INHOUD
    return pos, how


def match_allocations(lines: pd.DataFrame, alloc: pd.DataFrame) -> pd.DataFrame:
    """The allocation each line draws on: ``toewijzing_id`` (Int64) and ``toewijzing_match``.

    ``toewijzing_match`` is "nummer" (by toewijzingnummer), "inhoud" (on content, for lines
    without a number) or None (nothing found, or ambiguous: ``explain_unmatched`` says why).
    Index = ``lines.index``. Vectorised: keys are factorised to integers, one merge per kind of
    line, then filters and a rank.
    """
    ids = ints(np.zeros(len(lines), dtype="int64"))
    ids[:] = pd.NA
    how = np.full(len(lines), None, dtype=object)
    if len(lines) and len(alloc):
        pos, how = _match(_encode(lines, alloc))
        found = pos >= 0
        ids[found] = alloc["id"].to_numpy()[pos[found]]
    return pd.DataFrame({"toewijzing_id": ids, "toewijzing_match": how}, index=lines.index)


def allocation_columns(lines: pd.DataFrame, alloc: pd.DataFrame) -> pd.DataFrame:
    """``toewijzing_id``, ``toewijzing_match`` (``match_allocations``) and ``toewijzing_uitleg``: for
    a debet without an allocation, why none was found (``explain_unmatched``, TR338's message)."""
    match = match_allocations(lines, alloc)
    unmatched = match["toewijzing_id"].isna().to_numpy() & (lines["debet_credit"] != CREDIT).to_numpy()
    uitleg = pd.Series(None, index=lines.index, dtype=object)
    if unmatched.any():
        uitleg[unmatched] = explain_unmatched(lines[unmatched], alloc).to_numpy()
    return match.assign(toewijzing_match=match["toewijzing_match"].astype(object), toewijzing_uitleg=uitleg)


def _list_text(pos, values, limit: int = 3) -> pd.Series:
    """Per line position: its distinct values joined ('a, b, c and 2 more'), vectorised.

    ``pos`` and ``values`` are aligned; the result is indexed by position.
    """
    df = pd.DataFrame({"pos": np.asarray(pos), "v": pd.Series(np.asarray(values, dtype=object)).astype(object)})
    df = df[df["v"].notna()].drop_duplicates()
    if df.empty:
        return pd.Series(dtype=object)
    df = df.sort_values("pos", kind="mergesort")
    k = df.groupby("pos").cumcount().to_numpy()
    n = df.groupby("pos")["v"].size()
    text = df[k == 0].set_index("pos")["v"].astype(object)
    for j in range(1, limit):
        nth = df[k == j].set_index("pos")["v"].reindex(text.index)
        text = text.where(nth.isna(), text + ", " + nth.astype(object))
    more = (n.reindex(text.index) - limit).clip(lower=0)
    return text.where(more == 0, text + " and " + more.astype(str).astype(object) + " more")


def explain_unmatched(lines: pd.DataFrame, alloc: pd.DataFrame) -> pd.Series:
    """Why a line has no allocation (what was searched and what was found); None when matched."""
    reason = pd.Series([None] * len(lines), dtype=object, index=lines.index)
    if not len(lines):
        return reason
    enc = _encode(lines, alloc)
    pos, _how = _match(enc)
    out = np.full(len(lines), None, dtype=object)
    k = pd.DataFrame({col: text_col(lines, col).to_numpy() for col in TEXT_COLUMNS})
    k["begindatum"] = date_col(lines, "begindatum").to_numpy()
    k["einddatum"] = date_col(lines, "einddatum").to_numpy()
    a_text = {
        col: objects(alloc[col])
        for col in ("toewijzingnummer", "gemeente", "aanbieder", "productcode", "productcategorie")
    }

    numbered = np.flatnonzero((enc.l["nummer"] >= 0) & (pos < 0))
    if len(numbered):
        out[numbered] = _why_numbered(enc, numbered, k, a_text).to_numpy()
    loose = np.flatnonzero((enc.l["nummer"] < 0) & (pos < 0))
    if len(loose):
        out[loose] = _why_loose(enc, loose, k, a_text, alloc).to_numpy()
    reason[:] = out
    return reason


def _why_numbered(
    enc: SimpleNamespace, numbered: np.ndarray, k: pd.DataFrame, a_text: dict[str, np.ndarray]
) -> pd.Series:
    """For lines with a toewijzingnummer that matched nothing: the number is unknown in the
    gemeente (and where it exists), or its allocation is for another aanbieder."""
    sub = k.iloc[numbered]
    text = (
        "toewijzingnummer "
        + sub["toewijzingnummer"].astype(object)
        + " not found for gemeente "
        + sub["gemeente"].fillna("(none)").astype(object)
    )
    # the same number in another gemeente
    lg = pd.DataFrame({"_pos": numbered, "nummer": enc.l["nummer"][numbered]})
    ag = pd.DataFrame({"nummer": enc.a["nummer"], "gem": a_text["gemeente"], "agem": enc.a["gemeente"]})
    elsewhere = lg.merge(ag, on="nummer")
    elsewhere = elsewhere[elsewhere["agem"].to_numpy() != enc.l["gemeente"][elsewhere["_pos"].to_numpy()]]
    hint = pd.Series(numbered).map(_list_text(elsewhere["_pos"], elsewhere["gem"]))
    hint.index = sub.index
    text = text.where(hint.isna(), text + " (it exists for gemeente " + hint.astype(object) + ")")
    other = _number_candidates(enc, numbered)
    other = other[~other["aanbieder_ok"]].drop_duplicates("_pos")
    if len(other):
        q = other["_apos"].to_numpy()
        msg = pd.Series(
            "toewijzing "
            + pd.Series(a_text["toewijzingnummer"][q], dtype=object)
            + " of gemeente "
            + pd.Series(a_text["gemeente"][q], dtype=object)
            + " is for another aanbieder ("
            + pd.Series(a_text["aanbieder"][q], dtype=object)
            + "), not "
            + k["aanbieder"].iloc[other["_pos"].to_numpy()].fillna("(none)").astype(object).to_numpy()
        )
        for_other = pd.Series(numbered).map(pd.Series(msg.to_numpy(), index=other["_pos"].to_numpy()))
        for_other.index = sub.index
        text = text.where(for_other.isna(), for_other)
    return text


def _why_loose(
    enc: SimpleNamespace, loose: np.ndarray, k: pd.DataFrame, a_text: dict[str, np.ndarray], alloc: pd.DataFrame
) -> pd.Series:
    """For lines without a toewijzingnummer that matched nothing: what was searched on content
    and why no candidate fits (other products, no period covered, ambiguous)."""
    sub = k.iloc[loose]
    product = (
        sub["productcode"].fillna("?").astype(object)
        + " (categorie "
        + sub["productcategorie"].fillna("?").astype(object)
        + ")"
    )
    who = (
        "bsn "
        + sub["bsn"].map(mask_bsn, na_action="ignore").fillna("(none)").astype(object)
        + ", aanbieder "
        + sub["aanbieder"].fillna("(none)").astype(object)
        + ", gemeente "
        + sub["gemeente"].fillna("(none)").astype(object)
    )
    searched = (
        "no toewijzingnummer; searched on content ("
        + who
        + ", product "
        + product
        + ", period "
        + date_or(sub["begindatum"])
        + ".."
        + date_or(sub["einddatum"])
        + "): "
    )
    missing_key = (sub["bsn"].isna() | sub["aanbieder"].isna() | sub["gemeente"].isna()).to_numpy()
    text = (searched + "this client has no allocation from this gemeente to this aanbieder").where(
        ~missing_key, searched + "bsn, aanbieder or gemeente is missing on the line"
    )
    cand = _content_candidates(enc, loose)
    if len(cand):
        q = cand["_apos"].to_numpy()
        nummer = pd.Series(a_text["toewijzingnummer"][q], dtype=object)
        code = pd.Series(a_text["productcode"][q], dtype=object)
        cat = pd.Series(a_text["productcategorie"][q], dtype=object).fillna("any")
        cand["product"] = code.fillna("categorie " + cat).to_numpy()
        cand["run"] = (
            nummer
            + " runs "
            + date_or(pd.Series(alloc["ingangsdatum"].to_numpy()[q]))
            + ".."
            + date_or(pd.Series(alloc["einddatum"].to_numpy()[q]), "open")
        ).to_numpy()
        cand["tie"] = (nummer + np.where(cand["deleted"].to_numpy(), " (deleted)", "")).to_numpy()
        _unique, ties = _best_content(cand)
        at = pd.Series(loose)
        products = at.map(_list_text(cand["_pos"], cand["product"])).set_axis(sub.index)
        fitting = cand[cand["product_ok"]]
        runs = at.map(_list_text(fitting["_pos"], fitting["run"])).set_axis(sub.index)
        tied = at.map(_list_text(ties["_pos"], ties["tie"])).set_axis(sub.index)
        text = text.where(
            products.isna(),
            searched + "this client's allocations are for other products: " + products.astype(object),
        )
        text = text.where(
            runs.isna(),
            searched + "no allocation for this product covers the period (toewijzing " + runs.astype(object) + ")",
        )
        text = text.where(
            tied.isna(),
            searched
            + "ambiguous: toewijzingen "
            + tied.astype(object)
            + " fit equally well; declare with the toewijzingnummer",
        )
    return text


def derive(
    lines: pd.DataFrame,
    products: pd.DataFrame,
    toewijzingen: pd.DataFrame,
    import_findings: pd.DataFrame,
    sheets: pd.DataFrame,
    today: dt.date,
    berichten: pd.DataFrame | None = None,
    allocations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Add the engine's derived columns (see Context) to all lines, in place (the frame is the
    run's own: no copy of a million lines); marks resolved import findings. Returns ``lines``."""
    # A gemeente code retired by a merger is judged as the gemeente it became (IV046: the
    # successor carries its obligations): the contract and allocation lookups see the successor,
    # the line keeps the code as written (``gemeente_opvolger``, see ``successor_codes``).
    lines["gemeente_opvolger"] = successor_codes(lines)
    swapped = lines["gemeente_opvolger"].notna().to_numpy()
    written = lines["gemeente"].copy() if swapped.any() else None
    if written is not None:
        lines.loc[swapped, "gemeente"] = lines.loc[swapped, "gemeente_opvolger"].astype(str)
    try:
        alloc = normalised_allocations(toewijzingen) if allocations is None else allocations
        _derive_agreements(lines, products, toewijzingen, import_findings, alloc)
    finally:
        if written is not None:
            lines["gemeente"] = written

    # DeclaratiePeriode of a spreadsheet batch: the latest ProductPeriode month in it
    begin = lines["begindatum"]
    month = begin.dt.year * 12 + begin.dt.month - 1
    now = today.year * 12 + today.month - 1
    latest = month.groupby(lines["batch"]).transform("max").fillna(now).astype("int64")
    lines["declaratieperiode"] = pd.to_datetime(
        pd.DataFrame({"year": latest // 12, "month": latest % 12 + 1, "day": 1})
    )

    # totals per sheet (TR358)
    sheet_key = lines["blad"].astype(object).where(lines["blad"].notna(), "")
    keys = pd.MultiIndex.from_arrays([lines["batch"], sheet_key])
    signed = signed_amount(lines)
    grouped = pd.DataFrame(
        {"batch": lines["batch"], "blad": sheet_key, "signed": signed, "missing": lines["bedrag"].isna()}
    )
    agg = grouped.groupby(["batch", "blad"]).agg(
        total=("signed", "sum"), missing=("missing", "any"), n=("signed", "size")
    )
    agg.loc[agg["missing"], "total"] = np.nan
    lines["blad_totaal"] = ints(agg["total"].reindex(keys).to_numpy())
    lines["blad_regels"] = agg["n"].reindex(keys).to_numpy().astype("int64")
    info = sheets.set_index(["batch", "blad"]) if len(sheets) else None
    if info is not None:
        lines["blad_vermeld_totaal"] = ints(info["vermeld_totaal"].reindex(keys).to_numpy())
        month = info["maand"].reindex(keys).fillna(0).astype("int64").to_numpy()
    else:
        lines["blad_vermeld_totaal"] = no_ints(len(lines))
        month = np.zeros(len(lines), dtype="int64")
    stored = ints(lines["periode_uit_maand"]) if "periode_uit_maand" in lines.columns else no_ints(len(lines))
    bits = np.where(pd.isna(stored), month, np.asarray(stored.fillna(0), dtype="int64"))
    lines["begin_uit_maand"] = (bits & 1) > 0
    lines["eind_uit_maand"] = (bits & 2) > 0
    lines["productperiode_uit_maand"] = lines["begin_uit_maand"].to_numpy() | lines["eind_uit_maand"].to_numpy()
    _clip_months(lines, toewijzingen)
    _message_columns(lines, berichten)
    lines["inhoud_sleutel"] = content_groups(lines)
    lines["referentie_sleutel"], lines["vorig_sleutel"] = reference_keys(lines)
    return lines


def _derive_agreements(
    lines: pd.DataFrame,
    products: pd.DataFrame,
    toewijzingen: pd.DataFrame,
    import_findings: pd.DataFrame,
    alloc: pd.DataFrame,
) -> None:
    """The contract product, the unit and category taken from it, and the allocation of every line."""
    contract = contract_lookup(lines, products)
    for c in contract.columns:
        lines[c] = contract[c]

    # productcategorie from the contract where the file has none
    fill = lines["productcategorie"].isna() & lines["contract_productcategorie"].notna()
    lines["productcategorie_uit_contract"] = fill.to_numpy()
    if fill.any():
        lines.loc[fill, "productcategorie"] = lines.loc[fill, "contract_productcategorie"].astype(str)

    # eenheid "stuks": take 82/84 from the contract
    lines["eenheid_uit_contract"] = False
    if len(import_findings):
        amb = import_findings[
            (import_findings["veld"] == "eenheid")
            & import_findings["melding"].astype(str).str.startswith(AMBIGUOUS_EENHEID)
        ]
        if len(amb):
            unit = lines.set_index("id")["contract_eenheid"]
            cu = amb["regel_id"].map(unit)
            resolved = cu.isin(["82", "84"])
            import_findings.loc[resolved[resolved].index, "opgelost"] = True
            ids = amb.loc[resolved, "regel_id"]
            take = lines["id"].isin(ids) & lines["eenheid"].isna()
            lines.loc[take, "eenheid"] = lines.loc[take, "contract_eenheid"].astype(str)
            lines.loc[take, "eenheid_uit_contract"] = True
    lines["minuutregel"] = ((lines["eenheid"] == "01") & (lines["contract_eenheid"] == "04")).to_numpy()

    for col, values in allocation_columns(lines, alloc).items():
        lines[col] = values
    _resolve_categories(lines, toewijzingen)


def reference_keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of (aanbieder, referentienummer) and (aanbieder, vorig_referentienummer) in
    one code space (-1 when either part is missing): TR314 and credit matching compare these."""
    n = len(frame)
    agb = objects(frame["aanbieder"])
    have = agb != None  # noqa: E711 (elementwise)
    keys, where = [], []
    for col in ("referentienummer", "vorig_referentienummer"):
        ref = objects(frame[col])
        rows = np.flatnonzero(have & (ref != None))  # noqa: E711 -- spreadsheets mostly have none: nothing to join
        keys.append(pd.Series(agb[rows]) + "\x1f" + pd.Series(ref[rows]))
        where.append(rows)
    codes, _ = pd.factorize(pd.concat(keys, ignore_index=True), use_na_sentinel=True)
    out = [np.full(n, -1, dtype="int64"), np.full(n, -1, dtype="int64")]
    out[0][where[0]] = codes[: len(where[0])]
    out[1][where[1]] = codes[len(where[0]) :]
    return out[0], out[1]


def _message_columns(lines: pd.DataFrame, msgs: pd.DataFrame | None) -> None:
    """Lines of a JW323 message: its dates, and its DeclaratiePeriode instead of the derived one."""
    jw323 = msgs[msgs["berichtcode"] == "490"].set_index("batch") if msgs is not None and len(msgs) else None
    xml = lines["batch"].isin(jw323.index) if jw323 is not None else pd.Series(False, index=lines.index)
    lines["bericht"] = xml.to_numpy(dtype=bool)
    for col, src in (
        ("bericht_dagtekening", "dagtekening"),
        ("declaratie_dagtekening", "declaratie_dagtekening"),
        ("declaratieperiode_begin", "declaratieperiode_begin"),
        ("declaratieperiode_eind", "declaratieperiode_eind"),
    ):
        lines[col] = (
            pd.to_datetime(lines["batch"].map(jw323[src]))
            if jw323 is not None
            else pd.Series(pd.NaT, index=lines.index, dtype="datetime64[ns]")
        )
    if xml.any():
        begin = lines.loc[xml, "declaratieperiode_begin"]
        lines.loc[xml, "declaratieperiode"] = begin.dt.to_period("M").dt.to_timestamp().to_numpy()


def _resolve_categories(lines: pd.DataFrame, toewijzingen: pd.DataFrame) -> None:
    """``categorie_afgeleid``/``categorie_bron``: the productcategorie a line without one in its
    file resolves to, for reports (stored in ``afgeleide_categorieen``): the contract product's
    (already in ``productcategorie``, TR381), else the matched allocation's; bron "contract" or
    "toewijzing", None where the file gave it or nothing is known. The rules still see only the
    file's and the contract's category."""
    n = len(lines)
    cat = pd.Series(None, index=lines.index, dtype=object)
    bron = pd.Series(None, index=lines.index, dtype=object)
    from_contract = lines["productcategorie_uit_contract"].to_numpy(dtype=bool)
    cat[from_contract] = lines.loc[from_contract, "productcategorie"].astype(str).to_numpy()
    bron[from_contract] = "contract"
    open_ = lines["productcategorie"].isna().to_numpy() & lines["toewijzing_id"].notna().to_numpy()
    if (
        n
        and open_.any()
        and toewijzingen is not None
        and len(toewijzingen)
        and "productcategorie" in toewijzingen.columns
    ):
        t = toewijzingen.assign(id=ints(toewijzingen["id"])).drop_duplicates("id").set_index("id")["productcategorie"]
        t = t.astype(object).where(t.notna(), None)
        found = lines.loc[open_, "toewijzing_id"].map(t)
        found = found[found.notna()]
        cat[found.index] = found.astype(str).to_numpy()
        bron[found.index] = "toewijzing"
    lines["categorie_afgeleid"] = cat
    lines["categorie_bron"] = bron


def _clip_months(lines: pd.DataFrame, toewijzingen: pd.DataFrame) -> None:
    """A side of the ProductPeriode that a month gave ("maart 2025": the 1st, the 31st) is set to
    the matched allocation's ingangsdatum/einddatum when the allocation starts or ends within that
    month (IV089, TR387/TR388). Only such a side: a date the provider wrote is never moved.

    ``productperiode_afgeleid`` says what was set, per line (None when nothing was): JZ-P01 and
    the allocation rules show it; the store keeps the dates as read."""
    lines["productperiode_afgeleid"] = pd.Series(None, index=lines.index, dtype=object)
    todo = lines["productperiode_uit_maand"] & lines["toewijzing_id"].notna()
    if not todo.any() or toewijzingen is None or toewijzingen.empty:
        return
    t = toewijzingen.assign(id=ints(toewijzingen["id"])).drop_duplicates("id").set_index("id")
    deleted = (
        t["verwijderd"].fillna(False).astype(bool) if "verwijderd" in t.columns else pd.Series(False, index=t.index)
    )
    ids = lines.loc[todo, "toewijzing_id"]
    start = pd.to_datetime(ids.map(t["ingangsdatum"]))
    stop = pd.to_datetime(ids.map(t["einddatum"]))
    nummer = ids.map(t["toewijzingnummer"]).astype(object).fillna("?")
    live = ~ids.map(deleted).fillna(True).astype(bool)
    begin, end = lines.loc[todo, "begindatum"], lines.loc[todo, "einddatum"]
    later = live & lines.loc[todo, "begin_uit_maand"] & start.notna() & (start > begin) & (start <= end)
    earlier = live & lines.loc[todo, "eind_uit_maand"] & stop.notna() & (stop < end) & (stop >= begin)
    if not (later.any() or earlier.any()):
        return
    month = begin.dt.strftime("%Y-%m").astype(object)
    label = " of toewijzing " + nummer + " (IV089)"
    parts = pd.Series("", index=begin.index, dtype=object)
    parts = parts.where(~later, "begindatum " + start.dt.strftime("%Y-%m-%d").astype(object) + " = the ingangsdatum")
    both = later & earlier
    parts = parts.where(
        ~earlier,
        parts.where(~both, parts + ", ")
        + "einddatum "
        + stop.dt.strftime("%Y-%m-%d").astype(object)
        + " = the einddatum",
    )
    text = "ProductPeriode from the month " + month + " (month column), with " + parts + label
    changed = later | earlier
    lines.loc[changed[changed].index, "productperiode_afgeleid"] = text[changed].to_numpy()
    lines.loc[later[later].index, "begindatum"] = start[later].to_numpy()
    lines.loc[earlier[earlier].index, "einddatum"] = stop[earlier].to_numpy()


def mark_credits(lines: pd.DataFrame, credits: pd.DataFrame, candidates: pd.DataFrame, id_index: pd.Index) -> None:
    """Record on ``lines`` (in place) which debet each approved credit cancels: the debet's
    ``gecrediteerd`` becomes True, the credit's ``crediteert`` its id. ``candidates``: the approved
    lines the credits may cancel."""
    if credits.empty:
        return
    links = credit_links(credits, candidates)
    ok = links[links["reden"] == "ok"]
    if "batch" in candidates.columns and len(ok):  # a credit cancels a debet of an earlier batch only
        debet_batch = pd.Series(candidates["batch"].to_numpy(), index=candidates["id"].to_numpy())
        ok = ok[ok["debet_id"].astype("int64").map(debet_batch).to_numpy() < credits.loc[ok.index, "batch"].to_numpy()]
    if ok.empty:
        return
    debet_pos = id_index.get_indexer(pd.Index(ok["debet_id"].astype("int64")))
    credit_pos = id_index.get_indexer(pd.Index(credits.loc[ok.index, "id"]))
    gecrediteerd, crediteert = lines.columns.get_indexer(pd.Index(["gecrediteerd", "crediteert"]))
    # pandas-stubs: iloc's (positions, column position) key is typed too narrowly
    lines.iloc[debet_pos, gecrediteerd] = True  # type: ignore[index]
    lines.iloc[credit_pos, crediteert] = ok["debet_id"].to_numpy()  # type: ignore[index]


_KEY_INPUTS = ["toewijzingnummer", "gemeente_opvolger"]  # what content_groups reads besides CONTENT_COLUMNS


def link_approved_credits(lines: pd.DataFrame, approved: np.ndarray, id_index: pd.Index) -> None:
    """The credit state of lines approved in earlier rounds, in one pass: each approved credit
    cancelled the debet ``credit_links`` finds for it (credits were approved only when that debet
    was still live, so pairing them in id order reproduces what happened batch by batch)."""
    # what credit_links reads, not a copy of every column: the history columns, and the content
    # columns where the keys were not derived (the content key is then computed from them)
    wanted = (
        HISTORY_COLUMNS if "inhoud_sleutel" in lines.columns else [*HISTORY_COLUMNS, *CONTENT_COLUMNS, *_KEY_INPUTS]
    )
    h = lines.loc[approved, [c for c in dict.fromkeys(wanted) if c in lines.columns]]
    credits = h[h["debet_credit"] == CREDIT]
    if len(credits):
        mark_credits(lines, credits.sort_values("id", kind="mergesort"), h[h["debet_credit"] != CREDIT], id_index)
