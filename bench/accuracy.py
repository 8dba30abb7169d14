"""Accuracy against strong single-library peers on the real stores in ../shared/data.

For every series the last 42 days are held out; every method sees the same
training data (at most the 730 days before the cutoff) and forecasts the
42 days. Methods:

* ours: the full auto-selection (`forecasting.core.engine.forecast_series`, default settings);
* snaive: weekly seasonal naive;
* prophet: Prophet with defaults (intervals from its predictive samples);
* autoets / autoarima: statsforecast, season 7;
* lgbm: LightGBM per series through mlforecast (lags 7/14/21/28, rolling means of lag 7
  over 7 and 28 days, day of week/month/year/day of month, 200 trees, 15 leaves,
  learning rate 0.05, min_child_samples 10, clipped at 0), conformal intervals.

Reported per dataset and method: mean and median MASE (scaled by the in-sample
weekly seasonal-naive MAE), WAPE, sMAPE, coverage of the 80% and 95% intervals,
and the share of series where ours beats each peer on MASE. Results go to
`bench/results/accuracy.json` and `bench/results/accuracy.md`.

    .venv/bin/python -m bench.accuracy [--rossmann 50] [--favorita 54] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

HOLDOUT = 42
WINDOW = 730
LEVELS = (80, 95)
RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PEERS = ("snaive", "prophet", "autoets", "autoarima", "lgbm")


def load_series(n_rossmann: int, n_favorita: int, seed: int = 0) -> list[tuple[str, str, str, pd.Series]]:
    """(dataset, id, country, daily series) for the sampled stores; samples are fixed by `seed`."""
    from forecasting.core import datasets

    rng = np.random.default_rng(seed)
    out = []
    ross = datasets.rossmann(DATA)
    ids = sorted(ross["unique_id"].unique(), key=lambda s: int(s.split("-")[1]))
    for uid in sorted(rng.choice(ids, size=min(n_rossmann, len(ids)), replace=False), key=lambda s: int(s.split("-")[1])):
        out.append(("rossmann", uid, "DE", ross[ross.unique_id == uid].set_index("ds")["y"]))
    fav = datasets.favorita(DATA)
    ids = sorted(fav["unique_id"].unique(), key=lambda s: int(s.split("-")[1]))
    for uid in sorted(rng.choice(ids, size=min(n_favorita, len(ids)), replace=False), key=lambda s: int(s.split("-")[1])):
        series = fav[fav.unique_id == uid].set_index("ds")["y"]
        if len(series) >= HOLDOUT + 120:  # a store opened weeks ago can't be judged on 42 days
            out.append(("favorita", uid, "EC", series))
    retail = datasets.online_retail(DATA)
    out.append(("online_retail", "online-retail", "GB", retail.set_index("ds")["y"]))
    return out


# --- methods: each returns a frame with yhat, yhat_lower_L, yhat_upper_L for the held-out days ---------


def _frame(index, yhat, bands):
    frame = pd.DataFrame({"yhat": np.asarray(yhat, dtype=float)}, index=index)
    for level in LEVELS:
        lower, upper = bands[level]
        frame[f"yhat_lower_{level}"] = np.asarray(lower, dtype=float)
        frame[f"yhat_upper_{level}"] = np.asarray(upper, dtype=float)
    return frame


def run_ours(train: pd.Series, country: str):
    from forecasting.core.config import MLSettings
    from forecasting.core.engine import forecast_series

    settings = MLSettings(horizon_days=HOLDOUT, max_train_window_days=WINDOW)
    outcome = forecast_series(train, settings, country=country)
    return outcome.forecast, outcome.winner


def run_snaive(train: pd.Series, country: str):
    from forecasting.core.models.baselines import SeasonalNaive

    return SeasonalNaive().fit(train).predict(HOLDOUT, LEVELS), "snaive"


def run_prophet(train: pd.Series, country: str):
    from prophet import Prophet

    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    model = Prophet()
    model.fit(pd.DataFrame({"ds": train.index, "y": train.to_numpy()}))
    future = pd.DataFrame({"ds": pd.date_range(train.index[-1] + pd.Timedelta(days=1), periods=HOLDOUT)})
    yhat = model.predict(future)["yhat"].to_numpy()
    samples = model.predictive_samples(future)["yhat"]
    bands = {level: (np.percentile(samples, 50 - level / 2, axis=1), np.percentile(samples, 50 + level / 2, axis=1))
             for level in LEVELS}
    return _frame(future["ds"], yhat, bands), "prophet"


def _statsforecast(train: pd.Series, model, alias: str):
    from statsforecast import StatsForecast

    frame = pd.DataFrame({"unique_id": "s", "ds": train.index, "y": train.to_numpy()})
    out = StatsForecast(models=[model], freq="D").forecast(df=frame, h=HOLDOUT, level=list(LEVELS))
    bands = {level: (out[f"{alias}-lo-{level}"], out[f"{alias}-hi-{level}"]) for level in LEVELS}
    return _frame(pd.DatetimeIndex(out["ds"]), out[alias], bands)


def run_autoets(train: pd.Series, country: str):
    from statsforecast.models import AutoETS

    return _statsforecast(train, AutoETS(season_length=7), "AutoETS"), "autoets"


def run_autoarima(train: pd.Series, country: str):
    from statsforecast.models import AutoARIMA

    return _statsforecast(train, AutoARIMA(season_length=7), "AutoARIMA"), "autoarima"


def lgbm_peer():
    """The LightGBM peer, unfitted: mlforecast with the configuration of the issue (see the module's docstring)."""
    from lightgbm import LGBMRegressor
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    return MLForecast(
        models={"lgbm": LGBMRegressor(n_estimators=200, num_leaves=15, learning_rate=0.05, min_child_samples=10,
                                      verbosity=-1, n_jobs=1)},
        freq="D", lags=[7, 14, 21, 28],
        lag_transforms={7: [RollingMean(window_size=7), RollingMean(window_size=28)]},
        date_features=["dayofweek", "month", "dayofyear", "day"],
    )


def run_lgbm(train: pd.Series, country: str):
    from mlforecast.utils import PredictionIntervals

    forecaster = lgbm_peer()
    frame = pd.DataFrame({"unique_id": "s", "ds": train.index, "y": train.to_numpy()})
    forecaster.fit(frame, prediction_intervals=PredictionIntervals(n_windows=2, h=HOLDOUT))
    out = forecaster.predict(HOLDOUT, level=list(LEVELS))
    clip = lambda s: np.maximum(np.asarray(s, dtype=float), 0.0)  # noqa: E731
    bands = {level: (clip(out[f"lgbm-lo-{level}"]), clip(out[f"lgbm-hi-{level}"])) for level in LEVELS}
    return _frame(pd.DatetimeIndex(out["ds"]), clip(out["lgbm"]), bands), "lgbm"


def run_model(name: str, train: pd.Series, country: str):
    """One registered candidate alone (for analysis: `--methods lightgbm,theta`)."""
    from forecasting.core.config import MLSettings
    from forecasting.core.models import build

    model = build(name, MLSettings(horizon_days=HOLDOUT), country).fit(train)
    return model.predict(HOLDOUT, LEVELS), name


METHODS = {"ours": run_ours, "snaive": run_snaive, "prophet": run_prophet, "autoets": run_autoets,
           "autoarima": run_autoarima, "lgbm": run_lgbm}


def evaluate_series(task) -> list[dict]:
    """Every method on one series; one result row per method (errors recorded, never raised)."""
    dataset, uid, country, series, methods = task
    warnings.simplefilter("ignore")
    from forecasting.core.metrics import evaluate, mase_scale

    train_full, test = series.iloc[:-HOLDOUT], series.iloc[-HOLDOUT:]
    train = train_full.iloc[-WINDOW:]
    scale = mase_scale(train.to_numpy())
    rows = []
    for name in methods:
        started = time.perf_counter()
        try:
            forecast, chosen = METHODS[name](train, country) if name in METHODS else run_model(name, train, country)
            yhat = forecast["yhat"].to_numpy()
            y = test.to_numpy()
            row = {**evaluate(y, yhat, scale, ("mase", "wape", "smape")), "chosen": chosen}
            for level in LEVELS:
                inside = (y >= forecast[f"yhat_lower_{level}"].to_numpy() - 1e-9) & \
                         (y <= forecast[f"yhat_upper_{level}"].to_numpy() + 1e-9)
                row[f"coverage_{level}"] = float(inside.mean())
        except Exception as exc:  # noqa: BLE001 - a peer failing on a series is a result too
            row = {"error": f"{type(exc).__name__}: {exc}"}
        row.update({"dataset": dataset, "series": uid, "method": name, "seconds": time.perf_counter() - started})
        rows.append(row)
    return rows


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    ok = results.dropna(subset=["mase"])
    table = ok.groupby(["dataset", "method"]).agg(
        series=("mase", "size"), mase_mean=("mase", "mean"), mase_median=("mase", "median"),
        wape=("wape", "mean"), smape=("smape", "mean"), coverage_80=("coverage_80", "mean"),
        coverage_95=("coverage_95", "mean"), seconds=("seconds", "median"))
    wide = ok.pivot_table(index=["dataset", "series"], columns="method", values="mase")
    if "ours" in wide:
        beats = {(ds, m): float((group["ours"] < group[m]).mean())
                 for ds, group in wide.groupby(level=0) for m in wide.columns if m != "ours"}
        table["ours_beats_share"] = [beats.get(key, np.nan) for key in table.index]
    return table.reset_index()


def targets(table: pd.DataFrame) -> pd.DataFrame:
    """Ours vs the best single peer per dataset (target: ratio <= 0.90)."""
    rows = []
    for dataset, group in table.groupby("dataset"):
        peers = group[group.method.isin(PEERS)]
        ours = group[group.method == "ours"]
        if peers.empty or ours.empty:
            continue
        best = peers.sort_values("mase_mean").iloc[0]
        rows.append({"dataset": dataset, "ours_mase": ours.mase_mean.iloc[0], "best_peer": best.method,
                     "best_peer_mase": best.mase_mean, "ratio": ours.mase_mean.iloc[0] / best.mase_mean,
                     "target_met": ours.mase_mean.iloc[0] <= 0.9 * best.mase_mean,
                     "coverage_80": ours.coverage_80.iloc[0], "coverage_95": ours.coverage_95.iloc[0]})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rossmann", type=int, default=50)
    parser.add_argument("--favorita", type=int, default=54)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", default="accuracy")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    series = load_series(args.rossmann, args.favorita)
    tasks = [(ds, uid, country, s, methods) for ds, uid, country, s in series]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = [row for result in pool.map(evaluate_series, tasks) for row in result]
    results = pd.DataFrame(rows)
    table = summarize(results)
    goal = targets(table)
    pd.set_option("display.width", 200)
    print(table.round(3).to_string(index=False))
    print()
    print(goal.round(3).to_string(index=False))
    winners = results[results.method == "ours"]["chosen"].value_counts().to_dict()
    print(f"\nours chose: {winners}; {len(series)} series in {time.perf_counter() - started:.0f}s")
    errors = results[results.get("error").notna()] if "error" in results else pd.DataFrame()
    if not errors.empty:
        print(f"{len(errors)} method failures, e.g. {errors.iloc[0]['method']}: {errors.iloc[0]['error']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"holdout_days": HOLDOUT, "window_days": WINDOW, "summary": table.to_dict(orient="records"),
               "targets": goal.to_dict(orient="records"), "ours_chose": winners,
               "per_series": results.to_dict(orient="records")}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(payload, indent=1, default=str))
    (RESULTS / f"{args.out}.md").write_text(
        "## Accuracy (holdout 42 days)\n\n" + table.round(3).to_markdown(index=False) + "\n\n### Against the best peer\n\n"
        + goal.round(3).to_markdown(index=False) + f"\n\nOurs chose: {winners}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
