"""The Airflow environment of the Airflow export tests: created once, cached (``airflow_venv.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.orchestra_local.export.airflow_venv import ensure_airflow_venv, repository_path

DRIVER = Path(__file__).with_name("airflow_driver.py")


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """The Airflow environment's interpreter (built on first use: a few minutes, reported on stderr)."""
    python, seconds = ensure_airflow_venv()
    if seconds:
        print(f"created the Airflow environment in {seconds:.0f} s", file=sys.stderr)
    return python


@pytest.fixture
def airflow(airflow_python: Path, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``airflow(command, dags_folder, *args, env={})``: run ``airflow_driver.py`` in the Airflow
    environment with a fresh ``AIRFLOW_HOME`` (SQLite metadata database) under tmp_path; its JSON."""

    def run(command: str, dags: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        home = tmp_path / "airflow_home"
        home.mkdir(exist_ok=True)
        environment = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                       "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                       "SCARF_ANALYTICS": "false", "PYTHONPATH": repository_path(), **(env or {})}
        done = subprocess.run([str(airflow_python), str(DRIVER), command, str(dags), *args], env=environment,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-6000:]
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    return run
