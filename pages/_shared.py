"""Streamlit glue shared by `app.py` and the pages: storage, cached data, the chosen tenant and language, messages.

Only this module, `app.py` and the pages import Streamlit. Every cached
function takes the database, the tenant id and that tenant's freshness
stamp (`forecasting.views.common.freshness`) as its key: cached data is
shared by every user of the process, and an entry is never served after a
retrain, new sales or a settings change, whoever made it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import streamlit as st

from forecasting.core.config import get_app_settings, reset_settings
from forecasting.core.errors import AccessError, ConfigError, DataError, ForecastingError, ModelError, StorageError
from forecasting.i18n.catalog import LANGUAGES, escape_markdown, md, model_label, t
from forecasting.i18n.formatting import Formatter, formatter_for
from forecasting.services import auth
from forecasting.services.locks import BusyError
from forecasting.services.scoring import Scorecard
from forecasting.services.tenants import Tenant
from forecasting.storage import Storage, open_storage
from forecasting.ui import tables
from forecasting.views import anomalies as anomaly_views
from forecasting.views import common
from forecasting.views import comparison as comparison_views
from forecasting.views import forecast as forecast_views
from forecasting.views import jobs as job_views
from forecasting.views import models as model_views
from forecasting.views import overview as overview_views
from forecasting.views import products as product_views
from forecasting.views import settings as settings_views

#: Upper bound on how long a cache entry lives even when nothing changed (the stamp catches changes).
TTL_SECONDS = 3600
#: Pages, by file; app.py registers them and messages link to them.
OVERVIEW, FORECAST, PRODUCTS, CALENDAR, COMPARISON, ANOMALIES, MODELS, NOTIFICATIONS, JOBS = (
    "pages/overview.py", "pages/forecast.py", "pages/products.py", "pages/calendar.py", "pages/comparison.py",
    "pages/anomalies.py", "pages/models.py", "pages/notifications.py", "pages/jobs.py",
)


# --- secrets, storage ------------------------------------------------------------------------


_secrets_applied = False


def load_secrets() -> None:
    """Read `.streamlit/secrets.toml` when there is one.

    Streamlit exposes its root-level keys (DATABASE_URL, SUPABASE_URL, ...)
    as environment variables, where `forecasting.core.config` reads them; the
    settings cache is dropped once so they take effect. Without the file the
    embedded database is used and nothing is needed.
    """
    global _secrets_applied
    if st.secrets.load_if_toml_exists() and not _secrets_applied:
        _secrets_applied = True
        reset_settings()


@st.cache_resource(show_spinner=False)
def _open_storage(database_url: str, db_path: str, supabase_url: str) -> Storage:
    # The arguments only key the cache: one storage (and one connection pool) per configured database.
    return open_storage()


def storage() -> Storage:
    """The configured storage, opened once per process."""
    settings = get_app_settings()
    return _open_storage(settings.database_url, settings.forecasting_db_path, settings.supabase_url)


@st.cache_resource(show_spinner=False)
def _scheduler(database_url: str, db_path: str):
    from forecasting.ops.scheduler import start_scheduler

    # One runner per process; its database lease makes it one per deployment (see forecasting.ops.scheduler).
    return start_scheduler(storage())


def start_scheduler() -> bool:
    """Start the embedded scheduler once per process (unless SCHEDULER_ENABLED is off); True when running."""
    return scheduler_runner() is not None


def scheduler_runner():
    """This process's `SchedulerRunner` (started on first use), or None when SCHEDULER_ENABLED is off here."""
    settings = get_app_settings()
    return _scheduler(settings.database_url, settings.forecasting_db_path)


def db_key() -> str:
    return common.storage_key(storage())


def stamp(tenant_id: str) -> tuple:
    """Freshness of the tenant's data, plus the hour so "today" moves on even when nothing else changes."""
    return (*common.freshness(storage(), tenant_id), datetime.now(timezone.utc).strftime("%Y-%m-%dT%H"))


def status(tenant_id: str) -> tuple[bool, bool]:
    """(has sales, was trained), read off the freshness stamp: no extra query."""
    model_version, last_sale, *_ = common.freshness(storage(), tenant_id)
    return last_sale is not None, model_version is not None


