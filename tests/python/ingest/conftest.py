"""Fixtures for the ingestion worker: a TPC-H source on SQLite or PostgreSQL with a private
warehouse, and helpers to change the source, run the worker and read what it wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from tpch_source.build import build_source

TPCH_SCALE_FACTOR = 0.01
PYTHON_DIR = Path(__file__).resolve().parents[3] / "python"


@dataclass
class SourceDatabase:
    """A TPC-H SF 0.01 source the worker reads, and the warehouse it writes."""

    kind: str
    url: str
    schema: str | None
    warehouse: Path
    run_worker: Callable[..., Any]
    _engine: sa.Engine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._engine = sa.create_engine(self.url, poolclass=sa.NullPool)

    def table(self, name: str) -> str:
        """The table's name as SQL text, schema-qualified on PostgreSQL."""
        return f"{self.schema}.{name}" if self.schema else name

    def execute(self, *statements: str) -> None:
        """Run statements on the source in one transaction."""
        with self._engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))

    def scalar(self, statement: str) -> Any:
        """The first column of the first row of a query on the source."""
        with self._engine.connect() as connection:
            return connection.execute(sa.text(statement)).scalar()

    def worker_args(self) -> list[str]:
        """``--source sql`` plus ``--schema`` on PostgreSQL."""
        return ["--source", "sql", *(["--schema", self.schema] if self.schema else [])]

    def worker_env(self) -> dict[str, str]:
        """The environment variables the worker needs for this source and warehouse."""
        return {"SOURCE_DATABASE_URL": self.url, "WAREHOUSE_DUCKDB_PATH": str(self.warehouse)}

    def ingest(self, *args: str, **extra_env: str) -> Any:
        """Run ``python -m ingest`` against this source and warehouse; returns the run."""
        env = {**self.worker_env(), **extra_env}
        return self.run_worker("ingest", *self.worker_args(), *args, env=env)

    def start_ingest(self, *args: str, stdout: Any, stderr: Any) -> subprocess.Popen[str]:
        """Start ``python -m ingest`` in ``python/`` without waiting for it."""
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", *self.worker_args(), *args],
            cwd=PYTHON_DIR,
            env={**os.environ, **self.worker_env()},
            stdout=stdout,
            stderr=stderr,
            text=True,
        )

    def rows(self, table: str, columns: str = "*") -> list[tuple[Any, ...]]:
        """Every row of a warehouse table, sorted, read with a read-only connection."""
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            query = f"SELECT {columns} FROM {table} ORDER BY ALL"
            return connection.execute(query).fetchall()

    def table_names(self) -> list[str]:
        """``schema.table`` of every table in the warehouse; empty when there is no file."""
        if not self.warehouse.exists():
            return []
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            query = "SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1"
            return [row[0] for row in connection.execute(query).fetchall()]

    def staging_leftovers(self) -> list[Path]:
        """Staging directories left next to the warehouse."""
        return sorted(self.warehouse.parent.glob(".ingest-staging-*"))

    def dispose(self) -> None:
        self._engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def source_db(
    request: pytest.FixtureRequest, tmp_path: Path, run_worker: Callable[..., Any]
) -> Iterator[SourceDatabase]:
    """The TPC-H source on SQLite (a private copy) or in a fresh PostgreSQL schema."""
    warehouse = tmp_path / "warehouse" / "warehouse.duckdb"
    if request.param == "sqlite":
        path: Path = request.getfixturevalue("tpch_sqlite")
        database = SourceDatabase("sqlite", f"sqlite:///{path}", None, warehouse, run_worker)
    else:
        postgres = request.getfixturevalue("postgres_schema")
        build_source(make_url(postgres.url), TPCH_SCALE_FACTOR, postgres.schema, 100_000)
        database = SourceDatabase("postgres", postgres.url, postgres.schema, warehouse, run_worker)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def sqlite_db(
    tpch_sqlite: Path, tmp_path: Path, run_worker: Callable[..., Any]
) -> Iterator[SourceDatabase]:
    """The TPC-H source on SQLite only, for behaviour that does not depend on the source."""
    database = SourceDatabase(
        "sqlite",
        f"sqlite:///{tpch_sqlite}",
        None,
        tmp_path / "wh" / "warehouse.duckdb",
        run_worker,
    )
    try:
        yield database
    finally:
        database.dispose()
