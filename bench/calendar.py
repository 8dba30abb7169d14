"""Accuracy with the shop's calendar: Rossmann stores, whose openings, promotions and holidays are known ahead.

For each of `bench.accuracy`'s 50 Rossmann stores the last 42 days are held
out and forecast from the 730 days before. Every method that takes the
calendar gets the same known-future columns for past and forecast days:
`open`, `promo`, `state_holiday` (public holiday, Easter, Christmas) and
`school_holiday`. Methods, each with and without those columns, side by side:

* ours: `engine.forecast_series` with the store's `Calendar` (closed days
  from `open`, "Promo" promotions, the three state holidays as holidays,
  "School holiday" as an event; Germany's public holidays as always);
* mlforecast LightGBM per store (`bench.accuracy`'s peer) with the columns
  as dynamic exogenous features (`X_df` for the forecast days);
* mlforecast LightGBM across the 50 stores, the same with one model;
* Prophet with the columns as extra regressors.

Scored on open days only (a closed day is 0 and says nothing about a
forecast): mean and median MASE (scaled by the in-sample weekly seasonal
naive MAE of the training window), WAPE, coverage of the 80% and 95% bands;
and, on the closed days, the share forecast at exactly 0 with a zero-width
band. Results go to `bench/results/calendar.json` and `.md`.

    .venv/bin/python -m bench.calendar [--stores 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from bench.accuracy import DATA, HOLDOUT, LEVELS, RESULTS, WINDOW, lgbm_peer, load_series

COLUMNS = ("open", "promo", "public_holiday", "easter", "christmas", "school_holiday")
METHODS = ("ours_calendar", "lgbm_store_calendar", "lgbm_across_calendar", "prophet_calendar",
           "ours", "lgbm_store", "lgbm_across", "prophet")
PEERS_WITH = ("lgbm_store_calendar", "lgbm_across_calendar", "prophet_calendar")


def known_columns(raw: pd.DataFrame) -> pd.DataFrame:
    """The known-ahead columns as 0/1 numbers, indexed by day."""
    frame = raw.set_index("ds")
    return pd.DataFrame({"open": frame["open"], "promo": frame["promo"],
                         "public_holiday": (frame["state_holiday"] == "a").astype(int),
                         "easter": (frame["state_holiday"] == "b").astype(int),
                         "christmas": (frame["state_holiday"] == "c").astype(int),
                         "school_holiday": frame["school_holiday"]}, index=frame.index)


def store_calendar(known: pd.DataFrame):
    """The store's `Calendar`: what the shop would enter (or import) on the Calendar page."""
    from forecasting.core.events import Calendar, events_from_flags

    events = (*events_from_flags(1 - known["open"], "Closed", "closed"),
              *events_from_flags(known["promo"], "Promo", "promotion"),
              *events_from_flags(known["public_holiday"], "Public holiday", "holiday"),
              *events_from_flags(known["easter"], "Easter", "holiday"),
              *events_from_flags(known["christmas"], "Christmas", "holiday"),
              *events_from_flags(known["school_holiday"], "School holiday", "event"))
    return Calendar(events, frozenset(), "DE")


def run_ours(train: pd.Series, known: pd.DataFrame | None):
    from forecasting.core.config import MLSettings
    from forecasting.core.engine import forecast_series

    settings = MLSettings(horizon_days=HOLDOUT, max_train_window_days=WINDOW)
    calendar = store_calendar(known) if known is not None else None
    outcome = forecast_series(train, settings, country="DE", calendar=calendar)
    return outcome.forecast, outcome.winner


def _long(trains: dict[str, pd.Series], knowns: dict[str, pd.DataFrame] | None) -> pd.DataFrame:
    parts = []
    for uid, train in trains.items():
        part = pd.DataFrame({"unique_id": uid, "ds": train.index, "y": train.to_numpy()})
        if knowns is not None:
            part = part.join(knowns[uid].loc[train.index].reset_index(drop=True))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _future(trains: dict[str, pd.Series], knowns: dict[str, pd.DataFrame]) -> pd.DataFrame:
    parts = []
    for uid, train in trains.items():
        days = pd.date_range(train.index[-1] + pd.Timedelta(days=1), periods=HOLDOUT, freq="D", name="ds")
        parts.append(knowns[uid].loc[days].reset_index().assign(unique_id=uid))
    return pd.concat(parts, ignore_index=True)[["unique_id", "ds", *COLUMNS]]


