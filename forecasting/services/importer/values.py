"""Values of a sales CSV: dates (`fecha`) and amounts (`total`, `cantidad`), as the package docstring says.

`read_date` holds the one day-first/month-first policy of every CSV the
product reads; csvtools uses it too. Every reason a value is refused is a
`Reason`: a catalog key (`import.why.*`) and its values, said in English by
`str()` and in the reader's language by `text(lang)`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from ...i18n.catalog import plural_count, t
from ...i18n.formatting import Formatter

_UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class Reason:
    """Why something can't be imported, in any language: a catalog key (`import.why.*`) and its values.

    `str()` is the English text (exception messages, the CLI, logs);
    `text(lang)` says it in `lang`. Whole numbers among the values are
    written with the language's digit grouping and Decimals with its
    decimal mark (`1.234` reads `1,234` in Spanish); anything else (a raw
    value, a year, an exception's text) is filled in as it is. A key with
    plural forms takes its count from the value its catalog entry names.
    """

    key: str
    values: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, key: str, **values: Any) -> Reason:
        return cls(key, tuple(values.items()))

    def text(self, lang: str = "en") -> str:
        shown = {name: _said(value, lang) for name, value in self.values}
        count = plural_count(self.key)
        if count is not None and count in dict(self.values):
            shown["n"] = dict(self.values)[count]  # the count as it is, before formatting, picks the form
        return t(self.key, lang, **shown)

    def __str__(self) -> str:
        return self.text("en")


@lru_cache(maxsize=16)
def _formatter(lang: str) -> Formatter:
    return Formatter(lang)


def _said(value: Any, lang: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, Decimal)):
        return value
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return _formatter(lang).number(value, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return _formatter(lang).number(value)


def aware_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one is taken as UTC."""
    return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)


_TIME = r"(?:(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
_OFFSET = r"\s*([Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_YMD = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})" + _TIME + _OFFSET, re.IGNORECASE)
_DMY = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME + _OFFSET, re.IGNORECASE)


class WrittenDate(NamedTuple):
    """A date as a CSV writes it, nothing converted: the wall-clock time, and the offset when one is written."""

    wall: datetime  # naive; midnight when no time is written
    has_time: bool
    offset: timedelta | None  # None: no offset written (Z, UTC and GMT are 0)


def read_date(raw: str, *, years: tuple[int, int] = (1, 9999)) -> tuple[WrittenDate | None, str | None]:
    """(the date written in `raw`, None) or (None, why it is not one, in English): the one date reader of every CSV.

    The import (`import-sales`, the upload) and `forecast`/`backtest --csv`
    (csvtools) read dates here, so a value means the same day everywhere.
    The day-first/month-first policy:

    * Year first is ISO order, always: `2026-03-01`, `2026/03/01`, with an
      optional time (`T` or a space, `HH:MM[:SS[.fff]]`) and offset (`Z`,
      `UTC`, `GMT`, `+01:00`, `+0100`, `+01`).
    * Year last is always day first: `01/03/2026`, `01-03-2026`,
      `01.03.2026` are 1 March, in every file, whatever its other values.
      Our users are mostly Spanish-speaking and Spanish-locale Excel writes
      DD/MM/YYYY. The order is never guessed per value (pandas' mixed
      parsing read `03/04/2026` month first and `25/03/2026` day first in one
      column) nor per file (a day's export is ambiguous four days in ten, and
      one mistyped value would flip a whole file).
    * A year-last value that only works month first (`03/25/2026`) is an
      error saying so and how to write it, never a silent swap: a file
      written month first is refused as soon as one of its days is after the
      12th, instead of being read half one way and half the other.
    * Two-digit years, AM/PM times, Excel date numbers, month names and
      offsets beyond ±14:59 are errors saying what to write instead.

    A year outside `years` is an error (checked before the date is built).
    `read_written_date` is the same with the reason as a `Reason`.
    """
    written, why = read_written_date(raw, years=years)
    return written, None if why is None else str(why)


def read_written_date(raw: str, *, years: tuple[int, int] = (1, 9999)) -> tuple[WrittenDate | None, Reason | None]:
    """`read_date`, with why a value is not a date as a `Reason` (to say in any language)."""
    s = raw.strip()
    if not s:
        return None, Reason.of("import.why.date_empty")
    day_first = False
    match = _YMD.fullmatch(s)
    if match:
        year, month, day = int(match[1]), int(match[3]), int(match[4])
    else:
        match = _DMY.fullmatch(s)
        if not match:
            return None, _why_not_a_date(s)
        day_first = True
        day, month, year = int(match[1]), int(match[3]), int(match[4])
    hour, minute, second, fraction, offset = match.groups()[4:]
    if not years[0] <= year <= years[1]:
        return None, Reason.of("import.why.year_out_of_range", year=str(year))
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        wall = datetime(year, month, day, int(hour or 0), int(minute or 0), int(second or 0), micro)
    except ValueError as exc:
        if day_first and month > 12 and day <= 12:
            return None, Reason.of("import.why.date_month_first", error=str(exc))
        return None, Reason.of("import.why.date_invalid", error=str(exc))
    if offset is None:
        return WrittenDate(wall, hour is not None, None), None
    if offset.upper() in ("Z", "UTC", "GMT"):
        return WrittenDate(wall, hour is not None, timedelta(0)), None
    hours, minutes = int(offset[1:3]), int(offset[-2:]) if len(offset) > 3 else 0
    if hours > 14 or minutes >= 60:
        return None, Reason.of("import.why.offset_invalid", offset=offset)
    delta = timedelta(minutes=(hours * 60 + minutes) * (-1 if offset[0] == "-" else 1))
    return WrittenDate(wall, hour is not None, delta), None


