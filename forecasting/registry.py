"""Model versions in `ml_models`: save, list, load the active one.

`model_data` is base64 text of the model's own serialization (joblib for
most, Prophet's JSON for Prophet). The versions of the libraries that wrote
it are stored in `hyperparameters.library_versions`; loading refuses a model
written by a different major.minor of its libraries and asks for a retrain
instead of failing later in some obscure way.
"""

from __future__ import annotations

import base64
import binascii
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import pandas as pd

from .errors import ModelError
from .logs import log_event
from .models import Forecaster, load_model
from .storage import Storage

_TRACKED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "statsmodels", "prophet", "xgboost", "mlforecast", "joblib")


@dataclass(frozen=True)
class SavedModel:
    tenant_id: str
    model_type: str
    model_version: str
    last_trained: datetime
    hyperparameters: dict[str, Any]
    training_metrics: dict[str, Any]
    accuracy: float | None


def new_version(now: datetime | None = None) -> str:
    """A sortable, unique-enough version id: the UTC training time to the microsecond."""
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def save_model(
    storage: Storage,
    tenant_id: str,
    model: Forecaster,
    *,
    version: str,
    training_metrics: dict[str, Any],
    accuracy: float | None,
    extra: dict[str, Any] | None = None,
    trained_at: datetime | None = None,
) -> SavedModel:
    """Store `model` as the tenant's active version; older versions are kept, inactive.

    The new row is written active first and the others deactivated after, so
    a reader always finds at least one active model.
    """
    trained_at = trained_at or datetime.now(timezone.utc)
    hyperparameters = {
        "params": model.get_params(),
        "library_versions": library_versions(),
        "trained_until": model.y_.index[-1].date().isoformat(),
        "train_days": len(model.y_),
        **(extra or {}),
    }
    row = {
        "tenant_id": str(tenant_id),
        "model_type": model.name,
        "model_version": version,
        "model_data": model.to_base64(),
        "hyperparameters": hyperparameters,
        "training_metrics": training_metrics,
        "accuracy": accuracy,
        "last_trained": trained_at,
        "is_active": True,
    }
    storage.upsert("ml_models", str(tenant_id), [row])
    for other in list_models(storage, tenant_id).itertuples():
        if other.is_active and not (other.model_type == model.name and other.model_version == version):
            storage.update("ml_models", str(tenant_id), {"is_active": False},
                           where={"model_type": other.model_type, "model_version": other.model_version})
    log_event("model_saved", tenant_id=str(tenant_id), model_type=model.name, model_version=version)
    return SavedModel(str(tenant_id), model.name, version, trained_at, hyperparameters, training_metrics, accuracy)


def list_models(storage: Storage, tenant_id: str) -> pd.DataFrame:
    """The tenant's model versions, newest first, without the (large) model data."""
    columns = ["model_type", "model_version", "accuracy", "last_trained", "is_active", "hyperparameters", "training_metrics"]
    return storage.select("ml_models", str(tenant_id), columns=columns, order_by="last_trained", descending=True)


def active_model_info(storage: Storage, tenant_id: str) -> SavedModel | None:
    """Metadata of the active model (no deserialization), or None if never trained."""
    frame = storage.select("ml_models", str(tenant_id), where={"is_active": True},
                           columns=["model_type", "model_version", "last_trained", "hyperparameters", "training_metrics", "accuracy"],
                           order_by="last_trained", descending=True, limit=1)
    if frame.empty:
        return None
    row = frame.iloc[0]
    return SavedModel(str(tenant_id), row["model_type"], row["model_version"], row["last_trained"],
                      row["hyperparameters"] or {}, row["training_metrics"] or {}, row["accuracy"])


def load_active_model(storage: Storage, tenant_id: str) -> tuple[SavedModel, Forecaster] | None:
    """The tenant's active model, ready to predict; None if it was never trained.

    Raises ModelError when the stored model is corrupt or was written by
    incompatible library versions (retraining fixes both).
    """
    info = active_model_info(storage, tenant_id)
    if info is None:
        return None
    frame = storage.select("ml_models", str(tenant_id), columns=["model_data"],
                           where={"model_type": info.model_type, "model_version": info.model_version})
    _check_versions(info)
    try:
        data = base64.b64decode(frame.iloc[0]["model_data"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ModelError(f"stored model {info.model_type} {info.model_version} is corrupt (bad base64); retrain the tenant") from None
    model = load_model(info.model_type, data)
    return info, model


def _check_versions(info: SavedModel) -> None:
    stored = info.hyperparameters.get("library_versions", {})
    current = library_versions()
    for name, version in stored.items():
        if name == "python" or name not in current:
            continue
        if version.split(".")[:2] != current[name].split(".")[:2]:
            raise ModelError(
                f"stored model {info.model_type} {info.model_version} was written with {name} {version}, "
                f"this installation has {current[name]}; retrain the tenant"
            )
