"""The slice of Orchestra's public API a batch needs, with retries that never start a run twice.

Endpoints (``/api/engine/public``, bearer token; docs/orchestra-contract.md section 7, the same on
hosted Orchestra and ``orchestra-local serve``):

* ``GET /pipeline?alias=|pipeline_id=``: a pipeline's record (its ``id``);
* ``POST /pipelines/{id_or_alias}/start``: 200 ``{"id", "pipelineRunId", "message"}``;
* ``GET /pipeline_runs/{id}/status``: the run record (``runStatus``);
* ``GET /pipeline_runs?pipeline_ids=&time_from=``: runs of a pipeline created since a moment;
* ``GET /pipeline_runs/{id}/task_runs``: the run's task runs (``taskParameters``).

Reads are retried on any transport error, 429 and 5xx. A start is retried only when the request
provably did not reach the server (it could not connect: refused, DNS, connect timeout) or was
refused with 429; a read timeout, a dropped connection or a 5xx after the request was sent raise
:class:`AmbiguousStartError`, and the caller looks the run up (``recover.py``) instead of sending
it again. Waits honour ``Retry-After`` (seconds or an HTTP date), else back off exponentially.
No message of this module contains the token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

API_PREFIX = "/api/engine/public"
HOSTED_APP_URL = "https://app.getorchestra.io"
MAX_RETRY_AFTER_SECONDS = 300.0
"""Longest ``Retry-After`` honoured; a longer one is cut to this."""
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CANNOT_HAVE_BEEN_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class ApiError(Exception):
    """Orchestra answered with an error, or could not be reached (after the retries).

    Attributes:
        status: The HTTP status, or None when no response came.
        detail: Orchestra's ``detail`` (or the transport error), token-free.
    """

    def __init__(self, what: str, status: int | None, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{what}: HTTP {status}: {detail}" if status is not None else f"{what}: {detail}")
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


class AmbiguousStartError(Exception):
    """A start request was sent and its answer was lost (timeout, dropped connection, 5xx): the run
    may or may not exist."""


def app_base_url(app_url: str) -> str:
    """The API's base URL for ``--app-url`` (with or without the ``/api/engine/public`` suffix)."""
    url = app_url.rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (RFC 9110: delay-seconds or an HTTP date), capped; None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    delay = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(delay, 0.0), MAX_RETRY_AFTER_SECONDS)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        detail = body.get("detail", body) if isinstance(body, dict) else body
    except ValueError:
        detail = response.text
    text = detail if isinstance(detail, str) else str(detail)
    return text[:500] or response.reason_phrase


