"""Storage backends behind one protocol; `open_storage()` picks one from settings.

* default: the embedded SQLite file at `FORECASTING_DB_PATH`;
* `DATABASE_URL` set: PostgreSQL (Supabase's own connection string works).
"""

from __future__ import annotations

from ..config import AppSettings, get_app_settings
from .base import CHUNK_SIZE, Storage, json_safe
from .schema import CONFLICT_KEYS, TABLES, TENANT_COLUMN
from .sql import SQLStorage

__all__ = ["CHUNK_SIZE", "CONFLICT_KEYS", "TABLES", "TENANT_COLUMN", "SQLStorage", "Storage", "json_safe", "open_storage"]


def open_storage(settings: AppSettings | None = None) -> Storage:
    """The storage the configuration asks for (embedded file by default)."""
    settings = settings or get_app_settings()
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgres://") or url.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgres:// URLs (Supabase's) mean it.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return SQLStorage(url)
    return SQLStorage.sqlite_file(settings.forecasting_db_path)
