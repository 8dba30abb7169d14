"""Job bodies called directly on demo data do what they say."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from forecasting.ops import jobs
from forecasting.services.locks import BusyError, tenant_lock
from forecasting.services.training import retrain_tenant, train_and_predict_sales
from tests.support import FAST, NOW


def test_refresh_features_writes_features(demo_storage):
    outcome = jobs.refresh_all_features(demo_storage, FAST, now=NOW)
    assert outcome.status == "success" and outcome.done == 3
    features = demo_storage.select("ml_features", "1")
    kinds = set(features["feature_type"])
    assert {"daily_total", "ma7", "ma28", "inventory_units", "inventory_value", "low_stock_products"} <= kinds
    daily = features[features.feature_type == "daily_total"].set_index("feature_date")["value"]
    ma7 = features[features.feature_type == "ma7"].set_index("feature_date")["value"]
    last = max(daily.index)
    week = sorted(daily.index)[-7:]
    assert ma7[last] == pytest.approx(daily[week].mean(), rel=1e-6)
    again = jobs.refresh_all_features(demo_storage, FAST, now=NOW)
    assert again.done == 3 and len(demo_storage.select("ml_features", "1")) == len(features)


def test_notification_rules_write_once(demo_storage):
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    demo_storage.upsert("business_notification_config", "1", [
        {"tenant_id": "1", "rule": "low_stock", "threshold": 1e9, "is_active": True},  # every product is "low"
        {"tenant_id": "1", "rule": "new_anomaly", "threshold": 0.0, "is_active": True},  # every scored day counts
        {"tenant_id": "1", "rule": "forecast_drop", "threshold": 0.2, "is_active": False},
    ])
    first = jobs.check_notification_rules(demo_storage, FAST, now=NOW)
    assert first.status == "success"
    notes = demo_storage.select("notifications", "1")
    products = demo_storage.count("productos", "1")
    assert (notes.kind == "low_stock").sum() == products
    assert (notes.kind == "anomaly").sum() >= 1
    assert not (notes.kind == "forecast_drop").any()
    jobs.check_notification_rules(demo_storage, FAST, now=NOW)
    assert len(demo_storage.select("notifications", "1")) == len(notes)  # no duplicate alert


def test_daily_summary_once_per_tenant_and_day(demo_storage):
    jobs.send_daily_notifications(demo_storage, FAST, now=NOW)
    jobs.send_daily_notifications(demo_storage, FAST, now=NOW + timedelta(hours=2))
    for tenant in ("1", "2", "3"):
        notes = demo_storage.select("notifications", tenant)
        assert len(notes) == 1 and notes.kind.iloc[0] == "daily_summary"
        assert "Yesterday's sales" in notes.message.iloc[0]
    jobs.send_daily_notifications(demo_storage, FAST, now=NOW + timedelta(days=1))
    assert demo_storage.count("notifications", "1") == 2


def test_cleanups_delete_only_old_rows(demo_storage):
    now = datetime.now(timezone.utc)
    for i, age in enumerate([40, 10]):
        demo_storage.upsert("notifications", "1", [{"kind": "info", "title": "t", "message": "m",
                                                    "event_key": f"e{i}", "created_at": now - timedelta(days=age)}])
    outcome = jobs.cleanup_old_notifications(demo_storage, FAST, now=now)
    assert outcome.details["deleted"] == 1 and demo_storage.count("notifications", "1") == 1

    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    fresh = demo_storage.count("ml_predictions", "1")
    stale_row = {"tenant_id": "1", "prediction_date": datetime(2020, 1, 1).date(), "prediction_type": "sales_forecast",
                 "predicted_values": {"yhat": 1}, "created_at": now - timedelta(days=120)}
    demo_storage.upsert("ml_predictions", "1", [stale_row])
    from forecasting.services import auth

    auth.add_user(demo_storage, "ana", "correct horse battery", "admin")
    auth.sign_in(demo_storage, "ana", "correct horse battery", now=now - timedelta(days=2))
    live, _ = auth.sign_in(demo_storage, "ana", "correct horse battery", now=now)
    outcome = jobs.cleanup_old_predictions(demo_storage, FAST, now=now)
    assert outcome.details["deleted"] == 1 and demo_storage.count("ml_predictions", "1") == fresh
    assert outcome.details["sessions_deleted"] == 1 and auth.session_user(demo_storage, live, now=now)


def test_a_crashing_tenant_is_recorded_and_the_next_still_runs(demo_storage):
    # tenant "2" gets an override that can't be used: its run fails with a ConfigError
    demo_storage.upsert("tenant_ml_settings", "2", [{"tenant_id": "2", "settings": {"ML_CV_FOLDS": "lots"}}])
    outcome = jobs.retrain_all(demo_storage, FAST, now=NOW)
    assert outcome.done == 2 and outcome.failed == 1 and outcome.status == "partial"
    assert "ML_CV_FOLDS" in outcome.errors["2"]
    assert demo_storage.count("ml_models", "3") == 1  # tenant 3 came after the failure and was trained


def test_retrain_respects_the_tenant_lock(demo_storage):
    with tenant_lock(demo_storage, "1", holder="dashboard-user"):
        with pytest.raises(BusyError, match="already being retrained"):
            retrain_tenant(demo_storage, "1", settings=FAST, now=NOW)
    result = retrain_tenant(demo_storage, "1", settings=FAST, now=NOW)  # free again
    assert result.winner and demo_storage.lease("retrain:1") is None


def test_health_check_reports_latency(demo_storage):
    outcome = jobs.health_check(demo_storage, FAST)
    assert outcome.status == "success" and outcome.details["latency_ms"] >= 0
