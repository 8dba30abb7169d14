"""Model comparison: every candidate's cross-validation, and why the winner won."""

import streamlit as st

from forecasting.i18n.catalog import md, model_label, t
from forecasting.ui import figures, tables
from forecasting.views import comparison
from pages import _shared as shared

ctx = shared.page_context()
lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant

has_sales, trained = shared.status(tenant.id)
shared.page_header(ctx, "comparison.title")
shared.require_sales(ctx, has_sales)
shared.require_trained(ctx, trained)

versions = comparison.cv_versions(ctx.storage, tenant.id)
# None is "whichever is active", so a retrain moves the page to the new model by itself.
labels = {None: md("comparison.active_version", lang)}
labels.update({row.model_version: md("comparison.version_label", lang, model=model_label(row.model_type, lang),
                                    day=fmt.datetime(row.last_trained, "short"))
               for row in versions.itertuples() if not row.is_active})
version = st.columns([2, 3])[0].selectbox(md("comparison.version", lang), options=list(labels),
                                         format_func=labels.get, key=f"cv_version_{tenant.id}")
with shared.friendly_errors(lang):
    cv = shared.cv_view(tenant.id, version)
if cv is None or cv.scores.empty:
    st.info(md("comparison.no_cv", lang), icon=":material/info:")
    st.stop()

why = cv.reason
if why.fixed:
    st.info(md("comparison.why_fixed", lang, model=model_label(why.winner, lang)), icon=":material/push_pin:")
else:
    st.success(md(
        "comparison.why", lang, model=model_label(why.winner, lang), metric=t(f"metric.{why.metric}.short", lang),
        value=fmt.number(why.value, 3), n=len(cv.scores), runner=model_label(why.runner_up, lang),
        runner_value=fmt.number(why.runner_up_value, 3), margin=fmt.percent(why.margin, 1),
        won=why.folds_won, folds=why.folds,
    ) + (" " + md("comparison.why_baseline", lang, pct=fmt.percent(why.vs_baseline)) if why.vs_baseline is not None
         and why.vs_baseline > 0 and "snaive" not in (why.winner, why.runner_up) else ""),
        icon=":material/emoji_events:")
    if why.close_call:
        st.warning(md("comparison.close_call", lang, model=model_label(why.winner, lang),
                      runner=model_label(why.runner_up, lang), margin=fmt.percent(why.margin, 1),
                      n=why.folds, won=why.folds_won, folds=why.folds), icon=":material/balance:")
st.caption(md("comparison.setup", lang, n=cv.folds, folds=cv.folds, horizon=cv.horizon,
             metric=t(f"metric.{cv.primary_metric}.short", lang)))

st.subheader(md("comparison.scores", lang))
st.dataframe(tables.scores_table(cv, fmt), hide_index=True, width="stretch")
st.caption(md("comparison.metrics_help", lang))
if cv.skipped:
    st.markdown("**" + md("comparison.skipped", lang) + "**")
    st.dataframe(tables.skipped_table(cv, lang), hide_index=True, width="stretch")

st.subheader(md("comparison.by_fold", lang, metric=t(f"metric.{why.metric}.short", lang)))
st.dataframe(tables.folds_table(cv, fmt), hide_index=True, width="stretch")

by_step, by_weekday = st.columns(2)
with by_step:
    st.subheader(md("comparison.by_step", lang))
    metric = st.segmented_control(md("comparison.step_metric", lang), options=["mae", "mase"], default="mae",
                                  format_func=lambda m: t(f"metric.{m}.short", lang), key="cv_step_metric",
                                  required=True)
    shared.plot(figures.cv_step_figure(cv, fmt, metric or "mae"), ctx, key="cv_step_chart")
with by_weekday:
    st.subheader(md("comparison.by_weekday", lang))
    st.caption(md("comparison.by_weekday_help", lang))
    shared.plot(figures.cv_weekday_figure(cv, fmt), ctx, key="cv_weekday_chart")

st.subheader(md("comparison.folds", lang))
models = st.multiselect(md("comparison.folds_models", lang), options=list(cv.scores.index),
                        default=[m for m in (cv.winner, "snaive") if m in cv.scores.index],
                        format_func=lambda m: model_label(m, lang), key=f"cv_fold_models_{tenant.id}")
shared.plot(figures.cv_folds_figure(cv, fmt, models or [cv.winner]), ctx, key="cv_folds_chart")
