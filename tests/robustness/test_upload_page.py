"""The CSV sales upload on the Models page, through Streamlit's AppTest (which drives `st.file_uploader`).

A good file: the page says what was imported, the rows are in the database
and the Overview's figures move by exactly the imported amounts. A file
with bad rows: the page lists every bad line with its reason, and nothing
at all is written, not even the good rows of that file.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from forecasting.core.series import tenant_today
from forecasting.i18n.catalog import t
from forecasting.i18n.formatting import formatter_for
from forecasting.services.tenants import get_tenant
from forecasting.storage import SQLStorage
from tests.support.dashboard_db import EMPTY, TRAINED, copy_db
from tests.support.pages import MODELS, OVERVIEW, open_page, shown, start, texts, use_database


@pytest.fixture
def page(monkeypatch, demo_db, tmp_path):
    """The app on a private copy of the demo database, and that database."""
    db = copy_db(demo_db, tmp_path / "upload.db")
    use_database(monkeypatch, db)
    store = SQLStorage.sqlite_file(db)
    yield start(), store
    store.close()


def upload(at: AppTest, tenant_id: str, content: bytes, name: str = "ventas.csv") -> AppTest:
    """Choose the file in the Models page's uploader, then press Import, as a user does."""
    at.file_uploader(key=f"import_csv_{tenant_id}").set_value((name, content, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key=f"import_go_{tenant_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sales(store: SQLStorage, tenant_id: str) -> pd.DataFrame:
    return store.select("ventas", tenant_id, order_by="id").reset_index(drop=True)


def sale_ids(store: SQLStorage) -> dict[str, set[str]]:
    """Every tenant's sale ids."""
    return {tenant: set(store.select("ventas", tenant, columns=["id"])["id"]) for tenant in store.tenants()["id"]}


def test_a_good_file_is_imported_and_the_overview_figures_follow(page):
    at, store = page
    tenant = get_tenant(store, EMPTY)  # Tienda Nueva: no sales yet, pesos, Bogotá
    # Two and three days ago, local: inside "the last 7 days" even if the day turns during the test.
    today = tenant_today(tenant.timezone)
    days = [(today - timedelta(days=ago)).isoformat() for ago in (2, 3, 3)]
    content = (f"id,fecha,total\nup-1,{days[0]} 10:15,125000.50\nup-2,{days[1]} 18:00,74999.50\n"
               f"up-3,{days[2]} 19:30,300000\n").encode()

    open_page(at, OVERVIEW, tenant=EMPTY)
    assert t("msg.no_sales", "en", name=tenant.nombre) in texts(at.info) and not at.metric
    open_page(at, MODELS)
    assert at.button(key="retrain_now").disabled

    upload(at, EMPTY, content)
    assert [shown(s.value) for s in at.success] == [t("import.done", "en", summary=(
        f"tenant {EMPTY}: imported 3 sales: 3 new, 0 already present [utf-8, comma-separated]"))]
    assert not at.error
    stored = sales(store, EMPTY)
    assert list(stored["id"]) == ["up-1", "up-2", "up-3"]
    assert list(pd.to_numeric(stored["total"])) == [125000.50, 74999.50, 300000.0]
    local = pd.to_datetime(stored["fecha"], utc=True).dt.tz_convert(tenant.timezone).dt.strftime("%Y-%m-%d %H:%M")
    assert list(local) == [f"{days[0]} 10:15", f"{days[1]} 18:00", f"{days[2]} 19:30"]  # the shop's local times
    at.run()  # the next visit: the shop has sales now, so it can be trained
    assert not at.button(key="retrain_now").disabled

    open_page(at, OVERVIEW)
    assert t("msg.no_sales", "en", name=tenant.nombre) not in texts(at.info)
    fmt = formatter_for(tenant, "en")
    cards = {m.label: m.value for m in at.metric}
    for period in (7, 30):
        assert cards[t("overview.sales_last", "en", days=period)] == fmt.money(500000, whole=True)

    # The same file again adds nothing, and says so.
    open_page(at, MODELS)
    upload(at, EMPTY, content)
    assert [shown(s.value) for s in at.success] == [t("import.done", "en", summary=(
        f"tenant {EMPTY}: nothing new, all 3 sales were already imported [utf-8, comma-separated]"))]
    assert len(sales(store, EMPTY)) == 3


BAD = (
    "id,fecha,total\n"
    "good-1,2026-01-10 10:00,12.50\n"         # line 2: fine, yet not imported with the others
    "bad-date,2026-13-45 10:00,10\n"          # line 3
    "bad-total,2026-01-10 11:00,abc\n"        # line 4
    ",2026-01-10 12:00,5\n"                   # line 5
    "future,2099-01-01 10:00,5\n"             # line 6
    "good-2,2026-01-11 10:00,7\n"             # line 7: fine
)


def test_a_file_with_bad_rows_lists_each_line_and_writes_nothing(page):
    at, store = page
    open_page(at, MODELS, tenant=TRAINED)
    before = sale_ids(store)
    before_own = sales(store, TRAINED)

    upload(at, TRAINED, BAD.encode())
    assert [shown(e.value) for e in at.error] == [t("import.failed", "en", n=4, problems=4, lines=4)]
    assert shown(at.error[0].value) == ("Nothing was imported: 4 problems in the file; lines affected: 4. "
                                        "Fix these rows and upload the file again.")
    assert not at.success
    [table] = [d.value for d in at.dataframe if "Reason" in d.value.columns]
    table.columns = ["line", "column", "value", "reason"]
    assert [d.value for d in at.dataframe if "Reason" in d.value.columns][0].columns.tolist() == [
        "Line", "Column", "Value", "Reason"]
    assert list(table["line"]) == [3, 4, 5, 6]
    reasons = dict(zip(table["line"], table["reason"], strict=True))
    assert reasons[3] == "not a valid date (month must be in 1..12)"
    assert reasons[4] == "not a number: write the amount with digits, e.g. 1234,56"
    assert reasons[5] == "the sale id is empty"
    assert re.fullmatch(r"in the future \(after \d{4}-\d\d-\d\d \d\d:\d\d UTC\): a sale can't be imported before "
                        r"it happens; check the year and that the day comes first", reasons[6]), reasons[6]
    assert dict(zip(table["line"], table["value"], strict=True))[3] == "2026-13-45 10:00"

    # Nothing written: not the good lines 2 and 7, not anything for any tenant.
    assert sale_ids(store) == before
    pd.testing.assert_frame_equal(sales(store, TRAINED), before_own)
    assert not {"good-1", "good-2", "bad-date", "bad-total", "future"} & set().union(*before.values())
