"""End to end on demo tenants: candidates compete, rows land, drift, idempotence, isolation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.core.config import MLSettings
from forecasting.core.errors import DataError
from forecasting.core.models import available_names
from forecasting.services.model_store import list_models, load_active_model
from forecasting.services.notifications import notify_drift
from forecasting.services.training import predict_from_active, train_and_predict_sales
from forecasting.storage import TENANT_COLUMN
from tests.support import FAST, NOW

ALL = MLSettings(model_candidates=list(available_names()), horizon_days=14, cv_folds=2)


def rows(storage, table, tenant):
    return storage.select(table, tenant)


@pytest.mark.slow
def test_end_to_end_every_candidate_competes_and_rows_land(demo_storage):
    steps = []
    result = train_and_predict_sales("1", storage=demo_storage, settings=ALL, now=NOW,
                                     progress=lambda step, detail: steps.append((step, detail)))
    scores = result.cv_scores
    # all installed here: every candidate is scored, and the mean of the best two competes too
    assert set(scores.index) == {*ALL.model_candidates, "ensemble"}
    assert result.winner == scores[ALL.cv_primary_metric].idxmin()
    assert [s for s, _ in steps if s == "cv"] and steps[-1][0] == "done"

    preds = rows(demo_storage, "ml_predictions", "1")
    forecast = preds[preds.prediction_type == "sales_forecast"]
    assert len(forecast) == 14
    first = pd.Timestamp(forecast.prediction_date.min())
    assert first == pd.Timestamp(NOW.date())  # today (tenant's day) is the first forecast day
    for values in forecast.predicted_values:
        assert values["yhat_lower_95"] <= values["yhat_lower"] <= values["yhat"] <= values["yhat_upper"] <= values["yhat_upper_95"]
        assert values["yhat_lower_95"] >= 0
    assert forecast.confidence_score.between(0, 1).all()
    assert (forecast.model_type == result.winner).all()

    anomalies = preds[preds.prediction_type == "sales_anomaly"]
    assert len(anomalies) == result.history_days
    assert {"y", "score", "is_anomaly"} <= set(anomalies.predicted_values.iloc[0])

    models = list_models(demo_storage, "1")
    assert len(models) == 1 and models.is_active.all()
    metrics = models.training_metrics.iloc[0]
    assert metrics["winner"] == result.winner and set(metrics["scores"]) == {*ALL.model_candidates, "ensemble"}


def test_injected_anomalies_are_found(demo_storage, demo_data):
    result = train_and_predict_sales("2", storage=demo_storage, settings=FAST, now=NOW)
    flagged = set(result.anomalies.loc[result.anomalies.is_anomaly, "ds"].dt.date)
    injected = set(demo_data.anomalies.query("negocio_id == '2'")["date"])
    in_window = {d for d in injected if pd.Timestamp(d) >= result.anomalies.ds.min()}
    assert in_window and len(in_window & flagged) >= len(in_window) * 0.6


def test_training_measures_drift_and_its_caller_raises_one_notification(demo_storage):
    strict = FAST.model_copy(update={"error_alert_mape": 0.0001})
    result = train_and_predict_sales("1", storage=demo_storage, settings=strict, now=NOW)
    assert result.drift["drift"] and result.drift["source"] == "cross-validation"
    assert rows(demo_storage, "notifications", "1").empty  # training only measures
    assert notify_drift(demo_storage, "1", result.drift)
    again = train_and_predict_sales("1", storage=demo_storage, settings=strict, now=NOW)
    notify_drift(demo_storage, "1", again.drift)
    notes = rows(demo_storage, "notifications", "1")
    assert len(notes) == 1 and notes.kind.iloc[0] == "drift"  # same event: not notified twice
    relaxed = FAST.model_copy(update={"error_alert_mape": 50.0})
    assert not train_and_predict_sales("3", storage=demo_storage, settings=relaxed, now=NOW).drift["drift"]
    assert rows(demo_storage, "notifications", "3").empty


def test_drift_uses_issued_forecasts_once_they_have_actuals(demo_storage):
    earlier = NOW - pd.Timedelta(days=21)
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=earlier)
    result = train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    assert result.drift["source"] == "issued forecasts" and result.drift["days"] >= 7


def test_running_twice_writes_the_same_rows(demo_storage):
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    first = rows(demo_storage, "ml_predictions", "1")
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    second = rows(demo_storage, "ml_predictions", "1")
    assert len(first) == len(second)
    key = ["prediction_date", "prediction_type"]
    assert not second.duplicated(key).any()
    merged = first.merge(second, on=key)
    assert len(merged) == len(first)
    assert [v["yhat"] for v in merged.predicted_values_x if "yhat" in v] == \
           [v["yhat"] for v in merged.predicted_values_y if "yhat" in v]
    # a new model version each run, only the latest active
    models = list_models(demo_storage, "1")
    assert len(models) == 2 and models.is_active.tolist() == [True, False]


def test_a_tenants_run_never_touches_another_tenant(demo_storage):
    train_and_predict_sales("2", storage=demo_storage, settings=FAST, now=NOW)
    before = {t: len(rows(demo_storage, t, "2")) for t in TENANT_COLUMN}
    result = train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    after = {t: len(rows(demo_storage, t, "2")) for t in TENANT_COLUMN}
    assert before == after
    # tenant 1's series is built from tenant 1's sales only
    sales1 = rows(demo_storage, "ventas", "1")
    assert result.history_days <= FAST.max_train_window_days and sales1.negocio_id.eq("1").all()
    owned = [t for t, column in TENANT_COLUMN.items() if column == "tenant_id"]
    for table in owned:
        frame = rows(demo_storage, table, "1")
        assert frame.empty or frame.tenant_id.eq("1").all()


def test_active_model_predicts_without_retraining(demo_storage):
    result = train_and_predict_sales("3", storage=demo_storage, settings=FAST, now=NOW)
    info, model = load_active_model(demo_storage, "3")
    assert info.model_type == result.winner and info.model_version == result.model_version
    same_day = predict_from_active("3", storage=demo_storage, now=NOW)
    np.testing.assert_allclose(same_day["yhat"].to_numpy(), result.forecast["yhat"].to_numpy())
    later = predict_from_active("3", storage=demo_storage, now=NOW + pd.Timedelta(days=3))
    assert later.index[0] == pd.Timestamp(NOW.date()) + pd.Timedelta(days=3) and len(later) == 14


def test_unknown_empty_and_untrained_tenants_are_clear_errors(demo_storage):
    with pytest.raises(DataError, match="unknown tenant"):
        train_and_predict_sales("nope", storage=demo_storage, settings=FAST, now=NOW)
    demo_storage.upsert("negocios", "empty", [{"id": "empty", "nombre": "Empty shop"}])
    with pytest.raises(DataError, match="has no sales"):
        train_and_predict_sales("empty", storage=demo_storage, settings=FAST, now=NOW)
    with pytest.raises(DataError, match="no trained model"):
        predict_from_active("empty", storage=demo_storage, now=NOW)
    assert demo_storage.count("ml_predictions", "empty") == 0


def test_fixed_model_when_selection_is_off(demo_storage):
    fixed = FAST.model_copy(update={"select_best": False, "model_candidates": ["snaive", "ets"]})
    result = train_and_predict_sales("1", storage=demo_storage, settings=fixed, now=NOW)
    assert result.winner == "snaive" and list(result.cv_scores.index) == ["snaive"]
