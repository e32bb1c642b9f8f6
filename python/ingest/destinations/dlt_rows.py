"""The staged rows as the dlt destination hands them to dlt: checked, deduplicated, stamped.

dlt writes what it is given, so the load rules the other destinations apply in SQL are applied
here, while the staged Parquet file streams through in bounded Arrow batches:

- merge: a NULL key fails the load before dlt starts; repeated keys keep the last row read
  (DuckDB over the staged file, spilling to disk as needed);
- incremental loads: the source is read from ``cursor >= lower bound``, so rows at exactly the
  bound may already be loaded. The incremental state keeps a digest of every row loaded at the
  watermark, with its count; staged rows at the bound whose digest is there are not handed
  over again (``EXCEPT ALL``, as the DuckDB destination does against the table). A re-run of
  the same window therefore hands dlt nothing and the destination does not change;
- every row gets ``_loaded_at``, the time of the load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.destinations.base import LOADED_AT_COLUMN, LoadRequest, WriteDisposition
from ingest.destinations.duckdb_apply import quote
from ingest.errors import PrimaryKeyError
from ingest.watermark import CursorValue, format_cursor_value

logger = logging.getLogger(__name__)

BATCH_ROWS = 50_000
_DEDUPLICATION_MEMORY = "512MB"


def row_digest(row: Mapping[str, Any]) -> str:
    """A stable digest of one row's values (column order does not matter).

    Args:
        row: ``{column: value}`` as Arrow's ``to_pylist`` gives it.

    Returns:
        32 hexadecimal characters.
    """
    text = json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class StagedRows:
    """Batches of a staged load, ready for dlt, and the incremental state they leave.

    Args:
        request: The load: staged file, disposition, key, cursor, bounds.
        loaded_at: Value of ``_loaded_at`` for every row (UTC).
        stored_boundary: Digests (with counts) of the rows loaded at the stored watermark, when
            the stored watermark equals ``request.lower_bound``; empty otherwise.

    Raises:
        PrimaryKeyError: From :meth:`check` if a merge key column holds NULL.
    """

    def __init__(self, request: LoadRequest, loaded_at: dt.datetime, stored_boundary: Mapping[str, int]) -> None:
        self.request = request
        self.loaded_at = loaded_at
        self.stored_boundary = Counter(stored_boundary)
        self.rows_written = 0
        self._skip = Counter(stored_boundary)
        self._at_watermark: Counter[str] = Counter()
        self._duplicates = 0

    def check(self) -> None:
        """Check the merge key over the whole staged file before anything is loaded.

        Raises:
            PrimaryKeyError: If a key column holds NULL.
        """
        if self.request.write_disposition is not WriteDisposition.MERGE:
            return
        key = self.request.primary_key
        any_null = " OR ".join(f"{quote(k)} IS NULL" for k in key)
        distinct = ", ".join(quote(k) for k in key)
        duplicates = "0" if self.request.primary_key_unique else f"count(*) - count(DISTINCT ({distinct}))"
        with duckdb.connect(config={"memory_limit": _DEDUPLICATION_MEMORY}) as connection:
            nulls, self._duplicates = connection.execute(
                f"SELECT count(*) FILTER (WHERE {any_null}), {duplicates} FROM read_parquet(?)",
                [str(self.request.staging_file)],
            ).fetchone() or (0, 0)
        if nulls:
            raise PrimaryKeyError(
                f"{nulls:,} source rows have NULL in primary key ({', '.join(key)}); merge needs a non-null key"
            )

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows to hand to dlt, in batches of at most :data:`BATCH_ROWS`.

        Yields:
            The staged columns plus ``_loaded_at`` (timestamp[us, UTC]); key columns non-null.
        """
        for batch in self._source_batches():
            if self.request.cursor_column is not None:
                batch = self._track_boundaries(batch)
            if batch.num_rows == 0:
                continue
            self.rows_written += batch.num_rows
            yield self._stamped(batch)

    def empty_batch(self) -> pa.RecordBatch:
        """No rows, in the staged schema plus ``_loaded_at``: creates a table with no data."""
        schema = pq.read_schema(self.request.staging_file)
        return self._stamped(pa.RecordBatch.from_pylist([], schema=schema))

    def boundary_after(self) -> dict[str, int]:
        """Digests of the rows at the new watermark, as the state to store after this load.

        For append, rows still loaded at an unchanged watermark stay counted (the table keeps
        them); for merge, the staged rows at the watermark are the whole truth.
        """
        request = self.request
        unchanged = request.watermark is not None and request.watermark == request.lower_bound
        if unchanged and request.write_disposition is WriteDisposition.APPEND:
            return dict(self._at_watermark | self.stored_boundary)
        return dict(self._at_watermark)

    def _source_batches(self) -> Iterator[pa.RecordBatch]:
        """The staged rows; for a merge with repeated keys, the last row read of each key."""
        file = self.request.staging_file
        if not self._duplicates:
            yield from pq.ParquetFile(file).iter_batches(batch_size=BATCH_ROWS)
            return
        key = ", ".join(quote(k) for k in self.request.primary_key)
        logger.warning(
            "%s source rows repeat a primary key (%s); keeping the last row read for each key",
            f"{self._duplicates:,}",
            ", ".join(self.request.primary_key),
        )
        config = {"memory_limit": _DEDUPLICATION_MEMORY, "temp_directory": str(Path(file).parent / "duckdb_tmp")}
        with duckdb.connect(config=config) as connection:
            reader = connection.execute(
                "SELECT * EXCLUDE (file_row_number) FROM read_parquet(?, file_row_number = true) "
                f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY file_row_number DESC) = 1",
                [str(file)],
            ).fetch_record_batch(BATCH_ROWS)
            yield from reader

    def _track_boundaries(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Count the rows at the new watermark; drop rows at the bound that are already loaded."""
        request = self.request
        column = batch.column(request.cursor_column)  # type: ignore[arg-type]
        keep = None
        for value, role in ((request.watermark, "watermark"), (request.lower_bound, "bound")):
            if value is None or (role == "bound" and not self._skip):
                continue
            matches = pc.fill_null(pc.equal(column, pa.scalar(value, type=column.type)), False)
            indices = pc.indices_nonzero(matches).to_pylist()
            if not indices:
                continue
            digests = [row_digest(row) for row in batch.take(indices).to_pylist()]
            if role == "watermark":
                self._at_watermark.update(digests)
                continue
            keep = [True] * batch.num_rows
            for index, digest in zip(indices, digests, strict=True):
                if self._skip[digest] > 0:
                    self._skip[digest] -= 1
                    keep[index] = False
        return batch if keep is None else batch.filter(pa.array(keep))

    def _stamped(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        stamp = pa.repeat(pa.scalar(self.loaded_at, pa.timestamp("us", "UTC")), batch.num_rows)
        key = set(self.request.primary_key)
        fields = [field.with_nullable(False) if field.name in key else field for field in batch.schema]
        schema = pa.schema([*fields, pa.field(LOADED_AT_COLUMN, stamp.type)])
        return pa.RecordBatch.from_arrays([*batch.columns, stamp], schema=schema)


def state_of(request: LoadRequest, boundary: Mapping[str, int]) -> dict[str, Any]:
    """The incremental state stored with a load: cursor column, watermark text, boundary digests."""
    watermark: CursorValue | None = request.watermark
    return {
        "cursor_column": request.cursor_column,
        "watermark": None if watermark is None else format_cursor_value(watermark),
        "boundary_rows": dict(boundary),
    }
