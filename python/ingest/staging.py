"""Local staging: source batches go to a Parquet file before the destination is touched.

Workers for different tables run at the same time against one DuckDB file, which only one
process can hold open for writing. So each worker streams its batches into a private staging
directory (next to the warehouse) and holds the warehouse only for the short apply phase.

The directory is removed when the worker ends. A worker killed with SIGKILL cannot clean up;
its directory (named after its process id) is harmless, since nothing reads it, and the next
worker that stages into the same parent directory removes it once that process is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq
from worker_kit.orphans import OwnedDirectory

from ingest.background import BackgroundConsumer

STAGING_PREFIX = ".ingest-staging-"
# LZ4 keeps the file small at almost no CPU cost; DuckDB reads it in parallel by row group.
_COMPRESSION = "lz4"
# Batches waiting for the writer thread; bounds memory to a few batches.
_QUEUE_DEPTH = 2


class StagingArea(OwnedDirectory):
    """A private temporary directory for one worker's staging files.

    Args:
        parent: Directory to create it in (created if missing); the warehouse's folder.
    """

    def __init__(self, parent: Path) -> None:
        super().__init__(parent, STAGING_PREFIX)


class ParquetStager:
    """Writes record batches to one Parquet file on a background thread.

    Arrow's Parquet encoder releases the GIL, so encoding and compression overlap with fetching
    and converting the next batch. Use as a context manager and call :meth:`finish` after the
    last batch; leaving the block without it (an exception) stops the writer.

    Args:
        path: File to create.
        schema: Schema of the file when no batch arrives. Otherwise the file takes the first
            batch's schema (a source that infers types from the data, such as ``rest``, only
            knows it then); every later batch must have that same schema.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self._writer: BackgroundConsumer[pa.RecordBatch, Path] = BackgroundConsumer(
            self._write_all, depth=_QUEUE_DEPTH, name="parquet-stager"
        )

    def __enter__(self) -> ParquetStager:
        self._writer.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._writer.__exit__(exc_type, exc, tb)

    def write(self, batch: pa.RecordBatch) -> None:
        """Queue a batch; blocks while the writer is more than two batches behind.

        Args:
            batch: Record batch with the schema of the first batch written.

        Raises:
            OSError: If writing failed (disk full, permissions); raised by a later call.
        """
        self._writer.put(batch)

    def finish(self) -> Path:
        """Write the Parquet footer and wait for the writer.

        Returns:
            Path of the complete Parquet file.

        Raises:
            OSError: If writing failed.
        """
        return self._writer.finish()

    def _write_all(self, batches: Iterator[pa.RecordBatch]) -> Path:
        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                if writer is None:
                    writer = pq.ParquetWriter(self.path, batch.schema, compression=_COMPRESSION)
                writer.write_batch(batch)  # raises ValueError if the schema differs
            if writer is None:
                writer = pq.ParquetWriter(self.path, self.schema, compression=_COMPRESSION)
        finally:
            if writer is not None:
                writer.close()
        return self.path
