"""Tenant ids and settings from users never reach SQL text; secrets never reach output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forecasting.core.errors import DataError
from forecasting.services.tenants import get_tenant
from forecasting.services.training import train_and_predict_sales
from tests.support import FAST, NOW

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ["1' OR '1'='1", "1; DROP TABLE ventas; --", "' UNION SELECT * FROM negocios --", "%", "_", "1\\", "\x00"]


@pytest.mark.parametrize("tenant", HOSTILE)
def test_hostile_tenant_ids_match_nothing_and_break_nothing(demo_storage, tenant):
    before = demo_storage.count("ventas", "1")
    assert demo_storage.select("ventas", tenant).empty
    assert demo_storage.select("ml_predictions", tenant).empty
    with pytest.raises(DataError, match="unknown tenant"):
        get_tenant(demo_storage, tenant)
    assert demo_storage.delete("ventas", tenant) == 0
    assert demo_storage.count("ventas", "1") == before and len(demo_storage.tenants()) == 3


def test_a_hostile_tenant_id_is_stored_as_plain_text(storage):
    tenant = HOSTILE[1]
    storage.upsert("negocios", tenant, [{"id": tenant, "nombre": "Robert'); DROP TABLE ventas;--"}])
    assert get_tenant(storage, tenant).nombre == "Robert'); DROP TABLE ventas;--"
    assert storage.count("ventas", tenant) == 0  # the table still exists


def test_hostile_settings_values_are_validated_not_executed(demo_storage):
    demo_storage.upsert("tenant_ml_settings", "1", [{"tenant_id": "1", "settings": {"ML_CV_PRIMARY_METRIC": "mase; DROP TABLE ventas"}}])
    from forecasting.core.errors import ConfigError

    with pytest.raises(ConfigError, match="ML_CV_PRIMARY_METRIC"):
        train_and_predict_sales("1", storage=demo_storage, settings=FAST, now=NOW)
    assert demo_storage.count("ventas", "1") > 0


def test_secrets_never_appear_in_cli_output_or_logs(tmp_path):
    secret_key = "sk-test-SERVICE-ROLE-abcdef123456"
    password = "pw-very-secret-987"
    env = {**os.environ, "SUPABASE_URL": "https://example.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": secret_key,
           "DATABASE_URL": f"postgresql://alice:{password}@127.0.0.1:9/nodb", "LOG_LEVEL": "DEBUG"}
    outputs = []
    for args in (["tenants"], ["train", "--tenant", "1"], ["run-job", "health_check"], ["migrate"]):
        proc = subprocess.run([sys.executable, "-m", "forecasting", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        outputs.append(proc.stdout + proc.stderr)
        assert proc.returncode != 0  # nothing listens on port 9: every command fails, in words
    text = "\n".join(outputs)
    assert "could not" in text or "error" in text
    assert secret_key not in text and password not in text


def test_user_values_travel_as_parameters_never_as_sql_text(sql_storage):
    """Every statement sent while a hostile tenant is written, trained, shown and signed in to, read off the wire."""
    import numpy as np
    import pandas as pd
    from sqlalchemy import event

    from forecasting.core.errors import AccessError
    from forecasting.services import auth
    from forecasting.views import forecast, overview

    marker = "Zq9"  # in every hostile value, in no SQL we write
    tenant = f"{marker}'); DROP TABLE ventas; --"
    statements: list[str] = []
    event.listen(sql_storage.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))

    sql_storage.upsert("negocios", tenant, [{"id": tenant, "nombre": f"{marker} Robert'); --",
                                               "timezone": "Europe/Madrid"}])
    days = pd.date_range(NOW - pd.Timedelta(days=150), periods=150, freq="D")
    totals = 100 + 20 * np.sin(np.arange(150) * 2 * np.pi / 7)
    sql_storage.upsert("ventas", tenant, [{"id": f"{marker}-{i}' OR '1'='1", "fecha": day, "total": float(total)}
                                            for i, (day, total) in enumerate(zip(days, totals, strict=True))])
    sql_storage.upsert("tenant_ml_settings", tenant, [{"tenant_id": tenant,
                                                         "settings": {"ML_HORIZON_DAYS": 14}}])
    train_and_predict_sales(tenant, storage=sql_storage, settings=FAST, now=NOW)
    overview.overview(sql_storage, tenant, now=NOW)
    forecast.forecast_view(sql_storage, tenant)
    with pytest.raises(AccessError):
        auth.sign_in(sql_storage, f"{marker}' or '1'='1", f"{marker}' or '1'='1")
    auth.add_user(sql_storage, f"{marker.lower()}@x", f"{marker}'; drop table app_users; --", "owner", tenant)
    auth.sign_in(sql_storage, f"{marker.lower()}@x", f"{marker}'; drop table app_users; --")

    assert len(statements) > 20  # the recorder saw the work
    assert not [s for s in statements if marker in s or marker.lower() in s]
    assert sql_storage.count("ventas", tenant) == 150 and not sql_storage.select("ml_models", tenant).empty
