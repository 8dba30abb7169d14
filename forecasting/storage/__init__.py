"""Storage backends behind one protocol; `open_storage()` picks one from settings.

* default: the embedded SQLite file at `FORECASTING_DB_PATH`;
* `DATABASE_URL` set: PostgreSQL (Supabase's own connection string works);
* `SUPABASE_URL` + `SUPABASE_SERVICE_ROLE_KEY` set: the Supabase REST API.

`DATABASE_URL` wins when both PostgreSQL and Supabase settings are present:
a direct connection has transactions, the REST API does not.
"""

from __future__ import annotations

from ..core.config import AppSettings, get_app_settings
from ..core.errors import ConfigError
from .base import CHUNK_SIZE, FoundIds, Storage, json_safe
from .schema import CONFLICT_KEYS, TABLES, TENANT_COLUMN
from .sql import SQLStorage

__all__ = ["CHUNK_SIZE", "CONFLICT_KEYS", "TABLES", "TENANT_COLUMN", "FoundIds", "SQLStorage", "Storage", "json_safe",
           "open_storage", "sqlalchemy_url"]


def sqlalchemy_url(url: str) -> str:
    """`url` with the driver SQLAlchemy should use: psycopg 3 for every PostgreSQL spelling."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            # psycopg 3 is the driver we ship; plain postgres:// URLs (Supabase's) mean it.
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def open_storage(settings: AppSettings | None = None) -> Storage:
    """The storage the configuration asks for (embedded file by default)."""
    settings = settings or get_app_settings()
    if settings.database_url:
        return SQLStorage(sqlalchemy_url(settings.database_url))
    if settings.supabase_url or settings.supabase_service_role_key:
        if not (settings.supabase_url and settings.supabase_service_role_key):
            missing = "SUPABASE_SERVICE_ROLE_KEY" if settings.supabase_url else "SUPABASE_URL"
            raise ConfigError(f"{missing} is not set: the Supabase backend needs both SUPABASE_URL and "
                              "SUPABASE_SERVICE_ROLE_KEY (or set DATABASE_URL instead)")
        from .supabase_rest import SupabaseRestStorage

        return SupabaseRestStorage(settings.supabase_url, settings.supabase_service_role_key)
    # Only the default location (`data/`) gets its folder made; a path someone typed must exist.
    default = AppSettings.model_fields["forecasting_db_path"].default
    return SQLStorage.sqlite_file(settings.forecasting_db_path, create_folder=settings.forecasting_db_path == default)
