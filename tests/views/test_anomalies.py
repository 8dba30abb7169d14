"""The anomalies page's data (`forecasting.views.anomalies`): stored scores, re-flagged without retraining."""

from __future__ import annotations

import pandas as pd

from forecasting.core.anomalies import flag
from forecasting.i18n.formatting import Formatter
from forecasting.services.model_store import list_models
from forecasting.ui import tables
from forecasting.views import anomalies, models
from tests.support.dashboard_db import TRAINED


def test_reflagging_follows_the_threshold_without_touching_storage(store):
    view = anomalies.anomaly_view(store, TRAINED)
    before = store.count("ml_predictions", TRAINED)
    low, high = anomalies.reflag(view, 2.0), anomalies.reflag(view, 6.0)
    assert high["is_anomaly"].sum() < low["is_anomaly"].sum()
    assert not (high["is_anomaly"] & ~low["is_anomaly"]).any()  # a higher threshold only removes days
    pd.testing.assert_frame_equal(low, flag(view.frame, 2.0))
    assert store.count("ml_predictions", TRAINED) == before
    shown = tables.anomaly_table(high, Formatter("en", "EUR", "ES"))
    assert len(shown) == high["is_anomaly"].sum()


def test_anomaly_view_reports_the_method_and_threshold_training_used(store):
    view = anomalies.anomaly_view(store, TRAINED)
    used = list_models(store, TRAINED).iloc[0]["hyperparameters"]["settings"]
    assert view.method == used["anomaly_method"] and view.threshold == used["stl_zthresh"]
    assert len(view.frame) == models.model_versions(store, TRAINED).iloc[0]["train_days"]
