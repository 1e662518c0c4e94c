"""Every check on a declaration line is one registered rule with its iJw code.

A rule is a plain function over the whole frame of lines being judged (``rules.kit.Context``, no
per-row Python loops) that returns the offending lines as a ``domain.findings`` frame (id, kolom,
waarde, melding; e.g. melding "tarief € 95,00 ≠ contract tariff € 98,50 for 45A01 on 2025-03-01").

It is registered once with its rule id (TR418, CS002, or a jzcli code JZ-...), retourcode,
severity (afkeur rejects the line; signaal is a warning that does not) and level. The registry is
what `jzcli rules` prints and what the README's rule table is generated from. A rule is
``stateful`` when its verdict on a line depends on other lines (``ctx.history``, or lines judged
earlier in the same batch): such rules run per batch in import order; every other rule runs once
over all lines to judge, so it must look at one line at a time (plus static data: contracts,
allocations, the batch's derived columns). ``rules.catalog`` loads every family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd

from jzcli import refdata
from jzcli.domain.codes import AFKEUR, REGEL
from jzcli.rules.kit import Context

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
    check: Callable[[Context], pd.DataFrame]
    order: int = 0
    stateful: bool = False

    @property
    def omschrijving(self) -> str:
        """The Dutch description of the retourcode (retourcode.csv), or jzcli's own text."""
        return refdata.codelijst("retourcode").get(self.retourcode) or JZ_CODES.get(self.retourcode, "")


RULES: dict[str, Rule] = {}
Check = TypeVar("Check", bound=Callable[..., pd.DataFrame])


def rule(
    id: str,
    retourcode: str,
    titel: str,
    *,
    family: str,
    ernst: str = AFKEUR,
    niveau: str = REGEL,
    omschrijving: str | None = None,
    stateful: bool = False,
) -> Callable[[Check], Check]:
    """Register a rule function. ``omschrijving`` is required for jzcli's own (JZ-) codes."""

    def decorate(func: Check) -> Check:
        if id in RULES:
            raise ValueError(f"rule {id} registered twice")
        if omschrijving is not None:
            JZ_CODES[retourcode] = omschrijving
        RULES[id] = Rule(id, retourcode, ernst, niveau, titel, family, func, order=len(RULES), stateful=stateful)
        return func

    return decorate


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
