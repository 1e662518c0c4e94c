"""Writing what the store holds to files people open in Excel or feed to other systems.

Every writer is formula-safe: a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR is
written as literal text (a leading apostrophe in CSV, a string cell in xlsx), never as a formula; a
number, or a text that is a plain number such as ``-1064.00``, is written as the number it is. What
an xlsx cell cannot hold (control characters, more than 32,767 characters) is handled by
``jzcli.domain.text.xlsx_guard``.
Files are written to a temporary name and moved into place, so a failure never leaves half a file.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from jzcli.domain.lines import DATE_FIELDS, EXPORT_COLUMNS, MONEY_FIELDS
from jzcli.domain.text import FORMULA_START, formula_safe, xlsx_guard
from jzcli.errors import FileReadError, UsageError

csv_safe = formula_safe  # the name every CSV writer uses
__all__ = ["FORMULA_START", "csv_safe"]

_DECIMAL = re.compile(r"^-?\d+\.\d+$")


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside ``target``; move it into place only when the block succeeds."""
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.exists():
        raise FileReadError(f"{target}: folder {directory} does not exist")
    if target.is_dir():
        raise FileReadError(f"{target}: is a folder; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise FileReadError(
            f"{target}: cannot write in folder {directory} ({exc.strerror or exc}); nothing was written"
        ) from None
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise FileReadError(f"{target}: cannot be written ({exc.strerror or exc}); nothing was written") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def declaraties_for_export(frame: pd.DataFrame) -> pd.DataFrame:
    """Stored lines → the export's columns: dates ISO, money in euros with two decimals."""
    result = pd.DataFrame(index=frame.index)
    for col in EXPORT_COLUMNS:
        s = frame[col]
        if col in DATE_FIELDS:
            s = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
        elif col in MONEY_FIELDS:
            s = s.map(cents_to_euro_text)
        elif col in ("volume", "batch", "rij"):
            s = s.map(lambda v: "" if v is None or v != v else str(int(v)))
        result[col] = s
    return result.fillna("")


def cents_to_euro_text(value: object) -> str:
    if value is None or value != value:
        return ""
    cents = int(value)
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


# CSV for people who open it in Excel: a file is UTF-8 with a BOM (Excel then reads ë and € right).
# ``excel=True`` writes the Dutch Excel dialect: ';' between fields and a decimal comma in the
# number columns named (money, percentages), so Excel with Dutch settings sees numbers.
EXCEL_DELIMITER = ";"


def _decimal_comma(value: object) -> object:
    if isinstance(value, float):
        return repr(value).replace(".", ",") if value == value else ""
    if isinstance(value, str) and _DECIMAL.match(value):
        return value.replace(".", ",")
    return value


def csv_rows(frame: pd.DataFrame, *, excel: bool = False, decimal_columns=()):
    """The header and rows of ``frame`` as CSV fields: formula-safe, and with a decimal comma in
    ``decimal_columns`` when ``excel``."""
    yield [str(c) for c in frame.columns]
    decimal = [excel and c in set(decimal_columns) for c in frame.columns]
    for row in frame.itertuples(index=False, name=None):
        yield ["" if v is None else csv_safe(_decimal_comma(v) if d else v) for v, d in zip(row, decimal)]


def csv_text(frame: pd.DataFrame, *, excel: bool = False, decimal_columns=()) -> str:
    """CSV as text with LF line ends (for stdout: written as UTF-8 bytes, so Windows adds no CR)."""
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", delimiter=EXCEL_DELIMITER if excel else ",")
    writer.writerows(csv_rows(frame, excel=excel, decimal_columns=decimal_columns))
    return buf.getvalue()


def write_table(
    frame: pd.DataFrame,
    target: Path,
    *,
    sheet: str = "Declaraties",
    number_formats: dict | None = None,
    excel: bool = False,
    decimal_columns=(),
) -> None:
    """Write a frame as .csv (UTF-8 with BOM, ',' separated, dot decimals; ``excel``: ';' and
    decimal commas in ``decimal_columns``) or .xlsx, chosen by the suffix."""
    suffix = target.suffix.lower()
    if suffix == ".csv":
        with atomic_path(target) as tmp:
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh, delimiter=EXCEL_DELIMITER if excel else ",")
                writer.writerows(csv_rows(frame, excel=excel, decimal_columns=decimal_columns))
    elif suffix in (".xlsx", ".xlsm"):
        write_xlsx({sheet: frame}, target, number_formats=number_formats)
    else:
        raise UsageError(f"-o {target}: use a .csv or .xlsx file name")


def write_xlsx(
    sheets: dict[str, pd.DataFrame], target: Path, *, number_formats: dict | None = None, labels: bool = False
) -> None:
    """Write frames as sheets: frozen header, autofilter, widths, printed landscape on the page
    width with the header on every page; text never becomes a formula. ``labels``: Dutch column
    headers as people read them (xlsx_layout.HEADERS) instead of the keys."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    number_formats = number_formats or {}
    with xlsx_guard(target):
        _write_xlsx(sheets, target, number_formats, labels, Workbook, WriteOnlyCell, Font, get_column_letter)


def _write_xlsx(sheets, target, number_formats, labels, Workbook, WriteOnlyCell, Font, get_column_letter) -> None:
    from jzcli.output.xlsx import header as dutch_header
    from jzcli.output.xlsx import print_setup

    wb = Workbook(write_only=True)
    for name, frame in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        names = [dutch_header(c) if labels else str(c) for c in frame.columns]
        widths = [max(8, min(40, len(n) + 2)) for n in names]
        for i, col in enumerate(frame.columns):
            sample = frame[col].head(200).map(lambda v: len(str(v)) if v is not None else 0)
            if len(sample):
                widths[i] = max(widths[i], min(40, int(sample.max()) + 2))
            ws.column_dimensions[get_column_letter(i + 1)].width = widths[i]
        ws.freeze_panes = "A2"
        print_setup(ws)
        if len(frame.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
        bold = Font(bold=True)
        header = []
        for c in names:
            cell = WriteOnlyCell(ws, value=c)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        formats = [number_formats.get(c) for c in frame.columns]
        for row in frame.itertuples(index=False, name=None):
            cells = []
            for value, fmt in zip(row, formats):
                cells.append(_xlsx_cell(ws, value, fmt, WriteOnlyCell))
            ws.append(cells)
    with atomic_path(target) as tmp:
        wb.save(tmp)


def _xlsx_cell(ws, value, fmt, cell_type):
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA or value is pd.NaT:
        return cell_type(ws, value=None)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    cell = cell_type(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # literal text, even when it starts with "="
    if fmt:
        cell.number_format = fmt
    return cell


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
        write_xlsx(
            {"Declaraties": xl},
            target,
            number_formats={"begindatum": "yyyy-mm-dd", "einddatum": "yyyy-mm-dd", "tarief": "0.00", "bedrag": "0.00"},
        )
    else:
        table = declaraties_for_export(data)
        if pseudonym is not None:
            table = table.rename(columns={"bsn": PSEUDONYM_COLUMN})
        _add_facts(table, data, facts)
        write_table(table.fillna(""), target, excel=excel, decimal_columns=MONEY_FIELDS)
    return len(frame)


def _add_facts(table: pd.DataFrame, lines: pd.DataFrame, facts: pd.DataFrame | None) -> None:
    if facts is None:
        return
    for col in facts.columns:
        table[col] = lines["id"].map(facts[col]).astype(object).where(lambda s: s.notna(), None).to_numpy()


def _cents_decimal(v):
    from decimal import Decimal

    return Decimal(int(v)) / 100
