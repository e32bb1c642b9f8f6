"""The dbt project in dbt/, built for real on TPC-H scale factor 0.01.

A raw warehouse is generated straight from DuckDB's TPC-H generator, shaped as the ingestion worker
leaves it (schema `raw`, original TPC-H column names, `_loaded_at`), then `dbt build` runs in process
against it. The marts are checked against the official TPC-H answers that ship with the generator,
and a deliberately broken raw row proves the data tests fail when the data is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import duckdb_extension_tpch
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

pytestmark = pytest.mark.slow

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
SCALE_FACTOR = 0.01
TPCH_TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
MART_SCHEMA = "analytics"
EXPECTED_MODELS = {
    "stg_tpch__regions",
    "stg_tpch__nations",
    "stg_tpch__suppliers",
    "stg_tpch__customers",
    "stg_tpch__parts",
    "stg_tpch__part_suppliers",
    "stg_tpch__orders",
    "stg_tpch__line_items",
    "int_line_items_priced",
    "fct_orders",
    "dim_customers",
    "fct_local_supplier_revenue",
    "fct_pricing_summary",
}
# TPC-H answer column -> fct_pricing_summary column.
Q1_COLUMNS = {
    "l_returnflag": "return_flag",
    "l_linestatus": "line_status",
    "sum_qty": "sum_quantity",
    "sum_base_price": "sum_base_price",
    "sum_disc_price": "sum_discounted_price",
    "sum_charge": "sum_charge",
    "avg_qty": "avg_quantity",
    "avg_price": "avg_extended_price",
    "avg_disc": "avg_discount_rate",
    "count_order": "line_item_count",
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DbtBuild:
    """One `dbt build` run: the warehouse it wrote to and what dbt returned."""

    warehouse: Path
    result: dbtRunnerResult

    def statuses(self) -> dict[str, str]:
        """Maps each executed node's unique_id to its status ("success", "pass", "fail", "skipped", ...)."""
        return {r.node.unique_id: str(r.status) for r in self.result.result.results}


