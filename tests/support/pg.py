"""A real PostgreSQL server for tests, started once per session.

Fixtures (a plugin of `tests/conftest.py`, `pytest_plugins`, so any test can ask for them):

* `postgres_server` (session): a throwaway cluster in a temporary folder,
  listening on 127.0.0.1 and a free port. It has the roles Supabase has
  (`anon`, `authenticated`, `service_role`, the last with BYPASSRLS) and a
  template database with Supabase's minimal `auth.uid()` / `auth.jwt()`
  helpers and our migrations (`supabase/migrations/*.sql`) applied.
* `postgres_url` (function): a fresh database copied from that template, as a
  `postgresql+psycopg://` URL for the superuser `postgres`; dropped after the
  test, so no rows leak between tests. Open it with `SQLStorage(url)`.
* `rest_stand_in` (function): a `PostgrestStandIn` over such a fresh database,
  for testing the Supabase REST backend against real PostgreSQL semantics.
* `private_postgres_server` (module) and `private_postgres_url` (function):
  the same, but a cluster of the test module's own, which its tests may take
  down and bring back (`server.stop("fast" | "immediate")`, `server.start()`)
  without breaking every other test; `private_postgres_url` starts it again
  if a test left it down.

Example (the scheduler's exactly-once test)::

    def test_one_runner(postgres_url):
        a, b = SQLStorage(postgres_url), SQLStorage(postgres_url)
        ...

The binaries come from Debian's `postgresql` package
(`scripts/system-deps.sh` installs it); when they are missing the tests
fail, naming that script, instead of being skipped. `PG_BIN` may point at
another folder holding `initdb` and `pg_ctl`. Root can't run the server, so
as root it runs as the `postgres` OS user the Debian package creates.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psycopg
import pytest

TEMPLATE = "forecasting_template"

# What the Supabase stack provides before any migration runs: the API roles, and
# the `auth` helpers PostgREST's JWT claims are read through. Same definitions
# as Supabase's (auth.uid reads `sub`, auth.jwt the whole claims document).
SUPABASE_ROLES = """
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
"""

SUPABASE_DATABASE = """
create schema auth;
grant usage on schema auth to anon, authenticated, service_role;
create function auth.jwt() returns jsonb language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;
create function auth.uid() returns uuid language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
create function auth.role() returns text language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;
grant usage on schema public to anon, authenticated, service_role;
-- Supabase grants everything in `public` to the API roles by default; RLS and the
-- migrations' own grants are what keep them out.
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
"""


def find_pg_bin() -> Path:
    """The folder with `initdb` and `pg_ctl` (newest installed major version)."""
    override = os.environ.get("PG_BIN")
    def major(folder: str) -> int:
        name = Path(folder).parent.name
        return int(name) if name.isdigit() else 0

    candidates = [override] if override else sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major)
    for folder in reversed(candidates):
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    pytest.fail("PostgreSQL server binaries not found (initdb, pg_ctl): run `bash scripts/system-deps.sh` as root "
                "or set PG_BIN", pytrace=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """A running throwaway cluster; `url(db)` gives a SQLAlchemy URL for a database.

    `stop(mode)` and `start()` take the server down and bring it back (same
    port, same data), for tests of outages; `running` tells which it is.
    """

    port: int
    socket_dir: Path
    data_dir: Path | None = None
    bin_dir: Path | None = None
    options: str = ""
    _counter: ClassVar[Iterator[int]] = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def admin(self, sql: str, database: str = "postgres") -> None:
        """Run SQL as the superuser, outside a transaction (CREATE DATABASE needs that)."""
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, *, template: str | None = TEMPLATE, name: str | None = None) -> str:
        """A new database (a copy of the migrated template by default); returns its name."""
        name = name or f"test_{os.getpid()}_{next(self._counter)}"
        self.admin(f'create database "{name}"' + (f' template "{template}"' if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f'drop database if exists "{name}" with (force)')

    # --- outages ------------------------------------------------------------------

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def start(self) -> None:
        """Start the (stopped) server on its port and wait until it accepts connections."""
        self._pg_ctl("-o", self.options, "-l", str(self.data_dir.parent / "server.log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server and wait until it is down: `fast` rolls back and closes every session
        (a clean shutdown), `immediate` kills them all at once, as a crash or power cut would."""
        self._pg_ctl("-m", mode, "-w", "-t", "30", "stop")

    @property
    def running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0


