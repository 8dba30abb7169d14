"""Overview: the chosen business at a glance, and every business's figures for analysts."""

import streamlit as st

from forecasting.i18n.catalog import md, model_label, t
from forecasting.ui import figures, tables
from forecasting.views import overview
from pages import _shared as shared

ctx = shared.page_context()
lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant

with shared.friendly_errors(lang):
    data = shared.overview(tenant.id)

city = tenant.timezone.split("/")[-1].replace("_", " ")
shared.page_header(ctx, "overview.title", md("overview.caption", lang, city=city, currency=tenant.currency,
                                            day=fmt.date(data.today, "full")))
shared.require_sales(ctx, data.has_sales)

if data.outlook:  # plain answers first: what this week, next week and this month add up to
    st.subheader(md("overview.glance", lang), help=md("overview.glance_help", lang))
    for col, period in zip(st.columns(len(data.outlook)), data.outlook, strict=True):
        with col.container(border=True, height="stretch"):
            st.metric(md(f"overview.period.{period.key}", lang) + " · "
                      + md("overview.period.range", lang, start=fmt.month_day(period.start), end=fmt.month_day(period.end)),
                      fmt.money(period.total, whole=True) if period.total is not None else "—")
            st.markdown("\n".join(f"- {line}" for line in tables.period_lines(period, fmt)))

st.subheader(md("overview.sales", lang))
cols = st.columns(4)
for col, days in zip(cols[:2], (7, 30), strict=True):
    change = data.change(days)
    col.metric(md("overview.sales_last", lang, n=days, days=days), fmt.money(data.sales[days], whole=True),
               delta=fmt.percent(change, signed=True) if change is not None else None,
               delta_description=md("overview.vs_before", lang, n=days, days=days) if change is not None else None,
               # Two weeks of bars for the 7-day card: this week next to the one it is compared with.
               chart_data=list(data.recent.iloc[-(2 * days if days == 7 else days):].round(2)),
               chart_type="bar" if days == 7 else "area", border=True, height="stretch",
               help=md("overview.sales_help", lang, n=days, days=days))
for col, days in zip(cols[2:], (7, 30), strict=True):
    total = data.forecast.get(days)
    versus = (total / data.sales[days] - 1) if total is not None and data.sales.get(days) else None
    col.metric(md("overview.forecast_next", lang, n=days, days=days), fmt.money(total, whole=True),
               delta=fmt.percent(versus, signed=True) if versus is not None else None,
               delta_description=md("overview.vs_last", lang, n=days, days=days) if versus is not None else None,
               chart_data=list(data.forecast_days.iloc[:days].round(2)) if total is not None else None,
               chart_type="bar" if days == 7 else "area",
               border=True, height="stretch", help=md("overview.forecast_help", lang, n=days, days=days))

if not data.trained:
    shared.require_trained(ctx, False)

st.subheader(md("overview.model", lang))
# The page never retrains on its own: a stored model it can't use is reported, and retrained on a click.
retrained_key = f"overview_retrained_{tenant.id}"
if st.session_state.pop(retrained_key, False) and not data.needs_retrain:
    winner = (st.session_state.get(shared.retrain_result_key(tenant.id)) or {}).get("winner")
    st.success(md("overview.retrained", lang, model=model_label(winner, lang)), icon=":material/check_circle:")
if data.needs_retrain:
    st.warning(md("overview.model_stale", lang) if data.model_status == "stale"
               else md("overview.model_unusable", lang, detail=data.model_problem or ""),
               icon=":material/model_training:")
    if st.button(md("models.retrain_now", lang), type="primary", icon=":material/model_training:",
                 key="overview_retrain", help=md("overview.retrain_help", lang)):
        if shared.retrain_with_progress(ctx):
            st.session_state[retrained_key] = True
            st.rerun()
        shared.retrain_result(ctx)
cols = st.columns(3)
cols[0].metric(md("overview.model_in_use", lang), model_label(data.model_type, lang, short=True), border=True,
               height="stretch", help=model_label(data.model_type, lang) + " · "
               + md("overview.version", lang, version=data.model_version))
age = fmt.days_ago(data.last_trained, data.today)
cols[1].metric(md("overview.last_trained", lang), fmt.date(data.last_trained),
               delta=(None if age is None else md("overview.trained_today", lang) if age <= 0
                      else md("overview.trained_yesterday", lang) if age == 1
                      else md("overview.trained_ago", lang, n=age, days=age)),
               delta_color="off", delta_arrow="off", border=True, height="stretch",
               help=md("overview.trained_until", lang, day=fmt.date(data.trained_until)))
