"""The calendar page: the shop's events, its weekly closed days, and what history says each kind of day does.

Every change is saved whole or not at all (`services.calendar`) and then
moves the stored forecast at once (`training.refresh_forecast`), without
retraining: a closure entered today is 0 on the Forecast page right away.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd

from ..core.events import KINDS, PUBLIC_HOLIDAY, Effect, Effects, Event
from ..services import calendar as service
from ..services.model_store import SavedModel, active_model_info
from ..services.training import refresh_forecast
from ..storage import Storage
from .common import shown_holiday_names

__all__ = [
    "KINDS",
    "CalendarView",
    "calendar_view",
    "import_events",
    "learned_effects",
    "product_choices",
    "remove_event",
    "save_event",
    "set_closed_weekdays",
]


@dataclass(frozen=True)
class CalendarView:
    events: pd.DataFrame  # key, name, kind, first_day, last_day, yearly, products, note
    closed_weekdays: list[int]  # confirmed
    proposal: list[int]  # what history shows and the owner has not confirmed
    effects: list[Effect]  # learned at the last training, biggest first


def calendar_view(storage: Storage, tenant_id: str, *, now: datetime | None = None,
                  lang: str | None = None) -> CalendarView:
    """The shop's events, closed weekdays (confirmed and proposed) and learned effects, holidays named in `lang`."""
    tenant_id = str(tenant_id)
    calendar = service.tenant_calendar(storage, tenant_id)
    names = shown_holiday_names(calendar.country, lang) if lang else ()
    return CalendarView(service.events_frame(storage, tenant_id), sorted(calendar.closed_weekdays),
                        service.closed_weekday_proposal(storage, tenant_id, now=now),
                        learned_effects(active_model_info(storage, tenant_id), names))


def learned_effects(info: SavedModel | None, holiday_names: tuple[tuple[str, str], ...] = ()) -> list[Effect]:
    """The effects a model version learned (`active_model_info`), the kinds first, then named events by size;
    public holidays named as `holiday_names` says (`common.shown_holiday_names`).

    A named event whose effect is its kind's, within 5 points (every promotion called "Promo"; each
    holiday the shop closes for), says nothing new: left out.
    """
    if info is None:
        return []
    effects = Effects.from_json(info.hyperparameters.get("calendar_effects"))
    kinds = sorted(effects.by_kind.values(), key=lambda e: KINDS.index(e.kind))
    named = [e for e in effects.by_name.values()
             if e.kind not in effects.by_kind or abs(e.multiplier - effects.by_kind[e.kind].multiplier) > 0.05]
    shown = dict(holiday_names)
    named = [replace(e, name=shown.get(e.name, e.name)) if e.kind == PUBLIC_HOLIDAY else e for e in named]
    return [*kinds, *sorted(named, key=lambda e: -abs(e.multiplier - 1.0))]


def product_choices(storage: Storage, tenant_id: str) -> dict[str, str]:
    """Product id -> name, for the event form's product picker."""
    frame = storage.select("productos", str(tenant_id), columns=["id", "nombre"], order_by="nombre")
    return dict(zip(frame["id"].astype(str), frame["nombre"].astype(str), strict=True))


def save_event(storage: Storage, tenant_id: str, event: Event, *, replace: str | None = None,
               now: datetime | None = None) -> service.SaveReport:
    """Add `event` (or put it in place of the stored event `replace`), then move the stored forecast."""
    if replace:
        report = service.edit_event(storage, str(tenant_id), replace, event, now=now)
    else:
        report = service.save_events(storage, str(tenant_id), [event], now=now)
    refresh_forecast(storage, str(tenant_id), now=now)
    return report


def import_events(storage: Storage, tenant_id: str, source, *, now: datetime | None = None) -> service.SaveReport:
    """Every event of an uploaded CSV, or none; then the stored forecast moves."""
    report = service.save_events(storage, str(tenant_id), service.read_events_csv(source), now=now)
    refresh_forecast(storage, str(tenant_id), now=now)
    return report


def remove_event(storage: Storage, tenant_id: str, key: str, *, now: datetime | None = None) -> bool:
    removed = service.remove_event(storage, str(tenant_id), key)
    refresh_forecast(storage, str(tenant_id), now=now)
    return removed


def set_closed_weekdays(storage: Storage, tenant_id: str, weekdays, *, now: datetime | None = None) -> list[int]:
    days = service.set_closed_weekdays(storage, str(tenant_id), weekdays)
    refresh_forecast(storage, str(tenant_id), now=now)
    return days
