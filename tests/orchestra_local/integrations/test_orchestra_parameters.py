"""Our parameter models accept exactly what Orchestra's own validator (``oml_lang``) accepts.

Each case is run through ``oml_lang.analyze`` (the hosted platform's per-integration parameter
schemas and rules) and through the local integration's ``Parameters`` model; both must agree.
"""

from __future__ import annotations

import json
from typing import Any

import oml_lang
import pydantic
import pytest

from orchestra_local.integrations import local_integration
from orchestra_local.integrations.thresholds import parse_threshold, status_for_count
from orchestra_local.spec.statuses import TaskRunStatus

HTTP = ("HTTP", "HTTP_REQUEST")
PG_QUERY = ("POSTGRES", "POSTGRES_RUN_QUERY")
PG_TEST = ("POSTGRES", "POSTGRES_RUN_TEST")
DUCK = ("MOTHERDUCK", "MOTHERDUCK_EXECUTE_QUERY")
SLACK = ("SLACK", "SEND_SLACK_MESSAGE")
TEAMS = ("MICROSOFT_TEAMS", "SEND_MICROSOFT_TEAMS_MESSAGE")

VALID: list[tuple[tuple[str, str], dict[str, Any]]] = [
    (HTTP, {"path": "/v1/items?limit=10", "method": "GET"}),
    (HTTP, {"path": "/v1/items", "method": "POST", "body": '{"a": 1}', "custom_headers": '{"X-A": "b"}',
            "set_outputs": True}),
    (HTTP, {"path": "", "method": "PUT", "body": None, "set_outputs": None}),
    (PG_QUERY, {"statement": "select 1"}),
    (PG_QUERY, {"statement": "insert into t values (1); select 1", "database": "analytics", "set_outputs": False}),
    (PG_TEST, {"statement": "select 1"}),
    (PG_TEST, {"statement": "select 1", "database": "d", "error_threshold_expression": ">= 10",
               "warn_threshold_expression": "!=0"}),
    (DUCK, {"query": "select 1"}),
    (DUCK, {"query": "create table t as select 1; select * from t", "set_outputs": True}),
    (SLACK, {"channel_name": "#alerts", "text": "done"}),
    (SLACK, {"channel_name": "C012AB3CD", "blocks": [{"type": "section"}], "attachments": [],
             "unfurl_links": True, "unfurl_media": False}),
    (SLACK, {"channel_name": "#alerts", "blocks": "[]", "text": None}),
    (TEAMS, {"content": {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "hi"}]}}),
    (TEAMS, {"content": {}}),
]

INVALID: list[tuple[tuple[str, str], dict[str, Any]]] = [
    (HTTP, {}),
    (HTTP, {"path": "/x"}),
    (HTTP, {"path": "/x", "method": "DELETE"}),
    (HTTP, {"path": "/x", "method": "get"}),
    (HTTP, {"path": "/x", "method": "POST", "body": {"a": 1}}),
    (HTTP, {"path": "/x", "method": "GET", "custom_headers": {"X-A": "b"}}),
    (HTTP, {"path": "/x", "method": "GET", "query_params": "a=1"}),
    (HTTP, {"path": "/x", "method": "GET", "url": "https://api.example.com"}),
    (HTTP, {"path": "/x", "method": "GET", "set_outputs": "yes"}),
    (HTTP, {"path": 5, "method": "GET"}),
    (PG_QUERY, {}),
    (PG_QUERY, {"statement": ["select 1"]}),
    (PG_QUERY, {"statement": "select 1", "schema": "s"}),
    (PG_QUERY, {"statement": "select 1", "set_outputs": 1}),
    (PG_TEST, {"statement": "select 1", "error_threshold_expression": "== 0"}),
    (PG_TEST, {"statement": "select 1", "warn_threshold_expression": "> -1"}),
    (PG_TEST, {"statement": "select 1", "error_threshold_expression": None}),
    (PG_TEST, {"statement": "select 1", "error_threshold_expression": 5}),
    (PG_TEST, {"statement": "select 1", "set_outputs": True}),
    (DUCK, {}),
    (DUCK, {"statement": "select 1"}),
    (DUCK, {"query": "select 1", "database": "analytics"}),
    (SLACK, {"text": "hi"}),
    (SLACK, {"channel_name": "#a", "message": "hi"}),
    (SLACK, {"channel_name": "#a", "text": 5}),
    (SLACK, {"channel_name": "#a", "blocks": {"type": "section"}}),
    (SLACK, {"channel_name": "#a", "attachments": "[]"}),
    (TEAMS, {}),
    (TEAMS, {"content": "hello"}),
    (TEAMS, {"content": []}),
    (TEAMS, {"content": {"a": 1}, "text": "x"}),
]


