"""What the dashboard's pages show: pure functions over a `Storage`, no Streamlit.

Each page calls one or two of these and hands the result to a figure or
table builder in `forecasting.ui`. Results hold raw numbers and dates;
formatting for a language, locale and currency is the UI's job.

Pages cache these results keyed by (database, tenant, `freshness(...)`), so
`freshness` must change whenever something these functions read changes: a
retrain (new active version), new sales, or edited tenant settings. A stale
cache entry is then never served, whichever process or user made the change.

Dates are the tenant's local dates: "today" is `tenant_today(timezone)` and
the last day with actuals is yesterday, as in the pipeline.
"""

from __future__ import annotations

import math
import threading
import time
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from ..core.anomalies import flag
from ..core.calendar import check_country, holidays_between
from ..core.config import MLSettings, get_app_settings, get_settings, merge_overrides
from ..core.errors import ConfigError, DataError, ForecastingError
from ..core.logs import log_event
from ..core.models import available_names
from ..core.series import tenant_today
from ..services.exports import write_csv
from ..services.model_store import SavedModel, active_model_info, list_models
from ..services.notifications import list_notifications
from ..services.notifications import mark_read as _mark_read
from ..services.sales import daily_sales
from ..services.scoring import MIN_SCORED_DAYS, scorecard
from ..services.tenants import (
    Tenant,
    get_tenant,
    list_tenants,
    save_tenant_overrides,
    settings_for_tenant,
    tenant_overrides,
)
from ..services.training import ANOMALY, FORECAST
from ..storage import Storage
from ..storage.base import stored_moment

#: Windows of the overview cards, in days.
PERIODS = (7, 30)
#: History shown on the forecast page (three years and a bit).
HISTORY_DAYS = 3 * 366
#: Days of issued forecasts scored for "how reliable the forecast has been".
RELIABILITY_LOOKBACK_DAYS = 90
BASELINE = "snaive"

__all__ = [
    "AnomalyView", "CVView", "ForecastView", "JobStart", "JobStatus", "JobsView", "Overview", "RetrainOutcome",
    "Scorecard", "SettingField", "WinnerReason", "anomaly_view", "coverage_verdict", "cv_versions", "cv_view",
    "forecast_csv", "forecast_view", "freshness", "jobs_view", "mark_read", "model_versions", "notifications",
    "overview", "overview_table", "reflag", "reset_tenant_settings", "retrain", "retrain_plan", "run_job_now",
    "save_settings", "scorecard_view", "settings_form", "storage_label", "tenants", "unread_count",
]


# --- where the data is -----------------------------------------------------------------


def storage_label(storage: Storage) -> dict[str, str]:
    """Backend name and where the data lives (`Storage.describe()`), never credentials."""
    description = storage.describe()
    prefix = f"{storage.backend} "
    location = description[len(prefix):] if description.startswith(prefix) else description
    return {"backend": storage.backend, "location": location}


def storage_key(storage: Storage) -> str:
    """A string that tells two databases apart in a cache key (no credentials)."""
    label = storage_label(storage)
    return f"{label['backend']}:{label['location']}"


def freshness(storage: Storage, tenant_id: str) -> tuple[str | None, str | None, str | None]:
    """A cheap stamp of what the dashboard reads for a tenant: cache entries keyed by it never go stale.

    (active model version, time of the newest sale, time the tenant's settings were saved);
    three indexed single-row reads.
    """
    tenant_id = str(tenant_id)
    model = storage.select("ml_models", tenant_id, columns=["model_version"], where={"is_active": True},
                           order_by="last_trained", descending=True, limit=1)
    sale = storage.select("ventas", tenant_id, columns=["fecha"], order_by="fecha", descending=True, limit=1)
    saved = storage.select("tenant_ml_settings", tenant_id, columns=["updated_at"])
    return (
        None if model.empty else str(model.iloc[0]["model_version"]),
        None if sale.empty else pd.Timestamp(sale.iloc[0]["fecha"]).isoformat(),
        None if saved.empty else pd.Timestamp(saved.iloc[0]["updated_at"]).isoformat(),
    )


def tenants(storage: Storage) -> list[Tenant]:
    """Every tenant in `negocios`, ordered by id."""
    return list_tenants(storage)


# --- overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reliability:
    """How far off the forecasts have been, as WAPE (0.12 = off by 12% of sales).

    `source` is "issued" when forecasts issued earlier now have actuals
    (`days` of them, over the last 90 days; `monitoring.scorecard`), else
    "backtest": the winner's cross-validation error. `vs_baseline` compares
    with seasonal naive the same way (0.3 = a 30% smaller error; negative =
    worse); `coverage_80` is the share of days inside the 80% band (issued only).
    """

    wape: float
    source: str
    days: int | None = None
    vs_baseline: float | None = None
    coverage_80: float | None = None


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

    @classmethod
    def unavailable(cls, tenant: Tenant, problem: str) -> Overview:
        """A business whose overview can't be made: a row that says why, among everyone else's."""
        return cls(tenant=tenant, today=date.today(), has_sales=False, trained=False, problem=problem)

    def change(self, days: int) -> float | None:
        """Relative change of the last `days` against the `days` before (None when not comparable)."""
        return relative_change(self.sales.get(days), self.sales_before.get(days))


def relative_change(current: float | None, before: float | None) -> float | None:
    if current is None or before is None or not np.isfinite(before) or before <= 0:
        return None
    return float(current / before - 1.0)


