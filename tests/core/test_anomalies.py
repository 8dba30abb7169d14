"""Anomaly scores: robust z-scores, never more sensitive than the model's out-of-sample error allows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.core.anomalies import detect_anomalies, flag, robust_z
from tests.support import make_series


def test_a_spike_is_found_and_ordinary_days_are_not():
    y = make_series(200, seed=2, noise=5.0)
    y.iloc[120] *= 4
    fitted = y.rolling(7, center=True, min_periods=1).median()
    result = detect_anomalies(y, fitted, typical_error=1.4826 * 5.0)
    assert result.loc[result.is_anomaly, "ds"].tolist() == [y.index[120]]


def test_an_overfit_model_does_not_make_ordinary_days_look_extreme():
    rng = np.random.default_rng(3)
    y = make_series(300, seed=3, noise=10.0)
    fitted = y + rng.normal(0, 1.0, len(y))  # in-sample fit ten times tighter than the real noise
    overfit = detect_anomalies(y, fitted)
    honest = detect_anomalies(y, fitted, typical_error=1.4826 * 10.0)
    assert overfit.is_anomaly.sum() > 0 and honest.is_anomaly.sum() == 0


def test_reflagging_changes_only_the_flag():
    y = make_series(100)
    result = detect_anomalies(y, y.shift(7))
    strict, loose = flag(result, 10.0), flag(result, 0.5)
    assert strict.is_anomaly.sum() <= loose.is_anomaly.sum()
    pd.testing.assert_series_equal(strict.score, loose.score)


def test_robust_z_of_a_flat_series_is_zero():
    assert (robust_z(np.full(10, 3.0)) == 0).all()
    assert robust_z(np.array([0.0, 0.0, 0.0, 10.0]), min_spread=5.0)[-1] == 2.0
