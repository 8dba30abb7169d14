"""The notifications page: the tenant's messages, newest first, and marking them read."""

from __future__ import annotations

import pandas as pd

from ..services.notifications import list_notifications
from ..services.notifications import mark_read as _mark_read
from ..storage import Storage

__all__ = ["mark_read", "notifications", "unread_count"]


# --- notifications -------------------------------------------------------------------------


def notifications(storage: Storage, tenant_id: str, *, unread_only: bool = False) -> pd.DataFrame:
    """The tenant's notifications, newest first (id, kind, severity, title, message, details, is_read, created_at).

    `details` is the message as i18n parts (`forecasting.i18n.messages.say` says it in a language), or
    None for rows written without them (by older versions or other applications): show `title` and
    `message` then.
    """
    frame = list_notifications(storage, str(tenant_id), unread_only=unread_only)
    return frame[["id", "kind", "severity", "title", "message", "details", "is_read",
                  "created_at"]].reset_index(drop=True)


def unread_count(storage: Storage, tenant_id: str) -> int:
    return len(storage.select("notifications", str(tenant_id), columns=["id"], where={"is_read": False}))


def mark_read(storage: Storage, tenant_id: str, notification_id: int | None = None) -> int:
    """Mark one notification, or all of the tenant's when `notification_id` is None, as read."""
    return _mark_read(storage, str(tenant_id), notification_id)
