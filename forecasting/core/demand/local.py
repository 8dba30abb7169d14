"""Local candidates: statsforecast models fitted per product, all products of a call at once.

Decisions:

* Fitted on open days only (closed weekdays removed, see `panel`), with
  integer time steps, then put back on the calendar with 0 on closed days.
  The seasonal period is the number of open weekdays (7 when none is closed).
* Besides the brief's candidates, Croston with the Syntetos-Boylan
  Approximation (SBA: Croston x (1 - alpha/2)), the standard correction of
  Croston's upward bias on intermittent demand; it costs about as little.
* TSB uses fixed alpha_d = alpha_p = 0.1, the middle of the 0.1-0.3 grid
  of Teunter, Syntetos and Babai (2011); statsforecast does not optimise
  them, and a low alpha_p lets the demand probability -- and so the
  forecast -- decay slowly towards 0 when a product stops selling.
* AutoETS competes only for smooth and erratic products: on intermittent
  demand its additive errors and level updates on zero days fit badly, and
  it costs 20-600 ms per product where the intermittent methods cost about
  1 ms. It sees the last `ETS_WINDOW` open days only and no trend ("ZNZ"):
  a daily product trend extrapolated 4 weeks rarely helps and the full
  search is 10-30 times slower.
* A model that fails on a product falls back to the historic average
  (statsforecast's `fallback_model`), so one odd series never sinks a call.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ModelError
from .panel import Panel

LOCAL_MODELS = ("croston", "sba", "tsb", "adida", "imapa", "snaive", "autoets")
ETS_WINDOW = 182
TSB_ALPHA_D = 0.1
TSB_ALPHA_P = 0.1


def _model(name: str, season: int):
    from statsforecast import models

    if name == "croston":
        return models.CrostonOptimized(alias=name)
    if name == "sba":
        return models.CrostonSBA(alias=name)
    if name == "tsb":
        return models.TSB(alpha_d=TSB_ALPHA_D, alpha_p=TSB_ALPHA_P, alias=name)
    if name == "adida":
        return models.ADIDA(alias=name)
    if name == "imapa":
        return models.IMAPA(alias=name)
    if name == "snaive":
        return models.SeasonalNaive(season_length=season, alias=name)
    if name == "autoets":
        return models.AutoETS(season_length=season, model="ZNZ", alias=name)
    raise ModelError(f"unknown local model {name!r}")


def open_series(panel: Panel, rows: np.ndarray, cutoff: int, window: int | None = None) -> pd.DataFrame:
    """Long frame (unique_id = row, ds = open-day step, y) of `rows` up to column `cutoff`."""
    is_open = panel.open_mask(panel.dates[: cutoff + 1])
    values = panel.y[rows][:, : cutoff + 1][:, is_open]
    listed = ~np.isnan(values)
    if window:
        steps_back = np.cumsum(listed[:, ::-1], axis=1)[:, ::-1]
        listed &= steps_back <= window
    row_idx, col_idx = np.nonzero(listed)
    return pd.DataFrame({"unique_id": rows[row_idx], "ds": col_idx, "y": values[row_idx, col_idx]})


def local_forecasts(panel: Panel, rows: np.ndarray, cutoff: int, h: int, names) -> dict[str, np.ndarray]:
    """Each model's forecast, (len(rows), h) on the calendar days after `cutoff`, for the products `rows`."""
    from statsforecast import StatsForecast
    from statsforecast.models import HistoricAverage

    rows = np.asarray(rows, dtype=int)
    names = [name for name in names if name in LOCAL_MODELS]
    if rows.size == 0 or not names:
        return {name: np.zeros((rows.size, h)) for name in names}
    future = pd.date_range(panel.dates[cutoff] + pd.Timedelta(days=1), periods=h, freq="D")
    open_future = panel.open_mask(future)
    h_open = int(open_future.sum())
    season = 7 - len(panel.closed_weekdays)
    out = {name: np.zeros((rows.size, h)) for name in names}
    if h_open == 0:
        return out
    position = pd.Series(np.arange(rows.size), index=rows)
    groups = [[n for n in names if n != "autoets"], [n for n in names if n == "autoets"]]
    for group in groups:
        if not group:
            continue
        frame = open_series(panel, rows, cutoff, ETS_WINDOW if group == ["autoets"] else None)
        engine = StatsForecast(models=[_model(n, season) for n in group], freq=1, n_jobs=1,
                               fallback_model=HistoricAverage())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fc = engine.forecast(df=frame, h=h_open)
            except Exception as exc:  # a library failure on odd data is a candidate failure
                raise ModelError(f"{', '.join(group)} could not forecast: {exc}") from exc
        fc = fc.sort_values(["unique_id", "ds"])
        at = position[fc["unique_id"].to_numpy()].to_numpy().reshape(-1, h_open)[:, 0]
        for name in group:
            values = np.nan_to_num(fc[name].to_numpy(dtype=float).reshape(-1, h_open), nan=0.0)
            out[name][np.ix_(at, np.flatnonzero(open_future))] = np.maximum(values, 0.0)
    return out
