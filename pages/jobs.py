"""Scheduled jobs: when each runs, which process runs the schedule, how the last runs went; Run now with progress.

Deployment-wide, so no business needs to be chosen. The jobs panel is a
fragment that redraws itself every few seconds while a run is in progress
(slowly otherwise), so progress and outcomes show without a click.
"""

import time

import streamlit as st

from forecasting.i18n.catalog import md, t
from forecasting.i18n.formatting import Formatter
from forecasting.ui import tables
from forecasting.ui.schedule import describe_trigger
from forecasting.views import jobs
from pages import _shared as shared

#: How long the outcome of a Run now click stays on the page.
FLASH_SECONDS = 10
BADGES = {"success": ("green", ":material/check_circle:"), "partial": ("orange", ":material/warning:"),
          "failed": ("red", ":material/error:"), "running": ("blue", ":material/progress_activity:"),
          "interrupted": ("gray", ":material/block:"), "stalled": ("violet", ":material/heart_broken:")}
lang = shared.language()
user = shared.current_user(lang)
st.title(md("jobs.title", lang))
if not user.may_view_jobs:  # deployment-wide: not for a business owner, whatever the URL
    st.info(md("auth.jobs_forbidden", lang), icon=":material/lock:")
    st.stop()

# Whether a run was in progress when the panel last looked: it sets the refresh rate, which only a full
# run can change, so the panel asks for one whenever that flips.
busy = st.session_state.get("jobs_busy", False)


def status_box(column, label: str, value: str, detail: str | None = None) -> None:
    with column.container(border=True, height="stretch"):
        st.caption(label)
        st.markdown(f"**{value}**")
        if detail:
            st.caption(detail)


def flash(job: jobs.JobStatus, view: jobs.JobsView, fmt: Formatter) -> None:
    """What the last Run now click on this job did: a toast for a start, a note for FLASH_SECONDS otherwise."""
    key = shared.job_flash_key(job.job_id)
    stored = st.session_state.get(key)
    if not stored or time.monotonic() - stored[1] > FLASH_SECONDS:
        return
    outcome = stored[0]
    if isinstance(outcome, jobs.JobStart) and outcome.started:
        # The card itself shows the run from now on; a note would outlive the run it announces.
        del st.session_state[key]
        st.toast(md("jobs.started_toast", lang, job=t(f"job.{job.job_id}", lang, default=job.title)),
                 icon=":material/play_circle:")
    elif not isinstance(outcome, jobs.JobStart):
        shared.show_error(outcome, lang)
    elif outcome.run is None:
        st.info(md("jobs.already_starting", lang), icon=":material/hourglass_top:")
    else:
        holder = outcome.run["holder"]
        st.info(md("jobs.already_running", lang, time=fmt.moment(outcome.run["started_at"]),
                  holder=t("jobs.this_process", lang) if holder == view.holder else holder),
                icon=":material/hourglass_top:")


def last_outcome(job: jobs.JobStatus, fmt: Formatter) -> None:
    """The last finished run's trouble in words (nothing when it went well)."""
    last = job.last_finished
    if last is None or last["state"] == "success":
        return
    when = fmt.moment(last["finished_at"] if last["finished_at"] is not None else last["started_at"])
    error = last["error"] or md("jobs.no_error_text", lang)
    if last["state"] == "failed":
        st.error(md("jobs.last_failed", lang, when=when, error=error), icon=":material/error:")
    elif last["state"] == "partial":
        st.warning(md("jobs.last_partial", lang, n=last["tenants_failed"], when=when, failed=last["tenants_failed"], error=error),
                   icon=":material/warning:")
    elif last["state"] == "interrupted":
        st.warning(md("jobs.last_interrupted", lang, when=when, error=error), icon=":material/warning:")
    elif last["state"] == "stalled":
        st.warning(md("jobs.last_stalled", lang, when=when), icon=":material/heart_broken:")


