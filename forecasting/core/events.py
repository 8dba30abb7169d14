"""The shop's own calendar in the forecast: closures, promotions, holidays, events, one-off days.

A `Calendar` is what a shop knows in advance: its events (each a span of
days, optionally every year), the weekdays it is always closed, and its
country's public holidays. `Calendar.days` turns it into one row per day.

How any model uses it (`CalendarAware` wraps each candidate, so every model,
its cross-validation and its ensemble get the same treatment):

* **Learned effects.** Before a fit, the effect of each kind (promotion,
  holiday, event) and of each named event that recurs (a yearly event, a
  public holiday) is estimated from the history the model is given, and only
  from it (so a CV fold never learns from days after its cutoff):
  the sales of each such day against its *baseline*, the median of the same
  weekday one to four weeks either side that has no event. An effect is
  claimed only where history supports it (`MIN_KIND_DAYS` days of a kind,
  `MIN_OCCURRENCES` years of a named event, and a mean log ratio at least two
  standard errors from zero); elsewhere nothing is claimed and the day is
  left to the model.
* **Training.** The model is fitted on the history with those effects taken
  out (an event day divided by its effect), and with one-off days and
  calendar closures replaced by their baseline: the model learns the shop's
  ordinary days. Weekly closed days stay zeros, as the shop's weekly pattern.
* **Forecast.** Each future event day is multiplied back by its effect (point
  and band); a closed day is exactly 0 with a zero-width band.

The statistical models take no regressors, so this is how they see the
calendar. LightGBM and Prophet take it as features of their own instead
(`Forecaster.takes_calendar`): they learn from the history as it was, apart
from one-off days and calendar closures, and nothing is multiplied in.
Cross-validation scores no closed day and no one-off day (`Calendar.unscored`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .calendar import holidays_between
from .models.base import Forecaster, check_series
from .models.ensemble import EnsembleForecaster

#: Event kinds. `closed`: no sales (forecast 0); `one_off`: unusual, left out of training and scoring;
#: the others have effects learned from history.
KINDS = ("closed", "promotion", "holiday", "event", "one_off")
EFFECT_KINDS = ("promotion", "holiday", "event")
#: Kind of a country's public holiday in the day table (it behaves as a shop's `holiday`).
PUBLIC_HOLIDAY = "holiday"

MIN_KIND_DAYS = 5
MIN_OCCURRENCES = 2
#: Baseline: the same weekday this many weeks either side.
BASELINE_WEEKS = 4
#: Ratios below this are taken as this (a day with no sales on a holiday is an effect of 0.05, not -inf).
FLOOR_RATIO = 0.05
#: An effect smaller than this (either way) is not claimed: nothing worth saying.
MIN_EFFECT = 0.05
#: The spread assumed at least, so two lucky days make no claim.
MIN_SPREAD = 0.1


@dataclass(frozen=True)
class Event:
    """One entry of the shop's calendar: `first_day`..`last_day` inclusive, every year when `yearly`."""

    name: str
    kind: str
    first_day: date
    last_day: date
    yearly: bool = False
    products: tuple[str, ...] = ()  # empty: the whole shop
    note: str = ""

    def occurrences(self, start: date, end: date) -> list[tuple[date, date]]:
        """The spans of this event that touch `start`..`end` (clipped to it)."""
        if not self.yearly:
            spans = [(self.first_day, self.last_day)]
        else:
            spans = []
            for year in range(start.year - 1, end.year + 1):
                first = _same_day_in(self.first_day, year)
                spans.append((first, first + (self.last_day - self.first_day)))
        return [(max(a, start), min(b, end)) for a, b in spans if a <= end and b >= start]


def _same_day_in(day: date, year: int) -> date:
    """`day` moved to `year` (29 February becomes the 28th in other years)."""
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


