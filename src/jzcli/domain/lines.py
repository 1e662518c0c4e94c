"""The canonical declaration line (one iJw JW323 Prestatie): the line schema, declared once.

Readers normalise once into the stored columns; rules and reports never parse text. Money
(``tarief``, ``bedrag``) is integer eurocents, as in iJw (IV024). ``volume`` is the iJw
GeleverdVolume: a whole number (eurocents when eenheid is 83).

The engine's line frame (what every rule gets as ``ctx.lines`` and ``ctx.history``) has exactly
the columns of ``LINE_SCHEMA``, in that order and with those dtypes: the ``STORED`` columns as
``engine.load`` reads them from ``declaratieregels``, then the ``DERIVED`` ones ``engine.derive``
adds. ``conform()`` gives any frame of lines that shape (the engine checks its own frame with it;
tests build small frames of a few columns and conform them). ``tests/test_line_schema.py`` runs
the real engine and fails when a column is added or dropped without being declared here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# A text column ("str") holds Python strings, whether or not pyarrow is installed (the store's lines
# arrive as Arrow columns, so it is): pyarrow storage would make a new Python string per cell each
# time a column is turned into numpy, which the rules and the verdicts do (1 M lines: validate's
# peak RSS 1.79 GB with pyarrow storage). Set here, where the line schema's dtypes are declared; the
# store imports this module before any frame is built.
pd.set_option("mode.string_storage", "python")

# Provenance columns, in export order.
PROVENANCE = ["batch", "bron", "blad", "rij"]

# The Prestatie's text fields (Dutch names, after JW323).
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

# The Prestatie fields in export order: the text fields with the dates after productcode and the
# numbers after the dates (volume before eenheid, as in JW323).
FIELDS = [
    *TEXT_FIELDS[:9],
    *DATE_FIELDS,
    "volume",
    "eenheid",
    *MONEY_FIELDS,
    "debet_credit",
]

EXPORT_COLUMNS = PROVENANCE + FIELDS


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # a pandas dtype name: int64, Int64 (nullable), bool, str, object, datetime64[us|ns]
    meaning: str


_STR, _INT, _NINT, _BOOL, _OBJ = "str", "int64", "Int64", "bool", "object"
_DAY, _NS = "datetime64[us]", "datetime64[ns]"

# What the store holds per line (declaratieregels), as the engine reads it.
STORED = [
    Column("id", _INT, "declaratieregels.id: import order"),
    Column("batch", _INT, "the import batch (file) the line came from"),
    Column("bron", _STR, "the file name"),
    Column("blad", _STR, "the sheet name (NaN for csv and XML)"),
    Column("rij", _NINT, "the Excel row / csv line / XML Prestatie number"),
    Column("aanbieder", _STR, "AGB code of the provider"),
    Column("gemeente", _STR, "CBS code of the gemeente, as written"),
    Column("declaratienummer", _STR, "DeclaratieNummer"),
    Column("referentienummer", _STR, "ReferentieNummer of the Prestatie"),
    Column("vorig_referentienummer", _STR, "VorigReferentieNummer: the debet a credit cancels"),
    Column("bsn", _STR, "the client's BSN (9 digits)"),
    Column("toewijzingnummer", _STR, "ToewijzingNummer (NaN when the file has none)"),
    Column("productcategorie", _STR, "ProductCategorie (the contract's filled in by derive where the file has none)"),
    Column("productcode", _STR, "ProductCode"),
    Column("begindatum", _DAY, "ProductPeriode Begindatum (IV089 may move a month's side: derive)"),
    Column("einddatum", _DAY, "ProductPeriode Einddatum"),
    Column("volume", _NINT, "GeleverdVolume (whole number; cents for eenheid 83)"),
    Column("eenheid", _STR, "Eenheid code (WJ756; 82/84 from the contract for 'stuks')"),
    Column("tarief", _NINT, "ProductTarief, cents"),
    Column("bedrag", _NINT, "IngediendBedrag, cents"),
    Column("debet_credit", _STR, "D or C"),
    Column("periode_uit_maand", _NINT, "bits: 1 begindatum, 2 einddatum came from a month column (NA before schema 2)"),
]

# What the engine derives per line (engine.derive), in the order it adds them.
DERIVED = [
    Column("gemeente_opvolger", _OBJ, "the successor code a retired gemeente code is judged as, else None"),
    Column("contract_tarief", _NINT, "tariff of the contract product that applies, cents"),
    Column("contract_eenheid", _OBJ, "eenheid of that contract product"),
    Column("contract_id", _NINT, "that product's contract"),
    Column("contract_variant", _OBJ, "its uitvoeringsvariant"),
    Column("contract_productcategorie", _OBJ, "its productcategorie"),
    Column("contract_product_found", _BOOL, "a contract product applies"),
    Column("productcategorie_uit_contract", _BOOL, "productcategorie was taken from the contract"),
    Column("eenheid_uit_contract", _BOOL, "eenheid 'stuks' resolved to the contract's 82/84"),
    Column("minuutregel", _BOOL, "eenheid 01 on an hourly contract tariff (IV081)"),
    Column("toewijzing_id", _NINT, "the allocation the line draws on (toewijzingen.id), NA when none"),
    Column("toewijzing_match", _OBJ, "how it was found: 'nummer', 'inhoud' or None"),
    Column("toewijzing_uitleg", _OBJ, "why no allocation was found for a debet without one (TR338), else None"),
    Column("categorie_afgeleid", _OBJ, "the productcategorie a line without one resolves to, for reports"),
    Column("categorie_bron", _OBJ, "where that came from: 'contract', 'toewijzing' or None"),
    Column("declaratieperiode", _DAY, "first day of the DeclaratiePeriode month (spreadsheet: latest month in batch)"),
    Column("blad_totaal", _NINT, "Σ debet − Σ credit of the line's sheet, cents (NA when a bedrag is missing)"),
    Column("blad_regels", _INT, "number of lines in the line's sheet"),
    Column("blad_vermeld_totaal", _NINT, "the total the file states for the sheet, cents (TR358)"),
    Column("begin_uit_maand", _BOOL, "begindatum came from a month column"),
    Column("eind_uit_maand", _BOOL, "einddatum came from a month column"),
    Column("productperiode_uit_maand", _BOOL, "either side came from a month column"),
    Column("productperiode_afgeleid", _OBJ, "the IV089 clipping done, as text, or None"),
    Column("bericht", _BOOL, "the line came in an iJw JW323 message"),
    Column("bericht_dagtekening", _NS, "the message's Header Dagtekening (NaT for spreadsheets)"),
    Column("declaratie_dagtekening", _NS, "the Declaratie's Dagtekening (TR335)"),
    Column("declaratieperiode_begin", _NS, "the message's DeclaratiePeriode Begindatum"),
    Column("declaratieperiode_eind", _NS, "the message's DeclaratiePeriode Einddatum"),
    Column("inhoud_sleutel", _INT, "one code per line content (TR389/TR416, credit matching); -1 = incomplete"),
    Column("referentie_sleutel", _INT, "code of (aanbieder, referentienummer); -1 = missing"),
    Column("vorig_sleutel", _INT, "code of (aanbieder, vorig_referentienummer), same code space; -1 = missing"),
    Column("gecrediteerd", _BOOL, "an approved credit cancels this debet"),
    Column("crediteert", _NINT, "the debet id this approved credit cancels"),
]

LINE_SCHEMA = STORED + DERIVED
STORED_COLUMNS = [c.name for c in STORED]
LINE_COLUMNS = [c.name for c in LINE_SCHEMA]
DTYPES = {c.name: c.dtype for c in LINE_SCHEMA}


def missing_values(dtype: str, n: int) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """``n`` missing values of a schema dtype (False for bool, -1 for the int64 keys)."""
    if dtype == _NINT:
        return pd.arrays.IntegerArray(np.zeros(n, dtype="int64"), np.ones(n, dtype=bool))
    if dtype == _INT:
        return np.full(n, -1, dtype="int64")
    if dtype == _BOOL:
        return np.zeros(n, dtype=bool)
    if dtype.startswith("datetime64"):
        return np.full(n, np.datetime64("NaT"), dtype=dtype)
    if dtype == _STR:
        return pd.array(np.full(n, np.nan, dtype=object), dtype="str")
    return np.full(n, None, dtype=object)


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` in the shape of ``LINE_SCHEMA``: every declared column, in order, with its dtype;
    a missing column filled with missing values (``missing_values``). A frame that has that shape
    already is returned as is (no copy). A column that is not declared is an error (declare it)."""
    extra = [c for c in frame.columns if c not in DTYPES]
    if extra:
        raise ValueError(f"undeclared line columns {extra}: declare them in jzcli.domain.lines")
    if list(frame.columns) == LINE_COLUMNS and all(str(t) == DTYPES[str(c)] for c, t in frame.dtypes.items()):
        return frame
    n = len(frame)
    data = {}
    for c, dtype in DTYPES.items():
        if c not in frame.columns:
            data[c] = pd.Series(missing_values(dtype, n), index=frame.index)
        elif str(frame[c].dtype) != dtype:
            # pandas-stubs: astype's overloads take only literal dtype names, not a str variable
            data[c] = frame[c].astype(dtype)  # type: ignore[call-overload]
        else:
            data[c] = frame[c]
    return pd.DataFrame(data, index=frame.index, copy=False)
