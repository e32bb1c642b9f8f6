"""Fixtures shared by the tests of the workers in python/: environment isolation, subprocess
runs of ``python -m <worker>`` with ``cwd=python/``, TPC-H source databases, PostgreSQL schemas.

The repository-wide ``tests/conftest.py`` provides ``postgres_url`` and isolates HOME and state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from tpch_source.build import build_source

PYTHON_DIR = Path(__file__).resolve().parents[2] / "python"
TPCH_SCALE_FACTOR = 0.01

# Variables a developer may have exported for the demo; tests set what they need explicitly.
WORKER_VARIABLES = (
    "SOURCE_DATABASE_URL",
    "TPCH_SOURCE_URL",
    "WAREHOUSE_DUCKDB_PATH",
    "WAREHOUSE_DUCKDB_MEMORY_LIMIT",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in WORKER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@dataclass(frozen=True)
class WorkerRun:
    """A finished worker process."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, object]:
        """The JSON summary on the last stdout line (only valid when the worker succeeded)."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"no output; stderr:\n{self.stderr}"
        parsed = json.loads(lines[-1])
        assert isinstance(parsed, dict)
        return parsed

    @property
    def error_lines(self) -> list[str]:
        """The ``Error:`` lines on stderr."""
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]


def worker_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m <module>`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def worker_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """The current environment (already stripped of worker variables) plus ``overrides``."""
    environment = dict(os.environ)
    environment.update(overrides)
    return environment


def _run_worker(module: str, *args: str, env: Mapping[str, str], timeout: float = 120) -> WorkerRun:
    """Run a worker to completion as Orchestra does: a subprocess with ``cwd=python/``."""
    completed = subprocess.run(
        worker_command(module, *args),
        cwd=PYTHON_DIR,
        env=worker_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return WorkerRun(completed.returncode, completed.stdout, completed.stderr)


RunWorker = Callable[..., WorkerRun]


@pytest.fixture(scope="session")
def run_worker() -> RunWorker:
    """``run_worker(module, *args, env={...})`` runs ``python -m module`` in ``python/``."""
    return _run_worker


@pytest.fixture(scope="session")
def tpch_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TPC-H SF 0.01 SQLite database built once per session; copy it before changing it."""
    path = tmp_path_factory.mktemp("tpch") / "tpch.sqlite"
    build_source(make_url(f"sqlite:///{path}"), TPCH_SCALE_FACTOR, None, 100_000)
    return path


@pytest.fixture
def tpch_sqlite(tpch_sqlite_template: Path, tmp_path: Path) -> Path:
    """A private copy of the TPC-H SF 0.01 SQLite database."""
    path = tmp_path / "source.sqlite"
    shutil.copyfile(tpch_sqlite_template, path)
    return path


@dataclass(frozen=True)
class PostgresSchema:
    """A uniquely named, initially empty schema in the test PostgreSQL database."""

    url: str
    schema: str

    def engine(self) -> sa.Engine:
        """A new engine on the test database (dispose it after use)."""
        return sa.create_engine(self.url, poolclass=sa.NullPool)


@pytest.fixture
def postgres_schema(request: pytest.FixtureRequest, postgres_url: str) -> Iterator[PostgresSchema]:
    """Create a schema named after the test in the test database; drop it afterwards.

    The database URL is the suite's ``postgres_url`` (``TEST_POSTGRES_URL`` overrides it).
    """
    url = postgres_url
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        masked = make_url(url).render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL is not reachable at {masked}: {str(exc).splitlines()[0]}")
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:30]
    schema = f"t_{slug}_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    try:
        yield PostgresSchema(url, schema)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
        engine.dispose()
