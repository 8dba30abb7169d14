"""One tenant's product sales as a dense panel: products x days, nothing before a product's first sale.

Decisions:

* A product's series starts on its first day with a sale (units > 0). Days
  before it are NaN, not zeros: the product was not listed yet, and zeros
  there would make it look intermittent and drag its forecast down.
* Every day from the first sale to the tenant's last day (`end`, the last
  `ds` in the frame unless given) is in the panel; a day without a row is 0.
* Rows for the same product and day are added up (the input should already
  be daily sums; a duplicate is most likely a split import).
* Negative units (returns booked as sales) are counted as 0 demand and the
  product's note says so; NaN or infinite units are a DataError.
* `price` is optional; within a product it is carried forward over days
  without a price and into the forecast days (the price is assumed to stay).
* Closed weekdays: a weekday on which the whole tenant sold nothing on at
  least 80% of the last 12 weeks, while the other weekdays had sales on at
  least 80% of theirs, is a closed day. Demand on it is forecast as 0 with
  zero-width bands, and the local models are fitted on open days only, so
  a shop shut on Sundays does not get its Saturday demand spread over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError

#: Look-back (weeks) and thresholds of the closed-weekday rule.
CLOSED_WEEKS = 12
CLOSED_SHARE = 0.8


@dataclass
class Panel:
    ids: np.ndarray  # product ids, sorted
    dates: pd.DatetimeIndex  # every day from the first first-sale to `end`
    y: np.ndarray  # (products, days) float, NaN before the first sale
    start: np.ndarray  # column of each product's first sale; len(dates) when it never sold
    price: np.ndarray | None  # (products, days) carried forward, NaN where unknown
    closed_weekdays: frozenset[int]
    notes: dict[str, str]  # product -> data note (negative units ...)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def days(self) -> int:
        return len(self.dates)

    def open_mask(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return ~np.isin(dates.dayofweek, list(self.closed_weekdays))

    def future_dates(self, h: int) -> pd.DatetimeIndex:
        return pd.date_range(self.dates[-1] + pd.Timedelta(days=1), periods=h, freq="D", name="ds")


def build_panel(frame: pd.DataFrame, end=None) -> Panel:
    """The panel of `frame` (`unique_id, ds, y`, optional `price`), or a DataError saying what is wrong."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError("a data frame with columns unique_id, ds, y is expected")
    missing = [c for c in ("unique_id", "ds", "y") if c not in frame.columns]
    if missing:
        raise DataError(f"the sales frame lacks column(s) {', '.join(missing)} (expected unique_id, ds, y)")
    if frame.empty:
        raise DataError("the sales frame is empty: no product has any day of sales")
    data = frame[["unique_id", "ds", "y", *(["price"] if "price" in frame.columns else [])]].copy()
    data["unique_id"] = data["unique_id"].astype(str)
    try:
        data["ds"] = pd.to_datetime(data["ds"]).dt.normalize()
    except (ValueError, TypeError) as exc:
        raise DataError(f"column ds has values that are not dates ({exc})") from None
    data["y"] = pd.to_numeric(data["y"], errors="coerce")
    bad = ~np.isfinite(data["y"].to_numpy(dtype=float))
    if bad.any():
        raise DataError(f"{int(bad.sum())} row(s) have units that are missing or not a number, e.g. product "
                        f"{data.loc[bad, 'unique_id'].iloc[0]} on {data.loc[bad, 'ds'].iloc[0]:%Y-%m-%d}")
    notes: dict[str, str] = {}
    for uid in data.loc[data["y"] < 0, "unique_id"].unique():
        notes[uid] = "negative units (returns) were counted as no demand"
    data["y"] = data["y"].clip(lower=0.0)
    last = pd.Timestamp(end).normalize() if end is not None else data["ds"].max()
    data = data[data["ds"] <= last]
    if data.empty:
        raise DataError(f"no sales on or before {last:%Y-%m-%d}")

    daily = data.groupby(["unique_id", "ds"], sort=True)["y"].sum()
    ids = np.array(sorted(data["unique_id"].unique()), dtype=object)
    selling = daily[daily > 0].reset_index()
    firsts = selling.groupby("unique_id")["ds"].min()
    first_day = firsts.min() if len(firsts) else last
    dates = pd.date_range(first_day, last, freq="D", name="ds")
    row = pd.Series(np.arange(len(ids)), index=ids)
    start = np.full(len(ids), len(dates), dtype=int)
    if len(firsts):
        start[row[firsts.index].to_numpy()] = ((firsts - first_day).dt.days).to_numpy()

    y = np.zeros((len(ids), len(dates)))
    kept = daily.reset_index()
    kept = kept[kept["ds"] >= first_day]
    y[row[kept["unique_id"]].to_numpy(), (kept["ds"] - first_day).dt.days.to_numpy()] = kept["y"].to_numpy()
    y[np.arange(len(dates))[None, :] < start[:, None]] = np.nan

    price = None
    if "price" in data.columns:
        prices = data.dropna(subset=["price"]).groupby(["unique_id", "ds"])["price"].mean().reset_index()
        prices = prices[prices["ds"] >= first_day]
        price = np.full(y.shape, np.nan)
        price[row[prices["unique_id"]].to_numpy(), (prices["ds"] - first_day).dt.days.to_numpy()] = \
            pd.to_numeric(prices["price"], errors="coerce").to_numpy(dtype=float)
        price = pd.DataFrame(price).ffill(axis=1).to_numpy()
    return Panel(ids, dates, y, start, price, closed_weekdays(y, dates), notes)


def closed_weekdays(y: np.ndarray, dates: pd.DatetimeIndex) -> frozenset[int]:
    """Weekdays the tenant does not trade on (see the module docstring); empty when unclear."""
    span = min(len(dates), CLOSED_WEEKS * 7)
    if span < 28:
        return frozenset()
    total = np.nansum(y[:, -span:], axis=0)
    weekday = dates[-span:].dayofweek
    zero_share = pd.Series(total == 0).groupby(weekday).mean()
    closed = {int(d) for d, share in zero_share.items() if share >= CLOSED_SHARE}
    open_shares = zero_share[[d for d in zero_share.index if d not in closed]]
    if not closed or len(closed) >= 7 or (open_shares > 1 - CLOSED_SHARE).any():
        return frozenset()
    return frozenset(closed)
