"""Failures against the fake API: throttling and server errors mid-paging are retried and lose
nothing; 4xx fail fast with one clear line that never shows a secret; an ambiguous POST is
reported, not repeated."""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Rest


def succeeded(run: Any) -> dict[str, Any]:
    """Assert the worker succeeded; return its JSON summary."""
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    summary: dict[str, Any] = run.summary
    return summary


def failed(run: Any, *fragments: str) -> str:
    """Assert exit 1 with one ``Error:`` line holding every fragment, no traceback; return it."""
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout == ""
    assert len(run.error_lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    for fragment in fragments:
        assert fragment in run.error_lines[0], run.error_lines[0]
    line: str = run.error_lines[0]
    return line


def test_throttling_and_server_errors_mid_paging_still_load_everything(rest: Rest) -> None:
    rest.api.fail("/v1/users", 2, 429, retry_after="1")  # page 2, first attempt: Retry-After in seconds
    date = email.utils.formatdate(time.time() + 5, usegmt=True)  # the 503 comes ~2 s later: waits ~2-3 s
    rest.api.fail("/v1/users", 4, 503, retry_after=date)  # page 3: Retry-After as an HTTP date
    rest.api.fail("/v1/users", 5, 500)  # page 3 again: no Retry-After, backoff

    run = rest.ingest("users")

    summary = succeeded(run)
    assert [params["page"] for params in rest.api.requests_to("/v1/users")] == ["1", "2", "2", "3", "3", "3"]
    assert (summary["rows_read"], summary["rows_written"]) == (7, 7)
    assert [row[0] for row in rest.rows("raw.users", "id")] == list(range(1, 8))
    assert summary["seconds"] >= 2.5  # both Retry-After waits were honoured
    for status in ("HTTP 429", "HTTP 503", "HTTP 500"):
        assert f"/v1/users: {status}" in run.stderr


def test_retries_that_run_out_fail_with_the_last_status(rest: Rest) -> None:
    rest.api.fail("/v1/orders", 2, 503, times=4)

    failed(rest.ingest("orders"), "/v1/orders: HTTP 503", "gave up after 4 attempt(s)")

    assert len(rest.api.requests_to("/v1/orders")) == 5
    assert not rest.warehouse.exists()


def test_a_retry_after_beyond_the_limit_fails_at_once(rest: Rest) -> None:
    rest.api.fail("/v1/events", 1, 429, retry_after="3600")

    failed(rest.ingest("events"), "HTTP 429", "retry after 3600s", "max_retry_after_seconds (300s)")

    assert len(rest.api.requests_to("/v1/events")) == 1


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        (
            "wrong_token",
            ("GET http://127.0.0.1", "/v1/users: HTTP 401 Unauthorized", "TEST_API_KEY", "(Bad credentials)"),
        ),
        ("forbidden", ("/v1/users: HTTP 403 Forbidden", "may not read this endpoint")),
        ("unknown_path", ("/v1/people: HTTP 404 Not Found", "check the endpoint's path")),
    ],
    ids=["401", "403", "404"],
)
def test_client_errors_fail_fast_without_showing_the_key(rest: Rest, case: str, fragments: tuple[str, ...]) -> None:
    rest.api.auth = "api_key_query"  # the key travels in the query string, which messages never show
    config = rest.write_config(
        rest.config.read_text()
        .replace(
            "  type: bearer\n  token_env: TEST_API_TOKEN",
            "  type: api_key\n  name: api_key\n  location: query\n  value_env: TEST_API_KEY",
        )
        .replace("path: v1/users", "path: v1/people" if case == "unknown_path" else "path: v1/users")
    )
    key = "wrong-Key-5521" if case == "wrong_token" else rest.api.token
    if case == "forbidden":
        rest.api.forbidden.add("/v1/users")

    run = rest.ingest("users", config=config, TEST_API_KEY=key)

    failed(run, *fragments)
    assert len(rest.api.requests) == 1  # never retried
    assert key not in run.stdout + run.stderr
    assert "api_key=" not in run.stderr


@pytest.mark.parametrize(
    ("scheme", "auth_block"),
    [
        ("basic", "  type: basic\n  username_env: TEST_API_USER\n  password_env: TEST_API_TOKEN"),
        ("api_key_query", "  type: api_key\n  name: api_key\n  location: query\n  value_env: TEST_API_TOKEN"),
    ],
    ids=["basic", "api_key_query"],  # bearer: every other test; a header key works like bearer
)
def test_every_auth_scheme_reaches_every_page(rest: Rest, scheme: str, auth_block: str) -> None:
    rest.api.auth = scheme
    config = rest.write_config(
        rest.config.read_text().replace("  type: bearer\n  token_env: TEST_API_TOKEN", auth_block)
    )

    summary = succeeded(rest.ingest("tickets", config=config, TEST_API_USER=rest.api.username))

    assert summary["rows_written"] == 7
    assert len(rest.api.requests_to("/v1/tickets")) == 3  # the Link header's URLs authenticate too


def test_a_post_that_times_out_is_reported_not_repeated(rest: Rest) -> None:
    rest.api.delay("/v1/search", 1, 2.0)  # longer than the 1 s read timeout

    failed(
        rest.ingest("search"),
        "POST http://127.0.0.1",
        "/v1/search: ReadTimeout after the request was sent",
        "outcome is unknown",
    )

    assert len(rest.api.requests_to("/v1/search")) == 1


def test_a_get_that_times_out_is_retried(rest: Rest) -> None:
    rest.api.delay("/v1/comments", 1, 2.0)

    summary = succeeded(rest.ingest("comments"))

    assert summary["rows_written"] == 5
    assert len(rest.api.requests_to("/v1/comments")) == 3  # the timed-out one, then both pages
