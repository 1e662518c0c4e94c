"""Write every user-visible output of jzcli on data/samples (and optionally bench data) into a folder,
with workbooks dumped as text (cell values, types and formats), so two runs can be diffed:

    python bench/outputs.py OUT [--bench DIR]      # DIR from bench/generate.py
    diff -r OUT_before OUT_after

Used to keep a refactor byte for byte: run it before and after, then diff.
Run-dependent values (today's date, import timestamps, the store path) are replaced by fixed words.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
TODAY = date.today().isoformat()


def jz(out: Path, name: str, *args: str, db: Path | None = None) -> None:
    cmd = [sys.executable, "-m", "jzcli", *args] + (["--db", str(db)] if db else [])
    run = subprocess.run(
        cmd, capture_output=True, cwd=out, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "JZCLI_DATA_DIR": str(out)}
    )
    text = run.stdout.decode("utf-8", "replace") + "\n--stderr--\n" + run.stderr.decode("utf-8", "replace")
    text += f"\n--exit {run.returncode}--\n"
    (out / f"{name}.txt").write_text(normalise(text.replace("\r\n", "<CRLF>\n"), out), encoding="utf-8")


def normalise(text: str, out: Path) -> str:
    text = text.replace(str(out), "OUT").replace(TODAY, "TODAY").replace(TODAY.replace("-", ""), "TODAY")
    text = re.sub(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?", "TIMESTAMP", text)
    text = re.sub(r"TODAY \d{2}:\d{2}(:\d{2})?", "TODAY TIME", text)
    text = re.sub(r"datetime\.datetime\(" + str(date.today().year) + r", [^)]*\)", "datetime.datetime(NOW)", text)
    text = re.sub(r"[ \t]+$", "", text, flags=re.M)
    return re.sub(r"in \d+[.,]\d+ ?s\b", "in N s", text)


def dump_xlsx(path: Path) -> str:
    wb = openpyxl.load_workbook(path)
    lines = []
    for ws in wb.worksheets:
        lines.append(f"## sheet {ws.title} dims={ws.dimensions} freeze={ws.freeze_panes} filter={ws.auto_filter.ref}")
        lines.append(
            f"print: orient={ws.page_setup.orientation} fitW={ws.page_setup.fitToWidth} titles={ws.print_title_rows}"
        )
        for col, dim in sorted(ws.column_dimensions.items()):
            lines.append(f"col {col} width={dim.width}")
        for row in ws.iter_rows():
            for c in row:
                if c.value is None:
                    continue
                lines.append(
                    f"{c.coordinate}\t{type(c.value).__name__}\t{c.value!r}\t{c.number_format}\tb={c.font.b}\tfill={c.fill.fgColor.rgb}\tal={c.alignment.horizontal},{c.alignment.wrap_text}"
                )
    return "\n".join(lines) + "\n"


def files_to_text(folder: Path, out: Path) -> None:
    for f in sorted(folder.rglob("*")):
        if f.is_dir() or f.suffix == ".txt" and f.parent == out:
            continue
        rel = f.relative_to(out)
        target = (
            out
            / "files"
            / (str(rel).replace("/", "__").replace(TODAY, "TODAY").replace(TODAY.replace("-", ""), "TODAY") + ".dump")
        )
        target.parent.mkdir(exist_ok=True)
        if f.suffix in (".xlsx", ".xlsm"):
            target.write_text(normalise(dump_xlsx(f), out), encoding="utf-8")
        else:
            raw = f.read_bytes()
            try:
                target.write_text(
                    normalise(raw.decode("utf-8"), out).replace("\r\n", "<CRLF>\n"), encoding="utf-8", newline=""
                )
            except UnicodeDecodeError:
                target.write_bytes(raw)


def pipeline(out: Path, inputs: list[str], tag: str, gemeenten: list[str], extra: list[str]) -> None:
    db = out / f"{tag}.db"
    w = out / f"{tag}-files"
    w.mkdir()
    jz(out, f"{tag}-01-import", "import", *inputs, *extra, db=db)
    jz(out, f"{tag}-02-batches", "batches", db=db)
    jz(out, f"{tag}-03-validate-table", "validate", "--details", db=db)
    jz(out, f"{tag}-04-validate-json", "validate", "--format", "json", db=db)
    jz(out, f"{tag}-05-validate-csv", "validate", "--format", "csv", db=db)
    jz(out, f"{tag}-06-validate-xlsx", "validate", "-o", str(w / "validate.xlsx"), db=db)
    jz(out, f"{tag}-06b-validate-csvfile", "validate", "-o", str(w / "validate.csv"), db=db)
    jz(out, f"{tag}-06c-validate-jsonfile", "validate", "-o", str(w / "validate.json"), db=db)
    for g in gemeenten:
        for view in ("kosten", "maand", "afkeur", "budget"):
            jz(out, f"{tag}-07-report-{g}-{view}", "report", "--gemeente", g, "--view", view, db=db)
            for fmt in ("json", "csv"):
                jz(
                    out,
                    f"{tag}-07-report-{g}-{view}-{fmt}",
                    "report",
                    "--gemeente",
                    g,
                    "--view",
                    view,
                    "--format",
                    fmt,
                    db=db,
                )
        jz(out, f"{tag}-08-report-{g}-xlsx", "report", "--gemeente", g, "-o", str(w / f"report-{g}.xlsx"), db=db)
        jz(out, f"{tag}-08-report-{g}-csvexcel", "report", "--gemeente", g, "--format", "csv", "--excel", db=db)
    jz(out, f"{tag}-09-retour", "retour", "-o", str(w / "retour"), db=db)
    jz(out, f"{tag}-10-export-decl-csv", "export", "declaraties", "-o", str(w / "decl.csv"), db=db)
    jz(out, f"{tag}-10-export-decl-xlsx", "export", "declaraties", "-o", str(w / "decl.xlsx"), db=db)
    jz(
        out,
        f"{tag}-10-export-decl-pseudo",
        "export",
        "declaraties",
        "--pseudoniem",
        "-o",
        str(w / "decl-pseudo.csv"),
        db=db,
    )
    files_to_text(w, out)
    shutil.rmtree(w)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--bench", type=Path)
    ap.add_argument("--normalise", action="store_true", help="only normalise the files already in OUT again")
    a = ap.parse_args()
    if a.normalise:
        for f in a.out.rglob("*"):
            if f.is_file():
                try:
                    f.write_text(
                        normalise(f.read_bytes().decode("utf-8"), a.out.resolve()), encoding="utf-8", newline=""
                    )
                except UnicodeDecodeError:
                    pass
        return
    out = a.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    s = ROOT / "data" / "samples"
    run = subprocess.run([sys.executable, "-m", "jzcli", "rules", "--format", "json"], capture_output=True)
    (out / "rules.json.txt").write_bytes(run.stdout)
    pipeline(out, [str(s)], "samples", ["Huizen", "Enschede", "Blaricum", "Laren"], ["--aanbieder", "98001202"])
    w = out / "jw323"
    jz(
        out,
        "samples-11-export-jw323",
        "export",
        "jw323",
        str(s / "huizen_zorgfirst_2025-03.xlsx"),
        str(s / "enschede_twentezorg_2025.xlsx"),
        "-o",
        str(w),
        "--periode",
        "2025-03",
        "--dagtekening",
        "2025-04-02",
    )
    files_to_text(w, out)
    shutil.rmtree(w)
    jz(
        out,
        "samples-12-check",
        "check",
        str(s / "huizen_zorgfirst_2025-03.xlsx"),
        "--contract",
        str(s / "contract_gooi-en-vechtstreek_2025.toml"),
        "--toewijzingen",
        str(s / "toewijzingen_2025.xlsx"),
        db=out / "x.db",
    )
    jz(
        out,
        "samples-12-check-json",
        "check",
        str(s / "huizen_zorgfirst_2025-03.xlsx"),
        "--contract",
        str(s / "contract_gooi-en-vechtstreek_2025.toml"),
        "--toewijzingen",
        str(s / "toewijzingen_2025.xlsx"),
        "--format",
        "json",
        db=out / "x.db",
    )
    if a.bench:
        b = a.bench.resolve()
        pipeline(
            out,
            [str(b / "contract.toml"), str(b / "toewijzingen.csv"), str(b / "declaraties.csv")],
            "bench",
            ["Enschede", "Hengelo"],
            [],
        )
    for f in out.glob("*.db"):
        f.unlink()


if __name__ == "__main__":
    main()
