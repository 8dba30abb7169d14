"""Learning across the series of one file (`core.across`) as a candidate of the per-series engine."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.core.across import NAME, AcrossSeries, across_series, closures_unknown
from forecasting.core.config import MLSettings
from forecasting.core.engine import ENSEMBLE, forecast_series, select_candidates
from forecasting.services.csvtools import backtest_frame, forecast_frame, iter_series

SETTINGS = MLSettings(model_candidates=["naive"], horizon_days=14, cv_folds=2)


def stores(n: int = 5, days: int = 200, seed: int = 0, end="2024-06-30") -> pd.DataFrame:
    """`n` shops sharing a weekly pattern (busy weekends), each at its own level, with noise."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=end, periods=days, freq="D")
    weekly = np.array([0.8, 0.7, 0.8, 0.9, 1.2, 1.6, 1.0])[dates.dayofweek]
    return pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": dates,
                                    "y": np.round(rng.uniform(50, 500) * weekly * rng.lognormal(0, 0.1, days), 1)})
                      for i in range(n)], ignore_index=True)


def test_a_fold_sees_no_day_after_its_cutoff_in_any_series():
    frame = stores()
    cutoff = pd.Timestamp("2024-05-31")
    before = AcrossSeries(frame).forecast("s1", cutoff, 14)
    changed = frame.copy()
    later = changed["ds"] > cutoff
    changed.loc[later, "y"] *= 10  # every series, including the one forecast, changes after the cutoff
    after = AcrossSeries(changed).forecast("s1", cutoff, 14)
    np.testing.assert_array_equal(before, after)
    assert before.sum() > 0


def test_one_training_per_cutoff_serves_every_series():
    frame = stores(n=6)
    across = AcrossSeries(frame)
    for uid, y in iter_series(frame):
        selection = select_candidates(y, SETTINGS, extra=across.candidates(uid))
        assert NAME in selection.cv.scores().index
    assert across.trainings == SETTINGS.cv_folds


def test_a_series_that_stopped_early_is_forecast_on_its_own_and_unknown_after_its_end():
    frame = stores(n=4)
    stopped = frame[(frame["unique_id"] != "s0") | (frame["ds"] <= "2024-05-01")]
    across = AcrossSeries(stopped)
    assert across.candidates("s0") == {} and set(across.candidates("s1")) == {NAME}
    row = across.rows["s0"]
    last = (pd.Timestamp("2024-05-01") - across.panel.dates[0]).days
    assert np.isnan(across.panel.y[row, last + 1:]).all() and not np.isnan(across.panel.y[row, : last + 1]).any()
    report = backtest_frame(stopped, SETTINGS)
    assert NAME not in report["series"]["s0"]["scores"] and NAME in report["series"]["s1"]["scores"]


def test_learning_across_beats_the_per_series_candidate_where_series_share_a_pattern():
    report = backtest_frame(stores(n=6), SETTINGS)
    assert report["settings"]["across_series"] == NAME
    scores = pd.DataFrame(report["summary"]["mean_scores"]).T
    assert scores.loc[NAME, "mase"] < 0.8 * scores.loc["naive", "mase"]
    assert all(result["winner"] in (NAME, ENSEMBLE) for result in report["series"].values())


def test_a_forecast_by_the_across_model_has_calibrated_bands_in_the_usual_columns():
    forecast = forecast_frame(stores(n=6), SETTINGS, levels=(80, 95))
    assert list(forecast.columns) == ["unique_id", "ds", "yhat", "yhat_lower_80", "yhat_upper_80", "yhat_lower_95",
                                      "yhat_upper_95", "model"]
    chosen = forecast[forecast["model"] == NAME]
    assert not chosen.empty
    assert (chosen["yhat_lower_95"] <= chosen["yhat_lower_80"]).all()
    assert (chosen["yhat_lower_80"] <= chosen["yhat"]).all() and (chosen["yhat"] <= chosen["yhat_upper_80"]).all()
    assert (chosen["yhat_upper_80"] <= chosen["yhat_upper_95"]).all()
    assert (chosen["yhat_upper_80"] - chosen["yhat_lower_80"]).gt(0).all()


def test_one_series_or_a_fixed_model_forecasts_exactly_as_series_by_series():
    one = stores(n=1)
    assert across_series(one, SETTINGS) is None
    fixed = MLSettings(model_candidates=["naive", "snaive"], horizon_days=14, cv_folds=2, select_best=False)
    assert across_series(stores(n=3), fixed) is None
    forecast = forecast_frame(one, SETTINGS)
    alone = forecast_series(next(iter_series(one))[1], SETTINGS).forecast
    np.testing.assert_allclose(forecast["yhat"].to_numpy(), alone["yhat"].to_numpy())


def test_a_closure_that_ended_is_unknown_but_a_run_still_going_or_a_slow_sellers_gap_is_zero():
    days = 120
    y = np.ones((3, days))
    y[0, 20:60] = 0  # a daily seller shut for 40 days, then open again
    y[0, 100:] = 0  # ... and shut again since day 100, still at the cutoff
    y[1, :] = 0
    y[1, ::10] = 3  # a slow seller: a sale every tenth day, long runs without
    y[1, 30:70] = 0
    y[2, :5] = np.nan  # not listed yet
    y[2, 5:40] = 0
    out = closures_unknown(y, cutoff=days - 1)
    assert np.isnan(out[0, 20:60]).all() and (out[0, 100:] == 0).all() and (out[0, 60:100] == 1).all()
    np.testing.assert_array_equal(out[1], y[1])
    assert np.isnan(out[2, 5:40]).all()
    # Only what is known by the cutoff decides: at day 50 the first closure is still going.
    assert (closures_unknown(y, cutoff=50)[0, 20:51] == 0).all()


def test_shops_shut_for_months_a_year_ago_are_forecast_at_their_level_every_week():
    """Learned as zeros, a long closure a year earlier made the shared model forecast those shops near 0
    weeks ahead (Rossmann stores shut in 2014's second half)."""
    rng = np.random.default_rng(3)
    dates = pd.date_range(end="2024-06-30", periods=730, freq="D")
    weekly = np.array([0.8, 0.9, 0.9, 1.0, 1.2, 1.5, 0.7])[dates.dayofweek]
    frames, levels = [], {}
    for i in range(12):
        levels[f"s{i}"] = level = rng.uniform(100, 400)
        y = rng.poisson(level * weekly).astype(float)
        if i < 4:
            y[(dates >= "2023-07-01") & (dates <= "2023-12-31")] = 0
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": dates, "y": y}))
    across = AcrossSeries(pd.concat(frames, ignore_index=True))
    h = 42
    for uid in ("s0", "s1", "s2", "s3"):
        forecast = across.forecast(uid, dates[-1], h)
        expected = levels[uid] * weekly[:7].sum()  # a whole week of the pattern
        weeks = forecast.reshape(6, 7).sum(axis=1) / expected
        assert ((weeks > 0.8) & (weeks < 1.25)).all(), (uid, weeks.round(2))
