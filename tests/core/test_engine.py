"""The ensemble and the conformal intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.core.config import MLSettings
from forecasting.core.engine import ENSEMBLE, add_ensemble, forecast_series
from forecasting.core.evaluation import cross_validate
from forecasting.core.intervals import Conformal
from forecasting.core.models import build, load_model, lower_col, upper_col
from forecasting.core.models.baselines import Naive, SeasonalNaive
from forecasting.core.models.ensemble import EnsembleForecaster
from tests.support import make_series


def test_ensemble_is_the_mean_of_the_best_candidates_fold_forecasts():
    y = make_series(200, seed=1)
    cv = cross_validate(y, {"naive": Naive, "snaive": SeasonalNaive, "theta": lambda: build("theta", MLSettings())},
                        horizon=7, folds=3)
    ranked = cv.scores()["mase"].sort_values().index.tolist()
    members = add_ensemble(cv, "mase", top_k=2)
    assert members == ranked[:2]
    preds = cv.predictions.set_index(["model", "fold", "step"])["yhat"]
    expected = (preds.loc[members[0]] + preds.loc[members[1]]) / 2
    pd.testing.assert_series_equal(preds.loc[ENSEMBLE], expected, check_names=False)
    assert ENSEMBLE in cv.scores().index


def test_ensemble_is_off_with_top_k_below_two():
    y = make_series(120)
    cv = cross_validate(y, {"naive": Naive, "snaive": SeasonalNaive}, horizon=7, folds=2)
    assert add_ensemble(cv, "mase", top_k=1) == [] and ENSEMBLE not in cv.scores().index


def halving_weeks(weeks: int = 10) -> pd.Series:
    """Each week is halfway between the week before and that week's last day (Sunday, 2024-01-07 on).

    So with one-week folds, naive (last day) and seasonal naive (last week) miss every test day by the
    same amount in opposite directions, and their mean is exact: the ensemble of the two must win CV.
    """
    week = np.array([120.0, 80.0, 150.0, 60.0, 100.0, 140.0, 90.0])
    blocks = [week]
    for _ in range(weeks - 1):
        blocks.append((blocks[-1] + blocks[-1][-1]) / 2)
    values = np.concatenate(blocks)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values), freq="D", name="ds"), name="y")


ENSEMBLE_CASE = MLSettings(model_candidates=["naive", "snaive"], horizon_days=7, cv_folds=3, ensemble_top_k=2)


def test_an_ensemble_that_wins_cv_is_the_model_fitted_and_forecast():
    y = halving_weeks()
    outcome = forecast_series(y, ENSEMBLE_CASE)
    scores = outcome.cv.scores()
    assert set(scores.index) == {"naive", "snaive", ENSEMBLE}
    assert scores.loc[ENSEMBLE, "mase"] == pytest.approx(0, abs=1e-12)
    assert min(scores.loc["naive", "mase"], scores.loc["snaive", "mase"]) > 0.01
    preds = outcome.cv.predictions.set_index(["model", "fold", "step"])["yhat"]
    pd.testing.assert_series_equal(preds.loc[ENSEMBLE], (preds.loc["naive"] + preds.loc["snaive"]) / 2,
                                   check_names=False)

    assert outcome.winner == ENSEMBLE and isinstance(outcome.model, EnsembleForecaster)
    members = [m.name for m in outcome.model.members]
    assert sorted(members) == ["naive", "snaive"] and f"mean of {', '.join(members)}" in outcome.selection_note
    # The forecast is the mean of the members refitted on the whole series, with the ensemble's own bands.
    mean = (Naive().fit(y).predict(7, ())["yhat"] + SeasonalNaive().fit(y).predict(7, ())["yhat"]) / 2
    pd.testing.assert_series_equal(outcome.forecast["yhat"], mean)
    assert outcome.model.conformal_ is not None  # calibrated on the ensemble's CV errors
    again = load_model(ENSEMBLE, outcome.model.to_bytes())
    assert isinstance(again, EnsembleForecaster) and [m.name for m in again.members] == members
    pd.testing.assert_frame_equal(again.predict(7), outcome.forecast)


def test_a_winning_ensemble_is_what_the_pipeline_stores_and_serves(storage):
    from forecasting.services.model_store import load_active_model
    from forecasting.services.training import predict_from_active, train_and_predict_sales

    y = halving_weeks()
    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": "UTC", "country": "ES", "currency": "EUR"}])
    storage.upsert("ventas", "t", [{"id": f"s{i}", "negocio_id": "t", "total": float(v),
                                    "fecha": (day + pd.Timedelta(hours=12)).tz_localize("UTC")}
                                   for i, (day, v) in enumerate(y.items())])
    now = (y.index[-1] + pd.Timedelta(days=1, hours=9)).tz_localize("UTC").to_pydatetime()
    result = train_and_predict_sales("t", storage=storage, settings=ENSEMBLE_CASE, now=now)
    assert result.winner == ENSEMBLE and result.history_days == len(y)
    info, model = load_active_model(storage, "t")
    assert info.model_type == ENSEMBLE and isinstance(model, EnsembleForecaster)
    stored = storage.select("ml_predictions", "t", where={"prediction_type": "sales_forecast"})
    assert len(stored) == 7 and set(stored["model_type"]) == {ENSEMBLE}
    served = predict_from_active("t", storage=storage, now=now)
    assert set(served["model"]) == {ENSEMBLE}
    np.testing.assert_allclose(served["yhat"].to_numpy(), result.forecast["yhat"].to_numpy())


def test_an_ensemble_that_loses_cv_still_competes_and_the_best_single_model_is_used():
    week = np.array([120.0, 80.0, 150.0, 60.0, 100.0, 140.0, 0.0])  # the same week over and over
    y = pd.Series(np.tile(week, 10), index=pd.date_range("2024-01-01", periods=70, freq="D", name="ds"))
    outcome = forecast_series(y, ENSEMBLE_CASE)
    scores = outcome.cv.scores()
    assert ENSEMBLE in scores.index and scores.loc["snaive", "mase"] == 0 < scores.loc[ENSEMBLE, "mase"]
    assert outcome.winner == "snaive" and outcome.model.name == "snaive"
    np.testing.assert_array_equal(outcome.forecast["yhat"].to_numpy(), week)


def test_ensemble_top_k_sets_how_many_candidates_are_averaged():
    y = make_series(160, seed=2)
    candidates = ["naive", "snaive", "theta"]
    three = forecast_series(y, MLSettings(model_candidates=candidates, horizon_days=7, cv_folds=3, ensemble_top_k=3))
    preds = three.cv.predictions.set_index(["model", "fold", "step"])["yhat"]
    expected = sum(preds.loc[name] for name in candidates) / 3
    pd.testing.assert_series_equal(preds.loc[ENSEMBLE], expected, check_names=False)
    two = forecast_series(y, MLSettings(model_candidates=candidates, horizon_days=7, cv_folds=3, ensemble_top_k=2))
    best_two = two.cv.scores().drop(ENSEMBLE)["mase"].nsmallest(2).index
    preds = two.cv.predictions.set_index(["model", "fold", "step"])["yhat"]
    pd.testing.assert_series_equal(preds.loc[ENSEMBLE], (preds.loc[best_two[0]] + preds.loc[best_two[1]]) / 2,
                                   check_names=False)
    for off in (MLSettings(model_candidates=candidates, horizon_days=7, cv_folds=3, ensemble_top_k=0),
                MLSettings(model_candidates=candidates, horizon_days=7, cv_folds=3, select_best=False)):
        assert ENSEMBLE not in forecast_series(y, off).cv.scores().index


def test_conformal_quantiles_match_hand_computation():
    # one fold, four steps: relative errors 0.1, 0.2, 0.3, 0.4 on open days; a closed day off by 5
    y = np.array([110, 80, 130, 60, 5])
    yhat = np.array([100, 100, 100, 100, 0])
    steps = np.array([1, 2, 3, 4, 1])
    conformal = Conformal.from_errors(y, yhat, steps, folds=np.ones(5), levels=(50, 80), floor=10.0)
    # every step pools all four open errors (within a week either side): n = 4
    # level 50: rank ceil(4 * 0.5) = 2 -> 0.2; level 80: rank ceil(4 * 0.8) = 4 -> 0.4
    assert conformal.open_quantiles[50] == pytest.approx([0.2] * 4) and conformal.open_quantiles[80] == pytest.approx([0.4] * 4)
    assert conformal.closed_quantiles[80] == 5.0
    bands = conformal.bands(np.array([200.0, 0.0, 50.0, 100.0, 100.0, 100.0]), (50, 80))
    lower, upper = bands[80]
    assert upper[0] == pytest.approx(280) and lower[0] == pytest.approx(120)
    assert (lower[1], upper[1]) == (-5.0, 5.0)  # forecast closed: the closed-day error, not a share of 0
    assert upper[5] == pytest.approx(140)  # beyond the calibrated steps: the last step's quantile


def test_only_the_three_most_recent_folds_calibrate():
    # fold 1 had a huge miss, folds 2-4 were perfect
    conformal = Conformal.from_errors(np.array([200, 100, 100, 100]), np.array([100, 100, 100, 100]),
                                      steps=np.ones(4), folds=np.array([1, 2, 3, 4]), levels=(95,), floor=1.0)
    assert conformal.open_quantiles[95] == [0.0]


def test_calibrated_bands_cover_about_their_level_on_fresh_data():
    rng = np.random.default_rng(7)
    n = 800
    t = np.arange(n)
    y = pd.Series(200 + 30 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 15, n),
                  index=pd.date_range("2023-01-01", periods=n, freq="D", name="ds"))
    hits = {80: [], 95: []}
    settings = MLSettings(model_candidates=["snaive", "theta"], horizon_days=14, cv_folds=5, ensemble_top_k=0)
    for end in range(590, 786, 14):
        forecast = forecast_series(y.iloc[:end], settings).forecast
        actual = y.iloc[end:end + 14].to_numpy()
        for level in hits:
            inside = (actual >= forecast[lower_col(level)].to_numpy()) & (actual <= forecast[upper_col(level)].to_numpy())
            hits[level].extend(inside.tolist())
    assert 0.70 <= np.mean(hits[80]) <= 0.92
    assert 0.88 <= np.mean(hits[95]) <= 0.995