class OrchestraClient:
    """One workspace's API: ``app_url`` + token.

    Args:
        app_url: ``https://app.getorchestra.io`` (hosted) or ``http://127.0.0.1:8000`` (``serve``).
        token: The workspace's API key (sent as ``Authorization: Bearer``; never in a message).
        max_retries: Retries after the first attempt of a request (``--max-retries``).
        timeout: Seconds to wait for a response (connect, read, write).
        sleep: Waits between attempts (tests pass a recorder).
        transport: An httpx transport (tests).
    """

    def __init__(self, app_url: str, token: str, *, max_retries: int = 3, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None) -> None:
        self.token = token
        self.max_retries = max_retries
        self._sleep = sleep
        self._http = httpx.Client(base_url=app_base_url(app_url), headers={"Authorization": f"Bearer {token}"},
                                  timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _clean(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ApiError) and error.retry_after is not None:
            return error.retry_after
        return wait_exponential_jitter(initial=1, max=30)(state)

    def _retrying(self, retryable: Callable[[BaseException], bool]) -> Retrying:
        return Retrying(retry=retry_if_exception(retryable), stop=stop_after_attempt(self.max_retries + 1),
                        wait=self._wait, sleep=self._sleep, reraise=True)

    def _raise_for(self, what: str, response: httpx.Response) -> None:
        if response.is_success:
            return
        raise ApiError(what, response.status_code, self._clean(_detail(response)),
                       retry_after_seconds(response.headers.get("Retry-After")) if response.status_code == 429 else None)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """A read: retried on transport errors, 429 and 5xx."""
        def retryable(error: BaseException) -> bool:
            return isinstance(error, httpx.TransportError) or (
                isinstance(error, ApiError) and (error.status == 429 or (error.status or 0) >= 500))

        def attempt() -> Any:
            response = self._http.get(path, params=params)
            self._raise_for(f"GET {path}", response)
            return response.json()

        try:
            return self._retrying(retryable)(attempt)
        except httpx.TransportError as exc:
            raise ApiError(f"GET {path}", None, self._clean(f"{type(exc).__name__}: {exc}")) from None

    def pipeline(self, id_or_alias: str) -> dict[str, Any]:
        """The pipeline's record (``id``, ``alias``, ``name`` ...).

        Raises:
            ApiError: 404 unknown pipeline, 401 bad token, or unreachable.
        """
        selector = "pipeline_id" if _UUID.match(id_or_alias) else "alias"
        return self._get("/pipeline", {selector: id_or_alias})  # type: ignore[no-any-return]

    def start(self, pipeline: str, *, branch: str | None = None, commit: str | None = None,
              environment: str | None = None, run_inputs: dict[str, Any] | None = None) -> str:
        """Start a run; its pipeline run id.

        Raises:
            ApiError: Orchestra refused it (4xx), or it could not be sent within the retries: the
                run was not started.
            AmbiguousStartError: It was sent and the answer was lost: the run may exist.
        """
        path = f"/pipelines/{pipeline}/start"
        body = {name: value for name, value in (("branch", branch), ("commit", commit),
                                                ("environment", environment), ("runInputs", run_inputs))
                if value not in (None, {})}

        def retryable(error: BaseException) -> bool:
            return isinstance(error, _CANNOT_HAVE_BEEN_SENT) or (isinstance(error, ApiError) and error.status == 429)

        def attempt() -> str:
            try:
                response = self._http.post(path, json=body)
            except _CANNOT_HAVE_BEEN_SENT:
                raise
            except httpx.TransportError as exc:
                raise AmbiguousStartError(self._clean(f"POST {path}: sent, then {type(exc).__name__}: {exc}")) from None
            if response.status_code >= 500:
                raise AmbiguousStartError(self._clean(f"POST {path}: sent, then HTTP {response.status_code}: "
                                                      f"{_detail(response)}"))
            self._raise_for(f"POST {path}", response)
            return str(response.json()["pipelineRunId"])

        try:
            return self._retrying(retryable)(attempt)  # type: ignore[no-any-return]
        except _CANNOT_HAVE_BEEN_SENT as exc:
            raise ApiError(f"POST {path}", None, self._clean(f"not sent: {type(exc).__name__}: {exc}")) from None

    def run_status(self, pipeline_run_id: str) -> dict[str, Any]:
        """The run record (``runStatus``, ``message``, timestamps)."""
        return self._get(f"/pipeline_runs/{pipeline_run_id}/status")  # type: ignore[no-any-return]

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self._get(path, {**params, "page": page})
            yield from body["results"]
            if page * int(body["pageSize"]) >= int(body["total"]) or not body["results"]:
                return
            page += 1

    def runs_since(self, pipeline_id: str, since: datetime) -> list[dict[str, Any]]:
        """Runs of a pipeline created at or after ``since`` (UTC), newest first."""
        return list(self._pages("/pipeline_runs", {"pipeline_ids": pipeline_id, "page_size": 100,
                                                   "time_from": since.astimezone(UTC).isoformat()}))

    def task_runs(self, pipeline_run_id: str) -> list[dict[str, Any]]:
        """Every task run of a pipeline run."""
        return list(self._pages(f"/pipeline_runs/{pipeline_run_id}/task_runs", {"page_size": 50}))
