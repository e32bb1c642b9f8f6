"""Fixtures shared by the whole suite.

Every test runs with its state (metadata DB, logs, warehouse) in its own tmp_path, and with a
developer's own settings (.env, ~/.dbt, .dlt/secrets.toml, ORCHESTRA_LOCAL_* variables) kept out.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Set by .ci/run: a test skipped because PostgreSQL or MariaDB "is not reachable" fails instead, so
# CI cannot go green while the database tests quietly did not run.
REQUIRE_SERVICES = os.environ.get("REQUIRE_TEST_SERVICES") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Turn "server not reachable" skips into failures when REQUIRE_TEST_SERVICES=1."""
    report: pytest.TestReport = yield
    if REQUIRE_SERVICES and report.skipped and "is not reachable" in str(report.longrepr):
        report.outcome = "failed"
    return report


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point every state location into tmp_path and drop variables that would leak in."""
    for name in list(os.environ):
        if name.startswith(("ORCHESTRA_LOCAL_", "DBT_", "DESTINATION__", "SOURCES__")):
            monkeypatch.delenv(name, raising=False)
    state = tmp_path / "state"
    monkeypatch.setenv("ORCHESTRA_LOCAL_HOME", str(state))
    # Python tasks run in the runner's interpreter unless a test asks for per-project environments
    # (tests/orchestra_local/venvs/): building python/requirements.txt into every tmp_path would cost
    # minutes per test. The default (auto) itself is tested there.
    monkeypatch.setenv("ORCHESTRA_LOCAL_PYTHON_ISOLATION", "shared")
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.dbt, no ~/.dlt of the developer
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    yield


CLI = str(Path(sys.executable).with_name("orchestra-local"))


@pytest.fixture
def cli_path() -> str:
    """Path of the installed ``orchestra-local`` console script."""
    return CLI


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args, cwd=..., env=..., timeout=...)`` runs the installed console script."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the local PostgreSQL test database (override with TEST_POSTGRES_URL)."""
    return POSTGRES_URL


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty repository root (holds .git, so the runner treats it as the repo root)."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "orchestra").mkdir()
    return root


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """A local moto S3 server (real HTTP on loopback), empty: its URL, ``http://127.0.0.1:PORT``."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto keeps its buckets in process-wide memory that outlives a server: start each test empty
    httpx.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()
    yield url
    server.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium (Debian's package; `.ci/run` installs it), closed after the test."""
    if not Path(CHROMIUM).is_file():
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL test database, dropped with everything in it afterwards."""
    name = f"it_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(postgres_url, poolclass=sqlalchemy.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"create schema {name}")
    yield name
    with engine.begin() as connection:
        connection.exec_driver_sql(f"drop schema {name} cascade")
    engine.dispose()


def postgres_fields(postgres_url: str) -> dict[str, str]:
    """The test database as the fields of a POSTGRES connection (host, port, user, database[, password])."""
    url = make_url(postgres_url)
    fields = {"host": url.host or "127.0.0.1", "port": str(url.port or 5432), "user": url.username or "postgres",
              "database": url.database or "test"}
    if url.password:
        fields["password"] = str(url.password)
    return fields
