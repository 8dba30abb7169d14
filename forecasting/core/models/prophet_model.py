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


#: Kinds of the shop's calendar that become 0/1 regressors (each kind's days, past and future).
REGRESSORS = ("promotion", "event")


class ProphetForecaster(Forecaster):
    """Prophet: trend, weekly and yearly seasonality, country holidays.

    `log_transform` fits on log1p(sales) (negative days count as zero) and
    transforms back, which keeps multiplicative effects and positive values.
    With the shop's calendar (`use_calendar`), the shop's own holidays are
    Prophet holidays, by name, and its promotion and event days are two 0/1
    regressors, for past and forecast days alike.
    """

    name = "prophet"
    requires = ("prophet", "cmdstanpy")  # cmdstanpy: its logger is quieted here
    takes_calendar = True

    def __init__(self, country: str | None = None, seasonality_mode: str = "additive", log_transform: bool = False) -> None:
        self.country, self.seasonality_mode, self.log_transform = country, seasonality_mode, log_transform

    @property
    def min_train_days(self) -> int:
        return 14

    @classmethod
    def from_settings(cls, settings, country):
        return cls(country=country, seasonality_mode=settings.seasonality_mode, log_transform=settings.log_transform)

    def use_calendar(self, calendar) -> ProphetForecaster:
        self.known_ = calendar
        return self

    def _days(self, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """The calendar's regressors over `dates` (all 0 without a calendar)."""
        from ..events import Calendar

        return (getattr(self, "known_", None) or Calendar()).flags(dates, REGRESSORS)

    def _shop_holidays(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
        """The shop's own holidays (not the country's, which Prophet adds itself) as Prophet's holidays frame."""
        calendar = getattr(self, "known_", None)
        if calendar is None:
            return None
        own = {event.name for event in calendar.shop_events() if event.kind == "holiday"}
        if not own:
            return None
        table = calendar.days(start, end)
        rows = [(name, day) for day, tags in table["tags"].items() for kind, name in tags
                if kind == "holiday" and name in own]
        return pd.DataFrame(rows, columns=["holiday", "ds"]) if rows else None

    def _new_model(self, with_intervals: bool, y: pd.Series):
        from cmdstanpy.utils import get_logger
        from prophet import Prophet

        # cmdstanpy's logger announces every fit at INFO on its own handler; warnings still pass.
        get_logger().setLevel(logging.WARNING)
        holidays = self._shop_holidays(y.index[0], y.index[-1] + pd.Timedelta(days=730)) \
            if self.with_calendar_ else None
        model = Prophet(
            seasonality_mode=self.seasonality_mode,
            interval_width=0.80,
            uncertainty_samples=_UNCERTAINTY_SAMPLES if with_intervals else 0,
            daily_seasonality=False,
            holidays=holidays,
        )
        if self.country:
            model.add_country_holidays(country_name=self.country)
        return model

    def _to_model_space(self, y: np.ndarray) -> np.ndarray:
        return np.log1p(np.maximum(y, 0.0)) if self.log_transform else y

    def _from_model_space(self, y: np.ndarray) -> np.ndarray:
        return np.expm1(np.clip(y, -50, 50)) if self.log_transform else y

    def _fit(self, y: pd.Series) -> None:
        self.with_calendar_ = getattr(self, "known_", None) is not None
        frame = pd.DataFrame({"ds": y.index, "y": self._to_model_space(y.to_numpy())})
        self.model_ = self._new_model(self.with_intervals_, y)
        if self.with_calendar_:
            known = self._days(y.index)
            for kind in REGRESSORS:
                if known[kind].nunique() > 1:  # a regressor constant in training can't be learned
                    self.model_.add_regressor(kind)
                    frame[kind] = known[kind].to_numpy()
        self.model_.fit(frame)

    def _with_regressors(self, frame: pd.DataFrame) -> pd.DataFrame:
        used = [kind for kind in REGRESSORS if kind in self.model_.extra_regressors]
        if used:
            known = self._days(pd.DatetimeIndex(frame["ds"]))
            for kind in used:
                frame[kind] = known[kind].to_numpy()
        return frame

    def _predict(self, h, levels):
        future = self._with_regressors(pd.DataFrame(
            {"ds": pd.date_range(self.y_.index[-1] + pd.Timedelta(days=1), periods=h, freq="D")}))
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
        history = self._with_regressors(pd.DataFrame({"ds": self.y_.index}))
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
