"""Product demand forecasts for one tenant: classify, cross-validate per class, calibrate, forecast.

Decisions:

* Rolling-origin CV as in `core.evaluation`: `folds` windows of `horizon`
  days that do not overlap, the last ending on the tenant's last day. Every
  fold re-classifies products as of its cutoff and forecasts them with what
  that class would get: the candidates for smooth/erratic/intermittent/
  lumpy products, the "new" rule for new ones, 0 for dormant ones.
* Selection per demand class, not per product: with 3 folds of 4 weeks an
  intermittent product has a handful of sales to judge on, and per-product
  winners mostly chase noise. The score is the mean over product-folds of
  (MASE + RMSSE) / 2, both scaled by the product's in-sample one-step
  differences (M5): MASE alone rewards forecasting 0 for intermittent items,
  RMSSE alone the mean; the average keeps the point forecast useful for
  both the median-like and the sum-like decisions made from it. The mean of
  the class's two best candidates competes too (free: their CV forecasts
  exist); members are picked on the folds they are scored on, which
  flatters the combination slightly. A class with fewer than
  `MIN_CLASS_PAIRS` product-folds uses the winner over all classes. The
  winner's forecast is then multiplied by the factor in 0.5..1.5 with the
  lowest RMSSE on the same product-folds: a bias correction that keeps
  `yhat` a mean (`scoring.level_factor`).
* CV runs on at most `max_cv_products` products per class (a seeded
  sample): the class winner and the class's residual pool are estimates
  over the class, so a sample of 150 is enough, and it keeps a 5,000-product
  tenant's CV cost that of 600 products. The final forecast fits the
  winner on every product of the class.
* New products (< 28 days since the first sale): the mean of their days
  since the first sale, flat; bands from the residuals this rule had in CV
  on products that were new at a fold's cutoff (see `calibration`).
* Dormant products: 0, with bands from what dormant products sold in CV
  (mostly nothing, so usually 0).
No state outside the call: the same frame gives the same result whatever
ran before (seeded samples, deterministic LightGBM).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..calendar import check_country
from ..errors import DataError
from ..intervals import lower_col, upper_col
from .calibration import (bands, build_pools, history_pool, level_floor, norm_of, pool_key, pool_quantiles,
                          residual_paths)
from .classify import FORECAST_CLASSES, NEW_DAYS, classify_panel
from .gbm import gbm_forecasts
from .local import LOCAL_MODELS, local_forecasts
from .panel import Panel, build_panel
from .result import ProductForecast
from .scoring import level_factor, scales, score_pairs
from .season import base as base_model
from .season import SUFFIX, WEEKDAY_SUFFIX, seasonal_ratio, variants, weekday_index

CANDIDATES = (*LOCAL_MODELS, "lightgbm")
ETS_CLASSES = ("smooth", "erratic")
MIN_CLASS_PAIRS = 10
DEFAULT_METHOD = ("tsb",)
LABELS = {"croston": "Croston (optimised)", "sba": "Croston SBA", "tsb": "TSB", "adida": "ADIDA", "imapa": "IMAPA",
          "snaive": "weekly seasonal naive", "autoets": "AutoETS", "lightgbm": "LightGBM across products",
          "new": "the mean of its days since the first sale", "zero": "0 (discontinued)"}


def forecast_products(frame: pd.DataFrame, horizon: int = 28, levels=(80, 95), folds: int = 3,
                      country: str | None = None, *, end=None, candidates=CANDIDATES,
                      max_cv_products: int = 150, seed: int = 0) -> ProductForecast:
    """Forecast every product of `frame` (`unique_id, ds, y`, optional `price`) for `horizon` days.

    `folds` CV windows of `horizon` days; `country` (ISO code) adds national
    holidays to the LightGBM features; `end` is the last day of data (the
    frame's last day by default); `candidates` restricts the models that
    compete; `max_cv_products` caps the products cross-validated per class.
    A DataError names what is wrong with an unusable frame or argument.
    """
    if horizon < 1:
        raise DataError(f"horizon must be at least 1 day, got {horizon}")
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown:
        raise DataError(f"unknown candidate(s) {unknown}; choose from {list(CANDIDATES)}")
    levels = tuple(sorted(int(level) for level in levels))
    if not levels or not all(0 < level < 100 for level in levels):
        raise DataError(f"interval levels must be percentages between 0 and 100, got {levels}")
    country = check_country(country)
    timings = {}
    started = time.perf_counter()
    panel = build_panel(frame, end)
    classes = classify_panel(panel)
    timings["prepare"] = time.perf_counter() - started

    started = time.perf_counter()
    cv = _cross_validate(panel, horizon, folds, country, tuple(candidates), max_cv_products, seed)
    timings["cv"] = time.perf_counter() - started
    scores = score_pairs(cv)
    selection, notes = _select(scores, cv)
    factors = _factors(cv, selection, scores, notes)
    keys = [pool_key(c, a) for c, a in zip(classes["demand_class"], classes["adi"])]
    pools, pool_notes = build_pools(_winner_paths(cv, selection, factors), keys, horizon)
    keys = _own_pools(panel, keys, pools, pool_notes, horizon)

    started = time.perf_counter()
    yhat, method = _final(panel, classes, selection, factors, horizon, country)
    timings["final"] = time.perf_counter() - started
    future = panel.future_dates(horizon)
    is_open = panel.open_mask(future)
    norm = norm_of(yhat, level_floor(panel.y, panel.days - 1), is_open)
    group = np.array(keys, dtype=object)
    forecast = _forecast_frame(panel, future, yhat, norm, group, pools, levels)
    products = classes.reset_index()
    products["method"] = method
    products["reason"] = [
        "; ".join(part for part in (reason, _method_reason(cls, selection, notes), f"bands from {pool_notes[key]}",
                                    panel.notes.get(uid, "")) if part)
        for uid, reason, cls, key in zip(products["unique_id"], products["reason"], products["demand_class"], keys)
    ]
    return ProductForecast(forecast=forecast, products=products, scores=scores, selection=selection,
                           cv=_cv_frame(cv, panel), horizon=horizon, levels=levels,
                           closed_weekdays=panel.closed_weekdays, ids=panel.ids, yhat=yhat, norm=norm,
                           group=group, pools=pools, seconds=timings)


def _own_pools(panel: Panel, keys: list[str], pools: dict, notes: dict, h: int) -> list[str]:
    """Products whose pool is the assumed spread draw from their own history where it is long enough
    (`calibration.history_pool`); returns each product's pool key."""
    ruled = {key for key, note in notes.items() if note.startswith("no cross-validation")}
    if not ruled:
        return keys
    out = list(keys)
    for i, key in enumerate(keys):
        own = history_pool(panel.y[i], h) if key in ruled and key not in ("new", "dormant") else None
        if own is not None:
            out[i] = f"own {panel.ids[i]}"
            pools[out[i]] = own
            notes[out[i]] = f"its own last {len(own) + h - 1} days ({len(own)} windows of {h} days)"
    for key in ruled - set(out):
        del pools[key]
    return out


def fold_cutoffs(days: int, horizon: int, folds: int) -> list[int]:
    """Last training column of each fold, oldest first; folds leaving under 28 days of history are dropped."""
    return [days - 1 - k * horizon for k in range(folds, 0, -1) if days - 1 - k * horizon >= NEW_DAYS - 1]


def _sample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(rows, limit, replace=False)) if len(rows) > limit else rows


