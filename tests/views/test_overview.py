"""The overview page's figures (`forecasting.views.overview`): sales windows, forecast totals, reliability,
the scorecard of issued forecasts, and the all-businesses table.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from forecasting.core.series import tenant_today
from forecasting.i18n.catalog import t
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


def test_before_any_forecast_has_actuals_the_reliability_is_the_back_filled_folds_as_on_the_scorecard(store):
    o = overview.overview(store, TRAINED, now=built_at())
    card = overview.scorecard_view(store, TRAINED, now=built_at())
    info = comparison.cv_view(store, TRAINED)
    # The first training back-filled its CV folds: the overview and the scorecard say one figure.
    assert card.scored and card.backtest_days == card.days > 7
    assert o.reliability.source == "backtest" and o.reliability.backtest_days == card.days
    assert o.reliability.wape == pytest.approx(card.wape) and o.reliability.vs_baseline == pytest.approx(card.beats_snaive)
    # ... the winner's cross-validation error, over the same days (pooled, where CV averages its folds).
    assert o.reliability.wape == pytest.approx(info.scores.loc[info.winner, "wape"], rel=0.1)


def test_without_a_scorecard_the_reliability_is_the_cv_error_against_seasonal_naive(writable):
    writable.delete("forecast_history", TRAINED, where={"source": "backtest"})
    o = overview.overview(writable, TRAINED, now=built_at())
    info = comparison.cv_view(writable, TRAINED)
    assert o.reliability.source == "backtest" and o.reliability.days is None
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
    # The early forecast, every day past; the days before it from the first training's back-filled folds.
    assert card.scored and card.settled and card.days - card.backtest_days == QUICK.horizon_days
    assert card.backtest_days > 0
    tenant = get_tenant(scored, TRAINED)
    y = daily_sales(scored, TRAINED, timezone=tenant.timezone, max_days=overview.RELIABILITY_LOOKBACK_DAYS + 365,
                    now=built_at())
    engine = scorecard(scored, TRAINED, y, lookback_days=overview.RELIABILITY_LOOKBACK_DAYS)
    assert card.wape == pytest.approx(engine.wape) and card.coverage_80 == pytest.approx(engine.coverage_80)
    assert 0 <= card.coverage_80 <= card.coverage_95 <= 1 and card.beats_snaive is not None
    assert list(card.by_step["step"]) == list(range(1, FAST.horizon_days + 1))
    assert {"week", "wape", "snaive_wape"} <= set(card.over_time.columns) and len(card.over_time) >= 2
    assert card.range_verdict in ("ok", "narrow", "wide") and card.first_score_on is None


def test_scorecard_of_a_tenant_trained_today_says_when_the_first_score_comes(scored, writable):
    # Without back-filled folds (a first training whose winner had no CV forecasts: a fallback).
    writable.delete("forecast_history", "2", where={"source": "backtest"})
    card = overview.scorecard_view(writable, "2", now=built_at())
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


def test_scorecard_figures_compare_with_repeating_last_week_in_the_owners_words(scored):
    card = overview.scorecard_view(scored, TRAINED)
    fmt = Formatter("es", "EUR", "ES")
    over_time = figures.scorecard_time_figure(card, fmt)
    assert [trace.name for trace in over_time.data] == ["Repetir la semana pasada", t("chart.our_forecast", "es")]
    assert over_time.layout.yaxis.tickformat == ".0%" and len(over_time.data[1].x) == len(card.over_time)
    by_step = figures.scorecard_step_figure(card, fmt)
    assert list(by_step.data[0].x) == list(card.by_step["step"])


# --- the owner's summary: this week, next week, this month --------------------------------------------


def test_the_summary_adds_sales_so_far_to_the_forecast_of_the_days_left(store):
    o = overview.overview(store, TRAINED, now=built_at())
    this_week, next_week, month = o.outlook
    today = o.today
    assert [p.key for p in o.outlook] == ["this_week", "next_week", "this_month"]
    assert this_week.start.weekday() == 0 and this_week.start <= today <= this_week.end
    assert next_week.start == this_week.end + timedelta(days=1) and (next_week.end - next_week.start).days == 6
    assert month.start == today.replace(day=1) and (month.end + timedelta(days=1)).day == 1
    y = daily_sales(store, TRAINED, timezone=get_tenant(store, TRAINED).timezone, max_days=60, now=built_at())
    ahead = o.forecast_days
    for period in o.outlook:
        sold = y.loc[str(period.start): str(today - timedelta(days=1))].sum() if period.start < today else 0.0
        assert period.actual == pytest.approx(sold)
        days_left = ahead.loc[str(max(period.start, today)): str(period.end)]
        assert period.ahead == pytest.approx(days_left.sum()) and period.total == pytest.approx(sold + days_left.sum())
        assert period.busiest == (days_left.idxmax().date(), pytest.approx(days_left.max()))
        low, high = period.uncertain[1:]
        assert low <= ahead.loc[str(period.uncertain[0])] <= high
    assert next_week.actual == 0.0  # nothing of next week has happened


def test_the_summary_names_closed_days_and_events_and_never_calls_a_closed_day_busiest(writable):
    from forecasting.core.events import Event
    from forecasting.services.calendar import save_events
    from forecasting.services.training import refresh_forecast

    before = overview.overview(writable, TRAINED, now=built_at()).outlook[1]
    busiest = before.busiest[0]
    save_events(writable, TRAINED, [Event("Inventory", "closed", busiest, busiest),
                                    Event("Street fair", "event", before.end, before.end)], now=built_at())
    refresh_forecast(writable, TRAINED, now=built_at())
    after = overview.overview(writable, TRAINED, now=built_at()).outlook[1]
    assert set(after.closed) == {*before.closed, busiest} and after.busiest[0] not in after.closed
    assert (busiest, "Inventory") in after.named and (before.end, "Street fair") in after.named
    assert after.total < before.total  # the closed day counts as 0
