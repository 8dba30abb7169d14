"""The embedded scheduler: APScheduler 3 inside the dashboard process, or on its own.

One runner per deployment, however many processes start one:

* Every process runs a small control loop that tries to take (or renew) the
  `scheduler` lease in the database every few seconds. The holder is the
  leader; only the leader runs the job scheduler. If it dies, its lease
  expires and another process takes over.
* The leader's APScheduler keeps its jobs in the database
  (`SQLAlchemyJobStore`, table `apscheduler_jobs`), so after downtime the
  missed runs are known and, with `coalesce`, run once.
* Every run first claims its due time in `job_runs` (unique per job and due
  time), so even during a leadership hand-over a due job runs once. The run
  is then recorded there: status, tenants done/failed, errors, heartbeat.
* Runs left `running` by a process that died are marked `interrupted` when
  a leader starts.
* Run now (the Jobs page, `start_manual_run`) runs a job in a background
  thread of this process, recorded as a manual run; a job already on its
  way is not started twice.

Job bodies are the plain functions of `forecasting.ops.jobs`; how a run is claimed and recorded is
`forecasting.ops.runs`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..core.config import AppSettings, MLSettings, get_app_settings, get_settings
from ..core.errors import ConfigError, StorageError
from ..core.logs import log_event
from ..services.locks import process_holder
from ..storage import Storage
from .jobs import JOBS
from .runs import execute_job, live_run, mark_interrupted_runs, record_unrecorded_runs

LEASE_NAME = "scheduler"
#: Interval triggers count from this instant, so every process computes the same due times.
ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
@dataclass(frozen=True)
class JobSpec:
    id: str
    title: str
    trigger: Any
    misfire_grace_seconds: int


def job_specs(app: AppSettings | None = None, ml: MLSettings | None = None) -> list[JobSpec]:
    """The schedule of the spec, in the configured time zone."""
    app, ml = app or get_app_settings(), ml or get_settings()
    tz = app.scheduler_timezone
    day = 24 * 3600
    try:
        retrain = crontab_trigger(ml.retrain_cron, tz)
    except ValueError as exc:
        raise ConfigError(f"invalid setting(s): ML_RETRAIN_CRON: {exc}") from None

    def every(seconds: int) -> IntervalTrigger:
        return IntervalTrigger(seconds=seconds, start_date=ANCHOR, timezone=tz)

    return [
        JobSpec("retrain_all", "Retrain all tenants", retrain, 6 * day),  # late beats skipped until next week
        JobSpec("refresh_features", "Refresh features", every(app.feature_refresh_seconds), 3600),
        JobSpec("daily_notifications", "Daily notifications", CronTrigger(hour=8, minute=0, timezone=tz), 12 * 3600),
        JobSpec("check_notification_rules", "Check notification rules", every(app.rules_check_seconds), app.rules_check_seconds),
        JobSpec("cleanup_notifications", "Delete notifications older than 30 days", CronTrigger(hour=0, minute=0, timezone=tz), day),
        JobSpec("cleanup_predictions", "Delete predictions older than 90 days", CronTrigger(hour=0, minute=30, timezone=tz), day),
        JobSpec("health_check", "Database health check", every(app.health_check_seconds), app.health_check_seconds),
    ]


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab_trigger(expression: str, tz: str) -> CronTrigger:
    """A CronTrigger from standard crontab text.

    APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0
    (7 is Sunday too), and `CronTrigger.from_crontab` passes numbers through
    unchanged, so `0 2 * * 1` would fire on Tuesdays. Weekday numbers are
    turned into names first.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {expression!r}")
    minute, hour, day, month, weekday = fields

    def name(token: str) -> str:
        if token.isdigit():
            number = int(token)
            if number > 7:
                raise ValueError(f"weekday {number} out of range 0-7")
            return _WEEKDAYS[number]
        return token

    parts = []
    for item in weekday.split(","):
        base, _, step = item.partition("/")
        base = "-".join(name(token) for token in base.split("-"))
        parts.append(f"{base}/{step}" if step else base)
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=",".join(parts), timezone=tz)


def last_due(trigger, now: datetime) -> datetime:
    """The latest fire time of `trigger` at or before `now` (the due time a run serves)."""
    if isinstance(trigger, IntervalTrigger):
        periods = (now - trigger.start_date) // trigger.interval
        return (trigger.start_date + periods * trigger.interval).astimezone(timezone.utc)
    # Cron: walk the fire times of the last 8 days (longer than the longest period, a week).
    previous = None
    fire = trigger.get_next_fire_time(None, now - timedelta(days=8))
    while fire is not None and fire <= now:
        previous = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return (previous or now).astimezone(timezone.utc)


# --- Run now ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManualStart:
    """What asking for a manual run did: `started`, or not because the job was already running.

    `run` is the job's `job_runs` row: the run just started (once its row is
    written), the one that was already going, or the finished run when the
    job was over before anyone looked; None when its row was not written yet.
    """

    job_id: str
    started: bool
    run: dict[str, Any] | None


