"""Configured secrets never reach a rendered page, an error message or the log.

The dashboard runs (Streamlit's AppTest) with sign-in on, so a typed password
is in play too, on each backend that holds a secret:

* `postgres`: a real PostgreSQL server whose URL carries a password (the test
  server trusts loopback, so any password connects);
* `supabase`: the Supabase REST backend (no `DATABASE_URL`, which would win),
  its service-role key a JWT, against a PostgREST stand-in served over HTTP.

Every page's rendered elements and everything logged are searched for each
secret.
"""

from __future__ import annotations

import logging

import pytest
from streamlit.testing.v1 import AppTest

from forecasting.core.config import reset_settings
from forecasting.core.logs import LOGGER_NAME
from forecasting.services import auth
from forecasting.services.demo import generate_demo, write_demo
from forecasting.services.training import train_and_predict_sales
from forecasting.storage import SQLStorage
from tests.support import FAST, NOW
from tests.support.pages import APP, JOBS, PAGES, TIMEOUT, open_page

DB_PASSWORD = "pw-Very-Secret-4711"
SERVICE_KEY = "sk-service-role-Secret-0815"
USER_PASSWORD = "Typed-Password-Secret-42"
SECRETS = [DB_PASSWORD, SERVICE_KEY, USER_PASSWORD]


def rendered(at: AppTest) -> str:
    """Every element of the last run, sidebar included, as its protobuf text (labels, values, options, data)."""
    return "\n".join(str(getattr(node, "proto", node)) for node in at.main) + "\n".join(
        str(getattr(node, "proto", node)) for node in at.sidebar)


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.fixture(params=["postgres", "supabase"])
def configured(request, monkeypatch, caplog):
    """Demo data and a user on the backend, and the environment pointing the dashboard at it; the
    secrets of this configuration are added to SECRETS for the test's duration."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        store = SQLStorage(url)
        with_password = url.replace("://postgres@", f"://postgres:{DB_PASSWORD}@")
        assert DB_PASSWORD in with_password
        monkeypatch.setenv("DATABASE_URL", with_password)
        monkeypatch.setenv("SUPABASE_URL", "https://example.supabase.co")
        monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
    else:
        from forecasting.storage.supabase_rest import SupabaseRestStorage

        server = request.getfixturevalue("rest_server")
        store = SupabaseRestStorage(server.url, server.service_key)
        # the whole key, and its signature alone (the part a partial leak would show)
        monkeypatch.setattr(__name__ + ".SECRETS", [*SECRETS, server.service_key,
                                                     server.service_key.rsplit(".", 1)[-1]])
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.setenv("SUPABASE_URL", server.url)
        monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", server.service_key)
    write_demo(store, generate_demo(n_tenants=2, days=200, end=NOW.date()))
    train_and_predict_sales("1", storage=store, settings=FAST)
    auth.add_user(store, "ana", USER_PASSWORD, "admin")
    store.close()
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")
    monkeypatch.setenv("AUTH_ENABLED", "true")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    reset_settings()
    caplog.set_level(logging.DEBUG)
    caplog.backend = request.param
    return caplog


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.run()
    return at


def sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input[0].input("ana")
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


def test_no_page_shows_or_logs_a_configured_secret(configured, capsys):
    at = start()
    assert not leaked(rendered(at))
    sign_in(at, USER_PASSWORD + "-wrong")  # a mistyped password comes back in no message either
    assert not leaked(rendered(at)) and "-wrong" not in rendered(at)
    sign_in(at, USER_PASSWORD)
    assert not at.exception, [e.value for e in at.exception]
    # the sidebar does say where the data is, without the password or key
    shown = rendered(at)
    assert ("postgresql" in shown) if configured.backend == "postgres" else ("supabase" in shown and "127.0.0.1" in shown)
    for page in [*PAGES, JOBS]:
        open_page(at, page)
        assert not leaked(rendered(at)), page
    captured = capsys.readouterr()
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in configured.records)
    assert not leaked(captured.out + captured.err + logged)
    assert any(record.name.startswith(LOGGER_NAME) for record in configured.records)  # the log was looked at


def test_a_database_outage_message_names_the_problem_not_the_password(monkeypatch, configured, capsys):
    if configured.backend == "postgres":
        monkeypatch.setenv("DATABASE_URL", f"postgresql://alice:{DB_PASSWORD}@127.0.0.1:9/nodb")  # nothing listens
    else:
        monkeypatch.setenv("SUPABASE_URL", "http://127.0.0.1:9")
    reset_settings()
    at = start()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "database" in errors.lower() and "127.0.0.1" in errors
    assert not leaked(rendered(at))
    captured = capsys.readouterr()
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in configured.records)
    assert not leaked(captured.out + captured.err + logged)
