"""A tenant's daily sales series, read from storage (summed in the database) and checked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from ..core.errors import DataError
from ..core.series import check_amounts, fill_days, tenant_today, zone
from ..storage import Storage


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
    zone(timezone)
    end = tenant_today(timezone, now) - timedelta(days=1)
    start = end - timedelta(days=max_days - 1)
    daily = storage.daily_totals(tenant_id, start, end, timezone)
    if daily.empty:
        raise DataError(f"tenant {tenant_id} has no sales between {start} and {end}: add sales or import a CSV first")
    check_amounts(daily, tenant_id)
    return fill_days(daily, daily.index.min(), end)
