"""Product demand: classes, the per-class engine, calibrated bands and paths, stock decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.core.demand import classify, forecast_products
from forecasting.core.demand.panel import build_panel
from forecasting.core.demand.result import ProductForecast
from forecasting.core.demand.stock import Policy, order_quantity, plan_product, runout_days, stock_plan
from forecasting.core.demand.synthetic import synthetic_tenant
from forecasting.core.errors import DataError
from forecasting.core.intervals import lower_col, upper_col

FIXED = {"derandomize": True, "database": None, "deadline": None}
H = 28
FAST = ("tsb", "imapa", "snaive")  # candidates for the small calls: no LightGBM, no ETS


def long_frame(series: dict[str, list[float]], end="2024-06-30") -> pd.DataFrame:
    """Tidy rows of the given daily values (the last value on `end`), zero days left out as an export would."""
    parts = []
    for uid, values in series.items():
        dates = pd.date_range(end=end, periods=len(values), freq="D")
        values = np.asarray(values, dtype=float)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": dates[values != 0], "y": values[values != 0]}))
    return pd.concat(parts, ignore_index=True)


# --- classification -----------------------------------------------------------------------------------


def test_syntetos_boylan_classes_and_new_and_dormant():
    rng = np.random.default_rng(0)
    n = 200
    series = {
        "smooth": list(10 + rng.integers(-2, 3, n)),
        "erratic": list(rng.choice([1, 40], n)),
        "intermittent": [5.0 if i % 4 == 0 else 0.0 for i in range(n)],
        "lumpy": [float(rng.choice([1, 60])) if i % 4 == 0 else 0.0 for i in range(n)],
        "new": [3.0] * 10,
        "dormant": [4.0] * 100 + [0.0] * 100,
    }
    table = classify(long_frame(series)).set_index("unique_id")
    assert table["demand_class"].to_dict() == {name: name for name in series}
    assert table.loc["intermittent", "adi"] == pytest.approx(4.0, rel=0.02)
    assert table.loc["smooth", "cv2"] < 0.49 < table.loc["lumpy", "cv2"]
    assert "discontinued" in table.loc["dormant", "reason"]


def test_a_series_starts_on_its_first_sale_and_zero_rows_before_it_change_nothing():
    late = {"a": [5.0] * 300, "b": [0.0] * 250 + [2.0, 0.0] * 25}
    frame = long_frame(late)
    padded = pd.concat([frame, pd.DataFrame({"unique_id": "b", "ds": pd.date_range(end="2024-06-30", periods=300)[:250],
                                             "y": 0.0})])
    for data in (frame, padded):
        table = classify(data).set_index("unique_id")
        assert table.loc["b", "history_days"] == 50
        assert table.loc["b", "adi"] == pytest.approx(2.0)  # not 12: the 250 days before it was listed don't count


def test_a_weekday_the_whole_shop_is_shut_is_a_closed_day():
    frame = synthetic_tenant(20, 120, seed=3, closed_weekday=6)
    assert build_panel(frame).closed_weekdays == frozenset({6})
    assert build_panel(synthetic_tenant(20, 120, seed=3, closed_weekday=None)).closed_weekdays == frozenset()


@pytest.mark.parametrize("frame, words", [
    (pd.DataFrame(columns=["unique_id", "ds", "y"]), "empty"),
    (pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"]}), "lacks column"),
    (pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01", "2024-01-02"], "y": [1.0, np.nan]}), "not a number"),
    (pd.DataFrame({"unique_id": ["a"], "ds": ["not a date"], "y": [1.0]}), "not dates"),
])
def test_unusable_frames_are_refused_with_their_reason(frame, words):
    with pytest.raises(DataError, match=words):
        forecast_products(frame, horizon=7, candidates=FAST)


def test_bad_arguments_are_refused_with_their_reason():
    frame = long_frame({"a": [1.0, 2.0, 0.0, 3.0]})
    with pytest.raises(DataError, match="percentages"):
        forecast_products(frame, horizon=7, levels=(80, 120), candidates=FAST)
    with pytest.raises(DataError, match="horizon"):
        forecast_products(frame, horizon=0, candidates=FAST)
    with pytest.raises(DataError, match="unknown candidate"):
        forecast_products(frame, horizon=7, candidates=("prophet",))


def test_returns_count_as_no_demand_and_say_so():
    frame = long_frame({"a": [1.0, 2.0, -4.0, 3.0] * 10, "b": [1.0] * 40})
    result = forecast_products(frame, horizon=7, candidates=FAST)
    assert "negative units" in result.products.set_index("unique_id").loc["a", "reason"]
    assert (result.forecast["yhat_lower_95"] >= 0).all()


# --- the engine on a synthetic tenant ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant():
    return synthetic_tenant(40, 330, seed=11)


@pytest.fixture(scope="module")
def held_out(tenant):
    """The engine on all but the last 28 days, and those days' actual demand."""
    end = pd.Timestamp(tenant["ds"].max()) - pd.Timedelta(days=H)
    return forecast_products(tenant[tenant["ds"] <= end], horizon=H, folds=3), tenant[tenant["ds"] > end]


