"""The outcome of a run (``ValidationResult``), a stored round read back, and its finding records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from jzcli.domain.codes import AFGEKEURD, GOEDGEKEURD
from jzcli.domain.findings import (
    FINDING_FRAME_COLUMNS,
    RECORD_KEYS,
    mask_value,
)
from jzcli.engine.load import last_round, load_lines, load_verdicts
from jzcli.rules.catalog import load_rules
from jzcli.rules.kit import signed_amount
from jzcli.rules.registry import rule_rank
from jzcli.store.schema import beoordelingen, bevindingen, declaratieregels
from jzcli.store.store import Store


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


def verdict_frame(lines: pd.DataFrame, status: dict[int, str]) -> pd.DataFrame:
    cols = ["batch", "bron", "blad", "rij", "aanbieder", "gemeente", "bedrag", "debet_credit"]
    v = pd.DataFrame({"regel_id": lines["id"].astype("int64").to_numpy()})
    for c in cols:
        v[c] = lines[c].to_numpy() if c in lines.columns else None
    v["status"] = v["regel_id"].map(status).astype(object)
    return v


def empty_finding_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_FRAME_COLUMNS})


def finding_frame(found: pd.DataFrame | None, lines: pd.DataFrame, status: dict[int, str]) -> pd.DataFrame:
    """Findings joined with their line's provenance and status, in line then rule order."""
    if found is None or found.empty:
        return empty_finding_frame()
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


def stored_result(store: Store, ronde: int | None = None) -> ValidationResult:
    """The verdicts and findings of one stored round (default: the latest) as a ValidationResult.

    A line judged again in a later round belongs to that later round only."""
    ronde = last_round(store) if ronde is None else int(ronde)
    if not ronde:
        return ValidationResult(
            ronde=None, verdicts=verdict_frame(load_lines(store, sa.false()), {}), findings=empty_finding_frame()
        )
    in_round = sa.select(beoordelingen.c.regel_id).where(beoordelingen.c.ronde == ronde)
    verdicts = load_verdicts(store, declaratieregels.c.id.in_(in_round))
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
        verdicts=verdict_frame(lines, status),
        findings=finding_frame(found if len(found) else None, lines, status),
    )


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
