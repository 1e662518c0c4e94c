"""The fields of what a gemeente agreed with an aanbieder — a contract product and an allocation
(toewijzing, iJw JW301 ToegewezenProduct) — as readers produce them and the store, the engine and the
reports read them. Money (tarief, budget) is integer eurocents; dates are dates.
"""

from __future__ import annotations

# A contract product: what is bought, in which unit, at what tariff, in which variant, from when.
PRODUCT_FIELDS = [
    "productcategorie",
    "productcode",
    "omschrijving",
    "eenheid",
    "tarief",
    "uitvoeringsvariant",
    "geldig_van",
    "geldig_tot",
]

# An allocation version (one row per ToegewezenProduct as imported; later versions win).
TOEWIJZING_FIELDS = [
    "toewijzingnummer",
    "bsn",
    "aanbieder",
    "gemeente",
    "productcategorie",
    "productcode",
    "ingangsdatum",
    "einddatum",
    "volume",
    "eenheid",
    "frequentie",
    "budget",
    "reden_wijziging",
    "toewijzingsdatum",
]
