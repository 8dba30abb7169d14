"""Settings: the one place where defaults live.

Two groups, both read from environment variables by pydantic-settings (the
dashboard also exposes root-level keys of `.streamlit/secrets.toml` as
environment variables, so the same names work there):

* `MLSettings` -- the `ML_*` keys of the spec. A tenant's row in
  `tenant_ml_settings` overrides any of them for that tenant
  (`settings_for_tenant`), and wins over the environment.
* `AppSettings` -- where the data lives and how the process runs.

Unrelated environment variables are ignored. Everything else in the package
asks `get_settings()` / `get_app_settings()`; nothing reads `os.environ`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import ConfigError, DataError
from .metrics import METRICS

INTERVAL_LEVELS = (80, 95)


def _split_list(value: Any) -> Any:
    """Accept `a,b,c`, a JSON list, or a Python list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a valid JSON list: {text!r}") from exc
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _int_tuple(value: Any) -> Any:
    """Accept `1,1,1`, `(1,1,1)`, `[1,1,1]` or a sequence of ints."""
    if isinstance(value, str):
        text = value.strip().strip("()[]")
        try:
            return tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise ValueError(f"expected comma-separated integers, got {value!r}") from exc
    return value


CandidateList = Annotated[list[str], NoDecode, BeforeValidator(_split_list)]
TenantList = Annotated[list[str], NoDecode, BeforeValidator(_split_list)]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weekdays(value: Any) -> Any:
    """Accept `sun`, `sat,sun`, `6`, `[5, 6]`: weekdays by English abbreviation or number (0 = Monday)."""
    items = _split_list(value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)):
        return items
    days = []
    for item in items:
        text = str(item).strip().lower()[:3]
        if text in WEEKDAYS:
            days.append(WEEKDAYS.index(text))
        elif text.isdigit() and int(text) < 7:
            days.append(int(text))
        else:
            raise ValueError(f"{item!r} is not a weekday: use mon..sun or 0..6 (0 = Monday)")
    return sorted(set(days))


WeekdayList = Annotated[list[int], NoDecode, BeforeValidator(parse_weekdays)]
Order = Annotated[tuple[int, int, int], NoDecode, BeforeValidator(_int_tuple)]
SeasonalOrder = Annotated[tuple[int, int, int, int], NoDecode, BeforeValidator(_int_tuple)]


