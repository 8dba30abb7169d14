"""`train_and_predict_sales`: one tenant from raw sales to stored forecast. Orchestration only.

Steps (each logged as a JSON event and reported to `progress`):
series -> cross-validation per candidate -> final fit -> forecast upsert ->
anomalies upsert -> model version saved -> drift measured (`TrainResult.drift`; whoever ran the
training raises the notification with `notifications.notify_drift`, so training never writes one).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from ..core.anomalies import detect_anomalies
from ..core.config import MLSettings
from ..core.engine import ForecastOutcome, Progress, backtest_forecasts, forecast_series
from ..core.errors import DataError, ForecastingError, ModelError
from ..core.events import CalendarAware, Effects, effects_of, unwrap
from ..core.logs import log_event
from ..core.models import lower_col, upper_col
from ..core.series import tenant_today
from ..storage import Storage, open_storage
from .calendar import tenant_calendar
from .locks import BusyError, tenant_lock
from .model_store import active_model_info, load_active_model, new_version, save_model
from .products import train_products
from .sales import daily_sales
from .scoring import measure_drift, record_backtest, record_issued_forecast
from .tenants import get_tenant, settings_for_tenant

FORECAST = "sales_forecast"
ANOMALY = "sales_anomaly"


@dataclass
class TrainResult:
    tenant_id: str
    winner: str
    model_version: str
    outcome: ForecastOutcome
    anomalies: pd.DataFrame
    rows_written: dict[str, int]
    drift: dict[str, Any] | None
    seconds: float
    settings: MLSettings
    history_days: int = 0
    steps: dict[str, float] = field(default_factory=dict)
    products: dict[str, Any] | None = None  # `ProductTrainResult.summary()`, or {"error": ...}; None when off

    @property
    def forecast(self) -> pd.DataFrame:
        return self.outcome.forecast

    @property
    def cv_scores(self) -> pd.DataFrame:
        return self.outcome.cv.scores()

    def summary(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "winner": self.winner,
            "model_version": self.model_version,
            "history_days": self.history_days,
            "forecast_days": len(self.forecast),
            "anomalies": int(self.anomalies["is_anomaly"].sum()) if len(self.anomalies) else 0,
            "rows_written": self.rows_written,
            "skipped": self.outcome.skipped,
            "selection": self.outcome.selection_note,
            "drift": bool(self.drift and self.drift.get("drift")),
            "seconds": round(self.seconds, 2),
            "products": self.products,
        }


def train_and_predict_sales(
    tenant_id: str,
    *,
    storage: Storage | None = None,
    settings: MLSettings | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train, select, forecast and store for one tenant.

    `settings` replaces the environment layer (tenant overrides still apply on
    top); `now` fixes "today" for tests. Raises DataError for an unknown or
    empty tenant, ConfigError for invalid overrides; a failing candidate is
    skipped, never fatal.
    """
    storage = storage or open_storage()
    notify = progress or (lambda step, detail: None)
    started = time.perf_counter()
    tenant_id = str(tenant_id)
    tenant = get_tenant(storage, tenant_id)
    settings = settings_for_tenant(storage, tenant, base=settings)
    log_event("pipeline_start", tenant_id=tenant_id, candidates=settings.model_candidates,
              horizon=settings.horizon_days, folds=settings.cv_folds)
    steps: dict[str, float] = {}

    notify("series", "reading sales")
    mark = time.perf_counter()
    y = daily_sales(storage, tenant_id, timezone=tenant.timezone, max_days=settings.max_train_window_days, now=now)
    calendar = tenant_calendar(storage, tenant, settings)
    steps["series"] = time.perf_counter() - mark

    outcome = forecast_series(y, settings, country=settings.holidays_country or None, progress=notify,
                              calendar=calendar)
    steps.update(outcome.seconds)
    scores = outcome.cv.scores()
    log_event("cv_metrics", tenant_id=tenant_id, winner=outcome.winner, plan=vars(outcome.cv.plan),
              scores=scores.round(4).to_dict(orient="index"), skipped=outcome.skipped)

    version = new_version()
    rows: dict[str, int] = {}
    notify("saving", "forecast")
    rows[FORECAST] = storage.upsert("ml_predictions", tenant_id,
                                    forecast_rows(tenant_id, outcome.forecast, outcome.winner, version))
    rows["forecast_history"] = record_issued_forecast(storage, tenant_id, outcome.forecast, outcome.winner, version)
    rows["forecast_backtest"] = record_backtest(storage, tenant_id, backtest_forecasts(outcome.cv, outcome.winner, y),
                                                outcome.winner, version, y.index[-1])

    notify("anomalies", settings.anomaly_method)
    mark = time.perf_counter()
    anomalies = detect_anomalies(y, outcome.model.fitted(), method=settings.anomaly_method,
                                 period=settings.stl_period, threshold=settings.stl_zthresh,
                                 typical_error=typical_cv_error(outcome),
                                 known=calendar.history(y))
    steps["anomalies"] = time.perf_counter() - mark
    rows[ANOMALY] = storage.upsert("ml_predictions", tenant_id, anomaly_rows(tenant_id, anomalies, outcome.winner, version))

    notify("saving", "model")
    winner_scores = scores.loc[outcome.winner].to_dict() if outcome.winner in scores.index else {}
    accuracy = _accuracy(winner_scores)
    save_model(storage, tenant_id, unwrap(outcome.model), version=version, accuracy=accuracy,
               training_metrics=training_metrics(outcome, settings),
               extra={"settings": settings.model_dump(mode="json"), "country": settings.holidays_country or None,
                      "calendar_effects": effects_of(outcome.model).to_json()})
    rows["ml_models"] = 1

    drift = measure_drift(storage, tenant_id, y, settings.error_alert_mape, winner_scores)
    products = None
    if settings.train_products:
        notify("products", "")
        mark = time.perf_counter()
        products = _train_products(storage, tenant_id, settings, now)
        steps["products"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    result = TrainResult(tenant_id, outcome.winner, version, outcome, anomalies, rows, drift, seconds,
                         settings, len(y), steps, products)
    log_event("pipeline_end", **result.summary())
    notify("done", outcome.winner)
    return result


def _train_products(storage: Storage, tenant_id: str, settings: MLSettings, now) -> dict[str, Any]:
    """The product forecasts after the totals: their failure is reported beside a good total, never instead of it."""
    try:
        return train_products(storage, tenant_id, settings=settings, now=now).summary()
    except Exception as exc:  # noqa: BLE001 - the totals are saved; the products' failure is theirs to report
        expected = isinstance(exc, ForecastingError)
        log_event("products_failed", level=30 if expected else 40, tenant_id=tenant_id, error=str(exc),
                  error_type=type(exc).__name__, traceback=None if expected else traceback.format_exc(limit=5))
        return {"error": str(exc) if expected else f"{type(exc).__name__}: {exc}"}


def forecast_from_active(
    tenant_id: str,
    *,
    storage: Storage | None = None,
    now: datetime | None = None,
    horizon: int | None = None,
) -> pd.DataFrame:
    """Forecast from the stored active model. Never trains.

    The model forecasts from the end of its training data; the days between
    then and today are skipped so the result starts today (tenant's time).
    The shop's calendar as it is now applies (a closure or promotion added
    since the training moves this forecast at once), with the event effects
    learned at training. Raises DataError when the tenant was never trained
    and ModelError when the stored model can't be used (corrupt, not signed by this
    installation, written by other library versions): retraining fixes
    those, and whether to retrain is the caller's decision. The dashboard's
    pages call this one and report the problem; `predict_from_active`
    retrains.
    """
    storage = storage or open_storage()
    tenant = get_tenant(storage, str(tenant_id))
    loaded = load_active_model(storage, tenant.id)
    if loaded is None:
        raise DataError(f"tenant {tenant.id} has no trained model yet: run `python -m forecasting train --tenant {tenant.id}`")
    info, model = loaded
    h = horizon or int(info.hyperparameters.get("settings", {}).get("horizon_days", 28))
    today = pd.Timestamp(tenant_today(tenant.timezone, now))
    gap = max(0, (today - model.y_.index[-1]).days - 1)
    calendar = tenant_calendar(storage, tenant)
    if not calendar.empty:
        model = CalendarAware.restore(model, calendar, Effects.from_json(info.hyperparameters.get("calendar_effects")))
    forecast = model.predict(gap + h)
    return forecast.iloc[gap:].assign(model=info.model_type, model_version=info.model_version)


def refresh_forecast(storage: Storage, tenant_id: str, *, now: datetime | None = None) -> int:
    """Rewrite the stored forecast from the active model and the shop's calendar as it is now; rows written.

    What a calendar change calls: a closure or promotion entered moves the
    stored forecast (what the pages and alerts read) at once, without
    retraining. 0 when the tenant was never trained or its model can't be
    loaded (the pages say so and offer Retrain now).
    """
    info = active_model_info(storage, str(tenant_id))
    if info is None:
        return 0
    horizon = int(info.hyperparameters.get("settings", {}).get("horizon_days", 28))
    try:
        forecast = forecast_from_active(tenant_id, storage=storage, now=now, horizon=horizon)
    except ModelError as exc:
        log_event("forecast_refresh_skipped", level=30, tenant_id=str(tenant_id), error=str(exc))
        return 0
    rows = forecast_rows(str(tenant_id), forecast.drop(columns=["model", "model_version"]), info.model_type,
                         info.model_version)
    return storage.upsert("ml_predictions", str(tenant_id), rows)


def predict_from_active(
    tenant_id: str,
    *,
    storage: Storage | None = None,
    now: datetime | None = None,
    horizon: int | None = None,
    retrain_if_unusable: bool = True,
) -> pd.DataFrame:
    """`forecast_from_active`, retraining first when the stored model can't be used (the command line's `predict`).

    Raises DataError when the tenant was never trained. A stored model that
    can't be loaded (corrupt, other library versions) is logged and the
    tenant retrained, unless `retrain_if_unusable` is off (then ModelError).
    Not for anything that draws a page: a page never trains while it renders
    (`forecast_from_active` reports instead, and the page offers Retrain now).
    """
    storage = storage or open_storage()
    try:
        return forecast_from_active(tenant_id, storage=storage, now=now, horizon=horizon)
    except ModelError as exc:
        if not retrain_if_unusable:
            raise
        # A corrupt model or one written by other library versions: retrain rather than fail.
        tenant_id = str(tenant_id)
        log_event("model_unusable", level=30, tenant_id=tenant_id, error=str(exc))
        retrain_tenant(storage, tenant_id, now=now, wait_seconds=60)
        return forecast_from_active(tenant_id, storage=storage, now=now, horizon=horizon)


# --- rows ------------------------------------------------------------------------


def confidence_score(forecast: pd.DataFrame, level: int = 80) -> np.ndarray:
    """1 minus the relative width of the band, in [0, 1].

    A band as wide as the forecast itself gives 0.5; a zero-width band gives
    1; a forecast of zero with any width gives 0.
    """
    width = (forecast[upper_col(level)] - forecast[lower_col(level)]).to_numpy()
    yhat = forecast["yhat"].to_numpy()
    relative = np.divide(width, 2 * np.abs(yhat), out=np.where(width > 0, np.inf, 0.0), where=np.abs(yhat) > 0)
    return np.clip(1.0 - relative, 0.0, 1.0)


def forecast_rows(tenant_id: str, forecast: pd.DataFrame, model_type: str, version: str) -> list[dict[str, Any]]:
    """`sales_forecast` rows: `yhat_lower`/`yhat_upper` are the 80% band, `_95` keys the 95% band."""
    confidence = confidence_score(forecast)
    now = datetime.now(timezone.utc)
    rows = []
    for i, (ds, row) in enumerate(forecast.iterrows()):
        values = {
            "yhat": round(float(row["yhat"]), 4),
            "yhat_lower": round(float(row[lower_col(80)]), 4),
            "yhat_upper": round(float(row[upper_col(80)]), 4),
            "yhat_lower_95": round(float(row[lower_col(95)]), 4),
            "yhat_upper_95": round(float(row[upper_col(95)]), 4),
        }
        rows.append({"tenant_id": tenant_id, "prediction_date": ds.date(), "prediction_type": FORECAST,
                     "predicted_values": values, "confidence_score": round(float(confidence[i]), 4),
                     "model_type": model_type, "model_version": version, "created_at": now})
    return rows


def anomaly_rows(tenant_id: str, anomalies: pd.DataFrame, model_type: str, version: str) -> list[dict[str, Any]]:
    """`sales_anomaly` rows for every scored day (the flag uses the threshold in force)."""
    now = datetime.now(timezone.utc)
    return [
        {"tenant_id": tenant_id, "prediction_date": row.ds.date(), "prediction_type": ANOMALY,
         "predicted_values": {"y": round(float(row.y), 4), "expected": round(float(row.expected), 4),
                              "score": round(float(row.score), 4), "is_anomaly": bool(row.is_anomaly),
                              **({"event": row.event} if getattr(row, "event", "") else {})},
         "confidence_score": round(float(min(row.score, 10.0) / 10.0), 4),
         "model_type": model_type, "model_version": version, "created_at": now}
        for row in anomalies.itertuples()
    ]


def typical_cv_error(outcome: ForecastOutcome) -> float:
    """1.4826 x the median absolute out-of-sample error of the winner in CV (0 without CV)."""
    preds = outcome.cv.predictions
    mine = preds[preds["model"] == outcome.winner]
    if mine.empty:
        return 0.0
    return float(1.4826 * np.median(np.abs(mine["y"] - mine["yhat"])))


def training_metrics(outcome: ForecastOutcome, settings: MLSettings) -> dict[str, Any]:
    """What a model version stores about its training (`ml_models.training_metrics`): the CV, the winner, how
    it was chosen. `selection` is a sentence for people; `model_fixed` says, as a flag, whether the owner fixed
    the model (ML_SELECT_BEST off: the first candidate is used whatever its score)."""
    return {**outcome.cv.to_json(), "winner": outcome.winner, "primary_metric": settings.cv_primary_metric,
            "selection": outcome.selection_note, "model_fixed": not settings.select_best, "skipped": outcome.skipped,
            "cv_seconds": {k: round(v, 3) for k, v in outcome.cv.seconds.items()},
            "seconds": {k: round(v, 3) for k, v in outcome.seconds.items()}}


def _accuracy(scores: dict[str, float]) -> float | None:
    """1 - WAPE of the winner in CV, floored at 0: the share of sales the forecast got right."""
    value = scores.get("wape")
    if value is None or not np.isfinite(value):
        return None
    return float(max(0.0, 1.0 - value))


def retrain_tenant(storage: Storage, tenant_id: str, *, settings: MLSettings | None = None,
                   wait_seconds: float = 0.0, progress=None, now: datetime | None = None):
    """Train one tenant under its retrain lock (shared with the dashboard's Retrain now).

    When the tenant is busy, waits up to `wait_seconds` for the other run to
    finish, then raises BusyError with who holds it.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with tenant_lock(storage, tenant_id):
                return train_and_predict_sales(tenant_id, storage=storage, settings=settings, progress=progress, now=now)
        except BusyError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
