"""Sales forecasting for small businesses: series, model selection by honest CV, stored forecasts.

The package never imports Streamlit; the dashboard (`app.py`, `pages/`) calls it.
"""

from .config import AppSettings, MLSettings, get_app_settings, get_settings
from .errors import ConfigError, DataError, ForecastingError, ModelError, StorageError
from .pipeline import TrainResult, predict_from_active, train_and_predict_sales
from .storage import Storage, open_storage

__all__ = [
    "AppSettings",
    "ConfigError",
    "DataError",
    "ForecastingError",
    "MLSettings",
    "ModelError",
    "Storage",
    "StorageError",
    "TrainResult",
    "get_app_settings",
    "get_settings",
    "open_storage",
    "predict_from_active",
    "train_and_predict_sales",
]
