"""National holidays per country (the `holidays` package), cached per country and years."""

from __future__ import annotations

from datetime import date
from functools import cache, lru_cache

import numpy as np
import pandas as pd

from .errors import ConfigError


@cache
def supported_countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


def check_country(country: str | None) -> str | None:
    """A supported ISO code, None for no holidays, or a ConfigError naming it."""
    if not country:
        return None
    code = country.strip().upper()
    if code not in supported_countries():
        raise ConfigError(f"invalid setting(s): ML_HOLIDAYS_COUNTRY: unknown country code {country!r}")
    return code


_ENGLISH = "en_US"


@lru_cache(maxsize=256)
def _holidays(country: str, years: tuple[int, ...], language: str | None = None) -> dict[date, str]:
    """The country's holidays by date, named in `language` when the holidays package has it, else in
    English where it has that (else its own default). Never the machine's locale: names are keys of
    learned effects, so a model trained on one machine must find them on another."""
    import holidays

    table = holidays.country_holidays(country, years=list(years))
    supported = getattr(table, "supported_languages", ())
    wanted = language if language in supported else _ENGLISH if _ENGLISH in supported else None
    if wanted:
        table = holidays.country_holidays(country, years=list(years), language=wanted)
    return dict(table.items())


def holidays_between(country: str | None, start, end) -> pd.Series:
    """Holiday names (English where the package has them) indexed by date (Timestamp), `start`..`end` inclusive."""
    if not country:
        return pd.Series(dtype=object)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    table = _holidays(country, tuple(range(start.year, end.year + 1)))
    items = sorted((pd.Timestamp(d), name) for d, name in table.items() if start <= pd.Timestamp(d) <= end)
    return pd.Series([name for _, name in items], index=pd.DatetimeIndex([d for d, _ in items]), dtype=object)


@lru_cache(maxsize=64)
def holiday_translations(country: str | None, language: str, first_year: int, last_year: int) -> tuple[tuple[str, str], ...]:
    """(name as `holidays_between` gives it, the name in `language`) for the country's holidays of those
    years, matched by date, where the holidays package translates them (Spain's, Mexico's... into "es")."""
    if not country:
        return ()
    years = tuple(range(first_year, last_year + 1))
    source, target = _holidays(country, years), _holidays(country, years, language)
    return tuple(sorted({(source[day], target[day]) for day in source if day in target and source[day] != target[day]}))


class HolidayFlag:
    """Date feature for gradient boosting: 1 on a national holiday, else 0.

    An instance is picklable (it stores only the country) and named so that
    mlforecast can use it as a date feature column.
    """

    def __init__(self, country: str | None) -> None:
        self.country = country
        self.__name__ = "is_holiday"

    def __call__(self, dates) -> np.ndarray:
        dates = pd.DatetimeIndex(dates)
        if not self.country or len(dates) == 0:
            return np.zeros(len(dates), dtype=np.float32)
        names = holidays_between(self.country, dates.min(), dates.max())
        return dates.normalize().isin(names.index).astype(np.float32)
