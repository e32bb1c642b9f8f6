"""The HTTP ``Retry-After`` header, shared by everything that retries (``worker_kit.retry``, the Orchestra API client).

Contract: RFC 9110, section 10.2.3: either delay-seconds or an HTTP date (GMT).
"""

from __future__ import annotations

import datetime as dt
import email.utils


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header.

    Args:
        value: The header value: a number of seconds (``"2"``) or an HTTP date; None when absent.
        now: Current time (timezone-aware) for HTTP dates; defaults to the clock (UTC).

    Returns:
        Seconds to wait (0 for a date in the past), or None when the header is absent or
        malformed.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=dt.UTC)
    current = now if now is not None else dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())
