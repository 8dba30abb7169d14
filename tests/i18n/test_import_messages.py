"""The sales import says what is wrong with a file, and what it imported, in the reader's language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from forecasting.i18n.catalog import STRINGS, plural_count, t
from forecasting.services.importer import ImportReport, Reason, SalesImportError, import_sales, parse_sales_csv
from forecasting.ui.tables import import_errors_table
from tests.support import NOW

IMPORTER = Path(__file__).resolve().parents[2] / "forecasting" / "services" / "importer"
_KEY = re.compile(r"""["'](import\.(?:why|summary|format|col)\.[\w.]+)["']""")
# Files with every kind of bad row the importer reports, one reason per line at least.
BAD_FILES = [
    ("id,fecha,total,producto_id\n"
     "A,,1,\n"  # the date is empty
     " ,2026-03-01,1,\n"  # the sale id is empty
     f"{'x' * 65},2026-03-01,1,\n"  # the sale id is too long
     f"B,2026-03-01,1,{'p' * 65}\n"  # the product id is too long
     "C,2026-02-30,1,\n"  # not a valid date
     "D,03/25/2026,1,\n"  # month first
     "E,01/03/26,1,\n"  # two-digit year
     "F,46082,1,\n"  # an Excel date number
     "G,1/3/2026 2:05 PM,1,\n"  # AM/PM
     "H,March 1,1,\n"  # not a date
     "I,1850-01-01,1,\n"  # year out of range
     "J,2026-03-01T10:00+16:00,1,\n"  # no such offset
     "K,1999-12-01,1,\n"  # before 2000
     "L,2099-01-01,1,\n"  # in the future
     "M,2026-03-01,,\n"  # the amount is empty
     "N,2026-03-01,diez,\n"  # not a number
     "O,2026-03-01,1e999,\n"  # too large
     "P,2026-03-01,\"1,,5\",\n"  # two separators in a row
     "Q,2026-03-01,\"12,34.567\",\n"  # misplaced thousands separators
     "R,2026-03-01,1 234.567.8,\n"  # mixed separators
     "S,2026-03-01,2e13,\n"  # beyond the largest amount
     "T,2026-03-01,1,,extra\n"  # a field too many
     "U,2026-03-01,1,\nU,2026-03-02,1,\n"),  # the same id twice
    "id;fecha;total;negocio_id\nA;2026-03-01;1.234;t\nB;2026-03-01;1,5;t\nC;2026-03-01;1.5;t\nD;2026-03-01;1;otro\n",
    "id,fecha,total\nA,2026-03-01,1.234\n",  # ambiguous, nothing shows the decimal separator
    'id,fecha,total,nota\nA,2026-03-01,1,ok\nB,2026-03-01,2,"' + "x" * 200_000 + '"\n',  # the csv module gives up
]


def parse(text: str, **kwargs):
    return parse_sales_csv(text.encode(), tenant_timezone="Europe/Madrid", now=NOW, tenant_id="t", **kwargs)


def importer_keys() -> set[str]:
    return {key for path in IMPORTER.glob("*.py") for key in _KEY.findall(path.read_text(encoding="utf-8"))}


def test_every_key_the_importer_uses_is_in_both_catalogs_and_said_in_spanish():
    keys = importer_keys() | {f"import.format.{name}" for name in ("comma", "semicolon", "tab", "pipe")}
    keys |= {f"import.col.{name}" for name in ("line", "column", "value", "reason")}
    assert len(keys) > 35
    missing = sorted(key for key in keys if set(STRINGS.get(key, {})) != {"en", "es"})
    assert missing == []
    english = sorted(key for key in keys if STRINGS[key]["es"] == STRINGS[key]["en"])
    assert english == []
    for key in keys:
        assert "(s)" not in STRINGS[key]["en"] and "(s)" not in STRINGS[key]["es"], key
    # and no reason in the catalogs that the importer no longer gives
    assert {key for key in STRINGS if key.startswith("import.why.")} <= keys


@pytest.mark.parametrize("key", sorted(key for key in STRINGS if key.startswith(("import.why.", "import.summary."))
                                       and plural_count(key) is not None))
def test_plural_reasons_have_a_singular_and_a_plural(key):
    values = {name: "X" for name in re.findall(r"\{(\w+)", STRINGS[key]["en"])}
    for lang in ("en", "es"):
        assert t(key, lang, n=1, **values) != t(key, lang, n=2, **values), (key, lang)


def test_every_reason_of_bad_files_is_said_in_spanish():
    errors = [error for text in BAD_FILES for error in parse(text).errors]
    keys = {error.why.key for error in errors}
    assert keys == {key for key in STRINGS if key.startswith("import.why.")} - {"import.why.foreign_id"}
    for error in errors:
        spanish, english = error.reason_in("es"), error.reason_in("en")
        assert spanish != english and english == error.reason == str(error.why), error
        assert not spanish.startswith(error.why.key) and "(s)" not in spanish and "(s)" not in english


def test_an_id_of_another_business_is_refused_in_spanish_too(storage):
    storage.upsert("negocios", "a", [{"id": "a", "nombre": "A", "timezone": "UTC"}])
    storage.upsert("negocios", "b", [{"id": "b", "nombre": "B", "timezone": "UTC"}])
    import_sales(storage, "a", b"id,fecha,total\nX,2026-03-01,1\n", now=NOW)
    with pytest.raises(SalesImportError, match="already used by another business") as caught:
        import_sales(storage, "b", b"id,fecha,total\nX,2026-03-01,1\n", now=NOW)
    (error,) = caught.value.errors
    assert error.reason_in("es").startswith("otro negocio ya usa este id de venta;")


def test_a_bad_files_errors_read_in_spanish_in_the_table():
    plan = parse("id,fecha,total\nB,2026-03-01,diez\nA,,1\n,2026-03-01,2\n")
    table = import_errors_table(list(reversed(plan.errors)), "es")
    assert list(table.columns) == ["Línea", "Columna", "Valor", "Motivo"]
    assert table["Línea"].tolist() == [2, 3, 4]  # sorted by line
    assert table["Columna"].tolist() == ["total", "fecha", "id"]  # as the file's header writes them
    assert table["Valor"].tolist() == ["diez", "", ""]
    assert table["Motivo"].tolist() == ["no es un número: escribe el importe con cifras, p. ej. 1234,56",
                                        "la fecha está vacía", "el id de la venta está vacío"]
    english = import_errors_table(plan.errors, "en")
    assert list(english.columns) == ["Line", "Column", "Value", "Reason"]
    assert english["Reason"].tolist()[1] == "the date is empty"


def test_one_field_is_singular_and_more_are_plural():
    plan = parse("id,fecha,total\nA\nB,2026-03-01\n")
    one, two = plan.errors
    assert one.reason.startswith("1 field where the header has 3;")
    assert two.reason.startswith("2 fields where the header has 3;")
    assert one.reason_in("es").startswith("1 campo, pero la cabecera tiene 3;")
    assert two.reason_in("es").startswith("2 campos, pero la cabecera tiene 3;")
    assert "comillas dobles" in one.reason_in("es")


def test_one_other_line_is_singular_and_more_are_plural():
    twice = parse("id,fecha,total\nA,2026-03-01,1\nA,2026-03-02,2\n").errors[0]
    thrice = parse("id,fecha,total\nA,2026-03-01,1\nA,2026-03-02,2\nA,2026-03-03,3\n").errors[0]
    assert "also on line 3;" in twice.reason and "también en la línea 3;" in twice.reason_in("es")
    assert "also on lines 3, 4;" in thrice.reason and "también en las líneas 3, 4;" in thrice.reason_in("es")


def test_numbers_in_reasons_follow_the_readers_language():
    huge = parse("id,fecha,total\nA,2026-03-01,2e13\n").errors[0]
    assert "beyond 1,000,000,000,000:" in huge.reason and "más de 1.000.000.000.000 " in huge.reason_in("es")
    ambiguous = parse("id,fecha,total\nA,2026-03-01,1.234\n").errors[0]
    assert "could be 1234 or 1.234 and" in ambiguous.reason
    assert "puede ser 1234 o 1,234 y" in ambiguous.reason_in("es")  # a decimal comma for a Spanish reader
    assert "'otro'" in parse("id,fecha,total,negocio_id\nA,2026-03-01,1,otro\n").errors[0].reason_in("es")


def test_exception_messages_and_str_stay_english():
    plan = parse("id,fecha,total\nA,,1\n")
    error = SalesImportError(plan.errors)
    assert str(plan.errors[0]) == "line 2, fecha '': the date is empty"
    assert "the date is empty" in str(error) and "la fecha" not in str(error)
    assert str(Reason.of("import.why.date_empty")) == "the date is empty"
    assert Reason.of("import.why.date_empty") == Reason.of("import.why.date_empty")  # frozen values: comparable


def test_the_summary_says_itself_in_both_languages_with_real_plurals():
    many = ImportReport(tenant_id="1", rows=1234, inserted=1000, already_present=234, updated=1, encoding="utf-8",
                        delimiter=";", ignored_columns=("cliente", "pago"))
    assert many.summary() == ("tenant 1: imported 1,234 sales: 1,000 new, 234 already present (1 had changed "
                              "values and was updated) [utf-8, semicolon-separated; ignored columns: cliente, pago]")
    assert many.summary("es") == ("negocio 1: 1.234 ventas importadas; nuevas: 1.000, ya existentes: 234 (1 tenía "
                                  "valores distintos y se actualizó) [utf-8, separado por punto y coma; columnas "
                                  "ignoradas: cliente, pago]")
    one = ImportReport(tenant_id="1", rows=1, inserted=1, already_present=0, updated=0, encoding="cp1252",
                       delimiter=",", ignored_columns=("cliente",))
    assert one.summary() == ("tenant 1: imported 1 sale: 1 new, 0 already present "
                             "[cp1252, comma-separated; ignored column: cliente]")
    assert one.summary("es") == ("negocio 1: 1 venta importada; nuevas: 1, ya existentes: 0 "
                                 "[cp1252, separado por comas; columna ignorada: cliente]")
    updated = ImportReport(tenant_id="1", rows=3, inserted=1, already_present=2, updated=2, encoding="utf-8",
                           delimiter="|")
    assert updated.summary().endswith("(2 had changed values and were updated) [utf-8, pipe-separated]")
    assert updated.summary("es").endswith("(2 tenían valores distintos y se actualizaron) "
                                          "[utf-8, separado por barras verticales]")
    again = ImportReport(tenant_id="1", rows=2, inserted=0, already_present=2, updated=0, encoding="utf-8",
                         delimiter="\t")
    assert again.summary() == "tenant 1: nothing new, all 2 sales were already imported [utf-8, tab-separated]"
    assert again.summary("es") == ("negocio 1: nada nuevo, las 2 ventas ya estaban importadas "
                                   "[utf-8, separado por tabuladores]")
