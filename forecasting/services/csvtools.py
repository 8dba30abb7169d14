"""Backtest and forecast any long-format CSV (`unique_id, ds, y`), no database needed.

The same engine as the tenant pipeline (`engine.forecast_series`) runs per
series, so a CSV forecast is made exactly as a stored one. A file with
several series is one user's series, so learning across them is allowed:
there one LightGBM learned across all of them (`core.across`, the model the
products engine learns across a tenant's products) competes in every
series' CV as `lightgbm_across`, beside the configured candidates. The
output has the same columns either way.

How a file is read (decisions, for the README's "Command line"):

* Bytes: through the importer's reader (`importer.read_text_file`), so
  `forecast`/`backtest --csv` accept what `import-sales` accepts: UTF-8 with
  or without BOM, UTF-16 with BOM, cp1252 or latin-1; a file mixing UTF-8
  with another encoding is refused naming the first line of each. At most
  `MAX_BYTES` (1 GiB, some 30 million rows), refused before it is read.
* Dates: read by the importer's date reader (`importer.read_date`), so a
  value is the same day here as in `import-sales`: ISO (year first), or
  day first (`01/03/2026` is 1 March; `03/25/2026`, which only works month
  first, is an error that says so); see its docstring for the policy.
  Each value counts on the day written in it. A timestamp with an offset
  (`2024-03-31T00:30:00+02:00`, `...Z`) is its local day, the one on the
  wall where it was written (March 31 here, although it is March 30 in
  UTC); one without an offset is the day it says. The time of day is
  dropped. So one column may mix offsets (daylight saving) and naive
  values; nothing is converted to UTC.
* Every bad value names its line (the header is line 1) and the value: not
  a date, a date pandas can't hold (before 1677-09-22 or after 2262-04-11),
  not a finite number, an empty id, the same series and day twice.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.across import NAME as ACROSS
from ..core.across import across_series
from ..core.config import MLSettings
from ..core.engine import forecast_series, select_candidates
from ..core.errors import ConfigError, DataError
from ..core.models import lower_col, upper_col
from ..core.series import fill_days

MAX_REPORTED = 10
#: The largest CSV `forecast`/`backtest` read; a larger one is refused before it is read.
MAX_BYTES = 1024 ** 3
#: Progress is printed every this many series at most (and for the first and the last).
PROGRESS_EVERY = 10

Progress = Callable[[int, int, str], None]

_FIRST_DAY, _LAST_DAY = pd.Timestamp.min.ceil("D").to_pydatetime(), pd.Timestamp.max.floor("D").to_pydatetime()
_OUTSIDE = f"outside the dates this tool handles ({_FIRST_DAY:%Y-%m-%d} to {_LAST_DAY:%Y-%m-%d})"


def read_long_csv(path: str | Path, *, id_col: str = "unique_id", date_col: str = "ds", value_col: str | None = "y",
                  max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """Read and validate a long-format CSV into `unique_id, ds, y` (ds: a day, no time, no zone).

    Every problem names the file's line numbers (the header is line 1) and
    the values. Days missing inside a series are filled with 0 (no sales
    that day) by `iter_series`. Each date counts on the day written in it:
    with an offset, its local day (`2024-03-31T00:30:00+02:00` is March 31),
    without one, the day as written; see the module's docstring.

    Any other column is a known-ahead column (`known_columns`): kept, as
    0 or 1 on every row. `value_col=None` reads a file without values (the
    `--future` file).
    """
    from .importer import read_text_file

    path = Path(path)
    text, _ = read_text_file(path, max_bytes=max_bytes)
    data = io.BytesIO(text.encode("utf-8"))  # pandas' C parser reads bytes without copying them again
    del text
    try:
        with warnings.catch_warnings():
            # index_col=False: a first row with one field too many is not taken for an index column (which
            # would shift every column by one, silently); pandas warns instead, and that is an error here.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # skip_blank_lines=False keeps one row per line, so line numbers stay right; blank rows go below.
            raw = pd.read_csv(data, encoding="utf-8", dtype=str, keep_default_na=False, skipinitialspace=True,
                              skip_blank_lines=False, index_col=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except pd.errors.ParserWarning:
        raise DataError(f"{path}: the first data row has more fields than the header; a value containing a "
                        "comma must be in double quotes") from None
    except (pd.errors.ParserError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    del data
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in (date_col, value_col) if c is not None and c not in raw.columns]
    if missing:
        hint = " (is the delimiter a comma?)" if len(raw.columns) == 1 else ""
        raise DataError(f"{path}: missing column(s) {missing}; the file has {list(raw.columns)}{hint}")
    lines = raw.index.to_numpy() + 2
    columns = {name: _stripped(raw[name]) for name in raw.columns}
    blank = np.logical_and.reduce([(column == "").to_numpy() for column in columns.values()])
    if blank.any():  # blank lines, and rows of empty fields (`,,`) spreadsheets leave at the end
        lines = lines[~blank]
        columns = {name: column[~blank] for name, column in columns.items()}
    if not len(lines):
        raise DataError(f"{path}: no data rows below the header")
    written = columns[date_col]
    ids = columns[id_col] if id_col in columns else pd.Series("series", index=written.index, dtype=object)

    days = _written_days(written)
    _report_dates(path, lines, written.to_numpy(dtype=object), days.isna().to_numpy(), date_col)
    frame = pd.DataFrame({"unique_id": ids.to_numpy(), "ds": days.to_numpy()})
    if value_col is not None:
        frame["y"] = _numbers(path, lines, columns[value_col], value_col).to_numpy()
    _report(path, lines, (ids == "").to_numpy(), f"{id_col!r} is empty")
    for name in [c for c in columns if c not in (id_col, date_col, value_col)]:
        flags = _numbers(path, lines, columns[name], name)
        _report(path, lines, ~flags.isin([0.0, 1.0]).to_numpy(), f"{name!r} is a known-ahead column and takes 0 or 1 "
                "only (a number that varies otherwise, such as a price, is not used yet)",
                values=columns[name].to_numpy(dtype=object))
        frame[name] = flags.to_numpy()
    duplicated = frame.duplicated(["unique_id", "ds"], keep=False).to_numpy()
    _report(path, lines, duplicated, "the same series and date appear more than once")
    return frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def _numbers(path: Path, lines: np.ndarray, text_values: pd.Series, name: str) -> pd.Series:
    """A column's values as finite numbers, or a DataError naming the lines that aren't one."""
    codes, uniques = pd.factorize(text_values, sort=False)  # each distinct text converted once
    values = pd.Series(pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").to_numpy(dtype=float)[codes],
                       index=text_values.index)
    _report(path, lines, ~np.isfinite(values.to_numpy(dtype=float)),
            f"{name!r} is empty" if (text_values == "").all() else f"{name!r} is not a finite number",
            values=text_values.to_numpy(dtype=object))
    return values


# --- known-ahead columns (Nixtla's X_df convention) -------------------------------------------------

#: How a known-ahead column's name says what its days are (lower case, first match wins); any other
#: column is an event named after the column. `open` is the one whose 0 days are the special ones.
COLUMN_KINDS = (("open", "closed"), ("abierto", "closed"), ("closed", "closed"), ("cerrado", "closed"),
                ("promo", "promotion"), ("oferta", "promotion"), ("holiday", "holiday"), ("festivo", "holiday"),
                ("feriado", "holiday"), ("one_off", "one_off"), ("puntual", "one_off"))


def known_columns(frame: pd.DataFrame) -> list[str]:
    """The known-ahead columns of a frame `read_long_csv` read (none: a plain `unique_id, ds, y` file)."""
    return [c for c in frame.columns if c not in ("unique_id", "ds", "y")]


def column_kind(name: str) -> str:
    lowered = name.strip().lower()
    return next((kind for word, kind in COLUMN_KINDS if word in lowered), "event")


def read_future_csv(path: str | Path, frame: pd.DataFrame, horizon: int, *, id_col: str = "unique_id",
                    date_col: str = "ds") -> pd.DataFrame:
    """The `--future` file: `unique_id, ds` and the training file's known-ahead columns for every forecast day.

    Refused, naming what is wrong: a column in only one of the files, a
    value that is not 0 or 1, and a series or forecast day the file lacks.
    """
    future = read_long_csv(path, id_col=id_col, date_col=date_col, value_col=None)
    expected, got = set(known_columns(frame)), set(known_columns(future))
    if expected != got:
        only_train, only_future = sorted(expected - got), sorted(got - expected)
        parts = ([f"{', '.join(only_train)} only in the training file"] if only_train else []) + \
                ([f"{', '.join(only_future)} only in the future file"] if only_future else [])
        raise DataError(f"{path}: the known-ahead columns differ: {'; '.join(parts)}")
    present = set(zip(future["unique_id"], future["ds"], strict=True))
    for uid, last in frame.groupby("unique_id")["ds"].max().items():
        days = pd.date_range(last + pd.Timedelta(days=1), periods=horizon, freq="D")
        lacking = [day for day in days if (uid, day) not in present]
        if lacking:
            raise DataError(f"{path}: series {uid!r} lacks {len(lacking)} of its {horizon} forecast days, from "
                            f"{lacking[0]:%Y-%m-%d} (every forecast day needs its known-ahead values)")
    return future


def series_calendars(frame: pd.DataFrame, future: pd.DataFrame | None, country: str | None) -> dict:
    """Each series' `Calendar` from its known-ahead columns over its history and forecast days (empty without any)."""
    from ..core.events import Calendar, events_from_flags

    columns = known_columns(frame)
    if not columns:
        return {}
    rows = frame if future is None else pd.concat([frame.drop(columns="y"), future], ignore_index=True)
    calendars = {}
    for uid, group in rows.groupby("unique_id", sort=False):
        days = group.set_index("ds")[columns].sort_index()
        days = days.reindex(pd.date_range(days.index.min(), days.index.max(), freq="D"), fill_value=0.0)
        events = []
        for name in columns:
            kind = column_kind(name)
            opened = kind == "closed" and name.strip().lower() in ("open", "abierto")
            events.extend(events_from_flags(1.0 - days[name] if opened else days[name], name, kind))
        calendars[uid] = Calendar(tuple(events), frozenset(), country)
    return calendars


