"""One change-data-capture run (``--source postgres-cdc``): snapshot first, then changes, exactly once.

First run (no replication slot, or a destination table without a CDC position): create the
table's publication and slot, read the table in the slot's exported snapshot and load it as a
full merge (rows whose key the snapshot lacks are deleted per ``--deletes``), storing the slot's
consistent point as the table's position. Every later run reads the changes of the transactions
committed since the stored position (up to the WAL flush position at its start), keeps each key's last
change, and applies upserts and deletes in one destination transaction together with the new
position; only then is the slot advanced. A run killed between the destination's commit and the
slot's advance leaves the slot behind the stored position: the next run reads those changes
again and skips every transaction that commits before the stored position, so nothing is lost
or applied twice.

The position is stored in the destination's ``_ingest_state`` as cursor column ``pg_lsn`` with
the LSN as text (``0/16B3748``): the end of the last transaction applied.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

from ingest.config import IngestConfig
from ingest.destinations import Destination, LoadRequest, LoadResult, WriteDisposition, open_destination
from ingest.errors import StateError, UsageError
from ingest.pipeline import IngestSummary, primary_key_of, stage_rows
from ingest.sources import SourceTable, open_source
from ingest.sources.postgres_cdc import PostgresCdcSource
from ingest.sources.postgres_cdc.changes import net_changes, stage_changes
from ingest.sources.postgres_cdc.pgoutput import format_lsn, parse_lsn
from ingest.sources.postgres_cdc.slot import ReplicationSlot
from ingest.staging import StagingArea

logger = logging.getLogger(__name__)

CDC_CURSOR = "pg_lsn"
"""The cursor column a CDC table's position is stored under in ``_ingest_state``."""

PAUSE_BEFORE_ACK_ENV = "INGEST_CDC_PAUSE_BEFORE_ACK"
"""Fault injection for crash tests: seconds to wait after the destination commit, before the slot
is advanced (the window in which a killed worker must lose nothing and double nothing)."""


def run_cdc(config: IngestConfig, environ: Mapping[str, str] | None = None) -> IngestSummary:
    """Load a PostgreSQL table's snapshot, or the changes since the last run, into the destination.

    Args:
        config: Validated parameters with ``source == "postgres-cdc"``.
        environ: Environment holding the source URL and destination settings; defaults to ``os.environ``.

    Returns:
        The summary: ``rows_read`` is the snapshot's rows or the changes read, ``watermark`` the
        position stored (an LSN).

    Raises:
        UsageError: If the destination cannot apply deletes (dlt).
        StateError: If the slot was advanced past the destination's position (changes were lost).
        SourceError: If ``wal_level`` is not ``logical``, or the slot or publication cannot be used.
        WorkerError: Any other error of :mod:`ingest.errors`; the destination is unchanged
            unless the function returns.
    """
    environ = os.environ if environ is None else environ
    started = time.perf_counter()
    destination = open_destination(config.destination, config.destination_options, environ)
    if not destination.supports_deletes:
        raise UsageError(f"--source {config.source} applies deletes, which the {config.destination} destination "
                         "cannot; use the duckdb or postgres destination")
    source = open_source(config.source, config.source_options, environ)
    assert isinstance(source, PostgresCdcSource)
    target = destination.describe_table(config.destination_schema, config.destination_table)
    try:
        table = source.describe(config.table)
        key = primary_key_of(config, table)
        slot = source.slot_for(config.table)
        slot.check_server()
        slot.check_table(source.schema, config.table, key, table.primary_key)
        position = _stored_position(destination, config)
        confirmed = slot.confirmed_lsn()
        with StagingArea(destination.staging_parent()) as area:
            if confirmed is not None and position is None:
                logger.info("replication slot %s exists but %s holds no position from it: dropping the slot to "
                            "take a new snapshot", slot.slot, target)
                slot.drop()
                confirmed = None
            if confirmed is None:
                rows_read, result, position = _load_snapshot(config, source, slot, table, key, destination, area)
            else:
                assert position is not None
                if confirmed > position:
                    raise StateError(
                        f"replication slot {slot.slot} was advanced to {format_lsn(confirmed)}, past the "
                        f"{format_lsn(position)} {target} holds: the changes in between are gone. Drop the slot "
                        f"(SELECT pg_drop_replication_slot('{slot.slot}')) and run again to take a new snapshot")
                rows_read, result, position = _load_changes(config, source, slot, table, key, destination, area,
                                                            position, environ)
                if position > confirmed:
                    slot.advance(position)
    finally:
        source.close()
    seconds = time.perf_counter() - started
    logger.info("%s now holds the source up to %s: %s rows written, %s deleted, in %.1fs", target,
                format_lsn(position), f"{result.rows_written:,}", f"{result.rows_deleted:,}", seconds)
    return IngestSummary(config.table, target, WriteDisposition.MERGE, rows_read, result.rows_written,
                         result.rows_deleted, seconds, format_lsn(position))


