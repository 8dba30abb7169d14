"""The models page: the tenant's model versions, and Retrain now with a plan for its progress bar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..core.config import MLSettings, get_settings
from ..core.errors import ForecastingError
from ..services.model_store import active_model_info, list_models
from ..services.notifications import notify_drift
from ..services.tenants import settings_for_tenant
from ..services.training import retrain_tenant
from ..storage import Storage
from .common import finite
from .overview import overview

__all__ = ["RetrainOutcome", "Snapshot", "model_versions", "retrain", "retrain_plan", "snapshot"]


# --- models and retrain ---------------------------------------------------------------------


def model_versions(storage: Storage, tenant_id: str) -> pd.DataFrame:
    """The tenant's model versions with their CV figures, newest first.

    Columns: model_version, model_type, is_active, last_trained, accuracy,
    primary_metric, score (the primary metric), mase, wape, trained_until,
    train_days, candidates.
    """
    models = list_models(storage, tenant_id)
    rows = []
    for row in models.itertuples():
        metrics = row.training_metrics or {}
        hyper = row.hyperparameters or {}
        winner_scores = (metrics.get("scores") or {}).get(row.model_type, {})
        primary = metrics.get("primary_metric") or "mase"
        rows.append({
            "model_version": row.model_version, "model_type": row.model_type, "is_active": bool(row.is_active),
            "last_trained": row.last_trained, "accuracy": finite(row.accuracy), "primary_metric": primary,
            "score": finite(winner_scores.get(primary)), "mase": finite(winner_scores.get("mase")),
            "wape": finite(winner_scores.get("wape")), "trained_until": hyper.get("trained_until"),
            "train_days": hyper.get("train_days"), "candidates": len(metrics.get("scores") or {}),
        })
    columns = ["model_version", "model_type", "is_active", "last_trained", "accuracy", "primary_metric", "score",
               "mase", "wape", "trained_until", "train_days", "candidates"]
    return pd.DataFrame(rows, columns=columns)


def retrain_plan(storage: Storage, tenant_id: str) -> list[str]:
    """The progress events a retrain of this tenant will report, for a progress bar.

    `series`, one `cv` per candidate, `final_fit`, `saving` (forecast),
    `anomalies`, `saving` (model), `products` (when on), `done`. Candidates that turn out to be
    unavailable report nothing, so the bar may jump; it never overshoots.
    """
    try:
        settings = settings_for_tenant(storage, str(tenant_id))
    except ForecastingError:
        settings = get_settings()
    candidates = settings.model_candidates if settings.select_best else settings.model_candidates[:1]
    products = ["products"] if settings.train_products else []
    return ["series", *["cv"] * len(candidates), "final_fit", "saving", "anomalies", "saving", *products, "done"]


@dataclass(frozen=True)
class Snapshot:
    """What the owner was shown for a tenant at one moment: the active model, its forecast totals for the
    next 7 and 30 days, and its typical error when tested on past weeks (the winner's CV WAPE)."""

    model: str | None = None
    version: str | None = None
    forecast_7: float | None = None
    forecast_30: float | None = None
    error: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def snapshot(storage: Storage, tenant_id: str) -> Snapshot:
    """The tenant's `Snapshot` now (empty when it was never trained or its figures can't be made)."""
    try:
        view = overview(storage, str(tenant_id))
    except ForecastingError:
        return Snapshot()
    info = active_model_info(storage, str(tenant_id))
    if info is None:
        return Snapshot()
    metrics = info.training_metrics or {}
    error = finite(((metrics.get("scores") or {}).get(metrics.get("winner") or info.model_type) or {}).get("wape"))
    return Snapshot(info.model_type, info.model_version, view.forecast.get(7), view.forecast.get(30), error)


@dataclass(frozen=True)
class RetrainOutcome:
    """What a retrain did (`TrainResult.summary()` plus the CV scores, for display), and what the owner saw
    before and sees after it (`Snapshot`s: forecast totals and the typical error, before and after)."""

    summary: dict[str, Any]
    scores: pd.DataFrame
    before: Snapshot = Snapshot()
    after: Snapshot = Snapshot()


def retrain(storage: Storage, tenant_id: str, *, progress: Callable[[str, str], None] | None = None,
            settings: MLSettings | None = None) -> RetrainOutcome:
    """Run the whole pipeline for one tenant now, under the tenant's retrain lock (`training.retrain_tenant`),
    and raise the drift notification it measured.

    The lock is the one the scheduler's weekly retrain takes, so a click
    while that job trains the same tenant gets BusyError at once instead of
    a second, competing run. Otherwise raises what the pipeline raises:
    DataError (no sales), ConfigError (invalid overrides), ModelError, StorageError.
    """
    before = snapshot(storage, str(tenant_id))
    result = retrain_tenant(storage, str(tenant_id), settings=settings, progress=progress)
    notify_drift(storage, str(tenant_id), result.drift)
    return RetrainOutcome(result.summary(), result.cv_scores, before, snapshot(storage, str(tenant_id)))
