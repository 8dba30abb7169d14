"""The overview page: sales of the last 7 and 30 days, forecast totals, the model and how reliable it has been.

Also every business's figures in one table (for analysts) and the
reliability scorecard of the forecasts issued over the last 90 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import DataError, ForecastingError, ModelError
from ..core.intervals import lower_col, upper_col
from ..core.series import tenant_today
from ..services.model_store import active_model_info, library_mismatch
from ..services.sales import daily_sales
from ..services.scoring import Scorecard, scorecard
from ..services.tenants import Tenant, get_tenant
from ..services.training import forecast_from_active
from ..storage import Storage
from .common import finite, shop_calendar, stored_forecast, vs_baseline

#: Windows of the overview cards, in days.
PERIODS = (7, 30)
#: Days of issued forecasts scored for "how reliable the forecast has been".
RELIABILITY_LOOKBACK_DAYS = 90
#: States of the stored model in which the overview asks for a retrain (`Overview.model_status`).
MODEL_NEEDS_RETRAIN = frozenset({"stale", "unusable"})

__all__ = ["MODEL_NEEDS_RETRAIN", "PERIODS", "RELIABILITY_LOOKBACK_DAYS", "Overview", "Period", "Reliability",
           "outlook_spans", "overview", "overview_table", "relative_change", "scorecard_view"]


# --- overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reliability:
    """How far off the forecasts have been, as WAPE (0.12 = off by 12% of sales).

    The scorecard's figures (`scoring.scorecard`, the last 90 days) once
    `days` >= 7 have been scored: `source` is "issued" when some of them
    were forecasts really issued, "backtest" when all are the first
    training's CV folds back-filled (`backtest_days`). Without a scorecard,
    "backtest" with the winner's CV error. `vs_baseline` compares with
    seasonal naive (0.3 = a 30% smaller error; negative = worse);
    `coverage_80` is the share of scored days inside the 80% band.
    """

    wape: float
    source: str
    days: int | None = None
    vs_baseline: float | None = None
    coverage_80: float | None = None
    backtest_days: int = 0  # of `days`, how many are back-filled CV forecasts (`scoring.record_backtest`)


@dataclass(frozen=True)
class Period:
    """One span of the owner's summary: this week, next week or this month (the tenant's local dates).

    `actual` is what was already sold in it (the days before today), `ahead`
    the forecast of the days from today to `end` (None when the forecast does
    not reach them); `total` adds both. `busiest` is the open day ahead with
    the highest forecast; `uncertain` the open day ahead with the widest 80%
    range (date, low, high), where the sales are hardest to call. `closed`
    lists the days ahead the shop is closed; `named` the days ahead with a
    holiday or event, with its name.
    """

    key: str  # "this_week", "next_week" or "this_month"
    start: date
    end: date
    actual: float = 0.0
    ahead: float | None = None
    busiest: tuple[date, float] | None = None
    uncertain: tuple[date, float, float] | None = None
    closed: tuple[date, ...] = ()
    named: tuple[tuple[date, str], ...] = ()

    @property
    def total(self) -> float | None:
        return None if self.ahead is None else self.actual + self.ahead


@dataclass(frozen=True)
class Overview:
    """The overview cards of one tenant (amounts in the tenant's currency)."""

    tenant: Tenant
    today: date
    has_sales: bool
    trained: bool
    sales: dict[int, float | None] = field(default_factory=dict)  # last N days, by N in PERIODS
    sales_before: dict[int, float | None] = field(default_factory=dict)  # the N days before those
    forecast: dict[int, float | None] = field(default_factory=dict)  # next N days from today
    model_type: str | None = None
    model_version: str | None = None
    last_trained: datetime | None = None
    trained_until: date | None = None
    reliability: Reliability | None = None
    recent: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))  # last 30 days, for a sparkline
    problem: str | None = None  # why no figures could be made (a bad row in negocios, an unreadable series...)
    model_status: str | None = None  # "ok", "stale" or "unusable" (see `overview`); None when never trained
    model_problem: str | None = None  # why the stored model is stale or unusable (the engine's English sentence)
    outlook: tuple[Period, ...] = ()  # this week, next week, this month (empty until trained)
    forecast_days: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))  # next 30 days, for a sparkline

    @classmethod
    def unavailable(cls, tenant: Tenant, problem: str) -> Overview:
        """A business whose overview can't be made: a row that says why, among everyone else's."""
        return cls(tenant=tenant, today=date.today(), has_sales=False, trained=False, problem=problem)

    @property
    def needs_retrain(self) -> bool:
        """The stored model can't forecast here: the page says so and offers Retrain now."""
        return self.model_status in MODEL_NEEDS_RETRAIN

    def change(self, days: int) -> float | None:
        """Relative change of the last `days` against the `days` before (None when not comparable)."""
        return relative_change(self.sales.get(days), self.sales_before.get(days))