# --- cached data (tenant id in every key) ---------------------------------------------------


@st.cache_data(ttl=60, show_spinner=False)
def _tenants(db: str) -> list[Tenant]:
    return common.tenants(storage())


@st.cache_data(ttl=TTL_SECONDS, max_entries=256, show_spinner=False)
def _overview(db: str, tenant_id: str, key: tuple, lang: str) -> overview_views.Overview:
    return overview_views.overview(storage(), tenant_id, lang=lang)


@st.cache_data(ttl=TTL_SECONDS, max_entries=256, show_spinner=False)
def _scorecard(db: str, tenant_id: str, key: tuple) -> Scorecard:
    return overview_views.scorecard_view(storage(), tenant_id)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _forecast_view(db: str, tenant_id: str, key: tuple, lang: str) -> forecast_views.ForecastView:
    return forecast_views.forecast_view(storage(), tenant_id, lang=lang)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _cv_view(db: str, tenant_id: str, key: tuple, model_version: str | None) -> comparison_views.CVView | None:
    return comparison_views.cv_view(storage(), tenant_id, model_version)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _anomaly_view(db: str, tenant_id: str, key: tuple, lang: str) -> anomaly_views.AnomalyView | None:
    return anomaly_views.anomaly_view(storage(), tenant_id, lang)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _products_view(db: str, tenant_id: str, key: tuple, products_key: tuple) -> product_views.ProductsView:
    return product_views.products_view(storage(), tenant_id)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _model_versions(db: str, tenant_id: str, key: tuple):
    return model_views.model_versions(storage(), tenant_id)


def tenants() -> list[Tenant]:
    return _tenants(db_key())


def overview(tenant_id: str) -> overview_views.Overview:
    return _overview(db_key(), tenant_id, stamp(tenant_id), language())


def all_overviews(user: auth.User) -> list[overview_views.Overview]:
    """The overview of every business `user` may see; one that can't be made is a row saying why."""
    rows = []
    for tenant in visible_tenants(user):
        try:
            rows.append(overview(tenant.id))
        except ForecastingError as exc:
            rows.append(overview_views.Overview.unavailable(tenant, str(exc)))
    return rows


def scorecard(tenant_id: str) -> Scorecard:
    """The tenant's reliability scorecard; a retrain (new forecasts) or new sales move the stamp."""
    return _scorecard(db_key(), tenant_id, stamp(tenant_id))


def forecast_view(tenant_id: str) -> forecast_views.ForecastView:
    return _forecast_view(db_key(), tenant_id, stamp(tenant_id), language())


def cv_view(tenant_id: str, model_version: str | None = None) -> comparison_views.CVView | None:
    return _cv_view(db_key(), tenant_id, stamp(tenant_id), model_version)


def anomaly_view(tenant_id: str) -> anomaly_views.AnomalyView | None:
    return _anomaly_view(db_key(), tenant_id, stamp(tenant_id), language())


def products_view(tenant_id: str) -> product_views.ProductsView:
    """The tenant's products page; a product training, a stock refresh or a saved product setting moves its key."""
    return _products_view(db_key(), tenant_id, stamp(tenant_id), product_views.products_stamp(storage(), tenant_id))


def model_versions(tenant_id: str):
    return _model_versions(db_key(), tenant_id, stamp(tenant_id))


# --- language and tenant ------------------------------------------------------------------


def language() -> str:
    """The UI language: the sidebar switch, else the browser's language when it is Spanish."""
    lang = st.session_state.get("lang")
    if lang in LANGUAGES:
        return lang
    browser = (st.context.locale or "") if hasattr(st, "context") else ""
    return "es" if str(browser).lower().startswith("es") else "en"


def language_switch() -> str:
    default = language()
    choice = st.sidebar.segmented_control(
        "Language · Idioma", options=list(LANGUAGES), format_func=LANGUAGES.get, key="lang",
        default=default, required=True, label_visibility="collapsed",
    )
    return choice or default


