"""Demand per product for one tenant: train, store, plan stock without retraining, warn before a stock-out.

Decisions:

* The series are `Storage.daily_units` (summed in the database, in the
  tenant's time zone; a sale without `cantidad` is one unit, a refund
  subtracts its units on the day it happened) up to yesterday, over the same
  `ML_MAX_TRAIN_WINDOW_DAYS` as the totals. `core.demand.forecast_products`
  forecasts them together, `PRODUCT_HORIZON` days ahead with `PRODUCT_FOLDS`
  CV folds: that horizon is what a stock plan can see, so lead time + review
  period may not exceed it. `productos.precio` is not a feature: it is the
  current price only, a constant per product that its own lags already know.
* One training writes, in this order: the daily forecast of every product
  (`product_forecasts`, one transaction), then the product model version
  (`product_models`): what the stock refresh needs (each product's forecast,
  its scale, its class's pool of residual paths), as signed JSON. The newest
  version is the active one. A run that dies between the two leaves the
  previous version active; its stock plans stay valid, and the next run
  rewrites both.
* Stock plans are recomputed from the active version and `productos.stock`
  whenever asked (the hourly refresh, after a training, a stock import),
  never by retraining. `productos.stock` is taken as the stock at the start
  of today, so today counts as a whole day of demand: a run-out day k means
  "by the end of the k-th day from today". The forecast days already past are
  dropped; once fewer days are left than lead time + review period, the plan
  says the model is stale instead of guessing beyond it.
* Ordering settings: the tenant's `ML_STOCK_*` settings, overridden per
  product in `product_settings`.
* Learning never leaves the tenant: every read here is one tenant's.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from ..core.config import MLSettings
from ..core.demand import ProductForecast, forecast_products
from ..core.demand.engine import method_label
from ..core.demand.stock import Policy, check_stock, plan_product
from ..core.errors import DataError, ModelError
from ..core.logs import log_event
from ..core.series import tenant_today
from ..storage import Storage
from .model_store import new_version, signature, signing_key
from .tenants import Tenant, get_tenant, settings_for_tenant

PRODUCT_HORIZON = 28
PRODUCT_FOLDS = 3
LEVELS = (80, 95)
MODEL_TYPE = "products"
STATE_FORMAT = 1
#: The share of paths that run out by `early_date` ("1 in 5 chance by ...").
EARLY_CHANCE = 0.2
#: Product model versions kept per tenant by the clean-up job (each is a few MB for thousands of products).
PRODUCT_MODELS_KEPT = 4
#: Per-product ordering overrides and their bounds (None: the tenant's setting).
OVERRIDES = ("lead_time_days", "review_days", "service_level", "pack_size", "min_order")


@dataclass
class ProductTrainResult:
    tenant_id: str
    version: str | None  # None: nothing to train (no product sales)
    products: int
    classes: dict[str, int]
    methods: dict[str, int]
    rows: dict[str, int]
    seconds: float
    note: str = ""
    plans: pd.DataFrame = field(default_factory=pd.DataFrame)
    steps: dict[str, float] = field(default_factory=dict)  # seconds: series, the engine's parts, saving, stock

    def summary(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "model_version": self.version, "products": self.products,
                "classes": self.classes, "methods": self.methods, "rows_written": self.rows,
                "seconds": round(self.seconds, 2), "steps": {k: round(v, 2) for k, v in self.steps.items()},
                "note": self.note}


# --- training ---------------------------------------------------------------------------------------


def product_series(storage: Storage, tenant: Tenant, settings: MLSettings, now: datetime | None = None
                   ) -> tuple[pd.DataFrame, date]:
    """The tenant's daily units per product (`unique_id, ds, y`) up to yesterday, and yesterday."""
    end = tenant_today(tenant.timezone, now) - timedelta(days=1)
    first = end - timedelta(days=settings.max_train_window_days - 1)
    units = storage.daily_units(tenant.id, first, end, tenant.timezone)
    frame = units.rename(columns={"product_id": "unique_id", "units": "y"})[["unique_id", "ds", "y"]]
    return frame, end


