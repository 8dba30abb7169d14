"""Product demand: accuracy, stock decisions and speed of `forecasting.core.demand` against single-library peers.

Data: `online_retail_ii_lines.csv.gz` (one UK online gift retailer, daily units per
product; rows with is_product = 1). The last 28 days are held out. Scored
products: first sale at least 182 days before the cutoff, at least 20 days with
a sale before it, and a sale in the 91 days before it (products a stock planner
still plans). Ours runs on the whole tenant as the product would (every product
up to the cutoff, country GB); peers run per product on its days from its first
sale, zeros filled:

* statsforecast: SeasonalNaive(7) and AutoETS(7) with their own intervals (AutoETS on
  the last 365 days: the full search on two years costs about 0.6 s a product);
  CrostonOptimized, TSB(0.1, 0.1), ADIDA, IMAPA with conformal intervals (3 windows of 28 days);
* lgbm_local: LightGBM per product (mlforecast: lags 7/14/21/28, rolling means of lag 7
  over 7 and 28 days, weekday/month/day, 100 trees, conformal intervals over 2 windows);
* lgbm_global: one LightGBM across the scored products (mlforecast, same features,
  300 trees, conformal intervals over 2 windows).

Metrics per product, then averaged: MASE and RMSSE scaled by the in-sample one-step
differences from the first sale (M5); scaled pinball loss (SPL) over quantiles
2.5/10/50/90/97.5 taken from the 95% band, the 80% band and the point forecast,
divided by the same MASE scale (M5 Uncertainty); coverage of the 80% and 95% bands.
All bands are clipped at 0 for every method.

Decisions: the held-out 28 days, lead time 2 days, weekly review (days 0, 7, 14, 21),
order up to the 95% quantile of demand over lead time + review (the last review
only to day 28), lost sales, both policies starting at their own first
order-up-to level. Ours uses the 95% quantile of its summed sample paths. The best
peer (lowest SPL) gives daily bands only, so two readings of "its quantile of the
sum" are reported: the normal approximation (mean = sum of yhat, sd of a day =
its upper 95% half-width / 1.96, days independent) and the sum of its daily upper
95% bounds (the conservative reading a spreadsheet would use). Ours and the normal
reading are also run at service levels 0.8..0.99 (`name@level`), which draws each
one's curve of fill rate against stock held.

Speed: synthetic tenants (`core.demand.synthetic`) of 100, 1,000 and 5,000 products
x 730 days, `forecast_products` + `stock_plan` for every product, each size in a
fresh process (seconds, peak resident memory).

    .venv/bin/python -m bench.products [--quick] [--products N] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

H = 28
LEVELS = (80, 95)
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)
RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
STAT_PEERS = ("snaive", "autoets", "croston", "tsb", "adida", "imapa")
PEERS = (*STAT_PEERS, "lgbm_local", "lgbm_global")


def load_lines() -> pd.DataFrame:
    lines = pd.read_csv(DATA / "online_retail_ii_lines.csv.gz", dtype={"stock_code": str}, parse_dates=["date"])
    lines = lines[(lines["is_product"] == 1) & (lines["units"] > 0)]
    price = lines["revenue"] / lines["units"]
    return pd.DataFrame({"unique_id": lines["stock_code"], "ds": lines["date"], "y": lines["units"].astype(float),
                         "price": price})


def eligible(train: pd.DataFrame, cutoff: pd.Timestamp) -> list[str]:
    g = train.groupby("unique_id")["ds"].agg(["min", "max", "size"])
    ok = (g["min"] <= cutoff - pd.Timedelta(days=182)) & (g["size"] >= 20) & (g["max"] > cutoff - pd.Timedelta(days=91))
    return sorted(g.index[ok])


def dense(frame: pd.DataFrame, ids, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """Each product's days from its first sale to `last`, zeros filled (the peers' input)."""
    parts = []
    for uid, part in frame[frame["unique_id"].isin(ids)].groupby("unique_id"):
        days = pd.date_range(max(part["ds"].min(), first), last, freq="D")
        y = part.groupby("ds")["y"].sum().reindex(days, fill_value=0.0)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": days, "y": y.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def _bands(out: pd.DataFrame, alias: str) -> pd.DataFrame:
    frame = pd.DataFrame({"unique_id": out["unique_id"].astype(str).to_numpy(), "ds": pd.to_datetime(out["ds"]).to_numpy(),
                          "yhat": np.maximum(out[alias].to_numpy(dtype=float), 0)})
    for level in LEVELS:
        frame[f"yhat_lower_{level}"] = np.maximum(out[f"{alias}-lo-{level}"].to_numpy(dtype=float), 0)
        frame[f"yhat_upper_{level}"] = np.maximum(out[f"{alias}-hi-{level}"].to_numpy(dtype=float), 0)
    return frame


def run_stat_peers(train: pd.DataFrame) -> dict[str, pd.DataFrame]:
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, IMAPA, TSB, AutoETS, CrostonOptimized, SeasonalNaive
    from statsforecast.utils import ConformalIntervals

    conformal = ConformalIntervals(n_windows=3, h=H)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = StatsForecast([SeasonalNaive(7, alias="snaive")], freq="D", n_jobs=1).forecast(
            df=train, h=H, level=list(LEVELS))
        out["snaive"] = _bands(native, "snaive")
        recent = train[train["ds"] > train["ds"].max() - pd.Timedelta(days=365)]
        ets = StatsForecast([AutoETS(season_length=7, alias="autoets")], freq="D", n_jobs=2).forecast(
            df=recent, h=H, level=list(LEVELS))
        out["autoets"] = _bands(ets, "autoets")
        models = [CrostonOptimized(alias="croston", prediction_intervals=conformal),
                  TSB(0.1, 0.1, alias="tsb", prediction_intervals=conformal),
                  ADIDA(alias="adida", prediction_intervals=conformal),
                  IMAPA(alias="imapa", prediction_intervals=conformal)]
        fc = StatsForecast(models, freq="D", n_jobs=1).forecast(df=train, h=H, level=list(LEVELS))
        for name in ("croston", "tsb", "adida", "imapa"):
            out[name] = _bands(fc, name)
    return out


def _mlforecast(trees: int, leaves: int):
    from lightgbm import LGBMRegressor
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    return MLForecast(
        models={"lgbm": LGBMRegressor(n_estimators=trees, num_leaves=leaves, learning_rate=0.05, min_child_samples=10,
                                      verbosity=-1, n_jobs=1)},
        freq="D", lags=[7, 14, 21, 28], lag_transforms={7: [RollingMean(window_size=7), RollingMean(window_size=28)]},
        date_features=["dayofweek", "month", "day"])


def run_lgbm_global(train: pd.DataFrame) -> pd.DataFrame:
    from mlforecast.utils import PredictionIntervals

    forecaster = _mlforecast(300, 31)
    forecaster.fit(train, prediction_intervals=PredictionIntervals(n_windows=2, h=H))
    return _bands(forecaster.predict(H, level=list(LEVELS)), "lgbm")


def _lgbm_one(series: pd.DataFrame) -> pd.DataFrame:
    from mlforecast.utils import PredictionIntervals

    warnings.simplefilter("ignore")
    forecaster = _mlforecast(100, 15)
    try:
        forecaster.fit(series, prediction_intervals=PredictionIntervals(n_windows=2, h=H))
        return _bands(forecaster.predict(H, level=list(LEVELS)), "lgbm")
    except Exception:  # noqa: BLE001 - a peer failing on a series scores as a flat zero forecast
        days = pd.date_range(series["ds"].max() + pd.Timedelta(days=1), periods=H)
        zero = pd.DataFrame({"unique_id": series["unique_id"].iloc[0], "ds": days, "yhat": 0.0})
        for level in LEVELS:
            zero[f"yhat_lower_{level}"] = zero[f"yhat_upper_{level}"] = 0.0
        return zero


def run_lgbm_local(train: pd.DataFrame, workers: int) -> pd.DataFrame:
    series = [part for _, part in train.groupby("unique_id")]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return pd.concat(pool.map(_lgbm_one, series, chunksize=16), ignore_index=True)


def scales(train: pd.DataFrame) -> pd.DataFrame:
    def one(y):
        d = np.diff(y.to_numpy())
        mad, msd = np.mean(np.abs(d)), np.mean(d**2)
        return pd.Series({"scale1": mad if mad > 0 else 1.0, "scale2": msd if msd > 0 else 1.0})

    return train.groupby("unique_id")["y"].apply(one).unstack()


def score(forecast: pd.DataFrame, actual: pd.DataFrame, scale: pd.DataFrame) -> pd.DataFrame:
    f = forecast.merge(actual, on=["unique_id", "ds"], how="inner").merge(scale, left_on="unique_id", right_index=True)
    y, yhat = f["y"].to_numpy(), f["yhat"].to_numpy()
    quantile_cols = ["yhat_lower_95", "yhat_lower_80", "yhat", "yhat_upper_80", "yhat_upper_95"]
    pinball = np.zeros(len(f))
    for q, col in zip(QUANTILES, quantile_cols):
        diff = y - f[col].to_numpy()
        pinball += np.maximum(q * diff, (q - 1) * diff)
    f = f.assign(ae=np.abs(y - yhat), se=(y - yhat) ** 2, pin=pinball / len(QUANTILES),
                 in80=(y >= f["yhat_lower_80"] - 1e-9) & (y <= f["yhat_upper_80"] + 1e-9),
                 in95=(y >= f["yhat_lower_95"] - 1e-9) & (y <= f["yhat_upper_95"] + 1e-9),
                 over80=y > f["yhat_upper_80"] + 1e-9, over95=y > f["yhat_upper_95"] + 1e-9)
    g = f.groupby("unique_id").agg(ae=("ae", "mean"), se=("se", "mean"), pin=("pin", "mean"), cov80=("in80", "mean"),
                                   cov95=("in95", "mean"), over80=("over80", "mean"), over95=("over95", "mean"),
                                   scale1=("scale1", "first"), scale2=("scale2", "first"))
    return pd.DataFrame({"mase": g["ae"] / g["scale1"], "rmsse": np.sqrt(g["se"] / g["scale2"]),
                         "spl": g["pin"] / g["scale1"], "coverage_80": g["cov80"], "coverage_95": g["cov95"],
                         "above_80": g["over80"], "above_95": g["over95"]})


def markdown(frame: pd.DataFrame, index: bool = True) -> str:
    """A GitHub table (pandas' to_markdown needs `tabulate`, which the shared venv lacks)."""
    frame = frame.reset_index() if index else frame
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


# --- decisions -------------------------------------------------------------------------------------------

LEAD, REVIEW, SERVICE = 2, 7, 0.95
SERVICE_CURVE = (0.8, 0.9, 0.95, 0.98, 0.99)  # the same policies at other service levels: stock vs fill rate


def simulate(demand: np.ndarray, up_to) -> tuple[float, float, float]:
    """(served, demanded, stock held summed over days) of the order-up-to policy over the held-out days.

    `up_to(a, b)` is the level to order up to for the demand of days a..b (1-based, inclusive).
    An order placed at the end of review day r arrives at the end of day r + LEAD.
    """
    on_hand = up_to(1, LEAD + REVIEW)
    arriving: dict[int, float] = {}
    served = held = 0.0
    for day in range(1, len(demand) + 1):
        on_hand += arriving.pop(day, 0.0)
        sale = min(on_hand, demand[day - 1])
        served += sale
        on_hand -= sale
        held += on_hand
        if day % REVIEW == 0 and day < len(demand):
            position = on_hand + sum(arriving.values())
            order = max(0.0, up_to(day + 1, min(day + LEAD + REVIEW, len(demand))) - position)
            arriving[day + LEAD + 1] = arriving.get(day + LEAD + 1, 0.0) + order
    return served, float(demand.sum()), held


def decisions(ours, peer: pd.DataFrame, actual: pd.DataFrame, ids) -> pd.DataFrame:
    """Every product under ours and the peer's policies; policy names carry their service level
    ("ours", "peer_normal" at 95%; "@0.98" etc. for the trade-off curve)."""
    from scipy.stats import norm

    demand = actual.pivot(index="unique_id", columns="ds", values="y")
    peer = peer.set_index("unique_id")
    rows = []
    for uid in ids:
        d = demand.loc[uid].to_numpy(dtype=float)
        cumulative = np.hstack([np.zeros((len(ours.sample_paths(uid)), 1)), ours.cumulative_paths(uid)])
        p = peer.loc[uid].sort_values("ds")
        yhat, sd = p["yhat"].to_numpy(), (p["yhat_upper_95"] - p["yhat"]).to_numpy() / 1.959964
        upper = p["yhat_upper_95"].to_numpy()
        policies = {"peer_sum_q975": lambda a, b, upper=upper: float(upper[a - 1 : b].sum())}
        for level in SERVICE_CURVE:
            z = float(norm.ppf(level))
            suffix = "" if level == SERVICE else f"@{level:g}"
            policies["ours" + suffix] = lambda a, b, c=cumulative, q=level: float(
                np.quantile(c[:, b] - c[:, a - 1], q, method="higher"))
            policies["peer_normal" + suffix] = lambda a, b, yhat=yhat, sd=sd, z=z: float(
                yhat[a - 1 : b].sum() + z * np.sqrt((sd[a - 1 : b] ** 2).sum()))
        for name, rule in policies.items():
            served, demanded, held = simulate(d, rule)
            rows.append({"unique_id": uid, "policy": name, "served": served, "demand": demanded, "held": held})
    return pd.DataFrame(rows)


# --- speed ---------------------------------------------------------------------------------------------------


def peak_mib() -> float:
    """The process's peak resident memory. VmHWM, not getrusage's ru_maxrss: a spawned worker is forked from
    the parent before exec, and Linux carries the fork's peak into ru_maxrss, so it would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def speed_one(n: int) -> dict:
    """The whole product retrain of one tenant as the product runs it: its sales in an embedded database
    (one `ventas` row per product and day with units), `services.products.train_products` (series summed in
    the database, CV, selection, fit, forecast, rows written, model saved, stock planned), then the hourly
    stock refresh without retraining."""
    import tempfile
    from datetime import datetime, timezone

    from forecasting.core.config import MLSettings
    from forecasting.core.demand.synthetic import synthetic_tenant
    from forecasting.services import products
    from forecasting.storage import SQLStorage

    warnings.simplefilter("ignore")
    frame = synthetic_tenant(n, 730, seed=n)
    last = pd.Timestamp(frame["ds"].max())
    now = datetime.combine((last + pd.Timedelta(days=1)).date(), datetime.min.time(), timezone.utc).replace(hour=12)
    with tempfile.TemporaryDirectory() as folder:
        storage = SQLStorage.sqlite_file(Path(folder) / "bench.db")
        storage.upsert("negocios", "b", [{"id": "b", "nombre": "Bench", "timezone": "UTC", "country": "GB"}])
        storage.upsert("productos", "b", [{"id": str(p), "negocio_id": "b", "nombre": str(p), "stock": 20.0}
                                          for p in frame["unique_id"].unique()])
        sold = frame[frame["y"] != 0]
        storage.upsert("ventas", "b", [
            {"id": f"v{i}", "negocio_id": "b", "fecha": ds + pd.Timedelta(hours=12), "total": 1.0,
             "producto_id": str(uid), "cantidad": float(y)}
            for i, (uid, ds, y) in enumerate(zip(sold["unique_id"], sold["ds"], sold["y"], strict=True))])
        settings = MLSettings(max_train_window_days=730)
        started = time.perf_counter()
        result = products.train_products(storage, "b", settings=settings, now=now)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        plans = products.refresh_stock(storage, "b", settings=settings, now=now)
        refresh = time.perf_counter() - started
        storage.close()
    peak = peak_mib()
    return {"tenant_products": n, "sales_rows": len(sold), "retrain_seconds": round(seconds, 1),
            **{f"s_{k}": round(v, 1) for k, v in result.steps.items()}, "refresh_seconds": round(refresh, 2),
            "peak_mib": round(peak), "planned": int(plans["status"].isin(["ok", "order"]).sum())}


def speed(sizes) -> pd.DataFrame:
    rows = []
    for n in sizes:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            rows.append(pool.submit(speed_one, n).result())
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


# --- main ----------------------------------------------------------------------------------------------------


def accuracy(n_products: int | None, workers: int, quick: bool, seed: int = 0):
    from forecasting.core.demand import forecast_products

    lines = load_lines()
    last = lines["ds"].max()
    cutoff = last - pd.Timedelta(days=H)
    train_all, test = lines[lines["ds"] <= cutoff], lines[lines["ds"] > cutoff]
    ids = eligible(train_all, cutoff)
    if n_products and n_products < len(ids):
        ids = sorted(np.random.default_rng(seed).choice(ids, n_products, replace=False))
    tenant = train_all[train_all["unique_id"].isin(ids)] if quick else train_all
    train = dense(train_all, ids, train_all["ds"].min(), cutoff)
    actual = dense(test.assign(ds=test["ds"]), ids, cutoff + pd.Timedelta(days=1), last)
    actual = actual.set_index(["unique_id", "ds"]).reindex(
        pd.MultiIndex.from_product([ids, pd.date_range(cutoff + pd.Timedelta(days=1), last)], names=["unique_id", "ds"]),
        fill_value=0.0).reset_index()
    print(f"{len(ids)} scored products, ours on {tenant['unique_id'].nunique()}; cutoff {cutoff:%Y-%m-%d}", flush=True)
    forecasts, seconds = {}, {}
    started = time.perf_counter()
    ours = forecast_products(tenant, horizon=H, country="GB")
    seconds["ours"] = time.perf_counter() - started
    forecasts["ours"] = ours.forecast[ours.forecast["unique_id"].isin(ids)]
    print(f"ours {seconds['ours']:.0f}s {ours.selection}", flush=True)
    started = time.perf_counter()
    forecasts.update(run_stat_peers(train))
    seconds.update({name: (time.perf_counter() - started) / len(STAT_PEERS) for name in STAT_PEERS})
    for name, run in (("lgbm_global", lambda: run_lgbm_global(train)), ("lgbm_local", lambda: run_lgbm_local(train, workers))):
        started = time.perf_counter()
        forecasts[name] = run()
        seconds[name] = time.perf_counter() - started
        print(f"{name} {seconds[name]:.0f}s", flush=True)
    scale = scales(train)
    per_product = pd.concat({name: score(f, actual, scale) for name, f in forecasts.items()}, names=["method"])
    table = per_product.groupby("method").mean()
    table["products"] = per_product.groupby("method").size()
    table["seconds"] = pd.Series(seconds)
    best_peer = table.drop(index="ours")["spl"].idxmin()
    sims = decisions(ours, forecasts[best_peer], actual, ids)
    return table, per_product, sims, best_peer, ours


def targets(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    peers = table.drop(index="ours")
    for metric in ("mase", "rmsse", "spl"):
        best = peers[metric].idxmin()
        ratio = table.loc["ours", metric] / peers.loc[best, metric]
        rows.append({"metric": metric, "ours": table.loc["ours", metric], "best_peer": best,
                     "best_peer_value": peers.loc[best, metric], "ratio": ratio, "target_met": ratio <= 0.90})
    for level, (lo, hi) in ((80, (0.75, 0.85)), (95, (0.90, 0.97))):
        value = table.loc["ours", f"coverage_{level}"]
        rows.append({"metric": f"coverage_{level}", "ours": value, "best_peer": f"target {lo}-{hi}",
                     "target_met": lo <= value <= hi})
    return pd.DataFrame(rows)


def decision_table(sims: pd.DataFrame) -> pd.DataFrame:
    g = sims.groupby("policy")
    table = pd.DataFrame({"fill_rate": g["served"].sum() / g["demand"].sum(),
                          "mean_product_fill_rate": sims[sims["demand"] > 0].assign(
                              rate=lambda d: d["served"] / d["demand"]).groupby("policy")["rate"].mean(),
                          "avg_stock_units": g["held"].sum() / (g.size() * H)})
    table["stock_vs_ours"] = table["avg_stock_units"] / table.loc["ours", "avg_stock_units"]
    return table.sort_values(["fill_rate"])


SPEED_TITLE = ("\n\n### Speed: the whole product retrain and the stock refresh (synthetic tenants x 730 days, embedded "
               "database; targets: 1,000 products retrained in at most 60 s, refreshed in at most 5 s, under 2 GiB)\n\n")


def write_results(out: str, text: str, sections: dict[str, pd.DataFrame]) -> None:
    """`<out>.md` (the tables) and `<out>.csv` (every table, one `section` column telling them apart)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{out}.md").write_text(text)
    parts = [frame.reset_index(drop=isinstance(frame.index, pd.RangeIndex)).assign(section=name)
             for name, frame in sections.items() if not frame.empty]
    pd.concat(parts, ignore_index=True).round(4).to_csv(RESULTS / f"{out}.csv", index=False)


def speed_only(sizes, out: str) -> int:
    """Re-time the synthetic tenants and replace only the speed part of an existing `<out>.md` / `.csv`."""
    fast = speed(sizes)
    md, csv = RESULTS / f"{out}.md", RESULTS / f"{out}.csv"
    text = md.read_text() if md.exists() else ""
    kept = text.split(SPEED_TITLE)[0].split("\n\nTotal")[0]
    old = pd.read_csv(csv) if csv.exists() else pd.DataFrame(columns=["section"])
    sections = {}
    for name, part in old.groupby("section", sort=False):
        if name != "speed":  # each table's own columns, its first one back as the index it was written from
            frame = part.drop(columns=["section", "index"], errors="ignore").dropna(axis=1, how="all")
            sections[name] = frame.set_index(frame.columns[0])
    write_results(out, kept + SPEED_TITLE + markdown(fast, index=False) + "\n", {**sections, "speed": fast})
    print(fast.to_string(index=False))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 sampled products, speed at 100 products only")
    parser.add_argument("--products", type=int, default=None, help="sample this many scored products")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--speed-only", action="store_true", help="re-time only, keeping the accuracy results")
    parser.add_argument("--out", default="products")
    args = parser.parse_args(argv)
    sizes = () if args.no_speed else ((100,) if args.quick else (100, 1000, 5000))
    if args.speed_only:
        return speed_only(sizes, args.out)
    n_products = args.products or (150 if args.quick else None)
    pd.set_option("display.width", 200)
    started = time.perf_counter()
    table, per_product, sims, best_peer, ours = accuracy(n_products, args.workers, args.quick)
    goal = targets(table)
    decided = decision_table(sims)
    scored = ours.products.set_index("unique_id").loc[per_product.loc["ours"].index]
    chose = scored["demand_class"].value_counts().to_dict()
    by_class = per_product.loc["ours"].join(scored["demand_class"]).groupby("demand_class").mean()
    by_class["products"] = scored["demand_class"].value_counts()
    print(table.round(3).to_string(), "\n", goal.round(3).to_string(index=False), "\n", by_class.round(3).to_string(),
          "\n", decided.round(3).to_string(), flush=True)
    fast = speed(sizes) if sizes else pd.DataFrame()
    if not fast.empty:
        print(fast.to_string(index=False))
    selection = {k: "+".join(v) for k, v in ours.selection.items()}
    text = (
        f"## Product demand (online retail II, holdout {H} days{', quick' if args.quick else ''})\n\n"
        f"{len(per_product.loc['ours'])} scored products (ours ran on {ours.products.shape[0]}); ours chose {selection}; "
        f"classes of the scored products {chose}. `above_L`: share of days above the upper L% bound "
        "(target (100 - L) / 2 %).\n\n"
        + markdown(table) + "\n\n### Ours against the best peer per metric\n\n" + markdown(goal, index=False)
        + "\n\n### Ours by demand class\n\n" + markdown(by_class)
        + f"\n\n### Stock decisions (lead time {LEAD} d, review {REVIEW} d, {SERVICE:.0%} service; best peer by SPL: "
        f"{best_peer})\n\n" + markdown(decided)
        + f"\n\nTotal {time.perf_counter() - started:.0f} s."
        + (SPEED_TITLE + markdown(fast, index=False) if not fast.empty else "") + "\n")
    write_results(args.out, text, {"accuracy": table, "targets": goal.set_index("metric"), "by_class": by_class,
                                   "decisions": decided, "speed": fast})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
