"""The shop's calendar in storage: events added, edited, removed and imported, weekly closed days proposed.

Every write is checked as a whole first and written in one upsert (one
transaction on the SQL backends), so a list with one bad event writes
nothing; the error names each problem. An event's key is a hash of what it
is, so adding or importing the same event again changes nothing.

Decisions:

* Events of the same name may not overlap (twice "Summer sale" on one day is
  a typo); different events may (a promotion on a holiday).
* A closure on a day that already has sales is kept, with a warning: the
  sales are real, so for the past the day counts as open
  (`core.events.CalendarAware`), and the closure still closes its future days.
* At most `MAX_EVENTS` events per shop, dates within 50 years of today, an
  event at most a year long (a yearly one repeats instead).
* An event for products names products the shop has (`productos`).
* Writes here don't move the stored forecast: training reads the calendar
  (`tenant_calendar`), so this module can't call it. Whoever changes the
  calendar calls `training.refresh_forecast` after: `views.calendar` for the
  dashboard, the CLI's `events`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pandas as pd

from ..core.errors import DataError
from ..core.events import KINDS, Calendar, Event, event_problems, propose_closed_weekdays
from ..core.series import tenant_today
from ..storage import Storage
from .sales import daily_sales
from .tenants import Tenant, get_tenant, save_tenant_overrides, settings_for_tenant, tenant_overrides

if TYPE_CHECKING:
    from .importer.reading import Source

TABLE = "calendar_events"
MAX_EVENTS = 5000
#: Most bytes of an events CSV (5,000 events of a generous 200 bytes each).
MAX_EVENTS_BYTES = 1024 * 1024

COLUMN_ALIASES = {
    "name": ("name", "nombre", "event", "evento"),
    "kind": ("kind", "type", "tipo", "clase"),
    "first_day": ("first_day", "start", "from", "desde", "inicio", "date", "fecha", "day", "dia"),
    "last_day": ("last_day", "end", "to", "until", "hasta", "fin"),
    "yearly": ("yearly", "every_year", "anual", "cada_ano"),
    "products": ("products", "productos", "product_ids"),
    "note": ("note", "nota", "notes", "notas", "comment", "comentario"),
}
KIND_ALIASES = {
    "closed": ("closed", "closure", "cerrado", "cierre"),
    "promotion": ("promotion", "promo", "promocion", "oferta"),
    "holiday": ("holiday", "festivo", "fiesta", "vacaciones"),
    "event": ("event", "evento"),
    "one_off": ("one_off", "one-off", "oneoff", "puntual", "unico"),
}
_TRUE = {"1", "true", "yes", "y", "si", "s", "x"}
_FALSE = {"", "0", "false", "no", "n"}


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: the event and its key (what edit and remove name)."""

    key: str
    event: Event


@dataclass
class SaveReport:
    """What a save wrote, and warnings that did not stop it (a closure on a day with sales)."""

    written: int
    warnings: list[str] = field(default_factory=list)


