"""HTTP requests of the ``rest`` source: one session, timeouts, retries, one-line errors.

Every request goes to the base URL's origin (scheme, host and port): credentials are never sent
to a host a next-page link points at. Messages name the method and the URL without its query
string or user info (which may carry API keys), and pass through the secret masker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from worker_kit.retry_after import parse_retry_after

from ingest.errors import SourceError
from ingest.sources.rest.config import ApiKeyAuth
from ingest.sources.rest.resolve import ResolvedApi
from ingest.sources.rest.retry import RetryableFailure, call_with_retries

logger = logging.getLogger(__name__)

# RFC 9110 section 9.2.2: repeating these has the effect of sending them once.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
USER_AGENT = "orchestra-blueprint-ingest (+python -m ingest --source rest)"
_EXCERPT_CHARACTERS = 200
# Failures of urllib3 that happen before any byte of the request is sent.
_NOT_SENT = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    requests.ConnectTimeout,
)


class HttpStatusError(SourceError):
    """The API answered with a status that retrying cannot fix (4xx other than 429)."""


class AmbiguousOutcomeError(SourceError):
    """A non-idempotent request failed after it was sent: the API may or may not have acted."""


def display_url(url: str) -> str:
    """A URL for messages: scheme, host, port and path, without user info or query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _was_sent(failure: BaseException) -> bool:
    """Whether a connection failure may have happened after the request went out.

    Walks the chain of causes (requests wraps urllib3's ``MaxRetryError``, which holds the
    failure as ``reason``) looking for a failure to connect.
    """
    pending: list[BaseException] = [failure]
    visited: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        if isinstance(current, _NOT_SENT):
            return False
        linked = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return True


class _Session(requests.Session):
    """A session that, on a redirect to another host, drops every credential header.

    ``requests`` drops only ``Authorization``; an API key header would follow the redirect.

    Args:
        credential_headers: Headers that carry credentials (``X-API-Key``, ...).
    """

    def __init__(self, credential_headers: tuple[str, ...]) -> None:
        super().__init__()
        self._credential_headers = credential_headers

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if self.should_strip_auth(response.request.url or "", prepared_request.url or ""):
            for header in self._credential_headers:
                prepared_request.headers.pop(header, None)
        super().rebuild_auth(prepared_request, response)


class HttpClient:
    """Sends the requests of one run.

    Args:
        api: The resolved API: base URL, auth, headers, retry policy, timeouts, masker.
    """

    def __init__(self, api: ResolvedApi) -> None:
        config = api.config
        self._api = api
        self._origin = _origin(api.base_url)
        self._timeouts = (config.timeouts.connect_seconds, config.timeouts.read_seconds)
        auth = config.auth
        key_header = (auth.name,) if isinstance(auth, ApiKeyAuth) and auth.location == "header" else ()
        self._session = _Session(key_header)
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._session.headers.update(config.headers)
        self._session.auth = api.auth
        # urllib3 logs request lines, query strings included, at DEBUG (--debug).
        self._wire_log = logging.getLogger("urllib3.connectionpool")
        self._wire_log.addFilter(api.masker)

    def send(self, method: str, url: str, params: Mapping[str, str], body: Any | None) -> requests.Response:
        """Send one request, retrying what the retry policy allows.

        Args:
            method: HTTP method.
            url: Absolute URL at the base URL's origin.
            params: Query parameters added to the URL.
            body: JSON body, or None.

        Returns:
            The successful (2xx) response, body read.

        Raises:
            SourceError: If the URL leaves the base URL's origin, or the request is invalid.
            HttpStatusError: For 4xx statuses other than 429 (never retried).
            AmbiguousOutcomeError: If a non-idempotent request failed after being sent.
            SourceConnectionError: If retries ran out (429, 5xx, connection failures).
        """
        where = f"{method} {display_url(url)}"
        if _origin(url) != self._origin:
            raise SourceError(
                f"{where}: refusing to follow a link away from the API at "
                f"{display_url(self._api.base_url)} (credentials would go to another host)"
            )
        return call_with_retries(lambda: self._attempt(method, url, params, body, where), self._api.config.retry)

    def close(self) -> None:
        """Close the session's connections and detach the log filter."""
        self._session.close()
        self._wire_log.removeFilter(self._api.masker)

    def _attempt(
        self, method: str, url: str, params: Mapping[str, str], body: Any | None, where: str
    ) -> requests.Response:
        """One try: returns a 2xx response, raises RetryableFailure or a terminal error."""
        idempotent = method in IDEMPOTENT_METHODS
        try:
            response = self._session.request(method, url, params=dict(params), json=body, timeout=self._timeouts)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            reason = self._mask(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            if idempotent or not _was_sent(exc):
                # from None: the cause's text holds the query string, which may carry an API key.
                raise RetryableFailure(f"{where}: {type(exc).__name__}: {reason}") from None
            raise AmbiguousOutcomeError(
                f"{where}: {type(exc).__name__} after the request was sent; the outcome is "
                f"unknown, so it is not retried (check the API before running again)"
            ) from None
        except requests.RequestException as exc:
            raise SourceError(f"{where}: {self._mask(str(exc))}") from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        summary = f"{where}: HTTP {status} {response.reason or ''}".rstrip()
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RetryableFailure(summary, retry_after)
        raise HttpStatusError(f"{summary}{self._hint(status)}{self._excerpt(response)}")

    def _hint(self, status: int) -> str:
        variables = ", ".join(self._api.credential_variables) or "none configured"
        if status == 401:
            return f": the API rejected the credentials (auth variables: {variables})"
        if status == 403:
            return f": the credentials may not read this endpoint (auth variables: {variables})"
        if status == 404:
            return ": check the endpoint's path and the base URL"
        return ""

    def _excerpt(self, response: requests.Response) -> str:
        """The API's own error message, shortened to one masked line; empty if none."""
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if isinstance(payload, dict):
            payload = next((payload[k] for k in ("message", "error", "detail", "title") if k in payload), "")
        text = " ".join(str(payload).split())[:_EXCERPT_CHARACTERS]
        return f" ({self._mask(text)})" if text else ""

    def _mask(self, text: str) -> str:
        return self._api.masker.mask(text)


def json_body(response: requests.Response) -> Any:
    """The decoded JSON body of a response.

    Raises:
        SourceError: If the body is not JSON; the message names the content type.
    """
    try:
        return response.json()
    except ValueError:
        content_type = response.headers.get("Content-Type", "no content type")
        where = f"{response.request.method} {display_url(response.url)}"
        raise SourceError(f"{where}: the response is not JSON ({content_type})") from None