def train_products(storage: Storage, tenant_id: str, *, settings: MLSettings | None = None,
                   now: datetime | None = None) -> ProductTrainResult:
    """Forecast every product of the tenant, store the forecasts and the model, and plan the stock.

    A tenant whose sales carry no `producto_id` has nothing to train: the
    result says so (`version` None) instead of failing, so the weekly retrain
    of a shop that records totals only goes on.
    """
    started = time.perf_counter()
    tenant = get_tenant(storage, str(tenant_id))
    settings = settings_for_tenant(storage, tenant, base=settings)
    frame, end = product_series(storage, tenant, settings, now)
    steps = {"series": time.perf_counter() - started}
    if frame.empty or not (frame["y"] > 0).any():
        note = "no sales with a product (ventas.producto_id) in the history: nothing to forecast per product"
        log_event("products_skipped", tenant_id=tenant.id, reason=note)
        return ProductTrainResult(tenant.id, None, 0, {}, {}, {}, time.perf_counter() - started, note)
    log_event("products_start", tenant_id=tenant.id, products=int(frame["unique_id"].nunique()), last_day=str(end))
    forecast = forecast_products(frame, horizon=PRODUCT_HORIZON, levels=LEVELS, folds=PRODUCT_FOLDS,
                                 country=settings.holidays_country or None, end=end)
    steps.update(forecast.seconds)
    mark = time.perf_counter()
    version = new_version()
    rows = {"product_forecasts": storage.upsert("product_forecasts", tenant.id,
                                                forecast_rows(tenant.id, forecast, version))}
    whole = frame.groupby("unique_id")["y"].agg(lambda units: bool(np.allclose(units, np.round(units))))
    state = model_state(forecast, whole)
    data = json.dumps(state, separators=(",", ":"), sort_keys=True)
    sealed = json.dumps({"format": STATE_FORMAT, "signature": _sign(storage, tenant.id, version, data), "state": data})
    storage.upsert("product_models", tenant.id, [{
        "tenant_id": tenant.id, "model_version": version, "products": len(forecast.ids),
        "training_metrics": training_metrics(forecast), "model_data": sealed}])
    rows["product_models"] = 1
    steps["saving"] = time.perf_counter() - mark
    mark = time.perf_counter()
    plans = refresh_stock(storage, tenant.id, settings=settings, now=now)
    rows["stock_plans"] = len(plans)
    steps["stock"] = time.perf_counter() - mark
    result = ProductTrainResult(
        tenant.id, version, len(forecast.ids),
        {str(k): int(v) for k, v in forecast.products["demand_class"].value_counts().items()},
        {str(k): int(v) for k, v in forecast.products["method"].value_counts().items()},
        rows, time.perf_counter() - started, plans=plans, steps=steps)
    log_event("products_end", **result.summary())
    return result


def forecast_rows(tenant_id: str, forecast: ProductForecast, version: str) -> list[dict[str, Any]]:
    info = forecast.products.set_index("unique_id")
    table = forecast.forecast.join(info[["method", "demand_class"]], on="unique_id")
    bands = [c for c in table.columns if c.startswith("yhat_")]
    return [{"tenant_id": tenant_id, "product_id": str(row["unique_id"]), "forecast_date": row["ds"].date(),
             "model_version": version, "method": str(row["method"]), "demand_class": str(row["demand_class"]),
             "yhat": float(row["yhat"]), **{c: float(row[c]) for c in bands}}
            for row in table.to_dict(orient="records")]


def training_metrics(forecast: ProductForecast) -> dict[str, Any]:
    """What an analyst reads about a product training: per class the winner and the CV scores."""
    scores = forecast.scores.replace({np.nan: None}).to_dict(orient="records")
    return {"selection": {cls: list(models) for cls, models in forecast.selection.items()},
            "scores": scores, "horizon": forecast.horizon, "folds": PRODUCT_FOLDS,
            "seconds": {k: round(float(v), 2) for k, v in forecast.seconds.items()}}


def _round(values: np.ndarray) -> list:
    return np.round(np.asarray(values, dtype=float), 4).tolist()


def model_state(forecast: ProductForecast, whole: pd.Series) -> dict[str, Any]:
    """What the stock refresh needs, as JSON: the forecast days, per product its point forecast, scale,
    residual pool, class, method, reason and whether it sells in whole units, and the pools (see
    `core.demand.calibration`)."""
    products = forecast.products.set_index("unique_id").loc[list(forecast.ids)]
    first = pd.Timestamp(forecast.forecast["ds"].min()).date().isoformat()
    return {"first_date": first, "horizon": forecast.horizon, "levels": list(forecast.levels),
            "closed_weekdays": sorted(forecast.closed_weekdays), "ids": [str(i) for i in forecast.ids],
            "yhat": _round(forecast.yhat), "norm": _round(forecast.norm), "group": [str(g) for g in forecast.group],
            "pools": {key: _round(pool) for key, pool in forecast.pools.items()},
            "demand_class": products["demand_class"].astype(str).tolist(),
            "method": products["method"].astype(str).tolist(),
            "reason": products["reason"].astype(str).tolist(),
            "whole_units": [bool(whole.get(i, True)) for i in forecast.ids]}


