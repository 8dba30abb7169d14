"""Prophet with the tenant's national holidays, stored through Prophet's own JSON serializer."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from ..intervals import z_value
from .base import Forecaster

# Prophet samples to draw its 80% band; the 95% band is scaled from it.
_UNCERTAINTY_SAMPLES = 300


class ProphetForecaster(Forecaster):
    """Prophet: trend, weekly and yearly seasonality, country holidays.

    `log_transform` fits on log1p(sales) (negative days count as zero) and
    transforms back, which keeps multiplicative effects and positive values.
    """

    name = "prophet"
    requires = ("prophet", "cmdstanpy")  # cmdstanpy: its logger is quieted here

    def __init__(self, country: str | None = None, seasonality_mode: str = "additive", log_transform: bool = False) -> None:
        self.country, self.seasonality_mode, self.log_transform = country, seasonality_mode, log_transform

    @property
    def min_train_days(self) -> int:
        return 14

    @classmethod
    def from_settings(cls, settings, country):
        return cls(country=country, seasonality_mode=settings.seasonality_mode, log_transform=settings.log_transform)

    def _new_model(self, with_intervals: bool):
        from cmdstanpy.utils import get_logger
        from prophet import Prophet

        # cmdstanpy's logger announces every fit at INFO on its own handler; warnings still pass.
        get_logger().setLevel(logging.WARNING)
        model = Prophet(
            seasonality_mode=self.seasonality_mode,
            interval_width=0.80,
            uncertainty_samples=_UNCERTAINTY_SAMPLES if with_intervals else 0,
            daily_seasonality=False,
        )
        if self.country:
            model.add_country_holidays(country_name=self.country)
        return model

    def _to_model_space(self, y: np.ndarray) -> np.ndarray:
        return np.log1p(np.maximum(y, 0.0)) if self.log_transform else y

    def _from_model_space(self, y: np.ndarray) -> np.ndarray:
        return np.expm1(np.clip(y, -50, 50)) if self.log_transform else y

    def _fit(self, y: pd.Series) -> None:
        frame = pd.DataFrame({"ds": y.index, "y": self._to_model_space(y.to_numpy())})
        self.model_ = self._new_model(self.with_intervals_)
        self.model_.fit(frame)

    def _predict(self, h, levels):
        future = pd.DataFrame({"ds": pd.date_range(self.y_.index[-1] + pd.Timedelta(days=1), periods=h, freq="D")})
        # Prophet draws its uncertainty from numpy's global generator: seed it so that the
        # same model gives the same bands, and leave the caller's generator as it was.
        state = np.random.get_state()
        try:
            np.random.seed(0)
            forecast = self.model_.predict(future)
        finally:
            np.random.set_state(state)
        mean = forecast["yhat"].to_numpy()
        bands = {}
        if levels and "yhat_lower" in forecast:
            half80 = (forecast["yhat_upper"].to_numpy() - forecast["yhat_lower"].to_numpy()) / 2
            for level in levels:
                half = half80 * z_value(level) / z_value(80)
                bands[level] = (self._from_model_space(mean - half), self._from_model_space(mean + half))
        return self._from_model_space(mean), bands

    def _fitted(self):
        history = pd.DataFrame({"ds": self.y_.index})
        fitted = self.model_.predict(history)["yhat"].to_numpy()
        return self._from_model_space(fitted)

    # Prophet objects are stored with Prophet's own serializer, never pickled.
    def to_bytes(self) -> bytes:
        from prophet.serialize import model_to_json

        payload = {"params": self.get_params(), **self._state_to_json(), "model": model_to_json(self.model_)}
        return json.dumps(payload).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> ProphetForecaster:
        from prophet.serialize import model_from_json

        payload = json.loads(data.decode("utf-8"))
        model = cls(**payload["params"])
        model._state_from_json(payload)
        model.model_ = model_from_json(payload["model"])
        return model
