"""Tables of the data contract, as SQLAlchemy Core metadata.

The embedded SQLite database is created from this metadata; the PostgreSQL
migrations in `supabase/migrations/` declare the same tables, keys and
columns. Unique constraints are exactly the upsert conflict keys.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

JsonType = JSON().with_variant(JSONB(), "postgresql")
# SQLite wants INTEGER PRIMARY KEY for autoincrement; Postgres gets bigint identity.
Serial = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always read back timezone-aware.

    SQLite has no time zone type: aware values are converted to UTC and stored
    naive; naive values read back are UTC by construction.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        # pandas Timestamps are datetimes, but drivers want the plain type.
        return datetime(value.year, value.month, value.day, value.hour, value.minute,
                        value.second, value.microsecond, value.tzinfo)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _forecast_columns() -> list[Column]:
    """A forecast and its 80% and 95% bands (new Column objects: a column belongs to one table)."""
    return [Column("yhat", Float, nullable=False)] + [
        Column(f"yhat_{side}_{level}", Float, nullable=False) for level in (80, 95) for side in ("lower", "upper")]


# --- source tables (written by the business application, read by us) -------

negocios = Table(
    "negocios",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("nombre", String(200), nullable=False),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("country", String(8)),
    Column("currency", String(8), nullable=False, server_default="USD"),
    Column("created_at", UTCDateTime, default=_now),
)

ventas = Table(
    "ventas",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("negocio_id", String(64), nullable=False),
    Column("fecha", UTCDateTime, nullable=False),
    Column("total", Float, nullable=False),
    Column("producto_id", String(64)),
    Column("cantidad", Float),
    Index("ix_ventas_negocio_fecha", "negocio_id", "fecha"),
)

productos = Table(
    "productos",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("negocio_id", String(64), nullable=False, index=True),
    Column("nombre", String(200), nullable=False),
    Column("stock", Float, nullable=False, server_default="0"),
    Column("precio", Float),
)

# --- tables we own ------------------------------------------------------------

ml_predictions = Table(
    "ml_predictions",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("prediction_date", Date, nullable=False),
    Column("prediction_type", String(32), nullable=False),
    Column("predicted_values", JsonType, nullable=False),
    Column("confidence_score", Float),
    Column("model_type", String(64)),
    Column("model_version", String(64)),
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "prediction_date", "prediction_type", name="uq_ml_predictions_key"),
    Index("ix_ml_predictions_tenant_type_date", "tenant_id", "prediction_type", "prediction_date"),
)

ml_models = Table(
    "ml_models",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("model_type", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("model_data", Text, nullable=False),
    Column("hyperparameters", JsonType),
    Column("training_metrics", JsonType),
    Column("accuracy", Float),
    Column("last_trained", UTCDateTime, nullable=False),
    Column("is_active", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "model_type", "model_version", name="uq_ml_models_key"),
    Index("ix_ml_models_tenant_trained", "tenant_id", "last_trained"),
)

ml_features = Table(
    "ml_features",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("feature_date", Date, nullable=False),
    Column("feature_type", String(64), nullable=False),
    Column("value", Float),
    Column("details", JsonType),
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "feature_date", "feature_type", name="uq_ml_features_key"),
)

tenant_ml_settings = Table(
    "tenant_ml_settings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("settings", JsonType, nullable=False),
    Column("updated_at", UTCDateTime, default=_now, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False, server_default="info"),
    Column("title", String(200), nullable=False),
    Column("message", Text, nullable=False),
    # Identifies the event a message is about, so the same alert is never written twice.
    Column("event_key", String(200)),
    # The message as i18n keys and values ({"title": [key, values], "message": [[key, values], ...]}), so
    # the dashboard can say it in the reader's language; title/message hold the English text.
    Column("details", JsonType),
    Column("is_read", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "event_key", name="uq_notifications_event"),
    Index("ix_notifications_tenant_created", "tenant_id", "created_at"),
)

business_notification_config = Table(
    "business_notification_config",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("threshold", Float),
    Column("params", JsonType),
    Column("is_active", Boolean, nullable=False, default=True),
    UniqueConstraint("tenant_id", "rule", name="uq_notification_config_key"),
)

# Every forecast as issued: `ml_predictions` keeps only the latest forecast per date, this keeps them all,
# so forecasts can be scored against what happened at every horizon.
forecast_history = Table(
    "forecast_history",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("model_type", String(64), nullable=False),
    Column("issued_on", Date, nullable=False),  # the tenant's local date the forecast was made (first forecast day)
    Column("target_date", Date, nullable=False),
    Column("step", Integer, nullable=False),  # 1 = the first forecast day
    *_forecast_columns(),
    # NULL: issued to the owner. "backtest": a cross-validation fold's forecast, back-filled on a first
    # training so the scorecard has figures from day one (`scoring.record_backtest`); model_version "<v>.cv<k>".
    Column("source", String(16)),
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "model_version", "target_date", name="uq_forecast_history_key"),
    Index("ix_forecast_history_tenant_target", "tenant_id", "target_date"),
)

# --- products: demand per product, stock plans ------------------------------------------------

# The forecast of each product's daily units (the newest per day; `model_version` names the product model).
product_forecasts = Table(
    "product_forecasts",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("forecast_date", Date, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("method", String(64), nullable=False),  # what forecast this product (chosen by CV, or a stated rule)
    Column("demand_class", String(16), nullable=False),  # smooth, intermittent, lumpy, erratic, new, dormant
    *_forecast_columns(),
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "product_id", "forecast_date", name="uq_product_forecasts_key"),
)

# What each product's stock covers, as of a (local) day: run-out dates and what to order.
stock_plans = Table(
    "stock_plans",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("model_version", String(64)),
    Column("stock", Float),  # on hand when the plan was made (None: unknown or invalid, see `status`)
    Column("days_left", Float),  # median days until stock runs out (None: not within the horizon)
    Column("runout_date", Date),  # the day stock is expected to run out (median)
    Column("early_date", Date),  # a day it runs out by with `early_chance`
    Column("early_chance", Float),
    Column("reorder_point", Float),
    Column("order_quantity", Float),
    Column("service_level", Float, nullable=False),
    Column("lead_time_days", Integer, nullable=False),
    Column("review_days", Integer, nullable=False),
    Column("status", String(32), nullable=False),  # ok, order, discontinued, no_history, no_stock_record, bad_stock
    Column("note", Text),
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "product_id", "as_of", name="uq_stock_plans_key"),
)

# Per-product overrides of the tenant's ordering settings (None: the tenant's setting).
product_settings = Table(
    "product_settings",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("lead_time_days", Integer),
    Column("review_days", Integer),
    Column("service_level", Float),
    Column("pack_size", Float),
    Column("min_order", Float),
    Column("updated_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "product_id", name="uq_product_settings_key"),
)

# Product model versions (one per product retrain): what the stock refresh needs without retraining.
product_models = Table(
    "product_models",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("products", Integer, nullable=False),
    Column("training_metrics", JsonType),  # per product: method, class, CV scores; timings
    Column("model_data", Text, nullable=False),  # signed JSON: per product, cumulative demand quantiles by day
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "model_version", name="uq_product_models_key"),
)

# --- the shop's calendar ---------------------------------------------------------------------------

# What a shop knows ahead (`core.events`): closures, promotions, its own holidays, events, one-off days.
# `event_key` is a hash of what the event is (name, kind, days, recurrence, products): adding or importing
# the same event twice writes one row.
calendar_events = Table(
    "calendar_events",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("event_key", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("yearly", Boolean, nullable=False, default=False),
    Column("products", JsonType),  # list of product ids; NULL: the whole shop
    Column("note", Text),
    Column("updated_at", UTCDateTime, default=_now, nullable=False),
    UniqueConstraint("tenant_id", "event_key", name="uq_calendar_events_key"),
    CheckConstraint("kind in ('closed', 'promotion', 'holiday', 'event', 'one_off')", name="calendar_events_kind_check"),
    CheckConstraint("last_day >= first_day", name="calendar_events_days_check"),
    Index("ix_calendar_events_tenant_days", "tenant_id", "first_day"),
)

# --- system tables (not tenant-scoped) --------------------------------------------

# One row per run of a scheduled job; unique per due time, so two processes can't both run it.
job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("job_id", String(64), nullable=False),
    Column("scheduled_for", UTCDateTime, nullable=False),
    Column("trigger", String(16), nullable=False, server_default="schedule"),  # schedule | manual
    Column("holder", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # running, success, partial, failed, interrupted
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("tenants_done", Integer, nullable=False, server_default="0"),
    Column("tenants_failed", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("details", JsonType),
    UniqueConstraint("job_id", "scheduled_for", name="uq_job_runs_due"),
    Index("ix_job_runs_job_started", "job_id", "started_at"),
)

# Leases: the scheduler's leadership and per-tenant retrain locks. A lease whose
# `expires_at` has passed may be taken over, so a crashed holder blocks nobody for long.
leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Dashboard sign-in (`forecasting.services.auth`). Passwords are argon2 hashes; an owner sees only `tenant_id`.
app_users = Table(
    "app_users",
    metadata,
    Column("username", String(128), primary_key=True),  # lower case
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),  # admin | analyst | owner
    Column("tenant_id", String(64)),  # the owner's business; NULL for admins and analysts
    Column("disabled", Boolean, nullable=False, default=False),
    Column("last_sign_in", UTCDateTime),
    Column("created_at", UTCDateTime, default=_now, nullable=False),
    Column("updated_at", UTCDateTime, default=_now, nullable=False),
    CheckConstraint("role in ('admin', 'analyst', 'owner')", name="app_users_role_check"),
    CheckConstraint("role <> 'owner' or tenant_id is not null", name="app_users_owner_has_tenant"),
)

# Sign-in attempts per user name typed, known or not (so an unknown name costs the same write and
# locks the same way: nothing tells which names exist). Counted before the password is checked, in
# one atomic statement (`Storage.count_sign_in_attempt`), so parallel attempts can't slip past the
# limit. A row goes at a successful sign-in or, once stale, with the daily cleanup.
sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("username", String(128), primary_key=True),
    Column("failed_attempts", Integer, nullable=False),  # attempts since the last success or lock
    Column("locked_until", UTCDateTime),
    Column("last_attempt_at", UTCDateTime, nullable=False),
)

# One row per signed-in browser session. Only a SHA-256 of the token is stored: a copy of the
# table signs nobody in.
app_sessions = Table(
    "app_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_app_sessions_username", "username"),
)

TABLES: dict[str, Table] = {table.name: table for table in metadata.sorted_tables}

#: Tables that belong to no tenant; every other table is scoped by its tenant column.
SYSTEM_TABLES = frozenset({"job_runs", "leases", "app_users", "app_sessions", "sign_in_attempts"})

#: Columns an older version declared and this one dropped (the migrations drop them on PostgreSQL;
#: an older embedded file loses them when opened, so inserts that leave them out still work).
REMOVED_COLUMNS: dict[str, tuple[str, ...]] = {"app_users": ("failed_attempts", "locked_until")}

# Column that scopes each table to a tenant.
TENANT_COLUMN: dict[str, str] = {name: "tenant_id" for name in TABLES if name not in SYSTEM_TABLES}
TENANT_COLUMN.update({"negocios": "id", "ventas": "negocio_id", "productos": "negocio_id"})

# Upsert conflict keys: equal to the tables' unique constraints (checked by a test).
CONFLICT_KEYS: dict[str, tuple[str, ...]] = {
    "negocios": ("id",),
    "ventas": ("id",),
    "productos": ("id",),
    "ml_predictions": ("tenant_id", "prediction_date", "prediction_type"),
    "ml_models": ("tenant_id", "model_type", "model_version"),
    "ml_features": ("tenant_id", "feature_date", "feature_type"),
    "tenant_ml_settings": ("tenant_id",),
    "notifications": ("tenant_id", "event_key"),
    "business_notification_config": ("tenant_id", "rule"),
    "forecast_history": ("tenant_id", "model_version", "target_date"),
    "product_forecasts": ("tenant_id", "product_id", "forecast_date"),
    "stock_plans": ("tenant_id", "product_id", "as_of"),
    "product_settings": ("tenant_id", "product_id"),
    "product_models": ("tenant_id", "model_version"),
    "calendar_events": ("tenant_id", "event_key"),
    "job_runs": ("job_id", "scheduled_for"),
    "leases": ("name",),
    "app_users": ("username",),
    "app_sessions": ("token_hash",),
    "sign_in_attempts": ("username",),
}

# Columns holding JSON documents, per table (values are made JSON-safe before writing).
JSON_COLUMNS: dict[str, frozenset[str]] = {
    name: frozenset(c.name for c in table.columns if isinstance(c.type, JSON)) for name, table in TABLES.items()
}
