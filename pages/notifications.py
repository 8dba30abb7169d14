"""Notifications: the tenant's messages (drift alerts, summaries), newest first; mark them as read."""

import streamlit as st

from forecasting.i18n.catalog import escape_markdown, md, t
from forecasting.i18n.messages import say
from forecasting.views import notifications
from pages import _shared as shared

ctx = shared.page_context()
lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant
shared.page_header(ctx, "notifications.title")

ICONS = {"warning": ":material/warning:", "error": ":material/error:", "info": ":material/info:"}

left, right = st.columns([3, 1], vertical_alignment="bottom")
unread_only = left.toggle(md("notifications.unread_only", lang), key="notifications_unread_only")
# Not cached: a notification marked read must disappear from the list at once.
with shared.friendly_errors(lang):
    items = notifications.notifications(ctx.storage, tenant.id, unread_only=unread_only)
unread = int((~items["is_read"].astype(bool)).sum())
right.button(md("notifications.mark_all", lang), icon=":material/done_all:", key="notifications_mark_all",
             disabled=unread == 0, width="stretch",
             on_click=notifications.mark_read, args=(ctx.storage, tenant.id, None))

st.caption(md("notifications.count", lang, n=len(items), total=len(items), unread=unread))
if items.empty:
    st.info(md("notifications.empty_unread" if unread_only else "notifications.empty", lang),
            icon=":material/notifications_off:")

for item in items.itertuples():
    with st.container(border=True):
        icon = ICONS.get(item.severity, ICONS["info"])
        badge = "" if item.is_read else f"  :blue-badge[{md('notifications.new', lang)}]"
        title, message = say(item.details, lang, fmt, markdown=True) or (
            escape_markdown(item.title), escape_markdown(item.message))  # written by others: shown as stored
        st.markdown(f"{icon} **{title}**{badge}")
        st.write(message)
        st.caption(md("notifications.meta", lang, when=fmt.datetime(item.created_at, "medium"),
                      kind=t(f"notifications.kind.{item.kind}", lang, default=item.kind),
                      severity=t(f"notifications.severity.{item.severity}", lang, default=item.severity)))
        if not item.is_read:
            # Under the text, not in a side column, where "Marcar como leída" was cut short.
            st.button(md("notifications.mark_read", lang), key=f"notification_read_{item.id}", icon=":material/check:",
                      on_click=notifications.mark_read, args=(ctx.storage, tenant.id, int(item.id)))
