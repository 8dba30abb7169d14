"""The real dashboard in a real browser: `streamlit run app.py` on a loopback port, driven by Playwright.

Chromium comes from Debian (`scripts/system-deps.sh`); Playwright can't
download its own browser here. A missing /usr/bin/chromium fails the test
with the command to run, it never skips. Screenshots of every page land in
tests/artifacts/screenshots/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from forecasting.i18n.catalog import t
from forecasting.storage import SQLStorage
from tests.support.dashboard_db import NEVER_TRAINED, TRAINED, copy_db, shared_scored_db

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
#: Pages in the top navigation, in the order a user meets them: (menu entry, screenshot name, page heading).
PAGES = [("nav.overview", "overview", "overview.title"), ("nav.forecast", "forecast", "forecast.title"),
         ("nav.products", "products", "products.title"), ("nav.calendar", "calendar", "calendar.title"),
         ("nav.anomalies", "anomalies", "anomalies.title"),
         ("nav.notifications", "notifications", "notifications.title"),
         ("nav.comparison", "comparison", "comparison.title"), ("nav.models", "models", "models.title")]
CHARTED = {"forecast", "products", "anomalies", "comparison"}
TENANT = "Panadería La Espiga"
EXCEPTION = '[data-testid="stException"]'
ALERT = '[data-testid="stAlert"]'
#: The page is drawn: Streamlit marks its root with the script run's state ("notRunning" once a run is
#: over; "initial" before the first), its running indicator is gone, there is a heading, and of what is
#: on show (not inside a closed expander or a tab not chosen, drawn only once opened) nothing is a loading
#: skeleton any more (charts and widgets whose code loads lazily stand as skeletons meanwhile, also after
#: the run), every Plotly chart has drawn its svg and every table its canvas.
SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (document.querySelector('[data-testid="stStatusWidget"]') || !document.querySelector('h1')) return false;
    const shown = (selector) => [...document.querySelectorAll(selector)]
        .filter((element) => !element.closest('details:not([open])') && element.getClientRects().length > 0);
    return shown('[data-testid="stSkeleton"]').length === 0
        && shown('[data-testid="stPlotlyChart"]').every((chart) => chart.querySelector('.main-svg'))
        && shown('[data-testid="stDataFrame"]').every((table) => table.querySelector('canvas'));
}"""
#: True once a first-level heading reads exactly `text` (a page title contains the business name, which
#: is the Overview's whole title: "contains" would match the page being left).
HEADING = "(text) => [...document.querySelectorAll('h1')].some((h) => h.innerText.trim() === text)"
#: How often `wait_for` looks again; a condition, not this, decides how long a test waits.
POLL_SECONDS = 0.2


def wait_for(condition, what: str, timeout: float = 60.0):
    """Poll `condition()` until it returns something truthy (returned) or `timeout` seconds pass (a failure
    saying `what` was awaited). For things outside the page: the server's health, rows in the database."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(POLL_SECONDS)


def add_notifications(db: Path) -> None:
    """Two messages for the first shop, one already read, so the Notifications page has something to show.

    The alert rules run first, as the server's scheduler would within five minutes (stock-out risks of the
    demo products among them), and are marked read: what the scheduler finds later is already notified
    (once per product and week). The hourly stock re-plan may still find a new date to warn about, so
    the menu's unread count is checked against the database, not against a fixed number.
    """
    from forecasting.core.config import MLSettings
    from forecasting.ops.jobs import check_notification_rules
    from forecasting.services.notifications import mark_read, notify

    storage = SQLStorage.sqlite_file(db)
    try:
        check_notification_rules(storage, MLSettings())
        notify(storage, "1", kind="daily_summary", title="Yesterday: 312 € in sales", event_key="browser:summary",
               message="Sales were 4% above the forecast. The next 7 days look similar to last week.")
        mark_read(storage, "1")
        notify(storage, "1", kind="drift", severity="warning", title="Forecast error is higher than usual",
               event_key="browser:drift", message="Recent forecast error is above the alert threshold of 30%. "
               "Sales may have changed pattern; check the Unusual days page and consider retraining.")
    finally:
        storage.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(db: Path, log_path: Path, **env: str) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port over `db`, with `env` added; yields its base URL."""
    port = free_port()
    env = {**os.environ, "FORECASTING_DB_PATH": str(db), "ML_MODEL_CANDIDATES": "naive,snaive,ets",
           "ML_HORIZON_DAYS": "14", "ML_CV_FOLDS": "2", **env}
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, f"streamlit exited at start-up; see {log_path}"
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, "streamlit to answer its health check", timeout=120)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The dashboard over a trained demo database, sign-in off (the local default).

    The first shop's earlier forecasts have actuals, so the overview shows its reliability scorecard.
    """
    db = copy_db(shared_scored_db(tmp_path_factory), tmp_path_factory.mktemp("browser") / "demo.db")
    add_notifications(db)
    with streamlit_server(db, tmp_path_factory.getbasetemp() / "streamlit.log") as base:
        yield base, db


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `sudo bash scripts/system-deps.sh` (Debian's chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def settle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the page is drawn (`SETTLED`). Call it once the page shows something only the run it waits
    for can draw (a new heading, a message): right after a click the previous run's page is still "settled"."""
    page.wait_for_function(SETTLED, timeout=timeout_ms)


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_page(page, key: str, heading: str, lang: str = "en", tenant: str = TENANT) -> None:
    """Click a menu entry and wait for that page's own heading (the old page's stays until the run replaces it)."""
    title = t(heading, lang, name=tenant)
    assert not page.evaluate(HEADING, title), f"already on {title!r}: nothing would tell the new run apart"
    page.get_by_role("link", name=t(key, lang), exact=False).first.click()
    page.wait_for_function(HEADING, arg=title, timeout=60_000)
    settle(page)


