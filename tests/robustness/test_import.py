"""Sales import: every malformed file gets a clear, line-numbered error and writes nothing."""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from forecasting.core.errors import DataError
from forecasting.services.importer import RowError, SalesImportError, error_table, import_sales, parse_sales_csv
from forecasting.services.sales import daily_sales
from forecasting.storage import SQLStorage
from tests.support import NOW, shop_database

MADRID = "Europe/Madrid"
UTC = timezone.utc


def parse(text: str | bytes, *, tz: str = MADRID, **kwargs):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_sales_csv(data, tenant_timezone=tz, now=NOW, **kwargs)


def only_error(plan) -> RowError:
    assert len(plan.errors) == 1, plan.errors
    return plan.errors[0]


@pytest.fixture
def shop(storage):
    """The storage with one tenant, `t`, in Madrid, and no sales."""
    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T", "timezone": MADRID}])
    return storage


def stored(storage, tenant="t"):
    frame = storage.select("ventas", tenant, order_by="id")
    return {row["id"]: row for row in frame.to_dict(orient="records")}


# --- the file as a whole --------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_refused(content):
    with pytest.raises(DataError, match="empty"):
        parse(content)


def test_a_header_only_file_is_refused():
    with pytest.raises(DataError, match="only the column names"):
        parse("id,fecha,total\n\n")


def test_a_missing_required_column_is_named_with_the_accepted_names():
    with pytest.raises(DataError, match=r"missing column\(s\) total.*Accepted names: total: total, amount"):
        parse("id,fecha,cantidad\n1,2026-03-01,2\n")


def test_a_file_without_a_header_says_the_first_line_must_name_the_columns():
    with pytest.raises(DataError, match="is the first line a header"):
        parse("1,2026-03-01,5\n2,2026-03-02,6\n")


def test_an_unsupported_delimiter_is_hinted():
    with pytest.raises(DataError, match="one column only: is the delimiter"):
        parse("id:fecha:total\n1:2026-03-01:5\n")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected_from_the_header(delimiter):
    body = delimiter.join(["id", "fecha", "total"]) + "\n" + delimiter.join(["a", "2026-03-01 10:00", "7"]) + "\n"
    plan = parse(body)
    assert plan.delimiter == delimiter and plan.ok
    assert plan.rows[0]["total"] == 7.0


def test_a_semicolon_file_with_decimal_commas_is_read():
    plan = parse("id;fecha;total;cantidad\nA;01/03/2026 14:05;1.234,56;1,5\nB;02/03/2026;-12,00;2\n")
    assert plan.ok and plan.delimiter == ";"
    assert [(r["id"], r["total"], r["cantidad"]) for r in plan.rows] == [("A", 1234.56, 1.5), ("B", -12.0, 2.0)]


def test_excels_sep_line_sets_the_delimiter():
    plan = parse("sep=|\nid|fecha|total\nA|2026-03-01|5,5\nB|2026-03-01|x\n")
    assert plan.delimiter == "|" and plan.rows[0]["total"] == 5.5
    assert only_error(plan).line == 4  # the sep= line is line 1 in an editor


def test_header_names_ignore_case_spaces_accents_and_accept_aliases():
    plan = parse(" Ticket ;  DATE ; Importe ; Producto ; Unidades \nA;2026-03-01;5;Café;2\n")
    assert plan.ok
    assert plan.columns == {"id": "Ticket", "fecha": "DATE", "total": "Importe", "producto_id": "Producto",
                            "cantidad": "Unidades"}
    assert plan.rows[0]["producto_id"] == "Café" and plan.rows[0]["cantidad"] == 2.0


def test_unknown_columns_are_ignored_and_listed():
    plan = parse("id,fecha,total,cliente,metodo de pago,\nA,2026-03-01,5,Ana,tarjeta,\n")
    assert plan.ok and plan.ignored_columns == ["cliente", "metodo de pago"]
    assert set(plan.rows[0]) == {"id", "fecha", "total"}


def test_two_columns_meaning_the_same_are_refused():
    with pytest.raises(DataError, match="'fecha' and 'date' both mean 'fecha'"):
        parse("id,fecha,date,total\nA,2026-03-01,2026-03-01,5\n")


def test_binary_garbage_is_refused():
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(5000))
    with pytest.raises(DataError, match="not a text file"):
        parse(garbage)
    short = bytes(rng.randrange(1, 32) for _ in range(200))  # no NUL byte at all
    with pytest.raises(DataError, match="not a text file"):
        parse(short)


