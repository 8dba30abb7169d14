"""The tenant settings form on the models page: `MLSettings` reflected into fields, saved as overrides."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.calendar import check_country
from ..core.config import MLSettings, get_settings, merge_overrides, normalize_override_keys
from ..core.errors import ConfigError
from ..core.models import available_names
from ..services.tenants import Tenant, get_tenant, save_tenant_overrides, settings_for_tenant, tenant_overrides
from ..storage import Storage

__all__ = ["FOR_MODEL", "PERCENT", "SETTING_GROUPS", "SettingField", "reset_tenant_settings", "save_settings",
           "settings_form", "shown_fields"]


# --- settings form -----------------------------------------------------------------------

#: Settings a tenant may override from the dashboard, grouped as the form shows them.
#: `config.DEPLOYMENT_SETTINGS` (the scheduler's, the time budget) are not per tenant, so not in the form.
SETTING_GROUPS: dict[str, tuple[str, ...]] = {
    "models": ("model_candidates", "select_best", "cv_primary_metric", "horizon_days", "cv_folds", "ensemble_top_k"),
    "seasonality": ("holidays_country", "seasonality_mode", "log_transform", "sarimax_order", "sarimax_seasonal"),
    "anomalies": ("anomaly_method", "stl_period", "stl_zthresh"),
    "calendar": ("closed_weekdays",),
    "data": ("max_train_window_days", "error_alert_mape"),
    "stock": ("train_products", "stock_lead_time_days", "stock_review_days", "stock_service_level"),
}


#: Settings that only one model reads: the form shows them only when that model is a candidate.
FOR_MODEL: dict[str, str] = {"sarimax_order": "sarimax", "sarimax_seasonal": "sarimax",
                             "seasonality_mode": "prophet", "log_transform": "prophet"}
#: Shares entered as percentages (0.3 is typed as 30).
PERCENT = frozenset({"error_alert_mape", "stock_service_level"})


def shown_fields(fields: list[SettingField], candidates) -> list[SettingField]:
    """The fields worth showing for these candidates: a model's own settings only when it competes."""
    return [field for field in fields if FOR_MODEL.get(field.name, None) in (None, *candidates)]


@dataclass(frozen=True)
class SettingField:
    """One field of the tenant settings form.

    `kind` picks the widget: candidates, weekdays, bool, choice, int, float, order, country.
    `value` is in force for the tenant, `inherited` is what it would be without
    the tenant's override.
    """

    name: str
    group: str
    kind: str
    value: Any
    inherited: Any
    overridden: bool
    description: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False

    @property
    def env_name(self) -> str:
        return f"ML_{self.name.upper()}"


def _inherited(tenant: Tenant) -> MLSettings:
    """The environment with the tenant's country as holidays country: the form's defaults."""
    base = get_settings()
    return merge_overrides(base, {"holidays_country": tenant.country}) if tenant.country else base


def settings_form(storage: Storage, tenant_id: str) -> tuple[list[SettingField], str | None]:
    """The form's fields and, when the stored overrides are invalid, the error naming the field.

    With invalid stored overrides the fields show the inherited values, so
    saving the form repairs them.
    """
    tenant = get_tenant(storage, str(tenant_id))
    inherited = _inherited(tenant)
    error = None
    try:
        effective = settings_for_tenant(storage, tenant)
        overrides = set(_normalized(tenant_overrides(storage, tenant.id)))
    except ConfigError as exc:
        effective, overrides, error = inherited, set(), str(exc)
    fields = []
    for group, names in SETTING_GROUPS.items():
        for name in names:
            info = MLSettings.model_fields[name]
            kind, choices = _kind(name, info.annotation)
            minimum, maximum, exclusive = _bounds(info.metadata)
            fields.append(SettingField(
                name=name, group=group, kind=kind, value=getattr(effective, name), inherited=getattr(inherited, name),
                overridden=name in overrides, description=info.description or "", choices=choices,
                minimum=minimum, maximum=maximum, exclusive_minimum=exclusive,
            ))
    return fields, error


def _normalized(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return normalize_override_keys(dict(overrides))


def _kind(name: str, annotation: Any) -> tuple[str, tuple[Any, ...]]:
    if name == "model_candidates":
        return "candidates", available_names()
    if name == "holidays_country":
        return "country", ()
    if name in ("sarimax_order", "sarimax_seasonal"):
        return "order", ()
    if name == "closed_weekdays":
        return "weekdays", tuple(range(7))
    if name in PERCENT:
        return "percent", ()
    if typing.get_origin(annotation) is typing.Literal:
        return "choice", typing.get_args(annotation)
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    return "text", ()


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None, bool]:
    minimum = maximum = None
    exclusive = False
    for item in metadata:
        if getattr(item, "ge", None) is not None:
            minimum = item.ge
        if getattr(item, "gt", None) is not None:
            minimum, exclusive = item.gt, True
        if getattr(item, "le", None) is not None:
            maximum = item.le
    return minimum, maximum, exclusive


def save_settings(storage: Storage, tenant_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Store the form's values as the tenant's overrides; returns the overrides saved.

    Only values that differ from the inherited ones are stored, so a later
    change of the environment still reaches this tenant for every setting it
    did not change; a setting the form did not show (`shown_fields`) keeps its
    stored override. Validated as a whole first: ConfigError names the field
    and nothing is written.
    """
    tenant = get_tenant(storage, str(tenant_id))
    inherited = _inherited(tenant)
    try:
        kept = {name: value for name, value in _normalized(tenant_overrides(storage, tenant.id)).items()
                if name not in values and name in MLSettings.model_fields}
    except ConfigError:
        kept = {}
    values = {**kept, **values}
    candidate = merge_overrides(inherited, dict(values))
    check_country(candidate.holidays_country)
    overrides = {name: value for name, value in candidate.model_dump(mode="json").items()
                 if name in values and value != inherited.model_dump(mode="json")[name]}
    save_tenant_overrides(storage, tenant.id, overrides)
    return overrides


def reset_tenant_settings(storage: Storage, tenant_id: str) -> None:
    """Drop every override of the tenant: it follows the environment again."""
    save_tenant_overrides(storage, str(tenant_id), {})
