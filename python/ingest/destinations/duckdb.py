"""The DuckDB destination: a warehouse file shared by workers that run at the same time.

DuckDB lets one process at a time open a database file for writing. Workers therefore open the
warehouse only to read their watermark and, at the end, to apply a staged load in one
transaction; when another worker holds the file they wait, with exponential backoff, up to the
lock timeout. A load from DuckDB's own scanners (``--reader duckdb-scanner``) has no staging
file: the source is read inside the load transaction, so the file is held for the read too (the
scan is parallel and runs at the machine's speed; other workers queue behind it).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from ingest.destinations.base import IncrementalState, LoadRequest, LoadResult, pause_before_commit
from ingest.destinations.duckdb_apply import apply_load, qualified, read_state
from ingest.errors import DestinationError, DestinationLockedError
from ingest.sources.sql_scanner import conversion_error

logger = logging.getLogger(__name__)
T = TypeVar("T")

_LOCK_MESSAGES = ("could not set lock", "conflicting lock")
_FIRST_DELAY_SECONDS = 0.05
_MAX_DELAY_SECONDS = 2.0


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    message = str(exc).lower()
    return any(marker in message for marker in _LOCK_MESSAGES)


def _interruptible(connection: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """Run ``work`` (statements on ``connection``) in a thread the main thread waits for.

    A SIGTERM or SIGINT (``KeyboardInterrupt`` in the main thread) would otherwise wait for the
    running statement, e.g. a scan of a large source, to finish; here it interrupts DuckDB at
    once (``connection.interrupt()``), waits for the thread to stop and re-raises.

    Raises:
        KeyboardInterrupt: If interrupted; whatever ``work`` raises otherwise.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the main thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="duckdb-load", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        connection.interrupt()
        thread.join()
        raise
    if failure:
        raise failure[0]
    return outcome[0]


class DuckDBDestination:
    """Tables in one DuckDB database file.

    Args:
        path: The warehouse file; created on the first load.
        lock_timeout: Seconds to wait in total for another process to release the file.
        memory_limit: DuckDB ``memory_limit`` for the load (e.g. ``512MB``); larger work spills
            to DuckDB's temporary directory next to the file.
    """

    def __init__(self, path: Path, lock_timeout: float, memory_limit: str) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.memory_limit = memory_limit

    def describe_table(self, schema: str, table: str) -> str:
        """Name of a table for messages and summaries: ``schema.table``."""
        return f"{schema}.{table}"

    def staging_parent(self) -> Path:
        """The warehouse's folder: staging files stay on the same disk as the warehouse."""
        return self.path.parent

    def read_state(self, schema: str, table: str) -> IncrementalState | None:
        """Read a table's stored watermark; None if the warehouse or the state does not exist.

        Raises:
            DestinationLockedError: If the file stayed locked past the lock timeout.
            DestinationError: If DuckDB cannot read the file.
        """
        if not self.path.exists():
            return None
        with self._connection(read_only=True) as connection:
            try:
                return read_state(connection, schema, table)
            except duckdb.Error as exc:
                raise DestinationError(self._message("reading the watermark", exc)) from exc

    supports_deletes = True
    supports_streams = False
    supports_scans = True  # a scan is read inside the load transaction, while the file is held

    def load(self, request: LoadRequest) -> LoadResult:
        """Apply a staged load in one transaction.

        Args:
            request: The load.

        Returns:
            Rows inserted or updated, and rows deleted per ``request.deletes``.

        Raises:
            SchemaConflictError: If a staged column's type differs from the table's.
            PrimaryKeyError: If a merge key column holds NULL.
            DestinationLockedError: If the file stayed locked past the lock timeout.
            DestinationError: If DuckDB rejects the load. In every case the transaction is
                rolled back and the warehouse is left as it was.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        target = qualified(request.schema, request.table)
        requested = time.monotonic()
        with self._connection(read_only=False) as connection:
            locked = time.monotonic()
            connection.execute("BEGIN TRANSACTION")
            try:
                result = _interruptible(connection, lambda: apply_load(connection, request))
                pause_before_commit()
                connection.execute("COMMIT")
            except duckdb.ConversionException as exc:
                self._rollback(connection)
                if request.staged_scan is None:
                    raise DestinationError(self._message(f"loading {target}", exc)) from exc
                # the source scan read a value its column's type cannot hold
                raise conversion_error(exc, f"reading the source into {target}") from exc
            except duckdb.Error as exc:
                self._rollback(connection)
                raise DestinationError(self._message(f"loading {target}", exc)) from exc
            except BaseException:
                self._rollback(connection)
                raise
            committed = time.monotonic()
        logger.info(
            "held the warehouse for %.1fs (waited %.1fs for it; applied in %.1fs; closed in %.1fs)",
            time.monotonic() - locked,
            locked - requested,
            committed - locked,
            time.monotonic() - committed,
        )
        return result

    @contextmanager
    def _connection(self, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = self._connect_when_unlocked(read_only)
        try:
            yield connection
        finally:
            connection.close()

    def _connect_when_unlocked(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying with capped exponential backoff while another process holds it.

        Raises:
            DestinationLockedError: If the file is still locked after the lock timeout.
            DestinationError: If DuckDB cannot open the file for another reason.
        """
        deadline = time.monotonic() + self.lock_timeout
        delay = _FIRST_DELAY_SECONDS
        waited = False
        while True:
            try:
                connection = duckdb.connect(
                    str(self.path),
                    read_only=read_only,
                    config={
                        "memory_limit": self.memory_limit,
                        # Row order in warehouse tables carries no meaning; without this
                        # guarantee DuckDB inserts in parallel.
                        "preserve_insertion_order": False,
                    },
                )
                connection.execute("SET enable_progress_bar = false")  # keep stderr to our logs
                return connection
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise DestinationError(self._message("opening", exc)) from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DestinationLockedError(
                        f"warehouse {self.path} stayed locked by another process for "
                        f"{self.lock_timeout:g}s; raise --lock-timeout or retry later "
                        f"({str(exc).splitlines()[0]})"
                    ) from exc
                if not waited:
                    logger.info("warehouse %s is locked by another process; waiting", self.path)
                    waited = True
                time.sleep(min(remaining, delay * random.uniform(0.5, 1.0)))  # noqa: S311 - jitter
                delay = min(delay * 2, _MAX_DELAY_SECONDS)

    def _rollback(self, connection: duckdb.DuckDBPyConnection) -> None:
        try:
            connection.execute("ROLLBACK")
        except duckdb.Error as exc:
            # Closing the connection discards the open transaction as well.
            logger.debug("rollback failed (%s); closing the connection discards the load", exc)

    def _message(self, action: str, exc: BaseException) -> str:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return f"warehouse {self.path}: {action}: {first}"
