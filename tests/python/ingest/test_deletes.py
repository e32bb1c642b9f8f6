"""Rows deleted at the source: a full merge marks (soft), removes (hard) or keeps (ignore) them.

Real sources (SQLite file, PostgreSQL schema) and real destinations (DuckDB file, PostgreSQL
schema), through ``python -m ingest``: 100 rows loaded, 10 deleted and one changed at the source,
loaded again, then a re-run that must change nothing, and (soft) a deleted key that comes back.
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
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from tests.python.ingest.postgres_waits import wait_for_blocked_backend, wait_until_gone

ROWS = 100
DELETED = list(range(10, ROWS + 1, 10))  # ids 10, 20, ..., 100


@dataclass
class Ends:
    """The source and destination of one case, and how to run the worker between them."""

    source: sa.Engine
    source_args: list[str]
    env: dict[str, str]
    destination_args: list[str]
    read: Callable[[str], list[tuple[Any, ...]]]
    run_worker: Callable[..., Any]

    def ingest(self, *args: str) -> dict[str, Any]:
        run = self.run_worker("ingest", *self.source_args, "--table", "accounts", *self.destination_args, *args,
                              env=self.env)
        assert run.returncode == 0, run.stderr
        return run.summary  # type: ignore[no-any-return]

    def change_source(self, *statements: str) -> None:
        with self.source.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))


# Each source's reads and each destination's deletes; the crossed pairs add no code path of their own.
@pytest.fixture(params=[("sqlite", "duckdb"), pytest.param(("postgres", "postgres"), marks=pytest.mark.postgres)],
                ids=lambda ends: "->".join(ends))
def ends(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str, run_worker: Callable[..., Any]
         ) -> Iterator[Ends]:
    source_kind, destination_kind = request.param
    pg = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    schemas = []
    if source_kind == "sqlite":
        source_url, source_args, table = f"sqlite:///{tmp_path / 'source.sqlite'}", ["--source", "sql"], "accounts"
    else:
        schemas.append(f"src_{uuid.uuid4().hex[:10]}")
        source_url, source_args = postgres_url, ["--source", "sql", "--schema", schemas[-1]]
        table = f"{schemas[-1]}.accounts"
    source = sa.create_engine(source_url, poolclass=sa.NullPool)
    env = {"SOURCE_DATABASE_URL": source_url, "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    if destination_kind == "duckdb":
        destination_args = ["--destination-schema", "raw"]

        def read(columns: str) -> list[tuple[Any, ...]]:
            with duckdb.connect(env["WAREHOUSE_DUCKDB_PATH"], read_only=True) as connection:
                return connection.execute(f"SELECT {columns} FROM raw.accounts ORDER BY ALL").fetchall()
    else:
        schemas.append(f"dst_{uuid.uuid4().hex[:10]}")
        destination = schemas[-1]
        destination_args = ["--destination", "postgres", "--destination-schema", destination]
        env["WAREHOUSE_POSTGRES_URL"] = postgres_url

        def read(columns: str) -> list[tuple[Any, ...]]:
            with pg.connect() as connection:
                query = f'SELECT {columns} FROM "{destination}".accounts ORDER BY 1'
                return [tuple(row) for row in connection.execute(sa.text(query))]
    with pg.begin() as connection:
        for schema in schemas:
            connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    with source.begin() as connection:
        connection.execute(sa.text(f"CREATE TABLE {table} (id integer PRIMARY KEY, name varchar(40), "
                                   "balance numeric(10, 2))"))
        connection.execute(sa.text(f"INSERT INTO {table} VALUES (:id, :name, :balance)"),
                           [{"id": i, "name": f"account {i}", "balance": i * 1.5} for i in range(1, ROWS + 1)])
    try:
        yield Ends(source, source_args, env, destination_args, read, run_worker)
    finally:
        source.dispose()
        with pg.begin() as connection:
            for schema in schemas:
                connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        pg.dispose()


def _table(ends: Ends) -> str:
    return f"{ends.source_args[-1]}.accounts" if "--schema" in ends.source_args else "accounts"


def _delete_ten_and_change_one(ends: Ends) -> None:
    table = _table(ends)
    ends.change_source(f"DELETE FROM {table} WHERE id IN ({', '.join(map(str, DELETED))})",
                       f"UPDATE {table} SET balance = 0 WHERE id = 1")


@pytest.mark.parametrize("mode", ["soft", "hard", "ignore"])
def test_a_full_merge_applies_source_deletes_and_a_rerun_changes_nothing(ends: Ends, mode: str) -> None:
    first = ends.ingest("--deletes", mode)
    _delete_ten_and_change_one(ends)
    second = ends.ingest("--deletes", mode)
    after = ends.read("*")
    rerun = ends.ingest("--deletes", mode)

    assert (first["rows_written"], first["rows_deleted"]) == (ROWS, 0)
    assert second["rows_read"] == ROWS - len(DELETED) and second["rows_written"] == 1
    assert second["rows_deleted"] == (0 if mode == "ignore" else len(DELETED))
    live = [i for i in range(1, ROWS + 1) if i not in DELETED]
    if mode == "soft":
        assert [row[0] for row in ends.read("id, _deleted_at") if row[1] is None] == live
        assert [row[0] for row in ends.read("id, _deleted_at") if row[1] is not None] == DELETED
    elif mode == "hard":
        assert [row[0] for row in ends.read("id")] == live
    else:
        assert [row[0] for row in ends.read("id")] == list(range(1, ROWS + 1))
    assert (rerun["rows_written"], rerun["rows_deleted"]) == (0, 0)
    assert ends.read("*") == after  # _loaded_at and _deleted_at included


def test_soft_deletes_are_the_default_and_a_key_that_comes_back_is_live_again(ends: Ends) -> None:
    ends.ingest()
    _delete_ten_and_change_one(ends)
    marked = ends.ingest()
    ends.change_source(f"INSERT INTO {_table(ends)} VALUES (10, 'account 10 again', 99.00)")
    revived = ends.ingest()

    assert marked["rows_deleted"] == len(DELETED)
    assert (revived["rows_written"], revived["rows_deleted"]) == (1, 0)
    rows = {row[0]: row[1:] for row in ends.read("id, name, _deleted_at")}
    assert rows[10] == ("account 10 again", None)
    assert sorted(i for i, (_, deleted_at) in rows.items() if deleted_at is not None) == DELETED[1:]


@pytest.mark.parametrize("ends", [("sqlite", "duckdb")], indirect=True, ids=["sqlite->duckdb"])
def test_deletes_need_a_full_merge(ends: Ends, run_worker: Callable[..., Any]) -> None:
    run = run_worker("ingest", *ends.source_args, "--table", "accounts", *ends.destination_args,
                     "--incremental-cursor", "id", "--deletes", "hard", env=ends.env)

    assert run.returncode == 2
    assert "--deletes hard applies to full merge loads only" in run.stderr


def test_reconcile_keys_finds_the_deletes_an_incremental_load_cannot_see(ends: Ends) -> None:
    incremental = ("--incremental-cursor", "id", "--initial-value", "0")
    ends.ingest(*incremental)
    _delete_ten_and_change_one(ends)
    blind = ends.ingest(*incremental)
    before = ends.read("*")
    reconciled = ends.ingest(*incremental, "--reconcile-keys")
    again = ends.ingest(*incremental, "--reconcile-keys")

    assert blind["rows_deleted"] == 0 and len(before) == ROWS  # the cursor saw no delete
    assert reconciled["rows_deleted"] == len(DELETED)
    assert [row[0] for row in ends.read("id, _deleted_at") if row[1] is not None] == DELETED
    assert (again["rows_written"], again["rows_deleted"]) == (0, 0)


def test_reconcile_every_third_load_finds_the_deletes_on_the_third(ends: Ends) -> None:
    every_third = ("--incremental-cursor", "id", "--initial-value", "0", "--reconcile-every", "3")
    first = ends.ingest(*every_third)
    _delete_ten_and_change_one(ends)
    second = ends.ingest(*every_third)
    third = ends.ingest(*every_third)
    ends.change_source(f"DELETE FROM {_table(ends)} WHERE id = 1")
    fourth, fifth = ends.ingest(*every_third), ends.ingest(*every_third)
    sixth = ends.ingest(*every_third)

    assert [run["rows_deleted"] for run in (first, second, third, fourth, fifth, sixth)] == [0, 0, len(DELETED), 0, 0, 1]
    assert [row[0] for row in ends.read("id, _deleted_at") if row[1] is not None] == [1, *DELETED]


def test_a_key_that_comes_back_between_reconciles_is_live_again(ends: Ends) -> None:
    every_second = ("--incremental-cursor", "id", "--initial-value", "0", "--reconcile-every", "2")
    ends.ingest(*every_second)
    ends.change_source(f"DELETE FROM {_table(ends)} WHERE id = {ROWS}")
    marked = ends.ingest(*every_second)
    ends.change_source(f"INSERT INTO {_table(ends)} VALUES ({ROWS}, 'back again', 1.00)")
    back = ends.ingest(*every_second)  # not a reconciling load: reads id >= the watermark only
    after_back = [row for row in ends.read("id, name, _deleted_at") if row[0] == ROWS]

    assert marked["rows_deleted"] == 1 and back["rows_deleted"] == 0
    assert after_back == [(ROWS, "back again", None)]


@pytest.mark.parametrize("ends", [("sqlite", "duckdb")], indirect=True, ids=["sqlite->duckdb"])
def test_reconcile_keys_needs_an_incremental_merge_of_a_sql_source(ends: Ends, run_worker: Callable[..., Any]) -> None:
    full = run_worker("ingest", *ends.source_args, "--table", "accounts", *ends.destination_args, "--reconcile-keys",
                      env=ends.env)

    assert full.returncode == 2 and "--reconcile-keys is for incremental merge loads" in full.stderr
    both = run_worker("ingest", *ends.source_args, "--table", "accounts", *ends.destination_args,
                      "--incremental-cursor", "id", "--reconcile-keys", "--reconcile-every", "2", env=ends.env)
    assert both.returncode == 2 and "replaces --reconcile-keys" in both.stderr


@pytest.mark.postgres
def test_a_sigkill_mid_reconcile_leaves_the_destination_unchanged(
        tmp_path: Path, postgres_url: str, run_worker: Callable[..., Any]) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.sqlite'}"
    source = sa.create_engine(source_url, poolclass=sa.NullPool)
    with source.begin() as connection:
        connection.execute(sa.text("CREATE TABLE accounts (id integer PRIMARY KEY, name varchar(40))"))
        connection.execute(sa.text("INSERT INTO accounts VALUES (:id, :name)"),
                           [{"id": i, "name": f"account {i}"} for i in range(1, ROWS + 1)])
    schema = f"dst_{uuid.uuid4().hex[:10]}"
    pg = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    with pg.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    args = ["--source", "sql", "--table", "accounts", "--destination", "postgres", "--destination-schema", schema,
            "--incremental-cursor", "id", "--initial-value", "0"]
    env = {"SOURCE_DATABASE_URL": source_url, "WAREHOUSE_POSTGRES_URL": postgres_url}
    try:
        assert run_worker("ingest", *args, env=env).returncode == 0
        with source.begin() as connection:
            connection.execute(sa.text("DELETE FROM accounts WHERE id % 10 = 0"))
        with pg.connect() as connection:
            before = [tuple(row) for row in connection.execute(sa.text(f"SELECT * FROM {schema}.accounts ORDER BY 1"))]
        with pg.connect() as holder:
            holder.execute(sa.text(f"LOCK TABLE {schema}.accounts IN EXCLUSIVE MODE"))
            worker = subprocess.Popen([sys.executable, "-m", "ingest", *args, "--reconcile-keys"],
                                      cwd=Path(__file__).resolve().parents[3] / "python",
                                      env={**os.environ, **env},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                backend = wait_for_blocked_backend(pg, schema, timeout=60)  # keys read; applying
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
            holder.rollback()
        wait_until_gone(pg, backend, timeout=30)
        with pg.connect() as connection:
            after = [tuple(row) for row in connection.execute(sa.text(f"SELECT * FROM {schema}.accounts ORDER BY 1"))]
        rerun = run_worker("ingest", *args, "--reconcile-keys", env=env)

        assert worker.returncode == -signal.SIGKILL
        assert after == before
        assert rerun.returncode == 0 and rerun.summary["rows_deleted"] == len(DELETED)
    finally:
        source.dispose()
        with pg.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        pg.dispose()


@pytest.mark.parametrize("ends", [("sqlite", "duckdb"), pytest.param(("sqlite", "postgres"), marks=pytest.mark.postgres)],
                         indirect=True, ids=["sqlite->duckdb", "sqlite->postgres"])
def test_a_state_table_from_before_reconcile_every_keeps_its_watermark(ends: Ends) -> None:
    incremental = ("--incremental-cursor", "id", "--initial-value", "0")
    ends.ingest(*incremental)
    schema = ends.destination_args[-1]
    drop = f"ALTER TABLE {schema}._ingest_state DROP COLUMN loads_since_reconcile"
    if "postgres" in ends.destination_args:
        with sa.create_engine(ends.env["WAREHOUSE_POSTGRES_URL"], poolclass=sa.NullPool).begin() as connection:
            connection.execute(sa.text(drop))
    else:
        with duckdb.connect(ends.env["WAREHOUSE_DUCKDB_PATH"]) as connection:
            connection.execute(drop)
    _delete_ten_and_change_one(ends)
    old_state = ends.ingest(*incremental, "--reconcile-every", "2")
    reconciled = ends.ingest(*incremental, "--reconcile-every", "2")

    assert old_state["watermark"] == ROWS and old_state["rows_deleted"] == 0
    assert reconciled["rows_deleted"] == len(DELETED)
