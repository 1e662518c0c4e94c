"""What jzcli writes from hostile input (issue 19; issue 15 §3): every csv/xlsx it writes is
formula-safe and opens in openpyxl, every amount column reads back as numbers (negative ones too),
control characters never reach the terminal raw nor break a writer, sums cannot overflow, and a
bounded fuzz run over the readers gives a correct import or one clean error line.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jzcli.domain.text import formula_safe, terminal_safe, visible, xlsx_text

BSN1, BSN2, BSN3 = "999900006", "999900018", "999900031"
AGB = "98001101"
HEADER = ["BSN", "Productcode", "Van", "Tot", "Aantal", "Tarief", "Bedrag", "Gemeente", "AGB", "Declaratienummer"]
CONTROL = "a\x01b\x08c\x1fd\x7fe\x1b[2Jf"
FORMULAS = ['=HYPERLINK("http://x","y")', "+31 6 1234", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]
# Columns that hold amounts or counts in the files jzcli writes (names as written, Dutch).
NUMBER_COLUMNS = {
    "tarief",
    "bedrag",
    "volume",
    "ingediend",
    "goedgekeurd",
    "afgekeurd",
    "onbeoordeeld",
    "afgekeurd_bedrag",
    "regels",
    "clienten",
    "goedgekeurd_regels",
    "afgekeurd_regels",
    "budget",
    "gerealiseerd",
    "rij",
    "batch",
}


def csv_bytes(rows, encoding="utf-8") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def line(bsn=BSN1, code="45A48", bedrag="234,00", tarief="78,00", aantal="3", nummer="D1"):
    return [bsn, code, "01-03-2025", "31-03-2025", aantal, tarief, bedrag, "0406", AGB, nummer]


def hostile_store(tmp_path: Path, db_url: str, cli) -> Path:
    """A store with credits (negative amounts), formula-like and control-character texts, judged."""
    rows = [HEADER, line(), line(BSN2, bedrag="-1.064,00", tarief="1.064,00", aantal="-1")]
    rows += [line(BSN3, code=text, nummer=text) for text in [CONTROL, *FORMULAS]]
    src = tmp_path / "hostile\x1b[2J.csv"
    src.write_bytes(csv_bytes(rows))
    r = cli("import", src, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    assert cli("validate", "--db", db_url, "-q").exit_code in (0, 1)
    return src


def outputs(tmp_path: Path, db_url: str, cli) -> dict[str, Path]:
    """Every csv/xlsx jzcli writes, from the hostile store."""
    out = tmp_path / "out"
    out.mkdir()
    files = {}
    for name, args in {
        "validate.csv": ["validate", "--opnieuw", "-o"],
        "validate.xlsx": ["validate", "--opnieuw", "-o"],
        "report.xlsx": ["report", "-o"],
        "export.csv": ["export", "declaraties", "-o"],
        "export.xlsx": ["export", "declaraties", "-o"],
    }.items():
        r = cli(*args, out / name, "--db", db_url, "-q")
        assert r.exit_code in (0, 1), (name, r.output)
        assert "Traceback" not in r.output and "unexpected internal error" not in r.output, r.output
        files[name] = out / name
    r = cli("report", "--format", "csv", "--db", db_url)
    assert r.exit_code == 0, r.output
    (out / "report-stdout.csv").write_text(r.stdout, encoding="utf-8")
    files["report-stdout.csv"] = out / "report-stdout.csv"
    r = cli("retour", "-o", out / "retour", "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    feedback = sorted((out / "retour").glob("feedback_*.xlsx"))
    assert feedback
    files["feedback.xlsx"] = feedback[0]
    return files


def _is_number_text(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text))


def check_csv(path: Path) -> int:
    """Formula-safe, and amount columns numbers. Returns how many amount cells were checked."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    body = rows[1:]
    for row in body:
        for cell in row:
            assert not (cell.startswith(("=", "+", "-", "@", "\t", "\r")) and not _is_number_text(cell)), (
                path.name,
                cell,
            )
    frame = pd.read_csv(path, dtype=None, keep_default_na=True)
    checked = 0
    for column in frame.columns:
        if column.lower() in NUMBER_COLUMNS:
            assert pd.api.types.is_numeric_dtype(frame[column]), (path.name, column, frame[column].tolist())
            checked += int(frame[column].notna().sum())
    return checked


