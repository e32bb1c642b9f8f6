"""The validated parameters of one ingestion run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingest.destinations import STATE_TABLE, DeleteMode, WriteDisposition
from ingest.errors import UsageError

DEFAULT_BATCH_SIZE = 50_000


@dataclass(frozen=True)
class IngestConfig:
    """Everything one invocation needs, checked for consistency on construction.

    Attributes:
        source: Registered source name, e.g. ``sql``.
        table: Source table name.
        source_options: The source kind's option values, by ``dest`` (see :mod:`ingest.kinds`).
        destination: Registered destination name, e.g. ``duckdb``.
        destination_options: The destination kind's option values, by ``dest``.
        destination_schema: Destination schema, e.g. ``raw``.
        destination_table: Destination table name.
        write_disposition: replace, append or merge.
        primary_key: Merge key given on the command line; None to use the source's declared key.
        incremental_cursor: Cursor column for incremental loads; None for full loads.
        initial_value: Text form of the lower bound used when no watermark is stored yet; in
            window mode, the window's inclusive start.
        end_value: Text form of the inclusive end of a window load (backfill): with it, the
            run reads ``initial_value <= incremental_cursor <= end_value`` and loads the rows
            as a plain (non-incremental) load, neither reading nor storing a watermark.
        deletes: What a full merge (or a ``--reconcile-keys`` load) does with destination rows
            whose key the source no longer has (``--deletes``); None for the destination's
            default (see :meth:`delete_mode`).
        reconcile_keys: For an incremental merge of a ``sql`` source: also read every source
            key (the key columns only) and apply ``deletes`` to the rows whose key is gone.
        reconcile_every: Like ``reconcile_keys``, but only on every Nth incremental load of the
            table (counted in the destination's state); None for never.
        batch_size: Rows per batch read from the source; bounds memory.

    Raises:
        UsageError: If the parameters contradict each other or are out of range.
    """

    source: str
    table: str
    source_options: Mapping[str, Any]
    destination: str
    destination_options: Mapping[str, Any]
    destination_schema: str
    destination_table: str
    write_disposition: WriteDisposition = WriteDisposition.MERGE
    primary_key: tuple[str, ...] | None = None
    incremental_cursor: str | None = None
    initial_value: str | None = None
    end_value: str | None = None
    deletes: DeleteMode | None = None
    reconcile_keys: bool = False
    reconcile_every: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        for option, value in (
            ("--table", self.table),
            ("--destination-schema", self.destination_schema),
            ("--destination-table", self.destination_table),
        ):
            if not value.strip():
                raise UsageError(f"{option} must not be empty")
        if self.destination_table == STATE_TABLE:
            raise UsageError(f"{STATE_TABLE} is reserved for the worker's incremental state")
        if self.batch_size <= 0:
            raise UsageError(f"--batch-size must be positive, got {self.batch_size}")
        if self.primary_key is not None:
            if self.write_disposition is not WriteDisposition.MERGE:
                raise UsageError("--primary-key applies to --write-disposition merge only")
            if not self.primary_key or not all(self.primary_key):
                raise UsageError("--primary-key needs one or more comma-separated column names")
        if self.end_value is not None:
            if self.incremental_cursor is None:
                raise UsageError("--end-value needs --incremental-cursor")
            if self.initial_value is None:
                raise UsageError("--end-value needs --initial-value (the window's start)")
            if self.write_disposition is WriteDisposition.REPLACE:
                raise UsageError(
                    "--end-value cannot be combined with --write-disposition replace (a replace "
                    "would drop the rows outside the window); use merge or append"
                )
        if self.initial_value is not None and self.incremental_cursor is None:
            raise UsageError("--initial-value needs --incremental-cursor")
        if self.incremental_cursor is not None and (
            self.write_disposition is WriteDisposition.REPLACE
        ):
            raise UsageError(
                "--incremental-cursor cannot be combined with --write-disposition replace "
                "(a replace always reloads the whole table)"
            )

        if self.source == "postgres-cdc" and (self.write_disposition is not WriteDisposition.MERGE
                                              or self.incremental_cursor is not None or self.reconcile_keys):
            raise UsageError(
                "--source postgres-cdc merges every change on the primary key: use --write-disposition merge, "
                "without --incremental-cursor or --reconcile-keys (the slot's position is the watermark)"
            )
        if self.reconcile_every is not None and (self.reconcile_keys or self.reconcile_every < 1):
            raise UsageError("--reconcile-every takes a positive number of loads and replaces --reconcile-keys "
                             "(which is --reconcile-every 1)")
        option = "--reconcile-keys" if self.reconcile_keys else "--reconcile-every"
        if self.reconciles and (self.write_disposition is not WriteDisposition.MERGE
                                or self.incremental_cursor is None or self.window):
            raise UsageError(
                f"{option} is for incremental merge loads (--write-disposition merge with "
                "--incremental-cursor, no --end-value); a full merge finds deleted keys by itself"
            )
        if self.reconciles and self.source != "sql":
            raise UsageError(f"{option} reads the key columns of a sql source; the {self.source} "
                             "source cannot read them alone")
        if self.deletes not in (None, DeleteMode.IGNORE) and not (self.full_merge or self.reconciles):
            raise UsageError(
                f"--deletes {self.deletes} applies to full merge loads only (--write-disposition merge "
                "without --incremental-cursor) or with --reconcile-keys: an incremental or window "
                "load does not read every source key, so it cannot tell a deleted row from one it "
                "did not read; replace already leaves exactly the source's rows"
            )

    @property
    def full_merge(self) -> bool:
        """True for a merge that reads every source row, or every change (CDC): the loads that see deletes."""
        return self.write_disposition is WriteDisposition.MERGE and self.incremental_cursor is None

    @property
    def reconciles(self) -> bool:
        """True when some loads reconcile keys (``--reconcile-keys`` or ``--reconcile-every``)."""
        return self.reconcile_keys or self.reconcile_every is not None

    def reconciles_now(self, loads_since_reconcile: int) -> bool:
        """Whether this load reads every source key, given the loads stored since the last that did."""
        if self.reconcile_every is None:
            return self.reconcile_keys
        return loads_since_reconcile + 1 >= self.reconcile_every

    def delete_mode(self, destination_supports_deletes: bool, reconciling: bool | None = None) -> DeleteMode:
        """The delete handling of this load on a destination.

        Args:
            destination_supports_deletes: ``Destination.supports_deletes``.
            reconciling: Whether this load reconciles keys (see :meth:`reconciles_now`); None
                for ``--reconcile-keys``.

        Returns:
            ``--deletes`` when given (IGNORE for an incremental load that does not reconcile this
            time); else SOFT for a full merge or a reconciling load on a destination that
            supports deletes, IGNORE otherwise.

        Raises:
            UsageError: SOFT or HARD (or reconciling) asked of a destination that cannot apply
                them (dlt).
        """
        reconciling = self.reconcile_keys if reconciling is None else reconciling
        wants = self.deletes not in (None, DeleteMode.IGNORE) or self.reconciles
        if wants and not destination_supports_deletes:
            raise UsageError(f"the {self.destination} destination cannot apply deletes (--deletes {self.deletes}, "
                             "--reconcile-keys); use the duckdb or postgres destination")
        sees_every_key = self.full_merge or reconciling
        if self.deletes is not None:
            return self.deletes if sees_every_key else DeleteMode.IGNORE
        return DeleteMode.SOFT if sees_every_key and destination_supports_deletes else DeleteMode.IGNORE

    @property
    def window(self) -> bool:
        """True for a window load (``--end-value``): bounded read, no watermark."""
        return self.end_value is not None
