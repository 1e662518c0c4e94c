"""A finding and its record: one builder for what a rule returns, the record format of the output.

A rule returns the offending lines as a frame with ``FINDING_COLUMNS``:

    id       the declaratieregels.id of the offending line
    kolom    the field the finding is about (canonical name, e.g. "tarief"), or None
    waarde   the offending value as text (what the provider wrote), or None
    melding  a specific English message with the values involved

The engine adds the rule's regel, retourcode and ernst; a finding record (JSON/CSV output) has
exactly ``RECORD_KEYS``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from jzcli.domain.text import mask_bsn, mask_bsns_in

FINDING_COLUMNS = ["id", "kolom", "waarde", "melding"]


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


def findings(
    lines: pd.DataFrame | Sequence[int] | pd.Series,
    melding: pd.Series | Sequence[str] | str,
    kolom: str | None = None,
    waarde: pd.Series | Sequence[object] | str | None = None,
) -> pd.DataFrame:
    """A rule's result frame for the offending lines: ``lines`` is a filtered ctx.lines (its ``id``
    column) or the ids themselves; ``melding`` and ``waarde`` are aligned with them or one scalar
    for all (a missing ``waarde`` becomes None)."""
    ids = lines["id"] if isinstance(lines, pd.DataFrame) else lines
    frame = pd.DataFrame({"id": pd.Series(ids, dtype="int64").to_numpy()})
    n = len(frame)
    frame["kolom"] = kolom
    if isinstance(waarde, pd.Series):
        frame["waarde"] = waarde.astype(object).where(waarde.notna(), None).to_numpy()
    elif waarde is None or isinstance(waarde, str):
        frame["waarde"] = [waarde] * n
    else:
        frame["waarde"] = list(waarde)  # type: ignore[assignment]  # pandas-stubs: a column from a list of objects
    if isinstance(melding, pd.Series):
        frame["melding"] = melding.astype(str).to_numpy()
    else:
        frame["melding"] = [melding] * n if isinstance(melding, str) else list(melding)
    return frame[FINDING_COLUMNS]


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series(dtype="int64"),
            "kolom": pd.Series(dtype=object),
            "waarde": pd.Series(dtype=object),
            "melding": pd.Series(dtype=object),
        }
    )


def concat_findings(*frames: pd.DataFrame) -> pd.DataFrame:
    kept = [f for f in frames if f is not None and len(f)]
    if not kept:
        return empty_findings()
    return pd.concat(kept, ignore_index=True)[FINDING_COLUMNS]
