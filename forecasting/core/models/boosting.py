"""Gradient-boosted trees on lag, rolling and calendar features, via mlforecast.

mlforecast does the recursive multi-step forecasting (each day's forecast
feeds the next day's lags) and conformal prediction intervals from its own
rolling windows, so neither is hand-written here.

Stored as data, never pickled: the regressor in its library's own format
(XGBoost's UBJSON, zlib-compressed to a fifth), the feature configuration,
the training series, the in-sample fit and mlforecast's conformity scores,
in a JSON document. Loading rebuilds the mlforecast pipeline from them as
`MLForecast.load` does from its pickles: the series state from `preprocess`
on the same data, then the fitted regressor and the interval calibration
put back in place. A model keeps the features it was stored with.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import numpy as np
import pandas as pd

from ..calendar import HolidayFlag
from ..errors import ModelError
from .base import Forecaster, series_from_json, series_to_json

LAGS = (7, 14, 21, 28)
ROLLING_MEANS = {7: (7, 28)}  # lag -> windows of the rolling means over that lag
DATE_FEATURES = ("dayofweek", "month", "dayofyear", "day")


class _TreeForecaster(Forecaster):
    """Shared mlforecast plumbing; subclasses say which regressor to use and how it is stored."""

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

    def _regressor_to_bytes(self, regressor) -> bytes:
        raise NotImplementedError

    def _regressor_from_bytes(self, data: bytes):
        raise NotImplementedError

    @staticmethod
    def _features() -> dict[str, Any]:
        """The feature configuration, as stored with the model (so a stored model keeps its features)."""
        return {"lags": list(LAGS), "rolling_means": {str(lag): list(w) for lag, w in ROLLING_MEANS.items()},
                "date_features": list(DATE_FEATURES), "holidays": True}

    def _pipeline(self, regressor, features: dict[str, Any]):
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean

        holidays = [HolidayFlag(self.country)] if features["holidays"] else []
        return MLForecast(
            models={"model": regressor},
            freq="D",
            lags=list(features["lags"]),
            lag_transforms={int(lag): [RollingMean(window_size=int(w)) for w in windows]
                            for lag, windows in features["rolling_means"].items()},
            date_features=[*features["date_features"], *holidays],
        )

    def _frame(self, y: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"unique_id": "s", "ds": y.index, "y": y.to_numpy()})

    def _fit(self, y: pd.Series) -> None:
        from mlforecast.utils import PredictionIntervals

        self.features_ = self._features()
        self.forecaster_ = self._pipeline(self._regressor(), self.features_)
        intervals = None
        # Conformal windows need history beyond the features' warm-up; with less, bands fall back.
        h = self.horizon
        if self.with_intervals_ and len(y) >= self.min_train_days + 2 * h:
            intervals = PredictionIntervals(n_windows=2, h=h)
        self.conformal_h_ = h if intervals else 0
        self.forecaster_.fit(self._frame(y), prediction_intervals=intervals, fitted=True)
        fitted = self.forecaster_.forecast_fitted_values()
        self.fitted_ = pd.Series(fitted["model"].to_numpy(), index=pd.DatetimeIndex(fitted["ds"]))

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
        return self.fitted_.reindex(self.y_.index).to_numpy()

    # --- storage: the regressor's own format in a JSON document ---------------------------------

    def to_bytes(self) -> bytes:
        self._check_fitted()
        regressor = zlib.compress(self._regressor_to_bytes(self.forecaster_.models_["model"]))
        scores = self.forecaster_._cs_df  # what fit(prediction_intervals=...) calibrated, None without
        payload = {
            "params": self.get_params(),
            **self._state_to_json(),
            "features": self.features_,
            "regressor": base64.b64encode(regressor).decode("ascii"),
            "fitted": series_to_json(self.fitted_),
            "conformity_scores": None if scores is None else {
                "n_windows": self.forecaster_.prediction_intervals.n_windows,
                "h": self.conformal_h_,
                "scores": scores["model"].tolist(),
            },
        }
        return json.dumps(payload).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> _TreeForecaster:
        try:
            payload = json.loads(data.decode("utf-8"))
            model = cls(**payload["params"])
            model._state_from_json(payload)
            model.features_ = payload["features"]
            model.fitted_ = series_from_json(payload["fitted"])
            regressor = model._regressor_from_bytes(zlib.decompress(base64.b64decode(payload["regressor"])))
            scores = payload["conformity_scores"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, zlib.error) as exc:
            raise ModelError(f"stored {cls.name} model can't be read (one stored before it was kept as JSON "
                             f"needs a retrain): {exc}") from None
        model._rebuild(regressor, scores)
        return model

    def _rebuild(self, regressor, scores: dict[str, Any] | None) -> None:
        """The fitted mlforecast pipeline again, put together as `MLForecast.load` does from its pickles."""
        from mlforecast.utils import PredictionIntervals

        self.forecaster_ = forecaster = self._pipeline(regressor, self.features_)
        forecaster.preprocess(self._frame(self.y_))  # the series state forecasts start from, as fit left it
        forecaster.models_ = {"model": regressor}
        forecaster._cs_df = forecaster._cs_source_scales_ = None
        self.conformal_h_ = 0
        if scores:
            forecaster.prediction_intervals = PredictionIntervals(n_windows=scores["n_windows"], h=scores["h"])
            forecaster._cs_df = pd.DataFrame({"unique_id": "s", "model": np.asarray(scores["scores"], dtype=float)})
            self.conformal_h_ = int(scores["h"])


class XGBoostForecaster(_TreeForecaster):
    """XGBoost regressor on lags 7-28, rolling means, calendar and holiday flags."""

    name = "xgboost"
    requires = ("xgboost", "mlforecast", "sklearn")  # XGBRegressor and mlforecast are scikit-learn estimators

    def _regressor(self):
        from xgboost import XGBRegressor

        return XGBRegressor(n_estimators=self.n_estimators, learning_rate=self.learning_rate, max_depth=4,
                            subsample=0.9, random_state=self.seed, n_jobs=1, verbosity=0)

    def _regressor_to_bytes(self, regressor) -> bytes:
        return bytes(regressor.get_booster().save_raw(raw_format="ubj"))

    def _regressor_from_bytes(self, data: bytes):
        regressor = self._regressor()
        regressor.load_model(bytearray(data))
        return regressor
