"""What rules share: the Context every rule receives, and the helpers for reading lines and writing messages.

Also what the engine derives with the same logic the rules use (successor codes, content keys,
credit links): ``jzcli.engine`` imports this module; rules never import the engine.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from jzcli import refdata
from jzcli.domain.agreements import TOEWIJZING_FIELDS
from jzcli.domain.codes import CREDIT, EENHEDEN
from jzcli.domain.findings import FINDING_COLUMNS, empty_findings, mask_value
from jzcli.domain.lines import PROVENANCE
from jzcli.domain.text import euro

T = TypeVar("T")


# Which rule rejects a line whose value for this field could not be read at import. Fields not
# listed here are covered by JZ-I01.
IMPORT_FIELD_RULES = {
    "bsn": "CS002",
    "begindatum": "CS337",
    "einddatum": "CS337",
    "periode": "CS337",
    "volume": "TR346",
    "bedrag": "TR346",
    "tarief": "CD087",
    "gemeente": "TR378",
}


AMBIGUOUS_EENHEID = "ambiguous eenheid"  # start of values.parse_eenheid's message for "stuks"


@dataclass
class Context:
    """What every rule receives.

    ``lines``: the lines being judged now: id, batch, bron, blad, rij and all FIELDS (text as str
    with NaN for missing, begindatum/einddatum datetime64, volume/tarief/bedrag Int64), plus the
    engine's derived columns: toewijzing_id (Int64), toewijzing_match ("nummer" | "inhoud" |
    None), contract_tarief (Int64 cents), contract_eenheid, contract_id (Int64),
    contract_variant, contract_productcategorie, contract_product_found (bool),
    productcategorie_uit_contract, eenheid_uit_contract, minuutregel (eenheid 01 on an hourly
    contract tariff, IV081), declaratieperiode (datetime64, first day of the month; for a
    spreadsheet the latest ProductPeriode month in its batch), begin_uit_maand / eind_uit_maand
    (bool: that side came from a month column), productperiode_uit_maand (either), periode_uit_maand
    (the stored bits, Int64, NA for lines stored before schema 2), productperiode_afgeleid (the
    IV089 clipping done, as text, or None),
    blad_vermeld_totaal / blad_totaal (Int64 cents, TR358), blad_regels, inhoud_sleutel (int64:
    one code per line content, see ``content_groups``; -1 = incomplete), gemeente_opvolger (the
    successor code a retired gemeente code is judged as, else None), referentie_sleutel and
    vorig_sleutel (int64 codes of (aanbieder, referentienummer) / (aanbieder,
    vorig_referentienummer); -1 = missing); for lines of an iJw
    message: bericht (bool), bericht_dagtekening, declaratie_dagtekening,
    declaratieperiode_begin, declaratieperiode_eind (datetime64; NaT for spreadsheet lines).
    Lines of several batches can be judged together, but never two batches of one aanbieder.

    Rule messages (``melding``) never hold a full BSN (use ``mask_bsn``); a finding's
    ``waarde`` may, and is masked on output unless --show-bsn (``mask_value``).

    ``history``: lines approved earlier (earlier rounds, earlier batches), with the columns
    ``HISTORY_COLUMNS`` only (what the history and total rules compare and name), among them
    ``gecrediteerd`` (bool: an approved credit cancels this debet) and ``crediteert`` (Int64: the
    debet id an approved credit cancels).
    """

    lines: pd.DataFrame
    history: pd.DataFrame
    toewijzingen: pd.DataFrame
    products: pd.DataFrame
    import_findings: pd.DataFrame
    today: dt.date
    # Lines of the same batches judged in an earlier phase of this batch (the credits, when the
    # debets are judged), whatever their status.
    earlier_in_batch: pd.DataFrame = field(default_factory=pd.DataFrame)
    # (aanbieder, declaratienummer) → first batch that used it, over all stored lines (TR333).
    declaratienummers: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Every stored iJw message (``load_berichten``): one row per batch with the berichten columns
    # (berichtcode, afzender, ontvanger, identificatie, dagtekening, declaratienummer,
    # declaratieperiode_begin/_eind, declaratie_dagtekening, totaal_ingediend,
    # totaal_debet_credit, xsd_versie), bestand and details (dict). Empty without messages.
    berichten: pd.DataFrame = field(default_factory=pd.DataFrame)
    # False when the earlier months are not in the store (``jzcli check`` without --eerder): a
    # credit whose debet is not found is then not checkable (JZ-H01, a signal), not a rejection.
    history_complete: bool = True
    # The current allocations normalised once per run (``engine.derive.normalised_allocations``):
    # unique ids, oldest version first, codes as text, ``_freq``/``_unit`` as ints, ``_del``.
    allocations: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Facts several rules compute from this context (``shared``), computed once per context.
    _shared: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def shared(self, name: str, compute: Callable[[Context], T]) -> T:
        """``compute(self)``, computed once for this context and then shared by the rules that ask."""
        if name not in self._shared:
            self._shared[name] = compute(self)
        value: T = self._shared[name]
        return value


# Rules that compare a line with earlier months (besides the stateful ones): what ``jzcli check``
# cannot fully judge without them.
EARLIER_RULE_IDS = {"TR056", "TR318", "TR333"}


def no_ints(n: int) -> pd.arrays.IntegerArray:
    """``n`` missing Int64 values (``pd.array([pd.NA] * n)`` builds a Python list: 0.27 s per million)."""
    return pd.arrays.IntegerArray(np.zeros(n, dtype="int64"), np.ones(n, dtype=bool))


def ints(values: object) -> pd.arrays.IntegerArray:
    """``values`` (a Series, array or list) as a nullable Int64 array: pandas' checked conversion."""
    # pandas-stubs: pd.array's overloads take no Series or ExtensionArray, which pandas accepts
    return pd.array(values, dtype="Int64")  # type: ignore[call-overload]


