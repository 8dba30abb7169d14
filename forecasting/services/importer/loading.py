"""Loading a validated plan: refuse ids stored under another tenant, upsert every row in one call, report.

`import_sales` is the whole import (read, validate, write); the package
docstring lists what a file may look like.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...core.errors import StorageError
from ...core.logs import log_event
from ...i18n.catalog import t
from ...i18n.formatting import Formatter
from ...storage import Storage
from .reading import MAX_BYTES, MAX_ROWS, Source, describe_format
from .validation import RowError, SalesImportError, parse_sales_csv
from .values import Reason, aware_utc


@dataclass(frozen=True)
class ImportReport:
    """What an import wrote: `inserted` new sales, `already_present` ids this tenant had (of them `updated` changed)."""

    tenant_id: str
    rows: int
    inserted: int
    already_present: int
    updated: int
    encoding: str
    delimiter: str
    ignored_columns: tuple[str, ...] = ()
    blank_lines: int = 0
    seconds: float = 0.0

    def summary(self, lang: str = "en") -> str:
        """One line for people, in `lang`: what was added, what was already there, how the file was read."""
        number = Formatter(lang).number
        if self.inserted == 0:
            head = t("import.summary.nothing_new", lang, n=self.rows, tenant=self.tenant_id, rows=number(self.rows))
        else:
            new = t("import.summary.new", lang, n=self.inserted, inserted=number(self.inserted))
            present = t("import.summary.present", lang, n=self.already_present,
                        present=number(self.already_present))
            head = t("import.summary.imported", lang, n=self.rows, tenant=self.tenant_id, rows=number(self.rows),
                     new=new, present=present)
        if self.updated:
            head += " " + t("import.summary.updated", lang, n=self.updated, updated=number(self.updated))
        extras = [describe_format(self.encoding, self.delimiter, lang)]
        if self.ignored_columns:
            extras.append(t("import.summary.ignored", lang, n=len(self.ignored_columns),
                            columns=", ".join(self.ignored_columns)))
        return f"{head} [{'; '.join(extras)}]"


# --- writing --------------------------------------------------------------------------------------


def import_sales(storage: Storage, tenant_id: str, source: Source, *, now: datetime | None = None,
                 max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES) -> ImportReport:
    """Import a CSV of `tenant_id`'s sales: every row, or none when any is bad.

    Raises DataError for an unknown tenant or an unreadable file, and
    SalesImportError (a DataError whose `.errors` lists every bad row with
    its line) when rows are bad or use sale ids stored under another
    tenant; nothing is written then. Otherwise all rows are upserted in one
    call (one transaction on SQL backends), so importing the same file twice
    adds nothing: the report counts new ids apart from ids already present.
    """
    from ..tenants import get_tenant

    started = time.perf_counter()
    tenant = get_tenant(storage, str(tenant_id))
    plan = parse_sales_csv(source, tenant_timezone=tenant.timezone, now=now, max_rows=max_rows, tenant_id=tenant.id,
                           max_bytes=max_bytes)
    if plan.errors:
        log_event("sales_import_refused", tenant_id=tenant.id, rows=plan.data_rows, bad_lines=plan.invalid_rows)
        raise SalesImportError(plan.errors)

    ids = [row["id"] for row in plan.rows]
    mine, foreign = _stored_sales(storage, tenant.id, ids, list(plan.columns))
    if foreign:
        # The other business is not named: whoever uploads this file may not see that tenant.
        errors = [RowError(line, plan.columns["id"], row["id"], Reason.of("import.why.foreign_id"))
                  for row, line in zip(plan.rows, plan.lines, strict=True) if row["id"] in foreign]
        log_event("sales_import_refused", tenant_id=tenant.id, rows=plan.data_rows, foreign_ids=len(errors),
                  owners=sorted(set(foreign.values())))
        raise SalesImportError(errors)

    updated = sum(1 for row in plan.rows if row["id"] in mine and _differs(row, mine[row["id"]]))
    storage.upsert("ventas", tenant.id, plan.rows)
    report = ImportReport(tenant_id=tenant.id, rows=len(plan.rows), inserted=len(plan.rows) - len(mine),
                          already_present=len(mine), updated=updated, encoding=plan.encoding,
                          delimiter=plan.delimiter, ignored_columns=tuple(plan.ignored_columns),
                          blank_lines=plan.blank_lines, seconds=time.perf_counter() - started)
    log_event("sales_imported", tenant_id=tenant.id, rows=report.rows, inserted=report.inserted,
              already_present=report.already_present, updated=report.updated, encoding=report.encoding,
              seconds=round(report.seconds, 3))
    return report


_SALE_COLUMNS = ("id", "negocio_id", "fecha", "total", "producto_id", "cantidad")


def _stored_sales(storage: Storage, tenant_id: str, ids: Sequence[str],
                  columns: Iterable[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(this tenant's stored sales among `ids`, by id; owner of each id stored under another tenant).

    `Storage.find_ids` asks the backend the way it does best (by primary key
    on SQL). A failure there is a StorageError, and nothing has been written.
    """
    wanted = [c for c in _SALE_COLUMNS if c in set(columns) | {"id", "negocio_id", "fecha", "total"}]
    try:
        found = storage.find_ids("ventas", tenant_id, ids, columns=wanted)
    except StorageError as exc:
        raise StorageError(f"{exc}; nothing was imported") from None
    mine = {str(row["id"]): row for row in found.mine.to_dict(orient="records")}
    return mine, found.foreign


def _differs(row: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    for column, value in row.items():
        if column in ("id", "negocio_id") or column not in stored:
            continue
        old = stored[column]
        if column == "fecha":
            if aware_utc(_to_datetime(old)) != value:
                return True
        elif value is None or _missing(old):
            if not (value is None and _missing(old)):
                return True
        elif column in ("total", "cantidad"):
            if float(old) != float(value):
                return True
        elif str(old) != str(value):
            return True
    return False


def _to_datetime(value: Any) -> datetime:
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
