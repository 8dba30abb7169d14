"""Metrics and rolling-origin cross-validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from forecasting.core.evaluation import (
    CVResult,
    cross_validate,
    fold_cutoffs,
    plan_folds,
    rank_candidates,
    select_winner,
)
from forecasting.core.metrics import mae, mape, mase, mase_scale, rmse, smape, wape
from forecasting.core.models.baselines import Naive, SeasonalNaive
from forecasting.core.series import series_from_values


def test_metrics_match_hand_computed_values():
    y, yhat = [10, 0, 5, 5], [8, 1, 5, 10]
    assert mae(y, yhat) == pytest.approx((2 + 1 + 0 + 5) / 4)
    assert rmse(y, yhat) == pytest.approx(math.sqrt((4 + 1 + 0 + 25) / 4))
    assert wape(y, yhat) == pytest.approx(8 / 20)
    # MAPE skips the zero actual: (2/10 + 0/5 + 5/5) / 3
    assert mape(y, yhat) == pytest.approx((0.2 + 0 + 1.0) / 3)
    assert smape(y, yhat) == pytest.approx((4 / 18 + 2 / 1 + 0 + 10 / 15) / 4)
    assert mase(y, yhat, scale=4.0) == pytest.approx(2.0 / 4.0)


def test_metrics_never_divide_by_zero():
    zeros = np.zeros(5)
    assert math.isnan(mape(zeros, zeros + 1))
    assert wape(zeros, zeros) == 0.0 and wape(zeros, zeros + 1) == math.inf
    assert smape(zeros, zeros) == 0.0
    assert mase_scale(zeros) == 1.0
    assert mase_scale(np.full(20, 3.0)) == 3.0  # constant: scaled by the level


def test_mase_scale_is_the_weekly_seasonal_naive_error():
    y = np.arange(14, dtype=float)  # y[t] - y[t-7] = 7 everywhere
    assert mase_scale(y) == 7.0


@pytest.mark.parametrize("n,h,k,expected", [
    (400, 28, 3, (28, 3)),
    (100, 28, 3, (28, 2)),   # 100 - 3*28 = 16 < 21: one fold fewer
    (40, 28, 3, (19, 1)),    # one fold, shorter horizon
    (30, 7, 3, (7, 1)),      # 30 - 7 leaves 23 >= 21 days to learn from
    (21, 7, 3, (0, 0)),      # nothing left to hold out
])
def test_plan_folds_shrinks_folds_then_horizon(n, h, k, expected):
    plan = plan_folds(n, h, k)
    assert (plan.horizon, plan.folds) == expected


class Spy(Naive):
    """Naive that records the last date it was trained on."""

    seen: list = []

    def _fit(self, y):
        Spy.seen.append((y.index[-1], len(y)))
        super()._fit(y)


@pytest.mark.parametrize("h,k", [(7, 1), (7, 3), (14, 2), (28, 4)])
def test_cv_folds_never_see_the_future(h, k):
    y = series_from_values(np.arange(300, dtype=float))
    Spy.seen = []
    cv = cross_validate(y, {"spy": Spy}, horizon=h, folds=k)
    preds = cv.predictions
    assert preds.groupby("fold").size().tolist() == [h] * k
    for fold, group in preds.groupby("fold"):
        trained_until = Spy.seen[fold - 1][0]
        assert group["ds"].min() == trained_until + pd.Timedelta(days=1)
        assert (group["step"] == np.arange(1, h + 1)).all()
    # the last fold ends on the last observed day; folds do not overlap
    assert preds["ds"].max() == y.index[-1]
    assert not preds["ds"].duplicated().any()
    # naive forecasts the training's last value: it equals cutoff value, never a later one
    for fold, group in preds.groupby("fold"):
        assert (group["yhat"] == y.loc[group["cutoff"].iloc[0]]).all()


def test_cv_scores_by_fold_step_and_weekday_match_hand_computation():
    y = series_from_values([1, 2, 3, 4, 5, 6, 7] * 4 + [10, 20])  # 30 days
    cv = cross_validate(y, {"naive": Naive}, horizon=2, folds=2)
    # folds: train to day 26 (value 5) predicting days 27,28 (6,7); train to day 28 (7) predicting 10,20
    by_fold = cv.scores_by_fold().set_index("fold")
    assert by_fold.loc[1, "mae"] == pytest.approx((1 + 2) / 2)
    assert by_fold.loc[2, "mae"] == pytest.approx((3 + 13) / 2)
    assert cv.scores().loc["naive", "mae"] == pytest.approx((1.5 + 8) / 2)
    steps = cv.scores_by_step().set_index("step")
    assert steps.loc[1, "mae"] == pytest.approx((1 + 3) / 2) and steps.loc[2, "mae"] == pytest.approx((2 + 13) / 2)
    scale_fold1 = mase_scale(y.iloc[:26].to_numpy())
    assert by_fold.loc[1, "mase"] == pytest.approx(1.5 / scale_fold1)
    assert set(cv.scores_by_weekday()["weekday"]) <= set(range(7))


def test_a_failing_candidate_is_skipped_with_its_reason():
    class Broken(Naive):
        name = "broken"

        def _fit(self, y):
            raise RuntimeError("boom")

    y = series_from_values(np.arange(100, dtype=float))
    cv = cross_validate(y, {"naive": Naive, "broken": Broken}, horizon=7, folds=2)
    assert "boom" in cv.skipped["broken"]
    assert cv.models == ["naive"]


def test_select_winner_lowest_metric_ties_by_order_and_mape_fallback():
    scores = pd.DataFrame({"mase": [1.0, 0.5, 0.5], "mape": [np.nan] * 3}, index=["a", "b", "c"])
    assert select_winner(scores, "mase", order=["a", "c", "b"]) == "c"
    assert select_winner(scores, "mape", order=["a", "b", "c"]) == "b"  # MAPE undefined: MASE decides


def test_rank_candidates_puts_unscored_models_last_and_breaks_ties_by_order():
    scores = pd.DataFrame({"mase": [0.9, np.nan, 0.5, 0.5, np.inf], "wape": [0.1, 0.2, np.nan, 0.3, 0.4]},
                          index=["a", "b", "c", "d", "e"])
    assert rank_candidates(scores, "mase", order=["d", "c"]) == ["d", "c", "a", "b", "e"]
    assert rank_candidates(scores, "mase") == ["c", "d", "a", "b", "e"]
    assert rank_candidates(scores, "wape") == ["a", "b", "d", "e", "c"]  # wape decides, its NaN last
    assert rank_candidates(scores.assign(wape=np.nan), "wape")[0] == "c"  # wape undefined for all: MASE


def test_cv_result_survives_its_json_and_rescores_the_same():
    y = series_from_values(10 + 3 * np.sin(np.arange(120) * 2 * np.pi / 7) + np.arange(120) * 0.05)
    cv = cross_validate(y, {"naive": Naive, "snaive": SeasonalNaive}, horizon=7, folds=3)
    cv.skipped["broken"] = "boom"
    back = CVResult.from_json(json.loads(json.dumps(cv.to_json())))
    assert back.plan == cv.plan and back.skipped == cv.skipped and back.models == cv.models
    pd.testing.assert_frame_equal(back.scores(), cv.scores(), rtol=1e-3)
    pd.testing.assert_frame_equal(back.scores_by_step(), cv.scores_by_step(), rtol=1e-3)
    older = cv.to_json()
    del older["scales"]  # stored before scales were kept: recovered from MAE / MASE per fold
    assert CVResult.from_json(older).scales == pytest.approx(cv.scales, rel=1e-3)


def test_fold_cutoffs_are_oldest_first():
    index = pd.date_range("2024-01-01", periods=100, freq="D")
    cutoffs = fold_cutoffs(index, plan_folds(100, 10, 3))
    assert cutoffs == sorted(cutoffs) and cutoffs[-1] == index[89]
