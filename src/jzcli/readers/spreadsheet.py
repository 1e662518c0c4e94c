"""Reading spreadsheet files (xlsx/xlsm/xls via python-calamine, csv/txt) into raw sheets.

A raw sheet is a DataFrame of cell values exactly as stored (strings for CSV; str, int, float,
date, datetime for Excel) whose index is the row number as the user sees it in Excel (1-based) and
whose columns are 0-based column positions. Nothing is interpreted here: finding the header and
parsing values is done by the callers.

What calamine does not tell, an .xlsx/.xlsm workbook's sheet XML does; it is scanned once
(streamed, regular expressions over the raw bytes, no XML entity expansion) for:

* error cells (``#N/A``, ``#DIV/0!``, ``#REF!``, ...): calamine returns them as empty cells; the
  reader reports them as "Excel error #N/A in the cell" instead of an empty value;
* formulas without a cached result (files written by scripts, never opened in Excel): calamine
  returns them empty too; the reader reports "formula without a calculated value";
* hidden rows (hidden sheets come from calamine's sheet metadata): they are read like any other
  row and listed in the batch details.

Legacy .xls and .ods files are read by calamine without this scan: error cells there read as empty.

Limits: an .xlsx whose parts would unpack to more than ``MAX_XLSX_UNCOMPRESSED`` bytes (by the
sizes the zip declares), or a large part packed more than ``MAX_COMPRESSION_RATIO`` times, is
refused as a zip bomb.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import posixpath
import re
import stat
import sys
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jzcli.errors import FileReadError

# An xlsx is a zip; refuse one whose contents would unpack to more than this (zip bombs).
MAX_XLSX_UNCOMPRESSED = 1024 * 1024 * 1024  # 1 GiB
# Refuse a single xlsx member whose compression ratio is absurd (a few KB unpacking to GBs).
MAX_COMPRESSION_RATIO = 1000

CSV_DELIMITERS = [";", ",", "\t", "|"]

# The csv module refuses fields over 128 KiB by default; a provider's cell can be longer (and is
# then reported by the value parsers, not a crash). The file size limit bounds the memory.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

# Every file jzcli reads is a regular file of at most this size (iJw's own limit for a message is
# 25 MB; a million-line CSV is about 100 MB). Larger files, FIFOs, devices and sockets are refused
# before a byte is read, so nothing hangs on a pipe or reads /dev/zero until memory runs out.
MAX_INPUT_BYTES = 256 * 2**20
# A sheet is read cell by cell (only the cells that exist) instead of as one dense block when its
# block would hold more cells than this: one stray cell at XFD1048576 declares 17 billion.
MAX_DENSE_CELLS = 20_000_000
# Reading one file never takes longer than this (a damaged file must not hang the import).
READ_TIMEOUT_SECONDS = 50


@dataclass
class RawSheet:
    name: str | None  # sheet name; None for a CSV file
    cells: pd.DataFrame  # index: Excel row number; columns: 0-based positions
    hidden: bool = False
    # From the sheet XML of .xlsx/.xlsm files (empty for CSV, .xls and .ods):
    hidden_rows: list[int] = field(default_factory=list)  # Excel row numbers
    cell_errors: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, 0-based col) -> "#N/A"
    uncalculated: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> "=SUM(A1:A3)"
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(
        default_factory=list
    )  # ((row, col), (row, col)), 1-based rows

    def label(self, path: Path) -> str:
        return f"{path.name}" if self.name is None else f"{path.name}, sheet '{self.name}'"


def column_letter(index: int) -> str:
    """0-based column position → Excel column letters (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    """Excel column letters → 0-based column position (A → 0)."""
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - 64)
    return index - 1


def sniff_kind(path: Path, head: bytes) -> str:
    """What a file really is, from its first bytes (not its extension): xlsx, xls, encrypted, xml, text."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"  # legacy .xls, or an encrypted (password-protected) xlsx
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return "xml"
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        return "text"  # UTF-16 with BOM (Excel's "Unicode text")
    return "text"


_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_input_file(path: Path) -> int:
    """The size of ``path`` when it is a regular file jzcli may read; a FileReadError otherwise.

    Looks at what the path is (following symbolic links) before anything opens it: opening a FIFO
    blocks until someone writes to it, and a device such as /dev/zero never ends.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise FileReadError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        what = next((name for test, name in _SPECIAL if test(st.st_mode)), "not a regular file")
        link = " (through a symbolic link)" if Path(path).is_symlink() else ""
        raise FileReadError(f"{path.name}: refused: it is {what}{link}, not a regular file")
    if st.st_size > MAX_INPUT_BYTES:
        raise FileReadError(
            f"{path.name}: refused: {st.st_size / 2**20:,.0f} MiB is more than the limit of "
            f"{MAX_INPUT_BYTES // 2**20:,} MiB for one file; split it (per month or per gemeente)"
        )
    return st.st_size


