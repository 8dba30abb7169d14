"""Product-level demand forecasting and stock planning for one tenant (pure functions over tidy frames)."""

from .classify import classify
from .engine import forecast_products
from .result import ProductForecast

__all__ = ["ProductForecast", "classify", "forecast_products"]
