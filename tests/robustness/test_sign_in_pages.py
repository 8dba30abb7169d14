"""Sign-in on the dashboard (Streamlit's AppTest): the form, the banner, and who sees which business.

An owner must not reach another business through any page, the picker, the
session's remembered business, a page opened directly, or the cache; the
browser test (tests/browser) does the same through a real `streamlit run`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from forecasting.i18n.catalog import t
from forecasting.services import auth
from forecasting.storage import SQLStorage
from tests.support.dashboard_db import copy_db
from tests.support.pages import APP, JOBS, PAGES, TIMEOUT, open_page, use_database

PASSWORD = "correct horse battery"
OWN, OTHER = "2", "1"  # the owner's business, and one that is not theirs


def every_text(at: AppTest) -> str:
    """Everything the run drew: texts, headings, metrics, tables, widget labels and options."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error",
                 "success", "metric", "selectbox", "multiselect", "dataframe", "table", "json", "exception"):
        for element in at.get(kind):
            proto = getattr(element, "proto", None)
            parts.append(str(proto) if proto is not None else str(element))
    for element in at.sidebar:
        parts.append(str(getattr(element, "proto", element)))
    return "\n".join(parts)


@pytest.fixture
def signed_db(monkeypatch, demo_db, tmp_path):
    db = copy_db(demo_db, tmp_path / "signin.db")
    use_database(monkeypatch, db)
    monkeypatch.setenv("AUTH_ENABLED", "true")
    from forecasting.core.config import reset_settings

    reset_settings()
    store = SQLStorage.sqlite_file(db)
    auth.add_user(store, "owner@two", PASSWORD, "owner", OWN)
    auth.add_user(store, "analyst", PASSWORD, "analyst")
    auth.add_user(store, "admin", PASSWORD, "admin")
    yield store
    store.close()


