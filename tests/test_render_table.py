"""terminal.TextTable writes exactly what Rich would for the same table (widths, truncation, edges)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from jzcli.cli import terminal


def build(caption: str | None = None) -> terminal.TextTable:
    t = terminal.TextTable("Cost by aanbieder and maand — Súdwest-Fryslân (1900)", caption=caption)
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


FIGURES = (
    "1.234",
    "€ 4.452.940,73",
    "€ -42,60",
    "12,5%",
    "€ 4.452.898,13",
    "100,0%",
    "1.242",
    "98001234",
    "2025-01",
    "2025-02",
)


@pytest.mark.parametrize("width", [20, 30, 35, 45, 50, 60, 80, 200])
@pytest.mark.parametrize("caption", [None, "volume: net GeleverdVolume in each product's own eenheid"])
def test_text_table_matches_rich(width, caption):
    """The fast table and Rich's own (terminal.table) lay out alike at every width, including the
    narrow layouts: text cut, split in parts, one block per row."""
    t = build(caption)
    fast = output(t.print, width)
    rich = output(lambda c: c.print(t._rich(t.rows)), width)
    assert fast == rich
    expected = {20: "vertical", 30: "vertical", 35: "split", 45: "split", 50: "split"}.get(width, "table")
    assert t.layout == expected
    if width >= 80:
        assert "[not markup" in fast  # cells are text, not Rich markup


@pytest.mark.parametrize("width", [20, 30, 35, 45, 50, 60, 80, 200])
def test_figures_and_keys_are_whole_at_every_width_and_the_layout_says_so(width):
    t = build()
    text = output(t.print, width)
    for figure in FIGURES:
        assert figure in text, (width, figure)
    assert max(len(line) for line in text.splitlines()) <= width
    notes = {"split": "the table is split in", "vertical": "too narrow for this table: one block per row"}
    flat = " ".join(text.split())
    for layout, note in notes.items():
        assert (note in flat) == (t.layout == layout)


def test_text_columns_give_way_first_and_say_so():
    t = terminal.TextTable("Cost per productcategorie")
    t.add_column("productcategorie", key=False)  # its name may give way (the code comes first)
    t.add_column("declared", justify="right")
    t.add_row("44 Jeugdhulp verblijf (excl. behandeling)", "€ 7.359,38")
    text = output(t.print, 30)
    assert t.layout == "text-cut" and "€ 7.359,38" in text and "44 Jeugdhulp" in text
    assert "… marks text shortened to fit 30 columns" in " ".join(text.split())
    assert "44 Jeugdhulp verblijf (excl. behandeling)" in output(t.print, 80)


@pytest.mark.parametrize("width", [45, 60, 80, 200])
def test_text_table_measures_wide_characters_as_rich_does(width):
    """A character that takes two terminal cells (東) counts as two: the columns line up as Rich's."""
    t = build()
    t.add_row("Zorg 東京", "東京-東京", "2", "€ 12,00", "0,0%")
    assert output(t.print, width) == output(lambda c: c.print(t._rich(t.rows)), width)


def test_text_table_without_rows():
    t = terminal.TextTable("empty")
    t.add_column("a")
    t.add_column("b", justify="right")
    assert output(t.print, 40) == output(lambda c: c.print(t._rich(t.rows)), 40)


@pytest.mark.parametrize("width", [30, 45, 60, 80])
def test_figures_are_never_shortened_in_a_narrow_terminal(width):
    """Money and counts stay whole; the text columns give up the width ('€ 4.452.9…' misleads)."""
    boxed = terminal.table("Cost")
    for header, justify in (("aanbieder", "left"), ("lines", "right"), ("declared", "right")):
        boxed.add_column(header, justify=justify, no_wrap=justify == "right")
    boxed.add_row("Stichting Jeugdzorg Gooi en Vechtstreek Noord", "1.234", "€ 4.452.940,73")
    boxed.add_row("x", "7", "€ -42,60")
    rich = output(lambda c: c.print(boxed), width)
    assert "€ 4.452.940,73" in rich and "€ -42,60" in rich and "1.234" in rich
    assert max(len(line) for line in rich.splitlines()) <= width
    assert "Stichting" in rich


def test_a_rich_table_too_narrow_for_its_figures_splits_then_stacks():
    t = terminal.table("Cost per month")
    t.add_column("maand", no_wrap=True, key=True)
    for label in ("declared", "approved"):
        t.add_column(label, justify="right", no_wrap=True)
    t.add_row("2025-01", "€ 106.081.498,12", "€ 106.081.498,12")
    for width in (20, 34, 40, 80):
        text = output(lambda c: c.print(t), width)
        assert text.count("€ 106.081.498,12") == 2 and "2025-01" in text and "…" not in text, width
        assert max(len(line) for line in text.splitlines()) <= width
        flat = " ".join(text.split())
        assert ("split in 2 parts" in flat) == (width in (34, 40))
        assert ("one block per row" in flat) == (width == 20)


def test_piped_stdout_has_no_width_limit(monkeypatch):
    """stdout that is not a terminal: a table is as wide as its content, whatever COLUMNS says."""
    monkeypatch.setenv("COLUMNS", "40")
    console = terminal._Out(file=io.StringIO(), highlight=False, soft_wrap=False)
    assert not console.is_terminal and console.width == terminal.UNLIMITED
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    console = terminal._Out(file=io.StringIO(), highlight=False, soft_wrap=False)
    assert console.is_terminal and console.width == 40
