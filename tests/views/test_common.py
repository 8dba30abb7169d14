"""What several pages share: no Streamlit in the package, the freshness stamp, where the data is."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

from forecasting.storage import SQLStorage
from forecasting.views import common, models
from tests.support.dashboard_db import FAST, NEVER_TRAINED, ROOT

#: One module per page, plus what they share; `forecasting.views.dashboard` is gone.
VIEW_MODULES = ("common", "overview", "forecast", "products", "calendar", "comparison", "anomalies", "models",
                "settings", "notifications", "jobs")


def test_package_and_ui_never_import_streamlit():
    views = ", ".join(f"forecasting.views.{name}" for name in VIEW_MODULES)
    code = (f"import sys, forecasting, {views}, forecasting.ui.figures, forecasting.ui.tables, "
            "forecasting.i18n.formatting, forecasting.i18n.catalog, forecasting.ui.schedule, forecasting.ops.scheduler; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_one_view_module_per_page_and_none_too_long():
    folder = ROOT / "forecasting" / "views"
    modules = {path.stem for path in folder.glob("*.py")} - {"__init__"}
    assert modules == set(VIEW_MODULES)
    assert all(len((folder / f"{name}.py").read_text().splitlines()) <= 500 for name in modules)


def test_freshness_changes_with_a_retrain_and_new_sales(writable):
    before = common.freshness(writable, NEVER_TRAINED)
    assert before[0] is None and before[1] is not None
    models.retrain(writable, NEVER_TRAINED, settings=FAST)
    after = common.freshness(writable, NEVER_TRAINED)
    assert after[0] is not None and after != before
    writable.upsert("ventas", NEVER_TRAINED, [{"id": "late", "negocio_id": NEVER_TRAINED,
                                               "fecha": datetime.now(timezone.utc), "total": 10.0}])
    assert common.freshness(writable, NEVER_TRAINED)[1] != after[1]


def test_storage_label_never_shows_credentials(store):
    assert common.storage_label(store) == {"backend": "sqlite", "location": str(store.engine.url.database)}
    remote = SQLStorage("postgresql+psycopg://alice:s3cret@db.example.com:5432/shop", create=False)
    label = common.storage_label(remote)
    assert label["backend"] == "postgresql" and "db.example.com:5432/shop" in label["location"]
    assert "s3cret" not in str(label) and "s3cret" not in common.storage_key(remote)
