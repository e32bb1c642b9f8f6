"""GET /assets: one asset per table a worker load or a dbt node wrote, from the operations table."""

from __future__ import annotations

import pytest

from orchestra_local.integrations.dbt_artifacts import operations_from_results
from orchestra_local.store.assets import split_relation

LOADS = """
version: v1
name: loads
pipeline:
  g:
    tasks:
      orders: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
               parameters: {project_dir: py, command: "python task.py --name raw.orders"}}
      customers: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                  parameters: {project_dir: py, command: "python task.py --name raw.customers"}}
"""


def _result(unique_id: str, status: str, rows: int | None) -> dict:
    timing = [{"name": "execute", "started_at": "2026-01-01T08:00:00Z", "completed_at": "2026-01-01T08:00:02Z"}]
    return {"unique_id": unique_id, "status": status, "timing": timing, "execution_time": 2.0, "message": status,
            "adapter_response": {"rows_affected": rows} if rows is not None else {}}


MANIFEST = {"nodes": {
    "model.shop.stg_orders": {"name": "stg_orders", "relation_name": '"dev"."main"."stg_orders"',
                              "depends_on": {"nodes": []}},
    "model.shop.fct_orders": {"name": "fct_orders", "relation_name": '"dev"."main"."fct_orders"',
                              "depends_on": {"nodes": ["model.shop.stg_orders"]}, "config": {"materialized": "view"}},
    "seed.shop.countries": {"name": "countries", "relation_name": '"dev"."main"."countries"'},
    "test.shop.not_null_x": {"name": "not_null_x"},
}}


@pytest.fixture
def api_with_assets(api, write_pipeline):
    write_pipeline("loads", LOADS)
    for _ in range(2):
        run_id = api.post("/pipelines/loads/start").json()["pipelineRunId"]
        assert api.wait(run_id)["runStatus"] == "SUCCEEDED"
    store = api.app.state.service.store
    task_run = api.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"][0]
    results = {"results": [_result("model.shop.stg_orders", "success", None), _result("model.shop.fct_orders", "error", None),
                           _result("seed.shop.countries", "success", 250), _result("test.shop.not_null_x", "pass", None)]}
    records = operations_from_results(results, MANIFEST)
    store.add_operations([{**r, "pipeline_run_id": run_id, "task_run_id": task_run["id"], "integration": "DBT_CORE",
                           "integration_job": "DBT_CORE_EXECUTE"} for r in records])
    return api


def test_one_asset_per_written_table(api_with_assets) -> None:
    page = api_with_assets.get("/assets", params={"sort_column": "asset_name", "sort_direction": "asc"}).json()
    assert page["total"] == 5  # 2 loaded tables + 2 models + 1 seed; the dbt test wrote nothing
    by_name = {a["assetName"]: a for a in page["results"]}
    assert list(by_name) == ["countries", "customers", "fct_orders", "orders", "stg_orders"]
    orders = by_name["orders"]
    assert (orders["schemaName"], orders["tableName"], orders["databaseName"]) == ("raw", "orders", None)
    assert orders["externalId"] == "raw.orders" and orders["integration"] == "PYTHON"
    assert orders["rowCount"] == 3 and orders["status"] == "HEALTHY" and orders["assetType"] == "TABLE"
    assert orders["createdAt"] < orders["updatedAt"]  # written by two runs
    assert orders["meta"]["lastOperationType"] == "INGESTION"
    seed = by_name["countries"]
    assert (seed["databaseName"], seed["schemaName"], seed["rowCount"]) == ("dev", "main", 250)
    assert seed["externalId"] == '"dev"."main"."countries"' and seed["integration"] == "DBT_CORE"
    assert by_name["fct_orders"]["status"] == "UNHEALTHY" and by_name["fct_orders"]["lastSuccessfulRun"] is None
    assert by_name["stg_orders"]["assetType"] == "UNKNOWN"  # its manifest node says no materialisation
    assert by_name["fct_orders"]["assetType"] == "VIEW"


@pytest.mark.parametrize(("query", "names"), [
    ({"status": "UNHEALTHY"}, ["fct_orders"]),
    ({"integration": "PYTHON"}, ["customers", "orders"]),
    ({"schema_name": "raw"}, ["customers", "orders"]),
    ({"database_name": "dev", "asset_type": "TABLE"}, ["countries"]),
    ({"workspace_id": "w"}, []),
    ({"page_size": "2", "page": "3"}, ["stg_orders"]),
], ids=["status", "integration", "schema", "database-and-type", "workspace", "last-page"])
def test_filters_and_pages(api_with_assets, query: dict, names: list[str]) -> None:
    page = api_with_assets.get("/assets", params={"sort_column": "asset_name", "sort_direction": "asc", **query}).json()
    assert [a["assetName"] for a in page["results"]] == names


def test_one_asset_by_id_or_external_id(api_with_assets) -> None:
    listed = api_with_assets.get("/assets").json()["results"]
    orders = next(a for a in listed if a["externalId"] == "raw.orders")
    assert api_with_assets.get(f"/assets/{orders['assetId']}").json() == orders
    assert api_with_assets.get("/assets/raw.orders").json() == orders
    assert api_with_assets.get("/assets", params={"asset_ids": orders["assetId"]}).json()["results"] == [orders]
    missing = api_with_assets.get("/assets/raw.nothing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Asset not found"}


@pytest.mark.parametrize(("relation", "parts"), [
    ('"dev"."main"."orders"', ("dev", "main", "orders")),
    ("raw.orders", (None, "raw", "orders")),
    ("orders", (None, None, "orders")),
    ('"my ""db"""."s.x"."t"', ('my "db"', "s.x", "t")),
    ("`proj`.`ds`.`t`", ("proj", "ds", "t")),
], ids=["quoted", "schema-table", "table", "escaped-quotes", "backticks"])
def test_split_relation(relation: str, parts: tuple) -> None:
    assert split_relation(relation) == parts
