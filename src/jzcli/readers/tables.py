"""Shared pieces of the contract and allocation readers.

* ``sheet_heads``: the first rows of every sheet, cheaply, for detecting what a file holds (one
  read per file, cached, so several detectors cost one read);
* ``table_body``: the rows under a found header, without blank rows, repeated headers and notes;
* ``Problems``: every unreadable value with file/sheet/row/column, raised as one refusal. Contracts
  and allocations are the municipality's own data: a half-read file is never stored.
"""

from __future__ import annotations

import codecs
import csv
import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jzcli.domain.text import mask_bsn, mask_bsns_in
from jzcli.errors import FileReadError
from jzcli.readers.headers import HEADER_SCAN_ROWS, HeaderMatch, SynonymTable, find_header
from jzcli.readers.spreadsheet import (
    RawSheet,
    _check_zip,
    _frame,
    decode_text,
    read_head,
    sniff_delimiter,
    sniff_kind,
    text_lines,
)
from jzcli.readers.values import Parsed, normalise_text

MAX_LISTED = 10  # problems spelled out in one refusal message
_HEAD_BYTES = 256 * 1024

_head_cache: dict[tuple, list[RawSheet]] = {}


def sheet_heads(path: Path, nrows: int = HEADER_SCAN_ROWS) -> list[RawSheet]:
    """The first ``nrows`` rows of every sheet (CSV: of the file); [] when it cannot be read.

    Only for detection: a file that cannot be read here is left to its reader, which says why.
    The last file's heads are cached (keyed by path, size and modification time).
    """
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, nrows)
    except OSError:
        return []
    if key in _head_cache:
        return _head_cache[key]
    try:
        sheets = _read_heads(path, nrows)
    except Exception:  # detection must never fail an import by itself
        sheets = []
    _head_cache.clear()
    _head_cache[key] = sheets
    return sheets


def _read_heads(path: Path, nrows: int) -> list[RawSheet]:
    head = read_head(path)
    if not head:
        return []
    kind = sniff_kind(path, head)
    if kind in ("zip", "ole"):
        if kind == "zip":
            _check_zip(path)
            try:
                return _xlsx_heads(path, nrows)
            except Exception:
                pass  # not a plain xlsx (ods, xlsb, odd writer): let calamine read it
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        try:
            sheets = []
            for name in wb.sheet_names:
                try:
                    rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=nrows)
                except Exception:
                    continue
                sheets.append(RawSheet(name, _frame(rows)))
            return sheets
        finally:
            try:
                wb.close()
            except Exception:
                pass
    if kind == "xml":
        return []
    with path.open("rb") as fh:
        data = fh.read(_HEAD_BYTES)
    unit = (
        4
        if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE))
        else 2
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        else 1
    )
    if len(data) == _HEAD_BYTES and unit > 1:
        data = data[: len(data) // unit * unit]  # whole UTF-16/UTF-32 code units
        data = data[: len(data) - (2 * unit if len(data) > 4 * unit else 0)]  # never half a surrogate pair
    elif len(data) == _HEAD_BYTES and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]  # never cut a character in half
    text, _ = decode_text(path, data)
    lines = text_lines(text)[:nrows]
    rows = list(csv.reader(lines, delimiter=sniff_delimiter(text)))
    width = max((len(r) for r in rows), default=0)
    rows = [r + [None] * (width - len(r)) for r in rows]
    return [RawSheet(None, _frame(rows).replace({"": None}))]


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _col_index(ref: str) -> int:
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + (ord(ch.upper()) - 64)
    return n - 1


def _parse(fh):
    from lxml import etree

    return etree.iterparse(
        fh, events=("end",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )


def _xlsx_heads(path: Path, nrows: int) -> list[RawSheet]:
    """The first rows of every worksheet of an xlsx, streamed from its XML.

    Reading a whole sheet for a look at its header would double the time of importing a big
    declaration file; this reads only the first ``nrows`` rows and the shared strings they use.
    Numbers stay numbers (date styles are not applied: detection only looks at header texts).
    """
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        heads: list[tuple[str, dict[int, dict[int, object]]]] = []
        needed: set[int] = set()  # shared strings the heads use
        for name, target in _worksheet_parts(zf):
            if not target or target not in names or "worksheets/" not in target:
                continue  # chart sheets, dialog sheets
            heads.append((name, _head_rows(zf, target, nrows, needed)))
        strings = _shared_strings(zf, needed) if needed and "xl/sharedStrings.xml" in names else {}
    return [_head_sheet(name, rows, strings) for name, rows in heads]


def _worksheet_parts(zf: zipfile.ZipFile) -> list[tuple[str, str | None]]:
    """(sheet name, zip member of its part) in workbook order."""
    rels = {}
    with zf.open("xl/_rels/workbook.xml.rels") as fh:
        for _, el in _parse(fh):
            if _local(el.tag) == "Relationship":
                target = el.get("Target", "")
                target = (
                    target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
                )
                rels[el.get("Id")] = target
    parts = []
    with zf.open("xl/workbook.xml") as fh:
        for _, el in _parse(fh):
            if _local(el.tag) == "sheet":
                rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), None)
                parts.append((el.get("name"), rels.get(rid)))
    return parts


