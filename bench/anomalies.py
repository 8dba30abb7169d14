"""Unusual days on the demo shops, whose injected anomalies and calendar are known labels.

The six demo shops (`services.demo`, three years, fixed seed and end) carry
known labels: injected anomalies (spikes and drops on ordinary days), public
holidays, promotions, yearly special days and weekly closed days. For each
shop the pipeline's own steps run twice on its last 730 days, as
`services.training` runs them (default candidates, cross-validation, the
winner's in-sample fit, `detect_anomalies` at the default threshold):

* with the calendar: the shop's events and confirmed closed weekdays, and its
  country's public holidays (what a tenant gets);
* without: no calendar at all (the product before it had one).

Reported per variant: days flagged, precision and recall against the injected
anomalies, and the share of flagged days a known event explains (a public
holiday, a promotion, a special day, a closed day). Target: that share at most
10%. Results go to `bench/results/anomalies.json` and `.md`.

    .venv/bin/python -m bench.anomalies
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from datetime import date

import pandas as pd

from bench.accuracy import RESULTS

END = date(2026, 11, 25)


def run(days: int = 1095, seed: int = 42) -> pd.DataFrame:
    from forecasting.core.anomalies import detect_anomalies
    from forecasting.core.config import MLSettings
    from forecasting.core.engine import forecast_series
    from forecasting.core.events import Calendar, Event
    from forecasting.services.demo import ARCHETYPES, generate_demo
    from forecasting.services.training import typical_cv_error

    data = generate_demo(n_tenants=6, days=days, seed=seed, end=END)
    settings = MLSettings(train_products=False)
    rows = []
    for tenant in data.negocios.itertuples():
        arch = ARCHETYPES[int(tenant.id) - 1]
        sales = data.ventas[data.ventas["negocio_id"] == tenant.id]
        local = pd.to_datetime(sales["fecha"], utc=True).dt.tz_convert(tenant.timezone).dt.tz_localize(None)
        y = sales["total"].groupby(local.dt.normalize()).sum()
        y = y.reindex(pd.date_range(y.index.min(), pd.Timestamp(END), freq="D"), fill_value=0.0).iloc[-730:]
        events = tuple(Event(e.name, e.kind, e.first_day, e.last_day, bool(e.yearly))
                       for e in data.events[data.events["negocio_id"] == tenant.id].itertuples())
        calendar = Calendar(events, frozenset(data.closed_weekdays.get(str(tenant.id), [])), tenant.country)
        known = calendar.days(y.index[0], y.index[-1])
        # What is known about each day, whatever the variant saw: holidays, promotions, special days, closures.
        explained = (known["label"] != "") | known["closed"] | (y == 0).to_numpy()
        injected = set(pd.to_datetime(data.anomalies.loc[data.anomalies["negocio_id"] == tenant.id, "date"]))
        injected &= set(y.index)
        for variant, cal in (("with_calendar", calendar), ("without_calendar", None)):
            started = time.perf_counter()
            outcome = forecast_series(y, settings, country=tenant.country, calendar=cal)
            found = detect_anomalies(y, outcome.model.fitted(), method=settings.anomaly_method,
                                     period=settings.stl_period, threshold=settings.stl_zthresh,
                                     typical_error=typical_cv_error(outcome),
                                     known=known if cal is not None else None)
            flagged = set(found.loc[found["is_anomaly"], "ds"])
            hits = flagged & injected
            rows.append({"shop": arch.key, "variant": variant, "days": len(y), "flagged": len(flagged),
                         "injected": len(injected), "found": len(hits),
                         "explained_flagged": int(sum(explained.loc[d] for d in flagged)),
                         "seconds": time.perf_counter() - started})
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    table = results.groupby("variant")[["days", "flagged", "injected", "found", "explained_flagged"]].sum()
    table["precision"] = table["found"] / table["flagged"]
    table["recall"] = table["found"] / table["injected"]
    table["explained_share"] = table["explained_flagged"] / table["flagged"]
    table["target_met"] = table["explained_share"] <= 0.10
    return table.reset_index()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1095)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    results = run(args.days)
    table = summarize(results)
    pd.set_option("display.width", 200)
    print(results.round(2).to_string(index=False))
    print()
    print(table.round(3).to_string(index=False))
    print(f"\n{time.perf_counter() - started:.0f}s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"summary": table.to_dict(orient="records"), "per_shop": results.to_dict(orient="records")}
    (RESULTS / "anomalies.json").write_text(json.dumps(payload, indent=1, default=str))
    (RESULTS / "anomalies.md").write_text(
        "## Unusual days on the demo shops (last 730 days, default threshold)\n\n"
        + table.round(3).to_markdown(index=False) + "\n\n" + results.round(2).to_markdown(index=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
