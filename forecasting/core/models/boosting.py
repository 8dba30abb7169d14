"""Gradient-boosted trees on lag, rolling and calendar features, via mlforecast.

mlforecast does the recursive multi-step forecasting (each day's forecast
feeds the next day's lags) and conformal prediction intervals from its own
rolling windows, so neither is hand-written here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import HolidayFlag
from .base import Forecaster

LAGS = (7, 14, 21, 28)
DATE_FEATURES = ("dayofweek", "month", "dayofyear", "day")


class _TreeForecaster(Forecaster):
    """Shared mlforecast plumbing; subclasses say which regressor to use."""

    def __init__(self, country: str | None = None, horizon: int = 28, n_estimators: int = 200,
                 learning_rate: float = 0.05, seed: int = 0) -> None:
        self.country, self.horizon = country, horizon
        self.n_estimators, self.learning_rate, self.seed = n_estimators, learning_rate, seed

    @property
    def min_train_days(self) -> int:
        return 63  # the longest lag plus the 28-day rolling mean, and a few weeks to learn from

    @classmethod
    def from_settings(cls, settings, country):
        return cls(country=country, horizon=settings.horizon_days)

    def _regressor(self):
        raise NotImplementedError

    def _fit(self, y: pd.Series) -> None:
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean
        from mlforecast.utils import PredictionIntervals

        self.forecaster_ = MLForecast(
            models={"model": self._regressor()},
            freq="D",
            lags=list(LAGS),
            lag_transforms={7: [RollingMean(window_size=7), RollingMean(window_size=28)]},
            date_features=[*DATE_FEATURES, HolidayFlag(self.country)],
        )
        frame = pd.DataFrame({"unique_id": "s", "ds": y.index, "y": y.to_numpy()})
        intervals = None
        # Conformal windows need history beyond the features' warm-up; with less, bands fall back.
        h = self.horizon
        if self.with_intervals_ and len(y) >= self.min_train_days + 2 * h:
            intervals = PredictionIntervals(n_windows=2, h=h)
        self.conformal_h_ = h if intervals else 0
        self.forecaster_.fit(frame, prediction_intervals=intervals, fitted=True)

    def _predict(self, h, levels):
        use_levels = list(levels) if levels and self.conformal_h_ >= h else None
        forecast = self.forecaster_.predict(h, level=use_levels)
        mean = forecast["model"].to_numpy()
        bands = {}
        for level in use_levels or []:
            bands[level] = (forecast[f"model-lo-{level}"].to_numpy(), forecast[f"model-hi-{level}"].to_numpy())
        if levels and not use_levels:
            bands = self._residual_bands(mean, levels)
        return mean, bands

    def _residual_bands(self, mean, levels):
        resid = (self.y_ - pd.Series(self._fitted(), index=self.y_.index)).dropna().to_numpy()
        spread = float(np.std(resid)) if resid.size > 1 else 0.0
        steps = np.sqrt(np.arange(1, len(mean) + 1))
        return self._gaussian_bands(mean, spread * steps, levels)

    def _fitted(self):
        fitted = self.forecaster_.forecast_fitted_values()
        series = pd.Series(fitted["model"].to_numpy(), index=pd.DatetimeIndex(fitted["ds"]))
        return series.reindex(self.y_.index).to_numpy()


class XGBoostForecaster(_TreeForecaster):
    """XGBoost regressor on lags 7-28, rolling means, calendar and holiday flags."""

    name = "xgboost"
    requires = ("xgboost", "mlforecast")

    def _regressor(self):
        from xgboost import XGBRegressor

        return XGBRegressor(n_estimators=self.n_estimators, learning_rate=self.learning_rate, max_depth=4,
                            subsample=0.9, random_state=self.seed, n_jobs=1, verbosity=0)
