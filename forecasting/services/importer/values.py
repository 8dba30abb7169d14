"""Values of a sales CSV: dates (`fecha`) and amounts (`total`, `cantidad`), as the package docstring says.

`read_date` holds the one day-first/month-first policy of every CSV the
product reads; csvtools uses it too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

_UTC = timezone.utc


def aware_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one is taken as UTC."""
    return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)


_TIME = r"(?:(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
_OFFSET = r"\s*([Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_YMD = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})" + _TIME + _OFFSET, re.IGNORECASE)
_DMY = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME + _OFFSET, re.IGNORECASE)
_FORMATS = "use YYYY-MM-DD HH:MM (optionally with Z or +01:00) or DD/MM/YYYY HH:MM, day first"
_MONTH_FIRST = ("dates with / are read day first (DD/MM/YYYY) and this one only works month first: "
                "write dates as YYYY-MM-DD")


class WrittenDate(NamedTuple):
    """A date as a CSV writes it, nothing converted: the wall-clock time, and the offset when one is written."""

    wall: datetime  # naive; midnight when no time is written
    has_time: bool
    offset: timedelta | None  # None: no offset written (Z, UTC and GMT are 0)


def read_date(raw: str, *, years: tuple[int, int] = (1, 9999)) -> tuple[WrittenDate | None, str | None]:
    """(the date written in `raw`, None) or (None, why it is not one): the one date reader of every CSV.

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
    """
    s = raw.strip()
    if not s:
        return None, "the date is empty"
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
        return None, f"the year {year} is out of range: check the year"
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        wall = datetime(year, month, day, int(hour or 0), int(minute or 0), int(second or 0), micro)
    except ValueError as exc:
        reason = f"not a valid date ({exc})"
        if day_first and month > 12 and day <= 12:
            reason += f"; {_MONTH_FIRST}"
        return None, reason
    if offset is None:
        return WrittenDate(wall, hour is not None, None), None
    if offset.upper() in ("Z", "UTC", "GMT"):
        return WrittenDate(wall, hour is not None, timedelta(0)), None
    hours, minutes = int(offset[1:3]), int(offset[-2:]) if len(offset) > 3 else 0
    if hours > 14 or minutes >= 60:
        return None, f"the time zone offset {offset} does not exist"
    delta = timedelta(minutes=(hours * 60 + minutes) * (-1 if offset[0] == "-" else 1))
    return WrittenDate(wall, hour is not None, delta), None


def parse_fecha(raw: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """(UTC instant, None) or (None, why not), read by `read_date`'s policy.

    Naive values are local to `zone`; a date without a time is noon, so its
    local day survives any conversion. Years 1900 to 2200 (checked before
    any conversion, which would overflow at the ends).
    """
    written, why = read_date(raw, years=(1900, 2200))
    if written is None:
        return None, why
    moment = written.wall if written.has_time else written.wall.replace(hour=12)
    if written.offset is None:
        return moment.replace(tzinfo=zone).astimezone(_UTC), None
    return moment.replace(tzinfo=timezone(written.offset)).astimezone(_UTC), None


def _why_not_a_date(s: str) -> str:
    if re.fullmatch(r"\d{5}(?:[.,]\d+)?", s):
        return ("looks like an Excel date number, not a date: format the column as a date "
                "(YYYY-MM-DD HH:MM) before saving as CSV")
    if re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(?:\s.*)?", s):
        return "the year has two digits: write it with four (DD/MM/YYYY)"
    if re.search(r"\b[ap]\.?m\.?\b", s, flags=re.IGNORECASE):
        return f"12-hour times (AM/PM) are not accepted: {_FORMATS}"
    return f"not a date: {_FORMATS}"


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


def parse_amount(raw: str) -> tuple[float | Ambiguous | None, str | None, str | None]:
    """(value, decimal separator it shows, None) or (None, None, why not).

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
        return None, None, "empty"
    if s.lower() in _NOT_NUMBERS or s.lower().lstrip("+-") in _NOT_NUMBERS:
        return None, None, "not a number: write the amount with digits, e.g. 1234,56"
    s = _CURRENCY.sub("", s)
    sign = 1
    if s and s[0] in "+-\u2212":
        sign, s = (-1 if s[0] != "+" else 1), _CURRENCY.sub("", s[1:].lstrip())
    if _SCIENTIFIC.fullmatch(s):
        value = float(s)
        if not math.isfinite(value):
            return None, None, "the number is too large"
        return sign * value, None, None
    if s and s[0] in ".,":
        s = "0" + s
    if not _NUMBER.fullmatch(s):
        return None, None, "not a number: write the amount with digits, e.g. 1234,56"
    separators = [ch for ch in s if ch in _SEPARATORS]
    if not separators:
        return sign * float(s), None, None
    groups = re.split(r"[" + _SEPARATORS + r"]", s)
    if any(not g for g in groups):
        return None, None, "two separators in a row"
    last = separators[-1]
    before = set(separators[:-1])
    if last in ".," and before and last not in before:
        # 1.234,56 / 1,234.56 / 1 234,56: the last one is the decimal separator.
        if len(before) > 1 or not _grouped(groups[:-1]):
            return None, None, "the thousands separators are misplaced"
        return sign * float("".join(groups[:-1]) + "." + groups[-1]), last, None
    if len(set(separators)) > 1:
        return None, None, "mixed separators that don't make a number"
    if last not in ".," or len(separators) > 1:
        if not _grouped(groups):
            return None, None, "the thousands separators are misplaced"
        proves = {POINT: COMMA, COMMA: POINT}.get(last) if last in ".," else None  # 1.234.567: '.' groups
        return sign * float("".join(groups)), proves, None
    whole, frac = groups
    if len(frac) != 3 or len(whole) > 3 or whole.startswith("0"):
        # 12,5 / 0,125 / 1234,567: only a decimal reading makes sense.
        return sign * float(f"{whole}.{frac}"), last, None
    return Ambiguous(s, last, sign), None, None


def _grouped(groups: Sequence[str]) -> bool:
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])