def test_a_spreadsheet_is_refused_with_what_to_do():
    with pytest.raises(DataError, match=r"Excel workbook \(.xlsx\).*save it as 'CSV UTF-8'"):
        parse(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100)


def test_a_utf8_bom_does_not_hide_the_first_column():
    plan = parse("\ufeffid;fecha;total\nA;2026-03-01;5\n".encode("utf-8"))
    assert plan.ok and plan.encoding == "utf-8-sig" and plan.columns["id"] == "id"


def test_a_cp1252_file_with_accents_is_read_and_says_so():
    content = "id;Fecha;Importe;Producto;Descripción\nA;01/03/2026;3,50;Café;Con leche\nB;01/03/2026;1;Té;\n"
    plan = parse(content.encode("cp1252"))
    assert plan.ok and plan.encoding == "cp1252"
    assert [r["producto_id"] for r in plan.rows] == ["Café", "Té"]
    assert plan.ignored_columns == ["Descripción"]


def test_a_latin1_file_that_is_not_cp1252_still_reads():
    # 0x81 is undefined in cp1252, so only latin-1 can read this file.
    content = "id;fecha;total;producto\nA;01/03/2026;3;Caf\xe9\x81\n".encode("latin-1")
    plan = parse(content)
    assert plan.ok and plan.encoding == "latin-1" and plan.rows[0]["producto_id"] == "Caf\xe9\x81"


def test_excels_unicode_text_utf16_is_read():
    plan = parse("id\tfecha\ttotal\r\nA\t2026-03-01\t1,5\r\n".encode("utf-16"))
    assert plan.ok and plan.encoding == "utf-16" and plan.delimiter == "\t" and plan.rows[0]["total"] == 1.5


def test_mixed_line_endings_keep_editor_line_numbers():
    plan = parse("id,fecha,total\r\nA,2026-03-01,1\nB,2026-03-01,2\rC,2026-03-01,oops\r\nD,2026-03-01,4\n")
    assert [r["id"] for r in plan.rows] == ["A", "B", "D"]
    assert only_error(plan).line == 4


def test_quoted_fields_may_hold_delimiters_quotes_and_newlines():
    content = ('id;fecha;total;producto;nota\n'
               '"A;1";2026-03-01;"1.234,50";"Pan ""grande""";"dos\nlíneas"\n'
               'B;2026-03-01;x;P;\n')
    plan = parse(content)
    assert plan.rows[0]["id"] == "A;1" and plan.rows[0]["total"] == 1234.5
    assert plan.rows[0]["producto_id"] == 'Pan "grande"'
    assert only_error(plan).line == 4  # record A spans lines 2 and 3


def test_an_unclosed_quote_is_reported_not_swallowed():
    plan = parse('id,fecha,total\nA,2026-03-01,1\n"B,2026-03-01,2\nC,2026-03-01,3\n')
    assert plan.rows and plan.rows[0]["id"] == "A"
    assert plan.errors and plan.errors[0].line == 3
    assert plan.valid_rows + plan.invalid_rows == plan.data_rows


def test_blank_lines_are_skipped_but_still_counted_as_lines():
    plan = parse("id;fecha;total\n\nA;2026-03-01;1\n;;\nB;2026-03-01;nope\n")
    assert plan.blank_lines == 2 and plan.data_rows == 2
    assert only_error(plan).line == 5


def test_a_row_with_the_wrong_number_of_fields_is_reported():
    plan = parse("id,fecha,total\nA,2026-03-01,1,5\nB,2026-03-01\nC,2026-03-01,3\n")
    assert [e.line for e in plan.errors] == [2, 3]
    assert "4 fields where the header has 3" in plan.errors[0].reason
    assert "double quotes" in plan.errors[0].reason
    assert [r["id"] for r in plan.rows] == ["C"]


def test_an_empty_or_blank_id_is_rejected():
    plan = parse("id,fecha,total\n  ,2026-03-01,1\nB,2026-03-01,2\n")
    error = only_error(plan)
    assert (error.line, error.column, error.reason) == (2, "id", "the sale id is empty")


