"""Sign-in: users, password hashes, lockout and sessions, on the embedded database, real PostgreSQL and Supabase REST.

The dashboard side (what a signed-out visitor, an owner and an analyst see)
is in `test_sign_in_pages.py`.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from forecasting.core.config import AppSettings
from forecasting.core.errors import AccessError, ConfigError
from forecasting.services import auth
from forecasting.storage import SQLStorage

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
SETTINGS = AppSettings(auth_enabled=True, auth_session_hours=8, auth_idle_minutes=30, auth_max_attempts=3,
                       auth_lockout_minutes=15)


@pytest.fixture
def store(any_storage):
    """Two businesses, on each backend (SQLite, PostgreSQL, Supabase REST)."""
    any_storage.upsert("negocios", "1", [{"id": "1", "nombre": "Panadería"}])
    any_storage.upsert("negocios", "2", [{"id": "2", "nombre": "Ferretería"}])
    return any_storage


def sign_in(store, username, password=PASSWORD, at=T0):
    return auth.sign_in(store, username, password, settings=SETTINGS, now=at)


def refused(store, username, password=PASSWORD, at=T0) -> str:
    with pytest.raises(AccessError) as caught:
        sign_in(store, username, password, at)
    return str(caught.value)


# --- users ------------------------------------------------------------------------------------------


def test_a_password_is_stored_only_as_an_argon2_hash(store):
    auth.add_user(store, "Ana@Shop.com", PASSWORD, "owner", "1", now=T0)
    row = store.select("app_users", None).iloc[0]
    assert row["username"] == "ana@shop.com"  # names are case-insensitive
    assert row["password_hash"].startswith("$argon2id$")
    assert all(PASSWORD not in str(value) for value in row.to_dict().values())
    assert "password_hash" not in auth.list_users(store).columns


@pytest.mark.parametrize("args, field", [
    (("x@y", PASSWORD, "owner", None), "tenant"),  # an owner needs a business
    (("x@y", PASSWORD, "owner", "99"), "tenant"),  # that exists
    (("x@y", PASSWORD, "analyst", "1"), "tenant"),  # analysts see them all
    (("x@y", PASSWORD, "root", None), "role"),
    (("x@y", "short", "admin", None), "password"),
    (("x@y", "x" * 2000, "admin", None), "password"),
    (("correcthorse", "correcthorse", "admin", None), "password"),  # the name as password
    (("", PASSWORD, "admin", None), "user name"),
    (("a b'; drop table app_users;--", PASSWORD, "admin", None), "user name"),
])
def test_invalid_users_are_refused_naming_the_field(store, args, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        auth.add_user(store, *args)
    assert auth.list_users(store).empty


def test_a_taken_name_is_refused_and_the_first_user_is_kept(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    with pytest.raises(ConfigError, match="taken"):
        auth.add_user(store, "ANA", "another long password", "owner", "1")
    assert auth.list_users(store)[["username", "role"]].values.tolist() == [["ana", "admin"]]


# --- sign-in -------------------------------------------------------------------------------------------


def test_signing_in_opens_a_session_whose_token_is_not_stored(store):
    auth.add_user(store, "ana", PASSWORD, "owner", "2")
    token, user = sign_in(store, " ANA ", PASSWORD)
    assert user == auth.User("ana", "owner", "2")
    assert auth.session_user(store, token, settings=SETTINGS, now=T0) == user
    sessions = store.select("app_sessions", None)
    assert len(sessions) == 1 and token not in sessions.to_string()
    assert auth.list_users(store).iloc[0]["last_sign_in"] is not None


def test_every_failure_says_the_same_words(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    auth.add_user(store, "off", PASSWORD, "admin")
    auth.set_disabled(store, "off", True)
    messages = {
        refused(store, "ana", "wrong password!"),  # wrong password
        refused(store, "nobody", PASSWORD),  # unknown user
        refused(store, "off", PASSWORD),  # disabled user, right password
        refused(store, "ana", ""),  # empty password
        refused(store, "ana", "x" * 5000),  # absurdly long password
        refused(store, "' or 1=1 --", PASSWORD),  # hostile name
    }
    assert messages == {auth.SIGN_IN_FAILED}


def test_wrong_passwords_lock_the_name_even_for_the_right_password_then_it_unlocks(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    for _ in range(SETTINGS.auth_max_attempts):
        assert refused(store, "ana", "guess number one") == auth.SIGN_IN_FAILED
    assert refused(store, "ana", PASSWORD, at=T0 + timedelta(minutes=14)) == auth.SIGN_IN_FAILED
    token, _ = sign_in(store, "ana", PASSWORD, at=T0 + timedelta(minutes=16))
    assert auth.session_user(store, token, settings=SETTINGS, now=T0 + timedelta(minutes=16))


def test_a_success_resets_the_count_of_wrong_passwords(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    for _ in range(SETTINGS.auth_max_attempts - 1):
        refused(store, "ana", "guess number one")
    sign_in(store, "ana")
    for _ in range(SETTINGS.auth_max_attempts - 1):
        refused(store, "ana", "guess number two")
    sign_in(store, "ana")  # not locked: the count started again


def test_parallel_attempts_each_get_their_own_count(store):
    """The count is one atomic statement: twenty attempts at once are twenty different counts."""
    with ThreadPoolExecutor(max_workers=20) as pool:
        counts = list(pool.map(lambda _: store.count_sign_in_attempt("ana", T0)[0], range(20)))
    assert sorted(counts) == list(range(1, 21))


def test_a_burst_of_parallel_wrong_passwords_locks_the_name(store):
    """The attack that worked: many sign-ins at once each read "no failures yet" and none locked.
    Now each is counted before its password is checked, so the burst locks the name."""
    auth.add_user(store, "ana", PASSWORD, "admin")
    start = threading.Barrier(12)

    def attempt(i):
        start.wait()
        return refused(store, "ana", f"guess number {i}")

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert set(pool.map(attempt, range(12))) == {auth.SIGN_IN_FAILED}
    user = auth.list_users(store).iloc[0]
    assert user["locked_until"] == T0 + timedelta(minutes=SETTINGS.auth_lockout_minutes)
    assert refused(store, "ana", PASSWORD, at=T0 + timedelta(minutes=1)) == auth.SIGN_IN_FAILED  # the right one too


def test_an_attempt_past_the_limit_is_refused_even_with_the_right_password(store):
    """A burst's right password counted after the limit is refused: only the first attempts are checked."""
    auth.add_user(store, "ana", PASSWORD, "admin")
    for _ in range(SETTINGS.auth_max_attempts):  # counted, still being checked (as in a parallel burst)
        store.count_sign_in_attempt("ana", T0)
    assert refused(store, "ana", PASSWORD) == auth.SIGN_IN_FAILED
    assert auth.list_users(store).iloc[0]["locked_until"] is not None


