"""Messages kept as i18n keys and values (notifications), said in any language with its formatting.

A message is `{"title": [key, values], "message": [[key, values], ...]}`;
the parts of `message` are joined by a space. Values are plain JSON and
formatted by the suffix of their name: `_pct` a fraction as a percentage,
`_spct` the same with a sign, `_money` an amount in the business's
currency, `_date` an ISO date, `_day` an ISO date said with its weekday, `_num` a number; anything else is text.
A key with plural forms takes its count from the value its catalog entry
names ("#. count: {stock_num}"), as it was stored, before formatting: 1
unit, 2 units, 2.5 units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .catalog import STRINGS, md, plural_count, t
from .formatting import Formatter

Part = tuple[str, Mapping[str, Any]]


def message(title: Part, parts: Sequence[Part]) -> dict[str, Any]:
    """The stored form of a message (JSON-safe)."""
    return {"title": [title[0], dict(title[1])], "message": [[key, dict(values)] for key, values in parts]}


def say(details: Any, lang: str, fmt: Formatter, *, markdown: bool = False) -> tuple[str, str] | None:
    """(title, message) in `lang`, or None when `details` is not a message this version knows
    (absent, malformed, or written by a newer version with keys unknown here). With `markdown`, the
    values (a product's name, say) are escaped for a Markdown element."""
    try:
        title = details["title"]
        parts = [title, *details["message"]]
        if not all(isinstance(key, str) and key in STRINGS and isinstance(values, Mapping) for key, values in parts):
            return None
        say_one = md if markdown else t
        texts = [say_one(key, lang, **_values(key, values, fmt)) for key, values in parts]
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return texts[0], " ".join(texts[1:])


def _values(key: str, values: Mapping[str, Any], fmt: Formatter) -> dict[str, Any]:
    """`values` formatted for the reader, plus the count `n` as stored when `key` has plural forms."""
    shown: dict[str, Any] = {name: _format(name, value, fmt) for name, value in values.items()}
    count = plural_count(key)
    if count is not None and "n" not in values and values.get(count) is not None:
        shown["n"] = values[count]
    return shown


def _format(name: str, value: Any, fmt: Formatter) -> str:
    if value is None:
        return ""
    if name.endswith("_spct"):
        return fmt.percent(float(value), signed=True)
    if name.endswith("_pct"):
        return fmt.percent(float(value))
    if name.endswith("_money"):
        return fmt.money(float(value), whole=True)
    if name.endswith("_date"):
        return fmt.date(value)
    if name.endswith("_day"):
        return fmt.day(value)
    if name.endswith("_num"):
        number = float(value)
        return fmt.number(number, 0 if number.is_integer() else 1)
    return str(value)
