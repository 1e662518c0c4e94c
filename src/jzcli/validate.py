"""``jzcli validate``: judge stored declaration lines with the registered rules and keep the verdicts.

How a run works
    1. The lines a run needs are loaded once: every line of the aanbieders that have lines to
       judge (history rules compare within one aanbieder) and every line of the batches being
       judged, with the current allocations (``agreements.toewijzingen_actueel``) and contract
       products (``agreements.contract_products_exploded``).
    2. The engine derives, once for all lines, what several rules need: the contract product that
       applies to each line (``contract_*`` columns: same gemeente, an aanbieder the contract allows
       (no list = all), same productcode, geldig_van ≤ begindatum ≤ geldig_tot), the allocation each
       line draws on (``toewijzing_id``/``toewijzing_match`` from ``rules.allocation.match_allocations``),
       the DeclaratiePeriode of each batch and the totals per sheet.
    3. Level 2 first (``is_level2``: the iJw level-2 rules, code 0001, and JZ-I01): a line
       rejected there counts as not sent, as iJw does with a message that fails level 2, so the
       other rules neither judge it nor count it (it does not add to volume totals, for example).
    4. Rules that look at one line at a time (plus static data: contracts, allocations, the
       batch's derived columns) run once over all lines to judge. Rules whose verdict depends on
       other lines (``stateful``: TR314, TR389, TR323, TR390 and the allocation totals TR322,
       TR369) run batch by batch in import order, where the history of a batch is every line
       approved before it: in earlier rounds, and in earlier batches of this run. Within a batch
       credit lines are judged before debet lines (OP366), so a correction (credit + new debet)
       may travel in one file. Batches that share no aanbieder (and no allocation) cannot
       influence each other, so they are judged together in one step; the result is the same
       as one batch at a time, only faster.
    5. Per line the status is ``goedgekeurd`` when no finding of severity afkeur was made, else
       ``afgekeurd``. Verdicts go to ``beoordelingen``, findings to ``bevindingen``, with the run
       number (``ronde``). Every batch is written in one transaction (a run that is interrupted
       leaves whole batches judged and the rest unjudged); ``opnieuw=True`` deletes the old
       verdicts and writes all new ones in ONE transaction, so an interrupted re-run leaves the
       old verdicts intact.

Filters (gemeente, aanbieder, batch) narrow which lines are judged, never the history: every
approved line counts as history, whatever the filter.

Derived data the engine decides (documented here because rules rely on it):
    * gemeente_opvolger: a gemeente code retired by a merger or rename is judged as the gemeente
      it had become by the line's begindatum (``successor_codes``; chains followed; IV046: the
      successor carries the obligations): contract and allocation lookups and the content key
      (TR389/TR416) use that code, the line keeps its own (``gemeente`` is never changed). A
      split code with no single successor keeps its own code (JZ-C01/TR338 say why).
    * productcategorie: spreadsheets often leave it out; it is taken from the contract product
      that applies (``productcategorie_uit_contract`` = True). TR381 only judges categories the
      provider wrote.
    * eenheid "stuks": ambiguous (82 or 84). When the contract product for the line is in 82 or 84
      that unit is used (``eenheid_uit_contract``) and JZ-I03 (signaal) says so; otherwise JZ-I01
      rejects the line with the import message.
    * DeclaratiePeriode of a spreadsheet (which has none): the latest ProductPeriode month in the
      batch (TR319). A spreadsheet line can therefore never be after it; months in the future
      are rejected by TR134/TR137 (not after today).
    * Sheet totals (TR358): when a file states a total for a sheet (``vermeld_totaal`` in the
      batch details, cents) it is compared with Σ debet − Σ credit of all the sheet's lines.

iJw XML messages (JW323; batches with a ``berichten`` row) are judged in the standard's levels
(§6, §11 of the reference). Before a batch's lines go through the phases above, the lines of each
message meet the message rules, in three tiers, each only for the messages the tier before let
through:
    1. niveau ``bericht`` with code 0001 (level 2: CS/CD and the in-message TRs),
    2. niveau ``bericht`` with another code (the Header at level 3/4: TR056 9056, TR135 8848,
       TR378 S300),
    3. niveau ``declaratie`` (TR333 9333, TR318 8214: a message holds one declaration).
An afkeur finding in a tier rejects the WHOLE message: every line gets status afgekeurd; the
line(s) that broke it keep their finding, every other line gets a finding of the same rule and
code pointing at it ("message rejected: TR101 on line 57: …", "declaration rejected: TR333 …").
Such a message counts as not sent: its lines are not judged further and never become history.
The lines of a message that passes go through the phases like any others (the bericht and
declaratie rules do not run on them again). Spreadsheet lines never meet the tiers: for them a
bericht-level rule rejects the line that breaks it, as it always did. For message lines the
engine also derives ``bericht`` (True), ``bericht_dagtekening`` (Header Dagtekening: what
TR134/TR137 compare with instead of today), ``declaratie_dagtekening`` (TR335),
``declaratieperiode_begin``/``_eind`` and ``declaratieperiode`` (the month of the message's
DeclaratiePeriode, TR319); the message total is compared like a sheet total (TR358).

Values that could not be read at import are stored empty with an import finding. Such a line is
never skipped: the rule that needs the value rejects it and shows the raw text (see
``IMPORT_FIELD_RULES``); JZ-I01 rejects unreadable values no other rule covers.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from jzcli import refdata
from jzcli.domain.lines import CREDIT, DATE_FIELDS, FIELDS, INT_FIELDS
from jzcli.domain.text import euro, mask_bsn, mask_bsns_in
from jzcli.errors import StoreError
from jzcli.rules.registry import AFKEUR, BERICHT, DECLARATIE, FINDING_COLUMNS, RULES, Rule
from jzcli.store.store import (
    Store,
    afgeleide_categorieen,
    batches,
    beoordelingen,
    berichten,
    bevindingen,
    declaratieregels,
    importbevindingen,
)

GOEDGEKEURD = "goedgekeurd"
AFGEKEURD = "afgekeurd"

LINE_COLUMNS = ["id", "batch", "bron", "blad", "rij", *FIELDS, "periode_uit_maand"]

# Rule modules, imported in this order so they register (the registry order is the report order).
RULE_MODULES = (
    "jzcli.rules.message",
    "jzcli.rules.line",
    "jzcli.rules.contract",
    "jzcli.rules.allocation",
    "jzcli.rules.history",
)

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

# One finding record (JSON/CSV output): exactly these keys, in this order.
RECORD_KEYS = [
    "batch",
    "bron",
    "blad",
    "rij",
    "kolom",
    "waarde",
    "regel",
    "retourcode",
    "omschrijving",
    "melding",
    "ernst",
    "status",
]

FINDING_FRAME_COLUMNS = ["regel_id", *RECORD_KEYS]

AMBIGUOUS_EENHEID = "ambiguous eenheid"  # start of values.parse_eenheid's message for "stuks"


# ============================================================================ the context
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

    ``history``: lines approved earlier (earlier rounds, earlier batches), same columns, plus
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


# Rules that compare a line with earlier months (besides the stateful ones): what ``jzcli check``
# cannot fully judge without them.
EARLIER_RULE_IDS = {"TR056", "TR318", "TR333"}


@dataclass
class ValidationResult:
    """The outcome of one run: a verdict per judged line and every finding."""

    ronde: int | None
    verdicts: pd.DataFrame  # regel_id, batch, bron, blad, rij, aanbieder, gemeente, bedrag, debet_credit, status
    findings: pd.DataFrame  # FINDING_FRAME_COLUMNS

    @property
    def judged(self) -> int:
        return len(self.verdicts)

    @property
    def rejected(self) -> int:
        return int((self.verdicts["status"] == AFGEKEURD).sum())

    @property
    def approved(self) -> int:
        return int((self.verdicts["status"] == GOEDGEKEURD).sum())

    def amount(self, status: str) -> int:
        """Σ debet − Σ credit (cents) of the judged lines with this status."""
        v = self.verdicts[self.verdicts["status"] == status]
        return int(signed_amount(v).sum())


# ============================================================================ helpers for rules
def no_ints(n: int) -> pd.arrays.IntegerArray:
    """``n`` missing Int64 values (``pd.array([pd.NA] * n)`` builds a Python list: 0.27 s per million)."""
    return pd.arrays.IntegerArray(np.zeros(n, dtype="int64"), np.ones(n, dtype=bool))


def signed_amount(lines: pd.DataFrame) -> pd.Series:
    """bedrag with the sign of debet_credit (credit negative), 0 where bedrag is missing."""
    bedrag = pd.array(lines["bedrag"], dtype="Int64").fillna(0).astype("int64")
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


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series(dtype="int64"),
            "kolom": pd.Series(dtype=object),
            "waarde": pd.Series(dtype=object),
            "melding": pd.Series(dtype=object),
        }
    )


def make_findings(
    lines: pd.DataFrame, melding: pd.Series | str, kolom: str | None, waarde: pd.Series | None = None
) -> pd.DataFrame:
    """Findings for the rows of ``lines`` (a filtered ctx.lines): aligned Series or scalars."""
    frame = pd.DataFrame({"id": lines["id"].astype("int64").to_numpy()})
    frame["kolom"] = kolom
    if waarde is None:
        frame["waarde"] = None
    else:
        w = waarde.astype(object).where(waarde.notna(), None) if isinstance(waarde, pd.Series) else waarde
        frame["waarde"] = w.to_numpy() if isinstance(w, pd.Series) else w
    frame["melding"] = melding.astype(str).to_numpy() if isinstance(melding, pd.Series) else melding
    return frame[FINDING_COLUMNS]


def concat_findings(*frames: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return empty_findings()
    return pd.concat(frames, ignore_index=True)[FINDING_COLUMNS]


def text_of(s: pd.Series) -> pd.Series:
    """A column as display text ('' for missing); money and dates have their own helpers."""
    return s.astype(object).where(s.notna(), "").astype(str)


def euro_text(s: pd.Series) -> pd.Series:
    """Cents → '€ 1.234,56' per value (each distinct value formatted once)."""
    values = pd.array(s, dtype="Int64")
    codes, uniques = pd.factorize(values)
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
    n = pd.array(numerator, dtype="Int64")
    return pd.Series((2 * n + denominator) // (2 * denominator), index=numerator.index, dtype="Int64")


def minute_amount(hourly: pd.Series, minutes: pd.Series) -> pd.Series:
    """IV081: bedrag for minutes on an hourly tariff = round_half_up(hourly × minutes / 60)."""
    product = pd.Series(pd.array(hourly, dtype="Int64") * pd.array(minutes, dtype="Int64"), index=hourly.index)
    return half_up_div(product, 60)


def minute_tariff(hourly: pd.Series) -> pd.Series:
    """IV081: the tarief on a line in minutes = round_half_up(hourly / 60) (1,455 → 1,46)."""
    return half_up_div(pd.Series(pd.array(hourly, dtype="Int64"), index=hourly.index), 60)


# ============================================================================ registry access
FAMILY_ORDER = ("message", "line", "contract", "allocation", "history")


def rule_sort_key(r: Rule) -> tuple[int, int]:
    """Report order: by family (line, contract, allocation, history), then registration order."""
    fam = FAMILY_ORDER.index(r.family) if r.family in FAMILY_ORDER else len(FAMILY_ORDER)
    return fam, r.order


def rule_rank(rule_id: str) -> int:
    """An integer sort key for a rule id (unknown ids last)."""
    r = RULES.get(rule_id)
    if r is None:
        return 10**9
    fam, order = rule_sort_key(r)
    return fam * 100_000 + order


def load_rules() -> dict[str, Rule]:
    """Import the rule modules (each registers its rules) and return the registry.

    ``jzcli.rules.allocation`` is imported only when it exists.
    """
    for name in RULE_MODULES:
        if name in _LOADED:
            continue
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name)
        _LOADED.add(name)
    return RULES


_LOADED: set[str] = set()


def rules_frame() -> pd.DataFrame:
    """The registry as a frame: regel, retourcode, ernst, niveau, family, titel, omschrijving."""
    rules = load_rules()
    return pd.DataFrame(
        [
            {
                "regel": r.id,
                "retourcode": r.retourcode,
                "ernst": r.ernst,
                "niveau": r.niveau,
                "family": r.family,
                "titel": r.titel,
                "omschrijving": r.omschrijving,
            }
            for r in sorted(rules.values(), key=rule_sort_key)
        ],
        columns=["regel", "retourcode", "ernst", "niveau", "family", "titel", "omschrijving"],
    )


def rules_records() -> list[dict]:
    return rules_frame().to_dict(orient="records")


def rules_markdown() -> str:
    """The README's rule table (between the ``<!-- rules:start -->`` and ``<!-- rules:end -->`` markers)."""
    frame = rules_frame()
    lines = [
        "| rule | retourcode | ernst | niveau | what is checked | omschrijving (retourcode) |",
        "|---|---|---|---|---|---|",
    ]
    for r in frame.itertuples():
        cells = [r.regel, r.retourcode, r.ernst, r.niveau, r.titel, r.omschrijving]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


