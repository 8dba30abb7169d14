"""Plotly figures for the dashboard: pure builders from `forecasting.views` results to `go.Figure`.

Every builder takes a `Formatter` (language, locale separators, currency
affixes) so axes and hovers read as the user reads numbers. Amounts on
charts are whole units of the tenant's currency: cents are noise at a
glance, and the tables show them where they matter.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n.catalog import model_label, t
from ..i18n.formatting import Formatter
from ..services.scoring import Scorecard
from ..views.comparison import CVView
from ..views.forecast import ForecastView, WhatIf
from ..views.products import ProductDetail

INK = "#1F2933"
TEAL = "#0F766E"
BAND_80 = "rgba(15, 118, 110, 0.28)"
BAND_95 = "rgba(15, 118, 110, 0.12)"
PAST = "#94A3B8"
ALERT = "#DC2626"
AMBER = "#B45309"
WEEKEND = "rgba(100, 116, 139, 0.09)"
GRID = "rgba(100, 116, 139, 0.18)"
#: Colours of the other candidates; the winner is always teal and seasonal naive always grey.
PALETTE = ("#6366F1", "#D97706", "#DB2777", "#0284C7", "#65A30D", "#7C3AED", "#EA580C")

#: Weeks of history before today whose weekends are shaded (all of them would be a grey blur zoomed out).
WEEKEND_WEEKS = 12
#: History shown before today when the forecast chart opens; the range selector reaches the rest.
DEFAULT_WINDOW_DAYS = 90
#: History the anomaly chart opens on: half a year keeps single days distinguishable.
ANOMALY_WINDOW_DAYS = 182


def _layout(fig: go.Figure, fmt: Formatter, *, height: int = 420, money_axis: bool = True) -> go.Figure:
    prefix, suffix = fmt.currency_affixes if money_axis else ("", "")
    fig.update_layout(
        height=height,
        margin=dict(l=8, r=8, t=36, b=8),
        separators=fmt.separators,
        hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, title_text=""),
        plot_bgcolor="white",
        paper_bgcolor="white",
        font=dict(color=INK),
    )
    fig.update_yaxes(tickprefix=prefix, ticksuffix=suffix, tickformat="~s" if money_axis else None,
                     gridcolor=GRID, zeroline=False, rangemode="tozero" if money_axis else "normal")
    fig.update_xaxes(gridcolor=GRID, showspikes=False)
    return fig


def _money_hover(fmt: Formatter) -> str:
    prefix, suffix = fmt.currency_affixes
    return f"{prefix}%{{y:,.0f}}{suffix}"


def _range_selector(fmt: Formatter) -> dict:
    lang = fmt.lang
    return dict(buttons=[
        dict(count=1, label=t("chart.range.1m", lang), step="month", stepmode="backward"),
        dict(count=3, label=t("chart.range.3m", lang), step="month", stepmode="backward"),
        dict(count=6, label=t("chart.range.6m", lang), step="month", stepmode="backward"),
        dict(count=1, label=t("chart.range.1y", lang), step="year", stepmode="backward"),
        dict(label=t("chart.range.all", lang), step="all"),
    ], bgcolor="#F1F5F9", activecolor="#CCE7E3", x=0, y=1.0, yanchor="bottom", font=dict(size=11))


def _weekend_shapes(start: pd.Timestamp, end: pd.Timestamp) -> list[dict]:
    days = pd.date_range(start, end, freq="D")
    saturdays = days[days.dayofweek == 5]
    half = pd.Timedelta(hours=12)
    return [dict(type="rect", xref="x", yref="paper", x0=sat - half, x1=sat + pd.Timedelta(days=1) + half,
                 y0=0, y1=1, fillcolor=WEEKEND, line_width=0, layer="below") for sat in saturdays]


def forecast_figure(view: ForecastView, fmt: Formatter) -> go.Figure:
    """History, past forecasts under their actuals, and the forecast with its 80% and 95% bands.

    Opens on the last 90 days plus the forecast; the range selector (and
    drag to zoom) reaches three years back. Weekends of the recent weeks are
    shaded and holidays are marked with a diamond on the line.
    """
    lang = fmt.lang
    frame = view.frame
    today = pd.Timestamp(view.today)
    future = view.future
    past = view.past_forecasts
    hover = _money_hover(fmt)
    # A day's holiday or event is said in that day's own hover. A marker trace of its own would not do: the
    # unified hover takes every trace's nearest point, so Thanksgiving showed when hovering two days before.
    names = view.holidays.reindex(frame.index).fillna("")

    def named(days: pd.Index) -> list[str]:
        return [f"  <b>{html.escape(name)}</b>" if name else "" for name in names.reindex(days).fillna("")]

    fig = go.Figure()

    if len(future):
        x = list(future.index) + list(future.index[::-1])
        fig.add_trace(go.Scatter(
            x=x, y=list(future["yhat_upper_95"]) + list(future["yhat_lower_95"][::-1]), fill="toself",
            fillcolor=BAND_95, line=dict(width=0), name=t("chart.band95", lang), hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=x, y=list(future["yhat_upper"]) + list(future["yhat_lower"][::-1]), fill="toself",
            fillcolor=BAND_80, line=dict(width=0), name=t("chart.band80", lang), hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=future.index, y=future["yhat"], name=t("chart.forecast", lang), mode="lines+markers",
            line=dict(color=TEAL, width=2.5), marker=dict(size=5),
            customdata=np.column_stack([future["yhat_lower"], future["yhat_upper"], named(future.index)]),
            hovertemplate=(hover + "  <span style='color:#64748B'>(80%: "
                           + hover.replace("%{y", "%{customdata[0]") + " – "
                           + hover.replace("%{y", "%{customdata[1]") + ")</span>%{customdata[2]}")))
    if len(past):
        fig.add_trace(go.Scatter(
            x=past.index, y=past["yhat"], name=t("chart.past_forecast", lang), mode="lines",
            line=dict(color=PAST, width=2, dash="dash"), hovertemplate=hover))
    actual = frame["y"].dropna()
    fig.add_trace(go.Scatter(x=actual.index, y=actual, name=t("chart.actual", lang), mode="lines",
                             line=dict(color=INK, width=1.6), customdata=named(actual.index),
                             hovertemplate=hover + "%{customdata}"))

    if len(view.holidays):
        level = frame["y"].fillna(frame["yhat"])
        days = view.holidays.index.intersection(frame.index)
        fig.add_trace(go.Scatter(
            x=days, y=level.reindex(days).fillna(0.0), mode="markers", name=t("chart.holiday", lang),
            marker=dict(symbol="diamond", size=9, color=AMBER, line=dict(color="white", width=1)),
            hoverinfo="skip"))

    start_window = today - pd.Timedelta(days=DEFAULT_WINDOW_DAYS)
    end = frame.index[-1] if len(frame) else today
    shapes = _weekend_shapes(max(frame.index[0], today - pd.Timedelta(weeks=WEEKEND_WEEKS)), end)
    fig.update_layout(shapes=shapes)
    fig.add_vline(x=today, line=dict(color=INK, width=1, dash="dot"))
    fig.add_annotation(x=today, y=1, yref="paper", text=t("chart.today", lang), showarrow=False,
                       xanchor="left", yanchor="top", font=dict(size=11, color="#475569"))
    _layout(fig, fmt, height=540)
    # The legend under the chart: above it, the range buttons and the chart's toolbar would cover it on a phone.
    fig.update_layout(legend=dict(yanchor="top", y=-0.1, xanchor="left", x=0), margin=dict(b=72))
    # Plotly scales y to all three years; open on a scale that fits the window shown (double-click: everything).
    shown = frame.loc[max(frame.index[0], start_window):, ["y", "yhat_upper_95"]].max().max()
    if pd.notna(shown) and shown > 0:
        fig.update_yaxes(range=[0, float(shown) * 1.08])
    fig.update_xaxes(range=[max(frame.index[0], start_window), end + pd.Timedelta(days=1)],
                     rangeselector=_range_selector(fmt),
                     hoverformat="%a %d %b %Y")
    return fig


def what_if_figure(result: WhatIf, fmt: Formatter) -> go.Figure:
    """The forecast as it is and with the what-if, the event's days shaded."""
    lang = fmt.lang
    hover = _money_hover(fmt)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=result.before.index, y=result.before["yhat"], name=t("forecast.whatif.without", lang),
                             mode="lines+markers", line=dict(color=PAST, width=2, dash="dash"), hovertemplate=hover))
    fig.add_trace(go.Scatter(x=result.after.index, y=result.after["yhat"], name=t("chart.whatif", lang),
                             mode="lines+markers", line=dict(color=TEAL, width=2.5), hovertemplate=hover))
    if len(result.days):
        fig.add_vrect(x0=result.days.min() - pd.Timedelta(hours=12), x1=result.days.max() + pd.Timedelta(hours=12),
                      fillcolor=AMBER, opacity=0.12, line_width=0)
    _layout(fig, fmt, height=320)
    fig.update_layout(legend=dict(x=1, xanchor="right"))
    return fig


