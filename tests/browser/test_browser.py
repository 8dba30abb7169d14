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

import pytest

from forecasting.storage import SQLStorage
from forecasting.ui.i18n import t

from ..test_dashboard import NEVER_TRAINED, copy_db, shared_scored_db

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
#: Pages in the top navigation, in the order a user meets them: (menu entry, screenshot name, page heading).
PAGES = [("nav.overview", "overview", "overview.title"), ("nav.forecast", "forecast", "forecast.title"),
         ("nav.anomalies", "anomalies", "anomalies.title"),
         ("nav.notifications", "notifications", "notifications.title"),
         ("nav.comparison", "comparison", "comparison.title"), ("nav.models", "models", "models.title")]
CHARTED = {"forecast", "anomalies", "comparison"}
TENANT = "Panadería La Espiga"
EXCEPTION = '[data-testid="stException"]'
RUNNING = '[data-testid="stStatusWidget"]'


def add_notifications(db: Path) -> None:
    """Two messages for the first shop, one already read, so the Notifications page has something to show."""
    from forecasting.notifications import mark_read, notify

    storage = SQLStorage.sqlite_file(db)
    try:
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
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, f"streamlit exited at start-up; see {log_path}"
            assert time.monotonic() < deadline, "streamlit did not answer its health check within 60 s"
            time.sleep(0.3)
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
    """Wait until the script run is over: a heading is drawn and the running indicator is gone."""
    page.wait_for_selector("h1", timeout=timeout_ms)
    page.wait_for_timeout(200)
    page.wait_for_function(f"() => !document.querySelector('{RUNNING}')", timeout=timeout_ms)
    page.wait_for_timeout(600)  # charts and tables finish drawing after the run ends


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_page(page, key: str, heading: str, lang: str = "en", tenant: str = TENANT) -> None:
    """Click a menu entry and wait for that page's own heading (the old page's stays until the run replaces it)."""
    page.get_by_role("link", name=t(key, lang), exact=False).first.click()
    page.locator("h1", has_text=t(heading, lang, name=tenant)).first.wait_for(timeout=60_000)
    settle(page)


def test_every_page_renders_and_retrain_now_succeeds(server, browser):
    base, db = server
    page = start_page(browser, base, "en-US")
    assert "Panadería La Espiga" in page.locator("h1").first.inner_text()

    assert page.get_by_role("link", name=t("nav.notifications", "en") + " · 1").count() == 1  # one unread
    for key, name, heading in PAGES:
        open_page(page, key, heading)
        assert page.locator(EXCEPTION).count() == 0, f"exception on the {name} page"
        if name in CHARTED:
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        shoot(page, name)

    # Retrain a tenant that was never trained, from the Models page.
    picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    picker.click()
    page.get_by_role("option", name="Boutique Malena").click()
    page.locator("h1", has_text="Boutique Malena").first.wait_for(timeout=60_000)
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
        deadline = time.monotonic() + 30
        while True:
            runs = storage.select("job_runs", None, where={"job_id": "health_check", "trigger": "manual"})
            if list(runs["status"]) == ["success"]:
                break
            assert time.monotonic() < deadline, f"manual health check runs: {runs[['status', 'error']]}"
            time.sleep(0.2)
    finally:
        storage.close()
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    card.get_by_text(t("jobs.runs", "en")).first.click()  # open the runs table for the screenshot
    page.wait_for_timeout(600)
    shoot(page, "jobs")
    page.close()


def test_spanish_pages_render(server, browser):
    base, _ = server
    page = start_page(browser, base, "es-ES")
    page.get_by_role("radio", name="Español").or_(page.get_by_role("button", name="Español")).first.click()
    settle(page)
    assert page.get_by_text(t("overview.sales", "es"), exact=True).first.is_visible()
    shoot(page, "es_overview")
    for key, name, heading in (("nav.forecast", "forecast", "forecast.title"),
                               ("nav.comparison", "comparison", "comparison.title")):
        open_page(page, key, heading, "es")
        assert page.locator(EXCEPTION).count() == 0
        shoot(page, f"es_{name}")
    page.close()


def test_sign_in_keeps_an_owner_to_their_business(tmp_path_factory, browser):
    """With AUTH_ENABLED: the form, the same words for any failure, then one business and no Jobs page."""
    from forecasting import auth

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
            deadline = time.monotonic() + 30
            while (storage.lease("scheduler") or {}).get("holder") is None:
                assert time.monotonic() < deadline, "the scheduler did not start before anyone signed in"
                time.sleep(0.3)
        finally:
            storage.close()
        assert page.get_by_text(t("auth.off_banner", "en")).count() == 0
        page.get_by_label(t("auth.username", "en")).wait_for()
        page.wait_for_timeout(500)
        shoot(page, "sign_in")

        def submit(username: str, password: str) -> None:
            page.get_by_label(t("auth.username", "en")).fill(username)
            page.get_by_label(t("auth.password", "en"), exact=True).fill(password)
            page.get_by_role("button", name=t("auth.submit", "en")).click()
            settle(page)

        failures = []
        for username, password in (("ana@ferreteria.es", "wrong password"), ("nobody@nowhere", "wrong password")):
            submit(username, password)
            failures.append(page.locator('[data-testid="stAlert"]').last.inner_text().strip().splitlines()[-1])  # after the icon
        assert failures == [t("auth.failed", "en")] * 2
        submit("ana@ferreteria.es", "correct horse battery")
        page.locator("h1", has_text="Ferretería El Tornillo").first.wait_for(timeout=60_000)
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
