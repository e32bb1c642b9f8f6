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
it again. Waits honour ``Retry-After`` (seconds or an HTTP date), else back off exponentially (the kit's
retry loop, :mod:`worker_kit.retry`).
No message of this module contains the token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from worker_kit.retry import RetryableError, RetryPolicy, call_with_retries
from worker_kit.retry_after import parse_retry_after

T = TypeVar("T")

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


class _Retryable(RetryableError):
    """One failed attempt worth repeating: a 429, a 5xx of a read, or a request that was never sent."""

    def __init__(self, what: str, status: int | None, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{what}: HTTP {status}: {detail}" if status is not None else f"{what}: {detail}",
                         retry_after)
        self.what, self.status, self.detail = what, status, detail

    def api_error(self) -> ApiError:
        """The error the caller gets when the retries are spent."""
        return ApiError(self.what, self.status, self.detail, self.retry_after)


class AmbiguousStartError(Exception):
    """A start request was sent and its answer was lost (timeout, dropped connection, 5xx): the run
    may or may not exist."""


def app_base_url(app_url: str) -> str:
    """The API's base URL for ``--app-url`` (with or without the ``/api/engine/public`` suffix)."""
    url = app_url.rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (:func:`worker_kit.retry_after.parse_retry_after`), capped at
    :data:`MAX_RETRY_AFTER_SECONDS`; None if absent or unusable."""
    seconds = parse_retry_after(value, now)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER_SECONDS)


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

    def _retry(self, attempt: Callable[[], T], what: str) -> T:
        """Run ``attempt`` under the kit's retry loop; a :class:`_Retryable` left at the end becomes an ApiError."""
        policy = RetryPolicy(max_attempts=self.max_retries + 1, initial_delay_seconds=1.0, max_delay_seconds=30.0,
                             max_retry_after_seconds=MAX_RETRY_AFTER_SECONDS, cap_retry_after=True)
        return call_with_retries(attempt, policy, what, lambda failure, _: failure.api_error(), sleep=self._sleep)

    def _raise_for(self, what: str, response: httpx.Response) -> None:
        if response.is_success:
            return
        raise ApiError(what, response.status_code, self._clean(_detail(response)))

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """A read: retried on transport errors, 429 and 5xx."""
        what = f"GET {path}"

        def attempt() -> Any:
            try:
                response = self._http.get(path, params=params)
            except httpx.TransportError as exc:
                raise _Retryable(what, None, self._clean(f"{type(exc).__name__}: {exc}")) from None
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retryable(what, response.status_code, self._clean(_detail(response)),
                                 retry_after_seconds(response.headers.get("Retry-After")))
            self._raise_for(what, response)
            return response.json()

        return self._retry(attempt, what)

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

        what = f"POST {path}"

        def attempt() -> str:
            try:
                response = self._http.post(path, json=body)
            except _CANNOT_HAVE_BEEN_SENT as exc:
                raise _Retryable(what, None, self._clean(f"not sent: {type(exc).__name__}: {exc}")) from None
            except httpx.TransportError as exc:
                raise AmbiguousStartError(self._clean(f"{what}: sent, then {type(exc).__name__}: {exc}")) from None
            if response.status_code >= 500:
                raise AmbiguousStartError(self._clean(f"{what}: sent, then HTTP {response.status_code}: "
                                                      f"{_detail(response)}"))
            if response.status_code == 429:
                raise _Retryable(what, 429, self._clean(_detail(response)),
                                 retry_after_seconds(response.headers.get("Retry-After")))
            self._raise_for(what, response)
            return str(response.json()["pipelineRunId"])

        return self._retry(attempt, what)

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