def _run_as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


@contextmanager
def throwaway_cluster(*, crash_safe: bool = False) -> Iterator[PostgresServer]:
    """A new cluster in a temporary folder, with Supabase's roles and the migrated template.

    Stopped and deleted on exit, whatever state the test left it in. With
    `crash_safe`, a commit is acknowledged only once it is in the write-ahead
    log, so it survives `stop("immediate")` (without, the last commits may be
    lost then, as on any server with `synchronous_commit=off`).
    """
    bin_dir = find_pg_bin()
    root = Path(tempfile.mkdtemp(prefix="forecasting-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the `postgres` OS user: run `bash scripts/system-deps.sh`",
                        pytrace=False)
        for path in (root, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    # fsync off and a small footprint: a test cluster trades durability for speed. (fsync off still
    # survives a server crash: only the operating system's, which these tests never cause, loses data.)
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
               f"-c fsync=off -c synchronous_commit={'on' if crash_safe else 'off'} -c full_page_writes=off "
               "-c max_connections=60 -c shared_buffers=32MB")
    server = PostgresServer(port=port, socket_dir=sockets, data_dir=data, bin_dir=bin_dir, options=options)
    try:
        _run_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                          "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
        server.start()
    except subprocess.CalledProcessError as exc:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr or exc.stdout}\n{log}", pytrace=False)
    try:
        server.admin(SUPABASE_ROLES)
        server.admin(f'create database "{TEMPLATE}"')
        server.admin(SUPABASE_DATABASE, database=TEMPLATE)
        from sqlalchemy import create_engine

        from forecasting.storage.migrate import apply_migrations

        engine = create_engine(server.url(TEMPLATE))
        apply_migrations(engine)
        engine.dispose()
        yield server
    finally:
        server._pg_ctl("-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a PostgreSQL cluster for the session; stop and delete it afterwards."""
    with throwaway_cluster() as server:
        yield server


@pytest.fixture(scope="module")
def private_postgres_server() -> Iterator[PostgresServer]:
    """A cluster of the test module's own, which its tests may stop and start (`stop()`, `start()`).

    The session's `postgres_server` is shared by every test and must stay up;
    tests of outages take this one down instead.
    """
    with throwaway_cluster(crash_safe=True) as server:
        yield server


@pytest.fixture
def private_postgres_url(private_postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, migrated database on `private_postgres_server`, which is running when the test
    starts; started again (if the test left it down) and the database dropped afterwards."""
    if not private_postgres_server.running:
        private_postgres_server.start()
    name = private_postgres_server.create_database()
    yield private_postgres_server.url(name)
    if not private_postgres_server.running:
        private_postgres_server.start()
    private_postgres_server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, migrated database of its own for one test; dropped afterwards."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


# --- a PostgREST stand-in, for the Supabase REST backend ---------------------------------
#
# Fixtures: `rest_stand_in` (an httpx transport, for tests in this process) and `rest_server`
# (the same served over HTTP on 127.0.0.1, for tests that start other processes). Keys:
# `make_jwt(role, **claims)` mints them, signed with `JWT_SECRET` as the stand-in expects.

#: The secret the stand-in checks JWT signatures with: Supabase's local-development default, so
#: test keys look like a project's (HS256, `role` claim).
JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"

#: Non-JWT keys a stand-in accepts unless given others, and the role each stands for. Supabase's
#: gateway swaps its opaque `sb_secret_…`/`sb_publishable_…` keys for a JWT of their role the same
#: way; this one is the plain string the contract suite has always passed (conftest.open_backend).
DEFAULT_API_KEYS = {"service-role-key": "service_role"}

#: The role the stand-in logs in as, like PostgREST: NOINHERIT, granted only the three API roles,
#: so `set role` to anything else fails in PostgreSQL itself, with PostgreSQL's own error.
AUTHENTICATOR = "authenticator"
ANON_ROLE = "anon"
_JWT_SKEW = 30  # seconds of clock skew PostgREST allows on exp / nbf / iat


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hs256(secret: str, signing_input: str) -> str:
    import hashlib
    import hmac

    return _b64url(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


def make_jwt(role: str | None, *, secret: str = JWT_SECRET, lifetime: float = 24 * 3600, **claims) -> str:
    """A signed HS256 key as Supabase issues them: `make_jwt("service_role")`, `make_jwt("anon")`, or a
    signed-in user's `make_jwt("authenticated", sub=user_id)` (the RLS policies read `sub` through
    `auth.uid()`). `iat` is now and `exp` now + `lifetime` unless `claims` give them; `role=None`
    leaves the role claim out, and PostgREST then runs the request as the anonymous role."""
    import time

    now = int(time.time())
    payload = {"iat": now, "exp": now + int(lifetime), **({"role": role} if role is not None else {}), **claims}
    signing_input = (_b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "."
                     + _b64url(json.dumps(payload).encode()))
    return f"{signing_input}.{_hs256(secret, signing_input)}"


def _error_response(status: int, code: str, message: str, *, details=None, hint=None, headers=None):
    """PostgREST's error answer: `{code, details, hint, message}`, `Proxy-Status` naming the code,
    and `WWW-Authenticate: Bearer` on a 401 (src/PostgREST/Error.hs)."""
    import httpx

    headers = {"Proxy-Status": f"PostgREST; error={code}", **(headers or {})}
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return httpx.Response(status, json={"code": code, "details": details, "hint": hint, "message": message},
                          headers=headers)


class _Refusal(Exception):
    """An answer given before any SQL runs (bad key, bad body, unknown table), as PostgREST does."""

    def __init__(self, response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _jwt_claims(token: str, secret: str) -> dict:
    """The claims of `token`, checked in PostgREST's order (src/PostgREST/Auth.hs, Error.hs): three
    parts, an HS256 signature by `secret`, then exp / nbf / iat with 30 s of skew. A failure is
    PostgREST's 401: PGRST301 for a token that can't be decoded or verified, PGRST303 for its claims."""
    import hmac
    import time

    def refuse(code: str, message: str) -> _Refusal:
        challenge = f'Bearer error="invalid_token", error_description="{message}"'
        return _Refusal(_error_response(401, code, message, headers={"WWW-Authenticate": challenge}))

    if not token:
        raise refuse("PGRST301", "Empty JWT is sent in Authorization header")
    parts = token.split(".")
    if len(parts) != 3:
        raise refuse("PGRST301", f"Expected 3 parts in JWT; got {len(parts)}")
    try:
        header = json.loads(_b64url_decode(parts[0]))
    except ValueError:
        raise refuse("PGRST301", "JWT couldn't be decoded") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise refuse("PGRST301", "Wrong or unsupported encoding algorithm")
    if not hmac.compare_digest(parts[2], _hs256(secret, f"{parts[0]}.{parts[1]}")):
        raise refuse("PGRST301", "JWT cryptographic operation failed")
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise refuse("PGRST303", "Parsing claims failed")
    now = time.time()
    for name, broken, problem in (("exp", lambda t: now - _JWT_SKEW > t, "JWT expired"),
                                  ("nbf", lambda t: now + _JWT_SKEW < t, "JWT not yet valid"),
                                  ("iat", lambda t: now + _JWT_SKEW < t, "JWT issued at future")):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse("PGRST303", f"The JWT '{name}' claim must be a number")
        if broken(value):
            raise refuse("PGRST303", problem)
    return claims


def postgrest_status(sqlstate: str, message: str, authed: bool) -> int:
    """PostgREST's HTTP status for a PostgreSQL error (mapSQLtoHTTP in src/PostgREST/Error.hs).
    `authed`: the request ran as a role other than the anonymous one; 42501 is then 403, else 401."""
    exact = {"23503": 409, "23505": 409, "25006": 405, "53400": 500, "57P01": 503, "P0001": 400, "42P01": 404,
             "42P17": 500, "42883": 404}
    if sqlstate == "42501":
        return 403 if authed else 401
    if sqlstate == "21000":  # pg-safeupdate's "requires a WHERE clause" is the client's fault
        return 400 if message.endswith("requires a WHERE clause") else 500
    if sqlstate == "22023":  # a JWT naming a role that doesn't exist
        return 401 if message.startswith("role") and message.endswith("does not exist") else 400
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():  # `raise sqlstate 'PT402'` chooses its status
        return int(sqlstate[2:])
    by_class = {"08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500, "39": 500,
                "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500, "F0": 500, "HV": 500,
                "P0": 500, "XX": 500}
    return by_class.get(sqlstate[:2], 400)


class PostgrestStandIn:
    """Answers the PostgREST requests supabase-py sends, by running them on the test server.

    PostgREST itself can't run here. This is a small stand-in for the part of
    its API the REST backend uses (documented at docs.postgrest.org: table
    reads with `select`, `eq./neq./gt./gte./lt./lte./is./in.` filters, `order`,
    `offset`/`limit` capped by max-rows, `Prefer: count=exact` answered in
    `Content-Range`; `POST` with `on_conflict`, `columns` and
    `Prefer: resolution=...`; `PATCH`, `DELETE`; `POST /rpc/<fn>`). Rows are
    read and written through `json_agg` / `json_populate_recordset`, so values
    cross the wire exactly as PostgreSQL serializes them. Use it as an httpx
    transport, `httpx.Client(transport=httpx.MockTransport(stand_in))`, or over
    HTTP (`rest_server`). Requests may come from several threads: each takes a
    connection of its own from a small pool (PostgREST's `db-pool`, 10).

    Like PostgREST, it authenticates, then lets PostgreSQL authorize:

    * The key is the `Authorization: Bearer` token, or the `apikey` header
      when there is no Authorization (Supabase's gateway does that; with
      neither it answers 401 "No API key found in request"). A key listed in
      `api_keys` (default `DEFAULT_API_KEYS`) stands for its role; anything
      else must be a JWT signed with `jwt_secret` (HS256), checked as
      PostgREST checks it: a bad one is 401 PGRST301/PGRST303. The gateway's
      list of the project's own keys is not modelled: any well-signed JWT goes.
    * Each request is one transaction on a connection logged in as
      `authenticator`; it sets `role` to the JWT's `role` claim (the anonymous
      role `anon` without one) and `request.jwt.claims` to all the claims,
      plus `request.method`, `request.path` and `request.headers`, each local
      to the transaction, then runs the query. GETs run read-only. So grants,
      RLS policies and `auth.uid()` / `auth.jwt()` act as on Supabase.
    * Before any SQL, as PostgREST: a JSON array body whose objects don't all
      have the same keys is 400 PGRST102 (unless `columns=` names them), and
      an unknown table or function is 404 PGRST205 / PGRST202. The schema is
      looked up per request, as if the schema cache were always reloaded
      (Supabase reloads it after DDL).
    * Errors come back as PostgREST shapes them, `{code, details, hint,
      message}`, with its SQLSTATE-to-status mapping (`postgrest_status`). A
      refused database connection is 503 PGRST000; one lost mid-request is
      503 too (57P01 when the server said why, else PGRST001).

    `requests` records every request; a function in `faults` may answer a
    request instead (return an httpx.Response) to simulate errors.
    """

    _RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns"}
    _OPS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

    def __init__(self, dsn: str, *, max_rows: int = 1000, jwt_secret: str = JWT_SECRET,
                 api_keys: dict[str, str] | None = None, pool_size: int = 10) -> None:
        import threading

        from psycopg.conninfo import make_conninfo

        self.dsn = dsn  # the superuser's: for tests that look at (or set up) the database directly
        self.max_rows, self.jwt_secret = max_rows, jwt_secret
        self.api_keys = dict(DEFAULT_API_KEYS if api_keys is None else api_keys)
        self.requests: list = []
        self.faults: list = []
        self._login = make_conninfo(dsn, user=AUTHENTICATOR)
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._closed = False
        with psycopg.connect(dsn, autocommit=True) as admin:  # once per cluster; roles are cluster-wide
            if not admin.execute("select 1 from pg_roles where rolname = %s", (AUTHENTICATOR,)).fetchone():
                admin.execute(f"create role {AUTHENTICATOR} login noinherit")
                admin.execute(f"grant anon, authenticated, service_role to {AUTHENTICATOR}")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __call__(self, request):
        self.requests.append(request)
        for fault in self.faults:
            answer = fault(request)
            if answer is not None:
                return answer
        try:
            claims = self._claims(request)
            role = str(claims.get("role") or ANON_ROLE)
            path = request.url.path.removeprefix("/rest/v1/")
            rpc = path.startswith("rpc/")
            payload = self._payload(request, rpc) if request.method in ("POST", "PATCH") else None
            headers = {key.lower(): value for key, value in request.headers.items()}
            with self._connection() as conn:
                try:
                    self._check_exists(conn, path)
                    with conn.transaction():
                        if request.method == "GET":
                            conn.execute("set transaction read only")
                        conn.execute("select set_config('role', %s, true), set_config('request.jwt.claims', %s, true), "
                                     "set_config('request.method', %s, true), set_config('request.path', %s, true), "
                                     "set_config('request.headers', %s, true)",
                                     (role, json.dumps(claims), request.method, request.url.path, json.dumps(headers)))
                        if rpc:
                            return self._rpc(conn, path[4:], payload)
                        return self._table(conn, request, path, payload)
                except psycopg.Error as exc:
                    return self._database_error(exc, authed=role != ANON_ROLE)
        except _Refusal as refusal:
            return refusal.response

    # --- authentication and the request body -----------------------------------------------

    def _claims(self, request) -> dict:
        """The JWT claims the request runs with (see the class docstring for where the key comes from)."""
        import httpx

        authorization = request.headers.get("authorization")
        if authorization is None:
            token = request.headers.get("apikey")
            if token is None:  # Supabase's gateway (Kong key-auth) answers before PostgREST
                raise _Refusal(httpx.Response(401, json={
                    "message": "No API key found in request",
                    "hint": "No `apikey` request header or url param was found."}))
        else:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer":
                return {}  # PostgREST reads only Bearer tokens: anything else is anonymous
            token = token.strip()
        if token in self.api_keys:
            return {"role": self.api_keys[token]}
        return _jwt_claims(token, self.jwt_secret)

    @staticmethod
    def _payload(request, rpc: bool):
        """(rows or arguments, column names) of a JSON body, refused as PostgREST refuses it (PGRST102)."""
        params = request.url.params
        try:
            body = json.loads(request.content) if request.content or not rpc else {}
        except ValueError:
            raise _Refusal(_error_response(400, "PGRST102", "Empty or invalid json")) from None
        if params.get("columns"):
            return body, [name.strip('"') for name in params["columns"].split(",")]
        if isinstance(body, dict):
            return body, list(body)
        if not isinstance(body, list):
            return [], []  # PostgREST reads any other JSON value as an empty array
        if body and not all(isinstance(row, dict) and row.keys() == body[0].keys() for row in body):
            raise _Refusal(_error_response(400, "PGRST102", "All object keys must match"))
        return body, list(body[0]) if body else []

    # --- connections --------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection as `authenticator`, in autocommit (each request opens its own
        transaction). PostgREST's pool errors when none can be had: 504 PGRST003 after 10 s
        waiting for a free one, 503 PGRST000 when the database refuses the connection."""
        if not self._slots.acquire(timeout=10):
            raise _Refusal(_error_response(504, "PGRST003", "Timed out acquiring connection from connection pool."))
        conn = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                try:
                    conn = psycopg.connect(self._login, autocommit=True)
                except psycopg.OperationalError as exc:
                    raise _Refusal(_error_response(503, "PGRST000", "Database connection error. Retrying the connection.",
                                                   details=str(exc).strip() or None)) from None
            yield conn
        finally:
            if conn is not None:
                reusable = not conn.closed and not conn.broken
                with self._lock:
                    if reusable and not self._closed:
                        self._idle.append(conn)
                        conn = None
                if conn is not None:
                    conn.close()
            self._slots.release()

    def _check_exists(self, conn, path: str) -> None:
        """404 PGRST205 / PGRST202 for a table or function the schema doesn't have (PostgREST's
        schema cache answers before any SQL runs; its "Perhaps you meant" hints are left out)."""
        if path.startswith("rpc/"):
            found = conn.execute("select exists (select from pg_proc where pronamespace = 'public'::regnamespace "
                                 "and proname = %s)", (path[4:],)).fetchone()[0]
            if not found:
                raise _Refusal(_error_response(404, "PGRST202", f"Could not find the function public.{path[4:]} "
                                                                "in the schema cache"))
            return
        if conn.execute("select to_regclass(format('public.%%I', %s::text))", (path,)).fetchone()[0] is None:
            raise _Refusal(_error_response(404, "PGRST205",
                                           f"Could not find the table 'public.{path}' in the schema cache"))

    @staticmethod
    def _database_error(exc: psycopg.Error, *, authed: bool):
        """A PostgreSQL error as PostgREST forwards it: SQLSTATE as `code`, PostgreSQL's message,
        detail and hint; a connection lost mid-request is 503 PGRST001."""
        if exc.sqlstate is None:
            return _error_response(503, "PGRST001", "Database client error. Retrying the connection.",
                                   details=str(exc).strip() or None)
        diag = exc.diag
        message = diag.message_primary or str(exc).splitlines()[0]
        return _error_response(postgrest_status(exc.sqlstate, message, authed), exc.sqlstate, message,
                               details=diag.message_detail, hint=diag.message_hint)

    # --- queries ------------------------------------------------------------------------

    def _where(self, params) -> tuple[list, list]:
        from psycopg import sql

        clauses, args = [], []
        for key, value in params.multi_items():
            if key in self._RESERVED:
                continue
            op, _, arg = value.partition(".")
            column = sql.Identifier(key)
            if op == "is":
                clauses.append(sql.SQL("{} is {}").format(column, sql.SQL({"null": "null", "true": "true",
                                                                            "false": "false"}[arg])))
            elif op == "in":  # in.(a,b,c), PostgREST's list syntax (values here are plain ids)
                clauses.append(sql.SQL("{}::text = any(%s)").format(column))
                args.append([item.strip('"') for item in arg.strip("()").split(",") if item])
            else:
                clauses.append(sql.SQL("{} " + self._OPS[op] + " %s").format(column))
                args.append(arg)
        return clauses, args

    def _table(self, conn, request, table: str, payload):
        import httpx
        from psycopg import sql

        params, prefer = request.url.params, request.headers.get("prefer", "")
        counted = "count=exact" in prefer
        ident = sql.Identifier(table)
        clauses, args = self._where(params)
        where = sql.SQL(" where ") + sql.SQL(" and ").join(clauses) if clauses else sql.SQL("")
        if request.method == "GET":
            columns = params.get("select", "*")
            select = sql.SQL("*") if columns == "*" else sql.SQL(", ").join(
                sql.Identifier(c) for c in columns.split(","))
            order = sql.SQL("")
            if params.get("order"):
                order = sql.SQL(" order by ") + sql.SQL(", ").join(
                    sql.SQL("{} " + ("desc" if part.split(".")[1] == "desc" else "asc")).format(
                        sql.Identifier(part.split(".")[0])) for part in params["order"].split(","))
            offset = int(params.get("offset", 0))
            limit = min(int(params.get("limit", self.max_rows)), self.max_rows)
            query = sql.SQL("select coalesce(json_agg(_r), '[]'::json) "
                            "from (select {} from {}{}{} limit {} offset {}) _r").format(
                select, ident, where, order, sql.Literal(limit), sql.Literal(offset))
            rows = conn.execute(query, args).fetchone()[0]
            total = "*"
            if counted:
                total = conn.execute(sql.SQL("select count(*) from {}{}").format(ident, where), args).fetchone()[0]
            span = f"{offset}-{offset + len(rows) - 1}" if rows else "*"
            return httpx.Response(200, json=rows, headers={"Content-Range": f"{span}/{total}"})
        if request.method == "POST":
            body, names = payload
            body = body if isinstance(body, list) else [body]
            if not names:  # an empty array: nothing to insert
                return self._written(prefer, [], 201)
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in names)
            conflict = sql.SQL("")
            if "resolution=merge-duplicates" in prefer or "resolution=ignore-duplicates" in prefer:
                keys = sql.SQL(", ").join(sql.Identifier(k) for k in params["on_conflict"].split(","))
                if "resolution=ignore-duplicates" in prefer:
                    conflict = sql.SQL(" on conflict ({}) do nothing").format(keys)
                else:
                    conflict = sql.SQL(" on conflict ({}) do update set {}").format(keys, sql.SQL(", ").join(
                        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in names))
            query = sql.SQL("with _w as (insert into {t} ({c}) select {c} from json_populate_recordset(null::{t}, %s)"
                            "{x} returning *) select coalesce(json_agg(_w), '[]'::json) from _w").format(
                t=ident, c=cols, x=conflict)
            rows = conn.execute(query, (json.dumps(body),)).fetchone()[0]
            return self._written(prefer, rows, 201)
        if request.method == "PATCH":
            body, names = payload
            if not names:
                return self._written(prefer, [], 200)
            sets = sql.SQL(", ").join(sql.SQL("{0} = (json_populate_record(null::{1}, %s)).{0}").format(
                sql.Identifier(c), ident) for c in names)
            query = sql.SQL("with _w as (update {} set {}{} returning *) "
                            "select coalesce(json_agg(_w), '[]'::json) from _w").format(ident, sets, where)
            rows = conn.execute(query, [json.dumps(body)] * len(names) + args).fetchone()[0]
            return self._written(prefer, rows, 200)
        if request.method == "DELETE":
            query = sql.SQL("with _w as (delete from {}{} returning *) "
                            "select coalesce(json_agg(_w), '[]'::json) from _w").format(ident, where)
            rows = conn.execute(query, args).fetchone()[0]
            return self._written(prefer, rows, 200)
        return _error_response(405, "PGRST117", f"Unsupported HTTP method: {request.method}")

    @staticmethod
    def _written(prefer: str, rows: list, status: int):
        """A write's answer: the rows with `return=representation`, else no body (204 for
        PATCH/DELETE); `Content-Range` carries the total only when `count=exact` asked for it."""
        import httpx

        total = str(len(rows)) if "count=exact" in prefer else "*"
        headers = {"Content-Range": f"0-{len(rows) - 1}/{total}" if rows else f"*/{total}"}
        if "return=representation" in prefer:
            return httpx.Response(status, json=rows, headers=headers)
        return httpx.Response(204 if status == 200 else status, headers=headers)

    @staticmethod
    def _rpc(conn, function: str, payload):
        import httpx
        from psycopg import sql

        args = payload[0] if payload and isinstance(payload[0], dict) else {}
        call = sql.SQL("select to_json({}({}))").format(sql.Identifier(function), sql.SQL(", ").join(
            sql.SQL("{} => %s").format(sql.Identifier(name)) for name in args))
        value = conn.execute(call, list(args.values())).fetchone()[0]
        return httpx.Response(200, json=value)


