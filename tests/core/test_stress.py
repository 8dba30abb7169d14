"""Awkward series: the engine returns a valid forecast or a clear error, never a crash or NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.core.config import MLSettings
from forecasting.core.engine import forecast_series
from forecasting.core.models import lower_col, upper_col
from forecasting.core.series import series_from_values
from forecasting.services.training import train_and_predict_sales
from tests.support import NOW, make_series

SETTINGS = MLSettings(model_candidates=["naive", "snaive", "theta", "autoets", "lightgbm", "ets"], horizon_days=14, cv_folds=2)


def _with(series, **changes):
    values = series.copy()
    for position, value in changes.items():
        values.iloc[int(position.strip("_"))] = value
    return values


def stress_cases():
    rng = np.random.default_rng(11)
    base = make_series(240, seed=5)
    gaps = base.copy()
    gaps.iloc[100:130] = 0.0  # a month closed
    outliers = base.copy()
    outliers.iloc[rng.choice(240, 8, replace=False)] *= 6
    shift = base.copy()
    shift.iloc[150:] = shift.iloc[150:].to_numpy() * 2.5 + 40
    refunds = base - 90  # many net-negative days
    spike = base.copy()
    spike.iloc[-3] = 1e7
    sparse = pd.Series(rng.poisson(0.3, 200) * 50.0, index=pd.date_range("2024-01-01", periods=200, name="ds"))
    return {
        "7 days": make_series(7),
        "14 days": make_series(14),
        "30 days": make_series(30),
        "1 day": make_series(1),
        "all zeros": series_from_values(np.zeros(120)),
        "constant": series_from_values(np.full(120, 42.0)),
        "gaps": gaps,
        "outliers": outliers,
        "seasonal shift": shift,
        "negative refunds": refunds,
        "one huge spike": spike,
        "intermittent": sparse,
    }


CASES = stress_cases()


@pytest.mark.parametrize("case", list(CASES))
def test_stress_series_always_give_a_valid_forecast(case):
    y = CASES[case]
    outcome = forecast_series(y, SETTINGS)
    forecast = outcome.forecast
    assert len(forecast) == SETTINGS.horizon_days
    values = forecast.to_numpy()
    assert np.isfinite(values).all(), f"NaN/inf in {case}"
    assert (values >= 0).all()
    for level in (80, 95):
        assert (forecast[lower_col(level)] <= forecast["yhat"]).all()
        assert (forecast["yhat"] <= forecast[upper_col(level)]).all()
    assert outcome.winner in {"naive", "snaive", "ensemble", *SETTINGS.model_candidates}
    assert outcome.selection_note


def test_all_zero_series_forecasts_zero():
    outcome = forecast_series(series_from_values(np.zeros(120)), SETTINGS)
    assert (outcome.forecast.to_numpy() == 0).all()


def test_too_short_to_cross_validate_says_so():
    outcome = forecast_series(make_series(14), SETTINGS)
    assert outcome.winner == "snaive" and "too short" in outcome.selection_note
    assert forecast_series(make_series(5), SETTINGS).winner == "naive"


def test_pipeline_on_a_tenant_with_one_week_of_sales(storage):
    storage.upsert("negocios", "new", [{"id": "new", "nombre": "New shop", "timezone": "UTC"}])
    start = pd.Timestamp(NOW.date()) - pd.Timedelta(days=7)
    sales = [{"id": f"s{i}", "negocio_id": "new", "fecha": (start + pd.Timedelta(days=i, hours=12)).to_pydatetime(),
              "total": 10.0 + i} for i in range(7)]
    storage.upsert("ventas", "new", sales)
    result = train_and_predict_sales("new", storage=storage, settings=SETTINGS, now=NOW)
    assert result.history_days == 7 and result.winner == "naive"
    assert storage.count("ml_predictions", "new") == 14 + 7
