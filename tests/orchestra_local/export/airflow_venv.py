"""A cached virtual environment with Apache Airflow and this repository, for the Airflow export tests.

Airflow cannot live in the project's environment: apache-airflow 3.3.2 needs fastapi <= 0.136,
``requirements.txt`` pins 0.165 for ``orchestra-local serve``. So the tests build a separate one,
once, under ``~/.cache/orchestra-local-airflow/<key>`` (``$XDG_CACHE_HOME`` when set), where
``<key>`` is ``airflow-<version>-<hash>`` and the hash covers this repository's requirement files
and pyproject files, the pins below and the Python version. The repository itself is not installed
there: the tests put it on ``PYTHONPATH`` (:func:`repository_path`), so every clone of the
repository on this machine (CI clones it afresh) shares one environment. Creating it (``python3.11 -m venv`` + pip) takes a few minutes; later sessions
only check it. A lock file keeps two test workers from building it at once.

What goes in: ``apache-airflow`` and ``fastapi`` pinned below (PyPI only: Airflow's constraints
files live on GitHub, which this machine cannot reach, so pip resolves and we pin what we need),
``python/requirements.txt`` (the workers the demo pipeline runs in this interpreter), the pins of
``requirements.txt`` except :data:`LEFT_OUT`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[3]
CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "orchestra-local-airflow"
"""Where the environments are kept between sessions (read at import: the tests move ``HOME``)."""

BASE_PYTHON = os.environ.get("AIRFLOW_TEST_PYTHON", "python3.11")
"""Interpreter the environment is created from [env AIRFLOW_TEST_PYTHON]."""

AIRFLOW_VERSION = "3.3.2"
PINS = (f"apache-airflow=={AIRFLOW_VERSION}", "fastapi==0.136.3")
"""Exact pins of the Airflow side; fastapi 0.136.3 is the newest apache-airflow 3.3.2 accepts."""

LEFT_OUT = {
    "fastapi": "pinned above to what Airflow accepts",
    "uvicorn": "Airflow's API server pins its own", "httptools": "with uvicorn", "uvloop": "with uvicorn",
    "dagster": "the other export target", "grpcio-health-checking": "Dagster's",
    "boto3": "sensors, not exported", "s3fs": "sensors, not exported", "fsspec": "sensors, not exported",
    "connectorx": "benchmarks", "pytest": "tests run in the project's environment", "pytest-timeout": "tests",
    "pytest-xdist": "tests", "hypothesis": "tests", "jsonschema": "tests", "ruff": "tests",
    "orchestra-sdk": "tests", "moto": "tests", "aiosmtpd": "tests", "orchestra-cli": "tests",
    "playwright": "browser tests", "pillow": "browser tests",
}
"""Packages of ``requirements.txt`` not installed here, and why."""

HASHED = ("requirements.txt", "python/requirements.txt", "pyproject.toml", "python/pyproject.toml")


def _name(requirement: str) -> str:
    return requirement.split("==")[0].split("[")[0].strip().lower()


def runner_pins(repo: Path = REPO_ROOT) -> list[str]:
    """The ``==`` pins of ``requirements.txt`` itself (not its ``-r``), minus :data:`LEFT_OUT`."""
    pins = []
    for line in (repo / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-") and _name(line) not in LEFT_OUT:
            pins.append(line)
    return pins


def repository_path(repo: Path = REPO_ROOT) -> str:
    """``PYTHONPATH`` that makes this repository's packages (``orchestra_local``, the workers of
    ``python/``) importable in the Airflow environment."""
    return os.pathsep.join([str(repo), str(repo / "python")])


def cache_key(repo: Path = REPO_ROOT) -> str:
    """``airflow-<version>-<12 hex digits>`` of the pins, the requirement files and the Python version."""
    digest = hashlib.sha256("\n".join((*PINS, sys.version.split()[0])).encode())
    for name in HASHED:
        digest.update((repo / name).read_bytes())
    return f"airflow-{AIRFLOW_VERSION}-{digest.hexdigest()[:12]}"


def ensure_airflow_venv(repo: Path = REPO_ROOT) -> tuple[Path, float]:
    """The environment's interpreter, and the seconds spent creating it (0.0 when it was cached).

    Raises:
        subprocess.CalledProcessError: venv or pip failed (the half-built folder is removed).
    """
    venv = CACHE_ROOT / cache_key(repo)
    python = venv / "bin" / "python"
    done = venv / ".complete"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock"):
        if done.exists():
            return python, 0.0
        started = time.monotonic()
        print(f"creating {venv} (apache-airflow {AIRFLOW_VERSION}); takes a few minutes once", file=sys.stderr)
        shutil.rmtree(venv, ignore_errors=True)
        try:
            subprocess.run([BASE_PYTHON, "-m", "venv", str(venv)], check=True)
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, *PINS, *runner_pins(repo), "-r", str(repo / "python" / "requirements.txt")],
                           check=True)
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        seconds = time.monotonic() - started
        done.write_text(f"{seconds:.0f}\n")
        return python, seconds
