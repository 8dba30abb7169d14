"""Products & stock: days of stock left and what to order per product, one product's demand, the order list."""

import streamlit as st

from forecasting.i18n.catalog import escape_markdown, md, t
from forecasting.ui import figures, tables
from forecasting.views import products
from pages import _shared as shared

ctx = shared.page_context()
lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant

has_sales, _trained = shared.status(tenant.id)
shared.page_header(ctx, "products.title")
shared.require_sales(ctx, has_sales)
with shared.friendly_errors(lang):
    view = shared.products_view(tenant.id)

if view.table.empty:
    if not view.has_product_sales:
        st.info(md("products.no_product_sales", lang), icon=":material/inventory_2:")
        st.stop()
    st.info(md("products.not_trained", lang), icon=":material/hourglass_empty:")
    if st.button(md("products.train_now", lang), type="primary", icon=":material/model_training:", key="train_products"):
        with st.spinner(md("progress.products", lang)), shared.friendly_errors(lang):
            products.train_now(ctx.storage, tenant.id)
        st.rerun()
    st.stop()

table = view.table
soon = int(((table["days_left"].fillna(99) <= 7) & table["risk"].isin(["order_now", "order", "ok"])).sum())
to_order, out = view.count("out", "order_now", "order"), view.count("out")
cards = st.columns(3)
cards[0].metric(md("products.metric.order", lang), fmt.number(to_order), border=True, height="stretch",
                delta=t("products.metric.out", lang, n=out, count=fmt.number(out)) if out else None,
                delta_color="inverse" if out else "off", delta_arrow="off")
cards[1].metric(md("products.metric.soon", lang), fmt.number(soon), border=True, height="stretch",
                help=md("products.metric.soon_help", lang))
reliability = view.reliability
if reliability and reliability.get("wape") is not None:
    cards[2].metric(md("products.metric.reliability", lang),
                    t("products.off_by", lang, pct=fmt.percent(reliability["wape"])), border=True, height="stretch",
                    help=md("products.metric.reliability_help", lang, days=reliability["days"],
                            n=reliability["products"], products=fmt.number(reliability["products"]),
                            band=fmt.percent(reliability["coverage_80"])))
else:
    cards[2].metric(md("products.metric.reliability", lang), "—", border=True, height="stretch",
                    help=md("products.metric.not_scored", lang))

head, download, recompute = st.columns([4, 2, 2], vertical_alignment="bottom")
head.subheader(md("products.table", lang))
orders = view.order_list()
download.download_button(
    md("products.download", lang, n=len(orders), count=fmt.number(len(orders))),
    data=tables.order_list_csv(orders, fmt), file_name=f"orders_{tenant.id}_{view.today.isoformat()}.csv",
    mime="text/csv", icon=":material/download:", width="stretch", disabled=orders.empty, key="order_download")
if recompute.button(md("products.recompute", lang), icon=":material/refresh:", width="stretch",
                    help=md("products.recompute_help", lang), key="recompute_stock"):
    with shared.friendly_errors(lang):
        products.recompute_stock(ctx.storage, tenant.id)
    st.rerun()
st.dataframe(tables.stock_table(table, fmt), hide_index=True, width="stretch",
             height=min(35 * (len(table) + 1) + 3, 560),
             column_config={"recent": st.column_config.LineChartColumn(t("products.col.recent", lang), y_min=0)})
policy = view.policy
st.caption(md("products.caption", lang, day=fmt.date(view.today), lead=policy.lead_time, review=policy.review_period,
              level=fmt.percent(policy.service_level)))

st.subheader(md("products.detail", lang))
names = dict(zip(table["product_id"], table["name"], strict=True))
chosen = st.selectbox(md("products.pick", lang), options=list(names), format_func=names.get, key=f"product_{tenant.id}")
with shared.friendly_errors(lang):
    detail = products.product_detail(ctx.storage, view, chosen)
plan = detail.plan
day, early = plan.get("runout_date"), plan.get("early_date")
st.markdown(md(f"products.plan.{plan['risk']}", lang, name=detail.name, day=fmt.day(day) if day is not None else "",
               early=t("products.early", lang, day=fmt.day(early)) if early is not None and early != day else "",
               order=tables.units_text(plan.get("order_quantity"), fmt),
               stock=tables.units_text(plan.get("stock"), fmt), note=plan.get("note") or ""))
shared.plot(figures.product_figure(detail, fmt), ctx, key="product_chart")

with st.expander(md("products.settings", lang, name=detail.name), icon=":material/tune:"):
    st.caption(md("products.settings_help", lang))
    current = {name: (None if value is None else (int(value) if name.endswith("days") else float(value)))
               for name, value in detail.settings.items()}
    with st.form(f"product_settings_{chosen}", border=False):
        cols = st.columns(5)
        lead = cols[0].number_input(md("settings.stock_lead_time_days", lang), min_value=0, max_value=21, step=1,
                                    value=current["lead_time_days"], placeholder=str(int(plan["lead_time_days"])))
        review = cols[1].number_input(md("settings.stock_review_days", lang), min_value=1, max_value=21, step=1,
                                      value=current["review_days"], placeholder=str(int(plan["review_days"])))
        level = cols[2].number_input(md("settings.stock_service_level", lang), min_value=0.5, max_value=0.995,
                                     step=0.01, value=current["service_level"],
                                     placeholder=fmt.number(plan["service_level"], 2))
        pack = cols[3].number_input(md("products.pack_size", lang), min_value=0.0, step=1.0,
                                    value=current["pack_size"], placeholder="—")
        minimum = cols[4].number_input(md("products.min_order", lang), min_value=0.0, step=1.0,
                                       value=current["min_order"], placeholder="0")
        if st.form_submit_button(md("products.save", lang), type="primary"):
            values = {"lead_time_days": lead, "review_days": review, "service_level": level,
                      "pack_size": pack or None, "min_order": minimum}
            with shared.friendly_errors(lang):
                products.save_product_settings(ctx.storage, tenant.id, chosen, values)
            st.rerun()

if ctx.user.all_tenants:
    with st.expander(md("products.analysts", lang), icon=":material/science:"):
        st.caption(md("products.analysts_help", lang))
        st.dataframe(tables.product_methods_table(table, fmt), hide_index=True, width="stretch")
        scores = tables.product_scores_table(view.metrics, fmt)
        if not scores.empty:
            st.markdown(md("products.cv_scores", lang))
            st.dataframe(scores, hide_index=True, width="stretch")
        if reliability:
            st.markdown(md("products.reliability_by_class", lang))
            st.dataframe(tables.product_reliability_table(reliability, fmt), hide_index=True, width="stretch")
        st.caption(escape_markdown(t("products.model_version", lang, version=view.model_version or "—")))