def event_key(event: Event) -> str:
    """The event's identity: a hash of its name, kind, days, recurrence and products (not its note)."""
    text = json.dumps([event.name.strip(), event.kind, event.first_day.isoformat(), event.last_day.isoformat(),
                       event.yearly, sorted(event.products)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def list_events(storage: Storage, tenant_id: str) -> list[StoredEvent]:
    """The shop's events, the latest first (what is coming, then what was)."""
    frame = storage.select(TABLE, str(tenant_id), order_by="first_day", descending=True)
    return [StoredEvent(str(row["event_key"]), _event(row)) for row in frame.to_dict(orient="records")]


def events_frame(storage: Storage, tenant_id: str) -> pd.DataFrame:
    """The shop's events as a table: key, name, kind, first_day, last_day, yearly, products, note."""
    rows = [{"key": stored.key, "name": stored.event.name, "kind": stored.event.kind,
             "first_day": stored.event.first_day, "last_day": stored.event.last_day, "yearly": stored.event.yearly,
             "products": ", ".join(stored.event.products), "note": stored.event.note}
            for stored in list_events(storage, tenant_id)]
    return pd.DataFrame(rows, columns=["key", "name", "kind", "first_day", "last_day", "yearly", "products", "note"])


def _event(row) -> Event:
    products = row.get("products") or ()
    return Event(name=str(row["name"]), kind=str(row["kind"]), first_day=_as_date(row["first_day"]),
                 last_day=_as_date(row["last_day"]), yearly=bool(row.get("yearly")),
                 products=tuple(str(p) for p in products), note=str(row.get("note") or ""))


def _as_date(value) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else pd.Timestamp(value).date()


def tenant_calendar(storage: Storage, tenant: Tenant | str, settings=None) -> Calendar:
    """Everything the forecast knows ahead for a shop: its events, weekly closed days and country."""
    tenant = get_tenant(storage, tenant) if isinstance(tenant, str) else tenant
    settings = settings or settings_for_tenant(storage, tenant)
    events = tuple(stored.event for stored in list_events(storage, tenant.id))
    return Calendar(events, frozenset(settings.closed_weekdays), settings.holidays_country or None)


def save_events(storage: Storage, tenant_id: str, events: Sequence[Event], *, now: datetime | None = None) -> SaveReport:
    """Check `events` against each other and the stored ones, then write them all in one upsert, or nothing.

    Raises DataError naming every problem.
    """
    tenant, rows, warnings = _checked_rows(storage, str(tenant_id), events, None, now)
    return SaveReport(storage.upsert(TABLE, tenant.id, rows) if rows else 0, warnings)


def edit_event(storage: Storage, tenant_id: str, key: str, event: Event, *, now: datetime | None = None) -> SaveReport:
    """Replace the stored event `key` by `event`: the row is rewritten in place (one statement), or nothing is."""
    tenant, rows, warnings = _checked_rows(storage, str(tenant_id), [event], key, now)
    changed = storage.update(TABLE, tenant.id, {k: v for k, v in rows[0].items() if k != "tenant_id"},
                             where={"event_key": key})
    if not changed:
        raise DataError("nothing was saved: the event being edited no longer exists (removed elsewhere?)")
    return SaveReport(changed, warnings)


def _checked_rows(storage: Storage, tenant_id: str, events: Sequence[Event], replacing: str | None,
                  now: datetime | None) -> tuple[Tenant, list[dict], list[str]]:
    tenant = get_tenant(storage, tenant_id)
    events = [_normalized(event) for event in events]
    stored = [s for s in list_events(storage, tenant.id) if s.key != replacing]
    today = tenant_today(tenant.timezone, now)
    problems = event_problems(events, today)
    problems += _overlaps(events, [s.event for s in stored]) + _unknown_products(storage, tenant.id, events)
    new_keys = {event_key(event) for event in events} - {s.key for s in stored}
    if replacing is not None and not new_keys:
        problems.append(f"the shop already has this event ({events[0].name}, {events[0].first_day}.."
                        f"{events[0].last_day})")
    if len(stored) + len(new_keys) > MAX_EVENTS:
        problems.append(f"the shop would have {len(stored) + len(new_keys)} events: at most {MAX_EVENTS} are kept")
    if problems:
        raise DataError("nothing was saved: " + "; ".join(problems))
    stamp = now or datetime.now(timezone.utc)
    rows = [{"tenant_id": tenant.id, "event_key": event_key(event), "name": event.name, "kind": event.kind,
             "first_day": event.first_day, "last_day": event.last_day, "yearly": event.yearly,
             "products": list(event.products) or None, "note": event.note or None, "updated_at": stamp}
            for event in events]
    return tenant, rows, _closures_with_sales(storage, tenant, events, today)


def remove_event(storage: Storage, tenant_id: str, key: str) -> bool:
    """Remove one event by key; False when the shop has no such event."""
    return storage.delete(TABLE, str(tenant_id), where={"event_key": str(key)}) > 0


def _normalized(event: Event) -> Event:
    products = tuple(dict.fromkeys(str(p).strip() for p in event.products if str(p).strip()))
    return Event(event.name.strip(), event.kind.strip().lower(), event.first_day, event.last_day, bool(event.yearly),
                 products, event.note.strip())


def _overlaps(events: Sequence[Event], stored: Sequence[Event]) -> list[str]:
    """Events of the same name and products on a common day (counting yearly repeats), within and against stored.

    Grouped by name and products; within a group, one-time events are checked as sorted intervals (so
    thousands of "Promo" days cost a sort, not every pair), and a yearly event against every other.
    """
    stored_keys = {event_key(e) for e in stored}
    groups: dict[tuple, list[tuple[Event, bool]]] = {}
    seen_new: set[str] = set()
    for event, new in [*((e, False) for e in stored), *((e, True) for e in events)]:
        key = event_key(event)
        if new and (key in stored_keys or key in seen_new):
            continue  # the same event again: an idempotent rewrite, not an overlap
        if new:
            seen_new.add(key)
        groups.setdefault((event.name.casefold(), frozenset(event.products)), []).append((event, new))
    problems = []
    for members in groups.values():
        if len(members) < 2 or not any(new for _, new in members):
            continue
        once = sorted((m for m in members if not m[0].yearly), key=lambda m: (m[0].first_day, m[0].last_day))
        reach = None  # the event reaching furthest so far: whatever starts before its end overlaps it
        for b, b_new in once:
            if reach is not None and b.first_day <= reach[0].last_day and (b_new or reach[1]):
                problems.append(_overlap(b if b_new else reach[0], reach[0] if b_new else b))
            if reach is None or b.last_day > reach[0].last_day:
                reach = (b, b_new)
        yearly = [m for m in members if m[0].yearly]
        for i, (a, a_new) in enumerate(yearly):
            for b, b_new in [*yearly[i + 1:], *once]:
                if (a_new or b_new) and _share_a_day(a, b):
                    problems.append(_overlap(a if a_new else b, b if a_new else a))
    return problems


def _overlap(event: Event, other: Event) -> str:
    return f"{event.name} ({event.first_day}..{event.last_day}) overlaps {other.name} ({other.first_day}..{other.last_day})"


def _share_a_day(a: Event, b: Event) -> bool:
    start, end = min(a.first_day, b.first_day), max(a.last_day, b.last_day)
    days_a = {d for x, y in a.occurrences(start, end) for d in _days(x, y)}
    return any(d in days_a for x, y in b.occurrences(start, end) for d in _days(x, y))


def _days(first: date, last: date) -> Iterable[date]:
    return (first + timedelta(days=k) for k in range((last - first).days + 1))


def _unknown_products(storage: Storage, tenant_id: str, events: Sequence[Event]) -> list[str]:
    wanted = {p for event in events for p in event.products}
    if not wanted:
        return []
    known = set(storage.select("productos", tenant_id, columns=["id"])["id"].astype(str))
    missing = sorted(wanted - known)
    return [f"no product {', '.join(missing[:10])}{' and more' if len(missing) > 10 else ''} in this shop"] \
        if missing else []


def _closures_with_sales(storage: Storage, tenant: Tenant, events: Sequence[Event], today: date) -> list[str]:
    closures = [e for e in events if e.kind == "closed" and not e.products and e.first_day < today]
    if not closures:
        return []
    first = min(e.first_day for e in closures)
    start = first if not any(e.yearly for e in closures) else today - timedelta(days=730)
    sold = storage.daily_totals(tenant.id, max(start, today - timedelta(days=3650)), today - timedelta(days=1),
                                tenant.timezone)
    sold = sold[sold > 0]
    warnings = []
    for event in closures:
        days = [d for a, b in event.occurrences(start, today - timedelta(days=1)) for d in _days(a, b)
                if pd.Timestamp(d) in sold.index]
        if days:
            warnings.append(f"{event.name}: {len(days)} of its days already have sales ({days[0]}"
                            f"{'...' if len(days) > 1 else ''}); the sales are kept and those days count as open")
    return warnings


# --- CSV import ------------------------------------------------------------------------------------


def read_events_csv(source: Source) -> list[Event]:
    """The events of a CSV (header: name, kind, first_day[, last_day, yearly, products, note]; Spanish names too).

    Dates are ISO (2026-12-24) or day first (24/12/2026); `last_day` missing
    means a one-day event; `yearly` is yes/no (sí/no, 1/0); `products` are
    ids separated by `|`. Raises DataError listing each bad line; nothing is
    read from a file with one.
    """
    # Imported here: training reads the calendar through this module, and the importer brings the string
    # tables, which a training worker must not load (tests/test_package.py).
    from .importer.reading import read_text_file

    text, _ = read_text_file(source, max_bytes=MAX_EVENTS_BYTES)
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip(" \t,;|")), None)
    if header_at is None:
        raise DataError("the events file has no header line")
    delimiter = max(",;\t|", key=lambda d: lines[header_at].count(d))
    reader = csv.reader(io.StringIO("\n".join(lines[header_at:])), delimiter=delimiter)
    header = [_plain(h) for h in next(reader)]
    lookup = {alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}
    positions = {}
    for i, name in enumerate(header):
        if lookup.get(name) and lookup[name] not in positions:
            positions[lookup[name]] = i
    missing = [c for c in ("name", "kind", "first_day") if c not in positions]
    if missing:
        raise DataError(f"the events file lacks the column(s) {', '.join(missing)} (found: {', '.join(header)})")
    events, problems = [], []
    for offset, fields in enumerate(reader):
        line = header_at + 2 + offset
        if not "".join(fields).strip():
            continue
        value = {c: (fields[i].strip() if i < len(fields) else "") for c, i in positions.items()}
        try:
            events.append(_event_from_fields(value))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
        if len(events) > MAX_EVENTS:
            raise DataError(f"more than {MAX_EVENTS} events in one file: nothing was imported")
    if problems:
        shown = "; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise DataError(f"nothing was imported: {len(problems)} bad line(s): {shown}")
    if not events:
        raise DataError("the events file has no events below its header")
    return events


