"""Every rule, loaded: the rule family modules imported in a fixed order (the registry order is the
report order), and the registry as a frame, records and the README's rule table.
"""

from __future__ import annotations

import pandas as pd

# isort: off
# imported in this order so they register in it (noqa: each module registers its rules)
from jzcli.rules import message  # noqa: F401
from jzcli.rules import line  # noqa: F401
from jzcli.rules import contract  # noqa: F401
from jzcli.rules import allocation  # noqa: F401
from jzcli.rules import history  # noqa: F401

# isort: on
from jzcli.rules.registry import RULES, Rule, rule_sort_key


def load_rules() -> dict[str, Rule]:
    """The registry, with every rule family registered (imported above)."""
    return RULES


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
