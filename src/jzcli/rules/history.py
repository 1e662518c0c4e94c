"""History rules: the line against earlier lines (approved in earlier batches and rounds) and
against the other lines of its own batch.

The engine judges a batch's credit lines before its debet lines (OP366): when the debets are
judged, the approved credits of the same batch are already history, so a correction (credit of
the old line + new debet) can travel in one file. ``ctx.history`` holds approved lines only, with
``gecrediteerd`` marking debets an approved credit cancelled. A rejected line is not history: it
blocks nothing, and the provider simply sends it again corrected (IV085).

Identifying a line without reference numbers: spreadsheets often have no referentienummer and no
toewijzingnummer. For TR389/TR416 a line is then identified by its content: aanbieder, gemeente,
bsn, productcategorie, productcode, begindatum, einddatum and the allocation — the matched
``toewijzing_id``, else the toewijzingnummer written on the line. A credit without
vorig_referentienummer cancels an approved, not yet credited debet with the same content and the
same bedrag (``validate.credit_links``); CD060 only asks for vorig_referentienummer on credits
of files that use reference numbers (the credit line has a referentienummer).

TR314 and TR390 look at approved lines only (a rejected line's referentienummer may be reused for
its corrected resubmission); TR333 looks at every stored line (a declaration number is used once
the file is imported), except the lines of a JW323 rejected as a whole (level 2, Header or
declaration): such a message counts as not sent (OP286, IV087), so its corrected resend may use
the same DeclaratieNummer (``validate.rejected_messages``). Only TR056 counts every message.

Without the earlier months (``jzcli check`` without --eerder: ``ctx.history_complete`` False) a
credit whose debet is not found may cancel a line of a month that is not there: JZ-H01 (a
signal) says it is not checkable, TR323 does not reject it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jzcli.domain.codes import BERICHT, CREDIT, DECLARATIE, REGEL, SIGNAAL
from jzcli.domain.findings import concat_findings, findings
from jzcli.domain.lines import PROVENANCE
from jzcli.rules.kit import Context, credit_links, date_text, euro_text, text_of, where_text
from jzcli.rules.registry import rule

FAMILY = "history"
REQUIRED_KEY = ["aanbieder", "bsn", "productcode", "begindatum", "einddatum"]
WHERE = PROVENANCE  # where an earlier line stood: batch, bron, blad, rij


def _complete(frame: pd.DataFrame) -> pd.Series:
    return frame[REQUIRED_KEY].notna().all(axis=1)


def _period(frame: pd.DataFrame) -> pd.Series:
    return date_text(frame["begindatum"]) + ".." + date_text(frame["einddatum"])


def _earlier_lines(ctx: Context) -> pd.DataFrame:
    e = ctx.earlier_in_batch
    if e is None or e.empty or "id" not in e.columns:
        return ctx.lines.iloc[0:0]
    return e


# ============================================================================ reference numbers
@rule(
    "TR314",
    "8021",
    "Referentienummer not used before by this aanbieder (approved earlier, or earlier in the batch)",
    family=FAMILY,
    niveau=REGEL,
    stateful=True,
)
def tr314_referentienummer_unique(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    cur = lines[lines["referentienummer"].notna() & lines["aanbieder"].notna()]
    if cur.empty:
        return findings(lines.iloc[0:0], "", None)
    earlier = [ctx.history, _earlier_lines(ctx)]

    # (aanbieder, referentienummer) as one key: the engine's integer referentie_sleutel (history is
    # big: integer tests are cheap)
    def key(frame: pd.DataFrame) -> pd.Series:
        return frame["referentie_sleutel"].astype("int64")

    left = cur[["id", "batch", "aanbieder", "referentienummer"]].assign(_idx=cur.index, _key=key(cur).to_numpy())
    wanted = set(left["_key"])
    found = []
    # approved earlier, and earlier lines of the same batch (other phase, and lower id)
    for n, other in enumerate(earlier):
        if other is None or other.empty:
            continue
        o = other[key(other).isin(wanted).to_numpy()]
        o = o[o["referentienummer"].notna() & o["aanbieder"].notna()]
        if n == 1:
            o = o[o["batch"].isin(cur["batch"])]
        o = o.assign(_key=key(o).to_numpy()).sort_values("id", kind="mergesort").drop_duplicates("_key")
        right = o[["_key", *WHERE]].rename(columns={c: "o_" + c for c in WHERE})
        m = left.merge(right, on="_key")
        if len(m):
            what = "approved earlier" if n == 0 else "earlier in this file"
            found.append(m.assign(_what=what))
    dup = cur.sort_values("id", kind="mergesort")
    first = dup.drop_duplicates(["batch", "aanbieder", "referentienummer"])[
        ["batch", "aanbieder", "referentienummer", *WHERE[1:]]
    ]
    later = dup[dup.duplicated(["batch", "aanbieder", "referentienummer"], keep="first")]
    if len(later):
        m = (
            later[["id", "batch", "aanbieder", "referentienummer"]]
            .assign(_idx=later.index)
            .merge(
                first.rename(columns={"bron": "o_bron", "blad": "o_blad", "rij": "o_rij"}),
                on=["batch", "aanbieder", "referentienummer"],
            )
        )
        m["o_batch"] = m["batch"]
        found.append(m.assign(_what="earlier in this file"))
    if not found:
        return findings(lines.iloc[0:0], "", None)
    m = pd.concat(found, ignore_index=True).drop_duplicates("_idx")
    hit = lines.loc[m["_idx"].to_numpy()]
    where = pd.Series(where_text(m, "o_").to_numpy(), index=hit.index)
    found_where = pd.Series(m["_what"].to_numpy(), index=hit.index)
    msg = (
        "referentienummer "
        + text_of(hit["referentienummer"])
        + " was already used by aanbieder "
        + text_of(hit["aanbieder"])
        + " ("
        + found_where
        + ": "
        + where
        + ")"
    )
    return findings(hit, msg, "referentienummer", hit["referentienummer"])


@rule("CD060", "0001", "VorigReferentieNummer is given on a credit line, and only there", family=FAMILY, niveau=BERICHT)
def cd060_vorig_only_on_credit(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    credit = lines["debet_credit"] == CREDIT
    on_debet = lines[~credit & lines["vorig_referentienummer"].notna()]
    bare_credit = lines[credit & lines["vorig_referentienummer"].isna() & lines["referentienummer"].notna()]
    return concat_findings(
        findings(
            on_debet,
            "vorig_referentienummer "
            + text_of(on_debet["vorig_referentienummer"])
            + " on a debet line: only a credit line refers to the line it cancels",
            "vorig_referentienummer",
            on_debet["vorig_referentienummer"],
        ),
        findings(
            bare_credit,
            "credit line without vorig_referentienummer (the referentienummer of the debet it cancels)",
            "vorig_referentienummer",
        ),
    )


# ============================================================================ duplicate debets
@rule(
    "TR416",
    "0001",
    "No second debet for the same toewijzing, product and ProductPeriode within one batch",
    family=FAMILY,
    niveau=BERICHT,
)
def tr416_duplicate_in_batch(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    key = lines["inhoud_sleutel"].to_numpy(dtype="int64")  # -1 for a line without aanbieder, bsn, productcode or dates
    pos = np.flatnonzero((lines["debet_credit"] != CREDIT).to_numpy() & (key >= 0))
    if len(pos) < 2:
        return findings(lines.iloc[0:0], "", None)
    # Works on positions and integer keys: a million lines are not copied for this
    pos = pos[np.argsort(lines["id"].to_numpy()[pos], kind="stable")]
    batch, _ = pd.factorize(lines["batch"].to_numpy()[pos])
    group, _ = pd.factorize(batch * (int(key[pos].max()) + 1) + key[pos])  # one code per (batch, content)
    _, first_of = np.unique(group, return_index=True)  # per code, its first line (lowest id)
    later = np.ones(len(pos), dtype=bool)
    later[first_of] = False
    if not later.any():
        return findings(lines.iloc[0:0], "", None)
    first = pos[first_of[group[later]]]
    m = pd.DataFrame(
        {
            "_idx": lines.index[pos[later]],
            "_rij": lines["rij"].to_numpy()[first],
            "_blad": lines["blad"].to_numpy()[first],
        }
    )
    hit = lines.loc[m["_idx"].to_numpy()]
    first_where = pd.Series(
        np.where(
            pd.notna(m["_blad"]),
            "sheet '" + text_of(m["_blad"]) + "' row " + text_of(m["_rij"]),
            "row " + text_of(m["_rij"]),
        ),
        index=hit.index,
        dtype=object,
    )
    msg = (
        "debet declared twice in this file: same toewijzing, product "
        + text_of(hit["productcode"])
        + " and ProductPeriode "
        + _period(hit)
        + " as "
        + first_where
    )
    return findings(hit, msg, "productcode", hit["productcode"])


@rule(
    "TR389",
    "9389",
    "No second debet for the same toewijzing, product and ProductPeriode as an approved debet that was not credited",
    family=FAMILY,
    niveau=REGEL,
    stateful=True,
)
def tr389_duplicate_of_approved(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    h = ctx.history
    if h is None or h.empty:
        return findings(lines.iloc[0:0], "", None)
    debets = lines[(lines["debet_credit"] != CREDIT) & _complete(lines)]
    if debets.empty:
        return findings(lines.iloc[0:0], "", None)
    line_key = debets["inhoud_sleutel"].astype("int64")
    keys = set(line_key[line_key >= 0])
    # only history lines with a key of this batch (a cheap integer test first: history is big)
    o = h[h["inhoud_sleutel"].isin(keys).to_numpy()]
    live_key = o["inhoud_sleutel"].astype("int64")
    live = (o["debet_credit"] != CREDIT).to_numpy() & (live_key >= 0).to_numpy()
    live &= ~o["gecrediteerd"].astype(bool).to_numpy()
    o, live_key = o[live], live_key[live]
    if o.empty:
        return findings(lines.iloc[0:0], "", None)
    left = pd.DataFrame({"_key": line_key.to_numpy(), "_idx": debets.index})
    left = left[left["_key"] >= 0]
    right = pd.DataFrame(
        {"_key": live_key.to_numpy(), **{f"o_{c}": o[c].to_numpy() for c in [*WHERE, "referentienummer", "id"]}}
    )
    right = right.sort_values("o_id", kind="mergesort").drop_duplicates("_key")
    m = left.merge(right, on="_key")
    if m.empty:
        return findings(lines.iloc[0:0], "", None)
    hit = lines.loc[m["_idx"].to_numpy()]
    ref = pd.Series(
        np.where(pd.notna(m["o_referentienummer"]), " (referentienummer " + text_of(m["o_referentienummer"]) + ")", ""),
        index=hit.index,
    )
    where = pd.Series(where_text(m, "o_").to_numpy(), index=hit.index)
    msg = (
        "a debet for the same toewijzing, product "
        + text_of(hit["productcode"])
        + " and ProductPeriode "
        + _period(hit)
        + " was approved earlier and not credited: "
        + where
        + ref
    )
    return findings(hit, msg, "productcode", hit["productcode"])


# ============================================================================ credits
def _same_content(c: pd.DataFrame) -> pd.Series:
    """How a credit without vorig_referentienummer finds its debet (TR323, JZ-H01, TR390)."""
    return (
        "same client, product "
        + text_of(c["productcode"])
        + ", ProductPeriode "
        + _period(c)
        + " and bedrag "
        + euro_text(c["bedrag"])
    )


def _credit_links(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The credits being judged (in id order) and the debet each cancels (``credit_links``): once
    per context for TR323, JZ-H01 and TR390."""
    return ctx.shared("credit_links", _link_credits)