def anomaly_figure(frame: pd.DataFrame, fmt: Formatter) -> go.Figure:
    """Daily sales, the model's expected value, and the flagged days (bigger marker = higher score)."""
    lang = fmt.lang
    hover = _money_hover(fmt)
    flagged = frame[frame["is_anomaly"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=frame["ds"], y=frame["expected"], name=t("chart.expected", lang), mode="lines",
                             line=dict(color=TEAL, width=1.2, dash="dot"), hovertemplate=hover))
    fig.add_trace(go.Scatter(x=frame["ds"], y=frame["y"], name=t("chart.actual", lang), mode="lines",
                             line=dict(color=INK, width=1.4), hovertemplate=hover))
    fig.add_trace(go.Scatter(
        x=flagged["ds"], y=flagged["y"], name=t("chart.anomaly", lang), mode="markers",
        marker=dict(color=ALERT, size=np.clip(6 + flagged["score"].to_numpy(), 8, 18),
                    line=dict(color="white", width=1)),
        customdata=flagged["score"], hovertemplate=hover + " · " + t("chart.score", lang) + " %{customdata:.1f}"))
    _layout(fig, fmt, height=440)
    fig.update_layout(legend=dict(x=1, xanchor="right"))
    if len(frame):
        last = frame["ds"].max()
        fig.update_xaxes(range=[max(frame["ds"].min(), last - pd.Timedelta(days=ANOMALY_WINDOW_DAYS)),
                                last + pd.Timedelta(days=1)],
                         rangeselector=_range_selector(fmt), hoverformat="%a %d %b %Y")
    return fig


