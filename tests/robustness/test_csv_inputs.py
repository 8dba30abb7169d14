"""Hostile CSV inputs for `forecast`/`backtest --csv` and the sales import: time zones, sizes, encodings.

Each test reproduces an input from a review: the command reads it, or refuses it in words naming the
line and the value; never a traceback, never a silent misreading.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from forecasting.core.errors import DataError
from forecasting.services import importer
from forecasting.services.csvtools import progress_printer, read_long_csv
from forecasting.services.importer import MAX_BYTES, import_sales, parse_sales_csv, read_text_file
from forecasting.storage import SQLStorage
from tests.support import NOW, shop_database

ROOT = Path(__file__).resolve().parents[2]


def run(*args, quiet=True, check=True):
    """The command line as a user runs it, with a fast candidate set."""
    env = {**os.environ, "ML_HORIZON_DAYS": "7", "ML_CV_FOLDS": "2", "ML_MODEL_CANDIDATES": "naive,snaive",
           "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "forecasting", *(["--quiet"] if quiet else []), *args]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def days(frame: pd.DataFrame) -> list[str]:
    return [f"{day:%Y-%m-%d}" for day in frame["ds"]]


def long_csv(series: dict[str, int], n: int = 42) -> str:
    """`unique_id,ds,y` with `n` days for each id; the value is the id's base plus the weekday."""
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    rows = [f"{uid},{day:%Y-%m-%d},{base + day.dayofweek}" for uid, base in series.items() for day in dates]
    return "unique_id,ds,y\n" + "\n".join(rows) + "\n"


# --- 1. time zones in forecast/backtest CSVs -------------------------------------------------------