def _stored_position(destination: Destination, config: IngestConfig) -> int | None:
    """The end LSN the destination table holds the source up to, or None (no CDC load yet)."""
    state = destination.read_state(config.destination_schema, config.destination_table)
    if state is None or state.cursor_column != CDC_CURSOR or state.watermark is None:
        return None
    try:
        return parse_lsn(state.watermark)
    except ValueError as exc:
        raise StateError(f"stored position of {config.destination_table}: {exc}") from exc


def _load_snapshot(config: IngestConfig, source: PostgresCdcSource, slot: ReplicationSlot, table: SourceTable,
                   key: tuple[str, ...], destination: Destination, area: StagingArea) -> tuple[int, LoadResult, int]:
    """Create the slot, load the table as of its start; ``(rows read, result, position stored)``."""
    slot.ensure_publication(source.schema, config.table)  # before the slot: changes are decoded against it
    with slot.create_with_snapshot() as (consistent_point, snapshot):
        logger.info("created replication slot %s at %s; loading %s as of its snapshot", slot.slot,
                    format_lsn(consistent_point), config.table)
        reader = source.snapshot_reader(snapshot)
        try:
            staged = stage_rows(config, reader, reader.describe(config.table), None, area)
        finally:
            reader.close()
    result = destination.load(LoadRequest(
        schema=config.destination_schema, table=config.destination_table, staging_file=staged.file,
        write_disposition=WriteDisposition.MERGE, primary_key=key, primary_key_unique=table.primary_key_enforced,
        cursor_column=CDC_CURSOR, watermark=format_lsn(consistent_point), deletes=config.delete_mode(True)))
    return staged.rows, result, consistent_point


def _load_changes(config: IngestConfig, source: PostgresCdcSource, slot: ReplicationSlot, table: SourceTable,
                  key: tuple[str, ...], destination: Destination, area: StagingArea, position: int,
                  environ: Mapping[str, str]) -> tuple[int, LoadResult, int]:
    """Apply the changes committed since ``position``; ``(changes read, result, position stored)``."""
    upto = slot.current_lsn()
    staged = stage_changes(slot.peek(upto), table, source.schema, key, position, area.path / "changes.parquet",
                           config.batch_size)
    logger.info("read %s transactions from %s to %s: %s inserts, %s updates, %s deletes%s", f"{staged.transactions:,}",
                format_lsn(position), format_lsn(upto), f"{staged.inserts:,}", f"{staged.updates:,}",
                f"{staged.deletes:,}", ", a TRUNCATE" if staged.truncated_at is not None else "")
    net = net_changes(staged, table, key, area.path, config.batch_size)
    # Every transaction committing before `upto` was read (the slot's own and the others'), so
    # the position moves to `upto` even when the table had no change: the slot then lets the
    # server recycle the WAL of a busy database whatever this table does.
    new_position = max(position, upto, staged.end_lsn or 0)
    result = destination.load(LoadRequest(
        schema=config.destination_schema, table=config.destination_table, staging_file=net.upserts,
        write_disposition=WriteDisposition.MERGE, primary_key=key, primary_key_unique=True,
        cursor_column=CDC_CURSOR, watermark=format_lsn(new_position), deletes=config.delete_mode(True),
        # after a TRUNCATE, the table holds exactly the keys written since: a full merge of those
        deleted_keys_file=None if net.upserted_keys else net.deleted_keys, source_keys_file=net.upserted_keys))
    pause = float(environ.get(PAUSE_BEFORE_ACK_ENV, "0") or 0)
    if pause > 0:
        logger.info("committed up to %s; waiting %gs before advancing the slot (%s)", format_lsn(new_position), pause,
                    PAUSE_BEFORE_ACK_ENV)
        time.sleep(pause)
    return staged.changes, result, new_position
