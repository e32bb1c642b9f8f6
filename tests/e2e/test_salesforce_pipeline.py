"""orchestra/salesforce_to_warehouse.yml through the real CLI against the loopback Salesforce test
server: three objects, exact row counts, and a second run (through the other API) writes nothing;
then dbt builds and tests the Salesforce models on them."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from orchestra_local.store import RunStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = str(REPO_ROOT / "orchestra" / "salesforce_to_warehouse.yml")
ROWS = {"Account": 1000, "Contact": 2500, "Opportunity": 1500}


def load_salesforce_server() -> ModuleType:
    """Import ``tests/salesforce_server`` (a plain package, not on sys.path) from its location."""
    if "salesforce_server" not in sys.modules:
        package = REPO_ROOT / "tests" / "salesforce_server"
        spec = importlib.util.spec_from_file_location(
            "salesforce_server", package / "__init__.py", submodule_search_locations=[str(package)]
        )
        assert spec is not None and spec.loader is not None
        sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules["salesforce_server"]


@pytest.fixture
def salesforce(tmp_path: Path) -> Iterator[Any]:
    """The test org on loopback (its TLS certificate made for this test)."""
    server_package = load_salesforce_server()
    server = server_package.start_server(server_package.loopback_certificate(tmp_path / "tls"))
    try:
        yield server
    finally:
        server.stop()


def warehouse_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each raw Salesforce table, sorted."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return {name: connection.execute(f"SELECT * FROM raw.{name} ORDER BY ALL").fetchall() for name in ROWS}


MODELS = (
    "stg_salesforce__accounts", "stg_salesforce__contacts", "stg_salesforce__opportunities",
    "fct_opportunities", "dim_accounts",
)  # fmt: skip


def live_records(path: Path) -> dict[str, int]:
    """Records not deleted in raw.Opportunity and raw.Account, and live contacts with an account."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            "opportunities": connection.sql("SELECT count(*) FROM raw.Opportunity WHERE NOT IsDeleted").fetchone()[0],
            "accounts": connection.sql("SELECT count(*) FROM raw.Account WHERE NOT IsDeleted").fetchone()[0],
            "contacts": connection.sql(
                "SELECT count(*) FROM raw.Contact c JOIN raw.Account a ON c.AccountId = a.Id "
                "WHERE NOT c.IsDeleted AND NOT a.IsDeleted"
            ).fetchone()[0],
        }


def dbt_marts(path: Path) -> dict[str, int]:
    """Row counts of the dbt marts built on the Salesforce tables (contacts summed over accounts)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            "opportunities": connection.sql("SELECT count(*) FROM analytics.fct_opportunities").fetchone()[0],
            "accounts": connection.sql("SELECT count(*) FROM analytics.dim_accounts").fetchone()[0],
            "contacts": connection.sql("SELECT sum(contact_count) FROM analytics.dim_accounts").fetchone()[0],
        }


def test_salesforce_pipeline_twice(cli: Callable[..., Any], salesforce: Any) -> None:
    warehouse = Path(os.environ["WAREHOUSE_DUCKDB_PATH"])
    contents = []
    for api in ("rest", "bulk"):
        result = cli("run", PIPELINE, "--input", f"api={api}", env=salesforce.env(), timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        contents.append(warehouse_tables(warehouse))

    assert {name: len(rows) for name, rows in contents[0].items()} == ROWS  # deleted records included
    assert contents[1] == contents[0]  # _loaded_at included: the second run changed nothing
    store = RunStore(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}")
    runs = store.list_pipeline_runs()
    assert [run["run_status"] for run in runs] == ["SUCCEEDED", "SUCCEEDED"]
    for run, expected in zip(runs, ([0, 0, 0], [1000, 2500, 1500]), strict=True):  # newest first
        ingestion = [
            op for op in store.list_operations(pipeline_run_id=run["id"]) if op["operation_type"] == "INGESTION"
        ]
        assert sorted(op["operation_name"] for op in ingestion) == [f"raw.{name}" for name in sorted(ROWS)]
        assert [op["rows_affected"] for op in sorted(ingestion, key=lambda op: op["operation_name"])] == expected
        (dbt_build,) = [t for t in store.list_task_runs(run["id"]) if t["task_id"] == "dbt_build"]
        assert dbt_build["status"] == "SUCCEEDED", dbt_build["message"]
        models = {
            op["operation_name"].rsplit(".", 1)[-1]: op["operation_status"]
            for op in store.list_operations(task_run_id=dbt_build["id"]) if op["operation_type"] == "MATERIALISATION"
        }  # fmt: skip
        assert models == dict.fromkeys(MODELS, "SUCCEEDED")
    assert dbt_marts(warehouse) == live_records(warehouse)
    state = Path(os.environ["ORCHESTRA_LOCAL_HOME"])
    for path in (p for p in state.rglob("*") if p.is_file()):
        text = path.read_bytes()
        for secret in salesforce.secrets():
            assert secret.encode() not in text, f"{secret[:3]}... found in {path}"
