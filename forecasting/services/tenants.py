"""Tenants (`negocios`) and their per-tenant setting overrides (`tenant_ml_settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from ..core.calendar import check_country
from ..core.config import (
    DEPLOYMENT_SETTINGS,
    MLSettings,
    get_settings,
    merge_overrides,
    setting_name,
    tenant_override_keys,
)
from ..core.errors import ConfigError, DataError
from ..core.series import zone
from ..storage import Storage, json_safe


@dataclass(frozen=True)
class Tenant:
    """A business as `negocios` holds it. `problem` says why it can't be used (a time zone, currency or
    country nobody knows, written by the business application); such a row is listed, and shown as a
    bad row, but `get_tenant` refuses it with that sentence."""

    id: str
    nombre: str
    timezone: str = "UTC"
    country: str | None = None
    currency: str = "USD"
    problem: str | None = None


def list_tenants(storage: Storage) -> list[Tenant]:
    frame = storage.tenants()
    return [_tenant(row) for row in frame.to_dict(orient="records")]


def get_tenant(storage: Storage, tenant_id: str) -> Tenant:
    """The tenant, or a DataError naming the id when it is not in `negocios`."""
    frame = storage.select("negocios", str(tenant_id))
    if frame.empty:
        raise DataError(f"unknown tenant {tenant_id!r}: it is not in the negocios table")
    tenant = _tenant(frame.iloc[0].to_dict())
    if tenant.problem:
        raise DataError(f"business {tenant.id} can't be used: {tenant.problem}")
    return tenant


def _tenant(row: dict[str, Any]) -> Tenant:
    values = {"timezone": row.get("timezone") or "UTC", "country": row.get("country") or None,
              "currency": row.get("currency") or "USD"}
    problems = tenant_problems(**values)
    return Tenant(id=str(row["id"]), nombre=str(row.get("nombre") or row["id"]), **values,
                  problem="; ".join(problems) or None)


def tenant_problems(timezone: str, currency: str, country: str | None) -> list[str]:
    """What is wrong with a business's time zone, currency and country, in words (empty: nothing)."""
    problems = []
    try:
        zone(timezone)
    except DataError:
        problems.append(f"unknown time zone {timezone!r} in negocios.timezone (use a name such as Europe/Madrid)")
    if currency not in _currencies():
        problems.append(f"unknown currency {currency!r} in negocios.currency (use an ISO 4217 code such as EUR)")
    try:
        check_country(country)
    except ConfigError:
        problems.append(f"unknown country {country!r} in negocios.country (use an ISO code such as ES, or none)")
    return problems


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def tenant_overrides(storage: Storage, tenant_id: str) -> dict[str, Any]:
    frame = storage.select("tenant_ml_settings", str(tenant_id), columns=["settings"])
    if frame.empty or not frame.iloc[0]["settings"]:
        return {}
    overrides = frame.iloc[0]["settings"]
    if not isinstance(overrides, dict):
        raise ConfigError(f"invalid setting(s): tenant_ml_settings for tenant {tenant_id} is not a JSON object")
    return overrides


def settings_for_tenant(storage: Storage, tenant: Tenant | str, base: MLSettings | None = None) -> MLSettings:
    """Effective settings for one tenant, in three layers (later wins).

    1. the environment (`ML_*`, or `base`);
    2. the tenant's `negocios.country` as its holidays country;
    3. the tenant's overrides in `tenant_ml_settings`.
    """
    if isinstance(tenant, str):
        tenant = get_tenant(storage, tenant)
    layers: dict[str, Any] = {}
    if tenant.country:
        layers["holidays_country"] = tenant.country
    # Deployment settings in a row written by someone else are not the business's to change: ignored.
    stored = {key: value for key, value in tenant_overrides(storage, tenant.id).items()
              if setting_name(key) not in DEPLOYMENT_SETTINGS}
    layers.update(tenant_override_keys(stored))
    settings = merge_overrides(base or get_settings(), layers)
    check_country(settings.holidays_country)
    return settings


def save_tenant_overrides(storage: Storage, tenant_id: str, overrides: dict[str, Any], base: MLSettings | None = None) -> MLSettings:
    """Validate and store a tenant's overrides; returns the effective settings.

    Nothing is written when validation fails (ConfigError naming the field).
    """
    normalized = tenant_override_keys(overrides)
    effective = merge_overrides(base or get_settings(), overrides)
    check_country(effective.holidays_country)
    storage.upsert(
        "tenant_ml_settings",
        str(tenant_id),
        [{"tenant_id": str(tenant_id), "settings": json_safe(normalized), "updated_at": datetime.now(timezone.utc)}],
    )
    return effective