def visible_tenants(user: auth.User) -> list[Tenant]:
    """The businesses `user` may see: every one for admins and analysts, their own for an owner."""
    return user.visible(tenants())


def chosen_tenant(user: auth.User) -> Tenant | None:
    """The business in `st.session_state["tenant_id"]` when `user` may see it, else their first one.

    The one gate between a user and a business's data: whatever put an id in
    the session (the picker, a stale value, a crafted request), an id the
    user may not see is replaced, never shown.
    """
    available = visible_tenants(user)
    by_id = {tenant.id: tenant for tenant in available}
    if st.session_state.get("tenant_id") not in by_id:
        # A first visit, the remembered business was deleted, or it is not this user's.
        st.session_state["tenant_id"] = available[0].id if available else None
    return by_id.get(st.session_state["tenant_id"])


def tenant_picker(user: auth.User, lang: str) -> Tenant | None:
    """The sidebar's searchable picker over the businesses `user` may see (`st.session_state["tenant_id"]`)."""
    if chosen_tenant(user) is None:
        return None
    by_id = {tenant.id: tenant for tenant in visible_tenants(user)}
    chosen = st.sidebar.selectbox(
        md("sidebar.tenant", lang), options=list(by_id), key="tenant_id",
        format_func=lambda tenant_id: by_id[tenant_id].nombre, help=md("sidebar.tenant_help", lang),
        disabled=len(by_id) == 1,
    )
    return by_id[chosen]


@dataclass(frozen=True)
class PageContext:
    """What every page needs: the storage, who is looking, the tenant, the language and the tenant's formatter."""

    storage: Storage
    user: auth.User
    tenant: Tenant
    lang: str
    fmt: Formatter


def page_context() -> PageContext:
    """The page's context, or an explanation and a stop when nobody is signed in or there is no tenant to show."""
    lang = language()
    user = current_user(lang)
    tenant = chosen_tenant(user)
    if tenant is None:
        st.title(md("app.title", lang))
        st.info(md("msg.no_tenants" if user.all_tenants else "auth.no_business", lang))
        st.stop()
    if tenant.problem:  # a bad row in negocios: say what is wrong with it, show nothing that would use it
        st.title(escape_markdown(tenant.nombre))
        st.warning(md("error.tenant", lang, detail=tenant.problem), icon=":material/storefront:")
        st.stop()
    return PageContext(storage(), user, tenant, lang, formatter_for(tenant, lang))


# --- sign-in ------------------------------------------------------------------------------

#: Where the browser tab keeps its session token (the database has only its hash).
AUTH_TOKEN = "auth_token"


def _session_user(*, touch: bool = True) -> auth.User | None:
    """`auth.OPEN_ACCESS` with sign-in off; else the user of this tab's session, or None."""
    if not get_app_settings().auth_enabled:
        return auth.OPEN_ACCESS
    token = st.session_state.get(AUTH_TOKEN)
    return auth.session_user(storage(), token, touch=touch) if token else None


def current_user(lang: str) -> auth.User:
    """Who is looking: `auth.OPEN_ACCESS` with sign-in off; else the signed-in user.

    Nobody signed in (or the session ended): the sign-in form, and the page
    stops there. Every call checks the session against the database, so a
    disabled user or an expired session is out at their next click.
    """
    with friendly_errors(lang):
        user = _session_user()
    if user is None:
        if st.session_state.get(AUTH_TOKEN):
            # Signed in before, not any more: say why the form is back, and forget what they were looking at.
            for key in (AUTH_TOKEN, "tenant_id"):
                st.session_state.pop(key, None)
            st.session_state["auth_ended"] = True
        sign_in_form(lang)
        st.stop()
    return user


def still_signed_in() -> bool:
    """For parts of a page that redraw themselves: is the session still on? (Not counted as activity.)"""
    return _session_user(touch=False) is not None


