"""Product-level demand forecasting and stock planning for one tenant (pure functions over tidy frames).

    result = forecast_products(sales, horizon=28, country="GB")   # sales: unique_id, ds, y[, price]
    result.forecast             # unique_id, ds, yhat, yhat_lower_80 ... yhat_upper_95
    result.products             # demand class, method and the reasons in words, per product
    result.cumulative_quantiles("SKU1", [7, 14], (0.5, 0.95))     # demand summed over the next k days
    plan_product(result, "SKU1", on_hand=40, policy=Policy(lead_time=2, review_period=7))
"""

from .classify import classify
from .engine import forecast_products
from .result import ProductForecast
from .stock import Policy, StockPlan, plan_product, stock_plan

__all__ = ["Policy", "ProductForecast", "StockPlan", "classify", "forecast_products", "plan_product", "stock_plan"]