def run_lgbm(trains: dict[str, pd.Series], knowns: dict[str, pd.DataFrame] | None) -> dict[str, pd.DataFrame]:
    """mlforecast LightGBM on the given stores (one store: per store; all: across), with the columns or without."""
    from mlforecast.utils import PredictionIntervals

    forecaster = lgbm_peer()
    frame = _long(trains, knowns)
    # The columns vary by day (dynamic): nothing is static, so `static_features=[]`.
    forecaster.fit(frame, static_features=[], prediction_intervals=PredictionIntervals(n_windows=2, h=HOLDOUT))
    future = _future(trains, knowns) if knowns is not None else None
    out = forecaster.predict(HOLDOUT, level=list(LEVELS), X_df=future)
    result = {}
    for uid, part in out.groupby("unique_id"):
        clip = lambda s: np.maximum(np.asarray(s, dtype=float), 0.0)
        frame = pd.DataFrame({"yhat": clip(part["lgbm"])}, index=pd.DatetimeIndex(part["ds"]))
        for level in LEVELS:
            frame[f"yhat_lower_{level}"] = clip(part[f"lgbm-lo-{level}"])
            frame[f"yhat_upper_{level}"] = clip(part[f"lgbm-hi-{level}"])
        result[str(uid)] = frame
    return result


def run_prophet(train: pd.Series, known: pd.DataFrame | None):
    from prophet import Prophet

    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    model = Prophet()
    frame = pd.DataFrame({"ds": train.index, "y": train.to_numpy()})
    future = pd.DataFrame({"ds": pd.date_range(train.index[-1] + pd.Timedelta(days=1), periods=HOLDOUT)})
    if known is not None:
        for column in COLUMNS:
            if known.loc[train.index, column].nunique() > 1:  # a column constant in training can't be learned
                model.add_regressor(column)
                frame[column] = known.loc[train.index, column].to_numpy()
                future[column] = known.loc[future["ds"], column].to_numpy()
    model.fit(frame)
    yhat = model.predict(future)["yhat"].to_numpy()
    samples = model.predictive_samples(future)["yhat"]
    out = pd.DataFrame({"yhat": np.maximum(yhat, 0.0)}, index=pd.DatetimeIndex(future["ds"]))
    for level in LEVELS:
        out[f"yhat_lower_{level}"] = np.maximum(np.percentile(samples, 50 - level / 2, axis=1), 0.0)
        out[f"yhat_upper_{level}"] = np.maximum(np.percentile(samples, 50 + level / 2, axis=1), 0.0)
    return out, "prophet"


def _per_store(task):
    """The per-store methods on one store: {method: (forecast, chosen, seconds)}."""
    uid, train, known = task
    warnings.simplefilter("ignore")
    out = {}
    for method in ("ours_calendar", "ours", "lgbm_store_calendar", "lgbm_store", "prophet_calendar", "prophet"):
        columns = known if method.endswith("_calendar") else None
        started = time.perf_counter()
        if method.startswith("ours"):
            forecast, chosen = run_ours(train, columns)
        elif method.startswith("prophet"):
            forecast, chosen = run_prophet(train, columns)
        else:
            forecast, chosen = run_lgbm({uid: train}, None if columns is None else {uid: columns})[uid], "lgbm"
        out[method] = (forecast, chosen, time.perf_counter() - started)
    return uid, out


def score(uid, method, forecast, chosen, seconds, train, test, known) -> dict:
    from forecasting.core.metrics import evaluate, mase_scale

    open_days = known.loc[test.index, "open"].to_numpy() == 1
    y, yhat = test.to_numpy(), forecast["yhat"].reindex(test.index).to_numpy()
    row = {**evaluate(y[open_days], yhat[open_days], mase_scale(train.to_numpy()), ("mase", "wape")),
           "series": uid, "method": method, "chosen": chosen, "seconds": seconds}
    for level in LEVELS:
        lower = forecast[f"yhat_lower_{level}"].reindex(test.index).to_numpy()
        upper = forecast[f"yhat_upper_{level}"].reindex(test.index).to_numpy()
        row[f"coverage_{level}"] = float(((y >= lower - 1e-9) & (y <= upper + 1e-9))[open_days].mean())
    closed = ~open_days
    zero = (forecast["yhat"].reindex(test.index).to_numpy() == 0) & \
           (forecast["yhat_upper_95"].reindex(test.index).to_numpy() == 0)
    row["closed_days"] = int(closed.sum())
    row["closed_exactly_zero"] = float(zero[closed].mean()) if closed.any() else np.nan
    return row


