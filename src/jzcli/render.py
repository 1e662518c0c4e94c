"""All terminal output: Rich consoles, tables, Dutch money formatting and BSN masking."""

from __future__ import annotations

import re
from decimal import Decimal

from rich.console import Console
from rich.table import Table

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

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


def text(value: object) -> str:
    """A cell value for display: '' for None/NaN/NA."""
    # pd.NA recognised by its type name: importing pandas here would slow down `jzcli --version`.
    if value is None or type(value).__name__ == "NAType" or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def euro(cents: object) -> str:
    """Integer cents → Dutch money text: 123456 → '€ 1.234,56', -500 → '€ -5,00'."""
    if cents is None or cents != cents:
        return ""
    value = Decimal(int(cents)) / 100
    text = f"{abs(value):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"€ -{text}" if value < 0 else f"€ {text}"


def number(value: object) -> str:
    if value is None or value != value:
        return ""
    return f"{int(value):,}".replace(",", ".")


def table(title: str | None = None, **kwargs) -> Table:
    return Table(title=title, title_justify="left", header_style="bold", **kwargs)


def status_line(message: str) -> None:
    err.print(message)


def error_line(message: str) -> None:
    # Error and warning lines never show a 9-digit number in full: it may be a BSN from a file.
    err.print(f"[bold red]error:[/] {escape(mask_bsns_in(message))}")


def warning_line(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(mask_bsns_in(message))}")


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)
