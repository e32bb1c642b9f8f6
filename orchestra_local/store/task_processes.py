"""Task process groups of pipeline runs (table ``task_processes``): what a dead runner left running.

Each attempt records its process group and its leader's start time, so ``cancel`` and a retry can
find and kill exactly those groups (``engine/process_groups.py``). A mixin of ``RunStore``: the same
connections and write lock.

That a leader exited is recorded in the store's next write transaction (:meth:`end_task_process_later`,
``store/deferred.py``), not in one of its own: a record a crash leaves open is harmless, since
``process_groups`` signals only processes whose start time matches the record's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from orchestra_local.store.models import TASK_PROCESSES

_END_PROCESSES = (update(TASK_PROCESSES)
                  .where(TASK_PROCESSES.c.id.in_(bindparam("ids", expanding=True)), TASK_PROCESSES.c.ended_at.is_(None))
                  .values(ended_at=bindparam("ended")))


class TaskProcessRecords:
    """``RunStore``'s methods on ``task_processes`` (it provides ``_write`` and ``read``)."""

    _write: Callable[[], AbstractContextManager[Connection]]
    read: Callable[[Any], list[dict[str, Any]]]
    defer: Callable[[Any, Mapping[str, Any]], None]

    def add_task_process(self, *, pipeline_run_id: str, task_run_id: str | None, attempt: int | None, host: str,
                         pgid: int, create_time: float) -> int:
        """Record a started process group (``create_time``: its leader's start, epoch seconds); returns its id."""
        values = {"pipeline_run_id": pipeline_run_id, "task_run_id": task_run_id, "attempt": attempt, "host": host,
                  "pgid": pgid, "create_time": create_time, "started_at": datetime.now(UTC)}
        with self._write() as connection:
            return int(connection.execute(insert(TASK_PROCESSES), values).inserted_primary_key[0])

    def end_task_processes(self, ids: Iterable[int]) -> None:
        """Record that these process groups' leaders exited (or their groups were killed), now."""
        ids = list(ids)
        if not ids:
            return
        with self._write() as connection:
            connection.execute(_END_PROCESSES, {"ids": ids, "ended": datetime.now(UTC)})

    def end_task_process_later(self, row_id: int) -> None:
        """Record that a process group's leader exited, in the store's next write transaction
        (``store/deferred.py``)."""
        self.defer(_END_PROCESSES, {"ids": [row_id], "ended": datetime.now(UTC)})

    def open_task_processes(self, pipeline_run_id: str) -> list[dict[str, Any]]:
        """Process groups of a pipeline run not recorded as ended (running, or left by a dead runner)."""
        statement = (select(TASK_PROCESSES)
                     .where(TASK_PROCESSES.c.pipeline_run_id == pipeline_run_id, TASK_PROCESSES.c.ended_at.is_(None))
                     .order_by(TASK_PROCESSES.c.id))
        return self.read(statement)
