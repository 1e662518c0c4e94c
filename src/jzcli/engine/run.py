"""The engine run (``jzcli validate``): judge stored declaration lines with the registered rules and keep the verdicts.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jzcli.domain.codes import AFGEKEURD, AFKEUR, BERICHT, CREDIT, DECLARATIE, GOEDGEKEURD, TECHNISCH
from jzcli.domain.findings import (
    FINDING_COLUMNS,
)
from jzcli.domain.lines import conform
from jzcli.engine.derive import derive, link_approved_credits, mark_credits, normalised_allocations
from jzcli.engine.load import (
    NOTHING,
    last_round,
    load_berichten,
    load_import_findings,
    load_lines,
    load_products,
    load_sheets,
    load_toewijzingen,
    load_verdicts,
    rejected_messages,
    relevant_lines,
    scope_sql,
)
from jzcli.engine.result import ValidationResult, empty_finding_frame, finding_frame, verdict_frame
from jzcli.engine.write import check_unjudged, delete_verdicts, lock, write_categories, write_step
from jzcli.rules.catalog import load_rules
from jzcli.rules.kit import HISTORY_COLUMNS, Context, ints, no_ints, text_of
from jzcli.rules.registry import RULES, Rule, rule_rank, rule_sort_key
from jzcli.store.store import Store


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
    shared = pd.DataFrame({"tw": ints(tw), "a": aanbieder.to_numpy(), "batch": lines["batch"].to_numpy()}).dropna(
        subset=["tw"]
    )
    if len(shared):
        per_tw = shared.groupby("tw")["a"].nunique()
        multi = per_tw[per_tw > 1].index
        on_multi = shared[shared["tw"].isin(multi)]
        tw_keys = ("t:" + on_multi["tw"].astype(str)).to_numpy()
        pairs = pd.concat([pairs, pd.DataFrame({"batch": on_multi["batch"].to_numpy(), "key": tw_keys})])
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
    gemeente: object = None,
    aanbieder: object = None,
    batch: object = None,
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
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
    scope = _Scope(_as_list(gemeente), _as_list(aanbieder), _as_list(batch))
    relevant = relevant_lines(store, opnieuw, scope.gemeente, scope.aanbieder, scope.batch)
    if relevant is NOTHING:
        return ValidationResult(
            ronde=None, verdicts=verdict_frame(load_lines(store, sa.false()), {}), findings=empty_finding_frame()
        )
    lines = load_lines(store, relevant)
    # a full re-run judges every line: the old verdicts do not matter
    whole_rerun = opnieuw and scope.sql() is None
    verdicts = load_verdicts(store, relevant) if not whole_rerun else load_verdicts(store, sa.false())
    status = (
        lines["id"].map(verdicts.set_index("regel_id")["status"])
        if len(verdicts)
        else pd.Series(None, index=lines.index, dtype=object)
    )
    in_scope = _scope(lines, scope.gemeente, scope.aanbieder, scope.batch)
    judge = in_scope if opnieuw else in_scope & status.isna()
    ronde = last_round(store) + 1
    if not judge.any():
        return ValidationResult(ronde=None, verdicts=verdict_frame(lines.iloc[0:0], {}), findings=empty_finding_frame())
    run = _Run.prepare(store, rules, lines, status, judge, today or dt.date.today(), history_complete, progress)
    writes = run.judge()
    _write_run(store, writes, run.status, ronde, scope.sql(), run.todo, opnieuw)
    found = [f for _step, _ids, f in writes if len(f)]
    return ValidationResult(
        ronde=ronde,
        verdicts=verdict_frame(run.todo, run.status),
        findings=finding_frame(pd.concat(found, ignore_index=True) if found else None, run.todo, run.status),
    )


@dataclass
class _Scope:
    """The filters of a run (None = no filter): which lines are judged."""

    gemeente: list | None
    aanbieder: list | None
    batch: list | None

    def sql(self) -> sa.ColumnElement[bool] | None:
        return scope_sql(self.gemeente, self.aanbieder, self.batch)


Write = tuple[list[int], list[int], pd.DataFrame]  # a step's batches, its line ids, its findings


@dataclass
class _Run:
    """The state of one run while it judges step by step: the lines (read-only snapshots, see
    ``_take``), which are approved so far, the verdicts, and what every Context gets."""

    lines: pd.DataFrame  # every line the run needs (derived, conformed)
    todo: pd.DataFrame  # the lines to judge
    approved: np.ndarray  # per line of ``lines``: approved (earlier rounds, or in this run)
    id_index: pd.Index
    rules: dict[str, Rule]
    tiers: list[dict[str, Rule]]
    toewijzingen: pd.DataFrame
    products: pd.DataFrame
    allocations: pd.DataFrame
    imports_by_line: pd.DataFrame
    berichten: pd.DataFrame
    today: dt.date
    history_complete: bool
    decl_all: pd.DataFrame  # (aanbieder, declaratienummer, batch, bron) of every stored line, by batch
    not_sent: set[int]  # batches whose message counts as not sent (rejected as a whole)
    progress: Callable[[str], None] | None = None
    status: dict[int, str] = field(default_factory=dict)
    todo_ids: np.ndarray = field(default_factory=lambda: np.array([], dtype="int64"))
    is_credit: np.ndarray = field(default_factory=lambda: np.array([], dtype=bool))  # per todo line
    is_message: np.ndarray = field(default_factory=lambda: np.array([], dtype=bool))
    decl: pd.DataFrame = field(default_factory=pd.DataFrame)
    _history: pd.DataFrame | None = None  # rebuilt only when lines were approved since

    @classmethod
    def prepare(
        cls,
        store: Store,
        rules: dict[str, Rule],
        lines: pd.DataFrame,
        status: pd.Series,
        judge: pd.Series,
        today: dt.date,
        history_complete: bool,
        progress: Callable[[str], None] | None,
    ) -> _Run:
        """Load the agreements, derive every line once and set up the credit state of history."""
        imports = load_import_findings(store)
        toewijzingen = load_toewijzingen(store)
        products = load_products(store)
        if progress:
            progress(f"deriving contract products and allocations for {len(lines):,} lines")
        msgs = load_berichten(store)
        allocations = normalised_allocations(toewijzingen)
        lines = derive(lines, products, toewijzingen, imports, load_sheets(store), today, msgs, allocations)
        # TR333: the first batch that used each DeclaratieNummer, over every stored line except the
        # messages that count as not sent (rejected as a whole: OP286, IV087); updated as this run
        # rejects messages. TR056 is the one rule that counts every message received.
        tiers = message_tiers(rules)
        decl_all = lines.loc[
            lines["declaratienummer"].notna() & lines["aanbieder"].notna(),
            ["aanbieder", "declaratienummer", "batch", "bron"],
        ]
        decl_all = decl_all.drop_duplicates(["aanbieder", "declaratienummer", "batch"]).sort_values(
            "batch", kind="mergesort"
        )
        judged_batches = set(lines.loc[judge.to_numpy(), "batch"].unique().tolist())
        not_sent = rejected_messages(store, {k for tier in tiers for k in tier}) - judged_batches
        lines["gecrediteerd"] = False
        lines["crediteert"] = no_ints(len(lines))
        lines = conform(lines)  # the declared line frame (domain.lines): no copy when derive made it so
        id_index = pd.Index(lines["id"])
        approved = ((status == GOEDGEKEURD) & ~judge).to_numpy().copy()
        link_approved_credits(lines, approved, id_index)
        # Frames here are read-only snapshots: _take hands out the frame itself when a mask keeps
        # every row (a first run judges every line), so a million lines are not copied again and again.
        todo = _take(lines, judge.to_numpy())
        run = cls(
            lines=lines,
            todo=todo,
            approved=approved,
            id_index=id_index,
            rules=rules,
            tiers=tiers,
            toewijzingen=toewijzingen,
            products=products,
            allocations=allocations,
            imports_by_line=imports[imports["regel_id"].isin(todo["id"])],
            berichten=msgs,
            today=today,
            history_complete=history_complete,
            decl_all=decl_all,
            not_sent=not_sent,
            progress=progress,
        )
        run.decl = run.first_use()
        run.todo_ids = todo["id"].to_numpy()
        run.is_credit = (todo["debet_credit"] == CREDIT).to_numpy()
        run.is_message = todo["bericht"].astype(bool).to_numpy()
        return run

    def first_use(self) -> pd.DataFrame:
        sent = self.decl_all[~self.decl_all["batch"].isin(self.not_sent)]
        return sent.drop_duplicates(["aanbieder", "declaratienummer"], keep="first")

    def history(self) -> pd.DataFrame:
        if self._history is None:
            self._history = self.lines.loc[self.approved, HISTORY_COLUMNS]
        return self._history

    def context(self, frame: pd.DataFrame, earlier: pd.DataFrame | None = None) -> Context:
        """What the rules get for ``frame``: history as approved so far, the lines judged earlier
        in this batch (``earlier``), and the run's agreements, messages and first uses."""
        return Context(
            lines=frame,
            history=self.history(),
            toewijzingen=self.toewijzingen,
            products=self.products,
            import_findings=self.imports_by_line[self.imports_by_line["regel_id"].isin(frame["id"])],
            today=self.today,
            earlier_in_batch=self.todo.iloc[0:0] if earlier is None else earlier,
            declaratienummers=self.decl,
            berichten=self.berichten,
            history_complete=self.history_complete,
            allocations=self.allocations,
        )

    def judge(self) -> list[Write]:
        """Judge every line of ``todo``: the rules that look at one line at a time once over all,
        then step by step (``_steps``) the message tiers and the stateful rules."""
        rules, todo = self.rules, self.todo
        level2 = {k: r for k, r in rules.items() if is_level2(r)}
        others = {k: r for k, r in rules.items() if not is_level2(r) and not r.stateful}
        stateful = {k: r for k, r in rules.items() if not is_level2(r) and r.stateful}
        # Rules that look at one line at a time (and its batch's derived columns) give the same verdict
        # whatever else is judged with it: run them once over every line to judge. Level 2 first: a
        # line rejected there counts as not sent for the other rules.
        if self.progress:
            self.progress(f"line, contract and allocation rules over {len(todo):,} lines")
        everything = self.context(todo.reset_index(drop=True))
        once_level2 = run_rules(everything, level2)
        rejected_level2 = set(once_level2.loc[once_level2["ernst"] == AFKEUR, "id"])
        level2_ok = ~todo["id"].isin(rejected_level2).to_numpy()
        # These rules judge each line on its own, so they run over every line, also the ones level 2
        # rejected (no copy of a million lines without them): judge_phase keeps only the findings
        # on lines that were sent.
        once_others = run_rules(everything, others) if level2_ok.any() else once_level2.iloc[0:0]
        del everything
        once = _Once(once_level2, once_others, level2_ok, stateful)
        steps = _steps(todo)
        writes = []
        for n, step in enumerate(steps, 1):
            if self.progress:
                more = " …" if len(step) > 8 else ""
                self.progress(f"step {n}/{len(steps)}: batch {', '.join(map(str, step[:8]))}{more}")
            in_step = todo["batch"].isin(step).to_numpy()
            found = self.judge_step(in_step, once)
            writes.append((step, self.todo_ids[in_step].tolist(), found))
        return writes

    def judge_step(self, in_step: np.ndarray, once: _Once) -> pd.DataFrame:
        """One step: the message tiers over whole messages, then the credits and the debets of
        its batches (OP366), each phase seeing the lines approved before it."""
        todo, todo_ids, is_credit, is_message = self.todo, self.todo_ids, self.is_credit, self.is_message
        step_findings = []
        # iJw messages: the message rules over each whole message first (module docstring)
        not_sent = np.zeros(len(todo), dtype=bool)
        if (in_step & is_message).any():
            messages = todo[in_step & is_message].reset_index(drop=True)
            found_messages, rejected_batches = judge_messages(messages, self.context, self.tiers)
            del messages
            step_findings.append(found_messages)
            if rejected_batches:
                not_sent = todo["batch"].isin(rejected_batches).to_numpy()
                self.not_sent |= rejected_batches
                self.decl = self.first_use()  # a later message may use these DeclaratieNummers again
                self.status.update(dict.fromkeys(todo_ids[in_step & not_sent].tolist(), AFGEKEURD))
        phases = [p for p in (is_credit, ~is_credit) if (in_step & p & ~not_sent).any()]
        earlier = todo.iloc[0:0]
        for k, phase in enumerate(phases):
            cur = in_step & phase & ~not_sent  # the lines of this phase, as a mask over todo
            found, sent = self.judge_phase(cur, once, earlier)
            step_findings.append(found)
            if k + 1 < len(phases):  # the next phase of this batch sees this one's lines
                earlier = pd.concat([earlier, sent], ignore_index=True)
            del sent
        return pd.concat(step_findings, ignore_index=True)

    def judge_phase(self, cur: np.ndarray, once: _Once, earlier: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The findings on the lines ``cur`` (a mask over todo) and those of them that were sent
        (not rejected at level 2); marks their verdicts, the approved ones as history."""
        todo, todo_ids = self.todo, self.todo_ids
        cur_ids = todo_ids[cur]
        # level 2 first; a line rejected there counts as not sent for the other rules
        first = once.level2[once.level2["id"].isin(cur_ids)]
        sent = _take(todo, cur & once.level2_ok).reset_index(drop=True)
        parts = [first, once.others[once.others["id"].isin(sent["id"])]]
        if len(sent) and once.stateful:
            parts.append(run_rules(self.context(sent, earlier), once.stateful))
        found = pd.concat(parts, ignore_index=True)
        cur_messages = cur & self.is_message
        if cur_messages.any():  # the message rules judged these messages whole already
            tier_rules = {k for tier in self.tiers for k in tier}
            found = found[~(found["regel"].isin(tier_rules) & found["id"].isin(todo_ids[cur_messages]))]
        rejected_ids = set(found.loc[found["ernst"] == AFKEUR, "id"])
        ok = cur & ~np.isin(todo_ids, list(rejected_ids))
        self.status.update(dict.fromkeys(cur_ids.tolist(), GOEDGEKEURD))
        self.status.update(dict.fromkeys(rejected_ids, AFGEKEURD))
        if ok.any():
            credits = todo[ok & self.is_credit]
            if len(credits):  # the debets these credits cancel are no longer live
                mark_credits(self.lines, credits, self.history(), self.id_index)
            self.approved[self.id_index.get_indexer(pd.Index(todo_ids[ok]))] = True
            self._history = None
        return found, sent


@dataclass
class _Once:
    """The findings of the rules that ran once over every line to judge, and the stateful rules."""

    level2: pd.DataFrame
    others: pd.DataFrame
    level2_ok: np.ndarray  # per todo line: not rejected at level 2
    stateful: dict[str, Rule]


def _write_run(
    store: Store,
    writes: list[Write],
    status: dict[int, str],
    ronde: int,
    where: sa.ColumnElement[bool] | None,
    todo: pd.DataFrame,
    opnieuw: bool,
) -> None:
    """Write every step's verdicts and findings: one transaction per step, or with ``opnieuw``
    (the old verdicts deleted) one transaction for the whole run (module docstring, 5)."""
    stamp = datetime.now(dt.UTC)
    conn: Connection
    derived = todo.loc[todo["categorie_bron"].notna().to_numpy(), ["id", "categorie_afgeleid", "categorie_bron"]]
    if opnieuw:
        with store.transaction() as conn:
            lock(store, conn)
            delete_verdicts(conn, where)
            for step, ids, found in writes:
                write_step(store, conn, step, ids, found, status, ronde, stamp, where)
                write_categories(store, conn, derived, ids)
    else:
        for step, ids, found in writes:
            with store.transaction() as conn:
                lock(store, conn)
                check_unjudged(conn, step, ids)
                write_step(store, conn, step, ids, found, status, ronde, stamp, where)
                write_categories(store, conn, derived, ids)


def _take(frame: pd.DataFrame, mask) -> pd.DataFrame:
    """``frame[mask]``, but the frame itself when the mask keeps every row (no copy): for frames
    that are only read."""
    mask = np.asarray(mask, dtype=bool)
    return frame if mask.all() else frame[mask]
