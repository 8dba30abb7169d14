"""The scheduler really fires, runs each due job once across processes, and records every run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from forecasting.core.config import AppSettings, MLSettings
from forecasting.ops.runs import execute_job, mark_interrupted_runs, recent_runs
from forecasting.ops.scheduler import SchedulerRunner, job_specs, last_due
from forecasting.storage import SQLStorage
from tests.support.scheduler_probe import PROBE_TABLE
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
FAST_APP = AppSettings(health_check_seconds=1, scheduler_lease_seconds=3, rules_check_seconds=86400,
                       feature_refresh_seconds=86400)


def scheduled_runs(storage, job_id="health_check"):
    runs = recent_runs(storage, job_id, limit=1000)
    return runs[runs["trigger"] == "schedule"]


def test_a_one_second_job_fires_in_a_live_scheduler(storage):
    runner = SchedulerRunner(storage, FAST_APP, MLSettings(), holder="test-runner").start()
    try:
        wait_for(lambda: len(scheduled_runs(storage)) >= 2)
        runs = scheduled_runs(storage)
        assert (runs["status"] == "success").all() and (runs["holder"] == "test-runner").all()
        assert storage.lease("scheduler")["holder"] == "test-runner"
        status = runner.status()
        assert set(status["job_id"]) == {s.id for s in job_specs(FAST_APP, MLSettings())}
        assert status["next_run"].notna().all() and (status["leader"] == "test-runner").all()
    finally:
        runner.shutdown()
    assert storage.lease("scheduler") is None


def test_the_same_due_time_runs_once_whoever_claims_it(storage):
    due = datetime(2026, 3, 1, 2, tzinfo=timezone.utc)
    results = []
    threads = [threading.Thread(target=lambda h=h: results.append(
        execute_job(storage, "health_check", scheduled_for=due, holder=h))) for h in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r is not None for r in results) == 1
    runs = recent_runs(storage, "health_check")
    assert len(runs) == 1 and runs["status"].iloc[0] == "success"


def probe_database(backend: str, tmp_path, request):
    """A database for the probe processes: the storage this test reads it with, the environment
    that points a process at it, and how to count the probe's executions."""
    if backend == "sqlite":
        db = tmp_path / "shared.db"
        storage, env = SQLStorage.sqlite_file(db), {"FORECASTING_DB_PATH": str(db)}
    elif backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        storage, env = SQLStorage(url), {"DATABASE_URL": url}
    else:
        from forecasting.storage.supabase_rest import SupabaseRestStorage

        server = request.getfixturevalue("rest_server")
        storage = SupabaseRestStorage(server.url, server.service_key)
        env = {"SUPABASE_URL": server.url, "SUPABASE_SERVICE_ROLE_KEY": server.service_key}
    ddl = f"create table {PROBE_TABLE} (holder text not null, executed_at text not null)"  # no unique key
    if backend == "supabase":
        with psycopg.connect(server.stand_in.dsn, autocommit=True) as conn:
            conn.execute(ddl)
            conn.execute(f"grant all on {PROBE_TABLE} to service_role")

        def executions() -> int:
            with psycopg.connect(server.stand_in.dsn) as conn:
                return conn.execute(f"select count(*) from {PROBE_TABLE}").fetchone()[0]
    else:
        with storage.engine.begin() as conn:
            conn.exec_driver_sql(ddl)

        def executions() -> int:
            with storage.engine.connect() as conn:
                return conn.exec_driver_sql(f"select count(*) from {PROBE_TABLE}").scalar_one()
    return storage, env, executions


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "supabase"])
def test_two_processes_on_one_database_run_each_due_time_exactly_once(tmp_path, request, backend):
    """Measured, not inferred from the unique key: the probe job appends a row to a table without
    one each time it really runs. Two processes start together; the first stops after 5 s, so
    the leadership changes hands while due times keep coming every second."""
    storage, database_env, executions = probe_database(backend, tmp_path, request)
    env = {**os.environ, **database_env, "HEALTH_CHECK_SECONDS": "86400", "SCHEDULER_LEASE_SECONDS": "3",
           "RULES_CHECK_SECONDS": "86400", "FEATURE_REFRESH_SECONDS": "86400", "LOG_LEVEL": "WARNING"}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.scheduler_probe", seconds], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seconds in ("5", "9")]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    holders = {out.split("running as ")[1].strip() for out, _ in outputs}
    runs = scheduled_runs(storage, "probe")
    assert len(runs) >= 4, outputs
    assert (runs["status"] == "success").all() and set(runs["holder"]) <= holders
    assert executions() == runs["scheduled_for"].nunique() == len(runs)
    # one leader at a time: the holder changes at most once
    ordered = runs.sort_values("scheduled_for")["holder"].tolist()
    assert sum(a != b for a, b in zip(ordered, ordered[1:])) <= 1
    storage.close()


