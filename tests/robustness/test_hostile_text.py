"""User-supplied text is shown as text: no link, image, formula or colour comes alive on a page.

Streamlit renders Markdown (with LaTeX between `$` and directives such as
`:red[...]`) in almost every element: titles, captions, alerts, metric
labels, widget labels. A business named like a sign-in prompt linking
elsewhere must show that name, not a link. Every page is rendered with
hostile text in the business's name, a product's name (in a notification)
and an import error; every Markdown-rendering element's text is parsed with
a CommonMark parser and must hold no link and no image, and no unescaped
`$...$`, `:red[...]` or `**` coming from the data.
"""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from forecasting.i18n.catalog import escape_markdown
from forecasting.i18n.formatting import Formatter
from forecasting.services.notifications import notify, notify_parts
from forecasting.storage import SQLStorage
from tests.support.dashboard_db import copy_db
from tests.support.pages import JOBS, PAGES, open_page, start, use_database

HOSTILE = ("[Your session expired](https://evil.example/login) ![](https://evil.example/p.png) $x^2$ :red[!] **B** "
           "www.evil.example")
PARSER = MarkdownIt("commonmark")
# Element types whose text Streamlit renders as Markdown (the body, or the label).
MARKDOWN_ELEMENTS = ("markdown", "caption", "title", "header", "subheader", "alert", "metric", "toast", "expander",
                     "status")


def live_markdown(text: str) -> list[str]:
    """What of HOSTILE in `text` Markdown would turn into something other than text."""
    found = []
    for token in PARSER.parse(text):
        for child in token.children or []:
            if child.type in ("link_open", "image"):
                found.append(f"{child.type}: {child.attrs}")
    # Streamlit's own additions, which CommonMark doesn't know: LaTeX and directives, and emphasis.
    found += [piece for piece in ("$x^2$", ":red[!]", "**B**") if piece in text]
    # GitHub's autolinks, which Streamlit's renderer makes of a bare https:// or www. even when escaped.
    found += [f"autolink: {m.group(0)}" for m in re.finditer(r"(?i)\b(?:https?|www)\\?[:.]\S*evil", text)]
    return found


def texts(at: AppTest) -> list[str]:
    """Every Markdown-rendered string of the last run: bodies and labels."""
    out = []
    for node in [*at.main, *at.sidebar]:
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        for field in ("body", "label", "value"):
            value = getattr(proto, field, None)
            if isinstance(value, str) and value:
                out.append(value)
    return out


@pytest.fixture
def hostile_app(monkeypatch, demo_db, tmp_path):
    db = copy_db(demo_db, tmp_path / "hostile.db")
    storage = SQLStorage.sqlite_file(db)
    storage.update("negocios", "1", {"nombre": HOSTILE}, where={"id": "1"})
    # a notification written by another application (shown as stored) and one of ours, naming a product
    notify(storage, "1", kind="low_stock", severity="warning", title=f"Low stock: {HOSTILE}", message=HOSTILE,
           event_key="hostile-1")
    notify_parts(storage, "1", Formatter(), kind="low_stock", severity="warning", event_key="hostile-2",
                 title=("notif.low_stock.title", {"product": HOSTILE}),
                 parts=[("notif.low_stock.message", {"product": HOSTILE, "stock_num": 1, "threshold_num": 5})])
    storage.close()
    use_database(monkeypatch, db)
    at = start()
    at.sidebar.selectbox(key="tenant_id").select("1").run()
    return at


def test_escaping_shows_the_text_and_kills_the_markdown():
    escaped = escape_markdown(HOSTILE + "\n# heading")
    assert not live_markdown(escaped)
    rendered = PARSER.render(escaped).replace("\u200b", "")  # what a reader sees (the zero-width spaces aren't)
    assert "[Your session expired](https://evil.example/login)" in rendered and "<a " not in rendered
    assert "<h1>" not in rendered and "<img" not in rendered


def test_a_hostile_name_is_text_on_every_page(hostile_app):
    at = hostile_app
    for page in [*PAGES, JOBS]:
        open_page(at, page)
        shown = texts(at)
        assert any("Your session expired" in text for text in shown) or page == JOBS, page  # it is shown...
        alive = [(text[:80], live) for text in shown for live in live_markdown(text)]
        assert not alive, (page, alive)  # ...as text


@pytest.mark.parametrize("total", [float("inf"), 1e308, -1e15])
def test_pages_survive_an_impossible_amount_already_in_the_database(monkeypatch, demo_db, tmp_path, total):
    """Written by another application, past the importer: every page still renders (the money formats
    used to raise decimal.InvalidOperation, the all-businesses table included), and the business's
    series is refused with the day named instead of training on it."""
    from datetime import datetime, timedelta, timezone

    from forecasting.core.errors import DataError
    from forecasting.services.sales import daily_sales

    db = copy_db(demo_db, tmp_path / "bad-amount.db")
    storage = SQLStorage.sqlite_file(db)
    three_days_ago = datetime.now(timezone.utc) - timedelta(days=3)
    storage.upsert("ventas", "1", [{"id": "absurd-1", "negocio_id": "1", "fecha": three_days_ago, "total": total}])
    with pytest.raises(DataError, match=f"impossible amount on {three_days_ago:%Y-%m-%d}"):
        daily_sales(storage, "1", timezone="UTC")
    storage.close()
    use_database(monkeypatch, db)
    at = start()
    at.sidebar.selectbox(key="tenant_id").select("1").run()
    for page in [*PAGES, JOBS]:
        open_page(at, page)  # asserts no exception
