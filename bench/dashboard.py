"""Benchmark: how long each dashboard page takes to run for a tenant with three years of sales.

    python -m bench.dashboard            # 6 demo tenants x 3 years, every candidate trained
    python -m bench.dashboard --fast     # same data, trained with naive/snaive/ets only (quicker set-up)

Each page is run through Streamlit's AppTest (the same script run a browser
triggers, without the browser's drawing): once in a new session with empty
caches ("cold"), then `--repeat` times more in that session ("warm", the
case that matters: cached data is shared by every user), and once in a new
session with warm caches. Prints a table and writes bench/results/dashboard.json.
This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/dashboard.py` as well as `python -m bench.dashboard`
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "dashboard.json"
PAGES = {
    "overview": "pages/overview.py",
    "forecast": "pages/forecast.py",
    "comparison": "pages/comparison.py",
    "anomalies": "pages/anomalies.py",
    "models": "pages/models.py",
    "notifications": "pages/notifications.py",
}
#: The demo's busiest shop (Café La Candelaria, ~135 sales a day): the largest tenant.
TENANT = "4"


def build(db: Path, days: int, fast: bool) -> dict:
    from forecasting.core.config import MLSettings
    from forecasting.core.errors import ForecastingError
    from forecasting.services.demo import generate_demo, write_demo
    from forecasting.services.training import train_and_predict_sales
    from forecasting.storage import SQLStorage

    storage = SQLStorage.sqlite_file(db)
    started = time.perf_counter()
    data = generate_demo(n_tenants=6, days=days, seed=42)
    counts = write_demo(storage, data)
    settings = MLSettings(model_candidates=["naive", "snaive", "ets"]) if fast else MLSettings()
    failed = []
    for tenant_id in data.negocios["id"]:
        try:
            train_and_predict_sales(str(tenant_id), storage=storage, settings=settings)
        except ForecastingError:
            failed.append(str(tenant_id))
    storage.close()
    return {"sales": counts["ventas"], "tenants": counts["negocios"], "candidates": settings.model_candidates,
            "failed": failed, "setup_seconds": round(time.perf_counter() - started, 1)}


def open_page(page: str, tenant: str, lang: str = "en"):
    """A new browser session on `page`; returns the session and how long the page's first run took."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["lang"] = lang
    at.session_state["tenant_id"] = tenant
    if page != PAGES["overview"]:
        at.run()  # app.py and the default page: navigation needs one run before switching
        at.switch_page(page)
    return at, rerun(at)


def rerun(at) -> float:
    """One more run of the session's page, as when the user interacts or comes back to it."""
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"page raised: {at.exception[0].value}")
    return elapsed


def clear_caches() -> None:
    """Empty the dashboard's data caches (each cached function clears its own store)."""
    from pages import _shared

    for cached in (_shared._tenants, _shared._overview, _shared._forecast_view, _shared._cv_view,
                   _shared._anomaly_view, _shared._model_versions):
        cached.clear()


def measure(repeat: int) -> list[dict]:
    rows = []
    open_page(PAGES["notifications"], TENANT)  # imports and the process's first run, not any page's cost
    for name, page in PAGES.items():
        clear_caches()
        at, cold = open_page(page, TENANT)
        warm = [rerun(at) for _ in range(repeat)]
        _, new_session = open_page(page, TENANT)
        rows.append({"page": name, "cold_s": round(cold, 3), "warm_median_s": round(statistics.median(warm), 3),
                     "warm_max_s": round(max(warm), 3), "warm_new_session_s": round(new_session, 3),
                     "runs": repeat})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1095, help="days of sales per tenant (default: three years)")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per page")
    parser.add_argument("--fast", action="store_true", help="train with naive, snaive and ets only")
    parser.add_argument("--db", help="use this existing database instead of building one")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "bench.db"
        setup = {"database": "given"} if args.db else build(db, args.days, args.fast)
        os.environ["FORECASTING_DB_PATH"] = str(db)
        from forecasting.core.config import reset_settings

        reset_settings()
        rows = measure(args.repeat)

    print(f"\nDashboard pages, tenant {TENANT} ({args.days} days of sales), AppTest script runs:")
    print(f"{'page':<15}{'cold (s)':>10}{'warm median (s)':>18}{'warm max (s)':>15}{'warm, new session (s)':>24}")
    for row in rows:
        print(f"{row['page']:<15}{row['cold_s']:>10.3f}{row['warm_median_s']:>18.3f}{row['warm_max_s']:>15.3f}"
              f"{row['warm_new_session_s']:>24.3f}")
    print("cold: empty caches, new session; warm: the same session again (data cached); new session: cached data,")
    print("a new browser tab (includes AppTest's own set-up of a session, about 0.2-0.3 s here).")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "dashboard", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "tenant": TENANT, "days": args.days, "setup": setup, "pages": rows,
    }, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
