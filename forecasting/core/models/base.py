"""The one protocol every forecasting candidate speaks.

A candidate is a small class in the scikit-learn style: the constructor
stores plain parameters only, `fit` learns and returns `self`, learned state
ends with `_`, `predict` never refits. It declares what it needs
(`min_train_days`, `requires`) so cross-validation can skip it with its own
reason instead of an `if` about its name.

`predict(h, levels)` returns a frame indexed by date with `yhat` and, per
level, `yhat_lower_<L>` / `yhat_upper_<L>`. The base class guarantees what
every caller relies on: no NaN, `lower <= yhat <= upper`, wider bands for
higher levels, nothing below zero (sales).
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import joblib
import numpy as np
import pandas as pd
from scipy.stats import norm

from ..errors import DataError, ModelError


def lower_col(level: int) -> str:
    return f"yhat_lower_{level}"


def upper_col(level: int) -> str:
    return f"yhat_upper_{level}"


def z_value(level: int) -> float:
    """Two-sided normal quantile for a central interval of `level` percent."""
    return float(norm.ppf(0.5 + level / 200.0))


class Forecaster(ABC):
    """Base class of every candidate model."""

    #: Registry name, also the `model_type` stored in `ml_models`.
    name: ClassVar[str] = "base"
    #: Shortest history (days) the model can be fitted on.
    min_train_days: ClassVar[int] = 1
    #: Optional packages the model imports; a missing one is a recorded skip.
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.params = params

    @classmethod
    def from_settings(cls, settings: Any, country: str | None) -> Forecaster:
        """The candidate as configured by `MLSettings` for a tenant in `country`."""
        return cls()

    # --- the protocol -------------------------------------------------------

    def fit(self, y: pd.Series, *, with_intervals: bool = True) -> Forecaster:
        """Learn from a daily series (DatetimeIndex with no gaps, float values).

        `with_intervals=False` lets models skip work only intervals need
        (cross-validation scores point forecasts only).
        """
        y = check_series(y)
        if len(y) < self.min_train_days:
            raise DataError(f"{self.name} needs at least {self.min_train_days} days of history, got {len(y)}")
        self.y_ = y
        self.with_intervals_ = with_intervals
        try:
            self._fit(y)
        except (DataError, ModelError):
            raise
        except Exception as exc:  # a library failing on odd data is a candidate failure, not a crash
            raise ModelError(f"{self.name} could not be fitted: {exc}") from exc
        return self

    def predict(self, h: int, levels: Sequence[int] = (80, 95)) -> pd.DataFrame:
        """Forecast the `h` days after the training data."""
        self._check_fitted()
        if h < 1:
            raise DataError(f"horizon must be at least 1 day, got {h}")
        levels = tuple(sorted(int(level) for level in levels))
        index = pd.date_range(self.y_.index[-1] + pd.Timedelta(days=1), periods=h, freq="D", name="ds")
        calibration = getattr(self, "conformal_", None)
        try:
            mean, bands = self._predict(h, () if calibration else levels)
        except (DataError, ModelError):
            raise
        except Exception as exc:
            raise ModelError(f"{self.name} could not forecast: {exc}") from exc
        if calibration:
            bands = calibration.bands(np.asarray(mean, dtype=float), levels)
        return sanitize_forecast(index, mean, bands, levels, fallback=self._fallback_scale())

    def calibrate(self, calibration: Conformal | None) -> Forecaster:
        """Use intervals calibrated on cross-validation errors instead of the model's own."""
        self.conformal_ = calibration
        return self

    def fitted(self) -> pd.Series:
        """In-sample one-step-ahead fit, aligned with the training index (NaN where undefined)."""
        self._check_fitted()
        values = np.asarray(self._fitted(), dtype=float)
        return pd.Series(values, index=self.y_.index, name="fitted")

    def get_params(self) -> dict[str, Any]:
        """Plain-valued parameters, shown in the comparison table and stored with the model."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params.items()}

    # --- serialization ------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Serialized fitted model (joblib by default; models with their own format override)."""
        buffer = io.BytesIO()
        joblib.dump(self, buffer, compress=3)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Forecaster:
        model = joblib.load(io.BytesIO(data))
        if not isinstance(model, Forecaster):
            raise ModelError("stored data is not a forecasting model")
        return model

    # --- to implement ---------------------------------------------------------

    @abstractmethod
    def _fit(self, y: pd.Series) -> None: ...

    @abstractmethod
    def _predict(self, h: int, levels: tuple[int, ...]) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
        """Point forecast and, per level, (lower, upper) arrays; empty dict when no levels."""

    @abstractmethod
    def _fitted(self) -> np.ndarray: ...

    # --- helpers for subclasses ---------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "y_"):
            raise ModelError(f"{self.name} is not fitted yet")

    def _fallback_scale(self) -> float:
        """A spread used when a model's own interval is missing or degenerate."""
        y = self.y_.to_numpy()
        diffs = np.abs(np.diff(y[-56:])) if len(y) > 1 else np.array([0.0])
        return float(np.nanmean(diffs)) if diffs.size else 0.0

    def _gaussian_bands(self, mean: np.ndarray, sd: np.ndarray, levels: tuple[int, ...]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        return {level: (mean - z_value(level) * sd, mean + z_value(level) * sd) for level in levels}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


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


def check_series(y: pd.Series) -> pd.Series:
    """A clean daily series or a DataError saying what is wrong with it."""
    if not isinstance(y, pd.Series):
        raise DataError("a series is expected")
    if len(y) == 0:
        raise DataError("the series is empty")
    if not isinstance(y.index, pd.DatetimeIndex):
        raise DataError("the series needs a daily DatetimeIndex")
    values = pd.to_numeric(y, errors="coerce").astype(float)
    if not np.isfinite(values.to_numpy()).all():
        raise DataError("the series has missing or infinite values")
    expected = pd.date_range(y.index[0], periods=len(y), freq="D")
    if not y.index.equals(expected):
        raise DataError("the series must have one value per consecutive day")
    out = pd.Series(values.to_numpy(), index=expected.rename("ds"), name="y")
    return out


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
