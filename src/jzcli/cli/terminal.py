"""All terminal output: Rich consoles, tables, status/warning/error lines (texts from domain.text)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jzcli.domain.text import cell_text, euro, mask_bsn, mask_bsns_in, number  # noqa: F401


class _SafeFile:
    """The console's file, through which every character a file brought along is shown, never
    obeyed: escape sequences other than Rich's own styling are written visibly (\\x1b[2J)."""

    def __init__(self, console: Console, file):
        self._console, self._file = console, file

    def write(self, text: str) -> int:
        from jzcli.domain.text import terminal_safe

        return self._file.write(terminal_safe(text, self._console.color_system is not None))

    def __getattr__(self, name):
        return getattr(self._file, name)


class _SafeConsole(Console):
    @property
    def file(self):
        return _SafeFile(self, Console.file.fget(self))

    @file.setter
    def file(self, new_file) -> None:
        Console.file.fset(self, new_file)


class _Table(Table):
    """A Rich table that never cuts a figure or a key. Right-justified (number and money) columns
    and columns added with ``key=True`` keep their whole width; in a narrow terminal the text
    columns give up the width (and a note says when text was cut with "…"); when even the figures
    and keys alone do not fit, the table is printed as one block per row (and says so)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.keys: set[int] = set()
        self.not_keys: set[int] = set()
        self.vertical = self.text_cut = False

    def add_column(self, *args, key: bool | None = None, **kwargs) -> None:
        """``key=True``: the column names the row (never cut, repeated in every part of a split
        table). Without any, the first column is the key unless it was added with ``key=False``."""
        super().add_column(*args, **kwargs)
        if key:
            self.keys.add(len(self.columns) - 1)
        elif key is False:
            self.not_keys.add(len(self.columns) - 1)

    def _key_columns(self) -> list[int]:
        return sorted(self.keys) or ([] if 0 in self.not_keys else [0])

    def _whole(self, i: int) -> bool:
        """A figure, or a key that would be cut ("…") rather than wrapped: kept at its whole width."""
        column = self.columns[i]
        cut = column.no_wrap or column.overflow in ("ellipsis", "crop")
        key = i in self._key_columns() and cut and column.justify != "right"
        return (column.justify == "right" or key) and all(isinstance(c, str) for c in column._cells)

    def _natural(self, console, options) -> list[int]:
        """Each column's width with its widest cell (and padding), as Rich measures it."""
        wide = options.update_width(UNLIMITED)
        return [self._measure_column(console, wide, c).maximum or 1 for c in self.columns]

    def _calculate_column_widths(self, console, options) -> list[int]:
        if self.expand or self.width is not None:
            return super()._calculate_column_widths(console, options)
        natural = self._natural(console, options)
        wanted = shrink_text(
            natural, [self._whole(i) for i in range(len(natural))], self._floors(natural), options.max_width
        )
        if wanted is None:
            self.vertical = True  # figures and keys alone do not fit: split, or one block per row
            return natural
        self.text_cut = any(
            wanted[i] < natural[i] and (c.no_wrap or c.overflow in ("ellipsis", "crop"))
            for i, c in enumerate(self.columns)
        )
        return wanted

    def _floors(self, natural: list[int]) -> list[int]:
        return [
            text_floor(natural[i], self.columns[i].min_width, self._get_padding_width(i)) for i in range(len(natural))
        ]

    def _split(self, console, options):
        """Parts that repeat the key columns (default: the first), else one block per row."""
        import copy

        keys = self._key_columns() or [0]
        natural = self._natural(console, options)
        floors = self._floors(natural)
        parts = plan_parts(
            len(self.columns), keys, lambda i: natural[i] if self._whole(i) else floors[i], options.max_width
        )
        if not parts:
            headers = [str(c.header) for c in self.columns]
            rows = list(zip(*[c._cells for c in self.columns]))
            yield from vertical(
                self.title,
                headers,
                rows,
                options.max_width,
                caption=self.caption,
                styles=[r.style for r in self.rows],
                justify=[c.justify for c in self.columns],
            )
            return
        for n, cols in enumerate(parts, start=1):
            part = copy.copy(self)
            chosen = keys + cols
            part.columns = []
            for new_index, i in enumerate(chosen):
                column = copy.copy(self.columns[i])
                column._index = new_index
                part.columns.append(column)
            part.keys = {n for n, i in enumerate(keys) if i in self._key_columns()}
            part.not_keys = {n for n, i in enumerate(chosen) if i in self.not_keys}
            part.title = part_title(self.title, n, len(parts))
            part.caption = self.caption if n == len(parts) else None
            yield part
            if n < len(parts):
                yield Text("")
        yield Text(SPLIT_NOTE.format(parts=len(parts), width=options.max_width), style="dim")

    def __rich_console__(self, console, options):
        self.vertical = self.text_cut = False
        if options.max_width >= UNLIMITED:  # piped: no text is shortened to a column's max_width either
            for column in self.columns:
                column.max_width = None
        if self.columns:
            self._calculate_column_widths(console, options.update_width(options.max_width - self._extra_width))
        if self.vertical:
            yield from self._split(console, options)
            return
        yield from super().__rich_console__(console, options)
        if self.text_cut:
            yield Text(TEXT_CUT_NOTE.format(width=options.max_width), style="dim")


