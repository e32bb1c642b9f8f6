"""Where the dlt pipelines here land, and how one load is run, checked and summarised.

The destination is dlt's ``destination_type`` setting (``.dlt/config.toml``, or the environment
variable ``DESTINATION_TYPE``). For ``duckdb`` (the default) the file is the repository's shared
warehouse: ``WAREHOUSE_DUCKDB_PATH``, default ``<repo>/.orchestra_local/warehouse.duckdb``. Any
other dlt destination (postgres, snowflake, bigquery, ...) takes its credentials the dlt way, from
``DESTINATION__<NAME>__CREDENTIALS`` or ``.dlt/secrets.toml``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dlt.common.destination.reference import TDestinationReferenceArg
from dlt.extract import DltResource, DltSource

import dlt

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DESTINATION = "duckdb"
DEFAULT_WAREHOUSE = REPO_ROOT / ".orchestra_local" / "warehouse.duckdb"

log = logging.getLogger(__name__)


class LoadNotCompletedError(RuntimeError):
    """dlt returned, but a load package did not reach the ``loaded`` state."""


@dataclass(frozen=True)
class LoadSummary:
    """What one invocation loaded; printed as the last stdout line and recorded by the runner.

    Attributes:
        pipeline: dlt pipeline name (its state, e.g. the incremental cursor, is kept under it).
        table: Destination table name (normalised by dlt), e.g. ``orders``.
        destination_table: ``<dataset>.<table>``, e.g. ``raw_dlt.orders``.
        destination: dlt destination type, e.g. ``duckdb``.
        write_disposition: ``merge``, ``append`` or ``replace``.
        rows_written: Rows of ``table`` written in this run (0 when nothing was new); rows of
            nested child tables are not counted.
        seconds: Wall-clock duration of the run, in seconds.
        load_id: dlt load id of the package that landed, or None when there was nothing to load.
    """

    pipeline: str
    table: str
    destination_table: str
    destination: str
    write_disposition: str
    rows_written: int
    seconds: float
    load_id: str | None

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-serialisable dict."""
        return asdict(self)


def warehouse_duckdb_path() -> Path:
    """The DuckDB warehouse file shared by the whole repository.

    Returns:
        ``WAREHOUSE_DUCKDB_PATH`` made absolute (relative to the working directory), or
        ``<repo>/.orchestra_local/warehouse.duckdb`` when it is unset or empty.
    """
    raw = os.environ.get("WAREHOUSE_DUCKDB_PATH", "").strip()
    return Path(raw).expanduser().resolve() if raw else DEFAULT_WAREHOUSE


def warehouse_destination() -> TDestinationReferenceArg:
    """The dlt destination every pipeline here loads into.

    Returns:
        A DuckDB destination on :func:`warehouse_duckdb_path` (its folder is created) when
        ``destination_type`` is ``duckdb`` or unset; otherwise the destination's name, which dlt
        configures from its own settings.
    """
    name = dlt.config.get("destination_type", str) or DEFAULT_DESTINATION
    if name != "duckdb":
        return name
    path = warehouse_duckdb_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.destinations.duckdb(credentials=str(path))


def run_load(pipeline_name: str, data: DltSource | DltResource, table: str) -> LoadSummary:
    """Run one dlt pipeline to completion and summarise what landed in ``table``.

    dlt first syncs the pipeline's state from the destination (so an ephemeral container resumes
    the incremental cursor), retries load packages left pending by an earlier failed run, then
    extracts, normalises and loads. ``load.raise_on_failed_jobs`` stays on, so a failed job raises.

    Args:
        pipeline_name: dlt pipeline name; one per table, so parallel runs never share state.
        data: The source or resource to load (already restricted to one table).
        table: Name of the table ``data`` writes, before dlt's name normalisation.

    Returns:
        The summary of the run.

    Raises:
        PipelineStepFailed: When extract, normalize or load failed (wraps the cause).
        LoadNotCompletedError: When a load package did not reach the ``loaded`` state.
    """
    started = time.monotonic()
    pipeline = dlt.pipeline(pipeline_name=pipeline_name, destination=warehouse_destination())
    resource = data if isinstance(data, DltResource) else data.resources[table]
    write_disposition = _disposition(resource)
    log.info("dlt pipeline %s: loading %s into %s.%s (%s)", pipeline_name, table, pipeline.dataset_name,
             table, write_disposition)
    info = pipeline.run(data)
    info.raise_on_failed_jobs()
    unfinished = [package.load_id for package in info.load_packages if package.state != "loaded"]
    if unfinished:
        raise LoadNotCompletedError(f"load packages {unfinished} did not reach the 'loaded' state")
    normalised = pipeline.default_schema.naming.normalize_table_identifier(table)
    normalize_info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    rows = normalize_info.row_counts.get(normalised, 0) if normalize_info else 0
    return LoadSummary(
        pipeline=pipeline_name,
        table=normalised,
        destination_table=f"{pipeline.dataset_name}.{normalised}",
        destination=pipeline.destination.destination_type.rsplit(".", 1)[-1],
        write_disposition=write_disposition,
        rows_written=int(rows),
        seconds=round(time.monotonic() - started, 3),
        load_id=info.loads_ids[-1] if info.loads_ids else None,
    )


def _disposition(resource: DltResource) -> str:
    """The resource's write disposition as a word (dlt also allows a dict with a merge strategy)."""
    value = resource.write_disposition
    return str(value["disposition"]) if isinstance(value, dict) else str(value)
