"""Speed of everyday operations that tests must not time: import, health check, start-up.

    .venv/bin/python -m bench.operations [--repeat 3]

1. Sales import (`forecasting.services.importer`, the path of `import-sales` and the
   dashboard's upload) into a fresh embedded database: 100,000 rows, then the
   same file again (nothing new: every id already present). Target: under 30 s.
   Beside it, a plain pandas `read_csv` of the same file, the floor any
   importer stands on (it parses and validates nothing).
2. Refusing a 1,000,000-row file above the row limit (500,000) before parsing
   it. Target: under 5 s.
3. The `health_check` job on that database. Target: under 0.1 s.
4. `import forecasting.services.training` in a new interpreter (the cost every CLI
   command and worker process pays first). Target: under 5 s.

Each is run `--repeat` times; the median is reported. Prints a table and
writes bench/results/operations.json and operations.md. A benchmark, not a
test: it asserts nothing, and a slow machine fails nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)


def write_sales(path: Path, rows: int) -> None:
    """`rows` sales over two years, with products and decimal commas, as a shop's export would be."""
    start = datetime(2025, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["id", "fecha", "total", "producto_id", "cantidad"])
        writer.writerows((f"v{i}", (start + timedelta(minutes=7 * i)).strftime("%d/%m/%Y %H:%M"),
                          f"{i % 997},{i % 100:02d}", f"P{i % 40}", i % 5 + 1) for i in range(rows))


def write_oversized(path: Path, valid: int, garbage: int) -> None:
    """`valid` good rows, then `garbage` bad ones: a parser that read past the limit would report errors."""
    with path.open("w", encoding="utf-8") as out:
        out.write("id,fecha,total\n")
        out.write("".join(f"s{i},2026-03-01 10:00,{i % 97}\n" for i in range(valid)))
        out.write("".join(f"s{i},never,x\n" for i in range(valid, valid + garbage)))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(repeat: int, folder: Path) -> list[dict]:
    import pandas as pd

    from forecasting.core.config import MLSettings
    from forecasting.core.errors import DataError
    from forecasting.ops.jobs import health_check
    from forecasting.services.importer import import_sales, parse_sales_csv
    from forecasting.storage import SQLStorage

    sales, big = folder / "ventas.csv", folder / "big.csv"
    write_sales(sales, 100_000)
    write_oversized(big, 500_000, 500_000)
    results: dict[str, list[float]] = {k: [] for k in ("import", "reimport", "read_csv", "refuse", "health", "startup")}
    for attempt in range(repeat):
        storage = SQLStorage.sqlite_file(folder / f"bench-{attempt}.db")
        storage.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": "Europe/Madrid"}])
        results["import"].append(timed(lambda: import_sales(storage, "t", sales, now=NOW)))
        results["reimport"].append(timed(lambda: import_sales(storage, "t", sales, now=NOW)))
        results["read_csv"].append(timed(lambda: pd.read_csv(sales, sep=";", decimal=",")))

        def refuse():
            try:
                parse_sales_csv(big, tenant_timezone="Europe/Madrid", now=NOW, max_rows=500_000)
            except DataError:
                return
            raise AssertionError("the oversized file was not refused")

        results["refuse"].append(timed(refuse))
        results["health"].append(timed(lambda: health_check(storage, MLSettings())))
        storage.close()
        results["startup"].append(timed(lambda: subprocess.run(
            [sys.executable, "-c", "import forecasting.services.training"], cwd=ROOT, check=True)))
    median = {k: statistics.median(v) for k, v in results.items()}
    return [
        {"operation": "import 100,000 sales", "seconds": median["import"], "target_s": 30.0,
         "peer": "pandas read_csv of the file", "peer_seconds": median["read_csv"]},
        {"operation": "re-import the same file (nothing new)", "seconds": median["reimport"], "target_s": 30.0,
         "peer": "", "peer_seconds": None},
        {"operation": "refuse a 1,000,000-row file (limit 500,000)", "seconds": median["refuse"], "target_s": 5.0,
         "peer": "", "peer_seconds": None},
        {"operation": "health check job", "seconds": median["health"], "target_s": 0.1, "peer": "", "peer_seconds": None},
        {"operation": "import forecasting.services.training (new process)", "seconds": median["startup"], "target_s": 5.0,
         "peer": "", "peer_seconds": None},
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from forecasting.core.logs import setup_logging

    setup_logging("WARNING")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=RESULTS) as tmp:
        rows = measure(args.repeat, Path(tmp))
    for row in rows:
        row["met"] = row["seconds"] <= row["target_s"]
    def peer(row) -> str:
        return "" if row["peer_seconds"] is None else f"{row['peer_seconds']:.3f}"

    header = "| operation | median s | target s | met | peer | peer s |\n|---|---|---|---|---|---|\n"
    table = header + "".join(
        f"| {r['operation']} | {r['seconds']:.3f} | < {r['target_s']:g} | {'yes' if r['met'] else '**no**'} | "
        f"{r['peer']} | {peer(r)} |\n" for r in rows)
    print(table)
    (RESULTS / "operations.json").write_text(json.dumps(
        {"rows": rows, "repeat": args.repeat, "cores": os.cpu_count(),
         "measured": datetime.now(timezone.utc).isoformat()}, indent=1))
    (RESULTS / "operations.md").write_text("## Everyday operations (median of "
                                           f"{args.repeat})\n\n" + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
