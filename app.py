"""The dashboard's entry point: `streamlit run app.py`.

Sign-in, navigation, language, the business picker and where the data is; every
page lives in `pages/` and every number comes from `forecasting.views`.
"""

import streamlit as st

from forecasting.core.config import get_app_settings
from forecasting.core.errors import ForecastingError
from forecasting.i18n.catalog import md, t
from forecasting.views import common, notifications
from pages import _shared as shared

st.set_page_config(page_title=t("app.title", shared.language()), page_icon=":material/insights:", layout="wide",
                   initial_sidebar_state="auto")  # open on a computer, closed on a phone (it would cover the page)
shared.load_secrets()

lang = shared.language_switch()
try:
    shared.start_scheduler()  # first: the schedule runs whether or not anyone signs in
    user = shared.current_user(lang)  # signed out: the sign-in form, and nothing below runs
    tenant = shared.tenant_picker(user, lang)
    unread = notifications.unread_count(shared.storage(), tenant.id) if tenant else 0
    label = common.storage_label(shared.storage())
except ForecastingError as exc:
    # The database can't be read: say so once, here, instead of on every page.
    st.title(md("app.title", lang))
    shared.show_error(exc, lang)
    st.stop()

notifications_title = md("nav.notifications", lang) + (f" · {unread}" if unread else "")
# URL paths differ from the file names on purpose: until st.navigation first runs in a server
# process (and on every AppTest run), Streamlit treats `pages/` as a v1 multipage folder, and a URL
# equal to a file name would run that file alone: no sidebar, no tenant. The v1 menu it would draw
# meanwhile is hidden by `client.showSidebarNavigation = false`, hence the navigation at the top.
pages = [
    st.Page(shared.OVERVIEW, title=t("nav.overview", lang), icon=":material/storefront:", default=True,
            url_path="home"),
    st.Page(shared.FORECAST, title=t("nav.forecast", lang), icon=":material/insights:", url_path="sales-forecast"),
    st.Page(shared.PRODUCTS, title=t("nav.products", lang), icon=":material/inventory_2:", url_path="products-stock"),
    st.Page(shared.CALENDAR, title=t("nav.calendar", lang), icon=":material/event:", url_path="shop-calendar"),
    st.Page(shared.ANOMALIES, title=t("nav.anomalies", lang), icon=":material/troubleshoot:",
            url_path="unusual-days"),
    st.Page(shared.NOTIFICATIONS, title=notifications_title, icon=":material/notifications:", url_path="alerts"),
    st.Page(shared.COMPARISON, title=t("nav.comparison", lang), icon=":material/leaderboard:",
            url_path="model-comparison"),
    st.Page(shared.MODELS, title=t("nav.models", lang), icon=":material/model_training:", url_path="retrain"),
]
if user.may_view_jobs:
    pages.append(st.Page(shared.JOBS, title=t("nav.jobs", lang), icon=":material/schedule:",
                         url_path="scheduled-jobs"))
navigation = st.navigation(pages, position="top")

shared.user_box(user, lang)
if user.all_tenants:  # where the data lives is for the people who run the deployment, not a shop's owner
    with st.sidebar:
        st.divider()
        st.caption(md("sidebar.storage", lang, backend=label["backend"], location=label["location"]))
if not get_app_settings().auth_enabled:
    st.warning(md("auth.off_banner", lang), icon=":material/lock_open:")

navigation.run()
