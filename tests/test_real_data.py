"""The full pipeline on real stores from shared/data beats seasonal naive on average MASE."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecasting import datasets
from forecasting.config import MLSettings
from forecasting.metrics import mase, mase_scale
from forecasting.pipeline import train_and_predict_sales

from .conftest import SHARED_DATA

HOLDOUT = 28

if not SHARED_DATA.is_dir():
    # The real stores are part of the test suite, not an option: fail, saying where they are expected.
    raise RuntimeError(f"shared data missing at {SHARED_DATA}: lay shared/ beside the clone or set SHARED_DATA")


@pytest.fixture(scope="module")
def stores():
    ross = datasets.rossmann(SHARED_DATA)
    fav = datasets.favorita(SHARED_DATA)
    picks = [("rossmann-7", "DE", "Europe/Berlin", ross), ("rossmann-42", "DE", "Europe/Berlin", ross),
             ("rossmann-250", "DE", "Europe/Berlin", ross), ("favorita-3", "EC", "America/Guayaquil", fav),
             ("favorita-44", "EC", "America/Guayaquil", fav)]
    return [(uid, country, tz, frame[frame.unique_id == uid].set_index("ds")["y"]) for uid, country, tz, frame in picks]


def load_daily(storage, uid, country, tz, y):
    storage.upsert("negocios", uid, [{"id": uid, "nombre": uid, "timezone": tz, "country": country, "currency": "EUR"}])
    rows = [{"id": f"{uid}-{d.date()}", "negocio_id": uid, "total": float(v),
             "fecha": pd.Timestamp(datetime.combine(d.date(), time(12)), tz=tz)} for d, v in y.items() if v != 0]
    storage.upsert("ventas", uid, rows)


def test_pipeline_beats_seasonal_naive_on_real_stores(storage, stores):
    settings = MLSettings(horizon_days=HOLDOUT, cv_folds=2, max_train_window_days=730)
    ours, naive = [], []
    for uid, country, tz, y in stores:
        load_daily(storage, uid, country, tz, y)
        cutoff = y.index[-HOLDOUT - 1]
        # "now" is the morning after the cutoff: the pipeline sees nothing of the held-out days
        now = (pd.Timestamp(cutoff) + timedelta(days=1, hours=12)).tz_localize(tz).tz_convert(timezone.utc).to_pydatetime()
        result = train_and_predict_sales(uid, storage=storage, settings=settings, now=now)
        actual = y.iloc[-HOLDOUT:].to_numpy()
        train = y.loc[:cutoff].iloc[-730:].to_numpy()
        assert result.forecast.index[0] == y.index[-HOLDOUT]
        scale = mase_scale(train)
        ours.append(mase(actual, result.forecast["yhat"].to_numpy(), scale=scale))
        naive.append(mase(actual, np.resize(train[-7:], HOLDOUT), scale=scale))
    assert np.mean(ours) < np.mean(naive), f"ours {np.round(ours, 3)} vs seasonal naive {np.round(naive, 3)}"


def test_transaction_level_online_retail_with_refunds(storage):
    invoices = datasets.online_retail_invoices(SHARED_DATA)
    storage.upsert("negocios", "ori", [{"id": "ori", "nombre": "Online retail", "timezone": "Europe/London",
                                        "country": "GB", "currency": "GBP"}])
    storage.upsert("ventas", "ori", invoices.assign(negocio_id="ori").to_dict(orient="records"))
    now = datetime(2011, 12, 1, 9, tzinfo=timezone.utc)
    settings = MLSettings(model_candidates=["naive", "snaive", "ets", "xgboost"], horizon_days=HOLDOUT, cv_folds=2)
    result = train_and_predict_sales("ori", storage=storage, settings=settings, now=now)
    daily = datasets.online_retail(SHARED_DATA).set_index("ds")["y"]
    assert result.history_days == len(daily.loc[:"2011-11-30"].iloc[-730:])
    assert (result.forecast.to_numpy() >= 0).all() and np.isfinite(result.forecast.to_numpy()).all()
    saturday = result.forecast[result.forecast.index.dayofweek == 5]["yhat"]
    weekday = result.forecast[result.forecast.index.dayofweek < 5]["yhat"]
    assert saturday.mean() < 0.2 * weekday.mean()  # the retailer almost never trades on Saturdays
