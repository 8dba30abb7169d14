"""Fixtures of the robustness suite, which runs its checks on every backend: the embedded SQLite
file, a real PostgreSQL server, and the Supabase REST backend (over a PostgREST stand-in on that
server, as no Supabase project can run here; see tests/pg.py)."""

from __future__ import annotations

import pytest

from ..conftest import open_backend
from ..test_dashboard_app import demo_db  # noqa: F401 - the dashboard tests' demo database, for the page tests


@pytest.fixture(params=["sqlite", "postgres"])
def sql_storage(request, tmp_path):
    """An empty database on each SQL backend (tests that watch the SQL sent use this one)."""
    store = open_backend(request, tmp_path, request.param)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def any_storage(request, tmp_path):
    """An empty database on each backend."""
    store = open_backend(request, tmp_path, request.param)
    yield store
    store.close()


def shop_database(path, timezone: str = "Europe/Madrid"):
    """An embedded database file at `path` with one business, `t`, and no sales (for command-line tests)."""
    from forecasting.storage import SQLStorage

    store = SQLStorage.sqlite_file(path)
    store.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": timezone}])
    store.close()
    return path
