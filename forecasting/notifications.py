"""Per-tenant notifications and the drift rule.

A notification carries an `event_key` naming the event it is about
(`drift:2026-11-25`); the table is unique on (tenant, event_key), so writing
the same alert twice keeps one row.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from .logs import log_event
from .storage import Storage

def notify(storage: Storage, tenant_id: str, *, kind: str, title: str, message: str,
           event_key: str, severity: str = "info") -> int:
    """Write one notification unless the same event was already notified; returns rows written."""
    existing = storage.select("notifications", str(tenant_id), columns=["id"], where={"event_key": event_key})
    if not existing.empty:
        return 0
    row = {"tenant_id": str(tenant_id), "kind": kind, "severity": severity, "title": title, "message": message,
           "event_key": event_key, "is_read": False, "created_at": datetime.now(timezone.utc)}
    written = storage.upsert("notifications", str(tenant_id), [row])
    log_event("notification", tenant_id=str(tenant_id), kind=kind, event_key=event_key)
    return written


def list_notifications(storage: Storage, tenant_id: str, *, unread_only: bool = False, limit: int = 200) -> pd.DataFrame:
    where = {"is_read": False} if unread_only else None
    return storage.select("notifications", str(tenant_id), where=where, order_by="created_at", descending=True, limit=limit)


def mark_read(storage: Storage, tenant_id: str, notification_id: int | None = None) -> int:
    """Mark one notification (or all of the tenant's) as read."""
    where = {"id": int(notification_id)} if notification_id is not None else None
    return storage.update("notifications", str(tenant_id), {"is_read": True}, where=where)


def check_drift(storage: Storage, tenant_id: str, y: pd.Series, threshold: float,
                cv_scores: dict[str, float] | None = None) -> dict[str, Any] | None:
    """Raise a drift notification when recent error exceeds `threshold` (`ML_ERROR_ALERT_MAPE`).

    Recent error is that of forecasts issued before and now comparable with
    actuals; before there are enough of those (a tenant's first training),
    the winner's cross-validation error stands in. MAPE is used, or WAPE when
    MAPE is undefined (no day with non-zero sales). Returns the error checked.
    """
    from .monitoring import recent_error

    error = recent_error(storage, tenant_id, y)
    if error is None and cv_scores:
        error = {"mape": cv_scores.get("mape"), "wape": cv_scores.get("wape"), "days": None, "source": "cross-validation"}
    if error is None:
        return None
    value = error["mape"]
    metric = "MAPE"
    if value is None or not np.isfinite(value):
        value, metric = error["wape"], "WAPE"
    if value is None or not np.isfinite(value):
        return None
    error = {**error, "metric": metric, "value": float(value), "threshold": threshold, "drift": value > threshold}
    if error["drift"]:
        last = y.index[-1].date().isoformat()
        log_event("drift", tenant_id=str(tenant_id), **{k: v for k, v in error.items() if k != "drift"})
        notify(storage, tenant_id, kind="drift", severity="warning",
               title="Forecast error is higher than usual",
               message=(f"Recent forecast error ({metric} {value:.0%} over {error['source']}) is above the "
                        f"alert threshold of {threshold:.0%}. Sales may have changed pattern; check the "
                        f"Anomalies page and consider retraining."),
               event_key=f"drift:{last}")
    return error
