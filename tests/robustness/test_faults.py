"""Faults: corrupt models, concurrent retrains, a scheduler killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from forecasting.errors import ModelError
from forecasting.pipeline import predict_from_active, train_and_predict_sales
from forecasting.registry import list_models, load_active_model
from forecasting.scheduler import execute_job, mark_interrupted_runs, recent_runs
from forecasting.storage import SQLStorage

from ..conftest import FAST, NOW

ROOT = Path(__file__).resolve().parents[2]
FAST_ENV = {"ML_MODEL_CANDIDATES": "naive,snaive,theta", "ML_HORIZON_DAYS": "14", "ML_CV_FOLDS": "2"}


def corrupt_active_model(storage, tenant, **values):
    info = list_models(storage, tenant).iloc[0]
    storage.update("ml_models", tenant, values, where={"model_type": info.model_type, "model_version": info.model_version})


def test_a_corrupt_model_is_detected_and_the_tenant_retrained(demo_storage):
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    corrupt_active_model(demo_storage, "1", model_data="this is not base64!!")
    with pytest.raises(ModelError, match="corrupt"):
        load_active_model(demo_storage, "1")
    forecast = predict_from_active("1", storage=demo_storage, now=NOW)
    assert len(forecast) > 0 and np.isfinite(forecast["yhat"]).all()
    assert len(list_models(demo_storage, "1")) == 2  # a new version was trained
    assert load_active_model(demo_storage, "1") is not None


def test_a_model_from_other_library_versions_is_refused_then_replaced(demo_storage):
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    info = list_models(demo_storage, "1").iloc[0]
    old = {**info.hyperparameters, "library_versions": {**info.hyperparameters["library_versions"], "pandas": "0.25.3"}}
    corrupt_active_model(demo_storage, "1", hyperparameters=old)
    with pytest.raises(ModelError, match="pandas 0.25.3"):
        predict_from_active("1", storage=demo_storage, now=NOW, retrain_if_unusable=False)
    forecast = predict_from_active("1", storage=demo_storage, now=NOW)  # retrained with the deployment's settings
    assert len(forecast) > 0 and (forecast["model_version"] != info.model_version).all()


def run_cli(db, *args, env=None):
    return subprocess.Popen([sys.executable, "-m", "forecasting", "--quiet", "--db", str(db), *args], cwd=ROOT,
                            env={**os.environ, **FAST_ENV, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_processes_retraining_one_tenant(tmp_path):
    db = tmp_path / "shared.db"
    assert run_cli(db, "demo", "--tenants", "1", "--days", "300").wait(timeout=120) == 0
    procs = [run_cli(db, "train", "--tenant", "1") for _ in range(2)]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in outcomes)
    storage = SQLStorage.sqlite_file(db)
    models = list_models(storage, "1")
    # either they ran one after the other (both 0) or the second was refused with a message (2)
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


def test_scheduler_killed_during_retrain_all_is_marked_and_the_next_run_completes(tmp_path):
    db = tmp_path / "shared.db"
    assert run_cli(db, "demo", "--tenants", "4", "--days", "300").wait(timeout=120) == 0
    proc = run_cli(db, "run-job", "retrain_all", env={"TRAIN_EXECUTOR": "serial"})
    storage = SQLStorage.sqlite_file(db)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it is mid-run: one tenant done, not all
        runs = recent_runs(storage, "retrain_all")
        if not runs.empty and runs.iloc[0]["tenants_done"] >= 1:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert recent_runs(storage, "retrain_all").iloc[0]["status"] == "running"  # what a crash leaves behind
    assert mark_interrupted_runs(storage) == 1  # its process is gone: no need to wait for the heartbeat
    interrupted = recent_runs(storage, "retrain_all").iloc[0]
    assert interrupted["status"] == "interrupted" and "stopped before it finished" in interrupted["error"]
    run = execute_job(storage, "retrain_all", scheduled_for=datetime.now(timezone.utc), trigger="manual",
                      settings=FAST)
    assert run["status"] == "success" and run["tenants_done"] == 4