def unread(db: Path) -> int:
    """The first shop's unread notifications, as the menu counts them."""
    from forecasting.views.notifications import unread_count

    storage = SQLStorage.sqlite_file(db)
    try:
        return unread_count(storage, "1")
    finally:
        storage.close()


def test_every_page_renders_and_retrain_now_succeeds(server, browser):
    base, db = server
    unread_before = unread(db)
    page = start_page(browser, base, "en-US")
    assert "Panadería La Espiga" in page.locator("h1").first.inner_text()
    # The menu counts the unread notifications the page's run found. The server's scheduler may add some
    # meanwhile (the hourly stock re-plan, the alert rules every five minutes): any count between the
    # database's before and after the page was drawn is right, and at least the drift note is unread.
    menu = page.get_by_role("link", name=t("nav.notifications", "en")).all_inner_texts()
    counts = [int(found[1]) for text in menu if (found := re.search(r"· (\d+)", text))]
    assert unread_before >= 1 and len(counts) == 1 and unread_before <= counts[0] <= unread(db), menu
    # Every page from the Overview (the start page), which is opened from the menu too, ending on Models.
    for key, name, heading in [PAGES[1], PAGES[0], *PAGES[2:]]:
        open_page(page, key, heading)
        assert page.locator(EXCEPTION).count() == 0, f"exception on the {name} page"
        if name in CHARTED:
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        shoot(page, name)

    # Retrain a tenant that was never trained, from the Models page.
    picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    picker.click()
    page.get_by_role("option", name="Boutique Malena").click()
    page.wait_for_function(HEADING, arg=t("models.title", "en", name="Boutique Malena"), timeout=60_000)
    settle(page)
    shoot(page, "models_never_trained")
    page.get_by_role("button", name=t("models.retrain_now", "en")).click()
    page.get_by_text("New model:").wait_for(timeout=180_000)
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    shoot(page, "models_after_retrain")
    storage = SQLStorage.sqlite_file(db)
    try:
        assert not storage.select("ml_models", NEVER_TRAINED).empty
    finally:
        storage.close()

    open_page(page, "nav.forecast", "forecast.title", tenant="Boutique Malena")
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    assert page.locator(EXCEPTION).count() == 0
    shoot(page, "forecast_after_retrain")
    page.close()


def start_page(browser, base: str, locale: str):
    """A tall window (Streamlit scrolls inside its own container) on the app, settled after the cold start."""
    page = browser.new_page(viewport={"width": 1440, "height": 2200}, locale=locale)
    page.goto(base)
    settle(page, timeout_ms=120_000)
    return page


def test_jobs_page_runs_the_health_check_now(server, browser):
    base, db = server
    page = start_page(browser, base, "en-US")
    page.get_by_role("link", name=t("nav.jobs", "en"), exact=True).first.click()
    page.locator("h1", has_text=t("jobs.title", "en")).first.wait_for(timeout=60_000)
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    card = page.locator(".st-key-job_health_check")
    card.get_by_role("button", name=t("jobs.run_now", "en")).click()
    # The scheduler runs in this server too and may have checked the database on its own already: wait for
    # the card to describe the click's run (" · run now · ") as a success, and for its row in job_runs.
    card.get_by_text(re.compile(re.escape(f" · {t('jobs.trigger.manual', 'en')} · "))).first.wait_for(timeout=60_000)
    card.get_by_text(t("jobs.status.success", "en")).first.wait_for(timeout=60_000)
    storage = SQLStorage.sqlite_file(db)
    try:
        def manual_run_succeeded() -> bool:
            runs = storage.select("job_runs", None, where={"job_id": "health_check", "trigger": "manual"})
            assert list(runs["status"]) in ([], ["running"], ["success"]), runs[["status", "error"]]
            return list(runs["status"]) == ["success"]

        wait_for(manual_run_succeeded, "the manual health check run to be recorded a success", timeout=30)
    finally:
        storage.close()
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    card.get_by_text(t("jobs.runs", "en")).first.click()  # open the runs table for the screenshot
    # The table inside an expander is only drawn once it opens.
    card.locator('[data-testid="stExpander"] details[open] [data-testid="stDataFrame"] canvas').first.wait_for(
        timeout=30_000)
    settle(page)
    shoot(page, "jobs")
    page.close()


