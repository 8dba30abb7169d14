"""The command line, run as a user would: a real subprocess on a real database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, db=None, env=None, check=True):
    # Products are trained only where a test is about them (`products` below): they double a demo's training.
    full_env = {**os.environ, "ML_HORIZON_DAYS": "14", "ML_CV_FOLDS": "2",
                "ML_MODEL_CANDIDATES": "naive,snaive,ets", "ML_TRAIN_PRODUCTS": "false", **(env or {})}
    command = [sys.executable, "-m", "forecasting", "--quiet"]
    if db:
        command += ["--db", str(db)]
    proc = subprocess.run(command + list(args), capture_output=True, text=True, cwd=ROOT, env=full_env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_help_lists_every_command():
    out = run("--help").stdout
    for command in ("demo", "train", "predict", "backtest", "forecast", "tenants", "events"):
        assert command in out


def test_demo_train_predict_round_trip(tmp_path):
    db = tmp_path / "cli.db"
    out = run("demo", "--tenants", "2", "--days", "200", "--seed", "3", db=db).stdout
    assert "2 tenants" in out
    assert "already has tenants" in run("demo", "--if-empty", db=db).stdout
    out = run("train", "--all", db=db).stdout
    assert "2 of 2 tenants trained" in out and out.count("winner") == 2
    out = run("train", "--tenant", "2", db=db).stdout
    assert "winner" in out and "mase" in out and "snaive" in out  # one tenant: the CV table too
    out = run("predict", "--tenant", "1", "--out", str(tmp_path / "p.csv"), db=db).stdout
    forecast = pd.read_csv(tmp_path / "p.csv")
    assert len(forecast) == 14 and (forecast["yhat_lower_80"] <= forecast["yhat"]).all()


def test_unknown_tenant_is_one_clear_line_and_exit_2(tmp_path):
    proc = run("train", "--tenant", "999", db=tmp_path / "x.db", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: unknown tenant '999'")
    assert "Traceback" not in proc.stderr


def test_invalid_setting_names_the_field(tmp_path):
    proc = run("tenants", db=tmp_path / "x.db", env={"ML_HORIZON_DAYS": "-1"}, check=False)
    assert proc.returncode == 2 and "ML_HORIZON_DAYS" in proc.stderr and "Traceback" not in proc.stderr


def long_csv(path: Path, n: int = 120) -> Path:
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    frames = [pd.DataFrame({"unique_id": uid, "ds": dates, "y": 100 + 10 * (dates.dayofweek == k) + i})
              for i, (uid, k) in enumerate([("a", 5), ("b", 0)])]
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_forecast_csv_writes_the_documented_columns(tmp_path):
    src = long_csv(tmp_path / "in.csv")
    run("forecast", "--csv", str(src), "--horizon", "10", "--out", str(tmp_path / "f.csv"))
    out = pd.read_csv(tmp_path / "f.csv")
    assert list(out.columns) == ["unique_id", "ds", "yhat", "yhat_lower_80", "yhat_upper_80",
                                 "yhat_lower_95", "yhat_upper_95", "model"]
    assert out.groupby("unique_id").size().to_dict() == {"a": 10, "b": 10}
    assert pd.to_datetime(out["ds"]).min() == pd.Timestamp("2024-04-30")


def test_forecast_csv_with_custom_columns_and_levels(tmp_path):
    src = tmp_path / "custom.csv"
    pd.read_csv(long_csv(tmp_path / "in.csv")).rename(columns={"unique_id": "store", "ds": "day", "y": "sales"}).to_csv(src, index=False)
    run("forecast", "--csv", str(src), "--horizon", "5", "--out", str(tmp_path / "f.csv"),
        "--id-col", "store", "--date-col", "day", "--value-col", "sales", "--level", "50", "90")
    out = pd.read_csv(tmp_path / "f.csv")
    assert {"yhat_lower_50", "yhat_upper_90"} <= set(out.columns) and len(out) == 10


def test_backtest_csv_reports_every_candidate(tmp_path):
    src = long_csv(tmp_path / "in.csv")
    out_path = tmp_path / "r.json"
    stdout = run("backtest", "--csv", str(src), "--horizon", "7", "--folds", "3", "--out", str(out_path)).stdout
    report = json.loads(out_path.read_text())
    assert set(report["series"]) == {"a", "b"} and report["settings"]["across_series"] == "lightgbm_across"
    for result in report["series"].values():
        assert set(result["scores"]) == {"naive", "snaive", "ets", "lightgbm_across", "ensemble"} and result["folds"] == 3
        assert result["winner"] in result["scores"]
    assert "winners" in stdout


@pytest.mark.parametrize("content,message", [
    ("", "empty"),
    ("unique_id,ds,y\n", "no data rows"),
    ("unique_id;ds;y\na;2024-01-01;3\n", "delimiter"),
    ("unique_id,date,y\na,2024-01-01,3\n", "missing column(s) ['ds']"),
    ("unique_id,ds,y\na,2024-01-01,3\na,not-a-date,4\n", "line(s) 3"),
    ("unique_id,ds,y\na,2024-01-01,three\n", "not a finite number"),
    ("unique_id,ds,y\na,2024-01-01,3\na,2024-01-01,4\n", "more than once"),
])
def test_bad_csv_is_a_clear_error(tmp_path, content, message):
    src = tmp_path / "bad.csv"
    src.write_text(content)
    proc = run("forecast", "--csv", str(src), "--out", str(tmp_path / "f.csv"), check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "f.csv").exists()


def test_missing_file_and_binary_garbage(tmp_path):
    proc = run("backtest", "--csv", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r.json"), check=False)
    assert proc.returncode == 2 and "file not found" in proc.stderr
    garbage = tmp_path / "g.csv"
    garbage.write_bytes(bytes(range(256)) * 20)
    proc = run("forecast", "--csv", str(garbage), "--out", str(tmp_path / "f.csv"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_settings_command_validates_and_names_the_field(tmp_path):
    db = tmp_path / "s.db"
    run("demo", "--tenants", "1", "--days", "60", db=db)
    out = run("settings", "--tenant", "1", "--set", "ML_HORIZON_DAYS=14", db=db).stdout
    assert "* ML_HORIZON_DAYS = 14" in out
    for bad, field in [("ML_HORIZON_DAYS=-2", "ML_HORIZON_DAYS"), ("ML_MODEL_CANDIDATES=magic", "ML_MODEL_CANDIDATES"),
                       ("ML_SARIMAX_ORDER=1,x", "ML_SARIMAX_ORDER"), ("COLOUR=blue", "COLOUR")]:
        proc = run("settings", "--tenant", "1", "--set", bad, db=db, check=False)
        assert proc.returncode == 2 and field in proc.stderr and "Traceback" not in proc.stderr
    assert "* ML_HORIZON_DAYS = 14" in run("settings", "--tenant", "1", db=db).stdout  # nothing bad was saved
    assert "* ML_" not in run("settings", "--tenant", "1", "--reset", db=db).stdout


def test_import_sales_all_or_nothing_and_idempotent(tmp_path):
    db = tmp_path / "i.db"
    run("demo", "--tenants", "1", "--days", "30", db=db)
    good = tmp_path / "good.csv"
    good.write_text("id;fecha;total\nx-1;2026-01-05 10:00;1.234,50\nx-2;05/01/2026;-12,00\n", encoding="utf-8")
    first = run("import-sales", "--tenant", "1", "--csv", str(good), db=db).stdout
    again = run("import-sales", "--tenant", "1", "--csv", str(good), db=db).stdout
    assert "2" in first and first != again
    bad = tmp_path / "bad.csv"
    bad.write_text("id,fecha,total\ny-1,2026-01-05,10\ny-2,not a date,5\ny-3,2026-01-06,abc\n", encoding="utf-8")
    proc = run("import-sales", "--tenant", "1", "--csv", str(bad), db=db, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "line 3, fecha 'not a date'" in proc.stderr and "line 4, total 'abc'" in proc.stderr
    assert "nothing was imported" in proc.stderr
    from forecasting.storage import SQLStorage

    sales = SQLStorage.sqlite_file(db).select("ventas", "1", columns=["id", "total"])
    assert {"x-1", "x-2"} <= set(sales["id"]) and not set(sales["id"]) & {"y-1", "y-2", "y-3"}
    assert sales.set_index("id").loc["x-1", "total"] == 1234.5


def test_products_trains_plans_refreshes_and_writes_the_order_list(tmp_path):
    db = tmp_path / "cli.db"
    run("demo", "--tenants", "1", "--days", "200", "--seed", "3", db=db)
    out = run("products", "--tenant", "1", db=db).stdout  # never trained: trains first
    assert out.startswith("tenant 1: ") and "stock plans" in out and "days_left" in out and "order_quantity" in out
    run("products", "--tenant", "1", "--refresh", "--out", str(tmp_path / "orders.csv"), db=db)
    orders = pd.read_csv(tmp_path / "orders.csv")
    assert orders["product_id"].str.startswith("1-P").all() and orders["product_id"].is_unique
    assert (orders["order_quantity"].dropna() >= 0).all() and set(orders["status"]) <= {
        "ok", "order", "discontinued", "no_history", "no_stock_record", "bad_stock", "stale"}
    assert {"lead_time_days", "review_days", "service_level", "method_label"} <= set(orders.columns)
    out = run("train", "--tenant", "1", db=db, env={"ML_TRAIN_PRODUCTS": "true"}).stdout
    assert "  products: " in out and " forecast (" in out
    out = run("train", "--tenant", "1", db=db).stdout
    assert "products:" not in out
    proc = run("products", "--tenant", "999", db=db, check=False)
    assert proc.returncode == 2 and "unknown tenant '999'" in proc.stderr and "Traceback" not in proc.stderr


def test_events_add_list_import_remove_and_closed_days(tmp_path):
    db = tmp_path / "events.db"
    run("demo", "--tenants", "1", "--days", "90", db=db)
    run("events", "closed-days", "--tenant", "1", "--set", "none", db=db)
    out = run("events", "closed-days", "--tenant", "1", db=db).stdout
    assert "closed every week: none" in out and "no sales on sun for 8 weeks" in out  # the bakery's Sundays
    assert "closed every week: sun" in run("events", "closed-days", "--tenant", "1", "--set", "sun", db=db).stdout

    assert "1 event(s) saved" in run("events", "add", "--tenant", "1", "--name", "Closed for works", "--kind", "closed",
                                     "--from", "2031-03-02", "--to", "2031-03-03", db=db).stdout
    events = tmp_path / "events.csv"
    events.write_text("nombre;tipo;desde;hasta\nRebajas;promoción;07/01/2031;14/01/2031\n", encoding="utf-8")
    assert "1 event(s) saved" in run("events", "import", "--tenant", "1", "--csv", str(events), db=db).stdout
    listed = run("events", "list", "--tenant", "1", db=db).stdout
    assert "Closed for works" in listed and "Rebajas" in listed
    key = next(line.split()[0] for line in listed.splitlines() if "Rebajas" in line)
    assert f"removed event {key}" in run("events", "remove", "--tenant", "1", key, db=db).stdout
    assert "Rebajas" not in run("events", "list", "--tenant", "1", db=db).stdout

    bad = run("events", "add", "--tenant", "1", "--name", "Oops", "--kind", "promotion", "--from", "2031-05-05",
              "--to", "2031-05-01", db=db, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("ends before it starts")
    assert "Oops" not in run("events", "list", "--tenant", "1", db=db).stdout
    gone = run("events", "remove", "--tenant", "1", "nokey", db=db, check=False)
    assert gone.returncode == 2 and "no event with key 'nokey'" in gone.stderr


def test_forecast_csv_with_known_ahead_columns_needs_and_uses_the_future_file(tmp_path):
    days = pd.date_range("2026-01-01", periods=120, freq="D")
    promo = ((days.dayofweek == 2) & ((days.dayofyear // 7) % 2 == 0)).astype(int)  # every other Wednesday
    train = pd.DataFrame({"unique_id": "s", "ds": days.strftime("%Y-%m-%d"), "y": 100 + 60 * promo, "promo": promo})
    train.to_csv(tmp_path / "train.csv", index=False)
    ahead = pd.date_range(days[-1] + pd.Timedelta(days=1), periods=14, freq="D")
    first_wednesday = ahead[ahead.dayofweek == 2][0]
    pd.DataFrame({"unique_id": "s", "ds": ahead.strftime("%Y-%m-%d"), "promo": (ahead == first_wednesday).astype(int)}) \
        .to_csv(tmp_path / "future.csv", index=False)
    out = tmp_path / "f.csv"
    refused = run("forecast", "--csv", str(tmp_path / "train.csv"), "--out", str(out), check=False)
    assert refused.returncode == 2 and "--future" in refused.stderr
    run("forecast", "--csv", str(tmp_path / "train.csv"), "--future", str(tmp_path / "future.csv"), "--out", str(out))
    forecast = pd.read_csv(out, parse_dates=["ds"]).set_index("ds")["yhat"]
    promoted, plain = forecast[forecast.index.dayofweek == 2]  # the promoted Wednesday, then one without
    assert promoted > 1.3 * plain
