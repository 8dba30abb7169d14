"""One LightGBM model learned across all of a tenant's products.

Decisions (own features rather than mlforecast, for three reasons: the panel
is already a dense products x days matrix, so every feature is a cumulative
sum away; products start on different days and mlforecast would need them
cut and re-indexed per fold; and a direct forecast by weeks ahead, below,
is one model call per week instead of one per day):

* Scaling: each product's units are divided by its mean daily units over
  the last year of training (`scale`), so big and small sellers share one
  model; features and target are in those units, and log(1 + scale) is a
  feature, so the trees can still tell a 50-a-day line from a 1-a-week one.
* Direct, not recursive: a forecast never feeds on forecasts. Day t of
  week w after the cutoff (w = 1, 2, ...) is forecast from values at day
  t - 7w and before, and `weeks ahead` is a feature: one model learns every
  distance, from training rows built for each w with the features the
  forecast will have. Feeding a week's forecasts back in as the next week's
  lags compounded a log-link model's bias week after week (measured on
  Rossmann stores: forecasts at 0.9, 0.5, 0.3 of the actual sales in weeks
  1, 2, 3).
* Features of day t known at distance d = 7w: the same weekday 1-4 weeks
  before t - d + 7 (lags d, d+7, d+14, d+21), means over the 7/28/91 days
  up to t - d, the standard deviation and the share of days with a sale
  over those 28 days, days since the last sale, the 28 days around the same
  date a year earlier (unknown beyond 50 weeks ahead, or when the series
  sold on fewer than half as many of those days as lately: a shop shut for
  months a year ago says nothing about this year), plus the calendar
  (weekday, month, day of month, national holiday from `core.calendar` when
  a country is given), the product's age, and its price relative to its
  median price when prices are known.
* Tweedie objective (variance power 1.2): demand is a non-negative count
  with many zeros, and a log-link mean model fits that better than squared
  error; it forecasts the mean, which RMSSE rewards.
* Trained on the open days of the last `TRAIN_DAYS` days, for every
  distance, at most `MAX_ROWS` rows over all of them (a seeded sample of the
  same size per distance beyond that), 150 rounds, deterministic, one
  thread: on a shared 2-core machine LightGBM's OpenMP threads spin-wait on
  each other, and 2 threads took 4 times as long as 1 (measured: 300k rows,
  200 rounds, 67 s vs 17 s); parallelism belongs across tenants.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from ..calendar import HolidayFlag
from .panel import Panel

TRAIN_DAYS = 364
MAX_ROWS = 200_000
PARAMS = {
    "objective": "tweedie", "tweedie_variance_power": 1.2, "learning_rate": 0.07, "num_leaves": 31,
    "min_data_in_leaf": 100, "feature_fraction": 0.8, "bagging_fraction": 0.7, "bagging_freq": 1,
    "lambda_l2": 1.0, "max_bin": 63, "num_threads": 1, "deterministic": True, "force_row_wise": True,
    "verbosity": -1, "seed": 0,
}
ROUNDS = 150


def product_scale(panel: Panel, cutoff: int) -> np.ndarray:
    """Mean daily units over the last `TRAIN_DAYS` days up to `cutoff` (all history, then 1, if 0)."""
    recent = panel.y[:, max(0, cutoff + 1 - TRAIN_DAYS) : cutoff + 1]
    with np.errstate(invalid="ignore"), _quiet():
        scale = np.nanmean(recent, axis=1)
        whole = np.nanmean(panel.y[:, : cutoff + 1], axis=1)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, whole)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


@contextmanager
def _quiet():
    """Silence numpy's "mean of empty slice" for products without data in a window (NaN is meant)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


class _Sums:
    """Cumulative sums of a (products, days) matrix for window means ending on any column."""

    def __init__(self, y: np.ndarray) -> None:
        listed = ~np.isnan(y)
        z = np.where(listed, y, 0.0)
        pad = np.zeros((y.shape[0], 1))
        self.z = np.hstack([pad, np.cumsum(z, axis=1)])
        self.z2 = np.hstack([pad, np.cumsum(z * z, axis=1)])
        self.count = np.hstack([pad, np.cumsum(listed, axis=1)])
        self.sales = np.hstack([pad, np.cumsum(z > 0, axis=1)])
        cols = np.broadcast_to(np.arange(y.shape[1]), y.shape)
        self.last_sale = np.maximum.accumulate(np.where(z > 0, cols, -10_000), axis=1)

    def window(self, table: np.ndarray, end: np.ndarray, length: int):
        """Sum and count over columns end-length+1 .. end (NaN-safe; end may be negative)."""
        hi = np.clip(end + 1, 0, table.shape[1] - 1)
        lo = np.clip(end + 1 - length, 0, table.shape[1] - 1)
        return table[:, hi] - table[:, lo], self.count[:, hi] - self.count[:, lo]