def read_bounded(path: Path) -> bytes:
    """The whole file, never more than ``MAX_INPUT_BYTES`` (a file that grows while it is read)."""
    check_input_file(path)
    try:
        fh = path.open("rb")
    except OSError as exc:  # e.g. no read permission: said as for check_input_file and read_head
        raise _unreadable(path, exc) from None
    with fh:
        data = fh.read(MAX_INPUT_BYTES + 1)  # an error while reading is the caller's to word
    if len(data) > MAX_INPUT_BYTES:
        raise FileReadError(
            f"{path.name}: refused: the file grew past {MAX_INPUT_BYTES // 2**20:,} MiB while it was read"
        )
    return data


def read_head(path: Path, n: int = 4096) -> bytes:
    check_input_file(path)
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: OSError) -> FileReadError:
    """An OS error on opening or looking at ``path`` as one refusal naming the file."""
    if isinstance(exc, FileNotFoundError):
        return FileReadError(f"{path}: file not found")
    if isinstance(exc, IsADirectoryError):
        return FileReadError(f"{path}: is a folder, not a file")
    if isinstance(exc, PermissionError):
        return FileReadError(f"{path}: permission denied")
    return FileReadError(f"{path}: cannot be read ({exc.strerror or exc})")


def read_sheets(path: Path) -> list[RawSheet]:
    """All sheets of a spreadsheet file (one for CSV). Raises FileReadError with a clear message."""
    head = read_head(path)
    if not head:
        raise FileReadError(f"{path.name}: the file is empty")
    from jzcli.readers.filetype import foreign_binary, foreign_zip

    kind = sniff_kind(path, head)
    if kind == "xml":
        raise FileReadError(f"{path.name}: is an XML file, not a spreadsheet")
    with deadline(path):  # recognising a foreign zip lists its entries: bounded like the read
        foreign = foreign_zip(path) if kind == "zip" else foreign_binary(path, head)
        if foreign:
            raise FileReadError(foreign)
        if kind == "zip":
            _check_zip(path)
            return _within_sheet_rows(path, _read_excel(path))
        if kind == "ole":
            return _within_sheet_rows(path, _read_excel(path, legacy=True))
        return [_read_csv(path)]


SHEET_MAX_ROWS = 1_048_576  # the last row an xlsx/ods sheet can have (.xls: 65,536)


def _within_sheet_rows(path: Path, sheets: list[RawSheet]) -> list[RawSheet]:
    """A cell placed beyond the last row a sheet can have is a damaged file (its XML names a row
    Excel cannot hold): refused by name, not stored with a row number no sheet has."""
    for sheet in sheets:
        if len(sheet.cells.index) and int(sheet.cells.index.max()) > SHEET_MAX_ROWS:
            raise FileReadError(
                f"{sheet.label(path)}: a cell at row {int(sheet.cells.index.max()):,}, beyond the last row a sheet "
                f"can have ({SHEET_MAX_ROWS:,}): the file is damaged; open it in Excel and save it again"
            )
    return sheets


@contextmanager
def deadline(path: Path, seconds: float | None = None):
    """Bound a read in time: past ``seconds`` the process says so in one line and exits (code 3).

    A reader stuck inside a library (a damaged workbook) cannot be interrupted from Python; the
    store has not been touched while a file is read, so ending the process loses nothing.
    """
    seconds = seconds or float(os.environ.get("JZCLI_READ_TIMEOUT", READ_TIMEOUT_SECONDS))

    def expire() -> None:
        from jzcli.domain.text import visible
        from jzcli.errors import EXIT_IO

        message = (
            f"error: {visible(path.name)}: refused: reading the file took longer than {seconds:g} s "
            "(a damaged or hostile file?); nothing was imported\n"
        )
        try:
            os.write(_ERR_FD, message.encode("utf-8", "replace"))
        finally:
            os._exit(EXIT_IO)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


