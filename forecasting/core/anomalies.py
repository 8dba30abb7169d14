"""Anomalous days: how far each day's sales sit from what the model expected.

Both methods produce the same columns, so the dashboard can re-flag on the
spot with another threshold without retraining: `score` is a robust z-score
(distance from the median in units of 1.4826 x MAD, or of the model's typical
out-of-sample error when that is larger) and a day is anomalous when
`score > threshold`.

* `stl_resid`: residuals of the winning model's in-sample fit, decomposed by
  STL (weekly period) so that a residual pattern repeating every week is not
  flagged; the STL remainder is scored.
* `isolation_forest`: scikit-learn's Isolation Forest on (sales, residual,
  weekday); its anomaly score is turned into the same robust z-score.

A day the shop's calendar explains (a closure, a holiday, a promotion, an
event, a one-off day: its `event` names it) is scored like any other but
never flagged: it is not unusual, it is known. Closed days score 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["ds", "y", "expected", "residual", "score", "event", "is_anomaly"]


def robust_z(values: np.ndarray, min_spread: float = 0.0) -> np.ndarray:
    """|x - median| / max(1.4826 MAD, min_spread); the standard deviation when that is 0; 0 for a flat input."""
    values = np.asarray(values, dtype=float)
    center = np.median(values)
    spread = max(1.4826 * np.median(np.abs(values - center)), min_spread)
    if spread <= 1e-12:
        spread = float(np.std(values))
    if spread <= 1e-12:
        return np.zeros_like(values)
    return np.abs(values - center) / spread


def detect_anomalies(
    y: pd.Series,
    fitted: pd.Series,
    *,
    method: str = "stl_resid",
    period: int = 7,
    threshold: float = 3.0,
    typical_error: float = 0.0,
    known: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per day of `y`: expected value, residual, score and the flag.

    `typical_error` is how far off the model usually is on days it has not
    seen (1.4826 x the median absolute CV error). A flexible model fits its
    own history so closely that in-sample residuals alone would make
    ordinary days look extreme; the score's spread is never taken below it.

    `known` is the shop's calendar over `y` (`core.events.Calendar.days`):
    its `label` explains a day, its `closed` days score 0.
    """
    # Where the model has no in-sample value (its first days), the same weekday last week stands in.
    expected = fitted.reindex(y.index).fillna(y.shift(period)).fillna(y.expanding().median())
    residual = (y - expected).to_numpy()
    if method == "stl_resid":
        score = robust_z(_stl_remainder(residual, period), min_spread=typical_error)
    elif method == "isolation_forest":
        score = _isolation_scores(y, residual)
    else:
        raise ValueError(f"unknown anomaly method {method!r}")
    event = pd.Series("", index=y.index, dtype=object)
    if known is not None and len(known):
        known = known.reindex(y.index)
        event = known["label"].fillna("").astype(str)
        score = np.where(known["closed"].fillna(False).to_numpy(dtype=bool), 0.0, score)
    frame = pd.DataFrame({"ds": y.index, "y": y.to_numpy(), "expected": expected.to_numpy(), "residual": residual,
                          "score": score, "event": event.to_numpy()})
    return flag(frame, threshold)


def flag(anomalies: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The same scores flagged with another threshold (what the dashboard's slider does); known days never are."""
    explained = anomalies["event"].fillna("").astype(str).str.len() > 0 if "event" in anomalies else False
    return anomalies.assign(is_anomaly=(anomalies["score"] > threshold) & ~explained)


def _stl_remainder(residual: np.ndarray, period: int) -> np.ndarray:
    if len(residual) < 2 * period + 1:
        return residual
    from statsmodels.tsa.seasonal import STL

    return np.asarray(STL(residual, period=period, robust=True).fit().resid, dtype=float)


def _isolation_scores(y: pd.Series, residual: np.ndarray) -> np.ndarray:
    if len(y) < 8:
        return robust_z(residual)
    from sklearn.ensemble import IsolationForest

    features = np.column_stack([y.to_numpy(), residual, y.index.dayofweek])
    forest = IsolationForest(n_estimators=200, random_state=0).fit(features)
    # score_samples is high for normal points; the z-score of its negation ranks outliers first.
    raw = -forest.score_samples(features)
    z = (raw - np.median(raw)) / max(1.4826 * np.median(np.abs(raw - np.median(raw))), 1e-12)
    return np.maximum(z, 0.0)
