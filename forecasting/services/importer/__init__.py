"""Import one tenant's sales from a CSV file: validate every row, then write all of them or none.

Two steps, so the dashboard can show problems before anything is written:

* `parse_sales_csv(source, tenant_timezone=...)` is pure: bytes in, an
  `ImportPlan` out (rows ready for `storage.upsert("ventas", ...)` and every
  problem with its line number; the header is line 1).
* `import_sales(storage, tenant_id, source)` parses, refuses the whole file
  if any row is bad, refuses ids stored under another tenant, and upserts
  everything in one call (one transaction on SQL backends).

The parts: `reading` (bytes, an upload or a path to text: size, encoding,
delimiter, header), `values` (dates and amounts), `validation` (row rules,
every error with its line, the error table, `parse_sales_csv`) and `loading`
(a plan to storage, the report). Callers import from this package.

Every reason a row is refused is a `Reason` (a catalog key under
`import.why.*` and its values): English in exception messages and the CLI,
the reader's language on the dashboard (`RowError.reason_in(lang)`,
`ui.tables.import_errors_table`); `ImportReport.summary(lang)` likewise.

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
* Dates: one policy for every CSV (`values.read_date`; csvtools reads
  its dates there too). ISO (`2026-03-01 14:05`, `2026-03-01T14:05:00Z`,
  `2026-03-01T14:05:00+01:00`, `2026/03/01`), or day first with `/`, `-`
  or `.` (`01/03/2026 14:05` is 1 March) in every file. Day first because
  our users are mostly Spanish-speaking and Spanish-locale Excel writes
  DD/MM/YYYY; a value that only makes sense month first (`03/25/2026`) is
  an error that says so instead of a silent guess, and the order is never
  guessed per file either. Times without an offset are the tenant's local
  time; a date without a time is noon local, so its local day survives
  any conversion. A local time skipped by a daylight-saving change is
  moved forward, a repeated one takes the first occurrence: the sale
  happened, the till's clock is not worth a rejected file. Accepted range:
  2000-01-01 (local) to `now` + 1 day; a future sale is an error.
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

from .loading import ImportReport, import_sales
from .reading import (
    COLUMN_ALIASES,
    MAX_BYTES,
    MAX_ROWS,
    MAX_UPLOAD_MB,
    REQUIRED,
    SalesFile,
    Source,
    read_sales_file,
    read_text_file,
)
from .validation import MAX_ID_LENGTH, MAX_LISTED, ImportPlan, RowError, SalesImportError, error_table, parse_sales_csv
from .values import Ambiguous, Reason, WrittenDate, parse_amount, parse_fecha, read_date, read_written_date

__all__ = ["COLUMN_ALIASES", "MAX_BYTES", "MAX_ID_LENGTH", "MAX_LISTED", "MAX_ROWS", "MAX_UPLOAD_MB", "REQUIRED",
           "Ambiguous", "ImportPlan", "ImportReport", "Reason", "RowError", "SalesFile", "SalesImportError", "Source",
           "WrittenDate", "error_table", "import_sales", "parse_amount", "parse_fecha", "parse_sales_csv", "read_date",
           "read_sales_file", "read_text_file", "read_written_date"]