def test_spanish_pages_render(server, browser):
    base, _ = server
    page = start_page(browser, base, "es-ES")
    page.get_by_role("radio", name="Español").or_(page.get_by_role("button", name="Español")).first.click()
    page.get_by_text(t("overview.sales", "es"), exact=True).first.wait_for(timeout=60_000)  # drawn in Spanish
    settle(page)
    assert page.get_by_text(t("overview.sales", "es"), exact=True).first.is_visible()
    assert page.get_by_text(t("overview.sales", "en"), exact=True).count() == 0
    shoot(page, "es_overview")
    for key, name, heading in (("nav.forecast", "forecast", "forecast.title"),
                               ("nav.products", "products", "products.title"),
                               ("nav.comparison", "comparison", "comparison.title")):
        open_page(page, key, heading, "es")
        assert page.locator(EXCEPTION).count() == 0
        shoot(page, f"es_{name}")
    page.close()


def started_in(browser, base: str, lang: str, locale: str, width: int):
    """A window `width` wide on the app, settled after the cold start, in the language its browser asks for."""
    page = browser.new_page(viewport={"width": width, "height": 2200}, locale=locale)
    page.goto(base)
    settle(page, timeout_ms=120_000)
    if lang == "es":  # a browser set to Spanish opens the app in Spanish
        page.get_by_text(t("overview.sales", "es"), exact=True).first.wait_for(timeout=60_000)
    return page


def open_by_address(page, base: str, path: str, heading: str, lang: str) -> None:
    """Open a page by its address (on a phone the menu sits behind the sidebar toggle) and wait for its heading."""
    page.goto(f"{base}/{path}")
    page.wait_for_function(HEADING, arg=t(heading, lang, name=TENANT), timeout=60_000)
    settle(page)


@pytest.mark.parametrize("lang, locale, width", [("en", "en-US", 1440), ("es", "es-ES", 390)],
                         ids=["english-desktop", "spanish-phone"])
