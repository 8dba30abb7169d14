"""Deterministic generator of realistic demo sales data for several businesses.

The dashboard needs data before a real business has connected anything: on
first start it loads a demo so every chart, forecast and alert has something
to show. The same data feeds the test-suite and the benchmarks, so the
generator is pure (no I/O, no database) and fully determined by its
arguments: ``generate_demo(seed=..., end=...)`` always returns identical
frames. Another module is responsible for writing them to the database.

Each demo business ("tenant", ``negocio``) follows one of a few archetypes
(a bakery in Madrid, a hardware store in Mexico City, ...) so that the data
exercises the things a forecaster has to cope with: weekly patterns, closed
days, yearly seasonality, trends, national holidays, promotions, refunds,
different currencies and volumes, and a handful of injected anomalous days
whose ground truth is returned so anomaly detection can be scored.

Daily expected volume is built multiplicatively::

    level * trend * weekly * yearly * holiday * promotion * anomaly * noise

and then realised as individual transactions (Poisson count per day, each
with a time within opening hours, a product, a quantity and a small random
discount). Everything is vectorised per tenant so the default demo
(6 tenants, 3 years, ~370k sales) is generated in well under a second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

from ..core.events import Event, events_from_flags
from .calendar import event_key, set_closed_weekdays

__all__ = ["DemoData", "generate_demo", "ARCHETYPES"]


@dataclass(frozen=True)
class DemoData:
    """Frames produced by :func:`generate_demo`.

    negocios:  id, nombre, timezone, country, currency
    ventas:    id, negocio_id, fecha (datetime64[ns, UTC]), total, producto_id, cantidad
    productos: id, negocio_id, nombre, stock, precio
    anomalies: negocio_id, date (tenant-local ``datetime.date``), kind ('spike'|'drop'), factor
    events:    negocio_id, name, kind, first_day, last_day, yearly: what each shop's calendar knows (its
               promotions, past and the next one, and its yearly special days)
    closed_weekdays: negocio_id -> weekdays (0 = Monday) the shop always closes, as its owner confirmed
    """

    negocios: pd.DataFrame
    ventas: pd.DataFrame
    productos: pd.DataFrame
    anomalies: pd.DataFrame
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_EVENT_COLUMNS))
    closed_weekdays: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Product:
    nombre: str
    precio: float
    weight: float  # relative popularity
    qty_mean: float  # mean quantity per transaction
    step: float = 1.0  # quantity granularity (e.g. 1 metre, 0.25 kg)


@dataclass(frozen=True)
class _Archetype:
    key: str
    nombre: str
    timezone: str
    country: str
    currency: str
    sales_per_day: float  # mean transactions on an average open day
    weekly: tuple[float, float, float, float, float, float, float]  # Mon..Sun, 0 = closed
    # Yearly seasonality as smooth periodic bumps: (log-amplitude, peak day-of-year, concentration).
    seasonal_bumps: tuple[tuple[float, int, float], ...]
    annual_growth: float  # log growth per year
    holiday_factor: float  # 0 = closed on national holidays
    xmas_boost: float  # extra volume reached on Dec 24, ramping up from mid-December
    promo_lift: tuple[float, float]
    noise_sigma: float
    open_hours: tuple[float, float]  # local opening/closing hour
    time_shape: tuple[float, float]  # Beta(a, b) shape of sales over the opening hours
    products: tuple[_Product, ...]
    special_days: tuple[tuple[int, int, float, str], ...] = ()  # (month, day, factor, name)


_P = _Product

ARCHETYPES: tuple[_Archetype, ...] = (
    _Archetype(
        key="bakery",
        nombre="Panadería La Espiga",
        timezone="Europe/Madrid",
        country="ES",
        currency="EUR",
        sales_per_day=52,
        weekly=(0.85, 0.8, 0.85, 0.9, 1.1, 1.5, 0.0),
        seasonal_bumps=((-0.3, 225, 12.0), (0.08, 20, 4.0)),  # Madrid empties in August
        annual_growth=0.02,
        holiday_factor=0.0,
        xmas_boost=0.9,
        promo_lift=(0.2, 0.4),
        noise_sigma=0.08,
        open_hours=(7.5, 20.5),
        time_shape=(1.3, 2.4),  # most bread is bought in the morning
        products=(
            _P("Barra de pan", 1.10, 28, 3.4),
            _P("Pan integral", 2.40, 9, 1.5),
            _P("Croissant", 1.50, 12, 3.5),
            _P("Napolitana de chocolate", 1.70, 9, 2.5),
            _P("Magdalenas (bolsa 6 u.)", 3.20, 6, 1.1),
            _P("Ensaimada", 2.20, 4, 1.5),
            _P("Empanada gallega (kg)", 16.00, 5, 1.0, 0.25),
            _P("Palmera de hojaldre", 1.80, 6, 1.8),
            _P("Tarta de queso", 18.50, 4.5, 1.0),
            _P("Bizcocho casero", 8.50, 4, 1.0),
            _P("Café para llevar", 1.60, 6, 1.3),
            _P("Roscón de Reyes", 22.00, 1.5, 1.0),
        ),
        special_days=((1, 5, 1.8, "Víspera de Reyes"),),  # roscón de Reyes eve
    ),
    _Archetype(
        key="hardware",
        nombre="Ferretería El Tornillo",
        timezone="America/Mexico_City",
        country="MX",
        currency="MXN",
        sales_per_day=42,
        weekly=(1.0, 0.95, 0.95, 1.0, 1.05, 1.35, 0.45),
        seasonal_bumps=((0.12, 100, 3.0), (-0.15, 358, 25.0)),
        annual_growth=0.07,  # mild upward trend
        holiday_factor=0.0,
        xmas_boost=0.0,
        promo_lift=(0.2, 0.45),
        noise_sigma=0.1,
        open_hours=(8.0, 19.0),
        time_shape=(1.8, 2.0),
        products=(
            _P("Tornillos (caja 100)", 85.0, 10, 1.3),
            _P("Pintura vinílica 4 L", 690.0, 8, 1.3),
            _P("Cinta aislante", 35.0, 6, 1.6),
            _P("Foco LED 9 W", 65.0, 7, 2.5),
            _P("Martillo", 245.0, 3, 1.0),
            _P("Juego de desarmadores", 310.0, 3, 1.0),
            _P("Cable eléctrico (m)", 18.0, 8, 18.0),
            _P("Tubo PVC 1/2\"", 48.0, 7, 3.0),
            _P("Taladro inalámbrico", 1890.0, 2.0, 1.0),
            _P("Cemento gris 50 kg", 265.0, 7, 3.0),
            _P("Llave Stillson", 420.0, 1.5, 1.0),
            _P("Candado", 160.0, 4, 1.1),
            _P("Silicón transparente", 95.0, 5, 1.2),
            _P("Brocha 4\"", 75.0, 5, 1.3),
            _P("Extensión eléctrica", 185.0, 4, 1.0),
        ),
    ),
    _Archetype(
        key="boutique",
        nombre="Boutique Malena",
        timezone="America/Argentina/Buenos_Aires",
        country="AR",
        currency="ARS",
        sales_per_day=19,
        weekly=(0.8, 0.85, 0.9, 0.95, 1.15, 1.55, 0.7),
        # December peak (holidays + summer) and July winter sales; autumn lull.
        seasonal_bumps=((0.6, 352, 5.0), (0.35, 195, 25.0), (-0.25, 75, 8.0)),
        annual_growth=0.0,
        holiday_factor=0.4,
        xmas_boost=1.0,
        promo_lift=(0.3, 0.6),
        noise_sigma=0.12,
        open_hours=(10.0, 20.0),
        time_shape=(2.2, 1.8),
        products=(
            _P("Remera básica", 28000.0, 14, 1.4),
            _P("Jean mom", 65000.0, 9, 1.0),
            _P("Vestido estampado", 89000.0, 6, 1.0),
            _P("Campera de jean", 145000.0, 3, 1.0),
            _P("Sweater de lana", 72000.0, 5, 1.0),
            _P("Camisa de lino", 55000.0, 6, 1.0),
            _P("Pollera midi", 48000.0, 5, 1.0),
            _P("Cinturón de cuero", 22000.0, 5, 1.0),
            _P("Pañuelo de seda", 15000.0, 6, 1.2),
            _P("Short de verano", 35000.0, 6, 1.0),
            _P("Blazer", 120000.0, 2, 1.0),
        ),
    ),
    _Archetype(
        key="cafe",
        nombre="Café La Candelaria",
        timezone="America/Bogota",
        country="CO",
        currency="COP",
        sales_per_day=135,
        weekly=(1.05, 1.05, 1.05, 1.05, 1.1, 0.9, 0.55),
        seasonal_bumps=((-0.15, 10, 15.0), (-0.1, 180, 20.0)),  # school holidays
        annual_growth=0.03,
        holiday_factor=0.5,
        xmas_boost=0.2,
        promo_lift=(0.15, 0.3),
        noise_sigma=0.07,
        open_hours=(6.5, 20.0),
        time_shape=(1.5, 2.0),
        products=(
            _P("Tinto", 2500.0, 15, 1.5),
            _P("Café con leche", 4500.0, 14, 1.2),
            _P("Capuchino", 7500.0, 14, 1.2),
            _P("Latte", 8000.0, 11, 1.2),
            _P("Chocolate santafereño", 9500.0, 5, 1.2),
            _P("Almojábana", 3500.0, 10, 1.6),
            _P("Pandebono", 3000.0, 10, 1.8),
            _P("Buñuelo", 2500.0, 6, 2.0),
            _P("Croissant", 6500.0, 5, 1.1),
            _P("Sándwich de pollo", 16000.0, 8, 1.1),
            _P("Jugo natural", 8500.0, 8, 1.1),
            _P("Torta de chocolate", 9000.0, 4, 1.0),
            _P("Café en grano 500 g", 38000.0, 2.5, 1.0),
        ),
    ),
    _Archetype(
        key="garden",
        nombre="Green Thumb Garden Center",
        timezone="America/New_York",
        country="US",
        currency="USD",
        sales_per_day=26,
        weekly=(0.75, 0.7, 0.75, 0.8, 1.0, 1.6, 1.4),
        # Spring planting dominates; Christmas trees give a short December bump.
        seasonal_bumps=((1.0, 125, 3.0), (-0.3, 20, 4.0), (0.4, 345, 40.0)),
        annual_growth=-0.08,  # downward trend
        holiday_factor=0.35,
        xmas_boost=0.3,
        promo_lift=(0.25, 0.5),
        noise_sigma=0.12,
        open_hours=(9.0, 18.0),
        time_shape=(2.0, 2.0),
        products=(
            _P("Potting soil 40 qt", 12.99, 10, 2.2),
            _P("Tomato seedling", 4.99, 8, 3.0),
            _P("Hydrangea 1 gal", 24.99, 6, 1.5),
            _P("Rose bush", 29.99, 5, 1.4),
            _P("Terracotta pot 10\"", 18.99, 5, 1.5),
            _P("All-purpose fertilizer 5 lb", 16.49, 6, 1.0),
            _P("Hand trowel", 9.99, 3, 1.0),
            _P("Garden hose 50 ft", 39.99, 4, 1.0),
            _P("Mulch bag 2 cu ft", 5.49, 8, 6.0),
            _P("Lawn seed 3 lb", 27.99, 4, 1.0),
            _P("Pruning shears", 24.99, 2.5, 1.0),
            _P("Japanese maple", 89.99, 3, 1.0),
            _P("Herb plant 4\"", 3.99, 7, 3.0),
            _P("Bird feeder", 22.99, 2.5, 1.0),
        ),
        special_days=((5, 10, 1.3, "Spring planting day"),),
    ),
    _Archetype(
        key="pharmacy",
        nombre="Farmacia Cordillera",
        timezone="America/Santiago",
        country="CL",
        currency="CLP",
        sales_per_day=80,
        weekly=(1.1, 1.0, 1.0, 1.0, 1.05, 0.85, 0.6),
        seasonal_bumps=((0.1, 200, 3.0),),  # southern winter: colds and flu
        annual_growth=0.01,
        holiday_factor=0.6,
        xmas_boost=0.15,
        promo_lift=(0.15, 0.25),
        noise_sigma=0.05,
        open_hours=(8.0, 22.0),
        time_shape=(1.6, 1.6),
        products=(
            _P("Paracetamol 500 mg", 1990.0, 14, 1.5),
            _P("Ibuprofeno 400 mg", 2490.0, 10, 1.2),
            _P("Loratadina 10 mg", 3290.0, 6, 1.1),
            _P("Omeprazol 20 mg", 4590.0, 6, 1.1),
            _P("Protector solar FPS 50", 14990.0, 5, 1.0),
            _P("Alcohol gel 500 ml", 2990.0, 6, 1.2),
            _P("Vitamina C 1 g", 6990.0, 5, 1.0),
            _P("Jarabe para la tos", 5490.0, 5, 1.0),
            _P("Mascarillas (caja 50)", 4990.0, 3, 1.0),
            _P("Crema hidratante", 9990.0, 4, 1.0),
            _P("Termómetro digital", 7990.0, 1.5, 1.0),
            _P("Pañales (paquete)", 12990.0, 5, 1.4),
            _P("Suero oral", 1490.0, 5, 1.5),
            _P("Test de embarazo", 5990.0, 1.5, 1.0),
            _P("Cepillo dental", 2490.0, 4, 1.3),
        ),
    ),
)

# Currencies whose cash registers do not use cents in practice.
_DECIMALS = {"CLP": 0, "COP": 0}

_REFUND_RATE = 0.015
_UNPRICED_RATE = 0.02  # share of ad-hoc sales not tied to a catalogue product

#: Seasonal products: (day of the year their sales peak, half-width in days). Off season they sell
#: 5% of their usual rate, at the peak about 7 times it: the shop's mix changes, its sales count doesn't.
_SEASONAL = {"Roscón de Reyes": (6, 10), "Extensión eléctrica": (350, 18), "Sweater de lana": (182, 40),
             "Short de verano": (15, 40), "Buñuelo": (354, 14), "Tomato seedling": (115, 30),
             "Jarabe para la tos": (182, 40), "Protector solar FPS 50": (15, 40)}
#: One product per shop that was listed only `_NEW_DAYS` days ago (the product page's "new" case).
_NEW = {"Café para llevar", "Silicón transparente", "Blazer", "Café en grano 500 g", "Bird feeder",
        "Test de embarazo"}
_NEW_DAYS = 20
#: Days of stock on hand per product, dealt out at random: a couple about to run out, most comfortable.
_COVER_DAYS = (0.8, 3.0, 6.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0, 105.0, 120.0)
_MAX_REFUND_DELAY = 30

_VENTAS_COLUMNS = ["id", "negocio_id", "fecha", "total", "producto_id", "cantidad"]
_PRODUCTOS_COLUMNS = ["id", "negocio_id", "nombre", "stock", "precio"]
_NEGOCIOS_COLUMNS = ["id", "nombre", "timezone", "country", "currency"]
_ANOMALY_COLUMNS = ["negocio_id", "date", "kind", "factor"]
_EVENT_COLUMNS = ["negocio_id", "name", "kind", "first_day", "last_day", "yearly"]


def generate_demo(
    n_tenants: int = 6,
    days: int = 1095,
    seed: int = 42,
    end: dt.date | None = None,
) -> DemoData:
    """Generate demo businesses with ``days`` local days of sales ending at ``end``.

    ``end`` is the last full local day of history (default: yesterday in UTC).
    Tenant ``k``'s data depends only on ``seed``, ``days``, ``end`` and ``k``,
    never on ``n_tenants``, so a larger demo extends a smaller one.
    """
    if isinstance(n_tenants, bool) or not isinstance(n_tenants, (int, np.integer)) or n_tenants < 1:
        raise ValueError(f"n_tenants must be an integer >= 1, got {n_tenants!r}")
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
        raise ValueError(f"days must be an integer >= 1, got {days!r}")
    if end is None:
        end = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    elif isinstance(end, dt.datetime):
        end = end.date()
    elif not isinstance(end, dt.date):
        raise ValueError(f"end must be a datetime.date or None, got {end!r}")

    n_tenants, days = int(n_tenants), int(days)
    start = end - dt.timedelta(days=days - 1)
    # Generator.spawn gives child k the same stream whatever the number of children.
    tenant_rngs = np.random.default_rng(seed).spawn(n_tenants)

    negocios, ventas, productos, anomalies, events = [], [], [], [], []
    closed_weekdays = {}
    for k, rng in enumerate(tenant_rngs):
        n, v, p, a, e = _generate_tenant(k, rng, start, days)
        negocios.append(n)
        ventas.append(v)
        productos.append(p)
        anomalies.extend(a)
        events.extend(e)
        weekly = ARCHETYPES[k % len(ARCHETYPES)].weekly
        if 0.0 in weekly:
            closed_weekdays[str(n["id"])] = [day for day, factor in enumerate(weekly) if factor == 0.0]

    ventas_df = pd.concat(ventas, ignore_index=True)
    ventas_df["fecha"] = ventas_df["fecha"].astype("datetime64[ns, UTC]")
    anomalies_df = pd.DataFrame(anomalies, columns=_ANOMALY_COLUMNS)
    anomalies_df["factor"] = anomalies_df["factor"].astype(float)
    return DemoData(
        negocios=pd.DataFrame(negocios, columns=_NEGOCIOS_COLUMNS),
        ventas=ventas_df[_VENTAS_COLUMNS],
        productos=pd.concat(productos, ignore_index=True)[_PRODUCTOS_COLUMNS],
        anomalies=anomalies_df,
        events=pd.DataFrame(events, columns=_EVENT_COLUMNS),
        closed_weekdays=closed_weekdays,
    )


@lru_cache(maxsize=64)
def _holiday_dates(country: str, first_year: int, last_year: int) -> frozenset[dt.date]:
    # Building holiday calendars is slow relative to everything else; many tenants share a country.
    return frozenset(holidays.country_holidays(country, years=range(first_year, last_year + 1)).keys())


def _seasonality(doy: np.ndarray, bumps: tuple[tuple[float, int, float], ...]) -> np.ndarray:
    """Smooth, periodic yearly multiplier with mean ~1 over a year (von Mises bumps)."""

    def log_mult(d: np.ndarray) -> np.ndarray:
        out = np.zeros(d.shape, dtype=float)
        theta = 2 * np.pi * d / 365.25
        for amp, peak, kappa in bumps:
            out += amp * np.exp(kappa * (np.cos(theta - 2 * np.pi * peak / 365.25) - 1))
        return out

    # Normalise so that "level" keeps meaning average volume whatever the bumps are.
    norm = np.exp(log_mult(np.arange(1, 366))).mean()
    return np.exp(log_mult(doy)) / norm


def _promotions(rng: np.random.Generator, days: int, lift: tuple[float, float]) -> tuple[np.ndarray, int]:
    """Multiplier per day: recurring promotions every ~4-6 weeks lasting 3-7 days; and the next one's first day.

    The next promotion (past the last day) draws nothing from `rng`, so the history is what it always was.
    """
    mult = np.ones(days)
    pos = int(rng.integers(0, 35))
    while pos < days:
        length = int(rng.integers(3, 8))
        mult[pos : pos + length] = 1 + rng.uniform(*lift)
        pos += length + int(rng.integers(22, 38))
    return mult, pos


def _ar1_noise(rng: np.random.Generator, days: int, sigma: float, phi: float = 0.5) -> np.ndarray:
    """Autocorrelated log-noise: real shops have runs of good and bad days."""
    z = rng.standard_normal(days) * sigma * np.sqrt(1 - phi**2)
    eps = np.empty(days)
    prev = rng.standard_normal() * sigma
    for i in range(days):
        prev = phi * prev + z[i]
        eps[i] = prev
    return np.exp(eps - sigma**2 / 2)


def _generate_tenant(
    k: int, rng: np.random.Generator, start: dt.date, days: int
) -> tuple[dict, pd.DataFrame, pd.DataFrame, list[dict]]:
    arch = ARCHETYPES[k % len(ARCHETYPES)]
    cycle = k // len(ARCHETYPES)
    tid = str(k + 1)
    nombre = arch.nombre if cycle == 0 else f"{arch.nombre} {cycle + 1}"
    # Repeated archetypes get a different size so the demo is not N copies of six shops.
    scale = 1.0 if cycle == 0 else float(rng.uniform(0.5, 1.6))

    dates = pd.date_range(start, periods=days, freq="D")
    t_years = (np.arange(days) - (days - 1)) / 365.25  # level refers to the last day

    weekly = np.asarray(arch.weekly)[dates.dayofweek]
    yearly = _seasonality(dates.dayofyear.to_numpy(), arch.seasonal_bumps)
    trend = np.exp(arch.annual_growth * t_years)

    hol_set = _holiday_dates(arch.country, dates[0].year, dates[-1].year)
    is_holiday = np.fromiter((d in hol_set for d in dates.date), dtype=bool, count=days)
    holiday = np.where(is_holiday, arch.holiday_factor, 1.0)

    month, dom = dates.month.to_numpy(), dates.day.to_numpy()
    xmas_window = (month == 12) & (dom >= 15) & (dom <= 24)
    ramp = np.clip((dom - 14) / 10.0, 0.0, 1.0) ** 1.5
    xmas = np.where(xmas_window, 1 + arch.xmas_boost * ramp, 1.0)
    special = np.ones(days)
    for m, d, f, _ in arch.special_days:
        special[(month == m) & (dom == d)] = f

    promo, next_promo = _promotions(rng, days, arch.promo_lift)
    noise = _ar1_noise(rng, days, arch.noise_sigma)

    open_day = (weekly > 0) & (holiday > 0)

    # Anomalies go on ordinary open days so that they are unambiguous against their neighbours.
    quiet = (
        open_day
        & ~is_holiday
        & (promo == 1.0)
        & (special == 1.0)
        & ~((month == 12) & (dom >= 8))
        & ~((month == 1) & (dom <= 10))
    )
    anomaly = np.ones(days)
    anomaly_rows: list[dict] = []
    n_anom = int(rng.integers(3, 7))
    idx = np.arange(days)
    margin = 28 if days >= 200 else 0  # keep a few weeks of context around each anomaly
    eligible = idx[quiet & (idx >= margin) & (idx < days - margin)]
    # Short histories get at most one anomaly per two weeks, or they would be mostly anomalies.
    n_anom = min(n_anom, len(eligible), days // 14)
    if n_anom:
        chosen = np.sort(rng.choice(eligible, size=n_anom, replace=False))
        kinds = np.where(rng.random(n_anom) < 0.5, "spike", "drop")
        kinds[0] = "spike"  # guarantee both kinds whenever there is room
        if n_anom > 1:
            kinds[-1] = "drop"
        factors = np.where(kinds == "spike", rng.uniform(3, 5, n_anom), rng.uniform(0.1, 0.3, n_anom))
        factors = np.round(factors, 2)
        anomaly[chosen] = factors
        anomaly_rows = [
            {"negocio_id": tid, "date": dates[i].date(), "kind": str(kd), "factor": float(f)}
            for i, kd, f in zip(chosen, kinds, factors)
        ]

    expected = (
        arch.sales_per_day * scale * trend * weekly * yearly * holiday * xmas * special * promo * noise * anomaly
    )
    counts = rng.poisson(expected)
    # Without count noise on anomaly days the injected factor is what the data shows.
    counts = np.where(anomaly != 1.0, np.maximum(np.rint(expected), 1).astype(counts.dtype), counts)
    n_sales = int(counts.sum())
    day_idx = np.repeat(np.arange(days), counts)

    prods = arch.products
    n_prod = len(prods)
    prod_ids = np.array([f"{tid}-P{j + 1:02d}" for j in range(n_prod)] + [None], dtype=object)
    precios = np.array([p.precio for p in prods])
    weights = np.array([p.weight for p in prods])
    qty_mean = np.array([p.qty_mean for p in prods])
    steps = np.array([p.step for p in prods])
    stock = rng.integers(5, 250, n_prod).astype(float)
    # A few products nearly sold out so stock alerts have something to show.
    low = rng.choice(n_prod, size=max(2, n_prod // 5), replace=False)
    stock[low] = rng.integers(0, 5, len(low))
    productos = pd.DataFrame(
        {
            "id": prod_ids[:n_prod],
            "negocio_id": tid,
            "nombre": [p.nombre for p in prods],
            "stock": stock,
            "precio": precios.astype(float),
        }
    )

    decimals = _DECIMALS.get(arch.currency, 2)
    pidx = rng.choice(n_prod, size=n_sales, p=weights / weights.sum())
    # Seasons and a new product come from a child stream: the parent's draws (and so everything the
    # totals tests know about the demo) stay where they were.
    life = rng.spawn(1)[0]
    pidx = _product_mix(life, prods, weights, dates, day_idx)
    # Quantity = step * (1 + Poisson) so its mean matches qty_mean and it is never zero.
    units = 1 + rng.poisson(np.maximum(qty_mean[pidx] / steps[pidx] - 1, 0))
    cantidad = units * steps[pidx]
    on_promo = promo[day_idx] > 1
    has_discount = rng.random(n_sales) < np.where(on_promo, 0.5, 0.15)
    discount = 1 - has_discount * rng.uniform(0, np.where(on_promo, 0.2, 0.1))
    total = cantidad * precios[pidx] * discount

    # Ad-hoc sales (custom orders, services) with no catalogue product.
    unpriced = rng.random(n_sales) < _UNPRICED_RATE
    avg_ticket = float((weights * precios * qty_mean).sum() / weights.sum())
    total = np.where(unpriced, avg_ticket * rng.lognormal(0, 0.5, n_sales), total)
    cantidad = np.where(unpriced, 1.0, cantidad)
    pidx = np.where(unpriced, n_prod, pidx)
    total = np.round(total, decimals)

    # Refunds: a copy of an earlier sale with negative amounts, on the next open day after a delay.
    next_open = np.full(days + 1, days)
    nxt = days
    for i in range(days - 1, -1, -1):
        if open_day[i]:
            nxt = i
        next_open[i] = nxt
    refunded = np.flatnonzero(rng.random(n_sales) < _REFUND_RATE)
    delay = np.minimum(rng.geometric(0.25, len(refunded)), _MAX_REFUND_DELAY)
    refund_day = next_open[np.minimum(day_idx[refunded] + delay, days)]
    keep = refund_day < days  # refunds that would fall after the history end never happened yet
    refunded, refund_day = refunded[keep], refund_day[keep]

    all_day = np.concatenate([day_idx, refund_day])
    all_total = np.concatenate([total, -total[refunded]])
    all_qty = np.concatenate([cantidad, -cantidad[refunded]])
    all_pidx = np.concatenate([pidx, pidx[refunded]])

    # Shops sell on local wall-clock time; storing UTC instants keeps DST changes and tenants comparable.
    open_h, close_h = arch.open_hours
    frac = rng.beta(*arch.time_shape, len(all_day))
    seconds = np.floor((open_h + (close_h - open_h) * frac) * 3600).astype(np.int64)
    local_ns = dates.asi8[all_day] + seconds * 1_000_000_000
    local = pd.DatetimeIndex(local_ns.astype("datetime64[ns]"))
    fecha = local.tz_localize(
        arch.timezone,
        ambiguous=np.zeros(len(local), dtype=bool),
        nonexistent="shift_forward",
    ).tz_convert("UTC")

    order = np.argsort(fecha.asi8, kind="stable")
    n_rows = len(order)
    ventas = pd.DataFrame(
        {
            "id": (tid + "-") + pd.Series(np.arange(1, n_rows + 1)).astype(str),
            "negocio_id": tid,
            "fecha": fecha[order],
            "total": all_total[order].astype(float),
            "producto_id": prod_ids[all_pidx[order]],
            "cantidad": all_qty[order].astype(float),
        }
    )

    productos["stock"] = _stock_from_demand(life, productos["id"].to_numpy(), steps, ventas, dates)

    negocio = {
        "id": tid,
        "nombre": nombre,
        "timezone": arch.timezone,
        "country": arch.country,
        "currency": arch.currency,
    }
    return negocio, ventas, productos, anomaly_rows, _calendar_events(tid, arch, dates, promo, next_promo)


def _calendar_events(tid: str, arch: _Archetype, dates: pd.DatetimeIndex, promo: np.ndarray,
                     next_promo: int) -> list[dict]:
    """What the shop's calendar knows: each promotion of its history, the next one (5 days), its special days."""
    name = "Promotion" if arch.country == "US" else "Promoción"
    rows = [{"negocio_id": tid, "name": name, "kind": "promotion", "first_day": event.first_day,
             "last_day": event.last_day, "yearly": False}
            for event in events_from_flags(pd.Series(promo > 1.0, index=dates), name, "promotion")]
    first = (dates[-1] + pd.Timedelta(days=next_promo - len(dates) + 1)).date()
    rows.append({"negocio_id": tid, "name": name, "kind": "promotion", "first_day": first,
                 "last_day": first + dt.timedelta(days=4), "yearly": False})
    for month, day, _, special in arch.special_days:
        year = dates[0].year
        rows.append({"negocio_id": tid, "name": special, "kind": "event", "first_day": dt.date(year, month, day),
                     "last_day": dt.date(year, month, day), "yearly": True})
    return rows