def _stripped(column: pd.Series) -> pd.Series:
    """The column's text without surrounding spaces ("" for a missing field), each distinct value stripped once."""
    codes, uniques = pd.factorize(column.fillna(""), sort=False)
    stripped = np.array([text.strip() for text in uniques], dtype=object)
    return pd.Series(stripped[codes] if len(codes) else stripped[:0], index=column.index, dtype=object)


def _written_days(written: pd.Series) -> pd.Series:
    """The day written in each value (NaT where there is none), as naive midnight timestamps.

    Each distinct text is read once, by the importer's date reader, and keeps
    the day on its wall clock: an offset, when one is written, is not applied.
    """
    from .importer import read_date

    codes, uniques = pd.factorize(written, sort=False)
    days = pd.DatetimeIndex([_read_day(text, read_date)[0] for text in uniques], dtype="datetime64[ns]")
    return pd.Series(days.take(codes, allow_fill=True, fill_value=pd.NaT) if len(codes) else days[:0],
                     index=written.index)


def _why_not_a_day(text: str) -> str:
    """Why `text` gave no day: empty, unreadable, or a date pandas can't hold."""
    from .importer import read_date

    _, why = _read_day(text, read_date)
    return why or "not a date"


def _read_day(text: str, read_date) -> tuple[datetime | None, str | None]:
    """(midnight of the day `read_date` finds in `text`, None), or (None, why there is none, to follow "'ds' is")."""
    if not text:
        return None, "empty"
    written, why = read_date(text)
    if written is None:
        return None, why if why.startswith("not ") else f"not a date: {why}"
    day = written.wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if not _FIRST_DAY <= day <= _LAST_DAY:
        return None, _OUTSIDE
    return day, None