def _model_style(name: str, winner: str, others: dict[str, str]) -> dict:
    if name == winner:
        return dict(color=TEAL, width=3.5)
    if name == "snaive":
        return dict(color=PAST, width=2, dash="dash")
    return dict(color=others[name], width=1.6)


def _other_colors(models: list[str], winner: str) -> dict[str, str]:
    rest = [m for m in models if m not in (winner, "snaive")]
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(rest)}


def _ordered_models(cv: CVView, models: list[str] | None = None) -> list[str]:
    ranked = list(cv.scores.index)
    chosen = ranked if models is None else [m for m in ranked if m in models]
    # The winner is drawn last so it sits on top of the others.
    return [m for m in chosen if m != cv.winner] + ([cv.winner] if cv.winner in chosen else [])


def cv_step_figure(cv: CVView, fmt: Formatter, metric: str = "mae") -> go.Figure:
    """Error of each candidate by horizon step (1 = the first forecast day), averaged over folds."""
    lang = fmt.lang
    models = _ordered_models(cv)
    colors = _other_colors(models, cv.winner)
    money = metric == "mae"
    fig = go.Figure()
    for name in models:
        rows = cv.by_step[cv.by_step["model"] == name].sort_values("step")
        fig.add_trace(go.Scatter(
            x=rows["step"], y=rows[metric], name=model_label(name, lang, short=True), mode="lines+markers",
            line=_model_style(name, cv.winner, colors), marker=dict(size=4),
            hovertemplate=(_money_hover(fmt) if money else "%{y:.2f}")))
    _layout(fig, fmt, height=360, money_axis=money)
    fig.update_xaxes(title_text=t("chart.step_axis", lang), dtick=7 if cv.horizon > 14 else 1)
    fig.update_yaxes(title_text=t(f"metric.{metric}", lang))
    fig.update_layout(hovermode="x unified")
    return fig