@pytest.fixture
def rest_stand_in(postgres_server: PostgresServer) -> Iterator[PostgrestStandIn]:
    """A PostgREST stand-in over a fresh, migrated database of its own."""
    name = postgres_server.create_database()
    stand_in = PostgrestStandIn(postgres_server.dsn(name))
    yield stand_in
    stand_in.close()
    postgres_server.drop_database(name)


# --- the stand-in over HTTP, for other processes ---------------------------------------------


@dataclass
class RestServer:
    """A stand-in served at `url` (`http://127.0.0.1:<port>`); `service_key` is a service-role JWT.
    Give both to `SupabaseRestStorage(url, key)`, or to a process as SUPABASE_URL and
    SUPABASE_SERVICE_ROLE_KEY."""

    url: str
    service_key: str
    stand_in: PostgrestStandIn


@contextmanager
def serve(stand_in: PostgrestStandIn) -> Iterator[str]:
    """Serve `stand_in` over HTTP/1.1 on 127.0.0.1 and a free port, one thread per connection;
    yields the base URL. Each request becomes an httpx.Request for the stand-in, and its
    httpx.Response goes back as is. A fault raising httpx.TransportError drops the connection
    without an answer, as a network failure would."""
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as supabase-py's httpx client expects

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = httpx.Request(self.command, f"{url}{self.path}", headers=list(self.headers.items()),
                                    content=self.rfile.read(length) if length else b"")
            try:
                response = stand_in(request)
            except httpx.TransportError:
                self.close_connection = True
                return
            body = response.read()
            self.send_response(response.status_code)
            for key, value in response.headers.multi_items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = answer

        def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
            pass  # pytest shows failures; a line per request would only bury them

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # bursts from several processes queue instead of being refused

        def handle_error(self, request, client_address) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away is no error
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                              name="postgrest-stand-in")
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def rest_server(postgres_server: PostgresServer) -> Iterator[RestServer]:
    """A PostgREST stand-in over a fresh, migrated database, served over HTTP for other processes."""
    name = postgres_server.create_database()
    stand_in = PostgrestStandIn(postgres_server.dsn(name))
    try:
        with serve(stand_in) as url:
            yield RestServer(url, make_jwt("service_role"), stand_in)
    finally:
        stand_in.close()
        postgres_server.drop_database(name)