def parse_fecha(raw: str, zone: ZoneInfo) -> tuple[datetime | None, Reason | None]:
    """(UTC instant, None) or (None, why not), read by `read_date`'s policy.

    Naive values are local to `zone`; a date without a time is noon, so its
    local day survives any conversion. Years 1900 to 2200 (checked before
    any conversion, which would overflow at the ends).
    """
    written, why = read_written_date(raw, years=(1900, 2200))
    if written is None:
        return None, why
    moment = written.wall if written.has_time else written.wall.replace(hour=12)
    if written.offset is None:
        return moment.replace(tzinfo=zone).astimezone(_UTC), None
    return moment.replace(tzinfo=timezone(written.offset)).astimezone(_UTC), None


def _why_not_a_date(s: str) -> Reason:
    if re.fullmatch(r"\d{5}(?:[.,]\d+)?", s):
        return Reason.of("import.why.date_excel_number")
    if re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(?:\s.*)?", s):
        return Reason.of("import.why.date_two_digit_year")
    if re.search(r"\b[ap]\.?m\.?\b", s, flags=re.IGNORECASE):
        return Reason.of("import.why.date_12_hour")
    return Reason.of("import.why.not_a_date")


_SEPARATORS = ".,' \u00a0\u202f"
_NUMBER = re.compile(r"[0-9" + _SEPARATORS + r"]*[0-9]")
_PLAIN = re.compile(r"(-?)([0-9]+)(?:([.,])([0-9]{1,2}|[0-9]{4,}))?")
_SCIENTIFIC = re.compile(r"[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]+")
_CURRENCY = re.compile(r"^(?:[€$£]|EUR|USD|MXN|ARS|COP|CLP|PEN|GBP)\s*|\s*(?:[€$£]|EUR|USD|MXN|ARS|COP|CLP|PEN|GBP)$",
                       re.IGNORECASE)
_NOT_NUMBERS = {"nan", "inf", "infinity", "null", "none", "n/a", "na", "#n/a", "#value!", "#¡valor!", "#div/0!", "-"}
COMMA, POINT = ",", "."


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """`1.234` or `1,234`: thousands or decimals, decided by the file's convention."""

    text: str
    separator: str
    sign: int

    def resolve(self, decimal: str) -> float:
        whole, frac = self.text.split(self.separator)
        value = float(f"{whole}.{frac}") if self.separator == decimal else float(whole + frac)
        return self.sign * value


AMOUNT_EMPTY = Reason.of("import.why.amount_empty")
_NOT_A_NUMBER = Reason.of("import.why.not_a_number")
_MISPLACED = Reason.of("import.why.thousands_misplaced")


def parse_amount(raw: str) -> tuple[float | Ambiguous | None, str | None, Reason | None]:
    """(value, decimal separator it shows, None) or (None, None, why not); `AMOUNT_EMPTY` for a blank value.

    The decimal separator is returned when the value proves one (`12,50`,
    `1.234,56`, `1.234.567`), so the file's convention can settle the
    ambiguous values.
    """
    s = raw.strip()
    plain = _PLAIN.fullmatch(s)
    if plain:
        # Most amounts (`12`, `-3,50`, `1234.5`): one separator at most, not followed by exactly 3 digits.
        sign, whole, separator, frac = plain.groups()
        value = float(f"{whole}.{frac}") if separator else float(whole)
        return (-value if sign else value), separator, None
    if not s:
        return None, None, AMOUNT_EMPTY
    if s.lower() in _NOT_NUMBERS or s.lower().lstrip("+-") in _NOT_NUMBERS:
        return None, None, _NOT_A_NUMBER
    s = _CURRENCY.sub("", s)
    sign = 1
    if s and s[0] in "+-\u2212":
        sign, s = (-1 if s[0] != "+" else 1), _CURRENCY.sub("", s[1:].lstrip())
    if _SCIENTIFIC.fullmatch(s):
        value = float(s)
        if not math.isfinite(value):
            return None, None, Reason.of("import.why.number_too_large")
        return sign * value, None, None
    if s and s[0] in ".,":
        s = "0" + s
    if not _NUMBER.fullmatch(s):
        return None, None, _NOT_A_NUMBER
    separators = [ch for ch in s if ch in _SEPARATORS]
    if not separators:
        return sign * float(s), None, None
    groups = re.split(r"[" + _SEPARATORS + r"]", s)
    if any(not g for g in groups):
        return None, None, Reason.of("import.why.separators_in_a_row")
    last = separators[-1]
    before = set(separators[:-1])
    if last in ".," and before and last not in before:
        # 1.234,56 / 1,234.56 / 1 234,56: the last one is the decimal separator.
        if len(before) > 1 or not _grouped(groups[:-1]):
            return None, None, _MISPLACED
        return sign * float("".join(groups[:-1]) + "." + groups[-1]), last, None
    if len(set(separators)) > 1:
        return None, None, Reason.of("import.why.separators_mixed")
    if last not in ".," or len(separators) > 1:
        if not _grouped(groups):
            return None, None, _MISPLACED
        proves = {POINT: COMMA, COMMA: POINT}.get(last) if last in ".," else None  # 1.234.567: '.' groups
        return sign * float("".join(groups)), proves, None
    whole, frac = groups
    if len(frac) != 3 or len(whole) > 3 or whole.startswith("0"):
        # 12,5 / 0,125 / 1234,567: only a decimal reading makes sense.
        return sign * float(f"{whole}.{frac}"), last, None
    return Ambiguous(s, last, sign), None, None


def _grouped(groups: Sequence[str]) -> bool:
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])

