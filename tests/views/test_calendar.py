"""The calendar in the views: what-if changes only its days, closed days read "Closed", a marked day is explained."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pytest

from forecasting.core.events import Effect, Event
from forecasting.i18n.catalog import t
from forecasting.i18n.formatting import Formatter
from forecasting.ui import tables
from forecasting.views import anomalies, calendar, forecast
from tests.support.dashboard_db import TRAINED


def test_what_if_changes_only_the_chosen_days(store):
    view = forecast.forecast_view(store, TRAINED)
    future = view.future
    pairs = [(a, b) for a, b in zip(future.index[1:], future.index[2:])
             if future.loc[a, "yhat"] > 0 and future.loc[b, "yhat"] > 0]
    first, last = pairs[0][0].date(), pairs[0][1].date()  # two open days in a row

    closed = forecast.what_if(view, Event("Shut", "closed", first, last))
    chosen = closed.days
    assert list(chosen.date) == [d.date() for d in pd.date_range(first, last)]
    assert (closed.after.loc[chosen] == 0).all().all()
    others = closed.after.index.difference(chosen)
    pd.testing.assert_frame_equal(closed.after.loc[others], closed.before.loc[others])
    assert closed.total_after < closed.total_before

    learned = Effect("promotion", None, 1.25, 40, 12)
    boosted = forecast.what_if(_with_effects(view, (learned,)), Event("2x1", "promotion", first, last))
    assert boosted.effect == learned
    ratio = boosted.after.loc[chosen, "yhat"] / boosted.before.loc[chosen, "yhat"]
    assert ratio.to_numpy() == pytest.approx(1.25)
    pd.testing.assert_frame_equal(boosted.after.loc[others], boosted.before.loc[others])

    unknown = forecast.what_if(_with_effects(view, ()), Event("2x1", "promotion", first, last))
    assert unknown.effect is None and unknown.total_after == pytest.approx(unknown.total_before)
    shop_with_products = replace(view, effects=(learned,), units=pd.Series(10.0, index=future.index))
    with_units = forecast.what_if(shop_with_products, Event("2x1", "promotion", first, last))
    assert with_units.units == (pytest.approx(20.0), pytest.approx(25.0))  # two days of 10 units, +25%
    outside = forecast.what_if(view, Event("Later", "closed", future.index[-1].date() + timedelta(days=5),
                                           future.index[-1].date() + timedelta(days=6)))
    assert len(outside.days) == 0


def _with_effects(view, effects):
    return replace(view, effects=tuple(effects))


def test_closed_days_read_closed_and_known_days_are_named(store):
    view = forecast.forecast_view(store, TRAINED)  # the demo bakery: closed on Sundays, Spanish holidays
    table = tables.forecast_table(view, Formatter("es", "EUR", "ES"))
    sundays = view.future.index.dayofweek == 6
    assert sundays.any()
    assert set(table.loc[sundays, t("table.forecast", "es")]) == {t("calendar.kind.closed", "es")}
    assert set(table.loc[sundays, t("table.range80", "es")]) == {""}
    assert (view.future.loc[sundays, ["yhat", "yhat_upper_95"]] == 0).all().all()
    assert view.holidays.str.len().gt(0).all() and len(view.holidays)


def test_a_flagged_day_marked_as_one_off_is_explained_at_once(writable):
    view = anomalies.anomaly_view(writable, TRAINED)
    frame = anomalies.reflag(view, view.threshold)
    if not frame["is_anomaly"].any():  # make one: the lowest threshold flags the highest score
        frame = anomalies.reflag(view, float(frame["score"].max()) - 1e-6)
    day = frame.loc[frame["is_anomaly"], "ds"].iloc[0]
    threshold = float(frame.loc[frame["ds"] == day, "score"].iloc[0]) - 1e-6
    calendar.save_event(writable, TRAINED, Event("School catering", "one_off", day.date(), day.date()))
    again = anomalies.anomaly_view(writable, TRAINED)
    flagged = anomalies.reflag(again, threshold)
    assert not flagged.loc[flagged["ds"] == day, "is_anomaly"].iloc[0]
    known = anomalies.explained(flagged, threshold)
    assert "School catering" in set(known.loc[known["ds"] == day, "event"])


def test_the_calendar_view_lists_events_closed_days_and_effects(store):
    view = calendar.calendar_view(store, TRAINED)
    assert view.closed_weekdays == [6] and view.proposal == []
    assert {"promotion", "event"} <= set(view.events["kind"])
    assert all(effect.days > 0 for effect in view.effects)
