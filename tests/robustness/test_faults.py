"""Faults: corrupt models, concurrent retrains, a scheduler killed mid-run.

Each runs against the embedded SQLite file and a real PostgreSQL server
(tests/support/pg.py); the command-line processes reach PostgreSQL through
`DATABASE_URL`, as in a deployment. (The database itself going down mid-run:
test_outage.py.)
"""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import pytest

from forecasting.core.errors import ModelError
from forecasting.ops.runs import execute_job, mark_interrupted_runs, recent_runs
from forecasting.services.locks import tenant_lock
from forecasting.services.model_store import list_models, load_active_model
from forecasting.services.tenants import list_tenants
from forecasting.services.training import forecast_from_active, predict_from_active, train_and_predict_sales
from forecasting.storage import SQLStorage
from tests.support import FAST, NOW
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
FAST_ENV = {"ML_MODEL_CANDIDATES": "naive,snaive,theta", "ML_HORIZON_DAYS": "14", "ML_CV_FOLDS": "2"}
BACKENDS = ["sqlite", "postgres"]


@dataclass
class Database:
    """Where a test's data lives: an embedded file, or a fresh database on the PostgreSQL server."""

    backend: str
    location: str  # the file's path, or the SQLAlchemy URL

    def open(self) -> SQLStorage:
        return SQLStorage.sqlite_file(self.location) if self.backend == "sqlite" else SQLStorage(self.location)

    def cli(self) -> tuple[list[str], dict[str, str]]:
        """How a command-line process is pointed at it: `--db FILE`, or DATABASE_URL."""
        if self.backend == "sqlite":
            return ["--db", self.location], {}
        return [], {"DATABASE_URL": self.location}


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path) -> Database:
    if request.param == "sqlite":
        return Database("sqlite", str(tmp_path / "shared.db"))
    return Database("postgresql", request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="module")
def postgres_demo_template(postgres_server, demo_data):
    """conftest's demo tenants written once into a database that each test copies."""
    from forecasting.services.demo import write_demo

    name = postgres_server.create_database()
    store = SQLStorage(postgres_server.url(name))
    write_demo(store, demo_data)
    store.close()  # a template must have no connections
    yield name
    postgres_server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def any_demo_storage(request):
    """conftest's `demo_storage` (SQLite) or the same tenants on the PostgreSQL server."""
    if request.param == "sqlite":
        return request.getfixturevalue("demo_storage")
    server = request.getfixturevalue("postgres_server")
    name = server.create_database(template=request.getfixturevalue("postgres_demo_template"))
    store = SQLStorage(server.url(name))
    request.addfinalizer(lambda: (store.close(), server.drop_database(name)))
    return store


def batches_are_whole(storage, tenant) -> dict[str, set]:
    """The model versions of the tenant's forecast and anomaly rows: one per kind (each kind is
    written by one upsert, which is all or nothing), and no day twice.

    Days before the newest run's first day are left out: a run that starts after the tenant's
    midnight begins a day later, and the day before keeps the earlier run's row (as it should).
    """
    predictions = storage.select("ml_predictions", tenant)
    assert not predictions.duplicated(["prediction_date", "prediction_type"]).any()
    newest = predictions.groupby("prediction_type")["model_version"].transform("max")
    first = predictions[predictions["model_version"] == newest].groupby("prediction_type")["prediction_date"].min()
    predictions = predictions[predictions["prediction_date"] >= predictions["prediction_type"].map(first)]
    versions = {kind: set(rows["model_version"]) for kind, rows in predictions.groupby("prediction_type")}
    assert all(len(v) == 1 for v in versions.values()), f"tenant {tenant}: rows from several runs {versions}"
    return versions


def corrupt_active_model(storage, tenant, **values):
    info = list_models(storage, tenant).iloc[0]
    storage.update("ml_models", tenant, values, where={"model_type": info.model_type, "model_version": info.model_version})


def test_a_corrupt_model_is_detected_and_the_tenant_retrained(any_demo_storage):
    demo_storage = any_demo_storage
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    corrupt_active_model(demo_storage, "1", model_data="this is not base64!!")
    with pytest.raises(ModelError, match="corrupt"):
        load_active_model(demo_storage, "1")
    forecast = predict_from_active("1", storage=demo_storage, now=NOW)
    assert len(forecast) > 0 and np.isfinite(forecast["yhat"]).all()
    assert len(list_models(demo_storage, "1")) == 2  # a new version was trained
    assert load_active_model(demo_storage, "1") is not None


