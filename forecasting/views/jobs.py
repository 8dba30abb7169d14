"""The jobs page: every scheduled job with its next run and recent runs, who leads the scheduler, Run now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from ..core.config import get_app_settings, get_settings
from ..ops.jobs import allowed_tenants
from ..ops.runs import recent_runs, stalled_runs
from ..ops.scheduler import LEASE_NAME, job_specs, start_manual_run
from ..services.locks import process_holder
from ..services.tenants import list_tenants
from ..storage import Storage
from ..storage.base import stored_moment

__all__ = ["JOBS_REFRESH_IDLE", "JOBS_REFRESH_RUNNING", "JobStart", "JobStatus", "JobsView", "jobs_view",
           "run_job_now"]


# --- scheduled jobs ----------------------------------------------------------------------------

#: Seconds between refreshes of the Jobs page while a run is in progress, and while none is.
JOBS_REFRESH_RUNNING = 2.0
JOBS_REFRESH_IDLE = 30.0
#: Runs listed per job, newest first.
JOB_RUNS_SHOWN = 10
#: Jobs that report one unit of progress per tenant; the others report a single step.
PER_TENANT_JOBS = frozenset({"retrain_all", "refresh_features", "daily_notifications", "check_notification_rules"})
RUN_COLUMNS = ["job_id", "status", "state", "trigger", "holder", "started_at", "finished_at", "seconds",
               "tenants_done", "tenants_failed", "error"]


@dataclass(frozen=True)
class JobStatus:
    """One scheduled job: its schedule, its recent runs and the run in progress.

    `title` is the engine's English title (the UI's fallback). `trigger` is
    the APScheduler trigger (`forecasting.ui.schedule.describe_trigger`
    says it in words); `next_run` is UTC. `runs` are the last runs, newest
    first, with RUN_COLUMNS: `state` is the recorded status, except
    "stalled" for a run still marked running whose heartbeat stopped (its
    process died and no leader has marked it interrupted yet); `seconds` is
    the run's length so far. `total` is how many tenants a per-tenant run
    works through (for a progress bar), None for single-step jobs.
    """

    job_id: str
    title: str
    trigger: Any
    next_run: datetime | None
    runs: pd.DataFrame
    total: int | None = None

    @property
    def running(self) -> dict[str, Any] | None:
        """The run in progress (a live heartbeat), or None."""
        live = self.runs[self.runs["state"] == "running"]
        return None if live.empty else live.iloc[0].to_dict()

    @property
    def last_finished(self) -> dict[str, Any] | None:
        """The newest run that is over (any outcome, stalled included), or None."""
        over = self.runs[self.runs["state"] != "running"]
        return None if over.empty else over.iloc[0].to_dict()


@dataclass(frozen=True)
class JobsView:
    """Everything the Jobs page shows, read at `now` (UTC).

    `enabled`: SCHEDULER_ENABLED in this process; `leading`: this process
    holds the scheduler lease and runs the schedule. The leader is the
    `scheduler` lease: `leader` its holder (None when nobody ever took it),
    `leader_is_us` when that is this process, `lease_expires` when it lapses
    unless renewed (an expired lease means no process is leading now).
    """

    jobs: list[JobStatus]
    enabled: bool
    leading: bool
    timezone: str
    holder: str
    leader: str | None
    leader_is_us: bool
    lease_expires: datetime | None
    now: datetime

    @property
    def lease_active(self) -> bool:
        return self.lease_expires is not None and self.lease_expires > self.now

    @property
    def running_ids(self) -> frozenset[str]:
        return frozenset(job.job_id for job in self.jobs if job.running is not None)


def _run_frame(runs: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """`job_runs` rows -> RUN_COLUMNS (UTC timestamps, derived `state` and `seconds`)."""
    frame = runs.reindex(columns=[c for c in RUN_COLUMNS if c not in ("state", "seconds")]).copy()
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["state"] = frame["status"].where(~stalled_runs(runs, now), "stalled")
    end = frame["finished_at"].where(frame["status"] != "running", pd.Timestamp(now))
    frame["seconds"] = (end - frame["started_at"]).dt.total_seconds()
    for column in ("tenants_done", "tenants_failed"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype(int)
    frame["error"] = frame["error"].where(frame["error"].notna(), None)
    return frame[RUN_COLUMNS].reset_index(drop=True)


def _job_total(storage: Storage, job_id: str) -> int | None:
    """How many tenants a run of `job_id` works through (what its `tenants_done + tenants_failed` reaches)."""
    if job_id not in PER_TENANT_JOBS:
        return None
    if job_id == "retrain_all":
        return len(allowed_tenants(storage, get_settings()))
    return len(list_tenants(storage))


def jobs_view(storage: Storage, runner: Any = None, *, runs: int = JOB_RUNS_SHOWN,
              now: datetime | None = None) -> JobsView:
    """Every scheduled job with its next run and last `runs` runs, plus who leads the scheduler.

    `runner` is this process's `SchedulerRunner`, or None when the scheduler
    is off here: next run times then come from the triggers themselves
    (what a leader elsewhere computes too). Raises ConfigError for an invalid
    schedule (ML_RETRAIN_CRON) and StorageError when the database can't be read.
    """
    now = now or datetime.now(timezone.utc)
    app = get_app_settings()
    if runner is not None:
        specs = list(runner.specs.values())
        status = runner.status(now)
        next_runs = dict(zip(status["job_id"], status["next_run"], strict=True))
        holder, leading = runner.holder, bool(runner.leading)
    else:
        specs = job_specs(app)
        next_runs = {spec.id: spec.trigger.get_next_fire_time(None, now) for spec in specs}
        holder, leading = process_holder(), False
    jobs = []
    for spec in specs:
        frame = _run_frame(recent_runs(storage, spec.id, limit=runs), now)
        in_progress = (frame["state"] == "running").any()
        jobs.append(JobStatus(spec.id, spec.title, spec.trigger, next_runs.get(spec.id), frame,
                              _job_total(storage, spec.id) if in_progress else None))
    lease = storage.lease(LEASE_NAME) or {}
    return JobsView(
        jobs=jobs, enabled=app.scheduler_enabled, leading=leading, timezone=app.scheduler_timezone, holder=holder,
        leader=lease.get("holder"), leader_is_us=lease.get("holder") == holder,
        lease_expires=stored_moment(lease.get("expires_at")), now=now,
    )


@dataclass(frozen=True)
class JobStart:
    """What a Run now click did: `started`, or not because the job was already running.

    `run` is the job's run in progress (the one just started, or the one
    that was already going) as a `job_runs` row, or the finished run when
    the job was over before the page looked; None when its row was not
    written yet.
    """

    job_id: str
    started: bool
    run: dict[str, Any] | None


def run_job_now(storage: Storage, job_id: str, runner: Any = None, *, wait_seconds: float = 3.0) -> JobStart:
    """Run now: `scheduler.start_manual_run`, which starts `job_id` in a background thread as a manual run.

    A job with a run in progress (a live `running` row, or a thread this
    process started that has not written its row yet) is not started twice:
    `started` is then False and `run` the run in progress. Waits up to
    `wait_seconds` for the new run's row so the page that redraws next shows
    it. Raises ConfigError for an unknown job and StorageError when job_runs
    can't be read.
    """
    start = start_manual_run(storage, job_id, runner, wait_seconds=wait_seconds)
    run = None if start.run is None else _run_frame(pd.DataFrame([start.run]), datetime.now(timezone.utc))
    return JobStart(job_id, start.started, None if run is None else run.iloc[0].to_dict())
