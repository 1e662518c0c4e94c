"""render.TextTable writes exactly what Rich would for the same table (widths, truncation, edges)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from jzcli import render


def build(caption: str | None = None) -> render.TextTable:
    t = render.TextTable("Cost by aanbieder and maand — Súdwest-Fryslân (1900)", caption=caption)
    t.add_column("aanbieder", max_width=12)
    t.add_column("maand")
    t.add_column("lines", justify="right")
    t.add_column("declared", justify="right")
    t.add_column("share", justify="right")
    t.add_row("98001234", "2025-01", "1.234", "€ 4.452.940,73", "12,5%")
    t.add_row("", "2025-02", "7", "€ -42,60", "0,0%")
    t.add_row("[not markup] and a long name", "(none)", "1", "€ 0,00", "")
    t.add_section()
    t.add_row("total", "", "1.242", "€ 4.452.898,13", "100,0%", style="bold")
    return t


def output(printer, width: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, highlight=False, soft_wrap=False)
    printer(console)
    return buf.getvalue()


@pytest.mark.parametrize("width", [30, 45, 60, 80, 200])
@pytest.mark.parametrize("caption", [None, "volume: net GeleverdVolume in each product's own eenheid"])
def test_text_table_matches_rich(width, caption):
    t = build(caption)
    fast = output(t.print, width)
    rich = output(lambda c: c.print(t._rich(t.rows)), width)
    note = "(figures shortened"
    assert (note in fast) == t.shortened  # said exactly when a figure had to be cut
    assert t.shortened == (width == 30)  # from 45 columns the text columns give up the width
    assert fast == rich  # the note too: Rich's own table says the same under it
    if width >= 80:
        assert "[not markup" in fast  # cells are text, not Rich markup


@pytest.mark.parametrize("width", [45, 60, 80, 200])
def test_text_table_measures_wide_characters_as_rich_does(width):
    """A character that takes two terminal cells (東) counts as two: the columns line up as Rich's."""
    t = build()
    t.add_row("Zorg 東京", "東京-東京", "2", "€ 12,00", "0,0%")
    assert output(t.print, width) == output(lambda c: c.print(t._rich(t.rows)), width)


def test_text_table_without_rows():
    t = render.TextTable("empty")
    t.add_column("a")
    t.add_column("b", justify="right")
    assert output(t.print, 40) == output(lambda c: c.print(t._rich(t.rows)), 40)


@pytest.mark.parametrize("width", [45, 60, 80])
def test_figures_are_never_shortened_in_a_narrow_terminal(width):
    """Money and counts stay whole; the text columns give up the width ('€ 4.452.9…' misleads)."""
    t = build()
    fast = output(t.print, width)
    boxed = render.table("Cost")
    for header, justify in (("aanbieder", "left"), ("lines", "right"), ("declared", "right")):
        boxed.add_column(header, justify=justify, no_wrap=justify == "right")
    boxed.add_row("Stichting Jeugdzorg Gooi en Vechtstreek Noord", "1.234", "€ 4.452.940,73")
    boxed.add_row("x", "7", "€ -42,60")
    rich = output(lambda c: c.print(boxed), width)
    for text in (fast, rich):
        assert "€ 4.452.940,73" in text and "€ -42,60" in text and "1.234" in text
        assert max(len(line) for line in text.splitlines()) <= width
    assert "Stichting" in rich


def test_a_rich_table_that_must_cut_a_figure_says_so():
    t = render.table("Cost per month")
    t.add_column("maand", no_wrap=True)
    for label in ("declared", "approved"):
        t.add_column(label, justify="right", no_wrap=True)
    t.add_row("2025-01", "€ 106.081.498,12", "€ 106.081.498,12")
    narrow, wide = output(lambda c: c.print(t), 40), output(lambda c: c.print(t), 80)
    assert "€ 106.081.498,12" not in narrow and "…" in narrow
    assert "(figures shortened" in narrow
    assert "€ 106.081.498,12" in wide and "(figures shortened" not in wide
