"""Structured logging: one JSON object per event, on stderr.

`log_event("cv_done", tenant_id="3", winner="ets")` writes
`{"ts": "...", "level": "info", "event": "cv_done", "tenant_id": "3", ...}`.
Nothing else in the package prints.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from datetime import date, datetime, timezone
from typing import Any

LOGGER_NAME = "forecasting"
_logger = logging.getLogger(LOGGER_NAME)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    return str(value)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time of the event (test runners and servers swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler assigns it; the property always answers
        pass


def setup_logging(level: str = "INFO") -> None:
    """Send the package's events to stderr as JSON lines (idempotent)."""
    if not any(getattr(h, "_forecasting", False) for h in _logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler._forecasting = True  # type: ignore[attr-defined]
        _logger.addHandler(handler)
    _logger.setLevel(level.upper())
    _logger.propagate = False
    # Prophet's Stan backend logs every fit at INFO; that is noise for our users.
    for noisy in ("cmdstanpy", "prophet"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event; `fields` become top-level JSON keys."""
    _logger.log(level, event, extra={"fields": fields})
