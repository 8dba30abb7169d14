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


@lru_cache(maxsize=256)
def _holidays(country: str, years: tuple[int, ...], language: str | None = None) -> dict[date, str]:
    import holidays

    table = holidays.country_holidays(country, years=list(years))
    if language:
        # The names in the reader's language where the package has them ("es" for Spain, "en_US" for
        # English); otherwise the package's own default names, as before.
        wanted = "en_US" if language == "en" else language
        if wanted in getattr(table, "supported_languages", ()):
            table = holidays.country_holidays(country, years=list(years), language=wanted)
    return dict(table.items())


def holidays_between(country: str | None, start, end, language: str | None = None) -> pd.Series:
    """Holiday names indexed by date (Timestamp) between `start` and `end` inclusive, in `language`
    ("en", "es") when the holidays package translates that country's names."""
    if not country:
        return pd.Series(dtype=object)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    table = _holidays(country, tuple(range(start.year, end.year + 1)), language)
    items = sorted((pd.Timestamp(d), name) for d, name in table.items() if start <= pd.Timestamp(d) <= end)
    return pd.Series([name for _, name in items], index=pd.DatetimeIndex([d for d, _ in items]), dtype=object)


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
