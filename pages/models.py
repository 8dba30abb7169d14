"""Models and retrain: model versions, Retrain now with live progress, and the tenant's settings."""

import streamlit as st

from forecasting.core.errors import ConfigError, ForecastingError
from forecasting.i18n.catalog import md
from forecasting.services.importer import SalesImportError, import_sales
from forecasting.ui import tables
from forecasting.views import settings
from pages import _shared as shared

ctx = shared.page_context()
lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant
has_sales, trained = shared.status(tenant.id)
shared.page_header(ctx, "models.title")

# --- retrain --------------------------------------------------------------------------------
left, right = st.columns([3, 1], vertical_alignment="center")
left.subheader(md("models.retrain", lang))
left.caption(md("models.retrain_help", lang))
clicked = right.button(md("models.retrain_now", lang), type="primary", icon=":material/model_training:",
                       key="retrain_now", width="stretch", disabled=not has_sales)
if not has_sales:
    st.info(md("msg.no_sales", lang, name=tenant.nombre), icon=":material/inventory_2:")

if clicked:
    shared.retrain_with_progress(ctx)
    has_sales, trained = shared.status(tenant.id)
shared.retrain_result(ctx)

# --- versions --------------------------------------------------------------------------------
st.subheader(md("models.versions", lang))
versions = shared.model_versions(tenant.id)
if versions.empty:
    st.info(md("models.no_versions", lang), icon=":material/hourglass_empty:")
else:
    st.dataframe(tables.versions_table(versions, fmt), hide_index=True, width="stretch")
    st.caption(md("models.versions_help", lang))

# --- import sales ----------------------------------------------------------------------------
st.subheader(md("import.title", lang))
st.caption(md("import.caption", lang))
upload = st.file_uploader(md("import.file", lang), type=["csv", "txt"], key=f"import_csv_{tenant.id}")
if upload is not None and st.button(md("import.go", lang), key=f"import_go_{tenant.id}", icon=":material/upload:"):
    try:
        report = import_sales(ctx.storage, tenant.id, upload.getvalue())
    except SalesImportError as exc:
        st.error(md("import.failed", lang, n=len(exc.errors), problems=fmt.number(len(exc.errors)), lines=fmt.number(exc.line_count)),
                 icon=":material/error:")
        st.dataframe(tables.import_errors_table(exc.errors, lang), hide_index=True, width="stretch")
    except ForecastingError as exc:
        shared.show_error(exc, lang)
    else:
        st.cache_data.clear()  # the freshness stamp sees only the newest sale; an import may add older ones
        st.success(md("import.done", lang, summary=report.summary(lang)), icon=":material/check_circle:")
        st.info(md("import.not_updated", lang), icon=":material/model_training:")

# --- settings --------------------------------------------------------------------------------
st.subheader(md("settings.title", lang))
st.caption(md("settings.caption", lang))
with shared.friendly_errors(lang):
    fields, stored_error = settings.settings_form(ctx.storage, tenant.id)
# A model's own settings only when it competes (saved from the form: the form's candidates decide next time).
candidates = next(field.value for field in fields if field.name == "model_candidates")
fields = settings.shown_fields(fields, candidates)
if stored_error:
    st.error(md("settings.stored_invalid", lang, detail=stored_error), icon=":material/tune:")

prefix = f"setting_{tenant.id}_"
with st.form(f"settings_form_{tenant.id}", border=True):
    values = {}
    for group in settings.SETTING_GROUPS:
        st.markdown(f"**{md(f'settings.group.{group}', lang)}**")
        in_group = [field for field in fields if field.group == group]
        # The candidate list needs the full width to show its chips; the rest sit three to a row.
        for field in [field for field in in_group if field.kind == "candidates"]:
            values[field.name] = shared.setting_widget(field, lang, key=prefix + field.name)
        columns = st.columns(3)
        for i, field in enumerate(field for field in in_group if field.kind != "candidates"):
            with columns[i % 3]:
                values[field.name] = shared.setting_widget(field, lang, key=prefix + field.name)
    saved = st.form_submit_button(md("settings.save", lang), type="primary", icon=":material/save:")

if saved:
    try:
        overrides = settings.save_settings(ctx.storage, tenant.id, values)
    except ConfigError as exc:
        st.error(md("settings.invalid", lang, detail=str(exc)), icon=":material/error:")
    else:
        st.success(md("settings.saved", lang, n=len(overrides), count=len(overrides)) if overrides else md("settings.saved_none", lang),
                   icon=":material/check_circle:")

st.button(md("settings.reset", lang), icon=":material/restart_alt:", key=f"settings_reset_{tenant.id}",
          on_click=shared.on_reset_settings, args=(tenant.id, prefix),
          help=md("settings.reset_help", lang))
if st.session_state.pop(f"settings_flash_{tenant.id}", None) == "reset":
    st.success(md("settings.reset_done", lang), icon=":material/check_circle:")
