"""What a file is when it is not a spreadsheet or a table: a PDF renamed .xlsx, a Word letter,
a scan, a web page, a README saved as .txt. Recognised from the content (never the name), so
the user hears "is a PDF document" instead of a list of "headers" read from its bytes."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

ASK = "ask the sender for the declarations as a spreadsheet (.xlsx) or a CSV export"

# first bytes -> what the file is
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "an image (PNG)"),
    (b"\xff\xd8\xff", "an image (JPEG)"),
    (b"GIF87a", "an image (GIF)"),
    (b"GIF89a", "an image (GIF)"),
    (b"BM", None),  # BMP: checked below (two letters alone are too common in text)
    (b"II*\x00", "an image (TIFF)"),
    (b"MM\x00*", "an image (TIFF)"),
    (b"{\\rtf", "a Rich Text (RTF) document"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
)
_HTML = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|table|meta)\b", re.I | re.S)


def foreign_binary(path: Path, head: bytes) -> str | None:
    """A message for a file that is no spreadsheet, CSV or XML at all, else None."""
    name = path.name
    data = head.lstrip(b"\xef\xbb\xbf")
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            if what is None:
                if len(data) >= 14 and data[6:10] == b"\x00\x00\x00\x00":  # BMP: reserved bytes are zero
                    what = "an image (BMP)"
                else:
                    continue
            return f"{name}: is {what}, not a spreadsheet or CSV file; {ASK}"
    if _HTML.match(data[:2048]):
        return (
            f"{name}: is a web page (HTML), not a spreadsheet or CSV file (some systems export HTML with an "
            ".xls name); open it in Excel and save it as .xlsx, or " + ASK
        )
    return None


def foreign_zip(path: Path) -> str | None:
    """A zip that is not an Excel or OpenDocument workbook: a Word or PowerPoint file, or an archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError):
        return None  # the workbook reader says it is damaged
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names or "content.xml" in names:
        return None
    if "word/document.xml" in names:
        what = "a Word document (.docx)"
    elif any(n.startswith("ppt/") for n in names):
        what = "a PowerPoint presentation"
    else:
        sample = ", ".join(sorted(n for n in names if not n.endswith("/"))[:3])
        return f"{path.name}: is a zip archive ({len(names)} entries: {sample}…), not a workbook; unpack it and import the files inside"
    return f"{path.name}: is {what}, not a spreadsheet or CSV file; {ASK}"


_SENTENCE_END = re.compile(r"\w[.!?:]$")


def _sentence(text: str) -> bool:
    words = text.split()
    return len(words) >= 6 or (len(words) >= 2 and bool(_SENTENCE_END.search(text)))


def looks_like_prose(cells: pd.DataFrame, rows: int = 60) -> bool:
    """True when a sheet holds sentences, not a table: a quarter or more of the filled cells in its
    first rows are sentences (six words or more, or words ending in a full stop) — a README split
    at its commas, a letter. A provider's table has codes, dates and amounts, and a note here
    and there."""
    head = cells.head(rows)
    texts = [v.strip() for row in head.itertuples(index=False) for v in row if isinstance(v, str) and v.strip()]
    others = sum(
        1 for row in head.itertuples(index=False) for v in row if not isinstance(v, str) and v is not None and v == v
    )
    sentences = sum(1 for t in texts if _sentence(t))
    return sentences >= 1 and sentences * 4 >= len(texts) + others


def plausible_header(name: object) -> bool:
    """A cell that could be a column name: short, a few words (not a sentence)."""
    if not isinstance(name, str):
        return False
    text = name.strip()
    return 0 < len(text) <= 40 and len(text.split()) <= 4
