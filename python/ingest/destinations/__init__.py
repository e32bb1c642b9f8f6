"""Destinations the worker can load into, one module each, behind one protocol.

Each destination implements :class:`~ingest.destinations.base.Destination`.
To add a destination, write ``ingest/destinations/<name>.py`` with a class implementing the
protocol and register a :class:`~ingest.kinds.Kind` (its CLI options and a factory) in
:data:`DESTINATIONS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingest.destinations.base import (
    DELETED_AT_COLUMN,
    LOADED_AT_COLUMN,
    STATE_TABLE,
    DeleteMode,
    Destination,
    IncrementalState,
    LoadRequest,
    LoadResult,
    WriteDisposition,
)
from ingest.destinations.dlt_kind import DLT
from ingest.destinations.duckdb import DuckDBDestination
from ingest.destinations.postgres import POSTGRES
from ingest.errors import UsageError
from ingest.kinds import Kind, OptionGroup, seconds

__all__ = [
    "DELETED_AT_COLUMN",
    "DESTINATIONS",
    "LOADED_AT_COLUMN",
    "STATE_TABLE",
    "DeleteMode",
    "Destination",
    "IncrementalState",
    "LoadRequest",
    "LoadResult",
    "WriteDisposition",
    "default_warehouse_path",
    "open_destination",
]

WAREHOUSE_PATH_ENV = "WAREHOUSE_DUCKDB_PATH"
MEMORY_LIMIT_ENV = "WAREHOUSE_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "512MB"


DEFAULT_LOCK_TIMEOUT_SECONDS = 300.0


def default_warehouse_path() -> Path:
    """``<repo root>/.orchestra_local/warehouse.duckdb``, the local runner's state directory.

    Returns:
        The path, with the repo root taken as the parent of ``python/``.
    """
    return Path(__file__).resolve().parents[3] / ".orchestra_local" / "warehouse.duckdb"


def _duckdb_options(group: OptionGroup) -> None:
    group.add(
        "--lock-timeout",
        type=seconds,
        default=DEFAULT_LOCK_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long to wait in total while another worker holds the warehouse file "
        f"(default: {DEFAULT_LOCK_TIMEOUT_SECONDS:g}); the file is {WAREHOUSE_PATH_ENV} "
        "(default <repo>/.orchestra_local/warehouse.duckdb)",
    )


def _duckdb(options: Mapping[str, Any], environ: Mapping[str, str]) -> Destination:
    if options["lock_timeout"] < 0:
        raise UsageError("--lock-timeout must not be negative")
    raw_path = environ.get(WAREHOUSE_PATH_ENV, "").strip()
    path = Path(raw_path).expanduser() if raw_path else default_warehouse_path()
    memory_limit = environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    return DuckDBDestination(path.resolve(), options["lock_timeout"], memory_limit)


DESTINATIONS: Mapping[str, Kind[Destination]] = {
    "duckdb": Kind("duckdb", "a DuckDB file (the local warehouse)", _duckdb, _duckdb_options),
    "postgres": POSTGRES,
    "dlt": DLT,
}


def open_destination(name: str, options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Destination:
    """Create the destination called ``name``.

    Args:
        name: A key of :data:`DESTINATIONS`, e.g. ``duckdb``.
        options: The kind's option values, by ``dest`` (see :mod:`ingest.kinds`).
        environ: Environment to read settings from; defaults to ``os.environ``.
            ``duckdb`` reads ``WAREHOUSE_DUCKDB_PATH`` (default
            ``<repo root>/.orchestra_local/warehouse.duckdb``) and
            ``WAREHOUSE_DUCKDB_MEMORY_LIMIT`` (default ``512MB``).

    Returns:
        The destination; nothing is opened yet.

    Raises:
        KeyError: If ``name`` is not a registered destination (the CLI restricts the choices).
        UsageError: If an option value is invalid.
    """
    return DESTINATIONS[name].open(options, os.environ if environ is None else environ)
