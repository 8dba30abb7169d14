"""The model comparison page: every candidate's cross-validation of a model version, and why the winner won."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ..core.errors import DataError
from ..core.evaluation import CVResult, rank_candidates, ranking_metric
from ..core.metrics import METRICS
from ..services.model_store import list_models
from ..storage import Storage
from .common import finite, vs_baseline

__all__ = ["CVView", "WinnerReason", "cv_from_metrics", "cv_versions", "cv_view", "model_fixed"]


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

    #: Below this relative margin over the runner-up, the ranking is within what another split of the
    #: past weeks would change (the CV folds disagree by more than that on real shops).
    CLOSE_MARGIN = 0.02

    @property
    def close_call(self) -> bool:
        """The win says little: a margin under `CLOSE_MARGIN`, or best in fewer than half the test periods."""
        if self.fixed or self.runner_up is None:
            return False
        return (self.margin is not None and self.margin < self.CLOSE_MARGIN) or (
            self.folds > 0 and 2 * self.folds_won < self.folds)


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
                           fallback_winner=str(row["model_type"]), hyperparameters=row["hyperparameters"] or {})


def model_fixed(metrics: Mapping[str, Any], hyperparameters: Mapping[str, Any] | None = None) -> bool:
    """Whether the owner fixed the model of a version (ML_SELECT_BEST off): its first candidate is used whatever
    its score, so the page says so instead of "won".

    Training stores the flag with the version (`training_metrics["model_fixed"]`). A version saved before the
    flag existed falls back on the settings stored with it (`hyperparameters["settings"]["select_best"]`, which
    every training of this package writes); a row with neither (written by another application) counts as
    selected, not fixed: its scores are still real cross-validation. The selection sentence is never parsed:
    it is for people, and its wording may change.
    """
    flag = metrics.get("model_fixed")
    if isinstance(flag, bool):
        return flag
    select_best = ((hyperparameters or {}).get("settings") or {}).get("select_best")
    return select_best is False


def cv_from_metrics(metrics: Mapping[str, Any], model_version: str, last_trained: datetime,
                    fallback_winner: str, hyperparameters: Mapping[str, Any] | None = None) -> CVView:
    """A CVView from the training-metrics JSON (see `services.training.training_metrics`); `hyperparameters`
    are the version's, for `model_fixed` on versions stored before the flag."""
    metric = metrics.get("primary_metric") or "mase"
    winner = metrics.get("winner") or fallback_winner
    scores = pd.DataFrame.from_dict(metrics.get("scores") or {}, orient="index", columns=list(METRICS), dtype=float)
    scores.index.name = "model"
    if len(scores):
        order = rank_candidates(scores, metric)  # the engine's ranking, so page and selection agree
        scores = scores.loc[order].assign(rank=range(1, len(order) + 1), winner=lambda d: d.index == winner)
    else:
        scores["rank"] = pd.Series(dtype=int)
        scores["winner"] = pd.Series(dtype=bool)

    by_fold = pd.DataFrame(metrics.get("by_fold") or [], columns=["model", "fold", "cutoff", *METRICS])
    by_step = pd.DataFrame(metrics.get("by_step") or [], columns=["model", "step", "mae", "mase"])
    by_weekday = pd.DataFrame(metrics.get("by_weekday") or [], columns=["model", "weekday", "mae"])
    predictions = CVResult.from_json(metrics).predictions
    for frame, columns in ((by_fold, METRICS), (by_step, ("mae", "mase")), (by_weekday, ("mae",))):
        for column in columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")

    selection = str(metrics.get("selection") or "")
    return CVView(
        model_version=model_version, last_trained=last_trained, winner=winner, primary_metric=metric,
        selection=selection, horizon=int(metrics.get("horizon") or 0), folds=int(metrics.get("folds") or 0),
        scores=scores, skipped=dict(metrics.get("skipped") or {}), by_fold=by_fold, by_step=by_step,
        by_weekday=by_weekday, predictions=predictions,
        reason=_winner_reason(scores, by_fold, winner, metric, metrics, fixed=model_fixed(metrics, hyperparameters)),
    )


def _winner_reason(scores: pd.DataFrame, by_fold: pd.DataFrame, winner: str, metric: str,
                   metrics: Mapping[str, Any], fixed: bool) -> WinnerReason:
    column = ranking_metric(scores, metric)
    value = finite(scores[column].get(winner)) if winner in scores.index else None
    others = scores.drop(index=winner, errors="ignore")[column].dropna().sort_values()
    runner_up = str(others.index[0]) if len(others) else None
    runner_up_value = finite(others.iloc[0]) if len(others) else None
    margin = (1.0 - value / runner_up_value) if value is not None and runner_up_value else None
    folds_won, folds = 0, 0
    if len(by_fold) and column in by_fold:
        per_fold = by_fold.pivot_table(index="fold", columns="model", values=column)
        folds = len(per_fold)
        if winner in per_fold:
            folds_won = int((per_fold.idxmin(axis=1) == winner).sum())
    return WinnerReason(winner, column, value, runner_up, runner_up_value, margin, folds_won, folds,
                        vs_baseline(metrics), fixed)