def test_products_page_plans_stock_and_recomputes_it(server, browser, lang, locale, width):
    """The stock table, one product's chart and the order list, in either language and on a phone; "Recompute
    stock" replans from the stock in the database (here raised, so the first product no longer needs an order)."""
    base, db = server
    page = started_in(browser, base, lang, locale, width)
    if width < 600:  # the menu sits behind the sidebar toggle on a phone: go by address
        open_by_address(page, base, "products-stock", "products.title", lang)
    else:
        open_page(page, "nav.products", "products.title", lang)
    assert page.locator(EXCEPTION).count() == 0
    page.locator('[data-testid="stDataFrame"] canvas').first.wait_for(timeout=30_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    download = t("products.download", lang, n=2, count="2").split("(")[0].strip()  # "Order list (2 products)"
    assert page.get_by_role("button", name=re.compile("^" + re.escape(download))).count() == 1
    storage = SQLStorage.sqlite_file(db)
    try:
        first = storage.select("stock_plans", TRAINED, where={"status": "order"}).iloc[0]["product_id"]
        storage.update("productos", TRAINED, {"stock": 1e6}, where={"id": first})
        # Read after the stock changed: any plan newer than this (the click's, or the scheduler's hourly
        # refresh) was made from the new stock.
        before = storage.select("stock_plans", TRAINED, columns=["created_at"], order_by="created_at",
                                descending=True, limit=1).iloc[0]["created_at"]
        page.get_by_role("button", name=t("products.recompute", lang)).click()

        def replanned():
            plan = storage.select("stock_plans", TRAINED, where={"product_id": first}, order_by="as_of",
                                  descending=True, limit=1).iloc[0]
            # The plan made from the new stock (the scheduler may replan too, from either stock).
            return plan.to_dict() if plan["created_at"] > before and plan["stock"] == 1e6 else None

        plan = wait_for(replanned, "the stock plan to be recomputed from the new stock", timeout=60)
        assert plan["order_quantity"] == 0 and plan["status"] == "ok"
    finally:
        storage.close()
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    shoot(page, f"{lang}_products_{width}")
    page.close()


@pytest.mark.parametrize("lang, locale, width", [("en", "en-US", 1440), ("es", "es-ES", 390)],
                         ids=["english-desktop", "spanish-phone"])
def test_the_calendar_form_adds_a_closure_and_the_forecast_follows(server, browser, lang, locale, width):
    """The events form as an owner fills it in, in either language and on a phone: the closure is saved, listed,
    and the stored forecast of its day is 0 at once."""
    from forecasting.views.common import stored_forecast

    base, db = server
    page = started_in(browser, base, lang, locale, width)
    open_by_address(page, base, "shop-calendar", "calendar.title", lang)
    name = f"Stocktaking {lang}"
    page.get_by_label(t("calendar.form.name", lang), exact=True).fill(name)
    page.locator('[data-testid="stSelectbox"]', has_text=t("calendar.form.kind", lang)).click()
    page.get_by_role("option", name=t("calendar.kind.closed", lang), exact=True).click()
    page.get_by_role("button", name=t("calendar.form.add", lang)).click()
    page.get_by_text(t("calendar.saved", lang, n=1, count="1")).wait_for(timeout=60_000)
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    storage = SQLStorage.sqlite_file(db)
    try:
        events = storage.select("calendar_events", TRAINED, where={"name": name})
        assert list(events["kind"]) == ["closed"]
        day = pd.Timestamp(events.iloc[0]["first_day"])
        forecast = stored_forecast(storage, TRAINED)
        if day in forecast.index:  # the form's first day is today: the stored forecast of today is 0 already
            assert (forecast.loc[day] == 0).all()
    finally:
        storage.close()
    shoot(page, f"{lang}_calendar_{width}")
    page.close()


def test_sign_in_keeps_an_owner_to_their_business(tmp_path_factory, browser):
    """With AUTH_ENABLED: the form, the same words for any failure, then one business and no Jobs page."""
    from forecasting.services import auth

    db = copy_db(shared_scored_db(tmp_path_factory), tmp_path_factory.mktemp("signin") / "demo.db")
    storage = SQLStorage.sqlite_file(db)
    try:
        auth.add_user(storage, "ana@ferreteria.es", "correct horse battery", "owner", "2")
        others = [name for tenant, name in zip(storage.tenants()["id"], storage.tenants()["nombre"], strict=True)
                  if tenant != "2"]
    finally:
        storage.close()
    log = tmp_path_factory.getbasetemp() / "streamlit-signin.log"
    with streamlit_server(db, log, AUTH_ENABLED="true", SCHEDULER_LEASE_SECONDS="5") as base:
        page = start_page(browser, base, "en-US")
        assert page.locator("h1").first.inner_text().strip() == t("auth.title", "en")
        # Nobody has signed in, yet the embedded scheduler runs: it takes the leader lease.
        storage = SQLStorage.sqlite_file(db)
        try:
            wait_for(lambda: (storage.lease("scheduler") or {}).get("holder") is not None,
                     "the scheduler to take its lease before anyone signed in", timeout=30)
        finally:
            storage.close()
        assert page.get_by_text(t("auth.off_banner", "en")).count() == 0
        page.get_by_label(t("auth.username", "en")).wait_for()
        page.get_by_label(t("auth.password", "en"), exact=True).wait_for()
        shoot(page, "sign_in")

        def submit(username: str, password: str) -> None:
            page.get_by_label(t("auth.username", "en")).fill(username)
            page.get_by_label(t("auth.password", "en"), exact=True).fill(password)
            page.get_by_role("button", name=t("auth.submit", "en")).click()

        failures = []
        for username, password in (("ana@ferreteria.es", "wrong password"), ("nobody@nowhere", "wrong password")):
            # Each attempt on a fresh page, which has no message: the one that appears is this attempt's.
            page.goto(base)
            settle(page)
            assert page.locator(ALERT).count() == 0
            submit(username, password)
            page.locator(ALERT).first.wait_for(timeout=60_000)
            settle(page)
            failures.append(page.locator(ALERT).last.inner_text().strip().splitlines()[-1])  # after the icon
        assert failures == [t("auth.failed", "en")] * 2
        submit("ana@ferreteria.es", "correct horse battery")
        page.wait_for_function(HEADING, arg=t("overview.title", "en", name="Ferretería El Tornillo"), timeout=60_000)
        settle(page)
        body = page.locator("body").inner_text()
        assert not any(name in body for name in others)
        assert page.get_by_role("link", name=t("nav.jobs", "en")).count() == 0
        assert page.locator(EXCEPTION).count() == 0
        shoot(page, "signed_in_owner")

        # The Jobs page's address leads nowhere for an owner; a new tab must sign in again.
        page.goto(f"{base}/scheduled-jobs")
        settle(page)
        assert page.locator("h1").first.inner_text().strip() == t("auth.title", "en")
        page.close()
