"""What the tests share that is not a fixture: fixed clocks, small settings, data and databases.

Test modules import it as `from tests.support import ...` (and `tests.support.pg`, `.waiting`,
`.dashboard_db`, `.pages` for the rest); fixtures live in the `conftest.py` files. Nothing here is
collected: no module of this package is named `test_*`.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.core.config import MLSettings
from forecasting.storage import SQLStorage

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not SHARED_DATA.is_dir():  # CI lays shared/ beside the clone, whatever the clone's folder is called
    SHARED_DATA = Path(os.environ.get("SHARED_DATA", Path.cwd().parent / "shared" / "data"))

# A fixed "now" so that "yesterday" and the demo's last day agree in every test.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
END = NOW.date() - pd.Timedelta(days=1)

#: Quick training for tests of the totals; product forecasts are switched on where a test is about them.
FAST = MLSettings(model_candidates=["naive", "snaive", "ets"], horizon_days=14, cv_folds=2, train_products=False)


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


def make_series(n: int = 200, *, seed: int = 0, start: str = "2024-01-01", level: float = 100.0,
                weekly: float = 20.0, noise: float = 5.0) -> pd.Series:
    """A weekly-seasonal daily series with noise, for model tests."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = level + weekly * np.sin(2 * np.pi * t / 7) + rng.normal(0, noise, n)
    return pd.Series(values, index=pd.date_range(start, periods=n, freq="D", name="ds"), name="y")


def shop_database(path, timezone: str = "Europe/Madrid"):
    """An embedded database file at `path` with one business, `t`, and no sales (for command-line tests)."""
    store = SQLStorage.sqlite_file(path)
    store.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": timezone}])
    store.close()
    return path