@dataclass(frozen=True)
class Calendar:
    """What a shop knows ahead: its events, its weekly closed days (0 = Monday) and its country's holidays."""

    events: tuple[Event, ...] = ()
    closed_weekdays: frozenset[int] = frozenset()
    country: str | None = None
    # For showing only: (holiday name as `holidays_between` gives it, name in the reader's language) pairs
    # that `days` labels use (`views.common.shop_calendar`).
    holiday_names: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.events and not self.closed_weekdays and not self.country

    def shop_events(self) -> tuple[Event, ...]:
        """The events about the whole shop (product-only events don't move the shop's total)."""
        return tuple(event for event in self.events if not event.products)

    def days(self, start, end) -> pd.DataFrame:
        """One row per day `start`..`end`: `closed`, `weekly_closed`, `one_off` (bools), `tags` and `label`.

        `tags` is a tuple of (kind, name) for the day's events of every kind
        and the country's holidays; `label` joins their names, for people
        ("Christmas Day", "2-for-1"). A weekly closed day has no label: the
        page says "Closed" in the reader's language.
        """
        start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        index = pd.date_range(start, end, freq="D", name="ds")
        n = len(index)
        closed, weekly, one_off = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        tags: list[list[tuple[str, str]]] = [[] for _ in range(n)]
        if self.closed_weekdays:
            weekly = np.isin(index.dayofweek, sorted(self.closed_weekdays))
        if self.country and n:
            renamed = dict(self.holiday_names)
            for day, name in holidays_between(self.country, start, end).items():
                tags[(day - start).days].append((PUBLIC_HOLIDAY, renamed.get(str(name), str(name))))
        first, last = start.date(), end.date()
        for event in self.shop_events():
            for a, b in event.occurrences(first, last):
                i, j = (pd.Timestamp(a) - start).days, (pd.Timestamp(b) - start).days + 1
                if event.kind == "closed":
                    closed[i:j] = True
                elif event.kind == "one_off":
                    one_off[i:j] = True
                for k in range(i, j):
                    tags[k].append((event.kind, event.name))
        labels = [", ".join(dict.fromkeys(name for _, name in day)) for day in tags]
        return pd.DataFrame({"closed": closed | weekly, "weekly_closed": weekly, "one_off": one_off,
                             "tags": [tuple(t) for t in tags], "label": labels}, index=index)

    def flags(self, dates: pd.DatetimeIndex, kinds: Sequence[str]) -> pd.DataFrame:
        """0/1 per day of `dates` and kind: what models with calendar features of their own read
        (`closed` from the closed days, any other kind from the day's events and holidays)."""
        table = self.days(dates[0], dates[-1]).reindex(dates)
        present = [{kind for kind, _ in tags} for tags in table["tags"]]
        return pd.DataFrame({kind: table["closed"].to_numpy(dtype=float) if kind == "closed"
                             else np.array([float(kind in day) for day in present]) for kind in kinds}, index=dates)

    def history(self, y: pd.Series) -> pd.DataFrame:
        """`days` over the span of the daily series `y`, as it happened: a closure on a day with sales did
        not happen (the sales are kept and the day counts as open). Shared, not copied: don't modify it.

        Memoized on the calendar and the series: every candidate of every CV fold asks the same.
        """
        return _history(self, y.index[0], y.to_numpy(dtype=float).tobytes())

    def unscored(self, y: pd.Series) -> pd.DatetimeIndex:
        """Days of `y` no forecast is scored on: closed and one-off days."""
        if self.empty or len(y) == 0:
            return pd.DatetimeIndex([])
        table = self.history(y)
        return table.index[table["closed"] | table["one_off"]]


@lru_cache(maxsize=64)
def _history(calendar: Calendar, start: pd.Timestamp, raw: bytes) -> pd.DataFrame:
    values = np.frombuffer(raw, dtype=float)
    table = calendar.days(start, start + pd.Timedelta(days=len(values) - 1))
    table["closed"] &= ~((values > 0) & ~table["weekly_closed"].to_numpy())
    return table


@lru_cache(maxsize=64)
def _effects(calendar: Calendar, start: pd.Timestamp, raw: bytes) -> Effects:
    values = np.frombuffer(raw, dtype=float)
    y = pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D", name="ds"))
    return learn_effects(y, _history(calendar, start, raw))


def effects_for(calendar: Calendar, y: pd.Series) -> Effects:
    """`learn_effects` over `calendar.history(y)`, memoized like it: every model of a fold learns the same."""
    return _effects(calendar, y.index[0], y.to_numpy(dtype=float).tobytes())


def events_from_flags(flags: pd.Series, name: str, kind: str) -> tuple[Event, ...]:
    """One event per run of consecutive days where the daily 0/1 `flags` (index: days) is 1."""
    on = np.concatenate([[False], flags.to_numpy(dtype=float) > 0, [False]])
    starts, ends = np.flatnonzero(~on[:-1] & on[1:]), np.flatnonzero(on[:-1] & ~on[1:]) - 1
    days = pd.DatetimeIndex(flags.index)
    return tuple(Event(name, kind, days[a].date(), days[b].date()) for a, b in zip(starts, ends, strict=True))


