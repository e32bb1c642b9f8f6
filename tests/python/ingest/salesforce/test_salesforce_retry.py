"""Salesforce error responses, what is retried and how long the worker waits, secret masking."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import requests
from ingest.errors import ColumnNotFoundError, SourceError, TableNotFoundError
from ingest.sources.salesforce.errors import SalesforceUnavailableError, api_error, terminal_error
from ingest.sources.salesforce.retry import RetryableError, RetryAfterOrBackoff, call_with_retries, policy
from tenacity import RetryCallState, Retrying
from tenacity.wait import wait_fixed
from worker_kit.masking import SecretMasker
from worker_kit.retry_after import parse_retry_after


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    """A ``requests.Response`` as the transport would return it."""
    reply = requests.Response()
    reply.status_code = status
    reply._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    reply.headers.update(headers or {})
    return reply


@pytest.mark.parametrize(
    ("status", "body", "code", "message", "transient"),
    [
        (429, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
         "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", True),
        (403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}],
         "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", True),
        (503, "<html>Service Unavailable</html>", "HTTP 503", "<html>Service Unavailable</html>", True),
        (500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred."}],
         "UNKNOWN_EXCEPTION", "An unexpected error occurred.", True),
        (400, [{"errorCode": "INVALID_FIELD", "message": "\nSELECT Id, Foo FROM Account\n           ^\nERROR at Row:1:Column:12\n"
                "No such column 'Foo' on entity 'Account'."}], "INVALID_FIELD", "No such column 'Foo' on entity 'Account'.",
         False),
        (400, {"error": "invalid_grant", "error_description": "authentication failure"}, "invalid_grant",
         "authentication failure", False),
        (404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], "NOT_FOUND",
         "The requested resource does not exist", False),
        (403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no access"}], "INSUFFICIENT_ACCESS", "no access", False),
    ],
)  # fmt: skip
def test_error_responses(status: int, body: Any, code: str, message: str, transient: bool) -> None:
    error = api_error(response(status, body))

    assert (error.code, error.message, error.transient) == (code, message, transient)


@pytest.mark.parametrize(
    ("code", "kind"),
    [("INVALID_FIELD", ColumnNotFoundError), ("INVALID_TYPE", TableNotFoundError), ("MALFORMED_QUERY", SourceError)],
)
def test_terminal_errors_become_worker_errors(code: str, kind: type[Exception]) -> None:
    error = api_error(response(400, [{"errorCode": code, "message": "detail"}]))

    assert type(terminal_error(error, "querying Account", "Account")) is kind


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after(header, now) == seconds


def wait_after(failure: BaseException) -> float:
    """The wait RetryAfterOrBackoff chooses after ``failure`` (backoff fixed at 7 s)."""
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.set_exception((type(failure), failure, None))
    return RetryAfterOrBackoff(policy(), backoff=wait_fixed(7))(state)


def test_wait_honours_retry_after_up_to_a_cap_else_backs_off() -> None:
    assert wait_after(RetryableError("429", retry_after=2)) == 2
    assert wait_after(RetryableError("429", retry_after=3600)) == 120
    assert wait_after(RetryableError("500")) == 7


def test_retries_stop_after_the_attempts_and_say_so() -> None:
    attempts: list[int] = []

    def always_throttled() -> None:
        attempts.append(1)
        raise RetryableError("HTTP 429 REQUEST_LIMIT_EXCEEDED", retry_after=0)

    with pytest.raises(SalesforceUnavailableError) as raised:
        call_with_retries(always_throttled, "querying Account", attempts=3)

    assert len(attempts) == 3
    assert str(raised.value) == (
        "Salesforce still failing after 3 attempts while querying Account: HTTP 429 REQUEST_LIMIT_EXCEEDED"
    )
    assert raised.value.transient


def test_final_errors_are_not_retried() -> None:
    attempts: list[int] = []

    def refused() -> None:
        attempts.append(1)
        raise ColumnNotFoundError("INVALID_FIELD")

    with pytest.raises(ColumnNotFoundError):
        call_with_retries(refused, "querying Account")
    assert len(attempts) == 1


def test_masker_masks_every_secret_longest_first() -> None:
    redact = SecretMasker(["s3cret-pass", None, "abc"])
    redact.add("s3cret-pass-and-token")

    assert redact("login with s3cret-pass-and-token and s3cret-pass, abc") == "login with *** and ***, abc"
