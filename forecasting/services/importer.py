"""Import one tenant's sales from a CSV file: validate every row, then write all of them or none.

Two steps, so the dashboard can show problems before anything is written:

* `parse_sales_csv(source, tenant_timezone=...)` is pure: bytes in, an
  `ImportPlan` out (rows ready for `storage.upsert("ventas", ...)` and every
  problem with its line number; the header is line 1).
* `import_sales(storage, tenant_id, source)` parses, refuses the whole file
  if any row is bad, refuses ids stored under another tenant, and upserts
  everything in one call (one transaction on SQL backends).

What the file may look like (decisions, for the README):

* Columns, matched case-, accent- and space-insensitively: `id`, `fecha`,
  `total` are required; `producto_id`, `cantidad` optional; a `negocio_id`
  column, when present, must name this tenant on every row. Aliases are in
  `COLUMN_ALIASES` (e.g. `date`/`fecha_hora` -> fecha, `amount`/`importe`/
  `monto` -> total, `product`/`sku` -> producto_id, `qty`/`unidades` ->
  cantidad). `precio`/`price` are deliberately not aliases of total: they
  are usually a unit price, and importing them as totals would be silently
  wrong. Other columns are ignored and listed in the report, because
  point-of-sale exports carry many (customer, payment method) and making
  people delete them first helps nobody.
* An optional column that is absent from the file is not written, so
  re-importing a slimmer export never erases product ids stored earlier.
* Delimiter: `,`, `;`, tab or `|`, chosen by which one splits the header
  into known column names. Sniffing the data (csv.Sniffer) is misled by
  decimal commas in `;` files; the header has no such ambiguity. Excel's
  `sep=;` first line is honoured.
* Encoding: UTF-8 (BOM or not), UTF-16 with BOM (Excel's "Unicode text"),
  then cp1252 and latin-1 for legacy Windows files; `ImportPlan.encoding`
  says which was used. A file that is partly UTF-8 and partly another
  encoding (rows pasted together from two exports) is refused, naming the
  first line in each: read either way, some of its text would come out
  garbled ("CafÃ©"). `read_text_file` is this reader, and `forecast`/
  `backtest --csv` (csvtools) use it too, so every CSV is read alike.
* Size: at most `MAX_BYTES` (100 MiB, Streamlit's `server.maxUploadSize =
  100` in .streamlit/config.toml, so the dashboard refuses a larger upload
  before receiving it) and `MAX_ROWS` rows. The byte limit is checked
  before anything is decoded, and a path or an open file is read only up
  to it, so a huge file never reaches memory.
* Dates: ISO (`2026-03-01 14:05`, `2026-03-01T14:05:00Z`,
  `2026-03-01T14:05:00+01:00`, `2026/03/01`), or day first with `/`, `-`
  or `.` (`01/03/2026 14:05` is 1 March). Day first because our users are
  mostly Spanish-speaking and Spanish-locale Excel writes DD/MM/YYYY; a
  value that only makes sense month first (`03/25/2026`) is an error that
  says so instead of a silent guess. Times without an offset are the
  tenant's local time; a date without a time is noon local, so its local
  day survives any conversion. A local time skipped by a daylight-saving
  change is moved forward, a repeated one takes the first occurrence: the
  sale happened, the till's clock is not worth a rejected file. Accepted
  range: 2000-01-01 (local) to `now` + 1 day; a future sale is an error.
* Amounts: `1234.5`, `1234,5`, `1.234,56`, `1,234.56`, `1 234,56`, `-12,00`,
  `€12,50`, `1.5E+03`. With one separator followed by exactly three digits
  (`1.234`) the file decides: when its other amounts show the decimal
  separator, that convention is used; when they don't (or mix both), the
  value is reported as ambiguous. Refunds may be negative; NaN, infinity,
  text and amounts beyond 10^12 either way (`series.MAX_ABS_AMOUNT`) are
  errors.
* Blank lines (also `;;;` rows Excel leaves at the end) are skipped; a row
  with more or fewer fields than the header is an error.
* The same sale id twice in the file is an error on every line it appears,
  naming the others. Ids and product ids are at most 64 characters (the
  schema's width).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pandas as pd

from ..core.errors import DataError, StorageError
from ..core.logs import log_event
from ..core.series import MAX_ABS_AMOUNT
from ..core.series import zone as series_zone
from ..storage import Storage
from ..storage.sql import SQLStorage

__all__ = ["COLUMN_ALIASES", "MAX_BYTES", "MAX_ROWS", "ImportPlan", "ImportReport", "RowError", "SalesImportError",
           "error_table", "import_sales", "parse_sales_csv", "read_text_file"]

Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes] | IO[str]

MAX_ROWS = 2_000_000
#: The largest file one import reads, in MiB: the dashboard's upload limit too (`server.maxUploadSize`
#: in .streamlit/config.toml, which Streamlit counts in MiB and calls MB). 2,000,000 (MAX_ROWS) sales
#: of a point-of-sale export's ~50 bytes each fit in it.
MAX_UPLOAD_MB = 100
MAX_BYTES = MAX_UPLOAD_MB * 1024 * 1024
#: How many errors an exception message lists; `.errors` has them all.
MAX_LISTED = 10
MAX_ID_LENGTH = 64
EARLIEST = (2000, 1, 1)
# A file larger than this per allowed row is refused before it is read: no honest sales row is 1 KiB.
_BYTES_PER_ROW = 1024
_CHUNK = 1024 * 1024  # bytes read at a time from a stream of unknown length
_UTC = timezone.utc

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "sale_id", "venta_id", "id_venta", "transaction_id", "id_transaccion", "ticket", "ticket_id",
           "order_id", "id_pedido"),
    "fecha": ("fecha", "date", "datetime", "fecha_hora", "fecha_venta", "sale_date", "timestamp", "created_at"),
    "total": ("total", "amount", "importe", "monto", "importe_total", "monto_total", "total_amount", "sale_total",
              "revenue"),
    "producto_id": ("producto_id", "product_id", "id_producto", "producto", "product", "sku"),
    "cantidad": ("cantidad", "quantity", "qty", "unidades", "units"),
    "negocio_id": ("negocio_id", "tenant_id", "business_id", "id_negocio"),
}
REQUIRED = ("id", "fecha", "total")
_ALIAS_TO_COLUMN = {alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row: `line` as an editor numbers it (header = 1), `column` as the header writes it."""

    line: int
    column: str | None
    value: str | None
    reason: str

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
        return f"{self.encoding}, {_DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-separated"


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

    def summary(self) -> str:
        """One line for people: what was added, what was already there."""
        if self.inserted == 0:
            head = f"tenant {self.tenant_id}: nothing new, all {self.rows:,} sale(s) were already imported"
        else:
            head = (f"tenant {self.tenant_id}: imported {self.rows:,} sale(s): {self.inserted:,} new, "
                    f"{self.already_present:,} already present")
        if self.updated:
            head += f" ({self.updated:,} with changed values, now updated)"
        extras = [f"{self.encoding}, {_DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-separated"]
        if self.ignored_columns:
            extras.append("ignored column(s): " + ", ".join(self.ignored_columns))
        return f"{head} [{'; '.join(extras)}]"


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
    now = _aware(now) if now is not None else datetime.now(_UTC)
    name, text, encoding = _read_text(source, min(max_bytes, max_rows * _BYTES_PER_ROW))
    lines = _physical_lines(text)
    header_line, delimiter, start = _find_header(name, text)
    _refuse_too_many(name, text[start:], lines, max_rows)

    header = next(csv.reader([header_line], delimiter=delimiter))
    positions, columns, ignored = _map_header(name, header)
    validator = _RowValidator(positions, columns, len(header), zone, now, tenant_id)

    reader = csv.reader(io.StringIO(text[start:], newline=""), delimiter=delimiter)
    first_line = text.count("\n", 0, start) + text.count("\r", 0, start) - text.count("\r\n", 0, start) + 1
    # csv counts lines from the slice it reads; offset keeps numbers as an editor shows them.
    offset = first_line - 1
    next(reader, None)  # the header, already read
    previous = reader.line_num
    try:
        for fields in reader:
            line = offset + previous + 1
            previous = reader.line_num
            validator.add(line, fields)
    except csv.Error as exc:
        validator.data_rows += 1  # the unreadable record is a row, and a bad one
        validator.fail(offset + previous + 1, f"the file can't be read from here on ({exc}); "
                                              "is a quote (\") left open?")
    rows, row_lines, errors = validator.finish()
    if validator.data_rows == 0:
        raise DataError(f"{name}: no sales below the header; the file has only the column names")
    return ImportPlan(rows=rows, lines=row_lines, errors=errors, encoding=encoding, delimiter=delimiter,
                      columns=columns, ignored_columns=ignored, data_rows=validator.data_rows,
                      blank_lines=validator.blank_lines)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)


