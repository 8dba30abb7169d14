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
(tests/test_storage.py, `[supabase]`), where the same backend talks to a
PostgREST stand-in running each request on the test server (tests/pg.py);
the last tests here use that stand-in too.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
import respx

from forecasting.config import AppSettings
from forecasting.errors import ConfigError, StorageError
from forecasting.logs import LOGGER_NAME
from forecasting.storage import CHUNK_SIZE, SQLStorage, open_storage, sqlalchemy_url
from forecasting.storage.supabase_rest import SupabaseRestStorage

URL = "https://xyz.supabase.co"
REST = f"{URL}/rest/v1"
KEY = "service-role-secret-key"
KEYS = "tenant_id,prediction_date,prediction_type"


def prediction_rows(n: int):
    return [{"prediction_date": date(2026, 1, 1) + timedelta(days=i), "prediction_type": "sales_forecast",
             "predicted_values": {"yhat": float(i)}} for i in range(n)]


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


def test_transient_failures_are_retried(api, store, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    route = api.post(f"{REST}/ml_predictions").mock(side_effect=[
        httpx.ConnectError("connection refused"),
        httpx.Response(503, json={"code": "PGRST001", "message": "Database client error. Retrying the connection."}),
        httpx.Response(201)])
    assert store.upsert("ml_predictions", "t", prediction_rows(3)) == 3
    assert route.call_count == 3
    assert len([r for r in caplog.records if r.getMessage() == "storage_retry"]) == 2


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
    store = SupabaseRestStorage(URL, KEY, http_client=httpx.Client(transport=httpx.MockTransport(rest_stand_in)))
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
    from forecasting.demo import generate_demo, write_demo
    from forecasting.pipeline import train_and_predict_sales

    from .conftest import END, FAST, NOW

    store, _ = stand_in_store
    write_demo(store, generate_demo(n_tenants=1, days=200, seed=1, end=END))
    train_and_predict_sales("1", storage=store, settings=FAST, now=NOW)
    before = store.count("ml_predictions", "1")
    assert before > FAST.horizon_days
    train_and_predict_sales("1", storage=store, settings=FAST, now=NOW)
    assert store.count("ml_predictions", "1") == before