_ERR_FD = 2  # where deadline() writes; _quiet_stderr() points it at a copy of the real stderr


@contextmanager
def _quiet_stderr():
    """Keep what Rust libraries print on a panic (a backtrace) off the user's terminal: the panic
    itself arrives as an exception and becomes one message."""
    global _ERR_FD
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    previous = _ERR_FD
    try:
        os.dup2(devnull, 2)
        _ERR_FD = saved
        yield
    finally:
        os.dup2(saved, 2)
        _ERR_FD = previous
        os.close(saved)
        os.close(devnull)


def _is_panic(exc: BaseException) -> bool:
    """A Rust panic inside a reader library (pyo3's PanicException derives from BaseException)."""
    return type(exc).__name__ == "PanicException"


# ---------------------------------------------------------------------------------------- Excel


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError, RuntimeError):
        # NotImplementedError: a zip "version" or compression method the zipfile module lacks
        raise FileReadError(
            f"{path.name}: the file is damaged (not a complete xlsx/zip archive); open it in Excel and save it again"
        ) from None
    except OSError as exc:
        raise FileReadError(f"{path.name}: cannot be read ({exc})") from None
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        if "content.xml" in names:
            return  # OpenDocument spreadsheet (.ods): calamine reads it
        raise FileReadError(f"{path.name}: is a zip archive but not an Excel workbook")
    total = sum(i.file_size for i in infos)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise FileReadError(
            f"{path.name}: refused: the workbook would unpack to {total / 2**20:,.0f} MiB, "
            f"more than the limit of {MAX_XLSX_UNCOMPRESSED // 2**20:,} MiB"
        )
    for info in infos:
        if (
            info.compress_size
            and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO
            and info.file_size > 50 * 2**20
        ):
            raise FileReadError(
                f"{path.name}: refused: part '{info.filename}' unpacks {info.file_size / info.compress_size:,.0f}× "
                "its packed size (a zip bomb?)"
            )


def _read_excel(path: Path, legacy: bool = False) -> list[RawSheet]:
    facts = None if legacy else xlsx_facts(path)
    if facts is not None and facts.dense_cells > MAX_DENSE_CELLS:
        # calamine allocates the whole block from A1 to the farthest cell (17 billion cells for
        # one at XFD1048576, and the process aborts); read only the cells that exist.
        return _read_excel_openpyxl(path, reason="")
    try:
        with _quiet_stderr():
            return _read_excel_calamine(path, legacy, facts)
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        return _read_excel_openpyxl(path, reason=f"the reader failed: {exc}")


def _read_excel_calamine(path: Path, legacy: bool, facts: XlsxFacts | None) -> list[RawSheet]:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several types; all mean "cannot read"
        text = str(exc)
        if legacy or "password" in text.lower() or "encrypt" in text.lower() or type(exc).__name__ == "PasswordError":
            if _is_encrypted_ole(path):
                raise FileReadError(
                    f"{path.name}: the workbook is password-protected; remove the password in Excel "
                    "(File > Info > Protect Workbook) and save it again"
                ) from None
        return _read_excel_openpyxl(path, reason=text)
    sheets: list[RawSheet] = []
    # The sheet XML scan runs in a thread while calamine parses (calamine releases the GIL): a
    # 100 000-line workbook reads in 1.25 s instead of 1.5 s. _scan_xlsx never raises.
    extras: dict[str, Extras] = {}
    scan = None if legacy else threading.Thread(target=lambda: extras.update(_scan_xlsx(path)), daemon=True)
    if scan is not None:
        scan.start()
    try:
        metadata = {m.name: m for m in wb.sheets_metadata}
        for name in wb.sheet_names:
            meta = metadata.get(name)
            if meta is not None and "Worksheet" not in str(meta.typ) and "WorkSheet" not in str(meta.typ):
                continue  # chart sheets, macro sheets
            sheet = wb.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False)
            hidden = meta is not None and "Visible" != str(meta.visible).split(".")[-1]
            raw = RawSheet(name, _frame(rows), hidden=hidden)
            try:
                raw.merged = [((r0 + 1, c0), (r1 + 1, c1)) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or [])]
            except Exception:  # merge information is a help for headers, never a reason to fail
                raw.merged = []
            sheets.append(raw)
    except FileReadError:
        raise
    except Exception as exc:
        if not legacy:  # a cell calamine cannot convert (a date far out of range): read cell by cell
            if scan is not None:
                scan.join()
            return _read_excel_openpyxl(path, reason=str(exc))
        raise FileReadError(f"{path.name}: the workbook cannot be read ({exc})") from None
    finally:
        try:
            wb.close()
        except Exception:
            pass
    if scan is not None:
        scan.join()
    for raw in sheets:
        found = extras.get(raw.name)
        if found is not None:
            raw.hidden_rows, raw.cell_errors, raw.uncalculated = found
    if facts is None or facts.may_hold_nul:
        _refuse_nul(path, sheets)
    return sheets


