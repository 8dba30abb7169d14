"""Supabase REST backend: the storage protocol over PostgREST, through supabase-py.

For projects reachable only over HTTPS (`SUPABASE_URL` +
`SUPABASE_SERVICE_ROLE_KEY`). The tables, keys and functions are the ones
`supabase/migrations/` creates; apply them first (`supabase db push`).

How it maps the protocol onto PostgREST:

* upsert: `POST /rest/v1/<table>?on_conflict=<conflict key>` with
  `Prefer: resolution=merge-duplicates`, one request per chunk of 200 rows.
  **REST has no transaction spanning several requests**: when a chunk fails,
  the chunks before it stay written. Upserts are idempotent, so calling again
  with the same rows completes the batch without duplicates. (The PostgreSQL
  backend writes all chunks in one transaction instead.)
* insert_if_absent: the same request with `resolution=ignore-duplicates` and
  `return=representation`; the row comes back only if this request inserted it.
* leases: `POST /rest/v1/rpc/forecasting_acquire_lease` (an atomic SQL
  function of the migration); release is a filtered `DELETE`.
* reads: `GET` with `eq.`/`gte.`/`lt.`/`is.` filters, always including the
  tenant filter, ordered by the requested column then the conflict key, and
  paged with `offset`/`limit` (`.range()`) until every row is read, whatever
  the project's max-rows setting. The first page asks `Prefer: count=exact`.
* values come back typed as the SQL backends return them: timestamps
  timezone-aware UTC, dates as `date`, money as float.

The service-role key bypasses row-level security, so the pipeline can write
every tenant's rows; it never appears in `describe()`, logs or errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pandas as pd
import sqlalchemy as sa
from postgrest import APIError
from postgrest.types import CountMethod, ReturnMethod
from sqlalchemy.types import TypeDecorator

from ..core.errors import StorageError
from ..core.logs import log_event
from .base import RETRY_ATTEMPTS, FoundIds, Storage, retry, stored_moment
from .schema import CONFLICT_KEYS, TABLES, TENANT_COLUMN

T = TypeVar("T")

#: Rows asked per page: Supabase's default `max-rows`. A lower server limit still works.
PAGE_SIZE = 1000

# PostgREST's "could not connect to / timed out waiting for the database" and gateway errors.
_TRANSIENT_CODES = frozenset({"PGRST000", "PGRST001", "PGRST002", "PGRST003", "502", "503", "504", "520"})


class SupabaseRestStorage(Storage):
    """Storage on a Supabase project's REST API (PostgREST), with the service-role key."""

    backend = "supabase"

    def __init__(self, url: str, service_role_key: str, *, http_client: httpx.Client | None = None,
                 timeout: float = 30.0, page_size: int = PAGE_SIZE) -> None:
        # Imported here: the other backends don't need supabase-py loaded.
        from supabase.lib.client_options import SyncClientOptions

        from supabase import create_client

        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise StorageError("SUPABASE_URL must look like https://<project>.supabase.co")
        if not service_role_key.strip():
            raise StorageError("SUPABASE_SERVICE_ROLE_KEY is empty")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self._key = service_role_key.strip()  # kept only to reopen the backend in worker processes
        self.page_size = int(page_size)
        self._http = http_client or httpx.Client(timeout=timeout)
        # Retries are ours (uniform for every verb, short backoff); postgrest-py's own
        # retry covers GET only and sleeps for seconds.
        options = SyncClientOptions(httpx_client=self._http, postgrest_client_retry=False,
                                    auto_refresh_token=False, persist_session=False)
        try:
            self._client = create_client(self.url, service_role_key.strip(), options=options)
        except Exception as exc:  # noqa: BLE001 - supabase-py validates URL and key shape
            raise StorageError(f"could not set up the Supabase client for {self.url}: "
                               f"{exc.__class__.__name__}") from None

    def reopen_settings(self):
        from ..core.config import get_app_settings

        return get_app_settings().model_copy(update={"database_url": "", "supabase_url": self.url,
                                                     "supabase_service_role_key": self._key})

    def describe(self) -> str:
        """`supabase https://<project>.supabase.co` (never the key)."""
        return f"supabase {self.url}"

    # --- writes -----------------------------------------------------------

    def upsert(self, table: str, tenant_id: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Upsert in chunks of 200, one request each; see the module docstring on partial batches."""
        prepared = self.prepare_rows(table, tenant_id, rows)
        if not prepared:
            return 0
        on_conflict = ",".join(CONFLICT_KEYS[table])
        owner = TENANT_COLUMN.get(table)
        if owner is not None and owner not in CONFLICT_KEYS[table]:
            # A global id must never move another tenant's row to this one. Every chunk's ids are
            # checked before the first write: a refusal found in a later chunk would otherwise
            # leave the earlier chunks written, and no retry could ever complete that batch.
            self._refuse_foreign_ids(table, owner, str(tenant_id), [row[CONFLICT_KEYS[table][0]] for row in prepared])
        written = 0
        for chunk in self.chunks(prepared):
            payload = [self._encode_row(table, row) for row in chunk]

            def send(payload=payload):
                return (self._client.table(table)
                        .upsert(payload, on_conflict=on_conflict, returning=ReturnMethod.minimal)
                        .execute())

            try:
                self._call(send, f"upsert into {table}")
            except StorageError as exc:
                if written:
                    raise StorageError(f"{exc}; the first {written} of {len(prepared)} rows were written "
                                       "(REST has no multi-request transaction): retry to complete the batch") from None
                raise
            written += len(chunk)
        log_event("upsert", table=table, tenant_id=str(tenant_id), rows=written, backend=self.backend)
        return written

    def _refuse_foreign_ids(self, table: str, owner: str, tenant_id: str, ids: list) -> None:
        """StorageError naming the ids another tenant owns, asked a chunk of ids per request (URL length)."""
        key = CONFLICT_KEYS[table][0]
        taken: list = []
        for chunk in self.chunks(ids):
            response = self._call(
                lambda chunk=chunk: self._client.table(table).select(key).in_(key, list(chunk)).neq(owner, tenant_id)
                .execute(), f"check ids of {table}")
            taken += [row[key] for row in (response.data or [])]
        if taken:
            shown = ", ".join(map(str, taken[:10])) + (f" and {len(taken) - 10} more" if len(taken) > 10 else "")
            raise StorageError(f"{table} id(s) {shown} already belong to another tenant; nothing was written")

    def insert_if_absent(self, table: str, tenant_id: str | None, row: Mapping[str, Any]) -> bool:
        prepared = self.prepare_rows(table, tenant_id, [row])
        payload = [self._encode_row(table, prepared[0])]
        key = CONFLICT_KEYS[table]

        def send():
            return (self._client.table(table)
                    .upsert(payload, on_conflict=",".join(key), ignore_duplicates=True,
                            returning=ReturnMethod.representation)
                    .execute())

        # A lost answer can't be retried: the second try would find the row and say "absent: no".
        response = self._call(send, f"insert into {table}", idempotent=False)
        return len(response.data) > 0

    def update(self, table: str, tenant_id: str, values: Mapping[str, Any], *,
               where: Mapping[str, Any] | None = None) -> int:
        self.check_table(table, tenant_id)
        payload = self._encode_row(table, self.prepare_values(table, values))
        if not payload:
            return 0

        def send():
            query = self._client.table(table).update(payload, count=CountMethod.exact,
                                                     returning=ReturnMethod.minimal)
            return self._filter(query, table, tenant_id, where=where).execute()

        return int(self._call(send, f"update {table}").count or 0)

    def delete(self, table: str, tenant_id: str | None, *, where=None, lt=None) -> int:
        self.check_table(table, tenant_id, any_tenant=True)

        def send():
            query = self._client.table(table).delete(count=CountMethod.exact, returning=ReturnMethod.minimal)
            return self._filter(query, table, tenant_id, where=where, lt=lt).execute()

        return int(self._call(send, f"delete from {table}").count or 0)

    # --- reads ------------------------------------------------------------

    def select(self, table, tenant_id, *, columns=None, where=None, gte=None, lt=None,
               order_by=None, descending=False, limit=None) -> pd.DataFrame:
        self.check_table(table, tenant_id)
        names = list(columns) if columns else list(TABLES[table].columns.keys())
        self._check_columns(table, names, where, gte, lt, [order_by] if order_by else [])
        order = ([(order_by, descending)] if order_by else []) + [
            (key, False) for key in CONFLICT_KEYS[table] if key != order_by]

        def build(count: bool):
            query = self._client.table(table).select(*names, count=CountMethod.exact if count else None)
            query = self._filter(query, table, tenant_id, where=where, gte=gte, lt=lt)
            for column, desc in order:
                query = query.order(column, desc=desc)
            return query

        rows = self._read_pages(build, f"read {table}", limit)
        return self._frame(table, names, rows)

    def tenants(self) -> pd.DataFrame:
        names = list(TABLES["negocios"].columns.keys())
        rows = self._read_pages(
            lambda count: self._client.table("negocios").select(*names, count=CountMethod.exact if count else None)
            .order("id"), "read negocios", None)
        return self._frame("negocios", names, rows)

    def count(self, table: str, tenant_id: str) -> int:
        self.check_table(table, tenant_id)
        key = CONFLICT_KEYS[table][0]

        def send():
            query = self._client.table(table).select(key, count=CountMethod.exact)
            return self._filter(query, table, tenant_id).limit(1).execute()

        return int(self._call(send, f"count {table}").count or 0)

    def find_ids(self, table: str, tenant_id: str, ids: Sequence[str], *, columns: Sequence[str]) -> FoundIds:
        """`in.(...)` filters, a chunk of 200 ids per query (the URL's length), each read to its last page."""
        key, _, names = self.id_lookup(table, columns)
        rows: list[dict] = []
        for chunk in self.chunks(list(dict.fromkeys(str(i) for i in ids))):
            rows += self._read_pages(
                lambda count, chunk=chunk: self._client.table(table)
                .select(*names, count=CountMethod.exact if count else None).in_(key, list(chunk)).order(key),
                f"read existing {table}", None)
        return self.split_found(self._frame(table, names, rows), table, tenant_id, names)

    def migrate(self) -> list[str]:
        """Refused: PostgREST can't change the schema."""
        raise StorageError(f"{self.describe()}: the REST API can't change the database schema; apply "
                           "supabase/migrations with the Supabase CLI (`supabase db push`), or set DATABASE_URL to "
                           "the project's connection string and run `python -m forecasting migrate`")

    def schema_version(self) -> str | None:
        """`POST /rest/v1/rpc/forecasting_schema_version`; None when the project has no such function yet."""
        def send():
            try:
                return self._client.rpc("forecasting_schema_version", {}).execute().data
            except APIError as exc:
                if str(exc.code) in ("PGRST202", "42883"):  # no such function: never migrated
                    return None
                raise

        version = self._call(send, "read the schema version")
        return None if version is None else str(version)

    def ping(self) -> None:
        self._call(lambda: self._client.table("negocios").select("id").limit(1).execute(),
                   "reach the database", attempts=1)

    # --- leases -------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        response = self._call(
            lambda: self._client.rpc("forecasting_acquire_lease",
                                     {"name": name, "holder": holder, "ttl_seconds": float(ttl_seconds)}).execute(),
            f"take lease {name}")
        return response.data is True

    def release_lease(self, name: str, holder: str) -> None:
        self._call(lambda: self._client.table("leases").delete(returning=ReturnMethod.minimal)
                   .eq("name", name).eq("holder", holder).execute(), f"release lease {name}")

    def count_sign_in_attempt(self, username: str, now: datetime) -> tuple[int, datetime | None]:
        response = self._call(
            lambda: self._client.rpc("forecasting_count_sign_in_attempt",
                                     {"username": username, "now_ts": now.astimezone(timezone.utc).isoformat()}).execute(),
            "count a sign-in attempt")
        row = response.data[0] if isinstance(response.data, list) else response.data
        return int(row["failed_attempts"]), stored_moment(row.get("locked_until"))

    def close(self) -> None:
        self._http.close()

    # --- helpers ------------------------------------------------------------

    def _read_pages(self, build: Callable[[bool], Any], what: str, limit: int | None) -> list[dict]:
        """Every row of the query, page by page; stops at `limit`, at the reported total or on an empty page."""
        rows: list[dict] = []
        total: int | None = None
        while True:
            want = self.page_size if limit is None else min(self.page_size, int(limit) - len(rows))
            if want <= 0:
                break
            start = len(rows)
            first = total is None and start == 0
            response = self._call(
                lambda first=first, start=start, want=want: build(first).range(start, start + want - 1).execute(), what)
            if first:
                total = response.count
            rows.extend(response.data)
            if not response.data:
                break
            if total is not None and len(rows) >= total:
                break
            if total is None and len(response.data) < want:
                break
        return rows

    def _filter(self, query, table: str, tenant_id: str | None, *, where=None, gte=None, lt=None):
        """Tenant filter first, then equality (`is.null` for None), `>=` and `<` filters."""
        self._check_columns(table, [], where, gte, lt, [])
        if tenant_id is not None and table in TENANT_COLUMN:
            query = query.eq(TENANT_COLUMN[table], str(tenant_id))
        for name, value in (where or {}).items():
            query = query.is_(name, "null") if value is None else query.eq(name, self._filter_value(table, name, value))
        for name, value in (gte or {}).items():
            query = query.gte(name, self._filter_value(table, name, value))
        for name, value in (lt or {}).items():
            query = query.lt(name, self._filter_value(table, name, value))
        return query

    @staticmethod
    def _check_columns(table: str, names, where, gte, lt, extra) -> None:
        known = TABLES[table].columns
        for name in [*names, *(where or {}), *(gte or {}), *(lt or {}), *extra]:
            if name not in known:
                raise StorageError(f"unknown column '{name}' for {table}")

    def _filter_value(self, table: str, column: str, value: Any) -> str:
        encoded = _encode(TABLES[table].c[column].type, value)
        if isinstance(encoded, bool):
            return "true" if encoded else "false"
        return str(encoded)

    @staticmethod
    def _encode_row(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
        columns = TABLES[table].c
        return {name: _encode(columns[name].type, value) for name, value in row.items()}

    @staticmethod
    def _frame(table: str, names: list[str], rows: list[dict]) -> pd.DataFrame:
        decoders = [_decoder(TABLES[table].c[name].type) for name in names]
        data = [[decode(row.get(name)) for name, decode in zip(names, decoders, strict=False)] for row in rows]
        return pd.DataFrame(data, columns=names)

    def _call(self, send: Callable[[], T], what: str, *, attempts: int = RETRY_ATTEMPTS, idempotent: bool = True) -> T:
        """One request, retried with backoff (`base.retry`) when the failure is transient and a retry is safe."""
        def transient(exc: Exception) -> bool:
            if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                return True  # the request never reached the server: always safe to resend
            if isinstance(exc, httpx.HTTPError):
                return idempotent
            return isinstance(exc, APIError) and idempotent and str(exc.code) in _TRANSIENT_CODES

        try:
            return retry(send, what, transient=transient, describe=lambda exc: _reason(exc, self.url),
                         attempts=attempts, wait=self.retry_wait)
        except (httpx.HTTPError, APIError) as exc:
            raise StorageError(f"could not {what}: {_reason(exc, self.url)}") from None


# --- values on the wire ---------------------------------------------------------


def _base_type(column_type):
    return column_type.impl if isinstance(column_type, TypeDecorator) else column_type


def _encode(column_type, value: Any) -> Any:
    """A Python value as PostgREST expects it in JSON (timestamps in UTC ISO 8601)."""
    if value is None:
        return None
    kind = _base_type(column_type)
    if isinstance(kind, sa.DateTime):
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()[:10] if isinstance(kind, sa.Date) else value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    if isinstance(kind, sa.String) and not isinstance(value, str) and not isinstance(kind, sa.JSON):
        return str(value)
    return value


def _decoder(column_type) -> Callable[[Any], Any]:
    """Turn PostgREST's JSON value back into what the SQL backends return for this column type."""
    kind = _base_type(column_type)

    def timestamp(v):
        parsed = datetime.fromisoformat(v) if isinstance(v, str) else v
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)

    if isinstance(kind, sa.JSON):
        convert = None
    elif isinstance(kind, sa.DateTime):
        convert = timestamp
    elif isinstance(kind, sa.Date):
        convert = lambda v: date.fromisoformat(v[:10]) if isinstance(v, str) else v
    elif isinstance(kind, sa.Boolean):
        convert = bool
    elif isinstance(kind, sa.Integer):
        convert = int
    elif isinstance(kind, (sa.Float, sa.Numeric)):
        convert = float
    elif isinstance(kind, sa.String):
        convert = str
    else:
        convert = None
    if convert is None:
        return lambda v: v
    return lambda v: None if v is None else convert(v)


def _reason(exc: BaseException, url: str) -> str:
    """What went wrong, in words a user can act on; never the key, never a request body."""
    if isinstance(exc, httpx.TimeoutException):
        return f"Supabase at {url} did not answer in time"
    if isinstance(exc, httpx.HTTPError):
        return f"could not reach Supabase at {url} ({exc.__class__.__name__})"
    if isinstance(exc, APIError):
        code, message = str(exc.code or ""), str(exc.message or "request failed").splitlines()[0]
        if code in ("PGRST301", "PGRST302", "401") or "api key" in message.lower() or "jwt" in message.lower():
            return (f"Supabase refused the key ({message}); set SUPABASE_SERVICE_ROLE_KEY to the project's "
                    "service-role key")
        if code == "42501":
            return (f"permission denied ({message}); use the service-role key, not the anon key, and apply "
                    "supabase/migrations")
        if code in ("PGRST205", "PGRST202", "42P01", "42883", "404"):
            return f"{message}; apply supabase/migrations to the project (see docs/supabase.md)"
        return f"{message} (code {code})" if code else message
    return exc.__class__.__name__