def _cross_validate(panel: Panel, h: int, folds: int, country, candidates, limit: int, seed: int) -> list[dict]:
    """One record per (fold, product group): rows, class, y, norm, forecasts per candidate, scales."""
    rng = np.random.default_rng(seed)
    records = []
    for fold, cutoff in enumerate(fold_cutoffs(panel.days, h, folds), start=1):
        table = classify_panel(panel, cutoff)
        classes, adi = table["demand_class"].to_numpy(), table["adi"].to_numpy()
        listed = panel.start <= cutoff
        future = panel.dates[cutoff + 1 : cutoff + 1 + h]
        is_open = panel.open_mask(future)
        floor = level_floor(panel.y, cutoff)
        scale1, scale2 = scales(panel.y, cutoff)
        gbm = gbm_forecasts(panel, cutoff, h, country, seed) if "lightgbm" in candidates else None
        ratio, weekday = seasonal_ratio(panel, cutoff, h), weekday_index(panel, cutoff, h)
        for cls in (*FORECAST_CLASSES, "new", "dormant"):
            rows = _sample(np.flatnonzero(listed & (classes == cls)), limit, rng)
            if rows.size == 0:
                continue
            if cls == "new":
                forecasts = {"new": _new_rule(panel, rows, cutoff, is_open)}
            elif cls == "dormant":
                forecasts = {"zero": np.zeros((rows.size, h))}
            else:
                names = [c for c in candidates if c != "lightgbm" and (c != "autoets" or cls in ETS_CLASSES)]
                forecasts = local_forecasts(panel, rows, cutoff, h, names)
                forecasts.update(variants(forecasts, ratio, weekday))
                if gbm is not None:
                    forecasts["lightgbm"] = gbm[rows]
            records.append({"fold": fold, "cutoff": cutoff, "class": cls, "rows": rows, "adi": adi[rows],
                            "y": panel.y[rows, cutoff + 1 : cutoff + 1 + h], "floor": floor[rows],
                            "open": is_open, "scale1": scale1[rows], "scale2": scale2[rows], "forecasts": forecasts})
    return records


