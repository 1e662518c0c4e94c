"""Reference data shipped inside the package: CBS gemeenten and iJw code lists."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources


def _rows(name: str) -> list[dict[str, str]]:
    with resources.files("jzcli").joinpath("reference", name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=None)
def codelijst(name: str) -> dict[str, str]:
    """An iJw code list as {code: omschrijving}; codes stay strings ("01", "0611")."""
    return {r["code"]: r["omschrijving"] for r in _rows(f"codelijsten/{name}.csv")}


@lru_cache(maxsize=None)
def gemeenten() -> dict[str, dict[str, str]]:
    """CBS gemeenten (indeling 2025) keyed by 4-digit code."""
    return {r["gemeentecode"]: r for r in _rows("gemeenten.csv")}


@lru_cache(maxsize=None)
def gemeenten_historie() -> list[dict[str, str]]:
    """Codes retired by municipal mergers since 2016 (oude_code → nieuwe_code)."""
    return _rows("gemeenten-historie.csv")
