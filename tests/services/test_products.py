"""Demand per product as a service: trained from the tenant's sales, stored, planned, refreshed, notified, scored."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecasting.core.errors import DataError, ModelError
from forecasting.services import products as svc
from forecasting.storage import SQLStorage
from tests.support import FAST, NOW

ZONE = "Europe/Madrid"
DAYS = 150
TODAY = NOW.date()  # 26 Nov 2026 in Madrid at NOW
ON = FAST.model_copy(update={"train_products": True})


def build_shop(storage, tenant: str = "bakery", *, days: int = DAYS, scale: float = 1.0) -> None:
    """A shop whose products sell by a rule simple enough to work out the stock plan by hand:

    `steady` sells 10 units every day, `fifth` 3 units every fifth day, `kg` 0.5 kg a day, and
    `unsold` is listed but has never sold.
    """
    storage.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant.title(), "timezone": ZONE, "country": "ES"}])
    storage.upsert("productos", tenant, [
        {"id": f"{tenant}-steady", "negocio_id": tenant, "nombre": "Steady bread", "stock": 25.0, "precio": 1.0},
        {"id": f"{tenant}-fifth", "negocio_id": tenant, "nombre": "Fifth-day cake", "stock": 40.0, "precio": 9.0},
        {"id": f"{tenant}-kg", "negocio_id": tenant, "nombre": "Cheese (kg)", "stock": 100.0, "precio": 20.0},
        {"id": f"{tenant}-unsold", "negocio_id": tenant, "nombre": "New jam", "stock": 2.0, "precio": 4.0},
    ])
    rows = []
    for k in range(days):
        day = TODAY - timedelta(days=days - k)
        noon = datetime(day.year, day.month, day.day, 11, 0, tzinfo=timezone.utc)  # 12:00 in Madrid
        rows.append({"id": f"{tenant}-s{k}", "negocio_id": tenant, "fecha": noon, "total": 10.0,
                     "producto_id": f"{tenant}-steady", "cantidad": 10.0 * scale})
        rows.append({"id": f"{tenant}-k{k}", "negocio_id": tenant, "fecha": noon, "total": 10.0,
                     "producto_id": f"{tenant}-kg", "cantidad": 0.5 * scale})
        if k % 5 == 0:
            rows.append({"id": f"{tenant}-f{k}", "negocio_id": tenant, "fecha": noon, "total": 27.0,
                         "producto_id": f"{tenant}-fifth", "cantidad": 3.0 * scale})
    storage.upsert("ventas", tenant, rows)


@pytest.fixture
def shop(storage):
    build_shop(storage)
    return storage


@pytest.fixture
def trained(shop):
    result = svc.train_products(shop, "bakery", settings=ON, now=NOW)
    return shop, result


def plans_by_product(frame: pd.DataFrame) -> dict[str, dict]:
    return {row["product_id"]: row for row in frame.to_dict(orient="records")}


def test_training_writes_every_products_forecast_the_model_and_todays_plans(trained):
    storage, result = trained
    assert result.version and result.products == 3  # the unsold product has no series
    assert storage.count("product_forecasts", "bakery") == 3 * svc.PRODUCT_HORIZON
    assert storage.count("product_models", "bakery") == 1
    forecasts = storage.select("product_forecasts", "bakery")
    days = pd.to_datetime(forecasts["forecast_date"]).dt.date
    assert days.min() == TODAY and days.max() == TODAY + timedelta(days=svc.PRODUCT_HORIZON - 1)
    assert (forecasts["yhat_lower_95"] <= forecasts["yhat_lower_80"]).all()
    assert (forecasts["yhat_lower_80"] <= forecasts["yhat"]).all() and (forecasts["yhat"] <= forecasts["yhat_upper_80"]).all()
    assert (forecasts["yhat_upper_80"] <= forecasts["yhat_upper_95"]).all()
    plans = plans_by_product(storage.select("stock_plans", "bakery"))
    assert set(plans) == {"bakery-steady", "bakery-fifth", "bakery-kg", "bakery-unsold"}
    assert {p["as_of"] for p in plans.values()} == {TODAY}
    assert plans["bakery-unsold"]["status"] == "no_history" and pd.isna(plans["bakery-unsold"]["days_left"])


def test_a_steady_product_gets_the_plan_worked_out_by_hand(trained):
    """10 a day, 25 in stock: the paths are (nearly) all 10, 20, 30 ...: run-out on day 3 (the day after tomorrow);
    lead time 2 + review 7 days need 90 at most, so order 90 - 25 = 65."""
    storage, _ = trained
    steady = plans_by_product(storage.select("stock_plans", "bakery"))["bakery-steady"]
    assert steady["status"] == "order"
    assert steady["days_left"] == 3 and steady["runout_date"] == TODAY + timedelta(days=2)
    assert steady["reorder_point"] == pytest.approx(20, abs=1)  # two days of 10
    assert steady["order_quantity"] == pytest.approx(65, abs=2) and float(steady["order_quantity"]).is_integer()
    assert (steady["lead_time_days"], steady["review_days"], steady["service_level"]) == (2, 7, 0.95)


def test_fractional_units_are_ordered_as_they_sell_and_whole_ones_in_whole_units(trained):
    storage, _ = trained
    plans = plans_by_product(storage.select("stock_plans", "bakery"))
    assert plans["bakery-kg"]["status"] == "ok" and plans["bakery-kg"]["order_quantity"] == 0  # 100 kg last 200 days
    storage.update("productos", "bakery", {"stock": 1.0}, where={"id": "bakery-kg"})
    kg = plans_by_product(svc.refresh_stock(storage, "bakery", settings=ON, now=NOW))["bakery-kg"]
    assert kg["order_quantity"] == pytest.approx(4.5 - 1.0, abs=0.3) and not float(kg["order_quantity"]).is_integer()


def test_refresh_uses_the_newest_stock_without_retraining_and_rewrites_todays_row(trained):
    storage, result = trained
    storage.update("productos", "bakery", {"stock": 95.0}, where={"id": "bakery-steady"})
    plans = plans_by_product(svc.refresh_stock(storage, "bakery", settings=ON, now=NOW))
    assert plans["bakery-steady"]["days_left"] == 10 and plans["bakery-steady"]["model_version"] == result.version
    assert storage.count("product_models", "bakery") == 1  # nothing retrained
    assert storage.count("stock_plans", "bakery") == 4  # today's rows rewritten, not added
    later = plans_by_product(svc.refresh_stock(storage, "bakery", settings=ON, now=NOW + timedelta(days=3)))
    assert later["bakery-steady"]["as_of"] == TODAY + timedelta(days=3)
    assert storage.count("stock_plans", "bakery") == 8  # one plan per product and day


def test_a_forecast_too_old_for_the_ordering_cycle_says_retrain(trained):
    storage, _ = trained
    plans = plans_by_product(svc.refresh_stock(storage, "bakery", settings=ON, now=NOW + timedelta(days=21)))
    assert plans["bakery-steady"]["status"] == "stale" and "retrain" in plans["bakery-steady"]["note"]
    assert plans["bakery-steady"]["order_quantity"] is None


def test_training_twice_rewrites_the_same_rows_and_keeps_both_versions(trained):
    storage, first = trained
    second = svc.train_products(storage, "bakery", settings=ON, now=NOW)
    assert second.version != first.version
    assert storage.count("product_forecasts", "bakery") == 3 * svc.PRODUCT_HORIZON
    assert storage.count("stock_plans", "bakery") == 4
    assert storage.count("product_models", "bakery") == 2
    assert set(storage.select("product_forecasts", "bakery")["model_version"]) == {second.version}
    assert svc.active_product_model(storage, "bakery").version == second.version


def test_bad_stock_is_that_products_status_and_the_others_are_planned(trained):
    storage, _ = trained
    storage.update("productos", "bakery", {"stock": -4.0}, where={"id": "bakery-steady"})
    plans = plans_by_product(svc.refresh_stock(storage, "bakery", settings=ON, now=NOW))
    assert plans["bakery-steady"]["status"] == "bad_stock" and "negative" in plans["bakery-steady"]["note"]
    assert plans["bakery-fifth"]["status"] == "ok" and "lasts beyond 28 days" in plans["bakery-fifth"]["note"]


def test_a_product_override_changes_its_plan_and_a_bad_one_writes_nothing(trained):
    storage, _ = trained
    svc.save_product_settings(storage, "bakery", "bakery-steady", pack_size=12, lead_time_days=1)
    steady = plans_by_product(svc.refresh_stock(storage, "bakery", settings=ON, now=NOW))["bakery-steady"]
    assert steady["lead_time_days"] == 1 and steady["order_quantity"] % 12 == 0
    assert steady["order_quantity"] == 60  # 8 days of 10 = 80, less 25 on hand = 55, in packs of 12
    with pytest.raises(DataError, match="longer than the forecast horizon"):
        svc.save_product_settings(storage, "bakery", "bakery-steady", review_days=28)
    with pytest.raises(DataError, match="not in this business"):
        svc.save_product_settings(storage, "bakery", "other-steady", pack_size=6)
    with pytest.raises(DataError, match="pack size must be a number"):
        svc.save_product_settings(storage, "bakery", "bakery-steady", pack_size="a dozen")
    with pytest.raises(DataError, match="whole days"):
        svc.save_product_settings(storage, "bakery", "bakery-steady", lead_time_days=1.5)
    with pytest.raises(DataError, match="unknown product setting"):
        svc.save_product_settings(storage, "bakery", "bakery-steady", colour="red")
    stored = storage.select("product_settings", "bakery")
    assert len(stored) == 1 and stored.iloc[0]["review_days"] is None or pd.isna(stored.iloc[0]["review_days"])


def test_a_shop_without_product_sales_has_nothing_to_train(storage):
    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": ZONE}])
    storage.upsert("ventas", "t", [{"id": "v1", "negocio_id": "t", "fecha": NOW - timedelta(days=3), "total": 5.0}])
    result = svc.train_products(storage, "t", settings=ON, now=NOW)
    assert result.version is None and "producto_id" in result.note
    assert storage.count("product_models", "t") == 0
    assert svc.refresh_stock(storage, "t", settings=ON, now=NOW).empty and svc.stock_table(storage, "t").empty


def test_a_product_model_changed_outside_is_refused(trained):
    storage, result = trained
    row = storage.select("product_models", "bakery").iloc[0]
    sealed = json.loads(row["model_data"])
    state = json.loads(sealed["state"])
    state["yhat"][0] = [0.0] * len(state["yhat"][0])  # someone lowers a forecast to stop an order
    sealed["state"] = json.dumps(state)
    storage.update("product_models", "bakery", {"model_data": json.dumps(sealed)}, where={"model_version": result.version})
    with pytest.raises(ModelError, match="not signed by this installation"):
        svc.refresh_stock(storage, "bakery", settings=ON, now=NOW)


def test_another_tenants_rows_change_nothing(tmp_path):
    """Learning never crosses tenants: the same shop alone, or beside a bigger one, gets the same forecasts."""
    alone = SQLStorage.sqlite_file(tmp_path / "alone.db")
    shared = SQLStorage.sqlite_file(tmp_path / "shared.db")
    try:
        build_shop(alone)
        build_shop(shared)
        build_shop(shared, "giant", days=400, scale=7.0)
        svc.train_products(shared, "giant", settings=ON, now=NOW)
        a = svc.train_products(alone, "bakery", settings=ON, now=NOW)
        b = svc.train_products(shared, "bakery", settings=ON, now=NOW)
        assert a.products == b.products == 3
        fa = svc.active_product_model(alone, "bakery").forecast
        fb = svc.active_product_model(shared, "bakery").forecast
        assert list(fa.ids) == list(fb.ids)
        np.testing.assert_allclose(fa.yhat, fb.yhat)
        np.testing.assert_allclose(fa.norm, fb.norm)
        assert set(shared.select("product_forecasts", "bakery")["product_id"]) == {
            "bakery-steady", "bakery-fifth", "bakery-kg"}
    finally:
        alone.close()
        shared.close()


def test_reliability_scores_stored_forecasts_once_their_days_have_sales(trained):
    """A week later: steady sold its 10 a day as forecast, cheese and cake sold nothing. The error is what those
    two were forecast, over the 70 units sold; steady and the cake (0 is its usual day) are inside their bands,
    the cheese (0.5 kg every day until then) is not."""
    storage, _ = trained
    assert svc.product_reliability(storage, "bakery", now=NOW) is None  # no forecast day has passed
    noon = datetime(TODAY.year, TODAY.month, TODAY.day, 11, tzinfo=timezone.utc)
    storage.upsert("ventas", "bakery", [{"id": f"late-{k}", "negocio_id": "bakery", "fecha": noon + timedelta(days=k),
                                         "total": 10.0, "producto_id": "bakery-steady", "cantidad": 10.0}
                                        for k in range(7)])
    score = svc.product_reliability(storage, "bakery", now=NOW + timedelta(days=7))
    assert (score["days"], score["products"], score["product_days"]) == (7, 3, 21)
    assert score["first_day"] == TODAY and score["last_day"] == TODAY + timedelta(days=6)
    forecasts = storage.select("product_forecasts", "bakery")
    week = forecasts[pd.to_datetime(forecasts["forecast_date"]).dt.date < TODAY + timedelta(days=7)]
    unsold = week[week["product_id"] != "bakery-steady"]["yhat"].sum()
    steady = week[week["product_id"] == "bakery-steady"]["yhat"]
    assert score["units"] == pytest.approx(70)
    assert score["wape"] == pytest.approx((unsold + (steady - 10).abs().sum()) / 70)
    assert score["coverage_80"] == pytest.approx(14 / 21) and score["coverage_95"] == pytest.approx(14 / 21)
    assert score["by_class"]["smooth"]["product_days"] == 14 and score["by_class"]["intermittent"]["coverage_80"] == 1


def test_the_stock_table_puts_the_first_to_run_out_first(trained):
    storage, _ = trained
    table = svc.stock_table(storage, "bakery", now=NOW)
    assert table["product_id"].iloc[0] == "bakery-steady" and table["name"].iloc[0] == "Steady bread"
    assert table["product_id"].iloc[-1] == "bakery-unsold"
    steady = table.iloc[0]
    assert steady["units_7"] == pytest.approx(70, rel=0.05) and steady["units_28"] == pytest.approx(280, rel=0.05)
    assert isinstance(steady["method_label"], str) and "_" not in steady["method_label"]


def test_the_weekly_retrain_trains_products_too(shop):
    from forecasting.services.training import retrain_tenant

    result = retrain_tenant(shop, "bakery", settings=ON, now=NOW)
    products = result.summary()["products"]
    assert products["products"] == 3 and products["rows_written"]["stock_plans"] == 4
    off = retrain_tenant(shop, "bakery", settings=FAST, now=NOW)
    assert off.summary()["products"] is None and shop.count("product_models", "bakery") == 1


def test_a_stock_out_risk_is_notified_once_and_replaces_the_flat_rule_for_planned_products(trained):
    from forecasting.services.notifications import check_rules
    from forecasting.services.tenants import get_tenant

    storage, _ = trained
    storage.update("productos", "bakery", {"stock": 4.8}, where={"id": "bakery-kg"})  # under 5, yet 9.6 days of cheese
    svc.refresh_stock(storage, "bakery", settings=ON, now=NOW)
    tenant = get_tenant(storage, "bakery")
    written = check_rules(storage, tenant, ON, None, today=TODAY)
    again = check_rules(storage, tenant, ON, None, today=TODAY)
    assert again == []  # deduplicated
    notes = storage.select("notifications", "bakery").set_index("event_key")
    week = f"{TODAY.isocalendar()[0]}-W{TODAY.isocalendar()[1]:02d}"
    # steady runs out the day after tomorrow with 25: order 65 today (lead time 2 days)
    risk = notes.loc[f"stock_risk:bakery-steady:{week}"]
    assert risk["kind"] == "stock_risk" and risk["title"] == "Steady bread: likely to run out Sat, Nov 28"
    assert risk["message"] == "Order 65 by Thu, Nov 26."  # every path runs out that day: no "1 in 5" clause
    # the flat rule only for the product without sales; cheese has a plan that says it lasts
    assert set(written) == {f"stock_risk:bakery-steady:{week}", f"low_stock:bakery-unsold:{week}"}


def test_the_daily_summary_counts_products_to_order_from_todays_plans(trained):
    from forecasting.services.notifications import daily_summary
    from forecasting.services.tenants import get_tenant

    storage, _ = trained
    assert daily_summary(storage, get_tenant(storage, "bakery"), None, today=TODAY)
    summary = storage.select("notifications", "bakery", where={"kind": "daily_summary"}).iloc[0]
    assert "Products to order today: 1." in summary["message"]  # steady; not the flat rule's count
    assert "low on stock" not in summary["message"]


def test_the_hourly_refresh_replans_stock_and_the_cleanup_removes_old_product_rows(trained):
    from forecasting.ops import jobs

    storage, result = trained
    outcome = jobs.refresh_all_features(storage, ON, now=NOW + timedelta(days=1))
    assert outcome.failed == 0 and outcome.details["bakery"]["stock_plans"] == 4
    assert storage.count("stock_plans", "bakery") == 8 and storage.count("product_models", "bakery") == 1
    for k in range(6):  # older versions, as weekly retrains leave them
        storage.upsert("product_models", "bakery", [{"tenant_id": "bakery", "model_version": f"2025010{k}T000000Z",
                                                     "products": 3, "model_data": "{}"}])
    later = datetime.combine(TODAY + timedelta(days=95), datetime.min.time(), timezone.utc)
    details = jobs.cleanup_old_predictions(storage, ON, now=later).details
    assert details["stock_plans_deleted"] == 8 and details["product_models_deleted"] == 3
    kept = storage.select("product_models", "bakery")["model_version"]
    assert len(kept) == svc.PRODUCT_MODELS_KEPT and result.version in set(kept)
    assert details["product_forecasts_deleted"] == 0  # kept 400 days for scoring
    much_later = datetime.combine(TODAY + timedelta(days=440), datetime.min.time(), timezone.utc)
    assert jobs.cleanup_old_predictions(storage, ON, now=much_later).details["product_forecasts_deleted"] == 84


def test_bad_product_rows_each_get_their_own_words_and_nothing_breaks(shop):
    """A product sold but not in productos, an absurd count on one day, a renamed product."""
    noon = datetime(TODAY.year, TODAY.month, TODAY.day, 11, tzinfo=timezone.utc)
    shop.upsert("ventas", "bakery", [
        *[{"id": f"ghost-{k}", "negocio_id": "bakery", "fecha": noon - timedelta(days=k + 1), "total": 3.0,
           "producto_id": "bakery-ghost", "cantidad": 2.0} for k in range(60)],
        {"id": "typo", "negocio_id": "bakery", "fecha": noon - timedelta(days=40), "total": 5.0,
         "producto_id": "bakery-kg", "cantidad": 1e9},  # someone typed the barcode into the quantity
    ])
    result = svc.train_products(shop, "bakery", settings=ON, now=NOW)
    assert result.products == 4
    forecasts = shop.select("product_forecasts", "bakery")
    assert np.isfinite(forecasts[["yhat", "yhat_upper_95"]].to_numpy()).all()
    plans = plans_by_product(result.plans)
    assert plans["bakery-ghost"]["status"] == "no_stock_record" and "productos" in plans["bakery-ghost"]["note"]
    assert (forecasts["product_id"] == "bakery-ghost").sum() == svc.PRODUCT_HORIZON  # forecast all the same
    assert plans["bakery-kg"]["status"] in ("ok", "order") and np.isfinite(plans["bakery-kg"]["order_quantity"])
    shop.update("productos", "bakery", {"nombre": "Sourdough"}, where={"id": "bakery-steady"})
    table = svc.stock_table(shop, "bakery", now=NOW).set_index("product_id")
    assert table.loc["bakery-steady", "name"] == "Sourdough"  # products are known by id, named by productos


def test_a_product_failure_is_reported_beside_a_good_total(shop, monkeypatch):
    """Fault injection: whatever breaks in the products, the totals' model and forecast are saved and
    the retrain succeeds, saying what went wrong with the products."""
    from forecasting.services import training

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the product path")

    monkeypatch.setattr(training, "train_products", broken)
    result = training.retrain_tenant(shop, "bakery", settings=ON, now=NOW)
    assert result.summary()["products"] == {"error": "ZeroDivisionError: a bug in the product path"}
    assert shop.count("ml_models", "bakery") == 1 and shop.count("product_models", "bakery") == 0
