"""Retry policy of REST requests: what is retried, how long to wait, when to give up.

Only failures that may succeed when repeated are retried: HTTP 429, 5xx, and connection
failures (for a non-idempotent method, only those where the request was never sent). The wait
is the server's ``Retry-After`` when it sends one (RFC 9110 section 10.2.3: seconds or an HTTP
date), else capped exponential backoff with jitter. Every other failure ends the run at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import tenacity
from tenacity.wait import wait_base, wait_exponential_jitter

from ingest.errors import SourceConnectionError
from ingest.sources.rest.config import Retry

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RetryableFailure(Exception):
    """One failed attempt that may succeed when repeated.

    Args:
        message: What failed, one line without secrets (e.g. ``GET https://host/path: HTTP 503``).
        retry_after: Seconds the server asked to wait (``Retry-After``), if it did.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _RetryAfterOrBackoff(wait_base):
    """Wait the server's ``Retry-After`` when given, else exponential backoff with jitter."""

    def __init__(self, policy: Retry) -> None:
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_delay_seconds,
            max=policy.max_delay_seconds,
            jitter=policy.initial_delay_seconds,
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(failure, RetryableFailure) and failure.retry_after is not None:
            return failure.retry_after
        return self._backoff(retry_state)


def call_with_retries(attempt: Callable[[], T], policy: Retry) -> T:
    """Call ``attempt`` until it succeeds, raises a terminal error, or attempts run out.

    Args:
        attempt: One try; raises :class:`RetryableFailure` for failures worth repeating and
            anything else for terminal ones.
        policy: Attempts and delays.

    Returns:
        What the first successful attempt returned.

    Raises:
        SourceConnectionError: If the last allowed attempt failed retryably, or the server
            asked to wait longer than ``retry.max_retry_after_seconds`` (transient: a later
            run may succeed).
        Exception: Whatever terminal error an attempt raised, unchanged.
    """

    def worth_retrying(failure: BaseException) -> bool:
        if not isinstance(failure, RetryableFailure):
            return False
        return failure.retry_after is None or failure.retry_after <= policy.max_retry_after_seconds

    def announce(state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "%s; retrying in %.1fs (attempt %d of %d)",
            failure,
            delay,
            state.attempt_number + 1,
            policy.max_attempts,
        )

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts),
        wait=_RetryAfterOrBackoff(policy),
        retry=tenacity.retry_if_exception(worth_retrying),
        before_sleep=announce,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except RetryableFailure as failure:
        if failure.retry_after is not None and failure.retry_after > policy.max_retry_after_seconds:
            raise SourceConnectionError(
                f"{failure}; the API asks to retry after {failure.retry_after:g}s, longer than "
                f"retry.max_retry_after_seconds ({policy.max_retry_after_seconds:g}s)"
            ) from failure
        raise SourceConnectionError(f"{failure}; gave up after {policy.max_attempts} attempt(s)") from failure
