"""Model versions in `ml_models`: save, list, load the active one.

`model_data` is base64 text of the model's own serialization (joblib for
most; JSON holding the library's own format for LightGBM, XGBoost, Prophet
and the ensemble). The versions of the libraries that wrote it -- numpy,
pandas, joblib and every package a registered model `requires` -- are
stored in `hyperparameters.library_versions`; loading refuses a model
written by a different major.minor of any of them and asks for a retrain
instead of failing later in some obscure way.

Unpickling runs code, so a blob is deserialized only when it carries this
installation's signature: HMAC-SHA256 over the tenant, the model type and
version, and the bytes, with `MODEL_SIGNING_KEY` (or a random key kept in a
file beside the embedded database, made on first use). A row written or
changed by anyone without the key (a crafted payload, a model copied from
another business) is refused before it is read, and the business retrained.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import platform
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.config import AppSettings, get_app_settings
from ..core.errors import ConfigError, ModelError
from ..core.logs import log_event
from ..core.models import Forecaster, load_model, required_packages
from ..storage import Storage


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


KEY_FILE = "model_signing.key"
_KEYS: dict[str, bytes] = {}


def signing_key(storage: Storage | None = None, settings: AppSettings | None = None) -> bytes:
    """The key that signs the models stored in `storage`: MODEL_SIGNING_KEY, else the key file beside
    the embedded database (the storage's own file; for a server database, FORECASTING_DB_PATH's folder)."""
    settings = settings or (storage.reopen_settings() if storage is not None else get_app_settings())
    if settings.model_signing_key:
        return settings.model_signing_key.encode("utf-8")
    path = Path(settings.forecasting_db_path).resolve().parent / KEY_FILE
    key = _KEYS.get(str(path))
    if key is None:
        key = _KEYS[str(path)] = _read_or_create_key(path)
    return key


def _read_or_create_key(path: Path) -> bytes:
    """Read the key file, or create it (readable by its owner only) if none exists yet. Two processes
    creating it at once agree: the file appears whole, with one key, or not at all (a hard link)."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
            descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_hex(32))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
            finally:
                draft.unlink()
            log_event("model_signing_key_created", path=str(path))
        key = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"could not read or create the model signing key {str(path)!r}: {exc.strerror or exc}; "
                          "set MODEL_SIGNING_KEY instead") from None
    if len(key) < 32:
        raise ConfigError(f"the model signing key in {str(path)!r} is too short; delete the file to make a new one")
    return key.encode("utf-8")


def signature(key: bytes, tenant_id: str, model_type: str, model_version: str, data: bytes) -> str:
    """HMAC-SHA256 of a stored model, bound to its tenant, type and version (a copy elsewhere doesn't verify)."""
    message = f"{tenant_id}\n{model_type}\n{model_version}\n".encode() + data
    return "hmac-sha256:" + hmac.new(key, message, hashlib.sha256).hexdigest()


def library_versions() -> dict[str, str]:
    """Python's version and, by import name, that of every installed package a model needs (`required_packages`)."""
    return dict(_library_versions())


@functools.cache
def _library_versions() -> dict[str, str]:  # what this process runs with: read once
    versions = {"python": platform.python_version()}
    for package in required_packages():
        version = _installed_version(package)
        if version is not None:
            versions[package] = version
    return versions


def _installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        pass
    # Installed under another name (sklearn is scikit-learn, xgboost may be xgboost-cpu): looked up
    # among every installed package's files, which takes a second, so once.
    for distribution in _distributions().get(package, []):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


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
    data = model.to_bytes()
    hyperparameters = {
        "params": model.get_params(),
        "library_versions": library_versions(),
        "trained_until": model.y_.index[-1].date().isoformat(),
        "train_days": len(model.y_),
        **(extra or {}),
        "signature": signature(signing_key(storage), str(tenant_id), model.name, version, data),
    }
    row = {
        "tenant_id": str(tenant_id),
        "model_type": model.name,
        "model_version": version,
        "model_data": base64.b64encode(data).decode("ascii"),
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
    stored = str(info.hyperparameters.get("signature") or "")
    expected = signature(signing_key(storage), str(tenant_id), info.model_type, info.model_version, data)
    if not hmac.compare_digest(stored, expected):
        log_event("model_signature_refused", level=30, tenant_id=str(tenant_id), model_type=info.model_type,
                  model_version=info.model_version, signed=bool(stored))
        raise ModelError(f"stored model {info.model_type} {info.model_version} is {'not' if not stored else 'no longer'} "
                         "signed by this installation (written or changed elsewhere), so it is not loaded; "
                         "retrain the tenant")
    model = load_model(info.model_type, data)
    return info, model


def library_mismatch(info: SavedModel) -> str | None:
    """Why the stored model can't be read with this installation's libraries (written with another major.minor
    of one of them: stale, a retrain replaces it), or None. Reads the metadata only, never the model."""
    stored = info.hyperparameters.get("library_versions", {})
    current = library_versions()
    for name, version in stored.items():
        if name == "python" or name not in current:
            continue
        if version.split(".")[:2] != current[name].split(".")[:2]:
            return (f"stored model {info.model_type} {info.model_version} was written with {name} {version}, "
                    f"this installation has {current[name]}; retrain the tenant")
    return None


def _check_versions(info: SavedModel) -> None:
    problem = library_mismatch(info)
    if problem is not None:
        raise ModelError(problem)
