"""The mean of several fitted candidates: what the engine uses when their average won in CV."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd

from .base import Forecaster


class EnsembleForecaster(Forecaster):
    """Equal-weight average of member models (each fitted on the same series)."""

    name = "ensemble"
    # Members' own bands can't be averaged into a valid band: the engine calibrates the ensemble
    # on its CV errors, and without that the base class builds a fallback band.
    own_intervals = False

    def __init__(self, members: list[Forecaster] | None = None) -> None:
        self.members = list(members or [])

    @property
    def min_train_days(self) -> int:
        return max((m.min_train_days for m in self.members), default=1)

    def _fit(self, y: pd.Series) -> None:
        for member in self.members:
            member.fit(y, with_intervals=False)

    def _predict(self, h, levels):  # never asked for levels (no intervals of its own)
        means = [member.predict(h, levels=())["yhat"].to_numpy() for member in self.members]
        return np.mean(means, axis=0), {}

    def _fitted(self):
        # Members have no in-sample fit on their first days (lags): those days stay NaN, quietly.
        with self._quiet(RuntimeWarning):
            return np.nanmean([m.fitted().to_numpy() for m in self.members], axis=0)

    def to_bytes(self) -> bytes:
        payload = {
            "members": [{"name": m.name, "data": base64.b64encode(m.to_bytes()).decode("ascii")} for m in self.members],
            **self._state_to_json(),
        }
        return json.dumps(payload).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> EnsembleForecaster:
        from . import load_model

        payload = json.loads(data.decode("utf-8"))
        members = [load_model(m["name"], base64.b64decode(m["data"])) for m in payload["members"]]
        model = cls(members)
        model._state_from_json(payload)
        return model
