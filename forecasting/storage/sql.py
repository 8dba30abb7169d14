"""SQL backends through SQLAlchemy Core: the embedded SQLite file and PostgreSQL.

One class serves both: SQLite and PostgreSQL share `INSERT ... ON CONFLICT
DO UPDATE`, so an upsert is the same statement on each. Every value is a
bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Date, case, cast, create_engine, delete, event, func, inspect, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from ..core.errors import StorageError
from ..core.logs import log_event
from ..core.series import zone as series_zone
from .base import RETRY_ATTEMPTS, FoundIds, Storage, offset_periods, retry, stored_moment
from .schema import CONFLICT_KEYS, REMOVED_COLUMNS, TABLES, TENANT_COLUMN, metadata

#: Ids looked up per query by `find_ids`.
_LOOKUP_CHUNK = 500


class SQLStorage(Storage):
    """Storage on a SQLAlchemy engine (SQLite file or PostgreSQL URL)."""

    def __init__(self, url: str, *, create: bool = True, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url, **engine_kwargs)
        self.backend = self.engine.dialect.name
        self._insert = postgresql.insert if self.backend == "postgresql" else sqlite.insert
        # The embedded file, and which file it is (device, inode): see _check_file.
        database = self.engine.url.database if self.backend == "sqlite" else None
        self._file = Path(database) if database and database != ":memory:" else None
        self._file_id: tuple[int, int] | None = None  # known once the file exists (create_tables makes it)
        if create:
            self.create_tables()
        self._file_id = _identity(self._file) if self._file is not None else None

    @classmethod
    def sqlite_file(cls, path: str | Path, *, create_folder: bool = False) -> SQLStorage:
        """The embedded database: a file created on first use, in an existing folder.

        The folder is created only when asked (`create_folder`, the default
        location `data/`): a mistyped `--db /nonexistent/dir/x.db` is an error,
        not a new tree of folders with an empty database in it.
        """
        path = Path(path)
        try:
            if create_folder:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.parent.is_dir():
                raise StorageError(f"the folder {str(path.parent)!r} of the database file does not exist: create it "
                                   "first, or choose another file")
        except OSError as exc:  # a read-only disk or a path through a file
            raise StorageError(f"could not open the database file {str(path)!r}: {exc.strerror or exc}") from None
        return cls(f"sqlite:///{path}")

    def reopen_settings(self):
        from ..core.config import get_app_settings

        url = self.engine.url
        if self.backend == "sqlite":
            target = {"forecasting_db_path": url.database, "database_url": ""}
        else:
            target = {"database_url": url.render_as_string(hide_password=False)}
        return get_app_settings().model_copy(update={**target, "supabase_url": "", "supabase_service_role_key": ""})

    def describe(self) -> str:
        """Where the data is, without credentials: `sqlite data/x.db`, `postgresql://user@host:5432/db`."""
        url = self.engine.url
        if self.backend == "sqlite":
            return f"sqlite {url.database or ':memory:'}"
        # Password and query string (which may carry sslpassword, options...) are left out, not masked.
        user = f"{url.username}@" if url.username else ""
        port = f":{url.port}" if url.port else ""
        return f"{url.get_backend_name()}://{user}{url.host or ''}{port}/{url.database or ''}"

    def create_tables(self) -> None:
        """Create missing tables: from schema.py on SQLite, from supabase/migrations on PostgreSQL."""
        if self.backend == "postgresql":
            from .migrate import ensure_schema

            self._run(lambda: ensure_schema(self.engine), "create tables")
            return
        self._run(lambda: metadata.create_all(self.engine), "create tables")
        self._run(self._upgrade_columns, "upgrade columns")

    def _upgrade_columns(self) -> None:
        """Bring tables an older version created to schema.py's columns (SQLite): add the nullable
        columns it declares, drop the ones it removed (REMOVED_COLUMNS). `create_all` creates missing
        tables only; this is the embedded file's counterpart of the migrations' `add/drop column if ...`.
        """
        inspector = inspect(self.engine)
        with self.engine.begin() as conn:
            for name, table in TABLES.items():
                present = {column["name"] for column in inspector.get_columns(name)}
                # Names from schema.py, never from users: the only SQL text built here.
                for column in table.columns:
                    if column.name not in present and column.nullable:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        conn.execute(text(f'ALTER TABLE "{name}" ADD COLUMN "{column.name}" {kind}'))
                        log_event("column_added", table=name, column=column.name)
                for column in REMOVED_COLUMNS.get(name, ()):
                    if column in present:
                        conn.execute(text(f'ALTER TABLE "{name}" DROP COLUMN "{column}"'))
                        log_event("column_dropped", table=name, column=column)

    # --- writes -----------------------------------------------------------

    def upsert(self, table: str, tenant_id: str, rows: Sequence[Mapping[str, Any]]) -> int:
        prepared = self.prepare_rows(table, tenant_id, rows)
        if not prepared:
            return 0
        table_obj = TABLES[table]
        keys = CONFLICT_KEYS[table]
        updatable = [c for c in prepared[0] if c not in keys]

        # Where the key is a global id (ventas.id, productos.id), an upsert must never move another
        # tenant's row to this one: refuse such ids up front, and guard the update itself.
        owner = TENANT_COLUMN.get(table)
        foreign_check = owner is not None and owner not in keys
        stmt = self._insert(table_obj)
        if updatable:
            guard = (table_obj.c[owner] == stmt.excluded[owner]) if foreign_check else None
            stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in updatable},
                                              where=guard)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))

        def write() -> int:
            # One transaction for every chunk: a failure in any chunk leaves nothing written.
            with self.engine.begin() as conn:
                for chunk in self.chunks(prepared):
                    if foreign_check:
                        self._refuse_foreign_ids(conn, table, tenant_id, chunk)
                    conn.execute(stmt, list(chunk))
            return len(prepared)

        written = self._run(write, f"upsert into {table}")
        log_event("upsert", table=table, tenant_id=str(tenant_id), rows=written, backend=self.backend)
        return written

    def _refuse_foreign_ids(self, conn, table: str, tenant_id: str, chunk) -> None:
        table_obj = TABLES[table]
        key = CONFLICT_KEYS[table][0]
        owner = TENANT_COLUMN[table]
        ids = [row[key] for row in chunk]
        taken = conn.execute(select(table_obj.c[key]).where(table_obj.c[key].in_(ids),
                                                           table_obj.c[owner] != str(tenant_id))).scalars().all()
        if taken:
            shown = ", ".join(map(str, taken[:10])) + (f" and {len(taken) - 10} more" if len(taken) > 10 else "")
            raise _ForeignRows(f"{table} id(s) {shown} already belong to another tenant; nothing was written")

    def insert_if_absent(self, table: str, tenant_id: str | None, row: Mapping[str, Any]) -> bool:
        prepared = self.prepare_rows(table, tenant_id, [row])
        keys = list(CONFLICT_KEYS[table])
        table_obj = TABLES[table]
        # RETURNING tells whether a row was inserted; rowcount is -1 on psycopg once
        # SQLAlchemy adds its own RETURNING for the primary key.
        stmt = (self._insert(table_obj).on_conflict_do_nothing(index_elements=keys)
                .returning(table_obj.c[keys[0]]))

        def write() -> bool:
            with self.engine.begin() as conn:
                return conn.execute(stmt, prepared[0]).first() is not None

        return self._run(write, f"insert into {table}")

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        leases = TABLES["leases"]
        now = datetime.now(timezone.utc)
        stmt = self._insert(leases).values(name=name, holder=holder, acquired_at=now,
                                           expires_at=now + timedelta(seconds=ttl_seconds))
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "holder": stmt.excluded.holder,
                "expires_at": stmt.excluded.expires_at,
                # renewing keeps the original acquisition time; a takeover starts a new one
                "acquired_at": case((leases.c.holder == stmt.excluded.holder, leases.c.acquired_at),
                                    else_=stmt.excluded.acquired_at),
            },
            where=or_(leases.c.holder == stmt.excluded.holder, leases.c.expires_at < now),
        )

        def attempt() -> bool:
            with self.engine.begin() as conn:
                conn.execute(stmt)
                current = conn.execute(select(leases.c.holder).where(leases.c.name == name)).scalar_one()
            return current == holder

        return self._run(attempt, f"take lease {name}")

    def release_lease(self, name: str, holder: str) -> None:
        leases = TABLES["leases"]
        stmt = delete(leases).where(leases.c.name == name, leases.c.holder == holder)
        self._run(lambda: self._execute_rowcount(stmt), f"release lease {name}")

    def count_sign_in_attempt(self, username: str, now: datetime) -> tuple[int, datetime | None]:
        attempts = TABLES["sign_in_attempts"]
        stmt = self._insert(attempts).values(username=username, failed_attempts=1, locked_until=None,
                                             last_attempt_at=now)
        locked = attempts.c.locked_until > now
        stmt = stmt.on_conflict_do_update(index_elements=["username"], set_={
            "failed_attempts": case((locked, attempts.c.failed_attempts),
                                    (attempts.c.locked_until.is_not(None), 1),  # the lock has passed
                                    else_=attempts.c.failed_attempts + 1),
            "locked_until": case((locked, attempts.c.locked_until), else_=None),
            "last_attempt_at": now,
        }).returning(attempts.c.failed_attempts, attempts.c.locked_until)

        def attempt() -> tuple[int, datetime | None]:
            with self.engine.begin() as conn:
                count, until = conn.execute(stmt).one()
            return int(count), stored_moment(until)

        return self._run(attempt, "count a sign-in attempt")

    def update(self, table: str, tenant_id: str, values: Mapping[str, Any], *, where: Mapping[str, Any] | None = None) -> int:
        self.check_table(table, tenant_id)
        table_obj = TABLES[table]
        stmt = update(table_obj).where(*self._conditions(table, tenant_id, where=where)).values(
            **self.prepare_values(table, values))
        return self._run(lambda: self._execute_rowcount(stmt), f"update {table}")

    def delete(self, table: str, tenant_id: str | None, *, where=None, lt=None) -> int:
        self.check_table(table, tenant_id, any_tenant=True)
        stmt = delete(TABLES[table]).where(*self._conditions(table, tenant_id, where=where, lt=lt))
        return self._run(lambda: self._execute_rowcount(stmt), f"delete from {table}")

    # --- reads ------------------------------------------------------------

    def select(self, table, tenant_id, *, columns=None, where=None, gte=None, lt=None,
               order_by=None, descending=False, limit=None) -> pd.DataFrame:
        self.check_table(table, tenant_id)
        table_obj = TABLES[table]
        names = list(columns) if columns else list(table_obj.columns.keys())
        stmt = select(*[table_obj.c[name] for name in names]).where(
            *self._conditions(table, tenant_id, where=where, gte=gte, lt=lt)
        )
        if order_by:
            column = table_obj.c[order_by]
            stmt = stmt.order_by(column.desc() if descending else column.asc())
        if limit is not None:
            stmt = stmt.limit(int(limit))

        def read() -> pd.DataFrame:
            with self.engine.connect() as conn:
                result = conn.execute(stmt)
                return pd.DataFrame(result.fetchall(), columns=names)

        return self._run(read, f"read {table}")

    def tenants(self) -> pd.DataFrame:
        table_obj = TABLES["negocios"]
        stmt = select(table_obj).order_by(table_obj.c.id)

        def read() -> pd.DataFrame:
            with self.engine.connect() as conn:
                return pd.DataFrame(conn.execute(stmt).fetchall(), columns=list(table_obj.columns.keys()))

        return self._run(read, "read negocios")

    def daily_totals(self, tenant_id: str, first, last, timezone_name: str) -> pd.Series:
        ventas = TABLES["ventas"]

        def read() -> pd.Series:
            rows = self._by_local_day(tenant_id, first, last, timezone_name, values=[func.sum(ventas.c.total)])
            if not rows:
                return pd.Series(dtype=float, index=pd.DatetimeIndex([], name="ds"))
            frame = pd.DataFrame(rows, columns=["day", "total"])
            summed = frame.groupby(pd.to_datetime(frame["day"]))["total"].sum().astype(float)
            summed.index = pd.DatetimeIndex(summed.index, name="ds")
            return summed

        return self._run(read, "read daily sales")

    def daily_units(self, tenant_id: str, first, last, timezone_name: str) -> pd.DataFrame:
        ventas = TABLES["ventas"]
        units = func.abs(func.coalesce(ventas.c.cantidad, 1.0))  # the rule of `units_sold`, in SQL
        signed = case((ventas.c.total < 0, -units), else_=units)

        def read() -> pd.DataFrame:
            rows = self._by_local_day(tenant_id, first, last, timezone_name, keys=[ventas.c.producto_id],
                                      values=[func.sum(signed)], where=[ventas.c.producto_id.is_not(None)])
            frame = pd.DataFrame(rows, columns=["day", "product_id", "units"])
            frame = frame.assign(ds=pd.to_datetime(frame["day"]), product_id=frame["product_id"].astype(str),
                                 units=frame["units"].astype(float))
            return frame.groupby(["product_id", "ds"], as_index=False)["units"].sum().sort_values(
                ["product_id", "ds"], ignore_index=True)

        return self._run(read, "read daily units per product")

    def _by_local_day(self, tenant_id: str, first, last, timezone_name: str, *, keys=(), values=(),
                      where=()) -> list:
        """Rows of (local day, *keys, *values) over the tenant's sales `first`..`last`, grouped by day and
        `keys`, `values` being aggregates. PostgreSQL converts with AT TIME ZONE; SQLite has no time zones, so one query
        per span of constant UTC offset shifts by it (the spans' rows may share a day: callers sum again)."""
        ventas = TABLES["ventas"]
        zone = series_zone(timezone_name)
        since = datetime.combine(first, dtime.min, zone)
        until = datetime.combine(last + timedelta(days=1), dtime.min, zone)
        if self.backend == "postgresql":
            queries = [(cast(func.timezone(timezone_name, ventas.c.fecha), Date), since, until)]
        else:
            queries = [(func.date(ventas.c.fecha, f"{minutes:+d} minutes"), start, end)
                       for start, end, minutes in offset_periods(zone, since, until)]
        rows = []
        with self.engine.connect() as conn:
            for day, start, end in queries:
                stmt = (select(day.label("day"), *keys, *values)
                        .where(*self._conditions("ventas", tenant_id, gte={"fecha": start}, lt={"fecha": end}), *where)
                        .group_by(day, *keys))
                rows.extend(conn.execute(stmt).fetchall())
        return rows

    def count(self, table: str, tenant_id: str) -> int:
        self.check_table(table, tenant_id)
        stmt = select(func.count()).select_from(TABLES[table]).where(*self._conditions(table, tenant_id))

        def read() -> int:
            with self.engine.connect() as conn:
                return int(conn.execute(stmt).scalar_one())

        return self._run(read, f"count {table}")

    def find_ids(self, table: str, tenant_id: str, ids: Sequence[str], *, columns: Sequence[str]) -> FoundIds:
        """By primary key, `_LOOKUP_CHUNK` ids per query, in one connection."""
        key, _, names = self.id_lookup(table, columns)
        table_obj = TABLES[table]
        unique = list(dict.fromkeys(str(i) for i in ids))
        statements = [select(*[table_obj.c[name] for name in names])
                      .where(table_obj.c[key].in_(unique[start:start + _LOOKUP_CHUNK]))
                      for start in range(0, len(unique), _LOOKUP_CHUNK)]

        def read() -> pd.DataFrame:
            rows = []
            with self.engine.connect() as conn:
                for stmt in statements:
                    rows.extend(conn.execute(stmt).fetchall())
            return pd.DataFrame(rows, columns=names)

        return self.split_found(self._run(read, f"read existing {table}"), table, tenant_id, names)

    def ping(self) -> None:
        def probe() -> None:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        self._run(probe, "reach the database", attempts=1)

    def migrate(self) -> list[str]:
        """PostgreSQL: every file of supabase/migrations, in order, in one transaction (`migrate.apply_migrations`).

        The embedded file has no migration files: its tables and columns are
        brought to schema.py's (`create_tables`), and the list is empty.
        """
        if self.backend == "postgresql":
            from .migrate import apply_migrations

            self._check_file()
            return apply_migrations(self.engine)
        self.create_tables()
        return []

    def schema_version(self) -> str | None:
        """PostgreSQL: what `forecasting_schema_version()` reports (None before the first migration); the
        embedded file: None, its schema is schema.py's."""
        if self.backend != "postgresql":
            return None
        from .migrate import schema_version

        return self._run(lambda: schema_version(self.engine), "read the schema version")

    def job_store_engine(self) -> Engine:
        return self.engine

    def close(self) -> None:
        self.engine.dispose()

    # --- helpers ------------------------------------------------------------

    def _conditions(self, table: str, tenant_id: str | None, *, where=None, gte=None, lt=None) -> list:
        table_obj = TABLES[table]
        conditions = []
        if tenant_id is not None and table in TENANT_COLUMN:
            conditions.append(table_obj.c[TENANT_COLUMN[table]] == str(tenant_id))
        for name, value in (where or {}).items():
            column = table_obj.c[name]
            conditions.append(column.is_(None) if value is None else column == value)
        for name, value in (gte or {}).items():
            conditions.append(table_obj.c[name] >= value)
        for name, value in (lt or {}).items():
            conditions.append(table_obj.c[name] < value)
        return conditions

    def _execute_rowcount(self, stmt) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def _check_file(self) -> None:
        """StorageError when the embedded file was deleted or replaced since it was opened.

        SQLite keeps writing into a deleted file through the connections already open (and a new
        connection would create an empty one): a retrain "succeeds" and everything is lost at
        the next start. One `stat` per call catches it first.
        """
        if self._file_id is not None and _identity(self._file) != self._file_id:
            raise StorageError(f"the database file {str(self._file)!r} was deleted or replaced while the app was "
                               "running, so nothing was read or written: restore the file, or restart the app to "
                               "start a new one")

    def _run(self, operation, what: str, attempts: int = RETRY_ATTEMPTS):
        """Run `operation`, retrying transient failures with backoff (`base.retry`).

        Each attempt is its own transaction, so a retry never doubles a write:
        a failed attempt rolled back entirely.
        """
        self._check_file()
        try:
            return retry(operation, what, transient=_transient, describe=_short, attempts=attempts,
                         wait=self.retry_wait)
        except _ForeignRows as exc:
            raise StorageError(str(exc)) from None
        except KeyError as exc:
            raise StorageError(f"could not {what}: unknown column {exc}") from None
        except (OperationalError, DBAPIError) as exc:
            raise StorageError(f"could not {what}: {_short(exc)}; no partial write was kept") from None
        except SQLAlchemyError as exc:
            raise StorageError(f"could not {what}: {_short(exc)}") from None


def _transient(exc: Exception) -> bool:
    """Worth a second try: the server went away or a lock was busy.

    psycopg files lost connections, admin shutdowns, serialization failures and
    deadlocks under OperationalError; a statement timeout (57014) is there too,
    but trying the same slow statement again only triples the wait.
    """
    if not isinstance(exc, DBAPIError):  # OperationalError is one
        return False
    return ((isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False))
            and getattr(exc.orig, "sqlstate", None) != "57014")


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file `path` is (device, inode), or None when there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class _ForeignRows(Exception):
    """Raised inside a write transaction (so it rolls back) when ids belong to another tenant."""


def _short(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's SQL echo and parameters."""
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).strip().splitlines()
    return message[0] if message else exc.__class__.__name__


def _make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            # WAL lets the dashboard read while the scheduler writes; the busy
            # timeout makes a second writer wait instead of failing at once.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # A dashboard plus a scheduler thread need a few connections, not dozens: Supabase's
    # direct connections are limited. Pre-ping and recycling drop connections the server
    # or a pooler closed while idle, instead of failing the next query on them.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_timeout", 30)
    kwargs.setdefault("pool_recycle", 1800)
    connect_args = kwargs.setdefault("connect_args", {})
    connect_args.setdefault("connect_timeout", 10)
    connect_args.setdefault("application_name", "forecasting")
    if url.startswith("postgresql+psycopg"):
        # Supabase's transaction pooler (port 6543) can't keep server-side prepared
        # statements across transactions; psycopg prepares repeated queries by default.
        connect_args.setdefault("prepare_threshold", None)
    return create_engine(url, **kwargs)
