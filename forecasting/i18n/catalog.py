"""Every string the dashboard shows, from one gettext catalog per language, with plural forms.

The strings live in `locales/<lang>/LC_MESSAGES/forecasting.po`: msgctxt is the key the code asks for
(`"overview.sales_last"`), msgid and msgid_plural the English text, msgstr the translation (empty in
`en`, the source language). The files are read with Babel when this module is imported, so a fresh
clone needs no compile step and the .po files themselves are what ships.

`t("overview.sales_last", "es", n=7, days=7)` -> "Ventas, últimos 7 días". Placeholders are
`str.format` fields. `n=` picks a plural form by the language's rule (the file's Plural-Forms), so
one and two read "1 unidad" and "2 unidades"; without `n=` a plural key says its general plural form. A key missing
in one language falls back to English, then to `default`, then to the key itself, so a forgotten string
shows up as its key instead of breaking a page (tests/i18n/test_catalog.py checks that every language has every key).
"""

from __future__ import annotations

import gettext
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.pofile import read_po

DOMAIN = "forecasting"
LOCALES = Path(__file__).with_name("locales")
SOURCE_LANGUAGE = "en"
_COUNT_COMMENT = re.compile(r"count: \{(\w+)\}")
_WHOLE = re.compile(r"[+-]?\d+")
_NO_COUNT = object()


def po_path(lang: str, locales: Path = LOCALES) -> Path:
    """Where the catalog of `lang` lives."""
    return locales / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@dataclass(frozen=True)
class Language:
    """One language's strings, as read from its .po file."""

    code: str
    plural: Callable[[int], int]  # a count -> the index of its form (the Plural-Forms expression)
    texts: dict[str, str] = field(default_factory=dict)  # key -> the text of a string without plural forms
    plurals: dict[str, tuple[str, ...]] = field(default_factory=dict)  # key -> its forms, in Plural-Forms order
    counts: dict[str, str] = field(default_factory=dict)  # plural key -> the placeholder holding its count

    def template(self, key: str, count: Any = _NO_COUNT) -> str | None:
        """The text for `key` (the form for `count` when it has plural forms), None if this language lacks it."""
        forms = self.plurals.get(key)
        if forms is None:
            return self.texts.get(key)
        return forms[-1] if count is _NO_COUNT else forms[self.form(count, len(forms))]

    def form(self, count: Any, size: int) -> int:
        """The index, among `size` forms, of the one for `count`. Gettext's rules are for whole numbers: a
        fraction, or anything that is not a number, takes the last form (the general plural in en and es)."""
        whole = _whole(count)
        if whole is None:
            return size - 1
        return min(max(int(self.plural(abs(whole))), 0), size - 1)


def _whole(count: Any) -> int | None:
    """`count` as a whole number: 3, 3.0, numpy's 3 and "3" -> 3; 2.5, "2.5", "1,234", NaN, None -> None."""
    if isinstance(count, numbers.Integral):  # bool and numpy's integers included
        return int(count)
    if isinstance(count, (numbers.Real, Decimal)):
        try:
            whole = int(count)
        except (ValueError, OverflowError):  # NaN, infinities
            return None
        return whole if whole == count else None
    if isinstance(count, str) and _WHOLE.fullmatch(count.strip()):
        return int(count)
    return None


def load_language(lang: str, path: Path | None = None) -> Language:
    """Read the .po file of `lang` (Babel). A line that does not parse is skipped with a warning and its
    string falls back to English; fuzzy entries (to be reviewed) are skipped the same way, as msgfmt does."""
    with (path or po_path(lang)).open("rb") as file:
        catalog = read_po(file, locale=lang, domain=DOMAIN)
    texts: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    counts: dict[str, str] = {}
    for message in catalog:
        key = message.context
        if not message.id or not key or message.fuzzy:
            continue
        # An empty msgstr is untranslated; in the source language the msgid is the text.
        if message.pluralizable:
            forms = tuple(message.string)
            if lang == SOURCE_LANGUAGE and not any(forms):
                forms = tuple(message.id)
            if forms and all(forms):
                plurals[key] = forms
            named = [m.group(1) for comment in message.auto_comments if (m := _COUNT_COMMENT.fullmatch(comment))]
            counts[key] = named[0] if named else "n"
        else:
            text = message.string or (message.id if lang == SOURCE_LANGUAGE else "")
            if text:
                texts[key] = text
    return Language(lang, gettext.c2py(catalog.plural_expr), texts, plurals, counts)


def _available(locales: Path = LOCALES) -> list[str]:
    """Every language with a catalog, English first."""
    found = [path.name for path in locales.iterdir() if po_path(path.name, locales).is_file()]
    return sorted(found, key=lambda code: (code != SOURCE_LANGUAGE, code))


