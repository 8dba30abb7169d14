"""The Supabase REST backend, checked at the HTTP level.

No PostgREST server can run on this machine, so these tests look at the wire:
respx intercepts httpx and each test asserts the exact requests PostgREST
documents (docs.postgrest.org, "Tables and Views", "Resource Embedding",
"Pagination and Count", "Upsert", "Functions as RPC"): path
`/rest/v1/<table>`, `on_conflict` query parameter with
`Prefer: resolution=merge-duplicates` (or `ignore-duplicates`), `eq.` /
`gte.` / `lt.` / `is.` filters, `order`, `offset`/`limit` pages with
`Prefer: count=exact` answered in `Content-Range`, `POST /rest/v1/rpc/<fn>`.

Behaviour against real PostgreSQL semantics is covered by the contract suite
(tests/storage/test_storage.py, `[supabase]`), where the same backend talks to a
PostgREST stand-in running each request on the test server (tests/support/pg.py);
the last tests here use that stand-in too: as the key's role, under the
migrations' grants and RLS policies, with PostgREST's error answers, and
served over HTTP to another process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import psycopg
import pytest
import respx
from psycopg.conninfo import conninfo_to_dict

from forecasting.core.config import AppSettings
from forecasting.core.errors import ConfigError, StorageError
from forecasting.core.logs import LOGGER_NAME
from forecasting.storage import CHUNK_SIZE, SQLStorage, Storage, open_storage, sqlalchemy_url
from forecasting.storage.supabase_rest import SupabaseRestStorage
from tests.support.pg import PostgrestStandIn, make_jwt, postgrest_status

URL = "https://xyz.supabase.co"
REST = f"{URL}/rest/v1"
KEY = "service-role-secret-key"
KEYS = "tenant_id,prediction_date,prediction_type"


def prediction_rows(n: int):
    return [{"prediction_date": date(2026, 1, 1) + timedelta(days=i), "prediction_type": "sales_forecast",
             "predicted_values": {"yhat": float(i)}} for i in range(n)]


@pytest.fixture(autouse=True)
def waits(monkeypatch) -> list[float]:
    """The backoff waits between retries, recorded instead of slept: no test here depends on timing."""
    recorded: list[float] = []
    monkeypatch.setattr(Storage, "retry_wait", staticmethod(recorded.append))
    return recorded


@pytest.fixture
def api():
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def store(api):
    store = SupabaseRestStorage(URL, KEY)
    yield store
    store.close()


def prefer(request) -> set[str]:
    return {part.strip() for part in request.headers.get("prefer", "").split(",") if part.strip()}


def test_upsert_sends_one_post_per_chunk_with_on_conflict_and_merge(api, store):
    route = api.post(f"{REST}/ml_predictions").mock(return_value=httpx.Response(201))
    n = CHUNK_SIZE * 2 + 50
    assert store.upsert("ml_predictions", "t1", prediction_rows(n)) == n
    assert route.call_count == 3
    sizes = []
    for call in route.calls:
        request = call.request
        assert request.url.params["on_conflict"] == KEYS
        assert {"resolution=merge-duplicates", "return=minimal"} <= prefer(request)
        assert request.headers["apikey"] == KEY and request.headers["authorization"] == f"Bearer {KEY}"
        body = json.loads(request.content)
        sizes.append(len(body))
        assert {row["tenant_id"] for row in body} == {"t1"}
    assert sizes == [CHUNK_SIZE, CHUNK_SIZE, 50]
    first = json.loads(route.calls[0].request.content)[0]
    assert first == {"tenant_id": "t1", "prediction_date": "2026-01-01", "prediction_type": "sales_forecast",
                     "predicted_values": {"yhat": 0.0}}


def test_timestamps_are_sent_in_utc_and_read_back_timezone_aware(api, store):
    post = api.post(f"{REST}/ventas").mock(return_value=httpx.Response(201))
    reads = api.get(f"{REST}/ventas").mock(side_effect=[
        httpx.Response(200, json=[]),  # ids owned by another tenant: none
        httpx.Response(200, headers={"Content-Range": "0-0/1"}, json=[
            {"id": "s1", "negocio_id": "t", "fecha": "2026-03-01T09:30:00+00:00", "total": 10, "producto_id": None,
             "cantidad": None}])])
    local = datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    store.upsert("ventas", "t", [{"id": "s1", "fecha": local, "total": 10}])
    check = reads.calls[0].request.url.params
    assert check["id"] == "in.(s1)" and check["negocio_id"] == "neq.t"  # a sale id never moves between tenants
    assert json.loads(post.calls[0].request.content) == [
        {"id": "s1", "negocio_id": "t", "fecha": "2026-03-01T09:30:00+00:00", "total": 10}]
    sale = store.select("ventas", "t").iloc[0]
    assert sale["fecha"] == local and str(sale["fecha"].tzinfo) == "UTC"
    assert isinstance(sale["total"], float)


def test_select_filters_by_tenant_and_orders_by_the_key_after_the_requested_column(api, store):
    route = api.get(f"{REST}/ml_predictions").mock(
        return_value=httpx.Response(200, headers={"Content-Range": "*/0"}, json=[]))
    frame = store.select("ml_predictions", "a", columns=["prediction_date", "predicted_values"],
                         where={"prediction_type": "sales_forecast", "model_version": None},
                         gte={"prediction_date": date(2026, 1, 3)},
                         lt={"created_at": datetime(2026, 1, 6, tzinfo=timezone.utc)},
                         order_by="prediction_date", descending=True)
    assert list(frame.columns) == ["prediction_date", "predicted_values"] and frame.empty
    request = route.calls[0].request
    params = request.url.params
    assert request.url.path == "/rest/v1/ml_predictions"
    assert params["select"] == "prediction_date,predicted_values"
    assert params["tenant_id"] == "eq.a"
    assert params["prediction_type"] == "eq.sales_forecast"
    assert params["model_version"] == "is.null"
    assert params["prediction_date"] == "gte.2026-01-03"
    assert params["created_at"] == "lt.2026-01-06T00:00:00+00:00"
    assert b"lt.2026-01-06T00%3A00%3A00%2B00%3A00" in request.url.raw_path  # '+' survives the query string
    assert params["order"] == "prediction_date.desc,tenant_id.asc,prediction_type.asc"
    assert (params["offset"], params["limit"]) == ("0", "1000")
    assert "count=exact" in prefer(request)


def test_pages_are_read_until_the_reported_total(api, store):
    total = 2300

    def page(request):
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        rows = [{"id": f"p{i:05d}"} for i in range(offset, min(offset + limit, total))]
        return httpx.Response(200, json=rows, headers={"Content-Range": f"{offset}-{offset + len(rows) - 1}/"
                                                       + (str(total) if "count=exact" in prefer(request) else "*")})

    route = api.get(f"{REST}/productos").mock(side_effect=page)
    frame = store.select("productos", "t", columns=["id"])
    assert len(frame) == total and frame["id"].is_unique
    assert [(c.request.url.params["offset"], c.request.url.params["limit"]) for c in route.calls] == [
        ("0", "1000"), ("1000", "1000"), ("2000", "1000")]
    assert ["count=exact" in prefer(c.request) for c in route.calls] == [True, False, False]


def test_a_server_row_limit_below_the_page_size_still_reads_everything(api, store):
    total, max_rows = 1200, 500  # a project that lowered max-rows

    def page(request):
        offset = int(request.url.params["offset"])
        rows = [{"id": f"p{i}"} for i in range(offset, min(offset + max_rows, total))]
        return httpx.Response(200, json=rows, headers={"Content-Range": f"{offset}-{offset + len(rows) - 1}/{total}"})

    route = api.get(f"{REST}/productos").mock(side_effect=page)
    assert len(store.select("productos", "t", columns=["id"])) == total
    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "500", "1000"]


def test_limit_asks_only_for_the_rows_wanted(api, store):
    route = api.get(f"{REST}/ventas").mock(return_value=httpx.Response(
        200, headers={"Content-Range": "0-0/900"},
        json=[{"fecha": "2026-01-05T00:00:00+00:00"}]))
    frame = store.select("ventas", "t", columns=["fecha"], order_by="fecha", descending=True, limit=1)
    assert len(frame) == 1 and route.call_count == 1
    assert route.calls[0].request.url.params["limit"] == "1"


def test_insert_if_absent_ignores_duplicates_and_reads_the_answer(api, store):
    route = api.post(f"{REST}/job_runs").mock(side_effect=[httpx.Response(201, json=[{"id": 1}]),
                                                           httpx.Response(201, json=[])])
    row = {"job_id": "retrain_all", "scheduled_for": datetime(2026, 1, 1, 2, tzinfo=timezone.utc),
           "holder": "p1", "status": "running", "started_at": datetime(2026, 1, 1, 2, tzinfo=timezone.utc)}
    assert store.insert_if_absent("job_runs", None, row) is True
    assert store.insert_if_absent("job_runs", None, row) is False
    request = route.calls[0].request
    assert request.url.params["on_conflict"] == "job_id,scheduled_for"
    assert {"resolution=ignore-duplicates", "return=representation"} <= prefer(request)


def test_leases_go_through_the_rpc_function_and_a_filtered_delete(api, store):
    rpc = api.post(f"{REST}/rpc/forecasting_acquire_lease").mock(side_effect=[httpx.Response(200, json=True),
                                                                              httpx.Response(200, json=False)])
    assert store.acquire_lease("scheduler", "p1", 30) is True
    assert store.acquire_lease("scheduler", "p2", 30) is False
    assert json.loads(rpc.calls[0].request.content) == {"name": "scheduler", "holder": "p1", "ttl_seconds": 30.0}
    release = api.delete(f"{REST}/leases").mock(return_value=httpx.Response(204))
    store.release_lease("scheduler", "p1")
    params = release.calls[0].request.url.params
    assert (params["name"], params["holder"]) == ("eq.scheduler", "eq.p1")


def test_update_and_delete_are_scoped_and_counted(api, store):
    patch = api.patch(f"{REST}/notifications").mock(
        return_value=httpx.Response(204, headers={"Content-Range": "0-2/3"}))
    assert store.update("notifications", "t", {"is_read": True}, where={"is_read": False}) == 3
    request = patch.calls[0].request
    assert json.loads(request.content) == {"is_read": True}
    assert request.url.params.get_list("tenant_id") == ["eq.t"] and request.url.params["is_read"] == "eq.false"
    assert "count=exact" in prefer(request)
    cutoff = datetime(2026, 1, 1, tzinfo=timezone.utc)
    delete = api.delete(f"{REST}/notifications").mock(
        return_value=httpx.Response(204, headers={"Content-Range": "*/4"}))
    assert store.delete("notifications", None, lt={"created_at": cutoff}) == 4  # maintenance: every tenant
    params = delete.calls[0].request.url.params
    assert "tenant_id" not in params and params["created_at"] == "lt.2026-01-01T00:00:00+00:00"


def test_count_reads_the_total_without_the_rows(api, store):
    route = api.get(f"{REST}/ml_predictions").mock(return_value=httpx.Response(
        200, headers={"Content-Range": "0-0/57"}, json=[{"tenant_id": "t"}]))
    assert store.count("ml_predictions", "t") == 57
    params = route.calls[0].request.url.params
    assert params["tenant_id"] == "eq.t" and params["limit"] == "1"


def test_a_refused_key_names_the_setting_never_the_key(api, store, caplog):
    caplog.set_level(logging.DEBUG)
    api.get(f"{REST}/negocios").mock(return_value=httpx.Response(401, json={"message": "Invalid API key"}))
    with pytest.raises(StorageError, match="SUPABASE_SERVICE_ROLE_KEY") as err:
        store.ping()
    assert KEY not in str(err.value) and KEY not in caplog.text


def test_missing_tables_point_at_the_migrations(api, store):
    api.get(f"{REST}/ml_models").mock(return_value=httpx.Response(404, json={
        "code": "PGRST205", "message": "Could not find the table 'public.ml_models' in the schema cache"}))
    with pytest.raises(StorageError, match="apply supabase/migrations"):
        store.select("ml_models", "t")


def test_transient_failures_are_retried(api, store, caplog, waits):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    route = api.post(f"{REST}/ml_predictions").mock(side_effect=[
        httpx.ConnectError("connection refused"),
        httpx.Response(503, json={"code": "PGRST001", "message": "Database client error. Retrying the connection."}),
        httpx.Response(201)])
    assert store.upsert("ml_predictions", "t", prediction_rows(3)) == 3
    assert route.call_count == 3
    assert len([r for r in caplog.records if r.getMessage() == "storage_retry"]) == 2
    assert waits == [0.2, 0.4]


def test_a_read_failing_every_time_is_tried_three_times_then_named(api, store, waits):
    route = api.get(f"{REST}/negocios").mock(return_value=httpx.Response(
        503, json={"code": "PGRST000", "message": "Database connection error. Retrying the connection."}))
    with pytest.raises(StorageError, match=r"^could not read negocios: Database connection error\. Retrying the "
                                           r"connection\. \(code PGRST000\)$"):
        store.tenants()
    assert route.call_count == 3 and waits == [0.2, 0.4]


def test_an_error_that_is_not_transient_is_not_retried(api, store, waits):
    route = api.get(f"{REST}/ml_models").mock(return_value=httpx.Response(400, json={
        "code": "22P02", "message": "invalid input syntax"}))
    with pytest.raises(StorageError, match="invalid input syntax"):
        store.select("ml_models", "t")
    assert route.call_count == 1 and waits == []


def test_a_project_never_migrated_reports_no_schema_version(api, store):
    route = api.post(f"{REST}/rpc/forecasting_schema_version").mock(return_value=httpx.Response(404, json={
        "code": "PGRST202", "message": "Could not find the function public.forecasting_schema_version in the "
                                       "schema cache"}))
    assert store.schema_version() is None and route.call_count == 1


def test_an_unreachable_project_is_a_storage_error_naming_the_url(api, store):
    api.get(f"{REST}/negocios").mock(side_effect=httpx.ConnectError("name resolution failed"))
    with pytest.raises(StorageError, match=f"could not reach Supabase at {URL}") as err:
        store.ping()
    assert KEY not in str(err.value)


def test_a_lost_answer_to_insert_if_absent_is_not_retried(api, store):
    route = api.post(f"{REST}/job_runs").mock(side_effect=httpx.ReadTimeout("no answer"))
    due = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(StorageError, match="did not answer in time"):
        store.insert_if_absent("job_runs", None, {"job_id": "j", "scheduled_for": due, "holder": "p",
                                                  "status": "running", "started_at": due})
    assert route.call_count == 1  # a retry could find its own row and answer "someone else won"


def test_describe_shows_the_project_not_the_key():
    store = SupabaseRestStorage(URL + "/", KEY)
    assert store.describe() == "supabase https://xyz.supabase.co"
    assert store.backend == "supabase"


# --- choice by configuration -----------------------------------------------------


def test_the_backend_is_chosen_by_configuration(tmp_path, postgres_url):
    rest = open_storage(AppSettings(forecasting_db_path=str(tmp_path / "x.db"), supabase_url=URL,
                                    supabase_service_role_key=KEY))
    assert isinstance(rest, SupabaseRestStorage) and not (tmp_path / "x.db").exists()
    plain = postgres_url.replace("postgresql+psycopg://", "postgres://")
    both = open_storage(AppSettings(database_url=plain, supabase_url=URL, supabase_service_role_key=KEY))
    assert isinstance(both, SQLStorage) and both.backend == "postgresql"  # DATABASE_URL wins
    assert both.describe().startswith("postgresql://postgres@127.0.0.1:")
    both.close()
    with pytest.raises(ConfigError, match="SUPABASE_SERVICE_ROLE_KEY is not set"):
        open_storage(AppSettings(supabase_url=URL))


def test_postgres_urls_of_every_spelling_use_psycopg():
    assert sqlalchemy_url("postgres://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
    assert sqlalchemy_url("postgresql://u@h/db?sslmode=require") == "postgresql+psycopg://u@h/db?sslmode=require"
    assert sqlalchemy_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert sqlalchemy_url("sqlite:///x.db") == "sqlite:///x.db"


# --- against the PostgREST stand-in over real PostgreSQL -------------------------


@pytest.fixture
def stand_in_store(rest_stand_in):
    store = SupabaseRestStorage(URL, make_jwt("service_role"),
                                http_client=httpx.Client(transport=httpx.MockTransport(rest_stand_in)))
    yield store, rest_stand_in
    store.close()


def test_a_chunk_failing_mid_batch_keeps_earlier_chunks_and_a_retry_completes_it(stand_in_store):
    store, stand_in = stand_in_store
    posts = []

    def fail_second_post(request):
        if request.method == "POST":
            posts.append(request)
            if len(posts) == 2:
                return httpx.Response(400, json={"code": "22P02", "message": "invalid input syntax"})
        return None

    stand_in.faults.append(fail_second_post)
    rows = prediction_rows(CHUNK_SIZE + 30)
    with pytest.raises(StorageError, match=f"the first {CHUNK_SIZE} of {CHUNK_SIZE + 30} rows were written"):
        store.upsert("ml_predictions", "t", rows)
    assert store.count("ml_predictions", "t") == CHUNK_SIZE  # no multi-request transaction over REST
    stand_in.faults.clear()
    assert store.upsert("ml_predictions", "t", rows) == CHUNK_SIZE + 30
    assert store.count("ml_predictions", "t") == CHUNK_SIZE + 30  # idempotent: no duplicates


def test_pagination_against_a_server_capping_rows(stand_in_store):
    store, stand_in = stand_in_store
    stand_in.max_rows = 150
    store.upsert("ml_predictions", "t", prediction_rows(420))
    frame = store.select("ml_predictions", "t", columns=["prediction_date"], order_by="prediction_date")
    assert len(frame) == 420 and frame["prediction_date"].is_monotonic_increasing
    assert frame["prediction_date"].iloc[-1] == date(2026, 1, 1) + timedelta(days=419)


def test_the_pipeline_runs_over_rest(stand_in_store):
    from forecasting.services.demo import generate_demo, write_demo
    from forecasting.services.training import train_and_predict_sales
    from tests.support import END, FAST, NOW

    store, _ = stand_in_store
    write_demo(store, generate_demo(n_tenants=1, days=200, seed=1, end=END))
    train_and_predict_sales("1", storage=store, settings=FAST, now=NOW)
    before = store.count("ml_predictions", "1")
    assert before > FAST.horizon_days
    train_and_predict_sales("1", storage=store, settings=FAST, now=NOW)
    assert store.count("ml_predictions", "1") == before


# --- keys, roles and PostgREST's answers, against the stand-in -----------------------------------
#
# Data is written by the service role; the other keys are Supabase's: the anon key and a signed-in
# user's JWT (`role` authenticated, `sub` = the user id `auth.uid()` reads; the RLS policies admit
# the tenants `tenant_members` lists for that user).

OWNER_A, OWNER_B = str(uuid.uuid4()), str(uuid.uuid4())
ROOT = Path(__file__).resolve().parents[2]


def owner_key(user: str) -> str:
    return make_jwt("authenticated", sub=user, aud="authenticated", email=f"{user[:8]}@example.com")


def key_store(stand_in, key: str) -> SupabaseRestStorage:
    return SupabaseRestStorage(URL, key, http_client=httpx.Client(transport=httpx.MockTransport(stand_in)))


def rest_client(stand_in, key: str | None) -> httpx.Client:
    """Raw PostgREST requests, with the headers supabase-py sends (none without a key)."""
    headers = {"apikey": key, "Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.Client(transport=httpx.MockTransport(stand_in), base_url=REST, headers=headers)


def figures(store, tenant: str) -> tuple[int, float, int]:
    """(sales, their total, forecasts) of a tenant, as `store` sees them."""
    sales = store.select("ventas", tenant)
    return len(sales), float(sales["total"].sum()), store.count("ml_predictions", tenant)


@pytest.fixture
def two_tenants(rest_stand_in):
    """Tenants a (3 sales, 60.5; 4 forecasts) and b (2 sales, 15.0; 3 forecasts), an owner of each;
    yields the service-role store that wrote them."""
    service = key_store(rest_stand_in, make_jwt("service_role"))
    when = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    for tenant, totals in (("a", [10.0, 20.5, 30.0]), ("b", [7.0, 8.0])):
        service.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant.upper()}])
        service.upsert("ventas", tenant, [{"id": f"{tenant}{i}", "fecha": when + timedelta(days=i), "total": total}
                                          for i, total in enumerate(totals)])
        service.upsert("ml_predictions", tenant, prediction_rows(len(totals) + 1))
    with rest_client(rest_stand_in, make_jwt("service_role")) as api:
        members = api.post("/tenant_members", json=[{"user_id": OWNER_A, "tenant_id": "a", "role": "owner"},
                                                    {"user_id": OWNER_B, "tenant_id": "b", "role": "owner"}])
    assert members.status_code == 201
    assert figures(service, "a") == (3, 60.5, 4) and figures(service, "b") == (2, 15.0, 3)
    yield service
    service.close()


def test_a_signed_in_owner_reads_only_their_tenants_rows(rest_stand_in, two_tenants):
    owner = key_store(rest_stand_in, owner_key(OWNER_A))
    assert figures(owner, "a") == (3, 60.5, 4)
    assert figures(owner, "b") == (0, 0.0, 0)  # RLS hides b's rows: an empty answer, not an error
    assert owner.tenants()["id"].tolist() == ["a"]
    assert sum(values["yhat"] for values in owner.select("ml_predictions", "a")["predicted_values"]) == 6.0
    with rest_client(rest_stand_in, owner_key(OWNER_B)) as api:
        sales = api.get("/ventas", params={"select": "negocio_id,total"}, headers={"Prefer": "count=exact"})
        membership = api.get("/tenant_members", params={"select": "user_id,tenant_id"})
    # No tenant filter in the request: the policy alone keeps a's rows out.
    assert sales.status_code == 200 and sales.headers["content-range"] == "0-1/2"
    assert sorted((row["negocio_id"], row["total"]) for row in sales.json()) == [("b", 7.0), ("b", 8.0)]
    assert membership.json() == [{"user_id": OWNER_B, "tenant_id": "b"}]  # `sub` reached auth.uid()


def test_anon_reads_no_row_and_none_of_our_tables(rest_stand_in, two_tenants):
    anon = key_store(rest_stand_in, make_jwt("anon"))
    # Source tables keep Supabase's default grants, and RLS has no policy for anon: no rows.
    assert anon.tenants().empty and anon.select("ventas", "a").empty
    # Our tables grant anon nothing: PostgreSQL refuses, PostgREST answers 401 to the anonymous role.
    with pytest.raises(StorageError, match=r"permission denied \(permission denied for table ml_predictions\); "
                                           "use the service-role key"):
        anon.count("ml_predictions", "a")
    with rest_client(rest_stand_in, make_jwt("anon")) as api:
        sales = api.get("/ventas", headers={"Prefer": "count=exact"})
        forecasts = api.get("/ml_predictions")
    assert (sales.status_code, sales.json(), sales.headers["content-range"]) == (200, [], "*/0")
    assert forecasts.status_code == 401 and forecasts.headers["www-authenticate"] == "Bearer"
    assert forecasts.json() == {"code": "42501", "details": None, "hint": None,
                                "message": "permission denied for table ml_predictions"}


@pytest.mark.parametrize("who, status", [("anon", 401), ("owner", 403)])
def test_writes_need_the_service_role(rest_stand_in, two_tenants, who, status):
    key = make_jwt("anon") if who == "anon" else owner_key(OWNER_A)
    store = key_store(rest_stand_in, key)
    with pytest.raises(StorageError, match="permission denied for table ml_predictions"):
        store.upsert("ml_predictions", "a", prediction_rows(2))
    row = {"tenant_id": "a", "prediction_date": "2026-01-01", "prediction_type": "sales_forecast",
           "predicted_values": {"yhat": 99}}
    sale = {"id": "x1", "negocio_id": "a", "fecha": "2026-03-09T00:00:00+00:00", "total": 1}
    counted = {"Prefer": "count=exact"}
    with rest_client(rest_stand_in, key) as api:
        ours = [api.post("/ml_predictions", params={"on_conflict": KEYS}, json=[row],
                         headers={"Prefer": "resolution=merge-duplicates"}),
                api.post("/ml_predictions", json=row),
                api.patch("/ml_predictions", params={"tenant_id": "eq.a"}, json={"model_version": "x"}),
                api.delete("/ml_predictions", params={"tenant_id": "eq.a"})]
        insert = api.post("/ventas", json=sale)
        upsert = api.post("/ventas", params={"on_conflict": "id"}, json={**sale, "id": "a0"},
                          headers={"Prefer": "resolution=merge-duplicates"})
        update = api.patch("/ventas", params={"negocio_id": "eq.a"}, json={"total": 0}, headers=counted)
        delete = api.delete("/ventas", params={"negocio_id": "eq.a"}, headers=counted)
    for answer in ours:  # tables we own: no write grant to any API role but the service role
        assert (answer.status_code, answer.json()["code"], answer.json()["message"]) == (
            status, "42501", "permission denied for table ml_predictions")
    for answer in (insert, upsert):  # source tables: granted, but no RLS policy lets a new row in
        assert (answer.status_code, answer.json()["code"], answer.json()["message"]) == (
            status, "42501", 'new row violates row-level security policy for table "ventas"')
    for answer in (update, delete):  # ... and none lets UPDATE or DELETE see a row: no error, no row
        assert (answer.status_code, answer.headers["content-range"]) == (204, "*/0")
    assert store.update("ventas", "a", {"total": 0.0}) == 0 and store.delete("ventas", "a") == 0
    assert figures(two_tenants, "a") == (3, 60.5, 4)
    assert sum(values["yhat"] for values in two_tenants.select("ml_predictions", "a")["predicted_values"]) == 6.0


def test_rows_with_different_keys_are_refused_whole(rest_stand_in, two_tenants):
    rows = [{"id": "c1", "negocio_id": "a", "fecha": "2026-03-09T00:00:00+00:00", "total": 1},
            {"id": "c2", "negocio_id": "a", "fecha": "2026-03-10T00:00:00+00:00", "total": 2, "cantidad": 3}]
    with rest_client(rest_stand_in, make_jwt("service_role")) as api:
        mixed = api.post("/ventas", json=rows)
        garbled = api.post("/ventas", content=b'[{"id": ', headers={"Content-Type": "application/json"})
        assert figures(two_tenants, "a") == (3, 60.5, 4)  # nothing written
        named = api.post("/ventas", params={"columns": "id,negocio_id,fecha,total,cantidad"}, json=rows)
        written = api.get("/ventas", params={"select": "id,cantidad", "id": "in.(c1,c2)", "order": "id.asc"})
    assert mixed.status_code == 400 and mixed.json() == {"code": "PGRST102", "details": None, "hint": None,
                                                         "message": "All object keys must match"}
    assert (garbled.status_code, garbled.json()["code"], garbled.json()["message"]) == (
        400, "PGRST102", "Empty or invalid json")
    assert named.status_code == 201  # `columns=` names them: a key a row lacks is null
    assert written.json() == [{"id": "c1", "cantidad": None}, {"id": "c2", "cantidad": 3}]
    assert figures(two_tenants, "a") == (5, 63.5, 4)


def test_errors_come_back_in_postgrests_shape(rest_stand_in, two_tenants):
    with rest_client(rest_stand_in, make_jwt("service_role")) as api:
        duplicate = api.post("/negocios", json={"id": "a", "nombre": "again"})
        no_table = api.get("/nope")
        no_function = api.post("/rpc/nope", json={})
        not_null = api.post("/ventas", json={"id": "n1", "negocio_id": "a", "fecha": "2026-03-09T00:00:00Z",
                                             "total": None})
        bad_date = api.get("/ventas", params={"fecha": "gte.someday"})
    assert duplicate.status_code == 409 and duplicate.json() == {
        "code": "23505", "details": "Key (id)=(a) already exists.", "hint": None,
        "message": 'duplicate key value violates unique constraint "negocios_pkey"'}
    assert duplicate.headers["proxy-status"] == "PostgREST; error=23505"
    assert no_table.status_code == 404 and no_table.json() == {
        "code": "PGRST205", "details": None, "hint": None,
        "message": "Could not find the table 'public.nope' in the schema cache"}
    assert (no_function.status_code, no_function.json()["code"]) == (404, "PGRST202")
    assert (not_null.status_code, not_null.json()["code"]) == (400, "23502")
    assert (bad_date.status_code, bad_date.json()["code"]) == (400, "22007")
    with psycopg.connect(rest_stand_in.dsn, autocommit=True) as conn:  # a project missing a migration
        conn.execute("drop table ml_models")
    with pytest.raises(StorageError, match="Could not find the table 'public.ml_models' in the schema cache; "
                                           "apply supabase/migrations"):
        two_tenants.select("ml_models", "a")


def test_keys_are_checked_as_postgrest_checks_jwts(rest_stand_in, two_tenants):
    def sales(key: str | None, **headers) -> httpx.Response:
        with rest_client(rest_stand_in, key) as api:
            return api.get("/ventas", params={"select": "id"}, headers=headers)

    assert sales(None).status_code == 401 and sales(None).json()["message"] == "No API key found in request"
    past = int(time.time()) - 120
    for key, code, message in [
        (make_jwt("service_role", secret="another-projects-secret-of-32-characters"), "PGRST301",
         "JWT cryptographic operation failed"),
        (make_jwt("service_role", exp=past), "PGRST303", "JWT expired"),
        ("not-a-jwt", "PGRST301", "Expected 3 parts in JWT; got 1"),
    ]:
        answer = sales(key)
        assert (answer.status_code, answer.json()["code"], answer.json()["message"]) == (401, code, message)
        assert answer.headers["www-authenticate"] == f'Bearer error="invalid_token", error_description="{message}"'
    # The role claim names a role the authenticator switches to; PostgreSQL refuses any other.
    unknown, superuser = sales(make_jwt("nobody")), sales(make_jwt("postgres"))
    assert (unknown.status_code, unknown.json()["code"], unknown.json()["message"]) == (
        401, "22023", 'role "nobody" does not exist')
    assert (superuser.status_code, superuser.json()["code"], superuser.json()["message"]) == (
        403, "42501", 'permission denied to set role "postgres"')
    assert (sales(make_jwt(None)).status_code, sales(make_jwt(None)).json()) == (200, [])  # no role claim: anon
    with httpx.Client(transport=httpx.MockTransport(rest_stand_in), base_url=REST) as api:  # no Authorization
        assert len(api.get("/ventas", headers={"apikey": make_jwt("service_role")}).json()) == 5
    assert len(sales("service-role-key").json()) == 5  # DEFAULT_API_KEYS
    strict = PostgrestStandIn(rest_stand_in.dsn, api_keys={})  # a plain key only where the stand-in is told so
    try:
        with pytest.raises(StorageError, match=r"Supabase refused the key \(Expected 3 parts in JWT; got 1\)"):
            key_store(strict, "service-role-key").ping()
    finally:
        strict.close()
    with pytest.raises(StorageError, match=r"Supabase refused the key \(JWT expired\); set SUPABASE_SERVICE_ROLE_KEY"):
        key_store(rest_stand_in, make_jwt("service_role", exp=past)).ping()


@pytest.mark.parametrize("sqlstate, message, authed, status", [
    ("23505", "duplicate key", True, 409), ("23503", "foreign key", True, 409), ("23502", "null value", True, 400),
    ("22P02", "invalid input syntax", True, 400), ("42P01", "relation does not exist", True, 404),
    ("42501", "permission denied", False, 401), ("42501", "permission denied", True, 403),
    ("22023", 'role "x" does not exist', True, 401), ("22023", "invalid parameter", True, 400),
    ("08006", "connection failure", True, 503), ("53300", "too many connections", True, 503),
    ("53400", "configuration limit exceeded", True, 500), ("57P01", "terminating connection", True, 503),
    ("57014", "canceling statement due to statement timeout", True, 500), ("25006", "read-only", True, 405),
    ("40001", "could not serialize", True, 500), ("P0001", "raised", True, 400), ("PT402", "pay", True, 402),
])
def test_sqlstates_map_to_postgrests_statuses(sqlstate, message, authed, status):
    """The table of docs.postgrest.org "Errors", as PostgREST's mapSQLtoHTTP refines it."""
    assert postgrest_status(sqlstate, message, authed) == status