class MLSettings(BaseSettings):
    """The forecasting settings of the spec, each from `ML_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="ML_", extra="ignore", frozen=True, protected_namespaces=())

    model_candidates: CandidateList = Field(
        default=["snaive", "theta", "lightgbm"],
        description="Models that compete in cross-validation, by registry name.",
    )
    select_best: bool = Field(
        default=True,
        description="Pick the CV winner; when off, the first candidate is always used.",
    )
    cv_primary_metric: Literal[tuple(METRICS)] = Field(  # the metric registry's names
        default="mase", description="Metric that picks the winner (lower is better)."
    )
    horizon_days: int = Field(default=28, ge=1, le=366, description="Days forecast ahead (also the CV horizon).")
    cv_folds: int = Field(default=5, ge=1, le=10, description="Rolling-origin CV folds, one horizon apart.")
    ensemble_top_k: int = Field(
        default=2, ge=0, le=10, description="The mean of the best K candidates competes in CV as `ensemble` (0 or 1: off)."
    )
    seasonality_mode: Literal["additive", "multiplicative"] = Field(
        default="additive", description="Prophet's seasonality mode."
    )
    holidays_country: str = Field(
        default="",
        description="ISO country code for holidays when the tenant has none in `negocios.country`.",
    )
    log_transform: bool = Field(default=False, description="Fit Prophet on log1p(sales).")
    sarimax_order: Order = Field(default=(1, 1, 1), description="SARIMAX (p,d,q); p and q at most 3, d at most 2.")
    sarimax_seasonal: SeasonalOrder = Field(
        default=(1, 1, 1, 7), description="SARIMAX (P,D,Q,s); P and Q at most 2, D at most 1, s at most 14 days.")
    anomaly_method: Literal["stl_resid", "isolation_forest"] = Field(
        default="stl_resid", description="How anomalous days are flagged."
    )
    stl_period: int = Field(default=7, ge=2, le=366, description="STL period in days.")
    stl_zthresh: float = Field(
        default=3.0, gt=0,
        description="Score above which a day is flagged as anomalous: distance from the model in typical errors.",
    )
    max_train_window_days: int = Field(default=730, ge=7, le=3650, description="Most recent days of history used.")
    train_budget_seconds: float = Field(
        default=300.0, ge=10, le=3600,
        description="Time one retrain's cross-validation may take, shared equally by the candidates: a candidate "
        "whose folds would run past its share is skipped, with the reason, like any other skip.",
    )
    retrain_cron: str = Field(default="0 2 * * 1", description="Cron of the weekly retrain (Monday 02:00).")
    tenant_ids: TenantList = Field(default=["*"], description="Tenants the scheduler retrains; `*` means all.")
    error_alert_mape: float = Field(
        default=0.30, gt=0, description="Recent forecast error as a share of sales (WAPE; 0.30 = off by 30%) above which drift "
        "is raised. The name is kept from when it was MAPE."
    )
    closed_weekdays: WeekdayList = Field(
        default=[], description="Weekdays the shop is always closed (e.g. `sun`): forecast at exactly 0, never "
        "unusual, never scored. Proposed from history on the Calendar page, set by the owner."
    )
    train_products: bool = Field(
        default=True, description="Forecast demand per product (and plan stock) at every retrain, when sales "
        "carry a product."
    )
    stock_lead_time_days: int = Field(
        default=2, ge=0, le=21, description="Days from placing an order to having it on the shelf (per product "
        "overrides on the Products page)."
    )
    stock_review_days: int = Field(
        default=7, ge=1, le=21, description="Days between two orders of the same product (lead time + review "
        "period at most 28 days, the product forecast's horizon)."
    )
    stock_service_level: float = Field(
        default=0.95, ge=0.5, le=0.995, description="Chance that stock lasts until the next delivery, which sets "
        "the suggested order (0.95 = 95%)."
    )

    @field_validator("model_candidates")
    @classmethod
    def _known_candidates(cls, names: list[str]) -> list[str]:
        from .models import available_names

        names = [name.strip().lower() for name in names]
        unknown = [name for name in names if name not in available_names()]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(available_names())}")
        if not names:
            raise ValueError("at least one candidate is needed")
        return list(dict.fromkeys(names))

    @field_validator("sarimax_order", "sarimax_seasonal")
    @classmethod
    def _bounded_order(cls, order: tuple[int, ...], info) -> tuple[int, ...]:
        # The cost of a SARIMAX fit grows with the state dimension, about max(p, q + 1) + s * max(P, Q + 1):
        # (12,1,12)(2,1,2,30) ran past five minutes of CPU for one retrain. These bounds keep a fit to seconds.
        if any(part < 0 for part in order):
            raise ValueError("orders must be non-negative integers")
        if info.field_name == "sarimax_order":
            limits, names = (3, 2, 3), "p, d, q"
        else:
            limits, names = (2, 1, 2, 14), "P, D, Q, s"
        if any(part > limit for part, limit in zip(order, limits, strict=True)):
            raise ValueError(f"{names} may be at most {', '.join(map(str, limits))} (larger orders take minutes per fit)")
        return order

    @field_validator("holidays_country")
    @classmethod
    def _country(cls, code: str) -> str:
        return code.strip().upper()

    @model_validator(mode="after")
    def _stock_within_horizon(self) -> MLSettings:
        # The product forecast sees 28 days (services.products.PRODUCT_HORIZON): an order must arrive and last within it.
        if self.stock_lead_time_days + self.stock_review_days > 28:
            raise ValueError("stock lead time + review period may be at most 28 days (the product forecast's horizon)")
        return self

    def allowed_tenants(self) -> set[str] | None:
        """Tenant ids the scheduler may retrain, or None for all."""
        return None if "*" in self.tenant_ids else set(self.tenant_ids)


class AppSettings(BaseSettings):
    """Where the data lives and how the process behaves (no prefix)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    forecasting_db_path: str = Field(
        default="data/forecasting.db",
        description="Embedded SQLite database file, created on first use.",
    )
    database_url: str = Field(default="", description="PostgreSQL URL; when set, used instead of the embedded file.")
    supabase_url: str = Field(default="", description="Supabase project URL for the REST backend.")
    supabase_service_role_key: str = Field(default="", repr=False, description="Supabase service-role key (secret).")
    log_level: str = Field(default="INFO", description="Level of the JSON log on stderr.")
    scheduler_enabled: bool = Field(default=True, description="Run the embedded scheduler inside the dashboard process.")
    scheduler_timezone: str = Field(default="UTC", description="Time zone of the schedule (cron times, 08:00 summaries).")
    scheduler_lease_seconds: float = Field(
        default=30.0, gt=1, description="Leader lease; another process takes over this long after the leader stops."
    )
    feature_refresh_seconds: int = Field(default=3600, ge=1, description="Interval of the feature refresh job.")
    rules_check_seconds: int = Field(default=300, ge=1, description="Interval of the notification rules job.")
    health_check_seconds: int = Field(default=300, ge=1, description="Interval of the database health check.")
    train_executor: Literal["serial", "process", "dask"] = Field(
        default="process", description="How `train --all` and the weekly retrain run tenants: serial, process pool or Dask."
    )
    train_workers: int = Field(default=0, ge=0, description="Worker processes for the process executor (0: one per core).")
    dask_address: str = Field(default="", description="Dask scheduler address for the dask executor (tcp://host:8786).")
    auth_enabled: bool = Field(
        default=False,
        description="Ask for a user name and password on the dashboard (users: `python -m forecasting users`). "
        "Off for the local demo, which then says so on every page.",
    )
    auth_session_hours: float = Field(default=8.0, gt=0, description="A sign-in lasts at most this long.")
    auth_idle_minutes: float = Field(default=30.0, gt=0, description="A sign-in ends after this long without a page view.")
    auth_max_attempts: int = Field(default=5, ge=1, description="Wrong passwords in a row that lock a user name.")
    auth_lockout_minutes: float = Field(default=15.0, gt=0, description="How long a locked user name stays locked.")
    model_signing_key: str = Field(
        default="", repr=False,
        description="Secret that signs stored models (HMAC-SHA256); a model whose signature doesn't match is never "
        "loaded, the business is retrained instead. Empty: a random key kept in `model_signing.key` beside the "
        "embedded database file, created on first use (set it on every host of a multi-host deployment).",
    )

    @field_validator("scheduler_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        from .series import zone

        try:
            zone(name)
        except DataError as exc:
            raise ValueError(str(exc)) from None
        return name


@lru_cache(maxsize=1)
def get_settings() -> MLSettings:
    """Environment-level ML settings (cached; call `reset_settings()` after changing env)."""
    try:
        return MLSettings()
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix="ML_")) from None