def sign_in_form(lang: str) -> None:
    st.title(md("auth.title", lang))
    with friendly_errors(lang):
        if not auth.has_users(storage()):
            st.info(md("auth.no_users", lang), icon=":material/person_add:")
            return
    if st.session_state.pop("auth_ended", False):
        st.info(md("auth.ended", lang), icon=":material/schedule:")
    st.caption(md("auth.intro", lang))
    with st.form("sign_in", enter_to_submit=True, width=440):
        username = st.text_input(md("auth.username", lang), autocomplete="username", max_chars=128)
        password = st.text_input(md("auth.password", lang), type="password", autocomplete="current-password",
                                 max_chars=auth.MAX_PASSWORD_LENGTH)
        submitted = st.form_submit_button(md("auth.submit", lang), type="primary", icon=":material/login:")
    if not submitted:
        return
    try:
        token, _user = auth.sign_in(storage(), username, password)
    except AccessError:
        st.error(md("auth.failed", lang), icon=":material/lock:")
        return
    except ForecastingError as exc:
        show_error(exc, lang)
        return
    st.session_state[AUTH_TOKEN] = token
    st.session_state.pop("tenant_id", None)
    st.rerun()


def on_sign_out() -> None:
    auth.sign_out(storage(), st.session_state.pop(AUTH_TOKEN, None))
    st.session_state.pop("tenant_id", None)


def user_box(user: auth.User, lang: str) -> None:
    """The sidebar's "signed in as" line and Sign out button (nothing when sign-in is off)."""
    if not user.username:
        return
    st.sidebar.caption(md("auth.signed_in_as", lang, name=user.username, role=t(f"auth.role.{user.role}", lang)))
    st.sidebar.button(md("auth.sign_out", lang), icon=":material/logout:", key="sign_out", on_click=on_sign_out)


# --- the shop's calendar ------------------------------------------------------------------------

#: An effect this low means the shop does not open on such days: said as "usually closed", not "-95%".
CLOSED_EFFECT = 0.1


def effect_line(effect, ctx: PageContext) -> str:
    """One learned effect for owners: "**Promotions**: +23% on average, from 41 days"."""
    lang, fmt = ctx.lang, ctx.fmt
    what = t(f"calendar.kinds.{effect.kind}", lang) if effect.name is None else escape_markdown(effect.name)
    key = "calendar.effects.closed_line" if effect.multiplier < CLOSED_EFFECT else "calendar.effects.line"
    return md(key, lang, what=what, change=fmt.percent(effect.multiplier - 1.0, signed=True), n=effect.days,
              days=fmt.number(effect.days))


# --- settings form ------------------------------------------------------------------------


def setting_widget(field: settings_views.SettingField, lang: str, key: str):
    """The input for one tenant setting; the label says when the tenant overrides the default."""
    label = md(f"settings.{field.name}", lang) + ("  ✎" if field.overridden else "")
    help_text = md(f"settings.{field.name}.help", lang, default=field.description) + "  \n" + md(
        "settings.env_hint", lang, env=field.env_name, default_value=_plain(field.inherited))
    if field.kind == "candidates":
        return st.multiselect(label, options=list(field.choices), default=list(field.value), key=key, help=help_text,
                              format_func=lambda name: model_label(name, lang))
    if field.kind == "weekdays":
        names = Formatter(lang=lang).weekdays("wide")
        return st.multiselect(label, options=list(field.choices), default=list(field.value), key=key, help=help_text,
                              format_func=lambda day: names[day], placeholder=t("calendar.closed.none", lang))
    if field.kind == "bool":
        return st.toggle(label, value=bool(field.value), key=key, help=help_text)
    if field.kind == "choice":
        options = list(field.choices)
        return st.selectbox(label, options=options, index=options.index(field.value), key=key, help=help_text,
                            format_func=lambda value: t(f"choice.{value}", lang, default=str(value)))
    if field.kind == "int":
        return st.number_input(label, value=int(field.value), step=1, key=key, help=help_text,
                               min_value=int(field.minimum) if field.minimum is not None else None,
                               max_value=int(field.maximum) if field.maximum is not None else None)
    if field.kind == "percent":
        # Typed as a percentage, stored as a share (30 -> 0.3).
        percent = st.number_input(label, value=round(float(field.value) * 100, 1), step=1.0, key=key, help=help_text,
                                  format="%.0f", min_value=float(field.minimum) * 100 if field.minimum is not None else None,
                                  max_value=float(field.maximum) * 100 if field.maximum is not None else None)
        return percent / 100
    if field.kind == "float":
        # An exclusive bound (> 0) is left to validation, which names the field in its message.
        return st.number_input(label, value=float(field.value), step=0.05 if field.value < 1 else 0.1, key=key,
                               help=help_text, format="%.2f",
                               min_value=float(field.minimum) if field.minimum is not None else None,
                               max_value=float(field.maximum) if field.maximum is not None else None)
    if field.kind == "order":
        return st.text_input(label, value=_plain(field.value), key=key, help=help_text)
    return st.text_input(label, value=str(field.value or ""), key=key, help=help_text, max_chars=3)


