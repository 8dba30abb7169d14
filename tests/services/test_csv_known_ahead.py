"""Known-ahead columns in `forecast --csv` / `backtest --csv`: the training file's 0/1 columns, `--future` for the
forecast days (Nixtla's X_df convention), and each way the two files can disagree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.core.config import MLSettings
from forecasting.core.errors import DataError
from forecasting.services.csvtools import backtest_frame, forecast_frame, read_future_csv, read_long_csv

SETTINGS = MLSettings(model_candidates=["snaive", "theta"], horizon_days=14, cv_folds=2)
WEEK = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 1.8, 1.0])


def training(path, days: int = 300, uplift: float = 1.5):
    """Two shops whose promotions (every other Monday to Wednesday) sell `uplift` x, closed on the first day of
    every month."""
    rng = np.random.default_rng(4)
    index = pd.date_range(end="2026-06-30", periods=days, freq="D")
    parts = []
    for uid in ("a", "b"):
        promo = ((index.dayofweek < 3) & ((index.dayofyear // 7) % 2 == 0)).astype(int)
        open_ = (index.day != 1).astype(int)
        y = 100 * WEEK[index.dayofweek] * rng.lognormal(0, 0.05, days) * np.where(promo == 1, uplift, 1.0) * open_
        parts.append(pd.DataFrame({"unique_id": uid, "ds": index.strftime("%Y-%m-%d"), "y": y.round(2),
                                   "promo": promo, "open": open_}))
    pd.concat(parts).to_csv(path, index=False)
    return path


def future(path, promo_days=(), closed_days=(), drop=None, extra=None):
    days = pd.date_range("2026-07-01", periods=14, freq="D")
    rows = []
    for uid in ("a", "b"):
        for day in days:
            rows.append({"unique_id": uid, "ds": day.strftime("%Y-%m-%d"),
                         "promo": int(day.strftime("%Y-%m-%d") in promo_days),
                         "open": int(day.strftime("%Y-%m-%d") not in closed_days), **(extra or {})})
    frame = pd.DataFrame(rows)
    if drop is not None:
        frame = frame.drop(index=drop)
    frame.to_csv(path, index=False)
    return path


def test_a_promotion_known_ahead_raises_only_its_days_and_a_closed_day_is_zero(tmp_path):
    frame = read_long_csv(training(tmp_path / "train.csv"))
    assert list(frame.columns) == ["unique_id", "ds", "y", "promo", "open"]
    plain = read_future_csv(future(tmp_path / "plain.csv"), frame, 14)
    promoted = read_future_csv(future(tmp_path / "promo.csv", promo_days=("2026-07-08",),
                                      closed_days=("2026-07-10",)), frame, 14)
    a = forecast_frame(frame, SETTINGS, future=plain).set_index(["unique_id", "ds"])
    b = forecast_frame(frame, SETTINGS, future=promoted).set_index(["unique_id", "ds"])
    day, shut = pd.Timestamp("2026-07-08"), pd.Timestamp("2026-07-10")
    for uid in ("a", "b"):
        assert b.loc[(uid, day), "yhat"] > 1.3 * a.loc[(uid, day), "yhat"]
        assert (b.loc[(uid, shut), ["yhat", "yhat_lower_80", "yhat_upper_95"]] == 0).all()
        others = [d for d in pd.date_range("2026-07-01", periods=14) if d not in (day, shut)]
        np.testing.assert_allclose(b.loc[[(uid, d) for d in others], "yhat"], a.loc[[(uid, d) for d in others], "yhat"])


def test_the_backtest_uses_the_columns_and_says_so(tmp_path):
    frame = read_long_csv(training(tmp_path / "train.csv"))
    report = backtest_frame(frame, SETTINGS)
    assert report["settings"]["known_ahead"] == ["promo", "open"]
    assert report["series"]["a"]["winner"] in {"snaive", "theta", "ensemble"}


@pytest.mark.parametrize("make, words", [
    (lambda p: future(p, drop=[20]), "series 'b' lacks 1 of its 14 forecast days, from 2026-07-07"),
    (lambda p: future(p, extra={"school": 0}), "school only in the future file"),
    (lambda p: pd.read_csv(future(p)).drop(columns="open").to_csv(p, index=False) or p, "open only in the training"),
    (lambda p: pd.read_csv(future(p)).assign(promo="yes").to_csv(p, index=False) or p, "'promo' is not a finite number"),
    (lambda p: pd.read_csv(future(p)).assign(promo=3).to_csv(p, index=False) or p, "takes 0 or 1 only"),
])
def test_a_future_file_that_disagrees_is_a_clear_error(tmp_path, make, words):
    frame = read_long_csv(training(tmp_path / "train.csv"))
    with pytest.raises(DataError, match=words):
        read_future_csv(make(tmp_path / "future.csv"), frame, 14)


def test_known_ahead_columns_without_a_future_file_are_refused(tmp_path):
    frame = read_long_csv(training(tmp_path / "train.csv"))
    with pytest.raises(DataError, match="--future"):
        forecast_frame(frame, SETTINGS)
    bad = tmp_path / "bad.csv"
    bad.write_text("unique_id,ds,y,promo\na,2026-01-01,5,1\na,2026-01-02,6,\n")
    with pytest.raises(DataError, match="line.s. 3.*'promo' is not a finite number"):
        read_long_csv(bad)
