"""Values of a sales CSV: dates (`fecha`) and amounts (`total`, `cantidad`), as the package docstring says."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
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


def parse_fecha(raw: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """(UTC instant, None) or (None, why not). Naive values are local to `zone`; date only = noon."""
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
    if not 1900 <= year <= 2200:  # checked before any time zone conversion, which would overflow at the ends
        return None, f"the year {year} is out of range: check the year"
    if hour is None:
        hour, minute = "12", "0"  # a day without a time: noon keeps it on its local day
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        moment = datetime(year, month, day, int(hour), int(minute), int(second or 0), micro)
    except ValueError as exc:
        reason = f"not a valid date ({exc})"
        if day_first and month > 12 and day <= 12:
            reason += ("; dates with / are read day first (DD/MM/YYYY) and this one only works month first: "
                       "write dates as YYYY-MM-DD")
        return None, reason
    if offset is None:
        return moment.replace(tzinfo=zone).astimezone(_UTC), None
    if offset.upper() in ("Z", "UTC", "GMT"):
        return moment.replace(tzinfo=_UTC), None
    hours, minutes = int(offset[1:3]), int(offset[-2:]) if len(offset) > 3 else 0
    if hours > 14 or minutes >= 60:
        return None, f"the time zone offset {offset} does not exist"
    delta = timedelta(hours=hours, minutes=minutes) * (-1 if offset[0] == "-" else 1)
    return moment.replace(tzinfo=timezone(delta)).astimezone(_UTC), None


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

