"""Speed: one tenant's full retrain against one Prophet fit, and throughput of `train --all`.

1. Per-tenant ratio: for real stores loaded into a fresh embedded database
   (one sale per day), the full pipeline (series from the database, CV of all
   default candidates, final fit, anomalies, every row written) is timed
   against one Prophet fit + predict (28 days, default intervals) of the same
   series, in the same process, one after the other. Target: median ratio <= 3.
2. Throughput: demo tenants (their daily totals as one sale per day, so the
   database stays small) retrained with the default executor (a process pool,
   one worker per core), for 50 and 300 tenants and 1 or 2 years of history.
   Target: 300 tenants in under 3 minutes on 2 cores.

    .venv/bin/python -m bench.speed [--stores 20] [--quick]

Results: bench/results/speed.json and bench/results/speed.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import warnings
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def _load_daily(storage, uid: str, tz: str, country: str, y: pd.Series) -> None:
    storage.upsert("negocios", uid, [{"id": uid, "nombre": uid, "timezone": tz, "country": country, "currency": "EUR"}])
    rows = [{"id": f"{uid}-{d.date()}", "negocio_id": uid, "total": float(v),
             "fecha": pd.Timestamp(datetime.combine(d.date(), dtime(12)), tz=tz)} for d, v in y.items() if v != 0]
    storage.upsert("ventas", uid, rows)


def prophet_seconds(y: pd.Series) -> float:
    from prophet import Prophet

    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    started = time.perf_counter()
    model = Prophet()
    model.fit(pd.DataFrame({"ds": y.index, "y": y.to_numpy()}))
    model.predict(model.make_future_dataframe(28, include_history=False))
    return time.perf_counter() - started


def per_tenant_ratio(n_stores: int, folder: Path) -> pd.DataFrame:
    from bench.accuracy import load_series
    from forecasting.services.training import train_and_predict_sales
    from forecasting.storage import SQLStorage

    storage = SQLStorage.sqlite_file(folder / "speed.db")
    series = load_series(n_stores, max(2, n_stores // 2))
    rows = []
    prophet_seconds(series[0][3].iloc[-730:])  # warm imports and Stan once, for both sides
    for dataset, uid, country, y in series:
        tz = {"DE": "Europe/Berlin", "EC": "America/Guayaquil", "GB": "Europe/London"}[country]
        _load_daily(storage, uid, tz, country, y)
        now = (pd.Timestamp(y.index[-1]) + timedelta(days=1, hours=12)).tz_localize(tz).tz_convert("UTC").to_pydatetime()
        started = time.perf_counter()
        result = train_and_predict_sales(uid, storage=storage, now=now)
        ours = time.perf_counter() - started
        theirs = prophet_seconds(y.iloc[-result.history_days:])
        rows.append({"dataset": dataset, "series": uid, "ours_s": ours, "prophet_s": theirs, "ratio": ours / theirs,
                     "winner": result.winner, **{f"step_{k}": v for k, v in result.steps.items()}})
    storage.close()
    return pd.DataFrame(rows)


def demo_daily_database(path: Path, tenants: int, days: int, seed: int = 1) -> None:
    from forecasting.services.demo import generate_demo
    from forecasting.storage import SQLStorage

    data = generate_demo(n_tenants=tenants, days=days, seed=seed)
    storage = SQLStorage.sqlite_file(path)
    for tenant in data.negocios.to_dict(orient="records"):
        sales = data.ventas[data.ventas.negocio_id == tenant["id"]]
        local = sales["fecha"].dt.tz_convert(tenant["timezone"]).dt.tz_localize(None).dt.normalize()
        daily = sales.groupby(local)["total"].sum()
        storage.upsert("negocios", tenant["id"], [tenant])
        storage.upsert("ventas", tenant["id"], [
            {"id": f"{tenant['id']}-{d.date()}", "negocio_id": tenant["id"], "total": float(v),
             "fecha": pd.Timestamp(datetime.combine(d.date(), dtime(12)), tz=tenant["timezone"])}
            for d, v in daily.items()])
    storage.close()


def throughput(cases: list[tuple[int, int]], folder: Path) -> pd.DataFrame:
    from forecasting.core.config import MLSettings
    from forecasting.ops.executors import train_tenants
    from forecasting.storage import SQLStorage

    rows = []
    for tenants, days in cases:
        path = folder / f"demo_{tenants}_{days}.db"
        demo_daily_database(path, tenants, days)
        storage = SQLStorage.sqlite_file(path)
        ids = storage.tenants()["id"].tolist()
        settings = MLSettings(max_train_window_days=days)
        started = time.perf_counter()
        results = train_tenants(ids, app=storage.reopen_settings(), ml=settings, executor="process")
        elapsed = time.perf_counter() - started
        rows.append({"tenants": tenants, "history_days": days, "seconds": elapsed,
                     "tenants_per_minute": tenants / elapsed * 60, "failed": sum(not r["ok"] for r in results)})
        storage.close()
        print(f"  {tenants} tenants x {days} days: {elapsed:.1f}s", flush=True)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20, help="Rossmann stores for the ratio (plus half as many Favorita)")
    parser.add_argument("--quick", action="store_true", help="smaller throughput cases")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from forecasting.core.logs import setup_logging

    setup_logging("WARNING")
    cases = [(20, 365), (50, 730)] if args.quick else [(50, 365), (50, 730), (300, 365), (300, 730)]
    with tempfile.TemporaryDirectory(dir=RESULTS) as tmp:
        ratio = per_tenant_ratio(args.stores, Path(tmp))
        print(ratio[["series", "winner", "ours_s", "prophet_s", "ratio"]].round(3).to_string(index=False))
        summary = {"median_ratio": float(ratio["ratio"].median()), "median_ours_s": float(ratio["ours_s"].median()),
                   "median_prophet_s": float(ratio["prophet_s"].median()), "target_ratio": 3.0}
        print(f"\nmedian per-tenant retrain {summary['median_ours_s']:.2f}s vs Prophet {summary['median_prophet_s']:.2f}s: "
              f"ratio {summary['median_ratio']:.2f} (target <= 3)\n")
        flow = throughput(cases, Path(tmp))
    print(flow.round(2).to_string(index=False))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(
        {"ratio": summary, "per_tenant": ratio.to_dict(orient="records"), "throughput": flow.to_dict(orient="records"),
         "cores": __import__("os").cpu_count(), "measured": datetime.now(timezone.utc).isoformat()}, indent=1, default=str))
    (RESULTS / "speed.md").write_text(
        "## Per-tenant retrain vs one Prophet fit\n\n"
        + ratio[["dataset", "series", "winner", "ours_s", "prophet_s", "ratio"]].round(3).to_markdown(index=False)
        + f"\n\nMedian ratio: **{summary['median_ratio']:.2f}** (target <= 3)\n\n## Throughput (process pool)\n\n"
        + flow.round(2).to_markdown(index=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
