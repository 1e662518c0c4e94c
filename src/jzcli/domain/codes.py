"""iJw codes and states every stage shares: severities, levels, verdicts, debet/credit, units."""

from __future__ import annotations

# Severity of a rule: afkeur rejects the line; signaal is a warning that does not.
AFKEUR = "afkeur"
SIGNAAL = "signaal"

# Where a rule lands in iJw terms (§11/§12 of the reference): a line (Prestatie), the whole
# declaration, or the whole message. For spreadsheet lines every rule lands on the line.
REGEL = "regel"
DECLARATIE = "declaratie"
BERICHT = "bericht"

TECHNISCH = "0001"  # retourcode of every level-2 rule

# The verdict on a judged line (beoordelingen.status).
GOEDGEKEURD = "goedgekeurd"
AFGEKEURD = "afgekeurd"

# iJw WJ756 Eenheid.
EENHEDEN = {
    "01": "Minuut",
    "04": "Uur",
    "14": "Etmaal",
    "16": "Dagdeel (4 uur)",
    "82": "Stuks (output)",
    "83": "Euro's",
    "84": "Stuks (inspanning)",
}

DEBET = "D"
CREDIT = "C"
