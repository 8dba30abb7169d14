"""The notifications page's data (`forecasting.views.notifications`)."""

from __future__ import annotations

from forecasting.views import notifications
from tests.support.dashboard_db import TRAINED


def test_notifications_newest_first_and_mark_read(writable):
    from forecasting.services.notifications import notify

    for i in range(3):
        notify(writable, TRAINED, kind="drift", title=f"alert {i}", message="m", event_key=f"k{i}")
    items = notifications.notifications(writable, TRAINED)
    assert list(items["title"]) == ["alert 2", "alert 1", "alert 0"]
    assert notifications.unread_count(writable, TRAINED) == 3
    notifications.mark_read(writable, TRAINED, int(items["id"].iloc[0]))
    assert notifications.unread_count(writable, TRAINED) == 2
    notifications.mark_read(writable, TRAINED)
    assert notifications.notifications(writable, TRAINED, unread_only=True).empty