def check_xlsx(path: Path) -> tuple[int, int]:
    """Opens in openpyxl, no formula cell, amount columns numbers. Returns (amount cells, negatives)."""
    wb = openpyxl.load_workbook(path)  # raises on a file openpyxl cannot read
    checked = negatives = 0
    for ws in wb.worksheets:
        header = None
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (path.name, ws.title, cell.coordinate, cell.value)
            values = [c.value for c in row]
            if header is None:
                header = [str(v).lower() if v is not None else "" for v in values]
                continue
            for name, value in zip(header, values):
                if name in NUMBER_COLUMNS and value is not None:
                    assert isinstance(value, (int, float, Decimal)) and not isinstance(value, bool), (
                        path.name,
                        ws.title,
                        name,
                        value,
                    )
                    checked += 1
                    negatives += value < 0
    return checked, negatives


def test_every_export_is_formula_safe_and_keeps_numbers_numbers(tmp_path, db_url, cli):
    hostile_store(tmp_path, db_url, cli)
    files = outputs(tmp_path, db_url, cli)
    negatives = 0
    for name, path in files.items():
        if name.endswith(".csv"):
            assert check_csv(path) > 0, name
        else:
            checked, neg = check_xlsx(path)
            assert checked > 0, name
            negatives += neg
    assert negatives > 0  # the credit's -1.064,00 is written as the number -1064, never as text
    # the values the provider wrote are still in the store, unchanged
    from jzcli.store.store import Store

    store = Store.open(db_url)
    try:
        codes = set(store.declaraties()["productcode"])
    finally:
        store.close()
    assert {CONTROL, "-2+3", "@SUM(A1)", "+31 6 1234"} <= codes
    # and in the csv export as written (formula texts with a leading apostrophe only)
    exported = set(pd.read_csv(files["export.csv"], dtype=str, keep_default_na=False)["productcode"])
    assert {CONTROL, "'-2+3", "'@SUM(A1)", "'+31 6 1234"} <= exported


def test_control_characters_in_xlsx_are_escaped_and_said_once(tmp_path, db_url, cli):
    hostile_store(tmp_path, db_url, cli)
    target = tmp_path / "x.xlsx"
    r = cli("export", "declaraties", "-o", target, "--db", db_url)
    assert r.exit_code == 0, r.output
    assert r.stderr.count("control characters an xlsx cell cannot hold") == 1, r.stderr
    wb = openpyxl.load_workbook(target)
    values = {c.value for row in wb.active.iter_rows() for c in row}
    assert visible(CONTROL, keep_newlines=True).replace("\\x7f", "\x7f") in values  # \x7f is legal XML


def test_no_raw_escape_reaches_the_terminal(tmp_path, db_url, cli):
    hostile_store(tmp_path, db_url, cli)
    for args in (["batches"], ["validate", "--opnieuw"], ["report"], ["report", "--by", "productcode"]):
        r = cli(*args, "--db", db_url)
        assert r.exit_code in (0, 1), (args, r.output)
        assert "\x1b" not in r.output and "\x01" not in r.output, args
    assert "\\x1b[2J" in cli("batches", "--db", db_url).stdout.replace("\n", "")  # shown, not obeyed


