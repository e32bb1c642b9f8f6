"""The protocol every source implements: list tables, describe one, stream it as Arrow batches.

A source knows nothing about destinations, staging or write dispositions. It reports the Arrow
schema and primary key of a table and yields record batches of that schema, optionally only the
rows whose cursor column is at least a lower bound (incremental loads) and, where the source can
push it down, at most an upper bound (window loads; the pipeline filters every batch on the upper
bound too, so a source may ignore it).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from ingest.watermark import CursorValue


@dataclass(frozen=True)
class SourceTable:
    """A table (or object) of a source, as the worker sees it.

    Attributes:
        name: Name of the table in the source, without schema.
        schema: Arrow schema of the batches :meth:`Source.read` yields. A source that infers
            column types from the data (``rest``) gives the columns it knows before reading;
            its batches hold these columns first, then the inferred ones.
        primary_key: Primary key columns declared in the source; empty when none is declared.
        primary_key_enforced: True when the source itself guarantees at most one row per
            ``primary_key`` value (a database constraint), so loads need not check for
            duplicate keys.
    """

    name: str
    schema: pa.Schema
    primary_key: tuple[str, ...]
    primary_key_enforced: bool = False


@dataclass(frozen=True)
class CursorFilter:
    """Restrict a read to rows whose cursor column is at or after a lower bound (and, for a
    window load, at or before an upper bound).

    Attributes:
        column: Name of the cursor column, e.g. ``updated_at``.
        lower_bound: Rows with ``column >= lower_bound`` are read (inclusive, so rows that share
            the last loaded value and arrived later are not missed).
        upper_bound: For a window load (``--end-value``), only rows with
            ``column <= upper_bound`` (inclusive) are wanted; None for no upper limit. Sources
            that can push it into their query do (``sql``); the others may ignore it, since the
            pipeline drops the rows above it (and rows with a null cursor) from every batch.
    """

    column: str
    lower_bound: CursorValue
    upper_bound: CursorValue | None = None


class Source(Protocol):
    """A system rows are ingested from. Implementations live in ``ingest/sources/<name>.py``."""

    def list_tables(self) -> list[str]:
        """Names of the tables (or objects) that can be ingested, sorted.

        Raises:
            SourceConnectionError: If the source cannot be reached.
        """
        ...

    def describe(self, table: str) -> SourceTable:
        """Schema and primary key of one table.

        Args:
            table: Table name as given on the command line.

        Raises:
            TableNotFoundError: If the table does not exist; the message lists the tables.
            SourceConnectionError: If the source cannot be reached.
        """
        ...

    def read(
        self, table: SourceTable, batch_size: int, cursor: CursorFilter | None
    ) -> Generator[pa.RecordBatch, None, None]:
        """Stream a table's rows; close the generator to stop early and release the source.

        Args:
            table: The table, as returned by :meth:`describe`.
            batch_size: Maximum rows per batch; memory use is bounded by a few batches.
            cursor: Optional lower bound (and optional upper bound, which a source may leave
                to the pipeline) on the cursor column.

        Yields:
            Record batches, all of one schema: ``table.schema``, or for a source that infers
            column types, ``table.schema``'s columns followed by the inferred ones.

        Raises:
            ConversionError: If a value does not fit its column's Arrow type.
            SourceError: If the source fails while reading.
        """
        ...

    def close(self) -> None:
        """Release connections; the source is unusable afterwards."""
        ...
