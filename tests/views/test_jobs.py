"""The jobs page's data (`forecasting.views.jobs`): schedules in words, runs, the leader, Run now."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from forecasting.core.errors import ConfigError
from forecasting.i18n.catalog import t
from forecasting.i18n.formatting import Formatter
from forecasting.ui import tables
from forecasting.ui.schedule import describe_interval, describe_trigger
from forecasting.views import jobs


def _wait_until_finished(storage, job_id: str, seconds: float = 30.0) -> pd.DataFrame:
    """The job's runs once none is `running` any more (bounded wait for the background thread)."""
    deadline = time.monotonic() + seconds
    while True:
        runs = storage.select("job_runs", None, where={"job_id": job_id})
        if len(runs) and (runs["status"] != "running").all():
            return runs
        assert time.monotonic() < deadline, f"{job_id} still running after {seconds} s"
        time.sleep(0.05)


def test_trigger_formatter_says_the_schedule_in_words():
    from forecasting.ops.scheduler import crontab_trigger, job_specs

    english = {spec.id: describe_trigger(spec.trigger, "en") for spec in job_specs()}
    assert english["health_check"] == "every 5 minutes" and english["refresh_features"] == "every hour"
    assert english["retrain_all"] == "Mondays at 02:00" and english["daily_notifications"] == "daily at 08:00"
    spanish = {spec.id: describe_trigger(spec.trigger, "es") for spec in job_specs()}
    assert spanish["retrain_all"] == "los lunes a las 02:00" and spanish["health_check"] == "cada 5 minutos"

    def say(expression: str, lang: str = "en") -> str:
        return describe_trigger(crontab_trigger(expression, "Europe/Madrid"), lang)

    assert say("0 2 * * 1-5") == "Monday to Friday at 02:00"
    assert say("0 2 * * 1-5", "es") == "de lunes a viernes a las 02:00"
    assert say("30 6 * * 1,4") == "Mondays and Thursdays at 06:30"
    assert say("0 1 * * 0", "es") == "los domingos a la 01:00"  # "a la una", not "a las"
    assert say("0 8,20 * * *") == "daily at 08:00 and 20:00"
    assert say("*/15 * * * *") == "every 15 minutes" and say("5 * * * *") == "every hour at :05"
    assert say("0 3 1 * *", "es") == "el día 1 de cada mes a las 03:00"
    assert say("*/15 8-18 * * 1-5") == "on the cron schedule `*/15 8-18 * * mon-fri`"  # no sentence: the crontab
    assert describe_interval(timedelta(seconds=90), "en") == "every 90 seconds"
    assert describe_interval(timedelta(days=2), "es") == "cada 2 días"


def test_trigger_times_are_the_scheduler_time_zone(monkeypatch):
    from forecasting.core.config import reset_settings
    from forecasting.ops.scheduler import job_specs

    monkeypatch.setenv("SCHEDULER_TIMEZONE", "America/Mexico_City")
    reset_settings()
    spec = next(spec for spec in job_specs() if spec.id == "daily_notifications")
    assert describe_trigger(spec.trigger, "en") == "daily at 08:00"  # 08:00 on Mexico City's clock
    assert spec.trigger.get_next_fire_time(None, datetime.now(timezone.utc)).utcoffset() == timedelta(hours=-6)


def test_run_durations_and_relative_times_read_naturally():
    fmt = Formatter("en", timezone="Europe/Madrid")
    assert fmt.duration(0.42) == "0.4\u00a0s" and fmt.duration(75) == "1\u00a0min 15\u00a0s"
    assert fmt.duration(3725) == "1\u00a0h 02\u00a0min" and fmt.duration(None) == "—"
    now = datetime(2026, 5, 14, 12, 0, tzinfo=timezone.utc)
    assert fmt.relative(now + timedelta(minutes=3), now) == "in 3 minutes"
    assert Formatter("es").relative(now - timedelta(seconds=40), now) == "hace 40 segundos"
    assert fmt.moment(now) == "May 14, 14:00:00"  # Madrid's clock, no year


def test_jobs_view_lists_every_job_with_its_next_run_and_no_leader(writable):
    from forecasting.ops.scheduler import job_specs

    view = jobs.jobs_view(writable)
    assert [job.job_id for job in view.jobs] == [spec.id for spec in job_specs()]
    assert all(job.next_run > view.now and job.runs.empty and job.running is None for job in view.jobs)
    assert view.leader is None and not view.lease_active and not view.leading and not view.running_ids


