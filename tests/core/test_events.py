"""The shop's calendar in the forecast: closures at 0, learned effects, nothing learned from after a cutoff."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecasting.core.config import MLSettings
from forecasting.core.engine import forecast_series
from forecasting.core.events import (
    Calendar,
    CalendarAware,
    Effects,
    Event,
    apply_calendar,
    event_problems,
    learn_effects,
    propose_closed_weekdays,
)
from forecasting.core.models import build

WEEK = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 1.8, 0.0])  # closed on Sundays
SETTINGS = MLSettings(model_candidates=["snaive", "ets", "theta"], horizon_days=14, cv_folds=2)


def shop(days: int = 420, uplift: float = 1.3, seed: int = 0, end: str = "2026-06-30"):
    """A shop closed on Sundays whose promotions (about 1 day in 15) sell `uplift` x an ordinary day."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=end, periods=days, freq="D", name="ds")
    y = pd.Series(100 * WEEK[index.dayofweek] * rng.lognormal(0, 0.08, days), index=index)
    promo = [d for d in index if d.dayofweek < 6 and rng.random() < 1 / 15]
    y[promo] *= uplift
    events = tuple(Event("Promo", "promotion", d.date(), d.date()) for d in promo)
    return y, events


def test_a_closure_forces_zero_with_a_zero_width_band_and_other_days_are_untouched():
    y, _ = shop()
    closure = Event("Closed for works", "closed", date(2026, 7, 7), date(2026, 7, 8))
    plain = build("ets", SETTINGS).fit(y).predict(10)
    aware = CalendarAware(build("ets", SETTINGS), Calendar((closure,))).fit(y).predict(10)
    closed = aware.index.isin(pd.to_datetime(["2026-07-07", "2026-07-08"]))
    assert (aware[closed] == 0.0).all().all()  # point and every band bound
    pd.testing.assert_frame_equal(aware[~closed], plain[~closed])


def test_weekly_closed_days_are_zero_in_the_forecast():
    y, _ = shop()
    forecast = CalendarAware(build("theta", SETTINGS), Calendar(closed_weekdays=frozenset({6}))).fit(y).predict(21)
    sundays = forecast.index.dayofweek == 6
    assert (forecast[sundays] == 0.0).all().all() and (forecast.loc[~sundays, "yhat"] > 50).all()


@pytest.mark.parametrize("uplift", [1.3, 0.7])
def test_the_learned_effect_matches_a_known_uplift(uplift):
    y, events = shop(uplift=uplift)
    calendar = Calendar(events, frozenset({6}))
    effects = learn_effects(y, calendar.days(y.index[0], y.index[-1]))
    assert effects.by_kind["promotion"].multiplier == pytest.approx(uplift, rel=0.06)
    assert effects.by_kind["promotion"].days == len(events)


def test_thin_history_claims_nothing():
    y, events = shop(days=90, uplift=1.3)
    # 3 promotion days of different names: fewer days than a kind needs, one occurrence of each name
    few = Calendar(tuple(Event(f"Sale {i}", e.kind, e.first_day, e.last_day) for i, e in enumerate(events[:3])),
                   frozenset({6}))
    assert learn_effects(y, few.days(y.index[0], y.index[-1])) == Effects()
    flat, events = shop(uplift=1.0)  # plenty of days, no effect: none claimed
    calendar = Calendar(events, frozenset({6}))
    assert "promotion" not in learn_effects(flat, calendar.days(flat.index[0], flat.index[-1])).by_kind


def test_a_recurring_named_event_gets_its_own_effect_after_two_years():
    index = pd.date_range("2024-01-01", "2026-06-30", freq="D")
    y = pd.Series(100 * WEEK[index.dayofweek] + 50, index=index)
    mothers = [pd.Timestamp(f"{year}-05-10") for year in (2024, 2025, 2026)]
    y[mothers] *= 1.6
    event = Event("Mother's Day", "event", date(2024, 5, 10), date(2024, 5, 10), yearly=True)
    table = Calendar((event,)).days(index[0], index[-1])
    effect = learn_effects(y, table).by_name["Mother's Day"]
    assert effect.multiplier == pytest.approx(1.6, rel=0.02) and effect.occurrences == 3


