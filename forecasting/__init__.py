"""Sales forecasting for small businesses: series, model selection by honest CV, stored forecasts.

The package never imports Streamlit; the dashboard (`app.py`, `pages/`) calls it.
Heavy parts (the pipeline and its models) load on first use, so importing the
package for settings or storage stays fast.
"""

from importlib import import_module

from .core.config import AppSettings, MLSettings, get_app_settings, get_settings
from .core.errors import ConfigError, DataError, ForecastingError, ModelError, StorageError

_LAZY = {
    "TrainResult": "services.training",
    "predict_from_active": "services.training",
    "train_and_predict_sales": "services.training",
    "Storage": "storage",
    "open_storage": "storage",
}

__all__ = ["AppSettings", "ConfigError", "DataError", "ForecastingError", "MLSettings", "ModelError", "StorageError",
           "get_app_settings", "get_settings", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