@lru_cache(maxsize=1)
def get_app_settings() -> AppSettings:
    try:
        return AppSettings()
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def reset_settings() -> None:
    get_settings.cache_clear()
    get_app_settings.cache_clear()


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per invalid field, naming the field as the user wrote it."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        name = f"{prefix}{field.upper()}" if prefix else field
        parts.append(f"{name}: {err['msg']}")
    return "invalid setting(s): " + "; ".join(parts)


#: Settings of the whole deployment, never of one business: the one scheduler's schedule and tenants, and
#: the time budget that keeps any business's retrain from holding the machine.
DEPLOYMENT_SETTINGS = ("retrain_cron", "tenant_ids", "train_budget_seconds")


def setting_name(key: Any) -> str:
    """The MLSettings field an override key names: `ML_HORIZON_DAYS`, ` horizon_days` -> `horizon_days`."""
    return str(key).strip().lower().removeprefix("ml_")


def tenant_override_keys(overrides: dict[str, Any]) -> dict[str, Any]:
    """`normalize_override_keys`, refusing the deployment's own settings (ConfigError naming the key)."""
    normalized = normalize_override_keys(overrides)
    for key in overrides:
        name = setting_name(key)
        if name in DEPLOYMENT_SETTINGS:
            raise ConfigError(f"invalid setting(s): {key}: set for the whole deployment (ML_{name.upper()} in the "
                              "environment), not per business")
    return normalized


def normalize_override_keys(overrides: dict[str, Any]) -> dict[str, Any]:
    """Map `ML_HORIZON_DAYS` / `horizon_days` to field names; reject unknown keys."""
    fields = MLSettings.model_fields
    normalized: dict[str, Any] = {}
    for key, value in overrides.items():
        name = setting_name(key)
        if name not in fields:
            raise ConfigError(f"invalid setting(s): {key}: unknown setting")
        normalized[name] = value
    return normalized


def merge_overrides(base: MLSettings, overrides: dict[str, Any] | None) -> MLSettings:
    """`base` with a tenant's overrides on top, validated as a whole.

    Raises ConfigError naming the offending field (e.g. `ML_HORIZON_DAYS:
    Input should be greater than or equal to 1`).
    """
    if not overrides:
        return base
    values = base.model_dump()
    values.update(normalize_override_keys(overrides))
    try:
        return MLSettings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix="ML_")) from None
