"""Prediction intervals any model's forecast can use: conformal calibration and the output sanitizer.

`Conformal` turns cross-validation errors into bands around a point
forecast; `sanitize_forecast` makes whatever a model returned safe to store
and show. Neither knows which model made the forecast, so they live beside
the models rather than in their protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd


def lower_col(level: int) -> str:
    return f"yhat_lower_{level}"


def upper_col(level: int) -> str:
    return f"yhat_upper_{level}"


def z_value(level: int) -> float:
    """Two-sided normal quantile for a central interval of `level` percent."""
    return NormalDist().inv_cdf(0.5 + level / 200.0)  # the standard library's: scipy.stats takes 1 s to import


class Conformal:
    """Split-conformal intervals from cross-validation errors.

    Calibrated on the errors of the most recent folds (`RECENT_FOLDS`), which
    reflect how volatile sales are now rather than last Christmas. Two pools:

    * open days (forecast at least `floor`, a tenth of the recent level):
      errors relative to the forecast, pooled over the steps within a week
      either side of each horizon step, so a busy Saturday gets a wider band
      than a quiet Tuesday;
    * closed days (forecast below `floor`): absolute errors, pooled over all
      steps, so a Sunday forecast at 0 gets a band as narrow as the store's
      record of really being closed.

    The half-width for level L is the finite-sample conformal quantile of the
    pool, the `ceil(n L / 100)`-th smallest error (the empirical quantile: the
    `n + 1` of split-conformal guarantees over-cover once recent errors run
    higher than future ones, which the benchmark showed). Steps past the
    calibrated horizon reuse the last step's quantile.
    """

    RECENT_FOLDS = 3
    WINDOW = 7

    def __init__(self, open_quantiles: dict[int, list[float]], closed_quantiles: dict[int, float], floor: float) -> None:
        self.open_quantiles = {int(k): [float(q) for q in v] for k, v in open_quantiles.items()}
        self.closed_quantiles = {int(k): float(v) for k, v in closed_quantiles.items()}
        self.floor = float(floor)

    @staticmethod
    def _quantile(values: np.ndarray, level: int) -> float:
        values = np.sort(values[np.isfinite(values)])
        n = len(values)
        if n == 0:
            return float("nan")
        return float(values[min(n, int(np.ceil(n * level / 100 - 1e-9))) - 1])

    @classmethod
    def from_errors(cls, y, yhat, steps, folds, levels: Sequence[int], floor: float) -> Conformal:
        y, yhat, steps, folds = (np.asarray(a, dtype=float) for a in (y, yhat, steps, folds))
        recent = folds > folds.max() - cls.RECENT_FOLDS
        y, yhat, steps = y[recent], yhat[recent], steps[recent]
        is_open = yhat >= floor
        relative = np.abs(y - yhat) / np.maximum(np.abs(yhat), floor)
        absolute = np.abs(y - yhat)
        horizon = int(steps.max()) if steps.size else 1
        open_q: dict[int, list[float]] = {}
        closed_q: dict[int, float] = {}
        for level in levels:
            open_q[int(level)] = [
                cls._quantile(relative[is_open & (np.abs(steps - step) <= cls.WINDOW)], level)
                for step in range(1, horizon + 1)
            ]
            closed_q[int(level)] = cls._quantile(absolute[~is_open], level)
        return cls(open_q, closed_q, floor)

    def bands(self, mean: np.ndarray, levels: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for level in levels:
            known = self.open_quantiles.get(int(level))
            if not known:
                continue
            q = np.array([known[min(i, len(known) - 1)] for i in range(len(mean))])
            closed = self.closed_quantiles.get(int(level), float("nan"))
            if not np.isfinite(closed):  # no closed day in the folds: treat like an open day at the floor
                closed_width = q * self.floor
            else:
                closed_width = np.full(len(mean), closed)
            half = np.where(mean >= self.floor, q * np.abs(mean), closed_width)
            # NaN where a pool was empty; the sanitizer then falls back to the model's typical spread.
            out[level] = (mean - half, mean + half)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"open_quantiles": self.open_quantiles, "closed_quantiles": self.closed_quantiles, "floor": self.floor}



def sanitize_forecast(
    index: pd.DatetimeIndex,
    mean: np.ndarray,
    bands: dict[int, tuple[np.ndarray, np.ndarray]],
    levels: tuple[int, ...],
    *,
    fallback: float = 0.0,
    nonnegative: bool = True,
) -> pd.DataFrame:
    """Make any model's output safe to store and show.

    NaN/inf point forecasts become the last finite one (or 0); missing or
    degenerate bands are rebuilt from `fallback` (a typical daily change);
    bands are nested (95% contains 80%) and ordered around `yhat`; with
    `nonnegative` nothing is below zero.
    """
    mean = np.asarray(mean, dtype=float).reshape(-1)[: len(index)]
    if not np.isfinite(mean).all():
        mean = pd.Series(mean).replace([np.inf, -np.inf], np.nan).ffill().fillna(0.0).to_numpy()
    if nonnegative:
        mean = np.maximum(mean, 0.0)
    frame = pd.DataFrame({"yhat": mean}, index=index)
    steps = np.sqrt(np.arange(1, len(index) + 1))
    inner_lower, inner_upper = mean.copy(), mean.copy()
    for level in sorted(levels):
        lower, upper = bands.get(level, (None, None))
        sd_guess = max(fallback, 0.0) * steps
        if lower is None or upper is None:
            lower = mean - z_value(level) * sd_guess
            upper = mean + z_value(level) * sd_guess
        lower = np.asarray(lower, dtype=float).reshape(-1)[: len(index)]
        upper = np.asarray(upper, dtype=float).reshape(-1)[: len(index)]
        lower = np.where(np.isfinite(lower), lower, mean - z_value(level) * sd_guess)
        upper = np.where(np.isfinite(upper), upper, mean + z_value(level) * sd_guess)
        lower = np.minimum(lower, inner_lower)
        upper = np.maximum(upper, inner_upper)
        if nonnegative:
            lower = np.maximum(lower, 0.0)
            upper = np.maximum(upper, 0.0)
        frame[lower_col(level)] = lower
        frame[upper_col(level)] = upper
        inner_lower, inner_upper = lower, upper
    return frame
