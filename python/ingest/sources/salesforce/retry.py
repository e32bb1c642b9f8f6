"""When and how long the worker waits before repeating a Salesforce request.

Only outcomes that say "not now" are retried: HTTP 429, 5xx, ``REQUEST_LIMIT_EXCEEDED``, and
connection failures where the request is known not to have been processed (see
:mod:`ingest.sources.salesforce.client`). Every other 4xx is final. The loop and the wait are
:mod:`worker_kit.retry`'s: capped exponential backoff with jitter, unless the server sent
``Retry-After``, which is honoured up to :data:`MAX_RETRY_AFTER_SECONDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from worker_kit.retry import RetryableError, RetryAfterOrBackoff, RetryPolicy
from worker_kit.retry import call_with_retries as retry_loop

from ingest.sources.salesforce.errors import SalesforceUnavailableError

T = TypeVar("T")

MAX_ATTEMPTS = 6
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 120.0

__all__ = ["RetryAfterOrBackoff", "RetryableError", "call_with_retries", "policy"]


def policy(attempts: int = MAX_ATTEMPTS) -> RetryPolicy:
    """The Salesforce retry policy (a ``Retry-After`` above the cap waits the cap)."""
    return RetryPolicy(max_attempts=attempts, initial_delay_seconds=FIRST_DELAY_SECONDS,
                       max_delay_seconds=MAX_DELAY_SECONDS, max_retry_after_seconds=MAX_RETRY_AFTER_SECONDS,
                       cap_retry_after=True)


def call_with_retries(call: Callable[[], T], action: str, attempts: int = MAX_ATTEMPTS) -> T:
    """Call ``call``, repeating it while it raises :class:`RetryableError`.

    Args:
        call: The request; raises :class:`RetryableError` for outcomes worth repeating and any
            other exception for final ones (those propagate at once).
        action: What the call does, for logs and errors, e.g. ``querying Account``.
        attempts: Total attempts, the first included.

    Raises:
        SalesforceUnavailableError: If every attempt failed in a retryable way (transient: a
            later run may succeed).
    """
    return retry_loop(call, policy(attempts), f"Salesforce {action}", lambda failure, _reason: SalesforceUnavailableError(
        f"Salesforce still failing after {attempts} attempts while {action}: {failure}"))
