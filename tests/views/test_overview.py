"""The overview page's figures (`forecasting.views.overview`): sales windows, forecast totals, reliability,
the scorecard of issued forecasts, and the all-businesses table.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from forecasting.core.series import tenant_today
from forecasting.i18n.catalog import model_label, t
from forecasting.i18n.formatting import Formatter
from forecasting.services.demo import generate_demo, write_demo
from forecasting.services.model_store import list_models
from forecasting.services.sales import daily_sales
from forecasting.services.scoring import coverage_verdict
from forecasting.services.tenants import get_tenant
from forecasting.storage import SQLStorage
from forecasting.ui import figures, tables
from forecasting.views import anomalies, common, comparison, forecast, models, overview
from tests.support.dashboard_db import EMPTY, FAST, NEVER_TRAINED, QUICK, TRAINED, built_at, damage_active_model


def test_overview_sales_windows_match_the_daily_series(store):
    tenant = get_tenant(store, TRAINED)
    y = daily_sales(store, TRAINED, timezone=tenant.timezone, max_days=60)
    o = overview.overview(store, TRAINED)
    assert o.has_sales and o.trained
    assert o.sales[7] == pytest.approx(y.iloc[-7:].sum())
    assert o.sales_before[7] == pytest.approx(y.iloc[-14:-7].sum())
    assert o.sales[30] == pytest.approx(y.iloc[-30:].sum())
    assert o.change(7) == pytest.approx(y.iloc[-7:].sum() / y.iloc[-14:-7].sum() - 1)
    assert len(o.recent) == 30 and o.recent.index[-1] == y.index[-1]


def test_overview_forecast_totals_run_past_a_short_stored_horizon(store):
    o = overview.overview(store, TRAINED, now=built_at())
    stored = forecast.forecast_view(store, TRAINED, now=built_at()).future["yhat"]
    assert len(stored) == FAST.horizon_days < 30  # stored forecast is shorter than the 30-day card
    assert o.forecast[7] == pytest.approx(stored.iloc[:7].sum())
    # The active model forecasts the remaining days the same way, so the 30-day total extends the stored one.
    assert o.forecast[30] > stored.sum()
    assert o.model_type in FAST.model_candidates and o.last_trained is not None


def test_overview_reliability_falls_back_to_the_backtest_and_compares_with_seasonal_naive(store):
    o = overview.overview(store, TRAINED)
    info = comparison.cv_view(store, TRAINED)
    assert o.reliability.source == "backtest"
    assert o.reliability.wape == pytest.approx(info.scores.loc[info.winner, "wape"])
    expected = 1 - info.scores.loc[info.winner, "mase"] / info.scores.loc["snaive", "mase"]
    assert o.reliability.vs_baseline == pytest.approx(expected)


def test_overview_reliability_uses_issued_forecasts_once_they_have_actuals(scored):
    reliability = overview.overview(scored, TRAINED).reliability
    assert reliability.source == "issued" and reliability.days >= 7
    assert 0 <= reliability.coverage_80 <= 1 and np.isfinite(reliability.wape)


def test_never_trained_and_empty_tenants_say_what_is_missing(store):
    never = overview.overview(store, NEVER_TRAINED)
    assert never.has_sales and not never.trained and never.forecast == {} and never.sales[7] > 0
    empty = overview.overview(store, EMPTY)
    assert not empty.has_sales and not empty.trained and empty.sales[7] is None
    assert comparison.cv_view(store, NEVER_TRAINED) is None and anomalies.anomaly_view(store, NEVER_TRAINED) is None


def test_previous_period_is_unknown_for_a_shop_younger_than_it(tmp_path):
    storage = SQLStorage.sqlite_file(tmp_path / "young.db")
    write_demo(storage, generate_demo(n_tenants=1, days=20, seed=3,
                                      end=datetime.now(timezone.utc).date() - timedelta(days=1)))
    o = overview.overview(storage, "1")
    assert o.sales_before[7] is not None and o.sales_before[30] is None and o.change(30) is None


def test_overview_table_has_one_row_per_tenant(store):
    overviews = [overview.overview(store, t.id) for t in common.tenants(store)]
    table = overview.overview_table(overviews)
    assert list(table["tenant_id"]) == ["1", "2", "3", "4"]
    assert table.loc[table.tenant_id == NEVER_TRAINED, "model"].isna().all()
    shown = tables.tenants_table(overviews, "es")
    assert len(shown) == 4 and "Negocio" in shown.columns


# --- a stored model that can't forecast: reported, never retrained ----------------------------------


def test_a_usable_model_is_ok_and_a_never_trained_tenant_has_no_status(store):
    assert overview.overview(store, TRAINED).model_status == "ok" and not overview.overview(store, TRAINED).needs_retrain
    assert overview.overview(store, NEVER_TRAINED).model_status is None


@pytest.mark.parametrize("damage", ["corrupt", "stale"])
def test_an_unusable_model_is_reported_and_no_view_trains(writable, monkeypatch, damage):
    from forecasting.services import model_store, training

    version = damage_active_model(writable, TRAINED, damage)
    before = list_models(writable, TRAINED)["model_version"].tolist()

    def never(*args, **kwargs):
        raise AssertionError("a view trained a model")

    monkeypatch.setattr(training, "train_and_predict_sales", never)
    if damage == "stale":  # known from the metadata: the model is not even loaded
        monkeypatch.setattr(training, "load_active_model", never)
        monkeypatch.setattr(model_store, "load_model", never)
    o = overview.overview(writable, TRAINED)
    assert o.trained and o.model_version == version and o.needs_retrain and o.model_status == damage.replace(
        "corrupt", "unusable")
    assert ("pandas 0.25.3" if damage == "stale" else "corrupt") in o.model_problem
    stored = forecast.forecast_view(writable, TRAINED).future["yhat"]
    assert o.forecast[7] == pytest.approx(stored.iloc[:7].sum())  # the stored forecast still counts
    assert o.forecast[30] is None  # the days past it would need the model
    # What the other pages show comes from what is stored, without the model.
    assert comparison.cv_view(writable, TRAINED).model_version == version
    assert anomalies.anomaly_view(writable, TRAINED).model_version == version
    overview.scorecard_view(writable, TRAINED)
    models.model_versions(writable, TRAINED)
    assert list_models(writable, TRAINED)["model_version"].tolist() == before
    monkeypatch.undo()
    models.retrain(writable, TRAINED, settings=FAST)  # Retrain now replaces it
    after = overview.overview(writable, TRAINED)
    assert after.model_status == "ok" and after.forecast[30] is not None and after.model_version != version
    assert len(list_models(writable, TRAINED)) == len(before) + 1


# --- reliability scorecard -------------------------------------------------------------------------



def test_scorecard_scores_the_issued_forecasts_that_have_actuals(scored):
    from forecasting.services.scoring import scorecard

    card = overview.scorecard_view(scored, TRAINED, now=built_at())
    assert card.scored and card.settled and card.days == QUICK.horizon_days  # the early forecast, every day past
    tenant = get_tenant(scored, TRAINED)
    y = daily_sales(scored, TRAINED, timezone=tenant.timezone, max_days=overview.RELIABILITY_LOOKBACK_DAYS + 365,
                    now=built_at())
    engine = scorecard(scored, TRAINED, y, lookback_days=overview.RELIABILITY_LOOKBACK_DAYS)
    assert card.wape == pytest.approx(engine.wape) and card.coverage_80 == pytest.approx(engine.coverage_80)
    assert 0 <= card.coverage_80 <= card.coverage_95 <= 1 and card.beats_snaive is not None
    assert list(card.by_step["step"]) == list(range(1, QUICK.horizon_days + 1))
    assert {"week", "wape", "snaive_wape"} <= set(card.over_time.columns) and len(card.over_time) >= 2
    assert card.range_verdict in ("ok", "narrow", "wide") and card.first_score_on is None


def test_scorecard_of_a_tenant_trained_today_says_when_the_first_score_comes(scored):
    card = overview.scorecard_view(scored, "2", now=built_at())
    assert not card.scored and card.wape is None and card.by_step.empty
    today = tenant_today(get_tenant(scored, "2").timezone, built_at())
    assert card.first_score_on == today + timedelta(days=1)  # today's sales are still coming in
    never = overview.scorecard_view(scored, NEVER_TRAINED)
    assert not never.scored and never.first_score_on is None
    assert not overview.scorecard_view(scored, EMPTY).scored  # no sales at all: no error either


def test_coverage_verdict_allows_for_few_days():
    assert coverage_verdict(0.70, 0.80, days=14) == "ok"  # 2 standard errors over 14 days: ±21 points
    assert coverage_verdict(0.70, 0.80, days=90) == "narrow"
    assert coverage_verdict(0.97, 0.80, days=90) == "wide"
    assert coverage_verdict(None, 0.80, days=90) is None


def test_scorecard_figures_compare_with_seasonal_naive(scored):
    card = overview.scorecard_view(scored, TRAINED)
    fmt = Formatter("es", "EUR", "ES")
    over_time = figures.scorecard_time_figure(card, fmt)
    assert [trace.name for trace in over_time.data] == [model_label("snaive", "es", short=True),
                                                        t("chart.our_forecast", "es")]
    assert over_time.layout.yaxis.tickformat == ".0%" and len(over_time.data[1].x) == len(card.over_time)
    by_step = figures.scorecard_step_figure(card, fmt)
    assert list(by_step.data[0].x) == list(card.by_step["step"])