def signed_amount(lines: pd.DataFrame) -> pd.Series:
    """bedrag with the sign of debet_credit (credit negative), 0 where bedrag is missing."""
    bedrag = ints(lines["bedrag"]).fillna(0).astype("int64")
    sign = np.where(lines["debet_credit"].astype(object).to_numpy() == CREDIT, -1, 1)
    return pd.Series(np.asarray(bedrag) * sign, index=lines.index)


def import_failures(ctx: Context, fields: Iterable[str]) -> pd.DataFrame:
    """Findings for the judged lines whose value of one of ``fields`` could not be read.

    kolom = the field, waarde = the raw text in the file, melding e.g.
    "begindatum could not be read ('31-02-2025' in column 'Van'): not a date (no such day)".
    """
    f = unresolved_import_findings(ctx)
    f = f[f["veld"].isin(list(fields))]
    if f.empty:
        return empty_findings()
    raw = f["waarde"].fillna("").astype(str)
    kolom = f["kolom"].fillna("").astype(str)
    shown = pd.Series([str(mask_value(v, w)) for v, w in zip(f["veld"], raw)], index=f.index)
    where = np.where(kolom != "", " in column '" + kolom + "'", "")
    melding = f["veld"].astype(str) + " could not be read ('" + shown + "'" + where + "): " + f["melding"].astype(str)
    return pd.DataFrame(
        {
            "id": f["regel_id"].astype("int64").to_numpy(),
            "kolom": f["veld"].to_numpy(),
            "waarde": raw.to_numpy(),
            "melding": melding.to_numpy(),
        }
    )[FINDING_COLUMNS]


def unresolved_import_findings(ctx: Context) -> pd.DataFrame:
    """Import findings of the judged lines that the engine did not resolve (see eenheid "stuks")."""
    f = ctx.import_findings
    if f is None or f.empty:
        return pd.DataFrame(columns=["regel_id", "veld", "kolom", "waarde", "melding", "opgelost"])
    if "opgelost" in f.columns:
        f = f[~f["opgelost"].astype(bool)]
    return f[f["regel_id"].isin(ctx.lines["id"])] if len(f) else f