def _report_dates(path: Path, lines: np.ndarray, written: np.ndarray, bad: np.ndarray, column: str) -> None:
    """Name the first bad dates with their lines and values, grouped by what is wrong with them."""
    if not bad.any():
        return
    where = np.flatnonzero(bad)
    groups: dict[str, list[str]] = {}
    for i in where[:MAX_REPORTED]:
        groups.setdefault(_why_not_a_day(written[i]), []).append(_shown(lines[i], written[i]))
    parts = [f"line(s) {', '.join(shown)}: {column!r} is {why}" for why, shown in groups.items()]
    more = f"; and {len(where) - MAX_REPORTED} more line(s) with a bad {column!r}" if len(where) > MAX_REPORTED else ""
    raise DataError(f"{path}: {'; '.join(parts)}{more}")


def _report(path: Path, lines: np.ndarray, bad: np.ndarray, reason: str, values: np.ndarray | None = None) -> None:
    if bad.any():
        shown = [_shown(line, None if values is None else values[i])
                 for i, line in zip(np.flatnonzero(bad)[:MAX_REPORTED], lines[bad][:MAX_REPORTED], strict=True)]
        more = f" and {int(bad.sum()) - MAX_REPORTED} more" if bad.sum() > MAX_REPORTED else ""
        raise DataError(f"{path}: line(s) {', '.join(shown)}{more}: {reason}")


def _shown(line: int, value: str | None) -> str:
    if value is None:
        return str(line)
    value = value if len(value) <= 40 else value[:37] + "..."
    return f"{line} ({value!r})"


def check_output(out: str | Path, *, source: str | Path | None = None) -> Path:
    """Refuse an `--out` that can't be written before any work is done: a missing or read-only directory,
    a directory given as the file, or the input file itself."""
    out = Path(out)
    parent = out.parent
    problem = None
    if out.is_dir():
        problem = "is a directory; give a file name"
    elif not parent.is_dir():
        problem = f"the directory {parent} does not exist" if not parent.exists() else f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        problem = "can't be written (permission denied)"
    elif source is not None and out.exists() and out.resolve() == Path(source).resolve():
        problem = "is the input file; write the results to another file"
    if problem:
        raise ConfigError(f"--out {out}: {problem}; nothing was done")
    return out