def test_the_import_table_shows_an_escape_in_a_file_name(tmp_path, db_url, cli):
    src = tmp_path / "\x1b[2Jname\x07.csv"
    src.write_bytes(csv_bytes([HEADER, line(code="\x1b[31m45A48")]))
    r = cli("import", src, "--db", db_url)
    assert r.exit_code == 0 and "\x1b" not in r.output and "\x07" not in r.output, r.output
    assert "\\x1b[2Jname" in r.output.replace("\n", "")


def test_helpers():
    assert formula_safe("-1064.00") == "-1064.00" and formula_safe(-1064) == -1064
    assert formula_safe("-2+3") == "'-2+3" and formula_safe("=1") == "'=1" and formula_safe("\tx") == "'\tx"
    assert visible("a\x1b[2Jb\u2028c\u202ed") == "a\\x1b[2Jb\\u2028c\\u202ed"
    assert terminal_safe("\x1b[1mbold\x1b[0m \x1b[2J", styled=True) == "\x1b[1mbold\x1b[0m \\x1b[2J"
    assert terminal_safe("\x1b[1m", styled=False) == "\\x1b[1m"
    long = xlsx_text("x" * 40_000)
    assert len(long) == 32_767 and long.endswith("[cut: 40,000 characters]")


def test_amounts_beyond_ijw_get_a_finding_and_sums_stay_right(tmp_path, db_url, cli):
    big = "90.000.000.000.000.000,00"
    src = tmp_path / "groot.csv"
    src.write_bytes(
        csv_bytes(
            [
                HEADER,
                line(bedrag=big, tarief=big, aantal="1"),
                line(BSN2, bedrag=big, tarief=big, aantal="1"),
                line(BSN3),
            ]
        )
    )
    r = cli("import", src, "--db", db_url, "-q")
    assert r.exit_code == 0, r.output
    from jzcli.store.store import Store

    store = Store.open(db_url)
    try:
        found = store.import_findings()
        lines = store.declaraties()
    finally:
        store.close()
    over = found[found["melding"].str.contains("the iJw maximum for a line")]
    assert sorted(zip(over["rij"], over["veld"])) == [(2, "bedrag"), (2, "tarief"), (3, "bedrag"), (3, "tarief")]
    assert set(over["waarde"]) == {big}  # the value as written is kept in the finding
    assert lines["bedrag"].isna().sum() == 2
    assert cli("validate", "--db", db_url, "-q").exit_code == 1
    for args in (["report"], ["report", "--format", "csv"], ["report", "-o", tmp_path / "r.xlsx"]):
        r = cli(*args, "--db", db_url)
        assert r.exit_code == 0 and "unexpected internal error" not in r.output, (args, r.output)


# ------------------------------------------------------------------------------ the deadline


def test_a_read_that_hangs_is_ended_with_one_line(tmp_path):
    """A reader stuck inside a library cannot be interrupted; the deadline ends the process."""
    src = tmp_path / "slow.csv"
    src.write_bytes(csv_bytes([HEADER, line()]))
    code = (
        "import sys, time\n"
        "from jzcli.readers import spreadsheet\n"
        "spreadsheet._read_csv = lambda p: time.sleep(30)\n"
        "from jzcli.cli.app import main\n"
        f"sys.argv = ['jzcli', 'import', {str(src)!r}, '--db', {str(tmp_path / 's.db')!r}, '-q']\n"
        "main()\n"
    )
    env = dict(os.environ, JZCLI_READ_TIMEOUT="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 3, r
    assert r.stderr.count("error:") == 1 and "slow.csv" in r.stderr and "longer than 1 s" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------------------------ fuzzing


def _seed_xlsx() -> bytes:
    import datetime as dt

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER[:9])
    ws.append([BSN1, "45A48", dt.date(2025, 3, 1), dt.date(2025, 3, 31), 3, 78.0, 234.0, "0406", AGB])
    ws.append([BSN2, "45A48", dt.date(2025, 3, 1), dt.date(2025, 3, 31), 2, 78.0, 156.0, "0406", AGB])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


