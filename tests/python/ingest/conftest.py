"""Fixtures for the ingestion worker: a TPC-H source on SQLite or PostgreSQL with a private
warehouse, and helpers to change the source, run the worker and read what it wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
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

    def column(self, statement: str) -> list[Any]:
        """The first column of every row of a query on the source."""
        with self._engine.connect() as connection:
            return list(connection.execute(sa.text(statement)).scalars())

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


MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    """SQLAlchemy URL of the local MariaDB test database (override with TEST_MARIADB_URL)."""
    return MARIADB_URL


@dataclass(frozen=True)
class MariaDBDatabase:
    """A uniquely named, initially empty database on the MariaDB test server.

    Attributes:
        url: SQLAlchemy URL connected to this database.
        name: The database's name (a "schema" to SQLAlchemy and the worker's ``--schema``).
    """

    url: str
    name: str

    def engine(self) -> sa.Engine:
        """A new engine connected to this database (dispose it after use)."""
        return sa.create_engine(self.url, poolclass=sa.NullPool)


@pytest.fixture
def mariadb_database(request: pytest.FixtureRequest, mariadb_url: str) -> Iterator[MariaDBDatabase]:
    """Create a database named after the test on the MariaDB server; drop it afterwards.

    Skips the test when the server is not reachable.
    """
    engine = sa.create_engine(mariadb_url, poolclass=sa.NullPool)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        masked = make_url(mariadb_url).render_as_string(hide_password=True)
        pytest.skip(f"MariaDB is not reachable at {masked}: {str(exc).splitlines()[0]}")
    slug = "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:30]
    name = f"t_{slug}_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{name}`")
    try:
        url = make_url(mariadb_url).set(database=name).render_as_string(hide_password=False)
        yield MariaDBDatabase(url, name)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """``(url, schema)`` of an empty SQLite file or PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.sqlite'}", None
    else:
        postgres = request.getfixturevalue("postgres_schema")
        yield postgres.url, postgres.schema


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
