"""The HTTP transport under the Salesforce source: a requests session with timeouts everywhere.

simple-salesforce's login functions call ``session.post`` without a timeout; a session that
supplies one by default keeps a silent server from hanging the worker. TLS certificates are
verified against the system store, or the bundle named by ``REQUESTS_CA_BUNDLE`` (requests'
standard variable; the tests point it at their loopback server's certificate).
"""

from __future__ import annotations

from typing import Any

import requests
import urllib3.exceptions

CONNECT_TIMEOUT_SECONDS = 15.0
READ_TIMEOUT_SECONDS = 300.0


class TimeoutSession(requests.Session):
    """A ``requests.Session`` whose requests time out unless the caller says otherwise.

    Args:
        connect_timeout: Seconds to wait for the TCP/TLS connection.
        read_timeout: Seconds to wait between bytes of the response (Bulk API result pages of
            tens of MB stream well within this).
    """

    def __init__(
        self,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__()
        self._timeout = (connect_timeout, read_timeout)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """``requests.Session.request`` with the session's timeouts as the default."""
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def never_sent(exc: requests.RequestException) -> bool:
    """Whether a failed request certainly never reached the server (safe to repeat any request).

    Args:
        exc: What ``requests`` raised.

    Returns:
        True for a connect timeout or a refused/unresolvable connection; False when the request
        may have been received (a read timeout, a connection dropped mid-response).
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", None)
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def describe_failure(exc: requests.RequestException) -> str:
    """A one-line description of a transport failure, without the request's headers or body."""
    kind = type(exc).__name__
    # urllib3 wraps the cause ("Connection refused") in a long "Max retries exceeded" message.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    text = str(reason or exc).strip().splitlines()
    return f"{kind}: {text[0]}" if text else kind
