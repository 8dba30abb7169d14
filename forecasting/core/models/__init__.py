"""The registry of candidate models: name -> class, imported lazily.

The registry is the only place that knows which modules hold models, so an
optional library that is not installed (say `xgboost`) turns into a recorded
skip with its reason, never an import error at start-up. Adding a candidate
is one module and one line here.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from ..errors import ModelError
from ..intervals import lower_col, upper_col
from .base import Forecaster

__all__ = ["COMMON_PACKAGES", "Forecaster", "available_names", "build", "load_model", "lower_col", "model_class",
           "required_packages", "unavailable_reason", "upper_col"]

_REGISTRY: dict[str, tuple[str, str]] = {
    "naive": ("baselines", "Naive"),
    "snaive": ("baselines", "SeasonalNaive"),
    "ets": ("statistical", "ETS"),
    "sarimax": ("statistical", "SARIMAX"),
    "prophet": ("prophet_model", "ProphetForecaster"),
    "xgboost": ("boosting", "XGBoostForecaster"),
    "lightgbm": ("gbm", "LightGBMForecaster"),
    "autoets": ("fast_statistical", "AutoETSForecaster"),
    "theta": ("fast_statistical", "ThetaForecaster"),
}

#: Built by the engine from CV winners, never a candidate of its own; loadable like any model.
_COMPOSITES: dict[str, tuple[str, str]] = {"ensemble": ("ensemble", "EnsembleForecaster")}

#: Packages every model relies on, whichever it is: its arrays and series, joblib for the default storage.
COMMON_PACKAGES = ("numpy", "pandas", "joblib")


def available_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def model_class(name: str) -> type[Forecaster]:
    entry = _REGISTRY.get(name) or _COMPOSITES.get(name)
    if entry is None:
        raise ModelError(f"unknown model {name!r}; choose from {sorted(_REGISTRY)}")
    module, attr = entry
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)


def unavailable_reason(name: str) -> str | None:
    """Why `name` can't run here (a missing optional package), or None."""
    missing = [pkg for pkg in model_class(name).requires if importlib.util.find_spec(pkg) is None]
    return f"not installed: {', '.join(missing)}" if missing else None


def required_packages() -> tuple[str, ...]:
    """Every package (import name) a loadable model needs: the common ones, then each model's `requires`."""
    names = [*COMMON_PACKAGES]
    for name in [*_REGISTRY, *_COMPOSITES]:
        names.extend(model_class(name).requires)
    return tuple(dict.fromkeys(names))


def build(name: str, settings: Any, country: str | None = None) -> Forecaster:
    """A fresh, unfitted candidate configured from settings."""
    return model_class(name).from_settings(settings, country)


def load_model(model_type: str, data: bytes) -> Forecaster:
    """A fitted model back from the bytes `Forecaster.to_bytes` produced."""
    try:
        model = model_class(model_type).from_bytes(data)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"the stored {model_type} model could not be loaded: {exc}") from None
    if model.name != model_type:
        raise ModelError(f"the stored model is a {model.name}, not a {model_type}")
    return model
