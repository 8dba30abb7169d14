"""A scheduler process with one extra job, `probe`, that counts its own executions.

Run by tests/ops/test_scheduler.py as `python -m tests.support.scheduler_probe SECONDS` in
separate processes on one database (chosen the way the product chooses it:
`FORECASTING_DB_PATH`, `DATABASE_URL` or `SUPABASE_URL` with its key). The
probe fires every second and appends one row to `probe_runs`, a table with no
unique key: if two processes ever ran the same due time, it would hold two
rows for it. The scheduler's own record (`job_runs`) is what the product
keeps; this table is what actually happened.
"""

from __future__ import annotations

import socket
import sys
import threading
from datetime import datetime, timezone

from apscheduler.triggers.interval import IntervalTrigger

from forecasting.core.config import get_app_settings
from forecasting.ops import scheduler
from forecasting.ops.jobs import JOBS, JobOutcome
from forecasting.storage import open_storage

PROBE_TABLE = "probe_runs"


def append_execution(storage, holder: str) -> None:
    row = {"holder": holder, "executed_at": datetime.now(timezone.utc).isoformat()}
    engine = storage.job_store_engine()  # the SQL backends; None over REST
    if engine is not None:
        from sqlalchemy import text

        with engine.begin() as conn:
            conn.execute(text(f"insert into {PROBE_TABLE} (holder, executed_at) values (:holder, :executed_at)"), row)
    else:  # the REST backend: a plain POST, as any PostgREST client would send
        storage._client.table(PROBE_TABLE).insert(row).execute()


def main(seconds: float) -> int:
    storage = open_storage(get_app_settings())
    holder = f"{socket.gethostname()}:probe:{threading.get_native_id()}:{seconds}"

    def probe(store, settings, *, now=None, report=None) -> JobOutcome:
        append_execution(store, holder)
        return JobOutcome()

    JOBS["probe"] = probe
    specs = scheduler.job_specs

    def with_probe(app=None, ml=None):
        every_second = IntervalTrigger(seconds=1, start_date=scheduler.ANCHOR, timezone="UTC")
        return [*specs(app, ml), scheduler.JobSpec("probe", "Probe", every_second, 1)]

    scheduler.job_specs = with_probe
    runner = scheduler.SchedulerRunner(storage, holder=holder).start()
    print(f"probe scheduler running as {holder}", flush=True)
    threading.Event().wait(seconds)
    runner.shutdown(wait=True)  # as `forecasting scheduler` does: runs in progress finish
    storage.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1])))
