"""The workers' shared retry loop: what is repeated, how often, and the error it ends with."""

from __future__ import annotations

import pytest
from worker_kit.retry import RetryableError, RetryPolicy, call_with_retries

FAST = RetryPolicy(max_attempts=3, initial_delay_seconds=0.001, max_delay_seconds=0.01, max_retry_after_seconds=5)


class GaveUp(Exception):
    pass


def _give_up(failure: RetryableError, reason: str) -> Exception:
    return GaveUp(reason)


def test_a_retryable_failure_is_repeated_until_it_succeeds() -> None:
    answers = iter([RetryableError("HTTP 503"), RetryableError("HTTP 429", retry_after=0), "rows"])

    def attempt() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retries(attempt, FAST, "GET /orders", _give_up) == "rows"


def test_the_last_failure_ends_with_the_callers_error_and_a_terminal_one_at_once() -> None:
    calls: list[int] = []

    def always_503() -> None:
        calls.append(1)
        raise RetryableError("GET /orders: HTTP 503")

    with pytest.raises(GaveUp, match=r"^GET /orders: HTTP 503; gave up after 3 attempt\(s\)$"):
        call_with_retries(always_503, FAST, "GET /orders", _give_up)
    assert len(calls) == 3

    def refused() -> None:
        calls.append(1)
        raise PermissionError("HTTP 403")

    with pytest.raises(PermissionError):
        call_with_retries(refused, FAST, "GET /orders", _give_up)
    assert len(calls) == 4  # not repeated


def test_a_retry_after_beyond_the_policy_gives_up_at_once_unless_capped() -> None:
    calls: list[int] = []

    def throttled() -> None:
        calls.append(1)
        raise RetryableError("HTTP 429", retry_after=3600)

    with pytest.raises(GaveUp, match="asks to retry after 3600s, longer than 5s"):
        call_with_retries(throttled, FAST, "GET /orders", _give_up)
    assert len(calls) == 1
    capped = RetryPolicy(max_attempts=2, initial_delay_seconds=0.001, max_delay_seconds=0.01,
                         max_retry_after_seconds=0.01, cap_retry_after=True)
    with pytest.raises(GaveUp, match="gave up after 2 attempt"):
        call_with_retries(throttled, capped, "GET /orders", _give_up)  # waited the 0.01 s cap, not an hour
    assert len(calls) == 3
