"""``--destination dlt``: the worker's staged rows through a dlt pipeline into dlt's duckdb (the
warehouse file) and dlt's postgres destination (a dataset of this test's own, dropped after).
Merge, append, replace, incremental state kept in the destination, failures."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ITEMS = [(i, f"item {i}", i * 10, i) for i in range(1, 6)]  # id, name, amount, version


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A SQLite source with ``items`` (primary key ``id``, cursor ``version``)."""
    path = tmp_path / "source.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount INTEGER, version INTEGER NOT NULL)"
        )
        connection.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", ITEMS)
    return path


def change(source: Path, *statements: str) -> None:
    with sqlite3.connect(source) as connection:
        for statement in statements:
            connection.execute(statement)


@dataclass
class Target:
    """A dlt destination of the test: how the worker reaches it and how to read it back."""

    kind: str
    dataset: str
    env: dict[str, str]
    query: Callable[[str], list[tuple[Any, ...]]]
    run_worker: Callable[..., Any]
    source: Path
    temp: Path

    def ingest(self, *args: str, configured: bool = True, **env: str) -> Any:
        """``python -m ingest --source sql --table items --destination dlt ...``; ``configured=False``
        leaves out the destination's settings (credentials)."""
        settings = self.env if configured else {}
        return self.run_worker(
            "ingest",
            "--source",
            "sql",
            "--table",
            "items",
            "--destination",
            "dlt",
            "--dlt-destination",
            self.kind,
            "--dlt-dataset",
            self.dataset,
            *args,
            env={"SOURCE_DATABASE_URL": f"sqlite:///{self.source}", "TMPDIR": str(self.temp), **settings, **env},
        )

    def rows(self, columns: str = "id, name, amount, version") -> list[tuple[Any, ...]]:
        return self.query(f"SELECT {columns} FROM {self.dataset}.items ORDER BY id")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(
    request: pytest.FixtureRequest, tmp_path: Path, source: Path, run_worker: Callable[..., Any]
) -> Iterator[Target]:
    """dlt's duckdb destination on the warehouse file, or dlt's postgres on the test database."""
    dataset = f"dlt_{uuid.uuid4().hex[:10]}"
    temp = tmp_path / "tmp"
    temp.mkdir()
    if request.param == "duckdb":
        warehouse = tmp_path / "warehouse.duckdb"  # dlt has no duckdb credentials: the worker's warehouse

        def query_duckdb(sql: str) -> list[tuple[Any, ...]]:
            with duckdb.connect(str(warehouse), read_only=True) as connection:
                return connection.execute(sql).fetchall()

        yield Target(
            "duckdb", dataset, {"WAREHOUSE_DUCKDB_PATH": str(warehouse)}, query_duckdb, run_worker, source, temp
        )
        return
    url = make_url(request.getfixturevalue("postgres_url"))
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    # dlt's postgres credentials need a password; the test server trusts local connections.
    credentials = url.set(drivername="postgresql", password=url.password or "unused").render_as_string(
        hide_password=False
    )

    def query_postgres(sql: str) -> list[tuple[Any, ...]]:
        with engine.begin() as connection:
            result = connection.execute(sa.text(sql))
            return [tuple(row) for row in result] if result.returns_rows else []

    try:
        yield Target(
            "postgres",
            dataset,
            {"DESTINATION__POSTGRES__CREDENTIALS": credentials},
            query_postgres,
            run_worker,
            source,
            temp,
        )
    finally:
        with engine.begin() as connection:
            for schema in (dataset, f"{dataset}_staging"):
                connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def succeeded(run: Any) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    summary: dict[str, Any] = run.summary
    return summary


def failed(run: Any, code: int, *fragments: str) -> str:
    assert run.returncode == code, run.stdout + run.stderr
    assert run.stdout == "" and len(run.error_lines) == 1 and "Traceback" not in run.stderr, run.stderr
    for fragment in fragments:
        assert fragment in run.error_lines[0], run.error_lines[0]
    line: str = run.error_lines[0]
    return line


