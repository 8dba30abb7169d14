"""CSV exports a spreadsheet opens safely.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a
formula to Excel, LibreOffice and Google Sheets: `=HYPERLINK(...)` in a
product's name, `+cmd|...` in a series id or a currency of `=1+1` would run
when the file is opened. As OWASP recommends (CSV injection), such text cells
get a leading `'`, which spreadsheets show as text; plain numbers (`-12.5`,
`+3`, `1e-5`) stay numbers. Every CSV the product writes (`forecast --out`,
`predict --out`, the dashboard's downloads) goes through `write_csv`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralize(value: Any) -> Any:
    """`value` with a leading `'` when a spreadsheet would read it as a formula; other values unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value.strip()):
        return "'" + value
    return value


def neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and column names are neutralized (numbers, dates and booleans untouched)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralize)
    out.columns = [neutralize(str(c)) for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, target: str | Path | None = None, **to_csv: Any) -> bytes | None:
    """Write `frame` as CSV to `target` (a path), or return the UTF-8 bytes when `target` is None."""
    safe = neutralized(frame)
    if target is not None:
        safe.to_csv(target, index=False, **to_csv)
        return None
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, **to_csv)
    return buffer.getvalue().encode("utf-8")