def _plain(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(part) for part in value)
    return str(value)


def on_reset_settings(tenant_id: str, prefix: str) -> None:
    """Button callback: drop the tenant's overrides and the form's edited values with them."""
    settings_views.reset_tenant_settings(storage(), tenant_id)
    for key in [key for key in st.session_state if str(key).startswith(prefix)]:
        del st.session_state[key]
    st.session_state[f"settings_flash_{tenant_id}"] = "reset"


# --- retrain ----------------------------------------------------------------------------------


def retrain_result_key(tenant_id: str) -> str:
    return f"retrain_result_{tenant_id}"


def retrain_with_progress(ctx: PageContext) -> bool:
    """Retrain the tenant now, each step drawn in a status box with a progress bar; True when a new model was saved.

    The one way a page trains, and only for a click on a Retrain now button: `views.models.retrain` (the
    pipeline under the tenant's retrain lock, the one the weekly job takes). The outcome is kept in the
    session for `retrain_result`.
    """
    lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant
    result_key = retrain_result_key(tenant.id)
    plan = model_views.retrain_plan(ctx.storage, tenant.id)
    with st.status(md("models.retraining", lang, name=tenant.nombre), expanded=True) as box:
        bar = st.progress(0.0)
        seen: list[str] = []

        def report(step: str, detail: str) -> None:
            seen.append(step)
            detail_label = model_label(detail, lang) if step in ("cv", "final_fit", "done") else t(
                f"progress.detail.{detail}", lang, default=detail)
            message = md(f"progress.{step}", lang, detail=detail_label)
            box.update(label=message)
            st.write(("✅ " if step == "done" else "• ") + message)
            bar.progress(min(len(seen) / len(plan), 1.0))

        try:
            outcome = model_views.retrain(ctx.storage, tenant.id, progress=report)
        except ForecastingError as exc:
            box.update(label=md("models.retrain_failed", lang), state="error", expanded=True)
            st.session_state[result_key] = {"error": str(exc), "config": isinstance(exc, ConfigError),
                                            "busy": isinstance(exc, BusyError)}
        except Exception as exc:  # noqa: BLE001 - an owner gets a sentence and a way forward, not a traceback
            box.update(label=md("models.retrain_failed", lang), state="error", expanded=True)
            st.session_state[result_key] = {"error": f"{type(exc).__name__}: {exc}", "unexpected": True}
        else:
            box.update(label=md("models.retrain_done", lang, model=model_label(outcome.summary["winner"], lang),
                               seconds=fmt.number(outcome.summary["seconds"], 1)), state="complete", expanded=False)
            st.session_state[result_key] = {**outcome.summary, "candidates": len(outcome.scores),
                                            "before": outcome.before.as_dict(), "after": outcome.after.as_dict()}
            return True
    return False