def cv_weekday_figure(cv: CVView, fmt: Formatter) -> go.Figure:
    """Mean absolute error of each candidate by weekday of the forecast day."""
    lang = fmt.lang
    models = _ordered_models(cv)
    colors = _other_colors(models, cv.winner)
    names = fmt.weekdays("abbreviated")
    fig = go.Figure()
    for name in reversed(models):  # winner first: it is the bar a reader looks for
        rows = cv.by_weekday[cv.by_weekday["model"] == name].set_index("weekday").reindex(range(7))
        style = _model_style(name, cv.winner, colors)
        fig.add_trace(go.Bar(x=names, y=rows["mae"], name=model_label(name, lang, short=True),
                             marker_color=style["color"],
                             opacity=1.0 if name == cv.winner else 0.75, hovertemplate=_money_hover(fmt)))
    _layout(fig, fmt, height=360)
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_yaxes(title_text=t("metric.mae", lang))
    return fig


def cv_folds_figure(cv: CVView, fmt: Formatter, models: list[str] | None = None) -> go.Figure:
    """Each fold's forecasts against what happened, one panel per fold (oldest at the top)."""
    lang = fmt.lang
    chosen = _ordered_models(cv, models or [cv.winner, "snaive"])
    colors = _other_colors(list(cv.scores.index), cv.winner)
    folds = sorted(cv.predictions["fold"].unique()) if len(cv.predictions) else []
    titles = []
    for fold in folds:
        rows = cv.predictions[cv.predictions["fold"] == fold]
        titles.append(t("chart.fold_title", lang, fold=int(fold), start=fmt.date(rows["ds"].min()),
                        end=fmt.date(rows["ds"].max())))
    fig = make_subplots(rows=max(len(folds), 1), cols=1, shared_xaxes=False, vertical_spacing=0.09,
                        subplot_titles=titles or None)
    for i, fold in enumerate(folds, start=1):
        rows = cv.predictions[cv.predictions["fold"] == fold]
        actual = rows.drop_duplicates("ds").sort_values("ds")
        fig.add_trace(go.Scatter(x=actual["ds"], y=actual["y"], name=t("chart.actual", lang), mode="lines+markers",
                                 line=dict(color=INK, width=2), marker=dict(size=4), legendgroup="actual",
                                 showlegend=i == 1, hovertemplate=_money_hover(fmt)), row=i, col=1)
        for name in chosen:
            part = rows[rows["model"] == name].sort_values("ds")
            fig.add_trace(go.Scatter(x=part["ds"], y=part["yhat"], name=model_label(name, lang, short=True),
                                     mode="lines",
                                     line=_model_style(name, cv.winner, colors), legendgroup=name,
                                     showlegend=i == 1, hovertemplate=_money_hover(fmt)), row=i, col=1)
    _layout(fig, fmt, height=max(260 * len(folds), 300))
    fig.update_xaxes(hoverformat="%a %d %b %Y")
    fig.update_annotations(font=dict(size=12, color="#475569"))
    return fig


def _percent_axis(fig: go.Figure, fmt: Formatter, title: str) -> go.Figure:
    _layout(fig, fmt, height=280, money_axis=False)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title_text=title, title_font=dict(size=12))
    fig.update_layout(margin=dict(l=8, r=8, t=30, b=8))
    return fig


