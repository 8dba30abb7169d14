"""Learning across the series of one file: one LightGBM over all of them, as one more candidate per series.

`forecast --csv` and `backtest --csv` use it when a file holds at least
`MIN_SERIES` series. One file is one user's series, so learning across them
is allowed (a tenant's products are learned across by `core.demand`, which
trains the same model).

Decisions:

* The model is `core.demand.gbm.gbm_forecasts`, the LightGBM the products
  engine learns across a tenant's products: each series scaled by its recent
  mean, lags 7-28 and window means, the calendar and national holidays,
  Tweedie loss, deterministic. One model for both, not a second copy.
* It competes inside each series' own rolling-origin CV as the candidate
  `lightgbm_across`, beside the configured per-series candidates and their
  ensemble (which may include it). A series gets it only where its own CV
  says it wins, so a file is not worse off than series by series, except
  for the noise of selection itself.
* One training per cutoff day serves every series: the series of one file
  share their last day, so their folds end on the same days, and a 5-fold
  CV costs 5 trainings plus the final one, whatever the number of series.
  Trained at a cutoff, the model sees every series up to that day only: no
  fold looks ahead, not even through another series.
* Only series that end on the file's last day get the candidate; a series
  that stopped earlier is forecast on its own (its folds would need
  trainings of their own), and it counts as unknown after its last day, not
  as zeros, in the others' training.
* Negative values (refunds) count as 0 for this model only; the per-series
  candidates see them as they are.
* A closure is not a sales figure: in a series that sold on at least half
  of its days, a run of `CLOSURE_DAYS` or more days without a sale that
  ended before the cutoff (a shop shut for refurbishment, an export that
  missed months) is unknown to this model, not zero. Learned as zeros, a
  six-month closure of a few Rossmann stores a year earlier taught the model
  "these stores sell nothing in July", and it forecast them at a twentieth
  of their sales. A run still going at the cutoff stays zero (the shop may
  have closed for good), and the rule reads nothing after the cutoff.
* It has no bands of its own: the engine calibrates it on its CV errors
  (conformal), like the ensemble. It is never stored: it exists for one
  file's run (the tenant pipeline forecasts one series per tenant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from .errors import ModelError
from .models import Forecaster, unavailable_reason

NAME = "lightgbm_across"
#: Fewest series in a file for the across-series candidate to compete.
MIN_SERIES = 2
#: Shortest history (days) a series needs at a cutoff: four weeks of lags plus a week to forecast from.
MIN_TRAIN_DAYS = 56
#: Days without a sale, in a row, that make a closure in a series that usually sells (see above).
CLOSURE_DAYS = 28


class AcrossSeries:
    """One file's series as a panel; LightGBM trained across them once per cutoff day (memoized)."""

    def __init__(self, frame: pd.DataFrame, country: str | None = None, seed: int = 0) -> None:
        from .demand.panel import build_panel

        self.panel = build_panel(frame[["unique_id", "ds", "y"]])
        last = frame.groupby(frame["unique_id"].astype(str))["ds"].max()
        self.end = pd.Timestamp(last.max()).normalize()
        rows = pd.Series(np.arange(self.panel.n), index=self.panel.ids)
        ends = ((last.reindex(self.panel.ids) - self.panel.dates[0]).dt.days).to_numpy()
        self.panel.y[np.arange(self.panel.days)[None, :] > ends[:, None]] = np.nan  # unknown, not zero
        self.rows = rows.to_dict()
        self.members = frozenset(str(uid) for uid, day in last.items() if pd.Timestamp(day).normalize() == self.end)
        self.country, self.seed = country, seed
        self.trainings = 0
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def forecast(self, uid: str, cutoff: pd.Timestamp, h: int) -> np.ndarray:
        """Series `uid`'s forecast of the `h` days after `cutoff`, from the model trained on every series up to it."""
        from .demand.gbm import gbm_forecasts

        column = (pd.Timestamp(cutoff).normalize() - self.panel.dates[0]).days
        if uid not in self.rows or column < 0:  # nothing sold by then in the whole file: nothing to learn from
            return np.zeros(h)
        key = (column, h)
        if key not in self._cache:
            panel = replace(self.panel, y=closures_unknown(self.panel.y, column))
            self._cache[key] = gbm_forecasts(panel, column, h, self.country, self.seed)
            self.trainings += 1
        return self._cache[key][self.rows[uid]]

    def candidates(self, uid: str) -> dict[str, Callable[[], Forecaster]]:
        """`{NAME: factory}` for series `uid`, or {} when it does not end on the file's last day."""
        if str(uid) not in self.members:
            return {}
        return {NAME: lambda: AcrossSeriesForecaster(self, str(uid))}


def closures_unknown(y: np.ndarray, cutoff: int) -> np.ndarray:
    """`y` (series x days, NaN where unknown) with the closures ended by column `cutoff` set to NaN.

    A closure: `CLOSURE_DAYS` or more days in a row without a sale, followed
    by a sale on or before `cutoff`, in a series that sold on at least half
    of its known days up to `cutoff`. Nothing after `cutoff` is read.
    """
    out = y.copy()
    seen = y[:, : cutoff + 1]
    with np.errstate(invalid="ignore"):
        known = ~np.isnan(seen)
        selling = (seen > 0) & known
        share = selling.sum(axis=1) / np.maximum(known.sum(axis=1), 1)
    for row in np.flatnonzero(share >= 0.5):
        idle = known[row] & ~selling[row]
        edges = np.diff(np.concatenate([[0], idle.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # run = starts[i] .. ends[i] - 1
        for first, stop in zip(starts, ends, strict=True):
            if stop - first >= CLOSURE_DAYS and stop <= cutoff:  # a sale came after it, by the cutoff
                out[row, first:stop] = np.nan
    return out


def across_series(frame: pd.DataFrame, settings, country: str | None = None) -> AcrossSeries | None:
    """The across-series model for a `unique_id, ds, y` frame, or None when it does not compete:
    fewer than `MIN_SERIES` series, model selection off (`ML_SELECT_BEST`), or LightGBM not installed."""
    if frame["unique_id"].nunique() < MIN_SERIES or not settings.select_best or unavailable_reason("lightgbm"):
        return None
    return AcrossSeries(frame, country)


class AcrossSeriesForecaster(Forecaster):
    """One series' view of an `AcrossSeries` model: fitting notes the cutoff, predicting reads its row."""

    name = NAME
    own_intervals = False  # calibrated on its CV errors by the engine

    def __init__(self, source: AcrossSeries | None = None, series_id: str = "") -> None:
        self.source = source
        self.series_id = series_id

    @property
    def min_train_days(self) -> int:
        return MIN_TRAIN_DAYS

    def _fit(self, y: pd.Series) -> None:
        if self.source is None:
            raise ModelError(f"{NAME} needs the file's series to learn across")
        self.cutoff_ = y.index[-1]

    def _predict(self, h, levels):
        return self.source.forecast(self.series_id, self.cutoff_, h), {}

    def _fitted(self):
        return np.full(len(self.y_), np.nan)  # forecast by weeks ahead from lags: no one-step in-sample fit

    def to_bytes(self) -> bytes:
        raise ModelError(f"{NAME} lives for one file's run and is never stored")
