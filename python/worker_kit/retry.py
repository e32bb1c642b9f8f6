"""Repeating a request that may succeed later: one loop for the rest and salesforce sources, the Orchestra API client and the sensors.

One policy for every source: only failures the caller marks :class:`RetryableError` are repeated
(a 429, a 5xx, a connection that failed before the request was sent: each client decides); the
wait is the server's ``Retry-After`` when it sent one (RFC 9110 section 10.2.3, parsed by
:mod:`worker_kit.retry_after`), else capped exponential backoff with jitter (tenacity's
``wait_exponential_jitter``). A ``Retry-After`` longer than the policy allows either gives up at
once (``cap_retry_after=False``: a later run will do better) or is shortened to the cap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RetryableError(Exception):
    """One failed attempt worth repeating (its message: one line, never a secret).

    Args:
        message: What failed, e.g. ``GET https://host/path: HTTP 503``.
        retry_after: Seconds the server asked to wait (``Retry-After``), if it did.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to repeat.

    Attributes:
        max_attempts: Attempts in all, the first included.
        initial_delay_seconds: Backoff before the second attempt (doubling after), and the jitter.
        max_delay_seconds: Longest backoff between two attempts.
        max_retry_after_seconds: Longest ``Retry-After`` honoured.
        cap_retry_after: A longer ``Retry-After`` waits the cap (True) or gives up at once (False).
    """

    max_attempts: int
    initial_delay_seconds: float
    max_delay_seconds: float
    max_retry_after_seconds: float
    cap_retry_after: bool = False


class RetryAfterOrBackoff(wait_base):
    """tenacity wait: the server's ``Retry-After`` when given (capped at the policy's), else backoff."""

    def __init__(self, policy: RetryPolicy, backoff: wait_base | None = None) -> None:
        self._policy = policy
        self._backoff = backoff or wait_exponential_jitter(
            multiplier=policy.initial_delay_seconds, max=policy.max_delay_seconds, jitter=policy.initial_delay_seconds)

    def __call__(self, retry_state: RetryCallState) -> float:
        """Seconds to sleep before the next attempt."""
        failure = retry_state.outcome.exception() if retry_state.outcome is not None else None
        if isinstance(failure, RetryableError) and failure.retry_after is not None:
            return min(failure.retry_after, self._policy.max_retry_after_seconds)
        return self._backoff(retry_state)


def call_with_retries(attempt: Callable[[], T], policy: RetryPolicy, what: str,
                      give_up: Callable[[RetryableError, str], Exception],
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``attempt`` until it returns, raises a terminal error, or the policy gives up.

    Args:
        attempt: One try; raises :class:`RetryableError` for failures worth repeating and anything
            else for terminal ones (those propagate at once, unchanged).
        policy: Attempts and waits.
        what: What the call does, for the log lines (e.g. ``Salesforce querying Account``).
        give_up: Builds the error raised when retrying stops, from the last failure and a one-line
            reason (``<failure>; gave up after N attempt(s)``, or that the server asks to wait too long).
        sleep: Waits that many seconds between attempts (tests pass a recorder).

    Returns:
        What the first successful attempt returned.

    Raises:
        Exception: ``give_up(failure, reason)`` after the last attempt failed retryably, or at once when the
            server asks to wait longer than the policy allows and ``cap_retry_after`` is False.
    """

    def worth_retrying(failure: BaseException) -> bool:
        if not isinstance(failure, RetryableError):
            return False
        too_long = failure.retry_after is not None and failure.retry_after > policy.max_retry_after_seconds
        return policy.cap_retry_after or not too_long

    def announce(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.warning("%s: %s; retrying in %.1fs (attempt %d of %d)", what, failure, delay,
                       state.attempt_number + 1, policy.max_attempts)

    retrying = Retrying(stop=stop_after_attempt(policy.max_attempts), wait=RetryAfterOrBackoff(policy),
                        retry=retry_if_exception(worth_retrying), before_sleep=announce, reraise=True,
                        sleep=sleep)
    try:
        return retrying(attempt)
    except RetryableError as failure:
        too_long = failure.retry_after is not None and failure.retry_after > policy.max_retry_after_seconds
        if too_long and not policy.cap_retry_after:
            reason = (f"{failure}; the server asks to retry after {failure.retry_after:g}s, longer than "
                      f"{policy.max_retry_after_seconds:g}s")
        else:
            reason = f"{failure}; gave up after {policy.max_attempts} attempt(s)"
        raise give_up(failure, reason) from failure