def _sign(storage: Storage, tenant_id: str, version: str, data: str) -> str:
    return signature(signing_key(storage), tenant_id, MODEL_TYPE, version, data.encode("utf-8"))


# --- the active product model ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProductModel:
    """The active product model of a tenant, as stored: rebuilds the forecast's sample paths."""

    tenant_id: str
    version: str
    first_date: date
    forecast: ProductForecast
    whole_units: frozenset[str]  # products only ever sold in whole units: orders are rounded up to one
    created_at: datetime | None
    training_metrics: dict[str, Any] = field(default_factory=dict)  # per-class winners and CV scores

    def as_of(self, day: date) -> ProductForecast | None:
        """The forecast from `day` on (the days already past dropped), or None once it has no day left."""
        offset = (day - self.first_date).days
        if offset <= 0:
            return self.forecast
        full = self.forecast
        if offset >= full.horizon:
            return None
        return ProductForecast(
            forecast=full.forecast[full.forecast["ds"] >= pd.Timestamp(day)], products=full.products,
            scores=full.scores, selection=full.selection, cv=full.cv, horizon=full.horizon - offset,
            levels=full.levels, closed_weekdays=full.closed_weekdays, ids=full.ids, yhat=full.yhat[:, offset:],
            norm=full.norm[:, offset:], group=full.group, pools={k: p[:, offset:] for k, p in full.pools.items()})


def active_product_model(storage: Storage, tenant_id: str) -> ProductModel | None:
    """The newest product model of the tenant, checked and rebuilt; None if products were never trained.

    A row not signed by this installation, or unreadable, is a ModelError
    asking for a retrain (it would set order quantities).
    """
    frame = storage.select("product_models", str(tenant_id), order_by="model_version", descending=True, limit=1)
    if frame.empty:
        return None
    row = frame.iloc[0]
    version = str(row["model_version"])
    try:
        sealed = json.loads(row["model_data"])
        data = sealed["state"]
        stored = str(sealed.get("signature") or "")
    except (ValueError, TypeError, KeyError):
        raise ModelError(f"stored product model {version} is corrupt; retrain the products") from None
    if not hmac.compare_digest(stored, _sign(storage, str(tenant_id), version, data)):
        log_event("model_signature_refused", level=30, tenant_id=str(tenant_id), model_type=MODEL_TYPE,
                  model_version=version, signed=bool(stored))
        raise ModelError(f"stored product model {version} is not signed by this installation (written or changed "
                         "elsewhere), so it is not used; retrain the products")
    state = json.loads(data)
    ids = np.array(state["ids"], dtype=object)
    horizon = int(state["horizon"])
    first = date.fromisoformat(state["first_date"])
    yhat = np.array(state["yhat"], dtype=float).reshape(len(ids), horizon)
    products = pd.DataFrame({"unique_id": ids, "demand_class": state["demand_class"], "method": state["method"],
                             "reason": state["reason"]})
    days = pd.date_range(first, periods=horizon, freq="D", name="ds")
    forecast = pd.DataFrame({"unique_id": np.repeat(ids, horizon), "ds": np.tile(days, len(ids)),
                             "yhat": yhat.ravel()})
    rebuilt = ProductForecast(
        forecast=forecast, products=products, scores=pd.DataFrame(), selection={}, cv=pd.DataFrame(),
        horizon=horizon, levels=tuple(state["levels"]), closed_weekdays=frozenset(state["closed_weekdays"]),
        ids=ids, yhat=yhat, norm=np.array(state["norm"], dtype=float).reshape(len(ids), horizon),
        group=np.array(state["group"], dtype=object),
        pools={key: np.array(pool, dtype=float).reshape(-1, horizon) for key, pool in state["pools"].items()})
    created = row.get("created_at")
    whole = frozenset(str(i) for i, flag in zip(ids, state["whole_units"]) if flag)
    return ProductModel(str(tenant_id), version, first, rebuilt, whole, None if pd.isna(created) else created,
                        row.get("training_metrics") or {})


