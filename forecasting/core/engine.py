"""Series in, forecast out: candidates, cross-validation, selection, final fit.

No storage here: the tenant pipeline and the CSV tools both call
`forecast_series`, so a forecast from the command line is made exactly as
the dashboard's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import INTERVAL_LEVELS, MLSettings
from .errors import ForecastingError
from .evaluation import CVResult, cross_validate, rank_candidates, ranking_metric
from .events import Calendar, CalendarAware
from .intervals import Conformal, lower_col, sanitize_forecast, upper_col
from .logs import log_event
from .models import Forecaster, build, unavailable_reason
from .models.base import check_series
from .models.ensemble import EnsembleForecaster

ENSEMBLE = "ensemble"

Progress = Callable[[str, str], None]
#: Candidates beyond the configured ones, by name: a factory of a fresh, unfitted model each
#: (`core.across` offers one learned across the series of a file).
Extra = Mapping[str, Callable[[], Forecaster]]


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
    extra: Extra | None = None,
    calendar: Calendar | None = None,
) -> ForecastOutcome:
    """Cross-validate the candidates on `y`, refit the winner on all of it, forecast.

    With a `calendar`, every candidate is `CalendarAware`: it learns the
    shop's event effects from the history it is fitted on, forecasts closed
    days at 0, and no closed or one-off day is scored (`core.events`).

    With `ML_SELECT_BEST` off the first candidate is used (and still
    cross-validated, so its scores are shown). When history is too short to
    cross-validate, seasonal naive is used from two weeks of history, naive
    below that. If the winner's final fit fails, the next best is used, and
    naive last of all.
    """
    y = check_series(y)  # an unusable series is refused once, with its reason, before any fit
    notify = progress or (lambda step, detail: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    selection = select_candidates(y, settings, country=country, progress=lambda name: notify("cv", name), extra=extra,
                                  calendar=calendar)
    timings["cv"] = time.perf_counter() - started
    cv, members, skipped = selection.cv, selection.members, selection.skipped
    order = selection.order
    note = selection.note

    if order[0] == ENSEMBLE:
        note += f" (mean of {', '.join(members)})"
    notify("final_fit", order[0])
    started = time.perf_counter()
    make = _maker(settings, country, extra or {}, calendar)
    model, forecast, failures = _fit_first_that_works(order, y, settings, levels, cv, members, make)
    timings["final_fit"] = time.perf_counter() - started
    if failures:
        note += "; " + "; ".join(failures)
    return ForecastOutcome(model.name, model, cv, forecast, skipped, note, timings)


@dataclass
class Selection:
    """What cross-validation decided: the ranking to try, and why."""

    cv: CVResult
    members: list[str]  # of the ensemble, when it competed
    skipped: dict[str, str]
    order: list[str]  # winner first, then the fallbacks for the final fit
    note: str

    @property
    def winner(self) -> str:
        return self.order[0]


def select_candidates(y: pd.Series, settings: MLSettings, *, country: str | None = None,
                      progress: Callable[[str], None] | None = None, extra: Extra | None = None,
                      calendar: Calendar | None = None) -> Selection:
    """Cross-validate the configured candidates (and their ensemble) and rank them.

    The one place selection happens: `forecast_series` and the CSV backtest
    both use it, so a backtest reports the model a forecast would use.
    """
    factories, skipped = candidate_factories(settings, country)
    if settings.select_best:
        factories.update(extra or {})
    if calendar is not None and not calendar.empty:
        factories = {name: (lambda factory=factory: CalendarAware(factory(), calendar)) for name, factory in factories.items()}
    cv = cross_validate(y, factories, settings.horizon_days, settings.cv_folds, progress=progress,
                        budget_seconds=settings.train_budget_seconds)
    if calendar is not None and not calendar.empty and len(cv.predictions):
        # Closed days are 0 by rule and one-off days are not forecastable: neither is scored.
        unscored = calendar.unscored(y)
        cv.predictions = cv.predictions[~cv.predictions["ds"].isin(unscored)].reset_index(drop=True)
    members = add_ensemble(cv, settings.cv_primary_metric, settings.ensemble_top_k) if settings.select_best else []
    skipped.update(cv.skipped)
    scores = cv.scores()
    if scores.empty:
        order = ["snaive", "naive"] if len(y) >= 14 else ["naive"]
        note = next(iter(cv.skipped.values()), "no candidate could be cross-validated")
        return Selection(cv, members, skipped, order, f"{note}; using {order[0]}")
    order = [*rank_candidates(scores, settings.cv_primary_metric, order=[*factories, ENSEMBLE]), "naive"]
    note = f"lowest CV {settings.cv_primary_metric.upper()} of {len(scores)} candidate(s)" if settings.select_best \
        else "fixed model (ML_SELECT_BEST is off)"
    return Selection(cv, members, skipped, order, note)


def add_ensemble(cv: CVResult, metric: str, top_k: int) -> list[str]:
    """Add the mean of the `top_k` best candidates to the CV results as `ensemble`; returns its members.

    The ensemble's CV forecast is the mean of its members' CV forecasts on the
    same folds, so it costs no extra fit. It competes like any candidate.
    Members are picked on the same folds they are scored on, which flatters
    the ensemble slightly; averaging has no parameters to overfit, so the
    bias is small (see the README).
    """
    scores = cv.scores()
    if top_k < 2 or len(scores) < 2:
        return []
    column = scores[ranking_metric(scores, metric)].astype(float)
    members = [name for name in rank_candidates(scores, metric) if np.isfinite(column[name])][:top_k]
    if len(members) < 2:
        return []
    preds = cv.predictions[cv.predictions["model"].isin(members)]
    mean = preds.groupby(["fold", "cutoff", "ds", "step"], as_index=False).agg(y=("y", "first"), yhat=("yhat", "mean"))
    cv.predictions = pd.concat([cv.predictions, mean.assign(model=ENSEMBLE)[cv.predictions.columns]], ignore_index=True)
    return members


def _band_floor(y: pd.Series) -> float:
    """The level below which a forecast day counts as closed for the bands: a tenth of the recent mean."""
    recent = np.abs(y.to_numpy()[-56:])
    return 0.1 * float(recent.mean()) if recent.size and recent.mean() > 0 else 1.0


def calibration_from_cv(cv: CVResult, model_name: str, y: pd.Series, levels) -> Conformal | None:
    """Conformal intervals from the CV errors of `model_name`, or None when it has none."""
    preds = cv.predictions[cv.predictions["model"] == model_name]
    if preds.empty:
        return None
    return Conformal.from_errors(preds["y"], preds["yhat"], preds["step"], preds["fold"], levels, _band_floor(y))


def backtest_forecasts(cv: CVResult, model_name: str, y: pd.Series,
                       levels: tuple[int, ...] = INTERVAL_LEVELS) -> pd.DataFrame:
    """The forecasts `model_name` made in each CV fold, with bands, as if they had been issued then.

    One row per scored day: fold, cutoff, ds, step, y, yhat and the bands of
    `levels`. Each fold's bands are calibrated on the other folds' errors
    only (leave one fold out), so their coverage is measured on days they
    never saw; with a single fold there is nothing else to learn from and
    the fold calibrates itself (said in the scorecard's caption as a
    back-test). Empty when the model has no CV forecasts (a fallback winner).
    """
    preds = cv.predictions[cv.predictions["model"] == model_name].sort_values(["fold", "ds"])
    if preds.empty:
        return pd.DataFrame(columns=["fold", "cutoff", "ds", "step", "y", "yhat",
                                     *(c for level in levels for c in (lower_col(level), upper_col(level)))])
    floor = _band_floor(y)
    frames = []
    for fold, part in preds.groupby("fold"):
        others = preds[preds["fold"] != fold]
        pool = others if len(others) else part
        conformal = Conformal.from_errors(pool["y"], pool["yhat"], pool["step"], pool["fold"], levels, floor)
        # `bands` reads position i as step i + 1: lay the fold's days out by step (closed days are not scored).
        steps = part["step"].to_numpy(dtype=int)
        by_step = np.full(int(steps.max()), np.nan)
        by_step[steps - 1] = part["yhat"].to_numpy(dtype=float)
        bands = {level: (low[steps - 1], high[steps - 1])
                 for level, (low, high) in conformal.bands(by_step, levels).items()}
        safe = sanitize_forecast(pd.DatetimeIndex(part["ds"]), part["yhat"].to_numpy(dtype=float), bands, levels)
        frames.append(safe.reset_index(drop=True).assign(fold=int(fold), cutoff=part["cutoff"].to_numpy(),
                                                         ds=part["ds"].to_numpy(), step=steps,
                                                         y=part["y"].to_numpy(dtype=float)))
    return pd.concat(frames, ignore_index=True)


def _maker(settings: MLSettings, country: str | None, extra: Extra,
           calendar: Calendar | None = None) -> Callable[[str, list[str]], Forecaster]:
    """A builder of any candidate by name: an extra one, the ensemble of `members`, or a configured one.

    With a calendar the model is `CalendarAware` (an ensemble's members each get the calendar their
    own way: `CalendarAware` wraps them).
    """

    def plain(name: str, members: list[str]) -> Forecaster:
        if name == ENSEMBLE:
            return EnsembleForecaster([plain(member, []) for member in members])
        return extra[name]() if name in extra else build(name, settings, country)

    def make(name: str, members: list[str]) -> Forecaster:
        model = plain(name, members)
        return CalendarAware(model, calendar) if calendar is not None and not calendar.empty else model

    return make


def _fit_first_that_works(order, y, settings, levels, cv, members, make):
    failures = []
    for name in dict.fromkeys(order):
        try:
            model = make(name, members).fit(y, with_intervals=True)
            model.calibrate(calibration_from_cv(cv, name, y, levels))
            return model, model.predict(settings.horizon_days, levels), failures
        except ForecastingError as exc:
            failures.append(f"{name} final fit failed ({exc})")
            log_event("final_fit_failed", model=name, error=str(exc))
    raise ForecastingError("no model could be fitted, not even naive: " + "; ".join(failures))
