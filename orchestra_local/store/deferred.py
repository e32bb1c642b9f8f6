"""Writes that may wait for the store's next transaction: records that only lag by milliseconds.

The runner writes a task run's record several times per task; two more records per task (a log
file's, a process group's end) would each cost a transaction of their own (~0.4 ms on SQLite, on
the path from one task's end to the next one's start). Deferred, they are executed first in the
store's next write transaction, which follows within milliseconds (the process group's record after
the task's process starts; the task's final status after it ends). A record a crash leaves unwritten
in between is harmless: an unrecorded log file of an attempt that never started, or a process end
``process_groups`` would find by the group's start time anyway.

Only statements that cannot fail on their own data may be deferred (no unique key; foreign keys
only to rows already committed): a deferred statement runs inside someone else's transaction, and
is queued again when that transaction fails.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection


class DeferredWrites:
    """Thread-safe list of ``(statement, parameters)`` waiting for the next write transaction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, dict[str, Any]]] = []

    def __bool__(self) -> bool:
        return bool(self._pending)

    def add(self, statement: Any, parameters: Mapping[str, Any]) -> None:
        """Queue one statement (a SQLAlchemy Core INSERT/UPDATE) with its bound parameters."""
        with self._lock:
            self._pending.append((statement, dict(parameters)))

    def take(self) -> list[tuple[Any, dict[str, Any]]]:
        """Everything queued, in order; the queue is empty afterwards."""
        with self._lock:
            taken, self._pending = self._pending, []
        return taken

    def put_back(self, taken: list[tuple[Any, dict[str, Any]]]) -> None:
        """Queue again, first, what a transaction that failed had taken."""
        if taken:
            with self._lock:
                self._pending[:0] = taken


def execute_all(connection: Connection, taken: list[tuple[Any, dict[str, Any]]]) -> None:
    """Execute taken statements in the caller's transaction, in the order they were queued."""
    for statement, parameters in taken:
        connection.execute(statement, parameters)
