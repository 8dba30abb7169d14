"""supabase/migrations against schema.py, on a real PostgreSQL server.

The migration files are the PostgreSQL schema; schema.py is the embedded
one. These tests apply the files to empty databases and compare what the
server reports with the SQLAlchemy metadata: same tables, columns,
nullability, type families, unique keys and indexes.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from forecasting.core.errors import StorageError
from forecasting.storage import CONFLICT_KEYS, TABLES, SQLStorage
from forecasting.storage.migrate import (
    EXTRA_POSTGRES_TABLES,
    apply_migrations,
    latest_version,
    migration_files,
    schema_version,
)


@pytest.fixture
def bare_database(postgres_server):
    """An empty database: no tables, no Supabase `auth` schema (a plain PostgreSQL server)."""
    name = postgres_server.create_database(template="template0")
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


def family(column_type) -> str:
    """The kind of value a column holds, comparable across SQLite metadata and PostgreSQL."""
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl
    families = (("json", sa.JSON), ("bool", sa.Boolean), ("timestamptz", sa.DateTime), ("date", sa.Date),
                ("int", sa.Integer), ("number", (sa.Numeric, sa.Float)), ("uuid", sa.Uuid), ("text", sa.String),
                ("bytes", sa.LargeBinary))
    for kind, types in families:
        if isinstance(column_type, types):
            if kind == "timestamptz" and not column_type.timezone:
                return "timestamp"
            return kind
    return type(column_type).__name__


def declared_keys(table: sa.Table) -> set[tuple[str, ...]]:
    keys = {tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, sa.UniqueConstraint)}
    keys.add(tuple(c.name for c in table.primary_key.columns))
    return keys


def test_migrations_create_exactly_the_tables_and_keys_of_schema_py(bare_database):
    store = SQLStorage(bare_database)  # applies the migrations: the database is empty
    inspector = sa.inspect(store.engine)
    assert set(inspector.get_table_names()) == set(TABLES) | EXTRA_POSTGRES_TABLES
    for name, table in TABLES.items():
        reflected = {c["name"]: c for c in inspector.get_columns(name)}
        assert set(reflected) == set(table.columns.keys()), name
        for column in table.columns:
            got = reflected[column.name]
            assert family(got["type"]) == family(column.type), f"{name}.{column.name}: {got['type']} vs {column.type}"
            assert got["nullable"] == column.nullable, f"{name}.{column.name} nullability"
        keys = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)}
        keys.add(tuple(inspector.get_pk_constraint(name)["constrained_columns"]))
        assert keys == declared_keys(table), name
        assert CONFLICT_KEYS[name] in keys
        indexed = {tuple(i["column_names"]) for i in inspector.get_indexes(name)}
        for index in table.indexes:
            assert tuple(c.name for c in index.columns) in indexed, f"{name}: index {index.name} missing"
    store.close()


def test_the_dashboards_tenant_and_date_queries_have_indexes(postgres_url):
    inspector = sa.inspect(SQLStorage(postgres_url, create=False).engine)
    indexed = {t: [tuple(i["column_names"]) for i in inspector.get_indexes(t)] for t in TABLES}
    assert ("tenant_id", "prediction_type", "prediction_date") in indexed["ml_predictions"]
    assert ("negocio_id", "fecha") in indexed["ventas"]
    assert ("tenant_id", "created_at") in indexed["notifications"]
    assert ("tenant_id", "target_date") in indexed["forecast_history"]


def test_applying_the_migrations_again_keeps_data_and_changes_nothing(postgres_url):
    store = SQLStorage(postgres_url)
    store.upsert("negocios", "t", [{"id": "t", "nombre": "T"}])

    def snapshot():
        with store.engine.connect() as conn:
            policies = conn.execute(sa.text("select tablename, policyname, qual from pg_policies order by 1, 2")).all()
            grants = conn.execute(sa.text(
                "select table_name, grantee, privilege_type from information_schema.role_table_grants "
                "where table_schema = 'public' order by 1, 2, 3")).all()
        return policies, grants

    before = snapshot()
    assert apply_migrations(store.engine) == [p.name for p in migration_files()]
    apply_migrations(store.engine)
    assert snapshot() == before
    assert list(store.tenants()["id"]) == ["t"]
    store.close()


def test_the_database_reports_the_newest_migration_version(postgres_url):
    engine = SQLStorage(postgres_url, create=False).engine
    assert schema_version(engine) == latest_version() == migration_files()[-1].name[:14]


def test_an_outdated_database_is_migrated_on_first_use(postgres_url, postgres_server):
    postgres_server.admin("drop function public.forecasting_schema_version(); drop table public.leases",
                          database=postgres_url.rsplit("/", 1)[1])
    store = SQLStorage(postgres_url)
    assert store.acquire_lease("scheduler", "a", ttl_seconds=30)
    assert schema_version(store.engine) == latest_version()
    store.close()


def test_two_processes_opening_an_empty_database_at_once_both_succeed(bare_database):
    errors: list[BaseException] = []

    def open_it():
        try:
            SQLStorage(bare_database).close()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_business_apps_own_source_tables_are_extended_not_replaced(bare_database, postgres_server):
    database = bare_database.rsplit("/", 1)[1]
    postgres_server.admin("create table ventas (id text primary key, negocio_id text not null, "
                          "fecha timestamptz not null, total numeric(12,2) not null, vendedor text);"
                          "insert into ventas values ('v1', 't', '2026-01-01T10:00:00Z', 19.99, 'ana')",
                          database=database)
    store = SQLStorage(bare_database)
    sales = store.select("ventas", "t")
    assert list(sales["id"]) == ["v1"] and sales["total"].iloc[0] == 19.99
    assert {"producto_id", "cantidad"} <= set(sales.columns)
    with psycopg.connect(postgres_server.dsn(database)) as conn:
        assert conn.execute("select vendedor from ventas").fetchone() == ("ana",)  # their column kept
    store.close()


def test_without_supabase_rls_is_on_and_no_policy_is_created(bare_database):
    store = SQLStorage(bare_database)
    with store.engine.connect() as conn:
        secured = conn.execute(sa.text(
            "select relname from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r' "
            "and relrowsecurity")).scalars().all()
        policies = conn.execute(sa.text("select count(*) from pg_policies")).scalar()
    assert set(secured) == set(TABLES) | EXTRA_POSTGRES_TABLES
    assert policies == 0
    store.upsert("negocios", "t", [{"id": "t", "nombre": "T"}])  # the owner still reads and writes
    assert len(store.tenants()) == 1
    store.close()


def test_the_lease_function_follows_the_lease_contract(postgres_url):
    store = SQLStorage(postgres_url)

    def acquire(name, holder, ttl):
        with store.engine.begin() as conn:
            return conn.execute(sa.text("select public.forecasting_acquire_lease(:n, :h, :t)"),
                                {"n": name, "h": holder, "t": ttl}).scalar_one()

    assert acquire("scheduler", "a", 30) is True
    first = store.lease("scheduler")
    assert acquire("scheduler", "b", 30) is False
    assert acquire("scheduler", "a", 60) is True  # renewal keeps acquired_at, pushes expiry
    renewed = store.lease("scheduler")
    assert renewed["holder"] == "a" and renewed["acquired_at"] == first["acquired_at"]
    assert renewed["expires_at"] > first["expires_at"]
    assert acquire("short", "a", -1) is True
    assert acquire("short", "b", 30) is True  # expired: taken over, with a new acquired_at
    taken = store.lease("short")
    assert taken["holder"] == "b" and taken["expires_at"] > datetime.now(timezone.utc)
    store.close()


def test_a_user_without_create_rights_is_told_what_to_do(bare_database, postgres_server):
    database = bare_database.rsplit("/", 1)[1]
    postgres_server.admin("drop role if exists reader; create role reader login; "
                          "revoke create on schema public from public; "
                          f'grant connect on database "{database}" to reader', database=database)
    with pytest.raises(StorageError, match="supabase db push") as err:
        SQLStorage(bare_database.replace("postgresql+psycopg://postgres@", "postgresql+psycopg://reader@"))
    assert "permission denied" in str(err.value)


def test_an_unreachable_server_at_startup_says_so(postgres_server):
    with pytest.raises(StorageError, match="could not reach the database"):
        SQLStorage(f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port + 1}/x",
                   connect_args={"connect_timeout": 2})


def test_apschedulers_job_store_finds_its_table_ready(postgres_url):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLStorage(postgres_url)
    jobstore = SQLAlchemyJobStore(engine=store.engine)
    before = set(sa.inspect(store.engine).get_table_names())
    jobstore.start(None, "default")  # creates its table only when missing
    assert set(sa.inspect(store.engine).get_table_names()) == before
    reflected = {c["name"]: (family(c["type"]), c["nullable"]) for c in sa.inspect(store.engine).get_columns(
        "apscheduler_jobs")}
    assert reflected == {c.name: (family(c.type), c.nullable) for c in jobstore.jobs_t.columns}
    assert jobstore.get_due_jobs(datetime.now(timezone.utc)) == []
    store.close()


def test_the_migrate_command_applies_the_files_to_database_url(bare_database, monkeypatch, capsys):
    from forecasting.cli import cmd_migrate
    from forecasting.core.config import reset_settings
    from forecasting.core.errors import ConfigError

    with pytest.raises(ConfigError, match="set DATABASE_URL"):
        cmd_migrate(None)
    monkeypatch.setenv("DATABASE_URL", bare_database.replace("postgresql+psycopg://", "postgresql://"))
    reset_settings()
    assert cmd_migrate(None) == 0
    out = capsys.readouterr().out
    assert f"applied {len(migration_files())} migration file(s)" in out and latest_version() in out
    engine = sa.create_engine(bare_database)
    assert set(TABLES) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()
