"""Faults: throttling and server errors mid-paging are retried, an expired session is renewed once,
refusals end the run fast with one clear line and no secret, and a killed worker changes nothing."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import SalesforceOrg

# Request paths of the pages after the first: REST nextRecordsUrl pages, Bulk API result pages.
LATER_PAGES = {"rest": "/queryAll/01g", "bulk": "/results"}


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_throttling_and_a_server_error_mid_paging_still_load_everything(org: SalesforceOrg, api: str) -> None:
    pages = LATER_PAGES[api]
    org.faults.fail(pages, 429, skip=1, times=2, retry_after="1")
    org.faults.fail(pages, 500, skip=2, times=1)

    run = org.ingest("--object", "Contact", "--api", api, "--batch-size", "500")

    assert run.returncode == 0, run.stderr
    assert run.summary["rows_written"] == 2500
    assert org.table("raw.Contact", exclude="_loaded_at, _deleted_at") == org.store.rows("Contact")
    throttled = org.faults.requests(pages, status=429)
    assert len(throttled) == 2 and len(org.faults.requests(pages, status=500)) == 1
    retried = [r for r in org.faults.requests(pages) if r.at > throttled[0].at]
    assert retried[0].at - throttled[0].at >= 0.9  # Retry-After: 1 was honoured
    assert "REQUEST_LIMIT_EXCEEDED" in run.stderr and "retrying" in run.stderr


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_expired_session_is_renewed_once_and_the_load_completes(org: SalesforceOrg, api: str) -> None:
    org.faults.expire_session(LATER_PAGES[api], skip=1)

    run = org.ingest("--object", "Contact", "--api", api, "--batch-size", "500")

    assert run.returncode == 0, run.stderr
    assert org.table("raw.Contact", exclude="_loaded_at, _deleted_at") == org.store.rows("Contact")
    assert org.server.state.logins == 2
    assert run.stderr.count("logging in again") == 1


def assert_refused_fast(org: SalesforceOrg, run: Any, seconds: float, *fragments: str) -> None:
    """Exit 1 within seconds, one Error line naming the problem, no traceback, no secret."""
    assert run.returncode == 1, run.stderr
    assert seconds < 10
    assert len(run.error_lines) == 1, run.stderr
    for fragment in fragments:
        assert fragment in run.error_lines[0]
    output = run.stdout + run.stderr
    assert "Traceback" not in output
    for secret in org.server.secrets():
        assert secret not in output
    assert not org.warehouse.exists() or not org.query("SELECT * FROM duckdb_tables() WHERE schema_name = 'raw'")


@pytest.mark.parametrize(
    ("args", "refused_field", "fragments"),  # args follow "--object Account" (a later --object wins)
    [
        pytest.param(
            ["--fields", "Name,Nmae"], None, ["INVALID_FIELD", "'Nmae'", "'Account'", "Name"], id="unknown-field"
        ),
        pytest.param(
            ["--object", "Acount"], None, ["INVALID_TYPE", "'Acount'", "did you mean Account"], id="unknown-object"
        ),
        # A field the describe lists but queries refuse (e.g. hidden by field-level security).
        pytest.param(["--api", "rest"], "Rating", ["INVALID_FIELD", "'Rating'", "'Account'"], id="field-refused-rest"),
        pytest.param(["--api", "bulk"], "Rating", ["INVALIDJOB", "'Rating'", "'Account'"], id="field-refused-bulk"),
    ],
)
def test_invalid_field_or_object_fails_fast_with_one_clear_line(
    org: SalesforceOrg, args: list[str], refused_field: str | None, fragments: list[str]
) -> None:
    if refused_field is not None:
        org.server.reject_field("Account", refused_field)
    started = time.monotonic()
    run = org.ingest("--object", "Account", *args)
    assert_refused_fast(org, run, time.monotonic() - started, *fragments)


def test_a_bulk_job_creation_with_an_unknown_outcome_is_not_repeated(org: SalesforceOrg) -> None:
    # A 500 that is not "unavailable" may come after the job was created: a second POST could
    # leave two jobs running on the org.
    org.faults.fail("/jobs/query", 500, "UNKNOWN_EXCEPTION", method="POST")

    run = org.ingest("--object", "Account", "--api", "bulk")

    assert run.returncode == 1
    assert "the outcome is unknown" in run.stderr and "UNKNOWN_EXCEPTION" in run.stderr
    assert [s.status for s in org.faults.requests("/jobs/query") if s.method == "POST"] == [500]


def test_a_throttled_bulk_job_creation_is_repeated(org: SalesforceOrg) -> None:
    org.faults.fail("/jobs/query", 429, method="POST")

    run = org.ingest("--object", "Account", "--api", "bulk")

    assert run.returncode == 0, run.stderr
    assert [s.status for s in org.faults.requests("/jobs/query") if s.method == "POST"] == [429, 200]


def test_bad_credentials_fail_fast_without_revealing_them(org: SalesforceOrg) -> None:
    wrong = "Wr0ng-Passw0rd-91"
    started = time.monotonic()
    run = org.ingest("--object", "Account", env=org.env(SALESFORCE_PASSWORD=wrong))

    assert_refused_fast(org, run, time.monotonic() - started, "INVALID_LOGIN", "integration@example.com")
    assert wrong not in run.stdout + run.stderr
    assert org.server.state.logins == 0


def wait_for_staged_bytes(parent: Path, timeout: float) -> int:
    """Wait until a worker's staging Parquet file under ``parent`` holds data; return its size."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sizes = [path.stat().st_size for path in parent.glob(".ingest-staging-*/*.parquet") if path.exists()]
        if any(sizes):
            return max(sizes)
        time.sleep(0.02)
    raise AssertionError(f"no staged data under {parent} after {timeout}s")


def test_sigkill_mid_load_leaves_the_warehouse_as_it_was(org: SalesforceOrg) -> None:
    assert org.ingest("--object", "Contact").returncode == 0
    before = org.table("raw.Contact")
    for record_id in org.store.ids("Contact")[:50]:
        org.store.update("Contact", record_id, {"LastName": "Changed"})
    org.faults.page_delay_seconds = 0.2
    process = org.start_ingest("--object", "Contact", "--batch-size", "200")
    try:
        staged = wait_for_staged_bytes(org.warehouse.parent, timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    assert staged > 0 and process.returncode == -signal.SIGKILL
    assert org.table("raw.Contact") == before
    org.faults.page_delay_seconds = 0.0
    rerun = org.ingest("--object", "Contact")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.summary["rows_written"] == 50
