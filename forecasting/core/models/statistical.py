"""Classic state-space models from statsmodels: ETS and SARIMAX."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import Forecaster


class ETS(Forecaster):
    """Additive error, damped additive trend, additive weekly season (statsmodels ETSModel)."""

    name = "ets"
    requires = ("statsmodels",)

    def __init__(self, season: int = 7, damped: bool = True, max_train_days: int | None = 730) -> None:
        self.season, self.damped, self.max_train_days = season, damped, max_train_days

    @property
    def min_train_days(self) -> int:
        return 14

    def _fit(self, y: pd.Series) -> None:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        window = self._train_window(y, self.max_train_days)
        seasonal = "add" if len(window) >= 2 * self.season + 2 else None
        with self._quiet():
            model = ETSModel(
                window.asfreq("D"), error="add", trend="add", damped_trend=self.damped,
                seasonal=seasonal, seasonal_periods=self.season if seasonal else None,
            )
            self.result_ = model.fit(disp=False, maxiter=200)

    def _predict(self, h, levels):
        n = self.result_.model.nobs
        with self._quiet():
            prediction = self.result_.get_prediction(start=n, end=n + h - 1)
            mean = np.asarray(prediction.predicted_mean, dtype=float)
            bands = {}
            for level in levels:
                frame = prediction.summary_frame(alpha=1 - level / 100)
                bands[level] = (frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy())
        return mean, bands

    def _fitted(self):
        return self._over_history(self.result_.fittedvalues)


class SARIMAX(Forecaster):
    """Seasonal ARIMA (statsmodels), orders from `ML_SARIMAX_ORDER` / `ML_SARIMAX_SEASONAL`.

    Fitted on the most recent `max_train_days` only: a year of daily data
    carries the weekly structure, and the fit time grows with length.
    """

    name = "sarimax"
    requires = ("statsmodels",)

    @classmethod
    def from_settings(cls, settings, country):
        return cls(order=settings.sarimax_order, seasonal_order=settings.sarimax_seasonal)

    def __init__(self, order=(1, 1, 1), seasonal_order=(1, 1, 1, 7), max_train_days: int | None = 365) -> None:
        self.order, self.seasonal_order, self.max_train_days = tuple(order), tuple(seasonal_order), max_train_days

    @property
    def min_train_days(self) -> int:
        p, d, q = self.order
        P, D, Q, s = self.seasonal_order
        return max(14, d + D * s + max(p, q) + (max(P, Q) + 1) * s + 7)

    def _fit(self, y: pd.Series) -> None:
        from statsmodels.tsa.statespace.sarimax import SARIMAX as _SARIMAX

        window = self._train_window(y, self.max_train_days)
        with self._quiet():
            model = _SARIMAX(window.to_numpy(), order=self.order, seasonal_order=self.seasonal_order,
                             enforce_stationarity=False, enforce_invertibility=False)
            self.result_ = model.fit(disp=False, maxiter=75)

    def _predict(self, h, levels):
        with self._quiet():
            forecast = self.result_.get_forecast(h)
            mean = np.asarray(forecast.predicted_mean, dtype=float)
            bands = {}
            for level in levels:
                interval = np.asarray(forecast.conf_int(alpha=1 - level / 100), dtype=float)
                bands[level] = (interval[:, 0], interval[:, 1])
        return mean, bands

    def _fitted(self):
        values = np.asarray(self.result_.fittedvalues, dtype=float)
        _, d, _ = self.order
        _, D, _, s = self.seasonal_order
        burn = d + D * s  # differencing leaves the first fitted values meaningless
        values[:burn] = np.nan
        return self._over_history(values)
