"""Errors of the ingestion worker, all :class:`worker_kit.errors.WorkerError` subclasses.

Terminal errors (a missing table, a value that does not convert, a schema conflict) fail the
same way on every retry; transient ones (``transient = True``: a warehouse locked by another
worker for too long, a dropped source connection) may succeed when the run is retried.
"""

from __future__ import annotations

from worker_kit.errors import ConfigError, TransientError, UsageError, WorkerError

__all__ = [
    "ColumnNotFoundError",
    "ConfigError",
    "ConversionError",
    "DestinationError",
    "DestinationLockedError",
    "IngestError",
    "PrimaryKeyError",
    "SchemaConflictError",
    "SourceConnectionError",
    "SourceError",
    "StateError",
    "TableNotFoundError",
    "UsageError",
]


class IngestError(WorkerError):
    """Base of the errors raised while ingesting a table."""


class SourceError(IngestError, RuntimeError):
    """The source refused a request or returned something unusable."""


class SourceConnectionError(SourceError, ConnectionError):
    """The source could not be reached or the connection dropped; retrying may help."""

    transient = True


class TableNotFoundError(SourceError, LookupError):
    """The requested table does not exist in the source."""


class ColumnNotFoundError(SourceError, LookupError):
    """A column named on the command line (key, cursor) does not exist in the source table."""


class ConversionError(IngestError, ValueError):
    """A source value cannot be converted to the column's Arrow type."""


class PrimaryKeyError(IngestError, ValueError):
    """No primary key is known for a merge, or its columns are missing or NULL."""


class SchemaConflictError(IngestError, TypeError):
    """A source column's type differs from the existing destination column's type."""


class StateError(IngestError, ValueError):
    """The incremental state stored in the destination does not fit this invocation."""


class DestinationError(IngestError, RuntimeError):
    """The destination refused the load; it is left as it was before the run."""


class DestinationLockedError(DestinationError, TransientError):
    """Another process held the destination's write lock for longer than the lock timeout."""