def features(y: np.ndarray, sums: _Sums, cols: np.ndarray, scale: np.ndarray, start: np.ndarray,
             calendar: np.ndarray, price_rel: np.ndarray | None, d: int = 7) -> np.ndarray:
    """(products, len(cols), features) for target columns `cols`, from values at cols - d and before."""
    n = y.shape[0]
    s = scale[:, None]
    parts = []
    for k in (d, d + 7, d + 14, d + 21):
        src = cols - k
        lag = np.where(src >= 0, y[:, np.clip(src, 0, None)], np.nan)
        parts.append(lag / s)
    with np.errstate(invalid="ignore", divide="ignore"):
        for length in (7, 28, 91):
            total, count = sums.window(sums.z, cols - d, length)
            parts.append(np.where(count > 0, total / np.maximum(count, 1), np.nan) / s)
        total, count = sums.window(sums.z, cols - d, 28)
        total2, _ = sums.window(sums.z2, cols - d, 28)
        mean = total / np.maximum(count, 1)
        parts.append(np.where(count > 1, np.sqrt(np.maximum(total2 / np.maximum(count, 1) - mean**2, 0)), np.nan) / s)
        sold, _ = sums.window(sums.sales, cols - d, 28)
        selling = np.where(count > 0, sold / np.maximum(count, 1), np.nan)
        parts.append(selling)
        last = sums.last_sale[:, np.clip(cols - d, 0, None)]
        parts.append(np.minimum(np.where(last >= 0, cols - d - last, 365), 365).astype(float))
        total, count = sums.window(sums.z, cols - 350, 28)
        sold, _ = sums.window(sums.sales, cols - 350, 28)
        # A year ago counts only if the series was selling then about as often as lately: a shop shut for
        # months, or a product out of stock, a year ago says nothing about this year's level.
        usable = (count >= 14) & (sold / np.maximum(count, 1) >= 0.5 * np.nan_to_num(selling)) & (d <= 350)
        parts.append(np.where(usable, total / np.maximum(count, 1), np.nan) / s)
    parts.append(np.minimum(cols[None, :] - start[:, None], 365).astype(float) * np.ones((n, 1)))
    parts.append(np.broadcast_to(np.log1p(scale)[:, None], (n, len(cols))))
    parts.append(price_rel[:, cols] if price_rel is not None else np.full((n, len(cols)), np.nan))
    parts.append(np.full((n, len(cols)), d / 7.0))
    for j in range(calendar.shape[1]):
        parts.append(np.broadcast_to(calendar[cols, j][None, :], (n, len(cols))))
    return np.stack(parts, axis=2).astype(np.float32)


def _calendar(dates: pd.DatetimeIndex, country: str | None) -> np.ndarray:
    return np.column_stack([dates.dayofweek, dates.month, dates.day, HolidayFlag(country)(dates)]).astype(float)


def gbm_forecasts(panel: Panel, cutoff: int, h: int, country: str | None = None, seed: int = 0) -> np.ndarray:
    """Forecast (products, h) of the days after column `cutoff` for every product listed by then."""
    import lightgbm as lgb

    n_days = cutoff + 1 + h
    dates = pd.date_range(panel.dates[0], periods=n_days, freq="D")
    is_open = panel.open_mask(dates)
    calendar = _calendar(dates, country)
    scale = product_scale(panel, cutoff)
    y = np.full((panel.n, n_days), np.nan)
    y[:, : cutoff + 1] = panel.y[:, : cutoff + 1]
    listed = panel.start <= cutoff
    price_rel = None
    if panel.price is not None:
        price = np.full((panel.n, n_days), np.nan)
        price[:, : cutoff + 1] = panel.price[:, : cutoff + 1]
        price = pd.DataFrame(price).ffill(axis=1).to_numpy()
        with np.errstate(invalid="ignore"), _quiet():
            median = np.nanmedian(panel.price[:, : cutoff + 1], axis=1)
        price_rel = price / np.where(median > 0, median, np.nan)[:, None]

    cols = np.arange(max(0, cutoff + 1 - TRAIN_DAYS), cutoff + 1)
    cols = cols[is_open[cols]]
    sums = _Sums(y)
    distances = [7 * week for week in range(1, -(-h // 7) + 1)]
    rng = np.random.default_rng(seed)
    xs, targets = [], []
    for d in distances:
        x = features(y, sums, cols, scale, panel.start, calendar, price_rel, d)
        target = y[:, cols] / scale[:, None]
        use = (cols[None, :] >= panel.start[:, None] + 7) & ~np.isnan(target)
        x, target = x[use], target[use]
        share = MAX_ROWS // len(distances)
        if len(target) > share:
            keep = np.sort(rng.choice(len(target), share, replace=False))
            x, target = x[keep], target[keep]
        xs.append(x)
        targets.append(target)
    x, target = np.concatenate(xs), np.concatenate(targets)
    del xs, targets
    out = np.zeros((panel.n, h))
    if len(target) < 50 or not np.any(target > 0):
        return out
    booster = lgb.train({**PARAMS, "seed": seed}, lgb.Dataset(x, target, free_raw_data=True), num_boost_round=ROUNDS)

    # `y` is NaN after the cutoff and every feature reads the cutoff and before: the training sums serve.
    rows = np.flatnonzero(listed)
    for week, d in enumerate(distances):
        block = np.arange(cutoff + 1 + 7 * week, min(cutoff + 1 + 7 * (week + 1), n_days))
        x = features(y, sums, block, scale, panel.start, calendar, price_rel, d)[rows]
        pred = booster.predict(x.reshape(-1, x.shape[2])).reshape(x.shape[0], len(block))
        out[rows[:, None], block[None, :] - cutoff - 1] = \
            np.where(is_open[block][None, :], np.maximum(pred, 0.0) * scale[rows][:, None], 0.0)
    return out
