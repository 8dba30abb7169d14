"""Shared fixtures: real SQLite files in temporary folders, small demo data, fixed clocks."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.core.config import MLSettings, reset_settings
from forecasting.core.logs import LOGGER_NAME
from forecasting.storage import SQLStorage

# A real PostgreSQL server and a PostgREST stand-in over it (see tests/pg.py).
from .pg import postgres_server, postgres_url, private_postgres_server, private_postgres_url, rest_server, rest_stand_in  # noqa: F401

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED_DATA.is_dir():  # CI lays shared/ beside the clone, whatever the clone's folder is called
    SHARED_DATA = Path(os.environ.get("SHARED_DATA", Path.cwd().parent / "shared" / "data"))

# A fixed "now" so that "yesterday" and the demo's last day agree in every test.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
END = NOW.date() - pd.Timedelta(days=1)

FAST = MLSettings(model_candidates=["naive", "snaive", "ets"], horizon_days=14, cv_folds=2)


def open_backend(request, tmp_path, backend: str):
    """An empty database on `backend`: "sqlite" (a file), "postgres" (a fresh database on the real
    server) or "supabase" (the REST backend over a PostgREST stand-in on that server)."""
    if backend == "sqlite":
        return SQLStorage.sqlite_file(tmp_path / "test.db")
    if backend == "postgres":
        return SQLStorage(request.getfixturevalue("postgres_url"))
    import httpx

    from forecasting.storage.supabase_rest import SupabaseRestStorage

    stand_in = request.getfixturevalue("rest_stand_in")
    return SupabaseRestStorage("https://contract.supabase.co", "service-role-key",
                               http_client=httpx.Client(transport=httpx.MockTransport(stand_in)))


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    """Tests never see the developer's ML_* environment, nor what an earlier test left in the process.

    A command run in-process (`cli.main(["--quiet", ...])`) sets LOG_LEVEL in the environment for its
    worker processes and the package logger's level: both are put back after every test, so no test
    depends on which ran before it (the suite runs in random order).
    """
    environment = dict(os.environ)
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

    return generate_demo(n_tenants=3, days=400, seed=7, end=END)


@pytest.fixture
def demo_storage(storage, demo_data) -> SQLStorage:
    from forecasting.services.demo import write_demo

    write_demo(storage, demo_data)
    return storage


def make_series(n: int = 200, *, seed: int = 0, start: str = "2024-01-01", level: float = 100.0,
                weekly: float = 20.0, noise: float = 5.0) -> pd.Series:
    """A weekly-seasonal daily series with noise, for model tests."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = level + weekly * np.sin(2 * np.pi * t / 7) + rng.normal(0, noise, n)
    return pd.Series(values, index=pd.date_range(start, periods=n, freq="D", name="ds"), name="y")
