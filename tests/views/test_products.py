"""The Products & stock page's data (`forecasting.views.products`) and its tables (`forecasting.ui.tables`)."""

from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd
import pytest

from forecasting.core.errors import DataError
from forecasting.i18n.catalog import t
from forecasting.i18n.formatting import Formatter
from forecasting.ui import tables
from forecasting.views import products
from tests.support.dashboard_db import EMPTY, NEVER_TRAINED, TRAINED


def test_the_view_has_every_product_first_to_run_out_first(store):
    view = products.products_view(store, TRAINED)
    catalogue = store.select("productos", TRAINED)
    assert set(view.table["product_id"]) == set(catalogue["id"].astype(str))
    ranks = [products.RISKS.index(r) for r in view.table["risk"]]
    urgent = [r <= products.RISKS.index("order") for r in ranks]
    assert urgent == sorted(urgent, reverse=True)
    planned = view.table[view.table["risk"].isin(["order", "ok"])]
    left = planned["days_left"].fillna(99).tolist()
    assert left == sorted(left) or planned["risk"].nunique() > 1  # within "order" and "ok", by days left
    assert all(len(spark) == products.SPARK_DAYS and min(spark) >= 0 for spark in view.table["recent"])
    assert view.model_version and view.metrics["selection"] and view.has_product_sales
    assert view.count("out", "order_now", "order") == len(view.order_list())


def test_before_a_product_training_and_without_product_sales(store):
    never = products.products_view(store, NEVER_TRAINED)
    assert never.table.empty and never.has_product_sales and never.reliability is None
    empty = products.products_view(store, EMPTY)
    assert empty.table.empty and not empty.has_product_sales


def test_risk_says_how_urgent_a_plan_is():
    base = {"status": "order", "stock": 4.0, "days_left": 2, "lead_time_days": 2}
    assert products.risk_of(base) == "order_now"  # runs out before an order placed today arrives
    assert products.risk_of({**base, "days_left": 3}) == "order"
    assert products.risk_of({**base, "stock": 0.0, "days_left": 0}) == "out"
    assert products.risk_of({**base, "status": "ok", "days_left": None}) == "ok"
    assert products.risk_of({**base, "status": "stale"}) == "check"
    assert products.risk_of({**base, "status": "no_history"}) == "no_history"


def test_one_products_history_forecast_and_settings(store):
    view = products.products_view(store, TRAINED)
    product = view.table["product_id"].iloc[0]
    detail = products.product_detail(store, view, product)
    assert detail.history["ds"].max() == pd.Timestamp(view.today - timedelta(days=1))
    assert (detail.history["units"] >= 0).all() and len(detail.history) <= 91
    assert detail.forecast["ds"].min() == pd.Timestamp(view.today) and detail.forecast["ds"].is_monotonic_increasing
    assert detail.plan["risk"] == view.table["risk"].iloc[0] and set(detail.settings.values()) == {None}


def test_a_product_setting_replans_at_once_and_a_bad_one_is_refused(writable):
    view = products.products_view(writable, TRAINED)
    product = view.order_list()["product_id"].iloc[0]
    products.save_product_settings(writable, TRAINED, product, {"pack_size": 25.0})
    plan = products.products_view(writable, TRAINED).table.set_index("product_id").loc[product]
    assert plan["order_quantity"] > 0 and plan["order_quantity"] % 25 == 0
    with pytest.raises(DataError, match="service level"):
        products.save_product_settings(writable, TRAINED, product, {"service_level": 1.5})
    assert writable.select("product_settings", TRAINED)["pack_size"].tolist() == [25.0]


def test_the_order_list_opens_in_a_spanish_or_english_spreadsheet(store):
    view = products.products_view(store, TRAINED)
    orders = view.order_list()
    assert len(orders) > 0
    spanish = tables.order_list_csv(orders, Formatter("es", "EUR"))
    assert spanish.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    frame = pd.read_csv(io.BytesIO(spanish[3:]), sep=";", decimal=",")
    assert t("products.col.order", "es") in frame.columns and t("products.csv.order_by", "es") in frame.columns
    assert frame[t("products.col.order", "es")].tolist() == pytest.approx(orders["order_quantity"].round(2).tolist())
    assert frame[t("products.csv.service_level", "es")].iloc[0] == pytest.approx(0.95)
    assert b"0,95" in spanish and b"0.95" not in spanish
    english = pd.read_csv(io.BytesIO(tables.order_list_csv(orders, Formatter("en", "EUR"))[3:]))
    assert list(english.columns)[:4] == ["product id", "Product", "Stock", "Order"]


def test_tables_say_methods_and_days_in_words(store):
    view = products.products_view(store, TRAINED)
    for lang in ("en", "es"):
        fmt = Formatter(lang, "EUR")
        shown = tables.stock_table(view.table, fmt).data
        assert list(shown.columns)[:4] == [t(f"products.col.{c}", lang) for c in ("product", "risk", "days_left",
                                                                                  "order")]
        methods = tables.product_methods_table(view.table, fmt)
        words = " ".join(methods[t("products.col.method", lang)])
        assert "_" not in words and "autoets +" not in words.lower()
    fmt = Formatter("es", "EUR")
    assert tables.days_left_text({"risk": "ok", "days_left": None}, fmt) == "más de 28 días"
    assert tables.days_left_text({"risk": "order", "days_left": 1}, fmt) == "hoy"
    assert tables.days_left_text({"risk": "order", "days_left": 3}, fmt) == "3 días"
    assert tables.demand_method_text("autoets + sba_w x 1.1", fmt) == \
        "media de AutoETS y Croston SBA × el perfil semanal de la tienda, por 1,10"


def test_reliability_is_scored_once_forecast_days_have_sales(scored):
    view = products.products_view(scored, TRAINED)
    score = view.reliability
    assert score is not None and score["days"] >= 13 and score["products"] == len(view.table)
    assert 0 < score["wape"] < 2 and 0 <= score["coverage_80"] <= score["coverage_95"] <= 1
    shown = tables.product_reliability_table(score, Formatter("en", "EUR"))
    assert len(shown) == len(score["by_class"])
