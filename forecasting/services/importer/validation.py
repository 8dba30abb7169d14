"""Validating a sales CSV's rows: the checks of each row, every error collected with its line, the error table.

`parse_sales_csv` turns a file into an `ImportPlan` (rows ready to upsert,
and every problem found) and writes nothing; `loading.import_sales` writes a
plan without errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from ...core.errors import DataError
from ...core.series import MAX_ABS_AMOUNT
from ...core.series import zone as series_zone
from .reading import MAX_BYTES, MAX_ROWS, Source, UnreadableRecord, describe_format, read_sales_file
from .values import AMOUNT_EMPTY, COMMA, POINT, Ambiguous, Reason, aware_utc, parse_amount, parse_fecha

#: How many errors an exception message lists; `.errors` has them all.
MAX_LISTED = 10
MAX_ID_LENGTH = 64
EARLIEST = (2000, 1, 1)
_EARLIEST_DAY = datetime(*EARLIEST).date().isoformat()
_UTC = timezone.utc


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row: `line` as an editor numbers it (header = 1), `column` as the header writes it.

    `why` says what is wrong in any language (`why.text(lang)`); `reason` is its English text, as
    `str()` and the exception messages say it.
    """

    line: int
    column: str | None
    value: str | None
    why: Reason

    @property
    def reason(self) -> str:
        """What is wrong, in English."""
        return str(self.why)

    def reason_in(self, lang: str) -> str:
        """What is wrong, in `lang`."""
        return self.why.text(lang)

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.column is not None:
            shown = self.value if self.value is None or len(self.value) <= 60 else self.value[:57] + "..."
            where += f", {self.column} {shown!r}"
        return f"{where}: {self.reason}"


@dataclass
class ImportPlan:
    """A validated file: rows ready to upsert, and every problem found.

    `rows[i]` came from line `lines[i]`. `data_rows` counts non-blank rows
    below the header; every one of them is either in `rows` or named by at
    least one error.
    """

    rows: list[dict[str, Any]]
    lines: list[int]
    errors: list[RowError]
    encoding: str
    delimiter: str
    columns: dict[str, str]  # our column -> the header as the file writes it
    ignored_columns: list[str]
    data_rows: int
    blank_lines: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def valid_rows(self) -> int:
        return len(self.rows)

    @property
    def invalid_rows(self) -> int:
        return len({error.line for error in self.errors})

    @property
    def invalid_lines(self) -> list[int]:
        return sorted({error.line for error in self.errors})

    def describe_format(self) -> str:
        """`utf-8, semicolon-separated` and the like, for summaries."""
        return describe_format(self.encoding, self.delimiter)


def error_table(errors: Sequence[RowError]) -> pd.DataFrame:
    """Row errors as a DataFrame (`line, column, value, reason`), sorted by line, for a dashboard table."""
    frame = pd.DataFrame([(e.line, e.column, e.value, e.reason) for e in errors],
                         columns=["line", "column", "value", "reason"])
    return frame.sort_values("line", kind="stable").reset_index(drop=True)


class SalesImportError(DataError):
    """The file has bad rows, so nothing was imported; `.errors` lists every one with its line."""

    def __init__(self, errors: Sequence[RowError], *, what: str = "nothing was imported") -> None:
        self.errors = list(errors)
        lines = self.line_count = len({e.line for e in self.errors})
        listed = "\n".join(f"  {e}" for e in self.errors[:MAX_LISTED])
        more = len(self.errors) - MAX_LISTED
        tail = f"\n  ... and {more:,} more" if more > 0 else ""
        self.summary = f"{len(self.errors):,} problem(s) on {lines:,} line(s); {what}"
        super().__init__(f"{self.summary}:\n{listed}{tail}")


# --- rows -----------------------------------------------------------------------------------------


