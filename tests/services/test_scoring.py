"""Forecasts are kept as issued and scored when actuals arrive; degraded tenants get one drift alert."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.core.config import MLSettings
from forecasting.core.engine import backtest_forecasts
from forecasting.core.evaluation import cross_validate
from forecasting.core.models import build, lower_col, upper_col
from forecasting.core.series import series_from_values
from forecasting.services.notifications import notify_drift
from forecasting.services.scoring import (measure_drift, recent_error, record_backtest, record_issued_forecast,
                                         score_issued, scorecard)

ISSUED = pd.Timestamp("2026-03-02")  # a Monday: the first forecast day


def issued_forecast(values, width=10.0):
    index = pd.date_range(ISSUED, periods=len(values), freq="D", name="ds")
    frame = pd.DataFrame({"yhat": np.asarray(values, dtype=float)}, index=index)
    for level, k in ((80, 1.0), (95, 2.0)):
        frame[lower_col(level)] = frame["yhat"] - k * width
        frame[upper_col(level)] = frame["yhat"] + k * width
    return frame


def history_with_actuals(actual_after):
    """28 days of 100 before the issue day, then the given actuals from the issue day on."""
    before = [100.0] * 28
    return series_from_values(before + list(actual_after), start=ISSUED - pd.Timedelta(days=28))


def test_issued_forecast_is_scored_against_actuals_by_hand(storage):
    record_issued_forecast(storage, "t", issued_forecast([100] * 14), "ets", "v1")
    actual = [100, 110, 90, 130, 100, 100, 70]  # days t+0..t+6 have arrived, the rest not yet
    y = history_with_actuals(actual)
    scored = score_issued(storage, "t", y)
    assert len(scored) == 7 and scored["step"].tolist() == list(range(1, 8))
    assert scored["abs_error"].tolist() == [0, 10, 10, 30, 0, 0, 30]
    assert scored["in_80"].tolist() == [True, True, True, False, True, True, False]
    assert scored["in_95"].tolist() == [True, True, True, False, True, True, False]
    assert (scored["snaive"] == 100).all()  # the week before the issue day was flat at 100
    card = scorecard(storage, "t", y)
    assert card.days == 7
    assert card.wape == pytest.approx(80 / 700)
    assert card.coverage_80 == pytest.approx(5 / 7)
    assert card.beats_snaive == pytest.approx(0.0)  # the same forecast as seasonal naive: no gain
    assert card.by_step.set_index("step").loc[4, "mae"] == 30


def test_latest_issue_per_day_decides_recent_error(storage):
    record_issued_forecast(storage, "t", issued_forecast([50] * 14), "naive", "v1")
    later = issued_forecast([100] * 14)
    record_issued_forecast(storage, "t", later, "ets", "v2")  # same days, issued later (newer version)
    storage.update("forecast_history", "t", {"issued_on": (ISSUED + pd.Timedelta(days=1)).date()},
                   where={"model_version": "v2"})
    y = history_with_actuals([100] * 10)
    error = recent_error(storage, "t", y)
    assert error["days"] == 10 and error["mape"] == pytest.approx(0.0)


def test_too_few_scored_days_give_no_recent_error(storage):
    record_issued_forecast(storage, "t", issued_forecast([100] * 14), "ets", "v1")
    assert recent_error(storage, "t", history_with_actuals([100] * 3)) is None


def test_a_degraded_tenant_gets_one_drift_notification(storage):
    record_issued_forecast(storage, "t", issued_forecast([100] * 14), "ets", "v1")
    y = history_with_actuals([40] * 10)  # sales collapsed: 150% error
    first = measure_drift(storage, "t", y, threshold=0.3)
    assert first["drift"] and first["source"] == "issued forecasts" and first["value"] == pytest.approx(1.5)
    assert storage.count("notifications", "t") == 0  # measuring writes nothing
    assert notify_drift(storage, "t", first) and notify_drift(storage, "t", measure_drift(storage, "t", y, 0.3))
    notes = storage.select("notifications", "t")
    assert len(notes) == 1 and notes["kind"].iloc[0] == "drift"
    healthy = history_with_actuals([100] * 10)
    storage.delete("notifications", "t")
    healthy_check = measure_drift(storage, "t", healthy, threshold=0.3)
    assert not healthy_check["drift"] and not notify_drift(storage, "t", healthy_check)
    assert storage.count("notifications", "t") == 0


def test_before_any_forecast_meets_its_sales_a_high_backtest_error_says_hard_to_forecast(storage):
    y = history_with_actuals([100] * 10)  # no issued forecast: cross-validation stands in
    error = measure_drift(storage, "t", y, threshold=0.3, cv_scores={"mape": 0.45, "wape": 0.4})
    assert error["drift"] and error["source"] == "cross-validation" and notify_drift(storage, "t", error)
    note = storage.select("notifications", "t").iloc[0]
    assert note["title"] == "Sales are hard to forecast for now"
    assert "back-tests" in note["message"] and "changed pattern" not in note["message"]


def test_a_first_training_back_fills_the_scorecard_from_its_folds_with_honest_bands(storage):
    rng = np.random.default_rng(3)
    y = series_from_values(100 + 20 * np.sin(np.arange(200) * 2 * np.pi / 7) + rng.normal(0, 8, 200))
    cv = cross_validate(y, {"snaive": lambda: build("snaive", MLSettings())}, 14, 4)
    folds = backtest_forecasts(cv, "snaive", y)
    assert len(folds) == 56 and folds["fold"].nunique() == 4
    assert (folds["yhat_lower_95"] <= folds["yhat_lower_80"]).all() and (folds["yhat_lower_80"] <= folds["yhat"]).all()
    # Leave one fold out: a fold's bands come from the other folds' errors, so a fold whose errors
    # were inflated does not widen its own bands.
    cv.predictions.loc[cv.predictions["fold"] == 4, "yhat"] += 500
    inflated = backtest_forecasts(cv, "snaive", y)
    fold4 = lambda frame: frame[frame["fold"] == 4]  # noqa: E731
    widths = lambda frame: (frame["yhat_upper_80"] - frame["yhat_lower_80"]) / frame["yhat"]  # noqa: E731
    assert widths(fold4(inflated)).to_numpy() == pytest.approx(widths(fold4(folds)).to_numpy())
    assert (widths(inflated[inflated["fold"] == 1]) > widths(folds[folds["fold"] == 1])).all()

    assert backtest_forecasts(cv, "theta", y).empty  # no CV forecasts of that model: nothing to replay
    written = record_backtest(storage, "t", folds, "snaive", "v1", y.index[-1])
    assert written == 56
    card = scorecard(storage, "t", y)
    assert card.days == 56 and card.backtest_days == 56 and card.wape is not None
    assert set(storage.select("forecast_history", "t")["model_version"]) == {f"v1.cv{k}" for k in range(1, 5)}
    assert recent_error(storage, "t", y) is None  # drift is measured on forecasts really issued, never on back-tests
    # Once anything scorable is stored, a later training does not back-fill again.
    assert record_backtest(storage, "t", folds, "snaive", "v2", y.index[-1]) == 0
    assert storage.count("forecast_history", "t") == 56