def test_a_lost_database_is_a_503_and_the_store_says_so(rest_stand_in, postgres_server):
    service = make_jwt("service_role")
    with rest_client(rest_stand_in, service) as api:
        assert api.get("/negocios").status_code == 200  # the pool now holds a connection
        postgres_server.drop_database(conninfo_to_dict(rest_stand_in.dsn)["dbname"])
        lost = api.get("/negocios")  # that connection was closed under it
        refused = api.get("/negocios")  # and no new one can be opened
    assert (lost.status_code, lost.json()["code"], lost.json()["message"]) == (
        503, "57P01", "terminating connection due to administrator command")
    assert (refused.status_code, refused.json()["code"], refused.json()["message"]) == (
        503, "PGRST000", "Database connection error. Retrying the connection.")
    with pytest.raises(StorageError, match=r"could not reach the database: Database connection error\. "
                                           r"Retrying the connection\. \(code PGRST000\)"):
        key_store(rest_stand_in, service).ping()


# --- the stand-in over HTTP, for other processes ---------------------------------------------------


def test_another_process_reads_what_this_one_wrote_through_the_http_stand_in(rest_server):
    store = SupabaseRestStorage(rest_server.url, rest_server.service_key)  # its own httpx client, real sockets
    store.upsert("negocios", "a", [{"id": "a", "nombre": "Panaderia Sol"}])
    store.upsert("negocios", "b", [{"id": "b", "nombre": "Ferreteria Luna"}])
    store.close()
    seen = len(rest_server.stand_in.requests)
    env = {**os.environ, "SUPABASE_URL": rest_server.url, "SUPABASE_SERVICE_ROLE_KEY": rest_server.service_key}
    for name in ("DATABASE_URL", "FORECASTING_DB_PATH"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "forecasting", "--quiet", "tenants"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = [line.split()[:3] for line in done.stdout.splitlines()[1:]]
    assert listed == [["a", "Panaderia", "Sol"], ["b", "Ferreteria", "Luna"]]
    theirs = rest_server.stand_in.requests[seen:]
    assert theirs and {request.url.path for request in theirs} == {"/rest/v1/negocios"}
    assert all(request.headers["authorization"] == f"Bearer {rest_server.service_key}" for request in theirs)


def test_the_http_stand_in_serves_concurrent_clients(rest_server):
    """Threads stand for processes here: each its own client and connections, all starting at once."""
    clients = 8
    start = threading.Barrier(clients)

    def work(i: int) -> tuple[bool, int]:
        store = SupabaseRestStorage(rest_server.url, rest_server.service_key)
        try:
            start.wait(timeout=30)
            won = store.acquire_lease("race", f"holder-{i}", 60)
            store.upsert("ml_predictions", f"t{i}", prediction_rows(CHUNK_SIZE + 10))  # two requests each
            return won, store.count("ml_predictions", f"t{i}")
        finally:
            store.close()

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(work, range(clients)))
    assert sorted(won for won, _ in results) == [False] * (clients - 1) + [True]
    assert [count for _, count in results] == [CHUNK_SIZE + 10] * clients
    winner = next(i for i, (won, _) in enumerate(results) if won)
    with psycopg.connect(rest_server.stand_in.dsn) as conn:
        assert conn.execute("select holder from leases where name = 'race'").fetchone() == (f"holder-{winner}",)


def test_a_fault_can_drop_the_connection_of_the_http_stand_in(rest_server, waits):
    dropped = []

    def drop_the_first_request(request):
        if not dropped:
            dropped.append(request)
            raise httpx.ReadError("connection reset")  # over HTTP: the socket closes, no answer at all

    rest_server.stand_in.faults.append(drop_the_first_request)
    store = SupabaseRestStorage(rest_server.url, rest_server.service_key)
    try:
        assert store.tenants().empty  # a read is retried on a new connection
    finally:
        store.close()
    assert len(dropped) == 1 and len(rest_server.stand_in.requests) == 2 and waits == [0.2]
