"""The storage contract, on every backend.

Every test taking `storage` runs on the embedded SQLite file (`[sqlite]`), a
real PostgreSQL server (`[postgres]`) and the Supabase REST backend talking to
a PostgREST stand-in over that server (`[supabase]`, see tests/support/pg.py); each
PostgreSQL test gets a fresh database copied from the migrated template, so no
rows leak between tests. Tests of transactions across chunks take
`sql_storage` (REST has none, see tests/storage/test_supabase_rest.py); tests about
the SQLite file itself use `tmp_path`.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from forecasting.core.config import AppSettings, MLSettings
from forecasting.core.errors import StorageError
from forecasting.core.logs import LOGGER_NAME
from forecasting.storage import CHUNK_SIZE, CONFLICT_KEYS, TABLES, SQLStorage, Storage, open_storage
from forecasting.storage.base import retry
from forecasting.storage.migrate import latest_version, migration_files
from tests.support import open_backend


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def storage(request, tmp_path):
    """The same contract on each backend."""
    store = open_backend(request, tmp_path, request.param)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def sql_storage(request, tmp_path):
    """The backends with transactions (and a SQLAlchemy engine to inspect)."""
    store = open_backend(request, tmp_path, request.param)
    yield store
    store.close()


def prediction_rows(tenant: str, n: int, value: float = 1.0, start: date = date(2026, 1, 1)):
    return [
        {"tenant_id": tenant, "prediction_date": start + timedelta(days=i), "prediction_type": "sales_forecast",
         "predicted_values": {"yhat": value + i, "yhat_lower": value, "yhat_upper": value + 2 * i},
         "confidence_score": 0.5, "model_type": "naive", "model_version": "v1"}
        for i in range(n)
    ]


def test_database_file_is_created_with_every_table(tmp_path):  # SQLite only: the embedded file
    path = tmp_path / "nested" / "folder" / "db.sqlite"
    store = SQLStorage.sqlite_file(path, create_folder=True)  # a typed path's folder must exist unless asked
    assert path.is_file()
    names = set(sa.inspect(store.engine).get_table_names())
    assert set(TABLES) <= names


def test_unique_constraints_equal_the_conflict_keys(sql_storage):
    inspector = sa.inspect(sql_storage.engine)
    for table, keys in CONFLICT_KEYS.items():
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        pk = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
        assert keys in uniques or keys == pk, f"{table}: {keys} is not a unique key"


def test_upsert_twice_writes_no_duplicates(storage):
    assert storage.upsert("ml_predictions", "t1", prediction_rows("t1", 30)) == 30
    storage.upsert("ml_predictions", "t1", prediction_rows("t1", 30, value=5.0))
    frame = storage.select("ml_predictions", "t1", order_by="prediction_date")
    assert len(frame) == 30
    assert frame.iloc[0]["predicted_values"]["yhat"] == 5.0  # the second write won


def test_upsert_writes_more_than_one_chunk(storage):
    n = CHUNK_SIZE * 2 + 37
    assert storage.upsert("ml_predictions", "t1", prediction_rows("t1", n)) == n
    assert storage.count("ml_predictions", "t1") == n


def test_a_failing_chunk_rolls_back_the_whole_batch(sql_storage):
    rows = [{**row, "created_at": datetime.now(timezone.utc)} for row in prediction_rows("t1", CHUNK_SIZE + 50)]
    rows[CHUNK_SIZE + 10]["created_at"] = None  # NOT NULL column: fails in the second chunk
    with pytest.raises(StorageError) as err:
        sql_storage.upsert("ml_predictions", "t1", rows)
    assert "no partial write" in str(err.value)
    assert sql_storage.count("ml_predictions", "t1") == 0


def test_reads_and_writes_are_scoped_by_tenant(storage):
    storage.upsert("ml_predictions", "a", prediction_rows("a", 5, value=1.0))
    storage.upsert("ml_predictions", "b", prediction_rows("b", 7, value=100.0))
    a = storage.select("ml_predictions", "a")
    assert len(a) == 5 and set(a["tenant_id"]) == {"a"}
    assert storage.count("ml_predictions", "b") == 7
    storage.delete("ml_predictions", "a")
    assert storage.count("ml_predictions", "a") == 0
    assert storage.count("ml_predictions", "b") == 7


def test_a_row_of_another_tenant_is_refused_before_writing(storage):
    rows = prediction_rows("a", 3) + prediction_rows("b", 1)
    with pytest.raises(StorageError, match="belongs to tenant 'b'"):
        storage.upsert("ml_predictions", "a", rows)
    assert storage.count("ml_predictions", "a") == 0


def test_filters_and_order(storage):
    storage.upsert("ml_predictions", "a", prediction_rows("a", 10))
    frame = storage.select("ml_predictions", "a", gte={"prediction_date": date(2026, 1, 3)},
                           lt={"prediction_date": date(2026, 1, 6)}, order_by="prediction_date", descending=True)
    assert [d.isoformat() for d in frame["prediction_date"]] == ["2026-01-05", "2026-01-04", "2026-01-03"]
    assert len(storage.select("ml_predictions", "a", limit=4)) == 4


def test_timestamps_come_back_timezone_aware_in_utc(storage):
    madrid = datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T"}])
    storage.upsert("ventas", "t", [{"id": "s1", "negocio_id": "t", "fecha": madrid, "total": 10.0}])
    fecha = storage.select("ventas", "t").iloc[0]["fecha"]
    assert fecha.tzinfo is not None and fecha == madrid


def test_delete_older_than_across_tenants(storage):
    old = datetime.now(timezone.utc) - timedelta(days=40)
    for tenant in ("a", "b"):
        for i, created in enumerate([old, datetime.now(timezone.utc)]):
            storage.upsert("notifications", tenant, [{"kind": "info", "title": "t", "message": "m",
                                                      "event_key": f"e{i}", "created_at": created}])
    removed = storage.delete("notifications", None, lt={"created_at": datetime.now(timezone.utc) - timedelta(days=30)})
    assert removed == 2
    assert storage.count("notifications", "a") == 1 and storage.count("notifications", "b") == 1


def test_json_values_are_made_safe(storage):
    rows = prediction_rows("a", 1)
    rows[0]["predicted_values"] = {"yhat": float("nan"), "y": float("inf"), "n": pd.Timestamp("2026-01-01")}
    storage.upsert("ml_predictions", "a", rows)
    values = storage.select("ml_predictions", "a").iloc[0]["predicted_values"]
    assert values == {"yhat": None, "y": None, "n": "2026-01-01T00:00:00"}


def test_unknown_table_and_column_are_clear_errors(storage):
    with pytest.raises(StorageError, match="unknown table"):
        storage.select("users", "a")
    with pytest.raises(StorageError, match="unknown column"):
        storage.upsert("ml_predictions", "a", [{**prediction_rows("a", 1)[0], "oops": 1}])


def test_open_storage_defaults_to_the_embedded_file(tmp_path):
    store = open_storage(AppSettings(forecasting_db_path=str(tmp_path / "x.db")))
    assert store.backend == "sqlite" and (tmp_path / "x.db").is_file()
    assert store.describe() == f"sqlite {tmp_path / 'x.db'}"


def test_unreachable_database_is_a_storage_error(tmp_path):
    store = SQLStorage(f"sqlite:///{tmp_path}/missing/dir/x.db", create=False)
    with pytest.raises(StorageError, match="could not reach the database"):
        store.ping()


def test_insert_if_absent_lets_exactly_one_caller_win(storage):
    due = datetime(2026, 1, 1, 2, tzinfo=timezone.utc)
    row = {"job_id": "retrain_all", "scheduled_for": due, "holder": "p1", "status": "running",
           "started_at": datetime.now(timezone.utc)}
    assert storage.insert_if_absent("job_runs", None, row) is True
    assert storage.insert_if_absent("job_runs", None, {**row, "holder": "p2"}) is False
    runs = storage.select("job_runs", None)
    assert len(runs) == 1 and runs.iloc[0]["holder"] == "p1"


def test_system_tables_take_no_tenant_and_tenant_tables_need_one(storage):
    with pytest.raises(StorageError, match="belongs to no tenant"):
        storage.select("job_runs", "t1")
    with pytest.raises(StorageError, match="tenant id is required"):
        storage.select("ml_predictions", None)


def test_leases_are_exclusive_renewable_and_expire(storage):
    assert storage.acquire_lease("scheduler", "a", ttl_seconds=30)
    first = storage.lease("scheduler")
    assert not storage.acquire_lease("scheduler", "b", ttl_seconds=30)
    assert storage.acquire_lease("scheduler", "a", ttl_seconds=30)  # renewal
    renewed = storage.lease("scheduler")
    assert renewed["holder"] == "a" and renewed["acquired_at"] == first["acquired_at"]
    assert renewed["expires_at"] >= first["expires_at"]
    storage.acquire_lease("short", "a", ttl_seconds=-1)  # already expired
    assert storage.acquire_lease("short", "b", ttl_seconds=30)
    assert storage.lease("short")["holder"] == "b"
    storage.release_lease("scheduler", "b")  # not the holder: no effect
    assert storage.lease("scheduler")["holder"] == "a"
    storage.release_lease("scheduler", "a")
    assert storage.lease("scheduler") is None


def test_update_changes_only_the_tenants_matching_rows(storage):
    storage.upsert("ml_predictions", "a", prediction_rows("a", 3))
    storage.upsert("ml_predictions", "b", prediction_rows("b", 3))
    changed = storage.update("ml_predictions", "a", {"model_version": "v2", "predicted_values": {"yhat": float("nan")}},
                             where={"prediction_date": date(2026, 1, 2)})
    assert changed == 1
    a = storage.select("ml_predictions", "a", order_by="prediction_date")
    assert list(a["model_version"]) == ["v1", "v2", "v1"]
    assert a.iloc[1]["predicted_values"] == {"yhat": None}  # JSON-safe on update too
    assert set(storage.select("ml_predictions", "b")["model_version"]) == {"v1"}


def test_where_none_and_booleans_filter_as_sql_does(storage):
    for key, kind in (("k1", "drift"), ("k2", None)):
        storage.upsert("business_notification_config", "a", [{"rule": key, "threshold": None, "is_active": True,
                                                               "params": {"kind": kind}}])
    assert len(storage.select("business_notification_config", "a", where={"threshold": None})) == 2
    assert storage.update("business_notification_config", "a", {"is_active": False, "threshold": 0.5},
                          where={"rule": "k1"}) == 1
    assert list(storage.select("business_notification_config", "a", where={"is_active": True})["rule"]) == ["k2"]
    assert list(storage.select("business_notification_config", "a", where={"threshold": 0.5})["rule"]) == ["k1"]


def test_money_and_stock_come_back_as_floats(storage):
    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T"}])
    storage.upsert("ventas", "t", [{"id": "s1", "negocio_id": "t", "fecha": datetime(2026, 1, 1, tzinfo=timezone.utc),
                                    "total": -12.5, "cantidad": 2}])
    storage.upsert("productos", "t", [{"id": "p1", "negocio_id": "t", "nombre": "P", "stock": 3, "precio": 9.99}])
    sales, products = storage.select("ventas", "t"), storage.select("productos", "t")
    for frame, column, expected in ((sales, "total", -12.5), (sales, "cantidad", 2.0), (products, "stock", 3.0),
                                    (products, "precio", 9.99)):
        assert frame[column].dtype == "float64" and frame[column].iloc[0] == expected  # not Decimal objects


def test_defaults_fill_columns_the_row_leaves_out(storage):
    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T"}])
    tenant = storage.tenants().iloc[0]
    assert tenant["timezone"] == "UTC" and tenant["currency"] == "USD"
    storage.upsert("notifications", "t", [{"kind": "drift", "title": "t", "message": "m", "event_key": "e"}])
    note = storage.select("notifications", "t").iloc[0]
    assert note["severity"] == "info" and not note["is_read"]
    assert note["created_at"].tzinfo is not None
    assert abs(note["created_at"] - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_a_saved_model_loads_back_and_predicts_the_same(storage):
    from forecasting.core.models import build
    from forecasting.services.model_store import load_active_model, save_model
    from tests.support import make_series

    series = make_series(120)
    model = build("snaive", MLSettings()).fit(series)
    save_model(storage, "t1", model, version="v1", training_metrics={"mase": 0.9}, accuracy=0.8)
    save_model(storage, "t1", model, version="v2", training_metrics={"mase": 0.8}, accuracy=0.85,
               trained_at=datetime.now(timezone.utc) + timedelta(seconds=1))
    info, loaded = load_active_model(storage, "t1")
    assert info.model_version == "v2" and info.training_metrics == {"mase": 0.8}
    pd.testing.assert_frame_equal(loaded.predict(14), model.predict(14))
    assert storage.count("ml_models", "t1") == 2
    assert list(storage.select("ml_models", "t1", where={"is_active": True})["model_version"]) == ["v2"]
    assert load_active_model(storage, "other") is None


def test_describe_never_shows_a_password(tmp_path):
    store = SQLStorage("postgresql+psycopg://app:s3cret@db.example.com:6543/postgres?sslmode=require", create=False)
    assert store.describe() == "postgresql://app@db.example.com:6543/postgres"
    assert "s3cret" not in repr(store.describe())


@pytest.mark.parametrize("tz", ["Europe/Madrid", "Asia/Kolkata", "America/Santiago"])
def test_daily_totals_sum_per_local_day_across_dst(storage, tz):
    from forecasting.storage.base import sum_by_local_day

    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T"}])
    start = pd.Timestamp("2026-03-25 00:00", tz=tz)  # Europe changes clocks on 03-29, Santiago on 04-05
    moments = [start + pd.Timedelta(minutes=37 * k) for k in range(0, 24 * 60 * 16 // 37)]  # every 37 minutes
    rows = [{"id": f"s{i}", "negocio_id": "t", "fecha": m.to_pydatetime(), "total": float(i % 7) - 1.0}
            for i, m in enumerate(moments)]
    storage.upsert("ventas", "t", rows)
    storage.upsert("negocios", "other", [{"id": "other", "nombre": "O"}])
    storage.upsert("ventas", "other", [{"id": "o1", "negocio_id": "other", "fecha": moments[3].to_pydatetime(),
                                        "total": 999.0}])
    got = storage.daily_totals("t", date(2026, 3, 26), date(2026, 4, 6), tz)
    expected = sum_by_local_day(pd.Series([m for m in moments]), pd.Series([r["total"] for r in rows]), tz)
    expected = expected.loc["2026-03-26":"2026-04-06"]
    pd.testing.assert_series_equal(got, expected, check_freq=False, check_names=False)


def test_an_upsert_never_moves_another_tenants_sale(storage):
    for tenant in ("a", "b"):
        storage.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant}])
    when = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)
    storage.upsert("ventas", "a", [{"id": "sale-1", "negocio_id": "a", "fecha": when, "total": 10.0}])
    rows = [{"id": f"sale-{i}", "negocio_id": "b", "fecha": when, "total": 99.0} for i in (2, 1, 3)]
    with pytest.raises(StorageError, match="sale-1 already belong to another tenant"):
        storage.upsert("ventas", "b", rows)
    assert storage.select("ventas", "a")["total"].tolist() == [10.0]
    assert storage.count("ventas", "b") == 0


def test_a_foreign_id_in_a_later_chunk_refuses_the_whole_batch(storage):
    # REST has no transaction across chunks: it must check every id before writing the first one.
    for tenant in ("a", "b"):
        storage.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant}])
    when = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)
    storage.upsert("ventas", "a", [{"id": "sale-a", "negocio_id": "a", "fecha": when, "total": 10.0}])
    rows = [{"id": f"sale-b{i}", "negocio_id": "b", "fecha": when, "total": 1.0} for i in range(CHUNK_SIZE + 20)]
    rows.append({"id": "sale-a", "negocio_id": "b", "fecha": when, "total": 99.0})  # in the second chunk
    with pytest.raises(StorageError, match="sale-a already belong to another tenant; nothing was written"):
        storage.upsert("ventas", "b", rows)
    assert storage.count("ventas", "b") == 0
    assert storage.select("ventas", "a")["total"].tolist() == [10.0]


# --- what the importer asks before writing sales ---------------------------------------------------


def two_shops_with_sales(storage, mine: int = 3):
    moment = datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
    for tenant in ("a", "b"):
        storage.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant.upper()}])
    storage.upsert("ventas", "a", [{"id": f"s{i}", "negocio_id": "a", "fecha": moment + timedelta(hours=i),
                                    "total": float(i), "producto_id": None} for i in range(mine)])
    storage.upsert("ventas", "b", [{"id": "theirs", "negocio_id": "b", "fecha": moment, "total": 99.0,
                                    "producto_id": "p"}])
    return moment


def test_find_ids_tells_the_tenants_rows_from_ids_another_tenant_owns(storage):
    moment = two_shops_with_sales(storage)
    found = storage.find_ids("ventas", "a", ["s0", "s2", "theirs", "new"], columns=["fecha", "total", "producto_id"])
    assert list(found.mine.columns) == ["id", "negocio_id", "fecha", "total", "producto_id"]
    mine = found.mine.sort_values("id").reset_index(drop=True)
    assert mine["id"].tolist() == ["s0", "s2"] and mine["total"].tolist() == [0.0, 2.0]
    assert mine["fecha"].tolist() == [moment, moment + timedelta(hours=2)]  # aware UTC, as select returns it
    assert found.foreign == {"theirs": "b"}  # the owner, and nothing else of that row
    other = storage.find_ids("ventas", "b", ["s1", "theirs"], columns=[])
    assert other.mine["id"].tolist() == ["theirs"] and other.foreign == {"s1": "a"}
    assert storage.find_ids("ventas", "a", [], columns=["total"]).mine.empty


def test_find_ids_answers_as_the_protocols_default_does(storage):
    two_shops_with_sales(storage)
    ids, columns = ["s1", "theirs", "s0", "nowhere"], ["total", "fecha"]
    backend = storage.find_ids("ventas", "a", ids, columns=columns)
    default = Storage.find_ids(storage, "ventas", "a", ids, columns=columns)  # every tenant read, one at a time
    pd.testing.assert_frame_equal(backend.mine.sort_values("id").reset_index(drop=True),
                                  default.mine.sort_values("id").reset_index(drop=True))
    assert backend.foreign == default.foreign == {"theirs": "b"}


def test_find_ids_reads_every_chunk_of_ids(storage):
    n = 2 * 500 + 7  # more than two queries' worth on every backend (500 per SQL query, 200 per REST request)
    two_shops_with_sales(storage, mine=n)
    found = storage.find_ids("ventas", "a", [f"s{i}" for i in range(n)] + ["theirs", "new"], columns=["total"])
    assert len(found.mine) == n and found.mine["total"].sum() == sum(range(n))
    assert found.foreign == {"theirs": "b"}


def test_find_ids_is_for_tables_whose_ids_are_unique_across_tenants(storage):
    with pytest.raises(StorageError, match="no id unique across tenants"):
        storage.find_ids("ml_predictions", "a", ["x"], columns=[])
    with pytest.raises(StorageError, match="unknown column"):
        storage.find_ids("ventas", "a", ["x"], columns=["price"])


# --- schema and scheduler, without reaching into a backend -----------------------------------------


def test_migrate_applies_the_files_where_it_can_and_says_how_where_it_cant(storage):
    if storage.backend == "supabase":
        with pytest.raises(StorageError, match=r"apply supabase/migrations with the Supabase CLI \(`supabase db push`\)"):
            storage.migrate()
    elif storage.backend == "postgresql":
        assert storage.migrate() == [path.name for path in migration_files()]
        assert storage.migrate() == [path.name for path in migration_files()]  # again: harmless
    else:  # the embedded file: schema.py's tables, no migration files
        assert storage.migrate() == []
        assert set(TABLES) <= set(sa.inspect(storage.engine).get_table_names())


def test_schema_version_is_the_newest_migration_or_none_for_the_embedded_file(storage):
    expected = None if storage.backend == "sqlite" else latest_version()
    assert storage.schema_version() == expected


def test_the_job_store_engine_is_the_storages_own_or_none_over_rest(storage):
    engine = storage.job_store_engine()
    if storage.backend == "supabase":
        assert engine is None  # the scheduler keeps its jobs in memory
        return
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    assert engine is storage.engine
    jobstore = SQLAlchemyJobStore(engine=engine)
    jobstore.start(None, "default")
    assert jobstore.get_due_jobs(datetime.now(timezone.utc)) == []


# --- one retry helper for every backend --------------------------------------------------------------


class Flaky:
    """An operation failing with `errors`, one per call, then answering "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def lost(exc: Exception) -> bool:
    return isinstance(exc, ConnectionError)


