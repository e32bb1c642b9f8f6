"""One ingestion run: describe the source table, stage its rows locally, apply them atomically.

An incremental run reads from the stored watermark (else ``--initial-value``) on and stores the
new watermark with the data. A window run (``--end-value``) reads ``--initial-value <= cursor <=
--end-value`` and loads those rows as a plain merge or append: the watermark is neither read nor
written, so backfilling a window never moves the incremental load's position.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingest.batches import CountedBatches
from ingest.config import IngestConfig
from ingest.destinations import (
    DELETED_AT_COLUMN,
    LOADED_AT_COLUMN,
    DeleteMode,
    Destination,
    IncrementalState,
    LoadRequest,
    WriteDisposition,
    open_destination,
)
from ingest.errors import (
    ColumnNotFoundError,
    PrimaryKeyError,
    SchemaConflictError,
    StateError,
    UsageError,
)
from ingest.sources import CursorFilter, Source, SourceTable, open_source
from ingest.staging import ParquetStager, StagingArea
from ingest.watermark import (
    CursorValue,
    JsonValue,
    cursor_value_json,
    later,
    parse_cursor_value,
)

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class IngestSummary:
    """The outcome of a run; :meth:`as_json` is the worker's last line of output.

    Attributes:
        table: Source table.
        destination_table: Destination table as the destination names it, e.g. ``raw.orders``.
        write_disposition: How rows were written.
        rows_read: Rows read from the source.
        rows_written: Rows inserted or updated in the destination.
        rows_deleted: Rows marked deleted (``--deletes soft``) or removed (``hard``) because their
            key is no longer in the source (full merge loads only).
        seconds: Wall-clock duration of the run, in seconds.
        watermark: Watermark stored after the run; None when the run is not incremental (or
            is a window load).
    """

    table: str
    destination_table: str
    write_disposition: WriteDisposition
    rows_read: int
    rows_written: int
    rows_deleted: int
    seconds: float
    watermark: CursorValue | None

    def as_json(self) -> dict[str, JsonValue]:
        """The summary as a JSON-serialisable dict (dates and decimals as text)."""
        return {
            "table": self.table,
            "destination_table": self.destination_table,
            "write_disposition": self.write_disposition.value,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_deleted": self.rows_deleted,
            "seconds": round(self.seconds, 3),
            "watermark": cursor_value_json(self.watermark),
        }


def run_ingest(config: IngestConfig, environ: Mapping[str, str] | None = None) -> IngestSummary:
    """Ingest one source table into one destination table.

    Args:
        config: Validated parameters.
        environ: Environment holding the source URL and destination settings; defaults to
            ``os.environ``.

    Returns:
        The run's summary.

    Raises:
        WorkerError: Any of the errors in :mod:`ingest.errors`. The destination is unchanged
            unless the function returns.
    """
    started = time.perf_counter()
    destination = open_destination(config.destination, config.destination_options, environ)
    source = open_source(config.source, config.source_options, environ)
    target = destination.describe_table(config.destination_schema, config.destination_table)
    try:
        state = None if config.incremental_cursor is None or config.window else destination.read_state(
            config.destination_schema, config.destination_table)
        reconciling = config.reconciles_now(state.loads_since_reconcile if state else 0)
        deletes = config.delete_mode(destination.supports_deletes, reconciling)
        table = source.describe(config.table)
        key = primary_key_of(config, table)
        bound = _cursor_filter(config, table, state)
        # A window load is a plain load of the rows read: no watermark is compared or stored.
        incremental = None if config.window else config.incremental_cursor
        lower_bound = None if bound is None or incremental is None else bound.lower_bound
        logger.info("ingesting %s into %s (%s)", config.table, target, config.write_disposition)
        scan = _scan_plan(source, destination, table, bound)
        stream = None
        if scan is None and destination.supports_streams and getattr(source, "fixed_schema", False):
            stream = CountedBatches(source, table, config.batch_size, bound, config.incremental_cursor)
        staging = scan is None and stream is None  # else the destination reads the source itself
        with StagingArea(destination.staging_parent()) as area:
            keys_file = _stage_keys(source, table, key, config.batch_size, area) if reconciling else None
            if staging:
                staged = stage_rows(config, source, table, bound, area)
                logger.info("staged %s rows; applying them to %s", f"{staged.rows:,}", target)
            else:
                logger.info("reading %s straight into the load transaction of %s (no staging file)",
                            config.table, target)
            watermark = later(lower_bound, staged.maximum) if incremental and staging else None
            result = destination.load(
                LoadRequest(
                    schema=config.destination_schema,
                    table=config.destination_table,
                    staging_file=staged.file if staging else None,
                    write_disposition=config.write_disposition,
                    primary_key=key,
                    primary_key_unique=table.primary_key_enforced and key == table.primary_key,
                    cursor_column=incremental,
                    lower_bound=lower_bound,
                    watermark=watermark,
                    deletes=deletes,
                    source_keys_file=keys_file,
                    staged_scan=scan,
                    staged_stream=stream,
                )
            )
    finally:
        source.close()
    rows_read = staged.rows if staging else result.rows_staged or 0
    watermark = watermark if staging else result.watermark
    seconds = time.perf_counter() - started
    logger.info("wrote %s rows into %s in %.1fs", f"{result.rows_written:,}", target, seconds)
    if result.rows_deleted:
        logger.info("%s rows of %s are no longer in the source: %s", f"{result.rows_deleted:,}", target,
                    "marked deleted (_deleted_at)" if deletes is DeleteMode.SOFT else "deleted")
    return IngestSummary(
        config.table,
        target,
        config.write_disposition,
        rows_read,
        result.rows_written,
        result.rows_deleted,
        seconds,
        watermark,
    )


def _scan_plan(source: Source, destination: Destination, table: SourceTable,
               bound: CursorFilter | None) -> Any:
    """The read as DuckDB SQL, when the source's reader is DuckDB's scanner and the destination
    runs scans in its load transaction (:attr:`LoadRequest.staged_scan`); else None (stage to Parquet)."""
    plan = getattr(source, "scan_plan", None)
    if plan is None or not destination.supports_scans:
        return None
    return plan(table, bound)


def _stage_keys(source: Source, table: SourceTable, key: tuple[str, ...], batch_size: int,
                area: StagingArea) -> Path:
    """Stream every key of the source table (the key columns only) into a Parquet file (``--reconcile-keys``)."""
    keys = SourceTable(table.name, pa.schema([table.schema.field(column) for column in key]), key,
                       table.primary_key_enforced)
    started = time.perf_counter()
    rows = 0
    with ParquetStager(area.path / "source_keys.parquet", keys.schema) as stager, \
            contextlib.closing(source.read(keys, batch_size, None)) as batches:
        for batch in batches:
            stager.write(batch)
            rows += batch.num_rows
        path = stager.finish()
    logger.info("read %s source keys for reconciliation in %.1fs", f"{rows:,}", time.perf_counter() - started)
    return path


def primary_key_of(config: IngestConfig, table: SourceTable) -> tuple[str, ...]:
    """The merge key (from the command line, else the source), checked against the columns.

    Returns:
        The key columns; empty unless the load is a merge.

    Raises:
        SchemaConflictError: If the source has a column the worker adds (``_loaded_at``, ``_deleted_at``).
        ColumnNotFoundError: If the cursor or a key column is not in the table.
        PrimaryKeyError: If a merge has no key.
    """
    names = table.schema.names
    for added in (LOADED_AT_COLUMN, DELETED_AT_COLUMN):
        if added in names:
            raise SchemaConflictError(
                f"source table {table.name!r} has a column {added!r}, which the worker "
                f"adds itself; rename it in the source or a view"
            )
    if config.incremental_cursor is not None and config.incremental_cursor not in names:
        raise ColumnNotFoundError(
            f"cursor column {config.incremental_cursor!r} not in source table {table.name!r}; "
            f"columns: {', '.join(names)}"
        )
    if config.write_disposition is not WriteDisposition.MERGE:
        return ()
    key = config.primary_key or table.primary_key
    if not key:
        raise PrimaryKeyError(
            f"merge needs a primary key but source table {table.name!r} declares none; pass "
            f"--primary-key col[,col] or use --write-disposition append or replace"
        )
    missing = [column for column in key if column not in names]
    if missing:
        raise ColumnNotFoundError(
            f"primary key column(s) {', '.join(missing)} not in source table {table.name!r}; "
            f"columns: {', '.join(names)}"
        )
    return key


def _cursor_filter(
    config: IngestConfig, table: SourceTable, state: IncrementalState | None
) -> CursorFilter | None:
    """The rows to read: a window, else those from the lower bound on, else all (None)."""
    cursor = config.incremental_cursor
    if cursor is None:
        return None
    cursor_type = table.schema.field(cursor).type
    if config.window:
        start = _parse_option("--initial-value", config.initial_value, cursor, cursor_type)
        end = _parse_option("--end-value", config.end_value, cursor, cursor_type)
        if end < start:  # type: ignore[operator]
            raise UsageError(
                f"--end-value {config.end_value} is before --initial-value {config.initial_value}"
            )
        return CursorFilter(cursor, start, upper_bound=end)
    lower_bound = _lower_bound(config, cursor, cursor_type, state)
    return None if lower_bound is None else CursorFilter(cursor, lower_bound)


def _parse_option(
    option: str, text: str | None, cursor: str, cursor_type: pa.DataType
) -> CursorValue:
    """A command-line bound parsed with the cursor column's type; UsageError if invalid."""
    assert text is not None  # IngestConfig checks that a window has both bounds
    try:
        return parse_cursor_value(text, cursor_type)
    except ValueError as exc:
        raise UsageError(f"{option} for cursor column {cursor!r}: {exc}") from exc