def _event_from_fields(value: dict[str, str]) -> Event:
    name = value.get("name", "")
    if not name:
        raise ValueError("the name is empty")
    if len(name) > 200:
        raise ValueError("the name is longer than 200 characters")
    kind = _kind(value.get("kind", ""))
    first = _date(value.get("first_day", ""), "first_day")
    last = _date(value["last_day"], "last_day") if value.get("last_day") else first
    flag = _plain(value.get("yearly", ""))
    if flag not in _TRUE | _FALSE:
        raise ValueError(f"yearly {value['yearly']!r} is not yes or no")
    products = tuple(p.strip() for p in re.split(r"[|]", value.get("products", "")) if p.strip())
    return Event(name, kind, first, last, flag in _TRUE, products, value.get("note", ""))


def _kind(text: str) -> str:
    plain = _plain(text)
    for kind, aliases in KIND_ALIASES.items():
        if plain in aliases:
            return kind
    raise ValueError(f"kind {text!r} is not one of {', '.join(KINDS)}")


def _date(text: str, column: str) -> date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{column} {text!r} is not a date (use 2026-12-24 or 24/12/2026)")


def _plain(text: str) -> str:
    """Lower case, no accents, spaces as underscores: `Promoción` -> `promocion`, `Cada año` -> `cada_ano`."""
    folded = unicodedata.normalize("NFKD", text.strip().lower())
    return re.sub(r"\s+", "_", "".join(c for c in folded if not unicodedata.combining(c)))


# --- weekly closed days ------------------------------------------------------------------------------


def closed_weekday_proposal(storage: Storage, tenant_id: str, *, now: datetime | None = None) -> list[int]:
    """Weekdays (0 = Monday) the history says the shop closes and the owner has not confirmed yet."""
    tenant = get_tenant(storage, str(tenant_id))
    settings = settings_for_tenant(storage, tenant)
    try:
        y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=7 * 8, now=now)
    except DataError:
        return []
    return [day for day in propose_closed_weekdays(y) if day not in settings.closed_weekdays]


def set_closed_weekdays(storage: Storage, tenant_id: str, weekdays: Iterable[int]) -> list[int]:
    """Confirm the shop's weekly closed days (the tenant's `closed_weekdays` setting); returns them."""
    tenant = get_tenant(storage, str(tenant_id))
    days = sorted({int(day) for day in weekdays})
    if any(day < 0 or day > 6 for day in days):
        raise DataError("weekdays are 0 (Monday) to 6 (Sunday)")
    overrides = dict(tenant_overrides(storage, tenant.id))
    overrides["closed_weekdays"] = days
    save_tenant_overrides(storage, tenant.id, overrides)
    return days