def tpch_extension_path() -> Path:
    """Path of the TPC-H extension installed by the duckdb-extension-tpch wheel (no download)."""
    return (
        Path(duckdb_extension_tpch.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "tpch.duckdb_extension"
    )


@pytest.fixture(scope="module")
def tpch_generator() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB holding the eight TPC-H tables at SF 0.01, and tpch_answers()."""
    connection = duckdb.connect()
    connection.execute(f"LOAD '{tpch_extension_path()}'")
    connection.execute(f"CALL dbgen(sf={SCALE_FACTOR})")
    yield connection
    connection.close()


def load_raw_warehouse(generator: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """Copies the generated tables into `raw.<table>` of a new DuckDB file, adding `_loaded_at`.

    The file is detached afterwards: dbt must be the only one holding it open.
    """
    generator.execute(f"ATTACH '{warehouse}' AS warehouse")
    try:
        generator.execute("CREATE SCHEMA warehouse.raw")
        for table in TPCH_TABLES:
            generator.execute(
                f"CREATE TABLE warehouse.raw.{table} AS "
                f"SELECT *, now()::TIMESTAMPTZ AS _loaded_at FROM memory.main.{table}"
            )
    finally:
        generator.execute("DETACH warehouse")


def run_dbt_build(warehouse: Path, work_dir: Path) -> DbtBuild:
    """Runs `dbt build --select source:tpch+` in process on the repository's dbt/ project against `warehouse`.

    Target and log output go to `work_dir`; DBT_* variables from the developer's shell are cleared
    so they cannot redirect the run (and so the default target is shown to need no credentials).
    """
    args = [
        "build",
        "--select", "source:tpch+",  # as orchestra/tpch_elt.yml: the Salesforce models need raw Salesforce tables
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", "duckdb",
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("DBT_")]:
            env.delenv(name)
        env.setenv("WAREHOUSE_DUCKDB_PATH", str(warehouse))
        result = dbtRunner().invoke(args)
    return DbtBuild(warehouse=warehouse, result=result)


def query(warehouse: Path, sql: str) -> list[tuple]:
    """Runs `sql` on the warehouse file and returns all rows."""
    with duckdb.connect(str(warehouse)) as connection:
        return connection.execute(sql).fetchall()


def tpch_answer(generator: duckdb.DuckDBPyConnection, query_nr: int) -> list[dict[str, str]]:
    """The official answer of TPC-H query `query_nr` at SF 0.01, one dict per row (text values)."""
    (answer,) = generator.execute(
        "SELECT answer FROM tpch_answers() WHERE query_nr = ? AND scale_factor = ?",
        [query_nr, SCALE_FACTOR],
    ).fetchone()
    header, *rows = answer.strip().splitlines()
    names = header.split("|")
    return [dict(zip(names, row.split("|"), strict=True)) for row in rows]


@pytest.fixture(scope="module")
def built(tpch_generator: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory) -> DbtBuild:
    work_dir = tmp_path_factory.mktemp("dbt_build")
    warehouse = work_dir / "warehouse.duckdb"
    load_raw_warehouse(tpch_generator, warehouse)
    return run_dbt_build(warehouse, work_dir)


def test_build_passes_every_model_and_test(built: DbtBuild) -> None:
    assert built.result.exception is None
    statuses = built.statuses()
    not_passing = {node: status for node, status in statuses.items() if status not in ("success", "pass")}
    assert not_passing == {}
    assert built.result.success

    models = {node.split(".")[-1] for node in statuses if node.startswith("model.")}
    assert models == EXPECTED_MODELS
    unit_tests = [node for node in statuses if node.startswith("unit_test.")]
    data_tests = [node for node in statuses if node.startswith("test.")]
    assert len(unit_tests) >= 4
    assert len(data_tests) >= 100
    assert "test.tpch_warehouse.assert_net_revenue_is_conserved_across_marts" in statuses


def test_pricing_summary_matches_tpch_q1_answer(built: DbtBuild, tpch_generator: duckdb.DuckDBPyConnection) -> None:
    columns = ", ".join(Q1_COLUMNS.values())
    rows = query(
        built.warehouse,
        f"SELECT {columns}, ship_date_cutoff::VARCHAR FROM {MART_SCHEMA}.fct_pricing_summary "
        "ORDER BY return_flag, line_status",
    )
    expected = tpch_answer(tpch_generator, 1)

    assert {row[-1] for row in rows} == {"1998-09-02"}
    assert [row[:2] for row in rows] == [(e["l_returnflag"], e["l_linestatus"]) for e in expected]
    for row, answer in zip(rows, expected, strict=True):
        for value, answer_column in zip(row[2:-1], list(Q1_COLUMNS)[2:], strict=True):
            difference = abs(Decimal(str(value)) - Decimal(answer[answer_column]))
            assert difference <= CENT, f"{row[:2]} {answer_column}: {value} != {answer[answer_column]}"


def test_local_supplier_revenue_matches_tpch_q5_answer(
    built: DbtBuild, tpch_generator: duckdb.DuckDBPyConnection
) -> None:
    rows = query(
        built.warehouse,
        f"SELECT nation_name, net_revenue FROM {MART_SCHEMA}.fct_local_supplier_revenue "
        "WHERE region_name = 'ASIA' AND order_year = 1994 ORDER BY net_revenue DESC",
    )
    expected = tpch_answer(tpch_generator, 5)

    assert [name for name, _ in rows] == [e["n_name"] for e in expected]
    for (name, revenue), answer in zip(rows, expected, strict=True):
        assert abs(revenue - Decimal(answer["revenue"])) <= CENT, f"{name}: {revenue} != {answer['revenue']}"


def test_invalid_order_status_fails_accepted_values_and_skips_downstream(
    tpch_generator: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    load_raw_warehouse(tpch_generator, warehouse)
    query(
        warehouse,
        "UPDATE raw.orders SET o_orderstatus = 'X' WHERE o_orderkey = (SELECT min(o_orderkey) FROM raw.orders)",
    )

    build = run_dbt_build(warehouse, tmp_path)

    assert not build.result.success
    failed = [r for r in build.result.result.results if str(r.status) in ("fail", "error")]
    assert [(r.node.test_metadata.name, r.node.attached_node, r.node.column_name, r.failures) for r in failed] == [
        ("accepted_values", "model.tpch_warehouse.stg_tpch__orders", "order_status", 1)
    ]
    statuses = build.statuses()
    assert statuses["model.tpch_warehouse.fct_orders"] == "skipped"
    assert statuses["model.tpch_warehouse.dim_customers"] == "skipped"