def _head_rows(zf: zipfile.ZipFile, target: str, nrows: int, needed: set[int]) -> dict[int, dict[int, object]]:
    """Excel row -> {column: value} of the sheet's first ``nrows`` rows; a shared string is
    ("sst", index) and its index is added to ``needed``."""
    rows: dict[int, dict[int, object]] = {}
    with zf.open(target) as fh:
        for _, el in _parse(fh):
            if _local(el.tag) != "row":
                continue
            r = int(el.get("r") or (max(rows) + 1 if rows else 1))
            if r > nrows:
                break
            cells: dict[int, object] = {}
            for pos, c in enumerate(el):
                if _local(c.tag) != "c":
                    continue
                value = _cell_value(c, needed)
                if value is not None:
                    cells[_col_index(c.get("r", "")) if c.get("r") else pos] = value
            rows[r] = cells
            el.clear()
    return rows


def _cell_value(c, needed: set[int]) -> object:
    """The value of a <c> element as written (None: no value)."""
    t = c.get("t", "n")
    if t == "inlineStr":
        return "".join(x.text or "" for x in c.iter() if _local(x.tag) == "t")
    v = next((x.text for x in c if _local(x.tag) == "v"), None)
    if v is None:
        return None
    if t == "s":
        needed.add(int(v))
        return ("sst", int(v))
    if t in ("str", "e"):
        return v
    if t == "b":
        return v == "1"
    try:
        return float(v) if any(ch in v for ch in ".eE") else int(v)
    except ValueError:
        return v


def _shared_strings(zf: zipfile.ZipFile, needed: set[int]) -> dict[int, str]:
    """The needed shared strings (phonetic runs left out), reading no further than the last one."""
    strings: dict[int, str] = {}
    last = max(needed)
    with zf.open("xl/sharedStrings.xml") as fh:
        i = 0
        for _, el in _parse(fh):
            if _local(el.tag) != "si":
                continue
            if i in needed:
                strings[i] = "".join(
                    x.text or "" for x in el.iter() if _local(x.tag) == "t" and _local(x.getparent().tag) != "rPh"
                )
            el.clear()
            i += 1
            if i > last:
                break
    return strings


def _head_sheet(name: str, rows: dict[int, dict[int, object]], strings: dict[int, str]) -> RawSheet:
    """The head rows as a sheet of cells (shared strings resolved, "" as None)."""
    height = max(rows, default=0)
    width = max((max(c) + 1 for c in rows.values() if c), default=0)
    grid = [[None] * width for _ in range(height)]
    for r, cells in rows.items():
        for col, value in cells.items():
            if isinstance(value, tuple):
                value = strings.get(value[1])
            grid[r - 1][col] = None if value == "" else value
    return RawSheet(name, _frame(grid) if height and width else pd.DataFrame())


def most_text_row(sheet: RawSheet, rows: int = HEADER_SCAN_ROWS) -> list[str]:
    """The texts of the row with the most text cells near the top (the first such row): what a
    refusal shows as "Headers found" when no header is found."""
    return max(
        (
            [str(v).strip() for v in r if isinstance(v, str) and v.strip()]
            for r in sheet.cells.head(rows).values.tolist()
        ),
        key=len,
        default=[],
    )


def find_table(sheet: RawSheet, table: SynonymTable) -> HeaderMatch | None:
    if sheet.cells.empty:
        return None
    return find_header(sheet.cells.head(HEADER_SCAN_ROWS).values.tolist(), None, table)


_WORDS = re.compile(r"[^\W\d_]{3}.*\s|\s.*[^\W\d_]{3}")  # a word of letters, and more than one token