class _RowValidator:
    """Checks rows one by one; file-wide checks (duplicates, ambiguous amounts) run in `finish`."""

    def __init__(self, positions: dict[str, int], columns: dict[str, str], width: int, zone: ZoneInfo,
                 now: datetime, tenant_id: str | None) -> None:
        self.positions, self.columns, self.width = positions, columns, width
        self.zone, self.tenant_id = zone, (None if tenant_id is None else str(tenant_id))
        self.earliest = datetime(*EARLIEST, tzinfo=zone).astimezone(_UTC)
        self.latest = now + timedelta(days=1)
        self.rows: list[dict[str, Any]] = []
        self.lines: list[int] = []
        self.errors: list[RowError] = []
        self.ambiguous: list[tuple[int, str, str]] = []  # (index in rows, column, raw)
        self.decimals = {COMMA: 0, POINT: 0}
        self.seen: dict[str, list[int]] = {}
        self.data_rows = 0
        self.blank_lines = 0

    def fail(self, line: int, reason: Reason, column: str | None = None, value: str | None = None) -> None:
        self.errors.append(RowError(line, None if column is None else self.columns.get(column, column), value, reason))

    def add(self, line: int, fields: list[str]) -> None:
        if not "".join(fields).strip():
            self.blank_lines += 1
            return
        self.data_rows += 1
        if len(fields) != self.width:
            self.fail(line, Reason.of("import.why.fields", fields=len(fields), width=self.width))
            return
        p = self.positions
        bad = len(self.errors)
        sale_id = fields[p["id"]].strip()
        if not sale_id:
            self.fail(line, Reason.of("import.why.id_empty"), "id", fields[p["id"]])
        elif len(sale_id) > MAX_ID_LENGTH:
            self.fail(line, Reason.of("import.why.id_too_long", max=MAX_ID_LENGTH), "id", sale_id)
        else:
            self.seen.setdefault(sale_id, []).append(line)

        raw = fields[p["fecha"]]
        fecha, why = parse_fecha(raw, self.zone)
        if why:
            self.fail(line, why, "fecha", raw)
        elif fecha < self.earliest:
            self.fail(line, Reason.of("import.why.date_too_early", earliest=_EARLIEST_DAY), "fecha", raw)
        elif fecha > self.latest:
            self.fail(line, Reason.of("import.why.date_future", latest=f"{self.latest:%Y-%m-%d %H:%M}"), "fecha", raw)

        row: dict[str, Any] = {"id": sale_id, "fecha": fecha}
        if self.tenant_id is not None:
            row["negocio_id"] = self.tenant_id
        if "negocio_id" in p:
            owner = fields[p["negocio_id"]].strip()
            if owner and self.tenant_id is not None and owner != self.tenant_id:
                self.fail(line, Reason.of("import.why.other_business", owner=owner, tenant=self.tenant_id),
                          "negocio_id", owner)
        row["total"] = self._number(line, "total", fields[p["total"]], required=True)
        if "producto_id" in p:
            product = fields[p["producto_id"]].strip()
            if len(product) > MAX_ID_LENGTH:
                self.fail(line, Reason.of("import.why.product_too_long", max=MAX_ID_LENGTH), "producto_id", product)
            row["producto_id"] = product or None
        if "cantidad" in p:
            row["cantidad"] = self._number(line, "cantidad", fields[p["cantidad"]], required=False)
        if len(self.errors) == bad:
            for column in ("total", "cantidad"):
                if isinstance(row.get(column), Ambiguous):
                    self.ambiguous.append((len(self.rows), column, fields[p[column]]))
            self.rows.append(row)
            self.lines.append(line)

    def _number(self, line: int, column: str, raw: str, *, required: bool):
        value, decimal, why = parse_amount(raw)
        if why == AMOUNT_EMPTY:
            if required:
                self.fail(line, AMOUNT_EMPTY, column, raw)
            return None
        if why:
            self.fail(line, why, column, raw)
            return None
        if isinstance(value, float) and not abs(value) <= MAX_ABS_AMOUNT:  # NaN and infinities fail too
            self.fail(line, Reason.of("import.why.amount_too_large", limit=int(MAX_ABS_AMOUNT)), column, raw)
            return None
        if decimal:
            self.decimals[decimal] += 1
        return value

    def finish(self) -> tuple[list[dict[str, Any]], list[int], list[RowError]]:
        dropped: set[int] = set()
        convention = self._convention()
        for index, column, raw in self.ambiguous:
            value: Ambiguous = self.rows[index][column]
            if convention:
                self.rows[index][column] = value.resolve(convention)
                continue
            key = "import.why.ambiguous_mixed" if all(self.decimals.values()) else "import.why.ambiguous_unshown"
            plain = value.text.replace(value.separator, "")
            # The decimal reading is written with the reader's decimal mark: "1.234" in English, "1,234" in Spanish.
            decimal = Decimal(value.text.replace(",", "."))
            self.fail(self.lines[index], Reason.of(key, plain=plain, decimal=decimal), column, raw)
            dropped.add(index)
        for sale_id, lines in self.seen.items():
            if len(lines) > 1:
                for line in lines:
                    others = [str(n) for n in lines if n != line]
                    self.fail(line, Reason.of("import.why.duplicate_id", lines=", ".join(others), n=len(others)),
                              "id", sale_id)
        if any(len(lines) > 1 for lines in self.seen.values()):
            duplicated = {sale_id for sale_id, lines in self.seen.items() if len(lines) > 1}
            dropped.update(i for i, row in enumerate(self.rows) if row["id"] in duplicated)
        if dropped:
            keep = [i for i in range(len(self.rows)) if i not in dropped]
            self.rows = [self.rows[i] for i in keep]
            self.lines = [self.lines[i] for i in keep]
        self.errors.sort(key=lambda e: e.line)
        return self.rows, self.lines, self.errors

    def _convention(self) -> str | None:
        comma, point = self.decimals[COMMA], self.decimals[POINT]
        if comma and not point:
            return COMMA
        if point and not comma:
            return POINT
        return None


