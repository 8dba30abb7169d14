"""The ensemble and the conformal intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.config import MLSettings
from forecasting.engine import ENSEMBLE, add_ensemble, forecast_series
from forecasting.evaluation import cross_validate
from forecasting.models import build, load_model, lower_col, upper_col
from forecasting.models.base import Conformal
from forecasting.models.baselines import Naive, SeasonalNaive

from .conftest import make_series


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


def test_a_winning_ensemble_is_refit_saved_and_reloaded():
    y = make_series(240, seed=4)
    settings = MLSettings(model_candidates=["snaive", "theta", "autoets"], horizon_days=14, cv_folds=3)
    outcome = forecast_series(y, settings)
    scores = outcome.cv.scores()
    assert outcome.winner == scores["mase"].idxmin()
    if outcome.winner == ENSEMBLE:
        assert [m.name for m in outcome.model.members] and "mean of" in outcome.selection_note
    again = load_model(outcome.model.name, outcome.model.to_bytes())
    pd.testing.assert_frame_equal(again.predict(14), outcome.model.predict(14))


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
