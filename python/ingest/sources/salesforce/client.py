"""Requests to the Salesforce REST API and Bulk API 2.0: retries, session renewal, error mapping.

Every call of the source goes through :meth:`SalesforceClient.request`, which

- sends it under ``/services/data/v<version>/`` of the session's instance with the bearer token
  (Salesforce REST API Developer Guide, "Send HTTP Requests with cURL");
- retries HTTP 429, 5xx, ``REQUEST_LIMIT_EXCEEDED`` and connection failures (see
  :mod:`ingest.sources.salesforce.retry`); a request that may have reached the server (a read
  timeout, a dropped connection) is repeated only when it is safe to repeat (not a POST);
- on HTTP 401 ``INVALID_SESSION_ID`` logs in again once and repeats the request; a fresh session
  that is rejected again is an error;
- turns every other failure into one worker error (see :mod:`ingest.sources.salesforce.errors`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import requests
from worker_kit.masking import SecretMasker
from worker_kit.retry_after import parse_retry_after

from ingest.errors import SourceError
from ingest.sources.salesforce.auth import Authenticator, SalesforceSession
from ingest.sources.salesforce.errors import SalesforceAuthError, api_error, terminal_error
from ingest.sources.salesforce.retry import RetryableError, call_with_retries
from ingest.sources.salesforce.transport import describe_failure, never_sent

logger = logging.getLogger(__name__)

JSON = "application/json"


class SalesforceClient:
    """An authenticated connection to one org, safe to use from two threads.

    Args:
        authenticator: Logs in (and again when the session expires).
        api_version: API version of every request, e.g. ``59.0``.
        http: The requests session (with timeouts) all requests go through.
        redact: Removes secrets from messages.
    """

    def __init__(
        self, authenticator: Authenticator, api_version: str, http: requests.Session, redact: SecretMasker
    ) -> None:
        self._authenticator = authenticator
        self._api_version = api_version
        self._http = http
        self._redact = redact
        self._session: SalesforceSession | None = None
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        object_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one request and return its successful response.

        Args:
            method: HTTP method.
            path: Path relative to ``/services/data/v<version>/`` (e.g. ``sobjects/Account/describe``)
                or an absolute path from the server (``nextRecordsUrl``, starting with ``/``).
            action: What the request does, for messages, e.g. ``querying Account``.
            object_name: The sObject involved, named in "not found" errors.
            params: Query string parameters.
            body: JSON body.
            headers: Extra headers (``Accept``, ``Sforce-Query-Options``, ...).

        Returns:
            The response (status below 300), its body fully read.

        Raises:
            SourceError: Salesforce refused the request (``ColumnNotFoundError`` for
                ``INVALID_FIELD``, ``TableNotFoundError`` for an unknown object).
            SalesforceAuthError: The session was rejected and cannot be renewed.
            SalesforceUnavailableError: Throttling or failures outlasted every retry.
        """

        def attempt() -> requests.Response:
            return self._send(method, path, action, object_name, params, body, headers)

        return call_with_retries(attempt, action)

    def get_json(self, path: str, *, action: str, object_name: str | None = None, **kwargs: Any) -> Any:
        """GET a JSON resource; numbers parsed as usual.

        Raises:
            SourceError: As :meth:`request`, or if the body is not JSON.
        """
        response = self.request("GET", path, action=action, object_name=object_name, **kwargs)
        return self._json(response, action, numbers_as_text=False)

    def json_numbers_as_text(self, response: requests.Response, action: str) -> Any:
        """Parse a JSON body keeping numbers as their text, so no decimal passes through a float.

        Raises:
            SourceError: If the body is not JSON.
        """
        return self._json(response, action, numbers_as_text=True)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def _json(self, response: requests.Response, action: str, numbers_as_text: bool) -> Any:
        try:
            if numbers_as_text:
                return json.loads(response.content, parse_float=str, parse_int=str)
            return json.loads(response.content)
        except ValueError as exc:
            raise SourceError(f"Salesforce answered {action} with a body that is not JSON ({exc})") from None

    def _current_session(self) -> SalesforceSession:
        with self._lock:
            if self._session is None:
                self._session = self._authenticator.login()
            return self._session

    def _renew(self, rejected: SalesforceSession, action: str) -> SalesforceSession:
        """Log in again after ``rejected`` expired (once, even if two threads noticed)."""
        with self._lock:
            if self._session is not rejected and self._session is not None:
                return self._session
            if not self._authenticator.can_renew:
                prefix = self._authenticator.credentials.prefix
                raise SalesforceAuthError(
                    f"Salesforce rejected the session while {action} (INVALID_SESSION_ID) and a session "
                    f"given by {prefix}SESSION_ID cannot be renewed; set a fresh one or use another --login-flow"
                )
            logger.warning("Salesforce session expired while %s; logging in again", action)
            self._session = self._authenticator.login()
            return self._session

    def _send(
        self,
        method: str,
        path: str,
        action: str,
        object_name: str | None,
        params: Mapping[str, Any] | None,
        body: Any,
        headers: Mapping[str, str] | None,
    ) -> requests.Response:
        """One attempt, renewing the session once if it expired."""
        session = self._current_session()
        response = self._transmit(session, method, path, params, body, headers, action)
        if response.status_code == 401:
            error = api_error(response)
            if not error.session_expired:
                raise terminal_error(error, action, object_name)
            session = self._renew(session, action)
            response = self._transmit(session, method, path, params, body, headers, action)
            if response.status_code == 401:
                error = api_error(response)
                raise SalesforceAuthError(f"Salesforce rejected a fresh session while {action}: {error.describe()}")
        if response.status_code < 300:
            return response
        error = api_error(response, parse_retry_after(response.headers.get("Retry-After")))
        if error.transient and method == "POST" and not error.unprocessed:
            # The job (or record) may have been created: repeating could create a second one.
            raise SourceError(self._redact(
                f"Salesforce {action}: the outcome is unknown (HTTP {error.status} {error.describe()}); "
                "run the task again"
            ))  # fmt: skip
        if error.transient:
            raise RetryableError(self._redact(f"HTTP {error.status} {error.describe()}"), error.retry_after)
        raise self._redacted(terminal_error(error, action, object_name))

    def _transmit(
        self,
        session: SalesforceSession,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        headers: Mapping[str, str] | None,
        action: str,
    ) -> requests.Response:
        """Send the request; turn transport failures into retryable or final errors."""
        url = self._url(session, path)
        all_headers = {"Authorization": f"Bearer {session.session_id}", "Accept": JSON, **(headers or {})}
        try:
            return self._http.request(method, url, params=params, json=body, headers=all_headers)
        except requests.RequestException as exc:
            description = self._redact(describe_failure(exc))
            if method != "POST" or never_sent(exc):
                raise RetryableError(description) from None
            raise SourceError(
                f"Salesforce {action}: the outcome is unknown ({description}); run the task again"
            ) from None

    def _url(self, session: SalesforceSession, path: str) -> str:
        if path.startswith("/"):
            return f"https://{session.instance}{path}"
        return f"https://{session.instance}/services/data/v{self._api_version}/{path}"

    def _redacted(self, error: SourceError) -> SourceError:
        text = str(error)
        clean = self._redact(text)
        return error if clean == text else type(error)(clean)
