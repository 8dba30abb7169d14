"""The dashboard's data and drawing layer: `forecasting.views.dashboard` and `forecasting.ui`, without Streamlit.

One demo database per module (three demo tenants, two of them trained,
plus an empty one); tests that write copy it first.
"""

from __future__ import annotations

import io
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.core.anomalies import flag
from forecasting.core.config import DEPLOYMENT_SETTINGS, MLSettings
from forecasting.core.engine import ENSEMBLE
from forecasting.core.errors import ConfigError
from forecasting.i18n.catalog import LANGUAGES, STRINGS, model_label, t
from forecasting.i18n.formatting import Formatter, locale_for
from forecasting.services.demo import generate_demo, write_demo
from forecasting.services.model_store import KEY_FILE, list_models
from forecasting.services.sales import daily_sales
from forecasting.services.tenants import get_tenant, settings_for_tenant, tenant_overrides
from forecasting.services.training import train_and_predict_sales
from forecasting.storage import SQLStorage
from forecasting.ui import figures, tables
from forecasting.ui.schedule import describe_interval, describe_trigger
from forecasting.views import dashboard

ROOT = Path(__file__).resolve().parents[1]
FAST = MLSettings(model_candidates=["naive", "snaive", "ets"], horizon_days=14, cv_folds=2)
TRAINED, NEVER_TRAINED, EMPTY = "1", "3", "4"


def build_dashboard_db(path: Path, *, days: int = 400, now: datetime | None = None) -> Path:
    """A demo database as the dashboard sees it after `make run`, but small and quick.

    Tenants 1 and 2 trained (fast candidates, 14-day horizon), 3 never
    trained, 4 without any sale. Demo sales end yesterday (UTC) so "last 7
    days" has data whatever day the tests run.
    """
    end = (now or datetime.now(timezone.utc)).date() - timedelta(days=1)
    storage = SQLStorage.sqlite_file(path)
    write_demo(storage, generate_demo(n_tenants=3, days=days, seed=11, end=end))
    storage.upsert("negocios", EMPTY, [{"id": EMPTY, "nombre": "Tienda Nueva", "timezone": "America/Bogota",
                                        "country": "CO", "currency": "COP"}])
    for tenant_id in ("1", "2"):
        train_and_predict_sales(tenant_id, storage=storage, settings=FAST, now=now)
    storage.close()
    return path


_BUILT: dict[str, Path] = {}


def shared_dashboard_db(tmp_path_factory) -> Path:
    """`build_dashboard_db` once per test session (it takes seconds); modules copy it before use."""
    if "db" not in _BUILT:
        _BUILT["db"] = build_dashboard_db(tmp_path_factory.mktemp("dashboard-shared") / "demo.db")
    return _BUILT["db"]


#: Cheap candidates for the extra trainings that give a tenant scored history (ETS costs seconds a fit).
QUICK = MLSettings(model_candidates=["naive", "snaive", "theta"], horizon_days=14, cv_folds=2)
#: Days before today of the earlier training in the scored database: its whole 14-day forecast has actuals.
SCORED_ISSUED_DAYS_AGO = 16


def shared_scored_db(tmp_path_factory) -> Path:
    """The dashboard database plus a forecast tenant 1 issued 16 days ago, then a retrain today (once per session).

    Tenant 1 then has 14 scored days (the scorecard's subject); tenant 2
    was only trained today, so nothing of its is scored yet.
    """
    if "scored" not in _BUILT:
        path = copy_db(shared_dashboard_db(tmp_path_factory), tmp_path_factory.mktemp("dashboard-scored") / "demo.db")
        storage = SQLStorage.sqlite_file(path)
        now = datetime.now(timezone.utc)
        issued = now - timedelta(days=SCORED_ISSUED_DAYS_AGO)
        train_and_predict_sales(TRAINED, storage=storage, settings=QUICK, now=issued)
        train_and_predict_sales(TRAINED, storage=storage, settings=QUICK, now=now)
        storage.close()
        _BUILT["scored"] = path
    return _BUILT["scored"]


