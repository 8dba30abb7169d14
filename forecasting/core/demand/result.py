"""What `forecast_products` returns: daily forecasts with bands, per-product reasons, and demand paths.

The paths are not stored (5,000 products x hundreds of paths x 28 days
would be gigabytes): each product keeps its forecast and norm, each class
its pool of relative residual paths, and `sample_paths` rebuilds a
product's paths on demand (see `calibration`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from .calibration import sample_paths


@dataclass
class ProductForecast:
    forecast: pd.DataFrame  # unique_id, ds, yhat, yhat_lower_<L>, yhat_upper_<L>
    products: pd.DataFrame  # unique_id, demand_class, adi, cv2, ..., method, reason
    scores: pd.DataFrame  # demand_class, model, mase, rmsse, score, pairs (CV)
    selection: dict[str, tuple[str, ...]]  # demand class -> model(s) averaged
    cv: pd.DataFrame  # fold, cutoff, demand_class, model, unique_id, ds, step, y, yhat
    horizon: int
    levels: tuple[int, ...]
    closed_weekdays: frozenset[int]
    ids: np.ndarray
    yhat: np.ndarray  # (products, horizon)
    norm: np.ndarray  # (products, horizon)
    group: np.ndarray  # pool key of each product (its demand class and ADI band, see `calibration`)
    pools: dict[str, np.ndarray]
    seconds: dict[str, float] = field(default_factory=dict)

    def _row(self, product) -> int:
        hits = np.flatnonzero(self.ids == str(product))
        if hits.size == 0:
            raise DataError(f"product {product!r} is not in this forecast")
        return int(hits[0])

    def demand_class(self, product) -> str:
        return str(self.products["demand_class"].iloc[self._row(product)])

    def sample_paths(self, product) -> np.ndarray:
        """Possible demand over the horizon, (paths, horizon) units per day."""
        i = self._row(product)
        return sample_paths(self.yhat[i], self.norm[i], self.pools[self.group[i]])

    def cumulative_paths(self, product) -> np.ndarray:
        """Demand summed from day 1 to day k, (paths, horizon)."""
        return np.cumsum(self.sample_paths(product), axis=1)

    def expected_demand(self, product, days: int | None = None) -> float:
        """Mean demand summed over the next `days` days (all the horizon by default), from the sample paths.

        Use this, not a sum of `yhat`, for a total: `yhat` is the CV-chosen point
        forecast of each day (scored per product), the paths carry the skew of
        demand (a few large orders), and only they add up to what sells.
        """
        k = self.horizon if days is None else int(days)
        if not 1 <= k <= self.horizon:
            raise DataError(f"days must be between 1 and the horizon ({self.horizon}), got {days}")
        return float(self.cumulative_paths(product)[:, k - 1].mean())

    def cumulative_quantiles(self, product, days: int | Sequence[int] | None = None,
                             qs: Sequence[float] = (0.05, 0.5, 0.8, 0.95)) -> pd.DataFrame:
        """Quantiles of demand summed over the next k days (rows: k; columns: q)."""
        days = list(range(1, self.horizon + 1)) if days is None else ([days] if np.isscalar(days) else list(days))
        bad = [k for k in days if not 1 <= int(k) <= self.horizon]
        if bad:
            raise DataError(f"days must be between 1 and the horizon ({self.horizon}), got {bad}")
        sums = self.cumulative_paths(product)[:, [int(k) - 1 for k in days]]
        table = np.quantile(sums, list(qs), axis=0, method="higher").T
        return pd.DataFrame(table, index=pd.Index([int(k) for k in days], name="days"), columns=list(qs))