_NUL_REF = re.compile(rb"&#(?:x0*|0+);", re.IGNORECASE)


def _refuse_nul(path: Path, sheets: list[RawSheet]) -> None:
    """A text cell with a NUL character is refused, naming the cell: PostgreSQL cannot store it in
    a text (and a CSV with NUL bytes is refused too)."""
    for raw in sheets:
        values = raw.cells.to_numpy(dtype=object)
        for j in range(values.shape[1] if values.ndim == 2 else 0):
            for i, v in enumerate(values[:, j]):
                if isinstance(v, str) and "\x00" in v:
                    raise FileReadError(
                        f"{raw.label(path)}, cell {column_letter(int(raw.cells.columns[j]))}{int(raw.cells.index[i])}: "
                        "the cell holds a NUL character (\\x00), which the store cannot hold; remove it and save the file again"
                    )


# --- what calamine does not report: error cells, formulas without a cached value, hidden rows ---
_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"  # "x:" in files written by the OpenXML SDK
_ERROR_CELL = re.compile(
    rb"<"
    + _PREFIX
    + rb"c\b([^>]*\bt=\"e\"[^>]*)>(?:<"
    + _PREFIX
    + rb"f\b[^>]*/>|<"
    + _PREFIX
    + rb"f\b[^>]*>[^<]*</"
    + _PREFIX
    + rb"f>)?<"
    + _PREFIX
    + rb"v>([^<]*)</"
    + _PREFIX
    + rb"v>"
)
_FORMULA_END = re.compile(rb"(?:</" + _PREFIX + rb"f>|<" + _PREFIX + rb"f\b[^>]*/>)(?!<" + _PREFIX + rb"v>[^<])")
_CELL_START = re.compile(rb"<" + _PREFIX + rb"c\s")
_HIDDEN_ROW = re.compile(rb"<" + _PREFIX + rb"row\b([^>]*\bhidden=\"(?:1|true)\"[^>]*)>")
_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_ROW_NUMBER = re.compile(rb'\br="(\d+)"')
_ROW_END = re.compile(rb"</" + _PREFIX + rb"row>")
_FORMULA_TEXT = re.compile(rb"<" + _PREFIX + rb"f\b[^>]*>([^<]*)</" + _PREFIX + rb"f>")
_SCAN_CHUNK = 8 * 2**20

Extras = tuple[list[int], dict[tuple[int, int], str], dict[tuple[int, int], str]]


def _scan_xlsx(path: Path) -> dict[str, Extras]:
    """Per sheet name: hidden rows, error cells and formulas without a cached value.

    Best effort: a workbook whose parts cannot be found this way is read without the extras.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            parts = _sheet_parts(zf)
            return {name: _scan_sheet(zf, part) for name, part in parts.items()}
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, RuntimeError, EOFError):
        return {}
    except Exception:  # defusedxml refusals, odd XML: the extras are a help, not a requirement
        return {}


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → zip member of its worksheet XML, from xl/workbook.xml and its relationships."""
    from defusedxml import ElementTree as ET

    names = set(zf.namelist())
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return {}
    rels = {}
    for rel in ET.fromstring(zf.read("xl/_rels/workbook.xml.rels")):
        target = rel.get("Target") or ""
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        rels[rel.get("Id")] = member
    parts = {}
    for element in ET.fromstring(zf.read("xl/workbook.xml")).iter():
        if element.tag.rsplit("}", 1)[-1] != "sheet":
            continue
        rid = next((v for k, v in element.attrib.items() if k.rsplit("}", 1)[-1] == "id"), None)
        member = rels.get(rid)
        if member in names:
            parts[element.get("name")] = member
    return parts


