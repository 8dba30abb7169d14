"""The one protocol every forecasting candidate speaks.

A candidate is a small class in the scikit-learn style: the constructor's
keyword arguments are its parameters, each stored unchanged (or normalized,
say a list to a tuple) in the attribute of the same name and nowhere else,
so `get_params` reads them from the signature; `fit` learns and returns
`self`, learned state ends with `_`, `predict` never refits. It declares
what it needs (`min_train_days`, `requires`) so cross-validation can skip it
with its own reason instead of an `if` about its name, and whether it makes
intervals of its own (`own_intervals`). What several models do alike --
fitting on a recent window, silencing a library's warnings, storing the
training series and calibration as JSON -- is a helper here.

`predict(h, levels)` returns a frame indexed by date with `yhat` and, per
level, `yhat_lower_<L>` / `yhat_upper_<L>`. The base class guarantees what
every caller relies on: no NaN, `lower <= yhat <= upper`, wider bands for
higher levels, nothing below zero (sales).
"""

from __future__ import annotations

import inspect
import io
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import joblib
import numpy as np
import pandas as pd

from ..errors import DataError, ModelError
from ..intervals import Conformal, sanitize_forecast, z_value


class Forecaster(ABC):
    """Base class of every candidate model."""

    #: Registry name, also the `model_type` stored in `ml_models`.
    name: ClassVar[str] = "base"
    #: Packages (import names) the model needs beyond the common ones (`models.COMMON_PACKAGES`): a missing
    #: one is a recorded skip, and their versions are stored with every model (another one refuses to load it).
    requires: ClassVar[tuple[str, ...]] = ()
    #: Whether the model makes prediction intervals of its own. One that doesn't (an average of
    #: members' bands is no band) is never asked for them: it needs conformal calibration
    #: (`calibrate`), and without it gets the fallback band built from its typical daily change.
    own_intervals: ClassVar[bool] = True
    #: Whether the model takes the shop's calendar as known-future features of its own (`use_calendar`
    #: before `fit`); the others see it through `core.events.CalendarAware`'s adjustment.
    takes_calendar: ClassVar[bool] = False

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The model's parameters: its constructor's arguments, in their order (scikit-learn's rule)."""
        if cls.__init__ is object.__init__:
            return ()
        names = []
        for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ takes *{parameter.name}: a parameter must have a name")
            names.append(parameter.name)
        return tuple(names)

    @property
    def min_train_days(self) -> int:
        """Shortest history (days) the model can be fitted on.

        Declared as a property by every model, whether it is a constant or
        depends on the parameters (a season, an order, the members).
        """
        return 1

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
        # Calibrated bands replace the model's own, so it isn't asked for them then either.
        asked = levels if calibration is None and self.own_intervals else ()
        try:
            mean, bands = self._predict(h, asked)
        except (DataError, ModelError):
            raise
        except Exception as exc:
            raise ModelError(f"{self.name} could not forecast: {exc}") from exc
        if calibration:
            bands = calibration.bands(np.asarray(mean, dtype=float), levels)
        return sanitize_forecast(index, mean, bands, levels, fallback=self._fallback_scale())

    def use_calendar(self, calendar: Any) -> Forecaster:
        """Take the shop's calendar (`core.events.Calendar`) for past and future days: models that
        declare `takes_calendar` override this; it is not stored with the model, so a stored model is
        given the calendar again before it forecasts."""
        raise NotImplementedError(f"{self.name} takes no calendar")

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
        """The parameters, read from the attributes of their names, as plain (JSON) values.

        Stored with the model. `type(self)(**get_params())` is the same model, unfitted,
        except for a composite: a member model shows as its name and parameters.
        """
        return {name: _plain(getattr(self, name)) for name in self.param_names()}

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

    @staticmethod
    @contextmanager
    def _quiet(category: type[Warning] = Warning) -> Iterator[None]:
        """Silence a library's warnings (statsmodels and statsforecast warn freely on short or flat
        series; the CV score is what judges a fit)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category)
            yield

    def _train_window(self, y: pd.Series, max_days: int | None) -> pd.Series:
        """The last `max_days` days of `y` (all of it when None), for models whose fit time grows
        with length; `offset_` is where the window starts in `y`."""
        window = y.iloc[-max_days:] if max_days else y
        self.offset_ = len(y) - len(window)
        return window

    def _over_history(self, window_values: Any) -> np.ndarray:
        """In-sample values of the training window placed over the whole history, NaN before it."""
        fitted = np.full(len(self.y_), np.nan)
        fitted[self.offset_ :] = np.asarray(window_values, dtype=float)
        return fitted

    def _state_to_json(self) -> dict[str, Any]:
        """What a model stored as JSON keeps besides its own parts: the training series, whether
        it was fitted with intervals, and its calibration."""
        conformal = getattr(self, "conformal_", None)
        return {
            "with_intervals": self.with_intervals_,
            "y": series_to_json(self.y_),
            "conformal": conformal.to_dict() if conformal else None,
        }

    def _state_from_json(self, payload: dict[str, Any]) -> None:
        """Restore what `_state_to_json` kept (a model stored without `with_intervals` was fitted with them)."""
        self.y_ = series_from_json(payload["y"]).rename("y")
        self.with_intervals_ = bool(payload.get("with_intervals", True))
        if payload.get("conformal"):
            self.calibrate(Conformal(**payload["conformal"]))

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
        params = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.param_names())
        return f"{type(self).__name__}({params})"


def series_to_json(series: pd.Series) -> dict[str, Any]:
    """A daily series as JSON: its first day and its values."""
    if not series.index.equals(pd.date_range(series.index[0], periods=len(series), freq="D")):
        raise ModelError("only a series of consecutive days is stored as its first day and values")
    return {"start": series.index[0].isoformat(), "values": series.tolist()}


def series_from_json(data: dict[str, Any]) -> pd.Series:
    values = data["values"]
    return pd.Series(values, index=pd.date_range(data["start"], periods=len(values), freq="D", name="ds"), dtype=float)


def _plain(value: Any) -> Any:
    """A parameter as JSON would hold it: tuples as lists, a model as its name and parameters."""
    if isinstance(value, Forecaster):
        return {"name": value.name, "params": value.get_params()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


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

