"""Anomalies: unusual days on the series, re-flagged on the spot when the threshold moves."""

import pandas as pd
import streamlit as st

from forecasting.core.errors import ForecastingError
from forecasting.core.events import Event
from forecasting.i18n.catalog import escape_markdown, md, t
from forecasting.ui import figures, tables
from forecasting.views import anomalies, calendar
from pages import _shared as shared

ctx = shared.page_context()
lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant

has_sales, trained = shared.status(tenant.id)
shared.page_header(ctx, "anomalies.title")
shared.require_sales(ctx, has_sales)
shared.require_trained(ctx, trained)

with shared.friendly_errors(lang):
    view = shared.anomaly_view(tenant.id)
if view is None or view.frame.empty:
    shared.require_trained(ctx, False)

controls, count, method, used = st.columns([3, 2, 3, 2], vertical_alignment="center")
# The slider is keyed by model version: a retrain (possibly with a new threshold) starts from its own value.
threshold = controls.slider(md("anomalies.threshold", lang), min_value=min(1.0, view.threshold),
                      max_value=max(10.0, view.threshold), value=float(view.threshold),
                      step=0.1, key=f"anomaly_threshold_{tenant.id}_{view.model_version}",
                      help=md("anomalies.threshold_help", lang, default=fmt.number(view.threshold, 1)))
frame = anomalies.reflag(view, threshold)
flagged = int(frame["is_anomaly"].sum())

count.metric(md("anomalies.count", lang), fmt.number(flagged), border=True, height="stretch",
             delta=t("anomalies.of_days", lang, n=len(frame), days=fmt.number(len(frame))), delta_color="off", delta_arrow="off")
method.metric(md("anomalies.method", lang), md(f"anomalies.method.{view.method}", lang), border=True, height="stretch",
              help=md(f"anomalies.method.{view.method}.help", lang))
used.metric(md("anomalies.threshold_used", lang), fmt.number(view.threshold, 1), border=True, height="stretch",
               delta=(t("anomalies.preview", lang, value=fmt.number(threshold, 1)) if threshold != view.threshold
                      else None), delta_color="blue", delta_arrow="off")

shared.plot(figures.anomaly_figure(frame, fmt), ctx, key="anomaly_chart")

st.subheader(md("anomalies.table", lang))
if flagged:
    st.dataframe(tables.anomaly_table(frame, fmt), hide_index=True, width="stretch",
                 height=min(35 * (flagged + 1) + 3, 460))
else:
    st.info(md("anomalies.none", lang), icon=":material/check_circle:")

known = anomalies.explained(frame, threshold)
if len(known):
    names = ", ".join(f"{escape_markdown(e)} ({fmt.day(d)} {pd.Timestamp(d).year})"
                      for d, e in zip(known["ds"][:8], known["event"][:8], strict=True))
    st.caption(md("anomalies.explained", lang, n=len(known), count=fmt.number(len(known)), days=names))

if flagged:
    # One click turns a flagged day into something the shop knows: a one-off (left out of what is learned)
    # or a named event (its effect is learned once it recurs).
    st.subheader(md("anomalies.mark.title", lang))
    days = list(frame.loc[frame["is_anomaly"], "ds"].sort_values(ascending=False))
    pick, name, one_off, event = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
    day = pick.selectbox(md("anomalies.mark.day", lang), options=days, key=f"mark_day_{tenant.id}",
                         format_func=lambda d: f"{fmt.day(d)} {pd.Timestamp(d).year}")
    label = name.text_input(md("anomalies.mark.name", lang), key=f"mark_name_{tenant.id}",
                            placeholder=t("anomalies.mark.placeholder", lang))
    for column, kind in ((one_off, "one_off"), (event, "event")):
        if column.button(md(f"anomalies.mark.{kind}", lang), key=f"mark_{kind}_{tenant.id}", width="stretch"):
            chosen = pd.Timestamp(day).date()
            text = label.strip() or t(f"calendar.kind.{kind}", lang)
            try:
                calendar.save_event(ctx.storage, tenant.id, Event(text, kind, chosen, chosen))
            except ForecastingError as exc:
                st.error(escape_markdown(str(exc)), icon=":material/error:")
            else:
                st.rerun()  # saving moved the stored forecast, so this shop's freshness stamp: its views are read again
