"""Stock decisions from the distribution of demand summed over the coming days.

Decisions:

* Everything reads the product's sample paths (`ProductForecast.sample_paths`),
  summed from day 1: a run-out day and an order quantity are questions about
  cumulative demand, and a sum of daily quantiles would overstate its spread.
* Run-out day of a path: the first day by whose end the demand summed from
  day 1 reaches the stock on hand (0 with no stock). Days left = the median
  over paths; "1 in 5 chance by day Y" = the 20% quantile. A path that never
  reaches the stock within the horizon counts as "later than the horizon".
  More stock can only move each path's run-out day later, so days left
  never increases when stock falls.
* Periodic review, order-up-to: at a review, order up to S = the
  `service_level` quantile of demand over lead time + review period (the
  stock must last until the order after this one arrives), minus stock on
  hand and on order; round up to the pack size; at least the minimum order;
  0 when not needed. This is a cycle service level: the chance that a
  cycle sees no stock-out, which keeps the fill rate at least as high.
  The reorder point is the `service_level` quantile of demand over the
  lead time alone: below it, an order placed now arrives too late.
* Quantiles are the conservative order statistic (`method="higher"`).
* Discontinued (dormant) products get no order. Missing or negative stock
  is a DataError for one product and a flagged row (`status`) in a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from .result import ProductForecast


@dataclass(frozen=True, kw_only=True)
class Policy:
    service_level: float = 0.95
    lead_time: int = 2  # days from order to arrival
    review_period: int = 7  # days between reviews
    pack_size: float | None = None
    min_order: float = 0.0

    def check(self, horizon: int) -> None:
        if not 0.5 <= self.service_level < 1:
            raise DataError(f"service level must be between 0.5 and 1 (e.g. 0.95), got {self.service_level}")
        if self.lead_time < 0 or self.review_period < 1:
            raise DataError(f"lead time must be 0 or more days and review period 1 or more, got "
                            f"{self.lead_time} and {self.review_period}")
        if self.lead_time + self.review_period > horizon:
            raise DataError(f"lead time + review period ({self.lead_time + self.review_period} days) is longer than "
                            f"the forecast horizon ({horizon} days): forecast further ahead")
        if self.pack_size is not None and not self.pack_size > 0:
            raise DataError(f"pack size must be positive, got {self.pack_size}")
        if self.min_order < 0:
            raise DataError(f"minimum order can't be negative, got {self.min_order}")


def check_stock(value, name: str = "stock on hand") -> float:
    try:
        stock = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{name} is not a number: {value!r}") from None
    if not math.isfinite(stock):
        raise DataError(f"{name} is missing: count the stock first")
    if stock < 0:
        raise DataError(f"{name} is negative ({stock:g}): correct the stock count first")
    return stock


def runout_days(cumulative: np.ndarray, on_hand: float) -> np.ndarray:
    """Per path, the first day (1-based) by whose end demand reaches `on_hand`; horizon + 1 if never; 0 if no stock."""
    if on_hand <= 0:
        return np.zeros(len(cumulative), dtype=int)
    reached = cumulative >= on_hand
    return np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, cumulative.shape[1] + 1)


def order_quantity(demand: np.ndarray, on_hand: float, on_order: float, service_level: float,
                   pack_size: float | None = None, min_order: float = 0.0) -> tuple[float, float]:
    """(order-up-to level, order) from samples of demand over lead time + review period."""
    up_to = float(np.quantile(demand, service_level, method="higher"))
    need = up_to - on_hand - on_order
    if need <= 1e-9:
        return up_to, 0.0
    order = max(need, min_order)
    if pack_size:
        order = math.ceil(order / pack_size - 1e-9) * pack_size
    return up_to, float(order)


@dataclass(frozen=True)
class StockPlan:
    product: str
    on_hand: float
    on_order: float
    days_left: int | None  # median run-out day; None when later than the horizon
    early_day: int | None  # 1 in 5 chance of running out by this day; None when later than the horizon
    runout_by_horizon: float  # chance of running out within the horizon
    reorder_point: float
    order_up_to: float
    order: float
    message: str


def plan_product(forecast: ProductForecast, product, on_hand, on_order=0.0, policy: Policy = Policy()) -> StockPlan:
    """Days of stock left and what to order now for one product."""
    policy.check(forecast.horizon)
    on_hand, on_order = check_stock(on_hand), check_stock(on_order, "stock on order")
    cumulative = forecast.cumulative_paths(product)
    horizon = forecast.horizon
    runout = runout_days(cumulative, on_hand)
    median = int(np.quantile(runout, 0.5, method="higher"))
    early = int(np.quantile(runout, 0.2, method="lower"))
    days_left = median if median <= horizon else None
    early_day = early if early <= horizon else None
    chance = float(np.mean(runout <= horizon))
    lead = policy.lead_time
    reorder_point = float(np.quantile(cumulative[:, lead - 1], policy.service_level, method="higher")) if lead else 0.0
    if forecast.demand_class(product) == "dormant":
        up_to, order = 0.0, 0.0
        advice = "discontinued (no recent sales): no order suggested"
    else:
        up_to, order = order_quantity(cumulative[:, lead + policy.review_period - 1], on_hand, on_order,
                                      policy.service_level, policy.pack_size, policy.min_order)
        advice = f"order {order:g}" if order > 0 else "no order needed"
    if on_hand <= 0:
        outlook = "out of stock now"
    elif days_left is None:
        outlook = f"lasts beyond {horizon} days in most cases"
        if early_day is not None:
            outlook += f"; 1 in 5 chance of running out by day {early_day}"
    else:
        outlook = f"runs out around day {days_left}; 1 in 5 chance by day {early_day}"
    return StockPlan(str(product), on_hand, on_order, days_left, early_day, chance, reorder_point, up_to, order,
                     f"{outlook}; {advice}")


def stock_plan(forecast: ProductForecast, stock: pd.DataFrame, policy: Policy = Policy()) -> pd.DataFrame:
    """`plan_product` for every row of `stock` (`unique_id, on_hand`, optional `on_order`).

    A row that can't be planned (stock missing or negative, product unknown)
    is kept with `status` saying why, instead of failing the whole table.
    """
    policy.check(forecast.horizon)
    if "unique_id" not in stock or "on_hand" not in stock:
        raise DataError("the stock table needs columns unique_id and on_hand")
    rows = []
    for record in stock.to_dict(orient="records"):
        try:
            plan = plan_product(forecast, record["unique_id"], record["on_hand"], record.get("on_order", 0.0) or 0.0,
                                policy)
            rows.append({**plan.__dict__, "status": "ok"})
        except DataError as exc:
            rows.append({"product": str(record["unique_id"]), "on_hand": record["on_hand"], "status": str(exc)})
    return pd.DataFrame(rows).rename(columns={"product": "unique_id"})
