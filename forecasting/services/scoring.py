"""Forecast monitoring: keep every forecast as issued, score it when actuals arrive.

`ml_predictions` holds only the latest forecast per date (upserts overwrite
it), so each training also writes its forecast to `forecast_history`, keyed
by model version and target date. Scoring joins that history with the
actual daily sales:

* `score_issued` -- one row per (issued forecast, target day) with errors,
  interval hits and the seasonal-naive forecast that could have been made
  on the same day;
* `scorecard` -- what the dashboard shows: error by horizon, error over
  time, interval coverage and how much better than seasonal naive;
* `recent_error` -- what the drift rule compares with `ML_ERROR_ALERT_MAPE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..core.logs import log_event
from ..core.metrics import mape, mase, mase_scale, score_frame, wape
from ..core.models import lower_col, upper_col
from ..storage import Storage

#: Scored days needed before issued forecasts are trusted over the CV error.
MIN_SCORED_DAYS = 7
RECENT_DAYS = 28
#: `forecast_history.source` of a row back-filled from cross-validation (NULL: issued).
BACKTEST = "backtest"


def history_rows(tenant_id: str, forecast: pd.DataFrame, model_type: str, version: str) -> list[dict[str, Any]]:
    issued_on = forecast.index[0].date()
    return [
        {"tenant_id": str(tenant_id), "model_version": version, "model_type": model_type, "issued_on": issued_on,
         "target_date": ds.date(), "step": step, "yhat": float(row["yhat"]),
         "yhat_lower_80": float(row[lower_col(80)]), "yhat_upper_80": float(row[upper_col(80)]),
         "yhat_lower_95": float(row[lower_col(95)]), "yhat_upper_95": float(row[upper_col(95)])}
        for step, (ds, row) in enumerate(forecast.iterrows(), start=1)
    ]


def record_issued_forecast(storage: Storage, tenant_id: str, forecast: pd.DataFrame, model_type: str, version: str) -> int:
    """Keep this forecast as issued (idempotent per model version and date)."""
    return storage.upsert("forecast_history", str(tenant_id), history_rows(tenant_id, forecast, model_type, version))


def backtest_rows(tenant_id: str, backtests: pd.DataFrame, model_type: str, version: str) -> list[dict[str, Any]]:
    """`engine.backtest_forecasts` as forecast_history rows: each fold issued the day after its cutoff."""
    return [
        {"tenant_id": str(tenant_id), "model_version": f"{version}.cv{int(row.fold)}", "model_type": model_type,
         "issued_on": (pd.Timestamp(row.cutoff) + pd.Timedelta(days=1)).date(), "target_date": pd.Timestamp(row.ds).date(),
         "step": int(row.step), "yhat": float(row.yhat), "source": BACKTEST,
         **{column: float(getattr(row, column)) for level in (80, 95) for column in (lower_col(level), upper_col(level))}}
        for row in backtests.itertuples(index=False)
    ]


def record_backtest(storage: Storage, tenant_id: str, backtests: pd.DataFrame, model_type: str, version: str,
                    last_actual: pd.Timestamp) -> int:
    """Back-fill the history with the winner's CV forecasts when nothing issued can be scored yet.

    A new shop (or the demo on first start) would otherwise show an empty
    scorecard for weeks; the folds are what the model would have forecast
    had it been running then, and the scorecard says which days are
    back-tests. Once real forecasts have actuals the back-fill is never
    repeated, and the 90-day window lets the old one age out. Returns the rows written.
    """
    scorable = storage.select("forecast_history", str(tenant_id), columns=["target_date"],
                              lt={"target_date": (last_actual + pd.Timedelta(days=1)).date()}, limit=1)
    if not scorable.empty or backtests.empty:
        return 0
    return storage.upsert("forecast_history", str(tenant_id), backtest_rows(tenant_id, backtests, model_type, version))


def score_issued(storage: Storage, tenant_id: str, y: pd.Series, *, since: date | None = None) -> pd.DataFrame:
    """Every issued forecast day that now has an actual, with its errors (a back-test only for days without
    an issued forecast).

    Columns: issued_on, model_version, model_type, source, target_date, step, y, yhat,
    abs_error, in_80, in_95, snaive, snaive_abs_error. `source` is "backtest" for
    a back-filled CV forecast (`record_backtest`), else None. `snaive` is the weekly
    seasonal-naive forecast from the data the model had when it was issued
    (the same weekday in the last full week before `issued_on`).
    """
    gte = {"target_date": since} if since else None
    history = storage.select("forecast_history", str(tenant_id), gte=gte,
                             lt={"target_date": (y.index[-1] + pd.Timedelta(days=1)).date()})
    if history.empty:
        return pd.DataFrame(columns=["issued_on", "model_version", "model_type", "source", "target_date", "step", "y", "yhat",
                                     "abs_error", "in_80", "in_95", "snaive", "snaive_abs_error"])
    history["target_date"] = pd.to_datetime(history["target_date"])
    history["issued_on"] = pd.to_datetime(history["issued_on"])
    history["source"] = history["source"].astype(object).where(history["source"].notna(), None) \
        if "source" in history else None
    history = history[history["target_date"] >= y.index[0]]
    history["y"] = y.reindex(history["target_date"]).to_numpy()
    weeks_back = np.ceil(history["step"].to_numpy() / 7).astype(int) * 7
    reference = history["target_date"] - pd.to_timedelta(weeks_back, unit="D")
    history["snaive"] = y.reindex(reference).to_numpy()
    history = history.dropna(subset=["y"])
    # A day someone was really issued a forecast for is scored on that, never on a back-test of it.
    issued_days = set(history.loc[history["source"] != BACKTEST, "target_date"])
    history = history[(history["source"] != BACKTEST) | ~history["target_date"].isin(issued_days)]
    return history.assign(
        abs_error=(history["y"] - history["yhat"]).abs(),
        in_80=(history["y"] >= history["yhat_lower_80"]) & (history["y"] <= history["yhat_upper_80"]),
        in_95=(history["y"] >= history["yhat_lower_95"]) & (history["y"] <= history["yhat_upper_95"]),
        snaive_abs_error=(history["y"] - history["snaive"]).abs(),
    ).sort_values(["target_date", "issued_on"]).reset_index(drop=True)


def latest_per_day(scored: pd.DataFrame) -> pd.DataFrame:
    """For each target day, the most recently issued forecast (what the dashboard showed that day)."""
    return scored.sort_values("issued_on").groupby("target_date", as_index=False).last()


def _empty(*columns: str) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


@dataclass(frozen=True)
class Scorecard:
    """How the forecasts issued over the last `lookback_days` did against the sales that happened.

    `days` target days scored; `wape` (0.12 = off by 12% of sales), `mape`,
    `mase`; `coverage_80`/`coverage_95` (share of scored days whose sales fell
    inside the 80%/95% band); `beats_snaive` (0.2 = a 20% smaller error than
    seasonal naive issued on the same days; negative = worse; None when no
    seasonal-naive reference exists). `over_time`: week, wape, snaive_wape,
    days. `by_step`: step (1 = the first day ahead), mae, mase, wape, days.
    `by_week`: the same pooled by week ahead (1 = days 1-7), week_ahead, wape, days.
    A figure that can't be computed is None, never NaN.

    `backtest_days` of the `days` are back-filled CV forecasts (`record_backtest`), not issued ones.

    With nothing scored yet (`days == 0`) the figures are None and
    `first_score_on` is the tenant's local date on which the first score
    will appear (the views fill it in); None when no forecast was ever issued.
    """

    days: int = 0
    wape: float | None = None
    mape: float | None = None
    mase: float | None = None
    coverage_80: float | None = None
    coverage_95: float | None = None
    beats_snaive: float | None = None
    over_time: pd.DataFrame = field(default_factory=lambda: _empty("week", "wape", "snaive_wape", "days"), repr=False)
    by_step: pd.DataFrame = field(default_factory=lambda: _empty("step", "mae", "mase", "wape", "days"), repr=False)
    first_score_on: date | None = None
    backtest_days: int = 0
    by_week: pd.DataFrame = field(default_factory=lambda: _empty("week_ahead", "wape", "days"), repr=False)

    @property
    def scored(self) -> bool:
        return self.days > 0

    @property
    def settled(self) -> bool:
        """Enough scored days (`MIN_SCORED_DAYS`) for the figures to mean something."""
        return self.days >= MIN_SCORED_DAYS

    @property
    def range_verdict(self) -> str | None:
        """Whether the 80% band kept its promise: "ok", "narrow" or "wide" (`coverage_verdict`)."""
        return coverage_verdict(self.coverage_80, 0.80, self.days)


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


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def scorecard(storage: Storage, tenant_id: str, y: pd.Series | None, lookback_days: int = 90) -> Scorecard:
    """Scores of the forecasts issued for the last `lookback_days` days (unscored when there are none)."""
    if y is None or y.empty:
        return Scorecard()
    since = (y.index[-1] - pd.Timedelta(days=lookback_days - 1)).date()
    scored = score_issued(storage, tenant_id, y, since=since)
    if scored.empty:
        return Scorecard()
    scale = mase_scale(y.iloc[-365 - lookback_days : -lookback_days].to_numpy()) if len(y) > lookback_days + 14 \
        else mase_scale(y.to_numpy())
    by_step = score_frame(scored.assign(scale=scale), "step", ("mae", "mase", "wape")).sort_values("step")
    by_week = score_frame(scored.assign(week_ahead=(scored["step"].astype(int) - 1) // 7 + 1), "week_ahead",
                          ("wape",)).sort_values("week_ahead")
    daily = latest_per_day(scored)
    daily = daily.assign(week=daily["target_date"].dt.to_period("W").dt.start_time)
    ours = score_frame(daily, "week", ("wape",))
    snaive = score_frame(daily.assign(yhat=daily["snaive"].fillna(0.0)), "week", ("wape",))
    over_time = ours.assign(snaive_wape=snaive["wape"].to_numpy())[["week", "wape", "snaive_wape", "days"]]
    snaive_known = scored.dropna(subset=["snaive"])
    snaive_mae = snaive_known["snaive_abs_error"].mean()
    ours_mae = snaive_known["abs_error"].mean()
    beats = float(1 - ours_mae / snaive_mae) if snaive_mae and np.isfinite(snaive_mae) and snaive_mae > 0 else None
    return Scorecard(
        days=int(daily["target_date"].nunique()),
        backtest_days=int((daily["source"] == BACKTEST).sum()),
        wape=_finite(wape(scored["y"], scored["yhat"])),
        mape=_finite(mape(scored["y"], scored["yhat"])),
        mase=_finite(mase(scored["y"], scored["yhat"], scale)),
        coverage_80=_finite(scored["in_80"].mean()),
        coverage_95=_finite(scored["in_95"].mean()),
        beats_snaive=_finite(beats),
        by_step=by_step.astype({"step": int}).reset_index(drop=True),
        by_week=by_week.astype({"week_ahead": int}).reset_index(drop=True),
        over_time=over_time.reset_index(drop=True),
    )


def recent_error(storage: Storage, tenant_id: str, y: pd.Series, days: int = RECENT_DAYS) -> dict[str, Any] | None:
    """Error of the forecasts shown for the last `days` days (latest issue per day), or None if too few."""
    since = (y.index[-1] - pd.Timedelta(days=days - 1)).date()
    scored = score_issued(storage, tenant_id, y, since=since)
    scored = scored[scored["source"] != BACKTEST]  # drift is about forecasts really issued
    if scored.empty:
        return None
    daily = latest_per_day(scored)
    if len(daily) < MIN_SCORED_DAYS:
        return None
    return {"mape": mape(daily["y"], daily["yhat"]), "wape": wape(daily["y"], daily["yhat"]),
            "days": len(daily), "source": "issued forecasts"}


def measure_drift(storage: Storage, tenant_id: str, y: pd.Series, threshold: float,
                  cv_scores: dict[str, float] | None = None) -> dict[str, Any] | None:
    """Whether recent error exceeds `threshold` (`ML_ERROR_ALERT_MAPE`); None when nothing can be measured.

    Recent error is that of forecasts issued before and now comparable with
    actuals; before there are enough of those (a tenant's first training),
    the winner's cross-validation error stands in. The error is WAPE, how far
    off the forecast was as a share of sales: the figure the Overview and the
    scorecard show, so an alert never quotes another number for the same
    thing (`ML_ERROR_ALERT_MAPE` keeps its name; MAPE only when WAPE is
    undefined). Only measures and logs: `notifications.notify_drift` tells the owner.
    """
    error = recent_error(storage, tenant_id, y)
    if error is None and cv_scores:
        error = {"mape": cv_scores.get("mape"), "wape": cv_scores.get("wape"), "days": None,
                 "source": "cross-validation"}
    if error is None:
        return None
    value, metric = error["wape"], "WAPE"
    if value is None or not np.isfinite(value):
        value, metric = error["mape"], "MAPE"
    if value is None or not np.isfinite(value):
        return None
    drift = {**error, "metric": metric, "value": float(value), "threshold": threshold, "drift": value > threshold,
             "last_day": y.index[-1].date().isoformat()}
    if drift["drift"]:
        log_event("drift", tenant_id=str(tenant_id), **{k: v for k, v in drift.items() if k != "drift"})
    return drift