def relative_change(current: float | None, before: float | None) -> float | None:
    if current is None or before is None or not np.isfinite(before) or before <= 0:
        return None
    return float(current / before - 1.0)


def overview(storage: Storage, tenant_id: str, *, now: datetime | None = None, lang: str | None = None) -> Overview:
    """Sales of the last 7 and 30 days against the periods before, forecast totals, model and reliability.

    Never raises for an empty or never-trained tenant: `has_sales` and
    `trained` say what is missing; holidays in the summary are named in `lang`. A forecast total that runs past the stored
    forecast's horizon is completed from the active model
    (`forecast_from_active`). Never trains: `model_status` says whether the
    stored model was written by other versions of the forecasting libraries
    ("stale", known from its metadata without loading it), could not be
    loaded ("unusable": corrupt, or not signed by this installation), or
    neither ("ok"; the model is only loaded when the stored forecast is
    shorter than the 30-day card). When stale or unusable, the totals past
    the stored forecast are None and `model_problem` says why; retraining
    (`views.models.retrain`) fixes it.
    """
    tenant = get_tenant(storage, str(tenant_id))
    today = tenant_today(tenant.timezone, now)
    longest = max(PERIODS)
    yesterday = pd.Timestamp(today - timedelta(days=1))
    window = pd.date_range(yesterday - pd.Timedelta(days=2 * longest - 1), yesterday, freq="D", name="ds")
    first_sale = _first_sale_day(storage, tenant)
    has_sales = first_sale is not None
    # Days before the first sale ever are unknown (the shop may not have existed), the others are zero.
    y = None
    if has_sales:
        try:
            y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=2 * longest, now=now)
        except DataError:
            y = pd.Series(0.0, index=window, name="y")
        y = y.reindex(window, fill_value=0.0)
        y = y[y.index >= pd.Timestamp(first_sale)]
    sales: dict[int, float | None] = {}
    before: dict[int, float | None] = {}
    for days in PERIODS:
        sales[days], before[days] = _period_sums(y, yesterday, days) if has_sales else (None, None)

    info = active_model_info(storage, tenant.id)
    result = Overview(tenant=tenant, today=today, has_sales=has_sales, trained=info is not None,
                      sales=sales, sales_before=before,
                      recent=(y.iloc[-longest:] if y is not None else pd.Series(dtype=float, name="y")))
    if info is None:
        return result

    stale = library_mismatch(info)
    spans = outlook_spans(today)
    last = max(today + timedelta(days=longest - 1), *(end for _, _, end in spans))
    ahead, unusable = _forecast_ahead(storage, tenant, now, today, last, loadable=stale is None)
    forecast = {days: _total(ahead, pd.date_range(pd.Timestamp(today), periods=days, freq="D")) for days in PERIODS}
    status, problem = ("stale", stale) if stale else ("unusable", unusable) if unusable else ("ok", None)
    metrics = info.training_metrics or {}
    trained_until = info.hyperparameters.get("trained_until")
    return replace(
        result, forecast=forecast, model_status=status, model_problem=problem,
        model_type=info.model_type, model_version=info.model_version,
        last_trained=info.last_trained, trained_until=date.fromisoformat(trained_until) if trained_until else None,
        reliability=_reliability(storage, tenant, metrics, now),
        outlook=_outlook(spans, today, y, ahead, shop_calendar(storage, tenant, lang)),
        forecast_days=ahead["yhat"].iloc[:longest],
    )