def test_retry_tries_transient_failures_again_with_doubling_waits(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    waits: list[float] = []
    operation = Flaky(ConnectionError("gone"), ConnectionError("still gone"))
    assert retry(operation, "read x", transient=lost, describe=str, wait=waits.append) == "done"
    assert operation.calls == 3 and waits == [0.2, 0.4]
    retried = [record for record in caplog.records if record.getMessage() == "storage_retry"]
    assert [(r.fields["what"], r.fields["attempt"], r.fields["error"]) for r in retried] == [
        ("read x", 1, "gone"), ("read x", 2, "still gone")]


def test_retry_raises_the_last_failure_unchanged_after_three_tries():
    waits: list[float] = []
    errors = [ConnectionError(str(n)) for n in range(3)]
    with pytest.raises(ConnectionError) as caught:
        retry(Flaky(*errors), "read x", transient=lost, describe=str, wait=waits.append)
    assert caught.value is errors[-1] and waits == [0.2, 0.4]


def test_retry_raises_other_failures_at_once_and_one_attempt_never_waits():
    waits: list[float] = []
    operation = Flaky(ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input"):
        retry(operation, "write x", transient=lost, describe=str, wait=waits.append)
    operation = Flaky(ConnectionError("gone"))
    with pytest.raises(ConnectionError):
        retry(operation, "ping", transient=lost, describe=str, attempts=1, wait=waits.append)
    assert operation.calls == 1 and waits == []


def test_sql_retries_a_lost_connection_and_words_the_last_failure(tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    store = SQLStorage.sqlite_file(tmp_path / "retry.db")
    waits: list[float] = []
    store.retry_wait = waits.append
    down = OperationalError("SELECT 1", {}, Exception("disk I/O error"))
    with pytest.raises(StorageError, match=r"^could not read x: disk I/O error; no partial write was kept$"):
        store._run(Flaky(down, down, down), "read x")
    assert waits == [0.2, 0.4]
    assert store._run(Flaky(down), "read x") == "done" and waits == [0.2, 0.4, 0.2]
    timeout = OperationalError("SELECT 1", {}, type("Timeout", (Exception,), {"sqlstate": "57014"})("canceled"))
    with pytest.raises(StorageError, match="canceled"):
        store._run(Flaky(timeout), "read x")  # a statement timeout: trying again only triples the wait
    assert waits == [0.2, 0.4, 0.2]
    store.close()
