"""LightGBM on weekly lags, level-relative, forecast a week at a time.

Every feature of day t looks at least 7 days back (lags 7..35, rolling means
of lag 7) or at the calendar, so the 7 days after the last observation can
be predicted at once from actuals, the next 7 from actuals and those
predictions, and so on: one model call per week of horizon instead of one
per day. The result is exactly what day-by-day recursion would give, at a
fraction of the cost, which is what lets a tenant retrain in about a second.

Sales are modelled relative to their recent level (the mean of the 28 days
that end 7 days before), so a tree learns shapes -- weekday profile, closed
days, holiday effects, promotion cycles seen in lags 14/28 -- that carry over
when a shop grows or shrinks, instead of absolute amounts it can't
extrapolate.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..calendar import holidays_between
from ..errors import ModelError
from .base import Forecaster

LAGS = (7, 14, 21, 28, 35)
WARMUP = 35  # the longest look-back of any feature


def calendar_features(dates: pd.DatetimeIndex, country: str | None) -> np.ndarray:
    """Weekday, month, day of year/month, and distance to the nearest national holidays (capped at 14 days)."""
    columns = [dates.dayofweek, dates.month, dates.dayofyear, dates.day]
    if country:
        names = holidays_between(country, dates.min() - pd.Timedelta(days=30), dates.max() + pd.Timedelta(days=30))
        holiday_days = names.index.normalize().unique().sort_values().to_numpy()
    else:
        holiday_days = np.array([], dtype="datetime64[ns]")
    values = dates.normalize().to_numpy()
    if holiday_days.size:
        position = np.searchsorted(holiday_days, values)
        after = np.clip(position, 0, holiday_days.size - 1)
        before = np.clip(position - 1, 0, holiday_days.size - 1)
        to_next = (holiday_days[after] - values) / np.timedelta64(1, "D")
        since_last = (values - holiday_days[before]) / np.timedelta64(1, "D")
        to_next = np.where(to_next < 0, 14, np.minimum(to_next, 14))
        since_last = np.where(since_last < 0, 14, np.minimum(since_last, 14))
    else:
        to_next = since_last = np.full(len(dates), 14.0)
    is_holiday = (to_next == 0).astype(float)
    return np.column_stack([*columns, is_holiday, to_next, since_last]).astype(float)


def lag_features(y: np.ndarray, rows: np.ndarray, floor: float, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Level-relative lag features for positions `rows` of `y`, and the level itself.

    Uses only y[t-7] and earlier, so positions up to 7 days past the known
    data can be computed at once.
    """
    cumsum = np.concatenate([[0.0], np.cumsum(y)])

    def window_mean(end_offset: int, length: int) -> np.ndarray:
        end = rows - end_offset + 1  # inclusive end t - end_offset
        return (cumsum[end] - cumsum[end - length]) / length

    level = np.maximum(window_mean(7, 28), floor) if normalize else np.ones(len(rows))
    lags = np.column_stack([y[rows - k] for k in LAGS])
    # Only relative values: an absolute level, a same-weekday mean or a zero-share column were
    # tried and each made forecasts worse on real stores (trees split on level they can't extrapolate).
    features = np.column_stack([lags / level[:, None], window_mean(7, 7) / level])
    return features, level


#: The shop's calendar as LightGBM's known-ahead features (`core.events.Calendar.flags`).
KNOWN_KINDS = ("closed", "promotion", "holiday", "event")


