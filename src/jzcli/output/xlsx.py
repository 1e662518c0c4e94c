"""What every workbook jzcli writes for people has in common: column headers in Dutch as people
read them ("Aandeel %", not ``aandeel_pct``) and a page setup that prints on few pages
(landscape, fit to the page width, the header row repeated on every page).

The keys stay what they are in JSON and CSV (stable names for other systems); only the header
cells people read in a workbook are labelled here.
"""

from __future__ import annotations

# number formats every workbook shares
EURO_FORMAT = '"€" #,##0.00;"€" -#,##0.00'
PCT_FORMAT = "0.00%"
COUNT_FORMAT = "#,##0"
MONTH_FORMAT = "yyyy-mm"
DATE_FORMAT = "dd-mm-yyyy"

HEADERS = {
    "niveau": "Niveau",
    "gemeente": "Gemeente",
    "gemeente_naam": "Gemeentenaam",
    "gemeente_opmerking": "Opmerking gemeente",
    "aanbieder": "Aanbieder (AGB)",
    "aanbieders": "Aanbieders",
    "productcategorie": "Productcategorie",
    "productcategorie_omschrijving": "Omschrijving productcategorie",
    "productcode": "Productcode",
    "maand": "Maand",
    "kwartaal": "Kwartaal",
    "jaar": "Jaar",
    "regels": "Regels",
    "clienten": "Cliënten",
    "volume": "Volume",
    "ingediend": "Ingediend",
    "goedgekeurd": "Goedgekeurd",
    "afgekeurd": "Afgekeurd",
    "onbeoordeeld": "Onbeoordeeld",
    "aandeel_pct": "Aandeel %",
    "budget": "Budget",
    "gerealiseerd": "Gerealiseerd",
    "maanden": "Maanden",
    "prognose": "Prognose",
    "verschil": "Ruimte (budget − prognose)",
    "uitputting_pct": "Uitputting %",
    "prognose_pct": "Prognose %",
    "opmerking": "Opmerking",
    "beoordeeld": "Beoordeeld",
    "afgekeurd_regels": "Afgekeurde regels",
    "afgekeurd_pct": "Afgekeurd %",
    "afgekeurd_bedrag": "Afgekeurd bedrag",
    "eerste_indieningen": "Eerste indieningen",
    "eerste_goedgekeurd": "Eerste keer goedgekeurd",
    "herindieningen": "Herindieningen",
    "first_time_right_pct": "First-time-right %",
    "regel": "Regel",
    "retourcode": "Retourcode",
    "omschrijving": "Omschrijving",
    "titel": "Wat wordt gecontroleerd",
    "ernst": "Ernst",
    "bedrag": "Bedrag",
    "batch": "Batch",
    "bestand": "Bestand",
    "bron": "Bestand",
    "blad": "Blad",
    "rij": "Rij",
    "kolom": "Kolom",
    "waarde": "Waarde",
    "melding": "Melding",
    "status": "Status",
    "hint": "Wat te veranderen",
    "declaratienummer": "Declaratienummer",
    "referentienummer": "Referentienummer",
    "vorig_referentienummer": "Vorig referentienummer",
    "bsn": "BSN",
    "toewijzingnummer": "Toewijzingnummer",
    "begindatum": "Begindatum",
    "einddatum": "Einddatum",
    "eenheid": "Eenheid",
    "tarief": "Tarief",
    "debet_credit": "Debet/credit",
    "goedgekeurd_regels": "Goedgekeurde regels",
    "productperiode_afgeleid": "ProductPeriode afgeleid",
    "toewijzing_gevonden": "Toewijzing gevonden",
    "contract_productcategorie": "Productcategorie (contract)",
    "contract_eenheid": "Eenheid (contract)",
    "retourcodes": "Retourcodes",
}


def header(key: object) -> str:
    """The Dutch column header for a key; an unknown key with its underscores as spaces."""
    text = str(key)
    return HEADERS.get(text) or (text[:1].upper() + text[1:]).replace("_", " ")


def print_setup(ws, *, header_rows: int = 1) -> None:
    """Landscape A4, every column on the page width (as many pages down as needed), the header
    row(s) repeated at the top of each printed page. Works on normal and write-only sheets."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # 0 = as many pages as needed
    if ws.sheet_properties.pageSetUpPr is None:
        from openpyxl.worksheet.properties import PageSetupProperties

        ws.sheet_properties.pageSetUpPr = PageSetupProperties()
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if header_rows:
        ws.print_title_rows = f"1:{header_rows}"
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
