"""One bad row in `negocios` (written by the business application) is that business's problem only.

`timezone='Mars/Olympus'` on one business used to replace the admins' "All businesses" table with an
error. Now a business with an unknown time zone, currency or country is listed as a bad row saying
what is wrong; its own pages say so; training it fails with that sentence; everyone else is untouched.
"""

from __future__ import annotations

import re

import pytest

from forecasting.core.errors import DataError
from forecasting.ops.jobs import retrain_all
from forecasting.services.tenants import get_tenant, list_tenants
from forecasting.services.training import train_and_predict_sales
from forecasting.storage import SQLStorage
from tests.support import FAST, NOW
from tests.support.dashboard_db import copy_db
from tests.support.pages import OVERVIEW, PAGES, open_page, start, use_database

# The demo database has four businesses; "2" stays good (it has sales), "4" has no sales at all.
BAD = {"1": {"timezone": "Mars/Olympus"}, "3": {"currency": "=1+1"}, "4": {"country": "XX"}}
WHAT = {"1": "unknown time zone 'Mars/Olympus'", "3": "unknown currency '=1+1'", "4": "unknown country 'XX'"}
GOOD = "2"


@pytest.fixture
def spoiled_db(demo_db, tmp_path):
    db = copy_db(demo_db, tmp_path / "spoiled.db")
    storage = SQLStorage.sqlite_file(db)
    for tenant, values in BAD.items():
        storage.update("negocios", tenant, values, where={"id": tenant})
    storage.close()
    return db


def test_bad_rows_are_listed_with_their_problem_and_refused_when_used(spoiled_db):
    storage = SQLStorage.sqlite_file(spoiled_db)
    listed = {t.id: t for t in list_tenants(storage)}
    for tenant, what in WHAT.items():
        assert what in listed[tenant].problem
        with pytest.raises(DataError, match=re.escape(f"business {tenant} can't be used: {what}")):
            get_tenant(storage, tenant)
        with pytest.raises(DataError, match=re.escape(what)):
            train_and_predict_sales(tenant, storage=storage, settings=FAST, now=NOW)
    assert [t.id for t in listed.values() if t.problem is None] == [GOOD]
    assert get_tenant(storage, GOOD) == listed[GOOD]


def test_the_weekly_retrain_does_everyone_else(spoiled_db, monkeypatch):
    monkeypatch.setenv("TRAIN_EXECUTOR", "serial")
    storage = SQLStorage.sqlite_file(spoiled_db)
    outcome = retrain_all(storage, FAST, now=NOW, executor="serial")
    assert set(outcome.errors) == set(BAD)
    assert all(WHAT[tenant] in error for tenant, error in outcome.errors.items())
    assert outcome.done == 1 and GOOD in outcome.details


def test_the_all_businesses_table_shows_bad_rows_as_bad_rows(monkeypatch, spoiled_db):
    use_database(monkeypatch, spoiled_db)
    at = start()
    good = GOOD
    open_page(at, OVERVIEW, tenant=good)
    table = at.dataframe[-1].value  # the last table on the Overview: all businesses
    assert "Problem" in table.columns and len(table) == len(list_tenants(SQLStorage.sqlite_file(spoiled_db)))
    problems = dict(zip(table["Business"], table["Problem"], strict=True))
    names = {t.id: t.nombre for t in list_tenants(SQLStorage.sqlite_file(spoiled_db))}
    for tenant, what in WHAT.items():
        assert what in problems[names[tenant]]
    assert problems[names[good]] == ""
    good_row = table[table["Business"] == names[good]].iloc[0]
    assert good_row["Sales 7 d"] != "—"  # the others' figures are there


@pytest.mark.parametrize("tenant", sorted(BAD))
def test_a_bad_business_page_says_what_is_wrong(monkeypatch, spoiled_db, tenant):
    use_database(monkeypatch, spoiled_db)
    at = start()
    for page in PAGES:
        open_page(at, page, tenant=tenant)  # no exception
        warnings = " ".join(w.value for w in at.warning)
        assert "can't be used as it is" in warnings and "negocios" in warnings
        assert WHAT[tenant].split("'")[0] in warnings  # "unknown time zone ", "unknown currency "...
