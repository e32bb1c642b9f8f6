"""HTTP_REQUEST through the engine against a real HTTP server on loopback."""

from __future__ import annotations

import json

import pytest

from orchestra_local.connections import Connection
from orchestra_local.errors import InvalidParametersError
from orchestra_local.integrations.http_request import request_url
from orchestra_local.integrations.outcomes import TerminalIntegrationError

PIPELINE = """
    version: v1
    name: http
    pipeline:
      api:
        tasks:
          call:
            integration: HTTP
            integration_job: HTTP_REQUEST
            connection: local_api
            configuration: {{retries: {retries}, retry_delay: 1, timeout: {timeout}}}
            parameters: {parameters}
    """


def _api(url: str, **fields: str) -> dict[str, Connection]:
    return {"local_api": Connection(name="local_api", integration="HTTP", fields={"base_url": url, **fields})}


def _run(run_pipeline, service, parameters: dict, *, retries: int = 0, timeout: int = 30, **fields: str):
    text = PIPELINE.format(parameters=json.dumps(parameters), retries=retries, timeout=timeout)
    finished = run_pipeline(text, connections=_api(service.url + "/v1/", **fields))
    return finished, finished.by_label()["api.call"]


def test_post_sends_method_headers_and_body_and_stores_the_json_answer(run_pipeline, service) -> None:
    service.reply("/v1/items", 201, '{"id": 7, "name": "widget"}')
    finished, call = _run(run_pipeline, service, {
        "path": "/items?dry_run=false", "method": "POST", "body": '{"name": "widget"}',
        "custom_headers": '{"X-Request-Source": "orchestra"}', "set_outputs": True,
    }, bearer_token="token-1234", headers='{"X-Team": "data"}')
    assert call["status"] == "SUCCEEDED", call["message"]
    assert call["message"].startswith("POST /items: HTTP 201")  # no query string: it may carry keys
    (request,) = service.received
    assert (request.method, request.path) == ("POST", "/v1/items?dry_run=false")
    assert request.json() == {"name": "widget"}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer token-1234"
    assert request.headers["x-team"] == "data" and request.headers["x-request-source"] == "orchestra"
    assert finished.store.get_outputs(call["id"]) == {"status_code": 201, "body": {"id": 7, "name": "widget"}}


def test_a_text_answer_is_stored_as_text_and_custom_headers_replace_the_token(run_pipeline, service) -> None:
    service.reply("/v1/health", 200, "all good", content_type="text/plain")
    finished, call = _run(run_pipeline, service, {
        "path": "health", "method": "GET", "custom_headers": '{"authorization": "Basic abc"}', "set_outputs": True,
    }, bearer_token="token-1234")
    assert call["status"] == "SUCCEEDED", call["message"]
    assert service.received[0].headers["authorization"] == "Basic abc"
    assert finished.store.get_outputs(call["id"]) == {"status_code": 200, "body": "all good"}


def test_without_set_outputs_nothing_is_stored(run_pipeline, service) -> None:
    finished, call = _run(run_pipeline, service, {"path": "/ping", "method": "PUT", "body": "[1, 2]"})
    assert call["status"] == "SUCCEEDED"
    assert service.received[0].method == "PUT" and service.received[0].json() == [1, 2]
    assert finished.store.get_outputs(call["id"]) == {}


def test_a_4xx_answer_fails_with_its_status_and_body_and_is_not_retried(run_pipeline, service) -> None:
    service.reply("/v1/items", 404, '{"detail": "no such item"}')
    finished, call = _run(run_pipeline, service, {"path": "/items", "method": "GET"}, retries=2)
    assert finished.status == "FAILED" and call["status"] == "FAILED"
    assert "HTTP 404" in call["message"] and "no such item" in call["message"]
    assert call["number_of_attempts"] == 1 and len(service.received) == 1


def test_a_5xx_answer_fails_and_is_retried(run_pipeline, service) -> None:
    service.reply("/v1/items", 503, "maintenance", content_type="text/plain")
    finished, call = _run(run_pipeline, service, {"path": "/items", "method": "GET"}, retries=1)
    assert call["status"] == "FAILED" and "HTTP 503" in call["message"] and "maintenance" in call["message"]
    assert call["number_of_attempts"] == 2 and len(service.received) == 2


def test_no_answer_within_the_timeout_is_reported_unknown_and_not_retried(run_pipeline, service) -> None:
    service.reply("/v1/slow", 200, delay=2.0)
    _, call = _run(run_pipeline, service, {"path": "/slow", "method": "POST"}, retries=1, timeout=1)
    assert call["status"] == "FAILED" and "no answer within 1 seconds" in call["message"]
    assert "outcome unknown" in call["message"] and call["number_of_attempts"] == 1


def test_a_refused_connection_fails_retryably_without_showing_the_url(run_pipeline, service) -> None:
    text = PIPELINE.format(parameters=json.dumps({"path": "/x", "method": "GET"}), retries=1, timeout=5)
    finished = run_pipeline(text, connections=_api("http://127.0.0.1:9"))
    call = finished.by_label()["api.call"]
    assert call["status"] == "FAILED" and "connection failed" in call["message"]
    assert "127.0.0.1" not in call["message"] and call["number_of_attempts"] == 2


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"path": "/x", "method": "GET", "body": '{"a": 1}'}, "body is sent with POST or PUT only"),
        ({"path": "/x", "method": "POST", "body": "{not json"}, "body is not valid JSON"),
        ({"path": "/x", "method": "GET", "custom_headers": '["a"]'}, "custom_headers must be a JSON object"),
        ({"path": "https://elsewhere.example/x", "method": "GET"}, "is a whole URL"),
    ],
    ids=["body-on-get", "body-not-json", "headers-not-object", "absolute-path"],
)
def test_bad_request_parameters_fail_before_sending(run_pipeline, service, parameters: dict, fragment: str) -> None:
    _, call = _run(run_pipeline, service, parameters, retries=2)
    assert call["status"] == "FAILED" and fragment in call["message"]
    assert call["number_of_attempts"] == 1 and service.received == []


def test_a_task_without_a_connection_fails_and_says_so(run_pipeline) -> None:
    finished = run_pipeline("""
        version: v1
        name: http
        pipeline:
          api:
            tasks:
              call: {integration: HTTP, integration_job: HTTP_REQUEST, parameters: {path: /x, method: GET}}
        """)
    call = finished.by_label()["api.call"]
    assert call["status"] == "FAILED" and "needs a connection" in call["message"]


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("https://api.example.com", "/v1/items", "https://api.example.com/v1/items"),
        ("https://api.example.com/", "v1/items", "https://api.example.com/v1/items"),
        ("https://api.example.com/base/", "/items?limit=10", "https://api.example.com/base/items?limit=10"),
        ("https://api.example.com/search", "?q=x", "https://api.example.com/search?q=x"),
        ("https://api.example.com/health", "", "https://api.example.com/health"),
        ("https://api.example.com", "/go?to=https://x.example", "https://api.example.com/go?to=https://x.example"),
    ],
)
def test_request_url_appends_the_path_to_the_base_url(base: str, path: str, expected: str) -> None:
    assert request_url(base, path) == expected


@pytest.mark.parametrize(
    ("base", "path", "error"),
    [
        ("ftp://files.example", "/x", TerminalIntegrationError),
        ("https://a.example", "http://b.example/x", InvalidParametersError),
    ],
)
def test_request_url_refuses_other_schemes_and_whole_urls(base: str, path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        request_url(base, path)