# --- ordering settings ----------------------------------------------------------------------------


def tenant_policy(settings: MLSettings) -> Policy:
    return Policy(service_level=settings.stock_service_level, lead_time=settings.stock_lead_time_days,
                  review_period=settings.stock_review_days)


def product_policies(storage: Storage, tenant_id: str, settings: MLSettings) -> dict[str, Policy]:
    """Per product with an override in `product_settings`, its policy (the tenant's for what it leaves empty)."""
    base = tenant_policy(settings)
    stored = storage.select("product_settings", str(tenant_id))
    return {str(row["product_id"]): _policy(base, row) for row in stored.to_dict(orient="records")}


def _policy(base: Policy, overrides: dict[str, Any]) -> Policy:
    """`base` with a product's overrides (`OVERRIDES`; None or NaN: the tenant's)."""
    return Policy(service_level=_or(overrides.get("service_level"), base.service_level),
                  lead_time=int(_or(overrides.get("lead_time_days"), base.lead_time)),
                  review_period=int(_or(overrides.get("review_days"), base.review_period)),
                  pack_size=_or(overrides.get("pack_size"), None), min_order=_or(overrides.get("min_order"), 0.0))


def _or(value, default):
    return default if value is None or (isinstance(value, float) and math.isnan(value)) else value


def save_product_settings(storage: Storage, tenant_id: str, product_id: str, **values) -> dict[str, Any]:
    """Store one product's ordering overrides (None clears one); a DataError names a bad value, nothing written."""
    unknown = sorted(set(values) - set(OVERRIDES))
    if unknown:
        raise DataError(f"unknown product setting(s) {unknown}; choose from {list(OVERRIDES)}")
    tenant = get_tenant(storage, str(tenant_id))
    if storage.find_ids("productos", tenant.id, [str(product_id)], columns=["id"]).mine.empty:
        raise DataError(f"product {product_id!r} is not in this business's productos table")
    row = {name: None for name in OVERRIDES}
    existing = storage.select("product_settings", tenant.id, where={"product_id": str(product_id)})
    if not existing.empty:
        row.update({name: _or(existing.iloc[0].get(name), None) for name in OVERRIDES})
    for name, value in values.items():
        try:
            number = None if value is None else float(value)
        except (TypeError, ValueError):
            raise DataError(f"{name.replace('_', ' ')} must be a number, got {value!r}") from None
        if number is not None and not math.isfinite(number):
            raise DataError(f"{name.replace('_', ' ')} must be a number, got {value!r}")
        if name.endswith("_days") and number is not None and not number.is_integer():
            raise DataError(f"{name.replace('_', ' ')} must be whole days, got {value!r}")
        row[name] = None if number is None else (int(number) if name.endswith("_days") else number)
    _policy(tenant_policy(settings_for_tenant(storage, tenant)), row).check(PRODUCT_HORIZON)
    storage.upsert("product_settings", tenant.id, [{"tenant_id": tenant.id, "product_id": str(product_id), **row,
                                                    "updated_at": datetime.now(timezone.utc)}])
    return row


# --- stock plans ----------------------------------------------------------------------------------


def refresh_stock(storage: Storage, tenant_id: str, *, settings: MLSettings | None = None,
                  now: datetime | None = None) -> pd.DataFrame:
    """Recompute and store today's stock plan of every product from the active model; returns the rows.

    Never trains. Without a product model there is nothing to plan (empty).
    Each product is planned on its own: a missing or negative stock count, or
    a product the model does not know, is that product's `status`, with a
    note saying what to do, never the whole refresh's failure.
    """
    tenant = get_tenant(storage, str(tenant_id))
    settings = settings_for_tenant(storage, tenant, base=settings)
    model = active_product_model(storage, tenant.id)
    if model is None:
        return pd.DataFrame()
    today = tenant_today(tenant.timezone, now)
    base = tenant_policy(settings)
    policies = product_policies(storage, tenant.id, settings)
    catalogue = storage.select("productos", tenant.id, columns=["id", "stock"])
    stock = dict(zip(catalogue["id"].astype(str), catalogue["stock"]))
    forecast = model.as_of(today)
    known = set(model.forecast.ids)
    planned_at = datetime.now(timezone.utc)  # rewritten on every refresh: what the dashboard's cache key reads
    rows = []
    for product in sorted(known | set(stock)):
        policy = policies.get(product, base)
        if policy.pack_size is None and product in model.whole_units:
            policy = replace(policy, pack_size=1.0)
        row = {"tenant_id": tenant.id, "product_id": product, "as_of": today, "model_version": model.version,
               "created_at": planned_at,
               "service_level": policy.service_level, "lead_time_days": policy.lead_time,
               "review_days": policy.review_period, "stock": None, "days_left": None, "runout_date": None,
               "early_date": None, "early_chance": None, "reorder_point": None, "order_quantity": None}
        rows.append({**row, **_plan(forecast, product, product in known, stock, policy, today)})
    written = storage.upsert("stock_plans", tenant.id, rows)
    log_event("stock_refreshed", tenant_id=tenant.id, products=written, model_version=model.version, as_of=str(today))
    return pd.DataFrame(rows)


