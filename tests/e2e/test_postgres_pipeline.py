"""orchestra/postgres_to_warehouse.yml through the real CLI: a PostgreSQL source into DuckDB and
into PostgreSQL (the ``destination`` input), each run twice: exact row counts, and the second
run writes nothing."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from orchestra_local.store import RunStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = str(REPO_ROOT / "orchestra" / "postgres_to_warehouse.yml")
ROWS = {"region": 5, "nation": 25, "customer": 1500, "orders": 15000}


@pytest.fixture
def schemas(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A source schema holding TPC-H SF 0.01 and an empty warehouse schema; both dropped after."""
    from tpch_source.build import build_source

    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL is not reachable: {str(exc).splitlines()[0]}")
    suffix = uuid.uuid4().hex[:8]
    source, warehouse = f"e2e_src_{suffix}", f"e2e_wh_{suffix}"
    try:
        build_source(make_url(postgres_url), 0.01, source, 100_000)
        yield source, warehouse
    finally:
        with engine.begin() as connection:
            for schema in (source, warehouse):
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def run_twice(cli: Callable[..., Any], postgres_url: str, *inputs: str) -> list[list[int]]:
    """Run the pipeline twice; per run, the rows written by each table's task, in table order."""
    tables = json.dumps(sorted(ROWS))
    arguments = ["--input", f"tables={tables}", "--input", "source_url_env=E2E_SOURCE_URL"]
    for value in inputs:
        arguments += ["--input", value]
    env = {"E2E_SOURCE_URL": postgres_url, "E2E_WAREHOUSE_URL": postgres_url}
    written = []
    for _ in range(2):
        result = cli("run", PIPELINE, *arguments, "--no-progress", env=env, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        written.append(_rows_written_by_the_last_run())
    return written


def _rows_written_by_the_last_run() -> list[int]:
    store = RunStore(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}")
    run = store.list_pipeline_runs()[0]
    assert run["run_status"] == "SUCCEEDED"
    operations = [
        op for op in store.list_operations(pipeline_run_id=run["id"])
        if op["operation_type"] == "INGESTION"
    ]  # fmt: skip
    return [op["rows_affected"] for op in sorted(operations, key=lambda op: op["operation_name"])]


def test_postgres_into_duckdb(cli: Callable[..., Any], postgres_url: str,
                              schemas: tuple[str, str]) -> None:  # fmt: skip
    source, _ = schemas

    written = run_twice(cli, postgres_url, f"source_schema={source}")

    expected = [ROWS[table] for table in sorted(ROWS)]
    assert written == [expected, [0] * len(ROWS)]
    with duckdb.connect(os.environ["WAREHOUSE_DUCKDB_PATH"], read_only=True) as connection:
        counts = {t: connection.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in ROWS}
    assert counts == ROWS


def test_postgres_into_postgres(cli: Callable[..., Any], postgres_url: str,
                                schemas: tuple[str, str]) -> None:  # fmt: skip
    source, warehouse = schemas

    written = run_twice(
        cli, postgres_url, f"source_schema={source}", "destination=postgres",
        "destination_url_env=E2E_WAREHOUSE_URL", f"destination_schema={warehouse}",
    )  # fmt: skip

    assert written == [[ROWS[table] for table in sorted(ROWS)], [0] * len(ROWS)]
    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            counts = {
                table: connection.execute(
                    sa.text(f'SELECT count(*) FROM "{warehouse}"."{table}"')
                ).scalar()
                for table in ROWS
            }
    finally:
        engine.dispose()
    assert counts == ROWS
    assert not Path(os.environ["WAREHOUSE_DUCKDB_PATH"]).exists()  # the DuckDB tasks were skipped


def test_postgres_cdc_into_duckdb_snapshot_then_changes(cli: Callable[..., Any], postgres_url: str,
                                                        schemas: tuple[str, str]) -> None:
    """``source=postgres-cdc``: the first run snapshots each table, the second applies what changed."""
    source, _ = schemas
    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    arguments = ["--input", f"tables={json.dumps(sorted(ROWS))}", "--input", "source_url_env=E2E_SOURCE_URL",
                 "--input", f"source_schema={source}", "--input", "source=postgres-cdc", "--no-progress"]
    try:
        snapshot = cli("run", PIPELINE, *arguments, env={"E2E_SOURCE_URL": postgres_url}, timeout=300)
        snapshot_written = _rows_written_by_the_last_run()
        with engine.begin() as connection:
            connection.execute(sa.text(f'DELETE FROM "{source}".orders WHERE o_orderkey IN '
                                       f'(SELECT o_orderkey FROM "{source}".orders ORDER BY o_orderkey LIMIT 10)'))
            connection.execute(sa.text(f'UPDATE "{source}".customer SET c_acctbal = c_acctbal + 1 WHERE c_custkey <= 5'))
        changes = cli("run", PIPELINE, *arguments, env={"E2E_SOURCE_URL": postgres_url}, timeout=300)
        changes_written = _rows_written_by_the_last_run()
        with duckdb.connect(os.environ["WAREHOUSE_DUCKDB_PATH"], read_only=True) as connection:
            live = {t: connection.execute(f"SELECT count(*) FROM raw.{t} WHERE _deleted_at IS NULL").fetchone()[0]
                    for t in ROWS}
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                       "WHERE slot_name LIKE :prefix"), {"prefix": f"ingest_{source}_%"})
            for table in ROWS:
                connection.execute(sa.text(f'DROP PUBLICATION IF EXISTS "ingest_{source}_{table}"'))
        engine.dispose()

    assert snapshot.returncode == 0 and changes.returncode == 0, snapshot.stdout + changes.stdout
    assert snapshot_written == [ROWS[table] for table in sorted(ROWS)]
    assert changes_written == [5, 0, 0, 0]  # customer, nation, orders (deletes are not writes), region
    assert live == {**ROWS, "orders": ROWS["orders"] - 10}
