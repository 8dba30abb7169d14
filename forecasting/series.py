"""Sales transactions -> one daily series per tenant, in the tenant's time zone."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from .errors import DataError
from .storage import Storage
from .storage.base import sum_by_local_day

#: No sale, refund or day of a small business comes near this in any currency (a trillion: 10^12). The
#: importer refuses amounts beyond it; a series holding a day beyond it (written by someone else) is
#: refused with the day named, instead of training on it.
MAX_ABS_AMOUNT = 1e12


def tenant_today(timezone: str, now: datetime | None = None) -> date:
    """The tenant's current local date; its sales are still coming in, so it is never used."""
    now = now or datetime.now(ZoneInfo("UTC"))
    return now.astimezone(_zone(timezone)).date()


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(f"unknown time zone {timezone!r}") from None


def to_daily(sales: pd.DataFrame, timezone: str, start: date | None, end: date) -> pd.Series:
    """Sum `total` by local date of `fecha`, from `start` (or the first sale) to `end`, zeros filled.

    `fecha` values without a time zone are taken as UTC. Refunds (negative
    totals) count on the day they happened, so a day can be net negative.
    """
    if sales.empty:
        raise DataError("no sales in the requested period")
    totals = pd.to_numeric(sales["total"], errors="coerce")
    if totals.isna().any():
        raise DataError(f"{int(totals.isna().sum())} sale(s) have a total that is not a number")
    daily = sum_by_local_day(sales["fecha"], totals, _zone(timezone))
    first = pd.Timestamp(start) if start else daily.index.min()
    first = max(first, daily.index.min())
    index = pd.date_range(first, pd.Timestamp(end), freq="D", name="ds")
    return daily.reindex(index, fill_value=0.0).astype(float).rename("y")


def daily_sales(
    storage: Storage,
    tenant_id: str,
    *,
    timezone: str = "UTC",
    max_days: int = 730,
    now: datetime | None = None,
) -> pd.Series:
    """The tenant's daily sales up to yesterday (local), at most `max_days` long.

    Days without sales are 0. Raises DataError when the tenant has no sales
    in the window, with the window in the message.
    """
    _zone(timezone)
    end = tenant_today(timezone, now) - timedelta(days=1)
    start = end - timedelta(days=max_days - 1)
    daily = storage.daily_totals(tenant_id, start, end, timezone)
    if daily.empty:
        raise DataError(f"tenant {tenant_id} has no sales between {start} and {end}: add sales or import a CSV first")
    _check_amounts(daily, tenant_id)
    index = pd.date_range(daily.index.min(), pd.Timestamp(end), freq="D", name="ds")
    return daily.reindex(index, fill_value=0.0).astype(float).rename("y")


def _check_amounts(daily: pd.Series, tenant_id: str) -> None:
    values = daily.to_numpy(dtype=float)
    bad = daily[~np.isfinite(values) | (np.abs(np.nan_to_num(values, nan=np.inf)) > MAX_ABS_AMOUNT)]
    if not bad.empty:
        days = ", ".join(f"{day:%Y-%m-%d}" for day in bad.index[:5]) + (" ..." if len(bad) > 5 else "")
        raise DataError(f"tenant {tenant_id} has sales that add up to an impossible amount on {days} (beyond "
                        f"{MAX_ABS_AMOUNT:,.0f} or not a number): a sale was stored with a wrong total; correct or "
                        "delete it, then retrain")


# Daily series per (tenant, time zone, window, local day), shared by everything in the process.
# The hourly feature refresh drops a tenant's entries, so new sales show within the hour.
_CACHE: dict[tuple, pd.Series] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 512


def cached_daily_sales(storage: Storage, tenant_id: str, *, timezone: str = "UTC", max_days: int = 730,
                       now: datetime | None = None) -> pd.Series:
    """`daily_sales`, cached in the process until `drop_cached_series(tenant_id)` or the day changes."""
    key = (id(storage), str(tenant_id), timezone, max_days, tenant_today(timezone, now))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key].copy()
    series = daily_sales(storage, tenant_id, timezone=timezone, max_days=max_days, now=now)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = series
    return series.copy()


def drop_cached_series(tenant_id: str | None = None) -> int:
    """Forget the cached series of one tenant (or all); returns how many were dropped."""
    with _CACHE_LOCK:
        keys = [k for k in _CACHE if tenant_id is None or k[1] == str(tenant_id)]
        for key in keys:
            del _CACHE[key]
    return len(keys)


def series_from_values(values, start: str | date = "2024-01-01") -> pd.Series:
    """A daily series from plain values (tests, CSV tools)."""
    values = np.asarray(values, dtype=float)
    return pd.Series(values, index=pd.date_range(pd.Timestamp(start), periods=len(values), freq="D", name="ds"), name="y")
