"""Tests for the demo data generator (forecasting.services.demo)."""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np
import pandas as pd
import pytest

from forecasting.services.demo import DemoData, generate_demo

END = dt.date(2025, 6, 30)
DAYS = 400  # covers a December, a spring and enough weeks around every anomaly


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_demo(n_tenants=6, days=DAYS, seed=7, end=END)


def _local_dates(demo: DemoData) -> pd.Series:
    """Tenant-local calendar date of every sale."""
    tz = demo.negocios.set_index("id")["timezone"]
    out = pd.Series(index=demo.ventas.index, dtype=object)
    for tid, g in demo.ventas.groupby("negocio_id"):
        out[g.index] = g["fecha"].dt.tz_convert(tz[tid]).dt.date
    return out


@pytest.fixture(scope="module")
def daily(demo: DemoData) -> pd.DataFrame:
    """Revenue per tenant and local day, with zero-revenue days filled in."""
    v = demo.ventas.assign(local_date=_local_dates(demo))
    rev = v.groupby(["negocio_id", "local_date"])["total"].sum()
    all_days = pd.date_range(END - dt.timedelta(days=DAYS - 1), END).date
    full = pd.MultiIndex.from_product([demo.negocios["id"], all_days], names=["negocio_id", "local_date"])
    return rev.reindex(full, fill_value=0.0).rename("revenue").reset_index()


def _tenant_daily(daily: pd.DataFrame, tid: str) -> pd.Series:
    return daily[daily["negocio_id"] == tid].set_index("local_date")["revenue"]


