"""Baselines that always exist: naive (last value) and weekly seasonal naive."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import Forecaster


class Naive(Forecaster):
    """Tomorrow equals today. Needs one day; the fallback of last resort."""

    name = "naive"

    @property
    def min_train_days(self) -> int:
        return 1

    def _fit(self, y: pd.Series) -> None:
        diffs = np.diff(y.to_numpy())
        # Spread of one-day changes; random-walk bands grow with sqrt(h).
        self.sigma_ = float(np.std(diffs, ddof=1)) if diffs.size > 1 else float(abs(y.iloc[-1]) * 0.1)

    def _predict(self, h, levels):
        mean = np.full(h, self.y_.iloc[-1], dtype=float)
        sd = self.sigma_ * np.sqrt(np.arange(1, h + 1))
        return mean, self._gaussian_bands(mean, sd, levels)

    def _fitted(self):
        return self.y_.shift(1).to_numpy()


class SeasonalNaive(Forecaster):
    """Same weekday last week. Needs one full season."""

    name = "snaive"

    def __init__(self, season: int = 7) -> None:
        self.season = season

    @property
    def min_train_days(self) -> int:
        return self.season

    def _fit(self, y: pd.Series) -> None:
        values = y.to_numpy()
        diffs = values[self.season :] - values[: -self.season]
        self.sigma_ = float(np.std(diffs, ddof=1)) if diffs.size > 1 else float(np.std(values))

    def _predict(self, h, levels):
        last_season = self.y_.to_numpy()[-self.season :]
        mean = np.resize(last_season, h).astype(float)
        seasons_ahead = np.arange(h) // self.season + 1
        sd = self.sigma_ * np.sqrt(seasons_ahead)
        return mean, self._gaussian_bands(mean, sd, levels)

    def _fitted(self):
        return self.y_.shift(self.season).to_numpy()
