"""At the user's desk (issue 17): the bundled samples through the real command line, as a contract
manager runs them — piped and narrow terminals that never cut a figure, errors that say what to
do, CSV as Windows and Dutch Excel need it, workbooks in Dutch, exports with the verdicts."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def jz(*args, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """jzcli as its own process (stdout a pipe), the environment as given."""
    full = {**os.environ, **(env or {})}
    full.pop("JZCLI_DB", None)
    return subprocess.run([sys.executable, "-m", "jzcli", *map(str, args)], capture_output=True, env=full, **kw)


def in_terminal(columns: int, *args, stderr_tty: bool = False, env: dict | None = None) -> tuple[int, str]:
    """jzcli with stdout (or stderr) on a pseudo-terminal of ``columns`` columns; returns its text."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full = {**os.environ, **(env or {})}
    full.pop("COLUMNS", None)  # the terminal's own size, as in real use
    full.pop("JZCLI_DB", None)
    out = subprocess.DEVNULL if stderr_tty else slave
    proc = subprocess.Popen(
        [sys.executable, "-m", "jzcli", *map(str, args)],
        stdout=out,
        stderr=slave if stderr_tty else subprocess.DEVNULL,
        env=full,
    )
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return proc.wait(), data.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """The README's samples store: every bundled sample imported and validated."""
    db = tmp_path_factory.mktemp("samples") / "samples.db"
    r = jz("import", SAMPLES, "--aanbieder", "98001202", "--db", db, "-q", "--format", "json")
    assert r.returncode == 0, r.stderr.decode()
    r = jz("validate", "--db", db, "-q")
    assert r.returncode == 1, r.stderr.decode()  # the samples hold rejected lines
    return db


def euro(text: str) -> str:
    """'-1064.00' (JSON) → '€ -1.064,00' (the terminal's Dutch money)."""
    value = Decimal(text)
    whole = f"{abs(value):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"€ -{whole}" if value < 0 else f"€ {whole}"


def figures(samples: Path) -> set[str]:
    data = json.loads(jz("report", "--gemeente", "Huizen", "--db", samples, "--format", "json").stdout)
    shown = set()
    for table in ("aanbieder", "productcategorie", "maand", "lasten_regel"):
        for row in data.get(table, []):
            for key in ("ingediend", "goedgekeurd", "afgekeurd", "onbeoordeeld", "bedrag", "afgekeurd_bedrag"):
                if row.get(key) is not None:
                    shown.add(euro(row[key]))
            for key in ("aanbieder", "maand", "regel", "retourcode"):
                if row.get(key):
                    shown.add(str(row[key]))
    assert "€ -1.064,00" in shown and "98001101" in shown and "2025-03" in shown
    return shown


# ------------------------------------------------------------------------------ the terminal tells the truth
@pytest.mark.parametrize("columns", ["60", "80", "250"])
def test_piped_report_never_cuts_a_figure_whatever_columns_says(samples, columns):
    r = jz("report", "--gemeente", "Huizen", "--db", samples, env={"COLUMNS": columns})
    assert r.returncode == 0
    text = r.stdout.decode("utf-8")
    for figure in figures(samples):
        assert re.search(rf"(?<![\d.,]){re.escape(figure)}(?![\d,])", text), (columns, figure)
    assert "…" not in text and "44 Jeugdhulp verblijf (excl. behandeling)" in text  # nor any text
    assert "too narrow" not in text and "split in" not in text
    assert text == jz("report", "--gemeente", "Huizen", "--db", samples, env={"COLUMNS": "60"}).stdout.decode()


@pytest.mark.parametrize("columns", [60, 80])
def test_narrow_terminal_keeps_figures_and_keys_whole_and_says_so(samples, columns):
    code, text = in_terminal(columns, "report", "--gemeente", "Huizen", "--db", samples, env={"NO_COLOR": "1"})
    text = ANSI.sub("", text)
    assert code == 0
    for figure in figures(samples):
        assert figure in text, (columns, figure)
    assert max(len(line) for line in text.splitlines()) <= columns
    flat = " ".join(text.split())
    assert "the table is split in 2 parts to fit" in flat  # and it says so
    assert "every figure and code is whole" in flat
    assert "a rejected credit line counts as a negative rejected amount" in flat  # approved > declared explained


def test_progress_shows_on_a_terminal_only(samples, tmp_path):
    db = tmp_path / "p.db"
    shutil.copy(samples, db)
    code, text = in_terminal(100, "validate", "--opnieuw", "--db", db, stderr_tty=True)
    assert code == 1 and "line, contract and allocation rules" in text  # a transient line on stderr
    code, quiet = in_terminal(100, "validate", "--opnieuw", "--db", db, "-q", stderr_tty=True)
    assert code == 1 and quiet.strip() == ""
    r = jz("validate", "--opnieuw", "--db", db)  # stderr not a terminal: no progress at all
    assert "line, contract and allocation rules" not in r.stderr.decode()