def oml_messages(job: tuple[str, str], parameters: dict[str, Any]) -> list[str]:
    """Every message ``oml_lang`` reports for a one-task pipeline running ``job`` with ``parameters``."""
    task = {"integration": job[0], "integration_job": job[1], "connection": "c", "parameters": parameters}
    text = json.dumps({"version": "v1", "name": "parity", "pipeline": {"g": {"tasks": {"t": task}}}}, indent=2)
    return [message.message() for message in oml_lang.analyze(text).errors()]


def model_accepts(job: tuple[str, str], parameters: dict[str, Any]) -> bool:
    module = local_integration(*job)
    assert module is not None, f"{job} is not registered in LOCAL_INTEGRATIONS"
    try:
        module.Parameters.model_validate(parameters)
    except pydantic.ValidationError:
        return False
    return True


def _id(case: tuple[tuple[str, str], dict[str, Any]]) -> str:
    return f"{case[0][1]}-{json.dumps(case[1], sort_keys=True)}"


@pytest.mark.parametrize("case", VALID, ids=[_id(c) for c in VALID])
def test_valid_parameters_pass_oml_lang_and_our_model(case: tuple[tuple[str, str], dict[str, Any]]) -> None:
    job, parameters = case
    assert oml_messages(job, parameters) == []
    assert model_accepts(job, parameters)


@pytest.mark.parametrize("case", INVALID, ids=[_id(c) for c in INVALID])
def test_invalid_parameters_fail_oml_lang_and_our_model(case: tuple[tuple[str, str], dict[str, Any]]) -> None:
    job, parameters = case
    assert oml_messages(job, parameters) != []
    assert not model_accepts(job, parameters)


THRESHOLDS = ["> 0", ">0", "=0", "= 0", "!= 3", "!=3", "<= 10", ">= 10", "< 5", "<0", ">  0", ">\t0", ">\n0",
              "> 00", "> 99999999999999999999", "  > 0", "> 0  ", "> 0\n", "> +1", "> -1", "> -0", "> 1.5", "> 1e3",
              "=> 3", "=< 3", "== 3", "<> 3", "! 3", "0 <", ">", "=", "", "> ${{ inputs.n }}", "> 0 and < 5",
              "≥ 1", "> ٣", "> ０", ">\u00a00"]


@pytest.mark.parametrize("text", THRESHOLDS, ids=[repr(t) for t in THRESHOLDS])
def test_threshold_format_matches_oml_lang(text: str) -> None:
    accepted_by_oml = oml_messages(PG_TEST, {"statement": "select 1", "error_threshold_expression": text}) == []
    try:
        parse_threshold(text)
        accepted_by_us = True
    except ValueError as exc:
        assert "comparator" in str(exc) and "non-negative integer" in str(exc)
        accepted_by_us = False
    assert accepted_by_us == accepted_by_oml


@pytest.mark.parametrize(
    ("count", "error", "warn", "expected"),
    [
        (0, "> 0", "> 0", TaskRunStatus.SUCCEEDED),
        (1, "> 0", "> 0", TaskRunStatus.FAILED),
        (3, ">= 10", "> 0", TaskRunStatus.WARNING),
        (10, ">= 10", "> 0", TaskRunStatus.FAILED),
        (0, "= 0", "< 5", TaskRunStatus.FAILED),
        (4, "= 0", "< 5", TaskRunStatus.WARNING),
        (5, "= 0", "< 5", TaskRunStatus.SUCCEEDED),
        (7, "!= 7", "<= 7", TaskRunStatus.WARNING),
        (8, "!= 7", "<= 7", TaskRunStatus.FAILED),
    ],
)
def test_the_error_threshold_wins_over_the_warn_threshold(count: int, error: str, warn: str,
                                                         expected: TaskRunStatus) -> None:
    assert status_for_count(count, parse_threshold(error), parse_threshold(warn)) == expected