# Threads started by Run now in this process, by (database, job): between starting a thread and
# its `running` row landing in job_runs, only this tells that the job is already on its way.
_MANUAL_RUNS: dict[tuple[str, str], threading.Thread] = {}
_MANUAL_LOCK = threading.Lock()


def start_manual_run(storage: Storage, job_id: str, runner: SchedulerRunner | None = None, *,
                     wait_seconds: float = 3.0) -> ManualStart:
    """Start `job_id` now in a background thread, recorded in `job_runs` as a manual run.

    With this process's scheduler `runner` it goes through `runner.run_now`
    (its holder and settings); without one (SCHEDULER_ENABLED off here) the
    run is `execute_job(..., trigger="manual")` in a thread of our own. A job
    with a run in progress (a live `running` row, or a thread this process
    started that has not written its row yet) is not started twice:
    `started` is then False. Waits up to `wait_seconds` for the new run's row
    so a page that redraws next shows it. Raises ConfigError for an unknown
    job and StorageError when job_runs can't be read.
    """
    if job_id not in JOBS:
        raise ConfigError(f"unknown job {job_id!r}; choose from {', '.join(sorted(JOBS))}")
    key = (storage.describe(), job_id)
    with _MANUAL_LOCK:
        current = live_run(storage, job_id)
        thread = _MANUAL_RUNS.get(key)
        if current is not None or (thread is not None and thread.is_alive()):
            return ManualStart(job_id, False, current)
        since = datetime.now(timezone.utc)
        if runner is not None:
            thread = runner.run_now(job_id)
        else:
            thread = threading.Thread(target=_run_manually, args=(storage, job_id), name=f"job-{job_id}",
                                      daemon=True)
            thread.start()
        _MANUAL_RUNS[key] = thread
    return ManualStart(job_id, True, _wait_for_run(storage, job_id, since, thread, wait_seconds))


def manual_run_thread(storage: Storage, job_id: str) -> threading.Thread | None:
    """The thread the last Run now of `job_id` on `storage` started in this process, or None."""
    with _MANUAL_LOCK:
        return _MANUAL_RUNS.get((storage.describe(), job_id))


def _run_manually(storage: Storage, job_id: str) -> None:
    try:
        execute_job(storage, job_id, scheduled_for=datetime.now(timezone.utc), trigger="manual")
    except Exception as exc:  # noqa: BLE001 - a thread's exception would only reach stderr; the log keeps it
        # execute_job records every failure of the job itself; this is the claim failing (database down).
        log_event("job_manual_failed", level=40, job=job_id, error=f"{type(exc).__name__}: {exc}")