def test_missed_runs_after_downtime_are_coalesced_into_one(storage):
    """Due times missed while no scheduler ran are served by one run, of the latest of them."""
    app = AppSettings(health_check_seconds=2, scheduler_lease_seconds=3, rules_check_seconds=86400,
                      feature_refresh_seconds=86400)
    every = timedelta(seconds=2)
    trigger = next(s.trigger for s in job_specs(app, MLSettings()) if s.id == "health_check")
    first = SchedulerRunner(storage, app, MLSettings(), holder="first").start()
    wait_for(lambda: len(scheduled_runs(storage)) >= 1)
    first.shutdown()

    def three_due_times_missed():  # re-read each time: a run the first runner had begun counts as served
        latest = scheduled_runs(storage)["scheduled_for"].max()
        return latest if last_due(trigger, datetime.now(timezone.utc)) >= latest + 3 * every else None

    last_served = wait_for(three_due_times_missed, what="three due times to pass with nobody running")
    restart = datetime.now(timezone.utc)
    missed = set(pd.date_range(last_served + every, last_due(trigger, restart), freq=every))
    assert len(missed) >= 3
    second = SchedulerRunner(storage, app, MLSettings(), holder="second").start()
    try:
        wait_for(lambda: (scheduled_runs(storage)["holder"] == "second").any())
    finally:
        second.shutdown()
    runs = scheduled_runs(storage)
    catch_up = runs[runs["holder"] == "second"].sort_values("started_at").iloc[0]
    assert catch_up["scheduled_for"] >= max(missed)  # the latest due time, not the oldest one missed
    assert len(missed & set(runs["scheduled_for"])) <= 1  # never one run per missed due time


def test_runs_of_a_dead_process_are_marked_interrupted(storage):
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    storage.insert_if_absent("job_runs", None, {"job_id": "retrain_all", "scheduled_for": old, "holder": "dead:1",
                                                "status": "running", "started_at": old, "heartbeat_at": old})
    fresh = datetime.now(timezone.utc)
    storage.insert_if_absent("job_runs", None, {"job_id": "retrain_all", "scheduled_for": fresh, "holder": "alive:2",
                                                "status": "running", "started_at": fresh, "heartbeat_at": fresh})
    assert mark_interrupted_runs(storage) == 1
    runs = recent_runs(storage, "retrain_all").set_index("holder")
    assert runs.loc["dead:1", "status"] == "interrupted" and "stopped" in runs.loc["dead:1", "error"]
    assert runs.loc["alive:2", "status"] == "running"


def test_last_due_for_interval_and_cron():
    specs = {s.id: s for s in job_specs(AppSettings(), MLSettings())}
    now = datetime(2026, 11, 26, 10, 17, 3, tzinfo=timezone.utc)  # a Thursday
    assert last_due(specs["health_check"].trigger, now) == datetime(2026, 11, 26, 10, 15, tzinfo=timezone.utc)
    assert last_due(specs["retrain_all"].trigger, now) == datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    assert last_due(specs["daily_notifications"].trigger, now) == datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)


def test_a_failing_job_is_recorded_with_its_error(tmp_path):
    broken = SQLStorage(f"sqlite:///{tmp_path}/ok.db")
    recorded = execute_job(broken, "cleanup_notifications", scheduled_for=datetime.now(timezone.utc),
                           settings=MLSettings(), now="not a date")  # type: ignore[arg-type]
    assert recorded["status"] == "failed" and "TypeError" in recorded["error"]
    assert recent_runs(broken, "cleanup_notifications")["status"].tolist() == ["failed"]


@pytest.mark.parametrize("expression,fires", [
    ("0 2 * * 1", [datetime(2026, 11, 30, 2, tzinfo=timezone.utc)]),             # Monday, as crontab means it
    ("30 8 * * 0", [datetime(2026, 11, 29, 8, 30, tzinfo=timezone.utc)]),        # Sunday
    ("0 9 * * 1-5", [datetime(2026, 11, 27, 9, tzinfo=timezone.utc), datetime(2026, 11, 30, 9, tzinfo=timezone.utc)]),
])
def test_crontab_weekdays_mean_what_crontab_says(expression, fires):
    from forecasting.ops.scheduler import crontab_trigger

    trigger = crontab_trigger(expression, "UTC")
    now = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)  # Thursday noon
    seen, fire = [], trigger.get_next_fire_time(None, now)
    for _ in fires:
        seen.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    assert seen == fires


def test_invalid_cron_names_the_setting():
    from forecasting.core.errors import ConfigError

    with pytest.raises(ConfigError, match="ML_RETRAIN_CRON"):
        job_specs(AppSettings(), MLSettings(retrain_cron="every monday"))


