"""The demo database the dashboard tests share: built once per session, copied by every module that uses it.

Tenants 1 and 2 trained (fast candidates, 14-day horizon), 3 never trained,
4 without any sale; `shared_scored_db` adds forecasts issued 16 days ago for
tenant 1, so its reliability scorecard has scored days. The fixtures over it
are in the conftests: `dashboard_db`, `writable` and `demo_db` in
`tests/conftest.py`, `store` and `scored` in `tests/views/conftest.py`.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from forecasting.core.config import MLSettings
from forecasting.services.demo import generate_demo, write_demo
from forecasting.services.model_store import KEY_FILE
from forecasting.services.training import train_and_predict_sales
from forecasting.storage import SQLStorage

ROOT = Path(__file__).resolve().parents[2]
FAST = MLSettings(model_candidates=["naive", "snaive", "ets"], horizon_days=14, cv_folds=2)
TRAINED, NEVER_TRAINED, EMPTY = "1", "3", "4"


def damage_active_model(storage, tenant_id: str, damage: str) -> str:
    """Make the tenant's active model one this installation can't use; returns its version.

    "corrupt": its data is not even base64 (`unusable`); "stale": written, says its metadata, with another
    pandas (`stale`, known without loading it).
    """
    from forecasting.services.model_store import list_models

    row = list_models(storage, tenant_id).iloc[0]
    key = {"model_type": row["model_type"], "model_version": row["model_version"]}
    if damage == "corrupt":
        storage.update("ml_models", tenant_id, {"model_data": "this is not base64!!"}, where=key)
    elif damage == "stale":
        hyper = row["hyperparameters"]
        storage.update("ml_models", tenant_id, {"hyperparameters": {
            **hyper, "library_versions": {**hyper["library_versions"], "pandas": "0.25.3"}}}, where=key)
    else:
        raise ValueError(damage)
    return str(row["model_version"])


def build_dashboard_db(path: Path, *, days: int = 400, now: datetime | None = None) -> Path:
    """A demo database as the dashboard sees it after `make run`, but small and quick.

    Tenants 1 and 2 trained (fast candidates, 14-day horizon), 3 never
    trained, 4 without any sale. Demo sales end yesterday (UTC) so "last 7
    days" has data whatever day the tests run.
    """
    end = (now or datetime.now(timezone.utc)).date() - timedelta(days=1)
    storage = SQLStorage.sqlite_file(path)
    write_demo(storage, generate_demo(n_tenants=3, days=days, seed=11, end=end))
    storage.upsert("negocios", EMPTY, [{"id": EMPTY, "nombre": "Tienda Nueva", "timezone": "America/Bogota",
                                        "country": "CO", "currency": "COP"}])
    for tenant_id in ("1", "2"):
        train_and_predict_sales(tenant_id, storage=storage, settings=FAST, now=now)
    storage.close()
    return path


_BUILT: dict[str, Path] = {}


def shared_dashboard_db(tmp_path_factory) -> Path:
    """`build_dashboard_db` once per test session (it takes seconds); modules copy it before use."""
    if "db" not in _BUILT:
        _BUILT["now"] = datetime.now(timezone.utc)
        _BUILT["db"] = build_dashboard_db(tmp_path_factory.mktemp("dashboard-shared") / "demo.db", now=_BUILT["now"])
    return _BUILT["db"]


def built_at() -> datetime:
    """The moment the shared databases were trained at: views asked "as of" it see what was built, even when
    a business's midnight passes during the run (a view asked for real "now" would start a day later then)."""
    return _BUILT["now"]


#: Cheap candidates for the extra trainings that give a tenant scored history (ETS costs seconds a fit).
QUICK = MLSettings(model_candidates=["naive", "snaive", "theta"], horizon_days=14, cv_folds=2)
#: Days before today of the earlier training in the scored database: its whole 14-day forecast has actuals.
SCORED_ISSUED_DAYS_AGO = 16


def shared_scored_db(tmp_path_factory) -> Path:
    """The dashboard database plus a forecast tenant 1 issued 16 days ago, then a retrain today (once per session).

    Tenant 1 then has 14 scored days (the scorecard's subject); tenant 2
    was only trained today, so nothing of its is scored yet.
    """
    if "scored" not in _BUILT:
        path = copy_db(shared_dashboard_db(tmp_path_factory), tmp_path_factory.mktemp("dashboard-scored") / "demo.db")
        storage = SQLStorage.sqlite_file(path)
        now = built_at()
        issued = now - timedelta(days=SCORED_ISSUED_DAYS_AGO)
        train_and_predict_sales(TRAINED, storage=storage, settings=QUICK, now=issued)
        train_and_predict_sales(TRAINED, storage=storage, settings=QUICK, now=now)
        storage.close()
        _BUILT["scored"] = path
    return _BUILT["scored"]


def copy_db(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite database (WAL included), with the model signing key kept beside it.

    Stored models are signed with a key that lives next to the embedded database file
    (`forecasting.services.model_store`); a copy in another folder without it holds models this installation
    refuses, and every page would report the business's model as unusable.
    """
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    key, copied = source.parent / KEY_FILE, target.parent / KEY_FILE
    if key.exists() and key.resolve() != copied.resolve():
        shutil.copyfile(key, copied)
    return target

