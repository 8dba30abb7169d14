"""The forecast page: history and the stored forecasts on one daily index, holidays, what-if."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from ..core.events import Calendar, Effect, Event
from ..core.series import tenant_today
from ..services.model_store import active_model_info
from ..services.sales import daily_sales
from ..services.tenants import Tenant, get_tenant
from ..storage import Storage
from .calendar import learned_effects
from .common import shop_calendar, stored_forecast

#: History shown on the forecast page (three years and a bit).
HISTORY_DAYS = 3 * 366

__all__ = ["HISTORY_DAYS", "ForecastView", "WhatIf", "forecast_view", "what_if"]


# --- forecast ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastView:
    """History and stored forecasts on one daily index.

    `frame` columns: `y` (actuals, NaN from today on), `yhat`, `yhat_lower`,
    `yhat_upper` (80%), `yhat_lower_95`, `yhat_upper_95` (NaN where nothing
    was forecast). Rows before today with a `yhat` are past forecasts, drawn
    under what actually happened. `holidays` names every day the shop's
    calendar knows (public holidays, its own events); `closed` marks the days
    it is closed; `effects` are what the last training learned each kind of
    day does.
    """

    tenant: Tenant
    today: date
    frame: pd.DataFrame
    holidays: pd.Series
    model_type: str | None
    model_version: str | None
    last_trained: datetime | None
    closed: pd.Series = field(default_factory=lambda: pd.Series(dtype=bool))
    effects: tuple[Effect, ...] = ()
    units: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))  # products' forecast units per day

    @property
    def future(self) -> pd.DataFrame:
        return self.frame.loc[pd.Timestamp(self.today):].dropna(subset=["yhat"])

    @property
    def past_forecasts(self) -> pd.DataFrame:
        return self.frame.loc[: pd.Timestamp(self.today) - pd.Timedelta(days=1)].dropna(subset=["yhat"])


def forecast_view(storage: Storage, tenant_id: str, *, history_days: int = HISTORY_DAYS,
                  now: datetime | None = None, lang: str | None = None) -> ForecastView:
    """History (up to `history_days`) plus every stored forecast, and the holidays over that span
    (named in `lang` where the holidays package can).

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
    calendar = shop_calendar(storage, tenant, lang)
    days = calendar.days(frame.index[0], frame.index[-1])
    labels = days["label"]
    return ForecastView(tenant, today, frame, labels[labels != ""],
                        info.model_type if info else None, info.model_version if info else None,
                        info.last_trained if info else None, days["closed"],
                        tuple(learned_effects(info, calendar.holiday_names)), _units(storage, tenant.id, today))


def _units(storage: Storage, tenant_id: str, today: date) -> pd.Series:
    """The shop's product forecasts summed per day from today (empty when products were never forecast)."""
    rows = storage.select("product_forecasts", tenant_id, columns=["forecast_date", "yhat"],
                          gte={"forecast_date": today})
    if rows.empty:
        return pd.Series(dtype=float)
    return rows.groupby(pd.to_datetime(rows["forecast_date"]))["yhat"].sum().rename("units")


@dataclass(frozen=True)
class WhatIf:
    """The forecast with and without a hypothetical event: nothing is saved, nothing retrained."""

    before: pd.DataFrame  # the days ahead as stored (BAND_COLUMNS)
    after: pd.DataFrame  # the same days with the event
    days: pd.DatetimeIndex  # the event's days within the forecast
    effect: Effect | None  # what was applied (None: a closure, or nothing learned for the kind)
    units: tuple[float, float] | None = None  # the products' units on those days, without and with (None: no products)

    @property
    def total_before(self) -> float:
        return float(self.before["yhat"].sum())

    @property
    def total_after(self) -> float:
        return float(self.after["yhat"].sum())


def what_if(view: ForecastView, event: Event) -> WhatIf:
    """The days ahead with `event` added: a closure zeroes its days; a promotion, holiday or event multiplies
    them by what the last training learned for its name or kind (nothing learned: nothing changes)."""
    future = view.future.drop(columns=["y"], errors="ignore")
    table = Calendar((event,)).days(future.index.min(), future.index.max()) if len(future) else None
    if table is None:
        return WhatIf(future, future, pd.DatetimeIndex([]), None)
    hit = table.index[table["tags"].map(bool)]
    effect = None
    if event.kind == "closed":
        factor = 0.0
    else:
        named = {e.name: e for e in view.effects if e.name is not None}
        kinds = {e.kind: e for e in view.effects if e.name is None}
        effect = named.get(event.name) or kinds.get(event.kind)
        factor = effect.multiplier if effect and event.kind != "one_off" else 1.0
    after = future.copy()
    after.loc[hit] = future.loc[hit] * factor
    units = None
    if len(view.units):
        # The shop's effect applied to its products' units: a product's own effect is not learned yet.
        on_days = float(view.units.reindex(hit).fillna(0.0).sum())
        units = (on_days, on_days * factor)
    return WhatIf(future, after, hit, effect, units)
