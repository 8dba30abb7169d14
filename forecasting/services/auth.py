"""Dashboard sign-in: users, roles, password hashes and sessions, over any `Storage`.

Roles:

* **admin**: every business; runs scheduled jobs now. Manages users (CLI).
* **analyst**: every business; sees the scheduled jobs but does not run them.
* **owner**: one business (`tenant_id`) and nothing else: its pages, its
  retrain, its sales import and its settings.

Passwords are stored as argon2id hashes (`argon2-cffi`'s defaults, rehashed
on sign-in when those defaults grow). A sign-in failure always says the same
words (`SIGN_IN_FAILED`), whether the user name is unknown, the password is
wrong, the user is disabled or locked; the log keeps the reason. Unknown
names are checked against a dummy hash, so they take as long as known ones.
`AUTH_MAX_ATTEMPTS` wrong passwords in a row lock the name for
`AUTH_LOCKOUT_MINUTES`.

A session is a random token held by the browser tab (Streamlit's session
state); the database stores only its SHA-256. It ends after
`AUTH_SESSION_HOURS`, after `AUTH_IDLE_MINUTES` without a page view, on sign
out, and when the user is disabled, removed or given a new password. Every
page view checks it against the database, so those take effect at once.

With `AUTH_ENABLED` off (the local demo) nobody signs in and everyone is
`OPEN_ACCESS`, an admin; the dashboard says so on every page.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..core.config import AppSettings, get_app_settings
from ..core.errors import AccessError, ConfigError
from ..core.logs import log_event
from ..storage import Storage
from ..storage.base import stored_moment

ROLES = ("admin", "analyst", "owner")
#: What every failed sign-in says, whatever went wrong.
SIGN_IN_FAILED = "Wrong user name or password."
MIN_PASSWORD_LENGTH = 10
#: Longer passwords are refused before hashing (hashing megabytes would be a cheap denial of service).
MAX_PASSWORD_LENGTH = 1024
#: A session's `last_seen` is written at most this often (page views in between cost one read).
LAST_SEEN_EVERY = timedelta(seconds=60)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,127}$")
_USER_COLUMNS = ["username", "role", "tenant_id", "disabled", "last_sign_in", "created_at"]


@dataclass(frozen=True)
class User:
    """Who is looking at the dashboard, and so what they may see and do."""

    username: str
    role: str
    tenant_id: str | None = None

    @property
    def all_tenants(self) -> bool:
        """Admins and analysts see every business; an owner sees one."""
        return self.role in ("admin", "analyst")

    def may_see(self, tenant_id: Any) -> bool:
        return self.all_tenants or (self.tenant_id is not None and str(tenant_id) == self.tenant_id)

    def visible(self, tenants: list) -> list:
        """The `Tenant`s (anything with an `id`) this user may see, in the given order."""
        return [tenant for tenant in tenants if self.may_see(tenant.id)]

    @property
    def may_view_jobs(self) -> bool:
        return self.all_tenants

    @property
    def may_run_jobs(self) -> bool:
        return self.role == "admin"


#: Everyone, when sign-in is off.
OPEN_ACCESS = User(username="", role="admin")


# --- passwords --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(password: str, username: str = "") -> None:
    """ConfigError naming what is wrong with a new password."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"password: at least {MIN_PASSWORD_LENGTH} characters, please")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ConfigError(f"password: at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() == username.strip().lower():
        raise ConfigError("password: must differ from the user name")


def normalize_username(username: str) -> str:
    """User names are case-insensitive: stored and compared in lower case, without surrounding spaces."""
    return str(username or "").strip().lower()


def check_username(username: str) -> str:
    name = normalize_username(username)
    if not _USERNAME.match(name):
        raise ConfigError("user name: 1 to 128 characters: letters, digits and . _ @ + - (e.g. ana@shop.com)")
    return name


# --- users (the CLI's `users` command) ------------------------------------------------------------