def _assert_demo_equal(a: DemoData, b: DemoData) -> None:
    for name in ("negocios", "ventas", "productos", "anomalies"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


# --- shape and types ---------------------------------------------------------------------------


def test_columns_and_dtypes(demo: DemoData) -> None:
    assert list(demo.negocios.columns) == ["id", "nombre", "timezone", "country", "currency"]
    assert list(demo.ventas.columns) == ["id", "negocio_id", "fecha", "total", "producto_id", "cantidad"]
    assert list(demo.productos.columns) == ["id", "negocio_id", "nombre", "stock", "precio"]
    assert list(demo.anomalies.columns) == ["negocio_id", "date", "kind", "factor"]
    assert str(demo.ventas["fecha"].dtype) == "datetime64[ns, UTC]"
    assert demo.ventas["total"].dtype == np.float64
    assert demo.ventas["cantidad"].dtype == np.float64
    assert demo.productos["stock"].dtype == np.float64
    assert demo.productos["precio"].dtype == np.float64
    assert list(demo.negocios["id"]) == ["1", "2", "3", "4", "5", "6"]
    assert all(isinstance(d, dt.date) and not isinstance(d, dt.datetime) for d in demo.anomalies["date"])


def test_ids_unique_and_referentially_consistent(demo: DemoData) -> None:
    assert demo.ventas["id"].is_unique
    assert demo.productos["id"].is_unique
    assert set(demo.ventas["negocio_id"]) == set(demo.negocios["id"])
    # A sale's product belongs to the same tenant; ad-hoc sales have no product.
    owner = demo.productos.set_index("id")["negocio_id"]
    with_product = demo.ventas.dropna(subset=["producto_id"])
    assert (with_product["producto_id"].map(owner) == with_product["negocio_id"]).all()
    assert demo.ventas["producto_id"].isna().any()


def _recent_rate(demo: DemoData) -> pd.Series:
    """Units per day of each product over the demo's last 28 days."""
    last = demo.ventas["fecha"].max().normalize() - pd.Timedelta(days=27)
    recent = demo.ventas[demo.ventas["fecha"] >= last]
    return recent.groupby("producto_id")["cantidad"].sum().clip(lower=0) / 28


def test_products_per_tenant_and_stock_from_demand(demo: DemoData) -> None:
    per_tenant = demo.productos.groupby("negocio_id")
    assert per_tenant.size().between(8, 20).all()
    assert (demo.productos["precio"] > 0).all()
    assert (demo.productos["stock"] >= 0).all()
    cover = demo.productos.set_index("id")["stock"] / _recent_rate(demo).reindex(demo.productos["id"]).to_numpy()
    products = demo.productos.assign(cover=cover.to_numpy(), rate=_recent_rate(demo).reindex(
        demo.productos["id"]).fillna(0).to_numpy())
    for tenant, shop in products.groupby("negocio_id"):
        best = shop.nlargest(3, "rate")
        assert (best["cover"] < 2).any(), f"tenant {tenant}: a best seller about to run out (the stock alert)"
        assert (shop["cover"] > 14).sum() >= len(shop) // 2, f"tenant {tenant}: most products are comfortable"


def test_seasonal_and_new_products(demo: DemoData) -> None:
    ventas = demo.ventas[demo.ventas["producto_id"].notna() & (demo.ventas["total"] > 0)]
    names = demo.productos.set_index("id")["nombre"]
    by_name = ventas.assign(nombre=ventas["producto_id"].map(names), month=ventas["fecha"].dt.month)
    roscon = by_name[by_name["nombre"] == "Roscón de Reyes"]["month"].value_counts()
    assert roscon.reindex([12, 1]).sum() > 0.8 * roscon.sum()  # around Twelfth Night, hardly ever otherwise
    first = by_name.groupby("nombre")["fecha"].min()
    last_day = demo.ventas["fecha"].max()
    new = first[first > last_day - pd.Timedelta(days=21)]
    assert len(new) == demo.negocios.shape[0], "each shop lists one product in the last three weeks"


def test_tenants_differ_in_currency_country_and_size(demo: DemoData, daily: pd.DataFrame) -> None:
    assert demo.negocios["currency"].nunique() == 6
    assert demo.negocios["country"].nunique() == 6
    assert demo.negocios["timezone"].nunique() == 6
    assert demo.ventas.groupby("negocio_id").size().nunique() == 6


def test_totals_are_rounded_to_currency_units(demo: DemoData) -> None:
    v = demo.ventas.merge(demo.negocios[["id", "currency"]], left_on="negocio_id", right_on="id")
    assert np.allclose(v["total"], v["total"].round(2), rtol=0, atol=1e-9)
    clp = v.loc[v["currency"] == "CLP", "total"]
    assert np.allclose(clp, clp.round(0), rtol=0, atol=1e-9)
    assert (v["total"] != 0).all()


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_gives_identical_frames() -> None:
    _assert_demo_equal(
        generate_demo(n_tenants=3, days=60, seed=11, end=END),
        generate_demo(n_tenants=3, days=60, seed=11, end=END),
    )


def test_different_seed_gives_different_data() -> None:
    a = generate_demo(n_tenants=3, days=60, seed=11, end=END)
    b = generate_demo(n_tenants=3, days=60, seed=12, end=END)
    assert len(a.ventas) != len(b.ventas) or not a.ventas["total"].equals(b.ventas["total"])


def test_tenant_data_does_not_depend_on_n_tenants() -> None:
    small = generate_demo(n_tenants=3, days=90, seed=5, end=END)
    large = generate_demo(n_tenants=6, days=90, seed=5, end=END)
    first3 = {"1", "2", "3"}
    for name in ("negocios", "ventas", "productos", "anomalies"):
        big = getattr(large, name)
        key = "id" if name == "negocios" else "negocio_id"
        pd.testing.assert_frame_equal(
            getattr(small, name), big[big[key].isin(first3)].reset_index(drop=True), obj=name
        )


def test_archetypes_cycle_with_suffix_and_own_scale() -> None:
    d = generate_demo(n_tenants=8, days=60, seed=3, end=END)
    neg = d.negocios.set_index("id")
    assert list(neg.index) == [str(i) for i in range(1, 9)]
    assert neg.loc["7", "nombre"] == neg.loc["1", "nombre"] + " 2"
    assert neg.loc["7", ["timezone", "country", "currency"]].tolist() == neg.loc[
        "1", ["timezone", "country", "currency"]
    ].tolist()
    sizes = d.ventas.groupby("negocio_id").size()
    assert sizes["7"] != sizes["1"]


# --- calendar ------------------------------------------------------------------------------------


def test_fecha_is_utc_and_within_history(demo: DemoData) -> None:
    assert demo.ventas["fecha"].dt.tz is not None
    assert str(demo.ventas["fecha"].dt.tz) == "UTC"
    local = _local_dates(demo)
    assert local.min() == END - dt.timedelta(days=DAYS - 1)
    assert local.max() == END


def test_default_end_is_yesterday_utc() -> None:
    d = generate_demo(n_tenants=6, days=3)
    today_utc = dt.datetime.now(dt.timezone.utc).date()
    local = _local_dates(d)
    assert local.max() <= today_utc - dt.timedelta(days=1)
    assert local.min() >= today_utc - dt.timedelta(days=3)


def test_bakery_is_closed_on_sundays_and_holidays(demo: DemoData, daily: pd.DataFrame) -> None:
    bakery = demo.negocios.query("timezone == 'Europe/Madrid'")["id"].iloc[0]
    rev = _tenant_daily(daily, bakery)
    n_sales = demo.ventas.assign(d=_local_dates(demo)).query("negocio_id == @bakery").groupby("d").size()
    sundays = [d for d in rev.index if d.weekday() == 6]
    assert sundays and not any(d in n_sales.index for d in sundays), "sales on a Sunday"
    es = holidays.country_holidays("ES", years=range(2024, 2026))
    assert not any(d in es for d in n_sales.index), "sales on a national holiday"
    open_days = [d for d in rev.index if d.weekday() != 6 and d not in es]
    assert (rev[open_days] > 0).mean() > 0.99


def test_refunds_are_negative_and_rare(demo: DemoData) -> None:
    v = demo.ventas
    refunds = v[v["total"] < 0]
    share = len(refunds) / len(v)
    assert 0.005 < share < 0.03
    assert (refunds["cantidad"] < 0).all()
    assert (v.loc[v["total"] > 0, "cantidad"] > 0).all()
    assert refunds["negocio_id"].nunique() == 6


# --- patterns ------------------------------------------------------------------------------------


def test_every_tenant_has_a_weekly_pattern(demo: DemoData, daily: pd.DataFrame) -> None:
    for tid in demo.negocios["id"]:
        rev = _tenant_daily(daily, tid)
        dow_mean = rev.groupby([d.weekday() for d in rev.index]).mean()
        assert dow_mean.max() > 1.2 * dow_mean.min(), f"tenant {tid} has no weekly pattern"


def test_yearly_seasonality(demo: DemoData, daily: pd.DataFrame) -> None:
    neg = demo.negocios.set_index("timezone")["id"]

    def monthly(tid: str) -> pd.Series:
        rev = _tenant_daily(daily, tid)
        return rev.groupby([d.month for d in rev.index]).mean()

    boutique = monthly(neg["America/Argentina/Buenos_Aires"])
    assert boutique[12] > 1.5 * boutique[[3, 4, 5]].mean()
    garden = monthly(neg["America/New_York"])
    assert garden[[4, 5]].mean() > 2 * garden[[1, 2]].mean()


def test_injected_anomalies_stand_out(demo: DemoData, daily: pd.DataFrame) -> None:
    an = demo.anomalies
    assert an.groupby("negocio_id").size().between(3, 6).all()
    assert set(an["negocio_id"]) == set(demo.negocios["id"])
    assert set(an["kind"]) == {"spike", "drop"}
    assert an.loc[an["kind"] == "spike", "factor"].between(3, 5).all()
    assert an.loc[an["kind"] == "drop", "factor"].between(0.1, 0.3).all()
    sales = demo.ventas.assign(d=_local_dates(demo)).query("total > 0")
    sale_days = set(zip(sales["negocio_id"], sales["d"]))
    for row in an.itertuples():
        assert (row.negocio_id, row.date) in sale_days, f"anomaly {row} on a closed day"
        rev = _tenant_daily(daily, row.negocio_id)
        neighbours = [row.date + dt.timedelta(weeks=w) for w in range(-4, 5) if w]
        median = np.median(rev.reindex(neighbours).dropna())
        assert median > 0, f"anomaly {row} placed in a closed period"
        # Net revenue: refunds of earlier sales may even push a drop day below zero.
        if row.kind == "spike":
            assert rev[row.date] > 2 * median, row
        else:
            assert rev[row.date] < 0.6 * median, row


# --- arguments and sizes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"n_tenants": 0}, {"n_tenants": -2}, {"n_tenants": 1.5}, {"days": 0}, {"days": -7}, {"days": "30"}],
)
def test_invalid_arguments_raise_value_error(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        generate_demo(end=END, **kwargs)


@pytest.mark.parametrize("n_tenants,days", [(1, 1), (1, 7), (2, 30), (300, 1)])
def test_small_and_wide_demos_work(n_tenants: int, days: int) -> None:
    d = generate_demo(n_tenants=n_tenants, days=days, seed=1, end=END)
    assert len(d.negocios) == n_tenants
    assert d.negocios["id"].is_unique and d.negocios["nombre"].is_unique
    assert d.productos["id"].is_unique and d.ventas["id"].is_unique
    assert len(d.ventas) > 0
    local = _local_dates(d)
    assert local.min() >= END - dt.timedelta(days=days - 1) and local.max() <= END
    assert len(d.anomalies) <= n_tenants * (days // 14)


def test_default_size_stays_within_budget() -> None:
    d = generate_demo(end=END)
    assert len(d.negocios) == 6
    assert 200_000 < len(d.ventas) < 400_000
