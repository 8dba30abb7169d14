"""Scheduled job bodies: plain functions, callable directly, from the CLI or by the scheduler.

Every job takes the storage and the environment-level ML settings, works
through the tenants one by one (one tenant's failure never stops the
others) and returns a `JobOutcome`. The scheduler records outcomes in
`job_runs`; the functions themselves know nothing about scheduling.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..core.config import MLSettings
from ..core.errors import DataError, ForecastingError
from ..core.logs import log_event
from ..core.series import tenant_today
from ..services.auth import purge_sessions
from ..services.features import DEFAULT_LOW_STOCK, refresh_features
from ..services.notifications import check_rules, daily_summary, rules_for
from ..services.products import PRODUCT_MODELS_KEPT, refresh_stock
from ..services.sales import daily_sales
from ..services.tenants import Tenant, list_tenants, settings_for_tenant
from ..storage import Storage

NOTIFICATION_RETENTION_DAYS = 30
PREDICTION_RETENTION_DAYS = 90
HISTORY_RETENTION_DAYS = 400

#: `report(done, failed, detail)` is called after each tenant (progress and heartbeat).
Report = Callable[[int, int, str], None]


@dataclass
class JobOutcome:
    done: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.failed and not self.done:
            return "failed"
        return "partial" if self.failed else "success"


def _for_each_tenant(storage: Storage, tenants: list[Tenant], work: Callable[[Tenant], Any],
                     report: Report | None, job: str) -> JobOutcome:
    outcome = JobOutcome()
    for tenant in tenants:
        try:
            result = work(tenant)
            outcome.done += 1
            if result is not None:
                outcome.details[tenant.id] = result
        except Exception as exc:  # noqa: BLE001 - one tenant's failure is recorded, the rest go on
            outcome.failed += 1
            outcome.errors[tenant.id] = f"{type(exc).__name__}: {exc}"
            level = 30 if isinstance(exc, ForecastingError) else 40
            log_event("job_tenant_failed", level=level, job=job, tenant_id=tenant.id, error=str(exc),
                      traceback=None if isinstance(exc, ForecastingError) else traceback.format_exc(limit=5))
        if report:
            report(outcome.done, outcome.failed, tenant.id)
    return outcome


def allowed_tenants(storage: Storage, settings: MLSettings) -> list[Tenant]:
    allowed = settings.allowed_tenants()
    return [t for t in list_tenants(storage) if allowed is None or t.id in allowed]


def retrain_all(storage: Storage, settings: MLSettings, *, now: datetime | None = None,
                report: Report | None = None, executor: str | None = None, workers: int | None = None) -> JobOutcome:
    """Retrain every tenant allowed by `ML_TENANT_IDS` with the configured executor (`TRAIN_EXECUTOR`).

    A tenant being retrained by hand is waited for (its lock), then retrained.
    """
    from .executors import train_tenants

    outcome = JobOutcome()

    def collect(result: dict[str, Any]) -> None:
        if result["ok"]:
            outcome.done += 1
            outcome.details[result["tenant_id"]] = {k: result["summary"][k] for k in ("winner", "seconds")}
        else:
            outcome.failed += 1
            outcome.errors[result["tenant_id"]] = result["error"]
        if report:
            report(outcome.done, outcome.failed, result["tenant_id"])

    tenants = [t.id for t in allowed_tenants(storage, settings)]
    train_tenants(tenants, app=storage.reopen_settings(), ml=settings, executor=executor, workers=workers,
                  now=now, on_result=collect)
    return outcome


def refresh_all_features(storage: Storage, settings: MLSettings, *, now: datetime | None = None,
                         report: Report | None = None) -> JobOutcome:
    """Rewrite recent sales features and the inventory snapshot, and recompute each product's stock plan
    from the current stock with the active product model (no retraining)."""
    def work(tenant: Tenant) -> dict[str, int]:
        rules = rules_for(storage, tenant.id)
        low = rules.get("low_stock") or DEFAULT_LOW_STOCK
        features = refresh_features(storage, tenant, max_days=settings.max_train_window_days, low_stock=low, now=now)
        plans = refresh_stock(storage, tenant.id, settings=settings_for_tenant(storage, tenant, base=settings), now=now)
        return {"features": features, "stock_plans": len(plans)}

    return _for_each_tenant(storage, list_tenants(storage), work, report, "refresh_features")


def _series_or_none(storage: Storage, tenant: Tenant, settings: MLSettings, now: datetime | None):
    try:
        return daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=settings.max_train_window_days, now=now)
    except DataError:
        return None


def check_notification_rules(storage: Storage, settings: MLSettings, *, now: datetime | None = None,
                             report: Report | None = None) -> JobOutcome:
    """Evaluate each tenant's rules (stock, forecast drop, anomalies, drift); write new notifications."""
    def work(tenant: Tenant) -> list[str]:
        tenant_settings = settings_for_tenant(storage, tenant, base=settings)
        y = _series_or_none(storage, tenant, tenant_settings, now)
        return check_rules(storage, tenant, tenant_settings, y, today=tenant_today(tenant.timezone, now))

    return _for_each_tenant(storage, list_tenants(storage), work, report, "check_notification_rules")