# --- effects ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """An effect learned from history: sales on such days are `multiplier` x their baseline."""

    kind: str
    name: str | None  # None: the kind's effect, used for its events without one of their own
    multiplier: float
    days: int  # days it was learned from
    occurrences: int  # separate spans (a yearly event: the years)


@dataclass(frozen=True)
class Effects:
    """Every effect learned from one history, by kind and by name."""

    by_kind: Mapping[str, Effect] = field(default_factory=dict)
    by_name: Mapping[str, Effect] = field(default_factory=dict)

    def multiplier(self, tags: Sequence[tuple[str, str]]) -> float:
        """The effect of a day with these tags: each named effect, or its kind's, multiplied together."""
        total, seen = 1.0, set()
        for kind, name in tags:
            if kind not in EFFECT_KINDS or (kind, name) in seen:
                continue
            seen.add((kind, name))
            effect = self.by_name.get(name) or self.by_kind.get(kind)
            total *= effect.multiplier if effect else 1.0
        return total

    def multipliers(self, table: pd.DataFrame) -> np.ndarray:
        return np.array([self.multiplier(tags) for tags in table["tags"]], dtype=float)

    def all(self) -> list[Effect]:
        return [*self.by_kind.values(), *self.by_name.values()]

    def to_json(self) -> dict[str, Any]:
        return {"effects": [asdict(effect) for effect in self.all()]}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any] | None) -> Effects:
        effects = [Effect(**item) for item in (payload or {}).get("effects", [])]
        return cls({e.kind: e for e in effects if e.name is None}, {e.name: e for e in effects if e.name is not None})


def baseline(y: pd.Series, table: pd.DataFrame) -> pd.Series:
    """Each day's ordinary level: the median of the same weekday 1..4 weeks either side, event days left out."""
    special = (table["closed"] | table["one_off"] | table["tags"].map(bool)).reindex(y.index, fill_value=False)
    ordinary = y.where(~special.astype(bool))
    shifted = [ordinary.shift(7 * k) for k in range(-BASELINE_WEEKS, BASELINE_WEEKS + 1) if k]
    return pd.concat(shifted, axis=1).median(axis=1, skipna=True)


def learn_effects(y: pd.Series, table: pd.DataFrame) -> Effects:
    """The effects `y`'s history supports, per kind and per recurring name (see the module docstring).

    Two passes, so that a day carrying two kinds (a promotion on a holiday the
    shop closes for) does not lend one kind's effect to the other: the first
    learns each kind and name from the days it has to itself, the second from
    all its days with the first pass's effects of the day's other tags taken
    out.
    """
    table = table.reindex(y.index)
    base = baseline(y, table).to_numpy()
    values, skip = y.to_numpy(dtype=float), (table["closed"] | table["one_off"]).to_numpy(dtype=bool)
    rows = []
    for position, (day, tags) in enumerate(zip(table.index, table["tags"], strict=True)):
        b = base[position]
        if not tags or skip[position] or not b > 0:
            continue
        ratio = math.log(max(values[position] / b, FLOOR_RATIO))
        effect_tags = [tag for tag in dict.fromkeys(tags) if tag[0] in EFFECT_KINDS]
        for kind, name in effect_tags:
            others = tuple(tag for tag in effect_tags if tag != (kind, name))
            rows.append((kind, name, day, ratio, others))
    if not rows:
        return Effects()
    frame = pd.DataFrame(rows, columns=["kind", "name", "ds", "ratio", "others"])
    alone = frame[frame["others"].map(len) == 0]
    first = _effects_from(alone)
    adjusted = frame.assign(ratio=frame["ratio"] - frame["others"].map(lambda tags: math.log(first.multiplier(tags))))
    return _effects_from(adjusted)


def _effects_from(frame: pd.DataFrame) -> Effects:
    by_kind = {}
    for kind, group in frame.groupby("kind"):
        days = group.drop_duplicates("ds")
        effect = _claim(kind, None, days["ratio"].to_numpy(), _spans(days["ds"]), MIN_KIND_DAYS)
        if effect:
            by_kind[kind] = effect
    by_name = {}
    for (kind, name), group in frame.groupby(["kind", "name"]):
        occurrences = _spans(group["ds"])
        if occurrences >= MIN_OCCURRENCES:
            effect = _claim(kind, name, group["ratio"].to_numpy(), occurrences, 1)
            if effect:
                by_name[name] = effect
    return Effects(by_kind, by_name)


