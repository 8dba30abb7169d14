"""Numbers, money and dates for the UI language and the tenant's country and currency (Babel, CLDR data).

The locale is the UI language in the tenant's country when that is the
country's own language (`es` + `MX` -> `es_MX`: "$1,234.50" for pesos;
`en` + `US` -> `en_US`), else the language alone (`en` + `AR` -> `en`:
"ARS 1,234.50"; `es` + `US` -> `es`): someone who chose English reads
"3.5", not the "3,5" of English-in-Spain. Amounts always carry the
tenant's currency; missing values print as an em dash.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property, lru_cache
from typing import Any

import pandas as pd
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import (
    format_date,
    format_datetime,
    format_skeleton,
    format_timedelta,
    get_day_names,
    get_month_names,
)
from babel.numbers import (
    format_compact_currency,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

MISSING = "—"
# CLDR asks for a space between an ISO code used as symbol and the digits ("ARS 1,234"); Babel omits it.
_CODE_BEFORE_DIGIT = re.compile(r"([A-Z]{3})(?=[\d-])")


@lru_cache(maxsize=128)
def locale_for(lang: str, country: str | None) -> Locale:
    """`lang_COUNTRY` when `lang` is the country's main language and CLDR has the pair, else `lang`."""
    if country:
        likely = get_global("likely_subtags").get(f"und_{country.upper()}")
        main_language = likely.split("_")[0] if likely else "en"
        if main_language == lang:
            try:
                return Locale.parse(f"{lang}_{country.upper()}")
            except (UnknownLocaleError, ValueError):
                pass
    return Locale.parse(lang)


def _missing(value: Any) -> bool:
    """None, NaT, NaN, and infinities (a bad value stored by someone else is shown as missing, not a crash)."""
    if value is None or value is pd.NaT:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


