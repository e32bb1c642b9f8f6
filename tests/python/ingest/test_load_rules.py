"""Rules of a load, end to end on SQLite: schema evolution, keys, duplicates, stored state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import SourceDatabase


def ok(run: Any) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr
    summary: dict[str, Any] = run.summary
    return summary


def failed(run: Any) -> str:
    """Assert the run failed with one error line; return it."""
    assert run.returncode == 1, run.stderr
    assert len(run.error_lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    line: str = run.error_lines[0]
    return line


def test_new_source_columns_are_added(sqlite_db: SourceDatabase) -> None:
    ok(sqlite_db.ingest("--table", "customer"))
    sqlite_db.execute(
        "ALTER TABLE customer ADD COLUMN c_tier VARCHAR(10)",
        "UPDATE customer SET c_tier = 'gold' WHERE c_custkey = 1",
    )

    summary = ok(sqlite_db.ingest("--table", "customer"))

    assert summary["rows_written"] == 1  # NULL -> NULL is no change for the other rows
    assert sqlite_db.rows("raw.customer", "c_custkey, c_tier")[:2] == [(1, "gold"), (2, None)]


def test_changed_column_type_is_refused_and_nothing_changes(sqlite_db: SourceDatabase) -> None:
    sqlite_db.execute(
        "CREATE TABLE things (id INTEGER PRIMARY KEY, v INTEGER)",
        "INSERT INTO things VALUES (1, 10), (2, 20)",
    )
    ok(sqlite_db.ingest("--table", "things"))
    before = sqlite_db.rows("raw.things")
    sqlite_db.execute(
        "DROP TABLE things",
        "CREATE TABLE things (id INTEGER PRIMARY KEY, v TEXT)",
        "INSERT INTO things VALUES (1, 'ten'), (3, 'thirty')",
    )

    error = failed(sqlite_db.ingest("--table", "things"))

    assert 'column \'v\' of "raw"."things" is BIGINT but the source now sends VARCHAR' in error
    assert sqlite_db.rows("raw.things") == before


def test_merge_without_a_key_needs_one_from_the_command_line(sqlite_db: SourceDatabase) -> None:
    sqlite_db.execute(
        "CREATE TABLE readings (sensor INTEGER, value TEXT)",
        "INSERT INTO readings VALUES (1, 'old'), (2, 'x'), (1, 'new')",
    )

    error = failed(sqlite_db.ingest("--table", "readings"))
    assert "merge needs a primary key but source table 'readings' declares none" in error

    run = sqlite_db.ingest("--table", "readings", "--primary-key", "sensor")
    summary = ok(run)
    assert (summary["rows_read"], summary["rows_written"]) == (3, 2)
    assert "1 source rows repeat a primary key (sensor)" in run.stderr
    assert sqlite_db.rows("raw.readings", "sensor, value") == [(1, "new"), (2, "x")]


def test_null_in_the_merge_key_is_refused(sqlite_db: SourceDatabase) -> None:
    sqlite_db.execute(
        "CREATE TABLE readings (sensor INTEGER, value TEXT)",
        "INSERT INTO readings VALUES (1, 'a'), (NULL, 'b')",
    )

    error = failed(sqlite_db.ingest("--table", "readings", "--primary-key", "sensor"))

    assert "1 source rows have NULL in primary key (sensor)" in error
    assert sqlite_db.table_names() == []


def test_unknown_key_and_cursor_columns_are_named(sqlite_db: SourceDatabase) -> None:
    error = failed(sqlite_db.ingest("--table", "orders", "--primary-key", "o_id"))
    assert "primary key column(s) o_id not in source table 'orders'; columns: o_orderkey" in error

    error = failed(sqlite_db.ingest("--table", "orders", "--incremental-cursor", "o_date"))
    assert "cursor column 'o_date' not in source table 'orders'" in error


def test_a_source_column_named_like_the_load_timestamp_is_refused(
    sqlite_db: SourceDatabase,
) -> None:
    sqlite_db.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, _loaded_at TEXT)")

    error = failed(sqlite_db.ingest("--table", "audit"))

    assert "has a column '_loaded_at', which the worker adds itself" in error


def test_switching_cursor_column_needs_a_replace_first(sqlite_db: SourceDatabase) -> None:
    ok(sqlite_db.ingest("--table", "orders", "--incremental-cursor", "o_orderdate"))

    error = failed(sqlite_db.ingest("--table", "orders", "--incremental-cursor", "o_orderkey"))
    assert "raw.orders was loaded incrementally on cursor 'o_orderdate', not 'o_orderkey'" in error

    ok(sqlite_db.ingest("--table", "orders", "--write-disposition", "replace"))
    summary = ok(sqlite_db.ingest("--table", "orders", "--incremental-cursor", "o_orderkey"))
    assert summary["watermark"] == 60_000
    state = sqlite_db.rows("raw._ingest_state", "destination_table, cursor_column, watermark")
    assert state == [("orders", "o_orderkey", "60000")]


def test_invalid_initial_value_is_an_argument_error(sqlite_db: SourceDatabase) -> None:
    run = sqlite_db.ingest(
        "--table", "orders", "--incremental-cursor", "o_orderdate", "--initial-value", "May 1st"
    )

    assert run.returncode == 2, run.stderr
    assert "--initial-value for cursor column 'o_orderdate': 'May 1st' is not a valid" in run.stderr


def test_destination_schema_and_table_can_be_renamed(sqlite_db: SourceDatabase) -> None:
    summary = ok(
        sqlite_db.ingest(
            "--table", "nation", "--destination-schema", "crm", "--destination-table", "countries"
        )
    )

    assert summary["destination_table"] == "crm.countries"
    assert len(sqlite_db.rows("crm.countries")) == 25
