"""Fixtures of the robustness suite, which runs its checks on the embedded database and on real PostgreSQL."""

from __future__ import annotations

import pytest

from forecasting.storage import SQLStorage


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_storage(request, tmp_path):
    """An empty database: a SQLite file, then a fresh database on the real PostgreSQL server."""
    if request.param == "sqlite":
        store = SQLStorage.sqlite_file(tmp_path / "robustness.db")
    else:
        store = SQLStorage(request.getfixturevalue("postgres_url"))
    yield store
    store.close()
