"""Window loads (``--end-value``, for backfills), end to end: ``python -m ingest`` as a subprocess
from a TPC-H source (SQLite and PostgreSQL) into a DuckDB warehouse. A window reads
``--initial-value <= cursor <= --end-value`` and loads it as a plain merge or append, without
reading or storing a watermark.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import SourceDatabase

CURSOR = ("--table", "orders", "--incremental-cursor", "o_orderdate")
JANUARY = ("1995-01-01", "1995-01-31")
FEBRUARY = ("1995-02-01", "1995-02-28")


def window(start: str, end: str) -> tuple[str, ...]:
    """Worker arguments of a window load of orders on ``o_orderdate``."""
    return (*CURSOR, "--initial-value", start, "--end-value", end)


def succeeded(run: Any) -> dict[str, Any]:
    """Assert a worker run succeeded and return its JSON summary."""
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    summary: dict[str, Any] = run.summary
    return summary


def source_keys(db: SourceDatabase, start: str, end: str) -> list[int]:
    """Order keys of the source with ``start <= o_orderdate <= end``, sorted."""
    return db.column(
        f"SELECT o_orderkey FROM {db.table('orders')} "
        f"WHERE o_orderdate >= '{start}' AND o_orderdate <= '{end}' ORDER BY o_orderkey"
    )


def orders_on(db: SourceDatabase, day: str) -> int:
    count: int = db.scalar(f"SELECT count(*) FROM {db.table('orders')} WHERE o_orderdate = '{day}'")
    return count


def loaded_keys(db: SourceDatabase) -> list[int]:
    return [row[0] for row in db.rows("raw.orders", "o_orderkey")]


def test_window_loads_exactly_the_rows_between_its_inclusive_bounds(
    source_db: SourceDatabase,
) -> None:
    start, end = JANUARY
    expected = source_keys(source_db, start, end)
    # Both bounds are inclusive, and there are orders on either side of the window.
    assert min(orders_on(source_db, d) for d in (start, end, "1994-12-31", "1995-02-01")) > 0

    summary = succeeded(source_db.ingest(*window(start, end)))

    assert (summary["rows_read"], summary["rows_written"]) == (len(expected), len(expected))
    assert summary["watermark"] is None
    assert loaded_keys(source_db) == expected
    days = source_db.rows("raw.orders", "min(o_orderdate), max(o_orderdate)")
    assert days == [(dt.date(1995, 1, 1), dt.date(1995, 1, 31))]
    assert "raw._ingest_state" not in source_db.table_names()  # no watermark stored
    assert source_db.staging_leftovers() == []


def test_adjacent_windows_merge_into_their_union_and_a_rerun_writes_nothing(
    source_db: SourceDatabase,
) -> None:
    january = succeeded(source_db.ingest(*window(*JANUARY)))
    february = succeeded(source_db.ingest(*window(*FEBRUARY)))

    union = source_keys(source_db, JANUARY[0], FEBRUARY[1])
    assert loaded_keys(source_db) == union
    assert january["rows_written"] + february["rows_written"] == len(union)
    before = source_db.rows("raw.orders")

    rerun = succeeded(source_db.ingest(*window(*JANUARY)))
    overlapping = succeeded(source_db.ingest(*window("1995-01-15", "1995-02-15")))

    assert (rerun["rows_read"], rerun["rows_written"]) == (january["rows_read"], 0)
    assert overlapping["rows_written"] == 0
    assert source_db.rows("raw.orders") == before  # values and _loaded_at untouched


def test_window_merge_updates_changed_rows_of_the_window_only(source_db: SourceDatabase) -> None:
    succeeded(source_db.ingest(*window(*JANUARY)))
    inside, outside = source_keys(source_db, *JANUARY)[0], source_keys(source_db, *FEBRUARY)[0]
    source_db.execute(
        f"UPDATE {source_db.table('orders')} SET o_comment = 'changed' "
        f"WHERE o_orderkey IN ({inside}, {outside})"
    )

    summary = succeeded(source_db.ingest(*window(*JANUARY)))

    assert summary["rows_written"] == 1
    comments = dict(source_db.rows("raw.orders", "o_orderkey, o_comment"))
    assert comments[inside] == "changed"
    assert outside not in comments


def test_window_append_appends_the_window_on_every_run(source_db: SourceDatabase) -> None:
    expected = source_keys(source_db, *JANUARY)
    for _ in range(2):
        summary = succeeded(
            source_db.ingest(*window(*JANUARY), "--write-disposition", "append")
        )
        assert summary["rows_written"] == len(expected)

    assert loaded_keys(source_db) == sorted(expected * 2)


def test_window_neither_reads_nor_moves_the_watermark(source_db: SourceDatabase) -> None:
    orders = source_db.table("orders")
    cutoff = "1998-06-01"
    first = succeeded(source_db.ingest(*CURSOR, "--initial-value", cutoff))
    latest = str(first["watermark"])
    state = source_db.rows("raw._ingest_state")
    assert [row[:3] for row in state] == [("orders", "o_orderdate", latest)]

    # A backfill of an old window, and one of a window past the watermark.
    next_day = (dt.date.fromisoformat(latest) + dt.timedelta(days=1)).isoformat()
    source_db.execute(
        f"INSERT INTO {orders} (o_orderkey, o_custkey, o_orderstatus, o_totalprice, "
        f"o_orderdate, o_orderpriority, o_clerk, o_shippriority, o_comment) "
        f"SELECT 9999999, o_custkey, o_orderstatus, o_totalprice, '{next_day}', "
        f"o_orderpriority, o_clerk, o_shippriority, o_comment FROM {orders} WHERE o_orderkey = 1"
    )
    old = succeeded(source_db.ingest(*window(*JANUARY)))
    ahead = succeeded(source_db.ingest(*window(next_day, next_day)))

    assert (old["watermark"], ahead["watermark"]) == (None, None)
    assert (ahead["rows_read"], ahead["rows_written"]) == (1, 1)
    assert source_db.rows("raw._ingest_state") == state  # updated_at included
    expected = sorted(source_keys(source_db, *JANUARY) + source_keys(source_db, cutoff, next_day))
    assert loaded_keys(source_db) == expected

    # The next incremental run starts from the old watermark, not from a window's end.
    resumed = succeeded(source_db.ingest(*CURSOR))
    assert resumed["rows_read"] == orders_on(source_db, latest) + 1
    assert (resumed["rows_written"], resumed["watermark"]) == (0, next_day)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("--table", "orders", "--end-value", "1995-01-31"),
                     "--end-value needs --incremental-cursor", id="no-cursor"),
        pytest.param((*CURSOR, "--end-value", "1995-01-31"),
                     "--end-value needs --initial-value", id="no-initial-value"),
        pytest.param((*window(*JANUARY), "--write-disposition", "replace"),
                     "--end-value cannot be combined with --write-disposition replace",
                     id="replace"),
        pytest.param(window("1995-02-01", "1995-01-31"),
                     "--end-value 1995-01-31 is before --initial-value 1995-02-01",
                     id="end-before-start"),
        pytest.param(window("1995-01-01", "Jan 31st"),
                     "--end-value for cursor column 'o_orderdate': 'Jan 31st' is not a valid",
                     id="bad-end-value"),
        pytest.param(window("New Year", "1995-01-31"),
                     "--initial-value for cursor column 'o_orderdate': 'New Year' is not a valid",
                     id="bad-initial-value"),
    ],
)  # fmt: skip
def test_invalid_windows_are_argument_errors(
    sqlite_db: SourceDatabase, args: tuple[str, ...], message: str
) -> None:
    run = sqlite_db.ingest(*args)

    assert run.returncode == 2, run.stderr
    assert len(run.error_lines) == 1, run.stderr
    assert message in run.error_lines[0]
    assert "Traceback" not in run.stderr
    assert sqlite_db.table_names() == []  # nothing written