def _plan(forecast: ProductForecast | None, product: str, known: bool, stock: dict, policy: Policy,
          today: date) -> dict[str, Any]:
    if not known:
        return {"status": "no_history", "stock": _number(stock.get(product)),
                "note": "no sales in the history: no forecast yet (the flat low-stock rule applies)"}
    if product not in stock:
        return {"status": "no_stock_record", "note": "not in the productos table: add it with its stock to plan it"}
    if forecast is None or forecast.horizon < policy.lead_time + policy.review_period:
        return {"status": "stale", "stock": _number(stock[product]),
                "note": "the product forecast is too old for this lead time and review period: retrain the products"}
    try:
        check_stock(stock[product])
    except DataError as exc:
        return {"status": "bad_stock", "stock": _number(stock[product]), "note": str(exc)}
    try:
        plan = plan_product(forecast, product, stock[product], 0.0, policy)
    except DataError as exc:  # the product's ordering settings (the stock was checked above)
        return {"status": "bad_settings", "stock": _number(stock[product]), "note": str(exc)}
    discontinued = forecast.demand_class(product) == "dormant"
    status = "discontinued" if discontinued else ("order" if plan.order > 0 else "ok")

    def day(k: int | None) -> date | None:  # day k ends k - 1 days after today's; 0 (out of stock) is today
        return None if k is None else today + timedelta(days=max(k - 1, 0))

    return {"status": status, "stock": plan.on_hand, "days_left": plan.days_left, "runout_date": day(plan.days_left),
            "early_date": day(plan.early_day), "early_chance": EARLY_CHANCE, "reorder_point": plan.reorder_point,
            "order_quantity": plan.order, "note": plan.message}


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def product_names(storage: Storage, tenant_id: str) -> dict[str, str]:
    """Product id -> its name in `productos` (a renamed product keeps its id, its history and its plans)."""
    products = storage.select("productos", str(tenant_id), columns=["id", "nombre"])
    return dict(zip(products["id"].astype(str), products["nombre"].astype(str)))


def stock_table(storage: Storage, tenant_id: str, *, now: datetime | None = None,
                model: ProductModel | None = None) -> pd.DataFrame:
    """The newest stock plan per product, with its name, method, class and expected units over 7 and 28 days.

    Sorted by days left (out of stock first, no run-out within the horizon
    last, products without a plan at the end). Empty before any product
    training. `model`: the active product model, when the caller has it.
    """
    tenant = get_tenant(storage, str(tenant_id))
    plans = storage.select("stock_plans", tenant.id, order_by="as_of", descending=True)
    if plans.empty:
        return pd.DataFrame()
    plans = plans[plans["as_of"] == plans["as_of"].max()].copy()
    plans["name"] = plans["product_id"].map(product_names(storage, tenant.id)).fillna(plans["product_id"])
    model = model or active_product_model(storage, tenant.id)
    if model is not None:
        info = model.forecast.products.set_index("unique_id")
        plans["method"] = plans["product_id"].map(info["method"])
        plans["method_label"] = plans["method"].map(lambda m: method_label(m) if isinstance(m, str) else None)
        plans["demand_class"] = plans["product_id"].map(info["demand_class"])
        forecast = model.as_of(pd.Timestamp(plans["as_of"].iloc[0]).date())
        expected = {p: _expected(forecast, p) for p in plans["product_id"] if p in info.index}
        for days in (7, 28):
            plans[f"units_{days}"] = [expected[p].get(days) if p in expected else None for p in plans["product_id"]]
    order = plans["days_left"].fillna(PRODUCT_HORIZON + 1)
    order = order.where(~plans["status"].isin(["no_history", "no_stock_record", "stale", "bad_stock"]),
                        PRODUCT_HORIZON + 2)
    plans = plans.assign(_order=order).sort_values(["_order", "name"]).drop(columns="_order")
    return plans.reset_index(drop=True)


