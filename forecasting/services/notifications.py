"""Per-tenant notifications and the drift rule.

A notification carries an `event_key` naming the event it is about
(`drift:2026-11-25`); the table is unique on (tenant, event_key), so writing
the same alert twice keeps one row.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from ..core.logs import log_event
from ..i18n.formatting import Formatter, formatter_for
from ..i18n.messages import Part, message, say
from ..storage import Storage
from .products import product_names
from .scoring import measure_drift

#: Every kind of notification this module writes; each has a label `notifications.kind.<kind>` in every language.
KINDS = ("drift", "daily_summary", "anomaly", "forecast_drop", "low_stock", "stock_risk")


def notify(storage: Storage, tenant_id: str, *, kind: str, title: str, message: str,
           event_key: str, severity: str = "info", details: dict[str, Any] | None = None) -> int:
    """Write one notification unless the same event was already notified; returns rows written.

    `details` is the message as i18n keys and values (`forecasting.i18n.messages`),
    for the dashboard to say in the reader's language; `notify_parts` builds both.
    """
    existing = storage.select("notifications", str(tenant_id), columns=["id"], where={"event_key": event_key})
    if not existing.empty:
        return 0
    row = {"tenant_id": str(tenant_id), "kind": kind, "severity": severity, "title": title, "message": message,
           "event_key": event_key, "details": details, "is_read": False, "created_at": datetime.now(timezone.utc)}
    written = storage.upsert("notifications", str(tenant_id), [row])
    log_event("notification", tenant_id=str(tenant_id), kind=kind, event_key=event_key)
    return written


def notify_parts(storage: Storage, tenant_id: str, fmt: Formatter, *, kind: str, event_key: str, title: Part,
                 parts: list[Part], severity: str = "info") -> int:
    """`notify` with the message as i18n parts: stored in English (formatted by `fmt`) and as parts."""
    details = message(title, parts)
    english = say(details, "en", fmt)
    if english is None:  # a key missing from forecasting/ui/i18n.py: a bug, caught by the tests
        raise KeyError(f"unknown message key in {details}")
    return notify(storage, tenant_id, kind=kind, severity=severity, title=english[0], message=english[1],
                  event_key=event_key, details=details)


def list_notifications(storage: Storage, tenant_id: str, *, unread_only: bool = False, limit: int = 200) -> pd.DataFrame:
    where = {"is_read": False} if unread_only else None
    return storage.select("notifications", str(tenant_id), where=where, order_by="created_at", descending=True, limit=limit)


def mark_read(storage: Storage, tenant_id: str, notification_id: int | None = None) -> int:
    """Mark one notification (or all of the tenant's) as read."""
    where = {"id": int(notification_id)} if notification_id is not None else None
    return storage.update("notifications", str(tenant_id), {"is_read": True}, where=where)


def notify_drift(storage: Storage, tenant_id: str, drift: dict[str, Any] | None) -> bool:
    """Raise the drift notification for a check from `scoring.measure_drift`; True when one was due.

    Training only measures (it runs where no notification should be
    written, such as a Dask worker); whoever ran it raises this, once per
    last sales day (`event_key`).
    """
    if not drift or not drift.get("drift"):
        return False
    # Before any forecast met its sales, nothing "changed": the shop is simply hard to forecast.
    key = "notif.drift_cv" if drift["source"] == "cross-validation" else "notif.drift"
    values = {"value_pct": float(drift["value"]), "threshold_pct": float(drift["threshold"]), "metric": drift["metric"],
              "days_num": drift.get("days")}
    notify_parts(storage, str(tenant_id), Formatter(), kind="drift", severity="warning",
                 event_key=f"drift:{drift['last_day']}", title=(f"{key}.title", {}), parts=[(f"{key}.message", values)])
    return True


# --- rules from business_notification_config ------------------------------------------

#: Rules and their default thresholds, used for a tenant with no rows in business_notification_config.
#: low_stock: units; forecast_drop: fraction (0.2 = next 7 days 20% below the last 7);
#: new_anomaly: robust z-score (None = the tenant's ML_STL_ZTHRESH); forecast_drift: WAPE fraction
#: (None = ML_ERROR_ALERT_MAPE).
DEFAULT_RULES: dict[str, float | None] = {"low_stock": 5.0, "forecast_drop": 0.20, "new_anomaly": None,
                                          "forecast_drift": None}
ANOMALY_LOOKBACK_DAYS = 7


def rules_for(storage: Storage, tenant_id: str) -> dict[str, float | None]:
    """Active rules and thresholds of a tenant; the defaults when it configured none."""
    config = storage.select("business_notification_config", str(tenant_id))
    if config.empty:
        return dict(DEFAULT_RULES)
    active = config[config["is_active"].astype(bool)]
    return {row.rule: (None if pd.isna(row.threshold) else float(row.threshold))
            for row in active.itertuples() if row.rule in DEFAULT_RULES}


def check_rules(storage: Storage, tenant, settings, y: pd.Series | None, *, today) -> list[str]:
    """Evaluate the tenant's rules; returns the event keys of notifications written now.

    Each rule names its event so that re-running finds it already notified:
    a stock-out risk (today's stock plan: an order is due and stock runs out
    before the next one would arrive) once per product and ISO week, low
    stock (the flat rule, for products without a stock plan) the same, a forecast drop once per model
    version, an anomaly once per day, drift once per day.
    """
    rules = rules_for(storage, tenant.id)
    written: list[str] = []
    fmt = formatter_for(tenant, "en")

    def send(**kwargs) -> None:
        if notify_parts(storage, tenant.id, fmt, **kwargs):
            written.append(kwargs["event_key"])

    week = f"{today.isocalendar()[0]}-W{today.isocalendar()[1]:02d}"
    plans = storage.select("stock_plans", tenant.id, where={"as_of": today})
    due = plans[(plans["status"] == "order") & (plans["days_left"] <= plans["lead_time_days"] + plans["review_days"])
                ] if "low_stock" in rules and not plans.empty else plans.iloc[:0]
    names = product_names(storage, tenant.id) if len(due) else {}
    for row in due.itertuples():
        # An order placed by this day arrives before the expected run-out (today when that is already too late).
        order_by = max(pd.Timestamp(row.runout_date).date() - pd.Timedelta(days=int(row.lead_time_days)), today)
        name = names.get(str(row.product_id), str(row.product_id))
        send(kind="stock_risk", severity="warning",
             title=("notif.stock_risk.title", {"product": name, "runout_day": str(row.runout_date)}),
             parts=[("notif.stock_risk.message", {"order_num": float(row.order_quantity), "order_day": str(order_by),
                                                  "early_day": str(row.early_date)})
                    if str(row.early_date) != str(row.runout_date) else
                    ("notif.stock_risk.order", {"order_num": float(row.order_quantity), "order_day": str(order_by)})],
             event_key=f"stock_risk:{row.product_id}:{week}")

    if "low_stock" in rules:
        # The flat rule is for products the forecasts can't plan (no sales history, or no product model yet).
        threshold = rules["low_stock"] if rules["low_stock"] is not None else DEFAULT_RULES["low_stock"]
        products = storage.select("productos", tenant.id)
        planned = set(plans.loc[plans["status"] != "no_history", "product_id"].astype(str)) if not plans.empty else set()
        products = products[~products["id"].astype(str).isin(planned)]
        for row in products[pd.to_numeric(products["stock"], errors="coerce") <= threshold].itertuples():
            send(kind="low_stock", severity="warning", title=("notif.low_stock.title", {"product": row.nombre}),
                 parts=[("notif.low_stock.message", {"product": row.nombre, "stock_num": float(row.stock),
                                                     "threshold_num": float(threshold)})],
                 event_key=f"low_stock:{row.id}:{week}")

    if y is not None and "forecast_drop" in rules:
        threshold = rules["forecast_drop"] if rules["forecast_drop"] is not None else DEFAULT_RULES["forecast_drop"]
        drop = forecast_drop(storage, tenant.id, y, today)
        if drop and drop["change"] < -threshold:
            send(kind="forecast_drop", severity="warning", title=("notif.forecast_drop.title", {}),
                 parts=[("notif.forecast_drop.message", {"next_money": drop["next7"], "last_money": drop["last7"],
                                                         "drop_pct": -drop["change"]})],
                 event_key=f"forecast_drop:{drop['model_version']}")

    if "new_anomaly" in rules:
        threshold = rules["new_anomaly"] if rules["new_anomaly"] is not None else settings.stl_zthresh
        since = today - pd.Timedelta(days=ANOMALY_LOOKBACK_DAYS)
        anomalies = storage.select("ml_predictions", tenant.id, where={"prediction_type": "sales_anomaly"},
                                   gte={"prediction_date": since})
        for row in anomalies.itertuples():
            values = row.predicted_values or {}
            if (values.get("score") or 0) > threshold:
                direction = "higher" if values.get("y", 0) > values.get("expected", 0) else "lower"
                day = pd.Timestamp(row.prediction_date).date().isoformat()
                send(kind="anomaly", severity="info", title=("notif.anomaly.title", {"day_date": day}),
                     parts=[(f"notif.anomaly.{direction}", {"actual_money": float(values.get("y", 0)),
                                                             "expected_money": float(values.get("expected", 0)),
                                                             "score_num": round(float(values["score"]), 1)})],
                     event_key=f"anomaly:{row.prediction_date}")

    if y is not None and "forecast_drift" in rules:
        threshold = rules["forecast_drift"] if rules["forecast_drift"] is not None else settings.error_alert_mape
        if notify_drift(storage, tenant.id, measure_drift(storage, tenant.id, y, threshold)):
            written.append(f"drift:{y.index[-1].date().isoformat()}")
    return written


def forecast_drop(storage: Storage, tenant_id: str, y: pd.Series, today) -> dict[str, Any] | None:
    """Next 7 forecast days against the last 7 actual days; None without a current forecast."""
    forecast = storage.select("ml_predictions", str(tenant_id), where={"prediction_type": "sales_forecast"},
                              gte={"prediction_date": today}, order_by="prediction_date", limit=7)
    if len(forecast) < 7:
        return None
    next7 = float(sum(v["yhat"] for v in forecast["predicted_values"]))
    last7 = float(y.iloc[-7:].sum())
    if last7 <= 0:
        return None
    return {"next7": next7, "last7": last7, "change": next7 / last7 - 1, "model_version": forecast["model_version"].iloc[0]}


def daily_summary(storage: Storage, tenant, y: pd.Series | None, *, today) -> bool:
    """One summary per tenant and day: yesterday's sales, next 7 days, unusual days, products to order (or,
    without stock plans, products at or below the low-stock threshold)."""
    parts: list[Part] = []
    if y is not None and len(y) >= 8:
        yesterday, week_before = float(y.iloc[-1]), float(y.iloc[-8])
        if week_before > 0:
            parts.append(("notif.daily.yesterday_change", {"sales_money": yesterday,
                                                           "change_spct": yesterday / week_before - 1}))
        else:
            parts.append(("notif.daily.yesterday", {"sales_money": yesterday}))
        drop = forecast_drop(storage, tenant.id, y, today)
        if drop:
            parts.append(("notif.daily.next7", {"next_money": drop["next7"], "last_money": drop["last7"]}))
    elif y is None:
        parts.append(("notif.daily.no_sales", {}))
    anomalies = storage.select("ml_predictions", tenant.id, where={"prediction_type": "sales_anomaly"},
                               gte={"prediction_date": today - pd.Timedelta(days=ANOMALY_LOOKBACK_DAYS)})
    unusual = sum(1 for v in anomalies["predicted_values"] if (v or {}).get("is_anomaly"))
    if unusual:
        parts.append(("notif.daily.unusual", {"count_num": unusual}))
    plans = storage.select("stock_plans", tenant.id, columns=["status"], where={"as_of": today})
    if not plans.empty:  # products with a stock plan: what to order today, not a flat threshold
        to_order = int((plans["status"] == "order").sum())
        if to_order:
            parts.append(("notif.daily.to_order", {"count_num": to_order}))
    else:
        low = storage.select("ml_features", tenant.id, where={"feature_type": "low_stock_products"},
                             order_by="feature_date", descending=True, limit=1)
        if not low.empty and low["value"].iloc[0]:
            parts.append(("notif.daily.low_stock", {"count_num": float(low["value"].iloc[0])}))
    return bool(notify_parts(storage, tenant.id, formatter_for(tenant, "en"), kind="daily_summary",
                             title=("notif.daily.title", {"day_date": pd.Timestamp(today).date().isoformat()}),
                             parts=parts or [("notif.daily.nothing", {})], event_key=f"daily:{today}"))