def test_daylight_saving_offsets_in_one_column_are_read(tmp_path):
    # Europe/Madrid on both sides of the change of 31 March 2024: +01:00, then +02:00.
    path = write(tmp_path, "unique_id,ds,y\n"
                           "a,2024-03-30T10:00:00+01:00,1\n"
                           "a,2024-03-31T10:00:00+02:00,2\n"
                           "a,2024-04-01T10:00:00+02:00,3\n")
    frame = read_long_csv(path)
    assert days(frame) == ["2024-03-30", "2024-03-31", "2024-04-01"]
    assert frame["y"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("first,second", [("2024-03-30", "2024-03-31T10:00:00+02:00"),
                                          ("2024-03-31T10:00:00+02:00", "2024-03-30 09:00"),
                                          ("2024-03-30T23:30:00Z", "2024-03-31T00:30:00+02:00")])
def test_naive_and_aware_values_may_share_a_column(tmp_path, first, second):
    frame = read_long_csv(write(tmp_path, f"unique_id,ds,y\na,{first},1\na,{second},2\n"))
    assert days(frame) == ["2024-03-30", "2024-03-31"]


@pytest.mark.parametrize("written,day", [
    ("2024-03-31T00:30:00+02:00", "2024-03-31"),  # 2024-03-30 22:30 in UTC
    ("2024-03-30T23:30:00-05:00", "2024-03-30"),  # 2024-03-31 04:30 in UTC
    ("2024-03-31T00:30:00+0200", "2024-03-31"),
    ("2024-03-31 00:30 +02:00", "2024-03-31"),
])
def test_a_timestamp_counts_on_its_local_day_not_its_utc_day(tmp_path, written, day):
    # A single offset in the whole column: the case that used to be converted to UTC.
    frame = read_long_csv(write(tmp_path, f"unique_id,ds,y\na,{written},5\n"))
    assert days(frame) == [day]


def test_two_times_of_one_local_day_are_the_same_day(tmp_path):
    # 00:30 and 23:30 on 31 March in Madrid are two UTC days but one local day: a duplicate, named.
    path = write(tmp_path, "unique_id,ds,y\na,2024-03-31T00:30:00+02:00,1\na,2024-03-31T23:30:00+02:00,2\n")
    with pytest.raises(DataError, match=r"line\(s\) 2, 3: the same series and date appear more than once"):
        read_long_csv(path)


@pytest.mark.parametrize("bad", ["2999-01-01", "1500-06-01", "2300-01-01T10:00:00+01:00"])
def test_a_date_pandas_cant_hold_is_reported_with_its_line_and_value(tmp_path, bad):
    # Beside offsets of daylight saving too, where the values used to reach pandas as Python datetimes.
    path = write(tmp_path, "unique_id,ds,y\n"
                           "a,2024-03-30T10:00:00+01:00,1\n"
                           "a,2024-03-31T10:00:00+02:00,2\n"
                           f"a,{bad},3\n")
    with pytest.raises(DataError) as caught:
        read_long_csv(path)
    message = str(caught.value)
    assert f"line(s) 4 ({bad!r}): 'ds' is outside the dates this tool handles (1677-09-22 to 2262-04-11)" in message


def test_bad_dates_are_grouped_by_reason_with_lines_and_values(tmp_path):
    path = write(tmp_path, "unique_id,ds,y\na,2024-01-01,1\na,soon,2\na,3000-01-01,3\na,,4\na,10:00,5\n")
    with pytest.raises(DataError) as caught:
        read_long_csv(path)
    message = str(caught.value)
    assert "line(s) 3 ('soon'), 6 ('10:00'): 'ds' is not a date" in message  # a time alone is not a day
    assert "line(s) 4 ('3000-01-01'): 'ds' is outside the dates" in message
    assert "line(s) 5 (''): 'ds' is empty" in message


def test_line_numbers_count_blank_lines_and_values_are_shown(tmp_path):
    path = write(tmp_path, "unique_id,ds,y\na,2024-01-01,1\n\na,2024-01-02,lots\n,,\n")
    with pytest.raises(DataError, match=r"line\(s\) 4 \('lots'\): 'y' is not a finite number"):
        read_long_csv(path)


def test_a_first_row_with_a_field_too_many_is_refused_not_shifted(tmp_path):
    # pandas would take the ids for an index column and read every column one to the left.
    path = write(tmp_path, "unique_id,ds,y\na,2024-01-01,1,2\na,2024-01-02,3\n")
    with pytest.raises(DataError, match="the first data row has more fields than the header"):
        read_long_csv(path)


@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_out_into_a_missing_directory_is_refused_before_anything_is_read(tmp_path, command):
    # The input does not even exist: the --out problem is found first, before any reading or forecasting.
    out = tmp_path / "missing" / "result.csv"
    proc = run(command, "--csv", str(tmp_path / "nowhere.csv"), "--out", str(out), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: --out {out}: the directory {out.parent} does not exist; nothing was done"]
    assert proc.stdout == ""


def test_out_that_is_a_directory_or_the_input_is_refused(tmp_path):
    src = write(tmp_path, long_csv({"a": 10}))
    proc = run("forecast", "--csv", str(src), "--out", str(tmp_path), check=False)
    assert proc.returncode == 2 and "is a directory; give a file name" in proc.stderr
    proc = run("forecast", "--csv", str(src), "--out", str(src), check=False)
    assert proc.returncode == 2 and "is the input file" in proc.stderr
    assert src.read_text(encoding="utf-8") == long_csv({"a": 10})  # the input is intact


# --- 1b. one day-first/month-first policy for the import and forecast/backtest ---------------------


def import_day(written: str) -> str:
    """The day the sales import reads in `written` (a tenant on UTC, so the instant's day is the written one)."""
    plan = parse_sales_csv(f"id;fecha;total\nA;{written};1\n".encode(), tenant_timezone="UTC", now=NOW)
    assert plan.ok, plan.errors
    return f"{plan.rows[0]['fecha']:%Y-%m-%d}"


@pytest.mark.parametrize("written,day", [
    ("01/03/2026", "2026-03-01"),  # ambiguous: day first, in both
    ("03/04/2026 10:00", "2026-04-03"),
    ("12/11/2025", "2025-11-12"),
    ("1.3.2026", "2026-03-01"),
    ("01-03-2026", "2026-03-01"),
    ("25/03/2026", "2026-03-25"),  # only works day first
    ("13.01.2026 23:15:00", "2026-01-13"),
    ("2026-03-04", "2026-03-04"),  # ISO: year, month, day
    ("2026/03/04 10:00", "2026-03-04"),
    ("2026-03-04T10:00:00+01:00", "2026-03-04"),
])
def test_a_date_is_the_same_day_in_the_import_and_in_forecast_csvs(tmp_path, written, day):
    frame = read_long_csv(write(tmp_path, f"unique_id,ds,y\na,{written},1\n"))
    assert days(frame) == [day]
    assert import_day(written) == day


@pytest.mark.parametrize("written", ["03/25/2026", "12/31/2025 10:00", "1.13.2026"])
def test_a_month_first_date_is_refused_by_both_saying_so(tmp_path, written):
    with pytest.raises(DataError, match="only works month first") as caught:
        read_long_csv(write(tmp_path, f"unique_id,ds,y\na,2026-01-01,1\na,{written},2\n"))
    assert f"line(s) 3 ({written!r}): 'ds' is not a valid date" in str(caught.value)
    plan = parse_sales_csv(f"id;fecha;total\nA;2026-01-01;1\nB;{written};2\n".encode(), tenant_timezone="UTC",
                           now=NOW)
    assert [(e.line, e.column) for e in plan.errors] == [(3, "fecha")]
    assert "only works month first" in plan.errors[0].reason and "YYYY-MM-DD" in plan.errors[0].reason


def test_one_column_is_never_read_half_day_first_and_half_month_first(tmp_path):
    # pandas' mixed parsing read 03/04 as March 4 (month first) beside 25/03 (day first).
    frame = read_long_csv(write(tmp_path, "unique_id,ds,y\na,03/04/2026,1\na,25/03/2026,2\n"))
    assert days(frame) == ["2026-03-25", "2026-04-03"] and frame["y"].tolist() == [2.0, 1.0]
    assert [import_day("03/04/2026"), import_day("25/03/2026")] == ["2026-04-03", "2026-03-25"]


@pytest.mark.parametrize("written,reason", [("01/03/26", "two digits"), ("1/3/2026 2:05 PM", "AM/PM"),
                                            ("46082", "Excel date number"), ("March 1, 2026", "not a date")])
def test_forms_the_import_refuses_forecast_refuses_with_the_same_reason(tmp_path, written, reason):
    with pytest.raises(DataError, match=reason):
        read_long_csv(write(tmp_path, f'unique_id,ds,y\na,"{written}",1\n'))
    plan = parse_sales_csv(f'id;fecha;total\nA;{written};1\n'.encode(), tenant_timezone="UTC", now=NOW)
    assert reason in plan.errors[0].reason


def test_missing_days_inside_a_series_are_filled_with_zero(tmp_path):
    from forecasting.services.csvtools import iter_series

    frame = read_long_csv(write(tmp_path, "unique_id,ds,y\na,2026-03-01,1\na,2026-03-04,4\nb,02/03/2026,2\n"))
    series = dict(iter_series(frame))
    assert series["a"].tolist() == [1.0, 0.0, 0.0, 4.0] and series["a"].index.name == "ds"
    assert series["b"].index[0] == pd.Timestamp("2026-03-02") and series["b"].name == "y"


# --- 2. huge inputs and silence --------------------------------------------------------------------


def test_the_dashboards_upload_limit_is_the_importers_byte_limit():
    # As Streamlit reads it when the dashboard starts from the checkout (.streamlit/config.toml).
    script = "from streamlit import config; print(config.get_option('server.maxUploadSize'))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True,
                          timeout=120)
    # Streamlit counts maxUploadSize in MiB (and calls them MB).
    assert int(proc.stdout.strip()) * 1024 * 1024 == importer.MAX_BYTES
    assert importer.MAX_BYTES >= importer.MAX_ROWS * 40  # room for the rows the importer accepts


def test_bytes_over_the_limit_are_refused_by_size_before_decoding():
    # NUL bytes: decoding would call this "not a text file"; the size is checked first.
    data = b"\x00" * (MAX_BYTES + 1024 * 1024)
    with pytest.raises(DataError, match=r"the file is 101\.0 MB, more than the 100\.0 MB one file may have"):
        parse_sales_csv(data, tenant_timezone="Europe/Madrid", now=NOW)
    del data


def test_a_path_over_the_limit_is_refused_naming_it_and_one_at_the_limit_is_read(tmp_path):
    content = b"id,fecha,total\nA,2026-03-01 10:00,5\n"
    path = tmp_path / "ventas.csv"
    path.write_bytes(content + b" " * 10)
    with pytest.raises(DataError, match=rf"{path.name}: the file is {len(content) + 10} bytes, more than "
                                        rf"the {len(content) + 9} bytes one file may have"):
        parse_sales_csv(path, tenant_timezone="Europe/Madrid", now=NOW, max_bytes=len(content) + 9)
    plan = parse_sales_csv(path, tenant_timezone="Europe/Madrid", now=NOW, max_bytes=len(content) + 10)
    assert plan.ok and plan.valid_rows == 1


class _Endless(io.RawIOBase):
    """A stream that never ends (a pipe, a device), counting what it hands out."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = b"x" * len(buffer)
        self.served += len(buffer)
        return len(buffer)


def test_an_open_file_is_read_only_up_to_the_limit(storage):
    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": "Europe/Madrid"}])
    stream = _Endless()
    with pytest.raises(DataError, match="the file is larger than the 4,096 bytes one file may have"):
        import_sales(storage, "t", stream, now=NOW, max_bytes=4096)
    assert stream.served <= 4097  # not one byte more than the limit was taken into memory
    assert storage.count("ventas", "t") == 0


def test_forecast_csv_refuses_a_file_over_its_limit(tmp_path):
    path = write(tmp_path, long_csv({"a": 10}))
    with pytest.raises(DataError, match="more than the 100 bytes one file may have"):
        read_long_csv(path, max_bytes=100)


def test_progress_is_counted_not_timed():
    for total, expected in [(3, [1, 2, 3]), (60, [1, *range(3, 61, 3)]), (2000, [1, *range(10, 2001, 10)])]:
        out = io.StringIO()
        show = progress_printer("forecasting", out)
        for done in range(1, total + 1):
            show(done, total, f"s{done}")
        printed = [line.split()[2] for line in out.getvalue().splitlines()]
        assert printed == [f"{n}/{total}" for n in expected]


@pytest.mark.parametrize("command,verb", [("forecast", "forecasting"), ("backtest", "backtesting")])
def test_long_runs_show_progress_on_stderr_and_quiet_silences_it(tmp_path, command, verb):
    src = write(tmp_path, long_csv({"a": 10, "b": 20, "c": 30}))
    out = tmp_path / ("f.csv" if command == "forecast" else "r.json")
    proc = run(command, "--csv", str(src), "--out", str(out), quiet=False)
    shown = [line for line in proc.stderr.splitlines() if line.startswith(f"{verb} series")]
    assert [line.split(" (")[0] for line in shown] == [f"{verb} series {n}/3" for n in (1, 2, 3)]
    assert [line.split(" (")[1].split(")")[0] for line in shown] == ["a", "b", "c"]
    assert f"reading {src} ..." in proc.stderr and "126 rows of 3 series" in proc.stderr
    if command == "forecast":  # stdout keeps only the result
        assert len(proc.stdout.splitlines()) == 1
        assert proc.stdout.startswith(f"3 series, 21 rows written to {out}; models: ")
    else:
        assert proc.stdout.splitlines()[0].startswith("3 series backtested")
        assert "series 1/3" not in proc.stdout
    quiet = run(command, "--csv", str(src), "--out", str(out))
    assert f"{verb} series" not in quiet.stderr and "reading" not in quiet.stderr
    assert quiet.stdout.splitlines()[0] == proc.stdout.splitlines()[0]


# --- 3. encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_forecast_reads_the_encodings_import_sales_reads(tmp_path, encoding):
    src = tmp_path / "in.csv"
    src.write_bytes(long_csv({"café": 10, "peña": 20}).encode(encoding))
    out = tmp_path / "f.csv"
    run("forecast", "--csv", str(src), "--out", str(out))
    assert sorted(pd.read_csv(out, encoding="utf-8")["unique_id"].unique()) == ["café", "peña"]


MIXED = b"unique_id,ds,y\n" + "café,2024-01-01,1\n".encode() + b"x,2024-01-02,2\n" \
        + "peña,2024-01-03,3\n".encode("latin-1")


def test_a_file_mixing_utf8_and_latin1_is_refused_naming_the_lines():
    with pytest.raises(DataError) as caught:
        read_text_file(MIXED)
    message = str(caught.value)
    assert "the file mixes UTF-8 with another encoding: line 2 is the first in UTF-8 ('é'), " \
           "line 4 is the first in another encoding (byte 0xF1)" in message
    assert "save it as 'CSV UTF-8'" in message


def test_a_utf8_bom_followed_by_latin1_is_refused():
    with pytest.raises(DataError, match="starts with UTF-8's byte order mark, but line 3 is the first in another"):
        read_text_file(b"\xef\xbb\xbfid,fecha,total\nA,2026-03-01,1\n" + "B,2026-03-01,1,Peña\n".encode("latin-1"))


@pytest.mark.parametrize("encoding,expected", [("utf-8", "utf-8"), ("cp1252", "cp1252"), ("latin-1", "latin-1")])
def test_files_in_one_encoding_are_still_read(encoding, expected):
    # The mixed-file check must not take a legacy file's accents for UTF-8.
    text = "id;fecha;total;nota\nA;01/03/2026;1;Nº 5, AÑO, ÀÉÍÓÚ «x»\nB;01/03/2026;2;pingüino, Café\n"
    data = text.encode(encoding)
    if encoding == "latin-1":
        data += b"C;01/03/2026;3;\x81\n"  # undefined in cp1252: only latin-1 reads it
    decoded, used = read_text_file(data)
    assert used == expected and decoded.startswith(text)


def test_forecast_refuses_a_mixed_file_naming_the_line(tmp_path):
    src = tmp_path / "mixed.csv"
    src.write_bytes(MIXED)
    proc = run("forecast", "--csv", str(src), "--out", str(tmp_path / "f.csv"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"error: {src}: the file mixes UTF-8 with another encoding: line 2 is the first in UTF-8 ('é'), "
        "line 4 is the first in another encoding")
    assert not (tmp_path / "f.csv").exists()


def test_import_sales_refuses_a_mixed_file_naming_the_line_and_writes_nothing(tmp_path):
    db = shop_database(tmp_path / "shop.db")
    src = tmp_path / "ventas.csv"
    src.write_bytes(b"id;fecha;total;producto\n" + "A;01/03/2026;1;Café\n".encode()
                    + "B;01/03/2026;2;Té\n".encode("cp1252"))
    proc = run("--db", str(db), "import-sales", "--tenant", "t", "--csv", str(src), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"error: {src}: the file mixes UTF-8 with another encoding: line 2 is the first in UTF-8 ('é'), "
        "line 3 is the first in another encoding (byte 0xE9)")
    store = SQLStorage.sqlite_file(db)
    try:
        assert store.count("ventas", "t") == 0
    finally:
        store.close()
