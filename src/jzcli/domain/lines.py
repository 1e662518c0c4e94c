"""The canonical declaration line (one iJw JW323 Prestatie) and related constants.

Readers normalise once into these columns; rules and reports never parse text.
Money (``tarief``, ``bedrag``) is integer eurocents, as in iJw (IV024). ``volume`` is the iJw
GeleverdVolume: a whole number (eurocents when eenheid is 83).
"""

from __future__ import annotations

# Provenance columns, in export order.
PROVENANCE = ["batch", "bron", "blad", "rij"]

# The Prestatie fields (Dutch names, after JW323), in export order.
FIELDS = [
    "aanbieder",
    "gemeente",
    "declaratienummer",
    "referentienummer",
    "vorig_referentienummer",
    "bsn",
    "toewijzingnummer",
    "productcategorie",
    "productcode",
    "begindatum",
    "einddatum",
    "volume",
    "eenheid",
    "tarief",
    "bedrag",
    "debet_credit",
]

EXPORT_COLUMNS = PROVENANCE + FIELDS

TEXT_FIELDS = [
    "aanbieder",
    "gemeente",
    "declaratienummer",
    "referentienummer",
    "vorig_referentienummer",
    "bsn",
    "toewijzingnummer",
    "productcategorie",
    "productcode",
    "eenheid",
    "debet_credit",
]
DATE_FIELDS = ["begindatum", "einddatum"]
INT_FIELDS = ["volume", "tarief", "bedrag"]  # tarief and bedrag in eurocents
MONEY_FIELDS = ["tarief", "bedrag"]

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