def test_bands_are_ordered_nested_and_never_negative(held_out):
    result, _ = held_out
    f = result.forecast
    assert len(f) == result.products.shape[0] * H and not f.isna().any().any()
    for level in (80, 95):
        assert (f[lower_col(level)] >= 0).all()
        assert (f[lower_col(level)] <= f["yhat"] + 1e-9).all() and (f["yhat"] <= f[upper_col(level)] + 1e-9).all()
    assert (f[lower_col(95)] <= f[lower_col(80)] + 1e-9).all() and (f[upper_col(80)] <= f[upper_col(95)] + 1e-9).all()
    closed = pd.DatetimeIndex(f["ds"]).dayofweek == 6  # the synthetic shop is shut on Sundays
    assert (f.loc[closed, ["yhat", upper_col(95)]] == 0).all().all()


def test_held_out_coverage_is_near_the_levels(held_out):
    result, actual = held_out
    f = result.forecast.merge(actual[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="left").fillna({"y": 0.0})
    f = f[pd.DatetimeIndex(f["ds"]).dayofweek != 6]  # closed days are trivially covered
    cover = {level: ((f["y"] >= f[lower_col(level)]) & (f["y"] <= f[upper_col(level)])).mean() for level in (80, 95)}
    assert 0.65 <= cover[80] <= 0.92, cover
    assert 0.85 <= cover[95] <= 0.995, cover


def test_every_product_has_a_class_a_method_and_reasons_in_words(held_out):
    result, _ = held_out
    products = result.products
    assert products["reason"].str.contains("forecast:").all() and products["method"].notna().all()
    assert set(result.selection) >= {"smooth", "intermittent", "lumpy", "new", "dormant"}
    dormant = products[products["demand_class"] == "dormant"]["unique_id"]
    assert len(dormant) and result.forecast[result.forecast["unique_id"].isin(dormant)]["yhat"].eq(0).all()
    assert {"mase", "rmsse", "score", "pairs"} <= set(result.scores.columns)
    assert result.cv["fold"].nunique() == 3


def test_a_product_with_days_of_history_gets_the_mean_of_its_days():
    frame = pd.concat([synthetic_tenant(15, 200, seed=4, closed_weekday=None),
                       long_frame({"fresh": [6.0, 0.0, 3.0, 0.0, 0.0, 3.0]}, end="2024-12-31")])
    result = forecast_products(frame, horizon=14, folds=2, candidates=FAST)
    row = result.products.set_index("unique_id").loc["fresh"]
    assert row["demand_class"] == "new" and row["method"] == "new" and "mean of its days" in row["reason"]
    assert result.forecast.set_index("unique_id").loc["fresh", "yhat"].to_numpy() == pytest.approx(2.0)
    assert (result.forecast.set_index("unique_id").loc["fresh", upper_col(95)] > 2.0).all()


def test_a_tiny_tenant_gets_a_forecast_not_a_crash():
    result = forecast_products(long_frame({"a": [1.0, 0.0, 2.0], "b": [5.0]}), horizon=7, candidates=FAST)
    assert len(result.forecast) == 14 and (result.forecast[upper_col(95)] >= result.forecast["yhat"]).all()
    assert result.cumulative_quantiles("a", 7, (0.5,)).shape == (1, 1)


def test_the_sum_over_days_is_narrower_than_the_sum_of_daily_quantiles(held_out):
    result, _ = held_out
    product = result.products.query("demand_class == 'smooth'")["unique_id"].iloc[0]
    table = result.cumulative_quantiles(product, [7, 14, 28], (0.05, 0.5, 0.95))
    assert (np.diff(table.to_numpy(), axis=0) >= 0).all() and (np.diff(table.to_numpy(), axis=1) >= 0).all()
    daily = result.forecast[result.forecast["unique_id"] == product]
    assert table.loc[28, 0.95] < daily[upper_col(95)].sum()
    assert table.loc[28, 0.05] <= result.expected_demand(product, 28) <= table.loc[28, 0.95]
    with pytest.raises(DataError, match="between 1 and the horizon"):
        result.cumulative_quantiles(product, [29])


def test_no_state_leaks_between_tenants():
    a = synthetic_tenant(12, 150, seed=21, prefix="A")
    b = synthetic_tenant(12, 150, seed=22, prefix="B")
    first = forecast_products(a, horizon=14, folds=2)
    forecast_products(b, horizon=14, folds=2)
    again = forecast_products(a, horizon=14, folds=2)
    pd.testing.assert_frame_equal(first.forecast, again.forecast)
    assert first.selection == again.selection
    np.testing.assert_array_equal(first.sample_paths("A00000"), again.sample_paths("A00000"))


# --- stock ---------------------------------------------------------------------------------------------


def fixed_forecast(daily=(2.0, 2.0, 2.0, 2.0, 2.0), demand_class="smooth") -> ProductForecast:
    """One product whose every path is exactly `daily` (a pool of zero residuals)."""
    h = len(daily)
    return ProductForecast(
        forecast=pd.DataFrame(), products=pd.DataFrame({"unique_id": ["x"], "demand_class": [demand_class]}),
        scores=pd.DataFrame(), selection={}, cv=pd.DataFrame(), horizon=h, levels=(80, 95),
        closed_weekdays=frozenset(), ids=np.array(["x"], dtype=object), yhat=np.array([daily]),
        norm=np.ones((1, h)), group=np.array(["g"], dtype=object), pools={"g": np.zeros((10, h))})


def test_stock_math_by_hand():
    # Demand over lead time + review period: samples 0..99; the 95% quantile (the higher order statistic) is 95.
    demand = np.arange(100.0)
    assert order_quantity(demand, 30, 10, 0.95) == (95.0, 55.0)
    assert order_quantity(demand, 30, 10, 0.95, pack_size=12) == (95.0, 60.0)  # 55 -> 5 packs of 12
    assert order_quantity(demand, 30, 10, 0.95, pack_size=12, min_order=70) == (95.0, 72.0)
    assert order_quantity(demand, 90, 10, 0.95, pack_size=12, min_order=70) == (95.0, 0.0)  # not needed
    cumulative = np.array([[2.0, 4, 6, 8, 10], [1, 1, 1, 1, 1]])
    assert runout_days(cumulative, 7).tolist() == [4, 6]  # second path never reaches 7: after the horizon
    assert runout_days(cumulative, 0).tolist() == [0, 0]

    forecast = fixed_forecast()  # 2 a day, no uncertainty
    plan = plan_product(forecast, "x", on_hand=7, policy=Policy(lead_time=1, review_period=2))
    assert (plan.days_left, plan.early_day, plan.reorder_point, plan.order_up_to, plan.order) == (4, 4, 2, 6, 0)
    assert plan.message == "runs out around day 4; 1 in 5 chance by day 4; no order needed"
    plan = plan_product(forecast, "x", on_hand=3, on_order=1, policy=Policy(lead_time=1, review_period=2, pack_size=5))
    assert plan.order == 5  # up to 6, minus 3 + 1, is 2: one pack of 5
    plan = plan_product(forecast, "x", on_hand=20, policy=Policy(lead_time=1, review_period=2))
    assert plan.days_left is None and "lasts beyond 5 days" in plan.message


def test_discontinued_products_get_no_order_and_bad_stock_is_refused_or_flagged():
    assert plan_product(fixed_forecast(demand_class="dormant"), "x", 0, policy=Policy(lead_time=1, review_period=2)).order == 0
    with pytest.raises(DataError, match="negative"):
        plan_product(fixed_forecast(), "x", -3, policy=Policy(lead_time=1, review_period=2))
    with pytest.raises(DataError, match="missing"):
        plan_product(fixed_forecast(), "x", float("nan"), policy=Policy(lead_time=1, review_period=2))
    with pytest.raises(DataError, match="longer than the forecast horizon"):
        plan_product(fixed_forecast(), "x", 5, policy=Policy(lead_time=2, review_period=7))
    table = stock_plan(fixed_forecast(), pd.DataFrame({"unique_id": ["x", "x", "y"], "on_hand": [5, -1, 3]}),
                       Policy(lead_time=1, review_period=2))
    assert table["status"].tolist()[0] == "ok" and "negative" in table["status"][1] and "not in" in table["status"][2]


# --- properties ----------------------------------------------------------------------------------------

histories = st.lists(
    st.lists(st.sampled_from([0.0, 0.0, 0.0, 1.0, 2.0, 5.0, 30.0]), min_size=1, max_size=90), min_size=1, max_size=4)


@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow], **FIXED)
@given(histories, st.lists(st.floats(0, 200), min_size=2, max_size=5))
def test_random_histories_give_valid_bands_and_days_left_never_grow_as_stock_falls(values, stocks):
    frame = long_frame({f"p{i}": v for i, v in enumerate(values)})
    if frame.empty:
        with pytest.raises(DataError):
            forecast_products(frame, horizon=14, folds=2, candidates=FAST)
        return
    result = forecast_products(frame, horizon=14, folds=2, candidates=FAST)
    f = result.forecast
    for level in (80, 95):
        assert (f[lower_col(level)] >= 0).all() and (f[lower_col(level)] <= f["yhat"] + 1e-9).all()
        assert (f["yhat"] <= f[upper_col(level)] + 1e-9).all()
    policy = Policy(lead_time=2, review_period=7)
    for product in result.ids:
        days = [plan_product(result, product, s, policy=policy).days_left for s in sorted(stocks, reverse=True)]
        as_numbers = [14 + 1 if d is None else d for d in days]
        assert as_numbers == sorted(as_numbers, reverse=True)