def test_forecast_from_active_reports_an_unusable_model_and_never_retrains(any_demo_storage):
    """What the dashboard's pages call: the problem comes back as ModelError, and nothing is trained."""
    demo_storage = any_demo_storage
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    corrupt_active_model(demo_storage, "1", model_data="this is not base64!!")
    with pytest.raises(ModelError, match="corrupt"):
        forecast_from_active("1", storage=demo_storage, now=NOW)
    assert len(list_models(demo_storage, "1")) == 1


class _Payload:
    """What an attacker with write access to `ml_models` would store: unpickling it touches a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("signed", ["unsigned", "old signature kept"])
def test_a_crafted_model_blob_is_never_unpickled_and_the_tenant_is_retrained(any_demo_storage, tmp_path, signed):
    demo_storage = any_demo_storage
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    info = list_models(demo_storage, "1").iloc[0]
    buffer = io.BytesIO()
    joblib.dump(_Payload(tmp_path / "pwned"), buffer)
    values = {"model_data": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if signed == "unsigned":
        values["hyperparameters"] = {k: v for k, v in info.hyperparameters.items() if k != "signature"}
    corrupt_active_model(demo_storage, "1", **values)
    with pytest.raises(ModelError, match="signed by this installation"):
        load_active_model(demo_storage, "1")
    forecast = predict_from_active("1", storage=demo_storage, now=NOW)  # retrained instead
    assert not (tmp_path / "pwned").exists()  # the payload never ran
    assert len(forecast) > 0 and (forecast["model_version"] != info.model_version).all()


def test_a_model_copied_from_another_business_is_refused(any_demo_storage):
    """Signatures are bound to the business: business 2's own, valid model is no model for business 1."""
    demo_storage = any_demo_storage
    for tenant in ("1", "2"):
        train_and_predict_sales(tenant, storage=demo_storage, settings=FAST, now=NOW)
    theirs = demo_storage.select("ml_models", "2", where={"is_active": True}).iloc[0]
    corrupt_active_model(demo_storage, "1", model_data=theirs["model_data"], hyperparameters=theirs["hyperparameters"])
    with pytest.raises(ModelError, match="signed by this installation"):
        load_active_model(demo_storage, "1")
    assert load_active_model(demo_storage, "2") is not None  # the original still loads


def test_a_model_from_other_library_versions_is_refused_then_replaced(any_demo_storage):
    demo_storage = any_demo_storage
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    info = list_models(demo_storage, "1").iloc[0]
    old = {**info.hyperparameters, "library_versions": {**info.hyperparameters["library_versions"], "pandas": "0.25.3"}}
    corrupt_active_model(demo_storage, "1", hyperparameters=old)
    with pytest.raises(ModelError, match="pandas 0.25.3"):
        predict_from_active("1", storage=demo_storage, now=NOW, retrain_if_unusable=False)
    forecast = predict_from_active("1", storage=demo_storage, now=NOW)  # retrained with the deployment's settings
    assert len(forecast) > 0 and (forecast["model_version"] != info.model_version).all()


