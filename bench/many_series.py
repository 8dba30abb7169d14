"""Many series in one file: the CSV engine with and without learning across series, against LightGBM peers.

Each dataset is one multi-series CSV of store totals, as `forecast --csv`
reads it: all 54 Favorita stores (those with enough history) and the 50
Rossmann stores of `bench.accuracy`'s fixed sample. For every store the
last 42 days are held out and forecast from the 730 days before. Methods,
side by side in one run:

* ours, series by series: `engine.forecast_series` on each store alone (the
  engine before learning across series; `bench.accuracy`'s "ours");
* ours, many series: `csvtools.forecast_frame` on the whole file, where
  LightGBM learned across the file's stores (`core.across`) competes in
  each store's CV;
* mlforecast LightGBM per store (`bench.accuracy`'s peer);
* mlforecast LightGBM across stores: the same configuration, one model
  fitted on every store of the file, conformal intervals.

Metrics per dataset and method: mean and median MASE (scaled by the
in-sample weekly seasonal-naive MAE), WAPE, 80% and 95% coverage, and the
share of stores where the many-series engine beats each of the others.
Results go to `bench/results/many_series.json` and `.md`.

    .venv/bin/python -m bench.many_series [--rossmann 50] [--favorita 54] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from bench.accuracy import HOLDOUT, LEVELS, RESULTS, WINDOW, lgbm_peer, load_series, run_lgbm, run_ours

METHODS = ("ours_per_series", "ours_many_series", "lgbm_per_series", "lgbm_across")


def _per_series(task):
    """`ours_per_series` and `lgbm_per_series` on one store: {method: (forecast, chosen, seconds)}."""
    uid, country, train = task
    warnings.simplefilter("ignore")
    out = {}
    for name, run in (("ours_per_series", run_ours), ("lgbm_per_series", run_lgbm)):
        started = time.perf_counter()
        forecast, chosen = run(train, country)
        out[name] = (forecast, chosen, time.perf_counter() - started)
    return uid, out


def run_many(trains: dict[str, pd.Series], country: str):
    """Our CSV engine on the whole file: {uid: (forecast, chosen)}."""
    from forecasting.core.config import MLSettings
    from forecasting.services.csvtools import forecast_frame

    frame = _long(trains)
    settings = MLSettings(horizon_days=HOLDOUT, max_train_window_days=WINDOW)
    forecast = forecast_frame(frame, settings, levels=LEVELS, country=country)
    return {uid: (part.set_index("ds").drop(columns=["unique_id", "model"]), part["model"].iloc[0])
            for uid, part in forecast.groupby("unique_id")}


def run_lgbm_across(trains: dict[str, pd.Series]):
    """mlforecast LightGBM (the per-store peer's configuration) fitted once on every store: {uid: forecast}."""
    from mlforecast.utils import PredictionIntervals

    forecaster = lgbm_peer()
    forecaster.fit(_long(trains), prediction_intervals=PredictionIntervals(n_windows=2, h=HOLDOUT))
    out = forecaster.predict(HOLDOUT, level=list(LEVELS))
    result = {}
    for uid, part in out.groupby("unique_id"):
        frame = pd.DataFrame({"yhat": np.maximum(part["lgbm"].to_numpy(), 0.0)}, index=pd.DatetimeIndex(part["ds"]))
        for level in LEVELS:
            frame[f"yhat_lower_{level}"] = np.maximum(part[f"lgbm-lo-{level}"].to_numpy(), 0.0)
            frame[f"yhat_upper_{level}"] = np.maximum(part[f"lgbm-hi-{level}"].to_numpy(), 0.0)
        result[str(uid)] = frame
    return result


def _long(trains: dict[str, pd.Series]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": uid, "ds": s.index, "y": s.to_numpy()}) for uid, s in trains.items()],
                     ignore_index=True)


def score(uid, dataset, method, forecast, chosen, seconds, train, test) -> dict:
    from forecasting.core.metrics import evaluate, mase_scale

    y = test.to_numpy()
    row = {**evaluate(y, forecast["yhat"].to_numpy(), mase_scale(train.to_numpy()), ("mase", "wape")),
           "dataset": dataset, "series": uid, "method": method, "chosen": chosen, "seconds": seconds}
    for level in LEVELS:
        inside = (y >= forecast[f"yhat_lower_{level}"].to_numpy() - 1e-9) & \
                 (y <= forecast[f"yhat_upper_{level}"].to_numpy() + 1e-9)
        row[f"coverage_{level}"] = float(inside.mean())
    return row


def run_all(datasets: dict[tuple[str, str], dict[str, pd.Series]], workers: int) -> list[dict]:
    """Every method on every dataset. The per-store methods run first, in worker processes forked before
    this process loads LightGBM: a fork taken after OpenMP has started threads can hang in the child."""
    trains = {key: {uid: s.iloc[:-HOLDOUT].iloc[-WINDOW:] for uid, s in series.items()} for key, series in datasets.items()}
    tests = {uid: s.iloc[-HOLDOUT:] for series in datasets.values() for uid, s in series.items()}
    tasks = [(dataset, uid, country, train) for (dataset, country), group in trains.items() for uid, train in group.items()]
    rows = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for (dataset, uid, _, train), out in zip(tasks, pool.map(_per_series, [t[1:] for t in tasks]), strict=True):
            for method, (forecast, chosen, seconds) in out[1].items():
                rows.append(score(uid, dataset, method, forecast, chosen, seconds, train, tests[uid]))
    for (dataset, country), group in trains.items():
        for method in ("ours_many_series", "lgbm_across"):
            started = time.perf_counter()
            forecasts = run_many(group, country) if method == "ours_many_series" else \
                {uid: (forecast, "lgbm") for uid, forecast in run_lgbm_across(group).items()}
            seconds = (time.perf_counter() - started) / len(group)  # per store, comparable with the others
            for uid, (forecast, chosen) in forecasts.items():
                rows.append(score(uid, dataset, method, forecast, chosen, seconds, group[uid], tests[uid]))
    return rows


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    table = results.groupby(["dataset", "method"]).agg(
        stores=("mase", "size"), mase_mean=("mase", "mean"), mase_median=("mase", "median"), wape=("wape", "mean"),
        coverage_80=("coverage_80", "mean"), coverage_95=("coverage_95", "mean"), seconds_per_store=("seconds", "mean"))
    wide = results.pivot_table(index=["dataset", "series"], columns="method", values="mase")
    beats = {(ds, m): float((group["ours_many_series"] < group[m]).mean())
             for ds, group in wide.groupby(level=0) for m in wide.columns if m != "ours_many_series"}
    table["many_series_beats_share"] = [beats.get(key, np.nan) for key in table.index]
    table = table.reset_index()
    table["method"] = pd.Categorical(table["method"], METHODS, ordered=True)
    return table.sort_values(["dataset", "method"]).reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rossmann", type=int, default=50)
    parser.add_argument("--favorita", type=int, default=54)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    by_dataset: dict[tuple[str, str], dict[str, pd.Series]] = {}
    for dataset, uid, country, series in load_series(args.rossmann, args.favorita):
        if dataset != "online_retail":  # one series: nothing to learn across
            by_dataset.setdefault((dataset, country), {})[uid] = series
    results = pd.DataFrame(run_all(by_dataset, args.workers))
    table = summarize(results)
    chose = results[results.method == "ours_many_series"].groupby("dataset")["chosen"].value_counts()
    chose = {ds: group.droplevel(0).to_dict() for ds, group in chose.groupby(level=0)}
    pd.set_option("display.width", 200)
    print(table.round(3).to_string(index=False))
    print(f"\nmany-series engine chose: {chose}; {time.perf_counter() - started:.0f}s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"holdout_days": HOLDOUT, "window_days": WINDOW, "summary": table.astype({"method": str}).to_dict(orient="records"),
               "many_series_chose": chose, "per_series": results.to_dict(orient="records")}
    (RESULTS / "many_series.json").write_text(json.dumps(payload, indent=1, default=str))
    (RESULTS / "many_series.md").write_text(
        "## Many series in one file (holdout 42 days)\n\n" + table.round(3).to_markdown(index=False)
        + f"\n\nThe many-series engine chose: {chose}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
