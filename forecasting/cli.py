"""Command line: parse, call the package, print. `python -m forecasting --help` lists it all.

Errors the package raises on purpose (bad CSV, unknown tenant, invalid
setting, unreachable database) print one line `error: ...` and exit with 2;
the JSON event log goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .core.config import get_app_settings, get_settings, reset_settings, setting_name
from .core.errors import ForecastingError
from .core.logs import setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet:
        # Through the environment, so worker processes (train --all) log quietly too.
        os.environ["LOG_LEVEL"] = "WARNING"
        reset_settings()
    try:
        setup_logging(get_app_settings().log_level)
        get_settings()  # a bad ML_* variable fails here, naming it, before any work starts
        return args.handler(args) or 0
    except ForecastingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m forecasting", description="Sales forecasting for small businesses.")
    parser.add_argument("--db", help="embedded database file (default: FORECASTING_DB_PATH or data/forecasting.db)")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="fill the database with demo tenants and their sales")
    p.add_argument("--tenants", type=int, default=6, help="number of tenants (default 6)")
    p.add_argument("--days", type=int, default=1095, help="days of history per tenant (default 1095)")
    p.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
    p.add_argument("--if-empty", action="store_true", help="do nothing when the database already has tenants")
    p.add_argument("--train", action="store_true", help="train every demo tenant afterwards")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("tenants", help="list tenants")
    p.set_defaults(handler=cmd_tenants)

    p = sub.add_parser("train", help="run the pipeline: CV, selection, forecast, anomalies, model version")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--tenant", help="tenant id")
    target.add_argument("--all", action="store_true", help="every tenant allowed by ML_TENANT_IDS")
    p.add_argument("--executor", choices=["serial", "process", "dask"],
                   help="with --all: how tenants run (default TRAIN_EXECUTOR, a process pool)")
    p.add_argument("--workers", type=int, help="with --all and the process executor: worker processes (default: cores)")
    p.add_argument("--address", help="with --executor dask: the scheduler address, e.g. tcp://10.0.0.5:8786")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("predict", help="forecast from the active model, without training")
    p.add_argument("--tenant", required=True)
    p.add_argument("--horizon", type=int, help="days ahead (default: the model's horizon)")
    p.add_argument("--out", help="write the forecast to this CSV file")
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser("products", help="demand per product: days of stock left and what to order (trains first "
                                        "if the products were never trained)")
    p.add_argument("--tenant", required=True)
    action = p.add_mutually_exclusive_group()
    action.add_argument("--train", action="store_true", help="retrain the product forecasts now")
    action.add_argument("--refresh", action="store_true", help="recompute stock cover from the current stock, "
                                                                "without retraining")
    p.add_argument("--out", help="write the order list (every product's plan) to this CSV file")
    p.set_defaults(handler=cmd_products)

    p = sub.add_parser("events", help="the shop's calendar: closures, promotions, holidays, events, one-off days "
                                      "(add, list, remove, import, closed-days)")
    events = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = events.add_parser("add", help="add one event (adding the same event twice keeps one)")
    q.add_argument("--tenant", required=True)
    q.add_argument("--name", required=True)
    q.add_argument("--kind", required=True, choices=["closed", "promotion", "holiday", "event", "one_off"])
    q.add_argument("--from", dest="first_day", required=True, metavar="DAY", help="first day, e.g. 2026-12-24")
    q.add_argument("--to", dest="last_day", metavar="DAY", help="last day (default: the first day)")
    q.add_argument("--yearly", action="store_true", help="the same days every year")
    q.add_argument("--products", default="", help="product ids separated by | (default: the whole shop)")
    q.add_argument("--note", default="")
    q = events.add_parser("list", help="the shop's events, with the key that remove takes")
    q.add_argument("--tenant", required=True)
    q = events.add_parser("remove", help="remove one event by its key (from list)")
    q.add_argument("--tenant", required=True)
    q.add_argument("key")
    q = events.add_parser("import", help="add every event of a CSV (name, kind, first_day[, last_day, yearly, "
                                         "products, note]; Spanish headers too): all of them, or none if one is bad")
    q.add_argument("--tenant", required=True)
    q.add_argument("--csv", required=True, dest="csv_path", metavar="FILE")
    q = events.add_parser("closed-days", help="the weekdays the shop always closes: what history proposes, "
                                              "or --set them (e.g. --set sun; --set none clears)")
    q.add_argument("--tenant", required=True)
    q.add_argument("--set", dest="weekdays", metavar="DAYS", help="mon..sun, comma separated, or none")
    p.set_defaults(handler=cmd_events)

    p = sub.add_parser("import-sales", help="import one tenant's sales from a CSV file: every row, or none if any is bad")
    p.add_argument("--tenant", required=True, help="tenant id (negocios.id)")
    p.add_argument("--csv", required=True, dest="csv_path", metavar="FILE",
                   help="columns id, fecha, total [, producto_id, cantidad]; comma, semicolon, tab or pipe "
                        "separated; UTF-8, UTF-16 or latin-1; at most 100 MB and 2,000,000 rows")
    p.set_defaults(handler=cmd_import_sales)

    p = sub.add_parser("settings", help="show a tenant's effective settings, or change its overrides")
    p.add_argument("--tenant", required=True)
    p.add_argument("--set", dest="updates", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting for this tenant, e.g. --set ML_HORIZON_DAYS=14 (repeatable)")
    p.add_argument("--reset", action="store_true", help="remove all of the tenant's overrides")
    p.set_defaults(handler=cmd_settings)

    p = sub.add_parser("migrate", help="create or update the PostgreSQL tables at DATABASE_URL (idempotent)")
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser("scheduler", help="run the scheduler in the foreground (for deployments without the dashboard)")
    p.add_argument("--for", dest="duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(handler=cmd_scheduler)

    p = sub.add_parser("run-job", help="run one scheduled job now and record it in job_runs")
    p.add_argument("job", help="retrain_all, refresh_features, daily_notifications, check_notification_rules, "
                               "cleanup_notifications, cleanup_predictions or health_check")
    p.set_defaults(handler=cmd_run_job)

    p = sub.add_parser("users", help="dashboard users for AUTH_ENABLED: add, list, passwd, disable, enable, remove")
    users = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = users.add_parser("add", help="create a user; the password is asked for (or read from stdin)")
    q.add_argument("username")
    q.add_argument("--role", required=True, choices=["admin", "analyst", "owner"],
                   help="admin: every business and jobs; analyst: every business; owner: --tenant only")
    q.add_argument("--tenant", help="with --role owner: the id of the business they own")
    q.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    users.add_parser("list", help="every user, with role, business and last sign-in")
    q = users.add_parser("passwd", help="set a new password (unlocks the user and signs them out everywhere)")
    q.add_argument("username")
    q.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    for action, helptext in (("disable", "refuse sign-in and end the user's sessions"),
                             ("enable", "allow sign-in again"), ("remove", "delete the user and their sessions")):
        users.add_parser(action, help=helptext).add_argument("username")
    p.set_defaults(handler=cmd_users)

    for name, helptext in (("backtest", "cross-validate every candidate on a long-format CSV"),
                           ("forecast", "forecast every series of a long-format CSV")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--csv", required=True,
                       help="input file with columns unique_id, ds, y; UTF-8, UTF-16 or latin-1; a date with an "
                            "offset counts on its local day (2024-03-31T00:30+02:00 is March 31)")
        p.add_argument("--horizon", type=int, help="days ahead (default ML_HORIZON_DAYS)")
        p.add_argument("--out", required=True,
                       help="output file (.json for backtest, .csv for forecast) in an existing, writable directory, "
                            "checked before any work; progress goes to stderr (--quiet silences it)")
        p.add_argument("--id-col", default="unique_id")
        p.add_argument("--date-col", default="ds")
        p.add_argument("--value-col", default="y")
        p.add_argument("--country", help="ISO country code for holidays (default ML_HOLIDAYS_COUNTRY)")
        p.add_argument("--models", help="comma-separated candidates (default ML_MODEL_CANDIDATES)")
        if name == "backtest":
            p.add_argument("--folds", type=int, help="CV folds (default ML_CV_FOLDS)")
            p.set_defaults(handler=cmd_backtest)
        else:
            p.add_argument("--level", type=int, nargs="+", default=[80, 95], help="interval levels in percent")
            p.add_argument("--future", metavar="FUTURE_CSV",
                           help="unique_id, ds and the input's known-ahead 0/1 columns (open, promo, holiday, "
                                "...) for every forecast day; needed when the input has such columns")
            p.set_defaults(handler=cmd_forecast)
    return parser


# --- handlers -----------------------------------------------------------------


def _storage(args):
    from .core.config import AppSettings
    from .storage import open_storage

    if args.db:  # an explicit file wins over any configured server
        return open_storage(AppSettings(forecasting_db_path=args.db, database_url="", supabase_url="",
                                        supabase_service_role_key=""))
    return open_storage()


def cmd_demo(args) -> int:
    from .services.demo import generate_demo, write_demo

    storage = _storage(args)
    if args.if_empty and not storage.tenants().empty:
        print("database already has tenants; nothing to do")
        tenants = []
    else:
        data = generate_demo(n_tenants=args.tenants, days=args.days, seed=args.seed)
        counts = write_demo(storage, data)
        print(f"demo data written: {counts['negocios']} tenants, {counts['ventas']:,} sales, {counts['productos']} products")
        tenants = data.negocios["id"].tolist()
    if args.train and tenants:
        code = _train_all(storage, tenants)
        # The alerts a shop would have by now (a stock-out risk, unusual days): the first start shows them.
        from .ops.jobs import check_notification_rules

        outcome = check_notification_rules(storage, get_settings())
        print(f"alerts checked: {sum(len(keys) for keys in outcome.details.values())} new")
        return code
    return 0


def cmd_tenants(args) -> int:
    frame = _storage(args).tenants()
    print(frame.to_string(index=False) if not frame.empty else "no tenants yet: run `python -m forecasting demo`")
    return 0


def cmd_train(args) -> int:
    from .ops.jobs import allowed_tenants
    from .services.notifications import notify_drift
    from .services.training import retrain_tenant

    storage = _storage(args)
    if not args.all:
        # One tenant, under its retrain lock: its error (busy, unknown, no sales) is the command's error.
        result = retrain_tenant(storage, args.tenant)
        notify_drift(storage, args.tenant, result.drift)
        _print_result(result)
        return 0
    tenants = [t.id for t in allowed_tenants(storage, get_settings())]
    if not tenants:
        print("no tenants to train: run `python -m forecasting demo` or check ML_TENANT_IDS", file=sys.stderr)
        return 2
    return _train_all(storage, tenants, executor=args.executor, workers=args.workers, address=args.address)


def _train_all(storage, tenants, *, executor=None, workers=None, address=None) -> int:
    import time

    from .ops.executors import train_tenants

    started = time.perf_counter()

    def show(result) -> None:
        if result["ok"]:
            s = result["summary"]
            print(f"tenant {s['tenant_id']}: winner {s['winner']}, {s['history_days']} days, "
                  f"{s['anomalies']} anomalous days, {s['seconds']:.1f}s" + ("  DRIFT" if s["drift"] else ""), flush=True)
            if s.get("products"):
                print(f"  products: {_products_line(s['products'])}", flush=True)
        else:
            print(f"tenant {result['tenant_id']}: FAILED: {result['error']}", flush=True)

    results = train_tenants(tenants, app=storage.reopen_settings(), executor=executor, workers=workers,
                            address=address, on_result=show)
    failed = sum(not r["ok"] for r in results)
    elapsed = time.perf_counter() - started
    print(f"{len(results) - failed} of {len(results)} tenants trained in {elapsed:.1f}s "
          f"({len(results) / elapsed * 60:.0f} tenants/minute)")
    return 1 if failed else 0


def _print_result(result) -> None:
    s = result.summary()
    print(f"tenant {s['tenant_id']}: winner {s['winner']} ({s['selection']}), {s['history_days']} days of history, "
          f"{s['rows_written']['sales_forecast']} forecast rows, {s['rows_written']['sales_anomaly']} anomaly rows, "
          f"{s['anomalies']} anomalous days, {s['seconds']:.1f}s" + ("  DRIFT" if s["drift"] else ""))
    scores = result.cv_scores
    if not scores.empty:
        print(_indent(scores.round(3).to_string()))
    for name, reason in s["skipped"].items():
        print(f"    skipped {name}: {reason}")
    if s["products"]:
        print(f"  products: {_products_line(s['products'])}")


def _products_line(summary: dict) -> str:
    if "error" in summary:
        return f"FAILED: {summary['error']}"
    if summary["model_version"] is None:
        return summary["note"]
    classes = ", ".join(f"{n} {name}" for name, n in sorted(summary["classes"].items(), key=lambda kv: -kv[1]))
    return f"{summary['products']} forecast ({classes}), {summary['rows_written']['stock_plans']} stock plans, " \
           f"{summary['seconds']:.1f}s"


def cmd_products(args) -> int:
    from .services.exports import write_csv
    from .services.products import active_product_model, refresh_stock, stock_table, train_products

    storage = _storage(args)
    if args.train or (not args.refresh and active_product_model(storage, args.tenant) is None):
        result = train_products(storage, args.tenant)
        print(f"tenant {args.tenant}: {_products_line(result.summary())}")
        if result.version is None:
            return 1
    elif args.refresh:
        refresh_stock(storage, args.tenant)
    table = stock_table(storage, args.tenant)
    if table.empty:
        print("no product forecast yet: run `products --tenant ... --train`", file=sys.stderr)
        return 1
    columns = ["product_id", "name", "stock", "units_7", "units_28", "days_left", "runout_date", "early_date",
               "reorder_point", "order_quantity", "status"]
    if args.out:
        extra = ["lead_time_days", "review_days", "service_level", "demand_class", "method_label", "note"]
        write_csv(table[[c for c in columns + extra if c in table]], args.out)
        print(f"{len(table)} products written to {args.out}")
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 30):
            print(table[[c for c in columns if c in table]].round(1).to_string(index=False))
        print(f"stock plan as of {table['as_of'].iloc[0]}; units_7/units_28: expected demand over the next 7/28 days")
    return 0


def cmd_predict(args) -> int:
    from .services.exports import write_csv
    from .services.training import predict_from_active

    forecast = predict_from_active(args.tenant, storage=_storage(args), horizon=args.horizon)
    frame = forecast.reset_index()
    frame["ds"] = frame["ds"].dt.date
    if args.out:
        write_csv(frame, args.out)
        print(f"{len(frame)} days written to {args.out}")
    else:
        print(frame.round(2).to_string(index=False))
    return 0


def cmd_events(args) -> int:
    from .core.config import WEEKDAYS, parse_weekdays
    from .core.errors import DataError
    from .core.events import Event
    from .services import calendar
    from .services.training import refresh_forecast

    storage = _storage(args)
    if args.action == "list":
        frame = calendar.events_frame(storage, args.tenant)
        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40):
            print(frame.to_string(index=False) if not frame.empty else "no events yet: `events add` or `events import`")
        return 0
    if args.action == "add":
        first = _day(args.first_day, "--from")
        event = Event(args.name, args.kind, first, _day(args.last_day, "--to") if args.last_day else first,
                      args.yearly, tuple(p for p in args.products.split("|") if p.strip()), args.note)
        _print_saved(calendar.save_events(storage, args.tenant, [event]))
    elif args.action == "import":
        _print_saved(calendar.save_events(storage, args.tenant, calendar.read_events_csv(Path(args.csv_path))))
    elif args.action == "remove":
        if not calendar.remove_event(storage, args.tenant, args.key):
            raise DataError(f"tenant {args.tenant} has no event with key {args.key!r}: `events list` shows the keys")
        print(f"removed event {args.key}")
    elif args.weekdays is not None:
        text = args.weekdays.strip().lower()
        try:
            days = [] if text in ("", "none") else parse_weekdays(text)  # as ML_CLOSED_WEEKDAYS is read
        except ValueError as exc:
            raise DataError(str(exc)) from None
        calendar.set_closed_weekdays(storage, args.tenant, days)
    if args.action != "closed-days" or args.weekdays is not None:
        refresh_forecast(storage, args.tenant)  # every change moves the stored forecast at once
    if args.action == "closed-days":
        confirmed = calendar.tenant_calendar(storage, args.tenant).closed_weekdays
        proposal = calendar.closed_weekday_proposal(storage, args.tenant)
        print("closed every week: " + (", ".join(WEEKDAYS[d] for d in sorted(confirmed)) or "none"))
        if proposal:
            print("history shows no sales on " + ", ".join(WEEKDAYS[d] for d in proposal) + " for 8 weeks: confirm with "
                  f"`events closed-days --tenant {args.tenant} --set "
                  + ",".join(WEEKDAYS[d] for d in sorted({*confirmed, *proposal})) + "`")
    return 0


def _day(text: str, option: str):
    from datetime import date

    from .core.errors import DataError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DataError(f"{option} {text!r} is not a date (use 2026-12-24)") from None


def _print_saved(report) -> None:
    print(f"{report.written} event(s) saved; the stored forecast follows the calendar now (the effects of a kind of "
          "day are learned again at the next retrain)")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def cmd_import_sales(args) -> int:
    from .services.importer import SalesImportError, import_sales

    try:
        report = import_sales(_storage(args), args.tenant, Path(args.csv_path))
    except SalesImportError as exc:
        # Every bad row, so the whole file can be fixed in one go; then the one-line summary.
        for error in exc.errors:
            print(f"{args.csv_path}: {error}", file=sys.stderr)
        print(f"error: {exc.summary}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def cmd_settings(args) -> int:
    from .core.errors import ConfigError
    from .services.tenants import get_tenant, save_tenant_overrides, settings_for_tenant, tenant_overrides

    storage = _storage(args)
    tenant = get_tenant(storage, args.tenant)
    if args.reset:
        storage.delete("tenant_ml_settings", tenant.id)
    if args.updates:
        overrides = {} if args.reset else dict(tenant_overrides(storage, tenant.id))
        for item in args.updates:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"invalid setting(s): {item!r}: expected KEY=VALUE")
            overrides[key.strip()] = value.strip()
        save_tenant_overrides(storage, tenant.id, overrides)  # validated as a whole; nothing saved if invalid
    effective = settings_for_tenant(storage, tenant)
    own = tenant_overrides(storage, tenant.id)
    print(f"settings of tenant {tenant.id} ({tenant.nombre}); * = this tenant's override")
    for name, value in effective.model_dump(mode="json").items():
        mark = "*" if any(setting_name(k) == name for k in own) else " "
        shown = ",".join(map(str, value)) if isinstance(value, list) else value
        print(f" {mark} ML_{name.upper()} = {shown}")
    return 0


def cmd_migrate(args) -> int:
    from .core.errors import ConfigError
    from .storage import sqlalchemy_url
    from .storage.sql import SQLStorage

    database_url = get_app_settings().database_url
    if not database_url:
        raise ConfigError("set DATABASE_URL to the PostgreSQL connection string first (the embedded file needs no "
                          "migration; for the Supabase REST backend apply supabase/migrations with `supabase db push`)")
    storage = SQLStorage(sqlalchemy_url(database_url), create=False)
    try:
        if storage.backend != "postgresql":
            raise ConfigError(f"DATABASE_URL is not a PostgreSQL database ({storage.describe()})")
        applied = storage.migrate()
        print(f"applied {len(applied)} migration file(s) to {storage.describe()}; "
              f"schema version {storage.schema_version()}")
    finally:
        storage.close()
    return 0


def cmd_scheduler(args) -> int:
    import signal
    import threading

    from .ops.scheduler import SchedulerRunner

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runner = SchedulerRunner(_storage(args)).start()
    print(f"scheduler running as {runner.holder}; jobs: {', '.join(runner.specs)}", flush=True)
    try:
        stop.wait(args.duration)
    finally:
        runner.shutdown(wait=True)  # runs in progress finish and are recorded
    return 0


def cmd_run_job(args) -> int:
    from datetime import datetime, timezone

    from .core.errors import ConfigError
    from .ops.jobs import JOBS
    from .ops.runs import execute_job

    if args.job not in JOBS:
        raise ConfigError(f"unknown job {args.job!r}; choose from {', '.join(JOBS)}")
    run = execute_job(_storage(args), args.job, scheduled_for=datetime.now(timezone.utc), trigger="manual")
    print(f"{args.job}: {run['status']}, {run.get('tenants_done', 0)} done, {run.get('tenants_failed', 0)} failed"
          + (f"; {run['error']}" if run.get("error") else ""))
    return 0 if run["status"] == "success" else 1


def cmd_users(args) -> int:
    from .services import auth

    storage = _storage(args)
    if args.action == "add":
        user = auth.add_user(storage, args.username, _new_password(args), args.role, args.tenant)
        where = f" of business {user.tenant_id}" if user.tenant_id else ""
        print(f"added {user.role} {user.username}{where}")
        if not get_app_settings().auth_enabled:
            print("note: sign-in is off; set AUTH_ENABLED=true for the dashboard to ask for it")
    elif args.action == "list":
        frame = auth.list_users(storage)
        if frame.empty:
            print("no users yet; add one with: python -m forecasting users add NAME --role admin")
        else:
            print(frame.to_string(index=False))
    elif args.action == "passwd":
        auth.set_password(storage, args.username, _new_password(args))
        print(f"new password set for {auth.normalize_username(args.username)}; their sessions ended")
    elif args.action in ("disable", "enable"):
        auth.set_disabled(storage, args.username, args.action == "disable")
        print(f"{auth.normalize_username(args.username)} {args.action}d")
    else:
        auth.remove_user(storage, args.username)
        print(f"removed {auth.normalize_username(args.username)}")
    return 0


def _new_password(args) -> str:
    """The new password: stdin's first line with --password-stdin, else asked twice on the terminal.

    Never an argument: those end up in shell history and `ps` listings.
    """
    from .core.errors import ConfigError

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ConfigError("password: no terminal to ask on; pipe it in with --password-stdin")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("Same password again: ") != first:
        raise ConfigError("password: the two entries differ; nothing was changed")
    return first


def _csv_settings(args):
    settings = get_settings()
    updates = {}
    if args.horizon is not None:
        updates["horizon_days"] = args.horizon
    if getattr(args, "folds", None) is not None:
        updates["cv_folds"] = args.folds
    if args.models:
        updates["model_candidates"] = args.models
    if args.country is not None:
        updates["holidays_country"] = args.country
    from .core.calendar import check_country
    from .core.config import merge_overrides

    settings = merge_overrides(settings, updates)
    return settings, check_country(settings.holidays_country)


def cmd_backtest(args) -> int:
    from .services.csvtools import backtest_frame, check_output, progress_printer, read_long_csv
    from .storage import json_safe

    settings, country = _csv_settings(args)
    check_output(args.out, source=args.csv)  # before the work, not after it
    if not args.quiet:
        print(f"reading {args.csv} ...", file=sys.stderr, flush=True)
    frame = read_long_csv(args.csv, id_col=args.id_col, date_col=args.date_col, value_col=args.value_col)
    if not args.quiet:
        print(f"{len(frame):,} rows of {frame['unique_id'].nunique():,} series", file=sys.stderr, flush=True)
    report = backtest_frame(frame, settings, country=country,
                            progress=None if args.quiet else progress_printer("backtesting"))
    Path(args.out).write_text(json.dumps(json_safe(report), indent=2))
    summary = report["summary"]
    print(f"{summary['series']} series backtested; winners: {summary['winners']}")
    if summary["mean_scores"]:
        print(_indent(pd.DataFrame(summary["mean_scores"]).T.round(3).to_string()))
    print(f"results written to {args.out}")
    return 0


def cmd_forecast(args) -> int:
    from .services.csvtools import check_output, forecast_frame, progress_printer, read_future_csv, read_long_csv
    from .services.exports import write_csv

    settings, country = _csv_settings(args)
    check_output(args.out, source=args.csv)  # before the work, not after it
    if not args.quiet:
        print(f"reading {args.csv} ...", file=sys.stderr, flush=True)
    frame = read_long_csv(args.csv, id_col=args.id_col, date_col=args.date_col, value_col=args.value_col)
    if not args.quiet:
        print(f"{len(frame):,} rows of {frame['unique_id'].nunique():,} series", file=sys.stderr, flush=True)
    future = read_future_csv(args.future, frame, settings.horizon_days, id_col=args.id_col,
                             date_col=args.date_col) if args.future else None
    forecast = forecast_frame(frame, settings, levels=args.level, country=country, future=future,
                              progress=None if args.quiet else progress_printer("forecasting"))
    forecast["ds"] = forecast["ds"].dt.date
    write_csv(forecast, args.out, float_format="%.4f")
    models = forecast.groupby("unique_id")["model"].first().value_counts().to_dict()
    print(f"{forecast['unique_id'].nunique()} series, {len(forecast)} rows written to {args.out}; models: {models}")
    return 0


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
