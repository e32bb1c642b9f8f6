"""Salesforce's error responses and the worker errors they become.

Contract: the REST API and Bulk API 2.0 answer a failed request with a JSON list of
``{"errorCode": ..., "message": ...}`` objects (Salesforce REST API Developer Guide, "Status Codes
and Error Responses"); the OAuth token endpoint answers with ``{"error": ...,
"error_description": ...}`` (Salesforce Help, "OAuth 2.0 Endpoints"). Throttling arrives as HTTP
429, or as HTTP 403 with ``REQUEST_LIMIT_EXCEEDED`` (API request and concurrency limits); an
expired session as HTTP 401 with ``INVALID_SESSION_ID``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests

from ingest.errors import ColumnNotFoundError, SourceConnectionError, SourceError, TableNotFoundError

# Error codes after which the same request may succeed later.
TRANSIENT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE"})
SESSION_EXPIRED_CODE = "INVALID_SESSION_ID"
_MAX_DETAIL_CHARS = 300


class SalesforceAuthError(SourceError, PermissionError):
    """Salesforce refused the credentials (``INVALID_LOGIN``, ``invalid_grant``, ...)."""


class SalesforceUnavailableError(SourceConnectionError):
    """Salesforce kept throttling or failing after every retry; a later run may succeed."""


class SalesforceTimeoutError(SourceError):
    """A Bulk API 2.0 query job did not complete within the wait the worker allows."""

    transient = True


@dataclass(frozen=True)
class ApiError:
    """One failed Salesforce response, reduced to what the worker decides on.

    Attributes:
        status: HTTP status code.
        code: Salesforce ``errorCode`` (or OAuth ``error``); ``HTTP <status>`` when the body has
            none.
        message: Salesforce's own explanation, on one line.
        retry_after: Seconds the server asked the client to wait (``Retry-After``), if any.
    """

    status: int
    code: str
    message: str
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        """Whether retrying the same request later can succeed (429, 5xx, request limits)."""
        return self.status == 429 or self.status >= 500 or self.code in TRANSIENT_CODES

    @property
    def unprocessed(self) -> bool:
        """Whether the server says it did not act on the request (429, 503, request limits), so
        even a POST may be repeated; after another 5xx a POST's outcome is unknown."""
        return self.status in (429, 503) or self.code in TRANSIENT_CODES

    @property
    def session_expired(self) -> bool:
        """Whether the session id was rejected (HTTP 401 / ``INVALID_SESSION_ID``)."""
        return self.status == 401 or self.code == SESSION_EXPIRED_CODE

    def describe(self) -> str:
        """``CODE: message`` for error lines."""
        return f"{self.code}: {self.message}" if self.message else self.code


def api_error(response: requests.Response, retry_after: float | None = None) -> ApiError:
    """Read the error out of a failed response.

    Args:
        response: A response with status 300 or more.
        retry_after: The parsed ``Retry-After`` header, in seconds.

    Returns:
        The error; the message is Salesforce's most specific line (query errors repeat the SOQL
        and a caret marker before the explanation on their last line).
    """
    code, message = f"HTTP {response.status_code}", ""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        code = str(body[0].get("errorCode") or code)
        message = str(body[0].get("message") or "")
    elif isinstance(body, dict) and "error" in body:
        code = str(body["error"])
        message = str(body.get("error_description") or "")
    elif body is None and response.text.strip():
        message = response.text.strip().splitlines()[0]  # e.g. the title line of an HTML error page
    return ApiError(response.status_code, code, last_line(message), retry_after)


def last_line(text: str) -> str:
    """The last non-blank line of a message, shortened to a readable length."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= _MAX_DETAIL_CHARS else line[: _MAX_DETAIL_CHARS - 3] + "..."


def terminal_error(error: ApiError, action: str, object_name: str | None) -> SourceError:
    """The worker error for a response that retrying cannot fix.

    Args:
        error: The failed response.
        action: What the worker was doing, e.g. ``querying Account``.
        object_name: The sObject involved, if any, named in the message.

    Returns:
        :class:`ColumnNotFoundError` for ``INVALID_FIELD``, :class:`TableNotFoundError` for
        ``INVALID_TYPE`` and ``NOT_FOUND``, :class:`SalesforceAuthError` for a rejected session,
        else :class:`SourceError`.
    """
    message = f"Salesforce refused {action}: {error.describe()}"
    if error.code == "INVALID_FIELD":
        return ColumnNotFoundError(message)
    if error.code in ("INVALID_TYPE", "NOT_FOUND") and object_name is not None:
        return TableNotFoundError(f"INVALID_TYPE: sObject type {object_name!r} not found ({message})")
    if error.session_expired:
        return SalesforceAuthError(message)
    return SourceError(message)
