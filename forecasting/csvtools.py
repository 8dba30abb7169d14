"""Backtest and forecast any long-format CSV (`unique_id, ds, y`), no database needed.

The same engine as the tenant pipeline (`engine.forecast_series`) runs per
series, so a CSV forecast is made exactly as a stored one.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import MLSettings
from .engine import forecast_series, select_candidates
from .errors import DataError
from .models import lower_col, upper_col

MAX_REPORTED = 10


def read_long_csv(path: str | Path, *, id_col: str = "unique_id", date_col: str = "ds", value_col: str = "y") -> pd.DataFrame:
    """Read and validate a long-format CSV into `unique_id, ds, y`.

    Every problem names the file's line numbers (the header is line 1).
    Days missing inside a series are filled with 0 (no sales that day).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (UnicodeDecodeError, pd.errors.ParserError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in (date_col, value_col) if c not in raw.columns]
    if missing:
        hint = " (is the delimiter a comma?)" if len(raw.columns) == 1 else ""
        raise DataError(f"{path}: missing column(s) {missing}; the file has {list(raw.columns)}{hint}")
    if raw.empty:
        raise DataError(f"{path}: no data rows below the header")
    ids = raw[id_col].str.strip() if id_col in raw.columns else pd.Series("series", index=raw.index)
    lines = raw.index.to_numpy() + 2

    dates = pd.to_datetime(raw[date_col].str.strip(), errors="coerce", format="mixed")
    _report(path, lines, dates.isna().to_numpy(), f"{date_col!r} is not a date")
    values = pd.to_numeric(raw[value_col].str.strip(), errors="coerce")
    _report(path, lines, ~np.isfinite(values.to_numpy(dtype=float)), f"{value_col!r} is not a finite number")
    _report(path, lines, (ids == "").to_numpy(), f"{id_col!r} is empty")

    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    frame = pd.DataFrame({"unique_id": ids, "ds": dates.dt.normalize(), "y": values.astype(float)})
    duplicated = frame.duplicated(["unique_id", "ds"], keep=False).to_numpy()
    _report(path, lines, duplicated, "the same series and date appear more than once")
    return frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def _report(path: Path, lines: np.ndarray, bad: np.ndarray, reason: str) -> None:
    if bad.any():
        where = ", ".join(str(n) for n in lines[bad][:MAX_REPORTED])
        more = f" and {int(bad.sum()) - MAX_REPORTED} more" if bad.sum() > MAX_REPORTED else ""
        raise DataError(f"{path}: line(s) {where}{more}: {reason}")


def iter_series(frame: pd.DataFrame):
    """(id, daily series with missing days as 0) for each series, in id order."""
    for uid, group in frame.groupby("unique_id", sort=True):
        series = group.set_index("ds")["y"]
        index = pd.date_range(series.index.min(), series.index.max(), freq="D", name="ds")
        yield uid, series.reindex(index, fill_value=0.0).rename("y")


def forecast_frame(frame: pd.DataFrame, settings: MLSettings, *, levels: Sequence[int] = (80, 95),
                   country: str | None = None) -> pd.DataFrame:
    """Forecast every series; columns `unique_id, ds, yhat, yhat_lower_L, yhat_upper_L..., model`."""
    levels = tuple(sorted({int(level) for level in levels}))
    for level in levels:
        if not 0 < level < 100:
            raise DataError(f"interval level must be between 0 and 100, got {level}")
    parts = []
    for uid, y in iter_series(frame):
        outcome = forecast_series(y, settings, country=country, levels=levels)
        part = outcome.forecast.reset_index()
        part.insert(0, "unique_id", uid)
        part["model"] = outcome.winner
        parts.append(part)
    columns = ["unique_id", "ds", "yhat", *[c for level in levels for c in (lower_col(level), upper_col(level))], "model"]
    return pd.concat(parts, ignore_index=True)[columns]


def backtest_frame(frame: pd.DataFrame, settings: MLSettings, *, country: str | None = None) -> dict[str, Any]:
    """Rolling-origin CV of every candidate on every series, with the winner per series."""
    series_results: dict[str, Any] = {}
    winners: dict[str, int] = {}
    all_scores = []
    for uid, y in iter_series(frame):
        selection = select_candidates(y, settings, country=country)
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
                     "primary_metric": settings.cv_primary_metric, "candidates": settings.model_candidates},
        "series": series_results,
        "summary": {"series": len(series_results), "winners": winners, "mean_scores": mean_scores},
    }
