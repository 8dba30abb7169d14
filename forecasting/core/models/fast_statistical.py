"""Fast statistical models from statsforecast: AutoETS and the Theta method.

statsforecast's implementations are compiled and fit in tens of
milliseconds where statsmodels takes tenths of seconds, which matters when
every tenant is cross-validated every week.
"""

from __future__ import annotations

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
        window = self._train_window(y, self.max_train_days)
        with self._quiet():
            self.model_ = self._model().fit(window.to_numpy(dtype=float))

    def _predict(self, h, levels):
        with self._quiet():
            out = self.model_.predict(h, level=list(levels) or None)
        bands = {level: (out[f"lo-{level}"], out[f"hi-{level}"]) for level in levels}
        return np.asarray(out["mean"], dtype=float), bands

    def _fitted(self):
        with self._quiet():
            return self._over_history(self.model_.predict_in_sample()["fitted"])


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
