"""Tenant isolation on the dashboard, checked by the figures it shows, on SQLite and on PostgreSQL.

Two shops with very different, exactly known sales: Alpha sells 100 a day,
Beta 7 a day, every day. Whatever the dashboard shows for one of them (the
overview cards and their sparklines, the forecast chart's history and
forecast, the forecast table, the view-model functions the pages call) must
be that shop's figures and none of the other's; a query that forgot its
tenant filter would show 107 a day, or 7 where 100 belongs.

The sales run from 120 days ago to two days ahead, at a constant level, so
every total is the same whichever day is "yesterday" when the page draws
(no dependence on the test crossing midnight). Both shops use one currency,
so only the numbers tell them apart.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from forecasting.core.config import reset_settings
from forecasting.core.series import tenant_today
from forecasting.i18n.catalog import t
from forecasting.i18n.formatting import Formatter, formatter_for
from forecasting.services.model_store import list_models
from forecasting.services.tenants import get_tenant
from forecasting.services.training import train_and_predict_sales
from forecasting.ui import tables
from forecasting.views import anomalies as anomaly_views
from forecasting.views import common, comparison, forecast, models
from forecasting.views import overview as overview_views
from tests.support import FAST, open_backend

APP = str(Path(__file__).resolve().parents[1] / "app.py")
FORECAST_PAGE = "pages/forecast.py"
TIMEOUT = 60
ZONE = "Europe/Madrid"
#: id -> (name, sales per day). Alpha's daily sales are not a multiple of Beta's, nor is their sum either one.
SHOPS = {"alpha": ("Alpha Hardware", 100.0), "beta": ("Beta Bakery", 7.0)}
HISTORY_DAYS = 120


def other(tenant_id: str) -> str:
    return next(shop for shop in SHOPS if shop != tenant_id)


def per_day(tenant_id: str) -> float:
    return SHOPS[tenant_id][1]


def write_shops(store) -> None:
    """Both shops: one sale a day at local noon, from HISTORY_DAYS ago to two days ahead."""
    today = tenant_today(ZONE)
    zone = ZoneInfo(ZONE)
    for tenant_id, (name, amount) in SHOPS.items():
        store.upsert("negocios", tenant_id, [{"id": tenant_id, "nombre": name, "timezone": ZONE, "country": "ES",
                                               "currency": "EUR"}])
        rows = []
        for offset in range(-HISTORY_DAYS, 3):
            day = today + timedelta(days=offset)
            rows.append({"id": f"{tenant_id}-{day.isoformat()}", "negocio_id": tenant_id, "total": amount,
                         "fecha": datetime.combine(day, time(12), zone).astimezone(timezone.utc)})
        store.upsert("ventas", tenant_id, rows)


@pytest.fixture(params=["sqlite", "postgres"])
def shops(request, tmp_path, monkeypatch):
    """Both shops written and trained (fast candidates, 14-day horizon) on the backend, and the dashboard's
    environment pointed at that database."""
    store = open_backend(request, tmp_path, request.param)
    # The embedded database's file (on PostgreSQL unused, but the models' signing key is kept beside it:
    # in this test's folder, not in the working copy's data/).
    monkeypatch.setenv("FORECASTING_DB_PATH", str(tmp_path / "test.db"))
    if request.param == "postgres":
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_url"))
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")  # a process-wide thread bound to the first database it sees
    reset_settings()
    write_shops(store)
    for tenant_id in SHOPS:
        train_and_predict_sales(tenant_id, storage=store, settings=FAST)
    yield store
    store.close()


def start(tenant_id: str) -> AppTest:
    """The app, as a user opens it, with `tenant_id` chosen in the sidebar's picker (sign-in off)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.sidebar.selectbox(key="tenant_id").select(tenant_id).run()
    assert not at.exception, [e.value for e in at.exception]
    assert SHOPS[tenant_id][0] in at.title[0].value
    return at


def plotly_values(value) -> list:
    """A trace's x or y as a list: Plotly writes numeric arrays as base64 (`{"dtype", "bdata"}`)."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:  # "rows, columns" for 2-D data
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    return list(value)


def traces(at: AppTest) -> dict[str, list[float]]:
    """The forecast chart's traces by name: their y values (the only chart on the Forecast page)."""
    chart = at.get("plotly_chart")[0]  # the forecast chart; the what-if chart comes second
    figure = json.loads(chart.proto.spec)
    return {trace.get("name"): plotly_values(trace["y"]) for trace in figure["data"] if "y" in trace}


def money(tenant_id: str, amount: float, store, **options) -> str:
    """`amount` as the page writes it for this shop ("€700"; with `code=True`, "EUR 700")."""
    return formatter_for(get_tenant(store, tenant_id), "en").money(amount, whole=True, **options)


