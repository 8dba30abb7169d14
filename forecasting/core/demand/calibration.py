"""Bands and sample paths from cross-validation residual paths, pooled per demand class.

Decisions:

* A residual path is one product's whole held-out window of one fold,
  relative to its forecast: r_t = (y_t - yhat_t) / norm_t, with
  norm_t = max(yhat_t, floor) and floor = half the product's recent level
  (`level_floor`). Dividing by the forecast makes paths of big and small
  sellers exchangeable, the floor keeps a near-zero forecast from turning
  one sale into an enormous ratio. Closed days have norm 0 and residual 0.
* Pooled per demand class and band of ADI (`ADI_EDGES`) as they were at
  each fold's cutoff: per product there are only as many paths as folds,
  far too few for a 95% band. The ADI band matters because a relative
  residual on a sale day is about the ADI (a product selling one day in
  eight sells about 8 times its daily mean when it sells), so pooling one
  day in two with one day in ten makes both bands wrong. A pool with fewer
  than `MIN_PATHS` paths borrows its class's pool, then that of all
  classes together; "new" products, when they borrow, get those residuals
  doubled (wide bands for a level known from a few days). With fewer than
  `MIN_PATHS` paths in all (a shop with a handful of products), each product
  with enough history draws from its own past instead (`history_pool`):
  every window of `h` consecutive days of its last year, relative to its
  recent level, so a steady seller keeps narrow bands and an erratic one
  wide. Only without that (a short history, a new product), a stated rule:
  daily demand varies like a gamma distribution with a coefficient of
  variation of 1.4 around the forecast.
* Daily bands: the forecast plus norm times the pool's empirical quantile
  (all steps together), the conservative order statistic (lower quantiles
  rounded down, upper ones up), clipped at 0 and never on the wrong side
  of `yhat`. The 95% band contains the 80% band by construction.
* Sample paths: max(0, yhat + norm * r) for every residual path r of the
  product's pool, a block bootstrap with the whole horizon as the block, so
  demand summed over k days keeps the runs of good and bad weeks the folds
  saw (a sum of daily quantiles would overstate the spread of a sum).
"""

from __future__ import annotations

import numpy as np

MIN_PATHS = 20
RULE_PATHS = 400
NEW_WIDEN = 2.0
ADI_EDGES = (1.32, 2.0, 3.0, 5.0, 10.0)


def pool_key(demand_class: str, adi: float) -> str:
    """The pool a product draws from: its class, and for modelled classes its ADI band."""
    if demand_class in ("new", "dormant"):
        return demand_class
    band = int(np.searchsorted(ADI_EDGES, adi, side="right"))
    low = "1" if band == 0 else f"{ADI_EDGES[band - 1]:g}"
    high = f"{ADI_EDGES[band]:g}" if band < len(ADI_EDGES) else "inf"
    return f"{demand_class} adi {low}-{high}"


def level_floor(y: np.ndarray, cutoff: int) -> np.ndarray:
    """Half of max(mean of the last 91 days, half the lifetime mean) per product, up to column `cutoff`."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        recent = np.nanmean(y[:, max(0, cutoff - 90) : cutoff + 1], axis=1)
        lifetime = np.nanmean(y[:, : cutoff + 1], axis=1)
    return 0.5 * np.nan_to_num(np.maximum(np.nan_to_num(recent), 0.5 * np.nan_to_num(lifetime)))


def norm_of(yhat: np.ndarray, floor: np.ndarray, is_open: np.ndarray) -> np.ndarray:
    return np.where(is_open[None, :], np.maximum(yhat, floor[:, None]), 0.0)


def residual_paths(y: np.ndarray, yhat: np.ndarray, norm: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norm > 0, (y - yhat) / np.where(norm > 0, norm, 1.0), 0.0)


def rule_pool(h: int, seed: int = 0) -> np.ndarray:
    """The stated rule without data: relative errors of a gamma with mean 1 and CV 1.4."""
    shape = 1 / 1.4**2
    draws = np.random.default_rng(seed).gamma(shape, 1 / shape, size=(RULE_PATHS, h))
    return draws - 1.0


def build_pools(paths: dict[str, list[np.ndarray]], keys, h: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The pool (paths x h) of each key in `keys` from CV paths by pool key, and a note on where it came from."""
    stacked = {g: np.vstack(p) for g, p in paths.items() if p}
    by_class: dict[str, list[np.ndarray]] = {}
    for key, values in stacked.items():
        by_class.setdefault(key.split(" ")[0], []).append(values)
    classes = {c: np.vstack(v) for c, v in by_class.items()}
    modelled = [v for c, v in classes.items() if c not in ("new", "dormant")]
    everything = np.vstack(modelled) if modelled else None
    pools, notes = {}, {}
    for key in sorted(set(keys)):
        own, cls = stacked.get(key), key.split(" ")[0]
        mine = classes.get(cls)
        if own is not None and len(own) >= MIN_PATHS:
            pools[key], notes[key] = own, f"{len(own)} CV residual paths of {key}"
        elif cls not in ("new", "dormant") and mine is not None and len(mine) >= MIN_PATHS:
            pools[key], notes[key] = mine, f"{len(mine)} CV residual paths of all {cls} products"
        elif everything is not None and len(everything) >= MIN_PATHS:
            widen = NEW_WIDEN if cls == "new" else 1.0
            pools[key] = everything * widen
            notes[key] = f"{len(everything)} CV residual paths of all classes" + (", doubled" if widen > 1 else "")
        else:
            pools[key] = rule_pool(h)
            notes[key] = "no cross-validation residuals: an assumed spread (gamma, CV 1.4)"
    return pools, notes


HISTORY_DAYS = 365


def history_pool(y: np.ndarray, h: int) -> np.ndarray | None:
    """One product's own variation as residual paths: each window of `h` days of its last `HISTORY_DAYS`
    days (open or closed as they were), relative to its level over them (the mean, floored like `norm_of`);
    None with fewer than `MIN_PATHS` windows."""
    values = y[~np.isnan(y)][-HISTORY_DAYS:]
    windows = len(values) - h + 1
    if windows < MIN_PATHS:
        return None
    level = float(values.mean())
    if level <= 0:
        return None
    paths = np.lib.stride_tricks.sliding_window_view(values, h)
    return (paths - level) / level


def pool_quantiles(pool: np.ndarray, levels) -> dict[int, tuple[float, float]]:
    values = pool.reshape(-1)
    out = {}
    for level in levels:
        lo, hi = 0.5 - level / 200, 0.5 + level / 200
        out[int(level)] = (float(np.quantile(values, lo, method="lower")),
                           float(np.quantile(values, hi, method="higher")))
    return out


def bands(yhat: np.ndarray, norm: np.ndarray, quantiles: dict[int, tuple[float, float]]) -> dict[int, tuple]:
    out = {}
    for level, (lo, hi) in quantiles.items():
        lower = np.clip(yhat + norm * lo, 0.0, yhat)
        upper = np.maximum(yhat + norm * hi, yhat)
        out[level] = (lower, upper)
    return out


def sample_paths(yhat: np.ndarray, norm: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Demand paths (paths x h) for one product."""
    return np.maximum(yhat[None, :] + norm[None, :] * pool[:, : len(yhat)], 0.0)
