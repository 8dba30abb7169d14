"""The view tests' demo database (`tests/support/dashboard_db.py`): `store` reads the module's copy
(`dashboard_db`, like `writable`, is in `tests/conftest.py`), `scored` the scored database."""

import pytest

from forecasting.storage import SQLStorage
from tests.support.dashboard_db import shared_scored_db


@pytest.fixture
def store(dashboard_db):
    storage = SQLStorage.sqlite_file(dashboard_db)
    yield storage
    storage.close()


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Read-only storage over the scored database (`shared_scored_db`)."""
    storage = SQLStorage.sqlite_file(shared_scored_db(tmp_path_factory))
    yield storage
    storage.close()
