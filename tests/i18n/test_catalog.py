"""The gettext catalogs: complete in every language, the same placeholders everywhere, real plural forms."""

from __future__ import annotations

import gettext
import re
import string
from pathlib import Path

import numpy as np
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileError, read_po

from forecasting.i18n import catalog
from forecasting.i18n.catalog import LANGUAGES, LOCALES, STRINGS, escape_markdown, md, plural_count, t
from forecasting.i18n.formatting import Formatter
from forecasting.i18n.messages import message, say

SOURCE = "en"

#: English that Spanish rightly keeps as it is: names of models and metrics, units, and a word both share.
SAME_IN_EVERY_LANGUAGE = {
    "SARIMAX", "Prophet", "XGBoost", "LightGBM", "AutoETS", "Theta", "ETS", "Isolation Forest",
    "MASE", "MAE", "RMSE", "sMAPE", "WAPE", "MAPE",
    "1m", "3m", "6m", "Δ 7 d", "Δ 30 d",
    "Error", "error",
    "Croston SBA", "TSB", "ADIDA", "IMAPA", "Stock",  # names of forecasting methods; "stock" is Spanish too
}

# A .po line: a comment, or a keyword and/or one C string. Babel skips some malformed lines silently.
_PO_LINE = re.compile(r'#.*|(?:(?:msgctxt|msgid|msgid_plural|msgstr|msgstr\[\d+\])[ \t]+)?"(?:[^"\\]|\\.)*"')
_ICON = re.compile(r":material/\w+:")
_LETTER = re.compile(r"[^\W\d_]")


