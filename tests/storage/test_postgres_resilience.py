"""Lost connections on a real PostgreSQL server: retried in a fresh transaction, never half-written.

The server end of a connection is killed with `pg_terminate_backend`, as a
restart, a failover or an idle-connection reaper (Supabase's pooler) would.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import psycopg
import pytest
from sqlalchemy import event

from forecasting.core.errors import StorageError
from forecasting.core.logs import LOGGER_NAME
from forecasting.storage import CHUNK_SIZE, SQLStorage


def prediction_rows(n: int, value: float = 1.0):
    return [{"prediction_date": date(2026, 1, 1) + timedelta(days=i), "prediction_type": "sales_forecast",
             "predicted_values": {"yhat": value}} for i in range(n)]


def backend_pid(conn) -> int:
    return conn.connection.dbapi_connection.info.backend_pid


def kill(postgres_server, pid: int) -> None:
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as admin:
        assert admin.execute("select pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def retries(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(LOGGER_NAME) and r.getMessage() == "storage_retry"]


@pytest.fixture
def caplog_info(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    return caplog


def test_a_connection_killed_between_calls_is_retried(postgres_url, postgres_server, caplog_info):
    # Pre-ping off, so the dead pooled connection is really used and the retry path runs.
    store = SQLStorage(postgres_url, pool_pre_ping=False, pool_size=1, max_overflow=0)
    store.upsert("ml_predictions", "t", prediction_rows(5))
    with store.engine.connect() as conn:
        pid = backend_pid(conn)
    kill(postgres_server, pid)
    assert store.upsert("ml_predictions", "t", prediction_rows(10, value=2.0)) == 10
    assert store.count("ml_predictions", "t") == 10
    assert retries(caplog_info), "the lost connection should have been retried"
    store.close()


def test_with_pre_ping_a_dead_pooled_connection_is_replaced_unnoticed(postgres_url, postgres_server):
    store = SQLStorage(postgres_url, pool_size=1, max_overflow=0)
    store.upsert("negocios", "t", [{"id": "t", "nombre": "T"}])
    with store.engine.connect() as conn:
        pid = backend_pid(conn)
    kill(postgres_server, pid)
    store.ping()
    assert list(store.tenants()["id"]) == ["t"]
    store.close()


def test_a_connection_lost_mid_batch_is_retried_whole_without_duplicates(postgres_url, postgres_server, caplog_info):
    store = SQLStorage(postgres_url, pool_size=1, max_overflow=0)
    n = CHUNK_SIZE * 3
    statements = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def kill_during_second_chunk(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO ML_PREDICTIONS"):
            statements.append(statement)
            if len(statements) == 2:  # first attempt, second chunk: chunk 1 is written but not committed
                kill(postgres_server, cursor.connection.info.backend_pid)

    assert store.upsert("ml_predictions", "t", prediction_rows(n)) == n
    assert store.count("ml_predictions", "t") == n
    assert len(statements) > 3  # the retry ran every chunk again
    assert retries(caplog_info)
    store.close()


def test_a_batch_failing_in_its_second_chunk_leaves_nothing_written(postgres_url):
    store = SQLStorage(postgres_url)
    rows = [{**row, "confidence_score": 0.5} for row in prediction_rows(CHUNK_SIZE + 20)]
    rows[CHUNK_SIZE + 5]["confidence_score"] = "high"  # not a number: fails in chunk 2, and is not transient
    with pytest.raises(StorageError, match="no partial write"):
        store.upsert("ml_predictions", "t", rows)
    assert store.count("ml_predictions", "t") == 0
    store.close()


def test_an_unreachable_server_is_a_storage_error_without_credentials(postgres_server):
    store = SQLStorage(f"postgresql+psycopg://someone:hunter2@127.0.0.1:{postgres_server.port + 1}/nowhere",
                       create=False, connect_args={"connect_timeout": 2})
    with pytest.raises(StorageError, match="could not reach the database") as err:
        store.ping()
    assert "hunter2" not in str(err.value)



def test_a_statement_timeout_is_reported_not_retried(postgres_url, caplog_info):
    store = SQLStorage(postgres_url, connect_args={"options": "-c statement_timeout=50"})

    def slow_read():
        with store.engine.connect() as conn:
            conn.exec_driver_sql("select pg_sleep(1)")

    with pytest.raises(StorageError, match="statement timeout"):
        store._run(slow_read, "read")
    assert not retries(caplog_info)
    store.close()
