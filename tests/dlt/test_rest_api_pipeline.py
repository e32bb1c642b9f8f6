"""dlt/rest_api_pipeline.py against a GitHub-shaped API served on loopback by a real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

if TYPE_CHECKING:
    from tests.dlt.conftest import RunScript

pytestmark = pytest.mark.slow

SCRIPT = "rest_api_pipeline.py"
TOKEN = "ghp_test-Token-93xk"
MAX_PAGE_SIZE = 3  # the server caps per_page so a handful of records spans several pages
Query = Callable[[str], list[tuple[Any, ...]]]


@dataclass
class FakeApi:
    """State of the fake API: its records per path and every request it answered.

    Attributes:
        base_url: Root URL, as ``base_url`` is configured (ends with ``/``).
        records: ``{path: [record, ...]}``; tests edit them between runs.
        requests: ``(path, query parameters)`` of each authorised request, in order.
    """

    base_url: str = ""
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def issue(number: int, updated_at: str, title: str | None = None) -> dict[str, Any]:
    """One GitHub-shaped issue."""
    return {"id": 1000 + number, "number": number, "title": title or f"issue {number}", "state": "open",
            "updated_at": updated_at, "user": {"login": f"user{number % 3}"}}


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """GitHub's list semantics: bearer auth, ``since`` on updated_at, page/per_page, Link header."""

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            path = url.path.strip("/")
            params = {key: values[-1] for key, values in parse_qs(url.query).items()}
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"message": "Bad credentials"})
                return
            if path not in api.records:
                self._reply(404, {"message": "Not Found"})
                return
            api.requests.append((path, params))
            since = params.get("since", "")
            matching = sorted((r for r in api.records[path] if r["updated_at"] >= since), key=lambda r: r["updated_at"])
            size = min(int(params.get("per_page", "30")), MAX_PAGE_SIZE)
            page = int(params.get("page", "1"))
            body = matching[(page - 1) * size: page * size]
            headers = {}
            if page * size < len(matching):
                following = urlencode({**params, "page": page + 1})
                headers["Link"] = f'<{api.base_url}{path}?{following}>; rel="next"'
            self._reply(200, body, headers)

        def _reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Keep the test output quiet."""

    return Handler


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    """A GitHub-shaped REST API on a free loopback port, served from a thread."""
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def api_env(api: FakeApi, token: str = TOKEN) -> dict[str, str]:
    return {
        "SOURCES__REST_API__BASE_URL": api.base_url,
        "SOURCES__REST_API__ACCESS_TOKEN": token,
        "SOURCES__REST_API__START_DATE": "2024-01-01T00:00:00Z",
    }


def test_pages_through_the_api_and_then_merges_only_what_changed(
    run_script: RunScript, fake_api: FakeApi, warehouse: Query
) -> None:
    fake_api.records["issues"] = [issue(n, f"2024-02-{n:02d}T00:00:00Z") for n in range(1, 8)]
    fake_api.records["issues"].append(issue(99, "2023-12-31T00:00:00Z"))  # before start_date: never loaded

    first = run_script(SCRIPT, "--resource", "issues", env=api_env(fake_api))

    assert first.returncode == 0, first.stderr
    assert TOKEN not in first.stdout + first.stderr
    assert first.summary["rows_written"] == 7 and first.summary["destination_table"] == "raw_dlt.issues"
    assert [params.get("page", "1") for _, params in fake_api.requests] == ["1", "2", "3"]
    assert {params["since"] for _, params in fake_api.requests} == {"2024-01-01T00:00:00Z"}
    assert warehouse("SELECT number FROM raw_dlt.issues ORDER BY number") == [(n,) for n in range(1, 8)]

    fake_api.requests.clear()
    fake_api.records["issues"][1] = issue(2, "2024-03-01T00:00:00Z", title="renamed")
    fake_api.records["issues"].append(issue(8, "2024-03-02T00:00:00Z"))

    second = run_script(SCRIPT, "--resource", "issues", env=api_env(fake_api))

    assert second.returncode == 0, second.stderr
    # the cursor continues from the highest updated_at loaded: only issues 7 (boundary), 2 and 8 come back
    assert fake_api.requests[0][1]["since"] == "2024-02-07T00:00:00Z"
    assert second.summary["rows_written"] == 2
    assert warehouse("SELECT count(*), count(DISTINCT id) FROM raw_dlt.issues") == [(8, 8)]
    assert warehouse("SELECT title, user__login FROM raw_dlt.issues WHERE number = 2") == [("renamed", "user2")]


def test_wrong_token_fails_with_one_line_and_never_prints_the_token(
    run_script: RunScript, fake_api: FakeApi
) -> None:
    fake_api.records["issues"] = [issue(1, "2024-02-01T00:00:00Z")]
    wrong = "ghp_wrong-Token-1234"
    result = run_script(SCRIPT, "--resource", "issues", env=api_env(fake_api, token=wrong))
    line = result.assert_failed(1, "401 Client Error: Unauthorized")
    assert wrong not in result.stdout + result.stderr and TOKEN not in line
    assert fake_api.requests == []


def test_unknown_resource_is_an_argument_error(run_script: RunScript, fake_api: FakeApi) -> None:
    result = run_script(SCRIPT, "--resource", "pulls", env=api_env(fake_api))
    assert result.returncode == 2
    assert "invalid choice: 'pulls'" in result.stderr and "issue_comments" in result.stderr


def test_missing_configuration_names_every_variable_at_once(run_script: RunScript, fresh_clone: Path) -> None:
    config = fresh_clone / ".dlt" / "config.toml"
    kept = [line for line in config.read_text().splitlines() if not line.startswith("base_url")]
    config.write_text("\n".join(kept) + "\n")
    result = run_script(SCRIPT, "--resource", "issue_comments", project=fresh_clone)
    line = result.assert_failed(2, "missing configuration:")
    assert "SOURCES__REST_API__ACCESS_TOKEN" in line and "SOURCES__REST_API__BASE_URL" in line