def overview(storage: Storage, tenant_id: str, *, now: datetime | None = None) -> Overview:
    """Sales of the last 7 and 30 days against the periods before, forecast totals, model and reliability.

    Never raises for an empty or never-trained tenant: `has_sales` and
    `trained` say what is missing. A forecast total that runs past the stored
    forecast's horizon is completed from the active model (`predict_from_active`).
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

    forecast = _forecast_totals(storage, tenant, info, today, now)
    metrics = info.training_metrics or {}
    trained_until = info.hyperparameters.get("trained_until")
    return replace(
        result, forecast=forecast, model_type=info.model_type, model_version=info.model_version,
        last_trained=info.last_trained, trained_until=date.fromisoformat(trained_until) if trained_until else None,
        reliability=_reliability(storage, tenant, metrics, now),
    )


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


def _forecast_totals(storage: Storage, tenant: Tenant, info: SavedModel, today: date,
                     now: datetime | None) -> dict[int, float | None]:
    longest = max(PERIODS)
    stored = _stored_forecast(storage, tenant.id, gte=today)["yhat"]
    wanted = pd.date_range(pd.Timestamp(today), periods=longest, freq="D")
    if not wanted.isin(stored.index).all():
        # The stored horizon (28 days by default) is shorter than the 30-day card: the active
        # model forecasts the rest, exactly as it forecast the stored days.
        from ..services.training import predict_from_active

        try:
            extra = predict_from_active(tenant.id, storage=storage, now=now, horizon=longest)["yhat"]
            stored = stored.combine_first(extra)
        except ForecastingError:
            pass
    totals: dict[int, float | None] = {}
    for days in PERIODS:
        window = stored.reindex(wanted[:days])
        totals[days] = None if window.isna().any() else float(window.sum())
    return totals


def _reliability(storage: Storage, tenant: Tenant, metrics: Mapping[str, Any],
                 now: datetime | None) -> Reliability | None:
    """Issued forecasts scored against what happened when there are enough of them, else the CV back-test."""
    try:
        # A year before the scored window as well: the scorecard's MASE scale comes from it.
        y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=RELIABILITY_LOOKBACK_DAYS + 365, now=now)
    except DataError:
        y = None
    card = scorecard(storage, tenant.id, y, lookback_days=RELIABILITY_LOOKBACK_DAYS) if y is not None else None
    if card is not None and card.days >= MIN_SCORED_DAYS and np.isfinite(card.wape):
        return Reliability(float(card.wape), "issued", int(card.days), _finite(card.beats_snaive),
                           _finite(card.coverage_80))
    winner = metrics.get("winner")
    wape = _finite((metrics.get("scores") or {}).get(winner, {}).get("wape"))
    if wape is None:
        return None
    return Reliability(wape, "backtest", None, vs_baseline(metrics))


def vs_baseline(metrics: Mapping[str, Any], baseline: str = BASELINE) -> float | None:
    """How much lower the winner's CV MASE is than seasonal naive's (0.25 = 25% lower; negative = worse).

    MASE, not MAE, so each fold weighs the same whatever its sales level.
    None when seasonal naive was not cross-validated.
    """
    scores = metrics.get("scores") or {}
    winner = scores.get(metrics.get("winner"), {}).get("mase")
    base = scores.get(baseline, {}).get("mase")
    if winner is None or base is None or not base > 0:
        return None
    return float(1.0 - winner / base)


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


@dataclass(frozen=True)
class Scorecard:
    """How the forecasts issued over the last 90 days did against the sales that happened.

    From `monitoring.scorecard`: `days` target days scored, `wape` (0.12 =
    off by 12% of sales), `coverage_80`/`coverage_95` (share of scored days
    whose sales fell inside the 80%/95% band), `beats_snaive` (0.2 = a 20%
    smaller error than seasonal naive issued on the same days; negative =
    worse; None when no seasonal-naive reference exists). `over_time`: week,
    wape, snaive_wape, days. `by_step`: step (1 = the first day ahead),
    wape, mae, days.

    With nothing scored yet (`days == 0`) the figures are None and
    `first_score_on` is the tenant's local date on which the first score
    will appear: the day after the earliest forecast day, once its sales
    are complete. It is None when no forecast was ever issued.
    """

    tenant: Tenant
    today: date
    days: int = 0
    wape: float | None = None
    coverage_80: float | None = None
    coverage_95: float | None = None
    beats_snaive: float | None = None
    over_time: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["week", "wape", "snaive_wape",
                                                                                 "days"]))
    by_step: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["step", "wape", "mae", "days"]))
    first_score_on: date | None = None

    @property
    def scored(self) -> bool:
        return self.days > 0

    @property
    def settled(self) -> bool:
        """Enough scored days (`monitoring.MIN_SCORED_DAYS`) for the figures to mean something."""
        return self.days >= MIN_SCORED_DAYS

    @property
    def range_verdict(self) -> str | None:
        """Whether the 80% band kept its promise: "ok", "narrow" or "wide" (`coverage_verdict`)."""
        return coverage_verdict(self.coverage_80, 0.80, self.days)


def scorecard_view(storage: Storage, tenant_id: str, *, lookback_days: int = RELIABILITY_LOOKBACK_DAYS,
                   now: datetime | None = None) -> Scorecard:
    """The tenant's reliability scorecard over the last `lookback_days` days (see `Scorecard`).

    Never raises for a tenant without sales or forecasts: it comes back
    unscored.
    """
    tenant = get_tenant(storage, str(tenant_id))
    today = tenant_today(tenant.timezone, now)
    try:
        # A year before the scored window too: the scorecard's MASE scale comes from it.
        y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=lookback_days + 365, now=now)
    except DataError:
        y = None
    card = scorecard(storage, tenant.id, y, lookback_days=lookback_days) if y is not None and len(y) else None
    if card is None or card.days == 0:
        return Scorecard(tenant, today, first_score_on=_first_score_on(storage, tenant.id, today))
    by_step = card.by_step[["step", "wape", "mae", "days"]].astype({"step": int}).reset_index(drop=True)
    return Scorecard(
        tenant, today, days=int(card.days), wape=_finite(card.wape), coverage_80=_finite(card.coverage_80),
        coverage_95=_finite(card.coverage_95), beats_snaive=_finite(card.beats_snaive),
        over_time=card.over_time.reset_index(drop=True), by_step=by_step,
    )


def _first_score_on(storage: Storage, tenant_id: str, today: date) -> date | None:
    """The day after the earliest issued forecast day not yet scored (its sales are complete then)."""
    rows = storage.select("forecast_history", str(tenant_id), columns=["target_date"],
                          gte={"target_date": today - timedelta(days=RELIABILITY_LOOKBACK_DAYS)},
                          order_by="target_date", limit=1)
    if rows.empty:
        return None
    first = pd.Timestamp(rows.iloc[0]["target_date"]).date()
    return max(first, today) + timedelta(days=1)


def coverage_verdict(coverage: float | None, level: float, days: int) -> str | None:
    """Whether a band's coverage matches its promise: "ok", "narrow" (misses too often) or "wide".

    The tolerance is two binomial standard errors at the promised level
    over `days` scored days (at least 5 points): over two weeks an 80% band
    hitting 72% is noise, over three months it is not.
    """
    if coverage is None or days <= 0:
        return None
    tolerance = max(0.05, 2 * math.sqrt(level * (1 - level) / days))
    if coverage < level - tolerance:
        return "narrow"
    if coverage > level + tolerance:
        return "wide"
    return "ok"


# --- forecast ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastView:
    """History and stored forecasts on one daily index.

    `frame` columns: `y` (actuals, NaN from today on), `yhat`, `yhat_lower`,
    `yhat_upper` (80%), `yhat_lower_95`, `yhat_upper_95` (NaN where nothing
    was forecast). Rows before today with a `yhat` are past forecasts, drawn
    under what actually happened.
    """

    tenant: Tenant
    today: date
    frame: pd.DataFrame
    holidays: pd.Series
    model_type: str | None
    model_version: str | None
    last_trained: datetime | None

    @property
    def future(self) -> pd.DataFrame:
        return self.frame.loc[pd.Timestamp(self.today):].dropna(subset=["yhat"])

    @property
    def past_forecasts(self) -> pd.DataFrame:
        return self.frame.loc[: pd.Timestamp(self.today) - pd.Timedelta(days=1)].dropna(subset=["yhat"])


BAND_COLUMNS = ("yhat", "yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95")


def _stored_forecast(storage: Storage, tenant_id: str, *, gte: date | None = None) -> pd.DataFrame:
    rows = storage.select("ml_predictions", str(tenant_id), columns=["prediction_date", "predicted_values"],
                          where={"prediction_type": FORECAST}, gte={"prediction_date": gte} if gte else None,
                          order_by="prediction_date")
    values = pd.DataFrame(list(rows["predicted_values"]), columns=list(BAND_COLUMNS), dtype=float)
    values.index = pd.DatetimeIndex(pd.to_datetime(rows["prediction_date"]), name="ds")
    # Rows written before the 95% band existed fall back to the 80% one rather than to nothing.
    values["yhat_lower_95"] = values["yhat_lower_95"].fillna(values["yhat_lower"])
    values["yhat_upper_95"] = values["yhat_upper_95"].fillna(values["yhat_upper"])
    return values


def forecast_view(storage: Storage, tenant_id: str, *, history_days: int = HISTORY_DAYS,
                  now: datetime | None = None) -> ForecastView:
    """History (up to `history_days`) plus every stored forecast, and the holidays over that span.

    Raises DataError for a tenant without sales; a never-trained tenant gets
    its history with an empty forecast (`model_type` None).
    """
    tenant = get_tenant(storage, str(tenant_id))
    today = tenant_today(tenant.timezone, now)
    y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=history_days, now=now)
    forecast = _stored_forecast(storage, tenant.id, gte=y.index[0].date())
    frame = pd.concat([y.rename("y"), forecast], axis=1).sort_index()
    frame.index.name = "ds"
    frame = frame.asfreq("D")
    info = active_model_info(storage, tenant.id)
    country = _holiday_country(storage, tenant)
    holidays = holidays_between(country, frame.index[0], frame.index[-1]) if country else pd.Series(dtype=object)
    return ForecastView(tenant, today, frame, holidays,
                        info.model_type if info else None, info.model_version if info else None,
                        info.last_trained if info else None)


def _holiday_country(storage: Storage, tenant: Tenant) -> str | None:
    try:
        return settings_for_tenant(storage, tenant).holidays_country or None
    except ConfigError:
        # An invalid override must not hide the chart; the settings form reports it.
        try:
            return check_country(tenant.country)
        except ConfigError:
            return None


def forecast_csv(view: ForecastView) -> bytes:
    """The forecast from today on as CSV (ISO dates, '.' decimals: for spreadsheets and scripts alike)."""
    future = view.future
    frame = pd.DataFrame({
        "date": future.index.strftime("%Y-%m-%d"),
        "forecast": future["yhat"].round(2).to_numpy(),
        "lower_80": future["yhat_lower"].round(2).to_numpy(),
        "upper_80": future["yhat_upper"].round(2).to_numpy(),
        "lower_95": future["yhat_lower_95"].round(2).to_numpy(),
        "upper_95": future["yhat_upper_95"].round(2).to_numpy(),
        "currency": view.tenant.currency,
        "model": view.model_type or "",
        "model_version": view.model_version or "",
    })
    return write_csv(frame)


# --- model comparison -----------------------------------------------------------------------


@dataclass(frozen=True)
class WinnerReason:
    """The numbers behind "why did this model win"."""

    winner: str
    metric: str
    value: float | None
    runner_up: str | None
    runner_up_value: float | None
    margin: float | None  # relative: 0.1 = the winner's error is 10% below the runner-up's
    folds_won: int
    folds: int
    vs_baseline: float | None
    fixed: bool  # ML_SELECT_BEST off: the first candidate is used whatever its score


@dataclass(frozen=True)
class CVView:
    """Cross-validation of one model version, as stored in `ml_models.training_metrics`.

    `scores`: one row per cross-validated candidate, every metric, `rank` on
    the primary metric and `winner`; `skipped`: candidate -> reason;
    `by_fold`, `by_step` (mae, mase per horizon step), `by_weekday` (mae,
    0 = Monday) and `predictions` (model, fold, cutoff, ds, y, yhat) are tidy.
    """

    model_version: str
    last_trained: datetime
    winner: str
    primary_metric: str
    selection: str
    horizon: int
    folds: int
    scores: pd.DataFrame
    skipped: dict[str, str]
    by_fold: pd.DataFrame
    by_step: pd.DataFrame
    by_weekday: pd.DataFrame
    predictions: pd.DataFrame
    reason: WinnerReason


def cv_versions(storage: Storage, tenant_id: str) -> pd.DataFrame:
    """The tenant's model versions (model_version, model_type, last_trained, is_active), newest first.

    Reads four small columns only: the CV JSON of every version is not needed to list them.
    """
    columns = ["model_version", "model_type", "last_trained", "is_active"]
    frame = storage.select("ml_models", str(tenant_id), columns=columns, order_by="last_trained", descending=True)
    return frame.assign(is_active=frame["is_active"].astype(bool)).reset_index(drop=True)


def cv_view(storage: Storage, tenant_id: str, model_version: str | None = None) -> CVView | None:
    """The comparison behind a model version (the active one by default); None if never trained."""
    models = list_models(storage, tenant_id)
    if models.empty:
        return None
    if model_version is None:
        active = models[models["is_active"].astype(bool)]
        row = (active if not active.empty else models).iloc[0]
    else:
        match = models[models["model_version"] == model_version]
        if match.empty:
            raise DataError(f"tenant {tenant_id} has no model version {model_version}")
        row = match.iloc[0]
    return cv_from_metrics(row["training_metrics"] or {}, str(row["model_version"]), row["last_trained"],
                           fallback_winner=str(row["model_type"]))


def cv_from_metrics(metrics: Mapping[str, Any], model_version: str, last_trained: datetime,
                    fallback_winner: str) -> CVView:
    """A CVView from the training-metrics JSON (see `pipeline.training_metrics`)."""
    from ..core.metrics import METRICS

    metric = metrics.get("primary_metric") or "mase"
    winner = metrics.get("winner") or fallback_winner
    scores = pd.DataFrame.from_dict(metrics.get("scores") or {}, orient="index", columns=list(METRICS), dtype=float)
    scores.index.name = "model"
    ranking = scores[metric].fillna(scores["mase"]) if metric in scores else scores.get("mase")
    if len(scores):
        scores["rank"] = ranking.rank(method="min", na_option="bottom").astype(int)
        scores["winner"] = scores.index == winner
        scores = scores.sort_values(["rank"], kind="stable")
    else:
        scores["rank"] = pd.Series(dtype=int)
        scores["winner"] = pd.Series(dtype=bool)

    by_fold = pd.DataFrame(metrics.get("by_fold") or [], columns=["model", "fold", "cutoff", *METRICS])
    by_step = pd.DataFrame(metrics.get("by_step") or [], columns=["model", "step", "mae", "mase"])
    by_weekday = pd.DataFrame(metrics.get("by_weekday") or [], columns=["model", "weekday", "mae"])
    preds = metrics.get("predictions") or {}
    predictions = pd.DataFrame({k: preds.get(k, []) for k in ("model", "fold", "ds", "y", "yhat")})
    predictions["ds"] = pd.to_datetime(predictions["ds"])
    cutoffs = by_fold.drop_duplicates("fold").set_index("fold")["cutoff"]
    predictions["cutoff"] = pd.to_datetime(predictions["fold"].map(cutoffs))
    for frame, columns in ((by_fold, METRICS), (by_step, ("mae", "mase")), (by_weekday, ("mae",)),
                           (predictions, ("y", "yhat"))):
        for column in columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")

    selection = str(metrics.get("selection") or "")
    return CVView(
        model_version=model_version, last_trained=last_trained, winner=winner, primary_metric=metric,
        selection=selection, horizon=int(metrics.get("horizon") or 0), folds=int(metrics.get("folds") or 0),
        scores=scores, skipped=dict(metrics.get("skipped") or {}), by_fold=by_fold, by_step=by_step,
        by_weekday=by_weekday, predictions=predictions,
        reason=_winner_reason(scores, by_fold, winner, metric, metrics, fixed="fixed model" in selection),
    )


def _winner_reason(scores: pd.DataFrame, by_fold: pd.DataFrame, winner: str, metric: str,
                   metrics: Mapping[str, Any], fixed: bool) -> WinnerReason:
    column = metric if metric in scores and scores[metric].notna().any() else "mase"
    value = _finite(scores[column].get(winner)) if winner in scores.index else None
    others = scores.drop(index=winner, errors="ignore")[column].dropna().sort_values()
    runner_up = str(others.index[0]) if len(others) else None
    runner_up_value = _finite(others.iloc[0]) if len(others) else None
    margin = (1.0 - value / runner_up_value) if value is not None and runner_up_value else None
    folds_won, folds = 0, 0
    if len(by_fold) and column in by_fold:
        per_fold = by_fold.pivot_table(index="fold", columns="model", values=column)
        folds = len(per_fold)
        if winner in per_fold:
            folds_won = int((per_fold.idxmin(axis=1) == winner).sum())
    return WinnerReason(winner, column, value, runner_up, runner_up_value, margin, folds_won, folds,
                        vs_baseline(metrics), fixed)


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


# --- anomalies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnomalyView:
    """Scored days of the active model's training window.

    `frame`: ds, y, expected, score, is_anomaly (as flagged at training);
    `method` and `threshold` are the ones that training used.
    """

    frame: pd.DataFrame
    method: str
    threshold: float
    model_version: str | None


def anomaly_view(storage: Storage, tenant_id: str) -> AnomalyView | None:
    """The stored anomaly scores of the active model version; None if the tenant was never trained."""
    info = active_model_info(storage, tenant_id)
    if info is None:
        return None
    rows = storage.select("ml_predictions", str(tenant_id),
                          columns=["prediction_date", "predicted_values", "model_version"],
                          where={"prediction_type": ANOMALY, "model_version": info.model_version},
                          order_by="prediction_date")
    values = pd.DataFrame(list(rows["predicted_values"]), columns=["y", "expected", "score", "is_anomaly"])
    frame = pd.DataFrame({
        "ds": pd.to_datetime(rows["prediction_date"]).to_numpy(),
        "y": pd.to_numeric(values["y"], errors="coerce").to_numpy(),
        "expected": pd.to_numeric(values["expected"], errors="coerce").to_numpy(),
        "score": pd.to_numeric(values["score"], errors="coerce").fillna(0.0).to_numpy(),
        "is_anomaly": values["is_anomaly"].fillna(False).astype(bool).to_numpy(),
    })
    used = info.hyperparameters.get("settings") or {}
    defaults = get_settings()
    return AnomalyView(frame, str(used.get("anomaly_method") or defaults.anomaly_method),
                       float(used.get("stl_zthresh") or defaults.stl_zthresh), info.model_version)


def reflag(view: AnomalyView, threshold: float) -> pd.DataFrame:
    """The scored days flagged with another threshold, without retraining (`anomalies.flag`)."""
    return flag(view.frame, float(threshold))


# --- models and retrain ---------------------------------------------------------------------


def model_versions(storage: Storage, tenant_id: str) -> pd.DataFrame:
    """The tenant's model versions with their CV figures, newest first.

    Columns: model_version, model_type, is_active, last_trained, accuracy,
    primary_metric, score (the primary metric), mase, wape, trained_until,
    train_days, candidates.
    """
    models = list_models(storage, tenant_id)
    rows = []
    for row in models.itertuples():
        metrics = row.training_metrics or {}
        hyper = row.hyperparameters or {}
        winner_scores = (metrics.get("scores") or {}).get(row.model_type, {})
        primary = metrics.get("primary_metric") or "mase"
        rows.append({
            "model_version": row.model_version, "model_type": row.model_type, "is_active": bool(row.is_active),
            "last_trained": row.last_trained, "accuracy": _finite(row.accuracy), "primary_metric": primary,
            "score": _finite(winner_scores.get(primary)), "mase": _finite(winner_scores.get("mase")),
            "wape": _finite(winner_scores.get("wape")), "trained_until": hyper.get("trained_until"),
            "train_days": hyper.get("train_days"), "candidates": len(metrics.get("scores") or {}),
        })
    columns = ["model_version", "model_type", "is_active", "last_trained", "accuracy", "primary_metric", "score",
               "mase", "wape", "trained_until", "train_days", "candidates"]
    return pd.DataFrame(rows, columns=columns)


def retrain_plan(storage: Storage, tenant_id: str) -> list[str]:
    """The progress events a retrain of this tenant will report, for a progress bar.

    `series`, one `cv` per candidate, `final_fit`, `saving` (forecast),
    `anomalies`, `saving` (model), `done`. Candidates that turn out to be
    unavailable report nothing, so the bar may jump; it never overshoots.
    """
    try:
        settings = settings_for_tenant(storage, str(tenant_id))
    except ForecastingError:
        settings = get_settings()
    candidates = settings.model_candidates if settings.select_best else settings.model_candidates[:1]
    return ["series", *["cv"] * len(candidates), "final_fit", "saving", "anomalies", "saving", "done"]


@dataclass(frozen=True)
class RetrainOutcome:
    """What a retrain did (`TrainResult.summary()` plus the CV scores, for display)."""

    summary: dict[str, Any]
    scores: pd.DataFrame


def retrain(storage: Storage, tenant_id: str, *, progress: Callable[[str, str], None] | None = None,
            settings: MLSettings | None = None) -> RetrainOutcome:
    """Run the whole pipeline for one tenant now, under the tenant's retrain lock (`pipeline.retrain_tenant`).

    The lock is the one the scheduler's weekly retrain takes, so a click
    while that job trains the same tenant gets BusyError at once instead of
    a second, competing run. Otherwise raises what the pipeline raises:
    DataError (no sales), ConfigError (invalid overrides), ModelError, StorageError.
    """
    from ..services.training import retrain_tenant

    result = retrain_tenant(storage, str(tenant_id), settings=settings, progress=progress)
    return RetrainOutcome(result.summary(), result.cv_scores)


# --- settings form -----------------------------------------------------------------------

#: Settings a tenant may override from the dashboard, grouped as the form shows them.
#: `config.DEPLOYMENT_SETTINGS` (the scheduler's, the time budget) are not per tenant, so not in the form.
SETTING_GROUPS: dict[str, tuple[str, ...]] = {
    "models": ("model_candidates", "select_best", "cv_primary_metric", "horizon_days", "cv_folds", "ensemble_top_k"),
    "seasonality": ("holidays_country", "seasonality_mode", "log_transform", "sarimax_order", "sarimax_seasonal"),
    "anomalies": ("anomaly_method", "stl_period", "stl_zthresh"),
    "data": ("max_train_window_days", "error_alert_mape"),
}


@dataclass(frozen=True)
class SettingField:
    """One field of the tenant settings form.

    `kind` picks the widget: candidates, bool, choice, int, float, order, country.
    `value` is in force for the tenant, `inherited` is what it would be without
    the tenant's override.
    """

    name: str
    group: str
    kind: str
    value: Any
    inherited: Any
    overridden: bool
    description: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False

    @property
    def env_name(self) -> str:
        return f"ML_{self.name.upper()}"


def _inherited(tenant: Tenant) -> MLSettings:
    """The environment with the tenant's country as holidays country: the form's defaults."""
    base = get_settings()
    return merge_overrides(base, {"holidays_country": tenant.country}) if tenant.country else base


def settings_form(storage: Storage, tenant_id: str) -> tuple[list[SettingField], str | None]:
    """The form's fields and, when the stored overrides are invalid, the error naming the field.

    With invalid stored overrides the fields show the inherited values, so
    saving the form repairs them.
    """
    tenant = get_tenant(storage, str(tenant_id))
    inherited = _inherited(tenant)
    error = None
    try:
        effective = settings_for_tenant(storage, tenant)
        overrides = set(_normalized(tenant_overrides(storage, tenant.id)))
    except ConfigError as exc:
        effective, overrides, error = inherited, set(), str(exc)
    fields = []
    for group, names in SETTING_GROUPS.items():
        for name in names:
            info = MLSettings.model_fields[name]
            kind, choices = _kind(name, info.annotation)
            minimum, maximum, exclusive = _bounds(info.metadata)
            fields.append(SettingField(
                name=name, group=group, kind=kind, value=getattr(effective, name), inherited=getattr(inherited, name),
                overridden=name in overrides, description=info.description or "", choices=choices,
                minimum=minimum, maximum=maximum, exclusive_minimum=exclusive,
            ))
    return fields, error


def _normalized(overrides: Mapping[str, Any]) -> dict[str, Any]:
    from ..core.config import normalize_override_keys

    return normalize_override_keys(dict(overrides))


def _kind(name: str, annotation: Any) -> tuple[str, tuple[Any, ...]]:
    if name == "model_candidates":
        return "candidates", available_names()
    if name == "holidays_country":
        return "country", ()
    if name in ("sarimax_order", "sarimax_seasonal"):
        return "order", ()
    if typing.get_origin(annotation) is typing.Literal:
        return "choice", typing.get_args(annotation)
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    return "text", ()


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None, bool]:
    minimum = maximum = None
    exclusive = False
    for item in metadata:
        if getattr(item, "ge", None) is not None:
            minimum = item.ge
        if getattr(item, "gt", None) is not None:
            minimum, exclusive = item.gt, True
        if getattr(item, "le", None) is not None:
            maximum = item.le
    return minimum, maximum, exclusive


def save_settings(storage: Storage, tenant_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Store the form's values as the tenant's overrides; returns the overrides saved.

    Only values that differ from the inherited ones are stored, so a later
    change of the environment still reaches this tenant for every setting it
    did not change. Validated as a whole first: ConfigError names the field
    and nothing is written.
    """
    tenant = get_tenant(storage, str(tenant_id))
    inherited = _inherited(tenant)
    candidate = merge_overrides(inherited, dict(values))
    check_country(candidate.holidays_country)
    overrides = {name: value for name, value in candidate.model_dump(mode="json").items()
                 if name in values and value != inherited.model_dump(mode="json")[name]}
    save_tenant_overrides(storage, tenant.id, overrides)
    return overrides


