"""CSV exports never carry a live spreadsheet formula (OWASP's CSV injection).

Text cells that start with `=`, `+`, `-`, `@`, a tab or a carriage return get a
leading `'`; plain numbers stay numbers. Checked on the function every export
uses, on `forecast --out` with hostile series ids, and on the dashboard's
forecast download with a hostile currency.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from forecasting.core.errors import DataError
from forecasting.core.events import Event
from forecasting.i18n.formatting import Formatter
from forecasting.services.calendar import save_events
from forecasting.services.exports import neutralize, write_csv
from forecasting.ui import tables
from forecasting.views import forecast
from tests.support.dashboard_db import TRAINED

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ["=HYPERLINK(\"https://evil.example\",\"click\")", "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
           "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_is_made_text(value):
    assert neutralize(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.5", "+3", "1e-5", "-.5", "Pan integral", "", "café = good", 42, -3.0, None])
def test_numbers_and_plain_text_are_left_alone(value):
    assert neutralize(value) == value


def cells(path_or_bytes) -> list[list[str]]:
    text = path_or_bytes.decode("utf-8") if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_text()
    return list(csv.reader(text.splitlines()))


def test_write_csv_neutralizes_text_cells_and_headers_but_not_numbers():
    frame = pd.DataFrame({"=name": ["=1+1", "ok"], "value": [-12.5, 3.0], "text_number": ["-4", "+5"]})
    rows = cells(write_csv(frame))
    assert rows == [["'=name", "value", "text_number"], ["'=1+1", "-12.5", "-4"], ["ok", "3.0", "+5"]]


def test_forecast_out_with_hostile_series_ids(tmp_path):
    dates = pd.date_range("2024-01-01", periods=60, freq="D")
    pd.concat([pd.DataFrame({"unique_id": uid, "ds": dates, "y": 100.0 + i}) for i, uid in enumerate(HOSTILE[:4])]) \
        .to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    done = subprocess.run([sys.executable, "-m", "forecasting", "--quiet", "forecast", "--csv", str(tmp_path / "in.csv"),
                           "--horizon", "7", "--models", "naive,snaive", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = cells(out)
    ids = {row[0] for row in rows[1:]}
    assert ids == {"'" + value for value in HOSTILE[:4]}
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    assert float(rows[1][2]) > 0  # the forecast itself is still a number


def test_the_dashboard_download_is_neutralized_and_a_hostile_currency_never_reaches_it(writable):
    view = forecast.forecast_view(writable, TRAINED)
    save_events(writable, TRAINED, [Event('=HYPERLINK("http://x")', "event", view.today, view.today)])
    rows = cells(tables.forecast_csv(forecast.forecast_view(writable, TRAINED), Formatter("en", "EUR", "US")))
    assert rows[0][:2] == ["\ufeffDate", "Forecast"] and len(rows) > 1
    assert rows[1][6].startswith("'=HYPERLINK")  # an event's name is text, never a formula
    # A currency of `=1+1` is no currency: the business is refused (a bad row), so no file carries it.
    writable.update("negocios", TRAINED, {"currency": "=1+1"}, where={"id": TRAINED})
    with pytest.raises(DataError, match=re.escape("unknown currency '=1+1'")):
        forecast.forecast_view(writable, TRAINED)