def add_user(storage: Storage, username: str, password: str, role: str, tenant_id: str | None = None,
             *, now: datetime | None = None) -> User:
    """Create a user; ConfigError (naming the field) when a value is invalid or the name is taken."""
    name = check_username(username)
    if role not in ROLES:
        raise ConfigError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if role == "owner":
        if not tenant_id:
            raise ConfigError("tenant: an owner needs the id of the business they own (--tenant)")
        if storage.select("negocios", str(tenant_id), columns=["id"]).empty:
            raise ConfigError(f"tenant: no business with id {tenant_id!r}")
        tenant_id = str(tenant_id)
    elif tenant_id:
        raise ConfigError(f"tenant: only owners belong to one business; a {role} sees them all")
    check_password(password, name)
    now = now or datetime.now(timezone.utc)
    row = {"username": name, "password_hash": hash_password(password), "role": role,
           "tenant_id": tenant_id if role == "owner" else None, "disabled": False,
           "created_at": now, "updated_at": now}
    if not storage.insert_if_absent("app_users", None, row):
        raise ConfigError(f"user name: {name!r} is taken")
    log_event("user_added", username=name, role=role, tenant=row["tenant_id"])
    return User(name, role, row["tenant_id"])


def list_users(storage: Storage) -> pd.DataFrame:
    """Every user, without password hashes, ordered by name, with their sign-in attempts since the
    last success (`failed_attempts`) and `locked_until`."""
    users = storage.select("app_users", None, columns=_USER_COLUMNS, order_by="username")
    attempts = storage.select("sign_in_attempts", None, columns=["username", "failed_attempts", "locked_until"])
    merged = users.merge(attempts, on="username", how="left")
    merged["failed_attempts"] = pd.to_numeric(merged["failed_attempts"]).fillna(0).astype(int)
    merged["locked_until"] = [stored_moment(v) for v in merged["locked_until"]]
    return merged[[*_USER_COLUMNS[:4], "failed_attempts", "locked_until", *_USER_COLUMNS[4:]]].reset_index(drop=True)


def _existing(storage: Storage, username: str) -> str:
    name = normalize_username(username)
    if storage.select("app_users", None, columns=["username"], where={"username": name}).empty:
        raise ConfigError(f"user name: no user {name!r}")
    return name


def set_password(storage: Storage, username: str, password: str, *, now: datetime | None = None) -> None:
    """A new password: also unlocks the user and ends their sessions."""
    name = _existing(storage, username)
    check_password(password, name)
    storage.update("app_users", None, {"password_hash": hash_password(password),
                                       "updated_at": now or datetime.now(timezone.utc)}, where={"username": name})
    storage.delete("sign_in_attempts", None, where={"username": name})  # unlocked
    end_sessions(storage, name)
    log_event("user_password_set", username=name)


def set_disabled(storage: Storage, username: str, disabled: bool, *, now: datetime | None = None) -> None:
    """Disable (ending every session at once) or enable a user."""
    name = _existing(storage, username)
    storage.update("app_users", None, {"disabled": bool(disabled), "updated_at": now or datetime.now(timezone.utc)},
                   where={"username": name})
    if disabled:
        end_sessions(storage, name)
    log_event("user_disabled" if disabled else "user_enabled", username=name)


def remove_user(storage: Storage, username: str) -> None:
    name = _existing(storage, username)
    end_sessions(storage, name)
    storage.delete("app_users", None, where={"username": name})
    log_event("user_removed", username=name)


def end_sessions(storage: Storage, username: str) -> int:
    """Sign the user out everywhere; returns the sessions ended."""
    return storage.delete("app_sessions", None, where={"username": normalize_username(username)})