def test_incremental_merge_keeps_its_watermark_in_the_destination(target: Target) -> None:
    cursor = ("--incremental-cursor", "version")
    first = succeeded(target.ingest(*cursor))
    assert (first["rows_read"], first["rows_written"], first["watermark"]) == (5, 5, 5)
    assert first["destination_table"] == f"{target.dataset}.items"
    before = target.rows("*")

    rerun = succeeded(target.ingest(*cursor))  # a fresh dlt working dir: the state comes from the destination

    assert (rerun["rows_read"], rerun["rows_written"], rerun["watermark"]) == (1, 0, 5)
    assert target.rows("*") == before  # not even _loaded_at changed: nothing reached dlt
    change(
        target.source,
        "UPDATE items SET name = 'renamed', version = 7 WHERE id = 1",
        "INSERT INTO items VALUES (6, 'late', 60, 5)",
    )  # arrives late, at the watermark

    third = succeeded(target.ingest(*cursor))

    assert (third["rows_read"], third["rows_written"], third["watermark"]) == (3, 2, 7)
    assert target.rows() == [(1, "renamed", 10, 7), *ITEMS[1:], (6, "late", 60, 5)]
    assert list((target.temp / "ingest-dlt").iterdir()) == []  # staging and dlt's working dirs are gone


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)  # merge covers postgres; each run costs ~2 s
def test_incremental_append_loads_each_row_once(target: Target) -> None:
    args = ("--write-disposition", "append", "--incremental-cursor", "version", "--initial-value", "3")
    assert succeeded(target.ingest(*args))["rows_written"] == 3

    rerun = succeeded(target.ingest(*args))
    change(target.source, "INSERT INTO items VALUES (6, 'late', 60, 5)")
    late = succeeded(target.ingest(*args))

    assert (rerun["rows_read"], rerun["rows_written"]) == (1, 0)
    assert (late["rows_read"], late["rows_written"]) == (2, 1)
    assert target.rows() == [*ITEMS[2:], (6, "late", 60, 5)]


@pytest.mark.postgres
@pytest.mark.parametrize("target", ["postgres"], indirect=True)
def test_replace_makes_the_table_equal_to_the_source(target: Target) -> None:
    succeeded(target.ingest("--write-disposition", "replace"))
    change(target.source, "DELETE FROM items WHERE id > 2", "UPDATE items SET amount = 0 WHERE id = 1")

    summary = succeeded(target.ingest("--write-disposition", "replace"))

    assert summary["rows_written"] == 2
    assert target.rows() == [(1, "item 1", 0, 1), ITEMS[1]]


@pytest.mark.postgres
@pytest.mark.parametrize("target", ["postgres"], indirect=True)
def test_a_failed_load_job_fails_the_run_and_moves_nothing(target: Target) -> None:
    cursor = ("--incremental-cursor", "version")
    succeeded(target.ingest(*cursor))
    target.query(f"ALTER TABLE {target.dataset}.items ADD CONSTRAINT small CHECK (amount < 1000)")
    change(target.source, "UPDATE items SET amount = 5000, version = 9 WHERE id = 2")
    before = target.rows()

    failed(
        target.ingest(*cursor),
        1,
        f"dlt destination postgres (dataset {target.dataset})",
        "dlt step load failed",
        'violates check constraint "small"',
    )

    assert target.rows() == before
    target.query(f"ALTER TABLE {target.dataset}.items DROP CONSTRAINT small")
    retried = succeeded(target.ingest(*cursor))
    assert (retried["rows_read"], retried["watermark"]) == (2, 9)  # the watermark had stayed at 5


@pytest.mark.postgres
@pytest.mark.parametrize("target", ["postgres"], indirect=True)
def test_unreachable_or_unconfigured_postgres_fails_in_one_line(target: Target) -> None:
    password = "pw-Secret-4711"
    wrong = (
        target.env["DESTINATION__POSTGRES__CREDENTIALS"].replace(":unused@", f":{password}@").replace(":5432/", ":1/")
    )

    run = target.ingest(DESTINATION__POSTGRES__CREDENTIALS=wrong)
    missing = target.ingest(configured=False)

    failed(run, 1, "dlt destination postgres (dataset", "dlt step sync failed: OperationalError")
    assert password not in run.stdout + run.stderr
    failed(missing, 1, "missing configuration credentials; set DESTINATION__POSTGRES__CREDENTIALS")


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_an_unknown_or_missing_dlt_destination_is_a_usage_error(target: Target) -> None:
    failed(target.ingest("--dlt-destination", "no_such_destination"), 2, "is not a dlt destination")
    usage = target.run_worker(
        "ingest",
        "--source",
        "sql",
        "--table",
        "items",
        "--destination",
        "dlt",
        env={"SOURCE_DATABASE_URL": f"sqlite:///{target.source}"},
    )
    failed(usage, 2, "--destination dlt needs --dlt-destination NAME")


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_merge_keeps_the_last_row_of_a_repeated_key_and_refuses_null_keys(target: Target) -> None:
    change(
        target.source,
        "UPDATE items SET name = 'same' WHERE id IN (2, 4)",
        "UPDATE items SET amount = NULL WHERE id = 5",
    )

    merged = target.ingest("--primary-key", "name")  # not the source's key: duplicates are checked
    null_key = target.ingest("--primary-key", "amount")

    assert succeeded(merged)["rows_written"] == 4
    assert "1 source rows repeat a primary key (name); keeping the last row read for each key" in merged.stderr
    assert target.query(f"SELECT name, id FROM {target.dataset}.items ORDER BY id") == [
        ("item 1", 1),
        ("item 3", 3),
        ("same", 4),
        ("item 5", 5),
    ]
    failed(null_key, 1, "1 source rows have NULL in primary key (amount); merge needs a non-null key")
