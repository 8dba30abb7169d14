"""Retrain many tenants at once: one after another, on a local process pool, or on a Dask cluster.

Each tenant is one task. A task opens its own storage from the (picklable)
`AppSettings`, trains the tenant under its retrain lock and writes the
results itself, so only a small summary travels back. One tenant's failure
is that task's result, never the batch's.

* `serial`  -- in this process (tests, tiny deployments);
* `process` -- a local pool of worker processes (default: one per core), started by joblib's
  loky: each worker is a fresh interpreter that never re-runs the parent's `__main__`.
  (The standard library's spawn/forkserver re-run it, and inside the dashboard `__main__` is
  Streamlit's page script: every worker would run the app in bare mode, and a page that needs a
  session made the pool break.)
* `dask`    -- an existing `dask.distributed` cluster given by address; its
  workers need this package installed and must reach the same database
  (PostgreSQL, or a SQLite file on a shared disk).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from datetime import datetime
from typing import Any

from ..core.config import AppSettings, MLSettings, get_app_settings, get_settings
from ..core.errors import ConfigError
from ..core.logs import log_event
from ..services.locks import process_alive

EXECUTORS = ("serial", "process", "dask")

#: `on_result(result)` is called as each tenant finishes (progress, heartbeats).
OnResult = Callable[[dict[str, Any]], None]

_WORKER_STORAGE: dict[str, Any] = {}


def _storage_for(app: AppSettings):
    """One storage per worker process and configuration (connections are reused across tasks)."""
    from ..storage import open_storage

    key = app.model_dump_json()
    if key not in _WORKER_STORAGE:
        _WORKER_STORAGE[key] = open_storage(app)
    return _WORKER_STORAGE[key]


def watch_parent(parent_pid: int, every_seconds: float = 1.0) -> None:
    """Worker initializer: end this worker once the process that started the pool is gone.

    Killed (`kill -9`, a crash, `kill -TERM` before it could shut the pool down), the parent leaves
    its workers running tenants nobody waits for, each holding a few hundred MB. A daemon thread
    checks every second that the parent still exists and ends the worker when it doesn't (the
    resource trackers then exit by themselves).
    """
    def watch() -> None:
        while process_alive(parent_pid):
            time.sleep(every_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def train_task(app: AppSettings, ml: MLSettings, tenant_id: str, now: datetime | None = None,
               wait_seconds: float = 300.0) -> dict[str, Any]:
    """Train one tenant where this runs; returns {tenant_id, ok, summary, drift | error}.

    Nothing here writes a notification (a Dask worker loads no locale
    strings): `train_tenants` raises the drift notification from `drift`.
    """
    from ..core.logs import setup_logging
    from ..services.training import retrain_tenant

    setup_logging(app.log_level)
    try:
        result = retrain_tenant(_storage_for(app), tenant_id, settings=ml, wait_seconds=wait_seconds, now=now)
        return {"tenant_id": tenant_id, "ok": True, "summary": result.summary(), "drift": result.drift}
    except Exception as exc:  # noqa: BLE001 - the failure is this tenant's result
        log_event("pipeline_failed", tenant_id=tenant_id, error=str(exc), error_type=type(exc).__name__)
        return {"tenant_id": tenant_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


def train_tenants(
    tenant_ids: Sequence[str],
    *,
    app: AppSettings | None = None,
    ml: MLSettings | None = None,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    now: datetime | None = None,
    on_result: OnResult | None = None,
) -> list[dict[str, Any]]:
    """Train every tenant with the chosen executor; results in completion order."""
    app, ml = app or get_app_settings(), ml or get_settings()
    executor = executor or app.train_executor
    if executor not in EXECUTORS:
        raise ConfigError(f"invalid setting(s): TRAIN_EXECUTOR: choose from {', '.join(EXECUTORS)}, got {executor!r}")
    tenant_ids = [str(t) for t in tenant_ids]
    results: list[dict[str, Any]] = []
    storage = None

    def collect(result: dict[str, Any]) -> None:
        nonlocal storage
        results.append(result)
        if (result.get("drift") or {}).get("drift"):
            from ..services.notifications import notify_drift

            storage = storage or _storage_for(app)
            notify_drift(storage, result["tenant_id"], result["drift"])
        if on_result:
            on_result(result)

    workers = workers or app.train_workers or os.cpu_count() or 1
    if executor == "serial" or (executor == "process" and (workers == 1 or len(tenant_ids) == 1)):
        for tenant_id in tenant_ids:
            collect(train_task(app, ml, tenant_id, now))
    elif executor == "process":
        from joblib.externals.loky import ProcessPoolExecutor  # joblib's vendored loky (see the module doc)

        with ProcessPoolExecutor(max_workers=min(workers, len(tenant_ids)),
                                 initializer=watch_parent, initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(train_task, app, ml, tenant_id, now) for tenant_id in tenant_ids]
            for future in as_completed(futures):
                collect(future.result())
    else:
        _run_on_dask(tenant_ids, app, ml, address or app.dask_address, now, collect)
    log_event("train_tenants_done", executor=executor, tenants=len(tenant_ids),
              failed=sum(not r["ok"] for r in results))
    return results


def _run_on_dask(tenant_ids, app, ml, address, now, collect) -> None:
    if not address:
        raise ConfigError("invalid setting(s): DASK_ADDRESS: the dask executor needs a scheduler address "
                          "(e.g. tcp://10.0.0.5:8786)")
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise ConfigError("the dask executor needs `pip install \"dask[distributed]\"`") from None
    with Client(address, timeout="30s") as client:
        futures = client.map(train_task, [app] * len(tenant_ids), [ml] * len(tenant_ids), tenant_ids,
                             [now] * len(tenant_ids), pure=False)
        for future in dask_completed(futures):
            collect(future.result())
