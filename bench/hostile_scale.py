"""Does large but legal input scale linearly? (issue 19)

    python bench/hostile_scale.py [--sizes 10000 20000 40000]

For each size N, in a fresh SQLite store:
  contract     a contract TOML with N products: `jzcli import` (was quadratic: every product's line
               number counted from the start of the file; 100,000 products ran past 100 s)
  jw323        a valid JW323 with N clients, with a contract and N allocations: `jzcli import`, then
               `jzcli validate`
Prints seconds and peak RSS per step, and per step the ratio seconds(N) / seconds(first N) against
the size ratio: linear work keeps the two close (start-up time makes small sizes look better).
Ratios, not absolute times, are what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import ijw_builders as B  # noqa: E402  (the tests' iJw message builder)

CONTRACT_HEAD = "[contract]\nnaam = 'schaal'\ngemeenten = ['0406']\n"
PRODUCT = (
    "[[product]]\nproductcategorie = '45'\nproductcode = '{code}'\neenheid = '04'\ntarief = 79.80\n"
    "uitvoeringsvariant = 'inspanningsgericht'\ngeldig_van = 2025-01-01\ngeldig_tot = 2025-12-31\n"
)


def bsns(n: int) -> list[str]:
    """N fictional BSNs that pass the 11-proef."""
    out, x = [], 100_000_000
    while len(out) < n:
        x += 1
        s = f"{x:09d}"
        if sum(int(c) * w for c, w in zip(s, [9, 8, 7, 6, 5, 4, 3, 2, -1])) % 11 == 0:
            out.append(s)
    return out


def write_inputs(n: int, folder: Path) -> dict[str, Path]:
    products = folder / "contract-n.toml"
    products.write_text(
        CONTRACT_HEAD + "".join(PRODUCT.format(code=f"P{i:06d}") for i in range(n)) + PRODUCT.format(code="45A48")
    )
    contract = folder / "contract-1.toml"
    contract.write_text(CONTRACT_HEAD + PRODUCT.format(code="45A48"))
    numbers = bsns(n)
    alloc = folder / "toewijzingen.csv"
    pd.DataFrame(
        {
            "toewijzingnummer": [1001 + i for i in range(n)],
            "bsn": numbers,
            "aanbieder": B.AGB,
            "gemeente": B.GEM,
            "productcategorie": "45",
            "productcode": "45A48",
            "ingangsdatum": "01-01-2025",
            "einddatum": "31-12-2025",
            "volume": 10,
            "eenheid": "04",
            "frequentie": 2,
            "toewijzingsdatum": "15-12-2024",
        }
    ).to_csv(alloc, sep=";", index=False)
    message = folder / "jw323.xml"
    clients = (B.client(b, [B.prestatie(f"R{i:07d}", 1001 + i)]) for i, b in enumerate(numbers))
    B.write_message(message, "JW323", B.jw323(clients=clients, totaal=10 * 7980 * n))
    return {"products": products, "contract": contract, "alloc": alloc, "message": message}


def run(*args: str) -> dict:
    cmd = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "jzcli", *args]
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    try:
        seconds, kb = r.stderr.strip().splitlines()[-1].split()
        rss = int(kb) // 1024
    except (ValueError, IndexError):
        seconds, rss = wall, None
    return {"exit": r.returncode, "seconds": round(float(seconds), 2), "peak_mb": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            inputs = write_inputs(n, folder)
            db = str(folder / "store.db")
            steps = {
                "contract_import": run("import", str(inputs["products"]), "--db", str(folder / "c.db"), "-q"),
                "jw323_import": run(
                    "import", str(inputs["contract"]), str(inputs["alloc"]), str(inputs["message"]), "--db", db, "-q"
                ),
                "jw323_validate": run("validate", "--db", db, "-q"),
            }
        results.append({"n": n, **steps})
        print(json.dumps(results[-1]), flush=True)
    first = results[0]
    for r in results[1:]:
        ratios = {k: round(r[k]["seconds"] / max(first[k]["seconds"], 0.01), 2) for k in r if k != "n"}
        print(f"size ×{r['n'] / first['n']:g}: time ×", json.dumps(ratios))


if __name__ == "__main__":
    main()
