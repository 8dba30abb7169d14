"""SQL backends through SQLAlchemy Core: the embedded SQLite file and PostgreSQL.

One class serves both: SQLite and PostgreSQL share `INSERT ... ON CONFLICT
DO UPDATE`, so an upsert is the same statement on each. Every value is a
bound parameter.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import case, create_engine, delete, event, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from ..errors import StorageError
from ..logs import log_event
from .base import Storage
from .schema import CONFLICT_KEYS, TABLES, TENANT_COLUMN, metadata

# Errors worth a second try: the server went away or a lock was busy.
_TRANSIENT_ATTEMPTS = 3


class SQLStorage(Storage):
    """Storage on a SQLAlchemy engine (SQLite file or PostgreSQL URL)."""

    def __init__(self, url: str, *, create: bool = True, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url, **engine_kwargs)
        self.backend = self.engine.dialect.name
        self._insert = postgresql.insert if self.backend == "postgresql" else sqlite.insert
        if create:
            self.create_tables()

    @classmethod
    def sqlite_file(cls, path: str | Path) -> SQLStorage:
        """The embedded database: a file created (with its folder) on first use."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}")

    def describe(self) -> str:
        """Where the data is, without credentials."""
        return self.engine.url.render_as_string(hide_password=True)

    def create_tables(self) -> None:
        self._run(lambda: metadata.create_all(self.engine), "create tables")

    # --- writes -----------------------------------------------------------

    def upsert(self, table: str, tenant_id: str, rows: Sequence[Mapping[str, Any]]) -> int:
        prepared = self.prepare_rows(table, tenant_id, rows)
        if not prepared:
            return 0
        table_obj = TABLES[table]
        keys = CONFLICT_KEYS[table]
        updatable = [c for c in prepared[0] if c not in keys]

        stmt = self._insert(table_obj)
        if updatable:
            stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in updatable})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))

        def write() -> int:
            # One transaction for every chunk: a failure in any chunk leaves nothing written.
            with self.engine.begin() as conn:
                for chunk in self.chunks(prepared):
                    conn.execute(stmt, list(chunk))
            return len(prepared)

        written = self._run(write, f"upsert into {table}")
        log_event("upsert", table=table, tenant_id=str(tenant_id), rows=written, backend=self.backend)
        return written

    def insert_if_absent(self, table: str, tenant_id: str | None, row: Mapping[str, Any]) -> bool:
        prepared = self.prepare_rows(table, tenant_id, [row])
        stmt = self._insert(TABLES[table]).on_conflict_do_nothing(index_elements=list(CONFLICT_KEYS[table]))

        def write() -> bool:
            with self.engine.begin() as conn:
                return (conn.execute(stmt, prepared).rowcount or 0) > 0

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

    def update(self, table: str, tenant_id: str, values: Mapping[str, Any], *, where: Mapping[str, Any] | None = None) -> int:
        self.check_table(table, tenant_id)
        table_obj = TABLES[table]
        stmt = update(table_obj).where(*self._conditions(table, tenant_id, where=where)).values(**dict(values))
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

    def count(self, table: str, tenant_id: str) -> int:
        self.check_table(table, tenant_id)
        stmt = select(func.count()).select_from(TABLES[table]).where(*self._conditions(table, tenant_id))

        def read() -> int:
            with self.engine.connect() as conn:
                return int(conn.execute(stmt).scalar_one())

        return self._run(read, f"count {table}")

    def ping(self) -> None:
        def probe() -> None:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        self._run(probe, "reach the database", attempts=1)

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

    def _run(self, operation, what: str, attempts: int = _TRANSIENT_ATTEMPTS):
        """Run `operation`, retrying transient failures with backoff.

        Each attempt is its own transaction, so a retry never doubles a write:
        a failed attempt rolled back entirely.
        """
        for attempt in range(1, attempts + 1):
            try:
                return operation()
            except KeyError as exc:
                raise StorageError(f"could not {what}: unknown column {exc}") from None
            except (OperationalError, DBAPIError) as exc:
                transient = isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False)
                if transient and attempt < attempts:
                    log_event("storage_retry", what=what, attempt=attempt, error=_short(exc))
                    time.sleep(0.2 * 2 ** (attempt - 1))
                    continue
                raise StorageError(f"could not {what}: {_short(exc)}; no partial write was kept") from None
            except SQLAlchemyError as exc:
                raise StorageError(f"could not {what}: {_short(exc)}") from None
        raise AssertionError("unreachable")


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
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)
