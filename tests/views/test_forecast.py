"""The forecast page's data (`forecasting.views.forecast`): history and stored forecasts, the CSV, the figure."""

from __future__ import annotations

import html
import io
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecasting.i18n.catalog import model_label, t
from forecasting.i18n.formatting import Formatter
from forecasting.services.training import train_and_predict_sales
from forecasting.ui import figures, tables
from forecasting.views import forecast
from tests.support.dashboard_db import FAST, TRAINED, built_at


def test_forecast_view_bands_are_ordered_and_start_today(store):
    view = forecast.forecast_view(store, TRAINED, now=built_at())
    future = view.future
    assert len(future) == FAST.horizon_days and future.index[0] == pd.Timestamp(view.today)
    assert (future["yhat_lower_95"] <= future["yhat_lower"]).all() and (future["yhat_lower"] <= future["yhat"]).all()
    assert (future["yhat"] <= future["yhat_upper"]).all() and (future["yhat_upper"] <= future["yhat_upper_95"]).all()
    assert future["y"].isna().all() and view.frame["y"].notna().sum() > 300
    assert view.frame.index.freq == "D" and view.past_forecasts.empty


def test_earlier_forecasts_sit_under_the_actuals(writable):
    now = datetime.now(timezone.utc)
    train_and_predict_sales(TRAINED, storage=writable, settings=FAST, now=now - timedelta(days=10))
    train_and_predict_sales(TRAINED, storage=writable, settings=FAST, now=now)
    view = forecast.forecast_view(writable, TRAINED)
    past = view.past_forecasts
    assert len(past) >= 9 and past["y"].notna().all()  # each past forecast day has what really happened
    fig = figures.forecast_figure(view, Formatter("en", "EUR", "ES"))
    assert t("chart.past_forecast", "en") in [trace.name for trace in fig.data]


def test_the_forecast_download_opens_in_a_spreadsheet_set_to_either_language(store):
    view = forecast.forecast_view(store, TRAINED)
    english = tables.forecast_csv(view, Formatter("en", "EUR", "US"))
    assert english.startswith(b"\xef\xbb\xbf")  # UTF-8 that Excel recognises
    frame = pd.read_csv(io.BytesIO(english), encoding="utf-8-sig")
    assert list(frame.columns) == ["Date", "Forecast", "Low (80%)", "High (80%)", "Low (95%)", "High (95%)",
                                   "Holiday or event", "Currency", "Model", "Model version"]
    assert len(frame) == len(view.future) and frame["Date"].iloc[0] == view.today.isoformat()
    assert np.allclose(frame["Forecast"], view.future["yhat"].round(2))
    assert (frame["Currency"] == view.tenant.currency).all()
    assert frame["Model"].iloc[0] == model_label(view.model_type, "en") != view.model_type  # its name, not a code
    closed = view.closed.reindex(view.future.index, fill_value=False).to_numpy()
    assert (frame.loc[closed, "Holiday or event"].str.startswith("Closed")).all() and closed.any()  # Sundays at the bakery
    # A Spanish spreadsheet: `;` between fields and a decimal comma; a Mexican one: commas and a decimal point.
    spanish = tables.forecast_csv(view, Formatter("es", "EUR", "ES")).decode("utf-8-sig")
    header, first = spanish.splitlines()[:2]
    assert header.startswith("Fecha;Previsión;Mínimo (80 %);Máximo (80 %)")
    frame_es = pd.read_csv(io.StringIO(spanish), sep=";", decimal=",")
    assert np.allclose(frame_es["Previsión"], frame["Forecast"]) and frame_es["Modelo"].iloc[0] == model_label(
        view.model_type, "es")
    assert "," in first.split(";")[1] or float(first.split(";")[1]).is_integer()
    mexican = tables.forecast_csv(view, Formatter("es", "MXN", "MX")).decode("utf-8-sig")
    assert mexican.splitlines()[0].startswith("Fecha,Previsión,")


def test_forecast_figure_has_bands_weekends_holidays_and_a_range_selector(store):
    view = forecast.forecast_view(store, TRAINED)
    fig = figures.forecast_figure(view, Formatter("es", view.tenant.currency, view.tenant.country))
    names = [trace.name for trace in fig.data]
    expected = {t(key, "es") for key in ("chart.band80", "chart.band95", "chart.forecast", "chart.actual")}
    assert expected <= set(names)
    assert len(view.holidays) and t("chart.holiday", "es") in names
    weekends = [s for s in fig.layout.shapes if s.type == "rect"]
    assert weekends and all(pd.Timestamp(s.x0).dayofweek == 4 for s in weekends)  # Friday noon to Sunday night
    assert pd.Timestamp(weekends[0].x0) >= pd.Timestamp(view.today) - pd.Timedelta(weeks=figures.WEEKEND_WEEKS + 1)
    assert fig.layout.xaxis.rangeselector.buttons and fig.layout.separators == ",."


def test_a_holiday_is_named_in_the_hover_of_its_own_day_only(store):
    view = forecast.forecast_view(store, TRAINED)
    fig = figures.forecast_figure(view, Formatter("en", "EUR", "ES"))
    actual = next(trace for trace in fig.data if trace.name == t("chart.actual", "en"))
    said = dict(zip(pd.DatetimeIndex(actual.x), actual.customdata, strict=True))
    holiday, name = next((day, name) for day, name in view.holidays.items() if day in said)
    assert html.escape(name) in said[holiday]
    # The days around it say nothing: the unified hover of two days before no longer shows the holiday.
    for offset in (-2, -1, 1, 2):
        day = holiday + pd.Timedelta(days=offset)
        if day in said and day not in view.holidays.index:
            assert said[day] == ""
    marker = next(trace for trace in fig.data if trace.name == t("chart.holiday", "en"))
    assert marker.hoverinfo == "skip"


def test_weekly_totals_add_up_the_days_ahead_monday_to_sunday(store):
    view = forecast.forecast_view(store, TRAINED)
    weekly = tables.weekly_table(view, Formatter("en", "EUR", "ES"))
    future = view.future
    first_monday = future.index[0] - pd.Timedelta(days=future.index[0].dayofweek)
    expected = future["yhat"].groupby((future.index - first_monday).days // 7).sum()
    assert len(weekly) == len(expected)
    shown = [float(v.lstrip("€").replace(",", "")) for v in weekly["Forecast"]]
    assert shown == pytest.approx(list(expected.round(0)), abs=1)
    assert sum(int(n) for n in weekly["Days forecast"]) == len(future)
    closed = view.closed.reindex(future.index, fill_value=False)
    assert sum(int(n) for n in weekly["Days closed"] if n) == int(closed.sum()) > 0  # the bakery's Sundays