def test_validate_says_which_run_and_batches_say_when_validated(samples, tmp_path):
    text = jz("validate", "--opnieuw", "--db", shutil.copy(samples, tmp_path / "v.db")).stdout.decode()
    assert re.search(r"Findings per rule \(validate run \d+ on this store\)", text) and "round" not in text
    rows = json.loads(jz("batches", "--db", samples, "--format", "json").stdout)
    decl = [r for r in rows if r["soort"] == "declaraties"]
    assert decl and all(r["beoordeeld_regels"] == r["rijen_opgeslagen"] and r["beoordeeld_op"] for r in decl)
    assert all(r["beoordeeld_regels"] is None for r in rows if r["soort"] != "declaraties")
    assert "yes, 20" in jz("batches", "--db", samples).stdout.decode()


# ------------------------------------------------------------------------------ errors that say what to do
@pytest.mark.parametrize(
    "command",
    [
        ("validate",),
        ("report",),
        ("batches",),
        ("retour", "-o", "antwoorden"),
        ("export", "declaraties", "-o", "x.csv"),
    ],
)
def test_a_mistyped_db_is_no_new_store(tmp_path, command):
    home = tmp_path / "data"
    default = home / "jzcli" / "jzcli.duckdb"
    default.parent.mkdir(parents=True)
    assert (
        jz("import", SAMPLES / "huizen_zorgfirst_2025-04.xlsx", "-q", env={"XDG_DATA_HOME": str(home)}).returncode == 0
    )
    typo = tmp_path / "sampels.db"
    r = jz(*command, "--db", typo, env={"XDG_DATA_HOME": str(home)}, cwd=tmp_path)
    message = " ".join(r.stderr.decode().split())
    assert r.returncode == 3, message
    assert f"no store at {typo}" in message and "only jzcli import creates a store" in message
    assert f"There is a store in the default place: {default}" in message
    assert not typo.exists() and "Traceback" not in message


def test_an_empty_store_says_import_first(tmp_path):
    db = tmp_path / "leeg.db"
    notes = tmp_path / "notes.txt"
    notes.write_text("Beste gemeente, hierbij de declaratie van maart.\n", encoding="utf-8")
    assert jz("import", notes, "--db", db).returncode == 3 and db.exists()  # the store exists, holds nothing
    for command in (("validate",), ("report", "--gemeente", "Huizen")):
        r = jz(*command, "--db", db)
        assert r.returncode == 0 and "nothing imported yet: run jzcli import FILES" in r.stderr.decode(), command
        assert r.stdout == b""


