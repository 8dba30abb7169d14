"""Rolling-origin cross-validation and model selection over tidy frames.

`cross_validate` fits every candidate on the history before each cutoff and
forecasts the next `h` days; it returns one long frame
(`model, fold, cutoff, ds, step, y, yhat`) plus the reasons candidates were
skipped. Metrics are a groupby away (`scores`, `scores_by_step`,
`scores_by_weekday`), and `select_winner` picks the lowest primary metric.

Folds are one horizon apart and do not overlap: the last fold's test window
ends on the last observed day, the one before ends where that one starts,
and so on. A model only ever sees data before its fold's cutoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, ForecastingError, ModelError
from .logs import log_event
from .metrics import METRICS, mase_scale, score_frame
from .models import Forecaster

#: Shortest training window a fold may have; shorter histories shrink the CV horizon.
MIN_CV_TRAIN_DAYS = 21


@dataclass(frozen=True)
class FoldPlan:
    horizon: int
    folds: int

    @property
    def possible(self) -> bool:
        return self.horizon >= 1 and self.folds >= 1


def plan_folds(n: int, horizon: int, folds: int, min_train: int = MIN_CV_TRAIN_DAYS) -> FoldPlan:
    """How many folds of which horizon fit in `n` days, keeping `min_train` days to learn from.

    Fewer folds first, then a shorter horizon; `FoldPlan(0, 0)` when even one
    day can't be held out.
    """
    k = folds
    while k > 1 and n - k * horizon < min_train:
        k -= 1
    h = horizon
    if n - k * h < min_train:
        h = (n - min_train) // k
    return FoldPlan(h, k) if h >= 1 else FoldPlan(0, 0)


def fold_cutoffs(index: pd.DatetimeIndex, plan: FoldPlan) -> list[pd.Timestamp]:
    """Last training day of each fold, oldest first."""
    n = len(index)
    return [index[n - k * plan.horizon - 1] for k in range(plan.folds, 0, -1)]


@dataclass
class CVResult:
    """Everything cross-validation learned, for selection, storage and the dashboard."""

    predictions: pd.DataFrame  # model, fold, cutoff, ds, step, y, yhat
    scales: dict[int, float]  # MASE scale of each fold's training data
    skipped: dict[str, str] = field(default_factory=dict)
    plan: FoldPlan = FoldPlan(0, 0)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.predictions["model"])) if len(self.predictions) else []

    def scores(self) -> pd.DataFrame:
        """Mean over folds of each metric, one row per model."""
        per_fold = self.scores_by_fold()
        if per_fold.empty:
            return pd.DataFrame(columns=list(METRICS)).rename_axis("model")
        return per_fold.groupby("model", sort=False)[list(METRICS)].mean()

    def scores_by_fold(self) -> pd.DataFrame:
        # Selection, storage and logging all ask for the scores; compute them once per state of
        # `predictions` (the ensemble adds rows to it).
        key = (id(self.predictions), len(self.predictions))
        cached = getattr(self, "_by_fold", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        frame = score_frame(self._scaled(), ["model", "fold", "cutoff"])[["model", "fold", "cutoff", *METRICS]]
        self._by_fold = (key, frame)
        return frame

    def scores_by_step(self) -> pd.DataFrame:
        """MAE and MASE per horizon step (1 = first forecast day), over folds."""
        return score_frame(self._scaled(), ["model", "step"], ("mae", "mase")).drop(columns="days")

    def scores_by_weekday(self) -> pd.DataFrame:
        """MAE per weekday (0 = Monday), over folds."""
        frame = self.predictions.assign(weekday=lambda d: pd.DatetimeIndex(d["ds"]).dayofweek)
        return score_frame(frame, ["model", "weekday"], ("mae",)).drop(columns="days")

    def _scaled(self) -> pd.DataFrame:
        """The predictions with each row's MASE scale (that of its fold's training data)."""
        return self.predictions.assign(scale=self.predictions["fold"].map(self.scales).astype(float))

    def to_json(self) -> dict[str, Any]:
        """A compact, JSON-safe summary stored in `ml_models.training_metrics`."""
        preds = self.predictions
        return {
            "horizon": self.plan.horizon,
            "folds": self.plan.folds,
            "scores": self.scores().to_dict(orient="index"),
            "by_fold": self.scores_by_fold().assign(cutoff=lambda d: d["cutoff"].astype(str)).to_dict(orient="records"),
            "by_step": self.scores_by_step().to_dict(orient="records"),
            "by_weekday": self.scores_by_weekday().to_dict(orient="records"),
            "scales": {str(fold): scale for fold, scale in self.scales.items()},
            "skipped": dict(self.skipped),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "predictions": {
                "model": preds["model"].tolist(),
                "fold": preds["fold"].tolist(),
                "ds": preds["ds"].dt.strftime("%Y-%m-%d").tolist(),
                "y": preds["y"].round(4).tolist(),
                "yhat": preds["yhat"].round(4).tolist(),
            },
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> CVResult:
        """The CV result back from `to_json` (predictions rounded to 4 decimals, as stored).

        Rows stored before `scales` was kept get each fold's MASE scale back
        from its stored MAE / MASE; a fold whose MASE is missing gets 1.
        """
        preds = stored.get("predictions") or {}
        by_fold = pd.DataFrame(stored.get("by_fold") or [], columns=["model", "fold", "cutoff", *METRICS])
        cutoffs = dict(zip(by_fold["fold"], pd.to_datetime(by_fold["cutoff"])))
        frame = pd.DataFrame({k: preds.get(k, []) for k in ("model", "fold", "ds", "y", "yhat")})
        frame = frame.astype({"model": object, "fold": int, "y": float, "yhat": float})
        frame["ds"] = pd.to_datetime(frame["ds"])
        frame.insert(2, "cutoff", pd.to_datetime(frame["fold"].map(cutoffs)))
        frame.insert(4, "step", (frame["ds"] - frame["cutoff"]).dt.days.astype(int))
        if "scales" in stored:
            scales = {int(fold): float(scale) for fold, scale in stored["scales"].items()}
        else:
            ratio = pd.to_numeric(by_fold["mae"], errors="coerce") / pd.to_numeric(by_fold["mase"], errors="coerce")
            recovered = ratio.groupby(by_fold["fold"]).first()
            scales = {int(fold): float(s) if np.isfinite(s) and s > 0 else 1.0 for fold, s in recovered.items()}
        plan = FoldPlan(int(stored.get("horizon") or 0), int(stored.get("folds") or 0))
        seconds = {k: float(v) for k, v in (stored.get("seconds") or {}).items()}
        return cls(frame, scales, dict(stored.get("skipped") or {}), plan, seconds)


def cross_validate(
    y: pd.Series,
    candidates: Mapping[str, Callable[[], Forecaster]],
    horizon: int,
    folds: int,
    *,
    progress: Callable[[str], None] | None = None,
    budget_seconds: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> CVResult:
    """Rolling-origin CV of every candidate on `y`.

    `candidates` maps a name to a factory of a fresh, unfitted model. A
    candidate that lacks history for a fold or fails in any fold is skipped
    as a whole, with its reason; its partial folds are not scored.

    With `budget_seconds` (ML_TRAIN_BUDGET_SECONDS), each candidate gets an
    equal share of it: one whose folds so far say the rest would run past its
    share is stopped there and skipped, so a slow candidate can't hold a
    retrain (or starve the others). `clock` is for tests.
    """
    plan = plan_folds(len(y), horizon, folds)
    empty = pd.DataFrame({"model": pd.Series(dtype=object), "fold": pd.Series(dtype=int),
                          "cutoff": pd.Series(dtype="datetime64[ns]"), "ds": pd.Series(dtype="datetime64[ns]"),
                          "step": pd.Series(dtype=int), "y": pd.Series(dtype=float), "yhat": pd.Series(dtype=float)})
    if not plan.possible:
        reason = f"only {len(y)} days of history: too short to cross-validate"
        return CVResult(empty, {}, {name: reason for name in candidates}, plan)

    cutoffs = fold_cutoffs(y.index, plan)
    scales = {}
    frames, skipped, seconds = [], {}, {}
    for fold, cutoff in enumerate(cutoffs, start=1):
        scales[fold] = mase_scale(y.loc[:cutoff].to_numpy())
    share = budget_seconds / len(candidates) if budget_seconds and candidates else None
    for name, factory in candidates.items():
        if progress:
            progress(name)
        started = clock()
        try:
            frames.append(_cv_one(name, factory, y, cutoffs, plan.horizon, share, clock))
        except ForecastingError as exc:
            skipped[name] = str(exc)
            log_event("candidate_skipped", model=name, reason=str(exc))
        seconds[name] = clock() - started
    predictions = pd.concat(frames, ignore_index=True) if frames else empty
    return CVResult(predictions, scales, skipped, plan, seconds)


def _cv_one(name: str, factory, y: pd.Series, cutoffs: Sequence[pd.Timestamp], h: int,
            share: float | None = None, clock: Callable[[], float] = time.perf_counter) -> pd.DataFrame:
    parts = []
    started = clock()
    for fold, cutoff in enumerate(cutoffs, start=1):
        if share is not None and fold > 1:
            spent = clock() - started
            if spent / (fold - 1) * len(cutoffs) > share:  # projected from the folds done so far
                raise ModelError(f"over its time budget: {fold - 1} of {len(cutoffs)} folds took {spent:.0f} s, all "
                                 f"would pass its share of ML_TRAIN_BUDGET_SECONDS ({share:.0f} s)")
        train = y.loc[:cutoff]
        model = factory()
        if len(train) < model.min_train_days:
            raise DataError(f"needs {model.min_train_days} days of history, the earliest fold has {len(train)}")
        forecast = model.fit(train, with_intervals=False).predict(h, levels=())
        actual = y.iloc[len(train) : len(train) + h]
        parts.append(
            pd.DataFrame(
                {
                    "model": name,
                    "fold": fold,
                    "cutoff": cutoff,
                    "ds": actual.index,
                    "step": np.arange(1, h + 1),
                    "y": actual.to_numpy(),
                    "yhat": forecast["yhat"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def ranking_metric(scores: pd.DataFrame, metric: str) -> str:
    """The column that ranks: `metric`, or MASE when `metric` is undefined for every model (MAPE on zeros)."""
    if metric in scores and scores[metric].astype(float).notna().any():
        return metric
    return "mase"


def rank_candidates(scores: pd.DataFrame, metric: str, order: Sequence[str] = ()) -> list[str]:
    """Models best first by `metric` (see `ranking_metric`); a model without a finite score comes last.

    Ties go to the earlier one in `order` (the configured candidate order),
    then to the order of `scores`. The engine, the ensemble and the
    dashboard's ranking all use this, so they never disagree.
    """
    column = scores[ranking_metric(scores, metric)].astype(float)
    rank = {name: i for i, name in enumerate(order)}
    position = {name: i for i, name in enumerate(column.index)}
    return sorted(column.index, key=lambda name: (np.nan_to_num(column[name], nan=np.inf, posinf=np.inf),
                                                  rank.get(name, len(rank)), position[name]))


def select_winner(scores: pd.DataFrame, metric: str, order: Sequence[str] = ()) -> str:
    """The model with the lowest `metric` (`rank_candidates`' first)."""
    if scores.empty:
        raise DataError("no candidate could be cross-validated")
    return rank_candidates(scores, metric, order)[0]
