"""The storage protocol every backend implements.

Backends differ in how, never in what: the same contract test suite runs
against each. Every call names the tenant it reads or writes; a row whose
tenant column disagrees with that tenant is refused before anything is
written. Filters are plain values (equality, `>=`, `<`), so each backend
turns them into parameterized queries; no caller text reaches SQL.
"""

from __future__ import annotations

import math
import time as clock
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from ..core.errors import StorageError
from ..core.logs import log_event
from ..core.series import sum_by_local_day
from ..core.series import zone as series_zone
from .schema import CONFLICT_KEYS, JSON_COLUMNS, SYSTEM_TABLES, TABLES, TENANT_COLUMN

CHUNK_SIZE = 200
#: Tries of one storage call in all when it fails in a way worth another try, and the wait before the
#: first retry (doubled before each next one: 0.2 s, then 0.4 s).
RETRY_ATTEMPTS = 3
RETRY_FIRST_WAIT = 0.2

T = TypeVar("T")


def retry(operation: Callable[[], T], what: str, *, transient: Callable[[Exception], bool],
          describe: Callable[[Exception], str], attempts: int = RETRY_ATTEMPTS,
          wait: Callable[[float], None] = clock.sleep) -> T:
    """`operation()`, tried up to `attempts` times while it fails with an error `transient` accepts.

    The one retry loop of the backends: SQL retries lost connections and busy
    locks, REST transient HTTP and PostgREST errors; each decides which
    errors are transient, and may retry nothing (`attempts=1`). Before each
    retry it logs `storage_retry` (`what`, the attempt, `describe(error)`:
    never a credential) and waits `RETRY_FIRST_WAIT`, doubled each time,
    through `wait` (a test passes one that records instead of sleeping).
    The last error, or any error `transient` refuses, is raised unchanged:
    the backend words it as its StorageError.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as exc:
            if attempt >= attempts or not transient(exc):
                raise
            log_event("storage_retry", what=what, attempt=attempt, error=describe(exc))
            wait(RETRY_FIRST_WAIT * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def json_safe(value: Any) -> Any:
    """A JSON-serializable copy: numpy scalars to Python, NaN/inf to None, dates to ISO."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    return value


def stored_moment(value: Any) -> datetime | None:
    """A moment read from storage as an aware UTC datetime (naive values are UTC, as every backend writes them).

    None for missing values (None, NaT, NaN).
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def clean_value(value: Any) -> Any:
    """A column value drivers accept: numpy scalars to Python, NaN/NaT to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def units_sold(total, cantidad):
    """Units a sale moves: `cantidad`, 1 when missing, negative for a refund (negative `total`)."""
    units = cantidad.fillna(1.0).abs()
    return units.where(total >= 0, -units)