def run_all(series: dict[str, pd.Series], knowns: dict[str, pd.DataFrame], workers: int) -> list[dict]:
    """Per-store methods in worker processes (forked before this process loads LightGBM), then the across-store ones."""
    trains = {uid: s.iloc[:-HOLDOUT].iloc[-WINDOW:] for uid, s in series.items()}
    tests = {uid: s.iloc[-HOLDOUT:] for uid, s in series.items()}
    rows = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for uid, out in pool.map(_per_store, [(uid, trains[uid], knowns[uid]) for uid in trains]):
            for method, (forecast, chosen, seconds) in out.items():
                rows.append(score(uid, method, forecast, chosen, seconds, trains[uid], tests[uid], knowns[uid]))
    for method, columns in (("lgbm_across_calendar", knowns), ("lgbm_across", None)):
        started = time.perf_counter()
        forecasts = run_lgbm(trains, columns)
        seconds = (time.perf_counter() - started) / len(trains)
        for uid, forecast in forecasts.items():
            rows.append(score(uid, method, forecast, "lgbm", seconds, trains[uid], tests[uid], knowns[uid]))
    return rows


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    table = results.groupby("method").agg(
        stores=("mase", "size"), mase_mean=("mase", "mean"), mase_median=("mase", "median"), wape=("wape", "mean"),
        coverage_80=("coverage_80", "mean"), coverage_95=("coverage_95", "mean"),
        closed_exactly_zero=("closed_exactly_zero", "mean"), seconds_per_store=("seconds", "mean"))
    wide = results.pivot_table(index="series", columns="method", values="mase")
    table["ours_beats_share"] = [float((wide["ours_calendar"] < wide[m]).mean()) if m != "ours_calendar" else np.nan
                                 for m in table.index]
    table = table.reindex([m for m in METHODS if m in table.index]).reset_index()
    return table


def targets(table: pd.DataFrame) -> dict:
    rows = table.set_index("method")
    peers = rows.loc[[m for m in PEERS_WITH if m in rows.index]]
    best = peers["mase_mean"].idxmin()
    ours = rows.loc["ours_calendar"]
    return {"ours_mase": float(ours["mase_mean"]), "best_peer": best, "best_peer_mase": float(peers.loc[best, "mase_mean"]),
            "ratio": float(ours["mase_mean"] / peers.loc[best, "mase_mean"]),
            "mase_target_met": bool(ours["mase_mean"] <= 0.9 * peers.loc[best, "mase_mean"]),
            "coverage_80": float(ours["coverage_80"]), "coverage_95": float(ours["coverage_95"]),
            "coverage_target_met": bool(0.75 <= ours["coverage_80"] <= 0.85 and 0.90 <= ours["coverage_95"] <= 0.97),
            "closed_exactly_zero": float(ours["closed_exactly_zero"]),
            "calendar_worth": float(1 - ours["mase_mean"] / rows.loc["ours", "mase_mean"])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from forecasting.core import datasets

    started = time.perf_counter()
    series = {uid: s for dataset, uid, _, s in load_series(args.stores, 0) if dataset == "rossmann"}
    calendar = datasets.rossmann_calendar(DATA)
    knowns = {uid: known_columns(calendar[calendar.unique_id == uid]) for uid in series}
    # The known days cover the sales days (a store's gap is closed days in both).
    knowns = {uid: known.reindex(series[uid].index).fillna(0).astype(int) for uid, known in knowns.items()}
    results = pd.DataFrame(run_all(series, knowns, args.workers))
    table = summarize(results)
    goal = targets(table)
    chose = results[results.method == "ours_calendar"]["chosen"].value_counts().to_dict()
    pd.set_option("display.width", 200)
    print(table.round(3).to_string(index=False))
    print(f"\ntarget: {json.dumps(goal)}\nours chose: {chose}; {len(series)} stores in "
          f"{time.perf_counter() - started:.0f}s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"holdout_days": HOLDOUT, "window_days": WINDOW, "summary": table.to_dict(orient="records"),
               "targets": goal, "ours_chose": chose, "per_series": results.to_dict(orient="records")}
    (RESULTS / "calendar.json").write_text(json.dumps(payload, indent=1, default=str))
    (RESULTS / "calendar.md").write_text(
        "## Accuracy with the calendar (Rossmann, holdout 42 days, open days scored)\n\n"
        + table.round(3).to_markdown(index=False) + f"\n\nTarget: {json.dumps(goal)}\n\nOurs chose: {chose}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
