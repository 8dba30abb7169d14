"""Readers for the public retail datasets in `shared/data` (tests and benchmarks).

Each returns a long frame `unique_id, ds, y` of daily values with missing
days filled with 0 (a closed store sells nothing), plus what the tenant
would know about itself (country, time zone).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import DataError


def _fill_days(frame: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for uid, group in frame.groupby("unique_id", sort=True):
        series = group.set_index("ds")["y"]
        index = pd.date_range(series.index.min(), series.index.max(), freq="D", name="ds")
        parts.append(series.reindex(index, fill_value=0.0).reset_index().assign(unique_id=uid))
    return pd.concat(parts, ignore_index=True)[["unique_id", "ds", "y"]]


def _read(folder: Path, name: str, **kwargs) -> pd.DataFrame:
    path = Path(folder) / name
    if not path.is_file():
        raise DataError(f"{path} not found: the shared data folder is expected beside the repository")
    return pd.read_csv(path, **kwargs)


def rossmann(folder: Path) -> pd.DataFrame:
    """Daily sales per Rossmann store (Germany); closed days are 0. The 2014H2 gap of some stores is filled with 0."""
    raw = _read(folder, "rossmann_daily.csv.gz", dtype={"state_holiday": str}, parse_dates=["date"])
    frame = raw.rename(columns={"store_id": "unique_id", "date": "ds", "sales": "y"})[["unique_id", "ds", "y"]]
    frame["unique_id"] = "rossmann-" + frame["unique_id"].astype(str)
    return _fill_days(frame.astype({"y": float}))


def rossmann_calendar(folder: Path) -> pd.DataFrame:
    """Rossmann's known-ahead columns per store and day: `open`, `promo`, `state_holiday` (`a` public holiday,
    `b` Easter, `c` Christmas, `0` none), `school_holiday`. Days without a row (the 2014H2 gap) are closed."""
    raw = _read(folder, "rossmann_daily.csv.gz", dtype={"state_holiday": str}, parse_dates=["date"])
    raw["unique_id"] = "rossmann-" + raw["store_id"].astype(str)
    parts = []
    for uid, group in raw.groupby("unique_id", sort=True):
        days = group.set_index("date")[["open", "promo", "state_holiday", "school_holiday"]]
        index = pd.date_range(days.index.min(), days.index.max(), freq="D", name="ds")
        days = days.reindex(index)
        days["open"] = days["open"].fillna(0).astype(int)
        days["promo"] = days["promo"].fillna(0).astype(int)
        days["state_holiday"] = days["state_holiday"].fillna("0").astype(str)
        days["school_holiday"] = pd.to_numeric(days["school_holiday"], errors="coerce").fillna(0).astype(int)
        parts.append(days.reset_index().assign(unique_id=uid))
    return pd.concat(parts, ignore_index=True)[["unique_id", "ds", "open", "promo", "state_holiday", "school_holiday"]]


def favorita(folder: Path) -> pd.DataFrame:
    """Daily transactions per Favorita store (Ecuador); days without a row are 0."""
    raw = _read(folder, "favorita_transactions.csv.gz", parse_dates=["date"])
    frame = raw.rename(columns={"store_id": "unique_id", "date": "ds", "n_transactions": "y"})
    frame["unique_id"] = "favorita-" + frame["unique_id"].astype(str)
    return _fill_days(frame[["unique_id", "ds", "y"]].astype({"y": float}))


def online_retail_invoices(folder: Path) -> pd.DataFrame:
    """Invoices of the UK online retailer as transactions: `fecha` (Europe/London), `total` (cancellations negative)."""
    raw = _read(folder, "online_retail_ii_invoices.csv.gz", parse_dates=["invoiced_at"])
    fecha = raw["invoiced_at"].dt.tz_localize("Europe/London", ambiguous="NaT", nonexistent="shift_forward")
    return pd.DataFrame({"id": "ori-" + raw["invoice"].astype(str), "fecha": fecha, "total": raw["total"].astype(float)}).dropna()


def online_retail(folder: Path) -> pd.DataFrame:
    """The retailer's daily revenue (local dates), net of cancellations."""
    invoices = online_retail_invoices(folder)
    daily = invoices.groupby(invoices["fecha"].dt.tz_localize(None).dt.normalize())["total"].sum()
    frame = pd.DataFrame({"unique_id": "online-retail", "ds": daily.index, "y": daily.to_numpy()})
    return _fill_days(frame)


COUNTRY = {"rossmann": "DE", "favorita": "EC", "online-retail": "GB"}
