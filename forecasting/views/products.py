"""The Products & stock page: every product's stock plan, one product's demand, the order list, reliability.

Owners read the plan (sorted by days of stock left, coloured by risk) and
download the order list; analysts also read how each product is forecast
and the per-class CV scores. Nothing here trains unless asked: "Forecast
products now" and "Recompute stock" are buttons, and run under the
tenant's retrain lock like Retrain now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from ..core.demand import Policy
from ..core.series import tenant_today
from ..services import products as svc
from ..services.locks import tenant_lock
from ..services.tenants import Tenant, get_tenant, settings_for_tenant
from ..storage import Storage

__all__ = [
    "RISKS",
    "ProductDetail",
    "ProductsView",
    "product_detail",
    "products_stamp",
    "products_view",
    "recompute_stock",
    "save_product_settings",
    "train_now",
]

#: Days of sales behind each product's sparkline, and behind one product's chart.
SPARK_DAYS = 28
HISTORY_DAYS = 90
#: Risk of each plan, most urgent first (the table's colours and the order of the summary).
RISKS = ("out", "order_now", "order", "ok", "discontinued", "no_history", "check")


@dataclass(frozen=True)
class ProductsView:
    """What the page shows for a tenant; `table` is empty before the first product training.

    `table`: one row per product (`services.products.stock_table`) plus `risk`
    and `recent` (units per day over the last `SPARK_DAYS` days, for the
    sparkline). `reliability`: `services.products.product_reliability`.
    `metrics`: the product model's training metrics (per-class winners and
    CV scores). `has_product_sales`: whether any sale names a product.
    """

    tenant: Tenant
    today: date
    table: pd.DataFrame
    reliability: dict[str, Any] | None
    model_version: str | None
    trained_at: datetime | None
    metrics: dict[str, Any] = field(default_factory=dict)
    has_product_sales: bool = False
    policy: Policy | None = None  # the tenant's ordering settings (products may override them)
    units: pd.DataFrame = field(default_factory=pd.DataFrame)  # daily_units of the last HISTORY_DAYS days

    def count(self, *risks: str) -> int:
        return int(self.table["risk"].isin(risks).sum()) if not self.table.empty else 0

    def order_list(self) -> pd.DataFrame:
        """The products with a suggested order, most urgent first."""
        if self.table.empty:
            return self.table
        return self.table[self.table["order_quantity"].fillna(0) > 0]


def products_stamp(storage: Storage, tenant_id: str) -> tuple[str | None, str | None]:
    """A cheap stamp of what the page reads: the newest product model and when stock was last planned."""
    model = storage.select("product_models", str(tenant_id), columns=["model_version"], order_by="model_version",
                           descending=True, limit=1)
    plan = storage.select("stock_plans", str(tenant_id), columns=["created_at"], order_by="created_at",
                          descending=True, limit=1)
    return (None if model.empty else str(model.iloc[0]["model_version"]),
            None if plan.empty else pd.Timestamp(plan.iloc[0]["created_at"]).isoformat())


def risk_of(row: dict[str, Any]) -> str:
    """How urgent a plan is: out of stock; an order that can't arrive before the run-out; an order; enough."""
    status = row.get("status")
    if status in ("no_history", "discontinued"):
        return status
    if status not in ("ok", "order"):
        return "check"  # stale model, bad stock count, no productos row: the note says what to do
    if (row.get("stock") or 0) <= 0:
        return "out"
    days_left = row.get("days_left")
    if status == "order" and days_left is not None and pd.notna(days_left) and days_left <= row["lead_time_days"]:
        return "order_now"
    return status


def products_view(storage: Storage, tenant_id: str, *, now: datetime | None = None) -> ProductsView:
    tenant = get_tenant(storage, str(tenant_id))
    today = tenant_today(tenant.timezone, now)
    model = svc.active_product_model(storage, tenant.id)
    table = svc.stock_table(storage, tenant.id, now=now, model=model)
    metrics = model.training_metrics if model is not None else {}
    # One read of the last HISTORY_DAYS days serves the sparklines, the reliability and one product's chart.
    units = storage.daily_units(tenant.id, today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1),
                                tenant.timezone)
    if not table.empty:
        table = table.assign(risk=[risk_of(r) for r in table.to_dict(orient="records")])
        table["recent"] = _recent_units(units, today, list(table["product_id"]))
    has_product_sales = not units.empty or not table.empty or not storage.daily_units(
        tenant.id, today - timedelta(days=365), today - timedelta(days=1), tenant.timezone).empty
    return ProductsView(tenant, today, table, svc.product_reliability(storage, tenant.id, now=now, units=units),
                        model.version if model else None, model.created_at if model else None, metrics,
                        has_product_sales=has_product_sales,
                        policy=svc.tenant_policy(settings_for_tenant(storage, tenant)), units=units)


def _recent_units(units: pd.DataFrame, today: date, products: list[str]) -> list[list[float]]:
    first = today - timedelta(days=SPARK_DAYS)
    days = pd.date_range(first, periods=SPARK_DAYS, freq="D")
    grid = units.pivot_table(index="product_id", columns="ds", values="units", aggfunc="sum").reindex(
        index=products, columns=days).fillna(0.0).clip(lower=0.0)
    return [list(map(float, grid.loc[p])) for p in products]


@dataclass(frozen=True)
class ProductDetail:
    """One product: its units per day (`history`: ds, units), its forecast from today with bands
    (`forecast`: ds, yhat, yhat_lower_80 ... yhat_upper_95) and its plan (a row of the view's table)."""

    product_id: str
    name: str
    history: pd.DataFrame
    forecast: pd.DataFrame
    plan: dict[str, Any]
    settings: dict[str, Any]  # the product's overrides (None: the tenant's)


def product_detail(storage: Storage, view: ProductsView, product_id: str, *, days: int = 90,
                   now: datetime | None = None) -> ProductDetail:
    history, forecast = svc.product_history(storage, view.tenant.id, product_id, days=min(days, HISTORY_DAYS),
                                            now=now, units=view.units)
    forecast = forecast.assign(ds=pd.to_datetime(forecast["forecast_date"])) if not forecast.empty else forecast
    plan = view.table.set_index("product_id").loc[str(product_id)].to_dict()
    stored = storage.select("product_settings", view.tenant.id, where={"product_id": str(product_id)})
    overrides = {name: None for name in svc.OVERRIDES}
    if not stored.empty:
        overrides.update({name: (None if pd.isna(value) else value)
                          for name, value in stored.iloc[0][list(svc.OVERRIDES)].items()})
    return ProductDetail(str(product_id), str(plan.get("name", product_id)), history, forecast, plan, overrides)


def train_now(storage: Storage, tenant_id: str) -> svc.ProductTrainResult:
    """Forecast the tenant's products now, under its retrain lock (BusyError while it is retrained)."""
    with tenant_lock(storage, str(tenant_id)):
        return svc.train_products(storage, str(tenant_id))


def recompute_stock(storage: Storage, tenant_id: str) -> int:
    """Recompute today's stock plans from the current stock (no training); returns the products planned."""
    return len(svc.refresh_stock(storage, str(tenant_id), settings=settings_for_tenant(storage, str(tenant_id))))


def save_product_settings(storage: Storage, tenant_id: str, product_id: str, values: dict[str, Any]) -> int:
    """Store a product's ordering overrides and replan at once; a DataError names a bad value."""
    svc.save_product_settings(storage, str(tenant_id), str(product_id), **values)
    return recompute_stock(storage, tenant_id)