def visit(page: str = APP) -> AppTest:
    at = AppTest.from_file(page, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def names(store) -> dict[str, str]:
    return dict(zip(store.tenants()["id"], store.tenants()["nombre"], strict=True))


def test_with_sign_in_off_every_page_carries_the_banner(monkeypatch, demo_db):
    use_database(monkeypatch, demo_db)
    at = visit()
    banner = t("auth.off_banner", "en")
    for page in [*PAGES, JOBS]:
        open_page(at, page)
        assert banner in [w.value for w in at.warning], page
    assert not at.text_input  # no sign-in form


def test_a_visitor_sees_the_form_and_no_business_data(signed_db):
    at = visit()
    assert at.title[0].value == t("auth.title", "en")
    assert [w.label for w in at.text_input] == [t("auth.username", "en"), t("auth.password", "en")]
    shown = every_text(at)
    assert not any(name in shown for name in names(signed_db).values())
    assert not at.metric and not at.sidebar.selectbox
    assert t("auth.off_banner", "en") not in shown


@pytest.mark.parametrize("page", PAGES + [JOBS])
def test_a_page_opened_on_its_own_asks_for_sign_in_too(signed_db, page):
    """Before `st.navigation` first runs, Streamlit can serve a file of pages/ directly, without app.py."""
    at = visit(str(Path(APP).parent / page))
    assert at.title[0].value == t("auth.title", "en")
    assert not any(name in every_text(at) for name in names(signed_db).values())


@pytest.mark.parametrize("username, password", [("owner@two", "not the password"), ("nobody", PASSWORD),
                                                ("OWNER@TWO", PASSWORD + " "), ("", "")])
def test_a_failed_sign_in_says_the_same_thing_whatever_was_wrong(signed_db, username, password):
    at = sign_in(visit(), username, password)
    assert [e.value for e in at.error] == [t("auth.failed", "en")]
    assert at.title[0].value == t("auth.title", "en")


def test_wrong_passwords_through_the_form_lock_the_name_and_only_that_name(signed_db):
    """AUTH_MAX_ATTEMPTS wrong passwords in a row: even the right one is refused then, in the same words."""
    from forecasting.core.config import get_app_settings
    from forecasting.storage.base import stored_moment

    settings = get_app_settings()
    assert settings.auth_max_attempts == 5  # the default, which this deployment keeps

    def row(username: str) -> dict:
        """The user as `users list` shows it: with its failed attempts and `locked_until`."""
        users = auth.list_users(signed_db)
        return users[users["username"] == username].iloc[0].to_dict()

    at = visit()
    started = datetime.now(timezone.utc)
    for attempt in range(1, settings.auth_max_attempts + 1):
        if attempt == settings.auth_max_attempts:
            assert row("owner@two")["failed_attempts"] == attempt - 1 and stored_moment(
                row("owner@two")["locked_until"]) is None  # not locked until the last wrong one
        sign_in(at, "owner@two", f"wrong password {attempt}")
        assert [e.value for e in at.error] == ["Wrong user name or password."]
        assert at.title[0].value == t("auth.title", "en")
    ended = datetime.now(timezone.utc)
    locked_until = stored_moment(row("owner@two")["locked_until"])
    lockout = timedelta(minutes=settings.auth_lockout_minutes)
    assert locked_until is not None and started + lockout <= locked_until <= ended + lockout

    sign_in(at, "owner@two", PASSWORD)  # the right password, while locked
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    assert at.title[0].value == t("auth.title", "en") and not at.sidebar.selectbox
    assert not any(name in every_text(at) for name in names(signed_db).values())
    assert signed_db.select("app_sessions", None, where={"username": "owner@two"}).empty
    assert stored_moment(row("owner@two")["locked_until"]) == locked_until  # refusing did not unlock it

    other = sign_in(visit(), "analyst")  # another name is not locked
    assert not other.error and t("auth.title", "en") not in [title.value for title in other.title]
    assert any("analyst" in c.value for c in other.sidebar.caption)
    assert len(signed_db.select("app_sessions", None, where={"username": "analyst"})) == 1


def test_with_no_users_the_form_says_how_to_add_the_first(monkeypatch, demo_db):
    use_database(monkeypatch, demo_db)
    monkeypatch.setenv("AUTH_ENABLED", "true")
    from forecasting.core.config import reset_settings

    reset_settings()
    at = visit()
    assert "users add" in at.info[0].value and not at.text_input


def test_an_owner_sees_only_their_business_on_every_page(signed_db):
    at = sign_in(visit(), "owner@two")
    others = [name for tenant, name in names(signed_db).items() if tenant != OWN]
    own = names(signed_db)[OWN]
    assert at.sidebar.selectbox(key="tenant_id").options == [own]
    assert t("auth.off_banner", "en") not in every_text(at)
    assert any("owner@two" in c.value.replace("\u200b", "") for c in at.sidebar.caption)  # no autolink: a zero-width space
    for page in PAGES:
        open_page(at, page)
        shown = every_text(at)
        assert own in shown, page
        assert not any(name in shown for name in others), page
    open_page(at, PAGES[0])
    assert not at.dataframe  # no table of every business


def test_an_owner_cannot_switch_business_through_the_session(signed_db):
    """A session that remembers another business (a crafted request, a value left behind) shows theirs only."""
    token, _ = auth.sign_in(signed_db, "owner@two", PASSWORD)
    others = [name for tenant, name in names(signed_db).items() if tenant != OWN]
    for page in PAGES:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.session_state["lang"] = "en"
        at.session_state["auth_token"] = token
        at.session_state["tenant_id"] = OTHER
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.session_state["tenant_id"] == OWN, page
        assert names(signed_db)[OWN] in every_text(at), page
        assert not any(name in every_text(at) for name in others), page


def test_an_owner_has_no_jobs_page_even_by_address(signed_db):
    at = sign_in(visit(), "owner@two")
    assert t("nav.jobs", "en") not in str(at.get("navigation"))
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(JOBS)  # not registered for an owner: its address leads nowhere
    # Served on its own (Streamlit's pre-navigation routing), the page checks for itself.
    token, _ = auth.sign_in(signed_db, "owner@two", PASSWORD)
    direct = AppTest.from_file(str(Path(APP).parent / JOBS), default_timeout=TIMEOUT)
    direct.session_state["lang"] = "en"
    direct.session_state["auth_token"] = token
    direct.run()
    assert [i.value for i in direct.info] == [t("auth.jobs_forbidden", "en")]
    assert not [b for b in direct.button if str(b.key or "").startswith("run_now_")]


def test_an_analyst_sees_every_business_and_jobs_but_only_an_admin_runs_them(signed_db):
    at = sign_in(visit(), "analyst")
    assert set(at.sidebar.selectbox(key="tenant_id").options) == set(names(signed_db).values())
    assert len(at.dataframe[0].value) == len(names(signed_db))  # the every-business table
    at.switch_page(JOBS).run()
    run_buttons = [b for b in at.button if str(b.key or "").startswith("run_now_")]
    assert run_buttons and all(b.disabled for b in run_buttons)

    admin = sign_in(visit(), "admin")
    admin.switch_page(JOBS).run()
    assert not admin.button(key="run_now_health_check").disabled


def test_signing_out_and_an_ended_session_bring_back_the_form(signed_db):
    at = sign_in(visit(), "owner@two")
    at.sidebar.button(key="sign_out").click().run()
    assert at.title[0].value == t("auth.title", "en") and signed_db.select("app_sessions", None).empty

    at = sign_in(at, "owner@two")
    assert at.sidebar.selectbox(key="tenant_id").value == OWN
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    signed_db.update("app_sessions", None, {"expires_at": past}, where={"username": "owner@two"})
    at.run()
    assert at.title[0].value == t("auth.title", "en")
    assert t("auth.ended", "en") in [i.value for i in at.info]
    assert not any(name in every_text(at) for name in names(signed_db).values())


def test_a_disabled_user_is_out_at_the_next_click(signed_db):
    at = sign_in(visit(), "analyst")
    auth.set_disabled(signed_db, "analyst", True)
    at.run()
    assert at.title[0].value == t("auth.title", "en")

