"""Loads through each reader of the sql source (``--reader``): merge, incremental, and a worker
SIGKILLed after applying everything but before its COMMIT, from SQLite and PostgreSQL into DuckDB
(the scanner reads inside the load transaction; the others stage Parquet) and into PostgreSQL
(the rows stream into the load transaction).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
import sqlalchemy as sa
from ingest.destinations.base import PAUSE_BEFORE_COMMIT_ENV, PAUSE_MESSAGE

if TYPE_CHECKING:
    from conftest import SourceDatabase

ORDERS = 15_000
READERS = ["sqlalchemy", "adbc", "duckdb-scanner"]
PYTHON_DIR = Path(__file__).resolve().parents[3] / "python"


@dataclass
class Destination:
    """A fresh DuckDB file or PostgreSQL schema the worker loads into."""

    args: list[str]
    env: dict[str, str]
    rows: Callable[[str], list[tuple[Any, ...]]]  # a query with {schema} -> its rows


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def destination(request: pytest.FixtureRequest, source_db: SourceDatabase) -> Iterator[Destination]:
    if request.param == "duckdb":
        def duckdb_rows(query: str) -> list[tuple[Any, ...]]:
            with duckdb.connect(str(source_db.warehouse), read_only=True) as connection:
                return connection.execute(query.replace("{schema}", "raw")).fetchall()

        yield Destination([], {}, duckdb_rows)
        return
    url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    schema = f"wh_{uuid.uuid4().hex[:10]}"

    def postgres_rows(query: str) -> list[tuple[Any, ...]]:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(query.replace("{schema}", schema)))]

    try:
        yield Destination(["--destination", "postgres", "--destination-schema", schema, "--destination-url-env", "WH_URL"],
                          {"WH_URL": url}, postgres_rows)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def ingest(db: SourceDatabase, destination: Destination, reader: str, *args: str) -> dict[str, Any]:
    run = db.ingest("--reader", reader, *destination.args, *args, **destination.env)
    assert run.returncode == 0, run.stderr
    assert f"with the {reader} reader" in run.stderr
    return dict(run.summary)


@pytest.mark.parametrize("reader", READERS)
def test_merge_and_incremental_append_through_each_reader(
    source_db: SourceDatabase, destination: Destination, reader: str
) -> None:
    first = ingest(source_db, destination, reader, "--table", "orders")
    assert (first["rows_read"], first["rows_written"]) == (ORDERS, ORDERS)
    orders = source_db.table("orders")
    source_db.execute(f"UPDATE {orders} SET o_comment = 'changed' WHERE o_orderkey <= 40")

    second = ingest(source_db, destination, reader, "--table", "orders")

    changed = source_db.scalar(f"SELECT count(*) FROM {orders} WHERE o_orderkey <= 40")
    assert (second["rows_read"], second["rows_written"]) == (ORDERS, changed)
    assert destination.rows("SELECT count(*) FROM {schema}.orders WHERE o_comment = 'changed'") == [(changed,)]

    incremental = ("--table", "orders", "--destination-table", "orders_inc", "--write-disposition", "append",
                   "--incremental-cursor", "o_orderdate")
    loaded = ingest(source_db, destination, reader, *incremental)
    assert (loaded["rows_written"], loaded["watermark"]) == (ORDERS, "1998-08-02")
    source_db.execute(f"INSERT INTO {orders} SELECT o_orderkey + 1000000, o_custkey, o_orderstatus, o_totalprice, "
                      f"'1998-08-03', o_orderpriority, o_clerk, o_shippriority, o_comment FROM {orders} "
                      "WHERE o_orderkey <= 3")
    again = ingest(source_db, destination, reader, *incremental)
    latest = source_db.scalar(f"SELECT count(*) FROM {orders} WHERE o_orderdate >= '1998-08-02'")
    assert (again["rows_read"], again["rows_written"], again["watermark"]) == (latest, 3, "1998-08-03")
    assert destination.rows("SELECT count(*) FROM {schema}.orders_inc") == [(ORDERS + 3,)]


@pytest.mark.parametrize("reader", READERS)
def test_sigkill_before_commit_leaves_the_destination_unchanged(
    source_db: SourceDatabase, destination: Destination, reader: str
) -> None:
    ingest(source_db, destination, reader, "--table", "orders")
    before = destination.rows("SELECT o_orderkey, o_comment FROM {schema}.orders ORDER BY 1")
    source_db.execute(f"UPDATE {source_db.table('orders')} SET o_comment = 'lost'")
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", *source_db.worker_args(), "--reader", reader, *destination.args,
         "--table", "orders"],
        cwd=PYTHON_DIR, env={**os.environ, **source_db.worker_env(), **destination.env, PAUSE_BEFORE_COMMIT_ENV: "60"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        paused = any(PAUSE_MESSAGE in line for line in process.stderr)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert paused, "the worker ended without pausing before its commit"
    assert process.returncode == -signal.SIGKILL

    assert destination.rows("SELECT o_orderkey, o_comment FROM {schema}.orders ORDER BY 1") == before
    rerun = ingest(source_db, destination, reader, "--table", "orders")
    assert rerun["rows_written"] == ORDERS
    assert destination.rows("SELECT count(*) FROM {schema}.orders WHERE o_comment = 'lost'") == [(ORDERS,)]
