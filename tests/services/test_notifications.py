"""Notifications are stored with their message as i18n parts and said in the reader's language."""

from __future__ import annotations

import sqlite3

from forecasting.i18n.catalog import t
from forecasting.i18n.formatting import formatter_for
from forecasting.i18n.messages import say
from forecasting.ops import jobs
from forecasting.services.notifications import KINDS, notify_drift
from forecasting.services.scoring import measure_drift
from forecasting.services.tenants import get_tenant
from forecasting.services.training import train_and_predict_sales
from forecasting.storage import SQLStorage
from tests.support import FAST, NOW


def test_every_kind_of_notification_says_itself_in_spanish_and_english(demo_storage):
    train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    demo_storage.upsert("business_notification_config", "1", [
        {"tenant_id": "1", "rule": "low_stock", "threshold": 1e9, "is_active": True},
        {"tenant_id": "1", "rule": "new_anomaly", "threshold": 0.0, "is_active": True},
        {"tenant_id": "1", "rule": "forecast_drop", "threshold": -10.0, "is_active": True},  # any forecast "drops"
    ])
    jobs.check_notification_rules(demo_storage, FAST, now=NOW)
    jobs.send_daily_notifications(demo_storage, FAST, now=NOW)
    y = demo_storage.daily_totals("1", NOW.date().replace(year=2025), NOW.date(), "Europe/Madrid")
    drift = measure_drift(demo_storage, "1", y, threshold=0.0, cv_scores={"mape": 0.4, "wape": 0.3})
    notify_drift(demo_storage, "1", drift)
    notes = demo_storage.select("notifications", "1")
    assert {"low_stock", "anomaly", "forecast_drop", "daily_summary", "drift"} <= set(notes["kind"]) <= set(KINDS)
    for kind in KINDS:  # the kind shown under each notification, never its internal name
        english, spanish = t(f"notifications.kind.{kind}", "en"), t(f"notifications.kind.{kind}", "es")
        assert kind not in (english, spanish) and english != spanish, kind

    tenant = get_tenant(demo_storage, "1")  # sells in euros
    english, spanish = formatter_for(tenant, "en"), formatter_for(tenant, "es")
    for note in notes.itertuples():
        assert say(note.details, "en", english) == (note.title, note.message), note.kind  # the stored text
        title, message = say(note.details, "es", spanish)
        assert (title, message) != (note.title, note.message) and "{" not in title + message, note.kind
    summary = notes[notes["kind"] == "daily_summary"].iloc[0]
    es_title, es_message = say(summary["details"], "es", spanish)
    assert es_title.startswith("Resumen del") and "Ventas de ayer" in es_message
    assert "€" in es_message and "€" in summary["message"]  # amounts in the business's currency


def test_messages_this_version_cannot_say_fall_back_to_the_stored_text():
    from forecasting.i18n.formatting import Formatter

    fmt = Formatter(lang="es")
    for details in (None, "text", {}, {"title": ["notif.unknown", {}], "message": []},
                    {"title": ["notif.daily.title"], "message": []}, {"title": ["notif.daily.nothing", {}]},
                    {"title": ["notif.daily.title", {"day_date": "not a date"}], "message": []}):
        assert say(details, "es", fmt) is None, details
    assert say({"title": ["notif.daily.nothing", {}], "message": []}, "es", fmt) == ("Nada que destacar.", "")


def test_an_older_embedded_database_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    db = tmp_path / "old.db"
    SQLStorage.sqlite_file(db).close()
    with sqlite3.connect(db) as conn:  # as the previous version left it: notifications without `details`
        conn.execute("ALTER TABLE notifications DROP COLUMN details")
        conn.execute("INSERT INTO notifications (tenant_id, kind, severity, title, message, event_key, is_read, "
                     "created_at) VALUES ('1', 'info', 'info', 'Old', 'An old message', 'old', 0, '2026-01-01')")
    store = SQLStorage.sqlite_file(db)
    rows = store.select("notifications", "1")
    assert list(rows["title"]) == ["Old"] and rows["details"].isna().all()
    assert store.upsert("notifications", "1", [{"kind": "info", "title": "New", "message": "m", "event_key": "new",
                                                "details": {"title": ["notif.daily.nothing", {}], "message": []}}])
    assert store.select("notifications", "1", where={"event_key": "new"}).iloc[0]["details"]["title"][0] == \
        "notif.daily.nothing"
    store.close()
