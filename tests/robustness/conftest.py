"""Fixtures of the robustness suite, which runs its checks on every backend: the embedded SQLite
file, a real PostgreSQL server, and the Supabase REST backend (over a PostgREST stand-in on that
server, as no Supabase project can run here; see tests/pg.py)."""

from __future__ import annotations

import pytest

from forecasting.storage import SQLStorage

from ..test_dashboard_app import demo_db  # noqa: F401 - the dashboard tests' demo database, for the page tests


def open_backend(kind: str, request, tmp_path):
    if kind == "sqlite":
        return SQLStorage.sqlite_file(tmp_path / "robustness.db")
    if kind == "postgresql":
        return SQLStorage(request.getfixturevalue("postgres_url"))
    import httpx

    from forecasting.storage.supabase_rest import SupabaseRestStorage

    stand_in = request.getfixturevalue("rest_stand_in")
    return SupabaseRestStorage("https://xyz.supabase.co", "service-role-key",
                               http_client=httpx.Client(transport=httpx.MockTransport(stand_in)))


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_storage(request, tmp_path):
    """An empty database on each SQL backend (tests that watch the SQL sent use this one)."""
    store = open_backend(request.param, request, tmp_path)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgresql", "supabase"])
def any_storage(request, tmp_path):
    """An empty database on each backend."""
    store = open_backend(request.param, request, tmp_path)
    yield store
    store.close()