class LightGBMForecaster(Forecaster):
    """Gradient-boosted trees (LightGBM) on level-relative weekly lags and the calendar.

    With the shop's calendar (`use_calendar`), its closed, promotion, holiday
    and event days are four more features, for past and forecast days alike.
    """

    name = "lightgbm"
    requires = ("lightgbm",)
    takes_calendar = True

    def __init__(self, country: str | None = None, n_estimators: int = 100, learning_rate: float = 0.1,
                 num_leaves: int = 15, objective: str = "l1", normalize: bool = True, sample: float = 0.8,
                 seed: int = 0) -> None:
        self.normalize, self.sample = normalize, sample
        self.country, self.n_estimators, self.learning_rate = country, n_estimators, learning_rate
        self.num_leaves, self.objective, self.seed = num_leaves, objective, seed

    @property
    def min_train_days(self) -> int:
        return WARMUP + 56  # warm-up plus eight weeks to learn from

    @classmethod
    def from_settings(cls, settings, country):
        return cls(country=country)

    def _matrix(self, y: np.ndarray, dates: pd.DatetimeIndex, rows: np.ndarray):
        lagged, level = lag_features(y, rows, self.floor_, self.normalize)
        return np.column_stack([lagged, self.calendar_[rows]]), level

    def use_calendar(self, calendar) -> LightGBMForecaster:
        self.known_ = calendar
        if hasattr(self, "y_"):  # a stored model: its features again, with the calendar as it is now
            self._extend_calendar(len(self.y_) + 400)
        return self

    def _fit(self, y: pd.Series) -> None:
        from lightgbm import LGBMRegressor

        self.with_calendar_ = getattr(self, "known_", None) is not None

        values = y.to_numpy(dtype=float)
        positive = values[values > 0]
        # A floor for the level keeps ratios finite after long closures.
        self.floor_ = float(0.05 * np.median(positive)) if positive.size else 1.0
        self._extend_calendar(len(values) + 400)
        rows = np.arange(WARMUP, len(values))
        features, level = self._matrix(values, y.index, rows)
        regressor = LGBMRegressor(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=10, max_bin=63, subsample=self.sample, subsample_freq=1, colsample_bytree=self.sample,
            objective=self.objective, random_state=self.seed, n_jobs=1, verbosity=-1,
        )
        regressor.fit(features, values[rows] / level)
        self.booster_ = regressor.booster_  # what predicts (no per-call input checks), and what is stored

    def _extend_calendar(self, length: int) -> None:
        dates = pd.date_range(self.y_.index[0], periods=length, freq="D")
        self.calendar_ = calendar_features(dates, self.country)
        if getattr(self, "with_calendar_", False):
            # A model trained with the calendar's features always gets them (an empty calendar: all 0).
            from ..events import Calendar

            known = getattr(self, "known_", None) or Calendar()
            self.calendar_ = np.column_stack([self.calendar_, known.flags(dates, KNOWN_KINDS).to_numpy()])

    def _predict(self, h, levels):
        n = len(self.y_)
        if n + h > len(self.calendar_):
            self._extend_calendar(n + h + 400)
        values = np.concatenate([self.y_.to_numpy(dtype=float), np.zeros(h)])
        dates = pd.date_range(self.y_.index[0], periods=n + h, freq="D")
        for start in range(n, n + h, 7):
            rows = np.arange(start, min(start + 7, n + h))
            features, level = self._matrix(values, dates, rows)
            ratio = self.booster_.predict(features)
            # Closed days: trees split on "lag exactly 0", so a predicted 0.0001 fed back as next week's
            # lag would read as an open day. Anything under 1% of the level is a closed day: 0.
            values[rows] = np.where(ratio < 0.01, 0.0, ratio * level)
        mean = values[n:]
        if not levels:
            return mean, {}
        # In-sample spread grown with the horizon; the engine replaces these with CV-calibrated bands.
        residuals = (self.y_ - self.fitted()).dropna().to_numpy()
        sigma = float(np.std(residuals)) if residuals.size > 1 else 0.0
        return mean, self._gaussian_bands(mean, sigma * np.sqrt(1 + np.arange(h) / 7), levels)

    # Stored in LightGBM's own text format inside a JSON document, never pickled: loading it runs no code.
    def to_bytes(self) -> bytes:
        self._check_fitted()
        payload = {
            "params": self.get_params(),
            **self._state_to_json(),
            "floor": self.floor_,
            "with_calendar": self.with_calendar_,
            "booster": self.booster_.model_to_string(),
        }
        return json.dumps(payload).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> LightGBMForecaster:
        from lightgbm import Booster

        try:
            payload = json.loads(data.decode("utf-8"))
            model = cls(**payload["params"])
            model._state_from_json(payload)
            model.floor_ = float(payload["floor"])
            model.with_calendar_ = bool(payload.get("with_calendar", False))
            model.booster_ = Booster(model_str=payload["booster"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ModelError(f"stored lightgbm model can't be read: {exc}") from None
        model._extend_calendar(len(model.y_) + 400)
        return model

    def _fitted(self):
        # Computed on demand: cross-validation never needs it, anomaly detection does once.
        values = self.y_.to_numpy(dtype=float)
        fitted = np.full(len(values), np.nan)
        rows = np.arange(WARMUP, len(values))
        if rows.size:
            features, level = self._matrix(values, self.y_.index, rows)
            fitted[rows] = self.booster_.predict(features) * level
        return fitted
