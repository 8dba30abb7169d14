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
