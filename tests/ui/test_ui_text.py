"""What the pages say and how: locale formatting (`forecasting.i18n.formatting`) and the strings every page
uses, in both languages (`forecasting.i18n.catalog`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from forecasting.i18n.catalog import LANGUAGES, STRINGS, model_label
from forecasting.i18n.formatting import Formatter, locale_for
from forecasting.ui import tables
from forecasting.views import settings

ROOT = Path(__file__).resolve().parents[2]


def test_money_follows_language_country_and_currency():
    assert Formatter("es", "EUR", "ES").money(1234.5) == "1.234,50\u00a0€"
    assert Formatter("en", "MXN", "MX").money(1234.5) == "MX$1,234.50"
    assert Formatter("es", "MXN", "MX").money(1234.5) == "$1,234.50"
    assert Formatter("es", "COP", "CO").money(1234567.8, whole=True) == "$1.234.568"
    assert Formatter("en", "ARS", "AR").money(-1234.5, whole=True) == "-ARS\u00a01,235"
    assert Formatter("en", "CLP", "CL").money(None) == "—"
    # Where currencies mix, the ISO code tells Mexican from Argentine pesos.
    assert Formatter("es", "MXN", "MX").money(89077, whole=True, code=True) == "MXN\u00a089,077"
    assert Formatter("es", "ARS", "AR").money(89077, whole=True, code=True) == "ARS\u00a089.077"
    assert Formatter("es", "EUR", "ES").money(2113, whole=True, code=True) == "2.113\u00a0EUR"


def test_locale_is_the_countrys_only_when_it_speaks_the_ui_language():
    assert str(locale_for("es", "AR")) == "es_AR" and str(locale_for("en", "US")) == "en_US"
    assert str(locale_for("en", "ES")) == "en" and str(locale_for("es", "US")) == "es"
    assert Formatter("en", "EUR", "ES").number(3.5, 1) == "3.5" and Formatter("es", "EUR", "ES").number(3.5, 1) == "3,5"


def test_signed_percentages_use_the_ascii_minus_streamlit_reads():
    fmt = Formatter("es", "EUR", "ES")
    assert fmt.percent(-0.05, signed=True).startswith("-") and fmt.percent(0.05, signed=True).startswith("+")
    assert fmt.percent(0.123, 1) == "12,3%"


def test_dates_are_local_to_the_tenant():
    late_utc = pd.Timestamp("2026-03-02 02:00", tz="UTC")  # still March 1st in Bogotá
    assert Formatter("en", "COP", "CO", "America/Bogota").date(late_utc) == "Mar 1, 2026"
    assert Formatter("en", "EUR", "ES", "Europe/Madrid").date(late_utc) == "Mar 2, 2026"
    assert Formatter("es", "EUR", "ES").weekday(0) == "Lunes"


def test_plotly_gets_month_names_in_spanish():
    config = Formatter("es", "EUR", "ES").plotly_config()
    fmt = config["locales"][config["locale"]]["format"]
    assert fmt["months"][0] == "enero" and fmt["shortDays"][0] == "dom" and len(fmt["days"]) == 7
    assert "locale" not in Formatter("en", "USD", "US").plotly_config()


def _used_keys() -> set[str]:
    """Literal keys passed to t(...) or md(...) anywhere in the app, the pages and the UI package."""
    sources = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")),
               *sorted((ROOT / "forecasting" / "ui").glob("*.py"))]
    keys = set()
    for path in sources:
        keys |= set(re.findall(r"""\b(?:t|md)\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", path.read_text()))
    return keys


def test_every_string_a_page_uses_exists_in_both_languages():
    used = _used_keys()
    assert len(used) > 100
    assert not used - set(STRINGS), f"missing strings: {sorted(used - set(STRINGS))}"
    for key, entry in STRINGS.items():
        assert set(entry) == set(LANGUAGES), key
        fields = [set(re.findall(r"{(\w+)}", entry[lang])) for lang in LANGUAGES]
        assert fields[0] == fields[1], f"{key}: placeholders differ between languages"


def test_dynamic_keys_exist_for_every_choice_the_engine_offers():
    from forecasting.core.metrics import METRICS
    from forecasting.core.models import available_names

    for name in (*available_names(), "ensemble"):
        assert f"model.{name}" in STRINGS, f"no display name for model {name}"
    for metric in METRICS:
        assert {f"metric.{metric}", f"metric.{metric}.short", f"choice.{metric}"} <= set(STRINGS)
    for group in settings.SETTING_GROUPS.values():
        for name in group:
            assert {f"settings.{name}", f"settings.{name}.help"} <= set(STRINGS)
    for step in ("series", "cv", "final_fit", "saving", "anomalies", "done"):
        assert f"progress.{step}" in STRINGS
    assert model_label("unknown-model", "es") == "unknown-model"
    from forecasting.ops.jobs import JOBS

    for job_id in JOBS:
        assert {f"job.{job_id}", f"job.{job_id}.help"} <= set(STRINGS), f"no name for job {job_id}"
    for state in tables.RUN_STATE_COLORS:
        assert f"jobs.status.{state}" in STRINGS
    for trigger in ("schedule", "manual"):
        assert f"jobs.trigger.{trigger}" in STRINGS
    from forecasting.ui.schedule import WEEKDAYS

    for day in WEEKDAYS:
        assert {f"weekday.{day}", f"weekday.{day}.plural"} <= set(STRINGS)
