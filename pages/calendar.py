"""Shop calendar: closures, promotions, holidays and events the forecast knows ahead; weekly closed days; effects."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from forecasting.core.errors import ForecastingError
from forecasting.core.events import Event
from forecasting.i18n.catalog import escape_markdown, md, t
from forecasting.views import calendar
from pages import _shared as shared

ctx = shared.page_context()
lang, fmt, tenant = ctx.lang, ctx.fmt, ctx.tenant
NEW = ""  # the event picker's "new event"
FLASH = f"calendar_flash_{tenant.id}"
FORM = f"calendar_form_{tenant.id}_"
days_of_week = fmt.weekdays("wide")


def _flash(kind: str, text: str) -> None:
    st.session_state[FLASH] = (kind, text)


def _saved(report) -> None:
    _flash("success", md("calendar.saved", lang, n=report.written, count=fmt.number(report.written)))
    if report.warnings:
        st.session_state[FLASH + "_warnings"] = report.warnings


def on_closed_days(days: list[int]) -> None:
    try:
        calendar.set_closed_weekdays(ctx.storage, tenant.id, days)
    except ForecastingError as exc:
        _flash("error", escape_markdown(str(exc)))
    else:
        names = ", ".join(days_of_week[d] for d in sorted(days)) or md("calendar.closed.none", lang)
        _flash("success", md("calendar.closed.saved", lang, days=names))


def on_pick() -> None:
    """Fill the form with the picked event (or empty it for a new one)."""
    key = st.session_state[FORM + "pick"]
    row = events.set_index("key").loc[key] if key else None
    today = pd.Timestamp.now(tz=tenant.timezone).date()  # the shop's today, not the server's
    st.session_state[FORM + "name"] = "" if row is None else row["name"]
    st.session_state[FORM + "kind"] = "promotion" if row is None else row["kind"]
    st.session_state[FORM + "days"] = (today, today) if row is None else (row["first_day"], row["last_day"])
    st.session_state[FORM + "yearly"] = False if row is None else bool(row["yearly"])
    st.session_state[FORM + "products"] = [] if row is None or not row["products"] else row["products"].split(", ")
    st.session_state[FORM + "note"] = "" if row is None else row["note"]


def on_save() -> None:
    state = st.session_state
    days = state[FORM + "days"]
    first, last = (days[0], days[-1]) if isinstance(days, (list, tuple)) and days else (days, days)
    event = Event(state[FORM + "name"], state[FORM + "kind"], first, last, bool(state[FORM + "yearly"]),
                  tuple(state.get(FORM + "products") or ()), state[FORM + "note"])
    if not event.name.strip():  # the usual slip, said in the page's language (the service says it in English)
        _flash("error", md("calendar.form.no_name", lang))
        return
    try:
        _saved(calendar.save_event(ctx.storage, tenant.id, event, replace=state[FORM + "pick"] or None))
    except ForecastingError as exc:
        _flash("error", escape_markdown(str(exc)))  # the form keeps what was typed, to be corrected
    else:
        state[FORM + "pick"] = NEW  # saved: an empty form for the next event
        on_pick()


def on_remove() -> None:
    key = st.session_state[FORM + "pick"]
    if key and calendar.remove_event(ctx.storage, tenant.id, key):
        _flash("success", md("calendar.removed", lang))
        st.session_state[FORM + "pick"] = NEW
        on_pick()  # the form empties with the picker


def on_import() -> None:
    upload = st.session_state.get(f"calendar_upload_{tenant.id}")
    if upload is None:
        return
    try:
        _saved(calendar.import_events(ctx.storage, tenant.id, upload.getvalue()))
    except ForecastingError as exc:
        _flash("error", escape_markdown(str(exc)))


shared.page_header(ctx, "calendar.title")
st.caption(md("calendar.caption", lang))
with shared.friendly_errors(lang):
    view = calendar.calendar_view(ctx.storage, tenant.id, lang=lang)
    products = calendar.product_choices(ctx.storage, tenant.id)
events = view.events

if FLASH in st.session_state:
    kind, text = st.session_state.pop(FLASH)
    (st.success if kind == "success" else st.error)(text,
                                                    icon=":material/check_circle:" if kind == "success"
                                                    else ":material/error:")
for warning in st.session_state.pop(FLASH + "_warnings", []):
    st.warning(escape_markdown(warning), icon=":material/warning:")

# --- weekly closed days -----------------------------------------------------------------------------
st.subheader(md("calendar.closed.title", lang))
if view.proposal:
    with st.container(border=True):
        st.markdown(md("calendar.closed.proposal", lang, days=", ".join(days_of_week[d] for d in view.proposal)))
        st.button(md("calendar.closed.confirm", lang), type="primary", icon=":material/event_busy:",
                  key="calendar_confirm_closed", on_click=on_closed_days,
                  args=(sorted({*view.closed_weekdays, *view.proposal}),))
left, right = st.columns([3, 1], vertical_alignment="bottom")
chosen_days = left.multiselect(md("calendar.closed.label", lang), options=list(range(7)),
                               default=view.closed_weekdays, format_func=days_of_week.__getitem__,
                               key=f"calendar_closed_{tenant.id}", help=md("calendar.closed.help", lang),
                               placeholder=t("calendar.closed.none", lang))
right.button(md("calendar.closed.save", lang), icon=":material/save:", key="calendar_save_closed", width="stretch",
             disabled=sorted(chosen_days) == view.closed_weekdays, on_click=on_closed_days, args=(chosen_days,))

# --- what history says --------------------------------------------------------------------------------
st.subheader(md("calendar.effects.title", lang))
if not view.effects:
    st.caption(md("calendar.effects.none", lang))
for effect in view.effects:
    st.markdown(shared.effect_line(effect, ctx))

# --- events ---------------------------------------------------------------------------------------------
st.subheader(md("calendar.events.title", lang))
if events.empty:
    st.info(md("calendar.events.empty", lang), icon=":material/event:")
else:
    shown = pd.DataFrame({
        t("calendar.col.name", lang): events["name"],
        t("calendar.col.kind", lang): [t(f"calendar.kind.{k}", lang) for k in events["kind"]],
        t("calendar.col.from", lang): [fmt.date(d) for d in events["first_day"]],
        t("calendar.col.to", lang): [fmt.date(d) for d in events["last_day"]],
        t("calendar.col.yearly", lang): events["yearly"].astype(bool),
        t("calendar.col.products", lang): [", ".join(products.get(p, p) for p in ps.split(", ")) if ps else ""
                                           for ps in events["products"]],
        t("calendar.col.note", lang): events["note"],
    })
    st.dataframe(shown, hide_index=True, width="stretch", height=min(35 * (len(shown) + 1) + 3, 420))

labels = dict(zip(events["key"], [f"{n} · {fmt.date(a)}" + (f" – {fmt.date(b)}" if b != a else "")
                                  for n, a, b in zip(events["name"], events["first_day"], events["last_day"],
                                                     strict=True)], strict=True))
if FORM + "name" not in st.session_state:
    st.session_state[FORM + "pick"] = NEW
    on_pick()
st.selectbox(md("calendar.pick", lang), options=[NEW, *labels], key=FORM + "pick", on_change=on_pick,
             format_func=lambda key: labels.get(key) or t("calendar.new", lang))
editing = bool(st.session_state[FORM + "pick"])
with st.form(f"calendar_event_{tenant.id}", border=True):
    top = st.columns([2, 1])
    top[0].text_input(md("calendar.form.name", lang), key=FORM + "name", max_chars=200)
    top[1].selectbox(md("calendar.form.kind", lang), options=list(calendar.KINDS), key=FORM + "kind",
                     format_func=lambda k: t(f"calendar.kind.{k}", lang), help=md("calendar.form.kind_help", lang))
    middle = st.columns([2, 1])
    middle[0].date_input(md("calendar.form.days", lang), key=FORM + "days", format=fmt.date_input_format(),
                         min_value=pd.Timestamp.now().date() - timedelta(days=3650),
                         max_value=pd.Timestamp.now().date() + timedelta(days=3650))
    middle[1].checkbox(md("calendar.form.yearly", lang), key=FORM + "yearly")
    if products:
        st.multiselect(md("calendar.form.products", lang), options=list(products), key=FORM + "products",
                       format_func=lambda p: products.get(p, p), help=md("calendar.form.products_help", lang),
                       placeholder=t("calendar.form.whole_shop", lang))
    st.text_input(md("calendar.form.note", lang), key=FORM + "note", max_chars=500)
    st.form_submit_button(md("calendar.form.save_edit" if editing else "calendar.form.add", lang), type="primary",
                          icon=":material/save:", on_click=on_save)
if editing:
    st.button(md("calendar.remove", lang), icon=":material/delete:", key="calendar_remove", on_click=on_remove)

with st.expander(md("calendar.import.title", lang), icon=":material/upload_file:"):
    st.markdown(md("calendar.import.help", lang))
    st.file_uploader(md("calendar.import.file", lang), type=["csv", "txt"], key=f"calendar_upload_{tenant.id}")
    st.button(md("calendar.import.button", lang), icon=":material/upload:", key="calendar_import",
              on_click=on_import)