def test_a_future_promotion_raises_only_its_days_by_the_learned_effect():
    y, events = shop(uplift=1.3)
    future = Event("2-for-1", "promotion", date(2026, 7, 9), date(2026, 7, 10))
    without = CalendarAware(build("ets", SETTINGS), Calendar(events)).fit(y)
    with_promo = CalendarAware(build("ets", SETTINGS), Calendar((*events, future))).fit(y)
    a, b = without.predict(14), with_promo.predict(14)
    promo_days = a.index.isin(pd.to_datetime(["2026-07-09", "2026-07-10"]))
    ratio = b.loc[promo_days, "yhat"] / a.loc[promo_days, "yhat"]
    assert ratio.to_numpy() == pytest.approx(with_promo.effects_.by_kind["promotion"].multiplier)
    assert ratio.min() > 1.2
    pd.testing.assert_frame_equal(a[~promo_days], b[~promo_days])


def test_nothing_after_the_cutoff_reaches_a_fit():
    """Effects are learned from the history a model is given: change every day after the cutoff and the CV
    forecasts of the earlier fold do not move; a promotion known ahead still counts on its future days."""
    y, events = shop(uplift=1.3)
    calendar = Calendar(events, frozenset({6}))
    cutoff = y.index[-15]
    changed = y.copy()
    changed[changed.index > cutoff] *= 3.0
    one = CalendarAware(build("ets", SETTINGS), calendar).fit(y[:cutoff]).predict(14)
    two = CalendarAware(build("ets", SETTINGS), calendar).fit(changed[:cutoff]).predict(14)
    pd.testing.assert_frame_equal(one, two)
    a = forecast_series(y, SETTINGS, calendar=calendar).cv.predictions
    b = forecast_series(changed, SETTINGS, calendar=calendar).cv.predictions
    first_fold = a["fold"] == 1
    np.testing.assert_allclose(a.loc[first_fold, "yhat"], b.loc[first_fold, "yhat"])


def test_cross_validation_scores_no_closed_or_one_off_day():
    y, events = shop()
    one_off = Event("Catering order", "one_off", date(2026, 6, 24), date(2026, 6, 24))
    y[pd.Timestamp("2026-06-24")] *= 8
    outcome = forecast_series(y, SETTINGS, calendar=Calendar((*events, one_off), frozenset({6})))
    scored = pd.DatetimeIndex(outcome.cv.predictions["ds"])
    assert len(scored) and not (scored.dayofweek == 6).any()
    assert pd.Timestamp("2026-06-24") not in scored
    # the one-off day was left out of training: the forecast is no higher than without it
    plain = forecast_series(y.where(y.index != "2026-06-24", y.shift(7)), SETTINGS,
                            calendar=Calendar(events, frozenset({6})))
    assert outcome.forecast["yhat"].sum() == pytest.approx(plain.forecast["yhat"].sum(), rel=0.02)


def test_a_stored_models_forecast_gets_the_calendar_as_it_is_now():
    y, events = shop()
    model = CalendarAware(build("theta", SETTINGS), Calendar(events)).fit(y)
    stored = model.model.predict(7)  # what the stored (unwrapped) model says
    closure = Event("Inventory", "closed", date(2026, 7, 3), date(2026, 7, 3))
    now = apply_calendar(stored, Calendar((*events, closure)), model.effects_)
    assert (now.loc["2026-07-03"] == 0).all()
    assert (now.drop(pd.Timestamp("2026-07-03")) == stored.drop(pd.Timestamp("2026-07-03"))).all().all()


def test_a_yearly_event_recurs_and_the_29th_of_february_falls_on_the_28th():
    event = Event("Leap party", "event", date(2024, 2, 29), date(2024, 3, 1), yearly=True)
    spans = event.occurrences(date(2025, 1, 1), date(2026, 12, 31))
    assert spans == [(date(2025, 2, 28), date(2025, 3, 1)), (date(2026, 2, 28), date(2026, 3, 1))]
    days = Calendar((event,)).days("2025-02-27", "2025-03-02")
    assert list(days["label"]) == ["", "Leap party", "Leap party", ""]


def test_closed_weekdays_are_proposed_only_from_eight_clean_weeks():
    y, _ = shop()
    assert propose_closed_weekdays(y) == [6]
    y[y.index[-3:]] = 0.0  # a quiet spell of three days is not a closing day
    assert propose_closed_weekdays(y) == [6]
    reopened = y.copy()
    reopened[reopened.index[-14:][reopened.index[-14:].dayofweek == 6][0]] = 40.0  # open one Sunday lately
    assert propose_closed_weekdays(reopened) == []
    assert propose_closed_weekdays(y[-30:]) == []  # too short to say


