"""The anomalies page: the scored days of the active model, re-flagged with another threshold on the spot."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.anomalies import flag
from ..core.config import get_settings
from ..services.model_store import active_model_info
from ..services.tenants import get_tenant
from ..services.training import ANOMALY
from ..storage import Storage
from .common import shop_calendar

__all__ = ["AnomalyView", "anomaly_view", "explained", "reflag"]


# --- anomalies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnomalyView:
    """Scored days of the active model's training window.

    `frame`: ds, y, expected, score, is_anomaly (as flagged at training), event (what the shop's
    calendar says of the day: such a day is never flagged);
    `method` and `threshold` are the ones that training used.
    """

    frame: pd.DataFrame
    method: str
    threshold: float
    model_version: str | None


def anomaly_view(storage: Storage, tenant_id: str, lang: str | None = None) -> AnomalyView | None:
    """The stored anomaly scores of the active model version, days the calendar explains named (holidays in
    `lang` where the holidays package can); None if the tenant was never trained."""
    info = active_model_info(storage, tenant_id)
    if info is None:
        return None
    rows = storage.select("ml_predictions", str(tenant_id),
                          columns=["prediction_date", "predicted_values", "model_version"],
                          where={"prediction_type": ANOMALY, "model_version": info.model_version},
                          order_by="prediction_date")
    values = pd.DataFrame(list(rows["predicted_values"]), columns=["y", "expected", "score", "is_anomaly", "event"])
    frame = pd.DataFrame({
        "ds": pd.to_datetime(rows["prediction_date"]).to_numpy(),
        "y": pd.to_numeric(values["y"], errors="coerce").to_numpy(),
        "expected": pd.to_numeric(values["expected"], errors="coerce").to_numpy(),
        "score": pd.to_numeric(values["score"], errors="coerce").fillna(0.0).to_numpy(),
        "is_anomaly": values["is_anomaly"].fillna(False).astype(bool).to_numpy(),
        "event": values["event"].fillna("").astype(str).to_numpy(),
    })
    if len(frame):
        # What the calendar says now: a day marked as a one-off or an event since the training is explained at once.
        # Its names come first (holidays in the reader's language); the training's label stays for a day the
        # calendar no longer knows.
        calendar = shop_calendar(storage, get_tenant(storage, str(tenant_id)), lang)
        labels = calendar.days(frame["ds"].min(), frame["ds"].max())["label"]
        now = pd.Series(labels.reindex(pd.DatetimeIndex(frame["ds"])).fillna("").to_numpy())
        frame["event"] = now.where(now != "", frame["event"]).to_numpy()
    used = info.hyperparameters.get("settings") or {}
    defaults = get_settings()
    return AnomalyView(frame, str(used.get("anomaly_method") or defaults.anomaly_method),
                       float(used.get("stl_zthresh") or defaults.stl_zthresh), info.model_version)


def reflag(view: AnomalyView, threshold: float) -> pd.DataFrame:
    """The scored days flagged with another threshold, without retraining (`anomalies.flag`)."""
    return flag(view.frame, float(threshold))


def explained(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Days as far from expected as an unusual day, that the shop's calendar explains (newest first)."""
    return frame[(frame["score"] > threshold) & (frame["event"] != "")].sort_values("ds", ascending=False)
