"""Scaled errors of cross-validation forecasts, per product-fold, averaged per demand class.

MASE and RMSSE are scaled as in the M5 competition: by the mean absolute
(for RMSSE: squared) one-step difference of the product's own history from
its first sale to the fold's cutoff. The one-step scale, not the weekly
seasonal one of `core.metrics.mase_scale`, because most products are
intermittent and have no weekly pattern to beat; the fallbacks for a flat
history are the same (the mean level, then 1).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def scales(y: np.ndarray, cutoff: int) -> tuple[np.ndarray, np.ndarray]:
    """(MASE scale, RMSSE scale) per product from its history up to column `cutoff`."""
    history = y[:, : cutoff + 1]
    diffs = np.diff(history, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mad = np.nanmean(np.abs(diffs), axis=1)
        msd = np.nanmean(diffs**2, axis=1)
        level = np.nanmean(np.abs(history), axis=1)
        level2 = np.nanmean(history**2, axis=1)
    fallback = np.where(np.isfinite(level) & (level > 0), level, 1.0)
    fallback2 = np.where(np.isfinite(level2) & (level2 > 0), level2, 1.0)
    return (np.where(np.isfinite(mad) & (mad > 0), mad, fallback),
            np.where(np.isfinite(msd) & (msd > 0), msd, fallback2))


def pair_errors(y: np.ndarray, yhat: np.ndarray, scale1: np.ndarray, scale2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MASE and RMSSE of each row (a product in a fold)."""
    error = y - yhat
    return np.mean(np.abs(error), axis=1) / scale1, np.sqrt(np.mean(error**2, axis=1) / scale2)


def score_pairs(cv: list[dict], combine_top: int = 2) -> pd.DataFrame:
    """Per demand class and model: mean MASE, mean RMSSE, score = their mean, and product-folds scored.

    The mean of each class's `combine_top` best models is scored too, as `a+b`.
    """
    totals: dict[tuple[str, str], list[np.ndarray]] = {}
    for record in cv:
        for model, yhat in record["forecasts"].items():
            m, r = pair_errors(record["y"], yhat, record["scale1"], record["scale2"])
            totals.setdefault((record["class"], model), []).append(np.column_stack([m, r]))
    table = _table(totals)
    combos: dict[tuple[str, str], list[np.ndarray]] = {}
    for cls, part in table.groupby("demand_class"):
        ranked = part.sort_values("score")["model"].tolist()
        if len(ranked) < combine_top:
            continue
        members = ranked[:combine_top]
        for record in cv:
            if record["class"] != cls or any(m not in record["forecasts"] for m in members):
                continue
            yhat = np.mean([record["forecasts"][m] for m in members], axis=0)
            m, r = pair_errors(record["y"], yhat, record["scale1"], record["scale2"])
            combos.setdefault((cls, "+".join(members)), []).append(np.column_stack([m, r]))
    return pd.concat([table, _table(combos)], ignore_index=True) if combos else table


def _table(totals) -> pd.DataFrame:
    rows = []
    for (cls, model), parts in totals.items():
        values = np.vstack(parts)
        mase, rmsse = values.mean(axis=0)
        rows.append({"demand_class": cls, "model": model, "mase": mase, "rmsse": rmsse,
                     "score": (mase + rmsse) / 2, "pairs": len(values)})
    return pd.DataFrame(rows, columns=["demand_class", "model", "mase", "rmsse", "score", "pairs"])


#: Multipliers of a class winner's forecast tried in CV (see `level_factor`).
FACTORS = tuple(np.round(np.arange(0.5, 1.51, 0.1), 2))


def level_factor(cv: list[dict], demand_class: str, members) -> tuple[float, float, float]:
    """The multiplier of the class winner's forecast with the lowest CV RMSSE, and the RMSSE at 1 and at it.

    A bias correction in the terms the products are scored in: intermittent
    methods' level jumps after each sale and decays slowly, so per product it
    is often above what then sells. Squared error is lowest for the mean, so
    the RMSSE-best multiplier is the one that makes the scaled forecast
    unbiased for the typical product of the class. MASE would pull it much
    lower, towards the median (often 0 for intermittent items).
    It is not unbiased in units summed over products: a few big sellers and
    wholesale orders carry most of the volume (on online retail II the
    sum of `yhat` over 600 products and 28 days was 37% below what sold,
    the mean of the sample paths 13% above). Totals and stock come from the
    sample paths (`ProductForecast.expected_demand`, `cumulative_quantiles`),
    never from a sum of `yhat`. One number per class from hundreds of
    product-folds: little to overfit.
    """
    parts = [(r, np.mean([r["forecasts"][m] for m in members], axis=0)) for r in cv
             if r["class"] == demand_class and all(m in r["forecasts"] for m in members)]
    if not parts:
        return 1.0, float("nan"), float("nan")
    scores = {}
    for k in FACTORS:
        values = np.concatenate([pair_errors(r["y"], k * yhat, r["scale1"], r["scale2"])[1] for r, yhat in parts])
        scores[float(k)] = float(values.mean())
    best = min(scores, key=lambda k: (scores[k], abs(k - 1)))
    return best, scores[1.0], scores[best]