def scorecard_time_figure(card: Scorecard, fmt: Formatter) -> go.Figure:
    """Weekly error (WAPE) of the issued forecasts next to seasonal naive's over the same days."""
    lang = fmt.lang
    weeks = card.over_time.sort_values("week")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=weeks["week"], y=weeks["snaive_wape"], name=t("chart.last_week", lang),
                             mode="lines+markers", line=dict(color=PAST, width=2, dash="dash"), marker=dict(size=6),
                             hovertemplate="%{y:.0%}"))
    fig.add_trace(go.Scatter(x=weeks["week"], y=weeks["wape"], name=t("chart.our_forecast", lang),
                             mode="lines+markers", line=dict(color=TEAL, width=3), marker=dict(size=7),
                             hovertemplate="%{y:.0%}"))
    _percent_axis(fig, fmt, t("chart.error_axis", lang))
    # One point per week, dated by the Monday that starts it; month names come from the locale config.
    fig.update_xaxes(tickformat="%b %d" if lang == "en" else "%d %b", hoverformat="%d %b %Y")
    if len(weeks) <= 16:
        fig.update_xaxes(dtick=7 * 86_400_000, tick0=weeks["week"].min() if len(weeks) else None)
    return fig


def scorecard_step_figure(card: Scorecard, fmt: Formatter) -> go.Figure:
    """Error (WAPE) of the issued forecasts by days ahead (1 = the day the forecast was made)."""
    lang = fmt.lang
    steps = card.by_step.sort_values("step")
    fig = go.Figure(go.Bar(x=steps["step"], y=steps["wape"], marker_color=TEAL, opacity=0.85,
                           name=t("chart.our_forecast", lang), customdata=steps["days"],
                           hovertemplate="%{y:.0%}<extra></extra>"))
    _percent_axis(fig, fmt, t("chart.error_axis", lang))
    fig.update_xaxes(title_text=t("chart.step_axis", lang), title_font=dict(size=12), dtick=1 if len(steps) <= 14
                     else 7)
    fig.update_layout(showlegend=False, bargap=0.25)
    return fig


def product_figure(detail: ProductDetail, fmt: Formatter) -> go.Figure:
    """One product: units sold per day (bars), the forecast with its 80% and 95% bands, today, and the day
    stock is expected to run out."""
    lang = fmt.lang
    fig = go.Figure()
    history, future = detail.history, detail.forecast
    units = "%{y:,.1f}<extra></extra>"
    if len(history):
        fig.add_trace(go.Bar(x=history["ds"], y=history["units"], name=t("chart.sold", lang),
                             marker_color=PAST, hovertemplate=units))
    if len(future):
        x = list(future["ds"]) + list(future["ds"][::-1])
        fig.add_trace(go.Scatter(x=x, y=list(future["yhat_upper_95"]) + list(future["yhat_lower_95"][::-1]),
                                 fill="toself", fillcolor=BAND_95, line=dict(width=0), name=t("chart.band95", lang),
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=list(future["yhat_upper_80"]) + list(future["yhat_lower_80"][::-1]),
                                 fill="toself", fillcolor=BAND_80, line=dict(width=0), name=t("chart.band80", lang),
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=future["ds"], y=future["yhat"], name=t("chart.forecast", lang), mode="lines",
                                 line=dict(color=TEAL, width=2.5), hovertemplate=units))
        today = pd.Timestamp(future["ds"].iloc[0])
        fig.add_vline(x=today - pd.Timedelta(hours=12), line=dict(color=INK, width=1, dash="dot"))
    runout = detail.plan.get("runout_date")
    if runout is not None and pd.notna(runout):
        day = pd.Timestamp(runout)
        fig.add_vline(x=day, line=dict(color=ALERT, width=2))
        fig.add_annotation(x=day, y=1, yref="paper", text=t("chart.runout", lang, day=fmt.day(day)),
                           showarrow=False, xanchor="left", yanchor="top", font=dict(size=11, color=ALERT))
    _layout(fig, fmt, height=380, money_axis=False)
    fig.update_layout(bargap=0.15, legend=dict(x=1, xanchor="right"))
    fig.update_yaxes(rangemode="tozero", separatethousands=True)
    fig.update_xaxes(hoverformat="%a %d %b %Y")
    return fig
