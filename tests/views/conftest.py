"""The view tests' demo database (`tests/dashboard_db.py`): module-scoped copies, read-only or writable."""

from ..dashboard_db import dashboard_db, scored, store, writable  # noqa: F401 - fixtures for tests/views
