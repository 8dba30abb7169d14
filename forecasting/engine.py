"""Series in, forecast out: candidates, cross-validation, selection, final fit.

No storage here: the tenant pipeline and the CSV tools both call
`forecast_series`, so a forecast from the command line is made exactly as
the dashboard's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from .config import INTERVAL_LEVELS, MLSettings
from .errors import ForecastingError
from .evaluation import CVResult, cross_validate, select_winner
from .logs import log_event
from .models import Forecaster, build, unavailable_reason

Progress = Callable[[str, str], None]


@dataclass
class ForecastOutcome:
    winner: str
    model: Forecaster
    cv: CVResult
    forecast: pd.DataFrame  # index ds; yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95
    skipped: dict[str, str] = field(default_factory=dict)
    selection_note: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def candidate_factories(settings: MLSettings, country: str | None) -> tuple[dict[str, Callable[[], Forecaster]], dict[str, str]]:
    """Factories for the configured candidates that can run here, and why the others can't."""
    names = settings.model_candidates if settings.select_best else settings.model_candidates[:1]
    factories, skipped = {}, {}
    for name in names:
        reason = unavailable_reason(name)
        if reason:
            skipped[name] = reason
            log_event("candidate_skipped", model=name, reason=reason)
            continue
        factories[name] = lambda name=name: build(name, settings, country)
    return factories, skipped


def forecast_series(
    y: pd.Series,
    settings: MLSettings,
    *,
    country: str | None = None,
    levels: tuple[int, ...] = INTERVAL_LEVELS,
    progress: Progress | None = None,
) -> ForecastOutcome:
    """Cross-validate the candidates on `y`, refit the winner on all of it, forecast.

    With `ML_SELECT_BEST` off the first candidate is used (and still
    cross-validated, so its scores are shown). When history is too short to
    cross-validate, seasonal naive is used from two weeks of history, naive
    below that. If the winner's final fit fails, the next best is used, and
    naive last of all.
    """
    notify = progress or (lambda step, detail: None)
    timings: dict[str, float] = {}
    factories, skipped = candidate_factories(settings, country)

    started = time.perf_counter()
    cv = cross_validate(y, factories, settings.horizon_days, settings.cv_folds,
                        progress=lambda name: notify("cv", name))
    timings["cv"] = time.perf_counter() - started
    skipped.update(cv.skipped)
    scores = cv.scores()

    if scores.empty:
        order = ["snaive", "naive"] if len(y) >= 14 else ["naive"]
        note = next(iter(cv.skipped.values()), "no candidate could be cross-validated")
        note = f"{note}; using {order[0]}"
    else:
        winner = select_winner(scores, settings.cv_primary_metric, order=list(factories))
        ranked = scores[settings.cv_primary_metric].fillna(scores["mase"]).sort_values(kind="stable").index.tolist()
        order = [winner, *[name for name in ranked if name != winner], "naive"]
        note = f"lowest CV {settings.cv_primary_metric.upper()} of {len(scores)} candidate(s)" if settings.select_best \
            else "fixed model (ML_SELECT_BEST is off)"

    notify("final_fit", order[0])
    started = time.perf_counter()
    model, forecast, failures = _fit_first_that_works(order, y, settings, country, levels)
    timings["final_fit"] = time.perf_counter() - started
    if failures:
        note += "; " + "; ".join(failures)
    return ForecastOutcome(model.name, model, cv, forecast, skipped, note, timings)


def _fit_first_that_works(order, y, settings, country, levels):
    failures = []
    for name in dict.fromkeys(order):
        try:
            model = build(name, settings, country).fit(y, with_intervals=True)
            return model, model.predict(settings.horizon_days, levels), failures
        except ForecastingError as exc:
            failures.append(f"{name} final fit failed ({exc})")
            log_event("final_fit_failed", model=name, error=str(exc))
    raise ForecastingError("no model could be fitted, not even naive: " + "; ".join(failures))
