"""Runs of scheduled jobs, recorded in `job_runs`: claim a due time once, run, record the outcome.

Every run first claims its due time in `job_runs` (unique per job and due
time), so even during a leadership hand-over a due job runs once. The run is
then recorded there: status, tenants done/failed, errors, heartbeat. An
outcome the database could not take is kept and written when it answers again;
runs left `running` by a process that died are marked `interrupted`.
"""

from __future__ import annotations

import threading
import traceback
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from ..core.config import MLSettings, get_settings
from ..core.errors import StorageError
from ..core.logs import log_event
from ..services.locks import BusyError, holder_is_dead, lease_lock, process_holder
from ..storage import Storage
from .jobs import JOBS, JobOutcome

#: A run whose heartbeat is older than this belonged to a process that stopped.
STALE_RUN_SECONDS = 15 * 60

# Outcomes of runs that ended while the database could not be written, by (database, job, due
# time): written as soon as it answers again (next run, next lease tick), so the run doesn't
# stay `running` with nobody running it.
_UNRECORDED: dict[tuple[str, str, datetime], dict[str, Any]] = {}
_UNRECORDED_GUARD = threading.Lock()


# --- recording runs --------------------------------------------------------------------


def job_lock_name(job_id: str) -> str:
    return f"job:{job_id}"


def execute_job(storage: Storage, job_id: str, *, scheduled_for: datetime, trigger: str = "schedule",
                holder: str | None = None, settings: MLSettings | None = None,
                now: datetime | None = None) -> dict[str, Any] | None:
    """Claim the due time, run the job, record the outcome in `job_runs`.

    One run of a job at a time in the whole deployment: the run holds the
    lease `job:<id>` (renewed by its heartbeats). Returns the recorded run,
    or None when another process already claimed this due time or is
    running the job; a manual run (`trigger="manual"`) raises BusyError
    then instead, saying since when and by whom.
    """
    holder = holder or process_holder()
    record_unrecorded_runs(storage)
    try:
        with lease_lock(storage, job_lock_name(job_id), f"job {job_id} is already running",
                        ttl_seconds=STALE_RUN_SECONDS) as lock:
            return _claim_and_run(storage, job_id, scheduled_for, trigger, holder, settings or get_settings(),
                                  now, lock)
    except BusyError as exc:
        log_event("job_skipped", job=job_id, scheduled_for=scheduled_for, reason=str(exc))
        if trigger == "manual":
            raise
        return None


def _claim_and_run(storage: Storage, job_id: str, scheduled_for: datetime, trigger: str, holder: str,
                   settings: MLSettings, now: datetime | None, lock: str) -> dict[str, Any] | None:
    key = {"job_id": job_id, "scheduled_for": scheduled_for}
    started = datetime.now(timezone.utc)
    claimed = storage.insert_if_absent("job_runs", None, {
        **key, "trigger": trigger, "holder": holder, "status": "running", "started_at": started,
        "heartbeat_at": started, "tenants_done": 0, "tenants_failed": 0})
    if not claimed:
        log_event("job_skipped", job=job_id, scheduled_for=scheduled_for, reason="already claimed")
        return None
    log_event("job_start", job=job_id, scheduled_for=scheduled_for, trigger=trigger, holder=holder)

    def heartbeat(done: int, failed: int, detail: str) -> None:
        try:
            storage.update("job_runs", None, {"tenants_done": done, "tenants_failed": failed,
                                               "heartbeat_at": datetime.now(timezone.utc)}, where=key)
            storage.acquire_lease(job_lock_name(job_id), lock, STALE_RUN_SECONDS)
        except StorageError as exc:  # progress is best effort; the final record is what counts
            log_event("job_heartbeat_failed", job=job_id, error=str(exc))

    try:
        outcome = JOBS[job_id](storage, settings, now=now, report=heartbeat)
        record = {"status": outcome.status, "tenants_done": outcome.done, "tenants_failed": outcome.failed,
                  "error": _errors_text(outcome), "details": {"errors": outcome.errors, **outcome.details}}
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, never lost
        record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                  "details": {"traceback": traceback.format_exc(limit=8)}}
        outcome = None
    record["finished_at"] = datetime.now(timezone.utc)
    try:
        storage.update("job_runs", None, record, where=key)
    except StorageError as exc:
        log_event("job_record_failed", level=40, job=job_id, error=str(exc))
        with _UNRECORDED_GUARD:
            _UNRECORDED[(storage.describe(), job_id, scheduled_for)] = record
    log_event("job_end", job=job_id, scheduled_for=scheduled_for, status=record["status"],
              done=record.get("tenants_done"), failed=record.get("tenants_failed"), error=record.get("error"))
    return {**key, **record}