def send_daily_notifications(storage: Storage, settings: MLSettings, *, now: datetime | None = None,
                             report: Report | None = None) -> JobOutcome:
    """One daily summary per tenant (written once per tenant and day)."""
    def work(tenant: Tenant) -> bool:
        y = _series_or_none(storage, tenant, settings, now)
        return daily_summary(storage, tenant, y, today=tenant_today(tenant.timezone, now))

    return _for_each_tenant(storage, list_tenants(storage), work, report, "daily_notifications")


def cleanup_old_notifications(storage: Storage, settings: MLSettings, *, now: datetime | None = None,
                              report: Report | None = None) -> JobOutcome:
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=NOTIFICATION_RETENTION_DAYS)
    removed = storage.delete("notifications", None, lt={"created_at": cutoff})
    return JobOutcome(done=1, details={"deleted": removed, "before": cutoff.isoformat()})


def cleanup_old_predictions(storage: Storage, settings: MLSettings, *, now: datetime | None = None,
                            report: Report | None = None) -> JobOutcome:
    """Delete predictions not rewritten for 90 days, job runs and stock plans older than 90 days, forecast
    history and product forecasts past 400 days, product models beyond the newest few, and ended sessions."""
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=PREDICTION_RETENTION_DAYS)
    removed = storage.delete("ml_predictions", None, lt={"created_at": cutoff})
    history_cutoff = (now - timedelta(days=HISTORY_RETENTION_DAYS)).date()
    history = storage.delete("forecast_history", None, lt={"target_date": history_cutoff})
    # Two 5-minute jobs add ~600 job_runs rows a day: keep the same 90 days of those.
    runs = storage.delete("job_runs", None, lt={"started_at": cutoff})
    sessions = purge_sessions(storage, now=now)
    # Product forecasts are kept as long as the forecast history (their reliability is scored on them),
    # stock plans 90 days, and the newest PRODUCT_MODELS_KEPT product models per tenant.
    products = storage.delete("product_forecasts", None, lt={"forecast_date": history_cutoff})
    plans = storage.delete("stock_plans", None, lt={"as_of": cutoff.date()})
    models = 0
    for tenant in list_tenants(storage):
        versions = storage.select("product_models", tenant.id, columns=["model_version"], order_by="model_version",
                                  descending=True)["model_version"]
        if len(versions) > PRODUCT_MODELS_KEPT:
            models += storage.delete("product_models", tenant.id,
                                     lt={"model_version": versions.iloc[PRODUCT_MODELS_KEPT - 1]})
    return JobOutcome(done=1, details={"deleted": removed, "history_deleted": history, "job_runs_deleted": runs,
                                       "sessions_deleted": sessions, "product_forecasts_deleted": products,
                                       "stock_plans_deleted": plans, "product_models_deleted": models,
                                       "before": cutoff.isoformat()})


def health_check(storage: Storage, settings: MLSettings, *, now: datetime | None = None,
                 report: Report | None = None) -> JobOutcome:
    """Reach the database and time a round trip; a failure fails the run (and is shown on the Jobs page)."""
    started = time.perf_counter()
    storage.ping()
    latency = (time.perf_counter() - started) * 1000
    return JobOutcome(done=1, details={"latency_ms": round(latency, 1), "backend": storage.backend})


JOBS: dict[str, Callable[..., JobOutcome]] = {
    "retrain_all": retrain_all,
    "refresh_features": refresh_all_features,
    "daily_notifications": send_daily_notifications,
    "check_notification_rules": check_notification_rules,
    "cleanup_notifications": cleanup_old_notifications,
    "cleanup_predictions": cleanup_old_predictions,
    "health_check": health_check,
}

__all__ = ["JOBS", "JobOutcome"]