@pytest.mark.parametrize("tenant_id", list(SHOPS))
def test_overview_cards_show_the_chosen_shops_figures_only(shops, tenant_id):
    at = start(tenant_id)
    cards = {m.label: m for m in at.metric}
    mine = per_day(tenant_id)
    for days in overview_views.PERIODS:
        sales = cards[t("overview.sales_last", "en", days=days)]
        forecast = cards[t("overview.forecast_next", "en", days=days)]
        assert sales.value == money(tenant_id, mine * days, shops)  # e.g. "€700" for Alpha's last 7 days
        assert forecast.value == money(tenant_id, mine * days, shops)  # the naive forecast of a flat line
        sparkline = list(sales.proto.chart_data)
        assert sparkline and set(sparkline) == {mine}, (days, sparkline)
    # The every-business table (sign-in off: an admin's view) puts each shop's own figures on its row.
    table = at.dataframe[0].value.set_index(t("table.business", "en"))
    assert len(table) == len(SHOPS)
    for shop, (name, amount) in SHOPS.items():
        for column, days in (("sales_7", 7), ("sales_30", 30), ("forecast_7", 7), ("forecast_30", 30)):
            assert table.loc[name, t(f"table.{column}", "en")] == money(shop, amount * days, shops, code=True)


@pytest.mark.parametrize("tenant_id", list(SHOPS))
def test_forecast_chart_and_table_show_the_chosen_shops_history_only(shops, tenant_id):
    at = start(tenant_id)
    at.switch_page(FORECAST_PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    mine, theirs = per_day(tenant_id), per_day(other(tenant_id))
    lines = traces(at)
    history = lines[t("chart.actual", "en")]
    # Every day from the first sale to yesterday, each at this shop's level: no day of the other shop's.
    assert len(history) >= HISTORY_DAYS and set(history) == {mine}
    forecast = lines[t("chart.forecast", "en")]
    assert len(forecast) == FAST.horizon_days - 1 or len(forecast) == FAST.horizon_days
    assert forecast == pytest.approx([mine] * len(forecast))
    for name in (t("chart.band80", "en"), t("chart.band95", "en")):
        assert all(abs(value - mine) < abs(value - theirs) for value in lines[name]), name
    assert not any(value == theirs for values in lines.values() for value in values)

    table = at.dataframe[0].value
    assert len(table) == len(forecast)
    assert set(table[t("table.forecast", "en")]) == {money(tenant_id, mine, shops)}
    ranges = " ".join(table[t("table.range80", "en")]) + " " + " ".join(table[t("table.range95", "en")])
    assert money(tenant_id, theirs, shops) not in ranges.split(" ")


@pytest.mark.parametrize("tenant_id", list(SHOPS))
def test_the_view_models_the_pages_call_return_each_shops_own_figures(shops, tenant_id):
    mine, theirs = per_day(tenant_id), per_day(other(tenant_id))

    overview = overview_views.overview(shops, tenant_id)
    assert overview.tenant.id == tenant_id and overview.has_sales and overview.trained
    assert overview.sales == {7: 7 * mine, 30: 30 * mine}
    assert overview.sales_before == {7: 7 * mine, 30: 30 * mine}
    assert overview.forecast == pytest.approx({7: 7 * mine, 30: 30 * mine})
    assert set(overview.recent) == {mine}

    view = forecast.forecast_view(shops, tenant_id)
    assert view.tenant.id == tenant_id
    history = view.frame["y"].dropna()
    assert len(history) >= HISTORY_DAYS and set(history) == {mine}
    assert list(view.future["yhat"]) == pytest.approx([mine] * len(view.future))
    csv = pd.read_csv(io.BytesIO(tables.forecast_csv(view, Formatter("en", "EUR"))), encoding="utf-8-sig")
    assert list(csv["Forecast"]) == pytest.approx([mine] * len(csv)) and len(csv) == len(view.future)

    anomalies = anomaly_views.anomaly_view(shops, tenant_id)
    assert set(anomalies.frame["y"]) == {mine} and not anomalies.frame["is_anomaly"].any()

    cv = comparison.cv_view(shops, tenant_id)
    assert len(cv.predictions) and set(cv.predictions["y"]) == {mine}

    versions = models.model_versions(shops, tenant_id)
    assert list(versions["model_version"]) == list(list_models(shops, tenant_id)["model_version"])
    assert not set(versions["model_version"]) & set(list_models(shops, other(tenant_id))["model_version"])
    assert common.freshness(shops, tenant_id)[0] == versions["model_version"].iloc[0]
    assert common.freshness(shops, tenant_id) != common.freshness(shops, other(tenant_id))

    # Nothing issued earlier yet: the scorecard is the first training's back-tests, on this shop's own sales
    # (a flat series the models forecast exactly: no error at all, whatever the other shop sells).
    scorecard = overview_views.scorecard_view(shops, tenant_id)
    assert scorecard.scored and scorecard.backtest_days == scorecard.days and scorecard.wape == pytest.approx(0.0)

    table = overview_views.overview_table([overview_views.overview(shops, shop) for shop in SHOPS]).set_index("tenant_id")
    assert table.loc[tenant_id, "sales_7"] == 7 * mine and table.loc[tenant_id, "sales_30"] == 30 * mine
    assert table.loc[other(tenant_id), "sales_7"] == 7 * theirs