def reset_tenant_settings(storage: Storage, tenant_id: str) -> None:
    """Drop every override of the tenant: it follows the environment again."""
    save_tenant_overrides(storage, str(tenant_id), {})


# --- notifications -------------------------------------------------------------------------


def notifications(storage: Storage, tenant_id: str, *, unread_only: bool = False) -> pd.DataFrame:
    """The tenant's notifications, newest first (id, kind, severity, title, message, details, is_read, created_at).

    `details` is the message as i18n parts (`forecasting.i18n.messages.say` says it in a language), or
    None for rows written without them (by older versions or other applications): show `title` and
    `message` then.
    """
    frame = list_notifications(storage, str(tenant_id), unread_only=unread_only)
    return frame[["id", "kind", "severity", "title", "message", "details", "is_read",
                  "created_at"]].reset_index(drop=True)


def unread_count(storage: Storage, tenant_id: str) -> int:
    return len(storage.select("notifications", str(tenant_id), columns=["id"], where={"is_read": False}))


def mark_read(storage: Storage, tenant_id: str, notification_id: int | None = None) -> int:
    """Mark one notification, or all of the tenant's when `notification_id` is None, as read."""
    return _mark_read(storage, str(tenant_id), notification_id)


# --- scheduled jobs ----------------------------------------------------------------------------

