"""train --all on each executor: serial, a local process pool, and a real Dask cluster with worker processes."""

from __future__ import annotations

import pytest

from forecasting import jobs
from forecasting.executors import train_tenants

from .conftest import FAST, NOW


def trained_rows(storage, tenants):
    return {t: (storage.count("ml_models", t), storage.count("ml_predictions", t)) for t in tenants}


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_local_executors_train_every_tenant(demo_storage, executor):
    seen = []
    results = train_tenants(["1", "2", "3"], app=demo_storage.reopen_settings(), ml=FAST, executor=executor,
                            workers=2, now=NOW, on_result=seen.append)
    assert sorted(r["tenant_id"] for r in results) == ["1", "2", "3"] and all(r["ok"] for r in results)
    assert len(seen) == 3
    rows = trained_rows(demo_storage, ["1", "2", "3"])
    assert all(models == 1 and predictions > 14 for models, predictions in rows.values())


def test_a_failing_tenant_is_its_own_result(demo_storage):
    results = train_tenants(["1", "missing"], app=demo_storage.reopen_settings(), ml=FAST, executor="process",
                            workers=2, now=NOW)
    by_id = {r["tenant_id"]: r for r in results}
    assert by_id["1"]["ok"] and not by_id["missing"]["ok"]
    assert "unknown tenant" in by_id["missing"]["error"]


def test_dask_cluster_with_worker_processes(demo_storage):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        results = train_tenants(["1", "2"], app=demo_storage.reopen_settings(), ml=FAST, executor="dask",
                                address=cluster.scheduler_address, now=NOW)
    assert sorted(r["tenant_id"] for r in results) == ["1", "2"] and all(r["ok"] for r in results)
    assert trained_rows(demo_storage, ["1", "2"]) == {t: (1, demo_storage.count("ml_predictions", t)) for t in ("1", "2")}
    assert demo_storage.count("ml_models", "3") == 0


def test_dask_without_an_address_is_a_clear_error(demo_storage):
    from forecasting.errors import ConfigError

    with pytest.raises(ConfigError, match="DASK_ADDRESS"):
        train_tenants(["1"], app=demo_storage.reopen_settings(), ml=FAST, executor="dask")


def test_weekly_retrain_job_uses_the_process_pool(demo_storage):
    progress = []
    outcome = jobs.retrain_all(demo_storage, FAST, now=NOW, executor="process", workers=2,
                               report=lambda done, failed, tenant: progress.append((done, failed)))
    assert outcome.status == "success" and outcome.done == 3 and progress[-1] == (3, 0)
    assert set(outcome.details) == {"1", "2", "3"} and all(d["winner"] for d in outcome.details.values())
