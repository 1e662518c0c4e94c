"""Time import, validate and report of one data set under two source trees, side by side in one run.

    python bench/compare.py BEFORE/src AFTER/src [--lines 100000] [--repeat 3]

For a refactor: every step runs as its own process (PYTHONPATH set to the tree), the trees take
turns, and the best of --repeat runs per step and tree is kept; the table gives after/before.
Data comes from bench/generate.py (cached in bench/out/).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def data(lines: int) -> Path:
    out = HERE / "out" / f"{lines}"
    if not (out / "declaraties.csv").exists():
        subprocess.run(
            [sys.executable, str(HERE / "generate.py"), "--lines", str(lines), "--out", str(out)], check=True
        )
    return out


def step(src: Path, args: list[str]) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(src))
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jzcli", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{src}: jzcli {' '.join(args)} exited with {code}")
    return seconds, usage.ru_maxrss // 1024


def pipeline(src: Path, d: Path, tmp: Path) -> dict[str, tuple[float, int]]:
    db = tmp / f"{abs(hash(str(src)))}.db"
    db.unlink(missing_ok=True)
    files = [str(d / "contract.toml"), str(d / "toewijzingen.csv"), str(d / "declaraties.csv")]
    return {
        "import": step(src, ["import", *files, "--db", str(db), "-q"]),
        "validate": step(src, ["validate", "--db", str(db), "-q"]),
        "report": step(src, ["report", "--gemeente", "Enschede", "--db", str(db), "-q"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    d = data(a.lines)
    best: dict[tuple[str, str], tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeat):
            for tag, src in (("before", a.before), ("after", a.after)):
                for name, value in pipeline(src.resolve(), d, Path(tmp)).items():
                    key = (tag, name)
                    best[key] = min(best.get(key, value), value)
    print(f"{a.lines:,} lines, best of {a.repeat} (seconds / peak RSS MB)")
    print(f"{'step':<9} {'before':>16} {'after':>16} {'after/before':>13}")
    for name in ("import", "validate", "report"):
        b, f = best[("before", name)], best[("after", name)]
        print(f"{name:<9} {b[0]:>8.2f} s {b[1]:>4} MB {f[0]:>8.2f} s {f[1]:>4} MB {f[0] / b[0]:>12.2f}×")


if __name__ == "__main__":
    main()
