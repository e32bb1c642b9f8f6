"""HTTP / HTTP_REQUEST: one HTTP request to the path under the linked connection's base URL.

Contract: Orchestra's ``HttpParametersModel`` (read from ``oml_lang``): ``path`` appended to the
connection's base URL, ``method`` GET | POST | PUT, ``body`` a JSON string, ``custom_headers`` a
JSON object as a string, ``set_outputs`` to "store response status and body as task outputs".
Any 2xx succeeds; any other status fails with the code and the start of the body. Messages name
the request by method and path without its query string (query strings often carry API keys). A query string
belongs in ``path`` (``/items?limit=10``): Orchestra has no separate parameter for it.

Connection (``integration: HTTP``) fields **(our choice; Orchestra's are not public)**:
``base_url`` (required), ``bearer_token`` (sent as ``Authorization: Bearer ...``) and ``headers``
(a JSON object as a string, e.g. ``{"X-Api-Key": "..."}``). ``custom_headers`` win over both.

Outputs with ``set_outputs: true`` **(our choice of names)**: ``status_code`` (int) and ``body``
(the parsed JSON when the body is JSON, else the text).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import StrictBool
from requests.structures import CaseInsensitiveDict

from orchestra_local.errors import IntegrationError, InvalidParametersError
from orchestra_local.integrations.base import IntegrationParameters, TaskContext, TaskResult
from orchestra_local.integrations.http_client import parse_json_text, raise_for_status, send
from orchestra_local.integrations.outcomes import TerminalIntegrationError, connection_fields, settled
from orchestra_local.spec.statuses import TaskRunStatus

SHELL_PARAMETERS: frozenset[str] = frozenset()

MAX_BODY_OUTPUT_CHARS = 1_000_000
"""Largest response body (characters) stored as the ``body`` output; a larger one is left out and said so."""


class Parameters(IntegrationParameters):
    """Parameters of HTTP_REQUEST (Orchestra's names, types and defaults)."""

    path: str
    method: Literal["GET", "POST", "PUT"]
    body: str | None = None
    custom_headers: str | None = None
    set_outputs: StrictBool | None = False


def request_url(base_url: str, path: str) -> str:
    """Append ``path`` to ``base_url`` with exactly one ``/`` between them.

    Raises:
        TerminalIntegrationError: ``base_url`` (a connection field) is not http(s).
        InvalidParametersError: ``path`` is a whole URL.
    """
    if not base_url.startswith(("https://", "http://")):
        raise TerminalIntegrationError("the connection's base_url must start with https:// or http://")
    if "://" in path.split("?", 1)[0]:
        raise InvalidParametersError(
            "path is a whole URL; Orchestra appends path to the connection's base_url, "
            "so give only the path (e.g. /v1/items?limit=10) and put the host in base_url"
        )
    if not path or path.startswith("?"):
        return base_url + path
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def _header_object(text: str, name: str, error: type[IntegrationError]) -> dict[str, str]:
    value = parse_json_text(text, name, error)
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float)) for v in value.values()):
        raise error(f"{name} must be a JSON object of header names to text values")
    return {str(k): str(v) for k, v in value.items()}


def _headers(fields: dict[str, str], custom_headers: str | None) -> CaseInsensitiveDict[str]:
    """Connection headers, then the bearer token, then the task's ``custom_headers`` (names ignore case)."""
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    if fields.get("headers"):
        headers.update(_header_object(fields["headers"], "the connection's headers field", TerminalIntegrationError))
    if fields.get("bearer_token") and "Authorization" not in headers:
        headers["Authorization"] = f"Bearer {fields['bearer_token']}"
    if custom_headers:
        headers.update(_header_object(custom_headers, "custom_headers", InvalidParametersError))
    return headers


def _body_output(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@settled
def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Send the request once.

    Returns:
        SUCCEEDED for a 2xx answer (``external_status`` is the status code), with ``status_code``
        and ``body`` as outputs when ``set_outputs`` is true.

    Raises:
        InvalidParametersError: ``body`` or ``custom_headers`` that are not JSON, a body on a GET,
            or a whole URL as ``path``.
        TerminalIntegrationError: Bad connection fields, a 4xx answer, or no answer within the
            read timeout.
        IntegrationError: Connection failures and 5xx/408/425/429 answers (the engine may retry).
    """
    fields = connection_fields(ctx, "HTTP", required=("base_url",), optional=("bearer_token", "headers"))
    url = request_url(fields["base_url"], params.path)
    headers = _headers(fields, params.custom_headers)
    what = f"{params.method} {params.path.split('?', 1)[0] or '/'}"  # query strings may carry keys
    body = params.body if params.body else None
    if body is not None:
        if params.method == "GET":
            raise InvalidParametersError("body is sent with POST or PUT only; remove it or change method")
        parse_json_text(body, "body")
        headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    response = send(ctx, params.method, url, what=what, headers=headers, data=body)
    raise_for_status(response, what)
    seconds = time.monotonic() - started
    message = f"{what}: HTTP {response.status_code} after {seconds:.2f}s"
    outputs: dict[str, Any] = {}
    if params.set_outputs:
        outputs["status_code"] = response.status_code
        if len(response.text) <= MAX_BODY_OUTPUT_CHARS:
            outputs["body"] = _body_output(response.text)
        else:
            message += (f"; body of {len(response.text)} characters not stored as an output "
                        f"(limit {MAX_BODY_OUTPUT_CHARS})")
    return TaskResult(TaskRunStatus.SUCCEEDED, message, outputs=outputs, external_status=str(response.status_code))