def test_run_now_records_a_manual_run_and_the_leader_shows(writable):
    start = jobs.run_job_now(writable, "health_check")
    assert start.started
    runs = _wait_until_finished(writable, "health_check")
    assert list(runs["trigger"]) == ["manual"] and list(runs["status"]) == ["success"]
    writable.acquire_lease("scheduler", "another-host:42:abcdef", 30)
    view = jobs.jobs_view(writable)
    job = next(job for job in view.jobs if job.job_id == "health_check")
    assert job.last_finished["state"] == "success" and job.last_finished["seconds"] >= 0
    assert view.leader == "another-host:42:abcdef" and view.lease_active and not view.leader_is_us


def test_a_running_job_is_not_started_twice_and_a_dead_one_does_not_block(writable):
    now = datetime.now(timezone.utc)
    writable.insert_if_absent("job_runs", None, {
        "job_id": "retrain_all", "scheduled_for": now, "trigger": "schedule", "holder": "elsewhere:1:abc",
        "status": "running", "started_at": now, "heartbeat_at": now, "tenants_done": 1, "tenants_failed": 0})
    start = jobs.run_job_now(writable, "retrain_all")
    assert not start.started and start.run["holder"] == "elsewhere:1:abc"
    view = jobs.jobs_view(writable)
    job = next(job for job in view.jobs if job.job_id == "retrain_all")
    assert view.running_ids == {"retrain_all"}
    assert job.running["tenants_done"] == 1 and job.total == 4  # every tenant is allowed (ML_TENANT_IDS=*)
    # A run whose process died keeps its `running` row until a leader marks it; it shows as stalled, blocks nothing.
    later = jobs.jobs_view(writable, now=now + timedelta(hours=1))
    assert later.running_ids == frozenset()
    stalled = next(job for job in later.jobs if job.job_id == "retrain_all")
    assert stalled.running is None and stalled.last_finished["state"] == "stalled"


def test_unknown_job_is_a_config_error(writable):
    with pytest.raises(ConfigError, match="unknown job"):
        jobs.run_job_now(writable, "make_coffee")


def test_job_runs_table_names_this_process_and_states_in_words(writable):
    jobs.run_job_now(writable, "health_check")
    runs = _wait_until_finished(writable, "health_check")
    # How long the check really took depends on the machine; give the run known times instead.
    started = datetime(2026, 5, 14, 12, 0, tzinfo=timezone.utc)
    writable.update("job_runs", None, {"started_at": started, "finished_at": started + timedelta(seconds=75.4)},
                    where={"job_id": "health_check", "scheduled_for": runs["scheduled_for"].iloc[0]})
    # An earlier scheduled run by another process that took 30 ms.
    earlier = started - timedelta(hours=1)
    writable.insert_if_absent("job_runs", None, {
        "job_id": "health_check", "scheduled_for": earlier, "trigger": "schedule", "holder": "elsewhere:1:abc",
        "status": "success", "started_at": earlier, "heartbeat_at": earlier,
        "finished_at": earlier + timedelta(seconds=0.03), "tenants_done": 0, "tenants_failed": 0})
    view = jobs.jobs_view(writable, now=started + timedelta(minutes=5))
    job = next(job for job in view.jobs if job.job_id == "health_check")
    assert list(job.runs["seconds"]) == pytest.approx([75.4, 0.03])  # newest first
    fmt = Formatter("es", timezone="Europe/Madrid")
    styled = tables.job_runs_table(job.runs, fmt, view.holder)
    manual, scheduled = styled.data.iloc[0], styled.data.iloc[1]
    assert manual["Estado"] == "Correcta" and manual["Origen"] == "manual" and manual["Proceso"] == "este proceso"
    assert manual["Inicio"] == "14 may, 14:00:00" == fmt.moment(started)  # Madrid's clock (UTC+2 in May)
    assert manual["Duración"] == "1\u00a0min 15\u00a0s"
    assert scheduled["Origen"] == t("jobs.trigger.schedule", "es") and scheduled["Proceso"] == "elsewhere:1:abc"
    assert scheduled["Duración"] == "<\u00a00,1\u00a0s"  # milliseconds don't read as "0,0 s"
    assert tables.RUN_STATE_COLORS["success"] in styled.to_html()


def test_views_start_no_threads_run_now_is_the_schedulers():
    """Run now's threads (and the bookkeeping of runs on their way) live in `forecasting.ops.scheduler`."""
    import ast
    from pathlib import Path

    import forecasting.views

    for path in Path(forecasting.views.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"threading", "concurrent.futures", "multiprocessing"}, path.name
