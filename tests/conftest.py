"""Shared fixtures: real SQLite files in temporary folders, small demo data, fixed clocks, and the
dashboard's demo database (a module-scoped copy of the one built per session in
`tests/support/dashboard_db.py`) for the page tests of every folder.

What is shared but is not a fixture (FAST, NOW, END, SHARED_DATA, make_series, open_backend, ...)
is in `tests/support`; test modules import it from there, never from a conftest.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from forecasting.core.config import reset_settings
from forecasting.core.logs import LOGGER_NAME
from forecasting.storage import SQLStorage

# The support helpers' asserts report their values as a test's do: registered before their first import,
# so this module imports them in its fixtures.
pytest.register_assert_rewrite("tests.support")

# A real PostgreSQL server and a PostgREST stand-in over it: postgres_server, postgres_url,
# private_postgres_server, private_postgres_url, rest_stand_in, rest_server (see tests/support/pg.py).
pytest_plugins = ["tests.support.pg"]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    """Tests never see the developer's ML_* environment, nor what an earlier test left in the process.

    A command run in-process (`cli.main(["--quiet", ...])`) sets LOG_LEVEL in the environment for its
    worker processes and the package logger's level: both are put back after every test, so no test
    depends on which ran before it (the suite runs in random order). So is `sys.modules["__main__"]`,
    which Streamlit's script runner (AppTest) replaces with the page it ran and never restores: a
    Dask `LocalCluster` started later spawns workers that would re-run that page.
    """
    environment = dict(os.environ)
    main = sys.modules["__main__"]
    logger = logging.getLogger(LOGGER_NAME)
    level, propagate = logger.level, logger.propagate
    for key in list(os.environ):
        if key.startswith("ML_") or key in ("DATABASE_URL", "FORECASTING_DB_PATH", "SUPABASE_URL"):
            monkeypatch.delenv(key, raising=False)
    reset_settings()
    yield
    os.environ.clear()
    os.environ.update(environment)
    logger.setLevel(level)
    logger.propagate = propagate
    sys.modules["__main__"] = main
    reset_settings()


@pytest.fixture(autouse=True)
def _no_supabase_key(monkeypatch):
    """Nor a developer's Supabase key: without SUPABASE_URL it would be a configuration error."""
    monkeypatch.delenv("SUPABASE_SERVICE_ROLE_KEY", raising=False)


@pytest.fixture
def storage(tmp_path) -> SQLStorage:
    store = SQLStorage.sqlite_file(tmp_path / "test.db")
    yield store
    store.close()


@pytest.fixture(scope="session")
def demo_data():
    from forecasting.services.demo import generate_demo
    from tests.support import END

    return generate_demo(n_tenants=3, days=400, seed=7, end=END)


@pytest.fixture
def demo_storage(storage, demo_data) -> SQLStorage:
    from forecasting.services.demo import write_demo

    write_demo(storage, demo_data)
    return storage


@pytest.fixture(scope="module")
def dashboard_db(tmp_path_factory) -> Path:
    """The dashboard's demo database, copied for the module (view and robustness tests)."""
    from tests.support.dashboard_db import copy_db, shared_dashboard_db

    return copy_db(shared_dashboard_db(tmp_path_factory), tmp_path_factory.mktemp("dashboard") / "demo.db")


@pytest.fixture
def writable(dashboard_db, tmp_path):
    from tests.support.dashboard_db import copy_db

    storage = SQLStorage.sqlite_file(copy_db(dashboard_db, tmp_path / "copy.db"))
    yield storage
    storage.close()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """The same demo database, the page tests' copy (tests/test_dashboard_app.py and the robustness pages)."""
    from tests.support.dashboard_db import copy_db, shared_dashboard_db

    return copy_db(shared_dashboard_db(tmp_path_factory), tmp_path_factory.mktemp("app") / "demo.db")