def _new_rule(panel: Panel, rows: np.ndarray, cutoff: int, is_open: np.ndarray) -> np.ndarray:
    history = panel.y[rows, : cutoff + 1]
    days_open = panel.open_mask(panel.dates[: cutoff + 1])
    values = np.where(days_open[None, :], history, np.nan)
    with np.errstate(invalid="ignore"):
        mean = np.nan_to_num(np.nanmean(values, axis=1)) if values.size else np.zeros(len(rows))
    return np.where(is_open[None, :], mean[:, None], 0.0)


def _select(scores: pd.DataFrame, cv: list[dict]) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Winner (one model or two averaged) per forecast class, and a sentence on why."""
    selection, notes = {"new": ("new",), "dormant": ("zero",)}, {}
    modelled = scores[scores["demand_class"].isin(FORECAST_CLASSES)]
    overall = modelled.groupby("model")[["score", "pairs"]].apply(
        lambda g: pd.Series({"score": np.average(g["score"], weights=g["pairs"]), "pairs": g["pairs"].sum()}))
    for cls in FORECAST_CLASSES:
        own = modelled[modelled["demand_class"] == cls].set_index("model")
        table = own if len(own) and own["pairs"].max() >= MIN_CLASS_PAIRS else overall
        if table.empty:
            selection[cls], notes[cls] = DEFAULT_METHOD, "no fold to compare models on: the default"
            continue
        best = table["score"].astype(float).idxmin()
        selection[cls] = tuple(best.split("+"))
        if cls not in ETS_CLASSES:  # the winner over all classes can't be ETS on intermittent rows: TSB instead
            selection[cls] = tuple(dict.fromkeys(m.replace("autoets", "tsb") for m in selection[cls]))
        where = "its class" if table is own else "all classes (too few of its class)"
        row = table.loc[best]
        notes[cls] = (f"lowest CV error of {len(table)} candidates on {where} (MASE {row['mase']:.2f}, "
                      f"RMSSE {row['rmsse']:.2f}, {int(row['pairs'])} product-folds)") if "mase" in row else \
            f"lowest CV error on {where}"
    return selection, notes


def method_parts(method: str) -> tuple[list[tuple[str, str | None]], float | None]:
    """A stored method code taken apart: ([(model, "season" | "weekday" | None), ...], level factor or None).

    "autoets + sba_w x 1.1" is ([("autoets", None), ("sba", "weekday")], 1.1): the mean of those, times 1.1.
    """
    code, _, factor = method.partition(" x ")
    members = []
    for name in (part.strip() for part in code.split("+")):
        if name:
            kind = "season" if name.endswith(SUFFIX) else "weekday" if name.endswith(WEEKDAY_SUFFIX) else None
            members.append((base_model(name), kind))
    return members, float(factor) if factor else None


def method_label(method: str) -> str:
    """A stored method code in words (English, for logs and the CLI; the dashboard says it in its language)."""
    members, factor = method_parts(method)
    suffix = {"season": " x the shop's season a year ago", "weekday": " x the shop's weekday profile", None: ""}
    names = [LABELS.get(name, name) + suffix[kind] for name, kind in members]
    text = names[0] if len(names) == 1 else "mean of " + " and ".join(names)
    return f"{text}, times {factor:g}" if factor else text


def _method_reason(cls: str, selection, notes) -> str:
    note = notes.get(cls)
    return f"forecast: {method_label(' + '.join(selection[cls]))}" + (f", {note}" if note else "")


def _factors(cv, selection, scores, notes) -> dict[str, float]:
    """Each forecast class's CV-chosen level factor (1 where its own product-folds are too few)."""
    factors = {}
    for cls in FORECAST_CLASSES:
        pairs = scores[scores["demand_class"] == cls]["pairs"]
        if pairs.empty or pairs.max() < MIN_CLASS_PAIRS:
            factors[cls] = 1.0
            continue
        factors[cls], before, after = level_factor(cv, cls, selection[cls])
        if factors[cls] != 1.0:
            notes[cls] += f", times {factors[cls]:g} (bias correction: CV RMSSE {after:.3f} instead of {before:.3f})"
    return factors