reliability = data.reliability
edge = reliability.vs_baseline if reliability else None
if edge is None:
    edge_text, edge_color = None, "off"
elif edge >= 0:
    edge_text, edge_color = md("overview.beats", lang, pct=fmt.percent(edge)), "green"
else:
    edge_text, edge_color = md("overview.worse", lang, pct=fmt.percent(-edge)), "red"
cols[2].metric(
    md("overview.reliability", lang),
    md("overview.off_by", lang, error=fmt.percent(reliability.wape)) if reliability else md("overview.unknown", lang),
    delta=edge_text, delta_color=edge_color, delta_arrow="up" if edge is not None and edge >= 0 else "down",
    border=True, height="stretch",
    help=(md("overview.reliability_backtest", lang) if not reliability or reliability.days is None
          else md("overview.reliability_issued" if reliability.source == "issued" else "overview.reliability_backtest_days",
                  lang, n=reliability.days, days=reliability.days, coverage=fmt.percent(reliability.coverage_80))),
)

# --- how the issued forecasts did -----------------------------------------------------------
st.subheader(md("overview.score", lang))
with shared.friendly_errors(lang):
    card = shared.scorecard(tenant.id)
if not card.scored:
    st.info(md("overview.score_none", lang, day=fmt.date(card.first_score_on, "long")) if card.first_score_on
            else md("overview.score_none_never", lang), icon=":material/hourglass_top:")
else:
    st.caption(md("overview.score_caption", lang, n=card.days, lookback=overview.RELIABILITY_LOOKBACK_DAYS, days=card.days)
               + ("  " + md("overview.score_early", lang, n=card.days, days=card.days) if not card.settled else "")
               + ("  " + md("overview.score_backtest", lang, n=card.backtest_days, days=card.backtest_days)
                  if card.backtest_days else ""))
    cols = st.columns(4)
    cols[0].metric(md("overview.score_error", lang), md("overview.off_by", lang, error=fmt.percent(card.wape)),
                   border=True, height="stretch", help=md("overview.score_error_help", lang))
    beats = card.beats_snaive
    cols[1].metric(md("overview.score_vs_naive", lang),
                   "—" if beats is None else md("overview.score_beats" if beats >= 0 else "overview.score_worse", lang,
                                               pct=fmt.percent(abs(beats))),
                   border=True, height="stretch", help=md("overview.score_vs_naive_help", lang))
    for col, key, value, level in ((cols[2], "overview.score_cov80", card.coverage_80, 0.80),
                                   (cols[3], "overview.score_cov95", card.coverage_95, 0.95)):
        col.metric(md(key, lang), fmt.percent(value), delta=t("overview.score_aim", lang, pct=fmt.percent(level)),
                   delta_color="off", delta_arrow="off", border=True, height="stretch",
                   help=md("overview.score_cov_help", lang, level=fmt.percent(level)))
    st.markdown(md("overview.score_coverage", lang, c80=fmt.percent(card.coverage_80), c95=fmt.percent(card.coverage_95))
                + (" " + md(f"overview.score_verdict.{card.range_verdict}", lang) if card.range_verdict else ""))
    ahead = [md("overview.score_ahead_line", lang, first=7 * (row.week_ahead - 1) + 1, last=7 * row.week_ahead,
                error=fmt.percent(row.wape)) for row in card.by_week.itertuples() if row.wape == row.wape]
    if ahead:
        st.markdown(f"**{md('overview.score_ahead', lang)}**\n\n" + "\n".join(f"- {line}" for line in ahead))
    # Closed at first: the charts' library loads when they are opened, not with the page (bench.browser).
    with st.expander(md("overview.score_charts", lang), icon=":material/show_chart:"):
        left, right = st.columns(2)
        with left:
            st.markdown(f"**{md('overview.score_over_time', lang)}**")
            shared.plot(figures.scorecard_time_figure(card, fmt), ctx, key="score_over_time")
        with right:
            st.markdown(f"**{md('overview.score_by_step', lang)}**", help=md("overview.score_by_step_help", lang))
            shared.plot(figures.scorecard_step_figure(card, fmt), ctx, key="score_by_step")

if ctx.user.all_tenants:  # an owner sees their own business only
    st.divider()
    st.subheader(md("overview.all", lang))
    st.caption(md("overview.all_caption", lang))
    with shared.friendly_errors(lang):
        everyone = shared.all_overviews(ctx.user)
    st.dataframe(tables.tenants_table(everyone, lang), hide_index=True, width="stretch")