# --- sign-in and sessions -------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign_in(storage: Storage, username: str, password: str, *, settings: AppSettings | None = None,
            now: datetime | None = None) -> tuple[str, User]:
    """Check the password and open a session: (token for the browser tab, user).

    Raises AccessError(SIGN_IN_FAILED) for any failure; StorageError when
    the database can't be reached.

    Every attempt does the same work, whatever the name and the password:
    one read of the user, one atomic count of the attempt (for unknown names
    too), one argon2 verification of at most MAX_PASSWORD_LENGTH characters
    (against a dummy hash when there is no such user). The attempt is counted
    before the password is checked, so of a burst of parallel attempts only
    the first AUTH_MAX_ATTEMPTS are checked at all; the rest are refused.
    """
    settings = settings or get_app_settings()
    now = now or datetime.now(timezone.utc)
    name = normalize_username(username)
    password = password if isinstance(password, str) else ""
    if not _USERNAME.match(name):  # never a user: nothing to count or look up
        _verify(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        return _refuse("invalid_name")
    found = storage.select("app_users", None, where={"username": name})
    attempts, locked_until = storage.count_sign_in_attempt(name, now)
    row = None if found.empty else found.iloc[0]
    # Over-long passwords are refused (after the same hashing work as any other attempt).
    matches = _verify(_dummy_hash() if row is None else row["password_hash"], password[:MAX_PASSWORD_LENGTH])
    matches = matches and len(password) <= MAX_PASSWORD_LENGTH
    if locked_until is not None and locked_until > now:
        return _refuse("locked", name)
    if attempts > settings.auth_max_attempts or (not matches and attempts == settings.auth_max_attempts):
        _lock(storage, name, now + timedelta(minutes=settings.auth_lockout_minutes))
        return _refuse("too_many_attempts" if attempts > settings.auth_max_attempts else "wrong_password_locked",
                       name)
    if row is None:
        return _refuse("unknown_user", name)
    if bool(row["disabled"]):
        return _refuse("disabled", name)
    if not matches:
        return _refuse("wrong_password", name)

    storage.delete("sign_in_attempts", None, where={"username": name})
    values = {"last_sign_in": now}
    if _hasher().check_needs_rehash(row["password_hash"]):
        values["password_hash"] = hash_password(password)
    storage.update("app_users", None, values, where={"username": name})
    token = secrets.token_urlsafe(32)
    storage.upsert("app_sessions", None, [{
        "token_hash": _token_hash(token), "username": name, "created_at": now, "last_seen": now,
        "expires_at": now + timedelta(hours=settings.auth_session_hours)}])
    log_event("sign_in", username=name, role=row["role"])
    return token, User(name, str(row["role"]), _text(row["tenant_id"]))


def _lock(storage: Storage, name: str, until: datetime) -> None:
    """Lock the name until `until` (counting starts again from zero once it passes)."""
    storage.update("sign_in_attempts", None, {"failed_attempts": 0, "locked_until": until}, where={"username": name})


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _refuse(reason: str, username: str | None = None):
    # The reason goes to the log only; the user of the form reads SIGN_IN_FAILED whatever it is.
    log_event("sign_in_failed", level=30, reason=reason, **({"username": username} if username else {}))
    raise AccessError(SIGN_IN_FAILED)


def session_user(storage: Storage, token: str | None, *, settings: AppSettings | None = None,
                 now: datetime | None = None, touch: bool = True) -> User | None:
    """The signed-in user of `token`, or None when there is none or it ended (the row is then deleted).

    A session ends when it is older than AUTH_SESSION_HOURS, idle for longer
    than AUTH_IDLE_MINUTES, or its user is disabled or gone. `touch=False`
    checks without counting as activity (a page refreshing itself is not
    someone looking at it).
    """
    if not token or not isinstance(token, str):
        return None
    settings = settings or get_app_settings()
    now = now or datetime.now(timezone.utc)
    key = _token_hash(token)
    found = storage.select("app_sessions", None, where={"token_hash": key})
    if found.empty:
        return None
    session = found.iloc[0]
    last_seen = stored_moment(session["last_seen"])
    idle_limit = last_seen + timedelta(minutes=settings.auth_idle_minutes)
    if stored_moment(session["expires_at"]) <= now or idle_limit <= now:
        storage.delete("app_sessions", None, where={"token_hash": key})
        log_event("session_expired", username=session["username"])
        return None
    user = storage.select("app_users", None, columns=["username", "role", "tenant_id", "disabled"],
                          where={"username": session["username"]})
    if user.empty or bool(user.iloc[0]["disabled"]):
        storage.delete("app_sessions", None, where={"token_hash": key})
        return None
    if touch and now - last_seen >= LAST_SEEN_EVERY:
        storage.update("app_sessions", None, {"last_seen": now}, where={"token_hash": key})
    row = user.iloc[0]
    return User(str(row["username"]), str(row["role"]), _text(row["tenant_id"]))


def sign_out(storage: Storage, token: str | None) -> None:
    if token:
        storage.delete("app_sessions", None, where={"token_hash": _token_hash(token)})


def purge_sessions(storage: Storage, *, settings: AppSettings | None = None, now: datetime | None = None) -> int:
    """Delete ended sessions (past their end, or idle too long), returning how many, and attempt
    counters untouched for a day."""
    settings = settings or get_app_settings()
    now = now or datetime.now(timezone.utc)
    expired = storage.delete("app_sessions", None, lt={"expires_at": now})
    idle = storage.delete("app_sessions", None, lt={"last_seen": now - timedelta(minutes=settings.auth_idle_minutes)})
    # Attempt counters of names nobody has tried for a day (a lock lasts minutes), unknown names' included.
    storage.delete("sign_in_attempts", None, lt={"last_attempt_at": now - timedelta(days=1)})
    return expired + idle


def has_users(storage: Storage) -> bool:
    return not storage.select("app_users", None, columns=["username"], limit=1).empty


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
