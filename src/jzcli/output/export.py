"""Writing what the store holds to files people open in Excel or feed to other systems.

Every writer is formula-safe: a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR is
written as literal text (a leading apostrophe in CSV, a string cell in xlsx), never as a formula; a
number, or a text that is a plain number such as ``-1064.00``, is written as the number it is. What
an xlsx cell cannot hold (control characters, more than 32,767 characters) is handled by
``jzcli.domain.text.xlsx_guard``.
Files are written to a temporary name and moved into place, so a failure never leaves half a file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pandas as pd

from jzcli.domain.lines import DATE_FIELDS, EXPORT_COLUMNS, MONEY_FIELDS
from jzcli.domain.text import euro_decimal
from jzcli.errors import FileReadError, UsageError
from jzcli.output.records import write_records
from jzcli.output.xlsx import write_frames


def declaraties_for_export(frame: pd.DataFrame) -> pd.DataFrame:
    """Stored lines → the export's columns: dates ISO, money in euros with two decimals."""
    result = pd.DataFrame(index=frame.index)
    for col in EXPORT_COLUMNS:
        s = frame[col]
        if col in DATE_FIELDS:
            s = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
        elif col in MONEY_FIELDS:
            s = s.map(euro_decimal)
        elif col in ("volume", "batch", "rij"):
            s = s.map(lambda v: "" if v is None or v != v else str(int(v)))
        result[col] = s
    return result.fillna("")


# --- pseudonyms: a keyed hash instead of the BSN, for analysts ----------------------------------
PSEUDONYM_ENV = "JZCLI_PSEUDONIEM_SLEUTEL"
PSEUDONYM_COLUMN = "bsn_pseudoniem"
MIN_KEY_LENGTH = 16
PSEUDONYM_LENGTH = 20  # hex characters (80 bits): never 9 digits, so never mistaken for a BSN


def pseudonym_key(key_file: Path | None = None) -> bytes:
    """The secret key for pseudonyms: the contents of ``key_file``, else $JZCLI_PSEUDONIEM_SLEUTEL.

    Surrounding whitespace (a trailing newline) is not part of the key. No key, or one shorter than
    16 characters, is a usage error: a pseudonym without a secret key can be reversed by hashing
    every possible BSN.
    """
    if key_file is not None:
        try:
            key = Path(key_file).read_bytes().strip()
        except IsADirectoryError:
            raise FileReadError(f"--sleutel-bestand {key_file}: is a folder, not a key file") from None
        except OSError as exc:
            raise FileReadError(f"--sleutel-bestand {key_file}: cannot be read ({exc.strerror or exc})") from None
        source = f"--sleutel-bestand {key_file}"
    else:
        key = os.environ.get(PSEUDONYM_ENV, "").strip().encode("utf-8")
        source = PSEUDONYM_ENV
        if not key:
            raise UsageError(
                f"--pseudoniem needs a secret key: give --sleutel-bestand FILE or set {PSEUDONYM_ENV} "
                "(at least 16 characters; keep it secret and keep it: the same key gives the same pseudonyms)"
            )
    if len(key) < MIN_KEY_LENGTH:
        raise UsageError(f"{source}: the key is too short ({len(key)} characters); use at least {MIN_KEY_LENGTH}")
    return key


def pseudonymiser(key: bytes):
    """A function BSN column → pseudonym column: HMAC-SHA256(key, BSN), first 20 hex characters.

    The same BSN always gives the same pseudonym under one key; without the key it cannot be
    turned back into the BSN. Empty BSNs stay empty. One HMAC per distinct BSN, not per line.
    """

    def apply(bsns: pd.Series) -> pd.Series:
        distinct = pd.unique(bsns.dropna().astype(str))
        table = {
            b: hmac.new(key, b.encode("ascii", "replace"), hashlib.sha256).hexdigest()[:PSEUDONYM_LENGTH]
            for b in distinct
        }
        return bsns.astype(object).where(bsns.isna(), bsns.astype(str).map(table)).where(bsns.notna(), None)

    return apply


def export_declaraties(
    frame: pd.DataFrame, target: Path, *, pseudonym=None, facts: pd.DataFrame | None = None, excel: bool = False
) -> int:
    """Write stored lines with exactly the documented columns. Returns the number of lines.

    With ``pseudonym`` (see ``pseudonymiser``) the bsn column holds pseudonyms and is named
    ``bsn_pseudoniem``: the file then holds no BSN at all. ``facts`` (``validate.line_facts``,
    indexed by line id) adds its columns after the stored ones: the verdict, the retourcodes and
    what was derived, each in a column of its own. ``excel``: a .csv for Dutch Excel.
    """
    data = frame
    if pseudonym is not None:
        data = frame.copy()
        data["bsn"] = pseudonym(data["bsn"])
    suffix = Path(target).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        xl = pd.DataFrame(index=data.index)
        for col in EXPORT_COLUMNS:
            s = data[col]
            if col in DATE_FIELDS:
                s = pd.to_datetime(s)
                s = s.astype(object).where(s.notna(), None)
            elif col in MONEY_FIELDS:
                s = s.map(lambda v: None if v is None or v != v else _cents_decimal(v))
            elif col in ("volume", "batch", "rij"):
                s = s.map(lambda v: None if v is None or v != v else int(v))
            else:
                s = s.astype(object).where(s.notna(), None)
            xl[col] = s
        if pseudonym is not None:
            xl = xl.rename(columns={"bsn": PSEUDONYM_COLUMN})
        _add_facts(xl, data, facts)
        write_frames(
            {"Declaraties": xl},
            target,
            number_formats={"begindatum": "yyyy-mm-dd", "einddatum": "yyyy-mm-dd", "tarief": "0.00", "bedrag": "0.00"},
        )
    else:
        table = declaraties_for_export(data)
        if pseudonym is not None:
            table = table.rename(columns={"bsn": PSEUDONYM_COLUMN})
        _add_facts(table, data, facts)
        write_records(target, table=lambda: table.fillna(""), excel=excel, decimal_columns=MONEY_FIELDS)
    return len(frame)


def _add_facts(table: pd.DataFrame, lines: pd.DataFrame, facts: pd.DataFrame | None) -> None:
    if facts is None:
        return
    for col in facts.columns:
        table[col] = lines["id"].map(facts[col]).astype(object).where(lambda s: s.notna(), None).to_numpy()


def _cents_decimal(v):
    from decimal import Decimal

    return Decimal(int(v)) / 100