# --- amounts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("1.234,56", 1234.56), ("1,234.56", 1234.56), ("1234,5", 1234.5), ("-12,00", -12.0), ("0,125", 0.125),
    ("1 234,56", 1234.56), ("1.234.567", 1234567.0), ("1,234,567.5", 1234567.5), ("€12,50", 12.5),
    ("12,50 €", 12.5), ("-$3.20", -3.2), ("1.5E+03", 1500.0), ("0", 0.0), ("1234,567", 1234.567),
])
def test_amount_formats(text, value):
    plan = parse(f'id;fecha;total\nA;2026-03-01;"{text}"\n')
    assert plan.ok, plan.errors
    assert plan.rows[0]["total"] == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("text", ["NaN", "nan", "inf", "-inf", "Infinity", "#N/A", "doce", "12,3,4", "1..5", "-",
                                  "9e999", "12.5.3"])
def test_nan_infinity_and_text_amounts_are_rejected(text):
    plan = parse(f'id;fecha;total\nA;2026-03-01;1\nB;2026-03-01;"{text}"\n')
    error = only_error(plan)
    assert (error.line, error.column, error.value) == (3, "total", text)
    assert [r["id"] for r in plan.rows] == ["A"]


@pytest.mark.parametrize("text", ["1E+308", "1" + "0" * 400, "-1e13", "99999999999999", "1.000.000.000.000.000,00"])
@pytest.mark.parametrize("column", ["total", "cantidad"])
def test_absurd_amounts_are_rejected_at_their_line(text, column):
    """Finite to Python but no sale: 1E+308 trained to a MASE of 8.8e303 and broke every money format."""
    other = "cantidad" if column == "total" else "total"
    plan = parse(f'id;fecha;{column};{other}\nA;2026-03-01;1;1\nB;2026-03-01;"{text}";1\n')
    error = only_error(plan)
    assert (error.line, error.column, error.value) == (3, column, text)
    assert "beyond 1,000,000,000,000" in error.reason
    assert [r["id"] for r in plan.rows] == ["A"]


@pytest.mark.parametrize("tz, text", [("America/Los_Angeles", "9999-12-31 23:00"), (MADRID, "0001-01-01T00:00+01:00"),
                                      (MADRID, "31/12/9999 23:59"), ("Pacific/Kiritimati", "0001-01-01 00:00")])
def test_dates_at_the_ends_of_the_calendar_are_row_errors_not_crashes(tz, text):
    plan = parse(f"id,fecha,total\nA,2026-03-01,1\nB,{text},1\n", tz=tz)
    error = only_error(plan)
    assert (error.line, error.column, error.value) == (3, "fecha", text)
    assert "out of range" in error.reason