def retrain_result(ctx: PageContext) -> None:
    """What the tenant's last Retrain now did (kept in the session): the error with a hint, or the summary."""
    lang, fmt = ctx.lang, ctx.fmt
    last = st.session_state.get(retrain_result_key(ctx.tenant.id))
    if last and "error" in last:
        st.error(md("models.retrain_error", lang, detail=last["error"]), icon=":material/error:")
        hint = ("models.retrain_error_busy" if last.get("busy") else "models.retrain_error_config" if last.get("config")
                else "models.retrain_error_hint")
        st.caption(md(hint, lang))
    elif last:
        st.success(md("models.retrain_summary", lang, n=last["anomalies"], model=model_label(last["winner"], lang),
                     candidates=last["candidates"], days=fmt.number(last["forecast_days"]),
                     history=fmt.number(last["history_days"]), anomalies=fmt.number(last["anomalies"]),
                     seconds=fmt.number(last["seconds"], 1)),
                   icon=":material/check_circle:")
        changed(last.get("before") or {}, last.get("after") or {}, ctx)
        if last.get("skipped"):
            st.caption(md("models.retrain_skipped", lang, models=", ".join(
                f"{model_label(name, lang)} ({reason})" for name, reason in last["skipped"].items())))
        if last.get("drift"):
            st.warning(md("models.retrain_drift", lang), icon=":material/notifications_active:")


def changed(before: dict, after: dict, ctx: PageContext) -> None:
    """What the retrain changed for the owner, before and after side by side (nothing after a first training)."""
    table = tables.changes_table(before, after, ctx.fmt)
    if table is not None:
        st.markdown(f"**{md('models.changed.title', ctx.lang)}**")
        st.table(table)


# --- jobs -----------------------------------------------------------------------------------


def job_flash_key(job_id: str) -> str:
    return f"job_flash_{job_id}"


def on_run_now(job_id: str) -> None:
    """Run now button callback: start the job (or find it already running) and keep the outcome for the page.

    The session keeps (`JobStart` or the package error, monotonic time), so
    the page can show it for a few seconds across its own refreshes. Only
    admins may (the button is disabled for others; this checks again).
    """
    try:
        if not current_user(language()).may_run_jobs:
            raise AccessError(md("auth.admins_only", language()))
        outcome = job_views.run_job_now(storage(), job_id, scheduler_runner())
    except ForecastingError as exc:
        outcome = exc
    st.session_state[job_flash_key(job_id)] = (outcome, time.monotonic())


# --- messages -------------------------------------------------------------------------------


def show_error(exc: ForecastingError, lang: str) -> None:
    """One clear line for a package error and what to do about it; never a traceback."""
    if isinstance(exc, DataError):
        st.warning(md("error.data", lang, detail=str(exc)), icon=":material/info:")
    elif isinstance(exc, ConfigError):
        st.error(md("error.config", lang, detail=str(exc)), icon=":material/tune:")
        st.page_link(MODELS, label=md("link.settings", lang), icon=":material/tune:")
    elif isinstance(exc, StorageError):
        st.error(md("error.storage", lang, detail=str(exc)), icon=":material/database:")
    elif isinstance(exc, ModelError):
        st.error(md("error.model", lang, detail=str(exc)), icon=":material/model_training:")
        st.page_link(MODELS, label=md("link.retrain", lang), icon=":material/model_training:")
    else:
        st.error(md("error.other", lang, detail=str(exc)))


@contextmanager
def friendly_errors(lang: str) -> Iterator[None]:
    """Show the package's errors raised inside the block as messages, and stop the page there."""
    try:
        yield
    except ForecastingError as exc:
        show_error(exc, lang)
        st.stop()


def require_sales(ctx: PageContext, has_sales: bool) -> None:
    if not has_sales:
        st.info(md("msg.no_sales", ctx.lang, name=ctx.tenant.nombre), icon=":material/inventory_2:")
        st.stop()


def require_trained(ctx: PageContext, trained: bool) -> None:
    """Stop with "No forecast yet — press Retrain now" and a link when the tenant was never trained."""
    if not trained:
        st.info(md("msg.not_trained", ctx.lang, name=ctx.tenant.nombre), icon=":material/hourglass_empty:")
        st.page_link(MODELS, label=md("link.retrain", ctx.lang), icon=":material/model_training:")
        st.stop()


def page_header(ctx: PageContext, title_key: str, caption: str | None = None) -> None:
    st.title(md(title_key, ctx.lang, name=ctx.tenant.nombre))
    if caption:
        st.caption(caption)


def plot(fig, ctx: PageContext, key: str) -> None:
    """A Plotly chart with the locale's month and day names, full width."""
    st.plotly_chart(fig, width="stretch", config=ctx.fmt.plotly_config(), key=key)
