"""Every list and read endpoint answers malformed parameters with 422, never 500 (api/params.py)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

RUN = str(uuid.UUID(int=0x5EED))  # fixed: test ids must be the same in every collecting process
WINDOWED = ["/pipeline_runs", "/task_runs", "/operations"]
LIST_ENDPOINTS = ["/pipeline_runs", "/task_runs", "/operations", "/assets", f"/pipeline_runs/{RUN}/task_runs"]

MALFORMED_COMMON = {
    "page-zero": {"page": "0"},
    "page-negative": {"page": "-1"},
    "page-text": {"page": "abc"},
    "page-int64-max": {"page": "9223372036854775807"},
    "page-over-max": {"page": "1000001"},
    "page-huge": {"page": "99999999999999999999999"},
    "page-size-zero": {"page_size": "0"},
    "page-size-over": {"page_size": "101"},
    "page-size-text": {"page_size": "1e3"},
}
MALFORMED_WINDOW = {
    "time-from-text": {"time_from": "yesterday"},
    "time-to-month-13": {"time_to": "2020-13-01T00:00:00Z"},
    "time-from-year-1-east-of-utc": {"time_from": "0001-01-01T00:00:00+01:00"},
    "time-to-year-9999-west-of-utc": {"time_to": "9999-12-31T23:59:59-01:00"},
    "time-from-after-time-to": {"time_from": "2024-02-01T00:00:00Z", "time_to": "2024-01-01T00:00:00Z"},
    "time-from-nul": {"time_from": "2020-01-01\x00"},
}
MALFORMED_FILTERS = {
    "/pipeline_runs": {
        "status-unknown": {"status": "SUCCEEDED,NOPE"},
        "status-lower-case": {"status": "succeeded"},
        "pipeline-ids-not-uuid": {"pipeline_ids": "abc"},
        "pipeline-run-ids-not-uuid": {"pipeline_run_ids": f"{RUN},1; drop table x"},
        "pipeline-run-ids-too-many": {"pipeline_run_ids": ",".join([RUN] * 1001)},
        "environments-too-many": {"environments": ",".join(["dev"] * 1001)},
    },
    "/task_runs": {
        "status-unknown": {"status": "DONE"},
        "integration-unknown": {"integration": "PYTHON,NOPE"},
        "pipeline-ids-not-uuid": {"pipeline_ids": "x"},
        "task-run-ids-not-uuid": {"task_run_ids": "'"},
        "status-too-many": {"status": ",".join(["FAILED"] * 1001)},
    },
    "/operations": {
        "operation-type-unknown": {"operation_type": "MATERIALIZATION"},
        "integration-unknown": {"integration": "NOPE"},
        "status-unknown": {"status": "OK"},
        "task-run-id-not-uuid": {"task_run_id": "123"},
    },
    "/assets": {
        "asset-type-unknown": {"asset_type": "TABLES"},
        "status-unknown": {"status": "GREEN"},
        "integration-unknown": {"integration": "postgres"},
        "asset-ids-not-uuid": {"asset_ids": "raw.orders"},
        "sort-column-unknown": {"sort_column": "rowCount"},
        "sort-direction-unknown": {"sort_direction": "up"},
    },
}
ACCEPTED = {
    "naive-date-read-as-utc": {"time_from": "2020-01-01"},
    "naive-datetime-read-as-utc": {"time_from": "2020-01-01T00:00:00"},
    "year-1-from": {"time_from": "0001-01-01T00:00:00Z"},
    "year-1-to": {"time_to": "0001-01-01T00:00:00Z"},
    "year-9999-to": {"time_to": "9999-12-31T23:59:59Z"},
    "page-max": {"page": "1000000"},
    "page-size-max": {"page_size": "50"},
}


def _cases(endpoint: str) -> list[tuple[str, dict[str, str]]]:
    cases = dict(MALFORMED_COMMON)
    if endpoint in WINDOWED:
        cases.update(MALFORMED_WINDOW)
    cases.update(MALFORMED_FILTERS.get(endpoint, {}))
    return sorted(cases.items())


TABLE = [pytest.param(endpoint, query, id=f"{endpoint.split('/')[-1]}-{name}")
         for endpoint in LIST_ENDPOINTS for name, query in _cases(endpoint)]


@pytest.fixture
def api_with_run(api):
    """The API with one pipeline run record, so the per-run endpoint has a run to page through."""
    store = api.app.state.service.store
    run_id = store.create_pipeline_run(pipeline_id=str(uuid.uuid4()), pipeline_name="one", pipeline_alias="one",
                                       yaml_path="orchestra/one.yml", run_status="SUCCEEDED")
    return api, run_id


@pytest.mark.parametrize(("endpoint", "query"), TABLE)
def test_malformed_parameters_answer_422(api_with_run, endpoint: str, query: dict[str, str]) -> None:
    api, run_id = api_with_run
    response = api.get(endpoint.replace(RUN, run_id), params=query)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail and all({"loc", "msg", "type"} <= set(item) for item in detail)
    assert detail[0]["loc"][0] == "query" and detail[0]["loc"][1] in query


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
@pytest.mark.parametrize("query", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_odd_but_valid_parameters_answer_200(api_with_run, endpoint: str, query: dict[str, str]) -> None:
    api, run_id = api_with_run
    response = api.get(endpoint.replace(RUN, run_id), params=query)
    assert response.status_code == 200, response.text
    assert {"page", "pageSize", "total", "results"} <= set(response.json())


def test_naive_times_are_read_as_utc(api_with_run) -> None:
    api, run_id = api_with_run
    started = api.get(f"/pipeline_runs/{run_id}/status").json()["createdAt"]
    naive = started[:19]  # 2026-01-01T10:00:00 without its offset: the same instant in UTC
    assert api.get("/pipeline_runs", params={"time_from": naive}).json()["total"] == 1
    later = f"{naive[:17]}{int(naive[17:19]) + 1:02d}" if naive[17:19] != "59" else naive[:16] + ":59.999999"
    assert api.get("/pipeline_runs", params={"time_from": later}).json()["total"] == 0


@pytest.mark.parametrize("path", [
    "/pipeline_runs/not-a-uuid/status",
    "/pipeline_runs/not-a-uuid/task_runs",
    f"/pipeline_runs/{RUN}/task_runs/not-a-uuid/logs",
    f"/pipeline_runs/{RUN}/task_runs/x/logs/download?filename=a",
    f"/pipeline_runs/{RUN}/task_runs/x/artifacts",
    f"/pipeline_runs/{RUN}/task_runs/x/artifacts/download?filename=a",
    "/environments/not-a-uuid",
    "/integrations/NOPE",
    "/state/NOPE",
    "/integrations/connections?authStatus=OK",
], ids=lambda path: path.split("?")[0].strip("/").replace("/", "-"))
def test_malformed_path_ids_answer_422(api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


def test_uuids_are_compared_in_canonical_form(api_with_run) -> None:
    api, run_id = api_with_run
    assert api.get(f"/pipeline_runs/{run_id.upper()}/status").json()["id"] == run_id
    listed = api.get("/pipeline_runs", params={"pipeline_run_ids": run_id.upper()}).json()
    assert [r["id"] for r in listed["results"]] == [run_id]


HOSTILE = ["", "\x00", "9" * 30, "-1", "0", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "'", "%",
           "a" * 5000, "NaN", "null", "é", "../../etc/passwd", "1e309", ",", " , "]


def test_no_parameter_value_makes_any_get_endpoint_answer_500(api_with_run) -> None:
    """Every GET route of the app (its own OpenAPI), every declared parameter, every hostile value."""
    api, run_id = api_with_run
    failures = []
    for path, operations in api.app.openapi()["paths"].items():
        if "get" not in operations:
            continue
        names = [(p["name"], p["in"]) for p in operations["get"].get("parameters", [])]
        for value in HOSTILE:
            concrete = path
            for name, where in names:
                if where == "path":
                    concrete = concrete.replace("{" + name + "}", quote(value, safe="") or "x")
            query = {name: value for name, where in names if where == "query"}
            response = api.client.get(concrete, params=query, headers=api.headers)
            if response.status_code >= 500:
                failures.append(f"GET {path} with {value[:20]!r}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