def test_the_cli_reports_an_out_of_range_date_in_words(tmp_path):
    db = shop_database(tmp_path / "shop.db", "America/Los_Angeles")
    source = tmp_path / "ventas.csv"
    source.write_text("id,fecha,total\nA,2026-03-01,1\nB,9999-12-31 23:00,1\nC,2026-03-01,1E+308\n")
    done = subprocess.run([sys.executable, "-m", "forecasting", "--quiet", "--db", str(db), "import-sales", "--tenant",
                           "t", "--csv", str(source)], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                          text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "line 3" in done.stderr and "line 4" in done.stderr and "out of range" in done.stderr
    assert SQLStorage.sqlite_file(db).count("ventas", "t") == 0


def test_an_empty_amount_is_rejected_but_an_empty_quantity_is_none():
    plan = parse("id,fecha,total,cantidad\nA,2026-03-01,,1\nB,2026-03-01,3,\n")
    assert only_error(plan).reason == "the amount is empty"
    assert plan.rows == [{"id": "B", "fecha": plan.rows[0]["fecha"], "total": 3.0, "cantidad": None}]


@pytest.mark.parametrize("other, expected", [("12,50", 1234.0), ("12.50", 1.234)])
def test_an_ambiguous_amount_follows_the_files_decimal_separator(other, expected):
    plan = parse(f'id;fecha;total\nA;2026-03-01;"{other}"\nB;2026-03-01;1.234\n')
    assert plan.ok
    assert plan.rows[1]["total"] == pytest.approx(expected)


@pytest.mark.parametrize("others", [["5", "7"], ["12,50", "3.25"]])
def test_an_ambiguous_amount_without_a_convention_is_reported_with_both_readings(others):
    lines = "".join(f'X{i};2026-03-01;"{v}"\n' for i, v in enumerate(others))
    plan = parse(f"id;fecha;total\n{lines}A;2026-03-01;1.234\n")
    error = only_error(plan)
    assert error.line == 2 + len(others) and "could be 1234 or 1.234" in error.reason
    assert "A" not in {r["id"] for r in plan.rows}


# --- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, instant", [
    ("2026-03-01 14:05", datetime(2026, 3, 1, 13, 5, tzinfo=UTC)),  # Madrid is UTC+1 in March
    ("2026-03-01T14:05:00Z", datetime(2026, 3, 1, 14, 5, tzinfo=UTC)),
    ("2026-03-01T14:05:00+01:00", datetime(2026, 3, 1, 13, 5, tzinfo=UTC)),
    ("2026-03-01T14:05:00-0300", datetime(2026, 3, 1, 17, 5, tzinfo=UTC)),
    ("2026-03-01 14:05:30.25", datetime(2026, 3, 1, 13, 5, 30, 250000, tzinfo=UTC)),
    ("2026/03/01 14:05", datetime(2026, 3, 1, 13, 5, tzinfo=UTC)),
    ("01/03/2026 14:05", datetime(2026, 3, 1, 13, 5, tzinfo=UTC)),
    ("1/3/2026 14:05:09", datetime(2026, 3, 1, 13, 5, 9, tzinfo=UTC)),
    ("01.03.2026 14:05", datetime(2026, 3, 1, 13, 5, tzinfo=UTC)),
    ("01-03-2026", datetime(2026, 3, 1, 11, 0, tzinfo=UTC)),
    ("2026-07-01", datetime(2026, 7, 1, 10, 0, tzinfo=UTC)),  # date only: noon local, UTC+2 in summer
])
def test_dates_in_each_supported_format(text, instant):
    plan = parse(f"id;fecha;total\nA;{text};1\n")
    assert plan.ok, plan.errors
    assert plan.rows[0]["fecha"] == instant and plan.rows[0]["fecha"].tzinfo == UTC


def test_slashed_dates_are_day_first_and_month_first_ones_are_explained():
    plan = parse("id;fecha;total\nA;12/03/2026;1\nB;03/25/2026;1\n")
    assert plan.rows[0]["fecha"] == datetime(2026, 3, 12, 11, 0, tzinfo=UTC)  # 12 March, not 3 December
    error = only_error(plan)
    assert error.line == 3 and "day first" in error.reason and "YYYY-MM-DD" in error.reason


@pytest.mark.parametrize("text, reason", [
    ("46082", "Excel date number"), ("01/03/26", "two digits"), ("ayer", "not a date"),
    ("2026-02-30", "day is out of range"), ("2026-03-01 25:00", "hour must be in 0..23"),
    ("1/3/2026 2:05 PM", "AM/PM"), ("", "empty"), ("2026-03-01T10:00+25:00", "offset"),
])
def test_unreadable_dates_are_reported_with_a_reason(text, reason):
    plan = parse(f"id;fecha;total\nA;2026-03-01;1\nB;{text};1\n")
    error = only_error(plan)
    assert (error.line, error.column) == (3, "fecha") and reason in error.reason


def test_dates_before_2000_are_rejected():
    plan = parse("id,fecha,total\nA,1999-12-31 23:59,1\nB,2000-01-01 00:00,1\nC,01/01/1970,1\n")
    assert [e.line for e in plan.errors] == [2, 4]
    assert all("before 2000-01-01" in e.reason for e in plan.errors)
    assert [r["id"] for r in plan.rows] == ["B"]