def _blank(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.isna() | frame.map(lambda v: isinstance(v, str) and not v.strip())


@dataclass
class Body:
    """The data rows under a header: ``raw`` has one column per field (index: Excel row)."""

    raw: pd.DataFrame
    skipped: list[dict] = field(default_factory=list)  # {"blad", "rij", "reden"}
    rows_read: int = 0


def table_body(sheet: RawSheet, header: HeaderMatch, key_fields: list[str]) -> Body:
    """Rows under ``header`` as raw cells per field; blank rows, repeated header rows and
    one-cell text rows (notes, signatures) are skipped and reported."""
    body = sheet.cells.iloc[header.row_index + 1 :]
    skipped: list[dict] = []
    if body.empty:
        return Body(pd.DataFrame({f: pd.Series(dtype=object) for f in header.columns}), skipped, 0)
    empty = _blank(body)
    filled = (~empty).sum(axis=1)
    keep = filled > 0
    for rij in body.index[~keep]:
        skipped.append({"blad": sheet.name, "rij": int(rij), "reden": "blank row"})
    # A row that repeats the header (multi-page exports).
    key = next((f for f in key_fields if f in header.columns), None)
    if key is not None:
        name = normalise_text(header.names[header.columns[key]])
        cells = body[header.columns[key]]
        repeat = keep & cells.map(lambda v: isinstance(v, str) and normalise_text(v) == name)
        for rij in body.index[repeat]:
            skipped.append({"blad": sheet.name, "rij": int(rij), "reden": "repeated header row"})
        keep &= ~repeat
    # One cell of words and nothing else: a note or a signature, not a row of the table (a lone
    # code such as a toewijzingnummer is a row with missing values, and is reported as such).
    words = body.map(lambda v: isinstance(v, str) and bool(_WORDS.search(v.strip()))).any(axis=1)
    note = keep & (filled == 1) & words
    for rij in body.index[note]:
        skipped.append({"blad": sheet.name, "rij": int(rij), "reden": "text row"})
    keep &= ~note
    rows = body[keep]
    raw = pd.DataFrame({f: rows[i] for f, i in header.columns.items()}, index=rows.index)
    return Body(raw, sorted(skipped, key=lambda s: s["rij"]), len(body))


def map_unique(s: pd.Series, fn: Callable[[Any], Any]) -> Parsed:
    """Parse each distinct cell of ``s`` once with ``fn`` (returns a value, None for empty, or
    raises ValueError with the reason). Values are object dtype (None when missing)."""
    codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
    values = np.full(len(uniques) + 1, None, dtype=object)
    errors = np.full(len(uniques) + 1, None, dtype=object)
    for i, u in enumerate(uniques):
        if isinstance(u, str) and not u.strip():
            continue
        try:
            values[i] = fn(u)
        except ValueError as exc:
            errors[i] = str(exc)
    return Parsed(
        pd.Series(values[codes], index=s.index, dtype=object), pd.Series(errors[codes], index=s.index, dtype=object)
    )


def raw_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class Problems:
    """Unreadable or contradictory values of one file, refused together in one message."""

    def __init__(self, path: Path):
        self.path = path
        self.items: list[tuple[tuple, str]] = []  # (sort key, text)
        self.part = 0  # sheet (or section) number: problems are listed by part, then row

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(
        self,
        where: str,
        reason: str,
        column: str | None = None,
        value: object = None,
        *,
        order: tuple = (),
        bsn: bool = False,
    ) -> None:
        text = where
        if column:
            text += f", column '{column}'"
        if value is not None and raw_text(value) != "":
            shown = mask_bsn(raw_text(value)) if bsn else mask_bsns_in(raw_text(value)[:60])
            text += f", value '{shown}'"
        self.items.append((order, f"{text}: {mask_bsns_in(reason)}"))

    def add_parsed(
        self, parsed: Parsed, raw: pd.Series, where: pd.Series, column: str, *, bsn: bool = False
    ) -> pd.Series:
        """Record every error of a parsed column; return its values."""
        bad = parsed.errors.notna()
        for rij in raw.index[bad]:
            self.add(where[rij], parsed.errors[rij], column, raw[rij], order=(self.part, rij), bsn=bsn)
        return parsed.values

    def add_mask(
        self,
        mask: pd.Series,
        where: pd.Series,
        reason: str | Callable[[Any], str],
        column: str | None = None,
        raw: pd.Series | None = None,
        *,
        bsn: bool = False,
    ) -> None:
        for rij in mask.index[mask.fillna(False).astype(bool)]:
            text = reason(rij) if callable(reason) else reason
            self.add(where[rij], text, column, None if raw is None else raw[rij], order=(self.part, rij), bsn=bsn)

    def raise_if_any(self, what: str) -> None:
        if not self.items:
            return
        ordered = [t for _, t in sorted(self.items, key=lambda i: i[0])]
        listed = "".join(f"\n  - {t}" for t in ordered[:MAX_LISTED])
        more = f"\n  ... and {len(ordered) - MAX_LISTED} more" if len(ordered) > MAX_LISTED else ""
        n = len(ordered)
        raise FileReadError(
            f"{self.path.name}: {what} refused, nothing stored ({n} problem{'s' if n != 1 else ''}):{listed}{more}"
        )
