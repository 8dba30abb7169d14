"""What several pages share: where the data is, the freshness stamp, the stored forecast, small helpers.

The view modules (`overview`, `forecast`, `comparison`, `anomalies`,
`models`, `settings`, `notifications`, `jobs`) are pure functions over a
`Storage`, no Streamlit. Each page calls one or two of them and hands the
result to a figure or table builder in `forecasting.ui`. Results hold raw
numbers and dates; formatting for a language, locale and currency is the
UI's job.

Pages cache these results keyed by (database, tenant, `freshness(...)`), so
`freshness` must change whenever something the views read changes: a
retrain (new active version), new sales, or edited tenant settings. A stale
cache entry is then never served, whichever process or user made the change.

Dates are the tenant's local dates: "today" is `tenant_today(timezone)` and
the last day with actuals is yesterday, as in the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..core.calendar import check_country, holiday_translations
from ..core.errors import ConfigError
from ..core.events import Calendar
from ..i18n.catalog import holiday_names
from ..services.calendar import tenant_calendar
from ..services.tenants import Tenant, list_tenants, settings_for_tenant
from ..services.training import FORECAST
from ..storage import Storage

__all__ = ["BAND_COLUMNS", "BASELINE", "finite", "freshness", "shop_calendar", "shown_holiday_names", "storage_key", "storage_label",
           "stored_forecast", "tenants", "vs_baseline"]


# --- where the data is -----------------------------------------------------------------




def storage_label(storage: Storage) -> dict[str, str]:
    """Backend name and where the data lives (`Storage.describe()`), never credentials."""
    description = storage.describe()
    prefix = f"{storage.backend} "
    location = description.removeprefix(prefix)
    return {"backend": storage.backend, "location": location}


def storage_key(storage: Storage) -> str:
    """A string that tells two databases apart in a cache key (no credentials)."""
    label = storage_label(storage)
    return f"{label['backend']}:{label['location']}"


def freshness(storage: Storage, tenant_id: str) -> tuple[str | None, str | None, str | None, str | None]:
    """A cheap stamp of what the dashboard reads for a tenant: cache entries keyed by it never go stale.

    (active model version, time of the newest sale, time the tenant's settings were saved, time the
    stored forecast was last written: a retrain, or a calendar change that moved it); four single-row reads.
    """
    tenant_id = str(tenant_id)
    model = storage.select("ml_models", tenant_id, columns=["model_version"], where={"is_active": True},
                           order_by="last_trained", descending=True, limit=1)
    sale = storage.select("ventas", tenant_id, columns=["fecha"], order_by="fecha", descending=True, limit=1)
    saved = storage.select("tenant_ml_settings", tenant_id, columns=["updated_at"])
    written = storage.select("ml_predictions", tenant_id, columns=["created_at"], where={"prediction_type": FORECAST},
                             order_by="created_at", descending=True, limit=1)
    return (
        None if model.empty else str(model.iloc[0]["model_version"]),
        None if sale.empty else pd.Timestamp(sale.iloc[0]["fecha"]).isoformat(),
        None if saved.empty else pd.Timestamp(saved.iloc[0]["updated_at"]).isoformat(),
        None if written.empty else pd.Timestamp(written.iloc[0]["created_at"]).isoformat(),
    )


def tenants(storage: Storage) -> list[Tenant]:
    """Every tenant in `negocios`, ordered by id."""
    return list_tenants(storage)


# --- figures several pages show ----------------------------------------------------------------

#: The reference every winner is compared with.
BASELINE = "snaive"


def vs_baseline(metrics: Mapping[str, Any], baseline: str = BASELINE) -> float | None:
    """How much lower the winner's CV MASE is than seasonal naive's (0.25 = 25% lower; negative = worse).

    MASE, not MAE, so each fold weighs the same whatever its sales level.
    None when seasonal naive was not cross-validated.
    """
    scores = metrics.get("scores") or {}
    winner = scores.get(metrics.get("winner"), {}).get("mase")
    base = scores.get(baseline, {}).get("mase")
    if winner is None or base is None or not base > 0:
        return None
    return float(1.0 - winner / base)


def finite(value: Any) -> float | None:
    """`value` as a float, or None when it is missing, not a number or infinite."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


BAND_COLUMNS = ("yhat", "yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95")


def stored_forecast(storage: Storage, tenant_id: str, *, gte: date | None = None) -> pd.DataFrame:
    """The stored forecast days (from `gte` on): BAND_COLUMNS by `ds`, as the last training wrote them."""
    rows = storage.select("ml_predictions", str(tenant_id), columns=["prediction_date", "predicted_values"],
                          where={"prediction_type": FORECAST}, gte={"prediction_date": gte} if gte else None,
                          order_by="prediction_date")
    values = pd.DataFrame(list(rows["predicted_values"]), columns=list(BAND_COLUMNS), dtype=float)
    values.index = pd.DatetimeIndex(pd.to_datetime(rows["prediction_date"]), name="ds")
    # Rows written before the 95% band existed fall back to the 80% one rather than to nothing.
    values["yhat_lower_95"] = values["yhat_lower_95"].fillna(values["yhat_lower"])
    values["yhat_upper_95"] = values["yhat_upper_95"].fillna(values["yhat_upper"])
    return values


def shop_calendar(storage: Storage, tenant: Tenant, lang: str | None = None) -> Calendar:
    """The shop's calendar for showing (closed days, holidays and events by name), holidays named in
    `lang` where the holidays package translates them.

    An invalid settings override must not hide a page (the settings form
    reports it): the calendar is then the country's holidays alone.
    """
    try:
        calendar = tenant_calendar(storage, tenant)
    except ConfigError:
        calendar = Calendar(country=_holiday_country(storage, tenant))
    return replace(calendar, holiday_names=shown_holiday_names(calendar.country, lang)) if lang else calendar


def shown_holiday_names(country: str | None, lang: str) -> tuple[tuple[str, str], ...]:
    """(holiday name as stored and learned, name in `lang`): the holidays package's own translation where it
    has one (Spain's holidays in Spanish), else this catalog's (the United States' in Spanish)."""
    year = date.today().year
    names = dict(holiday_names(lang))
    names.update(holiday_translations(country, lang, year - 5, year + 2))
    return tuple(sorted(names.items()))


def _holiday_country(storage: Storage, tenant: Tenant) -> str | None:
    try:
        return settings_for_tenant(storage, tenant).holidays_country or None
    except ConfigError:
        try:
            return check_country(tenant.country)
        except ConfigError:
            return None
