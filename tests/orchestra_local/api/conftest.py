"""An in-process API client over a throwaway repository."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestra_local.api.app import PREFIX, ApiSettings, create_app
from orchestra_local.settings import resolve_settings
from orchestra_local.workspace import Workspace

TOKEN = "test-token-0123456789"


class Api:
    """A TestClient that prefixes paths and sends the token."""

    def __init__(self, client: TestClient, app: Any):
        self.client = client
        self.app = app
        self.headers = {"Authorization": f"Bearer {TOKEN}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(PREFIX + path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(PREFIX + path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def wait(self, run_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll the status endpoint until the run ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.get(f"/pipeline_runs/{run_id}/status").json()
            if record["runStatus"] in ("SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED"):
                return record
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not end within {timeout}s")


@pytest.fixture
def api(task_repo: Path) -> Iterator[Api]:
    settings = resolve_settings(task_repo / "orchestra", repo_root=task_repo, max_parallel=2)
    app = create_app(ApiSettings(runner=settings, token=TOKEN), Workspace.load(task_repo))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, app)


@pytest.fixture
def write_pipeline(task_repo: Path) -> Callable[[str, str], Path]:
    def write(alias: str, text: str) -> Path:
        path = task_repo / "orchestra" / f"{alias}.yml"
        path.write_text(text)
        return path

    return write