def _link_credits(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    lines = ctx.lines
    credits = lines[lines["debet_credit"] == CREDIT].sort_values("id", kind="mergesort")
    return credits, credit_links(credits, ctx.history)


@rule(
    "TR323",
    "8017",
    "A credit line cancels an approved debet of this aanbieder (by vorig_referentienummer, or by content)",
    family=FAMILY,
    niveau=REGEL,
    stateful=True,
)
def tr323_credit_has_debet(ctx: Context) -> pd.DataFrame:
    if not ctx.history_complete:  # the debet may be in a month that is not here: JZ-H01
        return findings(ctx.lines.iloc[0:0], "", None)
    credits, links = _credit_links(ctx)
    bad = credits[(links["reden"] == "geen_debet").to_numpy()]
    by_ref = bad["vorig_referentienummer"].notna()
    r = bad[by_ref]
    c = bad[~by_ref]
    return concat_findings(
        findings(
            r,
            "no approved debet with referentienummer "
            + text_of(r["vorig_referentienummer"])
            + " of aanbieder "
            + text_of(r["aanbieder"])
            + " to cancel (a credit can only cancel an earlier approved debet)",
            "vorig_referentienummer",
            r["vorig_referentienummer"],
        ),
        findings(
            c,
            "no approved debet of the " + _same_content(c) + " to cancel (credit without vorig_referentienummer)",
            "bedrag",
            euro_text(c["bedrag"]),
        ),
    )


@rule(
    "JZ-H01",
    "JZ-H01",
    "A credit whose debet is not in the lines given: not checkable without the earlier months (jzcli check without --eerder; signal)",
    family=FAMILY,
    ernst=SIGNAAL,
    niveau=REGEL,
    omschrijving="Creditregel is niet te controleren zonder de eerdere maanden.",
    stateful=True,
)
def jz_h01_credit_not_checkable(ctx: Context) -> pd.DataFrame:
    if ctx.history_complete:
        return findings(ctx.lines.iloc[0:0], "", None)
    credits, links = _credit_links(ctx)
    c = credits[(links["reden"] == "geen_debet").to_numpy()]
    by_ref = c["vorig_referentienummer"].notna()
    what = pd.Series(
        "the debet it cancels (referentienummer " + text_of(c["vorig_referentienummer"]) + ")", index=c.index
    ).where(
        by_ref,
        "the debet it cancels (" + _same_content(c) + ")",
    )
    msg = (
        what
        + " is not in the files given: not checkable without the earlier months (give the files already sent with --eerder)"
    )
    return findings(c, msg, "vorig_referentienummer", c["vorig_referentienummer"])


@rule("TR390", "9390", "A debet is credited only once", family=FAMILY, niveau=REGEL, stateful=True)
def tr390_credited_once(ctx: Context) -> pd.DataFrame:
    credits, links = _credit_links(ctx)
    again = (links["reden"] == "al_gecrediteerd").to_numpy()
    bad = credits[again]
    ref = links.loc[again, "debet_ref"]
    by_ref = bad["vorig_referentienummer"].notna()
    r = bad[by_ref]
    c = bad[~by_ref]
    return concat_findings(
        findings(
            r,
            "debet "
            + text_of(r["vorig_referentienummer"])
            + " of aanbieder "
            + text_of(r["aanbieder"])
            + " has already been credited",
            "vorig_referentienummer",
            r["vorig_referentienummer"],
        ),
        findings(
            c,
            "the approved debet of the "
            + _same_content(c)
            + " has already been credited"
            + pd.Series(
                np.where(
                    pd.notna(ref[~by_ref.to_numpy()]),
                    " (referentienummer " + text_of(ref[~by_ref.to_numpy()]) + ")",
                    "",
                ),
                index=c.index,
                dtype=object,
            ),
            "bedrag",
            euro_text(c["bedrag"]),
        ),
    )


# ============================================================================ declaration
@rule(
    "TR333", "9333", "DeclaratieNummer not used by this aanbieder in an earlier batch", family=FAMILY, niveau=DECLARATIE
)
def tr333_declaratienummer_unique(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    d = ctx.declaratienummers
    if d is None or d.empty:
        return findings(lines.iloc[0:0], "", None)
    cur = lines[lines["declaratienummer"].notna() & lines["aanbieder"].notna()]
    first = d.rename(columns={"batch": "o_batch", "bron": "o_bron"})[
        ["aanbieder", "declaratienummer", "o_batch", "o_bron"]
    ]
    m = (
        cur[["aanbieder", "declaratienummer", "batch"]]
        .assign(_idx=cur.index)
        .merge(first, on=["aanbieder", "declaratienummer"])
    )
    m = m[m["o_batch"] < m["batch"]]
    hit = lines.loc[m["_idx"].to_numpy()]
    msg = (
        "declaratienummer "
        + text_of(hit["declaratienummer"])
        + " was already used by aanbieder "
        + text_of(hit["aanbieder"])
        + " in batch "
        + pd.Series(text_of(m["o_batch"]).to_numpy(), index=hit.index)
        + " ("
        + pd.Series(text_of(m["o_bron"]).to_numpy(), index=hit.index)
        + ")"
    )
    return findings(hit, msg, "declaratienummer", hit["declaratienummer"])
