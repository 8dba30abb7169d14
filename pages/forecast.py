"""Forecast: history, the forecast with its 80% and 95% ranges, past forecasts against actuals; CSV download."""

from datetime import timedelta

import streamlit as st

from forecasting.core.events import Event
from forecasting.i18n.catalog import md, model_label, t
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
    md("forecast.download", lang), data=tables.forecast_csv(view, fmt),
    file_name=f"forecast_{tenant.id}_{view.today.isoformat()}.csv", mime="text/csv",
    icon=":material/download:", width="stretch", key="forecast_download",
)
daily, weekly = st.tabs([md("forecast.by_day", lang), md("forecast.by_week", lang)])
# Every day of the horizon without scrolling inside the table (35 px a row).
daily.dataframe(tables.forecast_table(view, fmt), hide_index=True, width="stretch", height=35 * (len(future) + 1) + 3)
weekly.dataframe(tables.weekly_table(view, fmt), hide_index=True, width="stretch")

if view.effects:
    lines = [shared.effect_line(effect, ctx) for effect in view.effects[:6]]
    st.markdown(md("forecast.effects", lang) + "\n" + "\n".join(f"- {line}" for line in lines))

# --- what-if: a hypothetical promotion or closure on days ahead, nothing saved -----------------------
st.subheader(md("forecast.whatif.title", lang))
st.caption(md("forecast.whatif.caption", lang))
first, last = future.index[0].date(), future.index[-1].date()
pick_kind, pick_days = st.columns([1, 2])
kind = pick_kind.selectbox(md("forecast.whatif.kind", lang), options=["promotion", "closed", "event"],
                           format_func=lambda k: t(f"calendar.kind.{k}", lang), key=f"whatif_kind_{tenant.id}")
chosen = pick_days.date_input(md("forecast.whatif.days", lang), value=(first + timedelta(days=1),
                                                                      min(first + timedelta(days=3), last)),
                              min_value=first, max_value=last, format=fmt.date_input_format(),
                              key=f"whatif_days_{tenant.id}")
days = chosen if isinstance(chosen, (list, tuple)) else (chosen,)
if len(days):
    hypothetical = Event(t(f"calendar.kind.{kind}", lang), kind, days[0], days[-1])
    result = forecast.what_if(view, hypothetical)
    if not len(result.days):
        st.info(md("forecast.whatif.outside", lang), icon=":material/event:")
    else:
        on_days = result.before.loc[result.days, "yhat"].sum(), result.after.loc[result.days, "yhat"].sum()
        cards = st.columns(3)
        cards[0].metric(md("forecast.whatif.without", lang), fmt.money(result.total_before, whole=True), border=True)
        cards[1].metric(md("forecast.whatif.with", lang), fmt.money(result.total_after, whole=True), border=True,
                        delta=fmt.money(result.total_after - result.total_before, whole=True)
                        if result.total_after != result.total_before else None)
        cards[2].metric(md("forecast.whatif.days_total", lang), fmt.money(on_days[1], whole=True), border=True,
                        delta=fmt.money(on_days[1] - on_days[0], whole=True) if on_days[1] != on_days[0] else None)
        if result.units is not None:
            st.caption(md("forecast.whatif.units", lang, before=fmt.number(result.units[0]),
                          after=fmt.number(result.units[1])))
        if kind != "closed" and result.effect is None:
            st.info(md("forecast.whatif.no_effect", lang, kind=t(f"calendar.kind.{kind}", lang)),
                    icon=":material/help:")
        elif result.effect is not None:
            st.caption(md("forecast.whatif.applied", lang, n=result.effect.days, days=fmt.number(result.effect.days),
                          change=fmt.percent(result.effect.multiplier - 1.0, signed=True)))
        shared.plot(figures.what_if_figure(result, fmt), ctx, key="whatif_chart")
    st.page_link(shared.CALENDAR, label=md("forecast.whatif.link", lang), icon=":material/event:")
