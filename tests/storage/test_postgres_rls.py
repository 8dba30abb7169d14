"""Row-level security of the migrations, on a real PostgreSQL server set up like Supabase.

The Supabase stack can't run here, so tests/support/pg.py recreates what matters to
RLS: the roles `anon`, `authenticated` and `service_role` (BYPASSRLS),
Supabase's default grants of everything in `public` to them, and `auth.uid()`
reading the JWT claims PostgREST puts in `request.jwt.claims`. Each request is
simulated as PostgREST does it: a transaction that `SET LOCAL ROLE`s and sets
the claims, then runs the query.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone

import psycopg
import pytest
from psycopg import errors

from forecasting.storage import SQLStorage

USER_A = str(uuid.uuid4())
USER_B = str(uuid.uuid4())
OUTSIDER = str(uuid.uuid4())


@pytest.fixture(scope="module")
def db(postgres_server):
    """Two tenants with data, a member of each, and a psycopg DSN for API-role sessions.

    One database for the module: API roles can't change it, and the service-role
    test only touches columns the other tests don't look at.
    """
    database = postgres_server.create_database()
    store = SQLStorage(postgres_server.url(database))
    for tenant in ("a", "b"):
        store.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant.upper()}])
        store.upsert("ventas", tenant, [{"id": f"{tenant}1", "negocio_id": tenant,
                                         "fecha": datetime(2026, 1, 1, tzinfo=timezone.utc), "total": 10.0}])
        store.upsert("ml_predictions", tenant, [
            {"prediction_date": date(2026, 1, d), "prediction_type": "sales_forecast",
             "predicted_values": {"yhat": d}} for d in (1, 2, 3)])
        store.upsert("notifications", tenant, [{"kind": "drift", "title": "t", "message": "m", "event_key": "e"}])
    store.acquire_lease("scheduler", "p1", 30)
    store.close()
    postgres_server.admin(f"insert into tenant_members (user_id, tenant_id, role) values "
                          f"('{USER_A}', 'a', 'owner'), ('{USER_B}', 'b', 'viewer')", database=database)
    yield postgres_server.dsn(database)
    postgres_server.drop_database(database)


def as_role(dsn: str, role: str, sql: str, params=(), user: str | None = None):
    """Run `sql` the way PostgREST runs a request with a JWT of `role` (and `sub` = user)."""
    claims = {"role": role, **({"sub": user} if user else {})}
    with psycopg.connect(dsn) as conn:
        conn.execute(f"set local role {role}")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else cur.rowcount


def test_a_member_reads_only_their_tenants_rows(db):
    rows = as_role(db, "authenticated", "select tenant_id from ml_predictions", user=USER_A)
    assert [r[0] for r in rows] == ["a", "a", "a"]
    assert as_role(db, "authenticated", "select * from ml_predictions where tenant_id = 'b'", user=USER_A) == []
    assert as_role(db, "authenticated", "select id from negocios", user=USER_A) == [("a",)]
    assert as_role(db, "authenticated", "select negocio_id from ventas", user=USER_A) == [("a",)]
    assert as_role(db, "authenticated", "select tenant_id from notifications", user=USER_B) == [("b",)]
    assert as_role(db, "authenticated", "select tenant_id, role from tenant_members", user=USER_A) == [("a", "owner")]


def test_a_signed_in_user_without_membership_sees_nothing(db):
    for table in ("negocios", "ventas", "ml_predictions", "notifications", "tenant_members"):
        assert as_role(db, "authenticated", f"select * from {table}", user=OUTSIDER) == [], table


@pytest.mark.parametrize("sql", [
    "insert into ml_predictions (tenant_id, prediction_date, prediction_type, predicted_values) "
    "values ('a', '2026-02-01', 'sales_forecast', '{}')",
    "update ml_predictions set confidence_score = 1 where tenant_id = 'a'",
    "delete from ml_predictions where tenant_id = 'a'",
    "update notifications set is_read = true",
    "insert into tenant_members (user_id, tenant_id) values (auth.uid(), 'b')",
    "select * from job_runs",
    "select * from leases",
    "select * from apscheduler_jobs",
    "insert into apscheduler_jobs (id, job_state) values ('evil', '\\x80')",
    "select forecasting_acquire_lease('scheduler', 'intruder', 3600)",
])
def test_a_member_writes_nothing_of_ours_nor_sees_the_scheduler(db, sql):
    with pytest.raises(errors.InsufficientPrivilege):
        as_role(db, "authenticated", sql, user=USER_A)


def test_a_member_changes_no_source_row_even_where_the_business_app_granted_writes(db):
    # Source tables keep the business application's grants; with only our read policy,
    # RLS hides every row from UPDATE and DELETE, and refuses INSERT.
    assert as_role(db, "authenticated", "update negocios set nombre = 'x' where id = 'a'", user=USER_A) == 0
    assert as_role(db, "authenticated", "delete from ventas", user=USER_A) == 0
    with pytest.raises(errors.InsufficientPrivilege):
        as_role(db, "authenticated", "insert into productos (id, negocio_id, nombre) values ('p', 'a', 'P')",
                user=USER_A)
    assert as_role(db, "service_role", "select nombre from negocios order by id") == [("A",), ("B",)]


def test_anon_sees_nothing(db):
    for table in ("negocios", "ventas", "productos"):
        assert as_role(db, "anon", f"select * from {table}") == []  # RLS without a policy for anon
    for table in ("ml_predictions", "ml_models", "notifications", "tenant_members", "job_runs", "leases",
                  "apscheduler_jobs"):
        with pytest.raises(errors.InsufficientPrivilege):
            as_role(db, "anon", f"select * from {table}")


def test_the_service_role_reads_and_writes_every_tenant(db):
    assert len(as_role(db, "service_role", "select * from ml_predictions")) == 6
    assert as_role(db, "service_role", "update ml_predictions set model_version = 'v9' where tenant_id = 'b'") == 3
    assert as_role(db, "service_role", "select forecasting_acquire_lease('retrain:a', 'p2', 30)") == [(True,)]
    assert as_role(db, "service_role", "select forecasting_acquire_lease('scheduler', 'p2', 30)") == [(False,)]


def test_every_table_has_rls_enabled(db):
    with psycopg.connect(db) as conn:
        unsecured = conn.execute("select relname from pg_class where relnamespace = 'public'::regnamespace "
                                 "and relkind = 'r' and not relrowsecurity").fetchall()
    assert unsecured == []


PRODUCT_TABLES = ("product_forecasts", "stock_plans", "product_settings", "product_models")


def test_product_tables_are_read_by_members_of_their_tenant_and_written_by_the_service_role_only(db):
    for tenant in ("a", "b"):
        as_role(db, "service_role", "insert into product_forecasts (tenant_id, product_id, forecast_date, model_version, "
                "method, demand_class, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95) values "
                "(%s, 'p1', '2026-01-02', 'v1', 'tsb', 'intermittent', 1, 0, 2, 0, 3)", (tenant,))
        as_role(db, "service_role", "insert into stock_plans (tenant_id, product_id, as_of, service_level, "
                "lead_time_days, review_days, status) values (%s, 'p1', '2026-01-01', 0.95, 2, 7, 'ok')", (tenant,))
        as_role(db, "service_role", "insert into product_settings (tenant_id, product_id, pack_size) values "
                "(%s, 'p1', 12)", (tenant,))
        as_role(db, "service_role", "insert into product_models (tenant_id, model_version, products, model_data) "
                "values (%s, 'v1', 1, '{}')", (tenant,))
    for table in PRODUCT_TABLES:
        assert as_role(db, "authenticated", f"select tenant_id from {table}", user=USER_A) == [("a",)], table
        assert as_role(db, "authenticated", f"select tenant_id from {table}", user=OUTSIDER) == [], table
        assert len(as_role(db, "service_role", f"select tenant_id from {table}")) == 2, table
        with pytest.raises(errors.InsufficientPrivilege):
            as_role(db, "anon", f"select * from {table}")
        with pytest.raises(errors.InsufficientPrivilege):
            as_role(db, "authenticated", f"delete from {table} where tenant_id = 'a'", user=USER_A)


def test_calendar_events_are_read_by_members_of_their_tenant_and_written_by_the_service_role_only(db):
    for tenant in ("a", "b"):
        as_role(db, "service_role", "insert into calendar_events (tenant_id, event_key, name, kind, first_day, last_day) "
                "values (%s, 'k1', 'Closed for Christmas', 'closed', '2026-12-24', '2026-12-26')", (tenant,))
    assert as_role(db, "authenticated", "select tenant_id, name from calendar_events", user=USER_A) == [
        ("a", "Closed for Christmas")]
    assert as_role(db, "authenticated", "select tenant_id from calendar_events", user=OUTSIDER) == []
    with pytest.raises(errors.InsufficientPrivilege):
        as_role(db, "anon", "select * from calendar_events")
    with pytest.raises(errors.InsufficientPrivilege):
        as_role(db, "authenticated", "insert into calendar_events (tenant_id, event_key, name, kind, first_day, last_day) "
                "values ('a', 'k2', 'Sale', 'promotion', '2026-12-01', '2026-12-02')", user=USER_A)
    with pytest.raises(errors.CheckViolation):  # the database itself refuses an end before the start
        as_role(db, "service_role", "insert into calendar_events (tenant_id, event_key, name, kind, first_day, last_day) "
                "values ('a', 'k3', 'Backwards', 'event', '2026-12-05', '2026-12-01')")
