"""Message rules: what an iJw JW323 message must satisfy as a whole (its header, its declaration
and the keys inside it). They judge only lines that came from an XML message (``bericht``); a
spreadsheet has no message, and these rules never fire for it.

All rules here have niveau ``bericht`` or ``declaratie``: the engine runs them over each whole
message before anything else and one afkeur finding rejects the whole message (or declaration);
the lines that broke the rule get the finding, the other lines a finding pointing at it (see
``validate.judge_messages``). A rule that concerns the message as such (its period, number,
identification, total) gives every line of the message the finding.

Message data comes from ``ctx.berichten`` (one row per batch: the ``berichten`` columns plus the
batch's ``details``, where the reader records the Clients with a repeated Bsn for TR101).

Level-2 rules of the standard that also apply to spreadsheet lines live with the line and history
rules (CS002, CS337, CS100, TR134, TR137, TR335, CS339, CD087, TR358, CD060, TR416); for message
lines those compare with the message's Dagtekening and DeclaratiePeriode.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jzcli.domain.codes import BERICHT, CREDIT, DECLARATIE
from jzcli.domain.findings import concat_findings, findings
from jzcli.domain.text import mask_bsn
from jzcli.rules.kit import Context, date_text, month_text, text_of
from jzcli.rules.registry import rule

FAMILY = "message"
JW323_CODE = "490"


def _none(ctx: Context) -> pd.DataFrame:
    return findings(ctx.lines.iloc[0:0], "", None)


def _message_lines(ctx: Context) -> pd.DataFrame:
    """The judged lines that came from a JW323 message."""
    lines = ctx.lines
    if ctx.berichten is None or ctx.berichten.empty:
        return lines.iloc[0:0]
    return lines[lines["bericht"].astype(bool)]


def _messages(ctx: Context) -> pd.DataFrame:
    """JW323 rows of ctx.berichten, indexed by batch."""
    b = ctx.berichten
    if b is None or b.empty:
        return pd.DataFrame(columns=["berichtcode"]).rename_axis("batch")
    return b[b["berichtcode"] == JW323_CODE].set_index("batch")


def _per_message(
    ctx: Context, bad_batches: pd.Index | list, melding: pd.Series, kolom: str | None, waarde: pd.Series | None = None
) -> pd.DataFrame:
    """A finding on every judged line of the given batches; ``melding``/``waarde`` indexed by batch."""
    lines = _message_lines(ctx)
    hit = lines[lines["batch"].isin(list(bad_batches))]
    if hit.empty:
        return _none(ctx)
    msg = hit["batch"].map(melding)
    value = hit["batch"].map(waarde) if waarde is not None else None
    return findings(hit, msg, kolom, value)


# ============================================================================ level 2: keys in the message
@rule(
    "TR101",
    "0001",
    "No two Clients with the same Bsn, and no two Prestaties with the same ReferentieNummer + VorigReferentieNummer under one Client, in one message",
    family=FAMILY,
    niveau=BERICHT,
)
def tr101_unique_keys(ctx: Context) -> pd.DataFrame:
    lines = _message_lines(ctx)
    if lines.empty:
        return _none(ctx)
    frames = []
    # a Bsn in a second Client: the lines under that Client
    msgs = _messages(ctx)
    rows = []
    for batch in lines["batch"].unique():
        details = msgs["details"].get(batch) if "details" in msgs.columns else None
        for dup in ((details or {}).get("bericht") or {}).get("dubbele_clienten") or []:
            for rij in dup.get("regels") or []:
                rows.append((int(batch), int(rij), int(dup.get("rij") or 0), int(dup.get("eerste_rij") or 0)))
    if rows:
        d = pd.DataFrame(rows, columns=["batch", "rij", "client_rij", "eerste_rij"]).drop_duplicates(["batch", "rij"])
        m = lines[["id", "batch", "rij", "bsn"]].assign(_idx=lines.index).merge(d, on=["batch", "rij"])
        hit = lines.loc[m["_idx"].to_numpy()]
        msg = (
            "Bsn "
            + hit["bsn"].map(mask_bsn).astype(str)
            + " is in a second Client (line "
            + pd.Series(text_of(m["client_rij"]).to_numpy(), index=hit.index)
            + "); the first Client with this Bsn is at line "
            + pd.Series(text_of(m["eerste_rij"]).to_numpy(), index=hit.index)
        )
        frames.append(findings(hit, msg, "bsn", hit["bsn"]))
    # a Prestatie key repeated under one Client (the Bsn stands for the Client)
    keyed = lines[lines["referentienummer"].notna()].sort_values("id", kind="mergesort")
    key = pd.DataFrame(
        {
            "batch": keyed["batch"].to_numpy(),
            "bsn": keyed["bsn"].astype(object).to_numpy(),
            "ref": keyed["referentienummer"].astype(object).to_numpy(),
            "vorig": keyed["vorig_referentienummer"]
            .astype(object)
            .where(keyed["vorig_referentienummer"].notna(), "")
            .to_numpy(),
        },
        index=keyed.index,
    )
    again = key.duplicated(["batch", "bsn", "ref", "vorig"], keep="first")
    if again.any():
        firsts = key[~again].assign(_rij=keyed.loc[~again, "rij"].to_numpy())
        later = key[again].assign(_idx=key.index[again])
        m = later.merge(firsts, on=["batch", "bsn", "ref", "vorig"], how="left")
        hit = lines.loc[m["_idx"].to_numpy()]
        vorig = hit["vorig_referentienummer"]
        msg = (
            "Prestatie with ReferentieNummer "
            + text_of(hit["referentienummer"])
            + pd.Series(
                np.where(vorig.notna(), " and VorigReferentieNummer " + text_of(vorig), ""),
                index=hit.index,
                dtype=object,
            )
            + " is in the message twice under this Client (first at line "
            + pd.Series(text_of(m["_rij"].astype("Int64")).to_numpy(), index=hit.index)
            + ")"
        )
        frames.append(findings(hit, msg, "referentienummer", hit["referentienummer"]))
    return concat_findings(*frames)


@rule("TR315", "0001", "VorigReferentieNummer is unique within the message", family=FAMILY, niveau=BERICHT)
def tr315_vorig_unique(ctx: Context) -> pd.DataFrame:
    lines = _message_lines(ctx)
    v = lines[lines["vorig_referentienummer"].notna()].sort_values("id", kind="mergesort")
    if len(v) < 2:
        return _none(ctx)
    key = pd.DataFrame(
        {"batch": v["batch"].to_numpy(), "vorig": v["vorig_referentienummer"].astype(object).to_numpy()}, index=v.index
    )
    again = key.duplicated(["batch", "vorig"], keep="first")
    if not again.any():
        return _none(ctx)
    firsts = key[~again].assign(_rij=v.loc[~again, "rij"].to_numpy())
    later = key[again].assign(_idx=key.index[again])
    m = later.merge(firsts, on=["batch", "vorig"], how="left")
    hit = lines.loc[m["_idx"].to_numpy()]
    msg = (
        "VorigReferentieNummer "
        + text_of(hit["vorig_referentienummer"])
        + " is also on line "
        + pd.Series(text_of(m["_rij"].astype("Int64")).to_numpy(), index=hit.index)
        + " of this message: a line can be credited only once"
    )
    return findings(hit, msg, "vorig_referentienummer", hit["vorig_referentienummer"])


@rule(
    "TR316",
    "0001",
    "A line is not credited in the message that declares it (nor by itself)",
    family=FAMILY,
    niveau=BERICHT,
)
def tr316_no_credit_of_own_line(ctx: Context) -> pd.DataFrame:
    """The official XSLT compares a credit's VorigReferentieNummer with every ReferentieNummer
    of the message: a credit of a debet in the same message, and a credit whose
    VorigReferentieNummer is its own ReferentieNummer, reject the message (0001)."""
    lines = _message_lines(ctx)
    credits = lines[(lines["debet_credit"] == CREDIT) & lines["vorig_referentienummer"].notna()]
    if credits.empty:
        return _none(ctx)
    keyed = lines[lines["referentienummer"].notna()].sort_values("id", kind="mergesort")
    left = pd.DataFrame(
        {
            "batch": credits["batch"].to_numpy(),
            "ref": credits["vorig_referentienummer"].astype(object).to_numpy(),
            "_idx": credits.index,
            "_id": credits["id"].to_numpy(),
        }
    )
    right = pd.DataFrame(
        {
            "batch": keyed["batch"].to_numpy(),
            "ref": keyed["referentienummer"].astype(object).to_numpy(),
            "_rij": keyed["rij"].to_numpy(),
            "_oid": keyed["id"].to_numpy(),
            "_debet": (keyed["debet_credit"] != CREDIT).to_numpy(),
        }
    )
    m = left.merge(right, on=["batch", "ref"])
    if m.empty:
        return _none(ctx)
    # per credit: its own line first (self-credit), else the first line with that number
    m = m.assign(_self=m["_id"] == m["_oid"]).sort_values(
        ["_idx", "_self", "_oid"], ascending=[True, False, True], kind="mergesort"
    )
    m = m.drop_duplicates("_idx")
    hit = lines.loc[m["_idx"].to_numpy()]
    ref = text_of(hit["vorig_referentienummer"])
    rij = pd.Series(text_of(m["_rij"].astype("Int64")).to_numpy(), index=hit.index)
    what = pd.Series(np.where(m["_debet"].to_numpy(), "the debet", "the credit"), index=hit.index, dtype=object)
    own = pd.Series(m["_self"].to_numpy(), index=hit.index)
    msg = (
        "credits "
        + what
        + " with ReferentieNummer "
        + ref
        + " on line "
        + rij
        + " of this same message (a debet can only be credited after it was approved)"
    ).where(
        ~own,
        "credits itself: VorigReferentieNummer "
        + ref
        + " is this Prestatie's own ReferentieNummer (a credit refers to an earlier approved debet)",
    )
    return findings(hit, msg, "vorig_referentienummer", hit["vorig_referentienummer"])


@rule(
    "CS325",
    "0001",
    "An amount of 0 (a line's IngediendBedrag or the TotaalIngediendBedrag) carries D",
    family=FAMILY,
    niveau=BERICHT,
)
def cs325_zero_is_debet(ctx: Context) -> pd.DataFrame:
    lines = _message_lines(ctx)
    if lines.empty:
        return _none(ctx)
    zero_c = lines[((lines["bedrag"] == 0) & (lines["debet_credit"] == CREDIT)).fillna(False).astype(bool)]
    msgs = _messages(ctx)
    total = msgs[(msgs["totaal_ingediend"] == 0).fillna(False).astype(bool) & (msgs["totaal_debet_credit"] == CREDIT)]
    melding = pd.Series(
        "TotaalIngediendBedrag € 0,00 carries C: an amount of 0 carries D", index=total.index, dtype=object
    )
    return concat_findings(
        findings(
            zero_c, "IngediendBedrag € 0,00 carries C: an amount of 0 carries D", "debet_credit", zero_c["debet_credit"]
        ),
        _per_message(ctx, total.index, melding, "debet_credit", pd.Series(CREDIT, index=total.index)),
    )


# ============================================================================ level 2: the declaration
@rule("CS340", "0001", "DeclaratiePeriode is exactly one whole calendar month", family=FAMILY, niveau=BERICHT)
def cs340_whole_month(ctx: Context) -> pd.DataFrame:
    lines = _message_lines(ctx)
    msgs = _messages(ctx)
    if lines.empty or msgs.empty:
        return _none(ctx)
    msgs = msgs[msgs.index.isin(lines["batch"])]
    b, e = msgs["declaratieperiode_begin"], msgs["declaratieperiode_eind"]
    whole = (b.dt.day == 1) & (e == b + pd.offsets.MonthEnd(0))
    bad = msgs[~whole.fillna(False).astype(bool)]
    period = date_text(bad["declaratieperiode_begin"]) + ".." + date_text(bad["declaratieperiode_eind"])
    melding = "DeclaratiePeriode " + period + " is not one whole calendar month (the 1st to the last day of one month)"
    return _per_message(ctx, bad.index, melding, "declaratieperiode", period)


@rule("CS319", "0001", "DeclaratieNummer has only letters and digits", family=FAMILY, niveau=BERICHT)
def cs319_declaratienummer_text(ctx: Context) -> pd.DataFrame:
    lines = _message_lines(ctx)
    msgs = _messages(ctx)
    if lines.empty or msgs.empty:
        return _none(ctx)
    nummer = msgs["declaratienummer"].astype(object)
    ok = nummer.notna() & nummer.astype(str).str.fullmatch(r"[A-Za-z0-9]+")
    bad = msgs[~ok.fillna(False).astype(bool)]
    melding = "DeclaratieNummer '" + text_of(bad["declaratienummer"]) + "' may hold only letters and digits"
    return _per_message(ctx, bad.index, melding, "declaratienummer", bad["declaratienummer"])


# ============================================================================ the Header (level 3/4)
@rule("TR056", "9056", "BerichtIdentificatie not used before by this sender for a JW323", family=FAMILY, niveau=BERICHT)
def tr056_identificatie_unique(ctx: Context) -> pd.DataFrame:
    lines = _message_lines(ctx)
    msgs = _messages(ctx)
    if lines.empty or msgs.empty:
        return _none(ctx)
    all_msgs = msgs.reset_index().sort_values("batch", kind="mergesort")
    first = all_msgs.drop_duplicates(["afzender", "identificatie"], keep="first")[
        ["afzender", "identificatie", "batch", "bestand"]
    ]
    cur = all_msgs[all_msgs["batch"].isin(lines["batch"])]
    m = cur[["batch", "afzender", "identificatie"]].merge(
        first.rename(columns={"batch": "o_batch", "bestand": "o_bestand"}), on=["afzender", "identificatie"]
    )
    m = m[m["o_batch"] < m["batch"]].set_index("batch")
    melding = (
        "BerichtIdentificatie "
        + text_of(m["identificatie"])
        + " of aanbieder "
        + text_of(m["afzender"])
        + " was already used for a JW323 in batch "
        + text_of(m["o_batch"])
        + " ("
        + text_of(m["o_bestand"])
        + ")"
    )
    return _per_message(ctx, m.index, melding, "identificatie", m["identificatie"])


@rule("TR135", "8848", "The message's Dagtekening is not after today", family=FAMILY, niveau=BERICHT)
def tr135_dagtekening(ctx: Context) -> pd.DataFrame:
    lines = _message_lines(ctx)
    msgs = _messages(ctx)
    if lines.empty or msgs.empty:
        return _none(ctx)
    today = pd.Timestamp(ctx.today)
    bad = msgs[msgs.index.isin(lines["batch"]) & (msgs["dagtekening"] > today).fillna(False).astype(bool)]
    melding = (
        "the message's Dagtekening "
        + date_text(bad["dagtekening"])
        + " is after today ("
        + today.strftime("%Y-%m-%d")
        + ")"
    )
    return _per_message(ctx, bad.index, melding, "dagtekening", date_text(bad["dagtekening"]))


# ============================================================================ the declaration (level 3)
@rule(
    "TR318",
    "8214",
    "DeclaratiePeriode is not before the last period this aanbieder declared to this gemeente (a month may be repeated, not gone back to)",
    family=FAMILY,
    niveau=DECLARATIE,
)
def tr318_period_sequence(ctx: Context) -> pd.DataFrame:
    """The standard asks for the month after the previous one when care was continuous; whether
    it was is not in the messages (months without care are skipped), so jzcli checks what can be
    known: never a month before the last declared one (IV090, OP284). The last declared one is
    the latest DeclaratiePeriode of an earlier JW323 of this aanbieder to this gemeente with an
    approved line (a message rejected as a whole counts as not sent)."""
    lines = _message_lines(ctx)
    msgs = _messages(ctx)
    h = ctx.history
    if lines.empty or msgs.empty or h is None or h.empty:
        return _none(ctx)
    sent = msgs[msgs.index.isin(h["batch"].unique())].reset_index()
    if sent.empty:
        return _none(ctx)
    cur = msgs[msgs.index.isin(lines["batch"])].reset_index()
    m = cur[["batch", "afzender", "ontvanger", "declaratieperiode_begin"]].merge(
        sent[["batch", "afzender", "ontvanger", "declaratieperiode_begin", "declaratienummer", "bestand"]].rename(
            columns={
                "batch": "o_batch",
                "declaratieperiode_begin": "o_begin",
                "declaratienummer": "o_nummer",
                "bestand": "o_bestand",
            }
        ),
        on=["afzender", "ontvanger"],
    )
    m = m[
        (m["o_batch"] < m["batch"]) & (m["o_begin"].dt.to_period("M") > m["declaratieperiode_begin"].dt.to_period("M"))
    ]
    if m.empty:
        return _none(ctx)
    m = (
        m.sort_values(["batch", "o_begin", "o_batch"], kind="mergesort")
        .drop_duplicates("batch", keep="last")
        .set_index("batch")
    )
    melding = (
        "DeclaratiePeriode "
        + month_text(m["declaratieperiode_begin"])
        + " is before "
        + month_text(m["o_begin"])
        + ", already declared by aanbieder "
        + text_of(m["afzender"])
        + " to gemeente "
        + text_of(m["ontvanger"])
        + " (declaratie "
        + text_of(m["o_nummer"])
        + ", batch "
        + text_of(m["o_batch"])
        + ", "
        + text_of(m["o_bestand"])
        + "); a declaration may repeat the last month but not go back to an earlier one"
    )
    return _per_message(ctx, m.index, melding, "declaratieperiode", month_text(m["declaratieperiode_begin"]))
