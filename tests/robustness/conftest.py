"""Fixtures of the robustness suite, which runs its checks on every backend: the embedded SQLite
file, a real PostgreSQL server, and the Supabase REST backend (over a PostgREST stand-in on that
server, as no Supabase project can run here; see tests/support/pg.py). The page tests' demo
database, `demo_db`, is in tests/conftest.py."""

from __future__ import annotations

import pytest

from tests.support import open_backend


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
