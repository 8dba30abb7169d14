"""Daily features per tenant in `ml_features`: sales totals, moving averages, inventory snapshot.

Feature types (one row per tenant, date and type):
* `daily_total`, `ma7`, `ma28` -- the daily sales series and its 7/28-day moving averages;
* `inventory_units`, `inventory_value`, `low_stock_products`, `out_of_stock_products` -- a
  snapshot of `productos` on the tenant's current date; `low_stock_products.details` lists them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from ..core.errors import DataError
from ..core.series import tenant_today
from ..storage import Storage
from .sales import daily_sales
from .tenants import Tenant

#: Days of sales features rewritten on each refresh (older ones do not change).
FEATURE_DAYS = 90
DEFAULT_LOW_STOCK = 5.0


def sales_feature_rows(tenant_id: str, y: pd.Series, days: int = FEATURE_DAYS) -> list[dict[str, Any]]:
    frame = pd.DataFrame({"daily_total": y, "ma7": y.rolling(7, min_periods=1).mean(),
                          "ma28": y.rolling(28, min_periods=1).mean()}).iloc[-days:]
    now = datetime.now(timezone.utc)
    return [{"tenant_id": tenant_id, "feature_date": ds.date(), "feature_type": kind, "value": round(float(value), 4),
             "details": None, "created_at": now}
            for ds, row in frame.iterrows() for kind, value in row.items()]


def inventory_snapshot(products: pd.DataFrame, low_stock: float = DEFAULT_LOW_STOCK) -> dict[str, Any]:
    """Units, value and the products at or below `low_stock` units."""
    stock = pd.to_numeric(products["stock"], errors="coerce").fillna(0.0)
    price = pd.to_numeric(products["precio"], errors="coerce").fillna(0.0)
    low = products[stock <= low_stock]
    return {
        "inventory_units": float(stock.sum()),
        "inventory_value": float((stock * price).sum()),
        "low_stock_products": float(len(low)),
        "out_of_stock_products": float((stock <= 0).sum()),
        "low_stock": [{"id": str(r["id"]), "nombre": r["nombre"], "stock": float(r["stock"])}
                      for r in low.sort_values("stock").to_dict(orient="records")],
    }


def refresh_features(storage: Storage, tenant: Tenant, *, max_days: int, low_stock: float = DEFAULT_LOW_STOCK,
                     now: datetime | None = None) -> int:
    """Rewrite the tenant's recent features ; returns rows written.

    A tenant without sales still gets its inventory snapshot.
    """
    rows: list[dict[str, Any]] = []
    try:
        y = daily_sales(storage, tenant.id, timezone=tenant.timezone, max_days=max_days, now=now)
        rows += sales_feature_rows(tenant.id, y)
    except DataError:
        pass
    products = storage.select("productos", tenant.id)
    if not products.empty:
        snapshot = inventory_snapshot(products, low_stock)
        today = tenant_today(tenant.timezone, now)
        stamp = datetime.now(timezone.utc)
        for kind in ("inventory_units", "inventory_value", "low_stock_products", "out_of_stock_products"):
            details = {"products": snapshot["low_stock"], "threshold": low_stock} if kind == "low_stock_products" else None
            rows.append({"tenant_id": tenant.id, "feature_date": today, "feature_type": kind,
                         "value": snapshot[kind], "details": details, "created_at": stamp})
    return storage.upsert("ml_features", tenant.id, rows) if rows else 0