#: Seconds between refreshes of the Jobs page while a run is in progress, and while none is.
JOBS_REFRESH_RUNNING = 2.0
JOBS_REFRESH_IDLE = 30.0
#: Runs listed per job, newest first.
JOB_RUNS_SHOWN = 10
#: Jobs that report one unit of progress per tenant; the others report a single step.
PER_TENANT_JOBS = frozenset({"retrain_all", "refresh_features", "daily_notifications", "check_notification_rules"})
RUN_COLUMNS = ["job_id", "status", "state", "trigger", "holder", "started_at", "finished_at", "seconds",
               "tenants_done", "tenants_failed", "error"]


@dataclass(frozen=True)
class JobStatus:
    """One scheduled job: its schedule, its recent runs and the run in progress.

    `title` is the engine's English title (the UI's fallback). `trigger` is
    the APScheduler trigger (`forecasting.ui.schedule.describe_trigger`
    says it in words); `next_run` is UTC. `runs` are the last runs, newest
    first, with RUN_COLUMNS: `state` is the recorded status, except
    "stalled" for a run still marked running whose heartbeat stopped (its
    process died and no leader has marked it interrupted yet); `seconds` is
    the run's length so far. `total` is how many tenants a per-tenant run
    works through (for a progress bar), None for single-step jobs.
    """

    job_id: str
    title: str
    trigger: Any
    next_run: datetime | None
    runs: pd.DataFrame
    total: int | None = None

    @property
    def running(self) -> dict[str, Any] | None:
        """The run in progress (a live heartbeat), or None."""
        live = self.runs[self.runs["state"] == "running"]
        return None if live.empty else live.iloc[0].to_dict()

    @property
    def last_finished(self) -> dict[str, Any] | None:
        """The newest run that is over (any outcome, stalled included), or None."""
        over = self.runs[self.runs["state"] != "running"]
        return None if over.empty else over.iloc[0].to_dict()