def _fields(text: str) -> set[str]:
    """The `str.format` fields of `text`; ValueError when its braces are not a valid template."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _forms(entry: Message) -> tuple[str, ...]:
    return tuple(entry.string) if entry.pluralizable else (entry.string,)


def _ids(entry: Message) -> tuple[str, ...]:
    return tuple(entry.id) if entry.pluralizable else (entry.id,)


def _read(path: Path, lang: str, problems: list[str]) -> Catalog | None:
    text = path.read_text(encoding="utf-8")
    bad = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() and not _PO_LINE.fullmatch(line.strip())]
    if bad:
        problems.append(f"{lang}: does not parse (line {bad[0]})")
        return None
    try:
        with path.open("rb") as file:
            return read_po(file, locale=lang, abort_invalid=True)
    except (PoFileError, ValueError) as exc:
        problems.append(f"{lang}: does not parse ({exc})")
        return None


def _entries(lang: str, po: Catalog, problems: list[str]) -> dict[tuple[str, bool], Message]:
    """key and whether it has plural forms -> its entry (a key may have one of each while callers move to n=)."""
    entries: dict[tuple[str, bool], Message] = {}
    for entry in po:
        if not entry.id:
            continue
        if not entry.context:
            problems.append(f"{lang}: {entry.id!r} has no msgctxt (its key)")
            continue
        slot = (entry.context, entry.pluralizable)
        if slot in entries:
            problems.append(f"{lang}: {entry.context} twice")
        entries[slot] = entry
    return entries


def catalog_problems(locales: Path) -> list[str]:
    """What is wrong with the catalogs under `locales`, as readable lines (empty when nothing is)."""
    problems: list[str] = []
    catalogs = {path.parents[1].name: _read(path, path.parents[1].name, problems)
                for path in sorted(locales.glob("*/LC_MESSAGES/forecasting.po"))}
    if catalogs.get(SOURCE) is None:
        return [*problems, f"{SOURCE}: no source catalog"]
    source = _entries(SOURCE, catalogs[SOURCE], problems)
    for (key, plural), entry in source.items():
        try:
            fields = [_fields(text) for text in _ids(entry)]
        except ValueError as exc:
            problems.append(f"{SOURCE}: {key}: not a str.format template ({exc})")
            continue
        if any(f != fields[0] for f in fields):
            problems.append(f"{SOURCE}: {key}: placeholders differ between singular and plural: {fields}")
        if plural and (key, False) in source:
            problems.append(f"{SOURCE}: {key}: defined both with and without plural forms")
        counts = [c[len("count: {"):-1] for c in entry.auto_comments if c.startswith("count: {")]
        if plural and counts and counts[0] not in fields[0] | {"n"}:
            problems.append(f"{SOURCE}: {key}: its count {{{counts[0]}}} is not a placeholder")

    for lang, po in catalogs.items():
        if po is None:
            continue
        if str(po.locale) != lang:
            problems.append(f"{lang}: the header says Language: {po.locale}")
        try:
            gettext.c2py(po.plural_expr)
        except (ValueError, SyntaxError):
            problems.append(f"{lang}: Plural-Forms {po.plural_expr!r} is not a rule")
        entries = _entries(lang, po, problems) if lang != SOURCE else source
        problems += [f"{lang}: {key} is missing" + (" (plural)" if plural else "")
                     for key, plural in source.keys() - entries.keys()]
        problems += [f"{lang}: {key} is not in {SOURCE}" for key, _ in entries.keys() - source.keys()]
        problems += [f"{lang}: {key} is fuzzy (to review)" for (key, _), entry in entries.items() if entry.fuzzy]
        if lang == SOURCE:
            continue
        for slot in source.keys() & entries.keys():
            key, plural = slot
            entry, english = entries[slot], source[slot]
            if entry.id != english.id:
                problems.append(f"{lang}: {key}: its msgid is not {SOURCE}'s (the English changed; translate again)")
            forms = _forms(entry)
            if plural and len(forms) != po.num_plurals:
                problems.append(f"{lang}: {key}: {len(forms)} forms for nplurals={po.num_plurals}")
            if not all(forms):
                problems.append(f"{lang}: {key} is not translated")
            expected = _fields(_ids(english)[0])
            for text in filter(None, forms):
                try:
                    if _fields(text) != expected:
                        problems.append(f"{lang}: {key}: placeholders {sorted(_fields(text))}, "
                                        f"{SOURCE} has {sorted(expected)}")
                except ValueError as exc:
                    problems.append(f"{lang}: {key}: not a str.format template ({exc})")
                if text in _ids(english) and text not in SAME_IN_EVERY_LANGUAGE and \
                        _LETTER.search(string.Formatter().vformat(_ICON.sub("", text), (), _Blank())):
                    problems.append(f"{lang}: {key} is the English text, untranslated: {text!r}")
    return problems


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


# --- the catalogs ---------------------------------------------------------------------------------


def test_the_catalogs_are_complete_and_consistent():
    assert catalog_problems(LOCALES) == []


def test_the_languages_are_the_catalogs_english_first():
    assert LANGUAGES == {"en": "English", "es": "Español"}
    assert len(STRINGS) > 400 and all(set(entry) == set(LANGUAGES) for entry in STRINGS.values())


EN_PO = r'''msgid ""
msgstr ""
"Language: en\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgctxt "fruit"
msgid "Apple"
msgstr ""

#. count: {n}
msgctxt "stock"
msgid "{n} unit of {name}"
msgid_plural "{n} units of {name}"
msgstr[0] ""
msgstr[1] ""

msgctxt "odd"
msgid "{n} day"
msgid_plural "{n} days in {place}"
msgstr[0] ""
msgstr[1] ""

msgctxt "only.english"
msgid "Only in English"
msgstr ""

msgctxt "brand"
msgid "Prophet"
msgstr ""

msgctxt "greeting"
msgid "Hello {name}"
msgstr ""
'''

ES_PO = r'''msgid ""
msgstr ""
"Language: es\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgctxt "fruit"
msgid "Apple"
msgstr "Apple"

msgctxt "stock"
msgid "{n} unit of {name}"
msgid_plural "{n} units of {name}"
msgstr[0] "{n} unidad"
msgstr[1] "{n} unidades de {name}"

msgctxt "odd"
msgid "{n} day"
msgid_plural "{n} days in {place}"
msgstr[0] "{n} día"
msgstr[1] ""

msgctxt "brand"
msgid "Prophet"
msgstr "Prophet"

msgctxt "greeting"
msgid "Hi {name}"
msgstr "Hola {name}"

#, fuzzy
msgctxt "only.spanish"
msgid "Only in Spanish"
msgstr "Solo en español"
'''


def _locales(tmp_path: Path, **files: str) -> Path:
    for lang, text in files.items():
        path = catalog.po_path(lang, tmp_path)
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_check_names_every_kind_of_problem(tmp_path):
    broken = ES_PO.replace('msgstr "Hola {name}"', 'msgstr "Hola {name}').replace('"Language: es', '"Language: fr')
    problems = catalog_problems(_locales(tmp_path, en=EN_PO, es=ES_PO, fr=broken))
    expected = [
        "es: fruit is the English text, untranslated: 'Apple'",
        "es: stock: placeholders ['n'], en has ['n', 'name']",  # the singular lost {name}
        "en: odd: placeholders differ between singular and plural",
        "es: odd is not translated",
        "es: only.english is missing",
        "es: greeting: its msgid is not en's",
        "es: only.spanish is not in en",
        "es: only.spanish is fuzzy",
        "fr: does not parse",
    ]
    for line in expected:
        assert any(problem.startswith(line) for problem in problems), (line, problems)
    assert not any("brand" in problem for problem in problems)  # a name kept on purpose
    assert len(problems) == len(expected), problems


def test_the_loader_takes_what_a_language_has_and_english_for_the_rest(tmp_path, monkeypatch):
    locales = _locales(tmp_path, en=EN_PO, es=ES_PO)
    monkeypatch.setattr(catalog, "_LANGUAGES", {code: catalog.load_language(code, catalog.po_path(code, locales))
                                                for code in ("en", "es")})
    assert t("fruit", "es") == "Apple"
    assert t("stock", "es", n=2, name="pan") == "2 unidades de pan"
    assert t("odd", "es", n=3, place="Lima") == "3 days in Lima"  # a form missing: the whole entry in English
    assert t("only.english", "es") == "Only in English"
    assert t("only.spanish", "es") == "only.spanish"  # fuzzy: not used


# --- plural forms ------------------------------------------------------------------------------------


def test_a_count_picks_the_form_in_each_language():
    def stock(lang: str, count: object, shown: str) -> str:
        return t("notif.low_stock.message", lang, n=count, product="Pan", stock_num=shown, threshold_num="5")

    assert stock("en", 1, "1") == "Pan has 1 unit left (alert at 5)."
    assert stock("en", 2, "2") == "Pan has 2 units left (alert at 5)."
    assert stock("es", 1, "1") == "A Pan le queda 1 unidad (aviso a partir de 5)."
    assert stock("es", 2, "2") == "A Pan le quedan 2 unidades (aviso a partir de 5)."
    for count in (0, 2.5, "2,5", None, float("nan")):
        assert "unidades" in stock("es", count, str(count)) and "units" in stock("en", count, str(count))
    for count in (1.0, np.int64(1), np.float64(1.0), "1", -1):
        assert "1 unidad " in stock("es", count, "1"), count
    assert t("trigger.every_minutes", "es", n=1) == "cada 1 minuto"
    assert t("trigger.every_minutes", "en", n=5) == "every 5 minutes"


def test_a_stored_message_counts_with_its_stored_value():
    def say_stock(lang: str, stock: float) -> str:
        details = message(("notif.low_stock.title", {"product": "Pan"}),
                          [("notif.low_stock.message", {"product": "Pan", "stock_num": stock, "threshold_num": 5})])
        return say(details, lang, Formatter(lang))[1]

    assert plural_count("notif.low_stock.message") == "stock_num" and plural_count("app.title") is None
    assert say_stock("en", 1) == "Pan has 1 unit left (alert at 5)."
    assert say_stock("en", 1.0) == "Pan has 1 unit left (alert at 5)."
    assert say_stock("es", 1) == "A Pan le queda 1 unidad (aviso a partir de 5)."
    assert say_stock("es", 2) == "A Pan le quedan 2 unidades (aviso a partir de 5)."
    assert say_stock("es", 2.5) == "A Pan le quedan 2,5 unidades (aviso a partir de 5)."


def test_without_a_count_a_key_says_its_plural_form():
    """A caller that passes no n= gets the general plural form."""
    assert t("overview.sales_last", "en", days=7) == "Sales, last 7 days"
    assert t("overview.sales_last", "es", days=7) == "Ventas, últimos 7 días"
    assert t("overview.sales_last", "es", n=1, days=1) == "Ventas, último 1 día"
    assert t("import.failed", "en", problems=4, lines=4) == (
        "Nothing was imported: 4 problems in the file; lines affected: 4. Fix these rows and upload the file again.")
    assert t("import.failed", "en", n=1, problems=1, lines=1).startswith("Nothing was imported: 1 problem in the file")
    assert t("settings.saved", "es", n=1, count=1).startswith("Guardado: 1 ajuste difiere")
    assert t("comparison.why", "en", model="ETS", metric="MASE", value="0.5", n=3, runner="Naive",
             runner_value="0.7", margin="20%", won=2, folds=3).startswith("**ETS** won: lowest MASE (0.5) of 3 candidates")


# --- fallbacks and Markdown ---------------------------------------------------------------------------


def test_missing_strings_fall_back_to_english_then_default_then_the_key():
    assert t("app.title", "fr") == "Sales forecast"
    assert t("no.such.key", "es") == "no.such.key" and t("no.such.key", "es", default="{x}") == "{x}"
    assert md("no.such.key", "es", default="a*b") == "a\\*b" and md("no.such.key", "es") == "no.such.key"


def test_md_escapes_the_values_not_the_template():
    assert md("sidebar.storage", "es", backend="sqlite", location="a_b") == "Datos: **sqlite** · `a\\_b`"
    assert md("msg.not_trained", "en", name="[x](https://e.vil)").startswith(
        "No forecast yet for **\\[x\\]\\(https\u200b\\://e.vil\\)**")


def test_md_escapes_the_values_and_counts_with_the_raw_number():
    text = md("jobs.last_partial", "en", n=1, failed=1, when="today", error="see https://evil.example *now*")
    assert text == "The last run finished, but 1 business failed (today): see https\u200b\\://evil.example \\*now\\*"


def test_escape_markdown_is_unchanged():
    assert escape_markdown("[x](http://a.b) `c` $d$ :red[e] #f\n- g user@mail.com www.site.com") == (
        "\\[x\\]\\(http\u200b\\://a.b\\) \\`c\\` \\$d\\$ \\:red\\[e\\] \\#f \\- g user@\u200bmail.com "
        "www\u200b.site.com")


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_plural_key_says_one_and_many(lang):
    plural = [key for key in STRINGS if plural_count(key) is not None]
    assert len(plural) > 20
    for key in plural:
        values = {name: "7" for name in re.findall(r"{(\w+)}", STRINGS[key]["en"])}
        one, many = t(key, lang, **{**values, "n": 1}), t(key, lang, **{**values, "n": 7})
        assert "{" not in one + many, key
        assert one != many or (lang, key) == ("en", "notifications.count"), key  # "1 shown", "7 shown"
