"""The one records writer: every ``--format json|csv`` on stdout and every ``-o FILE.json|.csv``.

A command hands over two makers, ``records`` (the JSON data) and ``table`` (the frame CSV carries);
only the one the format needs is called. ``records_text`` gives the text for stdout (the CLI writes
it as UTF-8 bytes), ``write_records`` writes a file chosen by its suffix.

* JSON: indented by two spaces, non-ASCII as is, a final newline (``json_text``); a file is UTF-8.
* CSV: every field formula-safe (``domain.text.formula_safe``: a leading ``=``, ``+``, ``-``, ``@``,
  tab or CR gets an apostrophe; a plain number such as ``-1064.00`` stays a number). ``excel``:
  the Dutch Excel dialect, ';' between fields and a decimal comma in ``decimal_columns``. On stdout
  and in files lines end with LF; a file is UTF-8 with a BOM (Excel then reads ë and € right).

Every file is written to a temporary name beside the target and moved into place (``atomic_path``),
so a failure never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from jzcli.domain.text import formula_safe
from jzcli.errors import FileReadError, UsageError

if TYPE_CHECKING:  # pandas and numpy are imported where a frame is written, not when a command starts
    import pandas as pd

EXCEL_DELIMITER = ";"
_DECIMAL = re.compile(r"^-?\d+\.\d+$")

Maker = Callable[[], object]
TableMaker = Callable[[], "pd.DataFrame"]


def json_text(data: object) -> str:
    """Data as every --format json output and .json file carries it: indented by two spaces,
    non-ASCII as is, a final newline. orjson writes the same text as ``json.dumps(data,
    ensure_ascii=False, indent=2)`` for these records (floats may use a shorter exponent form),
    about six times faster: with indent, the standard library falls back to its pure-Python
    encoder (100,000 findings: 2.05 s -> 0.33 s)."""
    import orjson

    return (
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode(
            "utf-8"
        )
        + "\n"
    )


def _decimal_comma(value: object) -> object:
    if isinstance(value, float):
        return repr(value).replace(".", ",") if value == value else ""
    if isinstance(value, str) and _DECIMAL.match(value):
        return value.replace(".", ",")
    return value


def csv_rows(frame: pd.DataFrame, *, excel: bool = False, decimal_columns: Iterable[str] = ()):
    """The header and rows of ``frame`` as CSV fields: formula-safe, and with a decimal comma in
    ``decimal_columns`` when ``excel``."""
    yield [str(c) for c in frame.columns]
    decimal = [excel and c in set(decimal_columns) for c in frame.columns]
    for row in frame.itertuples(index=False, name=None):
        yield ["" if v is None else formula_safe(_decimal_comma(v) if d else v) for v, d in zip(row, decimal)]


def _rows_with_cr(frame: pd.DataFrame):
    """Which rows hold a carriage return inside a text cell (vectorised over the text columns)."""
    import numpy as np
    import pandas as pd

    found = np.zeros(len(frame), dtype=bool)
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_string_dtype(col.dtype) and col.dtype != object:
            found |= col.str.contains("\r", regex=False, na=False).to_numpy(dtype=bool)
        elif col.dtype == object:  # mixed values (numbers, Decimals, None): only texts can hold a CR
            found |= np.fromiter((isinstance(v, str) and "\r" in v for v in col), dtype=bool, count=len(col))
    return found


def _write_csv(stream, frame: pd.DataFrame, *, excel: bool, decimal_columns) -> None:
    """CSV with LF line ends. The csv module quotes a field holding the line terminator, but with LF
    it leaves a lone CR bare, and every reader (Excel, pandas, the csv module) would end the row
    there: a row with a CR in a cell is written with every field quoted."""
    delimiter = EXCEL_DELIMITER if excel else ","
    plain = csv.writer(stream, lineterminator="\n", delimiter=delimiter)
    rows = csv_rows(frame, excel=excel, decimal_columns=decimal_columns)
    plain.writerow(next(rows))
    with_cr = _rows_with_cr(frame)
    if not with_cr.any():
        plain.writerows(rows)
        return
    quoted = csv.writer(stream, lineterminator="\n", delimiter=delimiter, quoting=csv.QUOTE_ALL)
    for row, cr in zip(rows, with_cr):
        (quoted if cr else plain).writerow(row)


def csv_text(frame: pd.DataFrame, *, excel: bool = False, decimal_columns: Iterable[str] = ()) -> str:
    """CSV as text with LF line ends (for stdout: written as UTF-8 bytes, so Windows adds no CR)."""
    buf = io.StringIO()
    _write_csv(buf, frame, excel=excel, decimal_columns=decimal_columns)
    return buf.getvalue()


def records_text(
    fmt: str, *, records: Maker, table: TableMaker, excel: bool = False, decimal_columns: Iterable[str] = ()
) -> str:
    """The text of ``--format json`` (``records()``) or ``--format csv`` (``table()``) for stdout."""
    if fmt == "json":
        return json_text(records())
    return csv_text(table(), excel=excel, decimal_columns=decimal_columns)


def write_records(
    target: Path,
    *,
    records: Maker | None = None,
    table: TableMaker | None = None,
    excel: bool = False,
    decimal_columns: Iterable[str] = (),
) -> None:
    """Write ``records()`` to a .json file or ``table()`` to a .csv file (UTF-8 with BOM, LF line ends)."""
    suffix = Path(target).suffix.lower()
    if suffix == ".json" and records is not None:
        with atomic_path(target) as tmp:
            tmp.write_text(json_text(records()), encoding="utf-8")
    elif suffix == ".csv" and table is not None:
        with atomic_path(target) as tmp:
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                _write_csv(fh, table(), excel=excel, decimal_columns=decimal_columns)
    else:
        raise UsageError(f"-o {target}: use a {'.json or ' if records is not None else ''}.csv file name")


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
