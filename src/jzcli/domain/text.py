"""Text from a provider's file, made safe for where jzcli writes it: the terminal, a CSV or an xlsx cell.

The store keeps every value exactly as the file had it. What leaves jzcli is made safe here, in
one place, for every writer:

* ``visible``: for the terminal. Control characters (C0, DEL, C1), the Unicode line and paragraph
  separators and the bidirectional overrides are shown as escapes (``\\x1b``, ``\\u2028``), so an
  ANSI sequence in a cell or a file name (``\\x1b[2J`` clears the screen) is printed, never obeyed.
* ``formula_safe``: for CSV. A *text* that would start a formula in Excel or LibreOffice (OWASP: it
  begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading apostrophe. A
  number is never touched, and neither is a text that is a plain number (``-1064.00``): a figure
  stays a figure.
* ``xlsx_text``: for xlsx. XML 1.0 cannot hold most C0 control characters and a cell holds at most
  32,767 characters; such characters are written as visible escapes and a longer text is cut with
  a note saying how long it was (the full text stays in the store and in the CSV export).
  ``XlsxTextLog`` counts what was changed, for one warning per file written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import SupportsInt

# C0 except tab and newline, DEL, C1; U+2028/U+2029; bidi embeddings, overrides and isolates.
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_TERMINAL_UNSAFE_ALL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape_char(m: re.Match) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with every character that could steer a terminal shown as an escape.

    Tab and newline are shown too (a cell is one line), unless ``keep_newlines``.
    """
    if text is None:
        return ""
    text = str(text)
    if text.isprintable() and text.isascii():
        return text
    return (_TERMINAL_UNSAFE if keep_newlines else _TERMINAL_UNSAFE_ALL).sub(_escape_char, text)


# Terminal output: Rich's own styling (SGR ``m``), line erasing and cursor moves of its live
# displays, cursor show/hide and OSC 8 links pass; any other escape sequence is shown, not obeyed.
_RICH_SEQUENCE = re.compile(r"\x1b\[[0-9;]*[mKAG]|\x1b\[\?25[lh]|\x1b\]8;[^\x07\x1b]*(?:\x1b\\|\x07)")
_ANY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str, styled: bool) -> str:
    """What a console may write: ``text`` with control characters made visible. With ``styled``
    (a real terminal), the sequences Rich itself writes are kept."""
    if not _ANY_CONTROL.search(text):
        return text
    if not styled:
        return _ANY_CONTROL.sub(_escape_char, text)
    pieces, pos = [], 0
    for m in _RICH_SEQUENCE.finditer(text):
        pieces.append(_ANY_CONTROL.sub(_escape_char, text[pos : m.start()]))
        pieces.append(m.group(0))
        pos = m.end()
    pieces.append(_ANY_CONTROL.sub(_escape_char, text[pos:]))
    return "".join(pieces)


# ------------------------------------------------------------------------------------- CSV

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?\Z")  # -1064.00, or -1064,00 in the Dutch Excel dialect


