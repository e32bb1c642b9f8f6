"""Fixtures for the dlt pipelines: run a script as Orchestra does, read the warehouse, own a schema.

Scripts run as subprocesses with ``cwd=dlt/`` (the task's ``project_dir``). Everything they write
goes to tmp_path: the DuckDB warehouse (``WAREHOUSE_DUCKDB_PATH``, set by the suite's autouse
fixture), dlt's pipeline working directories (``DLT_DATA_DIR``), and no bytecode is written into
the repository.
"""

from __future__ import annotations

import json
import os
import shutil
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

REPO_ROOT = Path(__file__).resolve().parents[2]
DLT_DIR = REPO_ROOT / "dlt"
SCRIPT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class ScriptResult:
    """Outcome of one pipeline script run.

    Attributes:
        returncode: Process exit code.
        stdout: Everything printed on stdout.
        stderr: Everything printed on stderr (logs and the ``Error:`` line).
    """

    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        """The JSON summary on the last stdout line (fails the test if there is none)."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"no stdout; stderr:\n{self.stderr}"
        return json.loads(lines[-1])

    @property
    def error_lines(self) -> list[str]:
        """The ``Error:`` lines on stderr."""
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]

    def assert_failed(self, returncode: int, fragment: str) -> str:
        """Assert the run failed the documented way and return its ``Error:`` line.

        Args:
            returncode: Expected exit code (1 load failed, 2 invalid arguments or configuration).
            fragment: Text the error line must contain.

        Returns:
            The one ``Error:`` line: the last line on stderr, with no summary on stdout and no
            traceback.
        """
        assert self.returncode == returncode, self.stdout + self.stderr
        assert self.stdout.strip() == ""
        assert len(self.error_lines) == 1, self.stderr
        assert self.stderr.strip().splitlines()[-1] == self.error_lines[0]
        assert fragment in self.error_lines[0], self.error_lines[0]
        assert "Traceback" not in self.stderr
        return self.error_lines[0]


RunScript = Callable[..., ScriptResult]


@pytest.fixture
def script_env(tmp_path: Path) -> dict[str, str]:
    """Environment of a script run: the isolated test environment plus dlt's data dir in tmp_path."""
    return {
        **os.environ,
        "DLT_DATA_DIR": str(tmp_path / "dlt_data"),
        "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ in the repository's dlt/
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


@pytest.fixture
def run_script(script_env: dict[str, str]) -> RunScript:
    """``run_script(script, *args, env=, project=, cwd=)`` runs ``project/script`` (default: the repo's dlt/).

    The working directory is ``project`` unless ``cwd`` is given, as Orchestra runs a task in its
    ``project_dir``.
    """

    def run(script: str, *args: str, env: dict[str, str] | None = None, project: Path = DLT_DIR,
            cwd: Path | None = None) -> ScriptResult:
        completed = subprocess.run(
            [sys.executable, str(project / script), *args],
            cwd=cwd or project,
            env={**script_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
        )
        return ScriptResult(completed.returncode, completed.stdout, completed.stderr)

    return run


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    """A copy of the committed files of dlt/ (no developer secrets.toml), as a fresh clone has them."""
    project = tmp_path / "clone" / "dlt"
    (project / ".dlt").mkdir(parents=True)
    for script in DLT_DIR.glob("*.py"):
        shutil.copy2(script, project / script.name)
    shutil.copy2(DLT_DIR / ".dlt" / "config.toml", project / ".dlt" / "config.toml")
    return project


@pytest.fixture
def warehouse() -> Callable[[str], list[tuple[Any, ...]]]:
    """``warehouse(sql)`` runs a query on the test's DuckDB warehouse and returns all rows."""

    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(os.environ["WAREHOUSE_DUCKDB_PATH"], read_only=True) as connection:
            return connection.execute(sql).fetchall()

    return query


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[tuple[sa.Engine, str]]:
    """A PostgreSQL schema of this test's own, dropped afterwards: ``(engine, schema_name)``."""
    engine = sa.create_engine(postgres_url)
    schema = f"dlt_test_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.fail(f"PostgreSQL at {engine.url.render_as_string()} is not reachable: {exc.orig}")
    try:
        yield engine, schema
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@dataclass(frozen=True)
class SourceDatabase:
    """The test's source schema in PostgreSQL, with ``orders`` (primary key) and ``events`` (none).

    Attributes:
        engine: Engine on the test database.
        schema: Name of the test's schema.
        url: SQLAlchemy URL of the database, as a script receives it.
        orders_rows: Rows ``orders`` starts with.
    """

    engine: sa.Engine
    schema: str
    url: str
    orders_rows: int = 250

    def execute(self, sql: str, **params: Any) -> None:
        """Run one statement in its own transaction; ``{schema}`` in ``sql`` is the test's schema."""
        with self.engine.begin() as connection:
            connection.execute(sa.text(sql.format(schema=self.schema)), params)

    def rows(self, table: str, columns: str) -> list[tuple[Any, ...]]:
        """All rows of ``table`` (``columns``, comma-separated), ordered by the first column."""
        first = columns.split(",")[0]
        with self.engine.connect() as connection:
            result = connection.execute(sa.text(f"SELECT {columns} FROM {self.schema}.{table} ORDER BY {first}"))
            return [tuple(row) for row in result]


@pytest.fixture
def source_db(pg_schema: tuple[sa.Engine, str], postgres_url: str) -> SourceDatabase:
    """The test schema filled with ``orders`` (250 rows, one per hour of 2024) and ``events``."""
    engine, schema = pg_schema
    source = SourceDatabase(engine, schema, postgres_url)
    source.execute(
        "CREATE TABLE {schema}.orders (order_id integer PRIMARY KEY, customer text NOT NULL, "
        "amount numeric(12, 2) NOT NULL, updated_at timestamptz NOT NULL)"
    )
    source.execute(
        "INSERT INTO {schema}.orders SELECT g, 'customer_' || (g % 17), g * 1.25, "
        "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour' "
        "FROM generate_series(1, CAST(:n AS integer)) AS g",
        n=source.orders_rows,
    )
    source.execute("CREATE TABLE {schema}.events (event_id integer, kind text)")  # no primary key
    source.execute("INSERT INTO {schema}.events VALUES (1, 'click'), (2, 'view')")
    return source
