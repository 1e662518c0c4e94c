"""Every check on a declaration line is one registered rule with its iJw code.

A rule is a plain function over the whole frame of lines being judged (no per-row Python loops)
that returns the offending lines as a DataFrame with columns:

    id       the declaratieregels.id of the offending line
    kolom    the field the finding is about (canonical name, e.g. "tarief"), or None
    waarde   the offending value as text (what the provider wrote), or None
    melding  a specific English message with the values involved,
             e.g. "tarief € 95,00 ≠ contract tariff € 98,50 for 45A01 on 2025-03-01"

It is registered once with its rule id (TR418, CS002, or a jzcli code JZ-...), retourcode,
severity (afkeur rejects the line; signaal is a warning that does not) and level. The registry is
what `jzcli rules` prints and what the README's rule table is generated from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from jzcli import refdata

AFKEUR = "afkeur"
SIGNAAL = "signaal"

# Where a rule lands in iJw terms (§11/§12 of the reference): a line (Prestatie), the whole
# declaration, or the whole message. For spreadsheet lines every rule lands on the line.
REGEL = "regel"
DECLARATIE = "declaratie"
BERICHT = "bericht"

FINDING_COLUMNS = ["id", "kolom", "waarde", "melding"]

# Descriptions for jzcli's own codes (no iJw retourcode exists for these situations).
JZ_CODES: dict[str, str] = {}


@dataclass(frozen=True)
class Rule:
    id: str
    retourcode: str
    ernst: str
    niveau: str
    titel: str  # one English line: what the rule checks
    family: str  # module family: line, contract, allocation, history
    check: Callable[[object], pd.DataFrame]
    order: int = 0

    @property
    def omschrijving(self) -> str:
        """The Dutch description of the retourcode (retourcode.csv), or jzcli's own text."""
        return refdata.codelijst("retourcode").get(self.retourcode) or JZ_CODES.get(self.retourcode, "")


RULES: dict[str, Rule] = {}


def rule(
    id: str,
    retourcode: str,
    titel: str,
    *,
    family: str,
    ernst: str = AFKEUR,
    niveau: str = REGEL,
    omschrijving: str | None = None,
):
    """Register a rule function. ``omschrijving`` is required for jzcli's own (JZ-) codes."""

    def decorate(func):
        if id in RULES:
            raise ValueError(f"rule {id} registered twice")
        if omschrijving is not None:
            JZ_CODES[retourcode] = omschrijving
        RULES[id] = Rule(id, retourcode, ernst, niveau, titel, family, func, order=len(RULES))
        return func

    return decorate


def findings(ids, melding, kolom=None, waarde=None) -> pd.DataFrame:
    """Build a rule's result frame; ``melding``/``waarde`` may be scalars or aligned sequences."""
    frame = pd.DataFrame({"id": pd.Series(ids, dtype="int64")})
    n = len(frame)
    frame["kolom"] = kolom
    frame["waarde"] = list(waarde) if waarde is not None and not isinstance(waarde, str) else [waarde] * n
    frame["melding"] = list(melding) if not isinstance(melding, str) else [melding] * n
    return frame[FINDING_COLUMNS]