def _product_mix(rng: np.random.Generator, prods, weights: np.ndarray, dates: pd.DatetimeIndex,
                 day_idx: np.ndarray) -> np.ndarray:
    """Which product each sale is: by popularity, times each product's season, and nothing of the new
    product before it was listed."""
    days = len(dates)
    doy = dates.dayofyear.to_numpy()
    share = np.tile(weights.astype(float), (days, 1))
    for j, product in enumerate(prods):
        if product.nombre in _SEASONAL:
            peak, width = _SEASONAL[product.nombre]
            distance = np.minimum(np.abs(doy - peak), 365 - np.abs(doy - peak))
            share[:, j] *= 0.05 + 7.0 * np.exp(-0.5 * (distance / width) ** 2)
        if product.nombre in _NEW and days > 3 * _NEW_DAYS:
            share[: days - _NEW_DAYS, j] = 0.0
    cumulative = np.cumsum(share / share.sum(axis=1, keepdims=True), axis=1)
    pick = rng.random(len(day_idx))
    return np.minimum((pick[:, None] > cumulative[day_idx]).sum(axis=1), len(prods) - 1)


def _stock_from_demand(rng: np.random.Generator, ids: np.ndarray, steps: np.ndarray, ventas: pd.DataFrame,
                       dates: pd.DatetimeIndex) -> np.ndarray:
    """Stock on hand: a number of days of each product's recent demand (`_COVER_DAYS`, dealt at random),
    in its own units; one of the three best sellers is about to run out, so the stock page and its alert
    have something to say from the first start."""
    recent = ventas[ventas["fecha"] >= (dates[-1] - pd.Timedelta(days=27)).tz_localize("UTC")]
    units = recent.groupby("producto_id")["cantidad"].sum().reindex(ids).fillna(0.0).clip(lower=0.0).to_numpy()
    rate = units / 28.0
    cover = rng.permutation(np.resize(np.asarray(_COVER_DAYS), len(ids)))
    top = np.argsort(-rate)[:3]
    cover[top[rng.integers(len(top))]] = _COVER_DAYS[0]
    stock = np.round(rate * cover / steps) * steps
    return np.maximum(stock, 0.0)


