"""The database going down mid-run: every write is whole or absent, every run ends recorded.

On PostgreSQL the server is really stopped, on a cluster of this module's
own (`private_postgres_server`; the session's shared one must stay up):
`pg_ctl stop -m fast` (a clean shutdown: sessions rolled back and closed) or
`-m immediate` (every server process killed at once, as in a crash). It
happens at an exact point, from a SQLAlchemy hook: right before the Nth
statement of a batch is sent (the earlier chunks are written but not
committed), or right before its COMMIT. "Back within the retry window" is
exact too: the server is started again from the storage layer's backoff
sleep, before its last attempt.

The embedded SQLite file has no server to stop; its counterpart is the file
failing (`disk I/O error`, raised by the driver call) from the same points
until it "comes back".
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Engine

from forecasting.core.config import AppSettings, reset_settings
from forecasting.core.errors import StorageError
from forecasting.core.logs import LOGGER_NAME
from forecasting.ops.runs import execute_job, recent_runs
from forecasting.ops.scheduler import SchedulerRunner
from forecasting.services.demo import generate_demo, write_demo
from forecasting.services.importer import import_sales
from forecasting.services.model_store import list_models
from forecasting.storage import CHUNK_SIZE, SQLStorage, Storage
from tests.support import END, FAST, NOW

PASSWORD = "s3cret-Pa55"  # in the PostgreSQL URL (the test cluster trusts everyone): must never be shown
MONDAY = datetime(2026, 11, 23, 2, tzinfo=timezone.utc)
TENANTS = ("1", "2")
DEMO_DAYS = 400  # anomaly rows per tenant: two chunks


class Outage:
    """Takes the database down at a chosen point of the work and, when asked, brings it back
    during the retry backoff.

    `arm(statement, nth, at)`: down right before the `nth` statement starting with
    `statement` is sent (`at="statement"`), or right before the COMMIT of the transaction
    that sent it (`at="commit"`). It watches every engine of this process, so the job's own
    connections (the executor opens a storage of its own) are caught as well.
    """

    def __init__(self, backend: str, url: str, server=None, mode: str = "fast") -> None:
        self.backend, self.url, self.server, self.mode = backend, url, server, mode
        self.down_now = False
        self.fired = False
        self.seen = 0  # statements matching the armed one
        self.backoffs: list[float] = []  # the storage layer's waits while the database was down
        self.back_after: int | None = None
        self._armed: tuple[str, int, str] | None = None

    # --- the database going away and coming back ------------------------------------

    def down(self) -> None:
        self.fired = self.down_now = True
        if self.server is not None:
            self.server.stop(self.mode)

    def up(self) -> None:
        if self.server is not None and not self.server.running:
            self.server.start()
        self.down_now = False

    # --- hooks ----------------------------------------------------------------------

    def arm(self, statement: str = "INSERT INTO ml_predictions ", nth: int = 2, at: str = "statement") -> Outage:
        self._armed = (statement.upper(), nth, at)
        return self

    def back_within_retry_window(self, after_backoffs: int = 2) -> Outage:
        """Come back during the `after_backoffs`-th backoff sleep after going down: with the
        default, the attempt right after the outage and the one after it both fail."""
        self.back_after = after_backoffs
        return self

    def _before_cursor_execute(self, conn, cursor, statement, parameters, context, executemany):
        if self._armed and not self.fired and statement.lstrip().upper().startswith(self._armed[0]):
            self.seen += 1
            if self._armed[2] == "statement" and self.seen == self._armed[1]:
                self.down()
        if self.down_now and self.backend == "sqlite" and conn.engine.url.database == self._sqlite_path:
            raise sqlite3.OperationalError("disk I/O error")

    def _commit(self, conn):
        if self._armed and not self.fired and self._armed[2] == "commit" and self.seen >= self._armed[1]:
            self.down()

    def _sleep(self, seconds: float) -> None:
        # Recorded, not slept: the test asserts the waits, and the server comes back at a known one.
        if self.down_now:
            self.backoffs.append(seconds)
            if self.back_after is not None and len(self.backoffs) >= self.back_after:
                self.up()

    @property
    def _sqlite_path(self) -> str:
        return self.url.removeprefix("sqlite:///")

    def install(self, monkeypatch) -> None:
        event.listen(Engine, "before_cursor_execute", self._before_cursor_execute)
        event.listen(Engine, "commit", self._commit)
        # Every storage of this process waits through here, the executor's own included.
        monkeypatch.setattr(Storage, "retry_wait", staticmethod(self._sleep))
        if self.backend == "sqlite":
            original = SQLiteDialect_pysqlite.do_commit

            def do_commit(dialect, dbapi_connection):
                if self.down_now:
                    raise sqlite3.OperationalError("disk I/O error")
                original(dialect, dbapi_connection)

            monkeypatch.setattr(SQLiteDialect_pysqlite, "do_commit", do_commit)

    def uninstall(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._before_cursor_execute)
        event.remove(Engine, "commit", self._commit)
        self.up()


@pytest.fixture(params=["postgres-fast", "postgres-immediate", "sqlite"])
def outage(request, tmp_path, monkeypatch):
    """The database, and the means to take it down: PostgreSQL stopped `fast` or `immediate`, or SQLite."""
    if request.param == "sqlite":
        made = Outage("sqlite", f"sqlite:///{tmp_path / 'outage.db'}")
    else:
        server = request.getfixturevalue("private_postgres_server")
        url = request.getfixturevalue("private_postgres_url").replace("postgres@", f"postgres:{PASSWORD}@")
        made = Outage("postgresql", url, server, mode=request.param.split("-")[1])
    made.install(monkeypatch)
    yield made
    made.uninstall()


class _Events(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.names.append(record.getMessage())


@pytest.fixture
def events():
    """The names of the package's log events (on its own logger: the executor's `setup_logging`
    stops them from reaching pytest's caplog)."""
    logger = logging.getLogger(LOGGER_NAME)
    handler, level, propagate = _Events(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.names
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


def prediction_rows(n: int, value: float):
    return [{"prediction_date": date(2026, 1, 1) + timedelta(days=i), "prediction_type": "sales_forecast",
             "predicted_values": {"yhat": value}, "model_version": f"v{value:g}"} for i in range(n)]


def values_by_date(store) -> dict:
    frame = store.select("ml_predictions", "t")
    assert not frame["prediction_date"].duplicated().any()
    return {row.prediction_date: row.predicted_values["yhat"] for row in frame.itertuples()}


# --- one upsert --------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["statement", "commit"], ids=["mid-batch", "at-commit"])
def test_an_upsert_completes_once_when_the_database_is_back_within_the_retry_window(outage, at, events):
    store = SQLStorage(outage.url)
    old = CHUNK_SIZE + 50
    store.upsert("ml_predictions", "t", prediction_rows(old, 1.0))
    new = 2 * CHUNK_SIZE + 50  # three chunks: updates the old rows, adds the rest
    outage.arm(nth=2 if at == "statement" else 3, at=at).back_within_retry_window()

    assert store.upsert("ml_predictions", "t", prediction_rows(new, 2.0)) == new

    assert outage.fired and outage.backoffs == [0.2, 0.4]  # down, still down (longer wait), back
    assert events.count("storage_retry") == 2
    assert values_by_date(store) == {date(2026, 1, 1) + timedelta(days=i): 2.0 for i in range(new)}  # once each
    store.close()


@pytest.mark.parametrize("at", ["statement", "commit"], ids=["mid-batch", "at-commit"])
def test_an_upsert_with_the_database_left_down_fails_clearly_and_keeps_nothing(outage, at):
    store = SQLStorage(outage.url)
    old = CHUNK_SIZE + 50
    store.upsert("ml_predictions", "t", prediction_rows(old, 1.0))
    outage.arm(nth=2 if at == "statement" else 3, at=at)

    with pytest.raises(StorageError) as err:
        store.upsert("ml_predictions", "t", prediction_rows(2 * CHUNK_SIZE + 50, 2.0))

    message = str(err.value)
    assert message.startswith("could not upsert into ml_predictions: ")
    assert message.endswith("; no partial write was kept")
    assert ("Connection refused" if outage.backend == "postgresql" else "disk I/O error") in message
    assert "\n" not in message and PASSWORD not in message and "INSERT" not in message.upper()
    assert outage.backoffs == [0.2, 0.4]  # three attempts, with growing waits, then it gave up
    outage.up()
    # Chunk 1 (updates of existing rows) and chunk 2 had been sent: none of it was kept.
    assert values_by_date(store) == {date(2026, 1, 1) + timedelta(days=i): 1.0 for i in range(old)}
    store.close()


@pytest.mark.parametrize("at", ["statement", "commit"], ids=["mid-batch", "at-commit"])
def test_an_import_cut_off_by_the_database_keeps_nothing_and_can_be_repeated(outage, at, tmp_path):
    """A sales import of three chunks, the database going down after the first was sent (or at
    its COMMIT) and staying down: the import fails in words and no sale of the file is kept."""
    store = SQLStorage(outage.url)
    store.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": "Europe/Madrid"}])
    store.upsert("ventas", "t", [{"id": f"old-{i}", "negocio_id": "t", "fecha": datetime(2025, 6, 1, 10, tzinfo=timezone.utc),
                                  "total": 5.0} for i in range(10)])
    rows = 2 * CHUNK_SIZE + 50
    path = tmp_path / "ventas.csv"
    path.write_text("id,fecha,total\n" + "".join(f"new-{i},2025-07-{i % 28 + 1:02d} 12:00,{i % 50 + 1}\n"
                                                  for i in range(rows)), encoding="utf-8")
    outage.arm("INSERT INTO ventas ", nth=2 if at == "statement" else 3, at=at)

    with pytest.raises(StorageError) as err:
        import_sales(store, "t", path, now=NOW)

    message = str(err.value)
    assert message.startswith("could not upsert into ventas: ") and message.endswith("; no partial write was kept")
    assert "\n" not in message and PASSWORD not in message
    outage.up()
    kept = store.select("ventas", "t")
    assert sorted(kept["id"]) == sorted(f"old-{i}" for i in range(10)) and kept["total"].sum() == 50.0
    report = import_sales(store, "t", path, now=NOW)  # once the database is back, the same file goes in whole
    assert (report.inserted, report.already_present) == (rows, 0)
    assert store.count("ventas", "t") == rows + 10
    store.close()


# --- a scheduled run ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_source(tmp_path_factory):
    """Demo tenants, written once per backend and module; each test gets a copy."""
    return SimpleNamespace(data=generate_demo(n_tenants=len(TENANTS), days=DEMO_DAYS, seed=7, end=END),
                           folder=tmp_path_factory.mktemp("outage-demo"), sqlite=None, postgres=None)


@pytest.fixture
def demo_store(outage, demo_source, monkeypatch):
    """The outage's database holding the demo tenants; retrain_all trains in this process (so the
    hooks see its statements)."""
    monkeypatch.setenv("TRAIN_EXECUTOR", "serial")
    reset_settings()
    if outage.backend == "sqlite":
        if demo_source.sqlite is None:
            demo_source.sqlite = demo_source.folder / "demo.db"
            source = SQLStorage.sqlite_file(demo_source.sqlite)
            write_demo(source, demo_source.data)
            source.close()  # the last connection closing checkpoints the WAL into the file
        shutil.copyfile(demo_source.sqlite, outage.url.removeprefix("sqlite:///"))
    else:
        server = outage.server
        if demo_source.postgres is None:
            demo_source.postgres = server.create_database()
            source = SQLStorage(server.url(demo_source.postgres))
            write_demo(source, demo_source.data)
            source.close()  # a template must have no connections
        name = outage.url.rsplit("/", 1)[1]
        server.drop_database(name)
        server.create_database(template=demo_source.postgres, name=name)
    store = SQLStorage(outage.url)
    yield store
    store.close()


def batches_are_whole(store, tenant: str) -> dict[str, set]:
    """The model versions of each kind of prediction row; each was written in one batch."""
    predictions = store.select("ml_predictions", tenant)
    assert not predictions.duplicated(["prediction_date", "prediction_type"]).any()
    versions = {}
    for kind, rows in predictions.groupby("prediction_type"):
        versions[kind] = set(rows["model_version"])
        assert len(versions[kind]) == 1, f"tenant {tenant}: {kind} rows from several runs: a partial batch"
    return versions


def run_row(store, scheduled_for):
    runs = recent_runs(store, "retrain_all")
    return runs[runs["scheduled_for"] == scheduled_for].iloc[0]


@pytest.mark.parametrize("outage", ["postgres-fast", "sqlite"], indirect=True)
def test_a_retrain_run_completes_when_the_database_is_back_within_the_retry_window(outage, demo_store,
                                                                                   events):
    store = demo_store
    # Tenant 1's writes: forecast (1 statement), anomalies (2 chunks). Down before the second chunk.
    outage.arm(nth=3).back_within_retry_window()

    run = execute_job(store, "retrain_all", scheduled_for=MONDAY, settings=FAST, now=NOW)

    assert outage.fired and outage.backoffs == [0.2, 0.4] and "storage_retry" in events
    assert run["status"] == "success" and run["tenants_done"] == len(TENANTS) and run["tenants_failed"] == 0
    assert run_row(store, MONDAY)["status"] == "success"
    for tenant in TENANTS:
        models = list_models(store, tenant)
        assert len(models) == 1 and models["is_active"].all()
        assert batches_are_whole(store, tenant) == {"sales_forecast": set(models["model_version"]),
                                                    "sales_anomaly": set(models["model_version"])}
    assert len(store.select("ml_predictions", "1", where={"prediction_type": "sales_anomaly"})) == DEMO_DAYS
    assert store.select("leases", None).empty  # every tenant lock released


@pytest.mark.parametrize("outage", ["postgres-immediate", "sqlite"], indirect=True)
def test_a_retrain_run_with_the_database_left_down_is_recorded_failed_and_the_next_run_completes(
        outage, demo_store, events):
    store = demo_store
    first = execute_job(store, "retrain_all", scheduled_for=MONDAY - timedelta(days=7), settings=FAST, now=NOW)
    assert first["status"] == "success"
    before = {tenant: batches_are_whole(store, tenant) for tenant in TENANTS}
    anomalies_before = len(store.select("ml_predictions", "1", where={"prediction_type": "sales_anomaly"}))
    outage.arm(nth=3)  # tenant 1's anomaly rows, second chunk; never back during the run

    run = execute_job(store, "retrain_all", scheduled_for=MONDAY, settings=FAST, now=NOW)

    # The run ends (no hang, no crash) and says why, tenant by tenant, without a credential.
    assert run["status"] == "failed" and run["tenants_done"] == 0 and run["tenants_failed"] == len(TENANTS)
    assert "tenant 1: StorageError: could not upsert into ml_predictions" in run["error"]
    assert "no partial write was kept" in run["error"] and PASSWORD not in run["error"]

    outage.up()
    # Nothing half-written: tenant 1's anomaly rows are all still the first run's, every one of them;
    # no model of the failed run was saved; the other tenants were not touched. (Tenant 1's forecast
    # rows, a batch of their own committed before the outage, are the failed run's, whole: a run's
    # writes are separate batches, and the next run rewrites them all.)
    assert batches_are_whole(store, "1")["sales_anomaly"] == before["1"]["sales_anomaly"]
    assert len(store.select("ml_predictions", "1", where={"prediction_type": "sales_anomaly"})) == anomalies_before
    for tenant in TENANTS:
        assert len(list_models(store, tenant)) == 1
    for tenant in TENANTS[1:]:
        assert batches_are_whole(store, tenant) == before[tenant]
    # The database could not be told how the run ended while it was down...
    assert run_row(store, MONDAY)["status"] == "running"

    # ...the next run tells it first (the run is not left `running`), then completes, without
    # waiting for the tenant lock the failed run could not release.
    after = execute_job(store, "retrain_all", scheduled_for=MONDAY + timedelta(days=7), settings=FAST, now=NOW)
    failed = run_row(store, MONDAY)
    assert failed["status"] == "failed" and failed["tenants_failed"] == len(TENANTS) and failed["finished_at"] is not None
    assert "could not upsert into ml_predictions" in failed["error"] and PASSWORD not in failed["error"]
    assert after["status"] == "success" and after["tenants_done"] == len(TENANTS)
    assert "lock_taken_over" in events
    for tenant in TENANTS:
        models = list_models(store, tenant)
        assert len(models) == 2 and models["is_active"].sum() == 1
        newest = set(models[models["is_active"]]["model_version"])
        assert batches_are_whole(store, tenant) == {"sales_forecast": newest, "sales_anomaly": newest}
    assert store.select("leases", None).empty
    assert (recent_runs(store, "retrain_all")["status"] != "running").all()


@pytest.mark.parametrize("outage", ["postgres-fast", "sqlite"], indirect=True)
def test_a_run_that_ended_during_the_outage_is_recorded_at_the_next_scheduler_tick(outage):
    store = SQLStorage(outage.url)
    due = datetime(2026, 11, 26, 10, 15, tzinfo=timezone.utc)
    outage.arm("SELECT 1", nth=1)  # the run is claimed; the database goes down under the health check's probe

    run = execute_job(store, "health_check", scheduled_for=due, settings=FAST)

    assert outage.fired and run["status"] == "failed"
    assert "could not reach the database" in run["error"] and PASSWORD not in run["error"]
    outage.up()
    runs = recent_runs(store, "health_check")
    assert list(runs["status"]) == ["running"]  # what the outage left behind
    runner = SchedulerRunner(store, AppSettings(scheduler_enabled=False), FAST, holder="next-tick")
    runner._tick()  # the lease loop, every few seconds in a live scheduler
    runs = recent_runs(store, "health_check")
    assert list(runs["status"]) == ["failed"] and "could not reach the database" in runs["error"].iloc[0]
    store.close()