def read_text_file(source: Source, *, max_bytes: int = MAX_BYTES) -> tuple[str, str]:
    """(text, encoding) of a CSV file: the one reader of `import-sales`, the upload and `forecast --csv`.

    `source` is a path, the file's bytes, or an open file. Refused with a
    DataError naming the file (and the line, where there is one): a missing
    file, more than `max_bytes` bytes (checked before decoding; a path or an
    open file is read only up to the limit), an empty file, a spreadsheet or
    other binary file, and text mixing UTF-8 with another encoding. Accepted:
    UTF-8 with or without BOM, UTF-16 with BOM, else cp1252, else latin-1;
    the encoding says which.
    """
    _, text, encoding = _read_text(source, max_bytes)
    return text, encoding


def _read_text(source: Source, max_bytes: int) -> tuple[str, str, str]:
    """(a name for messages, text, encoding)."""
    name, data = _read_source(source, max_bytes)
    text, encoding = _decode(name, data)
    return name, text, encoding


def _read_source(source: Source, max_bytes: int) -> tuple[str, bytes | str]:
    """(a name for messages, the raw content), never more than `max_bytes` of it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = source.nbytes if isinstance(source, memoryview) else len(source)
        if size > max_bytes:
            raise _too_big("the file", size, max_bytes)
        return "the file", bytes(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        size = path.stat().st_size
        if size > max_bytes:
            # Refused from its size alone, so a huge file is never read into memory.
            raise _too_big(str(path), size, max_bytes)
        with path.open("rb") as stream:
            return str(path), _read_at_most(stream, str(path), max_bytes, expected=size)
    if hasattr(source, "read"):
        name = str(getattr(source, "name", None) or "the file")
        content = _read_at_most(source, name, max_bytes)
        if isinstance(content, str):
            return name, content
        return name, bytes(content)
    raise DataError(f"can't read sales from a {type(source).__name__}: pass a path, bytes or an open file")


def _read_at_most(stream: IO, name: str, max_bytes: int, *, expected: int | None = None) -> bytes | str:
    """The stream's content; refused once it passes `max_bytes`, so at most one byte more is ever held.

    With `expected` (a file's size) it is one read of that size, as `read_bytes` would do; a file that
    grew since, or a stream of unknown length, is read on in pieces of `_CHUNK`.
    """
    first = stream.read(min(max_bytes, _CHUNK if expected is None else expected) + 1)
    parts, total = [first], len(first)
    while parts[-1] and total <= max_bytes:
        part = stream.read(min(_CHUNK, max_bytes + 1 - total))
        parts.append(part)
        total += len(part)
    if total > max_bytes:
        raise _too_big(name, None, max_bytes)
    return first if total == len(first) else first[:0].join(parts)


def _too_big(name: str, size: int | None, max_bytes: int) -> DataError:
    limit = _megabytes(max_bytes)
    what = f"is {_megabytes(size)}, more than" if size is not None else "is larger than"
    return DataError(f"{name}: the file {what} the {limit} one file may have; split it into smaller files")


def _megabytes(size: int) -> str:
    """Sizes as Streamlit's uploader writes them: MiB and GiB, called MB and GB."""
    mib = size / 1024 ** 2
    if mib < 0.1:
        return f"{size:,} bytes"
    return f"{mib / 1024:.1f} GB" if mib >= 1024 else f"{mib:.1f} MB"


_SIGNATURES = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or a zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_SAVE_AS = "open it in your spreadsheet and save it as 'CSV UTF-8'"


def _decode(name: str, data: bytes | str) -> tuple[str, str]:
    """(text, encoding used); binary content and empty files are refused here."""
    if isinstance(data, str):
        text, encoding = data.lstrip("\ufeff"), "text"
    else:
        if not data.strip():
            raise DataError(f"{name}: the file is empty")
        for signature, kind in _SIGNATURES:
            if data.startswith(signature):
                raise DataError(f"{name}: this is {kind}, not a CSV file; {_SAVE_AS}")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            try:
                return _checked_text(name, data.decode("utf-16"), "utf-16")
            except UnicodeDecodeError:
                raise DataError(f"{name}: the file claims to be UTF-16 but isn't; {_SAVE_AS}") from None
        if b"\x00" in data[:65536]:
            raise DataError(f"{name}: this is not a text file (it contains binary data); {_SAVE_AS}")
        text, encoding = _first_decoding(name, data)
    return _checked_text(name, text, encoding)


# A character of two to four bytes in valid UTF-8 (RFC 3629's table). Text in cp1252 or latin-1 almost
# never forms one by accident: it would take an accented capital followed by a symbol (Ã followed by ©).
_UTF8_CHARACTER = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
                             rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
                             rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")


def _first_decoding(name: str, data: bytes) -> tuple[str, str]:
    """UTF-8 if the whole file is UTF-8; else cp1252, else latin-1, unless part of it is UTF-8."""
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8):] if bom else data
    # Strict UTF-8 first: legacy bytes almost never form valid UTF-8 by accident, the reverse is common.
    try:
        return body.decode("utf-8"), "utf-8-sig" if bom else "utf-8"
    except UnicodeDecodeError as exc:
        bad = exc.start
    utf8 = _UTF8_CHARACTER.search(body)
    if bom or utf8:
        # Part UTF-8, part something else: any single reading garbles one of the parts, so none is guessed.
        other = f"line {_byte_line(body, bad)} is the first in another encoding (byte 0x{body[bad]:02X})"
        if utf8:
            first = f"line {_byte_line(body, utf8.start())} is the first in UTF-8 ({utf8.group().decode('utf-8')!r})"
            what = f"the file mixes UTF-8 with another encoding: {first}, {other}"
        else:
            what = f"the file mixes UTF-8 with another encoding: it starts with UTF-8's byte order mark, but {other}"
        raise DataError(f"{name}: {what}, so part of its text would come out garbled; {_SAVE_AS}")
    try:
        return body.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8D, ...): latin-1 reads every byte
        return body.decode("latin-1"), "latin-1"