def test_a_job_runs_once_at_a_time_across_processes(storage, tmp_path, capsys):
    """Another process's run in progress (its live `job:<id>` lease): no second run, scheduled or manual."""
    from forecasting.cli import main
    from forecasting.services.locks import BusyError

    elsewhere = "otherhost:4242:abcdef"  # a process on another host: nothing here can tell it died
    assert storage.acquire_lease("job:health_check", elsewhere, ttl_seconds=600)
    due = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
    assert execute_job(storage, "health_check", scheduled_for=due) is None
    with pytest.raises(BusyError, match=r"job health_check is already running since .* \(by otherhost:4242"):
        execute_job(storage, "health_check", scheduled_for=due + timedelta(minutes=1), trigger="manual")
    assert storage.select("job_runs", None).empty  # neither was even claimed

    db = tmp_path / "cli.db"
    other = SQLStorage.sqlite_file(db)
    other.acquire_lease("job:health_check", elsewhere, ttl_seconds=600)
    assert main(["--db", str(db), "-q", "run-job", "health_check"]) == 2
    assert "already running" in capsys.readouterr().err
    other.release_lease("job:health_check", elsewhere)
    assert main(["--db", str(db), "-q", "run-job", "health_check"]) == 0
    assert other.lease("job:health_check") is None  # released after the run
    other.close()

    storage.release_lease("job:health_check", elsewhere)
    run = execute_job(storage, "health_check", scheduled_for=due)
    assert run["status"] == "success"


def test_a_job_lease_left_by_a_dead_process_is_taken_over(storage):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    holder = f"{socket.gethostname()}:{dead.stdout.strip()}:abcdef"
    assert storage.acquire_lease("job:health_check", holder, ttl_seconds=600)
    run = execute_job(storage, "health_check", scheduled_for=datetime(2026, 11, 26, 10, tzinfo=timezone.utc))
    assert run["status"] == "success"


# --- Run now --------------------------------------------------------------------------------------


def test_a_manual_run_on_its_way_is_not_started_twice_even_before_its_row_exists(storage, monkeypatch):
    from forecasting.ops import scheduler

    release = threading.Event()
    real = scheduler.execute_job

    def slow_to_claim(*args, **kwargs):
        assert release.wait(timeout=60), "never released"
        return real(*args, **kwargs)

    monkeypatch.setattr(scheduler, "execute_job", slow_to_claim)
    first = scheduler.start_manual_run(storage, "health_check", wait_seconds=0.1)
    assert first.started and first.run is None  # the thread is on its way, its row not written yet
    thread = scheduler.manual_run_thread(storage, "health_check")
    assert thread is not None and thread.is_alive()
    again = scheduler.start_manual_run(storage, "health_check", wait_seconds=0.1)
    assert not again.started and again.run is None and scheduler.manual_run_thread(storage, "health_check") is thread
    release.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    runs = recent_runs(storage, "health_check")
    assert list(runs["trigger"]) == ["manual"] and list(runs["status"]) == ["success"]
    third = scheduler.start_manual_run(storage, "health_check")  # over: a new click starts a new run
    assert third.started and scheduler.manual_run_thread(storage, "health_check") is not thread
    scheduler.manual_run_thread(storage, "health_check").join(timeout=60)
    assert len(recent_runs(storage, "health_check")) == 2


def test_a_live_run_elsewhere_refuses_run_now_and_a_stalled_one_does_not(storage):
    from forecasting.ops.runs import STALE_RUN_SECONDS, live_run
    from forecasting.ops.scheduler import manual_run_thread, start_manual_run

    now = datetime.now(timezone.utc)
    storage.insert_if_absent("job_runs", None, {
        "job_id": "health_check", "scheduled_for": now, "trigger": "schedule", "holder": "elsewhere:1:abc",
        "status": "running", "started_at": now, "heartbeat_at": now, "tenants_done": 0, "tenants_failed": 0})
    refused = start_manual_run(storage, "health_check")
    assert not refused.started and refused.run["holder"] == "elsewhere:1:abc"
    assert manual_run_thread(storage, "health_check") is None  # nothing was started
    # The same run an hour later: its heartbeat stopped, so it no longer counts as running.
    later = now + timedelta(seconds=STALE_RUN_SECONDS + 1)
    assert live_run(storage, "health_check", now=later) is None and live_run(storage, "health_check") is not None
    old = now - timedelta(seconds=STALE_RUN_SECONDS + 1)
    storage.update("job_runs", None, {"started_at": old, "heartbeat_at": old},
                   where={"job_id": "health_check", "scheduled_for": now})
    started = start_manual_run(storage, "health_check")
    assert started.started
    manual_run_thread(storage, "health_check").join(timeout=60)
    assert "success" in set(recent_runs(storage, "health_check")["status"])


def test_run_now_refuses_an_unknown_job(storage):
    from forecasting.core.errors import ConfigError
    from forecasting.ops.scheduler import start_manual_run

    with pytest.raises(ConfigError, match="unknown job"):
        start_manual_run(storage, "make_coffee")