@dataclass(frozen=True)
class Formatter:
    """Formats values for one UI language and one tenant (currency, country, time zone)."""

    lang: str = "en"
    currency: str = "USD"
    country: str | None = None
    timezone: str = "UTC"

    @cached_property
    def locale(self) -> Locale:
        return locale_for(self.lang, self.country)

    # --- numbers ------------------------------------------------------------------------

    def money(self, value: Any, *, whole: bool = False, code: bool = False) -> str:
        """An amount in the tenant's currency; `whole` drops the cents (cards, totals).

        `code` writes the ISO code instead of the symbol ("MXN 89,077"), for
        tables that mix currencies: "$" alone is a peso in Mexico and in Argentina.
        """
        if _missing(value):
            return MISSING
        if whole:
            # Half away from zero, as a till rounds (Python's round() would give 1,234 for 1,234.5).
            whole_units = Decimal(str(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            pattern = self._whole_pattern.replace("¤", "¤¤") if code else self._whole_pattern
            text = format_currency(whole_units, self.currency, format=pattern, locale=self.locale,
                                   currency_digits=False)
        elif code:
            pattern = self.locale.currency_formats["standard"].pattern.split(";")[0].replace("¤", "¤¤")
            text = format_currency(float(value), self.currency, format=pattern, locale=self.locale)
        else:
            text = format_currency(float(value), self.currency, locale=self.locale)
        return _CODE_BEFORE_DIGIT.sub("\\1\u00a0", text)

    def money_compact(self, value: Any) -> str:
        """A short amount ("€1.2K", "1,2 M€") for tight spots such as chart annotations."""
        if _missing(value):
            return MISSING
        text = format_compact_currency(float(value), self.currency, locale=self.locale, fraction_digits=1)
        return _CODE_BEFORE_DIGIT.sub("\\1\u00a0", text)

    @cached_property
    def _whole_pattern(self) -> str:
        pattern = self.locale.currency_formats["standard"].pattern.split(";")[0]
        return pattern.replace(".00", "").replace(".##", "")

    def number(self, value: Any, decimals: int = 0) -> str:
        if _missing(value):
            return MISSING
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return format_decimal(float(value), format=pattern, locale=self.locale)

    def percent(self, value: Any, decimals: int = 0, *, signed: bool = False) -> str:
        """0.123 -> "12%" (or "+12%" with `signed`); a fraction in, a percentage out."""
        if _missing(value):
            return MISSING
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
        text = format_percent(abs(float(value)) if signed else float(value), format=pattern, locale=self.locale)
        if signed:
            # ASCII minus: Streamlit reads a delta's sign (arrow and colour) from a leading "-".
            text = ("+" if float(value) >= 0 else "-") + text
        return text

    # --- dates --------------------------------------------------------------------------

    def date(self, value: Any, style: str = "medium") -> str:
        """A calendar date ("25 nov 2026", "Nov 25, 2026"); `style` is Babel's short/medium/long/full."""
        if _missing(value):
            return MISSING
        return format_date(self._local_date(value), format=style, locale=self.locale)

    def _local_date(self, value: Any) -> date:
        """The calendar date; a moment (time-zone aware) counts on the tenant's local date."""
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(self.timezone)
        return stamp.date()

    def day(self, value: Any) -> str:
        """Weekday and date ("Thu, Nov 26"), for daily tables and hovers."""
        if _missing(value):
            return MISSING
        return format_date(pd.Timestamp(value).date(), format="EEE d MMM" if self.lang != "en" else "EEE, MMM d",
                           locale=self.locale)

    def month_day(self, value: Any) -> str:
        """Month and day only ("Jul 9", "9 jul"), for compact headers."""
        if _missing(value):
            return MISSING
        return format_skeleton("MMMd", self._local_date(value), locale=self.locale)

    def datetime(self, value: Any, style: str = "medium") -> str:
        """A moment, shown in the tenant's time zone."""
        if _missing(value):
            return MISSING
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")
        return format_datetime(stamp.tz_convert(self.timezone).to_pydatetime(), format=style,
                               tzinfo=stamp.tz_convert(self.timezone).tzinfo, locale=self.locale)

    def moment(self, value: Any, *, seconds: bool = True) -> str:
        """A moment to the second without the year ("May 14, 14:03:05"), in the formatter's time zone.

        For logs of recent events (job runs), where the year is noise and a
        24-hour clock reads the same in every language.
        """
        if _missing(value):
            return MISSING
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")
        local = stamp.tz_convert(self.timezone).to_pydatetime()
        # Two-digit hours in every language, as the schedule is written ("daily at 08:00").
        return format_skeleton("MMMd", local, locale=self.locale) + ", " + local.strftime(
            "%H:%M:%S" if seconds else "%H:%M")

    def relative(self, value: Any, now: datetime) -> str:
        """How far `value` is from `now` in words: "in 3 minutes", "hace 40 segundos" (CLDR)."""
        if _missing(value):
            return MISSING
        stamp, reference = pd.Timestamp(value), pd.Timestamp(now)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")
        if reference.tzinfo is None:
            reference = reference.tz_localize("UTC")
        delta = (stamp - reference).to_pytimedelta()
        return format_timedelta(delta, add_direction=True, locale=self.locale)

    def duration(self, seconds: Any) -> str:
        """A run's length: "< 0.1 s", "0.4 s", "12 s", "3 min 05 s", "1 h 02 min" (units read the same in en and es)."""
        if _missing(seconds):
            return MISSING
        seconds = max(float(seconds), 0.0)
        if seconds < 0.05:
            # A health check takes milliseconds; "0.0 s" would read as "did nothing".
            return f"<\u00a0{self.number(0.1, 1)}\u00a0s"
        if seconds < 10:
            return f"{self.number(seconds, 1)}\u00a0s"
        whole = round(seconds)
        if whole < 60:
            return f"{whole}\u00a0s"
        minutes, secs = divmod(whole, 60)
        if minutes < 60:
            return f"{minutes}\u00a0min {secs:02d}\u00a0s"
        hours, minutes = divmod(minutes, 60)
        return f"{hours}\u00a0h {minutes:02d}\u00a0min"

    def weekday(self, index: int, width: str = "wide") -> str:
        """Weekday name, 0 = Monday (CLDR's own numbering)."""
        return get_day_names(width, locale=self.locale)[int(index)].capitalize()

    def weekdays(self, width: str = "abbreviated") -> list[str]:
        return [self.weekday(i, width) for i in range(7)]

    def date_input_format(self) -> str:
        """The order of day, month and year in this locale's short dates, as Streamlit's `date_input` takes it
        (`DD/MM/YYYY` in Spain, `MM/DD/YYYY` in the US, `YYYY/MM/DD` where the year comes first)."""
        pattern = self.locale.date_formats["short"].pattern
        order = sorted("dMy", key=lambda part: pattern.find(part) if part in pattern else 99)
        return "/".join({"d": "DD", "M": "MM", "y": "YYYY"}[part] for part in order)

    def days_ago(self, value: Any, today: date) -> int | None:
        if _missing(value):
            return None
        return (today - self._local_date(value)).days

    # --- charts -------------------------------------------------------------------------

    @cached_property
    def separators(self) -> str:
        """Plotly's `layout.separators`: decimal mark then thousands mark for this locale."""
        return get_decimal_symbol(self.locale) + get_group_symbol(self.locale)

    @cached_property
    def currency_affixes(self) -> tuple[str, str]:
        """(prefix, suffix) that put the currency symbol where this locale puts it, for axis ticks."""
        symbol = get_currency_symbol(self.currency, locale=self.locale)
        pattern = self.locale.currency_formats["standard"].pattern.split(";")[0]
        if pattern.strip().startswith("¤"):
            return (symbol + "\u00a0" if symbol.isalpha() else symbol), ""
        return "", "\u00a0" + symbol

    def plotly_config(self) -> dict[str, Any]:
        """`st.plotly_chart(config=...)`: month and day names of this locale on date axes.

        Plotly ships English only; its `locales` config takes the CLDR names,
        so a Spanish user reads "nov" and "lun" on the axes too.
        """
        config: dict[str, Any] = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
        if self.lang == "en":
            return config
        months = get_month_names("wide", locale=self.locale)
        short_months = get_month_names("abbreviated", locale=self.locale)
        days = get_day_names("wide", locale=self.locale)
        short_days = get_day_names("abbreviated", locale=self.locale)
        # CLDR numbers weekdays from Monday; Plotly (d3) from Sunday.
        order = [6, 0, 1, 2, 3, 4, 5]
        name = str(self.locale).replace("_", "-").lower()
        config["locale"] = name
        config["locales"] = {name: {"dictionary": {}, "format": {
            "days": [days[i] for i in order],
            "shortDays": [short_days[i] for i in order],
            "months": [months[i] for i in range(1, 13)],
            "shortMonths": [short_months[i].rstrip(".") for i in range(1, 13)],
            "date": "%d/%m/%Y",
            "decimal": get_decimal_symbol(self.locale),
            "thousands": get_group_symbol(self.locale),
        }}}
        return config


def formatter_for(tenant: Any, lang: str) -> Formatter:
    """The formatter for a `forecasting.services.tenants.Tenant` in UI language `lang`."""
    return Formatter(lang=lang, currency=tenant.currency or "USD", country=tenant.country,
                     timezone=tenant.timezone or "UTC")