def _scan_sheet(zf: zipfile.ZipFile, member: str) -> Extras:
    hidden: list[int] = []
    errors: dict[tuple[int, int], str] = {}
    uncalculated: dict[tuple[int, int], str] = {}
    carry = b""
    with zf.open(member) as fh:
        while True:
            chunk = fh.read(_SCAN_CHUNK)
            data = carry + chunk
            if not chunk:
                piece, carry = data, b""
            else:
                # Cut after the last complete row so no cell is split between two pieces.
                last = None
                for last in _ROW_END.finditer(data, max(0, len(data) - 2**20)):  # noqa: B007 (keeps the last match)
                    pass
                if last is None:
                    for last in _ROW_END.finditer(data):  # noqa: B007 (keeps the last match)
                        pass
                if last is None:
                    carry = data
                    continue
                piece, carry = data[: last.end()], data[last.end() :]
            _scan_piece(piece, hidden, errors, uncalculated)
            if not chunk:
                break
    return hidden, errors, uncalculated


def _scan_piece(piece: bytes, hidden: list[int], errors: dict, uncalculated: dict) -> None:
    if b"hidden=" in piece:
        for m in _HIDDEN_ROW.finditer(piece):
            number = _ROW_NUMBER.search(m.group(1))
            if number:
                hidden.append(int(number.group(1)))
    if b't="e"' in piece:
        for m in _ERROR_CELL.finditer(piece):
            ref = _REF.search(m.group(1))
            if ref:
                errors[(int(ref.group(2)), column_index(ref.group(1).decode()))] = m.group(2).decode("utf-8", "replace")
    if b"<f" in piece or b":f" in piece:
        for m in _FORMULA_END.finditer(piece):
            start = None
            for start in _CELL_START.finditer(piece, max(0, m.start() - 65536), m.start()):  # noqa: B007
                pass  # the last cell opened before the formula's end is its cell
            if start is None:
                continue
            open_end = piece.index(b">", start.start())
            attrs = piece[start.start() : open_end]
            ref = _REF.search(attrs)
            if ref is None or b't="e"' in attrs:
                continue  # error cells are reported as errors
            if b't="str"' in attrs and (piece.startswith(b"<v></v>", m.end()) or piece.startswith(b"<v/>", m.end())):
                continue  # a formula whose cached result is an empty text
            text = _FORMULA_TEXT.search(piece, open_end, m.end())
            formula = "=" + text.group(1).decode("utf-8", "replace") if text and text.group(1) else "(formula)"
            uncalculated[(int(ref.group(2)), column_index(ref.group(1).decode()))] = _unescape(formula)


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _is_encrypted_ole(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            data = fh.read(1_000_000)
    except OSError:
        return False
    return "EncryptionInfo".encode("utf-16-le") in data or b"EncryptionInfo" in data


# Attributes as every writer puts them (a space before r="..."): patterns that begin with a literal
# are searched for fast (a 48 MB sheet in 0.1 s each, against 1.8 s for ones that test every byte).
_WIDE_REF = re.compile(rb' r="([A-Z]{2,})[0-9]')  # a cell beyond column Z
_FAR_CELL = re.compile(rb' r="[A-Z]+([0-9]{6,})"')  # a cell in row 100000 or beyond
_FAR_ROW = re.compile(rb' r="([0-9]{6,})"')  # a <row> numbered 100000 or beyond


@dataclass
class XlsxFacts:
    rows: int = 0  # of the largest block from A1 to the farthest cell of any worksheet
    columns: int = 0
    may_hold_nul: bool = False  # an escape that decodes to NUL (_x0000_, &#0;) somewhere in xl/

    @property
    def dense_cells(self) -> int:
        return self.rows * self.columns


def xlsx_facts(path: Path) -> XlsxFacts:
    """What must be known of an xlsx before calamine reads it, from one streamed pass over its XML:
    the block calamine would allocate (from the cells themselves, not the ``<dimension>`` a file
    may declare) and whether a text could hold a NUL. Unreadable parts count as the worst case
    (the reader then reports them)."""
    facts = XlsxFacts()
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                if not (member.startswith("xl/") and member.endswith(".xml")):
                    continue
                sheet = member.startswith("xl/worksheets/")
                rows, cols, count, carry = 0, 26, 0, b""
                with zf.open(member) as fh:
                    while chunk := fh.read(_SCAN_CHUNK):
                        data = carry + chunk
                        cut = data.rfind(b">") + 1
                        piece, carry = data[:cut], data[cut:][-4096:]
                        if not facts.may_hold_nul and (b"_x0000_" in data or (b"&#" in data and _NUL_REF.search(data))):
                            facts.may_hold_nul = True
                        if not sheet:
                            continue
                        count += piece.count(b"row ")  # <row ...> and <x:row ...> (a row without r="...")
                        far = _FAR_CELL.findall(piece) + _FAR_ROW.findall(piece)
                        if far:
                            rows = max(rows, max(map(int, far)))
                        for letters in set(_WIDE_REF.findall(piece)):
                            cols = max(cols, column_index(letters.decode()) + 1)
                rows = max(rows, count)
                if sheet and rows * cols > facts.dense_cells:
                    facts.rows, facts.columns = rows, cols
    except Exception:
        return XlsxFacts(rows=MAX_DENSE_CELLS, columns=MAX_DENSE_CELLS, may_hold_nul=True)
    return facts


def _read_excel_openpyxl(path: Path, reason: str) -> list[RawSheet]:
    """Cell by cell, only the cells that exist: for workbooks calamine cannot open or convert, and
    for sheets whose farthest cell would make a dense block too large. Rows without any cell are
    left out (the index keeps the Excel row numbers); a date cell whose number is no date stays
    that number (the value parsers report it)."""
    import warnings

    import openpyxl
    from openpyxl.utils.datetime import from_excel
    from openpyxl.worksheet._reader import WorkSheetParser

    suffix = f" ({reason})" if reason else ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise FileReadError(f"{path.name}: the workbook cannot be read{suffix or f' ({exc})'}") from None
        try:
            sheets = []
            for ws in wb.worksheets:
                if not hasattr(ws, "_get_source"):
                    continue  # chart sheets
                cells: dict[int, dict[int, object]] = {}
                width = 0
                with ws._get_source() as src:
                    parser = WorkSheetParser(
                        src,
                        ws._shared_strings,
                        data_only=True,
                        epoch=wb.epoch,
                        date_formats=set(),
                        timedelta_formats=set(),
                    )
                    for _, row in parser.parse():
                        for cell in row:
                            value = cell["value"]
                            if value is None:
                                continue
                            r, c = cell["row"], cell["column"]
                            if cell["data_type"] == "n" and cell["style_id"] in wb._date_formats:
                                try:
                                    value = from_excel(
                                        value, wb.epoch, timedelta=cell["style_id"] in wb._timedelta_formats
                                    )
                                except (OverflowError, ValueError, TypeError):
                                    pass  # no date: the number as written
                            cells.setdefault(r, {})[c - 1] = value
                            width = max(width, c)
                            if len(cells) * width > MAX_DENSE_CELLS:
                                raise FileReadError(
                                    f"{path.name}, sheet '{ws.title}': refused: cells reach row {r:,}, column "
                                    f"{column_letter(width - 1)}: more than {MAX_DENSE_CELLS:,} cells to read; delete "
                                    "the rows and columns outside the table in Excel and save it again"
                                )
                numbers = sorted(cells)
                frame = (
                    pd.DataFrame(
                        [[cells[n].get(c) for c in range(width)] for n in numbers], columns=range(width), dtype=object
                    )
                    if numbers
                    else pd.DataFrame()
                )
                if numbers:
                    frame.index = pd.Index(numbers)
                    frame = _blank_to_none(frame)
                sheets.append(RawSheet(ws.title, frame, hidden=ws.sheet_state != "visible"))
            _refuse_nul(path, sheets)
            return sheets
        except FileReadError:
            raise
        except Exception as exc:
            raise FileReadError(f"{path.name}: the workbook cannot be read ({exc}){suffix}") from None
        finally:
            wb.close()


def _frame(rows: list[list[object]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    width = max((len(r) for r in rows), default=0)
    frame = pd.DataFrame(rows, columns=range(width), dtype=object)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    # calamine gives "" for empty cells; make every blank cell None so emptiness is one test.
    return _blank_to_none(frame)


def _blank_to_none(frame: pd.DataFrame) -> pd.DataFrame:
    """ "" → None in an object frame, on the whole array at once (wide sheets have 16 384 columns)."""
    values = frame.to_numpy(dtype=object, copy=True)
    values[values == ""] = None
    return pd.DataFrame(values, index=frame.index, columns=frame.columns, dtype=object)


# ------------------------------------------------------------------------------------------ CSV


_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_text(path: Path, data: bytes) -> tuple[str, str]:
    """Decode a text file: UTF-8 (with or without BOM), UTF-32 or UTF-16 with BOM, else Windows-1252."""
    if data.startswith(codecs.BOM_UTF32_LE) or data.startswith(codecs.BOM_UTF32_BE):
        # before UTF-16: the UTF-32 LE mark begins with the UTF-16 LE mark
        try:
            return data.decode("utf-32"), "utf-32"
        except UnicodeDecodeError as exc:
            raise FileReadError(
                f"{path.name}: bytes that are not valid UTF-32 text (at byte {exc.start}); save the file as CSV UTF-8"
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise FileReadError(_bad_bytes(path, data, exc, "UTF-8")) from None
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise FileReadError(_bad_bytes(path, data, exc, "UTF-16")) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8 as a whole. A file stitched together from two sources can be UTF-8 in some lines and
    # Windows-1252 in others: decode line by line, UTF-8 where that is valid.
    fast = _decode_non_ascii_lines(data)
    if fast is not None:
        return fast
    decoded, mixed = [], False
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            text = raw.decode("utf-8")
            mixed = mixed or not text.isascii()
        except UnicodeDecodeError:
            try:
                text = raw.decode("cp1252")
            except UnicodeDecodeError as exc:
                raise FileReadError(
                    f"{path.name}: row {number}: bytes that are not valid UTF-8 or Windows-1252 text "
                    f"(byte 0x{raw[exc.start]:02x}); save the file as CSV UTF-8"
                ) from None
        decoded.append(text)
    return "".join(decoded), "utf-8+cp1252" if mixed else "cp1252"


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _decode_non_ascii_lines(data: bytes) -> tuple[str, str] | None:
    """The line-by-line decoding of ``decode_text``, deciding only the lines with non-ASCII bytes
    (ASCII reads the same either way): a million-line Windows-1252 file with a few accented names
    decodes in milliseconds instead of 0.55 s. None when a line is neither UTF-8 nor Windows-1252
    (the caller's loop then names that row)."""
    pieces: list[str] = []
    mixed = False
    pos = 0
    while (m := _NON_ASCII.search(data, pos)) is not None:
        # the line around the byte, as bytes.splitlines() cuts it (at \n, \r or \r\n)
        start = max(data.rfind(b"\n", pos, m.start()), data.rfind(b"\r", pos, m.start())) + 1
        if start == 0:
            start = pos
        ends = [i for i in (data.find(b"\n", m.start()), data.find(b"\r", m.start())) if i >= 0]
        end = min(ends) if ends else len(data)
        pieces.append(data[pos:start].decode("ascii"))
        line = data[start:end]
        try:
            pieces.append(line.decode("utf-8"))
            mixed = True  # a line with non-ASCII characters that is valid UTF-8
        except UnicodeDecodeError:
            try:
                pieces.append(line.decode("cp1252"))
            except UnicodeDecodeError:
                return None
        pos = end
    pieces.append(data[pos:].decode("ascii"))
    return "".join(pieces), "utf-8+cp1252" if mixed else "cp1252"


def _bad_bytes(path: Path, data: bytes, exc: UnicodeDecodeError, what: str) -> str:
    line = data.count(b"\n", 0, exc.start) + 1
    return f"{path.name}: row {line}: bytes that are not valid {what} text; save the file as CSV UTF-8"


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def text_lines(text: str) -> list[str]:
    """The lines of a CSV text, cut only where a CSV parser cuts them (\\r\\n, \\r, \\n): unlike
    ``str.splitlines`` never inside a cell at U+2028, U+2029, NEL (U+0085), \\v, \\f or \\x1c-\\x1e."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def head_lines(text: str, n: int) -> list[str]:
    """``text_lines(text)[:n]`` without splitting the whole text (a million-line file)."""
    size = 1 << 16
    while size < len(text):
        lines = text_lines(text[:size])
        if len(lines) > n:  # line n is followed by a line break, so it is complete
            return lines[:n]
        size *= 4
    return text_lines(text)[:n]


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the most sample lines into the same number (> 1) of fields; on a
    tie, the one that gives more fields."""
    lines = [ln for ln in head_lines(text, 200) if ln.strip()]
    best, best_score = ";", (-1.0, 0)
    for delim in CSV_DELIMITERS:
        # Line by line, so one unterminated quote cannot swallow the lines after it.
        # Trailing empty fields (";;;" at the end of ragged rows) do not count.
        counts = [len(_without_trailing_empties(next(csv.reader([ln], delimiter=delim), []))) for ln in lines]
        counts = [c for c in counts if c > 1]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        score = (counts.count(mode) / len(lines), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def _without_trailing_empties(fields: list[str]) -> list[str]:
    end = len(fields)
    while end and not fields[end - 1].strip():
        end -= 1
    return fields[:end]


def _read_csv(path: Path) -> RawSheet:
    try:
        data = read_bounded(path)
    except OSError as exc:
        raise FileReadError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    if b"\x00" in data and not data.startswith(_WIDE_BOMS):
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise FileReadError(
            f"{path.name}: row {line}: the file contains NUL bytes; it is not a text/CSV file (or it is damaged)"
        )
    text, encoding = decode_text(path, data)
    if not text or text.isspace():
        raise FileReadError(f"{path.name}: the file is empty")
    # Blank lines before the table (a million of them) are rows like any other, but the delimiter
    # and the width are taken from the lines that hold something.
    start = len(text) - len(text.lstrip("\r\n"))
    sample = text[start : start + 2**24] if start else text
    delim = sniff_delimiter(sample)
    width = max((len(r) for r in csv.reader(head_lines(sample, 1000), delimiter=delim)), default=1)
    del sample
    # The C parser reads UTF-8 bytes; handing it the file's own bytes when they are UTF-8 saves
    # re-encoding the decoded text (1 M lines: 0.15 s) and holding both at once.
    if encoding == "utf-8":
        payload = data
    elif encoding == "utf-8-sig":
        payload = data[len(codecs.BOM_UTF8) :]
    else:
        payload = text.encode("utf-8")
    del text, data
    for _attempt in range(5):
        try:
            # Empty fields are read as NaN by the parser itself (na_values [""] and nothing else)
            # and become None below: cheaper than comparing every cell with "" afterwards.
            frame = pd.read_csv(
                io.BytesIO(payload),
                sep=delim,
                header=None,
                names=range(width),
                dtype=object,
                encoding="utf-8",
                keep_default_na=False,
                na_values=[""],
                na_filter=True,
                skip_blank_lines=False,
                quotechar='"',
                engine="c",
            )
            break
        except pd.errors.ParserError as exc:
            message = str(exc)
            import re

            more = re.search(r"Expected \d+ fields in line (\d+), saw (\d+)", message)
            if more:
                width = int(more.group(2))
                continue
            eof = re.search(r"EOF inside string starting at row (\d+)", message)
            if eof:
                raise FileReadError(
                    f'{path.name}: row {int(eof.group(1)) + 1}: a quote (") is opened and never closed'
                ) from None
            raise FileReadError(f"{path.name}: cannot be read as CSV ({message})") from None
    else:
        raise FileReadError(f"{path.name}: cannot be read as CSV (rows of too many different widths)")
    del payload
    cells = _object_cells(frame)
    if start:
        # Leading blank lines are not part of the table: the rows keep their numbers (the index),
        # so a header on line 1,000,001 is found and named as such.
        filled = cells.notna().to_numpy().any(axis=1)
        if filled.any():
            cells = cells.iloc[int(filled.argmax()) :]
    return RawSheet(None, cells)


def _object_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A parsed CSV (text cells, NaN for empty fields) as one object block with None for empty,
    rows numbered from 1."""
    values = np.empty((frame.shape[1], len(frame)), dtype=object)  # transposed: a column is a row
    for i, name in enumerate(frame.columns):
        column = frame[name].to_numpy(dtype=object)
        values[i] = column
        missing = pd.isna(column)
        if missing.any():
            values[i][missing] = None
    return pd.DataFrame(
        values.T, index=pd.RangeIndex(1, len(frame) + 1), columns=frame.columns, dtype=object, copy=False
    )
