"""Fast statistical models from statsforecast: AutoETS and the Theta method.

statsforecast's implementations are compiled and fit in tens of
milliseconds where statsmodels takes tenths of seconds, which matters when
every tenant is cross-validated every week.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .base import Forecaster


class _StatsForecastModel(Forecaster):
    requires = ("statsforecast",)

    def __init__(self, season: int = 7, max_train_days: int | None = 730) -> None:
        self.season, self.max_train_days = season, max_train_days

    @property
    def min_train_days(self) -> int:
        return 21  # three weeks: enough for a weekly season

    def _model(self):
        raise NotImplementedError

    def _fit(self, y: pd.Series) -> None:
        window = y.iloc[-self.max_train_days :] if self.max_train_days else y
        self.offset_ = len(y) - len(window)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = self._model().fit(window.to_numpy(dtype=float))

    def _predict(self, h, levels):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self.model_.predict(h, level=list(levels) or None)
        bands = {level: (out[f"lo-{level}"], out[f"hi-{level}"]) for level in levels}
        return np.asarray(out["mean"], dtype=float), bands

    def _fitted(self):
        fitted = np.full(len(self.y_), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted[self.offset_ :] = np.asarray(self.model_.predict_in_sample()["fitted"], dtype=float)
        return fitted


class AutoETSForecaster(_StatsForecastModel):
    """Exponential smoothing with the error/trend/season form chosen by AICc (statsforecast AutoETS)."""

    name = "autoets"

    def _model(self):
        from statsforecast.models import AutoETS

        return AutoETS(season_length=self.season)


class ThetaForecaster(_StatsForecastModel):
    """The Theta method with weekly seasonal adjustment (statsforecast `Theta`).

    The standard method, not the optimized variant: it fits in a few
    milliseconds and, as a different kind of model from gradient boosting,
    is mostly useful as an ensemble member.
    """

    name = "theta"

    def _model(self):
        from statsforecast.models import Theta

        return Theta(season_length=self.season)
