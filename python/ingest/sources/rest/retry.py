"""Retry policy of REST requests: the API's ``retry`` settings on the workers' shared retry loop.

Only failures that may succeed when repeated are retried: HTTP 429, 5xx, and connection
failures (for a non-idempotent method, only those where the request was never sent); the client
(``client.py``) decides and raises :class:`RetryableFailure`. The wait and the loop are
:mod:`worker_kit.retry`'s. A ``Retry-After`` longer than ``retry.max_retry_after_seconds`` ends
the run at once (a later run may succeed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from worker_kit.retry import RetryableError, RetryPolicy
from worker_kit.retry import call_with_retries as retry_loop

from ingest.errors import SourceConnectionError
from ingest.sources.rest.config import Retry

T = TypeVar("T")

RetryableFailure = RetryableError
"""One failed attempt that may succeed when repeated (``message``, ``retry_after`` seconds)."""


def call_with_retries(attempt: Callable[[], T], policy: Retry) -> T:
    """Call ``attempt`` until it succeeds, raises a terminal error, or attempts run out.

    Raises:
        SourceConnectionError: If the last allowed attempt failed retryably, or the server asked
            to wait longer than ``retry.max_retry_after_seconds`` (transient: a later run may succeed).
        Exception: Whatever terminal error an attempt raised, unchanged.
    """
    shared = RetryPolicy(max_attempts=policy.max_attempts, initial_delay_seconds=policy.initial_delay_seconds,
                         max_delay_seconds=policy.max_delay_seconds,
                         max_retry_after_seconds=policy.max_retry_after_seconds)
    return retry_loop(attempt, shared, "REST request", lambda failure, reason: SourceConnectionError(
        f"{failure}; the API asks to retry after {failure.retry_after:g}s, longer than "
        f"retry.max_retry_after_seconds ({policy.max_retry_after_seconds:g}s)"
        if failure.retry_after is not None and failure.retry_after > policy.max_retry_after_seconds else reason))
