"""Units per product and local day (`Storage.daily_units`): the rule for each kind of sale, on every backend."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
import pytest

from tests.support import open_backend

MADRID = "Europe/Madrid"


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def shop(request, tmp_path):
    store = open_backend(request, tmp_path, request.param)
    for tenant in ("t", "other"):
        store.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant, "timezone": MADRID}])

    def sale(id_, tenant, moment, total, product=None, quantity=None):
        return {"id": id_, "negocio_id": tenant, "fecha": moment, "total": total, "producto_id": product,
                "cantidad": quantity}

    utc = timezone.utc
    store.upsert("ventas", "t", [
        sale("a", "t", datetime(2026, 3, 1, 23, 30, tzinfo=utc), 10.0, "bread", 2),  # 00:30 on 2 March in Madrid
        sale("b", "t", datetime(2026, 3, 2, 9, 0, tzinfo=utc), 4.0, "bread"),  # no cantidad: one item
        sale("c", "t", datetime(2026, 3, 2, 18, 0, tzinfo=utc), -5.0, "bread", 1),  # a refund subtracts
        sale("d", "t", datetime(2026, 3, 2, 10, 0, tzinfo=utc), 3.2, "cheese", 0.4),  # kilograms
        sale("e", "t", datetime(2026, 3, 3, 10, 0, tzinfo=utc), 7.0),  # no product: not product demand
        sale("f", "t", datetime(2026, 3, 9, 10, 0, tzinfo=utc), 7.0, "bread", 3),  # after the window
    ])
    store.upsert("ventas", "other", [sale("g", "other", datetime(2026, 3, 2, 10, 0, tzinfo=utc), 99.0, "bread", 50)])
    yield store
    store.close()


def test_units_follow_the_rule_for_each_kind_of_sale_in_the_shops_time_zone(shop):
    units = shop.daily_units("t", date(2026, 3, 1), date(2026, 3, 8), MADRID)
    assert list(units.columns) == ["product_id", "ds", "units"]
    assert units.to_dict("records") == [
        {"product_id": "bread", "ds": pd.Timestamp("2026-03-02"), "units": pytest.approx(2 + 1 - 1)},
        {"product_id": "cheese", "ds": pd.Timestamp("2026-03-02"), "units": pytest.approx(0.4)},
    ]


def test_a_window_without_product_sales_is_an_empty_frame_with_the_columns(shop):
    units = shop.daily_units("t", date(2026, 4, 1), date(2026, 4, 30), MADRID)
    assert units.empty and list(units.columns) == ["product_id", "ds", "units"]
