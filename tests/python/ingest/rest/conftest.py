"""Fixtures of the ``rest`` source's tests: the fake API on loopback, its source file, the worker.

``api`` serves six endpoints (page number, offset, body cursor, ``Link`` header, next URL in the
body, and a POST search), each requiring a bearer token. ``rest`` writes the source file into
tmp_path, runs ``python -m ingest --source rest`` as a subprocess against the API and a private
DuckDB warehouse, and reads the warehouse back.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

if TYPE_CHECKING:
    from fake_api import FakeApi


def _load_fake_api() -> ModuleType:
    """Import fake_api.py by path (the suite's test folders are not packages)."""
    path = Path(__file__).with_name("fake_api.py")
    spec = importlib.util.spec_from_file_location("rest_fake_api", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


FAKE = _load_fake_api()

CONFIG = """\
# The fake API's source file; the base URL and token come from the environment.
base_url_env: TEST_API_BASE_URL
auth:
  type: bearer
  token_env: TEST_API_TOKEN
retry:
  max_attempts: 4
  initial_delay_seconds: 0.05
  max_delay_seconds: 0.2
timeouts:
  connect_seconds: 2
  read_seconds: 1
endpoints:
  users:
    path: v1/users
    records_path: data.items
    pagination: {type: page_number, size_param: per_page, page_size: 3, total_pages_path: meta.total_pages}
    primary_key: [id]
    columns: {id: integer, updated_at: timestamp}
    incremental: {cursor_field: updated_at, param: updated_since}
  orders:
    path: /v1/orders
    records_path: results
    pagination: {type: offset, limit: 5, total_path: total}
    primary_key: [id]
    columns: {id: integer, amount: decimal, updated_at: timestamp}
  events:
    path: v1/events
    records_path: events
    pagination: {type: cursor, cursor_path: next_cursor}
    primary_key: [id]
    columns: {id: integer, updated_at: timestamp}
  tickets:
    path: v1/tickets
    params: {per_page: 3, state: all}
    pagination: {type: link_header}
    primary_key: [id]
    columns: {id: integer, updated_at: timestamp}
    incremental: {cursor_field: updated_at, param: updated_since}
  comments:
    path: v1/comments
    records_path: items
    pagination: {type: next_url, next_url_path: links.next}
    primary_key: [id]
    columns: {id: integer, body: string, updated_at: timestamp}
    undeclared_fields: ignore
  search:
    path: v1/search
    method: POST
    body: {query: "status:open"}
    records_path: results
    primary_key: [id]
    columns: {id: integer}
"""

ROUTES = {
    "/v1/users": FAKE.Route("users", "page_number"),
    "/v1/orders": FAKE.Route("orders", "offset"),
    "/v1/events": FAKE.Route("events", "cursor"),
    "/v1/tickets": FAKE.Route("tickets", "link_header"),
    "/v1/comments": FAKE.Route("comments", "next_url"),
    "/v1/search": FAKE.Route("search", "single", method="POST"),
}


def timestamp(day: int, hour: int = 0) -> str:
    """``2024-01-<day>T<hour>:00:00Z``."""
    return str(FAKE.timestamp(day, hour))


def sample_records() -> dict[str, list[dict[str, Any]]]:
    """Seven users, eight orders, seven events, seven tickets, five comments, two search hits."""
    return {
        "users": [
            {
                "id": i,
                "name": f"user {i}",
                "updated_at": timestamp(i),
                "address": {"city": f"city {i % 2}", "geo": {"lat": i * 1.5}},
                "tags": ["a", str(i)],
            }
            for i in range(1, 8)
        ],
        "orders": [
            {"id": i, "amount": f"{i * 10}.25", "status": "paid" if i % 2 else "open", "updated_at": timestamp(i)}
            for i in range(1, 9)
        ],
        "events": [{"id": i, "kind": "click", "updated_at": timestamp(i)} for i in range(1, 8)],
        "tickets": [{"id": i, "title": f"ticket {i}", "updated_at": timestamp(i)} for i in range(1, 8)],
        "comments": [{"id": i, "body": f"comment {i}", "updated_at": timestamp(i), "extra": i} for i in range(1, 6)],
        "search": [{"id": 1, "hit": "a"}, {"id": 2, "hit": "b"}],
    }


@pytest.fixture
def api() -> Iterator[FakeApi]:
    """The fake API, serving :func:`sample_records`, until the test ends."""
    with FAKE.serve(FAKE.FakeApi(routes=dict(ROUTES), records=sample_records())) as served:
        yield served


@dataclass
class Rest:
    """The worker pointed at the fake API, with its source file and warehouse in tmp_path."""

    api: FakeApi
    config: Path
    warehouse: Path
    run_worker: Callable[..., Any]

    def env(self, **overrides: str) -> dict[str, str]:
        """Base URL, token and warehouse, plus ``overrides``."""
        return {
            "TEST_API_BASE_URL": self.api.base_url,
            "TEST_API_TOKEN": self.api.token,
            "WAREHOUSE_DUCKDB_PATH": str(self.warehouse),
            **overrides,
        }

    def ingest(self, endpoint: str, *args: str, config: Path | None = None, **env: str) -> Any:
        """Run ``python -m ingest --source rest`` for one endpoint; returns the finished run."""
        return self.run_worker(
            "ingest",
            "--source",
            "rest",
            "--rest-config",
            str(config or self.config),
            "--table",
            endpoint,
            *args,
            env=self.env(**env),
        )

    def write_config(self, text: str, name: str = "api.yml") -> Path:
        """Write another source file next to the default one."""
        path = self.config.with_name(name)
        path.write_text(text)
        return path

    def rows(self, table: str, columns: str = "*") -> list[tuple[Any, ...]]:
        """Every row of a warehouse table, sorted."""
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()

    def column_types(self, table: str) -> dict[str, str]:
        """``{column: DuckDB type}`` of a warehouse table."""
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return {str(row[0]): str(row[1]) for row in connection.execute(f"DESCRIBE {table}").fetchall()}


@pytest.fixture
def rest(api: FakeApi, tmp_path: Path, run_worker: Callable[..., Any]) -> Rest:
    """The worker against ``api`` with the default source file :data:`CONFIG`."""
    config = tmp_path / "config" / "test_api.yml"
    config.parent.mkdir()
    config.write_text(CONFIG)
    return Rest(api, config, tmp_path / "warehouse" / "warehouse.duckdb", run_worker)
