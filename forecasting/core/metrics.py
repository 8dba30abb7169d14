"""Forecast error metrics: one registry read by CV, selection, benchmarks and the dashboard.

Every metric takes actuals `y`, forecasts `yhat` and, for MASE, the scale of
the training data (one number, or one per row when rows come from folds with
different training data), and returns a float where lower is better.
`score_frame` applies them per group of a tidy frame (`y`, `yhat`, optional
`scale`): cross-validation, the scorecard of issued forecasts and `bench/`
all score through it, so a metric is defined once. None divides by zero:

* MAPE is computed over days with non-zero actuals only (a closed day has no
  percentage error); with no such day it is NaN, and callers say so.
* WAPE with all-zero actuals is 0 when the forecast is also zero, else inf.
* MASE is scaled by the in-sample mean absolute error of the weekly seasonal
  naive forecast; for a series too flat for that (a constant) the mean
  absolute level is used, or 1 for an all-zero series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

SEASON = 7


def _arrays(y, yhat):
    return np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)


def mae(y, yhat, scale: float = 1.0) -> float:
    y, yhat = _arrays(y, yhat)
    return float(np.mean(np.abs(y - yhat)))


def rmse(y, yhat, scale: float = 1.0) -> float:
    y, yhat = _arrays(y, yhat)
    return float(np.sqrt(np.mean((y - yhat) ** 2)))


def smape(y, yhat, scale: float = 1.0) -> float:
    """Symmetric MAPE in [0, 2]; a day where both are zero counts as a perfect 0."""
    y, yhat = _arrays(y, yhat)
    denom = np.abs(y) + np.abs(yhat)
    ratio = np.divide(2 * np.abs(y - yhat), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.mean(ratio))


def wape(y, yhat, scale: float = 1.0) -> float:
    y, yhat = _arrays(y, yhat)
    total = np.sum(np.abs(y))
    errors = np.sum(np.abs(y - yhat))
    if total == 0:
        return 0.0 if errors == 0 else float("inf")
    return float(errors / total)


def mape(y, yhat, scale: float = 1.0) -> float:
    """Mean absolute percentage error over non-zero actuals; NaN if there are none."""
    y, yhat = _arrays(y, yhat)
    nonzero = y != 0
    if not nonzero.any():
        return float("nan")
    return float(np.mean(np.abs((y[nonzero] - yhat[nonzero]) / y[nonzero])))


def mase(y, yhat, scale=1.0) -> float:
    """Mean absolute error in units of the training data's seasonal-naive error (`mase_scale`)."""
    y, yhat = _arrays(y, yhat)
    return float(np.mean(np.abs(y - yhat) / np.asarray(scale, dtype=float)))


METRICS: dict[str, Callable[..., float]] = {
    "mase": mase,
    "mae": mae,
    "rmse": rmse,
    "smape": smape,
    "wape": wape,
    "mape": mape,
}


def mase_scale(y_train, season: int = SEASON) -> float:
    """Mean absolute error of the seasonal naive forecast on the training data."""
    y = np.asarray(y_train, dtype=float)
    m = season if len(y) > season else 1
    if len(y) > m:
        scale = float(np.mean(np.abs(y[m:] - y[:-m])))
        if scale > 0:
            return scale
    level = float(np.mean(np.abs(y))) if len(y) else 0.0
    return level if level > 0 else 1.0


def evaluate(y, yhat, scale=1.0, metrics: Sequence[str] = tuple(METRICS)) -> dict[str, float]:
    """`metrics` (names in the registry; all by default) for one forecast."""
    return {name: METRICS[name](y, yhat, scale=scale) for name in metrics}


def score_frame(frame: pd.DataFrame, by: str | Sequence[str], metrics: Sequence[str] = tuple(METRICS)) -> pd.DataFrame:
    """`metrics` of each group of a tidy frame, plus `days` (rows scored); one row per group, `by` as columns.

    `frame` has `y`, `yhat` and, for MASE, `scale` (per row; 1 without it).
    A missing value is not skipped: it makes its group's metrics NaN.
    """
    keys = [by] if isinstance(by, str) else list(by)
    rows = []
    for group, part in frame.groupby(keys, sort=False):
        scale = part["scale"].to_numpy(dtype=float) if "scale" in part else 1.0
        values = dict(zip(keys, group if isinstance(group, tuple) else (group,)))
        values.update(evaluate(part["y"].to_numpy(), part["yhat"].to_numpy(), scale, metrics))
        values["days"] = len(part)
        rows.append(values)
    return pd.DataFrame(rows, columns=[*keys, *metrics, "days"])
