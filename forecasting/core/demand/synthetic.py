"""Synthetic product sales for tests, the speed benchmark and demos: a tenant of mixed demand classes.

Each product draws a kind (smooth, erratic, intermittent, lumpy, new,
discontinued), a first-sale day and, for discontinued ones, a last day; a
weekly pattern and a closed `closed_weekday` (None: open every day) apply
to all. Returns the tidy `unique_id, ds, y, price` frame the engine takes
(only days with a sale are listed, as a point-of-sale export would be).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = ("smooth", "erratic", "intermittent", "lumpy", "new", "discontinued")
SHARES = (0.2, 0.1, 0.35, 0.25, 0.05, 0.05)


def synthetic_tenant(n_products: int = 30, days: int = 300, seed: int = 0, end="2024-12-31",
                     closed_weekday: int | None = 6, prefix: str = "P") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    weekly = np.array([1.0, 0.9, 0.95, 1.0, 1.2, 1.4, 0.8])[dates.dayofweek]
    if closed_weekday is not None:
        weekly = np.where(dates.dayofweek == closed_weekday, 0.0, weekly)
    kinds = rng.choice(KINDS, size=n_products, p=SHARES)
    frames = []
    for i, kind in enumerate(kinds):
        start = int(rng.integers(days - 20, days - 3)) if kind == "new" else int(rng.integers(0, days // 3))
        stop = int(rng.integers(start + 60, days - 90)) if kind == "discontinued" and days - 90 > start + 60 else days
        t = np.arange(days)
        level = rng.lognormal(1.0, 1.0)
        if kind == "smooth":
            y = rng.poisson(level * 3 * weekly)
        elif kind == "erratic":
            y = rng.poisson(level * 3 * weekly * rng.lognormal(0, 0.9, days))
        elif kind == "intermittent":
            y = (rng.random(days) < rng.uniform(0.08, 0.5) * weekly) * (1 + rng.poisson(level, days))
        else:  # lumpy, new, discontinued
            y = (rng.random(days) < rng.uniform(0.05, 0.4) * weekly) * np.ceil(rng.lognormal(np.log(level + 1), 1.0, days))
        y = np.where((t >= start) & (t < stop), y, 0).astype(float)
        first = np.flatnonzero(y > 0)
        if first.size == 0:
            y[start] = 1.0
        price = np.round(rng.uniform(1, 30), 2) * np.where(t > days * 0.7, 0.9, 1.0)
        keep = y > 0
        frames.append(pd.DataFrame({"unique_id": f"{prefix}{i:05d}", "ds": dates[keep], "y": y[keep],
                                    "price": price[keep]}))
    return pd.concat(frames, ignore_index=True)
