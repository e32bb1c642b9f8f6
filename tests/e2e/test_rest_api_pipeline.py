"""orchestra/rest_api_to_warehouse.yml through the real CLI, with the shipped GitHub source file,
against a GitHub-shaped API on loopback: exact rows per endpoint, and a second run changes nothing."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from orchestra_local.store import RunStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = str(REPO_ROOT / "orchestra" / "rest_api_to_warehouse.yml")
REPO_PATH = "/repos/acme/widgets"
ROWS = {"issues": 8, "issue_comments": 5, "labels": 4, "milestones": 2, "releases": 3}


def load_fake_api() -> ModuleType:
    """Import the rest tests' fake API (a plain file, not on sys.path) from its location."""
    name = "rest_fake_api"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tests/python/ingest/rest/fake_api.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def github_records(fake: ModuleType) -> dict[str, list[dict[str, Any]]]:
    """GitHub-shaped records: nested users, label lists, pull requests among the issues."""
    user = {"login": "octocat", "id": 1, "site_admin": False}
    return {
        "issues": [
            {
                "id": 1000 + n,
                "number": n,
                "title": f"issue {n}",
                "state": "open" if n % 3 else "closed",
                "user": user,
                "labels": [{"name": "bug"}] if n % 2 else [],
                "created_at": fake.timestamp(1),
                "updated_at": fake.timestamp(n + 1),
                "closed_at": None if n % 3 else fake.timestamp(n + 1),
                **({"pull_request": {"url": f"https://example.test/pulls/{n}"}} if n == 4 else {}),
            }
            for n in range(1, 9)
        ],
        "issue_comments": [
            {
                "id": 5000 + n,
                "body": f"comment {n}",
                "user": user,
                "created_at": fake.timestamp(n),
                "updated_at": fake.timestamp(n, 12),
            }
            for n in range(1, 6)
        ],
        "labels": [
            {"id": 70 + n, "name": name, "color": "ededed", "default": n == 1}
            for n, name in enumerate(["bug", "docs", "feature", "question"], start=1)
        ],
        "milestones": [
            {
                "id": 90 + n,
                "number": n,
                "title": f"v{n}",
                "due_on": None,
                "updated_at": fake.timestamp(n),
                "creator": user,
            }
            for n in (1, 2)
        ],
        "releases": [
            {
                "id": 300 + n,
                "tag_name": f"v0.{n}",
                "created_at": fake.timestamp(n),
                "published_at": fake.timestamp(n, 1),
                "author": user,
                "assets": [],
            }
            for n in (1, 2, 3)
        ],
    }


@pytest.fixture
def github() -> Iterator[Any]:
    """The fake API serving one repository the way GitHub does (Link header, ``since``, bearer)."""
    fake = load_fake_api()
    routes = {
        f"{REPO_PATH}/{path}": fake.Route(collection, "link_header", since_param="since")
        for path, collection in (
            ("issues", "issues"),
            ("issues/comments", "issue_comments"),
            ("labels", "labels"),
            ("milestones", "milestones"),
            ("releases", "releases"),
        )
    }
    with fake.serve(fake.FakeApi(routes=routes, records=github_records(fake))) as api:
        yield api


def warehouse_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {name: connection.execute(f"SELECT * FROM raw.github_{name} ORDER BY ALL").fetchall() for name in ROWS}


def test_rest_pipeline_twice(cli: Callable[..., Any], github: Any) -> None:
    env = {"GITHUB_REPO_API_URL": github.base_url + REPO_PATH, "GITHUB_TOKEN": github.token}
    warehouse = Path(os.environ["WAREHOUSE_DUCKDB_PATH"])
    contents = []
    for _ in range(2):
        result = cli("run", PIPELINE, "--no-progress", env=env, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        contents.append(warehouse_tables(warehouse))

    assert {name: len(rows) for name, rows in contents[0].items()} == ROWS
    assert contents[1] == contents[0]  # _loaded_at included: the second run changed nothing
    since = [params.get("since") for params in github.requests_to(f"{REPO_PATH}/issues") if "page" not in params]
    assert since == ["2024-01-01T00:00:00Z", "2024-01-09T00:00:00Z"]  # the start date, then the watermark
    store = RunStore(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}")
    runs = store.list_pipeline_runs()
    assert [run["run_status"] for run in runs] == ["SUCCEEDED", "SUCCEEDED"]
    for run, expected in zip(runs, ({name: 0 for name in ROWS}, ROWS), strict=True):  # newest first
        ingestion = [
            op for op in store.list_operations(pipeline_run_id=run["id"]) if op["operation_type"] == "INGESTION"
        ]
        assert {op["operation_name"]: op["rows_affected"] for op in ingestion} == {
            f"raw.github_{name}": rows for name, rows in expected.items()
        }
    for path in (p for p in Path(os.environ["ORCHESTRA_LOCAL_HOME"]).rglob("*") if p.is_file()):
        assert github.token.encode() not in path.read_bytes(), f"the token is in {path}"