README_START = "<!-- rules:start -->"
README_END = "<!-- rules:end -->"


def sync_readme_rules(path) -> bool:
    """Rewrite the rule table between the markers in README ``path``; True when it changed."""
    from pathlib import Path

    p = Path(path)
    text = p.read_text(encoding="utf-8")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    new = text[:start] + "\n" + rules_markdown() + text[end:]
    if new != text:
        p.write_text(new, encoding="utf-8")
        return True
    return False


# ============================================================================ loading
def _typed_column(col: str, values: np.ndarray) -> pd.Series:
    """The driver's values of a date or text line column → its Context type: datetime64 (SQLite
    gives ISO text, PostgreSQL dates) or str with NaN for missing."""
    s = pd.Series(values, dtype=object)
    if col in DATE_FIELDS:
        if pd.api.types.infer_dtype(s, skipna=True) == "string":
            return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
        return pd.to_datetime(s.where(s.notna(), None), errors="coerce")
    return s.where(s.notna(), np.nan).astype("str")


_NUMBER_COLUMNS = {"id", "batch", "rij", "periode_uit_maand", *INT_FIELDS}


def _read_lines(store: Store, query) -> dict:
    """The selected line columns, typed, straight from the raw driver cursor.

    READ_CHUNK rows at a time: numbers are collected as they come; every other column is
    factorised per chunk, so its distinct values are typed once (a million lines hold a few
    hundred dates and codes) and a repeated value is one shared object, not one per line.
    """
    parts: dict[str, list] = {}

    def take(names: list[str], rows: list[tuple]) -> None:
        block = np.empty((len(rows), len(names)), dtype=object)
        block[:] = rows
        for j, name in enumerate(names):
            col = block[:, j]
            parts.setdefault(name, []).append(_numbers(name, col) if name in _NUMBER_COLUMNS else _factorize32(col))

    names = store.read_chunks(query, take)
    data = {}
    for name in names:
        chunks = parts.pop(name, [])
        if name in _NUMBER_COLUMNS:
            values = np.concatenate([v for v, _ in chunks]) if chunks else np.array([], dtype="int64")
            missing = np.concatenate([m for _, m in chunks]) if chunks else np.array([], dtype=bool)
            data[name] = values if name in ("id", "batch") else pd.arrays.IntegerArray(values, missing)
            continue
        # one vocabulary over the chunks; each chunk's codes mapped into it
        vocab, start, codes = [np.asarray(u, dtype=object) for _, u in chunks], 0, []
        joint, uniques = pd.factorize(np.concatenate(vocab) if vocab else np.array([], dtype=object))
        for (c, _), u in zip(chunks, vocab):
            recode = np.append(joint[start : start + len(u)], -1)  # code -1 (NULL) stays -1
            codes.append(recode[c])
            start += len(u)
        typed = _typed_column(name, np.asarray(uniques, dtype=object))
        taken = typed.array.take(np.concatenate(codes) if codes else np.array([], dtype="int64"), allow_fill=True)
        data[name] = taken
    return data