# stdout that is not a terminal (a pipe, a file) gets lines as wide as their content
UNLIMITED = 10_000

TEXT_CUT_NOTE = "(… marks text shortened to fit {width} columns; every figure and code is whole)"
VERTICAL_NOTE = (
    "({width} columns are too narrow for this table: one block per row; widen the terminal or use --format csv)"
)
SPLIT_NOTE = "(the table is split in {parts} parts to fit {width} columns; the first columns are repeated)"


def text_floor(natural: int, min_width: int | None, padding: int) -> int:
    """How narrow a text column may become: a code of a few characters and "…" ("45 J…")."""
    return min(natural, max(min_width or 0, 5) + padding)


def shrink_text(natural: list[int], whole: list[bool], floors: list[int], room: int) -> list[int] | None:
    """Column widths that fit ``room``: the natural widths when they fit; else the text columns
    (not ``whole``) narrowed one character at a time, widest first, down to their floors. None when
    the whole columns (figures, keys) and the floors alone need more than ``room``."""
    wanted = list(natural)
    excess = sum(wanted) - room
    if excess <= 0:
        return wanted
    donors = [i for i, w in enumerate(whole) if not w]
    if excess > sum(wanted[i] - floors[i] for i in donors):
        return None
    while excess > 0:
        i = max(donors, key=lambda d: wanted[d] - floors[d])
        wanted[i] -= 1
        excess -= 1
    return wanted


def plan_parts(n: int, keys: list[int], width, max_width: int) -> list[list[int]] | None:
    """Columns (other than ``keys``) grouped into parts that each fit ``max_width`` beside the key
    columns, in order; ``width(i)`` is what column i needs with its padding. None when one part
    would do (there is nothing to split) or when a column does not fit beside the keys."""

    def need(cols: list[int]) -> int:  # cells + dividers + edges, +1 for padding moved by position
        return sum(width(i) for i in cols) + len(cols) + 2

    parts: list[list[int]] = []
    for i in (i for i in range(n) if i not in keys):
        if parts and need(keys + parts[-1] + [i]) <= max_width:
            parts[-1].append(i)
        elif need(keys + [i]) <= max_width:
            parts.append([i])
        else:
            return None
    return parts if len(parts) > 1 else None


def part_title(title, n: int, parts: int) -> str:
    """The first part carries the table's title; the others only say which part they are."""
    return f"{title} (part 1 of {parts})" if n == 1 and title else f"(part {n} of {parts})"


def vertical(title, headers: list[str], rows, width: int, *, caption=None, styles=None, justify=None):
    """A table as one block per row: each column's header and the row's value on a line (figures
    aligned right); when label and value do not fit on one line, the value goes on the next.
    Nothing is cut. ``rows`` hold markup strings or Text; yields renderables."""
    if title:
        yield Text(str(title), style="table.title") if isinstance(title, str) else title
    yield Text(VERTICAL_NOTE.format(width=width), style="dim")
    label_width = max([cell_len_plain(h) for h in headers] + [1])
    for n, cells in enumerate(rows):
        values = [Text.from_markup(cell) if isinstance(cell, str) else cell.copy() for cell in cells]
        right = [j for j in range(len(values)) if justify and justify[j] == "right"]
        value_width = max([v.cell_len for v in values] + [0])
        beside = label_width + 1 + value_width <= width
        figure_width = max([values[j].cell_len for j in right] + [0])
        yield Text("")
        style = styles[n] if styles and styles[n] else ""
        for j, (header, value) in enumerate(zip(headers, values)):
            line = Text(header.ljust(label_width) if beside else header, style="dim")
            if j in right:
                value.pad_left(figure_width - value.cell_len)
            if beside:
                line.append(" ")
                line.append_text(value)
                line.stylize(style, label_width + 1)
                yield line
            else:
                yield line
                value.pad_left(2)
                value.stylize(style)
                yield value
    if caption:
        yield Text("")
        yield Text.from_markup(caption, style="table.caption") if isinstance(caption, str) else caption