def test_event_problems_name_each_bad_event():
    today = date(2026, 11, 27)
    problems = event_problems([
        Event("Backwards", "promotion", date(2026, 12, 5), date(2026, 12, 1)),
        Event("", "closed", date(2026, 12, 1), date(2026, 12, 1)),
        Event("Far", "event", date(2999, 1, 1), date(2999, 1, 2)),
        Event("Odd", "party", date(2026, 12, 1), date(2026, 12, 1)),
        Event("Long", "promotion", date(2026, 1, 1), date(2027, 6, 1)),
    ], today)
    text = " | ".join(problems)
    assert "Backwards" in text and "ends before it starts" in text
    assert "the name is empty" in text and "50 years" in text and "'party'" in text and "more than a year" in text
    assert event_problems([Event("Fine", "holiday", today, today)], today) == []


def test_a_stored_ensemble_of_a_calendar_model_and_a_plain_one_forecasts_the_same_once_restored():
    """LightGBM takes the calendar as features, theta gets the learned effects: each member its own way,
    and the stored (plain) ensemble wrapped again with the same calendar forecasts exactly the same."""
    from forecasting.core.events import effects_of, unwrap
    from forecasting.core.models import load_model
    from forecasting.core.models.ensemble import EnsembleForecaster

    y, events = shop(days=500)
    calendar = Calendar((*events, Event("2x1", "promotion", date(2026, 7, 8), date(2026, 7, 9))), frozenset({6}))
    model = CalendarAware(EnsembleForecaster([build("lightgbm", SETTINGS), build("theta", SETTINGS)]), calendar)
    forecast = model.fit(y).predict(14)
    lightgbm, theta = model.model.members
    assert not lightgbm.applies and theta.applies and lightgbm.model.with_calendar_
    stored = unwrap(model)
    assert [type(m).__name__ for m in stored.members] == ["LightGBMForecaster", "ThetaForecaster"]
    assert all(isinstance(m, CalendarAware) for m in model.model.members)  # unwrapping copied, not changed
    again = CalendarAware.restore(load_model("ensemble", stored.to_bytes()), calendar, effects_of(model))
    pd.testing.assert_frame_equal(again.predict(14), forecast)
    assert (forecast.loc[forecast.index.dayofweek == 6] == 0).all().all()


def test_lightgbm_learns_a_promotion_from_its_feature():
    y, events = shop(days=600, uplift=1.6)
    future = Event("2-for-1", "promotion", date(2026, 7, 8), date(2026, 7, 8))
    with_promo = CalendarAware(build("lightgbm", SETTINGS), Calendar((*events, future))).fit(y).predict(14)
    without = CalendarAware(build("lightgbm", SETTINGS), Calendar(events)).fit(y).predict(14)
    day = pd.Timestamp("2026-07-08")
    assert with_promo.loc[day, "yhat"] > 1.25 * without.loc[day, "yhat"]


def test_prophet_takes_promotions_as_a_regressor_and_the_shops_holidays_by_name():
    y, events = shop(days=400, uplift=1.6)
    own = Event("Fiesta del pueblo", "holiday", date(2025, 9, 8), date(2025, 9, 8), yearly=True)
    y[pd.Timestamp("2025-09-08")] *= 0.3
    future = (Event("2-for-1", "promotion", date(2026, 7, 8), date(2026, 7, 8)),)
    model = CalendarAware(build("prophet", SETTINGS), Calendar((*events, own, *future))).fit(y)
    assert not model.applies and "promotion" in model.model.model_.extra_regressors
    assert "Fiesta del pueblo" in set(model.model.model_.holidays["holiday"])
    forecast = model.predict(14)
    plain = CalendarAware(build("prophet", SETTINGS), Calendar((*events, own))).fit(y).predict(14)
    day = pd.Timestamp("2026-07-08")
    assert forecast.loc[day, "yhat"] > 1.2 * plain.loc[day, "yhat"]
    from forecasting.core.events import effects_of, unwrap
    from forecasting.core.models import load_model

    stored = load_model("prophet", unwrap(model).to_bytes())  # Prophet's JSON keeps regressors and holidays
    again = CalendarAware.restore(stored, model.calendar, effects_of(model)).predict(14)
    pd.testing.assert_frame_equal(again, forecast)
