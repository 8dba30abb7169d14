"""The tenant settings form (`forecasting.views.settings`): fields reflected from MLSettings, saved as overrides."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from forecasting.core.config import DEPLOYMENT_SETTINGS
from forecasting.core.errors import ConfigError
from forecasting.services.tenants import tenant_overrides
from forecasting.views import settings
from tests.support.dashboard_db import TRAINED


def test_settings_form_stores_only_what_differs_and_validates_first(writable):
    fields, error = settings.settings_form(writable, TRAINED)
    assert error is None and {f.group for f in fields} == set(settings.SETTING_GROUPS)
    values = {f.name: f.value for f in fields}
    # the demo bakery's owner confirmed its closed Sundays: kept, as the form shows them
    own = {"horizon_days": 21, "closed_weekdays": [6]}
    saved = settings.save_settings(writable, TRAINED, {**values, "horizon_days": 21})
    assert saved == own and tenant_overrides(writable, TRAINED) == own
    fields, _ = settings.settings_form(writable, TRAINED)
    assert [f.name for f in fields if f.overridden] == ["horizon_days", "closed_weekdays"]
    with pytest.raises(ConfigError, match="ML_STL_ZTHRESH"):
        settings.save_settings(writable, TRAINED, {**values, "stl_zthresh": 0})
    with pytest.raises(ConfigError, match="ML_HOLIDAYS_COUNTRY"):
        settings.save_settings(writable, TRAINED, {**values, "holidays_country": "XX"})
    assert tenant_overrides(writable, TRAINED) == own  # nothing written by the failures
    settings.reset_tenant_settings(writable, TRAINED)
    assert tenant_overrides(writable, TRAINED) == {}


def test_invalid_stored_settings_are_reported_not_raised(writable):
    writable.upsert("tenant_ml_settings", TRAINED, [{"tenant_id": TRAINED, "settings": {"horizon_days": 0},
                                                     "updated_at": datetime.now(timezone.utc)}])
    fields, error = settings.settings_form(writable, TRAINED)
    assert "ML_HORIZON_DAYS" in error and all(not f.overridden for f in fields)


def test_every_setting_is_in_the_form_or_deployment_wide():
    from forecasting.core.config import MLSettings

    in_form = [name for names in settings.SETTING_GROUPS.values() for name in names]
    assert len(in_form) == len(set(in_form))
    assert set(in_form) | set(DEPLOYMENT_SETTINGS) == set(MLSettings.model_fields), (
        "a new ML setting: add it to settings.SETTING_GROUPS (and its strings) or to config.DEPLOYMENT_SETTINGS")