def test_output_into_a_folder_that_cannot_be_written(samples, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere on a normal file system; sysfs refuses even root
        folder = Path("/sys")
    else:
        folder = tmp_path / "alleen-lezen"
        folder.mkdir()
        folder.chmod(0o555)
    for command in (
        ("report", "--gemeente", "Huizen", "-o", folder / "r.xlsx"),
        ("validate", "-o", folder / "f.csv"),
        ("export", "declaraties", "-o", folder / "x.csv"),
    ):
        r = jz(*command, "--db", samples, "-q")
        message = " ".join(r.stderr.decode().split())
        assert r.returncode == 3, (command, message)
        assert str(folder) in message and ("Permission denied" in message or "Read-only" in message), message
        assert "unexpected internal error" not in message


def test_unknown_batch_is_a_usage_error(samples, tmp_path):
    for command in (
        ("retour", "-o", tmp_path / "a"),
        ("validate",),
        ("export", "declaraties", "-o", tmp_path / "x.csv"),
    ):
        r = jz(*command, "--batch", "99", "--db", samples)
        message = " ".join(r.stderr.decode().split())
        assert r.returncode == 2 and "--batch 99: no such batch in this store" in message, (command, message)
    assert not (tmp_path / "a").exists()


# ------------------------------------------------------------------------------ Windows and Excel
@pytest.mark.parametrize(
    "command",
    [
        ("report", "--gemeente", "Huizen", "--format", "csv"),
        ("validate", "--format", "csv"),
        ("batches", "--format", "csv"),
        ("rules", "--format", "csv"),
        ("report", "--gemeente", "Huizen", "--format", "json"),
        ("rules", "--format", "json"),
    ],
)
def test_stdout_data_is_utf8_with_lf_whatever_the_console_encoding(samples, command):
    args = (*command, "--db", samples) if command[0] != "rules" else command
    r = jz(*args, env={"PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"})
    assert r.returncode in (0, 1), r.stderr
    assert b"\r" not in r.stdout and r.stdout.endswith(b"\n")
    text = r.stdout.decode("utf-8")  # not cp1252
    if command[0] == "rules":
        assert "×" in text  # TR346: volume × tarief


def test_csv_files_for_excel(samples, tmp_path):
    plain, dutch = tmp_path / "regels.csv", tmp_path / "regels-excel.csv"
    assert jz("export", "declaraties", "-o", plain, "--db", samples, "-q").returncode == 0
    assert jz("export", "declaraties", "-o", dutch, "--excel", "--db", samples, "-q").returncode == 0
    raw, excel = plain.read_bytes(), dutch.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and excel.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    assert b"\r" not in raw and b"\r" not in excel  # LF line ends, as every CSV jzcli writes
    header = raw[3:].split(b"\n")[0].decode()
    assert header.split(",")[-6:] == [
        "status",
        "retourcodes",
        "toewijzing_gevonden",
        "contract_productcategorie",
        "contract_eenheid",
        "productperiode_afgeleid",
    ]
    first = excel[3:].decode("utf-8").split("\n")[1].split(";")
    names = excel[3:].decode("utf-8").split("\n")[0].split(";")
    row = dict(zip(names, first))
    assert row["tarief"] == "79,80" and row["bedrag"] == "1197,00"  # decimal comma in the money columns
    assert row["productcode"] == "45A48" and row["begindatum"] == "2025-03-01"  # everything else as stored
    assert "79.80" in raw.decode("utf-8") and ";" not in raw.decode("utf-8").split("\n")[0]
    r = jz("report", "--gemeente", "Huizen", "-o", tmp_path / "r.csv", "--excel", "--db", samples, "-q")
    lines = (tmp_path / "r.csv").read_bytes()[3:].decode("utf-8").splitlines()
    assert r.returncode == 0 and lines[1].split(";")[7:] == ["25422,29", "25147,63", "274,66", "0,00", "100,0"]
    r = jz("report", "--gemeente", "Huizen", "-o", tmp_path / "r.xlsx", "--excel", "--db", samples)
    assert r.returncode == 2 and "--excel is for CSV output" in r.stderr.decode()


def test_export_declaraties_carries_verdicts_and_derived_facts(samples, tmp_path):
    target = tmp_path / "regels.xlsx"
    assert jz("export", "declaraties", "-o", target, "--db", samples, "-q").returncode == 0
    ws = openpyxl.load_workbook(target)["Declaraties"]
    rows = list(ws.iter_rows(values_only=True))
    head = list(rows[0])
    records = [dict(zip(head, r)) for r in rows[1:]]
    statuses = {r["status"] for r in records}
    assert statuses == {"goedgekeurd", "afgekeurd"}
    rejected = [r for r in records if r["status"] == "afgekeurd"]
    assert all(r["retourcodes"] for r in rejected) and not any(
        r["retourcodes"] for r in records if r["status"] == "goedgekeurd"
    )
    assert {"0611", "9308", "8017"} <= {c for r in rejected for c in r["retourcodes"].split()}
    # matched on content: the Blaricum CSV names no toewijzingnummer, validate found the allocation
    blaricum = [r for r in records if r["bron"].startswith("blaricum")]
    assert blaricum and all(r["toewijzingnummer"] is None for r in blaricum)
    assert all(r["toewijzing_gevonden"] for r in blaricum if r["status"] == "goedgekeurd")
    assert {r["contract_eenheid"] for r in records if r["contract_eenheid"]} <= {
        "01",
        "04",
        "14",
        "16",
        "82",
        "83",
        "84",
    }
    assert isinstance(records[0]["bedrag"], (int, float))  # amounts stay numbers


def test_workbooks_speak_dutch_and_print_on_few_pages(samples, tmp_path):
    findings, report = tmp_path / "afkeur.xlsx", tmp_path / "huizen.xlsx"
    assert (
        jz("validate", "--opnieuw", "-o", findings, "--db", shutil.copy(samples, tmp_path / "w.db"), "-q").returncode
        == 1
    )
    wb = openpyxl.load_workbook(findings)
    per_rule = wb["Per regel"]
    head = [c.value for c in per_rule[1]]
    assert head == ["Regel", "Retourcode", "Omschrijving", "Ernst", "Regels", "Bedrag"]
    amounts = [row[5] for row in per_rule.iter_rows(min_row=2)]
    assert all(c.data_type == "n" and c.number_format.startswith('"€"') for c in amounts)
    tr418 = next(row for row in per_rule.iter_rows(min_row=2) if row[0].value == "TR418")
    assert tr418[5].value == 760  # euros, not 76000 cents
    assert "Melding" in [c.value for c in wb["Bevindingen"][1]]
    assert jz("report", "--gemeente", "Huizen", "-o", report, "--db", samples, "-q").returncode == 0
    wb = openpyxl.load_workbook(report)
    ws = wb["Per aanbieder"]
    assert [c.value for c in ws[1]][:3] == ["Niveau", "Aanbieder (AGB)", "Regels"] and "Aandeel %" in [
        c.value for c in ws[1]
    ]
    for sheet in (findings_wb := openpyxl.load_workbook(findings)).worksheets + wb.worksheets:
        setup = sheet.page_setup
        assert setup.orientation == "landscape" and setup.fitToWidth == 1 and setup.fitToHeight == 0, sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
    assert all(
        s.print_title_rows == "$1:$1" for s in findings_wb.worksheets + wb.worksheets if s.title != "Toelichting"
    )
    notes = {r[0].value: r[1].value for r in wb["Toelichting"].iter_rows()}
    assert notes["Gemeenten"] == "0406" and "netto gedeclareerd bedrag" in notes["Kolom Ingediend"]