def _own_name(code: str) -> str:
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


_LANGUAGES: dict[str, Language] = {code: load_language(code) for code in _available()}
LANGUAGES: dict[str, str] = {code: _own_name(code) for code in _LANGUAGES}  # code -> its own name ("Español")


def _strings() -> dict[str, dict[str, str]]:
    source = _LANGUAGES[SOURCE_LANGUAGE]
    keys = [*source.texts, *(key for key in source.plurals if key not in source.texts)]
    table: dict[str, dict[str, str]] = {}
    for key in keys:
        table[key] = {code: text for code, language in _LANGUAGES.items()
                      if (text := language.template(key)) is not None}
    return table


#: key -> {language: what `t` says without values or a count}: for checks and listings. The .po files
#: are the strings; changing this dict changes nothing.
STRINGS: dict[str, dict[str, str]] = _strings()


def plural_count(key: str) -> str | None:
    """The placeholder whose value picks `key`'s plural form ("n" when the count has no placeholder of
    its own), or None when `key` has no plural forms. For messages stored as values (notifications)."""
    return _LANGUAGES[SOURCE_LANGUAGE].counts.get(key)


def _template(key: str, lang: str, count: Any) -> str | None:
    for code in (lang, SOURCE_LANGUAGE):
        language = _LANGUAGES.get(code)
        text = language.template(key, count) if language is not None else None
        if text is not None:
            return text
    return None


def t(key: str, lang: str, default: str | None = None, **values: Any) -> str:
    """The string for `key` in `lang` with `values` filled in (English, then `default`, then the key if missing).

    `n`, when given, is the count that picks the plural form (and fills an `{n}` placeholder if there is one).
    """
    text = _template(key, lang, values.get("n", _NO_COUNT))
    if text is None:
        # A fallback is data (a model name, an engine message), not a template: never formatted.
        return default if default is not None else key
    return text.format(**values) if values else text


# What Streamlit's Markdown gives meaning to: CommonMark and GitHub's punctuation, `$` (LaTeX), `:`
# (emoji, icons and `:red[...]` colours) and `<` (HTML, off here anyway). A backslash before ASCII
# punctuation always shows the character itself.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~$:])")


# GitHub's autolinks (`https://...`, `www.`, e-mail addresses) survive backslash escapes in Streamlit's
# renderer; an invisible zero-width space after the scheme, `www` or `@` is what stops them (tried in Chromium).
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|www)(?=[:.])|@)")


def escape_markdown(value: Any) -> str:
    """`value` as text that Markdown shows literally: no link, image, emphasis, formula or heading.

    Line breaks become spaces (a line starting with `#` or `-` would be a heading or a list).
    """
    text = " ".join(str(value).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINK.sub("\\1\u200b", text))


def md(key: str, lang: str, default: str | None = None, **values: Any) -> str:
    """`t` for Streamlit elements, which render Markdown: the template's own Markdown stays, every
    value filled in (a business's name, an error detail, an amount with `$`) and a fallback
    `default` are shown literally. The count `n` picks the form before it is escaped."""
    text = _template(key, lang, values.get("n", _NO_COUNT))
    if text is None:
        return key if default is None else escape_markdown(default)
    return text.format(**{name: escape_markdown(value) for name, value in values.items()}) if values else text


def model_label(name: str | None, lang: str, *, short: bool = False) -> str:
    """A candidate's name for people ("Seasonal naive (same day last week)"); unknown names as they are.

    `short` gives the compact name charts use in legends ("Seasonal naive").
    """
    if not name:
        return "—"
    if short and f"model.{name}.short" in STRINGS:
        return t(f"model.{name}.short", lang)
    return t(f"model.{name}", lang, default=name)


_OBSERVED = " (observed)"


def holiday_name(name: str, lang: str) -> str:
    """A public holiday's name in `lang`, from this catalog's `holiday.*` strings: for the countries whose
    names the holidays package does not translate (the United States' in Spanish). Unknown names stay."""
    base = name.removesuffix(_OBSERVED)
    text = t(f"holiday.{base}", lang, default=base)
    return t("holiday.observed", lang, name=text) if name.endswith(_OBSERVED) else text


def holiday_names(lang: str) -> tuple[tuple[str, str], ...]:
    """(name as the holidays package gives it, name in `lang`) for every holiday this catalog translates."""
    bases = [key.removeprefix("holiday.") for key in STRINGS if key.startswith("holiday.") and key != "holiday.observed"]
    return tuple((name, holiday_name(name, lang)) for base in bases for name in (base, base + _OBSERVED))
