"""Reading a sales CSV: bytes, an upload or a path to text (size, encoding), then delimiter and header.

`read_text_file` is the one CSV reader of `import-sales`, the dashboard's
upload and `forecast`/`backtest --csv` (csvtools), so every CSV is read
alike; `read_sales_file` adds what the sales import needs on top (the
delimiter, the header mapped to our columns, the records with their line
numbers). The decisions (encodings, delimiters, sizes) are listed in the
package's docstring.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ...core.errors import DataError
from ...i18n.catalog import t
from .values import Reason

Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes] | IO[str]

MAX_ROWS = 2_000_000
#: The largest file one import reads, in MiB: the dashboard's upload limit too (`server.maxUploadSize`
#: in .streamlit/config.toml, which Streamlit counts in MiB and calls MB). 2,000,000 (MAX_ROWS) sales
#: of a point-of-sale export's ~50 bytes each fit in it.
MAX_UPLOAD_MB = 100
MAX_BYTES = MAX_UPLOAD_MB * 1024 * 1024
# A file larger than this per allowed row is refused before it is read: no honest sales row is 1 KiB.
_BYTES_PER_ROW = 1024
_CHUNK = 1024 * 1024  # bytes read at a time from a stream of unknown length

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


def describe_format(encoding: str, delimiter: str, lang: str = "en") -> str:
    """`utf-8, semicolon-separated` and the like, for summaries, in `lang`."""
    name = _DELIMITER_NAMES.get(delimiter)
    if name is None:
        return t("import.format.other", lang, encoding=encoding, delimiter=repr(delimiter))
    return t(f"import.format.{name}", lang, encoding=encoding)


class UnreadableRecord(Exception):
    """Raised by `SalesFile.records` where the csv module gives up (a quote left open): `line`, `reason`."""

    def __init__(self, line: int, reason: Reason) -> None:
        super().__init__(str(reason))
        self.line, self.reason = line, reason


@dataclass(frozen=True)
class SalesFile:
    """A sales CSV read as far as its header: the text, and how to read its records."""

    name: str  # for messages: the path, the upload's name or "the file"
    text: str
    encoding: str
    delimiter: str
    header: list[str]
    positions: dict[str, int]  # our column -> its index in the header
    columns: dict[str, str]  # our column -> the header as the file writes it
    ignored: list[str]
    start: int  # offset of the header line in `text`

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line as an editor numbers it, fields) of each record below the header, blank ones included.

        Raises UnreadableRecord naming the line where the csv module can't go on.
        """
        text, start = self.text, self.start
        reader = csv.reader(io.StringIO(text[start:], newline=""), delimiter=self.delimiter)
        first_line = text.count("\n", 0, start) + text.count("\r", 0, start) - text.count("\r\n", 0, start) + 1
        # csv counts lines from the slice it reads; offset keeps numbers as an editor shows them.
        offset = first_line - 1
        next(reader, None)  # the header, already read
        previous = reader.line_num
        try:
            for fields in reader:
                line = offset + previous + 1
                previous = reader.line_num
                yield line, fields
        except csv.Error as exc:
            raise UnreadableRecord(offset + previous + 1, Reason.of("import.why.unreadable", error=str(exc))) from None


def read_sales_file(source: Source, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> SalesFile:
    """The file read, its delimiter found and its header mapped; DataError for a file that can't be imported.

    Refused here, before any row is validated: what `read_text_file` refuses,
    a file without a header line or without the required columns, and more
    than `max_rows` data rows.
    """
    name, text, encoding = _read_text(source, min(max_bytes, max_rows * _BYTES_PER_ROW))
    lines = _physical_lines(text)
    header_line, delimiter, start = _find_header(name, text)
    _refuse_too_many(name, text[start:], lines, max_rows)
    header = next(csv.reader([header_line], delimiter=delimiter))
    positions, columns, ignored = _map_header(name, header)
    return SalesFile(name=name, text=text, encoding=encoding, delimiter=delimiter, header=header,
                     positions=positions, columns=columns, ignored=ignored, start=start)


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

