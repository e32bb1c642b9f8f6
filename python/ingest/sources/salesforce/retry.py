"""When and how long the worker waits before repeating a Salesforce request (tenacity).

Only outcomes that say "not now" are retried: HTTP 429, 5xx, ``REQUEST_LIMIT_EXCEEDED``, and
connection failures where the request is known not to have been processed (see
:mod:`ingest.sources.salesforce.client`). Every other 4xx is final. The wait is capped exponential
backoff with jitter, unless the server sent ``Retry-After`` (RFC 9110, section 10.2.3: seconds or
an HTTP date), which is honoured up to :data:`MAX_RETRY_AFTER_SECONDS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from ingest.sources.salesforce.errors import SalesforceUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 6
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 120.0


class RetryableError(Exception):
    """A request outcome worth repeating; raised inside a call made with :func:`call_with_retries`.

    Args:
        description: What happened, for logs and the final error (never holds a secret).
        retry_after: Seconds the server asked to wait, if it said.
    """

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class RetryAfterOrBackoff(wait_base):
    """tenacity wait: the server's ``Retry-After`` when given (capped), else ``backoff``.

    Args:
        backoff: Wait strategy used when the server did not say how long to wait.
    """

    def __init__(self, backoff: wait_base) -> None:
        self._backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        """Seconds to sleep before the next attempt."""
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        if isinstance(failure, RetryableError) and failure.retry_after is not None:
            return min(failure.retry_after, MAX_RETRY_AFTER_SECONDS)
        return self._backoff(retry_state)


def _log_retry(action: str, attempts: int) -> Callable[[RetryCallState], None]:
    def log(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.warning(
            "Salesforce %s: %s; retrying in %.1fs (attempt %d of %d)",
            action,
            failure,
            wait,
            retry_state.attempt_number + 1,
            attempts,
        )

    return log


def call_with_retries(call: Callable[[], T], action: str, attempts: int = MAX_ATTEMPTS) -> T:
    """Call ``call``, repeating it while it raises :class:`RetryableError`.

    Args:
        call: The request; raises :class:`RetryableError` for outcomes worth repeating and any
            other exception for final ones (those propagate at once).
        action: What the call does, for logs and errors, e.g. ``querying Account``.
        attempts: Total attempts, the first included.

    Returns:
        What ``call`` returned.

    Raises:
        SalesforceUnavailableError: If every attempt failed in a retryable way (transient: a
            later run may succeed).
    """
    retrying = Retrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop_after_attempt(attempts),
        wait=RetryAfterOrBackoff(
            wait_exponential_jitter(multiplier=FIRST_DELAY_SECONDS, max=MAX_DELAY_SECONDS, jitter=FIRST_DELAY_SECONDS)
        ),
        before_sleep=_log_retry(action, attempts),
        reraise=True,
    )
    try:
        return retrying(call)
    except RetryableError as exc:
        raise SalesforceUnavailableError(
            f"Salesforce still failing after {attempts} attempts while {action}: {exc}"
        ) from exc
