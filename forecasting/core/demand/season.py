"""The shop's yearly season and weekday profile, applied to products' local forecasts (group seasonal indices).

The local models (Croston, TSB, ADIDA, IMAPA, seasonal naive, AutoETS on 6
months) forecast a product's recent level flat, so before Christmas a gift
shop's products are all forecast at their autumn level. One product has too
few sales to learn its own yearly season, but the shop as a whole has
plenty: the ratio of the shop's total units in the `h` days after the same
date a year earlier to its mean over the `WINDOW` days before that date,
times a local forecast, is the "_s" variant of each local candidate. It
competes in CV like any other, so a class takes it only where last year's
season did predict this year's. Clipped to [1/3, 3]; without a year and a
quarter of history there is no ratio and no variant.

The "_w" variant does the same with the week: a flat forecast times the
shop's weekday index (mean units of the shop on that weekday over the last
`WEEKS` weeks / its mean over open days), so a product of a shop busy on
Mondays is forecast higher on Mondays; it too competes in CV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .panel import Panel

SUFFIX = "_s"
WEEKDAY_SUFFIX = "_w"
WEEKS = 12
WINDOW = 91
YEAR = 364  # 52 weeks: the same weekdays a year earlier
LIMITS = (1 / 3, 3.0)


def seasonal_ratio(panel: Panel, cutoff: int, h: int) -> float | None:
    """Last year's change from the `WINDOW` days before the cutoff's date to the `h` days after it."""
    then = cutoff - YEAR
    if then - WINDOW + 1 < 0:
        return None
    total = np.nansum(panel.y, axis=0)
    before = total[then - WINDOW + 1 : then + 1].mean()
    after = total[then + 1 : then + 1 + h].mean()
    if not before > 0:
        return None
    return float(np.clip(after / before, *LIMITS))


def weekday_index(panel: Panel, cutoff: int, h: int) -> np.ndarray | None:
    """The shop's weekday index for the `h` days after `cutoff` (None with under 4 weeks of history)."""
    span = min(cutoff + 1, WEEKS * 7)
    if span < 28:
        return None
    total = np.nansum(panel.y[:, cutoff + 1 - span : cutoff + 1], axis=0)
    days = panel.dates[cutoff + 1 - span : cutoff + 1].dayofweek
    is_open = panel.open_mask(panel.dates[cutoff + 1 - span : cutoff + 1])
    if not total[is_open].mean() > 0:
        return None
    by_day = np.array([total[(days == d) & is_open].mean() if ((days == d) & is_open).any() else 0.0 for d in range(7)])
    index = by_day / total[is_open].mean()
    future = pd.date_range(panel.dates[cutoff] + pd.Timedelta(days=1), periods=h, freq="D").dayofweek
    return index[future]


def base(name: str) -> str:
    for suffix in (SUFFIX, WEEKDAY_SUFFIX):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def variants(forecasts: dict[str, np.ndarray], ratio: float | None, weekday: np.ndarray | None) -> dict[str, np.ndarray]:
    """The seasonal and weekday variants of every local forecast in `forecasts` (none without their index)."""
    out = {}
    for name, values in forecasts.items():
        if name == "lightgbm" or name != base(name):
            continue
        if ratio is not None:
            out[name + SUFFIX] = values * ratio
        if weekday is not None:
            out[name + WEEKDAY_SUFFIX] = values * weekday[None, : values.shape[1]]
    return out

