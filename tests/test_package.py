"""Package-level promises."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_of_the_package_imports_streamlit():
    """Every module, imported for real in a fresh process (the import contract below checks the source)."""
    code = ("import pkgutil, importlib, sys, forecasting\n"
            "names = [m.name for m in pkgutil.walk_packages(forecasting.__path__, 'forecasting.')\n"
            "         if not m.name.endswith('__main__')]\n"
            "[importlib.import_module(n) for n in names]\n"
            "print(len(names), 'streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    count, imported = out.stdout.split()
    assert int(count) > 40 and imported == "False"


def test_a_training_worker_loads_no_locale_strings_or_notifications():
    """What a Dask or pool worker imports to train: no Babel, no string table, no notification code."""
    code = ("import sys, forecasting.ops.executors, forecasting.services.training\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'babel' or m.startswith('forecasting.i18n')\n"
            "             or m.endswith('notifications')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--config", "pyproject.toml",
                           "--no-cache"], capture_output=True, text=True, cwd=root)


def test_imports_follow_the_layers_of_pyproject():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_an_import_pointing_up_a_layer_breaks_the_contract(tmp_path):
    """The contract can fail: the modelling core reaching up into storage is reported, by module and line."""
    shutil.copytree(ROOT / "forecasting", tmp_path / "forecasting", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    metrics = tmp_path / "forecasting" / "core" / "metrics.py"
    metrics.write_text(metrics.read_text() + "\n\ndef _storage():\n    from ..storage import Storage\n\n"
                       "    return Storage\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "forecasting.core.metrics -> forecasting.storage" in result.stdout


def test_logs_are_one_json_object_per_event(capsys):
    import json
    import logging

    from forecasting.core.logs import log_event, setup_logging

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

    from forecasting.core.config import AppSettings, MLSettings

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    names = [f"ML_{name.upper()}" for name in MLSettings.model_fields]
    names += [name.upper() for name in AppSettings.model_fields]
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
    assert "forecasting.services.training" in graph["forecasting.ops.executors"]  # the graph reads imports

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


def _imports_of_test_modules(root: Path) -> list[str]:
    """Imports, in any module under root/tests, of a test module (`test_*`) or of a conftest: relative or
    absolute, at any depth of the file, and in `pytest_plugins`. What they share lives in tests/support,
    fixtures in the conftests."""
    import ast

    def banned(parts: list[str]) -> bool:
        return any(part.startswith("test_") or part == "conftest" for part in parts)

    offenders = []
    for path in sorted((root / "tests").rglob("*.py")):
        package = list(path.relative_to(root).parent.parts)  # the module's package: ["tests", "robustness"]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[list[str]] = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".") for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = base + (node.module.split(".") if node.module else [])
                names = [module]
                if module[:1] == ["tests"] and not banned(module):  # `from . import conftest`: a module too
                    names = [module + [alias.name] for alias in node.names]
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytest_plugins" for t in node.targets):
                names = [c.value.split(".") for c in ast.walk(node.value)
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            offenders += [(str(path.relative_to(root)), node.lineno, ".".join(name)) for name in names if banned(name)]
    return [f"{path}:{line} imports {name}" for path, line, name in sorted(offenders)]


def test_no_test_module_imports_another_or_a_conftest(tmp_path):
    bad = {"tests/__init__.py": "", "tests/conftest.py": "from .test_pages import demo_db\n",
           "tests/core/test_a.py": "import tests.test_b\nfrom ..conftest import NOW\n\n\ndef f():\n"
                                   "    from tests import conftest\n",
           "tests/support/helpers.py": "pytest_plugins = ['tests.core.test_a']\n"}
    for name, text in bad.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert _imports_of_test_modules(tmp_path) == [
        "tests/conftest.py:1 imports tests.test_pages", "tests/core/test_a.py:1 imports tests.test_b",
        "tests/core/test_a.py:2 imports tests.conftest", "tests/core/test_a.py:6 imports tests.conftest",
        "tests/support/helpers.py:1 imports tests.core.test_a"]  # the check can fail, naming file and line

    offenders = _imports_of_test_modules(ROOT)
    assert not offenders, "shared helpers go to tests/support, fixtures to a conftest: " + "; ".join(offenders)
