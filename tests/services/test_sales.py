"""Sales -> daily series: the tenant's time zone, missing days, window, today left out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from forecasting.core.errors import DataError
from forecasting.core.series import to_daily
from forecasting.services.sales import daily_sales

NOW = datetime(2026, 4, 10, 12, tzinfo=timezone.utc)


def add_sales(storage, tenant, tz, sales):
    storage.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant, "timezone": tz}])
    storage.upsert("ventas", tenant, [{"id": f"{tenant}-{i}", "negocio_id": tenant, "fecha": when, "total": total}
                                      for i, (when, total) in enumerate(sales)])


@pytest.mark.parametrize("tz", ["Europe/Madrid", "America/Mexico_City", "Asia/Kolkata", "UTC"])
def test_sales_land_on_the_local_day(storage, tz):
    # 23:30 and 00:30 local time, on the night the clocks change in Europe
    local = pd.Timestamp("2026-03-28 23:30", tz=tz)
    sales = [(local.to_pydatetime(), 10.0), ((local + pd.Timedelta(hours=1)).to_pydatetime(), 4.0),
             (pd.Timestamp("2026-04-02 12:00", tz=tz).to_pydatetime(), -2.5)]  # a refund
    add_sales(storage, "t", tz, sales)
    y = daily_sales(storage, "t", timezone=tz, max_days=60, now=NOW)
    assert y.loc["2026-03-28"] == 10.0 and y.loc["2026-03-29"] == 4.0
    assert y.loc["2026-04-02"] == -2.5
    assert (y.loc["2026-03-30":"2026-04-01"] == 0).all()  # missing days are 0
    assert y.index[-1] == pd.Timestamp("2026-04-09")  # yesterday; today (still selling) is left out
    raw = storage.select("ventas", "t", columns=["fecha", "total"])
    pd.testing.assert_series_equal(y, to_daily(raw, tz, y.index[0].date(), y.index[-1].date()))


def test_window_is_capped_and_starts_at_the_first_sale(storage):
    sales = [(NOW - timedelta(days=d), 1.0) for d in (400, 100, 30, 2)]
    add_sales(storage, "t", "UTC", sales)
    y = daily_sales(storage, "t", timezone="UTC", max_days=120, now=NOW)
    assert len(y) == 100 and y.sum() == 3.0  # the sale 400 days ago is outside; the series starts at the next
    add_sales(storage, "u", "UTC", [(NOW - timedelta(days=10), 5.0)])
    y = daily_sales(storage, "u", timezone="UTC", max_days=120, now=NOW)
    assert len(y) == 10 and y.iloc[0] == 5.0


def test_no_sales_in_the_window_is_a_clear_error(storage):
    add_sales(storage, "t", "UTC", [(NOW - timedelta(days=900), 1.0), (NOW, 3.0)])  # only ancient and today's sales
    with pytest.raises(DataError, match="no sales between"):
        daily_sales(storage, "t", timezone="UTC", max_days=30, now=NOW)


def test_unknown_time_zone_is_a_clear_error(storage):
    add_sales(storage, "t", "UTC", [(NOW - timedelta(days=3), 1.0)])
    with pytest.raises(DataError, match="unknown time zone"):
        daily_sales(storage, "t", timezone="Mars/Olympus", max_days=30, now=NOW)