def offset_periods(zone, since: datetime, until: datetime) -> list[tuple[datetime, datetime, int]]:
    """[start, end) spans of constant UTC offset (in minutes) of `zone` covering [since, until), in UTC.

    Daylight-saving changes are found by sampling each day and narrowing the
    change to the minute, so a backend can compute local dates with a fixed
    offset per span (SQLite has no time zone support).
    """
    def offset(moment: datetime) -> int:
        return int(moment.astimezone(zone).utcoffset().total_seconds() // 60)

    utc = ZoneInfo("UTC")
    since, until = since.astimezone(utc), until.astimezone(utc)
    spans, start, current = [], since, offset(since)
    day = since
    while day < until:
        following = min(day + timedelta(days=1), until)
        if offset(following) != current or following == until:
            if offset(following) != current:
                low, high = day, following  # the change is in (low, high]: narrow it to the minute
                while high - low > timedelta(minutes=1):
                    middle = low + (high - low) / 2
                    low, high = (middle, high) if offset(middle) == current else (low, middle)
                spans.append((start, high, current))
                start, current = high, offset(high)
            if following == until:
                spans.append((start, until, current))
        day = following
    return [span for span in spans if span[0] < span[1]]


class FoundIds(NamedTuple):
    """What `Storage.find_ids` found: the tenant's own rows, and who owns the ids stored under another tenant."""

    mine: pd.DataFrame  # the tenant's rows among the ids asked, with the columns asked
    foreign: dict[str, str]  # id -> the tenant that owns it


class Storage(ABC):
    """Tenant-scoped reads and idempotent writes on the contract's tables."""

    #: "sqlite", "postgresql" or "supabase"; shown in the dashboard.
    backend: str = "abstract"
    #: How `retry` waits between tries (seconds). Tests replace it, on the class or on one storage, to
    #: record the waits instead of sleeping them.
    retry_wait: Callable[[float], None] = staticmethod(clock.sleep)

    # --- writes -----------------------------------------------------------

    @abstractmethod
    def upsert(self, table: str, tenant_id: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert or update `rows` on the table's conflict key, in chunks of 200.

        All chunks of one call commit together where the backend has
        transactions. Returns the number of rows written.
        """

    @abstractmethod
    def insert_if_absent(self, table: str, tenant_id: str | None, row: Mapping[str, Any]) -> bool:
        """Insert `row` unless its conflict key exists; True when this call inserted it.

        This is how two processes agree on who runs a job: both try, one wins.
        """

    @abstractmethod
    def update(self, table: str, tenant_id: str, values: Mapping[str, Any], *, where: Mapping[str, Any] | None = None) -> int:
        """Set `values` on the tenant's rows matching `where`; returns rows changed."""

    @abstractmethod
    def delete(
        self,
        table: str,
        tenant_id: str | None,
        *,
        where: Mapping[str, Any] | None = None,
        lt: Mapping[str, Any] | None = None,
    ) -> int:
        """Delete the tenant's rows matching `where` and `col < value` filters.

        `tenant_id=None` is reserved for maintenance jobs that clean every
        tenant at once (e.g. notifications older than 30 days).
        """

    # --- reads ------------------------------------------------------------

    @abstractmethod
    def select(
        self,
        table: str,
        tenant_id: str,
        *,
        columns: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        gte: Mapping[str, Any] | None = None,
        lt: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """The tenant's rows as a DataFrame (columns present even when empty)."""

    @abstractmethod
    def tenants(self) -> pd.DataFrame:
        """All rows of `negocios` (id, nombre, timezone, country, currency)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StorageError when the database can't be reached."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data is, for people, never with a credential.

        E.g. `sqlite data/forecasting.db`, `postgresql://user@host:5432/db`,
        `supabase https://xyz.supabase.co`.
        """

    # --- leases -------------------------------------------------------------

    @abstractmethod
    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew the lease `name` for `ttl_seconds`; False when someone else holds it.

        Atomic: of two callers racing for a free or expired lease, exactly one gets it.
        """

    @abstractmethod
    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up, if `holder` still holds it."""

    @abstractmethod
    def count_sign_in_attempt(self, username: str, now: datetime) -> tuple[int, datetime | None]:
        """Count one sign-in attempt for `username`, before its password is checked: (attempts, locked_until).

        Atomic, like a lease: of any number of parallel attempts each gets its
        own count. While `locked_until` is after `now` nothing is counted; once
        it has passed, counting starts again at 1. The caller locks the name
        (an `update` of `sign_in_attempts`) and clears it on success.
        """

    def lease(self, name: str) -> dict[str, Any] | None:
        """The lease row (`holder`, `acquired_at`, `expires_at`) or None."""
        frame = self.select("leases", None, where={"name": name})
        return None if frame.empty else frame.iloc[0].to_dict()

    def reopen_settings(self):
        """`AppSettings` that open this same storage in another process (worker pools, Dask)."""
        raise NotImplementedError(f"{type(self).__name__} can't be reopened elsewhere")

    def daily_totals(self, tenant_id: str, first: date, last: date, timezone: str) -> pd.Series:
        """The tenant's sales summed per local day of `timezone`, `first`..`last` inclusive.

        Indexed by local date (Timestamp), only days with sales. Refunds count
        on their own day. This default reads every sale and converts it here;
        SQL backends sum in the database, which moves a few hundred rows
        instead of every sale.
        """
        zone = series_zone(timezone)
        since = datetime.combine(first, time.min, zone)
        until = datetime.combine(last + timedelta(days=1), time.min, zone)
        sales = self.select("ventas", tenant_id, columns=["fecha", "total"], gte={"fecha": since}, lt={"fecha": until})
        return sum_by_local_day(sales["fecha"], sales["total"], zone)

    def daily_units(self, tenant_id: str, first: date, last: date, timezone: str) -> pd.DataFrame:
        """Units sold per product and local day of `timezone`, `first`..`last` inclusive.

        Columns `product_id`, `ds` (local date, Timestamp), `units`; only
        (product, day) pairs with a sale, sorted. A sale counts `cantidad`
        units (fractions kept: kilograms), or 1 when `cantidad` is missing (a
        ticket line of one item); a refund (negative `total`) subtracts them,
        on the day it happened. Sales without `producto_id` are not product
        demand. This default reads the sales and sums here; SQL backends sum in
        the database (`units_sold` is the one rule both follow).
        """
        zone = series_zone(timezone)
        since = datetime.combine(first, time.min, zone)
        until = datetime.combine(last + timedelta(days=1), time.min, zone)
        sales = self.select("ventas", tenant_id, columns=["fecha", "total", "producto_id", "cantidad"],
                            gte={"fecha": since}, lt={"fecha": until})
        sales = sales[sales["producto_id"].notna()]
        if sales.empty:
            return pd.DataFrame({"product_id": pd.Series(dtype=object), "ds": pd.Series(dtype="datetime64[ns]"),
                                 "units": pd.Series(dtype=float)})
        days = pd.to_datetime(sales["fecha"], utc=True).dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
        units = units_sold(pd.to_numeric(sales["total"], errors="coerce"), pd.to_numeric(sales["cantidad"],
                                                                                          errors="coerce"))
        frame = pd.DataFrame({"product_id": sales["producto_id"].astype(str).to_numpy(), "ds": days.to_numpy(),
                              "units": units.to_numpy()})
        return frame.groupby(["product_id", "ds"], as_index=False)["units"].sum().sort_values(["product_id", "ds"],
                                                                                              ignore_index=True)

    def count(self, table: str, tenant_id: str) -> int:
        key = CONFLICT_KEYS[table][0]
        return len(self.select(table, tenant_id, columns=[key]))

    def find_ids(self, table: str, tenant_id: str, ids: Sequence[str], *, columns: Sequence[str]) -> FoundIds:
        """Which of `ids` are stored already, and under which tenant, before they are written.

        For the tables whose id is unique across tenants (`ventas`,
        `productos`): an upsert must not move another tenant's row, so an
        import checks first. `mine` has the tenant's rows among `ids` with the
        id, the tenant column and `columns` (typed as `select` returns them);
        `foreign` maps each id another tenant owns to that tenant, and tells
        nothing else about its row. Ids stored nowhere are in neither.

        This default reads every tenant's ids, one tenant at a time as the
        protocol's reads go: correct, but it grows with the whole database.
        The SQL backends look the ids up by primary key, the REST backend with
        `in.(...)` filters, a chunk of ids per query.
        """
        key, _, names = self.id_lookup(table, columns)
        wanted, tenant_id = {str(i) for i in ids}, str(tenant_id)
        own = self.select(table, tenant_id, columns=names)
        foreign: dict[str, str] = {}
        for other in [str(t) for t in self.tenants()["id"] if str(t) != tenant_id]:
            theirs = self.select(table, other, columns=[key])[key].astype(str)
            foreign.update(dict.fromkeys(theirs[theirs.isin(wanted)], other))
        return FoundIds(own[own[key].astype(str).isin(wanted)].reset_index(drop=True), foreign)

    def migrate(self) -> list[str]:
        """Bring the database's tables up to date; the names of the migration files applied.

        Idempotent. Backends that can't change their schema from here raise
        StorageError saying how it is done instead (this default).
        """
        raise StorageError(f"{self.describe()}: this backend can't apply the migrations (supabase/migrations); "
                           "apply them with the Supabase CLI (`supabase db push`)")

    def schema_version(self) -> str | None:
        """The migration version the database reports (`forecasting_schema_version()`), or None when it has
        none: never migrated, or a schema that has no version (the embedded file's is schema.py's)."""
        return None

    def job_store_engine(self) -> Engine | None:
        """A SQLAlchemy engine on this database for APScheduler's job store (its `apscheduler_jobs` table is
        declared by the migrations), or None where there is no SQL connection: the scheduler then keeps its
        jobs in memory. The engine is the storage's own: the caller neither disposes of it nor closes it."""
        return None

    def close(self) -> None:
        """Release connections (no-op by default)."""

    # --- shared checks ------------------------------------------------------

    @staticmethod
    def check_table(table: str, tenant_id: Any = "", *, any_tenant: bool = False) -> None:
        """The table exists, and is scoped the way the call says.

        Tenant tables need a tenant id (`any_tenant` allows None for
        maintenance deletes); system tables take None.
        """
        if table not in TABLES:
            raise StorageError(f"unknown table {table!r}")
        if tenant_id == "":
            return
        if table in SYSTEM_TABLES:
            if tenant_id is not None:
                raise StorageError(f"{table} belongs to no tenant; pass None as tenant id")
        elif tenant_id is None and not any_tenant:
            raise StorageError(f"a tenant id is required to use {table}")

    def prepare_rows(self, table: str, tenant_id: str, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Validate and normalize rows before any write.

        The tenant column is filled in when missing and must match
        `tenant_id` when present; every row must carry the conflict key and
        the same set of columns, so one statement fits the whole batch.
        """
        self.check_table(table, tenant_id)
        if table not in SYSTEM_TABLES and str(tenant_id) == "":
            raise StorageError(f"a tenant id is required to write {table}")
        tenant_col = TENANT_COLUMN.get(table)
        tenant_id = str(tenant_id) if tenant_col else None
        json_cols = JSON_COLUMNS[table]
        known = set(TABLES[table].columns.keys())
        prepared: list[dict[str, Any]] = []
        columns: set[str] | None = None
        for i, row in enumerate(rows):
            row = dict(row)
            if tenant_col:
                owner = row.setdefault(tenant_col, tenant_id)
                if str(owner) != tenant_id:
                    raise StorageError(f"row {i} of {table} belongs to tenant {owner!r}, not {tenant_id!r}; nothing was written")
                row[tenant_col] = tenant_id
            unknown = set(row) - known
            if unknown:
                raise StorageError(f"unknown column(s) {sorted(unknown)} for {table}")
            missing = [k for k in CONFLICT_KEYS[table] if row.get(k) is None]
            if missing:
                raise StorageError(f"row {i} of {table} lacks key column(s) {missing}")
            if columns is None:
                columns = set(row)
            elif set(row) != columns:
                raise StorageError(f"rows of one {table} upsert must have the same columns")
            prepared.append({k: (json_safe(v) if k in json_cols else clean_value(v)) for k, v in row.items()})
        return prepared

    def prepare_values(self, table: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and normalize the `values` of an update (JSON made safe, NaN to NULL)."""
        unknown = set(values) - set(TABLES[table].columns.keys())
        if unknown:
            raise StorageError(f"unknown column(s) {sorted(unknown)} for {table}")
        json_cols = JSON_COLUMNS[table]
        return {k: (json_safe(v) if k in json_cols else clean_value(v)) for k, v in values.items()}

    @staticmethod
    def id_lookup(table: str, columns: Sequence[str]) -> tuple[str, str, list[str]]:
        """(id column, tenant column, the columns `find_ids` reads) of a table whose id is unique across tenants."""
        Storage.check_table(table)
        key, owner = CONFLICT_KEYS[table][0], TENANT_COLUMN.get(table)
        if owner is None or owner in CONFLICT_KEYS[table]:
            raise StorageError(f"{table} has no id unique across tenants; find_ids is for ventas and productos")
        unknown = [c for c in columns if c not in TABLES[table].columns]
        if unknown:
            raise StorageError(f"unknown column(s) {unknown} for {table}")
        return key, owner, list(dict.fromkeys([key, owner, *columns]))

    @staticmethod
    def split_found(found: pd.DataFrame, table: str, tenant_id: str, names: Sequence[str]) -> FoundIds:
        """`find_ids`' answer from the rows found under any tenant (`names` columns, the others' may be absent)."""
        key, owner = CONFLICT_KEYS[table][0], TENANT_COLUMN[table]
        own = (found[owner].astype(str) == str(tenant_id)).to_numpy(dtype=bool)
        mine = found.loc[own, list(names)].reset_index(drop=True)
        foreign = {str(i): str(o) for i, o in zip(found.loc[~own, key], found.loc[~own, owner], strict=True)}
        return FoundIds(mine, foreign)

    @staticmethod
    def chunks(rows: Sequence[dict[str, Any]], size: int = CHUNK_SIZE) -> Iterable[Sequence[dict[str, Any]]]:
        for start in range(0, len(rows), size):
            yield rows[start : start + size]
