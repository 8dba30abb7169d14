"""train --all on each executor: serial, a local process pool, and a real Dask cluster with worker processes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from forecasting.ops import jobs
from forecasting.ops.executors import train_tenants
from tests.support import FAST, NOW


def expected_rows(demo_data, tenant_id: str) -> dict[str, int]:
    """What one training of a demo tenant must write, worked out from the demo's own sales.

    The series runs from the tenant's first local sale day to yesterday (local, at NOW): one
    anomaly row per day of it, one forecast row per horizon day, one model.
    """
    tenant = demo_data.negocios.set_index("id").loc[tenant_id]
    zone = ZoneInfo(tenant["timezone"])
    sales = demo_data.ventas[demo_data.ventas["negocio_id"] == tenant_id]
    first = sales["fecha"].dt.tz_convert(zone).min().date()
    yesterday = NOW.astimezone(zone).date() - pd.Timedelta(days=1)
    history = min((yesterday - first).days + 1, FAST.max_train_window_days)
    return {"sales_forecast": FAST.horizon_days, "sales_anomaly": history, "ml_models": 1}


def check_written(storage, demo_data, results, tenants):
    """Each tenant trained exactly once, with the rows its training must produce, and nobody else touched."""
    assert sorted(r["tenant_id"] for r in results) == sorted(tenants)  # every tenant once, no other
    assert all(r["ok"] for r in results), [r.get("error") for r in results]
    for result in results:
        tenant = result["tenant_id"]
        expected = expected_rows(demo_data, tenant)
        summary = result["summary"]
        assert summary["history_days"] == expected["sales_anomaly"] and summary["forecast_days"] == FAST.horizon_days
        written = summary["rows_written"]
        assert {key: written[key] for key in expected} == expected, tenant
        assert written["forecast_history"] == FAST.horizon_days
        assert storage.count("ml_models", tenant) == 1
        assert storage.count("ml_predictions", tenant) == expected["sales_forecast"] + expected["sales_anomaly"]
        # The issued forecast, and on a first training the winner's CV folds back-filled for the scorecard.
        assert written["forecast_backtest"] > 0
        assert storage.count("forecast_history", tenant) == FAST.horizon_days + written["forecast_backtest"]
    for other in set(demo_data.negocios["id"].astype(str)) - set(tenants):
        assert storage.count("ml_models", other) == 0 and storage.count("ml_predictions", other) == 0


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_local_executors_train_every_tenant(demo_storage, demo_data, executor):
    seen = []
    results = train_tenants(["1", "2", "3"], app=demo_storage.reopen_settings(), ml=FAST, executor=executor,
                            workers=2, now=NOW, on_result=seen.append)
    assert seen == results  # on_result saw each result as it came, in the order returned
    check_written(demo_storage, demo_data, results, ["1", "2", "3"])


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_drift_measured_by_a_worker_is_notified_by_the_caller(demo_storage, executor):
    strict = FAST.model_copy(update={"error_alert_mape": 0.0001})  # every error is "too high"
    results = train_tenants(["1", "2"], app=demo_storage.reopen_settings(), ml=strict, executor=executor,
                            workers=2, now=NOW)
    assert all(r["ok"] and r["drift"]["drift"] for r in results)
    for tenant in ("1", "2"):
        notes = demo_storage.select("notifications", tenant)
        assert notes["kind"].tolist() == ["drift"], tenant


def test_pool_workers_never_run_the_parents_main_script(demo_storage, demo_data, tmp_path, monkeypatch):
    """Inside the dashboard `__main__` is Streamlit's page script; spawn/forkserver workers re-ran it
    (and a page that needs a session broke the pool). A worker must start from a clean interpreter."""
    import sys
    import types

    marker = tmp_path / "main-ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\nraise RuntimeError('a page script ran in a worker')\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    results = train_tenants(["1", "2"], app=demo_storage.reopen_settings(), ml=FAST, executor="process",
                            workers=2, now=NOW)
    check_written(demo_storage, demo_data, results, ["1", "2"])
    assert not marker.exists()


def test_a_failing_tenant_is_its_own_result(demo_storage, demo_data):
    results = train_tenants(["1", "missing"], app=demo_storage.reopen_settings(), ml=FAST, executor="process",
                            workers=2, now=NOW)
    by_id = {r["tenant_id"]: r for r in results}
    assert len(results) == 2 and set(by_id) == {"1", "missing"}
    assert not by_id["missing"]["ok"] and "unknown tenant" in by_id["missing"]["error"]
    check_written(demo_storage, demo_data, [by_id["1"]], ["1"])


def test_dask_cluster_with_worker_processes(demo_storage, demo_data):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        results = train_tenants(["1", "2"], app=demo_storage.reopen_settings(), ml=FAST, executor="dask",
                                address=cluster.scheduler_address, now=NOW)
    check_written(demo_storage, demo_data, results, ["1", "2"])


def test_dask_without_an_address_is_a_clear_error(demo_storage):
    from forecasting.core.errors import ConfigError

    with pytest.raises(ConfigError, match="DASK_ADDRESS"):
        train_tenants(["1"], app=demo_storage.reopen_settings(), ml=FAST, executor="dask")


def test_weekly_retrain_job_uses_the_process_pool(demo_storage, demo_data):
    progress = []
    outcome = jobs.retrain_all(demo_storage, FAST, now=NOW, executor="process", workers=2,
                               report=lambda done, failed, tenant: progress.append((done, failed)))
    assert outcome.status == "success" and outcome.done == 3 and outcome.failed == 0
    assert progress == [(1, 0), (2, 0), (3, 0)]
    assert set(outcome.details) == {"1", "2", "3"}
    for tenant, detail in outcome.details.items():
        assert detail["winner"] in (*FAST.model_candidates, "ensemble")
        assert demo_storage.count("ml_predictions", tenant) == sum(
            expected_rows(demo_data, tenant)[key] for key in ("sales_forecast", "sales_anomaly"))
