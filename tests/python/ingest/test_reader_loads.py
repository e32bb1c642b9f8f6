"""Loads through each reader of the sql source (``--reader``): merge and incremental append, from
SQLite and PostgreSQL into DuckDB (the scanner reads inside the load transaction; the others stage
Parquet) and from PostgreSQL into PostgreSQL (the rows stream into the load transaction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.python.ingest.reader_loads import LOAD_PAIRS, ORDERS, READERS, ingest

if TYPE_CHECKING:
    from conftest import Destination, SourceDatabase


@LOAD_PAIRS
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
