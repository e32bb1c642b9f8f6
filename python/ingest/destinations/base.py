"""The protocol every destination implements: read incremental state, apply one staged load.

A destination receives a complete staging file (Parquet) and applies it in one transaction:
the table changes and the incremental watermark is stored together, or nothing changes.
"""

from __future__ import annotations

import enum
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ingest.watermark import CursorValue

# Column the worker adds to every destination table: when the row was last inserted or changed.
LOADED_AT_COLUMN = "_loaded_at"
# Table in each destination schema holding the watermark of every incremental table.
STATE_TABLE = "_ingest_state"
# Column a soft delete sets: when the row's key was first found missing from the source (NULL: live).
DELETED_AT_COLUMN = "_deleted_at"


class WriteDisposition(enum.StrEnum):
    """How staged rows are written into the destination table."""

    REPLACE = "replace"  # the table becomes exactly the staged rows
    APPEND = "append"  # staged rows are inserted; existing rows stay
    MERGE = "merge"  # rows are upserted on the primary key; unchanged rows are not touched


class DeleteMode(enum.StrEnum):
    """What a full merge does with destination rows whose key the source no longer has."""

    SOFT = "soft"  # set _deleted_at (the row stays; a key that comes back clears it)
    HARD = "hard"  # delete the rows
    IGNORE = "ignore"  # keep them as they are


@dataclass(frozen=True)
class LoadResult:
    """What one applied load changed.

    Attributes:
        rows_written: Rows inserted or updated (0 when a merge found nothing changed).
        rows_deleted: Rows marked deleted (soft) or removed (hard) because their key is gone.
        rows_staged: For a load that read the source itself (:attr:`LoadRequest.staged_scan`,
            ``staged_stream``): the rows read; None otherwise (the caller counted them while staging).
        watermark: For such a load of an incremental read: the watermark it stored.
    """

    rows_written: int
    rows_deleted: int = 0
    rows_staged: int | None = None
    watermark: CursorValue | None = None


@dataclass(frozen=True)
class IncrementalState:
    """The watermark stored for one destination table.

    Attributes:
        cursor_column: The cursor column the watermark belongs to.
        watermark: Text form of the largest cursor value loaded (see :mod:`ingest.watermark`);
            None if the loads so far read no row with a cursor value.
        loads_since_reconcile: Incremental loads stored since the last one that reconciled keys
            (``--reconcile-every``); 0 right after a reconciling load.
    """

    cursor_column: str
    watermark: str | None
    loads_since_reconcile: int = 0


@dataclass(frozen=True)
class LoadRequest:
    """One staged load to apply.

    Attributes:
        schema: Destination schema, e.g. ``raw``.
        table: Destination table name.
        staging_file: Parquet file holding every staged row; None when ``staged_scan`` is given.
        write_disposition: How to write the rows.
        primary_key: Key columns; required for merge.
        primary_key_unique: True when the source guarantees one row per key (a declared,
            enforced primary key); merge then skips its duplicate-key check.
        cursor_column: Cursor column of an incremental load, else None.
        lower_bound: Inclusive lower bound the source was read with, else None. For append,
            staged rows at exactly this value that the table already holds are not inserted
            again.
        watermark: Watermark to store with the data (incremental loads only).
        deletes: For a merge of every source row (a full load), or one given
            ``source_keys_file``: what happens to the table's rows whose key the source no
            longer has. IGNORE for any other load.
        source_keys_file: Parquet file of every key the source holds (``--reconcile-keys`` of an
            incremental merge, or the keys written after a ``TRUNCATE`` read by CDC); None to
            compare with the staged rows (a full merge). A load given it counts as reconciled
            (the state's ``loads_since_reconcile`` restarts at 0).
        deleted_keys_file: Parquet file of the keys the source deleted (change data capture:
            ``--source postgres-cdc``): exactly these rows are marked or removed per ``deletes``,
            and no other; takes precedence over ``source_keys_file``.
        staged_scan: Instead of a staging file: the source read as DuckDB SQL
            (:class:`ingest.sources.sql_scanner.ScanPlan`), which a destination that supports
            it (``supports_scans``) runs inside its load transaction. The destination then
            counts the rows and, for an incremental load, stores ``later(lower_bound, largest
            cursor value read)`` as the watermark (``watermark`` is ignored).
        staged_stream: Instead of a staging file: the source's batches as they are read
            (:class:`ingest.batches.CountedBatches`), which a destination that supports it
            (``supports_streams``) copies inside its load transaction; ``watermark`` is
            ignored as for ``staged_scan``.
    """

    schema: str
    table: str
    staging_file: Path | None
    write_disposition: WriteDisposition
    primary_key: tuple[str, ...] = ()
    primary_key_unique: bool = False
    cursor_column: str | None = None
    lower_bound: CursorValue | None = None
    watermark: CursorValue | None = None
    deletes: DeleteMode = DeleteMode.IGNORE
    source_keys_file: Path | None = None
    deleted_keys_file: Path | None = None
    staged_scan: Any = None
    staged_stream: Any = None


class Destination(Protocol):
    """A warehouse rows are loaded into. Implementations live in ``ingest/destinations/``."""

    def describe_table(self, schema: str, table: str) -> str:
        """How the destination names a table in messages and summaries, e.g. ``raw.orders``."""
        ...

    def staging_parent(self) -> Path:
        """Directory in which workers create their private staging directories."""
        ...

    def read_state(self, schema: str, table: str) -> IncrementalState | None:
        """The stored watermark of a table, or None when it has none.

        Raises:
            DestinationLockedError: If the destination stayed locked past the lock timeout.
            DestinationError: If the destination cannot be read.
        """
        ...

    supports_deletes: bool
    """Whether :attr:`LoadRequest.deletes` SOFT and HARD are applied (else only IGNORE is accepted)."""

    supports_scans: bool
    """Whether :attr:`LoadRequest.staged_scan` is accepted (else only staging files)."""

    supports_streams: bool
    """Whether :attr:`LoadRequest.staged_stream` is accepted (else only staging files)."""

    def load(self, request: LoadRequest) -> LoadResult:
        """Apply a staged load in one transaction.

        Args:
            request: What to load and how.

        Returns:
            Rows written, and rows deleted per ``request.deletes`` (in the same transaction).

        Raises:
            SchemaConflictError: If a staged column's type differs from the table's.
            PrimaryKeyError: If a merge key column holds NULL.
            DestinationLockedError: If the destination stayed locked past the lock timeout.
            DestinationError: If the destination rejects the load; nothing was changed.
        """
        ...


# Fault-injection point for tests: seconds a load sleeps after applying everything and before its
# COMMIT, having printed PAUSE_MESSAGE to stderr (a test SIGKILLs the worker there).
PAUSE_BEFORE_COMMIT_ENV = "INGEST_PAUSE_BEFORE_COMMIT"
PAUSE_MESSAGE = "paused before commit"


def pause_before_commit() -> None:
    """Sleep ``$INGEST_PAUSE_BEFORE_COMMIT`` seconds, if set (tests only; see above)."""
    seconds = os.environ.get(PAUSE_BEFORE_COMMIT_ENV, "").strip()
    if seconds:
        print(PAUSE_MESSAGE, file=sys.stderr, flush=True)
        time.sleep(float(seconds))
