"""A real PostgreSQL server for tests, started once per session.

Fixtures (imported into `tests/conftest.py`, so any test can ask for them):

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


class PostgrestStandIn:
    """Answers the PostgREST requests supabase-py sends, by running them on the test server.

    PostgREST itself can't run here. This is a small stand-in for the part of
    its API the REST backend uses (documented at docs.postgrest.org: table
    reads with `select`, `eq./gte./lt./is.` filters, `order`, `offset`/`limit`
    capped by max-rows, `Prefer: count=exact` answered in `Content-Range`;
    `POST` with `on_conflict`, `columns` and `Prefer: resolution=...`; `PATCH`,
    `DELETE`; `POST /rpc/<fn>`). Like PostgREST, each request is one
    transaction run as the JWT's role (`service_role`), rows are read and
    written through `json_agg` / `json_populate_recordset`, so values cross the
    wire exactly as PostgreSQL serializes them. Use it as an httpx transport:
    `httpx.Client(transport=httpx.MockTransport(stand_in))`.

    `requests` records every request; a function in `faults` may answer a
    request instead (return an httpx.Response) to simulate errors.
    """

    _RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns"}
    _OPS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

    def __init__(self, dsn: str, *, max_rows: int = 1000, role: str = "service_role") -> None:
        self.dsn, self.max_rows, self.role = dsn, max_rows, role
        self.requests: list = []
        self.faults: list = []
        self._conn = psycopg.connect(dsn)

    def close(self) -> None:
        self._conn.close()

    def __call__(self, request):
        import httpx

        self.requests.append(request)
        for fault in self.faults:
            answer = fault(request)
            if answer is not None:
                return answer
        path = request.url.path.removeprefix("/rest/v1/")
        try:
            with self._conn.transaction():
                self._conn.execute(f"set local role {self.role}")
                self._conn.execute("select set_config('request.jwt.claims', %s, true)",
                                   (json.dumps({"role": self.role}),))
                if path.startswith("rpc/"):
                    return self._rpc(path[4:], json.loads(request.content or b"{}"))
                return self._table(request, path)
        except psycopg.Error as exc:
            state = exc.sqlstate or ""
            status = {"23505": 409, "23503": 409, "42501": 403, "42P01": 404, "42883": 404}.get(
                state, 503 if state[:2] in ("08", "53", "57") else 400)
            body = {"code": state, "message": str(exc).splitlines()[0], "details": None, "hint": None}
            return httpx.Response(status, json=body)

    # --- pieces ---------------------------------------------------------------------

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

    def _table(self, request, table: str):
        import httpx
        from psycopg import sql

        params, prefer = request.url.params, request.headers.get("prefer", "")
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
            rows = self._conn.execute(query, args).fetchone()[0]
            total = "*"
            if "count=exact" in prefer:
                counted = sql.SQL("select count(*) from {}{}").format(ident, where)
                total = self._conn.execute(counted, args).fetchone()[0]
            span = f"{offset}-{offset + len(rows) - 1}" if rows else "*"
            return httpx.Response(200, json=rows, headers={"Content-Range": f"{span}/{total}"})
        if request.method == "POST":
            body = json.loads(request.content)
            body = body if isinstance(body, list) else [body]
            names = ([c.strip('"') for c in params["columns"].split(",")] if params.get("columns")
                     else list(dict.fromkeys(k for row in body for k in row)))
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
                            "{x} returning *) select coalesce(json_agg(_w), '[]'::json), count(*) from _w").format(
                t=ident, c=cols, x=conflict)
            rows, _ = self._conn.execute(query, (json.dumps(body),)).fetchone()
            return self._written(prefer, rows, 201)
        if request.method == "PATCH":
            body = json.loads(request.content)
            sets = sql.SQL(", ").join(sql.SQL("{0} = (json_populate_record(null::{1}, %s)).{0}").format(
                sql.Identifier(c), ident) for c in body)
            query = sql.SQL("with _w as (update {} set {}{} returning *) "
                            "select coalesce(json_agg(_w), '[]'::json) from _w").format(ident, sets, where)
            rows = self._conn.execute(query, [json.dumps(body)] * len(body) + args).fetchone()[0]
            return self._written(prefer, rows, 200)
        if request.method == "DELETE":
            query = sql.SQL("with _w as (delete from {}{} returning *) "
                            "select coalesce(json_agg(_w), '[]'::json) from _w").format(ident, where)
            rows = self._conn.execute(query, args).fetchone()[0]
            return self._written(prefer, rows, 200)
        return httpx.Response(405)

    @staticmethod
    def _written(prefer: str, rows: list, status: int):
        import httpx

        headers = {"Content-Range": f"0-{len(rows) - 1}/{len(rows)}" if rows else "*/0"}
        if "return=representation" in prefer:
            return httpx.Response(status, json=rows, headers=headers)
        return httpx.Response(204 if status == 200 else status, headers=headers)

    def _rpc(self, function: str, args: dict):
        import httpx
        from psycopg import sql

        call = sql.SQL("select to_json({}({}))").format(sql.Identifier(function), sql.SQL(", ").join(
            sql.SQL("{} => %s").format(sql.Identifier(name)) for name in args))
        value = self._conn.execute(call, list(args.values())).fetchone()[0]
        return httpx.Response(200, json=value)


@pytest.fixture
def rest_stand_in(postgres_server: PostgresServer) -> Iterator[PostgrestStandIn]:
    """A PostgREST stand-in over a fresh, migrated database of its own."""
    name = postgres_server.create_database()
    stand_in = PostgrestStandIn(postgres_server.dsn(name))
    yield stand_in
    stand_in.close()
    postgres_server.drop_database(name)