def _lower_bound(
    config: IngestConfig, cursor: str, cursor_type: pa.DataType, state: IncrementalState | None
) -> CursorValue | None:
    """The inclusive lower bound of an incremental read.

    It is the stored watermark (``state``), else ``--initial-value``, else None (read everything).
    """
    if state is not None and state.cursor_column != cursor:
        raise StateError(
            f"{config.destination_schema}.{config.destination_table} was loaded incrementally "
            f"on cursor {state.cursor_column!r}, not {cursor!r}; run once with "
            f"--write-disposition replace to start over"
        )
    if state is not None and state.watermark is not None:
        try:
            return parse_cursor_value(state.watermark, cursor_type)
        except ValueError as exc:
            raise StateError(f"stored watermark of cursor {cursor!r}: {exc}") from exc
    if config.initial_value is None:
        return None
    return _parse_option("--initial-value", config.initial_value, cursor, cursor_type)


@dataclass(frozen=True)
class StagedRows:
    """A complete staging file, its row count and the largest cursor value in it."""

    file: Path
    rows: int
    maximum: CursorValue | None


def stage_rows(
    config: IngestConfig,
    source: Source,
    table: SourceTable,
    bound: CursorFilter | None,
    area: StagingArea,
) -> StagedRows:
    """Stream the source table into ``staged.parquet`` in ``area``; track rows and the cursor's maximum.

    A window's bounds are applied to every batch, whatever the source pushed down.

    Raises:
        ConversionError, SourceError: As :meth:`Source.read`.
    """
    batches = CountedBatches(source, table, config.batch_size, bound, config.incremental_cursor)
    with ParquetStager(area.path / "staged.parquet", table.schema) as stager, \
            contextlib.closing(iter(batches)) as read:  # a failed write closes the source's read
        for batch in read:
            stager.write(batch)
        path = stager.finish()
    return StagedRows(path, batches.rows, batches.maximum)