@dataclass(frozen=True)
class JobsView:
    """Everything the Jobs page shows, read at `now` (UTC).

    `enabled`: SCHEDULER_ENABLED in this process; `leading`: this process
    holds the scheduler lease and runs the schedule. The leader is the
    `scheduler` lease: `leader` its holder (None when nobody ever took it),
    `leader_is_us` when that is this process, `lease_expires` when it lapses
    unless renewed (an expired lease means no process is leading now).
    """

    jobs: list[JobStatus]
    enabled: bool
    leading: bool
    timezone: str
    holder: str
    leader: str | None
    leader_is_us: bool
    lease_expires: datetime | None
    now: datetime

    @property
    def lease_active(self) -> bool:
        return self.lease_expires is not None and self.lease_expires > self.now

    @property
    def running_ids(self) -> frozenset[str]:
        return frozenset(job.job_id for job in self.jobs if job.running is not None)


def _run_frame(runs: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """`job_runs` rows -> RUN_COLUMNS (UTC timestamps, derived `state` and `seconds`)."""
    from ..ops.scheduler import STALE_RUN_SECONDS

    frame = runs.reindex(columns=[c for c in RUN_COLUMNS if c not in ("state", "seconds")]).copy()
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    beat = pd.to_datetime(runs["heartbeat_at"] if "heartbeat_at" in runs else frame["started_at"], utc=True)
    beat = beat.fillna(frame["started_at"])
    stale = (frame["status"] == "running") & (beat < pd.Timestamp(now) - pd.Timedelta(seconds=STALE_RUN_SECONDS))
    frame["state"] = frame["status"].where(~stale, "stalled")
    end = frame["finished_at"].where(frame["status"] != "running", pd.Timestamp(now))
    frame["seconds"] = (end - frame["started_at"]).dt.total_seconds()
    for column in ("tenants_done", "tenants_failed"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype(int)
    frame["error"] = frame["error"].where(frame["error"].notna(), None)
    return frame[RUN_COLUMNS].reset_index(drop=True)


def _job_total(storage: Storage, job_id: str) -> int | None:
    """How many tenants a run of `job_id` works through (what its `tenants_done + tenants_failed` reaches)."""
    if job_id not in PER_TENANT_JOBS:
        return None
    if job_id == "retrain_all":
        from ..ops.jobs import allowed_tenants

        return len(allowed_tenants(storage, get_settings()))
    return len(list_tenants(storage))


def jobs_view(storage: Storage, runner: Any = None, *, runs: int = JOB_RUNS_SHOWN,
              now: datetime | None = None) -> JobsView:
    """Every scheduled job with its next run and last `runs` runs, plus who leads the scheduler.

    `runner` is this process's `SchedulerRunner`, or None when the scheduler
    is off here: next run times then come from the triggers themselves
    (what a leader elsewhere computes too). Raises ConfigError for an invalid
    schedule (ML_RETRAIN_CRON) and StorageError when the database can't be read.
    """
    from ..ops.scheduler import LEASE_NAME, job_specs, recent_runs
    from ..services.locks import process_holder

    now = now or datetime.now(timezone.utc)
    app = get_app_settings()
    if runner is not None:
        specs = list(runner.specs.values())
        status = runner.status(now)
        next_runs = dict(zip(status["job_id"], status["next_run"], strict=True))
        holder, leading = runner.holder, bool(runner.leading)
    else:
        specs = job_specs(app)
        next_runs = {spec.id: spec.trigger.get_next_fire_time(None, now) for spec in specs}
        holder, leading = process_holder(), False
    jobs = []
    for spec in specs:
        frame = _run_frame(recent_runs(storage, spec.id, limit=runs), now)
        in_progress = (frame["state"] == "running").any()
        jobs.append(JobStatus(spec.id, spec.title, spec.trigger, next_runs.get(spec.id), frame,
                              _job_total(storage, spec.id) if in_progress else None))
    lease = storage.lease(LEASE_NAME) or {}
    return JobsView(
        jobs=jobs, enabled=app.scheduler_enabled, leading=leading, timezone=app.scheduler_timezone, holder=holder,
        leader=lease.get("holder"), leader_is_us=lease.get("holder") == holder,
        lease_expires=stored_moment(lease.get("expires_at")), now=now,
    )


@dataclass(frozen=True)
class JobStart:
    """What a Run now click did: `started`, or not because the job was already running.

    `run` is the job's run in progress (the one just started, or the one
    that was already going) as a `job_runs` row, or the finished run when
    the job was over before the page looked; None when its row was not
    written yet.
    """

    job_id: str
    started: bool
    run: dict[str, Any] | None


# Threads started by Run now in this process, by (database, job): between starting a thread and
# its `running` row landing in job_runs, only this tells that the job is already on its way.
_MANUAL_RUNS: dict[tuple[str, str], threading.Thread] = {}
_MANUAL_LOCK = threading.Lock()


def run_job_now(storage: Storage, job_id: str, runner: Any = None, *, wait_seconds: float = 3.0) -> JobStart:
    """Start `job_id` now in a background thread, recorded in `job_runs` as a manual run.

    With this process's scheduler `runner` it goes through `runner.run_now`
    (its holder and settings); without one (SCHEDULER_ENABLED off here) the
    run is `scheduler.execute_job(..., trigger="manual")` in a thread of our
    own. A job with a run in progress (a live `running` row, or a thread
    this process started that has not written its row yet) is not started
    twice: `started` is then False. Waits up to `wait_seconds` for the new
    run's row so the page that redraws next shows it. Raises ConfigError for
    an unknown job and StorageError when job_runs can't be read.
    """
    from ..ops.jobs import JOBS

    if job_id not in JOBS:
        raise ConfigError(f"unknown job {job_id!r}; choose from {', '.join(sorted(JOBS))}")
    key = (storage_key(storage), job_id)
    with _MANUAL_LOCK:
        current = _current_run(storage, job_id)
        thread = _MANUAL_RUNS.get(key)
        if current is not None or (thread is not None and thread.is_alive()):
            return JobStart(job_id, False, current)
        since = datetime.now(timezone.utc)
        if runner is not None:
            thread = runner.run_now(job_id)
        else:
            thread = threading.Thread(target=_run_manually, args=(storage, job_id), name=f"job-{job_id}",
                                      daemon=True)
            thread.start()
        _MANUAL_RUNS[key] = thread
    return JobStart(job_id, True, _wait_for_run(storage, job_id, since, thread, wait_seconds))


def _run_manually(storage: Storage, job_id: str) -> None:
    from ..ops.scheduler import execute_job

    try:
        execute_job(storage, job_id, scheduled_for=datetime.now(timezone.utc), trigger="manual")
    except Exception as exc:  # noqa: BLE001 - a thread's exception would only reach stderr; the log keeps it
        # execute_job records every failure of the job itself; this is the claim failing (database down).
        log_event("job_manual_failed", level=40, job=job_id, error=f"{type(exc).__name__}: {exc}")


def _current_run(storage: Storage, job_id: str) -> dict[str, Any] | None:
    rows = storage.select("job_runs", None, where={"job_id": job_id, "status": "running"},
                          order_by="started_at", descending=True)
    if rows.empty:
        return None
    frame = _run_frame(rows, datetime.now(timezone.utc))
    live = frame[frame["state"] == "running"]
    return None if live.empty else live.iloc[0].to_dict()


def _wait_for_run(storage: Storage, job_id: str, since: datetime, thread: threading.Thread,
                  wait_seconds: float) -> dict[str, Any] | None:
    """The manual run of `job_id` started at or after `since`, once its row exists (bounded wait)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        rows = storage.select("job_runs", None, where={"job_id": job_id, "trigger": "manual"},
                              gte={"started_at": since}, order_by="started_at", descending=True, limit=1)
        if not rows.empty:
            return _run_frame(rows, datetime.now(timezone.utc)).iloc[0].to_dict()
        if not thread.is_alive() or time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
