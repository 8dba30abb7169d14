"""The shop's calendar in storage, on every backend: saved whole or not at all, clear errors, what the forecast gets."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from forecasting.core.errors import DataError
from forecasting.core.events import Event
from forecasting.services import calendar
from forecasting.services.demo import generate_demo, write_demo
from forecasting.services.tenants import settings_for_tenant
from forecasting.services.training import forecast_from_active, train_and_predict_sales
from tests.support import END, FAST, NOW, open_backend

XMAS = Event("Closed for Christmas", "closed", date(2026, 12, 24), date(2026, 12, 26))
SALE = Event("Winter sale", "promotion", date(2027, 1, 7), date(2027, 1, 14), note="2-for-1 on bread")


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def shop(request, tmp_path):
    """Two small demo shops on each backend."""
    store = open_backend(request, tmp_path, request.param)
    write_demo(store, generate_demo(n_tenants=2, days=120, seed=3, end=END))
    yield store
    store.close()


def test_events_are_added_listed_edited_and_removed(shop):
    shop.delete("calendar_events", "1")
    report = calendar.save_events(shop, "1", [XMAS, SALE], now=NOW)
    assert report.written == 2 and report.warnings == []
    stored = calendar.list_events(shop, "1")
    assert [s.event for s in stored] == [SALE, XMAS]  # the latest first
    # the same events again: idempotent, one row each
    calendar.save_events(shop, "1", [XMAS, SALE], now=NOW)
    assert len(calendar.list_events(shop, "1")) == 2
    key = stored[0].key
    longer = Event("Winter sale", "promotion", date(2027, 1, 7), date(2027, 1, 21), products=("1-P01",))
    calendar.edit_event(shop, "1", key, longer, now=NOW)
    assert [s.event for s in calendar.list_events(shop, "1")] == [longer, XMAS]
    assert calendar.remove_event(shop, "1", calendar.event_key(longer)) is True
    assert calendar.remove_event(shop, "1", "no-such-key") is False
    assert [s.event for s in calendar.list_events(shop, "1")] == [XMAS]
    assert XMAS not in [s.event for s in calendar.list_events(shop, "2")]  # tenants never mix


@pytest.mark.parametrize("events, words", [
    ([Event("Backwards", "promotion", date(2026, 12, 5), date(2026, 12, 1))], "ends before it starts"),
    ([Event("Far", "event", date(2999, 1, 1), date(2999, 1, 1))], "more than 50 years away"),
    ([Event("Gift", "promotion", date(2026, 12, 1), date(2026, 12, 1), products=("nope",))], "no product nope"),
    ([Event("Sale", "promotion", date(2026, 12, 1), date(2026, 12, 5)),
      Event("Sale", "promotion", date(2026, 12, 4), date(2026, 12, 8))], "overlaps"),
])
def test_a_bad_list_is_refused_with_its_reason_and_nothing_is_written(shop, events, words):
    before = len(calendar.list_events(shop, "1"))
    with pytest.raises(DataError, match=words) as caught:
        calendar.save_events(shop, "1", [SALE, *events], now=NOW)
    assert str(caught.value).startswith("nothing was saved")
    assert len(calendar.list_events(shop, "1")) == before


def test_too_many_events_are_refused_before_any_is_written(shop, monkeypatch):
    monkeypatch.setattr(calendar, "MAX_EVENTS", 3)
    before = len(calendar.list_events(shop, "2"))
    events = [Event(f"Day {i}", "event", date(2027, 2, 1 + i), date(2027, 2, 1 + i)) for i in range(4 - before + 1)]
    with pytest.raises(DataError, match="at most 3"):
        calendar.save_events(shop, "2", events, now=NOW)
    assert len(calendar.list_events(shop, "2")) == before


def test_a_closure_on_days_with_sales_is_kept_with_a_warning(shop):
    sold_on = pd.Timestamp(END) - pd.Timedelta(days=3)
    report = calendar.save_events(shop, "2", [Event("Stocktaking", "closed", sold_on.date(), sold_on.date())],
                                  now=NOW)
    assert report.written == 1 and "already have sales" in report.warnings[0]


def test_editing_into_an_event_that_exists_is_refused(shop):
    shop.delete("calendar_events", "2")
    calendar.save_events(shop, "2", [XMAS, SALE], now=NOW)
    key = calendar.event_key(SALE)
    with pytest.raises(DataError, match="already has this event"):
        calendar.edit_event(shop, "2", key, XMAS, now=NOW)
    assert {s.event for s in calendar.list_events(shop, "2")} == {XMAS, SALE}


def test_weekly_closed_days_are_proposed_then_confirmed(shop):
    # The demo bakery (tenant 1) never opens on Sundays and its owner confirmed it; the other shop never closes.
    assert settings_for_tenant(shop, "1").closed_weekdays == [6]
    assert calendar.closed_weekday_proposal(shop, "1", now=NOW) == []
    calendar.set_closed_weekdays(shop, "1", [])
    assert calendar.closed_weekday_proposal(shop, "1", now=NOW) == [6]
    calendar.set_closed_weekdays(shop, "1", [6])
    assert calendar.tenant_calendar(shop, "1").closed_weekdays == frozenset({6})
    assert calendar.closed_weekday_proposal(shop, "2", now=NOW) == []
    with pytest.raises(DataError, match="0 .Monday. to 6"):
        calendar.set_closed_weekdays(shop, "1", [7])


def test_the_forecast_follows_the_calendar_without_retraining(shop):
    train_and_predict_sales("1", storage=shop, settings=FAST, now=NOW)
    before = forecast_from_active("1", storage=shop, now=NOW, horizon=14)
    assert (before.loc[before.index.dayofweek == 6, "yhat"] == 0).all()  # the bakery's Sundays
    first_open = before.index[(before.index.dayofweek != 6)][2]
    calendar.save_events(shop, "1", [Event("Inventory", "closed", first_open.date(), first_open.date())],
                         now=NOW)
    after = forecast_from_active("1", storage=shop, now=NOW, horizon=14)
    assert (after.loc[first_open, ["yhat", "yhat_lower_80", "yhat_upper_95"]] == 0).all()
    assert before.loc[first_open, "yhat"] > 0
    pd.testing.assert_frame_equal(after.drop(first_open), before.drop(first_open))


def test_events_csv_is_read_in_english_or_spanish_and_bad_lines_are_named(tmp_path):
    good = tmp_path / "events.csv"
    good.write_text("nombre;tipo;desde;hasta;anual;productos;nota\n"
                    "Navidad;cerrado;24/12/2026;26/12/2026;sí;;\n"
                    "Rebajas;Promoción;2027-01-07;2027-01-14;no;1-P01|1-P02;2x1\n"
                    "Pedido del colegio;puntual;2026-10-02;;;;\n", encoding="utf-8")
    events = calendar.read_events_csv(good)
    assert events[0] == Event("Navidad", "closed", date(2026, 12, 24), date(2026, 12, 26), yearly=True)
    assert events[1].products == ("1-P01", "1-P02") and events[1].kind == "promotion" and events[1].note == "2x1"
    assert events[2].first_day == events[2].last_day == date(2026, 10, 2) and events[2].kind == "one_off"
    bad = tmp_path / "bad.csv"
    bad.write_text("name,kind,first_day,last_day\nSale,promotion,2026-13-01,\nParty,fiesta_loca,2026-12-01,\n"
                   "Fine,event,2026-12-01,2026-12-02\n")
    with pytest.raises(DataError) as caught:
        calendar.read_events_csv(bad)
    message = str(caught.value)
    assert message.startswith("nothing was imported: 2 bad line(s)")
    assert "line 2: first_day '2026-13-01' is not a date" in message and "line 3: kind 'fiesta_loca'" in message
    missing = tmp_path / "missing.csv"
    missing.write_text("title,when\nSale,2026-12-01\n")
    with pytest.raises(DataError, match="lacks the column"):
        calendar.read_events_csv(missing)


def test_thousands_of_events_are_checked_and_saved_at_once_and_one_too_many_saves_none(tmp_path, monkeypatch):
    from forecasting.storage import SQLStorage

    store = SQLStorage.sqlite_file(tmp_path / "many.db")
    write_demo(store, generate_demo(n_tenants=1, days=60, seed=3, end=END))
    store.delete("calendar_events", "1")
    start = date(2027, 1, 1)
    days = [start + timedelta(days=2 * k) for k in range(3000)]  # every other day: none overlaps
    events = [Event("Promo", "promotion", day, day) for day in days]
    assert calendar.save_events(store, "1", events, now=NOW).written == 3000
    clash = Event("Promo", "promotion", days[10], days[11])  # spans two stored ones
    with pytest.raises(DataError, match="overlaps") as caught:
        calendar.save_events(store, "1", [clash], now=NOW)
    assert str(caught.value).count("overlaps") == 2
    monkeypatch.setattr(calendar, "MAX_EVENTS", 3000)
    with pytest.raises(DataError, match="at most 3000"):
        calendar.save_events(store, "1", [Event("One more", "event", date(2040, 1, 1), date(2040, 1, 1))], now=NOW)
    assert len(calendar.list_events(store, "1")) == 3000
    store.close()
