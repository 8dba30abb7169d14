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


def _import_graph() -> dict[str, set[str]]:
    """forecasting's modules and the modules of forecasting each imports, at any depth of the file
    (an import inside a function is still an arrow: it only hides the cycle until the call)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    modules = {}
    for path in (root / "forecasting").rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                graph[name] |= {t for t in (target, *(f"{target}.{a.name}" for a in node.names))
                                if t in modules and t != name}
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in modules and a.name != name}
    return graph


def test_the_package_has_no_import_cycle():
    graph = _import_graph()
    assert graph["forecasting.executors"] and "forecasting.pipeline" in graph["forecasting.executors"]  # it reads

    def path_back(start: str) -> list[str] | None:
        """A chain of imports from `start` back to itself, if there is one."""
        seen, todo = set(), [[start]]
        while todo:
            chain = todo.pop()
            for nxt in sorted(graph[chain[-1]]):
                if nxt == start:
                    return chain + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(chain + [nxt])
        return None

    cycles = [" -> ".join(c) for c in map(path_back, sorted(graph)) if c]
    assert not cycles, cycles
