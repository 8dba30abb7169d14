"""Properties: the engine always forecasts or refuses with a reason; the importer reports exactly the bad rows."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from forecasting.core.config import MLSettings
from forecasting.core.engine import forecast_series
from forecasting.core.errors import ForecastingError
from forecasting.core.series import series_from_values
from forecasting.services.importer import import_sales, parse_sales_csv
from forecasting.storage import SQLStorage
from tests.support import NOW

ENGINE = MLSettings(horizon_days=7, cv_folds=2, model_candidates=["naive", "snaive", "theta", "lightgbm"])
UTC = timezone.utc

# --- the engine -----------------------------------------------------------------------------------

values = st.one_of(
    st.just(0.0),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.integers(min_value=-50, max_value=500).map(float),
    st.sampled_from([1e9, -1e9, 1e-9, 0.5]),
)
# Runs of one value (closed days, flat sales) with single-day runs as spikes, or day-to-day noise.
runs = st.lists(st.tuples(values, st.integers(min_value=1, max_value=40)), min_size=1, max_size=20).map(
    lambda segments: [v for value, n in segments for v in [value] * n][:200])


@st.composite
def shop_like(draw):
    """A weekly pattern at any level, with noise, then constant runs and spikes written over it."""
    n = draw(st.integers(min_value=1, max_value=200))
    level = draw(values)
    weekly = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 3.0]), min_size=7, max_size=7)))
    noise = draw(st.sampled_from([0.0, 0.05, 0.5, 2.0]))
    rng = np.random.default_rng(draw(st.integers(min_value=0, max_value=2**16)))
    y = level * weekly[np.arange(n) % 7] * (1 + noise * rng.standard_normal(n))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):  # closed weeks, flat stretches
        start, length = draw(st.integers(0, n - 1)), draw(st.integers(1, 60))
        y[start:start + length] = draw(values)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):  # one-day spikes and refunds
        y[draw(st.integers(0, n - 1))] = draw(values)
    return np.clip(y, -1e9, 1e9).tolist()


daily_values = st.one_of(shop_like(), runs, st.lists(values, min_size=1, max_size=200))

#: Fixed examples on every run (derandomize) and no replay of earlier failures (database=None): a property
#: test that picks other inputs each run could fail once in twenty runs.
FIXED = {"derandomize": True, "database": None, "deadline": None}


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], **FIXED)
@given(daily_values)
@example([42.0])  # one day
@example([0.0] * 200)  # never sold
@example([0.0] * 150 + [80.0, 120.0, 95.0, 0.0, 0.0, 130.0, 0.0] * 3)  # a long closure, then three weeks
@example([1e9, -1e9] * 100)  # wild swings at the limits
def test_any_finite_daily_series_gets_a_valid_forecast(raw):
    # Any non-empty run of consecutive days with finite values can be forecast: the engine falls back to
    # seasonal naive, then naive, which needs one day. So none of these may be refused, whatever it holds
    # (closed weeks, a constant, refunds below zero, spikes of a billion).
    y = series_from_values(raw, start="2025-01-01")
    event(f"length {'< 30' if len(y) < 30 else '30-99' if len(y) < 100 else '100-200'}")
    try:
        outcome = forecast_series(y, ENGINE)
    except ForecastingError as exc:
        raise AssertionError(f"a usable series of {len(y)} days was refused: {exc}") from exc
    event(f"winner {outcome.winner}")
    forecast = outcome.forecast
    assert outcome.winner in (*ENGINE.model_candidates, "ensemble") and outcome.model.name == outcome.winner
    assert len(forecast) == 7
    assert list(forecast.index) == list(pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=7, freq="D"))
    numbers = forecast[["yhat", "yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95"]].to_numpy(float)
    assert np.isfinite(numbers).all(), forecast
    assert (numbers >= 0).all(), forecast
    for level in (80, 95):
        assert (forecast[f"yhat_lower_{level}"] <= forecast["yhat"]).all(), forecast
        assert (forecast["yhat"] <= forecast[f"yhat_upper_{level}"]).all(), forecast
    assert (forecast["yhat_lower_95"] <= forecast["yhat_lower_80"]).all()
    assert (forecast["yhat_upper_80"] <= forecast["yhat_upper_95"]).all()


#: The reasons a series can't be used at all, as `forecasting.core.models.base.check_series` words them; the
#: engine refuses such a series with a ForecastingError that names the reason.
REFUSALS = {
    "empty": "the series is empty",
    "nan": "the series has missing or infinite values",
    "inf": "the series has missing or infinite values",
    "-inf": "the series has missing or infinite values",
    "gap": "the series must have one value per consecutive day",
}


@st.composite
def unusable_series(draw):
    """(defect, series): a usable series spoiled in one documented way."""
    defect = draw(st.sampled_from(sorted(REFUSALS)))
    if defect == "empty":
        return defect, pd.Series([], dtype=float, index=pd.DatetimeIndex([], name="ds"), name="y")
    raw = draw(daily_values)
    raw = raw + [100.0] * (3 - len(raw))  # a gap needs a day either side
    y = series_from_values(raw, start="2025-01-01")
    if defect == "gap":
        return defect, y.drop(y.index[draw(st.integers(1, len(y) - 2))])
    bad = draw(st.lists(st.integers(0, len(y) - 1), min_size=1, max_size=3, unique=True))
    y.iloc[bad] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[defect]
    return defect, y


@settings(max_examples=40, **FIXED)
@given(unusable_series())
@example(("empty", pd.Series([], dtype=float, index=pd.DatetimeIndex([], name="ds"))))
@example(("nan", series_from_values([100.0] * 60 + [np.nan])))
@example(("inf", series_from_values([np.inf] + [100.0] * 60)))
@example(("-inf", series_from_values([100.0] * 30 + [-np.inf] + [100.0] * 30)))
@example(("gap", series_from_values([100.0] * 61).drop(pd.Timestamp("2024-01-31"))))
def test_an_unusable_series_is_refused_naming_its_reason(case):
    defect, y = case
    event(f"defect {defect}")
    try:
        outcome = forecast_series(y, ENGINE)
    except ForecastingError as exc:
        assert REFUSALS[defect] in str(exc), f"{defect}: the refusal does not say why: {exc}"
    else:
        raise AssertionError(f"a series with defect {defect!r} was forecast with {outcome.winner}:\n{outcome.forecast}")


# --- the importer ---------------------------------------------------------------------------------

ZONES = ["Europe/Madrid", "America/Mexico_City", "America/Argentina/Buenos_Aires", "Asia/Kolkata", "UTC"]
# Shop hours only: daylight-saving changes happen at night, where a written local time may not exist.
moments = st.builds(lambda day, minute: datetime(2000, 1, 2) + timedelta(days=day, minutes=8 * 60 + minute),
                    st.integers(min_value=0, max_value=(NOW.replace(tzinfo=None) - datetime(2000, 1, 3)).days),
                    st.integers(min_value=0, max_value=12 * 60 - 1))
DATE_STYLES = ["iso", "iso_t", "zulu", "offset", "dmy", "date_only"]
cents = st.integers(min_value=-10**8, max_value=10**8)
AMOUNT_STYLES = ["point", "comma", "es_thousands", "en_thousands"]
id_text = st.text(alphabet="abcXYZ019-_/;,\" é", min_size=0, max_size=10)
BAD_KINDS = {
    "empty_id": ("id", ""), "bad_date": ("fecha", "ayer"), "old_date": ("fecha", "1999-06-01 10:00"),
    "future_date": ("fecha", "2031-01-01 10:00"), "month_first": ("fecha", "12/25/2025"),
    "text_total": ("total", "doce"), "nan_total": ("total", "NaN"), "inf_total": ("total", "inf"),
    "empty_total": ("total", ""), "short_row": (None, None),
}


def write_fecha(moment: datetime, style: str, zone: ZoneInfo) -> tuple[str, datetime]:
    """The text for `moment` (a local wall time) in one style, and the UTC instant it means."""
    local = moment.replace(tzinfo=zone)
    if style == "iso":
        return moment.strftime("%Y-%m-%d %H:%M:%S"), local.astimezone(UTC)
    if style == "iso_t":
        return moment.strftime("%Y-%m-%dT%H:%M"), local.astimezone(UTC)
    if style == "dmy":
        return moment.strftime("%d/%m/%Y %H:%M"), local.astimezone(UTC)
    if style == "date_only":
        return moment.strftime("%Y-%m-%d"), moment.replace(hour=12, minute=0).replace(tzinfo=zone).astimezone(UTC)
    if style == "zulu":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.replace(tzinfo=UTC)
    offset = timezone(timedelta(hours=-3))
    return moment.strftime("%Y-%m-%dT%H:%M:%S-03:00"), moment.replace(tzinfo=offset).astimezone(UTC)


def write_amount(amount_cents: int, style: str) -> str:
    sign, whole, frac = "-" if amount_cents < 0 else "", abs(amount_cents) // 100, abs(amount_cents) % 100
    if style == "point":
        return f"{sign}{whole}.{frac:02d}"
    if style == "comma":
        return f"{sign}{whole},{frac:02d}"
    grouped = f"{whole:,}"
    if style == "en_thousands":
        return f"{sign}{grouped}.{frac:02d}"
    return f"{sign}{grouped.replace(',', '.')},{frac:02d}"


@st.composite
def sales_files(draw, *, bad: bool):
    """(file bytes, tenant zone, expected good rows by id, lines that must be reported)."""
    zone_name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(zone_name)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    n = draw(st.integers(min_value=1, max_value=40))
    kinds = draw(st.lists(st.sampled_from(["good"] * 3 + (sorted(BAD_KINDS) + ["duplicate"] if bad else [])),
                          min_size=n, max_size=n))
    header = ["id", "fecha", "total", "producto_id", "nota"]
    records, expected, sale_ids = [], {}, []
    for index, kind in enumerate(kinds):
        sale_id = draw(id_text).strip() + f"#{index}"
        if kind == "duplicate":
            if sale_ids:
                sale_id = draw(st.sampled_from(sale_ids))
            else:
                kind = "good"  # nothing earlier to duplicate
        fecha, instant = write_fecha(draw(moments), draw(st.sampled_from(DATE_STYLES)), zone)
        amount = draw(cents)
        note = draw(st.sampled_from(["", "ok", "dos\nlíneas", 'con "comillas"', "a;b,c|d\te"]))
        record = {"id": sale_id, "fecha": fecha, "total": write_amount(amount, draw(st.sampled_from(AMOUNT_STYLES))),
                  "producto_id": draw(st.sampled_from(["", "P1", "Café"])), "nota": note}
        if kind in BAD_KINDS and BAD_KINDS[kind][0]:
            column, value = BAD_KINDS[kind]
            record[column] = value
        records.append((kind, record, instant, amount / 100))
        if record["id"] and kind != "short_row":
            sale_ids.append(record["id"])

    # Each record starts after the previous ones' lines; quoted newlines in notes add lines.
    line, starts = 2, []
    for kind, record, _, _ in records:
        starts.append(line)
        line += 1 + (0 if kind == "short_row" else record["nota"].count("\n"))  # a short row loses its note
    # A row with the wrong number of fields can't be trusted to have its id where the header says,
    # so it takes no part in the duplicate check.
    counts = pd.Series([r["id"] for k, r, _, _ in records if k != "short_row"], dtype=object).value_counts()
    bad_lines = set()
    for (kind, record, instant, amount), start in zip(records, starts, strict=True):
        duplicated = kind != "short_row" and record["id"] != "" and counts[record["id"]] > 1
        if kind != "good" or duplicated:
            bad_lines.add(start)
        elif kind == "good":
            expected[record["id"]] = (instant, amount, record["producto_id"] or None)

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator)
    writer.writerow(header)
    for kind, record, _, _ in records:
        row = [record[c] for c in header]
        writer.writerow(row[:-2] if kind == "short_row" else row)
    return out.getvalue().encode(encoding), zone_name, expected, bad_lines


@settings(max_examples=60, **FIXED)
@given(sales_files(bad=True))
def test_exactly_the_bad_rows_are_reported(case):
    content, zone, expected, bad_lines = case
    plan = parse_sales_csv(content, tenant_timezone=zone, now=NOW)
    assert set(plan.invalid_lines) == bad_lines, plan.errors
    assert {r["id"]: (r["fecha"], r["total"], r.get("producto_id")) for r in plan.rows} == expected
    assert plan.valid_rows + plan.invalid_rows == plan.data_rows == len(expected) + len(bad_lines)
    assert [plan.lines[i] for i in range(len(plan.rows))] == sorted(plan.lines)
    assert all(e.reason for e in plan.errors)


@settings(max_examples=25, **FIXED)
@given(sales_files(bad=False))
def test_a_valid_file_imports_every_row_exactly_once(case):
    content, zone, expected, bad_lines = case
    assert not bad_lines
    with tempfile.TemporaryDirectory() as folder:
        storage = SQLStorage.sqlite_file(Path(folder) / "db.sqlite")
        try:
            storage.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": zone}])
            report = import_sales(storage, "t", content, now=NOW)
            again = import_sales(storage, "t", content, now=NOW)
            frame = storage.select("ventas", "t")
        finally:
            storage.close()
    assert (report.inserted, report.already_present) == (len(expected), 0)
    assert (again.inserted, again.already_present, again.updated) == (0, len(expected), 0)
    assert len(frame) == len(expected) and frame["id"].is_unique
    got = {r["id"]: (r["fecha"], r["total"], r["producto_id"]) for r in frame.to_dict(orient="records")}
    assert got == expected