def formula_safe(value: object) -> object:
    """A CSV field that never starts a formula: text beginning with = + - @ tab or CR gets a
    leading apostrophe; numbers, and texts that are plain numbers (``-1064.00``), are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


# ------------------------------------------------------------------------------------ xlsx

XLSX_CELL_MAX = 32_767  # characters in one cell (Excel's limit; longer cells make Excel repair the file)
# What XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE), plus lone surrogates.
_XLSX_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_unsafe(value: object) -> bool:
    """True for a text that XML 1.0 (an iJw message, an xlsx part) cannot hold as it is."""
    return isinstance(value, str) and _XLSX_ILLEGAL.search(value) is not None


@dataclass
class XlsxTextLog:
    """What ``xlsx_text`` changed while one file was written (for one warning line)."""

    escaped: int = 0  # cells with characters written as escapes
    cut: int = 0  # cells cut to XLSX_CELL_MAX characters

    def warning(self, target: object) -> str | None:
        parts = []
        if self.escaped:
            parts.append(
                f"{self.escaped:,} cell(s) held control characters an xlsx cell cannot hold; they are written as "
                "escapes such as \\x01"
            )
        if self.cut:
            parts.append(
                f"{self.cut:,} cell(s) were longer than the {XLSX_CELL_MAX:,} characters a cell can hold and are "
                "cut with a note (the full text is in the store and in a .csv export)"
            )
        return f"{target}: " + "; ".join(parts) if parts else None


def xlsx_text(value: str, log: XlsxTextLog | None = None) -> str:
    """A text an xlsx cell can hold, changed only where it cannot (see the module's docstring)."""
    if _XLSX_ILLEGAL.search(value):
        value = _XLSX_ILLEGAL.sub(_escape_char, value)
        if log is not None:
            log.escaped += 1
    if len(value) > XLSX_CELL_MAX:
        note = f" … [cut: {len(value):,} characters]"
        value = value[: XLSX_CELL_MAX - len(note)] + note
        if log is not None:
            log.cut += 1
    return value


# What a writer changed, said once per file after the command: (collected here, printed by the CLI).
NOTICES: list[str] = []


def take_notices() -> list[str]:
    taken = list(NOTICES)
    NOTICES.clear()
    return taken


class xlsx_guard:
    """``with xlsx_guard(target):`` around writing one workbook with openpyxl: every text cell it
    writes (data, headers, notes) goes through ``xlsx_text`` instead of openpyxl's own check,
    which raises IllegalCharacterError on a control character and silently cuts long texts.
    Leaves one notice when something was changed."""

    def __init__(self, target: object):
        self.target = target
        self.log = XlsxTextLog()

    def __enter__(self) -> XlsxTextLog:
        from openpyxl.cell.cell import Cell

        log = self.log

        def check_string(cell, value):
            if value is None:
                return None
            if not isinstance(value, str):
                value = str(value, cell.encoding) if isinstance(value, bytes) else str(value)
            return xlsx_text(value, log)

        self._saved = Cell.__dict__["check_string"]
        Cell.check_string = check_string
        return log

    def __exit__(self, exc_type, exc, tb) -> None:
        from openpyxl.cell.cell import Cell

        Cell.check_string = self._saved
        message = self.log.warning(self.target) if exc_type is None else None
        if message:
            NOTICES.append(message)


class TerminalStream:
    """sys.stdout/sys.stderr when they are a terminal: what commands write there directly (``--format
    csv`` rows, plain lines) shows control characters instead of obeying them, like the Rich
    consoles do (``terminal_safe``; Rich's own styling passes)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text, styled=True))

    def writelines(self, lines) -> None:
        for text in lines:
            self.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def guard_terminal(stream):
    """``stream`` wrapped in a TerminalStream when it is a terminal; else unchanged (a pipe or a
    file gets the bytes as they are)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError, OSError):
        tty = False
    return TerminalStream(stream) if tty and not isinstance(stream, TerminalStream) else stream


# --- display texts: BSN masking, money, numbers, cells (one spelling for every output)

_BSN_LIKE = re.compile(r"(?<!\d)(\d{9})(?!\d)")


def mask_bsn(value: object, show: bool = False) -> str:
    """``999900006`` → ``*****0006``; anything not BSN-like is shown as is."""
    if value is None or value != value:  # None or NaN
        return ""
    text = str(value)
    if show:
        return text
    if len(text) <= 4:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]


def mask_bsns_in(text: str, show: bool = False) -> str:
    """Mask every 9-digit number in free text (messages, raw values)."""
    if show or not text:
        return text
    return _BSN_LIKE.sub(lambda m: mask_bsn(m.group(1)), text)


def cell_text(value: object) -> str:
    """A cell value for display: '' for None/NaN/NA."""
    # pd.NA recognised by its type name: importing pandas here would slow down `jzcli --version`.
    if value is None or type(value).__name__ == "NAType" or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def euro(cents: SupportsInt | None) -> str:
    """Integer cents → Dutch money text: 123456 → '€ 1.234,56', -500 → '€ -5,00'."""
    if cents is None or cents != cents:
        return ""
    value = Decimal(int(cents)) / 100
    text = f"{abs(value):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"€ -{text}" if value < 0 else f"€ {text}"


def euro_decimal(cents: SupportsInt | None) -> str:
    """Integer cents → money as JSON, CSV and the exports carry it: 123456 → '1234.56', -500 →
    '-5.00' (a dot, two decimals, no thousands separator); '' when missing. (``euro`` is the
    text people read.)"""
    if cents is None or cents != cents:
        return ""
    whole = int(cents)
    sign = "-" if whole < 0 else ""
    whole = abs(whole)
    return f"{sign}{whole // 100}.{whole % 100:02d}"


def unit_label(code: object) -> str:
    """An iJw eenheid code with its name, as every message and table shows it: '04' → '04 (Uur)';
    a code outside WJ756 → '99 (?)'; '' when missing."""
    from jzcli.domain.codes import EENHEDEN

    if code is None or type(code).__name__ == "NAType" or (isinstance(code, float) and code != code):
        return ""
    return f"{code} ({EENHEDEN.get(str(code), '?')})"


def number(value: SupportsInt | None) -> str:
    if value is None or value != value:
        return ""
    return f"{int(value):,}".replace(",", ".")