def failed_import(ctx: Context, fields: Iterable[str]) -> pd.Series:
    """Bool per judged line (ctx.lines index): a value of one of ``fields`` could not be read."""
    f = unresolved_import_findings(ctx)
    ids = f.loc[f["veld"].isin(list(fields)), "regel_id"]
    if ids.empty:
        return pd.Series(False, index=ctx.lines.index)
    return ctx.lines["id"].isin(ids)


def text_of(s: pd.Series) -> pd.Series:
    """A column as display text ('' for missing); money and dates have their own helpers."""
    return s.astype(object).where(s.notna(), "").astype(str)


def unit_text(code: pd.Series) -> pd.Series:
    """Eenheid codes with their WJ756 name: '04 (Uur)'; ' (?)' for a missing code, unlike
    domain.text.unit_label ('')."""
    return text_of(code) + " (" + code.map(EENHEDEN).fillna("?").astype(str) + ")"


def euro_text(s: pd.Series) -> pd.Series:
    """Cents → '€ 1.234,56' per value (each distinct value formatted once)."""
    values = ints(s)
    codes, uniques = values.factorize()
    texts = np.array([euro(int(u)) for u in uniques] + [""], dtype=object)
    return pd.Series(texts[codes], index=s.index)


def date_text(s: pd.Series) -> pd.Series:
    """Dates → 'YYYY-MM-DD' ('' for missing)."""
    return pd.to_datetime(s).dt.strftime("%Y-%m-%d").fillna("").astype(str)


