"""Job schedules in words: "every 5 minutes", "Mondays at 02:00", "daily at 08:00".

`describe_trigger` reads an APScheduler 3 trigger by its attributes (an
interval trigger's `interval`, a cron trigger's `fields`), so this module
imports nothing from APScheduler. Cron times are the trigger's own wall
clock, i.e. the configured SCHEDULER_TIMEZONE; the page names that zone once.
A schedule too irregular for a sentence is shown as its crontab text.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..i18n.catalog import t

#: APScheduler's weekday tokens, Monday first.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Interval units from the largest; an interval is said in the largest unit that divides it.
_UNITS = (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
#: More fire times than this in a day read better as crontab text than as a list.
MAX_TIMES = 4


def describe_trigger(trigger: Any, lang: str) -> str:
    """A job's schedule as a phrase to follow "Runs ..." ("every 5 minutes", "los lunes a las 02:00")."""
    interval = getattr(trigger, "interval", None)
    if isinstance(interval, timedelta):
        return describe_interval(interval, lang)
    fields = {field.name: str(field) for field in getattr(trigger, "fields", ())}
    if fields:
        return _describe_cron(fields, lang)
    return str(trigger)


def describe_interval(interval: timedelta, lang: str) -> str:
    """ "every minute", "every 5 minutes", "cada 2 horas" ..."""
    seconds = int(interval.total_seconds())
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return t(f"trigger.every_{unit}", lang) if count == 1 else t(f"trigger.every_{unit}s", lang, n=count)
    return t("trigger.every_seconds", lang, n=seconds)


def _numbers(text: str) -> list[int] | None:
    """ "0", "8,20" -> numbers; None for steps, ranges or wildcards."""
    parts = text.split(",")
    return [int(part) for part in parts] if all(part.isdigit() for part in parts) else None


def _crontab(fields: dict[str, str]) -> str:
    return " ".join(fields.get(name, "*") for name in ("minute", "hour", "day", "month", "day_of_week"))


def _describe_cron(fields: dict[str, str], lang: str) -> str:
    fallback = t("trigger.cron", lang, expression=_crontab(fields))
    if fields.get("year", "*") != "*" or fields.get("week", "*") != "*" or fields.get("month", "*") != "*" \
            or fields.get("second", "0") != "0":
        return fallback
    minute, hour = fields.get("minute", "*"), fields.get("hour", "*")
    day, weekday = fields.get("day", "*"), fields.get("day_of_week", "*")
    everyday = day == "*" and weekday == "*"
    minutes, hours = _numbers(minute), _numbers(hour)

    if hour == "*" and everyday:
        if minute.startswith("*/") and minute[2:].isdigit():
            return describe_interval(timedelta(minutes=int(minute[2:])), lang)
        if minutes is not None and len(minutes) == 1:
            return t("trigger.hourly_at", lang, minute=f"{minutes[0]:02d}")
        return fallback
    if minutes is None or hours is None or len(minutes) * len(hours) > MAX_TIMES:
        return fallback
    times = [f"{h:02d}:{m:02d}" for h in sorted(hours) for m in sorted(minutes)]
    # Spanish says "a la 01:00" but "a las 02:00"; English has one form.
    at = t("trigger.at_one" if len(times) == 1 and hours == [1] else "trigger.at", lang, times=_join(times, lang))
    if everyday:
        return t("trigger.daily", lang, at=at)
    if day == "*":
        days = _weekdays(weekday, lang)
        return t("trigger.on_days", lang, days=days, at=at) if days else fallback
    if weekday == "*" and _numbers(day) is not None:
        return t("trigger.monthly", lang, days=_join([str(d) for d in sorted(_numbers(day))], lang), at=at)
    return fallback


def _weekdays(expression: str, lang: str) -> str | None:
    """ "mon" -> "Mondays", "mon,thu" -> "Mondays and Thursdays", "mon-fri" -> "Monday to Friday"."""
    phrases = []
    for part in expression.split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            return None
        if last:
            phrases.append(t("trigger.day_range", lang, first=t(f"weekday.{first}", lang),
                             last=t(f"weekday.{last}", lang)))
        else:
            phrases.append(t(f"weekday.{first}.plural", lang))
    return _join(phrases, lang)


def _join(items: list[str], lang: str) -> str:
    """ "a", "a and b", "a, b and c" (y in Spanish)."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + t("trigger.and", lang) + items[-1]
