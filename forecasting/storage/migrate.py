"""PostgreSQL schema: the SQL files in `supabase/migrations/`, applied idempotently.

The migration files are the one source of truth for PostgreSQL and Supabase
(`supabase db push` applies the same files). `SQLStorage` calls
`ensure_schema` when it opens a PostgreSQL database, so pointing
`DATABASE_URL` at an empty database just works; `python -m forecasting
migrate` (handler `cmd_migrate` below) applies them on demand.

Every file is written to be applied again harmlessly, so applying "all files,
in order" is always correct; the database reports the newest version it has
through `forecasting_schema_version()`, which decides whether that's needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..core.errors import StorageError
from ..core.logs import log_event
from .schema import TABLES

# An installed package carries a copy of the files beside this module (pyproject.toml maps supabase/migrations
# to the package forecasting.storage.migrations); a checkout, or an editable install, reads them in place.
_INSTALLED = Path(__file__).resolve().parent / "migrations"
MIGRATIONS_DIR = _INSTALLED if _INSTALLED.is_dir() else Path(__file__).resolve().parents[2] / "supabase" / "migrations"

# Tables only the migrations declare: Supabase sign-in membership (unused by the embedded file),
# and APScheduler's job store, declared so that it gets row-level security and no API grants.
EXTRA_POSTGRES_TABLES = frozenset({"tenant_members", "apscheduler_jobs"})

# Any fixed number: two processes starting on an empty database must not both run DDL.
_LOCK_KEY = 0x466F7265  # "Fore"

_VERSION = re.compile(r"^(\d{14})_.+\.sql$")


def migration_files(folder: Path = MIGRATIONS_DIR) -> list[Path]:
    """The migration files, oldest first (Supabase CLI names: `<14-digit timestamp>_<name>.sql`)."""
    if not folder.is_dir():
        raise StorageError(f"migration folder {folder} is missing; run from a full checkout of the project "
                           "or install it with `pip install .`")
    files = sorted(p for p in folder.iterdir() if _VERSION.match(p.name))
    if not files:
        raise StorageError(f"no migration files in {folder}")
    return files


def latest_version(folder: Path = MIGRATIONS_DIR) -> str:
    """The timestamp of the newest migration file."""
    return _VERSION.match(migration_files(folder)[-1].name).group(1)


def schema_version(engine: Engine) -> str | None:
    """The migration version the database reports, or None when it was never migrated."""
    with engine.connect() as conn:
        found = text("select to_regprocedure('public.forecasting_schema_version()') is not null")
        if not conn.execute(found).scalar():
            return None
        return conn.execute(text("select public.forecasting_schema_version()")).scalar()


def needs_migration(engine: Engine) -> bool:
    """True when a table is missing or the database is older than the newest migration file."""
    names = set(inspect(engine).get_table_names(schema="public"))
    if not set(TABLES) <= names:
        return True
    current = schema_version(engine)
    return current is None or current < latest_version()


def apply_migrations(engine: Engine, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration file in order, in one transaction; returns the file names.

    An advisory lock makes concurrent callers take turns; each file is sent
    as-is to the server (no client-side parameter parsing, so `%` in
    `format()` calls is safe).
    """
    files = migration_files(folder)
    try:
        with engine.begin() as conn:
            conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            driver = conn.connection.driver_connection
            for path in files:
                driver.execute(path.read_text(encoding="utf-8"))
    except (SQLAlchemyError, psycopg.Error) as exc:  # the files run on the driver's connection directly
        raise StorageError(_migration_failure(exc)) from None
    names = [p.name for p in files]
    log_event("migrations_applied", files=names)
    return names


def ensure_schema(engine: Engine) -> bool:
    """Apply the migrations when the database lacks tables or is outdated; True when applied."""
    try:
        if not needs_migration(engine):
            return False
    except SQLAlchemyError as exc:
        raise StorageError(_migration_failure(exc)) from None
    apply_migrations(engine)
    return True


def _migration_failure(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [orig.__class__.__name__])[0]
    if isinstance(exc, (OperationalError, psycopg.OperationalError)):
        return f"could not reach the database to check its tables: {first}"
    return (f"could not create or update the forecasting tables: {first}. The database user needs the right to "
            "create tables; or apply supabase/migrations once with `supabase db push` (see docs/supabase.md)")