def _winner_paths(cv: list[dict], selection, factors) -> dict[str, list[np.ndarray]]:
    paths: dict[str, list[np.ndarray]] = {}
    for record in cv:
        members = selection.get(record["class"])
        if not members or any(m not in record["forecasts"] for m in members):
            continue
        yhat = np.mean([record["forecasts"][m] for m in members], axis=0) * factors.get(record["class"], 1.0)
        norm = norm_of(yhat, record["floor"], record["open"])
        residuals = residual_paths(record["y"], yhat, norm)
        for key in set(keys := [pool_key(record["class"], a) for a in record["adi"]]):
            paths.setdefault(key, []).append(residuals[np.array(keys) == key])
    return paths


def _final(panel: Panel, classes: pd.DataFrame, selection, factors, h: int, country) -> tuple[np.ndarray, list[str]]:
    cutoff = panel.days - 1
    is_open = panel.open_mask(panel.future_dates(h))
    group = classes["demand_class"].to_numpy()
    yhat = np.zeros((panel.n, h))
    needs_gbm = any("lightgbm" in selection[c] for c in FORECAST_CLASSES if (group == c).any())
    gbm = gbm_forecasts(panel, cutoff, h, country) if needs_gbm else None
    ratio, weekday = seasonal_ratio(panel, cutoff, h), weekday_index(panel, cutoff, h)
    for cls in FORECAST_CLASSES:
        rows = np.flatnonzero(group == cls)
        if rows.size == 0:
            continue
        members = selection[cls]
        names = list(dict.fromkeys(base_model(m) for m in members if m != "lightgbm"))
        forecasts = local_forecasts(panel, rows, cutoff, h, names)
        forecasts.update(variants(forecasts, ratio, weekday))
        if "lightgbm" in members:
            forecasts["lightgbm"] = gbm[rows]
        yhat[rows] = np.mean([forecasts.get(m, forecasts.get(base_model(m))) for m in members], axis=0) * factors[cls]
    new = np.flatnonzero(group == "new")
    yhat[new] = _new_rule(panel, new, cutoff, is_open)
    method = [" + ".join(selection[c]) + (f" x {factors[c]:g}" if factors.get(c, 1.0) != 1.0 else "") for c in group]
    return yhat, method


def _forecast_frame(panel, future, yhat, norm, group, pools, levels) -> pd.DataFrame:
    n, h = yhat.shape
    frame = pd.DataFrame({"unique_id": np.repeat(panel.ids, h), "ds": np.tile(future, n), "yhat": yhat.reshape(-1)})
    lowers = {level: np.zeros_like(yhat) for level in levels}
    uppers = {level: np.zeros_like(yhat) for level in levels}
    for cls in np.unique(group):
        rows = group == cls
        for level, (lower, upper) in bands(
                yhat[rows], norm[rows], pool_quantiles(pools[cls], levels)).items():
            lowers[level][rows], uppers[level][rows] = lower, upper
    for level in levels:
        frame[lower_col(level)] = lowers[level].reshape(-1)
        frame[upper_col(level)] = uppers[level].reshape(-1)
    return frame


def _cv_frame(cv: list[dict], panel: Panel) -> pd.DataFrame:
    parts = []
    for record in cv:
        rows, y = record["rows"], record["y"]
        h = y.shape[1]
        dates = panel.dates[record["cutoff"] + 1 : record["cutoff"] + 1 + h]
        for model, yhat in record["forecasts"].items():
            parts.append(pd.DataFrame({
                "fold": record["fold"], "cutoff": panel.dates[record["cutoff"]], "demand_class": record["class"],
                "model": model, "unique_id": np.repeat(panel.ids[rows], h), "ds": np.tile(dates, len(rows)),
                "step": np.tile(np.arange(1, h + 1), len(rows)), "y": y.reshape(-1), "yhat": yhat.reshape(-1)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["fold", "cutoff", "demand_class", "model", "unique_id", "ds", "step", "y", "yhat"])
