"""The Dask scale-out recipe as a user follows it: `pip install .`, then a `dask scheduler` and two
`dask worker` processes started in a folder that is not the checkout, and `train --all --executor dask`.

Without the package installed, the scheduler (it unpickles the task graph) and the workers fail with
`ModuleNotFoundError: forecasting`. Here the package is built from a copy of the checkout (so the
build leaves no `build/` or `*.egg-info` behind) and installed with `pip install --no-deps --target`
into a fresh virtual environment. That environment gets the dependencies from the test run's own
environment through a `.pth` file (no download of the whole dependency set, and pip never writes
there); only the build backend (setuptools) comes from pip's cache or the package index. Every
process runs with that environment's Python, in a scratch folder, without PYTHONPATH.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from forecasting.services.model_store import active_model_info, list_models
from forecasting.storage import SQLStorage
from tests.support import FAST
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "supabase" / "migrations"

# Small, fast training (the FAST settings of tests/support), given as a user gives them.
FAST_ENV = {"ML_MODEL_CANDIDATES": ",".join(FAST.model_candidates), "ML_HORIZON_DAYS": str(FAST.horizon_days),
            "ML_CV_FOLDS": str(FAST.cv_folds)}

# Where the package reports its files and migrations from, run by the installed environment's Python.
PROBE = """
import json, forecasting, forecasting.ops.executors
from forecasting.storage.migrate import migration_files
print(json.dumps({"package": forecasting.__file__, "migrations": [str(p) for p in migration_files()]}))
"""


@dataclass
class Installed:
    python: Path  # the environment's interpreter
    site: Path  # its site-packages, which holds the installed package
    elsewhere: Path  # a scratch folder outside the checkout: every process's working directory

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process a user starts: no PYTHONPATH, none of this run's settings."""
        drop = ("PYTHONPATH", "PYTHONHOME", "DATABASE_URL", "FORECASTING_DB_PATH", "TRAIN_EXECUTOR", "DASK_ADDRESS",
                "LOG_LEVEL", "MODEL_SIGNING_KEY")
        env = {key: value for key, value in os.environ.items()
               if key not in drop and not key.startswith(("ML_", "SUPABASE_", "DASK_"))}
        return {**env, **extra}

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.python), *args], check=False, cwd=self.elsewhere, env=env or self.env(),
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc


def shared_site_dirs() -> list[str]:
    """The site-packages of the environment running the tests: the installed package's dependencies."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "forecasting", source / "forecasting", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(MIGRATIONS, source / "supabase" / "migrations")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           check=True, capture_output=True, text=True, cwd=elsewhere, timeout=60)
    site = Path(where.stdout.strip()).resolve()
    # addsitedir (not a bare path line) so that the dependencies' own .pth files are processed too
    (site / "shared_dependencies.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in shared_site_dirs()))

    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-input", "--quiet",
                           "--disable-pip-version-check", "--target", str(site), str(source)],
                          check=False, capture_output=True, text=True, cwd=base, timeout=600)
    assert proc.returncode == 0, f"pip install failed\n{proc.stdout}\n{proc.stderr}"
    return Installed(python=python, site=site, elsewhere=elsewhere)


def package_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".") and p.suffix != ".pyc"}


def test_the_installed_package_has_every_file_and_finds_its_migrations(installed):
    expected = package_files(ROOT / "forecasting") | {f"storage/migrations/{p.name}" for p in MIGRATIONS.glob("*.sql")}
    assert any(name.endswith(".po") for name in expected)  # the catalogs are package data
    assert package_files(installed.site / "forecasting") == expected  # subpackages, .po files, migrations

    found = json.loads(installed.run("-c", PROBE).stdout)
    assert Path(found["package"]).resolve().is_relative_to(installed.site), found["package"]  # not the checkout
    migrations = [Path(p).resolve() for p in found["migrations"]]
    assert {p.parent for p in migrations} == {installed.site / "forecasting" / "storage" / "migrations"}
    assert [p.name for p in migrations] == sorted(p.name for p in MIGRATIONS.glob("*.sql"))


@dataclass
class DaskCluster:
    address: str
    workers: list[subprocess.Popen]
    worker_logs: list[Path]


def start(installed: Installed, args: list[str], log: Path) -> subprocess.Popen:
    """A `dask ...` command of the installed environment, in its own process group (stopped as a whole)."""
    with log.open("w") as out:
        return subprocess.Popen([str(installed.python), "-m", "dask", *args], cwd=installed.elsewhere,
                                env=installed.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (a worker's nanny and its worker process), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def alive(proc: subprocess.Popen, log: Path) -> None:
    if proc.poll() is not None:
        raise AssertionError(f"{proc.args[3:]} exited {proc.returncode}:\n{log.read_text()[-4000:]}")


def read_address(scheduler_file: Path) -> str | None:
    try:
        return json.loads(scheduler_file.read_text())["address"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None  # not written yet, or half-written


@pytest.fixture
def dask_cluster(installed, tmp_path):
    """`dask scheduler` and two `dask worker` processes, as the README starts them; always stopped."""
    from distributed import Client

    processes: list[subprocess.Popen] = []
    try:
        scheduler_file, log = tmp_path / "scheduler.json", tmp_path / "scheduler.log"
        scheduler = start(installed, ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(scheduler_file)], log)
        processes.append(scheduler)

        def scheduler_address():
            alive(scheduler, log)
            return read_address(scheduler_file)

        address = wait_for(scheduler_address, timeout=120, what="the scheduler's address file")
        logs = [tmp_path / f"worker-{i}.log" for i in (1, 2)]
        workers = [start(installed, ["worker", address, "--nthreads", "1", "--name", f"worker-{i}", "--host",
                                     "127.0.0.1", "--no-dashboard", "--local-directory", str(tmp_path / f"w{i}")], wlog)
                   for i, wlog in enumerate(logs, 1)]
        processes += workers
        with Client(address, timeout="60s") as client:
            def two_workers():
                for proc, wlog in zip([scheduler, *workers], [log, *logs], strict=True):
                    alive(proc, wlog)
                return len(client.scheduler_info()["workers"]) == 2

            wait_for(two_workers, timeout=120, every=0.5, what="two workers connected to the scheduler")
            yield client, DaskCluster(address, workers, logs)
    finally:
        for proc in reversed(processes):  # workers first, then the scheduler
            stop(proc)


def events(text: str, name: str) -> list[dict]:
    """The package's JSON log events called `name` among a process's output lines."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") == name:
                found.append(event)
    return found


def test_train_all_on_a_dask_scheduler_and_two_worker_processes(installed, dask_cluster):
    client, cluster = dask_cluster
    # The scheduler and both workers import the installed package, not the checkout.
    package = installed.site / "forecasting"
    assert Path(client.run_on_scheduler(importlib.resources.files, "forecasting")).resolve() == package
    assert {Path(p).resolve() for p in client.run(importlib.resources.files, "forecasting").values()} == {package}

    db = installed.elsewhere / "demo.db"  # a SQLite file every process reaches (a shared disk, in a deployment)
    out = installed.run("-m", "forecasting", "--db", str(db), "demo", "--tenants", "2", "--days", "200",
                        "--seed", "3").stdout
    assert "2 tenants" in out
    proc = installed.run("-m", "forecasting", "--db", str(db), "train", "--all", "--executor", "dask",
                         "--address", cluster.address, env=installed.env(**FAST_ENV, LOG_LEVEL="INFO"))
    assert "2 of 2 tenants trained" in proc.stdout, proc.stdout + proc.stderr
    assert not events(proc.stderr, "model_saved")  # the command itself trained nothing

    # Each tenant was trained once, by one of the worker processes, and its model version is in the database.
    saved = [event for log in cluster.worker_logs for event in events(log.read_text(), "model_saved")]
    storage = SQLStorage.sqlite_file(db)
    try:
        tenants = sorted(storage.tenants()["id"].astype(str))
        assert len(tenants) == 2
        assert sorted(event["tenant_id"] for event in saved) == tenants
        for event in saved:
            tenant = event["tenant_id"]
            assert len(list_models(storage, tenant)) == 1
            active = active_model_info(storage, tenant)
            assert active is not None and active.model_version == event["model_version"], tenant
    finally:
        storage.close()
    assert len(client.scheduler_info()["workers"]) == 2 and all(w.poll() is None for w in cluster.workers)