def test_future_sales_are_rejected_beyond_one_day():
    soon = (NOW + timedelta(hours=23)).strftime("%Y-%m-%dT%H:%M:%SZ")
    late = (NOW + timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = parse(f"id,fecha,total\nA,{soon},1\nB,{late},1\nC,2031-01-01,1\n")
    assert [e.line for e in plan.errors] == [3, 4]
    assert "in the future" in plan.errors[0].reason
    assert [r["id"] for r in plan.rows] == ["A"]


def test_a_local_time_skipped_by_daylight_saving_moves_forward():
    # 02:30 does not exist in Madrid on 2026-03-29; the sale is kept at 03:30 CEST.
    plan = parse("id,fecha,total\nA,2026-03-29 02:30,1\nB,2026-10-25 02:30,1\n")
    assert plan.ok
    assert plan.rows[0]["fecha"] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert plan.rows[1]["fecha"] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # repeated hour: the first one


def test_naive_times_are_the_tenants_and_offsets_are_kept(storage):
    storage.upsert("negocios", "mx", [{"id": "mx", "nombre": "MX", "timezone": "America/Mexico_City"}])
    content = "id,fecha,total\nn,2026-03-01 09:00,1\nz,2026-03-01T09:00:00Z,1\no,2026-03-01T09:00:00+01:00,1\n"
    import_sales(storage, "mx", content.encode(), now=NOW)
    fechas = {k: row["fecha"] for k, row in stored(storage, "mx").items()}
    assert fechas == {"n": datetime(2026, 3, 1, 15, 0, tzinfo=UTC),  # Mexico City is UTC-6
                      "z": datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
                      "o": datetime(2026, 3, 1, 8, 0, tzinfo=UTC)}


# --- ids ------------------------------------------------------------------------------------------


def test_the_same_id_twice_reports_every_line_it_is_on():
    plan = parse("id,fecha,total\nA,2026-03-01,1\nB,2026-03-01,2\nA,2026-03-02,3\nC,2026-03-01,4\nA,2026-03-03,5\n")
    assert [(e.line, e.value) for e in plan.errors] == [(2, "A"), (4, "A"), (6, "A")]
    assert "also on lines 4, 6" in plan.errors[0].reason
    assert "also on lines 2, 6" in plan.errors[1].reason
    assert [r["id"] for r in plan.rows] == ["B", "C"]


def test_a_negocio_id_column_must_name_this_tenant():
    plan = parse("id,negocio_id,fecha,total\nA,t,2026-03-01,1\nB,otro,2026-03-01,1\n", tenant_id="t")
    error = only_error(plan)
    assert error.line == 3 and "belongs to business 'otro'" in error.reason
    assert plan.rows[0]["negocio_id"] == "t"


def test_an_overlong_id_is_rejected():
    plan = parse(f"id,fecha,total\n{'x' * 65},2026-03-01,1\n")
    assert "longer than 64" in only_error(plan).reason


# --- writing --------------------------------------------------------------------------------------


def test_an_unknown_tenant_is_refused(storage):
    with pytest.raises(DataError, match="unknown tenant 'nope'"):
        import_sales(storage, "nope", b"id,fecha,total\nA,2026-03-01,1\n", now=NOW)


def test_a_valid_file_is_imported_with_every_value(shop):
    content = "id;fecha;importe;producto;cantidad\nA;01/03/2026 14:05;1.234,56;P1;2\nB;2026-03-02;-3,50;;\n"
    report = import_sales(shop, "t", content.encode(), now=NOW)
    assert (report.rows, report.inserted, report.already_present) == (2, 2, 0)
    rows = stored(shop)
    assert rows["A"]["total"] == 1234.56 and rows["A"]["producto_id"] == "P1" and rows["A"]["cantidad"] == 2.0
    assert rows["A"]["fecha"] == datetime(2026, 3, 1, 13, 5, tzinfo=UTC) and rows["A"]["negocio_id"] == "t"
    assert rows["B"]["total"] == -3.5 and rows["B"]["producto_id"] is None
    assert "2 new, 0 already present" in report.summary()


def test_reimporting_the_same_file_adds_nothing_and_says_so(shop, tmp_path):
    path = tmp_path / "ventas.csv"
    path.write_text("id,fecha,total\nA,2026-03-01,1\nB,2026-03-02,2\n", encoding="utf-8")
    first = import_sales(shop, "t", path, now=NOW)
    again = import_sales(shop, "t", path, now=NOW)
    assert (first.inserted, first.already_present) == (2, 0)
    assert (again.inserted, again.already_present, again.updated) == (0, 2, 0)
    assert "nothing new" in again.summary()
    assert shop.count("ventas", "t") == 2


def test_a_corrected_file_updates_the_changed_sales_and_counts_them(shop):
    import_sales(shop, "t", b"id,fecha,total\nA,2026-03-01,1\nB,2026-03-02,2\n", now=NOW)
    report = import_sales(shop, "t", b"id,fecha,total\nA,2026-03-01,1\nB,2026-03-02,20\nC,2026-03-03,3\n", now=NOW)
    assert (report.inserted, report.already_present, report.updated) == (1, 2, 1)
    assert stored(shop)["B"]["total"] == 20.0


def test_a_file_without_products_does_not_erase_stored_products(shop):
    import_sales(shop, "t", b"id,fecha,total,producto_id,cantidad\nA,2026-03-01,1,P1,3\n", now=NOW)
    import_sales(shop, "t", b"id,fecha,total\nA,2026-03-01,1\n", now=NOW)
    row = stored(shop)["A"]
    assert (row["producto_id"], row["cantidad"]) == ("P1", 3.0)


def test_an_id_of_another_tenant_is_refused_and_left_untouched(demo_storage):
    before = demo_storage.select("ventas", "1", where={"id": "1-1"}).iloc[0].to_dict()
    content = "id,fecha,total\nnew-1,2026-03-01,5\n1-1,2026-03-01,999\n"
    with pytest.raises(SalesImportError, match="already used by another business") as caught:
        import_sales(demo_storage, "2", content.encode(), now=NOW)
    assert [(e.line, e.value) for e in caught.value.errors] == [(3, "1-1")]
    assert "'1'" not in str(caught.value)  # the uploader may not know, or see, the business that owns it
    assert demo_storage.select("ventas", "1", where={"id": "1-1"}).iloc[0].to_dict() == before
    assert demo_storage.select("ventas", "2", where={"id": "new-1"}).empty  # all or nothing


def test_one_bad_row_among_a_thousand_writes_nothing(shop):
    lines = [f"s{i},2026-03-01 10:00,{i}.5" for i in range(1000)]
    lines[617] = "s617,2026-03-01 10:00,diez"
    content = ("id,fecha,total\n" + "\n".join(lines) + "\n").encode()
    with pytest.raises(SalesImportError) as caught:
        import_sales(shop, "t", content, now=NOW)
    assert [e.line for e in caught.value.errors] == [619]
    assert "nothing was imported" in str(caught.value) and "line 619, total 'diez'" in str(caught.value)
    assert shop.count("ventas", "t") == 0


def test_the_message_lists_ten_problems_and_errors_holds_all(shop):
    content = "id,fecha,total\n" + "".join(f"s{i},2026-03-01,x\n" for i in range(25))
    with pytest.raises(SalesImportError) as caught:
        import_sales(shop, "t", content.encode(), now=NOW)
    assert len(caught.value.errors) == 25
    table = error_table(caught.value.errors)
    assert list(table.columns) == ["line", "column", "value", "reason"] and table["line"].tolist() == list(range(2, 27))
    message = str(caught.value)
    assert message.startswith("25 problem(s) on 25 line(s); nothing was imported")
    assert "line 11," in message and "line 12," not in message and "and 15 more" in message


def test_a_successful_import_shows_in_the_next_daily_series(shop):
    import_sales(shop, "t", b"id,fecha,total\nA,2026-11-20 10:00,5\n", now=NOW)
    before = daily_sales(shop, "t", timezone=MADRID, max_days=30, now=NOW)
    import_sales(shop, "t", b"id,fecha,total\nB,2026-11-21 10:00,7\n", now=NOW)
    after = daily_sales(shop, "t", timezone=MADRID, max_days=30, now=NOW)
    assert before.sum() == 5.0 and after.sum() == 12.0


def test_uploads_paths_and_missing_files(shop, tmp_path):
    upload = io.BytesIO(b"id,fecha,total\nA,2026-03-01,1\n")
    upload.name = "ventas.csv"
    assert import_sales(shop, "t", upload, now=NOW).inserted == 1
    with pytest.raises(DataError, match="file not found"):
        import_sales(shop, "t", tmp_path / "nope.csv", now=NOW)
    text = io.StringIO("id,fecha,total\nB,2026-03-01,1\n")
    assert import_sales(shop, "t", text, now=NOW).inserted == 1


# --- size -----------------------------------------------------------------------------------------


def test_a_million_row_file_is_refused_above_max_rows_before_parsing(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("id,fecha,total\n")
        # Every row after the limit is garbage: a parser that read them would report errors, not refuse.
        out.write("".join(f"s{i},2026-03-01 10:00,{i % 97}\n" for i in range(500_000)))
        out.write("".join(f"s{i},never,x\n" for i in range(500_000, 1_000_000)))
    # Refused, not reported row by row: the garbage after the limit was never parsed. (How fast:
    # bench/operations.py.)
    with pytest.raises(DataError, match=r"more than 500,000 sales in one file.*split it"):
        parse_sales_csv(path, tenant_timezone=MADRID, now=NOW, max_rows=500_000)


def test_quoted_newlines_do_not_count_as_rows_for_the_limit():
    content = "id,fecha,total,nota\n" + "".join(f'{i},2026-03-01,1,"a\nb\nc"\n' for i in range(10))
    assert parse(content, max_rows=10).valid_rows == 10
    with pytest.raises(DataError, match="more than 9 sales"):
        parse(content, max_rows=9)


def test_a_100k_row_file_imports_and_reimports(shop, tmp_path):
    path = tmp_path / "ventas.csv"
    start = datetime(2025, 1, 1)
    stamps = [(start + timedelta(minutes=7 * i)).strftime("%d/%m/%Y %H:%M") for i in range(0, 100_000, 100)]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["id", "fecha", "total", "producto_id", "cantidad"])
        writer.writerows((f"v{i}", stamps[i // 100], f"{i % 997},{i % 100:02d}", f"P{i % 40}", i % 5 + 1)
                         for i in range(100_000))
    report = import_sales(shop, "t", path, now=NOW)  # how fast: bench/operations.py
    assert (report.inserted, report.already_present) == (100_000, 0)
    assert shop.count("ventas", "t") == 100_000
    stored_total = shop.select("ventas", "t")["total"].sum()
    assert stored_total == pytest.approx(sum(i % 997 + (i % 100) / 100 for i in range(100_000)))
    again = import_sales(shop, "t", path, now=NOW)
    assert (again.inserted, again.already_present, again.updated) == (0, 100_000, 0)
    assert shop.count("ventas", "t") == 100_000


def test_an_oversized_field_is_reported_at_its_line():
    content = "id,fecha,total,nota\nA,2026-03-01,1,ok\nB,2026-03-01,2,\"" + "x" * 200_000 + "\"\n"
    plan = parse(content)
    assert [r["id"] for r in plan.rows] == ["A"]
    assert only_error(plan).line == 3 and "can't be read" in only_error(plan).reason
    assert plan.valid_rows + plan.invalid_rows == plan.data_rows == 2


def test_blank_lines_before_the_header_keep_line_numbers():
    plan = parse("\n\nid,fecha,total\nA,2026-03-01,x\n")
    assert only_error(plan).line == 4


# --- every backend --------------------------------------------------------------------------------


@pytest.fixture
def any_backend(any_storage):
    """The same two tenants on each backend; tenant `a` already has sale `x1`."""
    for tenant in ("a", "b"):
        any_storage.upsert("negocios", tenant, [{"id": tenant, "nombre": tenant.upper(), "timezone": MADRID}])
    any_storage.upsert("ventas", "a", [{"id": "x1", "negocio_id": "a", "fecha": datetime(2026, 1, 1, tzinfo=UTC),
                                        "total": 10.0}])
    return any_storage


def test_every_backend_refuses_foreign_ids_and_counts_what_is_already_there(any_backend):
    store = any_backend
    with pytest.raises(SalesImportError, match="already used by another business"):
        import_sales(store, "b", b"id,fecha,total\ny1,2026-03-01,1\nx1,2026-03-01,2\n", now=NOW)
    assert store.select("ventas", "b").empty
    assert store.select("ventas", "a", where={"id": "x1"}).iloc[0]["total"] == 10.0

    content = b"id;fecha;total\ny1;01/03/2026 10:00;1,5\ny2;2026-03-02;2\n"
    first = import_sales(store, "b", content, now=NOW)
    again = import_sales(store, "b", content, now=NOW)
    assert (first.inserted, first.already_present) == (2, 0)
    assert (again.inserted, again.already_present, again.updated) == (0, 2, 0)
    rows = store.select("ventas", "b", order_by="id").to_dict(orient="records")
    assert [(r["id"], r["total"]) for r in rows] == [("y1", 1.5), ("y2", 2.0)]
    assert pd.Timestamp(rows[0]["fecha"]) == pd.Timestamp("2026-03-01 09:00", tz="UTC")

    corrected = import_sales(store, "b", b"id;fecha;total;cantidad\ny1;01/03/2026 10:00;1,5;\ny2;2026-03-02;3;\n",
                             now=NOW)  # the stored values, as each backend types them, compared with the file's
    assert (corrected.inserted, corrected.already_present, corrected.updated) == (0, 2, 1)
