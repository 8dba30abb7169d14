"""The dashboard's pages through Streamlit's AppTest: start the app on a database, open a page, read it.

Pages are reached as a user reaches them: `app.py` runs first (language, business picker,
navigation) and then the page. Used by tests/test_dashboard_app.py and the robustness page tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from forecasting.core.config import reset_settings

APP = str(Path(__file__).resolve().parents[2] / "app.py")
OVERVIEW, FORECAST, COMPARISON = "pages/overview.py", "pages/forecast.py", "pages/comparison.py"
ANOMALIES, MODELS, NOTIFICATIONS = "pages/anomalies.py", "pages/models.py", "pages/notifications.py"
JOBS, PRODUCTS, CALENDAR = "pages/jobs.py", "pages/products.py", "pages/calendar.py"
PAGES = [OVERVIEW, FORECAST, PRODUCTS, CALENDAR, COMPARISON, ANOMALIES, MODELS, NOTIFICATIONS]
TIMEOUT = 60


def use_database(monkeypatch, db: Path) -> None:
    """The app on `db`, without its scheduler; what "Retrain now" trains is small, to stay fast."""
    monkeypatch.setenv("FORECASTING_DB_PATH", str(db))
    # The scheduler is a process-wide background thread bound to the first database it sees; tests
    # that switch databases in one process keep it off (the browser test runs it).
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")
    # What "Retrain now" runs comes from the environment, as in production; small here to stay fast.
    monkeypatch.setenv("ML_MODEL_CANDIDATES", "naive,snaive,ets")
    monkeypatch.setenv("ML_HORIZON_DAYS", "14")
    monkeypatch.setenv("ML_CV_FOLDS", "2")
    reset_settings()


def start(lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(at: AppTest, page: str, tenant: str | None = None) -> AppTest:
    if tenant is not None:
        at.sidebar.selectbox(key="tenant_id").select(tenant).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def shown(markdown) -> str:
    """What a Markdown text reads as on the page: the pages escape every value they fill in, and CommonMark
    shows a backslash-escaped punctuation mark as the mark itself."""
    # and the zero-width spaces that keep addresses from turning into links are not seen either
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown)).replace("\u200b", "")


def texts(elements) -> str:
    """The elements' texts as a reader sees them, in one string."""
    return " ".join(shown(e.value) for e in elements)



def page_texts(at: AppTest) -> list[tuple[str, str]]:
    """Everything a page says, as (element type, text): every element's body, label, value, delta, help and
    options, and every table's headers and text cells. Markdown stays as written (escapes included)."""
    found: list[tuple[str, str]] = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            walk(child)
        proto = getattr(node, "proto", None)
        if proto is None:
            return
        kind = type(node).__name__
        for field in ("body", "label", "value", "delta", "help", "placeholder"):
            value = getattr(proto, field, None)
            if isinstance(value, str) and value:
                found.append((kind, value))
        options = getattr(proto, "options", None)
        if options is not None and not isinstance(options, str):
            found.extend((kind, str(option)) for option in options)

    walk(at._tree)
    for table in [*at.dataframe, *at.table]:
        frame = table.value
        found.extend(("table", str(column)) for column in frame.columns)
        found.extend(("table", str(index)) for index in frame.index if isinstance(index, str))
        for column in frame.columns:
            if frame[column].dtype == object:
                found.extend(("table", str(cell)) for cell in frame[column])
    return found