def _byte_line(data: bytes, offset: int) -> int:
    """The line (as an editor numbers them) holding `data[offset]`."""
    return data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset) + 1


def _checked_text(name: str, text: str, encoding: str) -> tuple[str, str]:
    if not text.strip():
        raise DataError(f"{name}: the file is empty")
    sample = text[:65536]
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n") or 0x7F <= ord(ch) < 0xA0)
    # Text never has control characters; garbage decoded as latin-1 is full of them.
    if controls > max(2, len(sample) // 100):
        raise DataError(f"{name}: this is not a text file (it contains binary data); {_SAVE_AS}")
    return text, encoding


def _physical_lines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n") + (0 if text.endswith(("\n", "\r")) else 1)


def _refuse_too_many(name: str, text: str, lines: int, max_rows: int) -> None:
    """Refuse files with more than `max_rows` data rows before any row is validated.

    The line count is an upper bound (quoted fields may span lines, blank
    lines don't count), so rows are only counted exactly, and only up to
    the limit, when the bound is over it.
    """
    if lines - 1 <= max_rows:
        return
    rows = -1  # the header
    records = csv.reader(io.StringIO(text, newline=""))  # any delimiter: only quotes decide where rows end
    while True:
        try:
            fields = next(records, None)
        except csv.Error:
            return  # broken quoting: parsing stops at the same place and reports it
        if fields is None:
            return
        if "".join(fields).strip():
            rows += 1
            if rows > max_rows:
                raise DataError(f"{name}: more than {max_rows:,} sales in one file (the most one import "
                                f"accepts), nothing was imported: split it into files of at most {max_rows:,} rows")


def _find_header(name: str, text: str) -> tuple[str, str, int]:
    """(header line, delimiter, offset of the header in `text`)."""
    start = 0
    forced = None
    while True:
        end = _line_end(text, start)
        line = text[start:end]
        if line.strip(" \t;,|"):
            match = re.fullmatch(r"\s*sep=(.)\s*", line, flags=re.IGNORECASE)
            if match and forced is None:
                forced = match.group(1)  # Excel's "sep=;" hint line
            else:
                break
        start = _next_line(text, end)
        if start >= len(text):
            raise DataError(f"{name}: the file has no header line")
    if forced:
        return line, forced, start
    best, best_score = ",", -1
    for delimiter in _DELIMITERS:
        fields = next(csv.reader([line], delimiter=delimiter))
        known = {_ALIAS_TO_COLUMN.get(_normalize(f)) for f in fields} - {None}
        score = 10 * len(known & set(REQUIRED)) + len(known)
        if score > best_score:
            best, best_score = delimiter, score
    return line, best, start


def _line_end(text: str, start: int) -> int:
    ends = [i for i in (text.find("\n", start), text.find("\r", start)) if i >= 0]
    return min(ends) if ends else len(text)


def _next_line(text: str, end: int) -> int:
    if text.startswith("\r\n", end):
        return end + 2
    return end + 1


def _normalize(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.strip().strip('"').lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\s\-.]+", "_", plain).strip("_")


def _map_header(name: str, header: list[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    positions: dict[str, int] = {}
    columns: dict[str, str] = {}
    ignored: list[str] = []
    for index, raw in enumerate(header):
        column = _ALIAS_TO_COLUMN.get(_normalize(raw))
        if column is None:
            if raw.strip():
                ignored.append(raw.strip())
            continue
        if column in positions:
            raise DataError(f"{name}: columns {columns[column]!r} and {raw.strip()!r} both mean {column!r}; "
                            "keep one of them")
        positions[column], columns[column] = index, raw.strip()
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        found = ", ".join(repr(h.strip()) for h in header[:8]) + (", ..." if len(header) > 8 else "")
        hint = ""
        if len(header) == 1:
            hint = " (one column only: is the delimiter something other than , ; tab or |?)"
        elif not positions:
            hint = " (is the first line a header? it must name the columns)"
        aliases = "; ".join(f"{c}: {', '.join(COLUMN_ALIASES[c][:4])}" for c in missing)
        raise DataError(f"{name}: missing column(s) {', '.join(missing)} in the header line; "
                        f"it has {found}{hint}. Accepted names: {aliases}")
    return positions, columns, ignored


# --- values ---------------------------------------------------------------------------------------

_TIME = r"(?:(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
_OFFSET = r"\s*([Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_YMD = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})" + _TIME + _OFFSET, re.IGNORECASE)
_DMY = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME + _OFFSET, re.IGNORECASE)
_FORMATS = "use YYYY-MM-DD HH:MM (optionally with Z or +01:00) or DD/MM/YYYY HH:MM, day first"


def parse_fecha(raw: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """(UTC instant, None) or (None, why not). Naive values are local to `zone`; date only = noon."""
    s = raw.strip()
    if not s:
        return None, "the date is empty"
    day_first = False
    match = _YMD.fullmatch(s)
    if match:
        year, month, day = int(match[1]), int(match[3]), int(match[4])
    else:
        match = _DMY.fullmatch(s)
        if not match:
            return None, _why_not_a_date(s)
        day_first = True
        day, month, year = int(match[1]), int(match[3]), int(match[4])
    hour, minute, second, fraction, offset = match.groups()[4:]
    if not 1900 <= year <= 2200:  # checked before any time zone conversion, which would overflow at the ends
        return None, f"the year {year} is out of range: check the year"
    if hour is None:
        hour, minute = "12", "0"  # a day without a time: noon keeps it on its local day
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        moment = datetime(year, month, day, int(hour), int(minute), int(second or 0), micro)
    except ValueError as exc:
        reason = f"not a valid date ({exc})"
        if day_first and month > 12 and day <= 12:
            reason += ("; dates with / are read day first (DD/MM/YYYY) and this one only works month first: "
                       "write dates as YYYY-MM-DD")
        return None, reason
    if offset is None:
        return moment.replace(tzinfo=zone).astimezone(_UTC), None
    if offset.upper() in ("Z", "UTC", "GMT"):
        return moment.replace(tzinfo=_UTC), None
    hours, minutes = int(offset[1:3]), int(offset[-2:]) if len(offset) > 3 else 0
    if hours > 14 or minutes >= 60:
        return None, f"the time zone offset {offset} does not exist"
    delta = timedelta(hours=hours, minutes=minutes) * (-1 if offset[0] == "-" else 1)
    return moment.replace(tzinfo=timezone(delta)).astimezone(_UTC), None


def _why_not_a_date(s: str) -> str:
    if re.fullmatch(r"\d{5}(?:[.,]\d+)?", s):
        return ("looks like an Excel date number, not a date: format the column as a date "
                "(YYYY-MM-DD HH:MM) before saving as CSV")
    if re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(?:\s.*)?", s):
        return "the year has two digits: write it with four (DD/MM/YYYY)"
    if re.search(r"\b[ap]\.?m\.?\b", s, flags=re.IGNORECASE):
        return f"12-hour times (AM/PM) are not accepted: {_FORMATS}"
    return f"not a date: {_FORMATS}"


_SEPARATORS = ".,' \u00a0\u202f"
_NUMBER = re.compile(r"[0-9" + _SEPARATORS + r"]*[0-9]")
_PLAIN = re.compile(r"(-?)([0-9]+)(?:([.,])([0-9]{1,2}|[0-9]{4,}))?")
_SCIENTIFIC = re.compile(r"[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]+")
_CURRENCY = re.compile(r"^(?:[€$£]|EUR|USD|MXN|ARS|COP|CLP|PEN|GBP)\s*|\s*(?:[€$£]|EUR|USD|MXN|ARS|COP|CLP|PEN|GBP)$",
                       re.IGNORECASE)
_NOT_NUMBERS = {"nan", "inf", "infinity", "null", "none", "n/a", "na", "#n/a", "#value!", "#¡valor!", "#div/0!", "-"}
COMMA, POINT = ",", "."


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """`1.234` or `1,234`: thousands or decimals, decided by the file's convention."""

    text: str
    separator: str
    sign: int

    def resolve(self, decimal: str) -> float:
        whole, frac = self.text.split(self.separator)
        value = float(f"{whole}.{frac}") if self.separator == decimal else float(whole + frac)
        return self.sign * value


def parse_amount(raw: str) -> tuple[float | Ambiguous | None, str | None, str | None]:
    """(value, decimal separator it shows, None) or (None, None, why not).

    The decimal separator is returned when the value proves one (`12,50`,
    `1.234,56`, `1.234.567`), so the file's convention can settle the
    ambiguous values.
    """
    s = raw.strip()
    plain = _PLAIN.fullmatch(s)
    if plain:
        # Most amounts (`12`, `-3,50`, `1234.5`): one separator at most, not followed by exactly 3 digits.
        sign, whole, separator, frac = plain.groups()
        value = float(f"{whole}.{frac}") if separator else float(whole)
        return (-value if sign else value), separator, None
    if not s:
        return None, None, "empty"
    if s.lower() in _NOT_NUMBERS or s.lower().lstrip("+-") in _NOT_NUMBERS:
        return None, None, "not a number: write the amount with digits, e.g. 1234,56"
    s = _CURRENCY.sub("", s)
    sign = 1
    if s and s[0] in "+-\u2212":
        sign, s = (-1 if s[0] != "+" else 1), _CURRENCY.sub("", s[1:].lstrip())
    if _SCIENTIFIC.fullmatch(s):
        value = float(s)
        if not math.isfinite(value):
            return None, None, "the number is too large"
        return sign * value, None, None
    if s and s[0] in ".,":
        s = "0" + s
    if not _NUMBER.fullmatch(s):
        return None, None, "not a number: write the amount with digits, e.g. 1234,56"
    separators = [ch for ch in s if ch in _SEPARATORS]
    if not separators:
        return sign * float(s), None, None
    groups = re.split(r"[" + _SEPARATORS + r"]", s)
    if any(not g for g in groups):
        return None, None, "two separators in a row"
    last = separators[-1]
    before = set(separators[:-1])
    if last in ".," and before and last not in before:
        # 1.234,56 / 1,234.56 / 1 234,56: the last one is the decimal separator.
        if len(before) > 1 or not _grouped(groups[:-1]):
            return None, None, "the thousands separators are misplaced"
        return sign * float("".join(groups[:-1]) + "." + groups[-1]), last, None
    if len(set(separators)) > 1:
        return None, None, "mixed separators that don't make a number"
    if last not in ".," or len(separators) > 1:
        if not _grouped(groups):
            return None, None, "the thousands separators are misplaced"
        proves = {POINT: COMMA, COMMA: POINT}.get(last) if last in ".," else None  # 1.234.567: '.' groups
        return sign * float("".join(groups)), proves, None
    whole, frac = groups
    if len(frac) != 3 or len(whole) > 3 or whole.startswith("0"):
        # 12,5 / 0,125 / 1234,567: only a decimal reading makes sense.
        return sign * float(f"{whole}.{frac}"), last, None
    return Ambiguous(s, last, sign), None, None


def _grouped(groups: Sequence[str]) -> bool:
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


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

    def fail(self, line: int, reason: str, column: str | None = None, value: str | None = None) -> None:
        self.errors.append(RowError(line, None if column is None else self.columns.get(column, column), value, reason))

    def add(self, line: int, fields: list[str]) -> None:
        if not "".join(fields).strip():
            self.blank_lines += 1
            return
        self.data_rows += 1
        if len(fields) != self.width:
            self.fail(line, f"{len(fields)} field(s) where the header has {self.width}; a value containing the "
                            f"delimiter must be in double quotes")
            return
        p = self.positions
        bad = len(self.errors)
        sale_id = fields[p["id"]].strip()
        if not sale_id:
            self.fail(line, "the sale id is empty", "id", fields[p["id"]])
        elif len(sale_id) > MAX_ID_LENGTH:
            self.fail(line, f"the sale id is longer than {MAX_ID_LENGTH} characters", "id", sale_id)
        else:
            self.seen.setdefault(sale_id, []).append(line)

        raw = fields[p["fecha"]]
        fecha, why = parse_fecha(raw, self.zone)
        if why:
            self.fail(line, why, "fecha", raw)
        elif fecha < self.earliest:
            self.fail(line, "before 2000-01-01: check the year", "fecha", raw)
        elif fecha > self.latest:
            self.fail(line, f"in the future (after {self.latest:%Y-%m-%d %H:%M} UTC): a sale can't be imported "
                            "before it happens; check the year and that the day comes first", "fecha", raw)

        row: dict[str, Any] = {"id": sale_id, "fecha": fecha}
        if self.tenant_id is not None:
            row["negocio_id"] = self.tenant_id
        if "negocio_id" in p:
            owner = fields[p["negocio_id"]].strip()
            if owner and self.tenant_id is not None and owner != self.tenant_id:
                self.fail(line, f"this sale belongs to business {owner!r}, not {self.tenant_id!r}; import each "
                                "business's sales into that business", "negocio_id", owner)
        row["total"] = self._number(line, "total", fields[p["total"]], required=True)
        if "producto_id" in p:
            product = fields[p["producto_id"]].strip()
            if len(product) > MAX_ID_LENGTH:
                self.fail(line, f"the product id is longer than {MAX_ID_LENGTH} characters", "producto_id", product)
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
        if why == "empty":
            if required:
                self.fail(line, "the amount is empty", column, raw)
            return None
        if why:
            self.fail(line, why, column, raw)
            return None
        if isinstance(value, float) and not abs(value) <= MAX_ABS_AMOUNT:  # NaN and infinities fail too
            self.fail(line, f"beyond {MAX_ABS_AMOUNT:,.0f}: no sale comes near it; check the column", column, raw)
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
            shows = ("mixes decimal commas and decimal points" if all(self.decimals.values())
                     else "has no other amount showing its decimal separator")
            plain = value.text.replace(value.separator, "")
            self.fail(self.lines[index], f"ambiguous: it could be {plain} or {value.text.replace(',', '.')} and the "
                                         f"file {shows}; write it as {plain} or with two decimals", column, raw)
            dropped.add(index)
        for sale_id, lines in self.seen.items():
            if len(lines) > 1:
                for line in lines:
                    others = ", ".join(str(n) for n in lines if n != line)
                    self.fail(line, f"the same sale id is also on line(s) {others}; each sale must appear once",
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
    from .tenants import get_tenant

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
        errors = [RowError(line, plan.columns["id"], row["id"],
                           "this sale id is already used by another business; ids are unique across "
                           "businesses, so give this sale another id")
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
_LOOKUP_CHUNK = 500


def _stored_sales(storage: Storage, tenant_id: str, ids: Sequence[str],
                  columns: Iterable[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(this tenant's stored sales among `ids`, by id; owner of each id stored under another tenant).

    SQL backends look the ids up by primary key, 500 at a time. The storage
    protocol can only read one tenant at a time, so other backends read
    every tenant's sale ids: correct, but it grows with the whole database.
    """
    wanted = [c for c in _SALE_COLUMNS if c in set(columns) | {"id", "negocio_id", "fecha", "total"}]
    if isinstance(storage, SQLStorage):
        found = _lookup_sql(storage, ids, wanted)
    else:
        found = _lookup_by_tenant(storage, tenant_id, set(ids), wanted)
    mine = {str(r["id"]): r for r in found if str(r["negocio_id"]) == str(tenant_id)}
    foreign = {str(r["id"]): str(r["negocio_id"]) for r in found if str(r["negocio_id"]) != str(tenant_id)}
    return mine, foreign


def _lookup_sql(storage, ids: Sequence[str], wanted: Sequence[str]) -> list[dict[str, Any]]:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from ..storage.schema import TABLES

    ventas = TABLES["ventas"]
    found: list[dict[str, Any]] = []
    try:
        with storage.engine.connect() as conn:
            for start in range(0, len(ids), _LOOKUP_CHUNK):
                chunk = ids[start:start + _LOOKUP_CHUNK]
                stmt = select(*[ventas.c[c] for c in wanted]).where(ventas.c.id.in_(chunk))
                found.extend(dict(r._mapping) for r in conn.execute(stmt))
    except SQLAlchemyError as exc:
        raise StorageError(f"could not read existing sales: {str(getattr(exc, 'orig', exc)).splitlines()[0]}; "
                           "nothing was imported") from None
    return found


def _lookup_by_tenant(storage: Storage, tenant_id: str, ids: set[str], wanted: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for owner in [str(tenant_id), *[str(t) for t in storage.tenants()["id"] if str(t) != str(tenant_id)]]:
        cols = list(wanted) if owner == str(tenant_id) else ["id", "negocio_id"]
        frame = storage.select("ventas", owner, columns=cols)
        frame = frame[frame["id"].astype(str).isin(ids)]
        found.extend(frame.to_dict(orient="records"))
    return found


def _differs(row: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    for column, value in row.items():
        if column in ("id", "negocio_id") or column not in stored:
            continue
        old = stored[column]
        if column == "fecha":
            if _aware(_to_datetime(old)) != value:
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
