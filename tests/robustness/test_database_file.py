"""The embedded database file: never created in a folder nobody asked for, never written after it is gone.

* `--db /nonexistent/dir/x.db` used to create the folders and an empty database; now it is an error in
  one line, and nothing is created. Only the default location (`data/`) gets its folder made.
* Deleted (or replaced) while the dashboard runs, SQLite kept writing into the deleted file through its
  open connections: a retrain "succeeded" and everything was lost at the next start. Now every call
  checks the file first and says what happened.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forecasting.core.config import AppSettings
from forecasting.core.errors import StorageError
from forecasting.services.training import train_and_predict_sales
from forecasting.storage import SQLStorage, open_storage
from tests.support import FAST, NOW

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecasting", "--quiet", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_a_db_path_in_a_missing_folder_is_an_error_and_creates_nothing(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "x.db"
    done = cli("--db", str(target), "tenants")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: the folder {str(target.parent)!r} of the database file does not exist: create it first, or "
        "choose another file")
    assert not (tmp_path / "no").exists()


def test_the_same_path_in_an_existing_folder_is_created(tmp_path):
    done = cli("--db", str(tmp_path / "x.db"), "tenants")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x.db").is_file()


def test_only_the_default_location_gets_its_folder_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_storage(AppSettings())  # data/forecasting.db, relative to the working folder
    store.close()
    assert (tmp_path / "data" / "forecasting.db").is_file()
    with pytest.raises(StorageError, match="does not exist"):
        open_storage(AppSettings(forecasting_db_path=str(tmp_path / "other" / "f.db")))


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_file_deleted_or_replaced_while_open_is_never_written(demo_data, tmp_path, how):
    from forecasting.services.demo import write_demo

    path = tmp_path / "shop.db"
    store = SQLStorage.sqlite_file(path)
    write_demo(store, demo_data)
    assert store.count("ventas", "1") > 0  # connections are open and in use
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if how == "replaced":
        other = SQLStorage.sqlite_file(tmp_path / "other.db")
        other.close()
        shutil.copyfile(tmp_path / "other.db", path)

    with pytest.raises(StorageError) as err:
        train_and_predict_sales("1", storage=store, settings=FAST, now=NOW)

    assert str(err.value) == (f"the database file {str(path)!r} was deleted or replaced while the app was running, "
                              "so nothing was read or written: restore the file, or restart the app to start a new one")
    assert path.exists() == (how == "replaced")  # not re-created empty behind the user's back
    if how == "replaced":
        assert SQLStorage.sqlite_file(path).tenants().empty  # the replacement was not written into either
    store.close()
