"""The end-to-end pipeline on a real PostgreSQL server: rows land, a second run duplicates nothing."""

from __future__ import annotations

import pytest

from forecasting.services.demo import generate_demo, write_demo
from forecasting.services.model_store import load_active_model
from forecasting.services.training import train_and_predict_sales
from forecasting.storage import SQLStorage
from tests.support import END, FAST, NOW


@pytest.fixture
def pg_demo(postgres_url):
    store = SQLStorage(postgres_url)
    write_demo(store, generate_demo(n_tenants=2, days=200, seed=1, end=END))
    yield store
    store.close()


def test_pipeline_on_postgres_writes_once_and_is_idempotent(pg_demo):
    first = train_and_predict_sales("1", storage=pg_demo, settings=FAST, now=NOW)
    predictions = pg_demo.select("ml_predictions", "1")
    forecast = predictions[predictions.prediction_type == "sales_forecast"]
    assert len(forecast) == FAST.horizon_days
    assert len(predictions[predictions.prediction_type == "sales_anomaly"]) == first.history_days
    for values in forecast.predicted_values:
        assert 0 <= values["yhat_lower"] <= values["yhat"] <= values["yhat_upper"]
    counts = {t: pg_demo.count(t, "1") for t in ("ml_predictions", "ml_features", "notifications")}
    backfilled = first.rows_written["forecast_backtest"]  # the first training replays its CV folds
    assert backfilled > 0 and pg_demo.count("forecast_history", "1") == FAST.horizon_days + backfilled

    second = train_and_predict_sales("1", storage=pg_demo, settings=FAST, now=NOW)
    assert {t: pg_demo.count(t, "1") for t in counts} == counts  # same keys: updated in place
    assert second.rows_written["forecast_backtest"] == 0  # back-tests are scorable now: never replayed again
    # history keeps each version's forecast
    assert pg_demo.count("forecast_history", "1") == 2 * FAST.horizon_days + backfilled
    assert pg_demo.count("ml_models", "1") == 2  # a new version each run, one active
    info, model = load_active_model(pg_demo, "1")
    assert info.model_type == second.winner and len(model.predict(7)) == 7
    assert pg_demo.count("ml_predictions", "2") == 0  # the other tenant untouched
