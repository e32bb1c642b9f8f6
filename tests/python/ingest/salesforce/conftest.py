"""Fixtures of the Salesforce source's tests: the loopback test org and a worker wired to it.

The test server (``tests/salesforce_server``) is a plain package shared with ``tests/e2e`` and
``benchmarks/``; with ``--import-mode=importlib`` it is not on ``sys.path``, so it is loaded from
its location.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

TESTS_DIR = Path(__file__).resolve().parents[3]
PYTHON_DIR = TESTS_DIR.parent / "python"


def load_salesforce_server() -> ModuleType:
    """Import ``tests/salesforce_server`` (once) from its location."""
    if "salesforce_server" not in sys.modules:
        package = TESTS_DIR / "salesforce_server"
        spec = importlib.util.spec_from_file_location(
            "salesforce_server", package / "__init__.py", submodule_search_locations=[str(package)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["salesforce_server"]


salesforce_server = load_salesforce_server()


@dataclass
class SalesforceOrg:
    """The test org, a private warehouse, and ``python -m ingest --source salesforce`` against them."""

    server: Any  # salesforce_server.SalesforceTestServer
    warehouse: Path
    run_worker: Callable[..., Any]
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Any:
        """The org's records (``salesforce_server.RecordStore``)."""
        return self.server.store

    @property
    def faults(self) -> Any:
        """Fault injection and the request log (``salesforce_server.FaultPlan``)."""
        return self.server.faults

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment of a worker run: the org's credentials and the warehouse."""
        return {**self.server.env(), "WAREHOUSE_DUCKDB_PATH": str(self.warehouse), **self.extra_env, **overrides}

    def ingest(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """Run the worker to completion; returns its ``WorkerRun``."""
        return self.run_worker("ingest", "--source", "salesforce", *args, env=env or self.env())

    def start_ingest(self, *args: str) -> subprocess.Popen[str]:
        """Start the worker without waiting for it (output discarded)."""
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", "--source", "salesforce", *args],
            cwd=PYTHON_DIR, env={**os.environ, **self.env()},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query on the warehouse (read-only connection)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    def table(self, name: str, exclude: str = "") -> list[dict[str, Any]]:
        """Every row of a warehouse table as dicts, sorted by Id (``exclude``: columns to leave out)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            columns = f"* EXCLUDE ({exclude})" if exclude else "*"
            cursor = connection.execute(f"SELECT {columns} FROM {name} ORDER BY Id")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def types(self, name: str) -> dict[str, str]:
        """Column -> DuckDB type of a warehouse table."""
        return {str(row[0]): str(row[1]) for row in self.query(f"DESCRIBE {name}")}


@pytest.fixture(scope="session")
def salesforce_certificate(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A TLS certificate for 127.0.0.1, made once per session."""
    return salesforce_server.loopback_certificate(tmp_path_factory.mktemp("salesforce-tls"))


StartOrg = Callable[..., SalesforceOrg]


@pytest.fixture
def start_org(salesforce_certificate: Any, tmp_path: Path, run_worker: Callable[..., Any]) -> Iterator[StartOrg]:
    """``start_org(**options)`` seeds and serves a test org (options of ``start_server``, e.g.
    ``credentials``); every org started is stopped after the test."""
    servers: list[Any] = []

    def start(**options: Any) -> SalesforceOrg:
        server = salesforce_server.start_server(salesforce_certificate, **options)
        servers.append(server)
        return SalesforceOrg(server, tmp_path / "warehouse" / f"warehouse{len(servers)}.duckdb", run_worker)

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def org(start_org: StartOrg) -> SalesforceOrg:
    """A freshly seeded test org (1,000 Accounts, 2,500 Contacts, 1,500 Opportunities)."""
    return start_org()


@pytest.fixture(scope="session")
def test_server_package() -> ModuleType:
    """The ``salesforce_server`` package (``OrgCredentials``, ``private_key_pem``, ...)."""
    return salesforce_server


@pytest.fixture(autouse=True)
def _no_developer_salesforce_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's own SALESFORCE_* variables and CA bundle out of the worker runs."""
    for name in list(os.environ):
        if name.startswith("SALESFORCE_") or name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(name, raising=False)