SEED_XLSX = _seed_xlsx()
SEED_CSV = csv_bytes([HEADER, line(), line(BSN2)], encoding="cp1252")


def _mutate_member(data: bytes, member: str, edit) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            body = src.read(info.filename)
            zf.writestr(info.filename, edit(body) if info.filename == member else body)
    return out.getvalue()


_cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["-1e15", "1e308", "99999999999", "NaN", "inf", "XFD1048576", "#N/A", "=1+1", "\x1b[2J", ""]),
)
_edits = st.one_of(
    st.tuples(st.just("bytes"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),  # overwrite bytes
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(b"")),  # truncate
    st.tuples(st.just("sheetxml"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),  # bytes inside sheet1.xml
    st.tuples(
        st.just("ref"),
        st.integers(0, 20),
        st.sampled_from([b"XFD1048576", b"CV1048576", b"A0", b"ZZZZ1", b"A99999999999"]),
    ),
    st.tuples(
        st.just("value"), st.integers(0, 20), st.sampled_from([b"-1e15", b"1e308", b"nan", b"", b"1" * 400, b"&#1;"])
    ),
)


def _apply(edit, kind: str) -> bytes:
    what, at, payload = edit
    seed = SEED_XLSX if kind == "xlsx" else SEED_CSV
    if what == "bytes":
        at %= len(seed)
        return seed[:at] + payload + seed[at + len(payload) :]
    if what == "cut":
        return seed[: at % len(seed)]
    if kind == "csv":
        at %= len(seed)
        return seed[:at] + payload + seed[at:]
    member = "xl/worksheets/sheet1.xml"

    def edit_xml(body: bytes) -> bytes:
        if what == "sheetxml":
            i = at % len(body)
            return body[:i] + payload + body[i + len(payload) :]
        pattern = rb'r="[A-Z]+\d+"' if what == "ref" else rb"<v>[^<]*</v>"
        found = list(re.finditer(pattern, body))
        if not found:
            return body
        m = found[at % len(found)]
        new = b'r="' + payload + b'"' if what == "ref" else b"<v>" + payload + b"</v>"
        return body[: m.start()] + new + body[m.end() :]

    return _mutate_member(seed, member, edit_xml)


def _import_cleanly(tmp_path: Path, name: str, data: bytes, cli) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    db = tmp_path / "fuzz.db"
    r = cli("import", path, "--db", db, "-q")
    assert "Traceback" not in r.output and "unexpected internal error" not in r.output, r.output
    if r.exit_code == 0:
        assert r.stderr == "", r.stderr
    else:
        assert r.exit_code == 3, r.output
        assert len(re.findall(r"^error:", r.stderr, flags=re.MULTILINE)) == 1, r.stderr
        assert name in " ".join(r.stderr.split()), r.stderr


FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)


@FUZZ
@given(edit=_edits)
def test_fuzzed_xlsx_imports_or_is_refused_in_one_line(tmp_path, cli, edit):
    _import_cleanly(tmp_path, "fuzz.xlsx", _apply(edit, "xlsx"), cli)


@FUZZ
@given(edit=_edits, cells=st.lists(_cells, min_size=1, max_size=9))
def test_fuzzed_csv_imports_or_is_refused_in_one_line(tmp_path, cli, edit, cells):
    data = csv_bytes([HEADER, line(), cells], encoding="utf-8")
    if edit[0] in ("bytes", "cut"):
        at = edit[1] % len(data)
        data = data[:at] if edit[0] == "cut" else data[:at] + edit[2] + data[at + len(edit[2]) :]
    _import_cleanly(tmp_path, "fuzz.csv", data, cli)


