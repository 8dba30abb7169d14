"""The forecast page: history and the stored forecasts on one daily index, holidays, the CSV download."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from ..core.calendar import check_country, holidays_between
from ..core.errors import ConfigError
from ..core.series import tenant_today
from ..services.exports import write_csv
from ..services.model_store import active_model_info
from ..services.sales import daily_sales
from ..services.tenants import Tenant, get_tenant, settings_for_tenant
from ..storage import Storage
from .common import stored_forecast

#: History shown on the forecast page (three years and a bit).
HISTORY_DAYS = 3 * 366

__all__ = ["HISTORY_DAYS", "ForecastView", "forecast_csv", "forecast_view"]


# --- forecast ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastView:
    """History and stored forecasts on one daily index.

    `frame` columns: `y` (actuals, NaN from today on), `yhat`, `yhat_lower`,
    `yhat_upper` (80%), `yhat_lower_95`, `yhat_upper_95` (NaN where nothing
    was forecast). Rows before today with a `yhat` are past forecasts, drawn
    under what actually happened.
    """

    tenant: Tenant
    today: date
    frame: pd.DataFrame
    holidays: pd.Series
    model_type: str | None
    model_version: str | None
    last_trained: datetime | None

    @property
    def future(self) -> pd.DataFrame:
        return self.frame.loc[pd.Timestamp(self.today):].dropna(subset=["yhat"])

    @property
    def past_forecasts(self) -> pd.DataFrame:
        return self.frame.loc[: pd.Timestamp(self.today) - pd.Timedelta(days=1)].dropna(subset=["yhat"])


def forecast_view(storage: Storage, tenant_id: str, *, history_days: int = HISTORY_DAYS,
                  now: datetime | None = None) -> ForecastView:
    """History (up to `history_days`) plus every stored forecast, and the holidays over that span.

    Raises DataError for a tenant without sales; a never-trained tenant gets
    its history with an empty forecast (`model_type` None).
    """
    tenant = get_tenant(storage, str(tenant_id))
    today = tenant_today(tenant.timezone, now)
    y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=history_days, now=now)
    forecast = stored_forecast(storage, tenant.id, gte=y.index[0].date())
    frame = pd.concat([y.rename("y"), forecast], axis=1).sort_index()
    frame.index.name = "ds"
    frame = frame.asfreq("D")
    info = active_model_info(storage, tenant.id)
    country = _holiday_country(storage, tenant)
    holidays = holidays_between(country, frame.index[0], frame.index[-1]) if country else pd.Series(dtype=object)
    return ForecastView(tenant, today, frame, holidays,
                        info.model_type if info else None, info.model_version if info else None,
                        info.last_trained if info else None)


def _holiday_country(storage: Storage, tenant: Tenant) -> str | None:
    try:
        return settings_for_tenant(storage, tenant).holidays_country or None
    except ConfigError:
        # An invalid override must not hide the chart; the settings form reports it.
        try:
            return check_country(tenant.country)
        except ConfigError:
            return None


def forecast_csv(view: ForecastView) -> bytes:
    """The forecast from today on as CSV (ISO dates, '.' decimals: for spreadsheets and scripts alike)."""
    future = view.future
    frame = pd.DataFrame({
        "date": future.index.strftime("%Y-%m-%d"),
        "forecast": future["yhat"].round(2).to_numpy(),
        "lower_80": future["yhat_lower"].round(2).to_numpy(),
        "upper_80": future["yhat_upper"].round(2).to_numpy(),
        "lower_95": future["yhat_lower_95"].round(2).to_numpy(),
        "upper_95": future["yhat_upper_95"].round(2).to_numpy(),
        "currency": view.tenant.currency,
        "model": view.model_type or "",
        "model_version": view.model_version or "",
    })
    return write_csv(frame)
