"""One ingestion run: describe the source table, stage its rows locally, apply them atomically."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.config import IngestConfig
from ingest.destinations import (
    LOADED_AT_COLUMN,
    Destination,
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
    batch_maximum,
    cursor_value_json,
    later,
    parse_cursor_value,
)

logger = logging.getLogger(__name__)

_PROGRESS_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class IngestSummary:
    """The outcome of a run; :meth:`as_json` is the worker's last line of output.

    Attributes:
        table: Source table.
        destination_table: Destination table as the destination names it, e.g. ``raw.orders``.
        write_disposition: How rows were written.
        rows_read: Rows read from the source.
        rows_written: Rows inserted or updated in the destination.
        seconds: Wall-clock duration of the run, in seconds.
        watermark: Watermark stored after the run; None when the run is not incremental.
    """

    table: str
    destination_table: str
    write_disposition: WriteDisposition
    rows_read: int
    rows_written: int
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
        table = source.describe(config.table)
        key = _primary_key(config, table)
        lower_bound = _lower_bound(config, table, destination)
        logger.info("ingesting %s into %s (%s)", config.table, target, config.write_disposition)
        with StagingArea(destination.staging_parent()) as area:
            staged = _stage(config, source, table, lower_bound, area)
            logger.info("staged %s rows; applying them to %s", f"{staged.rows:,}", target)
            watermark = later(lower_bound, staged.maximum) if config.incremental_cursor else None
            rows_written = destination.load(
                LoadRequest(
                    schema=config.destination_schema,
                    table=config.destination_table,
                    staging_file=staged.file,
                    write_disposition=config.write_disposition,
                    primary_key=key,
                    primary_key_unique=table.primary_key_enforced and key == table.primary_key,
                    cursor_column=config.incremental_cursor,
                    lower_bound=lower_bound,
                    watermark=watermark,
                )
            )
    finally:
        source.close()
    seconds = time.perf_counter() - started
    logger.info("wrote %s rows into %s in %.1fs", f"{rows_written:,}", target, seconds)
    return IngestSummary(
        config.table,
        target,
        config.write_disposition,
        staged.rows,
        rows_written,
        seconds,
        watermark,
    )


def _primary_key(config: IngestConfig, table: SourceTable) -> tuple[str, ...]:
    """The merge key (from the command line, else the source), checked against the columns."""
    names = table.schema.names
    if LOADED_AT_COLUMN in names:
        raise SchemaConflictError(
            f"source table {table.name!r} has a column {LOADED_AT_COLUMN!r}, which the worker "
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


def _lower_bound(
    config: IngestConfig, table: SourceTable, destination: Destination
) -> CursorValue | None:
    """The inclusive lower bound of an incremental read.

    It is the stored watermark, else ``--initial-value``, else None (read everything).
    """
    cursor = config.incremental_cursor
    if cursor is None:
        return None
    cursor_type = table.schema.field(cursor).type
    state = destination.read_state(config.destination_schema, config.destination_table)
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
    try:
        return parse_cursor_value(config.initial_value, cursor_type)
    except ValueError as exc:
        raise UsageError(f"--initial-value for cursor column {cursor!r}: {exc}") from exc


@dataclass(frozen=True)
class _Staged:
    """A complete staging file, its row count and the largest cursor value in it."""

    file: Path
    rows: int
    maximum: CursorValue | None


def _stage(
    config: IngestConfig,
    source: Source,
    table: SourceTable,
    lower_bound: CursorValue | None,
    area: StagingArea,
) -> _Staged:
    """Stream the source table into a Parquet file; track rows and the cursor's maximum."""
    cursor = config.incremental_cursor
    bound = None if cursor is None or lower_bound is None else CursorFilter(cursor, lower_bound)
    rows = 0
    maximum: CursorValue | None = None
    started = last_report = time.perf_counter()
    with (
        ParquetStager(area.path / "staged.parquet", table.schema) as stager,
        contextlib.closing(source.read(table, config.batch_size, bound)) as batches,
    ):
        for batch in batches:
            stager.write(batch)
            rows += batch.num_rows
            if cursor is not None:
                maximum = later(maximum, batch_maximum(batch.column(cursor)))
            now = time.perf_counter()
            if now - last_report >= _PROGRESS_EVERY_SECONDS:
                rate = rows / (now - started)
                logger.info("read %s rows (%s rows/s)", f"{rows:,}", f"{rate:,.0f}")
                last_report = now
        path = stager.finish()
    return _Staged(path, rows, maximum)