def _wait_for_run(storage: Storage, job_id: str, since: datetime, thread: threading.Thread,
                  wait_seconds: float) -> dict[str, Any] | None:
    """The manual run of `job_id` started at or after `since`, once its row exists (bounded wait)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        rows = storage.select("job_runs", None, where={"job_id": job_id, "trigger": "manual"},
                              gte={"started_at": since}, order_by="started_at", descending=True, limit=1)
        if not rows.empty:
            return rows.iloc[0].to_dict()
        if not thread.is_alive() or time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


# --- the runner --------------------------------------------------------------------------

_RUNNER: SchedulerRunner | None = None
_RUNNER_LOCK = threading.Lock()


def run_scheduled_job(job_id: str) -> None:
    """What APScheduler calls (by reference, so the persistent job store can name it)."""
    runner = _RUNNER
    if runner is None or not runner.leading:
        log_event("job_skipped", job=job_id, reason="this process does not lead the scheduler")
        return
    runner.run_due(job_id)


class SchedulerRunner:
    """Leader election plus the job scheduler; see the module docstring."""

    def __init__(self, storage: Storage, app: AppSettings | None = None, ml: MLSettings | None = None,
                 *, holder: str | None = None) -> None:
        self.storage = storage
        self.app = app or get_app_settings()
        self.ml = ml or get_settings()
        self.holder = holder or process_holder()
        self.specs = {spec.id: spec for spec in job_specs(self.app, self.ml)}
        self._control: BackgroundScheduler | None = None
        self._main: BackgroundScheduler | None = None
        self._lock = threading.RLock()

    @property
    def leading(self) -> bool:
        return self._main is not None

    def start(self) -> SchedulerRunner:
        with self._lock:
            if self._control is None:
                self._control = BackgroundScheduler(timezone=timezone.utc)
                self._control.add_job(self._tick, "interval", seconds=self.app.scheduler_lease_seconds / 3,
                                      next_run_time=datetime.now(timezone.utc), id="lease", max_instances=1,
                                      coalesce=True)
                self._control.start()
                log_event("scheduler_started", holder=self.holder, backend=self.storage.backend)
        return self

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop leading and give the lease up; with `wait`, let the runs in progress finish first
        (a command-line scheduler stopping on time); without, they are left to end with the process."""
        with self._lock:
            if self._control is not None:
                self._control.shutdown(wait=False)
                self._control = None
            self._step_down(wait=wait)
            try:
                self.storage.release_lease(LEASE_NAME, self.holder)
            except StorageError:
                pass

    def _tick(self) -> None:
        try:
            leading = self.storage.acquire_lease(LEASE_NAME, self.holder, self.app.scheduler_lease_seconds)
        except StorageError as exc:
            log_event("scheduler_lease_failed", level=30, error=str(exc))
            leading = False
        else:  # the database answers again: runs that ended while it was down get their outcome
            record_unrecorded_runs(self.storage)
        with self._lock:
            if leading and self._main is not None:
                # A run whose process died (or stopped heart-beating) turns "interrupted" within a tick.
                try:
                    mark_interrupted_runs(self.storage)
                except StorageError as exc:
                    log_event("scheduler_check_failed", level=30, error=str(exc))
            if leading and self._main is None and self._control is not None:
                self._become_leader()
            elif not leading and self._main is not None:
                log_event("scheduler_lost_lease", holder=self.holder)
                self._step_down()

    def _jobstore(self):
        engine = self.storage.job_store_engine()
        if engine is None:  # REST backend: no SQL connection for APScheduler's store
            return MemoryJobStore()
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        return SQLAlchemyJobStore(engine=engine)

    def _become_leader(self) -> None:
        global _RUNNER
        mark_interrupted_runs(self.storage)
        main = BackgroundScheduler(
            jobstores={"default": self._jobstore()},
            executors={"default": ThreadPoolExecutor(max_workers=3)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=self.app.scheduler_timezone,
        )
        main.start(paused=True)
        wanted = set(self.specs)
        for job in main.get_jobs():
            if job.id not in wanted:
                job.remove()
        for spec in self.specs.values():
            existing = main.get_job(spec.id)
            if existing is None:
                main.add_job(run_scheduled_job, trigger=spec.trigger, args=[spec.id], id=spec.id, name=spec.title,
                             misfire_grace_time=spec.misfire_grace_seconds)
            elif str(existing.trigger) != str(spec.trigger):
                existing.reschedule(trigger=spec.trigger)
            # an unchanged job keeps its stored next run time: runs missed while down are coalesced into one
        self._main = main
        _RUNNER = self
        main.resume()
        log_event("scheduler_leader", holder=self.holder)

    def _step_down(self, *, wait: bool = False) -> None:
        if self._main is not None:
            self._main.shutdown(wait=wait)
            self._main = None

    def run_due(self, job_id: str) -> dict[str, Any] | None:
        spec = self.specs[job_id]
        scheduled_for = last_due(spec.trigger, datetime.now(timezone.utc))
        return execute_job(self.storage, job_id, scheduled_for=scheduled_for, holder=self.holder, settings=self.ml)

    def run_now(self, job_id: str, *, background: bool = True) -> threading.Thread | dict[str, Any] | None:
        """Run a job immediately (the Jobs page's button), recorded as a manual run."""
        if job_id not in JOBS:
            raise ConfigError(f"unknown job {job_id!r}; choose from {sorted(JOBS)}")

        def work():
            try:
                return execute_job(self.storage, job_id, scheduled_for=datetime.now(timezone.utc), trigger="manual",
                                   holder=self.holder, settings=self.ml)
            except Exception as exc:  # noqa: BLE001 - e.g. the database is down: log it, don't kill silently
                log_event("job_manual_failed", level=40, job=job_id, error=str(exc))
                return None

        if not background:
            return work()
        thread = threading.Thread(target=work, name=f"job-{job_id}", daemon=True)
        thread.start()
        return thread

    def status(self, now: datetime | None = None) -> pd.DataFrame:
        """Each job with its trigger and next run time, and the current leader."""
        now = now or datetime.now(timezone.utc)
        lease = self.storage.lease(LEASE_NAME) or {}
        rows = []
        for spec in self.specs.values():
            next_run = None
            if self._main is not None:
                job = self._main.get_job(spec.id)
                next_run = job.next_run_time if job else None
            if next_run is None:
                next_run = spec.trigger.get_next_fire_time(None, now)
            rows.append({"job_id": spec.id, "title": spec.title, "trigger": str(spec.trigger),
                         "next_run": next_run, "leader": lease.get("holder")})
        return pd.DataFrame(rows)


def start_scheduler(storage: Storage, app: AppSettings | None = None, ml: MLSettings | None = None) -> SchedulerRunner | None:
    """The process's runner, started once (later calls return the same one); None when disabled."""
    global _RUNNER
    app = app or get_app_settings()
    if not app.scheduler_enabled:
        return None
    with _RUNNER_LOCK:
        if _RUNNER is None:
            _RUNNER = SchedulerRunner(storage, app, ml).start()
        return _RUNNER


def stop_scheduler() -> None:
    global _RUNNER
    with _RUNNER_LOCK:
        if _RUNNER is not None:
            _RUNNER.shutdown()
            _RUNNER = None
