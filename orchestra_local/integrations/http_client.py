"""One HTTP request per attempt, for HTTP_REQUEST and the chat webhooks (SLACK, MICROSOFT_TEAMS).

Retrying is the engine's job, so nothing here retries. What a failure means for the next attempt
follows STYLE.md ("Retry only what is safe"): a refused or timed-out *connection*, 408, 425, 429
and 5xx are retryable; any other 4xx is terminal; a *read* timeout is ambiguous (the server may
have acted on the request) and is reported as terminal rather than repeated.

Messages name the request by what the YAML says (method and path, or "Slack webhook"), never by
its URL: base and webhook URLs come from connections and may carry credentials.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import requests

from orchestra_local.errors import IntegrationError, InvalidParametersError
from orchestra_local.integrations.base import TaskContext
from orchestra_local.integrations.outcomes import TerminalIntegrationError, connection_fields

DEFAULT_TIMEOUT_SECONDS = 300.0
"""Read timeout, in seconds, when the task sets no ``timeout`` **(our choice)**: never wait forever."""

CONNECT_TIMEOUT_SECONDS = 10.0
"""Longest wait, in seconds, to open the connection (shorter when the task's timeout is shorter)."""

RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})
"""4xx answers that say "try again later" rather than "this request is wrong"."""

EXCERPT_CHARS = 200
"""Characters of a response body quoted in a failure message."""


def timeouts(ctx: TaskContext) -> tuple[float, float]:
    """``(connect, read)`` timeouts in seconds for ``requests``, from the task's ``timeout``.

    ``requests`` applies the read timeout to each wait for data, so a slowly streaming answer can
    take longer in total; the engine's per-attempt timeout is the upper bound users configure.
    """
    read = float(ctx.timeout) if ctx.timeout is not None else DEFAULT_TIMEOUT_SECONDS
    return min(CONNECT_TIMEOUT_SECONDS, read), read


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a response body on one line: whitespace collapsed, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    """The operating system's reason for a connection failure (e.g. "Connection refused"), URL-free."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in (current.__cause__, current.__context__, getattr(current, "reason", None))
                    if isinstance(e, BaseException)]
    return type(exc).__name__


def send(
    ctx: TaskContext,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
    data: str | None = None,
    json_body: Any = None,
) -> requests.Response:
    """Send one request and return the answer, whatever its status code.

    Args:
        ctx: The attempt's context (for its timeout).
        method: ``GET``, ``POST`` or ``PUT``.
        url: The full URL (never put into messages).
        what: How messages name the request, e.g. ``GET /health`` or ``Slack webhook``.
        headers: Request headers.
        data: A body sent as is (already serialised).
        json_body: A body ``requests`` serialises as JSON (with ``Content-Type: application/json``).

    Returns:
        The response.

    Raises:
        IntegrationError: The connection could not be opened or broke before an answer (retryable).
        TerminalIntegrationError: No answer within the read timeout (the outcome is unknown).
    """
    connect, read = timeouts(ctx)
    try:
        return requests.request(
            method, url, headers=dict(headers or {}), data=data.encode("utf-8") if data is not None else None,
            json=json_body, timeout=(connect, read),
        )
    except requests.ConnectTimeout as exc:
        raise IntegrationError(f"{what}: could not connect within {connect:g} seconds") from exc
    except requests.ReadTimeout as exc:
        raise TerminalIntegrationError(
            f"{what}: no answer within {read:g} seconds; the server may have processed the request, "
            "so it is not retried (outcome unknown)"
        ) from exc
    except requests.ConnectionError as exc:
        raise IntegrationError(f"{what}: connection failed ({_reason(exc)})") from exc
    except requests.RequestException as exc:
        raise TerminalIntegrationError(f"{what}: request could not be sent ({type(exc).__name__})") from exc


def raise_for_status(response: requests.Response, what: str) -> None:
    """Fail the attempt unless the answer is 2xx.

    Raises:
        TerminalIntegrationError: For a 4xx other than 408, 425 and 429.
        IntegrationError: For any other non-2xx answer (retryable).
    """
    code = response.status_code
    if 200 <= code < 300:
        return
    body = excerpt(response.text)
    message = f"{what}: HTTP {code} {response.reason or ''}".rstrip() + (f": {body}" if body else "")
    if 400 <= code < 500 and code not in RETRYABLE_CLIENT_ERRORS:
        raise TerminalIntegrationError(message, external_status=str(code))
    raise IntegrationError(message)


def parse_json_text(text: str, name: str, error: type[IntegrationError] = InvalidParametersError) -> Any:
    """Parse a parameter (or, with ``error=TerminalIntegrationError``, a connection field) holding JSON text.

    Raises:
        InvalidParametersError: Or ``error``: naming ``name`` and where the JSON breaks (never echoing it).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{name} is not valid JSON ({exc.msg} at character {exc.pos})") from None


def post_to_webhook(
    ctx: TaskContext, integration: str, payload: dict[str, Any], what: str
) -> tuple[requests.Response, float]:
    """POST a JSON payload to the incoming-webhook URL of the task's connection (field ``webhook_url``).

    Args:
        ctx: The attempt's context.
        integration: The integration the connection must belong to (``SLACK``, ``MICROSOFT_TEAMS``).
        payload: The JSON body.
        what: How messages name the webhook, e.g. ``Slack webhook``.

    Returns:
        The 2xx response and the seconds it took.

    Raises:
        TerminalIntegrationError: No suitable connection, a 4xx answer, or no answer in time.
        IntegrationError: Connection failures and 5xx/429 answers (retryable).
    """
    url = connection_fields(ctx, integration, required=("webhook_url",))["webhook_url"]
    if not url.startswith(("https://", "http://")):
        raise TerminalIntegrationError(f"{what}: the connection's webhook_url must start with https:// or http://")
    started = time.monotonic()
    response = send(ctx, "POST", url, what=what, json_body=payload)
    raise_for_status(response, what)
    return response, time.monotonic() - started