def month_text(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m").fillna("").astype(str)


def where_text(frame: pd.DataFrame, prefix: str = "") -> pd.Series:
    """'batch 3, huizen.xlsx, sheet 'Declaratie', row 20' from (prefixed) batch/bron/blad/rij columns."""
    b, bron, blad, rij = (frame[prefix + c] for c in ("batch", "bron", "blad", "rij"))
    text = "batch " + text_of(b.astype("Int64")) + ", " + text_of(bron)
    sheet = blad.notna()
    text = text.where(~sheet, text + ", sheet '" + text_of(blad) + "'")
    return text + ", row " + text_of(rij.astype("Int64"))


def half_up_div(numerator: pd.Series, denominator: int) -> pd.Series:
    """round_half_up(numerator / denominator) for non-negative integers, exactly (no floats).

    (2n + d) // 2d equals Decimal(n / d).quantize(1, ROUND_HALF_UP) for n ≥ 0, d > 0.
    """
    n = pd.Series(ints(numerator), index=numerator.index)
    return ((2 * n + denominator) // (2 * denominator)).astype("Int64")


def minute_amount(hourly: pd.Series, minutes: pd.Series) -> pd.Series:
    """IV081: bedrag for minutes on an hourly tariff = round_half_up(hourly × minutes / 60)."""
    product = pd.Series(ints(hourly), index=hourly.index) * pd.Series(ints(minutes), index=hourly.index)
    return half_up_div(product, 60)


def minute_tariff(hourly: pd.Series) -> pd.Series:
    """IV081: the tarief on a line in minutes = round_half_up(hourly / 60) (1,455 → 1,46)."""
    return half_up_div(pd.Series(ints(hourly), index=hourly.index), 60)


def normalised_products(products: pd.DataFrame) -> pd.DataFrame:
    """Contract products with one row per (gemeente, allowed aanbieder or '*')."""
    p = products.copy().reset_index(drop=True)
    cid = next((c for c in ("contract_id", "contract") if c in p.columns), None)
    p["_contract"] = ints(p[cid]) if cid else no_ints(len(p))
    pid = "product_id" if "product_id" in p.columns else ("id" if "id" in p.columns else None)
    p["_product"] = ints(p[pid]) if pid else ints(range(len(p)))
    for c in ("gemeente", "productcategorie", "productcode", "eenheid", "uitvoeringsvariant"):
        p[c] = p[c].astype(object) if c in p.columns else None
    p["tarief"] = ints(p["tarief"]) if "tarief" in p.columns else pd.NA
    p["geldig_van"] = pd.to_datetime(p["geldig_van"]) if "geldig_van" in p.columns else pd.NaT
    p["geldig_tot"] = pd.to_datetime(p["geldig_tot"]) if "geldig_tot" in p.columns else pd.NaT

    def allowed(v) -> list[str]:
        if v is None or (isinstance(v, float) and v != v):
            return ["*"]
        if isinstance(v, str):
            text = v.strip()
            if not text or text.lower() == "null":
                return ["*"]
            try:
                v = json.loads(text)
            except ValueError:
                return [x.strip() for x in text.split(",") if x.strip()] or ["*"]
            if v is None:
                return ["*"]
        if not isinstance(v, (list, tuple)):  # one code, written as a JSON number or string
            v = [v]
        items = [str(x) for x in v]
        return items or ["*"]

    col = p["aanbieders"] if "aanbieders" in p.columns else pd.Series([None] * len(p))
    codes, uniques = pd.factorize(
        col.map(lambda v: json.dumps(v, sort_keys=True, default=str) if not isinstance(v, str) else v),
        use_na_sentinel=False,
    )
    parsed = [allowed(col.iloc[np.flatnonzero(codes == i)[0]]) for i in range(len(uniques))]
    p["_aanbieder"] = [parsed[c] for c in codes] if len(p) else []
    p = p.explode("_aanbieder")
    return p[p["gemeente"].notna() & p["productcode"].notna()].reset_index(drop=True)


def _per_code_and_date(lines: pd.DataFrame, value) -> pd.Series:
    """``value(code, iso begindatum or None)`` for every line with a retired gemeente code,
    computed once per distinct (code, date); None for every other line."""
    out = pd.Series(None, index=lines.index, dtype=object)
    gem = lines["gemeente"]
    codes, uniques = pd.factorize(gem, use_na_sentinel=True)  # a few hundred distinct codes per million lines
    current, old = set(refdata.gemeenten()), refdata.gemeenten_historie_codes()
    wanted = np.array([u in old and u not in current for u in uniques] + [False], dtype=bool)
    retired = pd.Series(wanted[codes], index=lines.index)
    if not retired.any():
        return out
    on = date_text(lines.loc[retired, "begindatum"])
    pairs = pd.DataFrame({"gemeente": gem[retired].astype(str), "on": on.where(on != "", None)})
    values = {
        (g, d): value(g, d if isinstance(d, str) else None) for g, d in pairs.drop_duplicates().itertuples(index=False)
    }
    out[retired] = [values[k] for k in zip(pairs["gemeente"], pairs["on"])]
    return out


def successor_codes(lines: pd.DataFrame) -> pd.Series:
    """Per line, the gemeente its retired code had become by the line's begindatum (chains of
    mergers followed, ``refdata.successors``), else None: a current code, a code not yet retired
    on that date, and a split code with no single successor (the rules say so) keep their own."""

    def single(code: str, on: str | None) -> str | None:
        found = refdata.successors(code, on)
        return found[0] if len(found) == 1 and found[0] != code else None

    return _per_code_and_date(lines, single)


def judged_gemeente(lines: pd.DataFrame) -> pd.Series:
    """The gemeente code a line is judged as: its successor for a merged code, else its own."""
    if "gemeente_opvolger" not in lines.columns:
        return lines["gemeente"]
    succ = lines["gemeente_opvolger"]
    has = succ.notna()
    return lines["gemeente"].where(~has, succ) if has.any() else lines["gemeente"]


def as_successor(lines: pd.DataFrame) -> pd.DataFrame:
    """``lines`` with gemeente = the code it is judged as (a copy only when a code differs)."""
    if "gemeente_opvolger" not in lines.columns or not lines["gemeente_opvolger"].notna().any():
        return lines
    return lines.assign(gemeente=judged_gemeente(lines))


def gemeente_text(lines: pd.DataFrame) -> pd.Series:
    """'0406 (Huizen)', and for a merged code the substitution: '0381 (Bussum) → 1942 (Gooise Meren)'."""
    gem = lines["gemeente"]
    names = {c: refdata.gemeente_naam(c) for c in gem.dropna().unique()}
    if "gemeente_opvolger" in lines.columns:
        names.update({c: refdata.gemeente_naam(c) for c in lines["gemeente_opvolger"].dropna().unique()})

    def label(c) -> str:
        return f"{c} ({names[c]})" if names.get(c) else str(c)

    text = gem.map({c: label(c) for c in names}).astype(object).where(gem.notna(), "")
    if "gemeente_opvolger" in lines.columns:
        succ = lines["gemeente_opvolger"]
        has = succ.notna()
        if has.any():
            text[has] = text[has] + " → " + succ[has].map(label).astype(str)
    return text


def split_text(lines: pd.DataFrame) -> pd.Series:
    """For a line whose retired code was split with no single successor (as of its begindatum):
    'gemeente 0140 (Littenseradiel) was split on 2018-01-01 over 0080 Leeuwarden, ... and has no
    single successor'; None for every other line."""

    def text(code: str, on: str | None) -> str | None:
        found = refdata.successors(code, on)
        if len(found) < 2:
            return None
        row = refdata.retirement(code) or {}
        named = ", ".join(f"{c} {refdata.gemeente_naam(c) or '?'}" for c in found)
        return f"gemeente {code} ({row.get('oude_naam', '?')}) was split on {row.get('ingangsdatum', '?')} over {named} and has no single successor"

    return _per_code_and_date(lines, text)


CONTENT_COLUMNS = ["aanbieder", "gemeente", "bsn", "productcategorie", "productcode", "begindatum", "einddatum"]


CONTENT_REQUIRED = ["aanbieder", "bsn", "productcode", "begindatum", "einddatum"]

# The columns ``Context.history`` holds: what the rules read of earlier approved lines (the keys
# they compare, the values they sum, what a message names). The engine hands the history over
# with these columns only: a million approved lines with every derived column would be a second
# copy of the run's lines. A rule that reads another column of the history adds it here
# (``text_col``/``int_col``/``date_col`` read a missing column as empty: it would not fail).
HISTORY_COLUMNS = [
    "id",
    *PROVENANCE,  # where an earlier line stood, for the messages that name it
    "aanbieder",
    "referentienummer",
    "vorig_referentienummer",
    "referentie_sleutel",
    "vorig_sleutel",
    "inhoud_sleutel",
    "debet_credit",
    "gecrediteerd",
    "crediteert",
    "toewijzing_id",
    "volume",
    "bedrag",
    "eenheid",
]


def content_groups(frame: pd.DataFrame) -> pd.Series:
    """One integer per distinct line content: aanbieder, gemeente, bsn, productcategorie,
    productcode, begindatum, einddatum and the allocation (the matched ``toewijzing_id``, else the
    toewijzingnummer on the line); -1 when aanbieder, bsn, productcode or a date is missing.

    This identifies a debet for TR389/TR416 and a credit's debet when the file has no reference
    numbers. The engine computes it once for all lines (``inhoud_sleutel``)."""
    if frame.empty:
        return pd.Series(dtype="int64", index=frame.index)
    k = pd.DataFrame({c: frame[c] for c in CONTENT_COLUMNS}, index=frame.index)
    k["gemeente"] = judged_gemeente(frame)  # a merged code and its successor's: one gemeente
    tw = (
        pd.Series(ints(frame["toewijzing_id"]), index=frame.index)
        if "toewijzing_id" in frame.columns
        else pd.Series(pd.NA, index=frame.index, dtype="Int64")
    )
    k["_tw_id"] = tw.fillna(-1).astype("int64")
    k["_tw_nr"] = (
        frame["toewijzingnummer"]
        .astype(object)
        .where(tw.isna().to_numpy() & frame["toewijzingnummer"].notna().to_numpy(), "")
    )
    groups = k.groupby(list(k.columns), dropna=False, sort=False).ngroup().astype("int64")
    complete = frame[CONTENT_REQUIRED].notna().all(axis=1)
    return groups.where(complete, -1).astype("int64")


def content_keys(*frames: pd.DataFrame) -> list[pd.Series]:
    """The content key of each frame, comparable across them: the engine's ``inhoud_sleutel``
    when every frame has it, else computed over the frames together."""
    if all("inhoud_sleutel" in f.columns for f in frames):
        return [pd.Series(np.asarray(f["inhoud_sleutel"], dtype="int64"), index=f.index) for f in frames]
    cols = [*CONTENT_COLUMNS, "toewijzingnummer"]
    parts = []
    for f in frames:
        p = pd.DataFrame(
            {c: (f[c] if c in f.columns else pd.Series(None, index=f.index, dtype=object)) for c in cols}, index=f.index
        )
        p["toewijzing_id"] = ints(f["toewijzing_id"]) if "toewijzing_id" in f.columns else no_ints(len(f))
        parts.append(p.reset_index(drop=True))
    joined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    keys = content_groups(joined).to_numpy() if len(joined) else np.array([], dtype="int64")
    out, start = [], 0
    for f in frames:
        out.append(pd.Series(keys[start : start + len(f)], index=f.index, dtype="int64"))
        start += len(f)
    return out


def credit_links(credits: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Which earlier approved debet each credit line cancels.

    Returns one row per credit (index = credits.index): ``debet_id`` (Int64, NA when none),
    ``reden``: "ok", "geen_debet" (TR323: no approved debet to cancel) or "al_gecrediteerd"
    (TR390: the debet was credited already), ``via``: "referentienummer" or "inhoud", and
    ``debet_ref`` (the debet's referentienummer, for messages).

    With a vorig_referentienummer: the approved debet of the same aanbieder with that
    referentienummer. Without one (spreadsheets that have no reference numbers): an approved,
    not yet credited debet with the same content (aanbieder, gemeente, bsn, productcode,
    begindatum, einddatum, allocation when matched) and the same bedrag; several credits of the
    same content take such debets in id order. Within ``credits`` a debet can be taken once: a
    second credit of the same debet gets "al_gecrediteerd".
    """
    n = len(credits)
    out = pd.DataFrame(
        {
            "debet_id": ints([pd.NA] * n),
            "reden": pd.Series(["geen_debet"] * n, dtype=object),
            "via": pd.Series(
                np.where(credits["vorig_referentienummer"].notna(), "referentienummer", "inhoud") if n else [],
                dtype=object,
            ),
            "debet_ref": pd.Series([None] * n, dtype=object),
        },
        index=credits.index,
    )
    if n == 0:
        return out
    h = history
    if h is None or h.empty:
        return out
    debets = h[h["debet_credit"] != CREDIT]
    cred = (
        debets["gecrediteerd"].astype(bool)
        if "gecrediteerd" in debets.columns
        else pd.Series(False, index=debets.index)
    )
    debets = debets.assign(_cred=cred.to_numpy())

    _link_by_reference(credits, debets, out)
    _link_by_content(credits, debets, out)
    return out


def _link_by_reference(credits: pd.DataFrame, debets: pd.DataFrame, out: pd.DataFrame) -> None:
    """``credit_links`` for credits with a vorig_referentienummer: the approved debet of the same
    aanbieder with that referentienummer (``out`` is filled in place)."""
    c = credits[credits["vorig_referentienummer"].notna() & credits["aanbieder"].notna()]
    if len(c):
        if "vorig_sleutel" in c.columns and "referentie_sleutel" in debets.columns:  # the engine's integer keys
            d = debets[debets["referentie_sleutel"].isin(set(c["vorig_sleutel"])).to_numpy()]
        else:
            d = debets[debets["referentienummer"].isin(set(c["vorig_referentienummer"])).to_numpy()]
        left = pd.DataFrame(
            {
                "_idx": c.index,
                "_id": c["id"].to_numpy(),
                "aanbieder": c["aanbieder"].astype(object).to_numpy(),
                "ref": c["vorig_referentienummer"].astype(object).to_numpy(),
            }
        )
        right = pd.DataFrame(
            {
                "aanbieder": d["aanbieder"].astype(object).to_numpy(),
                "ref": d["referentienummer"].astype(object).to_numpy(),
                "d_id": d["id"].to_numpy(),
                "d_cred": d["_cred"].to_numpy(),
            }
        )
        right = right.sort_values("d_id").drop_duplicates(["aanbieder", "ref"], keep="first")
        m = left.merge(right, on=["aanbieder", "ref"], how="inner")
        if len(m):
            m = m.sort_values("_id", kind="mergesort")
            again = m.duplicated("d_id", keep="first").to_numpy() | m["d_cred"].to_numpy()
            out.loc[m["_idx"].to_numpy(), "debet_id"] = m["d_id"].to_numpy()
            out.loc[m["_idx"].to_numpy(), "debet_ref"] = m["ref"].to_numpy()
            out.loc[m["_idx"].to_numpy(), "reden"] = np.where(again, "al_gecrediteerd", "ok")


def _link_by_content(credits: pd.DataFrame, debets: pd.DataFrame, out: pd.DataFrame) -> None:
    """``credit_links`` for credits without a vorig_referentienummer: a free debet with the same
    content and bedrag, in id order (``out`` is filled in place)."""
    c = credits[credits["vorig_referentienummer"].isna()]
    if len(c):
        keys = ["_key", "bedrag"]
        credit_key, debet_key = content_keys(c, debets)
        left = pd.DataFrame(
            {
                "_key": credit_key,
                "bedrag": ints(c["bedrag"]),
                "_idx": c.index,
                "_id": c["id"].to_numpy(),
            },
            index=c.index,
        )
        left = left[(left["_key"] >= 0) & left["bedrag"].notna()]
        left["bedrag"] = left["bedrag"].astype("int64")
        wanted = debet_key.isin(set(left["_key"]))
        d = debets[wanted.to_numpy()]
        right = pd.DataFrame(
            {
                "_key": debet_key[wanted].to_numpy(),
                "bedrag": ints(d["bedrag"]),
                "d_id": d["id"].to_numpy(),
                "d_cred": d["_cred"].to_numpy(),
                "d_ref": d["referentienummer"].astype(object).to_numpy(),
            }
        )
        right = right[right["bedrag"].notna()]
        right["bedrag"] = right["bedrag"].astype("int64")
        if len(left) and len(right):
            left = left.sort_values("_id", kind="mergesort")
            left["_rank"] = left.groupby(keys, dropna=False).cumcount()
            free = right[~right["d_cred"]].sort_values("d_id", kind="mergesort")
            free = free.assign(_rank=free.groupby(keys, dropna=False).cumcount())
            m = left.merge(free[keys + ["_rank", "d_id", "d_ref"]], on=keys + ["_rank"], how="inner")
            out.loc[m["_idx"].to_numpy(), "debet_id"] = m["d_id"].to_numpy()
            out.loc[m["_idx"].to_numpy(), "debet_ref"] = m["d_ref"].to_numpy()
            out.loc[m["_idx"].to_numpy(), "reden"] = "ok"
            # not matched, but a debet with that content was credited before: credited twice
            rest = left[~left["_idx"].isin(m["_idx"])]
            if len(rest):
                done = right[right["d_cred"]].drop_duplicates(keys)
                again = rest.merge(done[keys + ["d_id"]], on=keys, how="inner")
                out.loc[again["_idx"].to_numpy(), "debet_id"] = again["d_id"].to_numpy()
                out.loc[again["_idx"].to_numpy(), "reden"] = "al_gecrediteerd"
                # several credits for one free debet: the ones after the first are "again"
                taken = rest[~rest["_idx"].isin(again["_idx"])].merge(
                    free.drop_duplicates(keys)[keys + ["d_id"]], on=keys, how="inner"
                )
                out.loc[taken["_idx"].to_numpy(), "debet_id"] = taken["d_id"].to_numpy()
                out.loc[taken["_idx"].to_numpy(), "reden"] = "al_gecrediteerd"


NUMMER = "nummer"


INHOUD = "inhoud"


UNIT_LABEL = {"01": "min", "04": "uur", "14": "etmaal", "16": "dagdeel", "82": "stuks", "83": "euro", "84": "stuks"}


TEXT_COLUMNS = ["toewijzingnummer", "bsn", "aanbieder", "gemeente", "productcategorie", "productcode", "eenheid"]


ALLOCATION_COLUMNS = ["id", *TOEWIJZING_FIELDS, "verwijderd"]


def as_text(values, index=None) -> pd.Series:
    """Codes/text as a pandas ``str`` Series, NaN for missing or empty.

    Readers and the store hold canonical values (trimmed codes), so nothing is parsed here.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values, index=index, dtype=object)
    t = s.astype("str")
    return t.mask(t == "")


def text_col(frame: pd.DataFrame, col: str) -> pd.Series:
    if col in frame.columns:
        return as_text(frame[col])
    return pd.Series(np.nan, index=frame.index, dtype="str")


def int_col(frame: pd.DataFrame, col: str) -> pd.Series:
    if col in frame.columns:
        return pd.Series(ints(frame[col]), index=frame.index)
    return pd.Series(no_ints(len(frame)), index=frame.index)


def date_col(frame: pd.DataFrame, col: str) -> pd.Series:
    if col in frame.columns:
        return pd.to_datetime(frame[col])
    return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")


def date_or(s: pd.Series, missing: str = "?") -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m-%d").fillna(missing).astype(object)


def is_scalar(x) -> bool:
    return np.ndim(x) == 0


def day_numbers(x, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Dates → (day numbers since 1970-01-01, missing mask), broadcast to length n."""
    if is_scalar(x):
        if x is None or pd.isna(x):
            return np.full(n, 0, dtype="int64"), np.full(n, True)
        day = int((pd.Timestamp(x).normalize() - pd.Timestamp("1970-01-01")).days)
        return np.full(n, day, dtype="int64"), np.full(n, False)
    arr = np.asarray(pd.to_datetime(pd.Series(list(x)) if not isinstance(x, pd.Series) else x).to_numpy()).astype(
        "datetime64[D]"
    )
    missing = np.isnat(arr)
    return np.where(missing, 0, arr.astype("int64")).astype("int64"), missing


def objects(values) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        # pandas-stubs: to_numpy's na_value does not admit None, which pandas accepts
        return np.asarray(values.to_numpy(dtype=object, na_value=None), dtype=object)  # type: ignore[call-overload,arg-type]
    return np.asarray(values, dtype=object)


def by_distinct(values, convert, missing: int) -> np.ndarray:
    """``convert`` applied to each distinct value once (codes repeat a million times)."""
    codes, uniques = pd.factorize(objects(values), use_na_sentinel=True)
    table = np.array([convert(u) for u in uniques] + [missing], dtype="int64")
    return table[codes]  # code -1 (missing) takes the last entry


def unit_int(values) -> np.ndarray:
    """Eenheid codes (WJ756, a closed list) as ints: '04' → 4; -1 for missing or unknown."""
    return by_distinct(values, lambda u: int(u) if isinstance(u, str) and u in UNIT_LABEL else -1, -1)


def freq_int(values) -> np.ndarray:
    """Frequentie codes (WMO757) as ints 1, 2, 4, 6 (also from '01' or 2); 0 for missing/unknown."""

    def freq(u) -> int:
        for code in (1, 2, 4, 6):
            if u == str(code) or u == f"0{code}" or (u == code and not isinstance(u, bool)):
                return code
        return 0

    return by_distinct(values, freq, 0)