def copy_db(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite database (WAL included), with the model signing key kept beside it.

    Stored models are signed with a key that lives next to the embedded database file
    (`forecasting.services.model_store`); a copy in another folder without it holds models this installation
    refuses, and the first page that forecasts would retrain the business behind the test's back.
    """
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    key, copied = source.parent / KEY_FILE, target.parent / KEY_FILE
    if key.exists() and key.resolve() != copied.resolve():
        shutil.copyfile(key, copied)
    return target


@pytest.fixture(scope="module")
def dashboard_db(tmp_path_factory) -> Path:
    return copy_db(shared_dashboard_db(tmp_path_factory), tmp_path_factory.mktemp("dashboard") / "demo.db")


@pytest.fixture
def store(dashboard_db):
    storage = SQLStorage.sqlite_file(dashboard_db)
    yield storage
    storage.close()


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Read-only storage over the scored database (`shared_scored_db`)."""
    storage = SQLStorage.sqlite_file(shared_scored_db(tmp_path_factory))
    yield storage
    storage.close()


@pytest.fixture
def writable(dashboard_db, tmp_path):
    storage = SQLStorage.sqlite_file(copy_db(dashboard_db, tmp_path / "copy.db"))
    yield storage
    storage.close()


# --- the package stays free of Streamlit --------------------------------------------------------


def test_package_and_ui_never_import_streamlit():
    code = ("import sys, forecasting, forecasting.views.dashboard, forecasting.ui.figures, forecasting.ui.tables, "
            "forecasting.i18n.formatting, forecasting.i18n.catalog, forecasting.ui.schedule, forecasting.ops.scheduler; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- overview -----------------------------------------------------------------------------------


def test_overview_sales_windows_match_the_daily_series(store):
    tenant = get_tenant(store, TRAINED)
    y = daily_sales(store, TRAINED, timezone=tenant.timezone, max_days=60)
    o = dashboard.overview(store, TRAINED)
    assert o.has_sales and o.trained
    assert o.sales[7] == pytest.approx(y.iloc[-7:].sum())
    assert o.sales_before[7] == pytest.approx(y.iloc[-14:-7].sum())
    assert o.sales[30] == pytest.approx(y.iloc[-30:].sum())
    assert o.change(7) == pytest.approx(y.iloc[-7:].sum() / y.iloc[-14:-7].sum() - 1)
    assert len(o.recent) == 30 and o.recent.index[-1] == y.index[-1]


def test_overview_forecast_totals_run_past_a_short_stored_horizon(store):
    o = dashboard.overview(store, TRAINED)
    stored = dashboard.forecast_view(store, TRAINED).future["yhat"]
    assert len(stored) == FAST.horizon_days < 30  # stored forecast is shorter than the 30-day card
    assert o.forecast[7] == pytest.approx(stored.iloc[:7].sum())
    # The active model forecasts the remaining days the same way, so the 30-day total extends the stored one.
    assert o.forecast[30] > stored.sum()
    assert o.model_type in FAST.model_candidates and o.last_trained is not None


def test_overview_reliability_falls_back_to_the_backtest_and_compares_with_seasonal_naive(store):
    o = dashboard.overview(store, TRAINED)
    info = dashboard.cv_view(store, TRAINED)
    assert o.reliability.source == "backtest"
    assert o.reliability.wape == pytest.approx(info.scores.loc[info.winner, "wape"])
    expected = 1 - info.scores.loc[info.winner, "mase"] / info.scores.loc["snaive", "mase"]
    assert o.reliability.vs_baseline == pytest.approx(expected)


def test_overview_reliability_uses_issued_forecasts_once_they_have_actuals(scored):
    reliability = dashboard.overview(scored, TRAINED).reliability
    assert reliability.source == "issued" and reliability.days >= 7
    assert 0 <= reliability.coverage_80 <= 1 and np.isfinite(reliability.wape)


# --- reliability scorecard -------------------------------------------------------------------------


def test_scorecard_scores_the_issued_forecasts_that_have_actuals(scored):
    from forecasting.services.scoring import scorecard

    card = dashboard.scorecard_view(scored, TRAINED)
    assert card.scored and card.settled and card.days == QUICK.horizon_days  # the early forecast, every day past
    tenant = get_tenant(scored, TRAINED)
    y = daily_sales(scored, TRAINED, timezone=tenant.timezone, max_days=dashboard.RELIABILITY_LOOKBACK_DAYS + 365)
    engine = scorecard(scored, TRAINED, y, lookback_days=dashboard.RELIABILITY_LOOKBACK_DAYS)
    assert card.wape == pytest.approx(engine.wape) and card.coverage_80 == pytest.approx(engine.coverage_80)
    assert 0 <= card.coverage_80 <= card.coverage_95 <= 1 and card.beats_snaive is not None
    assert list(card.by_step["step"]) == list(range(1, QUICK.horizon_days + 1))
    assert {"week", "wape", "snaive_wape"} <= set(card.over_time.columns) and len(card.over_time) >= 2
    assert card.range_verdict in ("ok", "narrow", "wide") and card.first_score_on is None


def test_scorecard_of_a_tenant_trained_today_says_when_the_first_score_comes(scored):
    card = dashboard.scorecard_view(scored, "2")
    assert not card.scored and card.wape is None and card.by_step.empty
    assert card.first_score_on == card.today + timedelta(days=1)  # today's sales are still coming in
    never = dashboard.scorecard_view(scored, NEVER_TRAINED)
    assert not never.scored and never.first_score_on is None
    assert not dashboard.scorecard_view(scored, EMPTY).scored  # no sales at all: no error either


def test_coverage_verdict_allows_for_few_days():
    assert dashboard.coverage_verdict(0.70, 0.80, days=14) == "ok"  # 2 standard errors over 14 days: ±21 points
    assert dashboard.coverage_verdict(0.70, 0.80, days=90) == "narrow"
    assert dashboard.coverage_verdict(0.97, 0.80, days=90) == "wide"
    assert dashboard.coverage_verdict(None, 0.80, days=90) is None


def test_scorecard_figures_compare_with_seasonal_naive(scored):
    card = dashboard.scorecard_view(scored, TRAINED)
    fmt = Formatter("es", "EUR", "ES")
    over_time = figures.scorecard_time_figure(card, fmt)
    assert [trace.name for trace in over_time.data] == [model_label("snaive", "es", short=True),
                                                        t("chart.our_forecast", "es")]
    assert over_time.layout.yaxis.tickformat == ".0%" and len(over_time.data[1].x) == len(card.over_time)
    by_step = figures.scorecard_step_figure(card, fmt)
    assert list(by_step.data[0].x) == list(card.by_step["step"])


def test_never_trained_and_empty_tenants_say_what_is_missing(store):
    never = dashboard.overview(store, NEVER_TRAINED)
    assert never.has_sales and not never.trained and never.forecast == {} and never.sales[7] > 0
    empty = dashboard.overview(store, EMPTY)
    assert not empty.has_sales and not empty.trained and empty.sales[7] is None
    assert dashboard.cv_view(store, NEVER_TRAINED) is None and dashboard.anomaly_view(store, NEVER_TRAINED) is None


def test_previous_period_is_unknown_for_a_shop_younger_than_it(tmp_path):
    storage = SQLStorage.sqlite_file(tmp_path / "young.db")
    write_demo(storage, generate_demo(n_tenants=1, days=20, seed=3,
                                      end=datetime.now(timezone.utc).date() - timedelta(days=1)))
    o = dashboard.overview(storage, "1")
    assert o.sales_before[7] is not None and o.sales_before[30] is None and o.change(30) is None


def test_overview_table_has_one_row_per_tenant(store):
    overviews = [dashboard.overview(store, t.id) for t in dashboard.tenants(store)]
    table = dashboard.overview_table(overviews)
    assert list(table["tenant_id"]) == ["1", "2", "3", "4"]
    assert table.loc[table.tenant_id == NEVER_TRAINED, "model"].isna().all()
    shown = tables.tenants_table(overviews, "es")
    assert len(shown) == 4 and "Negocio" in shown.columns


# --- forecast -----------------------------------------------------------------------------------


def test_forecast_view_bands_are_ordered_and_start_today(store):
    view = dashboard.forecast_view(store, TRAINED)
    future = view.future
    assert len(future) == FAST.horizon_days and future.index[0] == pd.Timestamp(view.today)
    assert (future["yhat_lower_95"] <= future["yhat_lower"]).all() and (future["yhat_lower"] <= future["yhat"]).all()
    assert (future["yhat"] <= future["yhat_upper"]).all() and (future["yhat_upper"] <= future["yhat_upper_95"]).all()
    assert future["y"].isna().all() and view.frame["y"].notna().sum() > 300
    assert view.frame.index.freq == "D" and view.past_forecasts.empty


def test_earlier_forecasts_sit_under_the_actuals(writable):
    now = datetime.now(timezone.utc)
    train_and_predict_sales(TRAINED, storage=writable, settings=FAST, now=now - timedelta(days=10))
    train_and_predict_sales(TRAINED, storage=writable, settings=FAST, now=now)
    view = dashboard.forecast_view(writable, TRAINED)
    past = view.past_forecasts
    assert len(past) >= 9 and past["y"].notna().all()  # each past forecast day has what really happened
    fig = figures.forecast_figure(view, Formatter("en", "EUR", "ES"))
    assert t("chart.past_forecast", "en") in [trace.name for trace in fig.data]


def test_forecast_csv_round_trips(store):
    view = dashboard.forecast_view(store, TRAINED)
    frame = pd.read_csv(io.BytesIO(dashboard.forecast_csv(view)))
    assert list(frame.columns) == ["date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95", "currency",
                                   "model", "model_version"]
    assert len(frame) == len(view.future) and frame["date"].iloc[0] == view.today.isoformat()
    assert np.allclose(frame["forecast"], view.future["yhat"].round(2))
    assert (frame["currency"] == view.tenant.currency).all()


def test_forecast_figure_has_bands_weekends_holidays_and_a_range_selector(store):
    view = dashboard.forecast_view(store, TRAINED)
    fig = figures.forecast_figure(view, Formatter("es", view.tenant.currency, view.tenant.country))
    names = [trace.name for trace in fig.data]
    expected = {t(key, "es") for key in ("chart.band80", "chart.band95", "chart.forecast", "chart.actual")}
    assert expected <= set(names)
    assert len(view.holidays) and t("chart.holiday", "es") in names
    weekends = [s for s in fig.layout.shapes if s.type == "rect"]
    assert weekends and all(pd.Timestamp(s.x0).dayofweek == 4 for s in weekends)  # Friday noon to Sunday night
    assert pd.Timestamp(weekends[0].x0) >= pd.Timestamp(view.today) - pd.Timedelta(weeks=figures.WEEKEND_WEEKS + 1)
    assert fig.layout.xaxis.rangeselector.buttons and fig.layout.separators == ",."


# --- model comparison ----------------------------------------------------------------------------


def test_cv_view_explains_the_winner(store):
    cv = dashboard.cv_view(store, TRAINED)
    assert set(FAST.model_candidates) <= set(cv.scores.index)  # the engine may add an ensemble of them
    assert cv.scores.loc[cv.winner, "rank"] == 1 and cv.scores["winner"].sum() == 1
    why = cv.reason
    assert why.runner_up in cv.scores.index and why.runner_up != cv.winner
    assert why.value <= why.runner_up_value and why.margin == pytest.approx(1 - why.value / why.runner_up_value)
    assert 0 <= why.folds_won <= why.folds == FAST.cv_folds
    assert set(cv.by_step["step"]) == set(range(1, cv.horizon + 1)) and set(cv.by_weekday["weekday"]) <= set(range(7))
    assert len(cv.predictions) == len(cv.scores) * cv.folds * cv.horizon
    assert cv.predictions["cutoff"].notna().all() and (cv.predictions["ds"] > cv.predictions["cutoff"]).all()


def test_cv_view_keeps_skipped_candidates_with_their_reason(store):
    info = dashboard.cv_view(store, TRAINED)
    metrics = list_models(store, TRAINED).iloc[0]["training_metrics"]
    metrics = {**metrics, "skipped": {"prophet": "not installed: prophet"}}
    cv = dashboard.cv_from_metrics(metrics, info.model_version, info.last_trained, info.winner)
    shown = tables.skipped_table(cv, "en")
    assert list(shown[t("table.reason", "en")]) == ["not installed: prophet"]


def test_cv_figures_draw_every_candidate_and_fold(store):
    cv = dashboard.cv_view(store, TRAINED)
    fmt = Formatter("en", "EUR", "ES")
    assert len(figures.cv_step_figure(cv, fmt).data) == len(cv.scores)
    assert len(figures.cv_weekday_figure(cv, fmt).data) == len(cv.scores)
    folds = figures.cv_folds_figure(cv, fmt, [cv.winner, "snaive"])
    assert len(folds.data) == cv.folds * (1 + len({cv.winner, "snaive"}))
    styled = tables.scores_table(cv, fmt).to_html()
    assert "★" in styled and "background-color" in styled


def test_an_older_version_stays_inspectable(writable):
    first = dashboard.cv_view(writable, TRAINED).model_version
    train_and_predict_sales(TRAINED, storage=writable, settings=FAST.model_copy(update={"cv_primary_metric": "mae"}))
    versions = dashboard.cv_versions(writable, TRAINED)
    assert len(versions) == 2 and versions["is_active"].sum() == 1
    assert dashboard.cv_view(writable, TRAINED).primary_metric == "mae"
    assert dashboard.cv_view(writable, TRAINED, first).primary_metric == "mase"


# --- anomalies ------------------------------------------------------------------------------------


def test_reflagging_follows_the_threshold_without_touching_storage(store):
    view = dashboard.anomaly_view(store, TRAINED)
    before = store.count("ml_predictions", TRAINED)
    low, high = dashboard.reflag(view, 2.0), dashboard.reflag(view, 6.0)
    assert high["is_anomaly"].sum() < low["is_anomaly"].sum()
    assert not (high["is_anomaly"] & ~low["is_anomaly"]).any()  # a higher threshold only removes days
    pd.testing.assert_frame_equal(low, flag(view.frame, 2.0))
    assert store.count("ml_predictions", TRAINED) == before
    shown = tables.anomaly_table(high, Formatter("en", "EUR", "ES"))
    assert len(shown) == high["is_anomaly"].sum()


def test_anomaly_view_reports_the_method_and_threshold_training_used(store):
    view = dashboard.anomaly_view(store, TRAINED)
    used = list_models(store, TRAINED).iloc[0]["hyperparameters"]["settings"]
    assert view.method == used["anomaly_method"] and view.threshold == used["stl_zthresh"]
    assert len(view.frame) == dashboard.model_versions(store, TRAINED).iloc[0]["train_days"]


# --- models, retrain, settings ----------------------------------------------------------------------


def test_retrain_plan_counts_one_cv_step_per_candidate(store):
    plan = dashboard.retrain_plan(store, TRAINED)
    assert plan.count("cv") == len(settings_for_tenant(store, TRAINED).model_candidates)
    assert plan[0] == "series" and plan[-1] == "done"


def test_retrain_reports_every_step_and_writes_a_new_version(writable):
    steps = []
    before = len(dashboard.model_versions(writable, NEVER_TRAINED))
    outcome = dashboard.retrain(writable, NEVER_TRAINED, settings=FAST, progress=lambda s, d: steps.append((s, d)))
    # Every step in order, one `cv` per candidate naming it: what `retrain_plan` promises a progress bar.
    assert [step for step, _ in steps] == ["series", *["cv"] * len(FAST.model_candidates), "final_fit", "saving",
                                           "anomalies", "saving", "done"]
    assert [detail for step, detail in steps if step == "cv"] == FAST.model_candidates
    versions = dashboard.model_versions(writable, NEVER_TRAINED)
    assert len(versions) == before + 1
    winner = outcome.summary["winner"]
    # Which candidate wins depends on the data; what it can be does not: a candidate or the mean of some.
    assert winner in (*FAST.model_candidates, ENSEMBLE)
    assert set(FAST.model_candidates) <= set(outcome.scores.index) and winner in outcome.scores.index
    assert outcome.scores.loc[winner, "mase"] == outcome.scores["mase"].min()  # selection is by ML_CV_PRIMARY_METRIC
    assert dict(steps)["final_fit"] == winner and steps[-1] == ("done", winner)
    newest = versions.iloc[0]  # newest first: the version this retrain wrote, active, under the winner's name
    assert newest["model_version"] == outcome.summary["model_version"] and newest["is_active"]
    assert newest["model_type"] == winner and versions["is_active"].sum() == 1
    if winner == ENSEMBLE:
        assert "mean of" in outcome.summary["selection"]


def test_settings_form_stores_only_what_differs_and_validates_first(writable):
    fields, error = dashboard.settings_form(writable, TRAINED)
    assert error is None and {f.group for f in fields} == set(dashboard.SETTING_GROUPS)
    values = {f.name: f.value for f in fields}
    saved = dashboard.save_settings(writable, TRAINED, {**values, "horizon_days": 21})
    assert saved == {"horizon_days": 21} and tenant_overrides(writable, TRAINED) == {"horizon_days": 21}
    fields, _ = dashboard.settings_form(writable, TRAINED)
    assert [f.name for f in fields if f.overridden] == ["horizon_days"]
    with pytest.raises(ConfigError, match="ML_STL_ZTHRESH"):
        dashboard.save_settings(writable, TRAINED, {**values, "stl_zthresh": 0})
    with pytest.raises(ConfigError, match="ML_HOLIDAYS_COUNTRY"):
        dashboard.save_settings(writable, TRAINED, {**values, "holidays_country": "XX"})
    assert tenant_overrides(writable, TRAINED) == {"horizon_days": 21}  # nothing written by the failures
    dashboard.reset_tenant_settings(writable, TRAINED)
    assert tenant_overrides(writable, TRAINED) == {}


def test_invalid_stored_settings_are_reported_not_raised(writable):
    writable.upsert("tenant_ml_settings", TRAINED, [{"tenant_id": TRAINED, "settings": {"horizon_days": 0},
                                                     "updated_at": datetime.now(timezone.utc)}])
    fields, error = dashboard.settings_form(writable, TRAINED)
    assert "ML_HORIZON_DAYS" in error and all(not f.overridden for f in fields)


def test_freshness_changes_with_a_retrain_and_new_sales(writable):
    before = dashboard.freshness(writable, NEVER_TRAINED)
    assert before[0] is None and before[1] is not None
    dashboard.retrain(writable, NEVER_TRAINED, settings=FAST)
    after = dashboard.freshness(writable, NEVER_TRAINED)
    assert after[0] is not None and after != before
    writable.upsert("ventas", NEVER_TRAINED, [{"id": "late", "negocio_id": NEVER_TRAINED,
                                               "fecha": datetime.now(timezone.utc), "total": 10.0}])
    assert dashboard.freshness(writable, NEVER_TRAINED)[1] != after[1]


def test_storage_label_never_shows_credentials(store):
    assert dashboard.storage_label(store) == {"backend": "sqlite", "location": str(store.engine.url.database)}
    remote = SQLStorage("postgresql+psycopg://alice:s3cret@db.example.com:5432/shop", create=False)
    label = dashboard.storage_label(remote)
    assert label["backend"] == "postgresql" and "db.example.com:5432/shop" in label["location"]
    assert "s3cret" not in str(label) and "s3cret" not in dashboard.storage_key(remote)


def test_notifications_newest_first_and_mark_read(writable):
    from forecasting.services.notifications import notify

    for i in range(3):
        notify(writable, TRAINED, kind="drift", title=f"alert {i}", message="m", event_key=f"k{i}")
    items = dashboard.notifications(writable, TRAINED)
    assert list(items["title"]) == ["alert 2", "alert 1", "alert 0"]
    assert dashboard.unread_count(writable, TRAINED) == 3
    dashboard.mark_read(writable, TRAINED, int(items["id"].iloc[0]))
    assert dashboard.unread_count(writable, TRAINED) == 2
    dashboard.mark_read(writable, TRAINED)
    assert dashboard.notifications(writable, TRAINED, unread_only=True).empty


# --- scheduled jobs ---------------------------------------------------------------------------------


def _wait_until_finished(storage, job_id: str, seconds: float = 30.0) -> pd.DataFrame:
    """The job's runs once none is `running` any more (bounded wait for the background thread)."""
    deadline = time.monotonic() + seconds
    while True:
        runs = storage.select("job_runs", None, where={"job_id": job_id})
        if len(runs) and (runs["status"] != "running").all():
            return runs
        assert time.monotonic() < deadline, f"{job_id} still running after {seconds} s"
        time.sleep(0.05)


def test_trigger_formatter_says_the_schedule_in_words():
    from forecasting.ops.scheduler import crontab_trigger, job_specs

    english = {spec.id: describe_trigger(spec.trigger, "en") for spec in job_specs()}
    assert english["health_check"] == "every 5 minutes" and english["refresh_features"] == "every hour"
    assert english["retrain_all"] == "Mondays at 02:00" and english["daily_notifications"] == "daily at 08:00"
    spanish = {spec.id: describe_trigger(spec.trigger, "es") for spec in job_specs()}
    assert spanish["retrain_all"] == "los lunes a las 02:00" and spanish["health_check"] == "cada 5 minutos"

    def say(expression: str, lang: str = "en") -> str:
        return describe_trigger(crontab_trigger(expression, "Europe/Madrid"), lang)

    assert say("0 2 * * 1-5") == "Monday to Friday at 02:00"
    assert say("0 2 * * 1-5", "es") == "de lunes a viernes a las 02:00"
    assert say("30 6 * * 1,4") == "Mondays and Thursdays at 06:30"
    assert say("0 1 * * 0", "es") == "los domingos a la 01:00"  # "a la una", not "a las"
    assert say("0 8,20 * * *") == "daily at 08:00 and 20:00"
    assert say("*/15 * * * *") == "every 15 minutes" and say("5 * * * *") == "every hour at :05"
    assert say("0 3 1 * *", "es") == "el día 1 de cada mes a las 03:00"
    assert say("*/15 8-18 * * 1-5") == "on the cron schedule `*/15 8-18 * * mon-fri`"  # no sentence: the crontab
    assert describe_interval(timedelta(seconds=90), "en") == "every 90 seconds"
    assert describe_interval(timedelta(days=2), "es") == "cada 2 días"


def test_trigger_times_are_the_scheduler_time_zone(monkeypatch):
    from forecasting.core.config import reset_settings
    from forecasting.ops.scheduler import job_specs

    monkeypatch.setenv("SCHEDULER_TIMEZONE", "America/Mexico_City")
    reset_settings()
    spec = next(spec for spec in job_specs() if spec.id == "daily_notifications")
    assert describe_trigger(spec.trigger, "en") == "daily at 08:00"  # 08:00 on Mexico City's clock
    assert spec.trigger.get_next_fire_time(None, datetime.now(timezone.utc)).utcoffset() == timedelta(hours=-6)


def test_run_durations_and_relative_times_read_naturally():
    fmt = Formatter("en", timezone="Europe/Madrid")
    assert fmt.duration(0.42) == "0.4\u00a0s" and fmt.duration(75) == "1\u00a0min 15\u00a0s"
    assert fmt.duration(3725) == "1\u00a0h 02\u00a0min" and fmt.duration(None) == "—"
    now = datetime(2026, 5, 14, 12, 0, tzinfo=timezone.utc)
    assert fmt.relative(now + timedelta(minutes=3), now) == "in 3 minutes"
    assert Formatter("es").relative(now - timedelta(seconds=40), now) == "hace 40 segundos"
    assert fmt.moment(now) == "May 14, 14:00:00"  # Madrid's clock, no year


def test_jobs_view_lists_every_job_with_its_next_run_and_no_leader(writable):
    from forecasting.ops.scheduler import job_specs

    view = dashboard.jobs_view(writable)
    assert [job.job_id for job in view.jobs] == [spec.id for spec in job_specs()]
    assert all(job.next_run > view.now and job.runs.empty and job.running is None for job in view.jobs)
    assert view.leader is None and not view.lease_active and not view.leading and not view.running_ids


def test_run_now_records_a_manual_run_and_the_leader_shows(writable):
    start = dashboard.run_job_now(writable, "health_check")
    assert start.started
    runs = _wait_until_finished(writable, "health_check")
    assert list(runs["trigger"]) == ["manual"] and list(runs["status"]) == ["success"]
    writable.acquire_lease("scheduler", "another-host:42:abcdef", 30)
    view = dashboard.jobs_view(writable)
    job = next(job for job in view.jobs if job.job_id == "health_check")
    assert job.last_finished["state"] == "success" and job.last_finished["seconds"] >= 0
    assert view.leader == "another-host:42:abcdef" and view.lease_active and not view.leader_is_us


def test_a_running_job_is_not_started_twice_and_a_dead_one_does_not_block(writable):
    now = datetime.now(timezone.utc)
    writable.insert_if_absent("job_runs", None, {
        "job_id": "retrain_all", "scheduled_for": now, "trigger": "schedule", "holder": "elsewhere:1:abc",
        "status": "running", "started_at": now, "heartbeat_at": now, "tenants_done": 1, "tenants_failed": 0})
    start = dashboard.run_job_now(writable, "retrain_all")
    assert not start.started and start.run["holder"] == "elsewhere:1:abc"
    view = dashboard.jobs_view(writable)
    job = next(job for job in view.jobs if job.job_id == "retrain_all")
    assert view.running_ids == {"retrain_all"}
    assert job.running["tenants_done"] == 1 and job.total == 4  # every tenant is allowed (ML_TENANT_IDS=*)
    # A run whose process died keeps its `running` row until a leader marks it; it shows as stalled, blocks nothing.
    later = dashboard.jobs_view(writable, now=now + timedelta(hours=1))
    assert later.running_ids == frozenset()
    stalled = next(job for job in later.jobs if job.job_id == "retrain_all")
    assert stalled.running is None and stalled.last_finished["state"] == "stalled"


def test_unknown_job_is_a_config_error(writable):
    with pytest.raises(ConfigError, match="unknown job"):
        dashboard.run_job_now(writable, "make_coffee")


def test_job_runs_table_names_this_process_and_states_in_words(writable):
    dashboard.run_job_now(writable, "health_check")
    runs = _wait_until_finished(writable, "health_check")
    # How long the check really took depends on the machine; give the run known times instead.
    started = datetime(2026, 5, 14, 12, 0, tzinfo=timezone.utc)
    writable.update("job_runs", None, {"started_at": started, "finished_at": started + timedelta(seconds=75.4)},
                    where={"job_id": "health_check", "scheduled_for": runs["scheduled_for"].iloc[0]})
    # An earlier scheduled run by another process that took 30 ms.
    earlier = started - timedelta(hours=1)
    writable.insert_if_absent("job_runs", None, {
        "job_id": "health_check", "scheduled_for": earlier, "trigger": "schedule", "holder": "elsewhere:1:abc",
        "status": "success", "started_at": earlier, "heartbeat_at": earlier,
        "finished_at": earlier + timedelta(seconds=0.03), "tenants_done": 0, "tenants_failed": 0})
    view = dashboard.jobs_view(writable, now=started + timedelta(minutes=5))
    job = next(job for job in view.jobs if job.job_id == "health_check")
    assert list(job.runs["seconds"]) == pytest.approx([75.4, 0.03])  # newest first
    fmt = Formatter("es", timezone="Europe/Madrid")
    styled = tables.job_runs_table(job.runs, fmt, view.holder)
    manual, scheduled = styled.data.iloc[0], styled.data.iloc[1]
    assert manual["Estado"] == "Correcta" and manual["Origen"] == "manual" and manual["Proceso"] == "este proceso"
    assert manual["Inicio"] == "14 may, 14:00:00" == fmt.moment(started)  # Madrid's clock (UTC+2 in May)
    assert manual["Duración"] == "1\u00a0min 15\u00a0s"
    assert scheduled["Origen"] == t("jobs.trigger.schedule", "es") and scheduled["Proceso"] == "elsewhere:1:abc"
    assert scheduled["Duración"] == "<\u00a00,1\u00a0s"  # milliseconds don't read as "0,0 s"
    assert tables.RUN_STATE_COLORS["success"] in styled.to_html()


# --- formatting and strings ---------------------------------------------------------------------------


def test_money_follows_language_country_and_currency():
    assert Formatter("es", "EUR", "ES").money(1234.5) == "1.234,50\u00a0€"
    assert Formatter("en", "MXN", "MX").money(1234.5) == "MX$1,234.50"
    assert Formatter("es", "MXN", "MX").money(1234.5) == "$1,234.50"
    assert Formatter("es", "COP", "CO").money(1234567.8, whole=True) == "$1.234.568"
    assert Formatter("en", "ARS", "AR").money(-1234.5, whole=True) == "-ARS\u00a01,235"
    assert Formatter("en", "CLP", "CL").money(None) == "—"
    # Where currencies mix, the ISO code tells Mexican from Argentine pesos.
    assert Formatter("es", "MXN", "MX").money(89077, whole=True, code=True) == "MXN\u00a089,077"
    assert Formatter("es", "ARS", "AR").money(89077, whole=True, code=True) == "ARS\u00a089.077"
    assert Formatter("es", "EUR", "ES").money(2113, whole=True, code=True) == "2.113\u00a0EUR"


def test_locale_is_the_countrys_only_when_it_speaks_the_ui_language():
    assert str(locale_for("es", "AR")) == "es_AR" and str(locale_for("en", "US")) == "en_US"
    assert str(locale_for("en", "ES")) == "en" and str(locale_for("es", "US")) == "es"
    assert Formatter("en", "EUR", "ES").number(3.5, 1) == "3.5" and Formatter("es", "EUR", "ES").number(3.5, 1) == "3,5"


def test_signed_percentages_use_the_ascii_minus_streamlit_reads():
    fmt = Formatter("es", "EUR", "ES")
    assert fmt.percent(-0.05, signed=True).startswith("-") and fmt.percent(0.05, signed=True).startswith("+")
    assert fmt.percent(0.123, 1) == "12,3%"


def test_dates_are_local_to_the_tenant():
    late_utc = pd.Timestamp("2026-03-02 02:00", tz="UTC")  # still March 1st in Bogotá
    assert Formatter("en", "COP", "CO", "America/Bogota").date(late_utc) == "Mar 1, 2026"
    assert Formatter("en", "EUR", "ES", "Europe/Madrid").date(late_utc) == "Mar 2, 2026"
    assert Formatter("es", "EUR", "ES").weekday(0) == "Lunes"


def test_plotly_gets_month_names_in_spanish():
    config = Formatter("es", "EUR", "ES").plotly_config()
    fmt = config["locales"][config["locale"]]["format"]
    assert fmt["months"][0] == "enero" and fmt["shortDays"][0] == "dom" and len(fmt["days"]) == 7
    assert "locale" not in Formatter("en", "USD", "US").plotly_config()


def _used_keys() -> set[str]:
    """Literal keys passed to t(...) or md(...) anywhere in the app, the pages and the UI package."""
    sources = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")),
               *sorted((ROOT / "forecasting" / "ui").glob("*.py"))]
    keys = set()
    for path in sources:
        keys |= set(re.findall(r"""\b(?:t|md)\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", path.read_text()))
    return keys


def test_every_string_a_page_uses_exists_in_both_languages():
    used = _used_keys()
    assert len(used) > 100
    assert not used - set(STRINGS), f"missing strings: {sorted(used - set(STRINGS))}"
    for key, entry in STRINGS.items():
        assert set(entry) == set(LANGUAGES), key
        fields = [set(re.findall(r"{(\w+)}", entry[lang])) for lang in LANGUAGES]
        assert fields[0] == fields[1], f"{key}: placeholders differ between languages"


def test_dynamic_keys_exist_for_every_choice_the_engine_offers():
    from forecasting.core.metrics import METRICS
    from forecasting.core.models import available_names

    for name in (*available_names(), "ensemble"):
        assert f"model.{name}" in STRINGS, f"no display name for model {name}"
    for metric in METRICS:
        assert {f"metric.{metric}", f"metric.{metric}.short", f"choice.{metric}"} <= set(STRINGS)
    for group in dashboard.SETTING_GROUPS.values():
        for name in group:
            assert {f"settings.{name}", f"settings.{name}.help"} <= set(STRINGS)
    for step in ("series", "cv", "final_fit", "saving", "anomalies", "done"):
        assert f"progress.{step}" in STRINGS
    assert model_label("unknown-model", "es") == "unknown-model"
    from forecasting.ops.jobs import JOBS

    for job_id in JOBS:
        assert {f"job.{job_id}", f"job.{job_id}.help"} <= set(STRINGS), f"no name for job {job_id}"
    for state in tables.RUN_STATE_COLORS:
        assert f"jobs.status.{state}" in STRINGS
    for trigger in ("schedule", "manual"):
        assert f"jobs.trigger.{trigger}" in STRINGS
    from forecasting.ui.schedule import WEEKDAYS

    for day in WEEKDAYS:
        assert {f"weekday.{day}", f"weekday.{day}.plural"} <= set(STRINGS)


def test_every_setting_is_in_the_form_or_deployment_wide():
    from forecasting.core.config import MLSettings

    in_form = [name for names in dashboard.SETTING_GROUPS.values() for name in names]
    assert len(in_form) == len(set(in_form))
    assert set(in_form) | set(DEPLOYMENT_SETTINGS) == set(MLSettings.model_fields), (
        "a new ML setting: add it to dashboard.SETTING_GROUPS (and its strings) or to config.DEPLOYMENT_SETTINGS")
