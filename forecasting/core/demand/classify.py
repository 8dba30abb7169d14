"""Demand classes: Syntetos-Boylan on the history since the first sale, plus "new" and "dormant".

* ADI (average inter-demand interval) = open days since the first sale /
  days with a sale; CV2 = squared coefficient of variation of the sizes of
  the non-zero demands (population variance / mean^2). Cut-offs of Syntetos,
  Boylan and Croston (2005): ADI 1.32, CV2 0.49 ->
  smooth (ADI < 1.32, CV2 < 0.49), erratic (ADI < 1.32, CV2 >= 0.49),
  intermittent (ADI >= 1.32, CV2 < 0.49), lumpy (ADI >= 1.32, CV2 >= 0.49).
  Closed weekdays (see `panel`) are not counted as days, so a shop shut on
  Sundays does not make every product look intermittent.
* new: fewer than `NEW_DAYS` (28) days since the first sale. Four weeks is
  the least that shows a weekly pattern once and gives the classification
  a handful of demands; below it a simple stated rule forecasts.
* dormant (treated as discontinued): no sale for at least
  max(`DORMANT_MIN_DAYS` (56), `DORMANT_GAPS` (4) x its ADI before the gap)
  open days. If demands arrived at the usual rate (one per ADI days), a gap
  of 4 ADI would happen by chance about e^-4 ~ 2% of the time; the 8-week
  minimum keeps a fast seller that was out of stock for a fortnight (which
  looks like zero demand) from being called dead. A product that never
  sold is dormant too.
Classified at a cutoff (a column of the panel), so cross-validation folds
see the classes as they were at their forecast time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .panel import Panel

ADI_CUT = 1.32
CV2_CUT = 0.49
NEW_DAYS = 28
DORMANT_MIN_DAYS = 56
DORMANT_GAPS = 4.0

CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "new", "dormant")
FORECAST_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")  # where models compete


def classify_panel(panel: Panel, cutoff: int | None = None) -> pd.DataFrame:
    """One row per product (indexed by id): demand_class, adi, cv2, history_days, sale_days,
    days_since_sale, mean_units (per open day since the first sale) and reason, as of column `cutoff`."""
    cutoff = panel.days - 1 if cutoff is None else cutoff
    y = panel.y[:, : cutoff + 1]
    is_open = panel.open_mask(panel.dates[: cutoff + 1])[None, :]
    listed = ~np.isnan(y)
    sale = np.nan_to_num(y) > 0
    open_days = (listed & is_open).sum(axis=1)
    sale_days = sale.sum(axis=1)
    history_days = np.maximum(cutoff + 1 - panel.start, 0)
    sizes_sum = np.where(sale, y, 0.0).sum(axis=1)
    sizes_sq = np.where(sale, y**2, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_size = np.where(sale_days > 0, sizes_sum / np.maximum(sale_days, 1), 0.0)
        cv2 = np.where(sale_days > 0, sizes_sq / np.maximum(sale_days, 1) / np.maximum(mean_size, 1e-12) ** 2 - 1, 0.0)
        adi = np.where(sale_days > 0, open_days / np.maximum(sale_days, 1), np.inf)
    cv2 = np.maximum(cv2, 0.0)
    # Open days since the last sale, and the ADI of the stretch before that gap.
    last_sale = np.where(sale.any(axis=1), y.shape[1] - 1 - np.argmax(sale[:, ::-1], axis=1), -1)
    open_cum = np.cumsum(np.broadcast_to(is_open, y.shape)[0])
    since = np.where(last_sale >= 0, open_cum[-1] - open_cum[np.maximum(last_sale, 0)], history_days)
    active_open = open_days - since
    adi_active = np.where(sale_days > 1, active_open / np.maximum(sale_days, 1), np.maximum(active_open, 1))
    gap_limit = np.maximum(DORMANT_MIN_DAYS, DORMANT_GAPS * adi_active)
    mean_units = np.where(open_days > 0, sizes_sum / np.maximum(open_days, 1), 0.0)

    classes, reasons = [], []
    for i in range(panel.n):
        if sale_days[i] == 0:
            classes.append("dormant")
            reasons.append("no sale recorded: treated as discontinued")
        elif since[i] >= gap_limit[i]:
            classes.append("dormant")
            reasons.append(f"no sale for {int(since[i])} open days (at least {int(np.ceil(gap_limit[i]))}: 8 weeks or 4 "
                           f"times its usual gap of {adi_active[i]:.1f} days): treated as discontinued")
        elif history_days[i] < NEW_DAYS:
            classes.append("new")
            reasons.append(f"new: first sale {int(history_days[i])} day(s) ago (fewer than {NEW_DAYS})")
        else:
            smooth_gap = adi[i] < ADI_CUT
            steady_size = cv2[i] < CV2_CUT
            name = ("smooth" if steady_size else "erratic") if smooth_gap else ("intermittent" if steady_size else "lumpy")
            classes.append(name)
            reasons.append(f"{name}: sells on 1 day in {adi[i]:.1f}, size variation CV2 {cv2[i]:.2f}")
    return pd.DataFrame({"demand_class": classes, "adi": adi, "cv2": cv2, "history_days": history_days,
                         "sale_days": sale_days, "days_since_sale": since, "mean_units": mean_units,
                         "reason": reasons}, index=pd.Index(panel.ids, name="unique_id"))


def classify(frame: pd.DataFrame, end=None) -> pd.DataFrame:
    """Demand class of every product of a tidy frame (`unique_id, ds, y`) as of its last day (or `end`)."""
    from .panel import build_panel

    return classify_panel(build_panel(frame, end)).reset_index()
