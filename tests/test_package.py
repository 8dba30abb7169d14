"""Package-level promises."""

import subprocess
import sys


def test_the_package_never_imports_streamlit():
    code = "import sys, forecasting, forecasting.pipeline, forecasting.cli; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_logs_are_one_json_object_per_event(capsys):
    import json
    import logging

    from forecasting.logs import log_event, setup_logging

    setup_logging("INFO")
    try:
        log_event("unit_test_event", tenant_id="7", value=float("nan"))
        line = capsys.readouterr().err.strip().splitlines()[-1]
        payload = json.loads(line)
        assert payload["event"] == "unit_test_event" and payload["tenant_id"] == "7" and payload["level"] == "info"
    finally:
        logging.getLogger("forecasting").setLevel(logging.WARNING)


def test_readme_documents_every_setting():
    from pathlib import Path

    from forecasting.config import AppSettings, MLSettings

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    names = [f"ML_{name.upper()}" for name in MLSettings.model_fields] + [name.upper() for name in AppSettings.model_fields]
    missing = [name for name in names if f"`{name}`" not in readme and name not in readme]
    assert not missing, f"README's configuration table lacks {missing}"