def _factorize32(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype("int32"), uniques  # a chunk holds at most READ_CHUNK distinct values


def _numbers(name: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A chunk of a number column from the driver's objects: int64 values (0 where NULL) and the
    NULL mask, in one conversion when the driver gave ints."""
    missing = pd.isna(values)
    filled = values.copy()
    filled[missing] = 0
    if pd.api.types.infer_dtype(filled, skipna=False) == "integer":
        return filled.astype("int64"), missing
    # anything else (2.0 from a REAL cell, text): pandas' checked conversion, which refuses 2.5
    typed = pd.array(pd.Series(values, dtype=object).where(~missing, None), dtype="Int64")
    return typed.to_numpy(dtype="int64", na_value=0), np.asarray(typed.isna())


def _no_values(col: str, n: int):
    """A line column no line fills, in its Context type."""
    if col in DATE_FIELDS:
        return pd.Series(pd.NaT, index=pd.RangeIndex(n), dtype="datetime64[us]")
    if col in _NUMBER_COLUMNS:
        return no_ints(n)
    return pd.Series(np.nan, index=pd.RangeIndex(n), dtype="str")


def load_lines(store: Store, where=None) -> pd.DataFrame:
    """Stored declaration lines with the Context column types, in id (import) order."""
    t = declaratieregels
    # Columns no line in scope fills (spreadsheets leave many iJw fields out) are not fetched:
    # reading is per cell, and one counting pass costs far less than a million NULLs.
    counted = [c for c in LINE_COLUMNS if t.c[c].nullable]
    count = sa.select(*[sa.func.count(t.c[c]) for c in counted])
    if where is not None:
        count = count.where(where)
    with store.engine.connect() as conn:
        filled = conn.execute(count).one()
    empty = {c for c, n in zip(counted, filled) if not n}
    query = sa.select(*[t.c[c] for c in LINE_COLUMNS if c not in empty]).order_by(t.c.id)
    if where is not None:
        query = query.where(where)
    data = _read_lines(store, query)
    n = len(data["id"])
    # copy=False: the columns are this frame's own; a copy would cost ~100 MB per million lines
    return pd.DataFrame(
        {c: data.pop(c) if c in data else _no_values(c, n) for c in LINE_COLUMNS}, index=pd.RangeIndex(n), copy=False
    )


NOTHING = object()


def _relevant_lines(store: Store, opnieuw: bool, gemeente, aanbieder, batch):
    """A where clause for the lines a run needs: every line of the aanbieders whose lines are to be
    judged (their history: every history rule compares within one aanbieder) and every line of
    the batches being judged (sheet totals, DeclaratiePeriode). None = all lines; NOTHING =
    nothing to judge."""
    t = declaratieregels
    scope = _scope_sql(gemeente, aanbieder, batch)
    if opnieuw and scope is None:
        return None
    query = sa.select(t.c.batch, t.c.aanbieder).distinct()
    if not opnieuw:
        query = query.select_from(t.outerjoin(beoordelingen, beoordelingen.c.regel_id == t.c.id)).where(
            beoordelingen.c.regel_id.is_(None)
        )
    if scope is not None:
        query = query.where(scope)
    with store.engine.connect() as conn:
        pairs = conn.execute(query).all()
    if not pairs:
        return NOTHING
    batch_ids = sorted({int(b) for b, _ in pairs})
    agbs = sorted({a for _, a in pairs if a is not None})
    conditions = [t.c.batch.in_(batch_ids), t.c.aanbieder.is_(None)]
    if agbs:
        conditions.append(t.c.aanbieder.in_(agbs))
    relevant = sa.or_(*conditions)
    # Most runs need every stored line (a first run, or new files of every aanbieder): then no
    # condition at all, so the lines are read straight through the table in id order instead of
    # gathered through three indexes and sorted (1 M lines: ~1 s). One row outside ends the scan.
    with store.engine.connect() as conn:
        if conn.execute(sa.select(t.c.id).where(sa.not_(relevant)).limit(1)).first() is None:
            return None
    return relevant


REFUSED_DELETION = "TR385"  # the import finding that refuses an allocation deletion (agreements skips the version)


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
    agreements = _agreements()
    v = versions
    reden = v["reden_wijziging"].astype(object)
    same = (pd.to_datetime(v["einddatum"]) == pd.to_datetime(v["ingangsdatum"])).fillna(False).to_numpy()
    deleting = ((reden == "13").fillna(False).to_numpy()) | ((reden == "01").fillna(False).to_numpy() & same)
    if not deleting.any():
        return []
    current = agreements.toewijzingen_actueel(store)
    if current.empty:
        return []
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
        return []
    stored_when = pd.to_datetime(cur["toewijzingsdatum"]).reindex(keys[found]).to_numpy()
    last = last[pd.isna(stored_when) | (last["_when"].to_numpy() >= stored_when)]
    if last.empty:
        return []
    alloc_id = (
        cur["id"]
        .reindex(pd.MultiIndex.from_arrays([last["gemeente"].astype(object), last["toewijzingnummer"].astype(object)]))
        .to_numpy()
    )
    # the approved lines of the aanbieders concerned, matched and credit-linked as validate does
    t = declaratieregels
    agbs = sorted({a for a in last["aanbieder"].dropna().astype(str)})
    where = t.c.id.in_(sa.select(beoordelingen.c.regel_id).where(beoordelingen.c.status == GOEDGEKEURD))
    if agbs:
        where = sa.and_(where, t.c.aanbieder.in_(agbs))
    lines = load_lines(store, where)
    if lines.empty:
        return []
    lines["gemeente_opvolger"] = successor_codes(lines)
    lines["toewijzing_id"] = _match_allocations(as_successor(lines), current)["toewijzing_id"].to_numpy()
    lines["gecrediteerd"] = False
    lines["crediteert"] = no_ints(len(lines))
    _link_approved_credits(lines, np.ones(len(lines), dtype=bool), pd.Index(lines["id"]))
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
                "rij": int(row.rij),
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


def rejected_messages(store: Store, tier_rules: Iterable[str]) -> set[int]:
    """The JW323 batches rejected as a whole in earlier rounds (an afkeur finding of a message
    tier rule, niveau bericht or declaratie: level 2, the Header, the declaration). They count
    as not sent (OP286, IV087; §6 of the reference)."""
    rules = sorted(tier_rules)
    if not rules:
        return set()
    t, f = declaratieregels, bevindingen
    query = (
        sa.select(t.c.batch)
        .distinct()
        .select_from(f.join(t, f.c.regel_id == t.c.id).join(berichten, berichten.c.batch == t.c.batch))
        .where(f.c.ernst == AFKEUR, f.c.regel.in_(rules))
    )
    with store.engine.connect() as conn:
        return {int(b) for (b,) in conn.execute(query)}


def _last_round(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(beoordelingen.c.ronde))).scalar() or 0)


def _load_verdicts(store: Store, where=None) -> pd.DataFrame:
    query = sa.select(beoordelingen.c.regel_id, beoordelingen.c.status, beoordelingen.c.ronde)
    if where is not None:
        query = query.where(beoordelingen.c.regel_id.in_(sa.select(declaratieregels.c.id).where(where)))
    v = store.read_frame(query)
    if v.empty:
        return pd.DataFrame(
            {"regel_id": pd.Series(dtype="int64"), "status": pd.Series(dtype=object), "ronde": pd.Series(dtype="int64")}
        )
    return v.astype({"regel_id": "int64", "ronde": "int64"})


def _load_import_findings(store: Store) -> pd.DataFrame:
    t = importbevindingen
    f = store.read_frame(
        sa.select(t.c.regel_id, t.c.veld, t.c.kolom, t.c.waarde, t.c.regel, t.c.melding)
        .where(t.c.regel_id.is_not(None))
        .order_by(t.c.id)
    )
    if f.empty:
        f = pd.DataFrame(columns=["regel_id", "veld", "kolom", "waarde", "regel", "melding"])
    f["regel_id"] = pd.array(f["regel_id"], dtype="Int64").astype("int64") if len(f) else pd.Series(dtype="int64")
    for c in ("veld", "kolom", "waarde", "regel", "melding"):
        f[c] = f[c].astype(object)
    f["opgelost"] = False
    return f


BERICHT_DATES = ("dagtekening", "declaratieperiode_begin", "declaratieperiode_eind", "declaratie_dagtekening")


def load_berichten(store: Store) -> pd.DataFrame:
    """Every stored iJw message: the berichten columns, the batch's ``bestand`` and ``details``
    (dict), one row per batch in batch order; dates as datetime64, totaal_ingediend Int64."""
    m = berichten
    cols = [c.name for c in m.columns]
    f = store.read_frame(
        sa.select(m, batches.c.bestand, batches.c.details).join(batches, batches.c.id == m.c.batch).order_by(m.c.batch)
    )
    if f.empty:
        f = pd.DataFrame({c: pd.Series(dtype=object) for c in [*cols, "bestand", "details"]})
    f["batch"] = pd.array(f["batch"], dtype="Int64").astype("int64") if len(f) else pd.Series(dtype="int64")
    for c in BERICHT_DATES:
        f[c] = pd.to_datetime(f[c].astype(object).where(f[c].notna(), None), errors="coerce")
    f["totaal_ingediend"] = pd.array(
        f["totaal_ingediend"].astype(object).where(f["totaal_ingediend"].notna(), None), dtype="Int64"
    )
    for c in cols:
        if c not in ("batch", "totaal_ingediend", *BERICHT_DATES):
            f[c] = f[c].astype(object).where(f[c].notna(), None)

    def parse(d):
        try:
            return json.loads(d) if isinstance(d, str) else (d or {})
        except ValueError:
            return {}

    f["details"] = f["details"].map(parse).astype(object)
    return f.reset_index(drop=True)


def _load_sheets(store: Store) -> pd.DataFrame:
    """Per imported sheet (batch, blad): the total the file states (cents or NA) and which sides
    of the ProductPeriode a month column gave (``maand``: bit 1 begin, bit 2 end), for lines stored
    before the store kept that per line (``periode_uit_maand`` NULL)."""
    b = store.read_frame(sa.select(batches.c.id, batches.c.details).where(batches.c.soort == "declaraties"))
    rows = []
    for bid, details in zip(b.get("id", []), b.get("details", [])):
        try:
            data = json.loads(details or "{}")
        except ValueError:
            continue
        for sheet in data.get("sheets", []) or []:
            total = sheet.get("vermeld_totaal")
            columns = sheet.get("kolommen") or {}
            month = 0
            if "periode" in columns:
                month = (0 if "begindatum" in columns else 1) | (0 if "einddatum" in columns else 2)
            rows.append(
                {
                    "batch": int(bid),
                    "blad": sheet.get("blad"),
                    "vermeld_totaal": None if total is None else int(total),
                    "maand": month,
                }
            )
    frame = pd.DataFrame(rows, columns=["batch", "blad", "vermeld_totaal", "maand"])
    frame["blad"] = frame["blad"].astype(object).where(frame["blad"].notna(), "")
    frame["vermeld_totaal"] = pd.array(frame["vermeld_totaal"], dtype="Int64")
    return frame.drop_duplicates(["batch", "blad"])


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
    stored = (
        pd.array(lines["periode_uit_maand"], dtype="Int64")
        if "periode_uit_maand" in lines.columns
        else no_ints(len(lines))
    )
    bits = np.asarray(stored.fillna(-1), dtype="int64")
    old = bits < 0
    if old.any():
        sheets = _load_sheets(store)
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


def _agreements():
    if importlib.util.find_spec("jzcli.store.agreements") is None:
        return None
    return importlib.import_module("jzcli.store.agreements")


def load_toewijzingen(store: Store) -> pd.DataFrame:
    """The current version of every allocation (``agreements.toewijzingen_actueel``)."""
    mod = _agreements()
    if mod is None or not hasattr(mod, "toewijzingen_actueel"):
        return _empty_toewijzingen()
    frame = mod.toewijzingen_actueel(store)
    return frame.reset_index(drop=True) if frame is not None else _empty_toewijzingen()


def load_products(store: Store) -> pd.DataFrame:
    """Contract products, one row per gemeente (``agreements.contract_products_exploded``)."""
    mod = _agreements()
    if mod is None or not hasattr(mod, "contract_products_exploded"):
        return _empty_products()
    frame = mod.contract_products_exploded(store)
    return frame.reset_index(drop=True) if frame is not None else _empty_products()


def _empty_toewijzingen() -> pd.DataFrame:
    cols = [
        "id",
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
        "verwijderd",
    ]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).assign(id=pd.Series(dtype="int64"))


def _empty_products() -> pd.DataFrame:
    cols = [
        "contract",
        "gemeente",
        "aanbieders",
        "productcategorie",
        "productcode",
        "eenheid",
        "tarief",
        "uitvoeringsvariant",
        "geldig_van",
        "geldig_tot",
    ]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})


# ============================================================================ derived columns
def _norm_products(products: pd.DataFrame) -> pd.DataFrame:
    """Contract products with one row per (gemeente, allowed aanbieder or '*')."""
    p = products.copy().reset_index(drop=True)
    cid = next((c for c in ("contract_id", "contract") if c in p.columns), None)
    p["_contract"] = pd.array(p[cid], dtype="Int64") if cid else no_ints(len(p))
    pid = "product_id" if "product_id" in p.columns else ("id" if "id" in p.columns else None)
    p["_product"] = pd.array(p[pid], dtype="Int64") if pid else pd.array(range(len(p)), dtype="Int64")
    for c in ("gemeente", "productcategorie", "productcode", "eenheid", "uitvoeringsvariant"):
        p[c] = p[c].astype(object) if c in p.columns else None
    p["tarief"] = pd.array(p["tarief"], dtype="Int64") if "tarief" in p.columns else pd.NA
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
    p = _norm_products(products) if n and products is not None and not products.empty else None
    row = _contract_rows(lines, p) if p is not None and not p.empty else np.full(n, -1, dtype="int64")
    found = row >= 0
    take = np.maximum(row, 0)
    out = {}
    for c, dtype in CONTRACT_COLUMNS.items():
        src = CONTRACT_SOURCE[c]
        if dtype == "Int64":
            values = pd.array(p[src], dtype="Int64") if found.any() else None
            data = np.zeros(n, dtype="int64")
            mask = ~found
            if values is not None:
                data[found] = values.to_numpy(dtype="int64", na_value=0)[take[found]]
                mask = mask | np.asarray(values.isna())[take]
            out[c] = pd.Series(pd.arrays.IntegerArray(data, mask), index=lines.index)
        else:
            data = np.full(n, None, dtype=object)
            if found.any():
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
    return index.get_indexer(values.to_numpy(dtype=object, na_value=None))


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
        contract = pd.array(p["_contract"], dtype="Int64").to_numpy(dtype="int64", na_value=big)[pr]
        product = pd.array(p["_product"], dtype="Int64").to_numpy(dtype="int64", na_value=big)[pr]
        rank = np.lexsort((product, contract, p_all[pr], ~fit, lo))
        lo, pr = lo[rank], pr[rank]
        head = np.r_[True, lo[1:] != lo[:-1]]
        result[lo[head]] = pr[head]
    return result


def _match_allocations(lines: pd.DataFrame, toewijzingen: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {"toewijzing_id": no_ints(len(lines)), "toewijzing_match": pd.Series([None] * len(lines), dtype=object)},
        index=lines.index,
    )
    if lines.empty or toewijzingen is None or toewijzingen.empty:
        return out
    if importlib.util.find_spec("jzcli.rules.allocation") is None:
        return out
    mod = importlib.import_module("jzcli.rules.allocation")
    if not hasattr(mod, "match_allocations"):
        return out
    res = mod.match_allocations(lines, toewijzingen)
    out["toewijzing_id"] = pd.array(res["toewijzing_id"].reindex(lines.index), dtype="Int64")
    out["toewijzing_match"] = res["toewijzing_match"].reindex(lines.index).astype(object)
    return out


def derive(
    lines: pd.DataFrame,
    products: pd.DataFrame,
    toewijzingen: pd.DataFrame,
    import_findings: pd.DataFrame,
    sheets: pd.DataFrame,
    today: dt.date,
    berichten: pd.DataFrame | None = None,
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
        _derive_agreements(lines, products, toewijzingen, import_findings)
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
    lines["blad_totaal"] = pd.array(agg["total"].reindex(keys).to_numpy(), dtype="Int64")
    lines["blad_regels"] = agg["n"].reindex(keys).to_numpy().astype("int64")
    info = sheets.set_index(["batch", "blad"]) if len(sheets) else None
    if info is not None:
        lines["blad_vermeld_totaal"] = pd.array(info["vermeld_totaal"].reindex(keys).to_numpy(), dtype="Int64")
        month = info["maand"].reindex(keys).fillna(0).astype("int64").to_numpy()
    else:
        lines["blad_vermeld_totaal"] = no_ints(len(lines))
        month = np.zeros(len(lines), dtype="int64")
    stored = (
        pd.array(lines["periode_uit_maand"], dtype="Int64")
        if "periode_uit_maand" in lines.columns
        else no_ints(len(lines))
    )
    bits = np.where(pd.isna(stored), month, np.asarray(stored.fillna(0), dtype="int64"))
    lines["begin_uit_maand"] = (bits & 1) > 0
    lines["eind_uit_maand"] = (bits & 2) > 0
    lines["productperiode_uit_maand"] = lines["begin_uit_maand"].to_numpy() | lines["eind_uit_maand"].to_numpy()
    _clip_months(lines, toewijzingen)
    _message_columns(lines, berichten)
    lines["inhoud_sleutel"] = content_groups(lines)
    lines["referentie_sleutel"], lines["vorig_sleutel"] = reference_keys(lines)
    return lines


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


def _derive_agreements(
    lines: pd.DataFrame, products: pd.DataFrame, toewijzingen: pd.DataFrame, import_findings: pd.DataFrame
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

    match = _match_allocations(lines, toewijzingen)
    lines["toewijzing_id"] = match["toewijzing_id"]
    lines["toewijzing_match"] = match["toewijzing_match"]
    _resolve_categories(lines, toewijzingen)


def reference_keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of (aanbieder, referentienummer) and (aanbieder, vorig_referentienummer) in
    one code space (-1 when either part is missing): TR314 and credit matching compare these."""
    n = len(frame)
    agb = frame["aanbieder"].to_numpy(dtype=object, na_value=None)
    have = agb != None  # noqa: E711 (elementwise)
    keys, where = [], []
    for col in ("referentienummer", "vorig_referentienummer"):
        ref = frame[col].to_numpy(dtype=object, na_value=None)
        rows = np.flatnonzero(have & (ref != None))  # noqa: E711 -- spreadsheets mostly have none: nothing to join
        keys.append(pd.Series(agb[rows]) + "\x1f" + pd.Series(ref[rows]))
        where.append(rows)
    codes, _ = pd.factorize(pd.concat(keys, ignore_index=True), use_na_sentinel=True)
    out = [np.full(n, -1, dtype="int64"), np.full(n, -1, dtype="int64")]
    out[0][where[0]] = codes[: len(where[0])]
    out[1][where[1]] = codes[len(where[0]) :]
    return out[0], out[1]


CONTENT_COLUMNS = ["aanbieder", "gemeente", "bsn", "productcategorie", "productcode", "begindatum", "einddatum"]
CONTENT_REQUIRED = ["aanbieder", "bsn", "productcode", "begindatum", "einddatum"]


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
        pd.Series(pd.array(frame["toewijzing_id"], dtype="Int64"), index=frame.index)
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
        p["toewijzing_id"] = (
            pd.array(f["toewijzing_id"], dtype="Int64") if "toewijzing_id" in f.columns else no_ints(len(f))
        )
        parts.append(p.reset_index(drop=True))
    joined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    keys = content_groups(joined).to_numpy() if len(joined) else np.array([], dtype="int64")
    out, start = [], 0
    for f in frames:
        out.append(pd.Series(keys[start : start + len(f)], index=f.index, dtype="int64"))
        start += len(f)
    return out


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
        t = (
            toewijzingen.assign(id=pd.array(toewijzingen["id"], dtype="Int64"))
            .drop_duplicates("id")
            .set_index("id")["productcategorie"]
        )
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
    t = toewijzingen.assign(id=pd.array(toewijzingen["id"], dtype="Int64")).drop_duplicates("id").set_index("id")
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


# ============================================================================ credits
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
            "debet_id": pd.array([pd.NA] * n, dtype="Int64"),
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

    # --- by vorig_referentienummer ------------------------------------------------------
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

    # --- by content (no vorig_referentienummer) ----------------------------------------------
    c = credits[credits["vorig_referentienummer"].isna()]
    if len(c):
        keys = ["_key", "bedrag"]
        credit_key, debet_key = content_keys(c, debets)
        left = pd.DataFrame(
            {
                "_key": credit_key,
                "bedrag": pd.array(c["bedrag"], dtype="Int64"),
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
                "bedrag": pd.array(d["bedrag"], dtype="Int64"),
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
    return out


def _mark_credits(lines: pd.DataFrame, credits: pd.DataFrame, candidates: pd.DataFrame, id_index: pd.Index) -> None:
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
    debet_pos = id_index.get_indexer(ok["debet_id"].astype("int64"))
    credit_pos = id_index.get_indexer(credits.loc[ok.index, "id"])
    lines.iloc[debet_pos, lines.columns.get_loc("gecrediteerd")] = True
    lines.iloc[credit_pos, lines.columns.get_loc("crediteert")] = ok["debet_id"].to_numpy()


def _link_approved_credits(lines: pd.DataFrame, approved: np.ndarray, id_index: pd.Index) -> None:
    """The credit state of lines approved in earlier rounds, in one pass: each approved credit
    cancelled the debet ``credit_links`` finds for it (credits were approved only when that debet
    was still live, so pairing them in id order reproduces what happened batch by batch)."""
    h = lines[approved]
    credits = h[h["debet_credit"] == CREDIT]
    if len(credits):
        _mark_credits(lines, credits.sort_values("id", kind="mergesort"), h[h["debet_credit"] != CREDIT], id_index)


# ============================================================================ engine
def _steps(lines: pd.DataFrame) -> list[list[int]]:
    """Groups of batches that can be judged together, in order.

    A batch comes after every earlier batch that shares an aanbieder (or an allocation used by
    lines of different aanbieders) with it; batches without such a link share a step.
    """
    if lines.empty:
        return []
    aanbieder = lines["aanbieder"].astype(object).where(lines["aanbieder"].notna(), "?")
    pairs = pd.DataFrame({"batch": lines["batch"].to_numpy(), "key": aanbieder.to_numpy()}).drop_duplicates()
    pairs["key"] = "a:" + pairs["key"].astype(str)
    tw = lines["toewijzing_id"] if "toewijzing_id" in lines.columns else pd.Series(pd.NA, index=lines.index)
    shared = pd.DataFrame(
        {"tw": pd.array(tw, dtype="Int64"), "a": aanbieder.to_numpy(), "batch": lines["batch"].to_numpy()}
    ).dropna(subset=["tw"])
    if len(shared):
        multi = shared.groupby("tw")["a"].nunique()
        multi = multi[multi > 1].index
        s = shared[shared["tw"].isin(multi)]
        pairs = pd.concat(
            [pairs, pd.DataFrame({"batch": s["batch"].to_numpy(), "key": ("t:" + s["tw"].astype(str)).to_numpy()})]
        )
    pairs = pairs.drop_duplicates()
    keys_of = pairs.groupby("batch")["key"].apply(list)
    last: dict[str, int] = {}
    step_of: dict[int, int] = {}
    for b in sorted(keys_of.index):
        keys = keys_of[b]
        s = 1 + max((last.get(k, 0) for k in keys), default=0)
        step_of[int(b)] = s
        for k in keys:
            last[k] = s
    steps: dict[int, list[int]] = {}
    for b, s in step_of.items():
        steps.setdefault(s, []).append(b)
    return [sorted(steps[s]) for s in sorted(steps)]


def is_level2(r: Rule) -> bool:
    """Rules checked first, inside the "message": the iJw level-2 rules (retourcode 0001) and
    JZ-I01 (unreadable values, level 1 in XML terms)."""
    return r.retourcode == "0001" or r.id == "JZ-I01"


TECHNISCH = "0001"  # retourcode of every level-2 rule


def message_tiers(rules: dict[str, Rule]) -> list[dict[str, Rule]]:
    """The rules that judge an iJw message as a whole, in the order of the standard's levels:
    level 2 (niveau bericht, code 0001), the Header at level 3/4 (niveau bericht, other codes),
    the declaration (niveau declaratie)."""
    return [
        {k: r for k, r in rules.items() if r.niveau == BERICHT and r.retourcode == TECHNISCH},
        {k: r for k, r in rules.items() if r.niveau == BERICHT and r.retourcode != TECHNISCH},
        {k: r for k, r in rules.items() if r.niveau == DECLARATIE},
    ]


def judge_messages(lines: pd.DataFrame, make_context, tiers: list[dict[str, Rule]]) -> tuple[pd.DataFrame, set[int]]:
    """Run the message tiers over the lines of whole messages (``lines``: every line of each
    message in it). Returns the findings (the rules' own, plus for every line of a rejected
    message that did not break it a finding pointing at the line that did) and the batches
    whose message was rejected. A tier only sees the messages the tiers before let through."""
    frames: list[pd.DataFrame] = []
    rejected: set[int] = set()
    remaining = lines
    for tier in tiers:
        if remaining.empty or not tier:
            continue
        found = run_rules(make_context(remaining), tier)
        hits = found[found["ernst"] == AFKEUR]
        bad = set(int(b) for b in remaining.loc[remaining["id"].isin(hits["id"]), "batch"].unique())
        frames.append(found)
        if bad:
            frames.append(message_pointers(remaining[remaining["batch"].isin(bad)], hits))
            rejected |= bad
            remaining = remaining[~remaining["batch"].isin(bad)].reset_index(drop=True)
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*FINDING_COLUMNS, "regel", "retourcode", "ernst", "_order"]), rejected
    return pd.concat(frames, ignore_index=True), rejected


def message_pointers(lines: pd.DataFrame, hits: pd.DataFrame) -> pd.DataFrame:
    """For the lines of rejected messages that broke no rule themselves: a finding of the first
    breaking rule (rule order, then line), with its code: "message rejected: TR101 on line 57
    (referentienummer R12) (and 2 more lines): <that rule's message>"."""
    h = hits.merge(lines[["id", "batch", "rij", "referentienummer"]], on="id")
    h = h.sort_values(["batch", "_order", "rij", "id"], kind="mergesort")
    first = h.drop_duplicates("batch").set_index("batch")
    broken = h[h["regel"].isin(first["regel"])].groupby("batch")["id"].nunique()
    others = lines[~lines["id"].isin(hits["id"])]
    if others.empty:
        return pd.DataFrame(columns=[*FINDING_COLUMNS, "regel", "retourcode", "ernst", "_order"])
    f = first.reindex(others["batch"].to_numpy()).reset_index(drop=True)
    niveau = f["regel"].map(lambda r: RULES[r].niveau if r in RULES else BERICHT)
    what = pd.Series(np.where(niveau == DECLARATIE, "declaration rejected: ", "message rejected: "), dtype=object)
    ref = f["referentienummer"].astype(object)
    ref_text = pd.Series(np.where(pd.notna(ref), " (referentienummer " + text_of(ref) + ")", ""), dtype=object)
    more = pd.Series(broken.reindex(others["batch"].to_numpy()).fillna(1).astype(int).to_numpy() - 1)
    more_text = pd.Series(
        np.where(more > 0, " (and " + more.astype(str) + " more line" + np.where(more > 1, "s", "") + ")", ""),
        dtype=object,
    )
    melding = (
        what
        + text_of(f["regel"])
        + " on line "
        + text_of(f["rij"].astype("Int64"))
        + ref_text
        + more_text
        + ": "
        + text_of(f["melding"])
    )
    return pd.DataFrame(
        {
            "id": others["id"].astype("int64").to_numpy(),
            "kolom": None,
            "waarde": None,
            "melding": melding.to_numpy(),
            "regel": f["regel"].to_numpy(),
            "retourcode": f["retourcode"].to_numpy(),
            "ernst": AFKEUR,
            "_order": f["_order"].to_numpy(),
        }
    )


# Allocation rules that add up earlier and batch lines (their verdict depends on other lines).
STATEFUL_RULE_IDS = {"TR322", "TR369"}


def stateful(func):
    """Mark a rule whose verdict on a line depends on other lines (``ctx.history``, or lines
    judged earlier in the same batch). Such rules run per batch in import order; every other rule
    runs once over all lines to judge, so it must look at one line at a time (plus static data:
    contracts, allocations, the batch's derived columns)."""
    func.jz_stateful = True
    return func


def is_stateful(r: Rule) -> bool:
    return bool(getattr(r.check, "jz_stateful", False)) or r.id in STATEFUL_RULE_IDS


def run_rules(ctx: Context, rules: dict[str, Rule] | None = None) -> pd.DataFrame:
    """Run every registered rule over ctx; findings with regel, retourcode and ernst added."""
    rules = rules if rules is not None else load_rules()
    frames = []
    ids = ctx.lines["id"]
    for r in sorted(rules.values(), key=rule_sort_key):
        res = r.check(ctx)
        if res is None or len(res) == 0:
            continue
        res = res[FINDING_COLUMNS].copy()
        res = res[res["id"].isin(ids)]
        if res.empty:
            continue
        res["regel"] = r.id
        res["retourcode"] = r.retourcode
        res["ernst"] = r.ernst
        res["_order"] = rule_rank(r.id)
        frames.append(res)
    if not frames:
        return pd.DataFrame(columns=[*FINDING_COLUMNS, "regel", "retourcode", "ernst", "_order"])
    out = pd.concat(frames, ignore_index=True)
    out["id"] = out["id"].astype("int64")
    for c in ("kolom", "waarde", "melding"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _scope(lines: pd.DataFrame, gemeente, aanbieder, batch) -> pd.Series:
    mask = pd.Series(True, index=lines.index)
    if gemeente:
        mask &= lines["gemeente"].isin(list(gemeente))
    if aanbieder:
        mask &= lines["aanbieder"].isin(list(aanbieder))
    if batch:
        mask &= lines["batch"].isin([int(b) for b in batch])
    return mask


def _scope_sql(gemeente, aanbieder, batch):
    t = declaratieregels
    conditions = []
    if gemeente:
        conditions.append(t.c.gemeente.in_(list(gemeente)))
    if aanbieder:
        conditions.append(t.c.aanbieder.in_(list(aanbieder)))
    if batch:
        conditions.append(t.c.batch.in_([int(b) for b in batch]))
    return sa.and_(*conditions) if conditions else None


def _as_list(value) -> list | None:
    if value is None:
        return None
    if isinstance(value, (str, int)):
        return [value]
    return list(value) or None


def validate(
    store: Store,
    *,
    opnieuw: bool = False,
    gemeente=None,
    aanbieder=None,
    batch=None,
    today: dt.date | None = None,
    progress=None,
    skip_families: Iterable[str] = (),
    history_complete: bool = True,
) -> ValidationResult:
    """Judge every stored line that has no verdict yet (all lines in scope with ``opnieuw``).

    ``gemeente`` (CBS codes), ``aanbieder`` (AGB codes) and ``batch`` (ids) — each one value or a
    list — narrow which lines are judged; the history is always every approved line. ``today``
    is the date TR134/TR137/TR319/TR335 compare with (default: the system date). ``progress`` is
    called with a short text per step. ``skip_families`` names rule families (line, contract,
    allocation, history) not to apply at all, e.g. "allocation" when no allocations are known
    (``jzcli check`` without --toewijzingen). ``history_complete=False`` says the store lacks
    the earlier months (``jzcli check`` without --eerder): a credit whose debet is not found gets
    the JZ-H01 signal instead of a TR323 rejection. See the module docstring for the procedure.
    """
    rules = load_rules()
    if skip_families:
        skip = set(skip_families)
        rules = {k: r for k, r in rules.items() if r.family not in skip}
    today = today or dt.date.today()
    gemeente, aanbieder, batch = _as_list(gemeente), _as_list(aanbieder), _as_list(batch)

    relevant = _relevant_lines(store, opnieuw, gemeente, aanbieder, batch)
    if relevant is NOTHING:
        return ValidationResult(
            ronde=None, verdicts=_verdict_frame(load_lines(store, sa.false()), {}), findings=_empty_finding_frame()
        )
    lines = load_lines(store, relevant)
    # a full re-run judges every line: the old verdicts do not matter
    whole_rerun = opnieuw and _scope_sql(gemeente, aanbieder, batch) is None
    verdicts = _load_verdicts(store, relevant) if not whole_rerun else _load_verdicts(store, sa.false())
    status = (
        lines["id"].map(verdicts.set_index("regel_id")["status"])
        if len(verdicts)
        else pd.Series(None, index=lines.index, dtype=object)
    )
    in_scope = _scope(lines, gemeente, aanbieder, batch)
    judge = in_scope if opnieuw else in_scope & status.isna()
    ronde = _last_round(store) + 1
    if not judge.any():
        return ValidationResult(
            ronde=None, verdicts=_verdict_frame(lines.iloc[0:0], {}), findings=_empty_finding_frame()
        )

    imports = _load_import_findings(store)
    toewijzingen = load_toewijzingen(store)
    products = load_products(store)
    if progress:
        progress(f"deriving contract products and allocations for {len(lines):,} lines")
    msgs = load_berichten(store)
    lines = derive(lines, products, toewijzingen, imports, _load_sheets(store), today, msgs)

    # TR333: the first batch that used each DeclaratieNummer, over every stored line except the
    # messages that count as not sent (rejected as a whole: OP286, IV087); updated as this run
    # rejects messages. TR056 is the one rule that counts every message received.
    tiers = message_tiers(rules)
    tier_rules = {k for tier in tiers for k in tier}
    decl_all = lines.loc[
        lines["declaratienummer"].notna() & lines["aanbieder"].notna(),
        ["aanbieder", "declaratienummer", "batch", "bron"],
    ]
    decl_all = decl_all.drop_duplicates(["aanbieder", "declaratienummer", "batch"]).sort_values(
        "batch", kind="mergesort"
    )
    not_sent_batches = rejected_messages(store, tier_rules) - set(
        lines.loc[judge.to_numpy(), "batch"].unique().tolist()
    )

    def first_use() -> pd.DataFrame:
        sent = decl_all[~decl_all["batch"].isin(not_sent_batches)]
        return sent.drop_duplicates(["aanbieder", "declaratienummer"], keep="first")

    decl = first_use()

    lines["gecrediteerd"] = False
    lines["crediteert"] = no_ints(len(lines))
    id_index = pd.Index(lines["id"])
    approved = ((status == GOEDGEKEURD) & ~judge).to_numpy().copy()
    _link_approved_credits(lines, approved, id_index)
    # Frames here are read-only snapshots: _take hands out the frame itself when a mask keeps
    # every row (a first run judges every line), so a million lines are not copied again and again.
    history = _take(lines, approved)
    history_stale = False
    todo = _take(lines, judge.to_numpy())
    steps = _steps(todo)
    imports_by_line = imports[imports["regel_id"].isin(todo["id"])]

    def current_history() -> pd.DataFrame:
        nonlocal history, history_stale
        if history_stale:  # lines approved (and credits marked) since: rebuilt only when needed
            history, history_stale = _take(lines, approved), False
        return history

    level2 = {k: r for k, r in rules.items() if is_level2(r)}
    others = {k: r for k, r in rules.items() if not is_level2(r) and not is_stateful(r)}
    stateful_rules = {k: r for k, r in rules.items() if not is_level2(r) and is_stateful(r)}

    def whole_context(frame: pd.DataFrame) -> Context:
        return Context(
            lines=frame,
            history=current_history(),
            toewijzingen=toewijzingen,
            products=products,
            import_findings=imports_by_line[imports_by_line["regel_id"].isin(frame["id"])],
            today=today,
            declaratienummers=decl,  # noqa: B023 (called within the iteration)
            berichten=msgs,
            history_complete=history_complete,
        )

    # Rules that look at one line at a time (and its batch's derived columns) give the same verdict
    # whatever else is judged with it: run them once over every line to judge. Level 2 first: a
    # line rejected there counts as not sent for the other rules.
    if progress:
        progress(f"line, contract and allocation rules over {len(todo):,} lines")
    once_level2 = run_rules(whole_context(todo.reset_index(drop=True)), level2)
    rejected_level2 = set(once_level2.loc[once_level2["ernst"] == AFKEUR, "id"])
    level2_ok = ~todo["id"].isin(rejected_level2).to_numpy()
    sent_all = _take(todo, level2_ok).reset_index(drop=True)
    once_others = run_rules(whole_context(sent_all), others) if len(sent_all) else once_level2.iloc[0:0]
    del sent_all
    all_status: dict[int, str] = {}
    all_findings: list[pd.DataFrame] = []
    writes: list[tuple[list[int], list[int], pd.DataFrame]] = []
    todo_ids = todo["id"].to_numpy()
    is_credit = (todo["debet_credit"] == CREDIT).to_numpy()
    is_message = todo["bericht"].astype(bool).to_numpy()
    for n, step in enumerate(steps, 1):
        if progress:
            progress(f"step {n}/{len(steps)}: batch {', '.join(map(str, step[:8]))}{' …' if len(step) > 8 else ''}")
        in_step = todo["batch"].isin(step).to_numpy()
        step_findings = []
        earlier = todo.iloc[0:0]
        # iJw messages: the message rules over each whole message first (module docstring)
        not_sent = np.zeros(len(todo), dtype=bool)
        if (in_step & is_message).any():
            messages = todo[in_step & is_message].reset_index(drop=True)

            def message_context(frame: pd.DataFrame) -> Context:
                return Context(
                    lines=frame,
                    history=current_history(),
                    toewijzingen=toewijzingen,
                    products=products,
                    import_findings=imports_by_line[imports_by_line["regel_id"].isin(frame["id"])],
                    today=today,
                    earlier_in_batch=todo.iloc[0:0],
                    declaratienummers=decl,  # noqa: B023 (called within the iteration)
                    berichten=msgs,
                    history_complete=history_complete,
                )

            found_messages, rejected_batches = judge_messages(messages, message_context, tiers)
            del messages
            step_findings.append(found_messages)
            if rejected_batches:
                not_sent = todo["batch"].isin(rejected_batches).to_numpy()
                not_sent_batches |= rejected_batches
                decl = first_use()  # a later message may use these DeclaratieNummers again
                all_status.update(dict.fromkeys(todo_ids[in_step & not_sent].tolist(), AFGEKEURD))
        phases = [p for p in (is_credit, ~is_credit) if (in_step & p & ~not_sent).any()]
        for k, phase in enumerate(phases):
            cur = in_step & phase & ~not_sent  # the lines of this phase, as a mask over todo
            cur_ids = todo_ids[cur]

            def context(frame: pd.DataFrame) -> Context:
                return Context(
                    lines=frame,
                    history=current_history(),
                    toewijzingen=toewijzingen,
                    products=products,
                    import_findings=imports_by_line[imports_by_line["regel_id"].isin(frame["id"])],
                    today=today,
                    earlier_in_batch=earlier,  # noqa: B023 (called within the iteration)
                    declaratienummers=decl,  # noqa: B023 (called within the iteration)
                    berichten=msgs,
                    history_complete=history_complete,
                )

            # level 2 first; a line rejected there counts as not sent for the other rules
            first = once_level2[once_level2["id"].isin(cur_ids)]
            sent = _take(todo, cur & level2_ok).reset_index(drop=True)
            parts = [first, once_others[once_others["id"].isin(sent["id"])]]
            if len(sent) and stateful_rules:
                parts.append(run_rules(context(sent), stateful_rules))
            found = pd.concat(parts, ignore_index=True)
            cur_messages = cur & is_message
            if cur_messages.any():  # the message rules judged these messages whole already
                found = found[~(found["regel"].isin(tier_rules) & found["id"].isin(todo_ids[cur_messages]))]
            rejected_ids = set(found.loc[found["ernst"] == AFKEUR, "id"])
            ok = cur & ~np.isin(todo_ids, list(rejected_ids))
            all_status.update(dict.fromkeys(cur_ids.tolist(), GOEDGEKEURD))
            all_status.update(dict.fromkeys(rejected_ids, AFGEKEURD))
            if ok.any():
                credits = todo[ok & is_credit]
                if len(credits):  # the debets these credits cancel are no longer live
                    _mark_credits(lines, credits, current_history(), id_index)
                approved[id_index.get_indexer(todo_ids[ok])] = True
                history_stale = True
            step_findings.append(found)
            if k + 1 < len(phases):  # the next phase of this batch sees this one's lines
                earlier = pd.concat([earlier, sent], ignore_index=True)
            del sent
        found = pd.concat(step_findings, ignore_index=True)
        all_findings.append(found)
        writes.append((step, todo_ids[in_step].tolist(), found))

    stamp = datetime.now(dt.UTC)
    where = _scope_sql(gemeente, aanbieder, batch)
    derived = todo.loc[todo["categorie_bron"].notna().to_numpy(), ["id", "categorie_afgeleid", "categorie_bron"]]
    if opnieuw:
        with store.transaction() as conn:
            _lock(store, conn)
            _delete_verdicts(conn, where)
            for step, ids, found in writes:
                _write(store, conn, step, ids, found, all_status, ronde, stamp, where)
                _write_categories(store, conn, derived, ids)
    else:
        for step, ids, found in writes:
            with store.transaction() as conn:
                _lock(store, conn)
                _check_unjudged(conn, step, ids)
                _write(store, conn, step, ids, found, all_status, ronde, stamp, where)
                _write_categories(store, conn, derived, ids)

    found = (
        pd.concat([f for f in all_findings if len(f)], ignore_index=True) if any(len(f) for f in all_findings) else None
    )
    judged = todo
    return ValidationResult(
        ronde=ronde,
        verdicts=_verdict_frame(judged, all_status),
        findings=_finding_frame(found, judged, all_status),
    )


def _take(frame: pd.DataFrame, mask) -> pd.DataFrame:
    """``frame[mask]``, but the frame itself when the mask keeps every row (no copy): for frames
    that are only read."""
    mask = np.asarray(mask, dtype=bool)
    return frame if mask.all() else frame[mask]


def _lock(store: Store, conn) -> None:
    if store.dialect == "postgresql":
        conn.exec_driver_sql("LOCK TABLE beoordelingen IN SHARE ROW EXCLUSIVE MODE")


def _delete_verdicts(conn, where) -> None:
    if where is None:
        conn.execute(bevindingen.delete())
        conn.execute(afgeleide_categorieen.delete())
        conn.execute(beoordelingen.delete())
        return
    ids = sa.select(declaratieregels.c.id).where(where)
    conn.execute(bevindingen.delete().where(bevindingen.c.regel_id.in_(ids)))
    conn.execute(afgeleide_categorieen.delete().where(afgeleide_categorieen.c.regel_id.in_(ids)))
    conn.execute(beoordelingen.delete().where(beoordelingen.c.regel_id.in_(ids)))


def _write_categories(store: Store, conn, derived: pd.DataFrame, ids: list[int]) -> None:
    """The resolved productcategorie of this step's lines whose file has none (reports)."""
    if not len(derived):
        return
    rows = derived[np.isin(derived["id"].to_numpy(dtype="int64"), np.asarray(ids, dtype="int64"))]
    if len(rows):
        frame = pd.DataFrame(
            {
                "regel_id": rows["id"].to_numpy(dtype="int64"),
                "productcategorie": rows["categorie_afgeleid"].to_numpy(dtype=object),
                "bron": rows["categorie_bron"].to_numpy(dtype=object),
            }
        )
        store.insert_frame(conn, afgeleide_categorieen, frame)


def _check_unjudged(conn, step: list[int], ids: list[int]) -> None:
    """Refuse to write when another run judged some of these lines since we loaded them."""
    t = declaratieregels
    query = sa.select(beoordelingen.c.regel_id).join(t, beoordelingen.c.regel_id == t.c.id).where(t.c.batch.in_(step))
    done = {row[0] for row in conn.execute(query)}
    if done & set(ids):
        raise StoreError(
            "another jzcli validate judged some of these lines at the same time; this run wrote "
            "nothing for them. Run jzcli validate again."
        )


def _write(
    store: Store,
    conn,
    step: list[int],
    ids: list[int],
    found: pd.DataFrame,
    status: dict[int, str],
    ronde: int,
    stamp,
    scope,
) -> None:
    """Write one step's verdicts and findings. Rejected lines are inserted from the frame; the
    approved ones (usually nearly all) by one INSERT … SELECT over the step's batches in scope
    that have no verdict, which must be exactly the approved lines (else another run interfered)."""
    verdicts = pd.DataFrame({"regel_id": ids})
    verdicts["status"] = verdicts["regel_id"].map(status)
    rejected = verdicts[verdicts["status"] == AFGEKEURD].assign(ronde=ronde)
    # a text timestamp: insert_frame writes datetime64 columns as dates only
    rejected["beoordeeld_op"] = stamp.strftime("%Y-%m-%d %H:%M:%S.%f") + (
        "+00:00" if store.dialect == "postgresql" else ""
    )
    store.insert_frame(conn, beoordelingen, rejected)
    t = declaratieregels
    unjudged = sa.and_(t.c.batch.in_(step), ~sa.exists().where(beoordelingen.c.regel_id == t.c.id))
    if scope is not None:
        unjudged = sa.and_(unjudged, scope)
    approved = sa.select(
        t.c.id,
        sa.literal(GOEDGEKEURD, sa.String),
        sa.literal(ronde, sa.Integer),
        sa.literal(stamp, sa.DateTime(timezone=True)),
    )
    insert = beoordelingen.insert().from_select(
        ["regel_id", "status", "ronde", "beoordeeld_op"], approved.where(unjudged)
    )
    if store.dialect == "sqlite":  # sqlite3 reports the rows an INSERT … SELECT wrote: no extra counting pass
        written = conn.execute(insert).rowcount
    else:  # psycopg through SQLAlchemy reports -1 here: count first
        written = conn.execute(sa.select(sa.func.count()).select_from(t).where(unjudged)).scalar()
        conn.execute(insert)
    if written != len(verdicts) - len(rejected):  # the transaction is rolled back: nothing stays written
        raise StoreError(
            "another jzcli validate or import changed these lines at the same time; this run wrote "
            "nothing for them. Run jzcli validate again."
        )
    if found is not None and len(found):
        f = found.sort_values(["id", "_order"], kind="mergesort")
        rows = pd.DataFrame(
            {
                "regel_id": f["id"].astype("int64").to_numpy(),
                "regel": f["regel"].to_numpy(),
                "retourcode": f["retourcode"].to_numpy(),
                "ernst": f["ernst"].to_numpy(),
                "kolom": f["kolom"].to_numpy(),
                "waarde": f["waarde"].to_numpy(),
                "melding": f["melding"].to_numpy(),
                "ronde": ronde,
            }
        )
        store.insert_frame(conn, bevindingen, rows)


def _verdict_frame(lines: pd.DataFrame, status: dict[int, str]) -> pd.DataFrame:
    cols = ["batch", "bron", "blad", "rij", "aanbieder", "gemeente", "bedrag", "debet_credit"]
    v = pd.DataFrame({"regel_id": lines["id"].astype("int64").to_numpy()})
    for c in cols:
        v[c] = lines[c].to_numpy() if c in lines.columns else None
    v["status"] = v["regel_id"].map(status).astype(object)
    return v


def _empty_finding_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_FRAME_COLUMNS})


def _finding_frame(found: pd.DataFrame | None, lines: pd.DataFrame, status: dict[int, str]) -> pd.DataFrame:
    """Findings joined with their line's provenance and status, in line then rule order."""
    if found is None or found.empty:
        return _empty_finding_frame()
    rules = load_rules()
    f = found.sort_values(["id", "_order"], kind="mergesort").reset_index(drop=True)
    where = lines.set_index("id")[["batch", "bron", "blad", "rij"]]
    w = where.reindex(f["id"].to_numpy())
    out = pd.DataFrame(
        {
            "regel_id": f["id"].astype("int64").to_numpy(),
            "batch": w["batch"].to_numpy(),
            "bron": w["bron"].to_numpy(),
            "blad": w["blad"].to_numpy(),
            "rij": w["rij"].to_numpy(),
            "kolom": f["kolom"].to_numpy(),
            "waarde": f["waarde"].to_numpy(),
            "regel": f["regel"].to_numpy(),
            "retourcode": f["retourcode"].to_numpy(),
            "omschrijving": f["regel"].map(lambda r: rules[r].omschrijving if r in rules else "").to_numpy(),
            "melding": f["melding"].to_numpy(),
            "ernst": f["ernst"].to_numpy(),
            "status": f["id"].map(status).to_numpy(),
        }
    )
    return out[FINDING_FRAME_COLUMNS]


# ============================================================================ stored verdicts
def stored_result(store: Store, ronde: int | None = None) -> ValidationResult:
    """The verdicts and findings of one stored round (default: the latest) as a ValidationResult.

    A line judged again in a later round belongs to that later round only."""
    ronde = _last_round(store) if ronde is None else int(ronde)
    if not ronde:
        return ValidationResult(
            ronde=None, verdicts=_verdict_frame(load_lines(store, sa.false()), {}), findings=_empty_finding_frame()
        )
    in_round = sa.select(beoordelingen.c.regel_id).where(beoordelingen.c.ronde == ronde)
    verdicts = _load_verdicts(store, declaratieregels.c.id.in_(in_round))
    verdicts = verdicts[verdicts["ronde"] == ronde]
    lines = load_lines(store, declaratieregels.c.id.in_(in_round))
    status = dict(zip(verdicts["regel_id"], verdicts["status"]))
    b = bevindingen
    found = store.read_frame(
        sa.select(b.c.regel_id.label("id"), b.c.kolom, b.c.waarde, b.c.melding, b.c.regel, b.c.retourcode, b.c.ernst)
        .where(b.c.ronde == ronde)
        .order_by(b.c.id),
    )
    if len(found):
        found["id"] = found["id"].astype("int64")
        found["_order"] = found["regel"].map(rule_rank)
    return ValidationResult(
        ronde=ronde,
        verdicts=_verdict_frame(lines, status),
        findings=_finding_frame(found if len(found) else None, lines, status),
    )


# ============================================================================ serialisation
IDENTIFIER_FIELDS = ("toewijzingnummer", "referentienummer", "vorig_referentienummer", "declaratienummer")


def mask_value(kolom: object, waarde: object, show_bsn: bool = False) -> object:
    """A finding's raw value for output: a bsn masked to its last 4 digits, and 9-digit numbers
    in other free text masked too (identifier columns such as toewijzingnummer excepted)."""
    if waarde is None or show_bsn:
        return waarde
    if kolom == "bsn":
        return mask_bsn(waarde)
    if kolom in IDENTIFIER_FIELDS:
        return waarde
    return mask_bsns_in(str(waarde))


_RECORD_TYPES = {"batch": int, "rij": int, "kolom": str, "waarde": str, "melding": str}


def _plain(value: object) -> object:
    return int(value) if isinstance(value, np.integer) else value


def findings_records(result: ValidationResult | pd.DataFrame, *, show_bsn: bool = False) -> list[dict]:
    """One plain record per finding with exactly RECORD_KEYS (what --format json prints).

    ``waarde`` is masked when it holds a BSN unless ``show_bsn`` (``mask_value``). ``melding``
    is shown as the rule wrote it: rules never put a full BSN in a message. Missing values are
    None; batch and rij are integers.
    """
    frame = result.findings if isinstance(result, ValidationResult) else result
    columns = []
    for k in RECORD_KEYS:  # a column at a time: None for missing, plain Python values
        to = _RECORD_TYPES.get(k, _plain)
        columns.append([None if m else to(v) for v, m in zip(frame[k].tolist(), frame[k].isna().to_numpy())])
    kolom, waarde = columns[RECORD_KEYS.index("kolom")], columns[RECORD_KEYS.index("waarde")]
    columns[RECORD_KEYS.index("waarde")] = [mask_value(k, w, show_bsn) for k, w in zip(kolom, waarde)]
    return [dict(zip(RECORD_KEYS, row)) for row in zip(*columns)]


def findings_table(result: ValidationResult | pd.DataFrame, *, show_bsn: bool = False) -> pd.DataFrame:
    """The records as a frame with RECORD_KEYS columns (CSV and xlsx output)."""
    records = findings_records(result, show_bsn=show_bsn)
    return (
        pd.DataFrame.from_records(records, columns=RECORD_KEYS).astype(object).where(lambda f: f.notna(), None)
        if records
        else pd.DataFrame(columns=RECORD_KEYS, dtype=object)
    )


def rule_summary(result: ValidationResult) -> pd.DataFrame:
    """Per rule: regel, retourcode, omschrijving, ernst, regels (lines), bedrag (Σ D − Σ C, cents)."""
    f = result.findings
    cols = ["regel", "retourcode", "omschrijving", "ernst", "regels", "bedrag"]
    if f.empty:
        return pd.DataFrame(columns=cols)
    v = result.verdicts.set_index("regel_id")
    amounts = signed_amount(v)
    per_line = f.drop_duplicates(["regel", "regel_id"])
    per_line = per_line.assign(_amount=per_line["regel_id"].map(amounts).fillna(0).astype("int64"))
    g = per_line.groupby("regel", sort=False).agg(
        retourcode=("retourcode", "first"),
        omschrijving=("omschrijving", "first"),
        ernst=("ernst", "first"),
        regels=("regel_id", "size"),
        bedrag=("_amount", "sum"),
    )
    g = g.reset_index()
    g["_order"] = g["regel"].map(rule_rank)
    return g.sort_values("_order")[cols].reset_index(drop=True)


# Importing this module registers every rule (the report and the CLI rely on it).
load_rules()


# ============================================================================ facts per line for exports
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
        _load_import_findings(store),
        _load_sheets(store),
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
    facts["toewijzing_gevonden"] = [
        None if m is pd.NA or m is None else number.get(int(m)) for m in matched.to_numpy(dtype=object, na_value=None)
    ]
    facts["contract_productcategorie"] = derived["contract_productcategorie"].to_numpy(dtype=object)
    facts["contract_eenheid"] = derived["contract_eenheid"].to_numpy(dtype=object)
    verdicts = _load_verdicts(
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