def _on_a_terminal(args: list[str], db_url: str) -> bytes:
    """Everything ``jzcli ARGS --db DB`` writes to stdout and stderr on one pseudo-terminal (a
    colour terminal, 200 columns); asserts it exits 0 or 1."""
    import pty

    leader, follower = pty.openpty()
    env = dict(os.environ, COLUMNS="200", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jzcli", *args, "--db", db_url], stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    data = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    assert proc.wait(timeout=60) in (0, 1), (args, data[-500:])
    os.close(leader)
    return data


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_real_terminal_only_styling_escapes_are_written(tmp_path, embedded_url, cli):
    """Through the console script on a pseudo-terminal (Rich styles its output there): the escape
    sequences written are Rich's own styling only, whatever the file name and cells held, for
    tables and for --format csv."""
    hostile_store(tmp_path, embedded_url, cli)
    for args in (
        ["batches"],
        ["batches", "--format", "csv"],
        ["validate", "--opnieuw"],
        ["report", "--by", "productcode"],
    ):
        data = _on_a_terminal(args, embedded_url)
        sequences = set(re.findall(rb"\x1b(?:\[[0-9;?]*[A-Za-z]|\][^\x07\x1b]*|.)", data))
        # Rich's own: styling, and the transient progress line on stderr (cursor up, erase the
        # line, hide/show the cursor); never a sequence from the file (\x1b[2J clears the screen)
        rich_own = rb"\x1b\[[0-9;]*m|\x1b\[[0-9]*A|\x1b\[2K|\x1b\[\?25[lh]"
        assert all(re.fullmatch(rich_own, s) for s in sequences), (args, sequences)
        assert b"\x1b[2J" not in data, args
        assert b"\\x1b[2J" in data.replace(b"\r\n", b""), args  # the file name, shown as text


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_csv_on_a_terminal_shows_cursor_moves_from_a_file(tmp_path, embedded_url, cli):
    """--format csv to a terminal carries the file's own text: a cursor move or line erase in a
    cell (which would hide the line above, a rejection) is shown as text, never obeyed."""
    src = tmp_path / "cursor.csv"
    src.write_bytes(csv_bytes([HEADER, line(), line(BSN3, code="45A48\x1b[1A\x1b[2K")]))
    assert cli("import", src, "--db", embedded_url, "-q").exit_code == 0
    for args in (["validate", "--format", "csv", "-q"], ["export", "declaraties", "-o", str(tmp_path / "x.csv"), "-q"]):
        data = _on_a_terminal(args, embedded_url)
        assert b"\x1b[1A" not in data and b"\x1b[2K" not in data, (args, data[-800:])
        if args[0] == "validate":  # the finding's waarde, shown as text
            assert b"\\x1b[1A" in data, data[-800:]


def test_export_jw323_leaves_out_a_line_xml_cannot_carry(tmp_path, cli):
    header = [
        "BSN",
        "Productcategorie",
        "Productcode",
        "Van",
        "Tot",
        "Aantal",
        "Eenheid",
        "Tarief",
        "Bedrag",
        "Gemeente",
        "AGB",
        "Toewijzingnummer",
        "Referentienummer",
    ]
    good = [BSN2, "45", "45A48", "01-03-2025", "31-03-2025", "3", "04", "78,00", "234,00", "0406", AGB, "1002", "R2"]
    bad = [
        BSN1,
        "45",
        "45A48",
        "01-03-2025",
        "31-03-2025",
        "3",
        "04",
        "78,00",
        "234,00",
        "0406",
        AGB,
        "1001",
        "R\x1b[2J1",
    ]
    src = tmp_path / "decl.csv"
    src.write_bytes(csv_bytes([header, bad, good]))
    r = cli("export", "jw323", src, "-o", tmp_path / "out")
    assert r.exit_code == 1 and "Traceback" not in r.output and "unexpected internal error" not in r.output, r.output
    assert "\x1b" not in r.output
    text = " ".join(r.output.split())
    assert "'R\\x1b[2J1' holds control characters an XML message cannot carry" in text, text
    messages = list((tmp_path / "out").glob("*.xml"))
    assert len(messages) == 1 and b"R2" in messages[0].read_bytes()