def test_unknown_names_are_counted_and_locked_like_known_ones(store):
    for _ in range(SETTINGS.auth_max_attempts):
        refused(store, "nobody", "guess number one")
    locked = store.select("sign_in_attempts", None, where={"username": "nobody"}).iloc[0]
    assert locked["locked_until"] is not None  # a lock tells nothing about which names exist


def test_a_new_password_unlocks_and_ends_every_session(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    token, _ = sign_in(store, "ana")
    for _ in range(SETTINGS.auth_max_attempts):
        refused(store, "ana", "guess number one")
    auth.set_password(store, "ana", "a brand new password")
    assert auth.session_user(store, token, settings=SETTINGS, now=T0) is None
    refused(store, "ana", PASSWORD)
    sign_in(store, "ana", "a brand new password")


# --- sessions --------------------------------------------------------------------------------------------


def test_a_session_ends_after_its_hours_even_when_used(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    token, _ = sign_in(store, "ana")
    moment = T0
    while moment < T0 + timedelta(hours=SETTINGS.auth_session_hours - 0.5):
        moment += timedelta(minutes=20)  # a page view every 20 minutes keeps it from idling out
        assert auth.session_user(store, token, settings=SETTINGS, now=moment) is not None
    assert auth.session_user(store, token, settings=SETTINGS, now=T0 + timedelta(hours=8, seconds=1)) is None
    assert store.select("app_sessions", None).empty  # an ended session is deleted


def test_an_idle_session_ends(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    token, _ = sign_in(store, "ana")
    assert auth.session_user(store, token, settings=SETTINGS, now=T0 + timedelta(minutes=29))
    assert auth.session_user(store, token, settings=SETTINGS, now=T0 + timedelta(minutes=58))  # 29 min idle
    assert auth.session_user(store, token, settings=SETTINGS, now=T0 + timedelta(minutes=89)) is None  # 31


def test_disabling_or_removing_a_user_ends_their_sessions_at_once(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    auth.add_user(store, "bob", PASSWORD, "analyst")
    ana, _ = sign_in(store, "ana")
    bob, _ = sign_in(store, "bob")
    auth.set_disabled(store, "ana", True)
    auth.remove_user(store, "bob")
    assert auth.session_user(store, ana, settings=SETTINGS, now=T0) is None
    assert auth.session_user(store, bob, settings=SETTINGS, now=T0) is None
    auth.set_disabled(store, "ana", False)
    sign_in(store, "ana")


def test_signing_out_and_made_up_tokens(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    token, _ = sign_in(store, "ana")
    for fake in ("", None, "x" * 43, token[:-1], "' or '1'='1"):
        assert auth.session_user(store, fake, settings=SETTINGS, now=T0) is None
    auth.sign_out(store, token)
    assert auth.session_user(store, token, settings=SETTINGS, now=T0) is None


def test_ended_sessions_are_purged(store):
    auth.add_user(store, "ana", PASSWORD, "admin")
    sign_in(store, "ana", at=T0 - timedelta(hours=9))  # past its 8 hours
    sign_in(store, "ana", at=T0 - timedelta(hours=1))  # idle for an hour
    live, _ = sign_in(store, "ana", at=T0)
    assert auth.purge_sessions(store, settings=SETTINGS, now=T0) == 2
    assert auth.session_user(store, live, settings=SETTINGS, now=T0) is not None


# --- who sees what -------------------------------------------------------------------------------------------


def test_an_owner_sees_only_their_business_and_runs_no_jobs(store):
    from forecasting.services.tenants import list_tenants

    owner = auth.add_user(store, "ana", PASSWORD, "owner", "2")
    analyst = auth.add_user(store, "bob", PASSWORD, "analyst")
    everyone = list_tenants(store)
    assert [tenant.id for tenant in owner.visible(everyone)] == ["2"]
    assert not owner.may_see("1") and not owner.may_see("22") and owner.may_see("2")
    assert [tenant.id for tenant in analyst.visible(everyone)] == ["1", "2"]
    assert not owner.may_view_jobs and analyst.may_view_jobs and not analyst.may_run_jobs
    assert auth.OPEN_ACCESS.may_run_jobs and auth.OPEN_ACCESS.all_tenants


def test_the_database_keeps_owners_tied_to_a_business(store):
    """The check constraints hold even for rows written by hand, not through `add_user`."""
    from forecasting.core.errors import StorageError

    with pytest.raises(StorageError):
        store.upsert("app_users", None, [{"username": "x", "password_hash": "h", "role": "owner"}])
    with pytest.raises(StorageError):
        store.upsert("app_users", None, [{"username": "x", "password_hash": "h", "role": "superuser"}])
    assert auth.list_users(store).empty


def test_supabase_api_roles_cannot_read_users_or_sessions(postgres_url):
    store = SQLStorage(postgres_url)
    auth.add_user(store, "ana", PASSWORD, "admin")
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:  # the control: a signed-in API user may query a business table (RLS filters it)
        conn.execute("set role authenticated")
        assert conn.execute("select count(*) from public.negocios").fetchone() == (0,)
    for role in ("anon", "authenticated"):
        for table in ("app_users", "app_sessions"):
            with psycopg.connect(dsn) as conn:
                conn.execute(f"set role {role}")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"select * from public.{table}")
    store.close()


# --- the `users` command -----------------------------------------------------------------------------------


def users_cli(db, *args, stdin: str = "", monkeypatch=None, capsys=None) -> tuple[int, str]:
    import io

    from forecasting.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["--db", str(db), "-q", "users", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_users_command_manages_users_without_echoing_passwords(tmp_path, monkeypatch, capsys):
    db = tmp_path / "cli.db"
    store = SQLStorage.sqlite_file(db)
    store.upsert("negocios", "1", [{"id": "1", "nombre": "Panadería"}])

    def cli(*args, stdin=""):
        return users_cli(db, *args, stdin=stdin, monkeypatch=monkeypatch, capsys=capsys)

    code, out = cli("list")
    assert code == 0 and "no users yet" in out
    code, out = cli("add", "Ana", "--role", "owner", "--tenant", "1", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "added owner ana of business 1" in out and PASSWORD not in out
    code, out = cli("add", "bob", "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 2 and out.startswith("error: tenant:")
    code, out = cli("add", "bob", "--role", "admin", stdin="")  # no terminal and no --password-stdin
    assert code == 2 and "--password-stdin" in out
    code, out = cli("list")
    assert code == 0 and "ana" in out and "owner" in out and "argon2" not in out

    token, _ = auth.sign_in(store, "ana", PASSWORD)
    assert cli("passwd", "ana", "--password-stdin", stdin="another long password\n")[0] == 0
    assert auth.session_user(store, token) is None
    assert cli("disable", "ana")[0] == 0
    with pytest.raises(AccessError):
        auth.sign_in(store, "ana", "another long password")
    assert cli("enable", "ana")[0] == 0
    auth.sign_in(store, "ana", "another long password")
    assert cli("remove", "ana")[0] == 0 and auth.list_users(store).empty
    code, out = cli("remove", "ana")
    assert code == 2 and "no user 'ana'" in out
    store.close()


def test_a_check_without_activity_lets_an_idle_session_end(store):
    """A page redrawing itself (the Jobs panel) checks the session without keeping it alive."""
    auth.add_user(store, "ana", PASSWORD, "admin")
    token, _ = sign_in(store, "ana")
    for minutes in (10, 20, 29):
        assert auth.session_user(store, token, settings=SETTINGS, now=T0 + timedelta(minutes=minutes), touch=False)
    assert auth.session_user(store, token, settings=SETTINGS, now=T0 + timedelta(minutes=31), touch=False) is None


def test_a_refusal_does_the_same_work_for_an_unknown_name_as_for_a_known_one(sql_storage, monkeypatch):
    """Timing tells no names: a wrong or over-long password costs the same for a known and an unknown
    name -- one read, one counted attempt, one argon2 verification of at most 1,024 characters against
    a hash of the same cost (the dummy hash for an unknown name). The work is counted, not timed, so
    a busy machine can't fail it: the leak this guards against was 60x for over-long passwords."""
    from argon2 import extract_parameters

    auth.add_user(sql_storage, "ana", PASSWORD, "admin")
    settings = SETTINGS.model_copy(update={"auth_max_attempts": 1000})  # no lock during the measurement
    work = []
    real_verify, real_count = auth._verify, sql_storage.count_sign_in_attempt
    monkeypatch.setattr(auth, "_verify", lambda stored, password: work.append(
        ("verify", extract_parameters(stored), len(password))) or real_verify(stored, password))
    monkeypatch.setattr(sql_storage, "count_sign_in_attempt", lambda *a, **k: work.append(("count",)) or real_count(*a, **k))

    def done_by(name, password):
        work.clear()
        with pytest.raises(AccessError):
            auth.sign_in(sql_storage, name, password, settings=settings, now=T0)
        return list(work)

    for password in ("wrong password!", "x" * 5000):
        known, unknown = done_by("ana", password), done_by("nobody", password)
        assert known == unknown, password[:10]
        assert [step[0] for step in known] == ["count", "verify"] and known[1][2] <= auth.MAX_PASSWORD_LENGTH


def test_an_older_embedded_database_loses_the_moved_counters_and_keeps_its_users(tmp_path):
    """The attempt counters moved from app_users to sign_in_attempts: an older file's NOT NULL
    `failed_attempts` (which new inserts leave out) is dropped when the file is opened; its users stay."""
    import sqlite3

    import sqlalchemy

    db = tmp_path / "old.db"
    SQLStorage.sqlite_file(db).close()
    with sqlite3.connect(db) as conn:  # as the previous version left it
        conn.execute("ALTER TABLE app_users ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0")
        conn.execute("ALTER TABLE app_users ADD COLUMN locked_until DATETIME")
        conn.execute("INSERT INTO app_users (username, password_hash, role, disabled, failed_attempts, created_at, "
                     "updated_at) VALUES ('old', 'x', 'admin', 0, 2, '2026-01-01', '2026-01-01')")
    store = SQLStorage.sqlite_file(db)
    columns = {c["name"] for c in sqlalchemy.inspect(store.engine).get_columns("app_users")}
    assert not {"failed_attempts", "locked_until"} & columns
    auth.add_user(store, "ana", PASSWORD, "admin")  # an insert without the old columns works
    assert auth.list_users(store)["username"].tolist() == ["ana", "old"]
    store.close()