# --- parsing --------------------------------------------------------------------------------------


def parse_sales_csv(
    source: Source,
    *,
    tenant_timezone: str,
    now: datetime | None = None,
    max_rows: int = MAX_ROWS,
    tenant_id: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> ImportPlan:
    """Validate a CSV of one tenant's sales; write nothing.

    `source` is a path, the file's bytes, or an open file (an upload).
    Naive times are in `tenant_timezone`; rows come out with `fecha` as an
    aware UTC datetime. With `tenant_id` each row carries `negocio_id`.
    Problems with the file as a whole (empty, binary, mixed encodings, no
    header, missing columns, more than `max_bytes` bytes or `max_rows` data
    rows) raise DataError; problems with rows are collected in
    `ImportPlan.errors`, all of them.
    """
    zone = series_zone(tenant_timezone)
    now = aware_utc(now) if now is not None else datetime.now(_UTC)
    sales = read_sales_file(source, max_bytes=max_bytes, max_rows=max_rows)
    validator = _RowValidator(sales.positions, sales.columns, len(sales.header), zone, now, tenant_id)
    try:
        for line, fields in sales.records():
            validator.add(line, fields)
    except UnreadableRecord as broken:
        validator.data_rows += 1  # the unreadable record is a row, and a bad one
        validator.fail(broken.line, broken.reason)
    rows, row_lines, errors = validator.finish()
    if validator.data_rows == 0:
        raise DataError(f"{sales.name}: no sales below the header; the file has only the column names")
    return ImportPlan(rows=rows, lines=row_lines, errors=errors, encoding=sales.encoding, delimiter=sales.delimiter,
                      columns=sales.columns, ignored_columns=sales.ignored, data_rows=validator.data_rows,
                      blank_lines=validator.blank_lines)
