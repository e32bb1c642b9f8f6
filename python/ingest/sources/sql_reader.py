"""Which reader the ``sql`` source reads a table with (``--reader``), and why.

Three readers produce the same Arrow batches (same types, same values):

* ``duckdb-scanner`` (:mod:`ingest.sources.sql_scanner`): DuckDB's PostgreSQL/SQLite scanners,
  parallel, in C++; into a DuckDB warehouse it writes the rows straight into the load
  transaction, with no staging file. The fastest where it applies.
* ``adbc`` (:mod:`ingest.sources.sql_adbc`): ADBC drivers for PostgreSQL and SQLite, Arrow
  batches decoded in C; also runs custom queries (``--query``).
* ``sqlalchemy`` (:mod:`ingest.sources.sql`): a streaming DBAPI cursor of any SQLAlchemy
  driver, rows converted column-wise by Arrow. The general fallback (MySQL/MariaDB, any other
  database), and the reader of exported snapshots (``postgres-cdc``).

``auto`` (the default) picks the first that applies, in that order.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.errors import UsageError
from ingest.sources.sql_adbc import ADBC_BACKENDS
from ingest.sources.sql_scanner import scanner_backends, unscannable_columns
from ingest.sources.sql_select import SqlColumn


class Reader(enum.StrEnum):
    """A value of ``--reader``."""

    AUTO = "auto"
    ADBC = "adbc"
    DUCKDB_SCANNER = "duckdb-scanner"
    SQLALCHEMY = "sqlalchemy"


@dataclass(frozen=True)
class ReaderChoice:
    """The reader of one table read and the reason, for the log.

    Attributes:
        reader: Never ``AUTO``.
        reason: Why, e.g. ``auto: custom query`` or ``--reader adbc``.
    """

    reader: Reader
    reason: str


def choose_reader(requested: Reader, backend: str, columns: Sequence[SqlColumn], *, query: bool,
                  snapshot: bool, parallel: int | None) -> ReaderChoice:
    """Decide the reader of one table read.

    Args:
        requested: ``--reader``.
        backend: SQLAlchemy backend name of the source, e.g. ``postgresql``.
        columns: The columns to read.
        query: Whether the read is a custom query (``--query``).
        snapshot: Whether the read must see an exported snapshot (``postgres-cdc``).
        parallel: ``--parallel``; more than one connection needs the scanner.

    Returns:
        The reader and why.

    Raises:
        UsageError: If the requested reader cannot read this source, query or columns; the
            message says which reader can.
    """
    unscannable = unscannable_columns(backend, columns)
    scanner_blocker = (
        f"it reads {', '.join(scanner_backends())} only, not {backend}" if backend not in scanner_backends()
        else "a custom query is read by adbc or sqlalchemy" if query
        else "reads inside an exported snapshot use sqlalchemy" if snapshot
        else f"columns {', '.join(unscannable)} do not read exactly through DuckDB" if unscannable
        else None
    )
    adbc_blocker = (
        f"it reads {', '.join(ADBC_BACKENDS)} only, not {backend}" if backend not in ADBC_BACKENDS
        else "reads inside an exported snapshot use sqlalchemy" if snapshot
        else None
    )
    if parallel is not None and parallel > 1 and requested is not Reader.AUTO and requested is not Reader.DUCKDB_SCANNER:
        raise UsageError(f"--parallel {parallel} needs --reader duckdb-scanner (or auto), which splits the "
                         f"table into page or rowid ranges; --reader {requested} reads on one connection")
    if requested is Reader.DUCKDB_SCANNER:
        if scanner_blocker:
            raise UsageError(f"--reader duckdb-scanner cannot read this: {scanner_blocker}; use --reader auto")
        return ReaderChoice(requested, "--reader duckdb-scanner")
    if requested is Reader.ADBC:
        if adbc_blocker:
            raise UsageError(f"--reader adbc cannot read this: {adbc_blocker}; use --reader auto")
        return ReaderChoice(requested, "--reader adbc")
    if requested is Reader.SQLALCHEMY:
        return ReaderChoice(requested, "--reader sqlalchemy")
    if scanner_blocker is None:
        return ReaderChoice(Reader.DUCKDB_SCANNER, f"auto: DuckDB's {backend} scanner reads every column exactly")
    if parallel is not None and parallel > 1:
        raise UsageError(f"--parallel {parallel} needs the duckdb-scanner reader, which cannot read this: "
                         f"{scanner_blocker}; drop --parallel")
    if adbc_blocker is None:
        return ReaderChoice(Reader.ADBC, f"auto: not the scanner ({scanner_blocker})")
    return ReaderChoice(Reader.SQLALCHEMY, f"auto: neither the scanner nor ADBC ({adbc_blocker})")
