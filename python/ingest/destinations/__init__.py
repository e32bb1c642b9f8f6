"""Destinations the worker can load into, one module each, behind one protocol.

Each destination implements :class:`~ingest.destinations.base.Destination`.
To add a destination, write ``ingest/destinations/<name>.py`` with a class implementing the
protocol and register a factory in :data:`DESTINATIONS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.destinations.base import (
    LOADED_AT_COLUMN,
    STATE_TABLE,
    Destination,
    IncrementalState,
    LoadRequest,
    WriteDisposition,
)
from ingest.destinations.duckdb import DuckDBDestination

__all__ = [
    "DESTINATIONS",
    "LOADED_AT_COLUMN",
    "STATE_TABLE",
    "Destination",
    "DestinationOptions",
    "IncrementalState",
    "LoadRequest",
    "WriteDisposition",
    "default_warehouse_path",
    "open_destination",
]

WAREHOUSE_PATH_ENV = "WAREHOUSE_DUCKDB_PATH"
MEMORY_LIMIT_ENV = "WAREHOUSE_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "512MB"


@dataclass(frozen=True)
class DestinationOptions:
    """Settings shared by the destinations.

    Attributes:
        lock_timeout: Seconds to wait in total for a destination locked by another process.
    """

    lock_timeout: float


def default_warehouse_path() -> Path:
    """``<repo root>/.orchestra_local/warehouse.duckdb``, the local runner's state directory.

    Returns:
        The path, with the repo root taken as the parent of ``python/``.
    """
    return Path(__file__).resolve().parents[3] / ".orchestra_local" / "warehouse.duckdb"


def _duckdb(options: DestinationOptions, environ: Mapping[str, str]) -> Destination:
    raw_path = environ.get(WAREHOUSE_PATH_ENV, "").strip()
    path = Path(raw_path).expanduser() if raw_path else default_warehouse_path()
    memory_limit = environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    return DuckDBDestination(path.resolve(), options.lock_timeout, memory_limit)


DESTINATIONS: Mapping[str, Callable[[DestinationOptions, Mapping[str, str]], Destination]] = {
    "duckdb": _duckdb
}


def open_destination(
    name: str, options: DestinationOptions, environ: Mapping[str, str] | None = None
) -> Destination:
    """Create the destination called ``name``.

    Args:
        name: A key of :data:`DESTINATIONS`, e.g. ``duckdb``.
        options: Shared settings.
        environ: Environment to read settings from; defaults to ``os.environ``.
            ``duckdb`` reads ``WAREHOUSE_DUCKDB_PATH`` (default
            ``<repo root>/.orchestra_local/warehouse.duckdb``) and
            ``WAREHOUSE_DUCKDB_MEMORY_LIMIT`` (default ``512MB``).

    Returns:
        The destination; nothing is opened yet.

    Raises:
        KeyError: If ``name`` is not a registered destination (the CLI restricts the choices).
    """
    return DESTINATIONS[name](options, os.environ if environ is None else environ)