def _spans(days: pd.Series) -> int:
    """How many separate runs of consecutive days `days` holds."""
    ordered = pd.DatetimeIndex(days).sort_values().unique()
    return int(1 + (np.diff(ordered.asi8) > 86_400 * 10**9).sum()) if len(ordered) else 0


def _claim(kind: str, name: str | None, ratios: np.ndarray, occurrences: int, min_days: int) -> Effect | None:
    """The effect if the log ratios support one: enough days, two standard errors from 0, and not tiny."""
    n = len(ratios)
    if n < min_days:
        return None
    mean = float(np.mean(ratios))
    spread = max(float(np.std(ratios, ddof=1)) if n > 1 else 0.0, MIN_SPREAD)
    if abs(mean) <= 2 * spread / math.sqrt(n) or abs(math.exp(mean) - 1) < MIN_EFFECT:
        return None
    return Effect(kind, name, round(math.exp(mean), 4), n, occurrences)


# --- training and forecasting -----------------------------------------------------------------


def ordinary_history(y: pd.Series, table: pd.DataFrame, effects: Effects) -> pd.Series:
    """`y` as an ordinary shop's: event effects divided out, one-off days and calendar closures at their baseline.

    A day whose effect is tiny (a holiday the shop closes for) or that has no
    baseline is replaced by its baseline, or the median of its weekday.
    Weekly closed days keep their zeros.
    """
    table = table.reindex(y.index)
    values = y.to_numpy(dtype=float).copy()
    multipliers = effects.multipliers(table)
    replace_by_base = (table["one_off"] | (table["closed"] & ~table["weekly_closed"])).to_numpy() | (multipliers < 0.2)
    values = np.where(replace_by_base, np.nan, values / np.where(multipliers > 0, multipliers, 1.0))
    if np.isnan(values).any():
        base = baseline(y, table)
        weekday = y.groupby(y.index.dayofweek).transform("median")
        values = np.where(np.isnan(values), base.fillna(weekday).fillna(0.0).to_numpy(), values)
    return pd.Series(values, index=y.index, name=y.name)


def apply_calendar(frame: pd.DataFrame, calendar: Calendar, effects: Effects) -> pd.DataFrame:
    """A forecast (index `ds`, numeric columns) with event effects applied and closed days at exactly 0."""
    if calendar.empty or frame.empty:
        return frame
    table = calendar.days(frame.index.min(), frame.index.max()).reindex(frame.index)
    factor = effects.multipliers(table)
    factor[table["closed"].to_numpy()] = 0.0
    numeric = frame.select_dtypes("number").columns
    out = frame.copy()
    out[numeric] = frame[numeric].to_numpy(dtype=float) * factor[:, None]
    return out


