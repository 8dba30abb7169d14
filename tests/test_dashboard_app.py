"""Every dashboard page through Streamlit's AppTest, on a small demo database.

Pages are reached as a user reaches them: `app.py` runs first (language,
business picker, navigation) and then the page. Tests that write (retrain,
settings, notifications) work on their own copy of the database.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from forecasting.config import reset_settings
from forecasting.notifications import notify
from forecasting.registry import list_models
from forecasting.storage import SQLStorage
from forecasting.tenants import tenant_overrides
from forecasting.ui.i18n import t

from .test_dashboard import EMPTY, NEVER_TRAINED, TRAINED, copy_db, shared_dashboard_db

APP = str(Path(__file__).resolve().parents[1] / "app.py")
OVERVIEW, FORECAST, COMPARISON = "pages/overview.py", "pages/forecast.py", "pages/comparison.py"
ANOMALIES, MODELS, NOTIFICATIONS = "pages/anomalies.py", "pages/models.py", "pages/notifications.py"
PAGES = [OVERVIEW, FORECAST, COMPARISON, ANOMALIES, MODELS, NOTIFICATIONS]
TIMEOUT = 60


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return copy_db(shared_dashboard_db(tmp_path_factory), tmp_path_factory.mktemp("app") / "demo.db")


@pytest.fixture
def own_db(demo_db, tmp_path) -> Path:
    return copy_db(demo_db, tmp_path / "own.db")


def _use(monkeypatch, db: Path) -> None:
    monkeypatch.setenv("FORECASTING_DB_PATH", str(db))
    # The scheduler is a process-wide background thread bound to the first database it sees; tests
    # that switch databases in one process keep it off (the browser test runs it).
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")
    # What "Retrain now" runs comes from the environment, as in production; small here to stay fast.
    monkeypatch.setenv("ML_MODEL_CANDIDATES", "naive,snaive,ets")
    monkeypatch.setenv("ML_HORIZON_DAYS", "14")
    monkeypatch.setenv("ML_CV_FOLDS", "2")
    reset_settings()


@pytest.fixture
def app(monkeypatch, demo_db):
    """A started app on the shared demo database (read-only tests)."""
    _use(monkeypatch, demo_db)
    return start()


@pytest.fixture
def own_app(monkeypatch, own_db):
    """A started app on a private copy of the demo database (tests that write)."""
    _use(monkeypatch, own_db)
    return start(), SQLStorage.sqlite_file(own_db)


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


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


# --- every page on demo data --------------------------------------------------------------------


def test_overview_shows_cards_and_the_all_tenants_table(app):
    labels = [m.label for m in app.metric]
    for days in (7, 30):
        assert t("overview.sales_last", "en", days=days) in labels
        assert t("overview.forecast_next", "en", days=days) in labels
    cards = ("overview.model_in_use", "overview.last_trained", "overview.reliability")
    assert {t(key, "en") for key in cards} <= set(labels)
    values = {m.label: m.value for m in app.metric}
    assert values[t("overview.sales_last", "en", days=7)].startswith("€")  # tenant 1 sells in euros
    assert "seasonal naive" in " ".join(m.delta for m in app.metric if m.label == t("overview.reliability", "en"))
    table = app.dataframe[0].value
    assert len(table) == 4 and "Panadería La Espiga" in set(table[t("table.business", "en")])


def test_forecast_page_draws_history_bands_and_offers_the_csv(app):
    open_page(app, FORECAST)
    [figure] = charts(app)
    names = {trace.get("name") for trace in figure["data"]}
    assert {t(key, "en") for key in ("chart.band80", "chart.band95", "chart.forecast", "chart.actual")} <= names
    assert figure["layout"]["xaxis"]["rangeselector"]["buttons"]
    assert len(app.dataframe[0].value) == 14
    assert app.get("download_button")


def test_comparison_page_shows_scores_explanation_and_charts(app):
    open_page(app, COMPARISON)
    assert len(charts(app)) == 3  # error by step, by weekday, each fold against actuals
    assert any("won" in s.value for s in app.success)
    scores = app.dataframe[0].value
    assert len(scores) >= 3 and {"MASE", "MAE", "RMSE", "sMAPE", "WAPE", "MAPE"} <= set(scores.columns)


def test_anomalies_page_reflags_when_the_threshold_moves(app):
    open_page(app, ANOMALIES)
    slider = app.slider[0]
    slider.set_value(1.5).run()
    many = int(app.metric[0].value)
    app.slider[0].set_value(8.0).run()
    few = int(app.metric[0].value)
    assert few < many
    assert charts(app) and (few == 0 or len(app.dataframe[0].value) == few)


def test_models_page_lists_versions_and_the_settings_form(app):
    open_page(app, MODELS)
    assert app.button(key="retrain_now").label == t("models.retrain_now", "en")
    assert len(app.dataframe[0].value) == 1
    assert app.number_input and app.multiselect and app.toggle


def test_notifications_page_renders(app):
    open_page(app, NOTIFICATIONS)
    assert app.title[0].value.startswith(t("nav.notifications", "en"))


def test_sidebar_names_the_storage_backend_and_file(app, demo_db):
    caption = texts(app.sidebar.caption)
    assert "sqlite" in caption and str(demo_db) in caption


# --- the tenant switch ----------------------------------------------------------------------------


def test_switching_tenant_changes_the_figures_and_is_remembered_across_pages(app):
    first = {m.label: m.value for m in app.metric}
    app.sidebar.selectbox(key="tenant_id").select("2").run()
    second = {m.label: m.value for m in app.metric}
    label = t("overview.sales_last", "en", days=30)
    assert first[label] != second[label] and second[label].startswith("MX$")  # tenant 2 sells in pesos
    open_page(app, FORECAST)
    assert "Ferretería El Tornillo" in app.title[0].value
    [figure] = charts(app)
    open_page(app, FORECAST, tenant="1")
    assert "Panadería La Espiga" in app.title[0].value
    assert charts(app)[0]["data"] != figure["data"]


@pytest.fixture
def spanish(monkeypatch, demo_db):
    _use(monkeypatch, demo_db)
    return start("es")


def test_spanish_ui_uses_spanish_words_and_number_formats(spanish):
    labels = [m.label for m in spanish.metric]
    assert t("overview.sales_last", "es", days=7) in labels
    value = {m.label: m.value for m in spanish.metric}[t("overview.sales_last", "es", days=7)]
    assert value.endswith("€") and "." in value  # "1.746 €": thousands dot, symbol after
    open_page(spanish, COMPARISON)
    assert any("ganó" in s.value for s in spanish.success)


# --- tenants with nothing to show yet -------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_never_trained_tenant_gets_a_way_forward(app, page):
    open_page(app, page, tenant=NEVER_TRAINED)
    if page in (FORECAST, COMPARISON, ANOMALIES):
        assert t("msg.not_trained", "en", name="Boutique Malena") in texts(app.info)
        assert app.get("page_link")
    if page == OVERVIEW:
        assert t("msg.not_trained", "en", name="Boutique Malena") in texts(app.info)
        assert any(m.label == t("overview.sales_last", "en", days=7) for m in app.metric)
    if page == MODELS:
        assert not app.button(key="retrain_now").disabled


@pytest.mark.parametrize("page", PAGES)
def test_empty_tenant_gets_a_clear_message(app, page):
    open_page(app, page, tenant=EMPTY)
    if page != NOTIFICATIONS:
        assert t("msg.no_sales", "en", name="Tienda Nueva") in texts(app.info)
    if page == MODELS:
        assert app.button(key="retrain_now").disabled


def test_an_unusable_database_is_a_message_not_a_traceback(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    monkeypatch.setenv("FORECASTING_DB_PATH", str(blocker / "forecasting.db"))
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")
    reset_settings()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    assert "could not open the database file" in texts(at.error) and "FORECASTING_DB_PATH" in texts(at.error)


# --- actions that write -------------------------------------------------------------------------------


def test_retrain_now_writes_a_new_model_and_fresh_predictions(own_app):
    at, storage = own_app
    open_page(at, MODELS, tenant=NEVER_TRAINED)
    assert list_models(storage, NEVER_TRAINED).empty
    at.button(key="retrain_now").click().run(timeout=120)
    assert not at.exception
    models = list_models(storage, NEVER_TRAINED)
    assert len(models) == 1 and models["is_active"].all()
    version = models["model_version"].iloc[0]
    predictions = storage.select("ml_predictions", NEVER_TRAINED)
    assert set(predictions.loc[predictions.model_version == version, "prediction_type"]) == {
        "sales_forecast", "sales_anomaly"}
    assert len(predictions[predictions.prediction_type == "sales_forecast"]) == 14
    assert any("New model" in s.value for s in at.success)
    assert len(at.dataframe[0].value) == 1  # the versions table shows it at once
    open_page(at, FORECAST)
    assert charts(at) and not texts(at.info)


def test_a_failed_retrain_explains_itself_and_keeps_the_old_model(own_app):
    at, storage = own_app
    storage.upsert("tenant_ml_settings", TRAINED, [{"tenant_id": TRAINED, "settings": {"horizon_days": 0},
                                                   "updated_at": datetime.now(timezone.utc)}])
    before = list_models(storage, TRAINED)
    open_page(at, MODELS, tenant=TRAINED)
    assert "ML_HORIZON_DAYS" in texts(at.error)  # the form already says the stored settings are invalid
    at.button(key="retrain_now").click().run(timeout=120)
    assert not at.exception
    assert any(t("models.retrain_error", "en", detail="")[:20] in e.value and "ML_HORIZON_DAYS" in e.value
               for e in at.error)
    assert list_models(storage, TRAINED)["model_version"].tolist() == before["model_version"].tolist()


def test_retrain_while_another_run_holds_the_tenant_says_so(own_app):
    from forecasting.locks import tenant_lock

    at, storage = own_app
    open_page(at, MODELS, tenant=TRAINED)
    before = list_models(storage, TRAINED)["model_version"].tolist()
    with tenant_lock(storage, TRAINED, holder="weekly-retrain-job"):
        at.button(key="retrain_now").click().run(timeout=120)
    assert not at.exception
    assert "already being retrained" in texts(at.error) and t("models.retrain_error_busy", "en") in texts(at.caption)
    assert list_models(storage, TRAINED)["model_version"].tolist() == before


def test_a_database_without_tenants_explains_how_to_load_the_demo(monkeypatch, tmp_path):
    _use(monkeypatch, tmp_path / "fresh.db")
    at = start()
    assert t("msg.no_tenants", "en") in texts(at.info)


def test_settings_form_rejects_an_invalid_value_and_saves_a_valid_one(own_app):
    at, storage = own_app
    open_page(at, MODELS, tenant=TRAINED)
    at.number_input(key=f"setting_{TRAINED}_stl_zthresh").set_value(0.0)
    submit = next(b for b in at.button if b.label == t("settings.save", "en"))
    submit.click().run()
    assert any("ML_STL_ZTHRESH" in e.value for e in at.error)
    assert tenant_overrides(storage, TRAINED) == {}
    at.number_input(key=f"setting_{TRAINED}_stl_zthresh").set_value(4.5)
    at.number_input(key=f"setting_{TRAINED}_horizon_days").set_value(21)
    next(b for b in at.button if b.label == t("settings.save", "en")).click().run()
    assert tenant_overrides(storage, TRAINED) == {"stl_zthresh": 4.5, "horizon_days": 21}
    at.button(key=f"settings_reset_{TRAINED}").click().run()
    assert tenant_overrides(storage, TRAINED) == {}


def test_notifications_newest_first_and_marked_read(own_app):
    at, storage = own_app
    for i in range(2):
        notify(storage, TRAINED, kind="drift", severity="warning", title=f"Alert {i}", message="Sales changed.",
               event_key=f"test:{i}")
    open_page(at, NOTIFICATIONS, tenant=TRAINED)
    titles = [m.value for m in at.markdown if "Alert" in m.value]
    assert "Alert 1" in titles[0] and "Alert 0" in titles[1]
    first_id = int(storage.select("notifications", TRAINED, order_by="created_at", descending=True)["id"].iloc[0])
    at.button(key=f"notification_read_{first_id}").click().run()
    states = storage.select("notifications", TRAINED).set_index("id")["is_read"]
    assert bool(states[first_id]) and states.sum() == 1
    at.button(key="notifications_mark_all").click().run()
    assert storage.select("notifications", TRAINED)["is_read"].all()
