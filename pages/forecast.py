"""Forecast: history, the forecast with its 80% and 95% ranges, past forecasts against actuals; CSV download."""

import streamlit as st

from forecasting.i18n.catalog import md, model_label
from forecasting.ui import figures, tables
from forecasting.views import forecast
from pages import _shared as shared

ctx = shared.page_context()
lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant

has_sales, trained = shared.status(tenant.id)
shared.require_sales(ctx, has_sales)
with shared.friendly_errors(lang):
    view = shared.forecast_view(tenant.id)

caption = (md("forecast.caption", lang, model=model_label(view.model_type, lang), day=fmt.date(view.last_trained))
           if view.model_type else None)
shared.page_header(ctx, "forecast.title", caption)
shared.require_trained(ctx, trained)

shared.plot(figures.forecast_figure(view, fmt), ctx, key="forecast_chart")
st.caption(md("forecast.legend", lang))

future = view.future
if future.empty:
    st.warning(md("forecast.stale", lang), icon=":material/update:")
    st.page_link(shared.MODELS, label=md("link.retrain", lang), icon=":material/model_training:")
    st.stop()

left, right = st.columns([3, 1], vertical_alignment="bottom")
left.subheader(md("forecast.next_days", lang, n=len(future), days=len(future)))
right.download_button(
    md("forecast.download", lang), data=forecast.forecast_csv(view),
    file_name=f"forecast_{tenant.id}_{view.today.isoformat()}.csv", mime="text/csv",
    icon=":material/download:", width="stretch", key="forecast_download",
)
st.dataframe(tables.forecast_table(view, fmt), hide_index=True, width="stretch",
             height=min(35 * (len(future) + 1) + 3, 560))
