"""Where the DuckDB destination writes, from the environment; nothing is opened."""

from __future__ import annotations

from pathlib import Path

from ingest.destinations import default_warehouse_path, open_destination
from ingest.destinations.duckdb import DuckDBDestination

REPO = Path(__file__).resolve().parents[3]


def test_default_warehouse_is_in_the_runners_state_directory() -> None:
    assert default_warehouse_path() == REPO / ".orchestra_local" / "warehouse.duckdb"

    destination = open_destination("duckdb", {"lock_timeout": 5}, environ={})

    assert isinstance(destination, DuckDBDestination)
    assert destination.path == default_warehouse_path()
    assert destination.memory_limit == "512MB"
    assert destination.staging_parent() == REPO / ".orchestra_local"


def test_environment_overrides_path_and_memory_limit(tmp_path: Path) -> None:
    environ = {
        "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "wh" / "w.duckdb"),
        "WAREHOUSE_DUCKDB_MEMORY_LIMIT": "2GB",
    }

    destination = open_destination("duckdb", {"lock_timeout": 5}, environ)

    assert isinstance(destination, DuckDBDestination)
    assert destination.path == tmp_path / "wh" / "w.duckdb"
    assert destination.memory_limit == "2GB"
    assert destination.describe_table("raw", "orders") == "raw.orders"
    assert destination.read_state("raw", "orders") is None  # no file yet, and none is created
    assert not (tmp_path / "wh").exists()
