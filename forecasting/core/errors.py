"""The package's exceptions: few, and with messages a user can act on.

The CLI and the dashboard turn these into one clear line; anything else that
escapes is a bug.
"""


class ForecastingError(Exception):
    """Base class of every error the package raises on purpose."""


class DataError(ForecastingError):
    """The input data can't be used as it is (empty tenant, malformed CSV, ...)."""


class ConfigError(ForecastingError):
    """A setting or a per-tenant override is invalid; the message names the field."""


class StorageError(ForecastingError):
    """The database could not be read or written; nothing was half-written."""


class ModelError(ForecastingError):
    """A model could not be fitted, loaded or used."""


class AccessError(ForecastingError):
    """Sign-in failed, the session ended, or the user may not do or see this."""