def record_unrecorded_runs(storage: Storage) -> int:
    """Write the outcomes of this process's runs that ended while the database was down.

    Returns how many were written; those the database still refuses stay for the next call.
    """
    where = storage.describe()
    with _UNRECORDED_GUARD:
        pending = [(k, record) for k, record in _UNRECORDED.items() if k[0] == where]
    written = 0
    for (_, job_id, scheduled_for), record in pending:
        try:
            storage.update("job_runs", None, record, where={"job_id": job_id, "scheduled_for": scheduled_for})
        except StorageError:
            break  # still unreachable
        with _UNRECORDED_GUARD:
            _UNRECORDED.pop((where, job_id, scheduled_for), None)
        written += 1
        log_event("job_recorded_late", job=job_id, scheduled_for=scheduled_for, status=record["status"])
    return written


def _errors_text(outcome: JobOutcome) -> str | None:
    if not outcome.errors:
        return None
    return "; ".join(f"tenant {tenant}: {error}" for tenant, error in list(outcome.errors.items())[:20])


def mark_interrupted_runs(storage: Storage, *, stale_after_seconds: float = STALE_RUN_SECONDS,
                          now: datetime | None = None) -> int:
    """Mark runs still `running` whose process stopped as `interrupted`; returns how many.

    A run's process stopped when it was on this host and its pid is gone, or
    when its heartbeat is older than `stale_after_seconds` (other hosts).
    """
    now = now or datetime.now(timezone.utc)
    running = storage.select("job_runs", None, where={"status": "running"})
    stale_before = now - timedelta(seconds=stale_after_seconds)
    stopped = running[[(holder_is_dead(run.holder) or (run.heartbeat_at is not None and run.heartbeat_at < stale_before))
                       for run in running.itertuples()]] if not running.empty else running
    for run in stopped.itertuples():
        storage.update("job_runs", None, {
            "status": "interrupted", "finished_at": now,
            "error": f"interrupted: the process running it ({run.holder}) stopped before it finished"},
            where={"job_id": run.job_id, "scheduled_for": run.scheduled_for, "status": "running"})
        log_event("job_interrupted", job=run.job_id, scheduled_for=run.scheduled_for, holder=run.holder)
    return len(stopped)


def recent_runs(storage: Storage, job_id: str | None = None, limit: int = 50) -> pd.DataFrame:
    where = {"job_id": job_id} if job_id else None
    return storage.select("job_runs", None, where=where, order_by="started_at", descending=True, limit=limit)


def stalled_runs(runs: pd.DataFrame, now: datetime) -> pd.Series:
    """Which `job_runs` rows are still marked running although their heartbeat (else their start) is older
    than STALE_RUN_SECONDS: their process stopped, and no leader has marked them interrupted yet."""
    started = pd.to_datetime(runs["started_at"], utc=True)
    beat = pd.to_datetime(runs["heartbeat_at"], utc=True) if "heartbeat_at" in runs else started
    beat = beat.fillna(started)
    return (runs["status"] == "running") & (beat < pd.Timestamp(now) - pd.Timedelta(seconds=STALE_RUN_SECONDS))


def live_run(storage: Storage, job_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The run of `job_id` in progress (its newest `running` row with a live heartbeat) as a `job_runs` row, or None."""
    rows = storage.select("job_runs", None, where={"job_id": job_id, "status": "running"},
                          order_by="started_at", descending=True)
    if rows.empty:
        return None
    live = rows[~stalled_runs(rows, now or datetime.now(timezone.utc))]
    return None if live.empty else live.iloc[0].to_dict()


