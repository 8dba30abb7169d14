"""Benchmark: how long an owner waits in a real browser, in English and in Spanish.

    python -m bench.browser              # 6 demo tenants x 3 years, trained with naive/snaive/ets
    python -m bench.browser --repeat 5   # more sessions per language

The real `streamlit run app.py` in Debian's Chromium (the browser tests' server and settle condition), on
an otherwise idle machine. Per language, on a fresh server:

* first open, cold: the first visit after the server starts (nothing cached yet);
* first open, warm: a new browser session once the server has run (what the next owner sees);
  each timed twice: until the shop's heading shows, and until the page is fully drawn;
* page switch: a click in the top menu until the new page is fully drawn (heading, charts, tables).

"Drawn" is the browser tests' `SETTLED` condition: the script run is over and no chart or table is still
loading. Targets (issue 17): first open at most 3 s, a page switch at most 1 s, Spanish no slower than
English. Prints a table and writes bench/results/browser.json and browser.md. Asserts nothing.
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
TARGETS = {"first_open_s": 3.0, "switch_s": 1.0}
LOCALES = {"en": "en-US", "es": "es-ES"}


def timed_open(browser, base: str, lang: str) -> tuple[object, float, float]:
    """A new session on the app's first page in `lang`: the page, the seconds until its heading showed (the
    owner sees the shop) and until it was fully drawn."""
    from forecasting.i18n.catalog import t
    from tests.browser.test_browser import HEADING, settle

    page = browser.new_page(viewport={"width": 1440, "height": 2200}, locale=LOCALES[lang])
    started = time.perf_counter()
    page.goto(base)
    page.wait_for_function(HEADING, arg=t("overview.title", lang, name=TENANT_NAME), timeout=180_000)
    shown = time.perf_counter() - started
    settle(page, timeout_ms=180_000)
    return page, shown, time.perf_counter() - started


def timed_switch(page, key: str, heading: str, lang: str) -> float:
    """Seconds from a click in the menu until the page `heading` is drawn."""
    from forecasting.i18n.catalog import t
    from tests.browser.test_browser import HEADING, settle

    title = t(heading, lang, name=TENANT_NAME)
    link = page.get_by_role("link", name=t(key, lang), exact=False).first
    started = time.perf_counter()
    link.click()
    page.wait_for_function(HEADING, arg=title, timeout=120_000)
    settle(page, timeout_ms=120_000)
    return time.perf_counter() - started


TENANT_NAME = "Panadería La Espiga"  # the demo's first shop, which the app opens on


def measure(db: Path, lang: str, repeat: int, log: Path) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.browser.test_browser import CHROMIUM, CHROMIUM_ARGS, PAGES, streamlit_server

    switches: dict[str, list[float]] = {}
    warm_opens, warm_shown = [], []
    with streamlit_server(db, log, SCHEDULER_ENABLED="false") as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page, cold_shown, cold = timed_open(browser, base, lang)
        page.close()
        for _ in range(repeat):
            page, shown, seconds = timed_open(browser, base, lang)
            warm_shown.append(shown)
            warm_opens.append(seconds)
            # Every page in menu order, then back to the overview: each switch lands on a page not on show.
            for key, name, heading in [*PAGES[1:], PAGES[0]]:
                switches.setdefault(name, []).append(timed_switch(page, key, heading, lang))
            page.close()
        browser.close()
    every = [s for times in switches.values() for s in times]
    return {
        "lang": lang, "first_open_cold_s": round(cold, 2), "first_open_warm_median_s": round(statistics.median(warm_opens), 2),
        "first_content_cold_s": round(cold_shown, 2), "first_content_warm_median_s": round(statistics.median(warm_shown), 2),
        "switch_median_s": round(statistics.median(every), 2), "switch_max_s": round(max(every), 2),
        "switch_by_page_median_s": {name: round(statistics.median(times), 2) for name, times in switches.items()},
        "sessions": repeat,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1095, help="days of sales per tenant (default: three years)")
    parser.add_argument("--repeat", type=int, default=3, help="warm sessions per language")
    parser.add_argument("--db", help="use this existing database instead of building one")
    args = parser.parse_args(argv)
    from bench.dashboard import build

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "bench.db"
        setup = {"database": "given"} if args.db else build(db, args.days, fast=True)
        rows = [measure(db, lang, args.repeat, Path(tmp) / f"streamlit-{lang}.log") for lang in LOCALES]

    ratio = rows[1]["switch_median_s"] / rows[0]["switch_median_s"] if rows[0]["switch_median_s"] else None
    lines = [
        "| language | shop shown, cold (s) | fully drawn, cold (s) | shop shown, warm (s) | fully drawn, warm (s) "
        "| page switch, median (s) | page switch, max (s) |",
        "|---|---|---|---|---|---|---|",
        *(f"| {r['lang']} | {r['first_content_cold_s']:.2f} | {r['first_open_cold_s']:.2f} | "
          f"{r['first_content_warm_median_s']:.2f} | {r['first_open_warm_median_s']:.2f} | "
          f"{r['switch_median_s']:.2f} | {r['switch_max_s']:.2f} |" for r in rows),
        f"| target | | ≤ {TARGETS['first_open_s']:.0f} | | ≤ {TARGETS['first_open_s']:.0f} | ≤ {TARGETS['switch_s']:.0f} | |",
        "",
        f"Spanish / English page switch (median): {ratio:.2f}" if ratio else "",
        "",
        "Median switch per page (en / es): " + ", ".join(
            f"{name} {rows[0]['switch_by_page_median_s'][name]:.2f} / {rows[1]['switch_by_page_median_s'][name]:.2f}"
            for name in rows[0]["switch_by_page_median_s"]),
    ]
    print("\nDashboard in Chromium, demo shop 1 (3 years of sales):\n" + "\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"benchmark": "browser", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average_at_start": os.getloadavg()[0]},
            "days": args.days, "setup": setup, "targets": TARGETS, "languages": rows, "es_over_en_switch": ratio}
    (RESULTS / "browser.json").write_text(json.dumps(meta, indent=2) + "\n")
    (RESULTS / "browser.md").write_text("# Dashboard in the browser\n\n" + "\n".join(lines) + "\n")
    print(f"results written to {(RESULTS / 'browser.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
