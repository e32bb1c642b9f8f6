"""Replace, append, merge and incremental loads, end to end: ``python -m ingest`` as a
subprocess from a TPC-H source (SQLite and PostgreSQL) into a DuckDB warehouse.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import SourceDatabase

ORDERS = 15_000
ORDER_COLUMNS = (
    "o_orderkey, o_custkey, o_orderstatus, o_totalprice, o_orderdate, o_orderpriority, "
    "o_clerk, o_shippriority, o_comment"
)


def copy_order(db: SourceDatabase, from_key: int, new_key: int, order_date: str) -> None:
    """Insert a copy of an order under a new key and order date."""
    db.execute(
        f"INSERT INTO {db.table('orders')} ({ORDER_COLUMNS}) "
        f"SELECT {new_key}, o_custkey, o_orderstatus, o_totalprice, '{order_date}', "
        f"o_orderpriority, o_clerk, o_shippriority, o_comment "
        f"FROM {db.table('orders')} WHERE o_orderkey = {from_key}"
    )


def succeeded(run: Any) -> dict[str, Any]:
    """Assert a worker run succeeded and return its JSON summary."""
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    summary: dict[str, Any] = run.summary
    return summary


def test_merge_loads_then_rerun_changes_nothing(source_db: SourceDatabase) -> None:
    first = succeeded(source_db.ingest("--table", "orders"))
    assert first["destination_table"] == "raw.orders"
    assert first["write_disposition"] == "merge"
    assert (first["rows_read"], first["rows_written"], first["watermark"]) == (ORDERS, ORDERS, None)
    assert isinstance(first["seconds"], float)
    before = source_db.rows("raw.orders")

    second = succeeded(source_db.ingest("--table", "orders"))

    assert (second["rows_read"], second["rows_written"]) == (ORDERS, 0)
    assert source_db.rows("raw.orders") == before  # values and _loaded_at untouched
    assert source_db.staging_leftovers() == []


def test_merge_applies_updated_and_new_rows(source_db: SourceDatabase) -> None:
    succeeded(source_db.ingest("--table", "orders"))
    loaded_at_before = dict(source_db.rows("raw.orders", "o_orderkey, _loaded_at"))
    source_db.execute(
        f"UPDATE {source_db.table('orders')} SET o_comment = 'changed', "
        f"o_totalprice = o_totalprice + 1 WHERE o_orderkey IN (1, 2, 3)"
    )
    copy_order(source_db, from_key=1, new_key=9_999_999, order_date="1998-08-03")
    price_1 = source_db.scalar(
        f"SELECT o_totalprice FROM {source_db.table('orders')} WHERE o_orderkey = 1"
    )

    summary = succeeded(source_db.ingest("--table", "orders"))

    assert (summary["rows_read"], summary["rows_written"]) == (ORDERS + 1, 4)
    keys = [row[0] for row in source_db.rows("raw.orders", "o_orderkey")]
    assert len(keys) == len(set(keys)) == ORDERS + 1
    changed = source_db.rows("raw.orders", "o_orderkey, o_comment, o_totalprice")[:3]
    assert [(key, comment) for key, comment, _ in changed] == [(k, "changed") for k in (1, 2, 3)]
    assert float(changed[0][2]) == float(price_1)
    loaded_at_after = dict(source_db.rows("raw.orders", "o_orderkey, _loaded_at"))
    touched = {k for k in loaded_at_after if loaded_at_after[k] != loaded_at_before.get(k)}
    assert touched == {1, 2, 3, 9_999_999}


def test_replace_makes_the_table_equal_to_the_source(source_db: SourceDatabase) -> None:
    succeeded(source_db.ingest("--table", "customer", "--write-disposition", "replace"))
    source_db.execute(f"DELETE FROM {source_db.table('customer')} WHERE c_custkey > 1000")

    summary = succeeded(source_db.ingest("--table", "customer", "--write-disposition", "replace"))

    assert (summary["rows_read"], summary["rows_written"]) == (1000, 1000)
    keys = [row[0] for row in source_db.rows("raw.customer", "c_custkey")]
    assert keys == list(range(1, 1001))


def test_append_inserts_the_rows_of_every_run(source_db: SourceDatabase) -> None:
    for _ in range(2):
        summary = succeeded(source_db.ingest("--table", "region", "--write-disposition", "append"))
        assert (summary["rows_read"], summary["rows_written"]) == (5, 5)

    keys = [row[0] for row in source_db.rows("raw.region", "r_regionkey")]
    assert keys == sorted([0, 1, 2, 3, 4] * 2)


def test_incremental_merge_reads_from_the_watermark(source_db: SourceDatabase) -> None:
    orders = source_db.table("orders")
    cutoff = "1998-06-01"
    expected = source_db.scalar(f"SELECT count(*) FROM {orders} WHERE o_orderdate >= '{cutoff}'")
    latest = str(source_db.scalar(f"SELECT max(o_orderdate) FROM {orders}"))
    at_latest = source_db.scalar(f"SELECT count(*) FROM {orders} WHERE o_orderdate = '{latest}'")
    incremental = ("--table", "orders", "--incremental-cursor", "o_orderdate")

    first = succeeded(source_db.ingest(*incremental, "--initial-value", cutoff))
    assert (first["rows_read"], first["rows_written"]) == (expected, expected)
    assert first["watermark"] == latest
    before = source_db.rows("raw.orders")

    rerun = succeeded(source_db.ingest(*incremental, "--initial-value", cutoff))
    assert (rerun["rows_read"], rerun["rows_written"]) == (at_latest, 0)
    assert rerun["watermark"] == latest
    assert source_db.rows("raw.orders") == before

    next_day = (dt.date.fromisoformat(latest) + dt.timedelta(days=1)).isoformat()
    copy_order(source_db, from_key=1, new_key=9_999_999, order_date=next_day)
    source_db.execute(f"UPDATE {orders} SET o_comment = 'late' WHERE o_orderdate = '{latest}'")
    third = succeeded(source_db.ingest(*incremental))
    assert (third["rows_read"], third["rows_written"]) == (at_latest + 1, at_latest + 1)
    assert third["watermark"] == next_day
    assert len(source_db.rows("raw.orders")) == expected + 1


def test_incremental_append_loads_each_row_once(source_db: SourceDatabase) -> None:
    orders = source_db.table("orders")
    cutoff = "1998-07-15"
    expected = source_db.scalar(f"SELECT count(*) FROM {orders} WHERE o_orderdate >= '{cutoff}'")
    incremental = (
        "--table", "orders", "--write-disposition", "append",
        "--incremental-cursor", "o_orderdate", "--initial-value", cutoff,
    )  # fmt: skip

    first = succeeded(source_db.ingest(*incremental))
    assert first["rows_written"] == expected
    rerun = succeeded(source_db.ingest(*incremental))
    assert rerun["rows_written"] == 0
    assert len(source_db.rows("raw.orders")) == expected

    # A row that arrives late with the same cursor value as the watermark is still loaded, once.
    copy_order(source_db, from_key=1, new_key=9_999_999, order_date=str(first["watermark"]))
    late = succeeded(source_db.ingest(*incremental))
    assert late["rows_written"] == 1
    again = succeeded(source_db.ingest(*incremental))
    assert again["rows_written"] == 0
    keys = [row[0] for row in source_db.rows("raw.orders", "o_orderkey")]
    assert len(keys) == len(set(keys)) == expected + 1