def progress_printer(verb: str, stream=None) -> Progress:
    """A `progress` callback printing `forecasting series 150/2000 (store-150), 1 min so far, about 12 min left`.

    Printed for the first series, every `PROGRESS_EVERY` series (every 5% when
    there are fewer than 200), and the last: by count, never by time, so the
    same file always prints the same lines. To stderr, so stdout keeps only
    the result.
    """
    started = time.perf_counter()

    def show(done: int, total: int, uid: str) -> None:
        step = max(1, min(PROGRESS_EVERY, total // 20))
        if done not in (1, total) and done % step:
            return
        elapsed = time.perf_counter() - started
        timing = ""
        if done > 1:
            left = elapsed / (done - 1) * (total - done + 1)
            timing = f", {_duration(elapsed)} so far, about {_duration(left)} left"
        print(f"{verb} series {done}/{total} ({uid}){timing} ...", file=stream or sys.stderr, flush=True)

    return show


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def iter_series(frame: pd.DataFrame):
    """(id, daily series with missing days as 0) for each series, in id order."""
    for uid, group in frame.groupby("unique_id", sort=True):
        series = group.set_index("ds")["y"]
        yield uid, fill_days(series, series.index.min(), series.index.max())


def forecast_frame(frame: pd.DataFrame, settings: MLSettings, *, levels: Sequence[int] = (80, 95),
                   country: str | None = None, progress: Progress | None = None,
                   future: pd.DataFrame | None = None) -> pd.DataFrame:
    """Forecast every series; columns `unique_id, ds, yhat, yhat_lower_L, yhat_upper_L..., model`.

    `progress(n, total, id)` is called before the n-th series (from 1). With
    known-ahead columns, `future` (`read_future_csv`) gives them for the
    forecast days, and each series is forecast with its calendar.
    """
    if known_columns(frame) and future is None:
        raise DataError(f"the file has known-ahead columns ({', '.join(known_columns(frame))}): give their values "
                        "for the forecast days with --future FUTURE_CSV (unique_id, ds and the same columns)")
    levels = tuple(sorted({int(level) for level in levels}))
    for level in levels:
        if not 0 < level < 100:
            raise DataError(f"interval level must be between 0 and 100, got {level}")
    parts = []
    total = frame["unique_id"].nunique()
    across = across_series(frame, settings, country)
    calendars = series_calendars(frame, future, country)
    for done, (uid, y) in enumerate(iter_series(frame), start=1):
        if progress is not None:
            progress(done, total, str(uid))
        outcome = forecast_series(y, settings, country=country, levels=levels,
                                  extra=across.candidates(uid) if across else None,
                                  calendar=calendars.get(uid))
        part = outcome.forecast.reset_index()
        part.insert(0, "unique_id", uid)
        part["model"] = outcome.winner
        parts.append(part)
    columns = ["unique_id", "ds", "yhat", *[c for level in levels for c in (lower_col(level), upper_col(level))], "model"]
    return pd.concat(parts, ignore_index=True)[columns]


def backtest_frame(frame: pd.DataFrame, settings: MLSettings, *, country: str | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Rolling-origin CV of every candidate on every series, with the winner per series.

    `progress(n, total, id)` is called before the n-th series (from 1).
    """
    series_results: dict[str, Any] = {}
    winners: dict[str, int] = {}
    all_scores = []
    total = frame["unique_id"].nunique()
    across = across_series(frame, settings, country)
    calendars = series_calendars(frame, None, country)
    for done, (uid, y) in enumerate(iter_series(frame), start=1):
        if progress is not None:
            progress(done, total, str(uid))
        selection = select_candidates(y, settings, country=country,
                                      extra=across.candidates(uid) if across else None,
                                      calendar=calendars.get(uid))
        scores = selection.cv.scores()
        winner = selection.winner if not scores.empty else None
        if winner:
            winners[winner] = winners.get(winner, 0) + 1
            all_scores.append(scores.assign(unique_id=uid))
        series_results[str(uid)] = {
            "days": len(y),
            "winner": winner,
            "selection": selection.note,
            "horizon": selection.cv.plan.horizon,
            "folds": selection.cv.plan.folds,
            "scores": scores.to_dict(orient="index"),
            "skipped": selection.skipped,
        }
    mean_scores = (pd.concat(all_scores).groupby(level=0).mean(numeric_only=True).to_dict(orient="index")
                   if all_scores else {})
    return {
        "settings": {"horizon": settings.horizon_days, "folds": settings.cv_folds,
                     "primary_metric": settings.cv_primary_metric, "candidates": settings.model_candidates,
                     "across_series": ACROSS if across else None, "known_ahead": known_columns(frame)},
        "series": series_results,
        "summary": {"series": len(series_results), "winners": winners, "mean_scores": mean_scores},
    }
