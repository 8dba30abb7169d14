"""Every page in Spanish says everything in Spanish, with Spanish formats, and no amount turns into a formula.

The app runs through AppTest on the demo database (Spanish-speaking shops in Spain, Mexico and Argentina,
so their own names, products and events are Spanish too) and every text of every page is read: headings,
Markdown, captions, messages, metric cards, buttons, options, help texts and table cells.
"""

from __future__ import annotations

import re

import pytest

from tests.support.pages import JOBS, PAGES, open_page, page_texts, start, use_database

#: English words no Spanish page should show (none is also Spanish; month names are left out: "mar", "may").
ENGLISH = re.compile(
    r"\b(the|and|of|with|for|from|to|is|are|was|were|not|this|that|which|when|until|yet|only|days?|weeks?|sales|"
    r"forecasts?|units?|problems?|lines?|closed|holidays?|retrain(ed|ing)?|settings|score|naive|seasonal|none|today|"
    r"yesterday|products?|orders?|models?|runs?|jobs?|never|every|Monday|Sunday|unusual|promotion|beats?|worse)\b"
    r"|\(s\)", re.IGNORECASE)
#: Markdown that renders a `$` unescaped starts a formula: "$1,200 and $300" turns into math italics.
FORMULA = re.compile(r"(?<!\\)\$")
#: Where Spanish writes the day first ("6 sept"), a month-first date is a slip ("mar" is also Tuesday: left out).
MONTH_FIRST = re.compile(r"\b(ene|feb|abr|may|jun|jul|ago|sept?|oct|nov|dic)\.? \d{1,2}\b(?!\d| (de )?\d{4})")
#: A decimal point in a percentage is English; Spanish writes "10,3 %".
DECIMAL_POINT = re.compile(r"\b\d+\.\d+\s?%")
#: Element types whose text Streamlit renders as Markdown.
MARKDOWN = {"Markdown", "Caption", "Title", "Header", "Subheader", "Info", "Warning", "Success", "Error",
            "Alert", "Heading", "Text"}


@pytest.fixture
def spanish_app(monkeypatch, demo_db):
    use_database(monkeypatch, demo_db)
    return start("es")


#: Code spans: setting names, their defaults and file paths are written as they are typed, in no language.
CODE = re.compile(r"`[^`]*`")


# Spain writes a decimal comma; Mexico, like the United States, a decimal point (Babel's es_MX).
@pytest.mark.parametrize(("tenant", "decimal_comma"), [("1", True), ("2", False)])
def test_every_spanish_page_says_everything_in_spanish(spanish_app, tenant, decimal_comma):
    rules = [("English", ENGLISH), ("month first", MONTH_FIRST)] + ([("decimal point", DECIMAL_POINT)]
                                                                    if decimal_comma else [])
    slips = []
    for page in [*PAGES, JOBS]:
        open_page(spanish_app, page, tenant=tenant)
        for kind, said in page_texts(spanish_app):
            if kind == "ButtonGroup" and "Language" in said:  # the language switch names both languages
                continue
            text = CODE.sub("", said)
            for rule, pattern in rules:
                if found := pattern.search(text):
                    slips.append(f"{page} {kind} [{rule}: {found.group(0)!r}] {text[:160]!r}")
            if kind in MARKDOWN and FORMULA.search(text):
                slips.append(f"{page} {kind} [unescaped $] {text[:160]!r}")
    assert not slips, "\n".join(slips)


def test_the_checks_catch_the_slips_they_are_for():
    assert ENGLISH.search("No se importó nada: 3 problem(s) on 3 line(s)")
    assert ENGLISH.search("1 units") and not ENGLISH.search("1 unidad, 2 unidades, error típico, stock")
    assert FORMULA.search("Ventas de $1,200 y $300") and not FORMULA.search(r"Ventas de \$1,200")
    assert MONTH_FIRST.search("sept 6") and not MONTH_FIRST.search("6 sept") and not MONTH_FIRST.search("sept 2026")
    assert not MONTH_FIRST.search("mar 1 dic") and DECIMAL_POINT.search("0.7%") and not DECIMAL_POINT.search("0,7 %")