def write_demo(storage, data: DemoData) -> dict[str, int]:
    """Write demo frames through the storage protocol (idempotent: ids are fixed).

    Returns rows written per table. Each tenant's sales are one upsert, so a
    failure leaves that tenant's sales either fully written or not at all.
    """
    counts = {"negocios": 0, "ventas": 0, "productos": 0, "calendar_events": 0}
    for tenant in data.negocios.to_dict(orient="records"):
        tenant_id = str(tenant["id"])
        counts["negocios"] += storage.upsert("negocios", tenant_id, [tenant])
        products = data.productos[data.productos["negocio_id"] == tenant_id]
        counts["productos"] += storage.upsert("productos", tenant_id, products.to_dict(orient="records"))
        sales = data.ventas[data.ventas["negocio_id"] == tenant_id]
        counts["ventas"] += storage.upsert("ventas", tenant_id, sales.to_dict(orient="records"))
        events = data.events[data.events["negocio_id"] == tenant_id]
        rows = [{"tenant_id": tenant_id, "event_key": event_key(Event(e["name"], e["kind"], e["first_day"],
                                                                      e["last_day"], bool(e["yearly"]))),
                 "name": e["name"], "kind": e["kind"], "first_day": e["first_day"], "last_day": e["last_day"],
                 "yearly": bool(e["yearly"])} for e in events.to_dict(orient="records")]
        counts["calendar_events"] += storage.upsert("calendar_events", tenant_id, rows) if rows else 0
        if tenant_id in data.closed_weekdays:
            set_closed_weekdays(storage, tenant_id, data.closed_weekdays[tenant_id])
    return counts
