"""Shared by the tests of loads through each reader of the sql source: a worker run that checks which
reader read (the ``destination`` fixture is in conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Destination, SourceDatabase

ORDERS = 15_000
READERS = ["sqlalchemy", "adbc", "duckdb-scanner"]
PG = pytest.mark.postgres
LOAD_PAIRS = pytest.mark.parametrize(
    ("source_db", "destination"),
    [("sqlite", "duckdb"), pytest.param("postgres", "duckdb", marks=PG), pytest.param("postgres", "postgres", marks=PG)],
    indirect=True, ids=["sqlite-duckdb", "postgres-duckdb", "postgres-postgres"],
)
"""Source -> destination pairs of the load tests: each reader reads each source and writes each
destination (and the benchmark's path, PostgreSQL -> DuckDB); SQLite -> PostgreSQL adds no code
path of its own, so the suite skips it (its ~40 s of CPU)."""
ATOMICITY_PAIRS = pytest.mark.parametrize(
    ("source_db", "destination"), [("sqlite", "duckdb"), pytest.param("postgres", "postgres", marks=PG)],
    indirect=True, ids=["sqlite-duckdb", "postgres-postgres"],
)
"""Pairs of the SIGKILL test: each destination's transaction, each source, through each reader."""
PYTHON_DIR = Path(__file__).resolve().parents[3] / "python"


def ingest(db: SourceDatabase, destination: Destination, reader: str, *args: str) -> dict[str, Any]:
    run = db.ingest("--reader", reader, *destination.args, *args, **destination.env)
    assert run.returncode == 0, run.stderr
    assert f"with the {reader} reader" in run.stderr
    return dict(run.summary)
