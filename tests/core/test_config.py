"""Settings: environment, defaults, per-tenant overrides."""

from __future__ import annotations

import pytest

from forecasting.core.config import MLSettings, get_settings, merge_overrides, reset_settings
from forecasting.core.errors import ConfigError
from forecasting.services.tenants import save_tenant_overrides, settings_for_tenant, tenant_overrides


def test_defaults_cover_every_spec_key():
    spec_keys = ["ML_MODEL_CANDIDATES", "ML_SELECT_BEST", "ML_CV_PRIMARY_METRIC", "ML_HORIZON_DAYS", "ML_CV_FOLDS",
                 "ML_SEASONALITY_MODE", "ML_HOLIDAYS_COUNTRY", "ML_LOG_TRANSFORM", "ML_SARIMAX_ORDER",
                 "ML_SARIMAX_SEASONAL", "ML_ANOMALY_METHOD", "ML_STL_PERIOD", "ML_STL_ZTHRESH",
                 "ML_MAX_TRAIN_WINDOW_DAYS", "ML_RETRAIN_CRON", "ML_TENANT_IDS", "ML_ERROR_ALERT_MAPE"]
    fields = {f"ML_{name.upper()}" for name in MLSettings.model_fields}
    assert set(spec_keys) <= fields


def test_environment_is_read_and_unrelated_variables_ignored(monkeypatch):
    monkeypatch.setenv("ML_MODEL_CANDIDATES", "naive, ets")
    monkeypatch.setenv("ML_HORIZON_DAYS", "14")
    monkeypatch.setenv("ML_SARIMAX_ORDER", "2,0,1")
    monkeypatch.setenv("ML_TENANT_IDS", "1,2")
    monkeypatch.setenv("ML_SOMETHING_ELSE", "whatever")
    monkeypatch.setenv("UNRELATED", "x")
    reset_settings()
    settings = get_settings()
    assert settings.model_candidates == ["naive", "ets"]
    assert settings.horizon_days == 14
    assert settings.sarimax_order == (2, 0, 1)
    assert settings.allowed_tenants() == {"1", "2"}
    assert MLSettings(tenant_ids="*").allowed_tenants() is None


@pytest.mark.parametrize("key,value,field", [
    ("ML_HORIZON_DAYS", "-3", "ML_HORIZON_DAYS"),
    ("ML_MODEL_CANDIDATES", "naive,magic", "ML_MODEL_CANDIDATES"),
    ("ML_SARIMAX_ORDER", "1,x,1", "ML_SARIMAX_ORDER"),
    ("ML_CV_PRIMARY_METRIC", "r2", "ML_CV_PRIMARY_METRIC"),
])
def test_invalid_environment_names_the_field(monkeypatch, key, value, field):
    monkeypatch.setenv(key, value)
    reset_settings()
    with pytest.raises(ConfigError, match=field):
        get_settings()


def test_overrides_accept_both_spellings_and_win():
    base = MLSettings(horizon_days=28)
    merged = merge_overrides(base, {"ML_HORIZON_DAYS": 7, "cv_folds": 5, "model_candidates": ["naive"]})
    assert (merged.horizon_days, merged.cv_folds, merged.model_candidates) == (7, 5, ["naive"])


def test_unknown_or_invalid_override_names_the_field():
    with pytest.raises(ConfigError, match="ML_HORIZON_DAYS"):
        merge_overrides(MLSettings(), {"horizon_days": 0})
    with pytest.raises(ConfigError, match="colour"):
        merge_overrides(MLSettings(), {"colour": "blue"})


def test_tenant_overrides_from_the_table_win_over_environment(demo_storage, monkeypatch):
    monkeypatch.setenv("ML_HORIZON_DAYS", "21")
    reset_settings()
    save_tenant_overrides(demo_storage, "1", {"ML_HORIZON_DAYS": 10})
    assert settings_for_tenant(demo_storage, "1").horizon_days == 10
    assert settings_for_tenant(demo_storage, "2").horizon_days == 21


def test_an_invalid_override_is_not_saved(demo_storage):
    before = tenant_overrides(demo_storage, "1")  # the demo bakery's confirmed closed Sundays
    with pytest.raises(ConfigError, match="ML_SARIMAX_SEASONAL"):
        save_tenant_overrides(demo_storage, "1", {"sarimax_seasonal": "1,1,1"})
    assert tenant_overrides(demo_storage, "1") == before == {"closed_weekdays": [6]}


def test_tenant_country_sets_holidays_unless_overridden(demo_storage, demo_data):
    country = demo_data.negocios.set_index("id").loc["1", "country"]
    assert settings_for_tenant(demo_storage, "1").holidays_country == country
    save_tenant_overrides(demo_storage, "1", {"holidays_country": "fr"})
    assert settings_for_tenant(demo_storage, "1").holidays_country == "FR"


def test_bad_override_rows_written_by_others_are_reported(demo_storage):
    demo_storage.upsert("tenant_ml_settings", "1", [{"tenant_id": "1", "settings": {"ML_CV_FOLDS": "many"}}])
    with pytest.raises(ConfigError, match="ML_CV_FOLDS"):
        settings_for_tenant(demo_storage, "1")