def cell_len_plain(text: str) -> int:
    from rich.cells import cell_len

    return max([cell_len(line) for line in Text.from_markup(text).plain.split("\n")] + [0])


class _Out(_SafeConsole):
    """The stdout console. In a terminal it has the terminal's width; piped or redirected
    (``report > file.txt``, ``| less``) it has no width limit, so a table is never cut or
    squeezed to 80 columns, whatever COLUMNS or the terminal around the pipe say."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._fixed_width = kwargs.get("width") is not None  # else Rich took COLUMNS, meant for a terminal

    @property
    def size(self):
        from rich.console import ConsoleDimensions

        size = Console.size.fget(self)
        if not self._fixed_width and not self.is_terminal:
            return ConsoleDimensions(UNLIMITED, size.height)
        return size

    @size.setter
    def size(self, new_size) -> None:
        Console.size.fset(self, new_size)


out = _Out(highlight=False, soft_wrap=False)
err = _Out(stderr=True, highlight=False)  # a warning in a log file is one line, never wrapped at 80


def table(title: str | None = None, **kwargs) -> Table:
    return _Table(title=title, title_justify="left", header_style="bold", **kwargs)


class TextTable:
    """A table that looks like ``table(title, box=box.SIMPLE_HEAD, pad_edge=False)`` with only
    no-wrap columns, laid out once and written line by line.

    Rich lays out every cell through its renderer (measure, wrap, justify, segments): about 1 ms
    per row of a report table, 8 s for the 8 000 rows of one gemeente by aanbieder and month.
    Here Rich only computes the column widths, from one row holding each column's widest cell
    (for no-wrap cells that is all Rich measures); the rows are then padded as text. Cells are
    plain text (no markup). If this Rich version lays out differently (private API), the table
    is printed by Rich itself.

    A figure (a right-justified column) or a key (``key=True``: aanbieder, maand, …) is never
    cut. When the table is wider than the terminal, first the text columns give up width (cut
    with "…", and a note says so); when figures and keys alone do not fit, the table is split
    into parts that repeat the key columns; when not even one figure fits beside the keys, it is
    printed as one block per row. Each says so under the table.
    """

    def __init__(self, title: str | None = None, caption: str | None = None):
        self.title, self.caption = title, caption
        self.columns: list[dict] = []
        self.rows: list[tuple[list[str], str | None, bool]] = []  # cells, style, ends a section
        self.layout = "table"  # set by print: table, text-cut, split or vertical

    def add_column(
        self,
        header: str,
        justify: str = "left",
        min_width: int | None = None,
        max_width: int | None = None,
        key: bool | None = None,
    ) -> None:
        """``key=True``: the column names the row (never cut, repeated in every part of a split
        table). Without any, the first column is the key unless it was added with ``key=False``."""
        self.columns.append(
            {"header": header, "justify": justify, "min_width": min_width, "max_width": max_width, "key": key}
        )

    def add_row(self, *cells: str, style: str | None = None) -> None:
        from jzcli.domain.text import visible

        self.rows.append(([visible(c) for c in cells], style, False))

    def add_section(self) -> None:
        if self.rows:
            cells, style, _ = self.rows[-1]
            self.rows[-1] = (cells, style, True)

    def _rich(self, rows, wide: bool = False) -> Table:
        from rich import box

        t = table(self.title, box=box.SIMPLE_HEAD, pad_edge=False, caption=self.caption, caption_justify="left")
        for c in self.columns:
            t.add_column(
                c["header"],
                justify=c["justify"],
                no_wrap=True,
                min_width=c["min_width"],
                max_width=None if wide else c["max_width"],
                overflow="ellipsis",
                key=c["key"],
            )
        for cells, style, section in rows:
            t.add_row(*[escape(c) for c in cells], style=style, end_section=section)
        return t

    def print(self, console: Console | None = None) -> None:
        console = console or out
        try:
            measured = self._measure(console)
        except (AttributeError, TypeError, ValueError):  # Rich's private layout API changed
            console.print(self._rich(self.rows))
            return
        widths, natural, extra, row_sizes = measured
        max_width = console.options.max_width
        self.layout = "table"
        if sum(natural) + extra > max_width:
            widths = self._shrunk(natural, max_width - extra)
            if widths is None:
                self._print_parts(console, natural, max_width)
                return
            self.layout = "text-cut"
        self._write(console, self._lines(console, widths, row_sizes))
        if self.layout == "text-cut":
            console.print(TEXT_CUT_NOTE.format(width=max_width), style="dim", markup=False, highlight=False)
        console.file.flush()

    def _keys(self) -> list[int]:
        flagged = [i for i, c in enumerate(self.columns) if c["key"]]
        return flagged or ([] if not self.columns or self.columns[0]["key"] is False else [0])

    def _whole(self, i: int) -> bool:
        return self.columns[i]["justify"] == "right" or i in self._keys()

    def _floor(self, i: int, natural: int) -> int:
        pad = (0 if i == 0 else 1) + (0 if i == len(self.columns) - 1 else 1)
        return text_floor(natural, self.columns[i]["min_width"], pad)

    def _shrunk(self, natural: list[int], room: int) -> list[int] | None:
        n = len(natural)
        return shrink_text(
            natural, [self._whole(i) for i in range(n)], [self._floor(i, natural[i]) for i in range(n)], room
        )

    def _print_parts(self, console: Console, natural: list[int], max_width: int) -> None:
        """Split the columns into parts that each fit, every part repeating the key columns;
        one block per row when not even one more column fits beside the keys."""
        keys = self._keys() or [0]
        parts = plan_parts(
            len(self.columns), keys, lambda i: natural[i] if self._whole(i) else self._floor(i, natural[i]), max_width
        )
        if parts:
            self.layout = "split"
            for n, cols in enumerate(parts, start=1):
                part = TextTable(part_title(self.title, n, len(parts)), self.caption if n == len(parts) else None)
                chosen = keys + cols
                part.columns = [self.columns[i] for i in chosen]
                part.rows = [([cells[i] for i in chosen], style, section) for cells, style, section in self.rows]
                part.print(console)
                if n < len(parts):
                    console.print()
            console.print(
                SPLIT_NOTE.format(parts=len(parts), width=max_width), style="dim", markup=False, highlight=False
            )
            return
        self.layout = "vertical"
        headers = [c["header"] for c in self.columns]
        rows = [[Text(c) for c in cells] for cells, _, _ in self.rows]
        for renderable in vertical(
            self.title,
            headers,
            rows,
            max_width,
            caption=self.caption,
            styles=[style for _, style, _ in self.rows],
            justify=[c["justify"] for c in self.columns],
        ):
            console.print(renderable)
        console.file.flush()

    def _write(self, console: Console, lines) -> None:
        plain: list[str] = []
        styled = console.color_system is not None
        for text, style in lines:
            if style is None or not styled:
                plain.append(text)
                continue
            if plain:
                console.file.write("\n".join(plain) + "\n")
                plain = []
            console.print(Text(text, style=style, no_wrap=True, overflow="ignore"), crop=False)
        if plain:
            console.file.write("\n".join(plain) + "\n")

    def _measure(self, console: Console):
        """(widths Rich gives at this console's width, natural widths, the table's extra width,
        each row's cell sizes)."""
        n = len(self.columns)
        widest = [c["header"] for c in self.columns]
        sizes = [_width(w) for w in widest]
        row_sizes = []
        for cells, _, _ in self.rows:
            if len(cells) != n:
                raise ValueError("row length")
            own = [_width(cell) for cell in cells]
            row_sizes.append(own)
            for i, size in enumerate(own):
                if size > sizes[i]:
                    sizes[i], widest[i] = size, cells[i]
        options = console.options
        probe = self._rich([(widest, None, False)], wide=options.max_width >= UNLIMITED)
        natural = probe._calculate_column_widths(console, options.update_width(UNLIMITED))
        widths = probe._calculate_column_widths(console, options.update_width(options.max_width - probe._extra_width))
        return widths, natural, probe._extra_width, row_sizes

    def _lines(self, console: Console, widths: list[int], row_sizes) -> list[tuple[str, str | None]]:
        from rich import box
        from rich.cells import cell_len, set_cell_size

        n = len(self.columns)
        options = console.options
        table_width = sum(widths) + (n - 1) + 2
        box_ = box.SIMPLE_HEAD.substitute(options, safe=console.safe_box)
        # padding 1 either side of a cell, none on the outer edges (pad_edge=False)
        inner = [w - (0 if i == 0 else 1) - (0 if i == n - 1 else 1) for i, w in enumerate(widths)]
        left = [0 if i == 0 else 1 for i in range(n)]
        right = [0 if i == n - 1 else 1 for i in range(n)]
        justify = [c["justify"] for c in self.columns]

        def fit(text: str, i: int, size: int) -> str:
            w = inner[i]
            if size > w:
                text = set_cell_size(text, w - 1) + "…" if w > 0 else ""
                size = cell_len(text)
            pad = " " * (w - size)
            body = pad + text if justify[i] == "right" else text + pad
            return " " * left[i] + body + " " * right[i]

        def row(
            cells: list[str], own: list[int], part: str
        ) -> str:  # part: head, mid or foot (the box's edge characters)
            edge_l, edge_r, divider = (getattr(box_, f"{part}_{side}") for side in ("left", "right", "vertical"))
            return edge_l + divider.join(fit(c, i, size) for i, (c, size) in enumerate(zip(cells, own))) + edge_r

        def annotation(text: str, style: str) -> list[tuple[str, str | None]]:
            rendered = console.render_lines(
                Text(text, justify="left"), options.update(width=table_width, justify="left"), pad=True
            )
            return [("".join(seg.text for seg in line), style) for line in rendered]

        lines: list[tuple[str, str | None]] = []
        if self.title:
            lines += annotation(self.title, "table.title")
        lines.append((box_.get_top(widths), None))
        headers = [c["header"] for c in self.columns]
        lines.append((row(headers, [_width(h) for h in headers], "head"), "bold"))
        lines.append((box_.get_row(widths, "head", edge=True), None))
        separator = box_.get_row(widths, "row", edge=True)
        last = len(self.rows) - 1
        for index, ((cells, style, section), own) in enumerate(zip(self.rows, row_sizes)):
            lines.append((row(cells, own, "foot" if index == last else "mid"), style))
            if section and index < last:
                lines.append((separator, None))
        lines.append((box_.get_bottom(widths), None))
        if self.caption:
            lines += annotation(self.caption, "table.caption")
        return lines


def _width(text: str) -> int:
    """Terminal cells; plain ASCII (most cells) is one per character."""
    from rich.cells import cell_len

    return len(text) if text.isascii() else cell_len(text)


class Steps:
    """Progress of long work on stderr: a spinner, the current step and the time so far, in place
    and gone when the work is done (Rich's transient progress). Nothing at all with -q or when
    stderr is not a terminal (a log file, a pipe, CI): results and errors stay as they are.

    ``with Steps(quiet) as step: step("reading x.xlsx (1 of 3)")``."""

    def __init__(self, quiet: bool = False):
        self.live = not quiet and err.is_terminal
        self._progress = None
        self._task = None

    def __enter__(self) -> Steps:
        if self.live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=None)
        return self

    def __call__(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=escape(text))

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def data_out(text: str) -> None:
    """Machine-readable output (--format json|csv) on stdout: UTF-8 bytes whatever the console's
    code page, and LF line ends as written (a text stream on Windows would turn the csv module's
    \\r\\n into \\r\\r\\n and write cp1252)."""
    import sys

    from jzcli.domain.text import TerminalStream

    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is None or isinstance(stream, TerminalStream):
        # a stream without bytes underneath (an IDE console), or a terminal: as text, every control
        # character shown, never obeyed (this text is the file's own: none of it is Rich's styling)
        from jzcli.domain.text import terminal_safe

        stream.write(terminal_safe(text, styled=False))
        return
    stream.flush()
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def status_line(message: str) -> None:
    err.print(message)


def error_line(message: str) -> None:
    # Error and warning lines never show a 9-digit number in full: it may be a BSN from a file.
    err.print(f"[bold red]error:[/] {escape(mask_bsns_in(message))}")


def warning_line(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(mask_bsns_in(message))}")


def escape(text: str) -> str:
    """Text from a file for a Rich markup string: markup escaped, control characters shown."""
    from rich.markup import escape as _escape

    from jzcli.domain.text import visible

    return _escape(visible(text, keep_newlines=True))
