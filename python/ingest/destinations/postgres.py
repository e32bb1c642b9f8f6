"""The PostgreSQL destination: COPY the staged rows and apply them in one transaction.

``--destination postgres --destination-url-env VAR`` reads the SQLAlchemy URL of the warehouse
from ``VAR`` (default ``WAREHOUSE_POSTGRES_URL``; ``postgresql://`` or
``postgresql+psycopg://``). A load opens one psycopg 3 connection and

1. creates the destination schema (and ``_ingest_state`` for incremental loads) if missing, in a
   short transaction of its own, so parallel workers never race on ``CREATE ... IF NOT EXISTS``;
2. in one transaction: copies the rows into the table (replace) or a temporary staging table
   (append, merge), applies them (:mod:`.postgres_apply`), stores the watermark, and commits. The
   rows come from the staging Parquet file, or for the ``sql`` source straight from the read
   (:attr:`LoadRequest.staged_stream`): the source is read while the server copies, with no
   staging file.

A worker killed before the commit leaves the table as it was: PostgreSQL rolls back the open
transaction when the connection drops, and the temporary table vanishes with the session.
Staging files go to the system's temporary directory (``TMPDIR``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
from sqlalchemy.engine import URL
from worker_kit.connection import describe_url, url_from_env

from ingest.destinations.base import (
    Destination,
    IncrementalState,
    LoadRequest,
    LoadResult,
    pause_before_commit,
)
from ingest.destinations.postgres_apply import apply_load, prepare_schema, read_state
from ingest.destinations.postgres_types import postgres_columns
from ingest.errors import ConfigError, DestinationError
from ingest.kinds import Kind, OptionGroup

logger = logging.getLogger(__name__)

DEFAULT_URL_ENV = "WAREHOUSE_POSTGRES_URL"
_CONNECT_TIMEOUT_SECONDS = 10
_DRIVER = "postgresql+psycopg"


class PostgresDestination:
    """Tables in one PostgreSQL database.

    Args:
        url: SQLAlchemy URL of the database, with the psycopg 3 driver.

    Raises:
        ConfigError: If the URL is not a ``postgresql+psycopg`` URL.
    """

    def __init__(self, url: URL) -> None:
        if url.drivername != _DRIVER:
            raise ConfigError(
                f"the postgres destination needs a postgresql:// or {_DRIVER}:// URL, "
                f"got {describe_url(url)}"
            )
        self.url = url

    def describe_table(self, schema: str, table: str) -> str:
        """Name of a table for messages and summaries: ``schema.table``."""
        return f"{schema}.{table}"

    def staging_parent(self) -> Path:
        """The system's temporary directory (``TMPDIR``): the database is elsewhere."""
        return Path(tempfile.gettempdir())

    def read_state(self, schema: str, table: str) -> IncrementalState | None:
        """Read a table's stored watermark; None if the state table or its row is absent.

        Raises:
            DestinationError: If the database cannot be reached or read.
        """
        with self._connection("reading the watermark") as connection, connection.cursor() as cursor:
            found = read_state(cursor, schema, table)
        return None if found is None else IncrementalState(*found)

    supports_deletes = True
    supports_streams = True
    supports_scans = False

    def load(self, request: LoadRequest) -> LoadResult:
        """Copy the staged rows and apply them in one transaction.

        Args:
            request: The load.

        Returns:
            Rows inserted or updated (0 when a merge found nothing changed), and rows deleted
            per ``request.deletes``.

        Raises:
            SchemaConflictError: If a staged column's type differs from the table's, or has no
                PostgreSQL type.
            PrimaryKeyError: If a merge key column holds NULL.
            DestinationError: If PostgreSQL rejects the load or cannot be reached. In every
                case the transaction is rolled back and the table is left as it was.
        """
        stream = request.staged_stream
        columns = postgres_columns(stream.schema if stream is not None else pq.read_schema(request.staging_file))
        target = self.describe_table(request.schema, request.table)
        started = time.monotonic()
        with self._connection(f"loading {target}") as connection:
            with connection.transaction(), connection.cursor() as cursor:
                prepare_schema(cursor, request.schema, with_state=request.cursor_column is not None)
            with connection.transaction(), connection.cursor() as cursor:
                result = apply_load(cursor, request, columns)
                pause_before_commit()
        logger.info("applied and committed %s in %.1fs", target, time.monotonic() - started)
        return result

    @contextmanager
    def _connection(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection (transactions are explicit); psycopg errors become one line.

        Raises:
            DestinationError: If connecting or any statement inside the block fails.
        """
        try:
            with psycopg.connect(**self._connect_arguments()) as connection:
                yield connection
        except psycopg.Error as exc:
            raise DestinationError(self._message(action, exc)) from exc

    def _connect_arguments(self) -> dict[str, Any]:
        """libpq keywords from the URL, as SQLAlchemy's psycopg dialect would pass them."""
        _, arguments = self.url.get_dialect()().create_connect_args(self.url)
        return {
            "connect_timeout": _CONNECT_TIMEOUT_SECONDS,
            "application_name": "ingest",
            **arguments,
            "autocommit": True,
        }

    def _message(self, action: str, exc: BaseException) -> str:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return f"postgres destination {describe_url(self.url)}: {action}: {first}"


def _postgres_options(group: OptionGroup) -> None:
    group.add(
        "--destination-url-env",
        default=DEFAULT_URL_ENV,
        metavar="VAR",
        help="NAME of the environment variable holding the PostgreSQL warehouse's SQLAlchemy "
        f"URL (default: {DEFAULT_URL_ENV})",
    )


def _open_postgres(options: Mapping[str, Any], environ: Mapping[str, str]) -> Destination:
    url = url_from_env(options["destination_url_env"], "the PostgreSQL warehouse", environ)
    return PostgresDestination(url)


POSTGRES: Kind[Destination] = Kind(
    "postgres",
    "a PostgreSQL database, loaded with COPY in one transaction",
    _open_postgres,
    _postgres_options,
)