class CalendarAware(Forecaster):
    """Any candidate with the shop's calendar: effects learned at each fit, applied at each forecast.

    How the model sees the calendar depends on what it can take:

    * a model that takes known-future features (`takes_calendar`: LightGBM,
      Prophet) gets the calendar itself and learns from the history as it
      was (one-off days and calendar closures at their baseline): its own
      features carry the effects, so none is multiplied in;
    * an ensemble has each member wrapped, so each gets what it can take;
    * any other model (the statistical ones) is fitted on the ordinary
      history and its forecast multiplied by the learned effects.

    Closed days are 0 in every case. The wrapper takes its model's name, so
    selection, storage and the dashboard see the model it wraps; what is
    stored is the plain model (`unwrap`), with `effects_` beside it, and
    `restore` wraps a stored model again with the calendar as it is now.
    """

    def __init__(self, model: Forecaster, calendar: Calendar) -> None:
        if isinstance(model, EnsembleForecaster):
            model = copy.copy(model)  # a stored ensemble keeps its state (series, calibration); members wrapped
            model.members = [m if isinstance(m, CalendarAware) else CalendarAware(m, calendar) for m in model.members]
        self.model = model
        self.calendar = calendar
        self.name = model.name
        self.own_intervals = model.own_intervals
        self.requires = model.requires
        #: Whether this wrapper multiplies the effects in (a model without calendar features of its own).
        self.applies = not (model.takes_calendar or isinstance(model, EnsembleForecaster))
        if model.takes_calendar:
            model.use_calendar(calendar)

    @property
    def min_train_days(self) -> int:
        return self.model.min_train_days

    def fit(self, y: pd.Series, *, with_intervals: bool = True) -> CalendarAware:
        y = check_series(y)
        table = self.calendar.history(y)
        self.effects_ = effects_for(self.calendar, y)
        self.y_, self.with_intervals_ = y, with_intervals
        if isinstance(self.model, EnsembleForecaster):
            self.model.fit(y, with_intervals=with_intervals)  # each member cleans what it needs
        else:
            history = ordinary_history(y, table, self.effects_ if self.applies else Effects())
            self.model.fit(history, with_intervals=with_intervals)
        return self

    @classmethod
    def restore(cls, model: Forecaster, calendar: Calendar, effects: Effects) -> CalendarAware:
        """A stored (plain, fitted) model wrapped again: `calendar` as it is now, `effects` as learned at training."""
        wrapper = cls(model, calendar)
        for part in [wrapper, *(wrapper.model.members if isinstance(wrapper.model, EnsembleForecaster) else [])]:
            part.effects_ = effects
            part.y_, part.with_intervals_ = part.model.y_, part.model.with_intervals_
        return wrapper

    def calibrate(self, calibration) -> CalendarAware:
        self.model.calibrate(calibration)
        return self

    def predict(self, h: int, levels: Sequence[int] = (80, 95)) -> pd.DataFrame:
        self._check_fitted()
        return apply_calendar(self.model.predict(h, levels), self.calendar,
                              self.effects_ if self.applies else Effects())

    def fitted(self) -> pd.Series:
        self._check_fitted()
        fitted = self.model.fitted()
        table = self.calendar.history(self.y_)
        factor = self.effects_.multipliers(table) if self.applies else np.ones(len(table))
        factor[table["closed"].to_numpy()] = 0.0  # a new array: the shared table is not changed
        return (fitted * factor).rename("fitted")

    def _fit(self, y):  # pragma: no cover - fit is overridden
        raise NotImplementedError

    def _predict(self, h, levels):  # pragma: no cover - predict is overridden
        raise NotImplementedError

    def _fitted(self):  # pragma: no cover - fitted is overridden
        raise NotImplementedError


def unwrap(model: Forecaster) -> Forecaster:
    """The plain model under any `CalendarAware` (what is stored): an ensemble gets plain members (a copy)."""
    if isinstance(model, CalendarAware):
        return unwrap(model.model)
    if isinstance(model, EnsembleForecaster) and any(isinstance(m, CalendarAware) for m in model.members):
        plain = copy.copy(model)
        plain.members = [unwrap(m) for m in model.members]
        return plain
    return model


def effects_of(model: Forecaster) -> Effects:
    return getattr(model, "effects_", None) or Effects()


# --- closed weekdays ------------------------------------------------------------------------------

WEEKS_TO_PROPOSE = 8


def propose_closed_weekdays(y: pd.Series, weeks: int = WEEKS_TO_PROPOSE) -> list[int]:
    """Weekdays (0 = Monday) without a sale in each of the last `weeks` weeks, in a shop that sells on other days.

    A proposal for the owner to confirm, never applied on its own: a quiet
    month is not a closing day.
    """
    recent = y.iloc[-7 * weeks:]
    if len(recent) < 7 * weeks or (recent > 0).sum() < weeks:
        return []
    sold = (recent > 0).groupby(recent.index.dayofweek).sum()
    return sorted(int(day) for day, count in sold.items() if count == 0)


def event_problems(events: Sequence[Event], today: date) -> list[str]:
    """What is wrong with each of `events`, in words (empty: nothing)."""
    problems = []
    for event in events:
        where = f"{event.name or '(no name)'} ({event.first_day}..{event.last_day})"
        if not event.name.strip():
            problems.append(f"{where}: the name is empty")
        if event.kind not in KINDS:
            problems.append(f"{where}: kind {event.kind!r} is not one of {', '.join(KINDS)}")
        if event.last_day < event.first_day:
            problems.append(f"{where}: ends before it starts")
        elif event.last_day - event.first_day > timedelta(days=366):
            problems.append(f"{where}: lasts more than a year (make it yearly instead)")
        if abs(event.first_day.year - today.year) > 50 or abs(event.last_day.year - today.year) > 50:
            problems.append(f"{where}: more than 50 years away from today")
    return problems