def job_card(job: jobs.JobStatus, view: jobs.JobsView, fmt: Formatter) -> None:
    running = job.running
    with st.container(border=True, key=f"job_{job.job_id}"):
        about, last_col, action = st.columns([5, 3, 1.8], vertical_alignment="center")
        about.markdown(f"**{md(f'job.{job.job_id}', lang, default=job.title)}** &nbsp; `{job.job_id}`",
                       help=md(f"job.{job.job_id}.help", lang, default=job.title))
        trigger = describe_trigger(job.trigger, lang)
        about.caption(md("jobs.schedule", lang, trigger=trigger, when=fmt.moment(job.next_run, seconds=False),
                        relative=fmt.relative(job.next_run, view.now)) if job.next_run is not None
                      else md("jobs.schedule_no_next", lang, trigger=trigger))
        shown = running or job.last_finished
        if shown is None:
            last_col.caption(md("jobs.never_ran", lang))
        else:
            color, icon = BADGES.get(shown["state"], ("gray", ":material/help:"))
            last_col.markdown(f":{color}-badge[{icon} {tables.run_state_label(shown['state'], lang)}]")
            last_col.caption(md("jobs.last_run", lang, when=fmt.moment(shown["started_at"]),
                               trigger=t(f"jobs.trigger.{shown['trigger']}", lang, default=shown["trigger"]),
                               duration=fmt.duration(shown["seconds"])))
        action.button(md("jobs.running_button" if running else "jobs.run_now", lang), key=f"run_now_{job.job_id}",
                      icon=":material/hourglass_top:" if running else ":material/play_arrow:",
                      disabled=running is not None or not user.may_run_jobs, width="stretch",
                      help=md("jobs.run_now_help" if user.may_run_jobs else "auth.admins_only", lang),
                      on_click=shared.on_run_now, args=(job.job_id,))
        flash(job, view, fmt)
        if running is not None:
            done, failed = running["tenants_done"], running["tenants_failed"]
            duration = fmt.duration(running["seconds"])
            if job.total:
                st.progress(min((done + failed) / job.total, 1.0),
                            text=md("jobs.progress", lang, n=job.total, done=done, failed=failed, total=job.total,
                                   duration=duration))
            else:
                st.caption(md("jobs.progress_single", lang, duration=duration))
        else:
            last_outcome(job, fmt)
        if len(job.runs):
            with st.expander(md("jobs.runs", lang) + f" ({len(job.runs)})"):
                st.dataframe(tables.job_runs_table(job.runs, fmt, view.holder), hide_index=True, width="stretch")


@st.fragment(run_every=jobs.JOBS_REFRESH_RUNNING if busy else jobs.JOBS_REFRESH_IDLE)
def jobs_panel() -> None:
    with shared.friendly_errors(lang):
        if not shared.still_signed_in():
            st.rerun(scope="app")  # the whole page, which asks for sign-in again
        view = jobs.jobs_view(shared.storage(), shared.scheduler_runner())
    if bool(view.running_ids) != busy:
        st.session_state["jobs_busy"] = bool(view.running_ids)
        st.rerun()
    fmt = Formatter(lang=lang, timezone=view.timezone)
    st.caption(md("jobs.caption", lang, timezone=view.timezone))

    here, leader, now_running = st.columns(3)
    if not view.enabled:
        status_box(here, md("jobs.scheduler", lang), md("jobs.scheduler_off", lang),
                   md("jobs.scheduler_off_help", lang))
    elif view.leading:
        status_box(here, md("jobs.scheduler", lang), md("jobs.scheduler_leading", lang),
                   md("jobs.scheduler_leading_help", lang))
    else:
        status_box(here, md("jobs.scheduler", lang), md("jobs.scheduler_standby", lang),
                   md("jobs.scheduler_standby_help", lang))
    if view.leader is None or not view.lease_active:
        expired = md("jobs.lease_expired", lang, holder=view.leader,
                    relative=fmt.relative(view.lease_expires, view.now)) + " " if view.leader else ""
        status_box(leader, md("jobs.leader", lang), md("jobs.leader_none", lang),
                   expired + md("jobs.leader_none_help", lang))
    else:
        status_box(leader, md("jobs.leader", lang),
                   (md("jobs.leader_us", lang) + f" · `{view.leader}`") if view.leader_is_us else f"`{view.leader}`",
                   md("jobs.lease_until", lang, time=fmt.moment(view.lease_expires),
                     relative=fmt.relative(view.lease_expires, view.now))
                   + ("" if view.leader_is_us else "  \n" + md("jobs.process", lang, holder=view.holder)))
    titles = [md(f"job.{job.job_id}", lang, default=job.title) for job in view.jobs if job.running is not None]
    status_box(now_running, md("jobs.running_now", lang), ", ".join(titles) or md("jobs.running_none", lang),
               md("jobs.running_refresh" if titles else "jobs.idle_refresh", lang,
                 seconds=fmt.number(jobs.JOBS_REFRESH_RUNNING if titles else jobs.JOBS_REFRESH_IDLE)))

    for job in view.jobs:
        job_card(job, view, fmt)


jobs_panel()