def outlook_spans(today: date) -> list[tuple[str, date, date]]:
    """This week and next week (Monday to Sunday, as ISO 8601 and most of Europe and Latin America count
    them) and this calendar month, around `today`."""
    monday = today - timedelta(days=today.weekday())
    month_end = (pd.Timestamp(today) + pd.offsets.MonthEnd(0)).date()
    return [("this_week", monday, monday + timedelta(days=6)),
            ("next_week", monday + timedelta(days=7), monday + timedelta(days=13)),
            ("this_month", today.replace(day=1), month_end)]


def _outlook(spans, today: date, y: pd.Series | None, ahead: pd.DataFrame, calendar) -> tuple[Period, ...]:
    """The owner's summary periods from the sales so far, the forecast ahead and the shop's calendar."""
    if ahead.empty:
        return ()
    days = calendar.days(pd.Timestamp(today), max(pd.Timestamp(end) for _, _, end in spans))
    periods = []
    for key, start, end in spans:
        first = max(start, today)
        wanted = pd.date_range(pd.Timestamp(first), pd.Timestamp(end), freq="D")
        actual = float(y.loc[pd.Timestamp(start): pd.Timestamp(today) - pd.Timedelta(days=1)].sum()) \
            if y is not None and start < today else 0.0
        window = ahead.reindex(wanted)
        table = days.reindex(wanted)
        open_days = window[~table["closed"].to_numpy(dtype=bool)].dropna(subset=["yhat"])
        busiest = uncertain = None
        if len(open_days):
            top = open_days["yhat"].idxmax()
            busiest = (top.date(), float(open_days.at[top, "yhat"]))
            width = open_days["yhat_upper"] - open_days["yhat_lower"]
            wide = width.idxmax()
            uncertain = (wide.date(), float(open_days.at[wide, "yhat_lower"]), float(open_days.at[wide, "yhat_upper"]))
        named = tuple((day.date(), label) for day, label in table["label"].items() if label)
        closed = tuple(day.date() for day, shut in table["closed"].items() if shut)
        periods.append(Period(key, start, end, actual, _total(ahead, wanted), busiest, uncertain, closed, named))
    return tuple(periods)


def _total(ahead: pd.DataFrame, days: pd.DatetimeIndex) -> float | None:
    """The forecast total over `days`, None when the forecast misses any of them."""
    window = ahead["yhat"].reindex(days) if len(ahead) else pd.Series(np.nan, index=days)
    return None if window.isna().any() else float(window.sum())


def _first_sale_day(storage: Storage, tenant: Tenant) -> date | None:
    """Local date of the tenant's first sale ever, or None for a tenant without sales."""
    first = storage.select("ventas", tenant.id, columns=["fecha"], order_by="fecha", limit=1)
    if first.empty:
        return None
    return pd.Timestamp(first.iloc[0]["fecha"]).tz_convert(tenant.timezone).date()


def _period_sums(y: pd.Series, last: pd.Timestamp, days: int) -> tuple[float, float | None]:
    """Sum of the `days` ending at `last` and of the `days` before; the earlier one is None if not fully covered."""
    current_start = last - pd.Timedelta(days=days - 1)
    before_start = current_start - pd.Timedelta(days=days)
    current = float(y.loc[current_start:last].sum())
    # A shop that opened 10 days ago has no "previous 30 days" to compare with.
    if y.empty or y.index.min() > before_start:
        return current, None
    return current, float(y.loc[before_start : current_start - pd.Timedelta(days=1)].sum())


