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

TABLES: dict[str, Table] = {table.name: table for table in metadata.sorted_tables}

# Column that scopes each table to a tenant.
TENANT_COLUMN: dict[str, str] = {name: "tenant_id" for name in TABLES}
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
}

# Columns holding JSON documents, per table (values are made JSON-safe before writing).
JSON_COLUMNS: dict[str, frozenset[str]] = {
    name: frozenset(c.name for c in table.columns if isinstance(c.type, JSON)) for name, table in TABLES.items()
}
