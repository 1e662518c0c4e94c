"""Benchmark jzcli end to end against the floor (pandas) and a peer (frictionless).

    python bench/run.py                         # sizes 10k, 100k, 1M (+ 100k-line xlsx)
    python bench/run.py --sizes 10000 100000    # smaller
    python bench/run.py --report-store 5000000  # also time `report` on a store of 5 M lines

Every step runs as its own process (as a user would run it); wall time and that process's peak
RSS are measured with os.wait4. Data comes from bench/generate.py (cached in bench/out/). The
table is printed and written to bench/results.json with the targets and whether each is met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PY = sys.executable

FLOOR_CSV = "import pandas as pd, sys; pd.read_csv(sys.argv[1], sep=';', dtype=str, encoding='cp1252')"
FLOOR_XLSX = "import pandas as pd, sys; pd.read_excel(sys.argv[1], engine='calamine', dtype=str)"

FRICTIONLESS_SCHEMA = {
    "fields": [
        {"name": "BSN", "type": "string", "constraints": {"required": True, "pattern": "[0-9]{9}"}},
        {"name": "AGB-code", "type": "string", "constraints": {"required": True, "pattern": "[0-9]{8}"}},
        {"name": "Gemeente", "type": "string", "constraints": {"pattern": "[0-9]{4}"}},
        {"name": "Productcode", "type": "string", "constraints": {"required": True, "maxLength": 5}},
        {"name": "Van", "type": "date", "format": "%d-%m-%Y"},
        {"name": "Tot", "type": "date", "format": "%d-%m-%Y"},
        {"name": "Aantal", "type": "integer"},
        {"name": "Eenheid", "type": "string", "constraints": {"enum": ["minuut", "uur", "etmaal", "dagdeel"]}},
        {"name": "Tarief", "type": "number", "decimalChar": ",", "groupChar": "."},
        {"name": "Bedrag", "type": "number", "decimalChar": ",", "groupChar": "."},
    ]
}


def run(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run a command; return wall seconds, peak RSS (MB) of that process and its exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": code,
        "stderr": stderr[-500:],
    }


def jz(*args: str) -> list[str]:
    return [PY, "-m", "jzcli", *args]


def dataset(lines: int, xlsx_lines: int) -> Path:
    target = OUT / f"data-{lines}"
    marker = target / f".done-{xlsx_lines}"
    if not marker.exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [
                PY,
                str(HERE / "generate.py"),
                "--lines",
                str(lines),
                "--out",
                str(target),
                "--xlsx-lines",
                str(xlsx_lines),
            ],
            check=True,
        )
        marker.touch()
    return target


def bench_size(lines: int, xlsx_lines: int, frictionless: bool) -> dict:
    data = dataset(lines, xlsx_lines)
    db = OUT / f"store-{lines}.db"
    db.unlink(missing_ok=True)
    env = {**os.environ, "COLUMNS": "120"}
    steps: dict[str, dict] = {}
    steps["floor_read_csv"] = run([PY, "-c", FLOOR_CSV, str(data / "declaraties.csv")])
    steps["setup_contract_toewijzingen"] = run(
        jz("import", str(data / "contract.toml"), str(data / "toewijzingen.csv"), "--db", str(db), "-q"), env
    )
    steps["import_csv"] = run(jz("import", str(data / "declaraties.csv"), "--db", str(db), "-q"), env)
    # The floor of the store itself: one executemany of ready-made tuples (bench/sqlite_floor.py).
    floor = subprocess.run(
        [PY, str(HERE / "sqlite_floor.py"), "--lines", str(lines), "--db", str(OUT / "floor.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    steps_floor_sqlite = json.loads(floor.stdout)
    # Every finding to a file (as a user would hand them on); stdout gets the summary table.
    steps["validate"] = run(jz("validate", "--db", str(db), "-q", "-o", str(OUT / "findings.json")), env)
    report_args = jz("report", "--gemeente", "0153", "--by", "aanbieder", "--by", "maand", "--db", str(db))
    steps["report"] = run(report_args, env)  # the first report on this store: adds the reporting index
    steps["report_again"] = run(report_args, env)  # as every later report (not in the pipeline sum)
    if frictionless:
        schema = OUT / "frictionless-schema.json"
        schema.write_text(json.dumps(FRICTIONLESS_SCHEMA))
        steps["frictionless_validate"] = run(
            [
                "frictionless",
                "validate",
                "declaraties.csv",
                "--schema",
                str(schema),
                "--trusted",
                "--encoding",
                "cp1252",
                "--dialect",
                json.dumps({"csv": {"delimiter": ";"}}),
                "--limit-errors",
                "1000000",
            ],
            cwd=data,
        )
    if xlsx_lines:
        xdb = OUT / f"store-xlsx-{lines}.db"
        xdb.unlink(missing_ok=True)
        steps["floor_read_excel_calamine"] = run([PY, "-c", FLOOR_XLSX, str(data / "declaraties.xlsx")])
        steps["import_xlsx"] = run(jz("import", str(data / "declaraties.xlsx"), "--db", str(xdb), "-q"), env)
    pipeline = steps["import_csv"]["seconds"] + steps["validate"]["seconds"] + steps["report"]["seconds"]
    pipeline_cpu = sum(steps[k]["cpu_seconds"] for k in ("import_csv", "validate", "report"))
    result = {
        "lines": lines,
        "xlsx_lines": xlsx_lines,
        "steps": steps,
        "pipeline_seconds": round(pipeline, 3),
        "pipeline_cpu_seconds": round(pipeline_cpu, 3),
    }
    result["sqlite_insert_floor"] = steps_floor_sqlite
    result["ratio_sqlite_insert_floor_vs_read_csv"] = round(
        steps_floor_sqlite["seconds"] / steps["floor_read_csv"]["seconds"], 2
    )
    result["ratio_pipeline_vs_read_csv"] = round(pipeline / steps["floor_read_csv"]["seconds"], 2)
    if "frictionless_validate" in steps:
        result["ratio_frictionless_vs_pipeline"] = round(steps["frictionless_validate"]["seconds"] / pipeline, 2)
    if xlsx_lines:
        result["ratio_import_xlsx_vs_read_excel"] = round(
            steps["import_xlsx"]["seconds"] / steps["floor_read_excel_calamine"]["seconds"], 2
        )
    return result


STARTUP = "import jzcli.cli, jzcli.store.store, pandas"


def startup_seconds() -> float:
    """Fixed cost of one jzcli step process (shown, not subtracted anywhere): the interpreter plus
    the imports every step needs (typer, rich, pandas, SQLAlchemy) and nothing else.
    (`jzcli --version` does not import pandas, so it would under-state it.)"""
    return min(run([PY, "-c", STARTUP])["seconds"] for _ in range(3))


HELP_COMMANDS = ("import", "batches", "report", "validate", "rules", "retour", "check", "export", "export jw323")


def startup_costs(repeat: int = 5) -> dict:
    """Fixed cost of each kind of jzcli process, best of ``repeat`` (seconds): ``--version``,
    ``--help``, ``COMMAND --help`` for every command, ``rules`` (the catalogue), and ``validate``
    and ``report`` on an empty store. None of the help steps should import pandas or SQLAlchemy."""

    def best(*args: str) -> float:
        return min(run(jz(*args), env={**os.environ, "COLUMNS": "100"})["seconds"] for _ in range(repeat))

    costs = {"--version": best("--version"), "--help": best("--help")}
    costs.update({f"{command} --help": best(*command.split(), "--help") for command in HELP_COMMANDS})
    costs["rules"] = best("rules")
    db = OUT / "store-empty.db"
    db.unlink(missing_ok=True)
    made = subprocess.run(
        [PY, "-c", "import sys; from jzcli.store.store import Store; Store.open(sys.argv[1], create=True)", str(db)],
        check=False,
    )
    if made.returncode == 0:
        costs["validate (empty store)"] = best("validate", "--db", str(db), "-q")
        costs["report (empty store)"] = best("report", "--db", str(db))
    return costs


def report_store(lines: int) -> dict:
    """Time `report` on a store of `lines` lines (built from 1 M-line files with different seeds)."""
    db = OUT / f"store-report-{lines}.db"
    built = OUT / f".report-store-{lines}"
    if not built.exists():
        db.unlink(missing_ok=True)
        for part in range(max(1, lines // 1_000_000)):
            target = OUT / f"report-part-{part}"
            if not (target / "declaraties.csv").exists():
                subprocess.run(
                    [
                        PY,
                        str(HERE / "generate.py"),
                        "--lines",
                        str(min(lines, 1_000_000)),
                        "--out",
                        str(target),
                        "--seed",
                        str(1000 + part),
                    ],
                    check=True,
                )
            subprocess.run(jz("import", str(target / "declaraties.csv"), "--db", str(db), "-q"), check=True)
        built.touch()
    env = {**os.environ, "COLUMNS": "120"}
    args = ["report", "--gemeente", "0153", "--by", "aanbieder", "--by", "maand", "--db", str(db)]
    best = min((run(jz(*args), env) for _ in range(3)), key=lambda t: t["seconds"])
    # The same report as CSV: the SQL aggregation without laying out a terminal table (Rich needs
    # about 1 ms per row; five generated files name ~800 aanbieders, so ~8 000 rows).
    best_csv = min((run(jz(*args, "--format", "csv"), env) for _ in range(3)), key=lambda t: t["seconds"])
    # Imported, not validated: every line counts as "not judged" (validating 5 M lines is not timed here).
    return {"lines": lines, "report": best, "report_csv": best_csv, "store": "imported only (not validated)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--xlsx-lines", type=int, default=100_000, help="xlsx size, measured with the largest size")
    parser.add_argument("--no-frictionless", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each size (the fastest is kept)")
    parser.add_argument("--report-store", type=int, default=0, help="also time report on a store of this many lines")
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    # Bytecode for jzcli's own modules, as `pip install` of a wheel leaves it: an editable install
    # has none, and with PYTHONDONTWRITEBYTECODE set every step would compile them again.
    import jzcli

    subprocess.run([PY, "-m", "compileall", "-q", str(Path(jzcli.__file__).parent)], check=False)
    frictionless = not args.no_frictionless and shutil.which("frictionless") is not None
    if not args.no_frictionless and not frictionless:
        print("frictionless not installed (pip install frictionless): peer comparison skipped", file=sys.stderr)
    sizes = sorted(args.sizes)
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "startup_seconds": startup_seconds(),
        "version_seconds": min(run(jz("--version"))["seconds"] for _ in range(3)),
        "startup": startup_costs(),
        "sizes": [],
    }
    # Best of --repeat runs at every size, the sizes taken in turn (10k, 100k, 1M, 10k, …): this
    # machine's speed drifts by tens of percent from minute to minute, and the linearity target
    # compares sizes, so each size gets runs spread over the same stretch of time.
    runs: dict[int, list[dict]] = {lines: [] for lines in sizes}
    for attempt in range(args.repeat):
        for lines in sizes:
            print(f"… {lines:,} lines (run {attempt + 1} of {args.repeat})", file=sys.stderr)
            xlsx = args.xlsx_lines if lines == sizes[-1] else 0
            runs[lines].append(bench_size(lines, xlsx, frictionless))
    results["sizes"] = [min(runs[lines], key=lambda r: r["pipeline_seconds"]) for lines in sizes]
    for size in results["sizes"]:
        # What no import + validate + report over a SQLite store can go below, before parsing the
        # file, applying one rule or grouping one line: three process starts, storing the lines
        # and reading them back (bench/sqlite_floor.py).
        f = size["sqlite_insert_floor"]
        floor = 3 * results["startup_seconds"] + f["seconds"] + f["read_seconds"]
        size["store_floor_seconds"] = round(floor, 3)
        size["ratio_store_floor_vs_read_csv"] = round(floor / size["steps"]["floor_read_csv"]["seconds"], 2)
    if args.report_store:
        results["report_store"] = report_store(args.report_store)
    results["targets"] = targets(results)
    args.output.write_text(json.dumps(results, indent=2))
    print_table(results)


def targets(results: dict) -> dict:
    sizes = {r["lines"]: r for r in results["sizes"]}
    largest = sizes[max(sizes)]
    out: dict[str, dict] = {}
    out["pipeline <= 6x read_csv"] = {
        "value": largest["ratio_pipeline_vs_read_csv"],
        "met": largest["ratio_pipeline_vs_read_csv"] <= 6,
    }
    if "ratio_frictionless_vs_pipeline" in largest:
        v = largest["ratio_frictionless_vs_pipeline"]
        out[">= 3x faster than frictionless"] = {"value": v, "met": v >= 3}
    if "ratio_import_xlsx_vs_read_excel" in largest:
        v = largest["ratio_import_xlsx_vs_read_excel"]
        out["xlsx import <= 1.5x read_excel(calamine)"] = {"value": v, "met": v <= 1.5}
    peak = max(s["peak_rss_mb"] for s in largest["steps"].values())
    out["peak RSS <= 1.5 GB"] = {"value_mb": peak, "met": peak <= 1536}
    # Linear = each extra line costs the same whatever the size: the marginal cost per line from
    # the middle size to the largest is within 15 % of that from the smallest to the middle. (The
    # average cost per line falls with size — fixed costs such as start-up, loading rules,
    # contract and allocations are spread over more lines — so it says nothing about growth.)
    # Cost is CPU time (user + sys of the three processes): wall time on a shared machine also
    # counts waiting for the CPU, which varies by tens of percent from minute to minute; the
    # wall-time ratio is recorded beside it.
    ordered = sorted(sizes)
    for a, b, c in zip(ordered, ordered[1:], ordered[2:]):
        ratios = {}
        for key in ("pipeline_cpu_seconds", "pipeline_seconds"):
            low = (sizes[b][key] - sizes[a][key]) / (b - a)
            high = (sizes[c][key] - sizes[b][key]) / (c - b)
            ratios[key] = (
                round(high / low, 2) if low > 0 else float("inf"),
                [round(low * 1e6, 1), round(high * 1e6, 1)],
            )
        v, marginal = ratios["pipeline_cpu_seconds"]
        out[f"linear {a:,} -> {b:,} -> {c:,} (marginal CPU cost per line, upper / lower range)"] = {
            "value": v,
            "met": abs(v - 1) <= 0.15,
            "marginal_cpu_us_per_line": marginal,
            "wall_ratio": ratios["pipeline_seconds"][0],
            "marginal_wall_us_per_line": ratios["pipeline_seconds"][1],
        }
    if "report_store" in results:
        v = results["report_store"]["report"]["seconds"]
        out[f"report <= 2 s on {results['report_store']['lines']:,} lines"] = {"value": v, "met": v <= 2}
        v = results["report_store"]["report_csv"]["seconds"]
        out[f"report --format csv <= 2 s on {results['report_store']['lines']:,} lines"] = {"value": v, "met": v <= 2}
    return out


def print_table(results: dict) -> None:
    print(
        f"\njzcli benchmark — {results['date']} — {results['machine']['cpus']} CPUs, Python {results['machine']['python']}"
    )
    print(f'fixed cost of one jzcli process (python -c "{STARTUP}"): {results["startup_seconds"]:.2f} s\n')
    print(f"{'lines':>10}  {'step':<30} {'seconds':>9} {'CPU s':>7} {'peak RSS MB':>12} {'exit':>5}")
    for size in results["sizes"]:
        for name, step in size["steps"].items():
            print(
                f"{size['lines']:>10,}  {name:<30} {step['seconds']:>9.2f} {step.get('cpu_seconds', 0):>7.2f} {step['peak_rss_mb']:>12.0f} {step['exit']:>5}"
            )
        print(
            f"{'':>10}  {'= import + validate + report':<30} {size['pipeline_seconds']:>9.2f} {size['pipeline_cpu_seconds']:>7.2f}   (x{size['ratio_pipeline_vs_read_csv']} read_csv)"
        )
        f = size["sqlite_insert_floor"]
        print(
            f"{'':>10}  {'(SQLite insert floor alone)':<30} {f['seconds']:>9.2f}   (x{size['ratio_sqlite_insert_floor_vs_read_csv']} read_csv)"
        )
        print(f"{'':>10}  {'(SQLite read-back floor alone)':<30} {f['read_seconds']:>9.2f}")
        print(
            f"{'':>10}  {'(3 starts + insert + read back)':<30} {size['store_floor_seconds']:>9.2f}   (x{size['ratio_store_floor_vs_read_csv']} read_csv)"
        )
    if "report_store" in results:
        r = results["report_store"]
        print(
            f"{r['lines']:>10,}  {'report on the large store':<30} {r['report']['seconds']:>9.2f} {r['report']['peak_rss_mb']:>12.0f}"
        )
        print(
            f"{r['lines']:>10,}  {'  same, --format csv':<30} {r['report_csv']['seconds']:>9.2f} {r['report_csv']['peak_rss_mb']:>12.0f}"
        )
    print("\ntargets:")
    for name, t in results["targets"].items():
        value = t.get("value", t.get("value_mb"))
        print(f"  [{'x' if t['met'] else ' '}] {name}: {value}")


if __name__ == "__main__":
    main()