def _expected(forecast: ProductForecast | None, product: str) -> dict[int, float]:
    """Mean demand summed over the next 7 and 28 days (the horizon left, if shorter), from one draw of paths."""
    if forecast is None:
        return {}
    sums = forecast.cumulative_paths(product).mean(axis=0)
    return {days: float(sums[min(days, forecast.horizon) - 1]) for days in (7, 28)}


# --- how the product forecasts did ----------------------------------------------------------------


def product_reliability(storage: Storage, tenant_id: str, *, days: int = 28, now: datetime | None = None,
                        units: pd.DataFrame | None = None) -> dict[str, Any] | None:
    """How the stored product forecasts did over the last `days` days that have actuals; None before any.

    Each product-day is its stored forecast (the newest one made before
    that day, `product_forecasts`) against the units sold (0 on a day
    without a sale). `wape`: absolute errors summed over sums of units, the
    "typically off by" figure; `coverage_80`/`coverage_95`: the share of
    product-days inside the bands; `by_class`: the same per demand class.
    `units`: the tenant's `daily_units` over at least those days, when the
    caller has read them already.
    """
    tenant = get_tenant(storage, str(tenant_id))
    yesterday = tenant_today(tenant.timezone, now) - timedelta(days=1)
    first = yesterday - timedelta(days=days - 1)
    forecasts = storage.select("product_forecasts", tenant.id, gte={"forecast_date": first})
    forecasts = forecasts[pd.to_datetime(forecasts["forecast_date"]).dt.date <= yesterday] if not forecasts.empty \
        else forecasts
    if forecasts.empty:
        return None
    if units is None:
        units = storage.daily_units(tenant.id, first, yesterday, tenant.timezone)
    actual = dict(zip(zip(units["product_id"].astype(str), pd.to_datetime(units["ds"]).dt.date), units["units"]))
    table = forecasts.assign(day=pd.to_datetime(forecasts["forecast_date"]).dt.date, product=forecasts["product_id"]
                             .astype(str))
    table["y"] = [max(float(actual.get(key, 0.0)), 0.0) for key in zip(table["product"], table["day"])]

    def score(part: pd.DataFrame) -> dict[str, Any]:
        sold = float(part["y"].sum())
        return {"product_days": len(part), "units": sold,
                "wape": float((part["y"] - part["yhat"]).abs().sum() / sold) if sold > 0 else None,
                **{f"coverage_{level}": float(((part["y"] >= part[f"yhat_lower_{level}"] - 1e-9)
                                               & (part["y"] <= part[f"yhat_upper_{level}"] + 1e-9)).mean())
                   for level in LEVELS}}

    return {"days": int(table["day"].nunique()), "products": int(table["product"].nunique()),
            "first_day": min(table["day"]), "last_day": max(table["day"]), **score(table),
            "by_class": {str(cls): score(part) for cls, part in table.groupby("demand_class")}}


def product_history(storage: Storage, tenant_id: str, product_id: str, *, days: int = 90,
                    now: datetime | None = None, units: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One product's units sold per day over the last `days` days (0 on days without a sale, from its first sale
    on; a day whose refunds outnumber its sales counts 0, as in the forecast's series) and its current forecast
    with bands (from the newest stored forecast rows, today on). `units`: the tenant's `daily_units` over
    those days, when the caller has read them already."""
    tenant = get_tenant(storage, str(tenant_id))
    today = tenant_today(tenant.timezone, now)
    first = today - timedelta(days=days)
    if units is None:
        units = storage.daily_units(tenant.id, first, today - timedelta(days=1), tenant.timezone)
    units = units[(units["product_id"].astype(str) == str(product_id)) & (units["ds"] >= pd.Timestamp(first))]
    history = pd.DataFrame(columns=["ds", "units"])
    if not units.empty:
        index = pd.date_range(units["ds"].min(), pd.Timestamp(today - timedelta(days=1)), freq="D", name="ds")
        history = units.set_index("ds")["units"].reindex(index, fill_value=0.0).clip(lower=0.0).reset_index()
    forecast = storage.select("product_forecasts", tenant.id, where={"product_id": str(product_id)},
                              gte={"forecast_date": today}, order_by="forecast_date")
    return history, forecast
