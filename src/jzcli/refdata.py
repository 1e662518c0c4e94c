"""Reference data shipped inside the package: CBS gemeenten and iJw code lists."""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from functools import cache
from importlib import resources


def _rows(name: str) -> list[dict[str, str]]:
    with resources.files("jzcli").joinpath("reference", name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def codelijst(name: str) -> dict[str, str]:
    """An iJw code list as {code: omschrijving}; codes stay strings ("01", "0611")."""
    return {r["code"]: r["omschrijving"] for r in _rows(f"codelijsten/{name}.csv")}


@cache
def gemeenten() -> dict[str, dict[str, str]]:
    """CBS gemeenten (indeling 2025) keyed by 4-digit code."""
    return {r["gemeentecode"]: r for r in _rows("gemeenten.csv")}


@cache
def gemeenten_historie() -> list[dict[str, str]]:
    """Codes retired by municipal mergers since 2016 (oude_code → nieuwe_code)."""
    return _rows("gemeenten-historie.csv")


def follow_successors(by_old: dict[str, list[dict[str, str]]], code: str, on: str | None = None) -> tuple[str, ...]:
    """The gemeente(n) code ``code`` had become by ``on`` (ISO date text; None = every change up
    to now), following chains of mergers and renames (A → B, later B → C gives C). ``(code,)``
    when the code was not retired by then or is not in ``by_old`` (oude_code → its history
    rows); several codes for a split (opsplitsing) with no single successor."""
    seen: set[str] = set()

    def follow(c: str) -> list[str]:
        rows = by_old.get(c)
        if not rows or c in seen or (on is not None and rows[0]["ingangsdatum"] > on):
            return [c]
        seen.add(c)
        out: list[str] = []
        for r in rows:
            out.extend(follow(r["nieuwe_code"]))
        return list(dict.fromkeys(out))

    return tuple(follow(code))


@cache
def _history_by_old() -> dict[str, list[dict[str, str]]]:
    by_old: dict[str, list[dict[str, str]]] = {}
    for row in gemeenten_historie():
        by_old.setdefault(row["oude_code"], []).append(row)
    return by_old


@cache
def successors(code: str, on: str | None = None) -> tuple[str, ...]:
    """``follow_successors`` over the shipped CBS history: "0381" on "2025-03-01" → ("1942",)
    (Bussum merged into Gooise Meren on 2016-01-01); "0381" on "2015-06-01" → ("0381",)."""
    return follow_successors(_history_by_old(), code, on)


@cache
def gemeenten_historie_codes() -> frozenset[str]:
    """Every code retired by a merger, rename or split."""
    return frozenset(_history_by_old())


def history_rows(code: str) -> list[dict[str, str]]:
    """Every history row of a retired code (one per successor: a split has several); [] when current."""
    return _history_by_old().get(code, [])


def retirement(code: str) -> dict[str, str] | None:
    """The first history row of a retired code (oude_naam, ingangsdatum, soort, ...), else None."""
    rows = _history_by_old().get(code)
    return rows[0] if rows else None


@cache
def predecessors(code: str) -> frozenset[str]:
    """Every retired code that (directly or via a chain) went, wholly or partly, into ``code``."""
    found: set[str] = set()
    todo = [code]
    while todo:
        current = todo.pop()
        for old, rows in _history_by_old().items():
            if old not in found and any(row["nieuwe_code"] == current for row in rows):
                found.add(old)
                todo.append(old)
    found.discard(code)
    return frozenset(found)


# --- gemeente name lookup ------------------------------------------------------------------

# Common names that differ from the CBS name (keys are matched after normalisation).
_GEMEENTE_ALIASES = {
    "Den Haag": "0518",
    "The Hague": "0518",
    "Den Bosch": "0796",
    "Nuenen": "0820",
    "Valkenburg": "0994",
    "Sudwest Friesland": "1900",
    "Noordoost Friesland": "1970",
}

_SUFFIX = re.compile(r"\s*\([^()]*\)\s*$")


def _key(text: str) -> str:
    """Lowercase, accents stripped, only letters and digits kept ("'s-Gravenhage" -> "sgravenhage")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return "".join(ch for ch in stripped if ch.isalnum())


def _code_of(text: str) -> str | None:
    """ "0406", "406", "GM0406", "gm 0406" -> "0406"; None when the text is not a code."""
    m = re.fullmatch(r"\s*(?:gm)?\s*([0-9]{1,4})\s*", text, flags=re.IGNORECASE)
    return m.group(1).zfill(4) if m else None


@cache
def _gemeente_index() -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """(normalised name -> codes, code -> display name) over current names, aliases and old names."""
    index: dict[str, set[str]] = {}
    labels: dict[str, str] = {}

    def add(name: str, code: str) -> None:
        k = _key(name)
        if k:
            index.setdefault(k, set()).add(code)

    for code, row in gemeenten().items():
        name = row["gemeentenaam"]
        labels[code] = name
        add(name, code)
        base = _SUFFIX.sub("", name)
        if base != name:  # "Laren (NH.)" -> also "Laren", "Laren Noord-Holland"
            add(base, code)
            add(f"{base} {row['provincie']}", code)
        for long, short in ((" aan den ", " a/d "), (" aan de ", " a/d ")):
            if long in name:
                add(name.replace(long, short), code)
    for alias, code in _GEMEENTE_ALIASES.items():
        add(alias, code)
    current = set(index)
    for row in gemeenten_historie():
        code = row["oude_code"]
        labels.setdefault(code, row["oude_naam"])
        k = _key(row["oude_naam"])
        if k and k not in current:  # a current name always wins over an old one
            index.setdefault(k, set()).add(code)
    return {k: frozenset(v) for k, v in index.items()}, labels


def gemeente_naam(code: str) -> str | None:
    """The CBS name of a gemeente code (current, else the name of a merged/old code); None if unknown."""
    c = _code_of(str(code))
    return _gemeente_index()[1].get(c) if c else None


def gemeente_code(name_or_code: str) -> str | None:
    """4-digit CBS code for a gemeente name or code, or None when unknown or ambiguous.

    Matching ignores case, accents, spaces and punctuation; CBS suffixes are optional ("Laren" and
    "Laren (NH.)" -> "0417") unless that makes the name ambiguous ("Bergen": 0373 or 0893 -> None,
    see ``gemeente_suggestions``). Aliases: "Den Haag", "Den Bosch", "a/d" for "aan de(n)", and
    names of merged gemeenten ("Bussum" -> its old code "0381"). A code is returned only when it is
    a current or historic CBS code.
    """
    if name_or_code is None:
        return None
    text = str(name_or_code)
    index, labels = _gemeente_index()
    code = _code_of(text)
    if code is not None:
        return code if code in labels else None
    codes = index.get(_key(text))
    if codes is None and _SUFFIX.search(text):  # "Hengelo (Ov.)": try without the suffix
        codes = index.get(_key(_SUFFIX.sub("", text)))
    if codes is not None and len(codes) == 1:
        return next(iter(codes))
    return None


def gemeente_suggestions(text: str, n: int = 5) -> list[str]:
    """Up to ``n`` "Name (code)" candidates for a name that did not match (or matched ambiguously).

    Order: exact but ambiguous matches, then names starting with the text, then difflib's closest.
    """
    index, labels = _gemeente_index()
    k = _key(str(text))
    if not k or n <= 0:
        return []
    found: list[str] = []
    for codes in (index.get(k, frozenset()), index.get(_key(_SUFFIX.sub("", str(text))), frozenset())):
        found.extend(sorted(codes))
    found.extend(c for key in sorted(index) if key.startswith(k) and key != k for c in sorted(index[key]))
    for key in difflib.get_close_matches(k, list(index), n=n, cutoff=0.6):
        found.extend(sorted(index[key]))
    out: list[str] = []
    for code in found:
        label = f"{labels[code]} ({code})"
        if label not in out:
            out.append(label)
    return out[:n]
