"""The API client's retry rules: a start is re-sent only when it provably did not arrive, or on 429."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from worker_kit.orchestra_api import (
    MAX_RETRY_AFTER_SECONDS,
    AmbiguousStartError,
    ApiError,
    OrchestraClient,
    app_base_url,
    retry_after_seconds,
)

TOKEN = "secret-token-value-123"


def client_for(answers: list[Callable[[httpx.Request], httpx.Response]], sleeps: list[float],
               max_retries: int = 3) -> tuple[OrchestraClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1](request)

    client = OrchestraClient("http://orchestra.test/", TOKEN, max_retries=max_retries, sleep=sleeps.append,
                             transport=httpx.MockTransport(handle))
    return client, seen


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def dropped(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("server disconnected without sending a response", request=request)


def started(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "p", "pipelineRunId": "run-1", "message": "Pipeline run started"})


def status(code: int, headers: dict[str, str] | None = None, detail: str = "no") -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, json={"detail": detail}, headers=headers)


def test_the_app_url_gets_the_public_api_prefix_once() -> None:
    assert app_base_url("https://app.getorchestra.io") == "https://app.getorchestra.io/api/engine/public"
    assert app_base_url("http://127.0.0.1:8000/api/engine/public/") == "http://127.0.0.1:8000/api/engine/public"


def test_retry_after_is_read_as_seconds_or_a_date_and_capped() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Mon, 01 Jan 2024 00:00:30 GMT", now) == 30.0
    assert retry_after_seconds("99999") == MAX_RETRY_AFTER_SECONDS
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_start_that_could_not_connect_is_sent_again_and_its_body_is_orchestras() -> None:
    sleeps: list[float] = []
    client, seen = client_for([refused, refused, started], sleeps)
    run_id = client.start("tpch", branch="main", commit=None, environment="", run_inputs={"start_date": "2024-01-01"})
    assert run_id == "run-1" and len(seen) == 3 and len(sleeps) == 2
    assert seen[-1].url.path == "/api/engine/public/pipelines/tpch/start"
    assert seen[-1].headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen[-1].read() == b'{"branch":"main","environment":"","runInputs":{"start_date":"2024-01-01"}}'


def test_a_429_is_retried_after_its_retry_after() -> None:
    sleeps: list[float] = []
    client, seen = client_for([status(429, {"Retry-After": "4"}), started], sleeps)
    assert client.start("tpch") == "run-1"
    assert sleeps == [4.0] and len(seen) == 2


@pytest.mark.parametrize("lost", [read_timeout, dropped, status(500), status(503, {"Retry-After": "1"})])
def test_a_start_that_was_sent_and_lost_its_answer_is_never_sent_again(lost) -> None:
    sleeps: list[float] = []
    client, seen = client_for([lost, started], sleeps)
    with pytest.raises(AmbiguousStartError) as error:
        client.start("tpch")
    assert len(seen) == 1 and sleeps == []
    assert TOKEN not in str(error.value)


def test_a_refused_start_is_an_api_error_with_orchestras_detail_and_no_token() -> None:
    client, seen = client_for([status(400, detail=f"Missing required input start_date ({TOKEN})")], [])
    with pytest.raises(ApiError) as error:
        client.start("tpch")
    assert error.value.status == 400 and len(seen) == 1
    assert "Missing required input start_date" in str(error.value) and TOKEN not in str(error.value)


def test_a_start_that_never_connected_gives_up_after_the_retries() -> None:
    sleeps: list[float] = []
    client, seen = client_for([refused], sleeps, max_retries=2)
    with pytest.raises(ApiError, match="not sent: ConnectError"):
        client.start("tpch")
    assert len(seen) == 3 and len(sleeps) == 2


def test_reads_are_retried_on_5xx_and_transport_errors_and_paged() -> None:
    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        return httpx.Response(200, json={"page": number, "pageSize": 2, "total": 3,
                                         "results": [{"id": f"r{number}{i}"} for i in range(2 if number == 1 else 1)]})

    sleeps: list[float] = []
    client, seen = client_for([status(502), read_timeout, page, page], sleeps)
    runs = client.runs_since("0b6cc4d4-64c5-4bb1-9d4e-8c2bd7a2c0f3", datetime(2024, 1, 1, tzinfo=UTC))
    assert [run["id"] for run in runs] == ["r10", "r11", "r20"] and len(sleeps) == 2
    assert seen[2].url.params["pipeline_ids"] == "0b6cc4d4-64c5-4bb1-9d4e-8c2bd7a2c0f3"
    assert seen[2].url.params["time_from"] == "2024-01-01T00:00:00+00:00"


def test_a_pipeline_is_looked_up_by_id_or_alias() -> None:
    client, seen = client_for([lambda request: httpx.Response(200, json={"id": "x"})], [])
    client.pipeline("tpch_elt")
    client.pipeline("0b6cc4d4-64c5-4bb1-9d4e-8c2bd7a2c0f3")
    assert [dict(request.url.params) for request in seen] == [
        {"alias": "tpch_elt"}, {"pipeline_id": "0b6cc4d4-64c5-4bb1-9d4e-8c2bd7a2c0f3"}]
