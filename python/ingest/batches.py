"""The batches of one source read as they pass: window-filtered, counted, cursor maximum tracked.

Whatever consumes the read (the Parquet stager, or a destination copying the batches straight
into its load transaction) iterates a :class:`CountedBatches`; afterwards it knows how many rows
were read and the largest cursor value among them, from which the watermark is computed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from ingest.sources import CursorFilter, Source, SourceTable
from ingest.watermark import CursorValue, batch_maximum, later

logger = logging.getLogger(__name__)

_PROGRESS_EVERY_SECONDS = 10.0


class CountedBatches:
    """One read of a source table, iterable once.

    Args:
        source: The source.
        table: The table as described by the source.
        batch_size: Rows per batch.
        bound: The read's cursor filter. A window's bounds are applied to every batch,
            whatever the source pushed down (see :func:`in_window`).
        cursor: Cursor column whose maximum to track; None for none.

    Attributes:
        schema: Schema of every batch (``table.schema``; a source that infers types may add
            columns, see :class:`~ingest.sources.base.SourceTable`).
        rows: Rows yielded so far.
        maximum: Largest non-null cursor value yielded so far; None if none.
    """

    def __init__(self, source: Source, table: SourceTable, batch_size: int, bound: CursorFilter | None,
                 cursor: str | None) -> None:
        self._source = source
        self._table = table
        self._batch_size = batch_size
        self._bound = bound
        self._cursor = cursor
        self.schema = table.schema
        self.rows = 0
        self.maximum: CursorValue | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._batches()

    def _batches(self) -> Generator[pa.RecordBatch, None, None]:
        """Yield the filtered batches; closing the generator closes the source's read.

        Raises:
            ConversionError, SourceError: As :meth:`Source.read`.
        """
        window = self._bound if self._bound is not None and self._bound.upper_bound is not None else None
        started = last_report = time.perf_counter()
        with contextlib.closing(self._source.read(self._table, self._batch_size, self._bound)) as batches:
            for batch in batches:
                if window is not None:
                    batch = in_window(batch, window)
                    if not batch.num_rows:
                        continue
                self.rows += batch.num_rows
                if self._cursor is not None:
                    self.maximum = later(self.maximum, batch_maximum(batch.column(self._cursor)))
                now = time.perf_counter()
                if now - last_report >= _PROGRESS_EVERY_SECONDS:
                    logger.info("read %s rows (%s rows/s)", f"{self.rows:,}", f"{self.rows / (now - started):,.0f}")
                    last_report = now
                yield batch


def in_window(batch: pa.RecordBatch, window: CursorFilter) -> pa.RecordBatch:
    """The rows of a batch with ``lower_bound <= cursor <= upper_bound`` (null cursors dropped).

    The ``rest`` and ``salesforce`` sources push down only the lower bound (Salesforce lowers
    it by ``--lookback-minutes``), so both bounds are checked here.
    """
    column = batch.column(window.column)
    lower = pa.scalar(window.lower_bound, type=column.type)
    upper = pa.scalar(window.upper_bound, type=column.type)
    inside = pc.and_(pc.greater_equal(column, lower), pc.less_equal(column, upper))
    return batch.filter(inside)  # a null comparison drops the row
