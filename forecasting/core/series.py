"""Daily series: sales summed by local day in a time zone, days filled, amounts checked. No storage here
(`services.sales` reads a tenant's series from the database)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from .errors import DataError

#: No sale, refund or day of a small business comes near this in any currency (a trillion: 10^12). The
#: importer refuses amounts beyond it; a series holding a day beyond it (written by someone else) is
#: refused with the day named, instead of training on it.
MAX_ABS_AMOUNT = 1e12


def tenant_today(timezone: str, now: datetime | None = None) -> date:
    """The tenant's current local date; its sales are still coming in, so it is never used."""
    now = now or datetime.now(ZoneInfo("UTC"))
    return now.astimezone(zone(timezone)).date()


def zone(timezone: str) -> ZoneInfo:
    """The IANA zone named `timezone` (empty means UTC); an unknown name is a DataError."""
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(f"unknown time zone {timezone!r}: set negocios.timezone to a name like Europe/Madrid") from None


def sum_by_local_day(stamps, totals, tz: ZoneInfo) -> pd.Series:
    """Sum `totals` by the local date of `stamps` (naive stamps are UTC)."""
    if len(stamps) == 0:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], name="ds"))
    days = pd.to_datetime(stamps, utc=True).dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    values = pd.to_numeric(pd.Series(list(totals) if not isinstance(totals, pd.Series) else totals.to_numpy()),
                           errors="coerce").to_numpy(dtype=float)
    summed = pd.Series(values).groupby(days.to_numpy()).sum()
    summed.index = pd.DatetimeIndex(summed.index, name="ds")
    return summed.astype(float)


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
    daily = sum_by_local_day(sales["fecha"], totals, zone(timezone))
    first = pd.Timestamp(start) if start else daily.index.min()
    return fill_days(daily, max(first, daily.index.min()), end)


def fill_days(daily: pd.Series, first, last) -> pd.Series:
    """`daily` on every day from `first` to `last`, days without a value as 0: the one place days are filled."""
    index = pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="D", name="ds")
    return daily.reindex(index, fill_value=0.0).astype(float).rename("y")


def check_amounts(daily: pd.Series, tenant_id: str) -> None:
    values = daily.to_numpy(dtype=float)
    bad = daily[~np.isfinite(values) | (np.abs(np.nan_to_num(values, nan=np.inf)) > MAX_ABS_AMOUNT)]
    if not bad.empty:
        days = ", ".join(f"{day:%Y-%m-%d}" for day in bad.index[:5]) + (" ..." if len(bad) > 5 else "")
        raise DataError(f"tenant {tenant_id} has sales that add up to an impossible amount on {days} (beyond "
                        f"{MAX_ABS_AMOUNT:,.0f} or not a number): a sale was stored with a wrong total; correct or "
                        "delete it, then retrain")


def series_from_values(values, start: str | date = "2024-01-01") -> pd.Series:
    """A daily series from plain values (tests, CSV tools)."""
    values = np.asarray(values, dtype=float)
    return pd.Series(values, index=pd.date_range(pd.Timestamp(start), periods=len(values), freq="D", name="ds"), name="y")