def run_cli(database: Database, *args, env=None):
    where, database_env = database.cli()
    return subprocess.Popen([sys.executable, "-m", "forecasting", "--quiet", *where, *args], cwd=ROOT,
                            env={**os.environ, **FAST_ENV, **database_env, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_retrain_of_a_tenant_someone_else_is_retraining_is_refused(database):
    """The collision forced: this test holds tenant 1's retrain lock, as a running retrain would."""
    assert run_cli(database, "demo", "--tenants", "1", "--days", "300").wait(timeout=120) == 0
    storage = database.open()
    with tenant_lock(storage, "1") as holder:
        proc = run_cli(database, "train", "--tenant", "1")
        code, _, err = proc.wait(timeout=300), *proc.communicate()
        assert code == 2, err
        assert re.search(rf"^error: tenant 1 is already being retrained since \d\d:\d\d:\d\d UTC \(by {holder}\)",
                         err, re.MULTILINE), err
        assert "Traceback" not in err
        assert list_models(storage, "1").empty and storage.count("ml_predictions", "1") == 0
    assert storage.lease("retrain:1") is None
    proc = run_cli(database, "train", "--tenant", "1")  # once the other retrain is over, it goes through
    assert proc.wait(timeout=300) == 0, proc.communicate()
    assert list_models(storage, "1")["is_active"].sum() == 1
    storage.close()


def test_two_processes_retraining_one_tenant(database):
    assert run_cli(database, "demo", "--tenants", "1", "--days", "300").wait(timeout=120) == 0
    procs = [run_cli(database, "train", "--tenant", "1") for _ in range(2)]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in outcomes)
    storage = database.open()
    models = list_models(storage, "1")
    # Either they ran one after the other (both 0) or the second was refused (2; forced in the test
    # above): whichever happened, the stored state is consistent.
    if codes == [0, 2]:
        refused = next(err for code, _, err in outcomes if code == 2)
        assert "already being retrained" in refused and "Traceback" not in refused
        assert len(models) == 1
    else:
        assert codes == [0, 0] and len(models) == 2
    assert models["is_active"].sum() == 1
    forecasts = storage.select("ml_predictions", "1", where={"prediction_type": "sales_forecast"})
    assert not forecasts["prediction_date"].duplicated().any()
    assert set(forecasts["model_version"]) <= set(models["model_version"])
    assert batches_are_whole(storage, "1")["sales_anomaly"] <= set(models["model_version"])
    assert storage.lease("retrain:1") is None  # released by whoever held it
    storage.close()


def test_scheduler_killed_during_retrain_all_is_marked_and_the_next_run_completes(database):
    assert run_cli(database, "demo", "--tenants", "4", "--days", "150").wait(timeout=120) == 0
    storage = database.open()
    # Mid-run by construction: the last tenant's retrain lock is held here, so the serial run does
    # the other three and then waits for it (up to 5 minutes) instead of finishing.
    last = list_tenants(storage)[-1].id
    with tenant_lock(storage, last):
        proc = run_cli(database, "run-job", "retrain_all", env={"TRAIN_EXECUTOR": "serial"})
        def three_done() -> bool:
            runs = recent_runs(storage, "retrain_all")
            return not runs.empty and runs.iloc[0]["tenants_done"] == 3

        wait_for(three_done, timeout=240, what="the run to finish the three tenants whose locks are free")
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert recent_runs(storage, "retrain_all").iloc[0]["status"] == "running"  # what a crash leaves behind
    for tenant in ("1", "2", "3", "4"):  # whatever the kill cut short, no batch is half-written
        batches_are_whole(storage, tenant)
    assert mark_interrupted_runs(storage) == 1  # its process is gone: no need to wait for the heartbeat
    interrupted = recent_runs(storage, "retrain_all").iloc[0]
    assert interrupted["status"] == "interrupted" and "stopped before it finished" in interrupted["error"]
    run = execute_job(storage, "retrain_all", scheduled_for=datetime.now(timezone.utc), trigger="manual",
                      settings=FAST)
    assert run["status"] == "success" and run["tenants_done"] == 4
    for tenant in ("1", "2", "3", "4"):  # every tenant's rows now come from its one active model
        models = list_models(storage, tenant)
        active = set(models[models["is_active"]]["model_version"])
        assert len(active) == 1
        assert batches_are_whole(storage, tenant) == {"sales_forecast": active, "sales_anomaly": active}
    storage.close()



def _states() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process, from /proc."""
    states = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            states[int(entry.name)] = (int(fields[1]), fields[0])
    return states


def living_descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their children...) that has not ended (zombies have)."""
    states = _states()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (parent, _) in states.items() if parent in frontier} - found
        found |= frontier
    return {child for child in found if states[child][1] != "Z"}


def still_running(pids: set[int]) -> set[int]:
    states = _states()
    return {pid for pid in pids if pid in states and states[pid][1] != "Z"}


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "kill-TERM"])
def test_workers_end_when_train_all_is_killed(tmp_path, how):
    """`train --all --workers 2` killed mid-run leaves no worker or resource tracker behind
    (they kept running, each worker holding a few hundred MB)."""
    database = Database("sqlite", str(tmp_path / "shared.db"))
    assert run_cli(database, "demo", "--tenants", "6", "--days", "300").wait(timeout=120) == 0
    proc = run_cli(database, "train", "--all", "--workers", "2", "--executor", "process")

    def pool_started():  # loky's and multiprocessing's resource trackers and the two workers
        found = living_descendants(proc.pid)
        return found if len(found) >= 4 else None

    started = wait_for(pool_started, timeout=120, what="the process pool to start")
    assert proc.poll() is None
    proc.send_signal(how)
    proc.wait(timeout=30)
    wait_for(lambda: not still_running(started), timeout=60, what="every process the command started to end")