def _forecast_ahead(storage: Storage, tenant: Tenant, now: datetime | None, today: date, last: date, *,
                    loadable: bool) -> tuple[pd.DataFrame, str | None]:
    """The daily forecast from today to `last` (yhat and the 80% band), and why the active model could not
    be loaded (or None).

    Days past the stored forecast (28 days by default: shorter than the 30-day card and this month) come
    from the active model when it is `loadable`, exactly as it forecast the stored days; never from a retrain.
    """
    columns = ["yhat", "yhat_lower", "yhat_upper"]
    stored = stored_forecast(storage, tenant.id, gte=today)[columns]
    wanted = pd.date_range(pd.Timestamp(today), pd.Timestamp(last), freq="D")
    unusable = None
    if loadable and not wanted.isin(stored.index).all():
        try:
            extra = forecast_from_active(tenant.id, storage=storage, now=now, horizon=len(wanted))
            extra = extra.rename(columns={lower_col(80): "yhat_lower", upper_col(80): "yhat_upper"})[columns]
            stored = stored.combine_first(extra)
        except ModelError as exc:
            unusable = str(exc)
        except ForecastingError:
            pass
    return stored.reindex(wanted).dropna(subset=["yhat"]), unusable


def _reliability(storage: Storage, tenant: Tenant, metrics: Mapping[str, Any],
                 now: datetime | None) -> Reliability | None:
    """Issued forecasts scored against what happened when there are enough of them, else the CV back-test."""
    try:
        # A year before the scored window as well: the scorecard's MASE scale comes from it.
        y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=RELIABILITY_LOOKBACK_DAYS + 365, now=now)
    except DataError:
        y = None
    card = scorecard(storage, tenant.id, y, lookback_days=RELIABILITY_LOOKBACK_DAYS)
    if card.settled and card.wape is not None:
        # The scorecard's figure, so the overview and the scorecard say the same number.
        source = "backtest" if card.backtest_days >= card.days else "issued"
        return Reliability(card.wape, source, card.days, card.beats_snaive, card.coverage_80, card.backtest_days)
    winner = metrics.get("winner")
    wape = finite((metrics.get("scores") or {}).get(winner, {}).get("wape"))
    if wape is None:
        return None
    return Reliability(wape, "backtest", None, vs_baseline(metrics))


def overview_table(overviews: list[Overview]) -> pd.DataFrame:
    """One row per tenant with the overview's figures, for analysts (raw numbers; currency per row)."""
    rows = []
    for o in overviews:
        rows.append({
            "tenant_id": o.tenant.id, "name": o.tenant.nombre, "currency": o.tenant.currency,
            **{f"sales_{d}": o.sales.get(d) for d in PERIODS},
            **{f"change_{d}": o.change(d) for d in PERIODS},
            **{f"forecast_{d}": o.forecast.get(d) for d in PERIODS},
            "model": o.model_type, "last_trained": o.last_trained,
            "error": o.reliability.wape if o.reliability else None,
            "error_source": o.reliability.source if o.reliability else None,
            "vs_baseline": o.reliability.vs_baseline if o.reliability else None,
            "problem": o.problem,
        })
    return pd.DataFrame(rows)


# --- reliability scorecard -------------------------------------------------------------------


def scorecard_view(storage: Storage, tenant_id: str, *, lookback_days: int = RELIABILITY_LOOKBACK_DAYS,
                   now: datetime | None = None) -> Scorecard:
    """The tenant's reliability scorecard over the last `lookback_days` days (`scoring.Scorecard`).

    Never raises for a tenant without sales or forecasts: it comes back
    unscored, with the day its first score will appear (`first_score_on`:
    the day after the earliest forecast day, once its sales are complete).
    """
    tenant = get_tenant(storage, str(tenant_id))
    try:
        # A year before the scored window too: the scorecard's MASE scale comes from it.
        y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=lookback_days + 365, now=now)
    except DataError:
        y = None
    card = scorecard(storage, tenant.id, y, lookback_days=lookback_days)
    if card.scored:
        return card
    return replace(card, first_score_on=_first_score_on(storage, tenant.id, tenant_today(tenant.timezone, now)))


def _first_score_on(storage: Storage, tenant_id: str, today: date) -> date | None:
    """The day after the earliest issued forecast day not yet scored (its sales are complete then)."""
    rows = storage.select("forecast_history", str(tenant_id), columns=["target_date"],
                          gte={"target_date": today - timedelta(days=RELIABILITY_LOOKBACK_DAYS)},
                          order_by="target_date", limit=1)
    if rows.empty:
        return None
    first = pd.Timestamp(rows.iloc[0]["target_date"]).date()
    return max(first, today) + timedelta(days=1)
