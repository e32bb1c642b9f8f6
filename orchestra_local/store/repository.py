"""The run store: every write is its own committed transaction, so a crash loses no finished record.

Two records may wait for the next write instead (``deferred.py``: a log file's, a process group's
end), which follows within milliseconds; everything else is committed before the call returns.

Records go in and come out as plain dicts with snake_case keys (the columns of ``models.py``).
Every text and JSON value is passed through the store's :class:`~orchestra_local.masking.Masker`
on the way in, so secrets never reach the database whatever the caller forgot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, Update, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from orchestra_local.errors import FireTimeClaimed, StoreError
from orchestra_local.masking import Masker
from orchestra_local.store import LOCAL_ACCOUNT_ID, new_id, utcnow
from orchestra_local.store.database import open_engine
from orchestra_local.store.deferred import DeferredWrites, execute_all
from orchestra_local.store.models import (
    ALERT_OUTBOX,
    OPERATIONS,
    PIPELINE_RUNS,
    TASK_OUTPUTS,
    TASK_RUN_FILES,
    TASK_RUNS,
)
from orchestra_local.store.task_processes import TaskProcessRecords
from orchestra_local.store.ticks import TICKS, started_tick


@cache
def update_by_id(table: Table) -> Update:
    """``UPDATE <table> SET <the columns given at execution> WHERE id = :row_id``, built once per table.

    Executed as ``connection.execute(update_by_id(T), by_id(T, id, values))``: SQLAlchemy then
    compiles it once per set of columns and reuses it, where a statement built with ``.values()``
    on every call pays its construction and cache-key walk each time (~0.2 ms of a ~0.4 ms write,
    measured on SQLite; the runner writes a task run's record several times per task).
    """
    return update(table).where(table.c.id == bindparam("row_id"))


def by_id(table: Table, row_id: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The execution parameters of :func:`update_by_id`.

    Raises:
        StoreError: A key of ``values`` is not a column of ``table`` (SQLAlchemy would drop it
            silently from parameters given at execution, where ``.values()`` refused it).
    """
    unknown = set(values) - set(_columns(table))
    if unknown:
        raise StoreError(f"not columns of {table.name}: {', '.join(sorted(unknown))} (a bug; please report)")
    return {"row_id": row_id, **values}


@cache
def _columns(table: Table) -> frozenset[str]:
    return frozenset(table.c.keys())


@cache
def insert_into(table: Table) -> Insert:
    """``INSERT INTO <table>`` of the columns given at execution, built once per table (see :func:`update_by_id`)."""
    return insert(table)


class RunStore(TaskProcessRecords):
    """Repository of pipeline runs, task runs, outputs, files and operations.

    Args:
        url: SQLAlchemy URL of the metadata database (tables are created if missing).
        masker: Secrets to mask in everything written; a new empty one by default.

    Raises:
        StoreError: When the database cannot be opened, or any later read or write fails.
    """

    def __init__(self, url: str, masker: Masker | None = None):
        self.url = url
        self.masker = masker or Masker()
        self.engine: Engine = open_engine(url)
        # SQLite has one writer at a time; serialising our own writes avoids busy-waiting on it.
        self._write_lock = threading.Lock() if self.engine.dialect.name == "sqlite" else None
        self._deferred = DeferredWrites()

    def close(self) -> None:
        """Write what is deferred (:meth:`defer`), then release the database connections."""
        try:
            self.flush_deferred()
        finally:
            self.engine.dispose()

    def defer(self, statement: Any, parameters: Mapping[str, Any]) -> None:
        """Execute ``statement`` with ``parameters`` first in this store's next write transaction
        (``store/deferred.py`` says which statements may wait, and why)."""
        self._deferred.add(statement, parameters)

    def flush_deferred(self) -> None:
        """Write the deferred statements now (no-op when there are none)."""
        if self._deferred:
            with self._write():
                pass

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, which first executes what was deferred (:meth:`defer`)."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        deferred = self._deferred.take()
        try:
            with self.engine.begin() as connection:
                execute_all(connection, deferred)
                yield connection
        except SQLAlchemyError as exc:
            self._deferred.put_back(deferred)
            raise StoreError(f"metadata store write failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
        except BaseException:
            self._deferred.put_back(deferred)
            raise
        finally:
            if lock is not None:
                lock.release()

    def read(self, statement: Any) -> list[dict[str, Any]]:
        """Run a SELECT and return its rows as dicts.

        Raises:
            StoreError: When the read fails.
        """
        try:
            with self.engine.connect() as connection:
                return [dict(row._mapping) for row in connection.execute(statement)]
        except SQLAlchemyError as exc:
            raise StoreError(f"metadata store read failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc

    def insert_once(self, table: Table, row: Mapping[str, Any]) -> bool:
        """Insert ``row`` (masked) unless a row with its unique key exists: True when inserted.

        Raises:
            StoreError: Any other failed write.
        """
        try:
            with self._write() as connection:
                connection.execute(insert(table).values(**self._masked(row)))
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return True

    def execute(self, statement: Any) -> int:
        """Run one write statement (an UPDATE or DELETE built by a store module); returns the rows it changed.

        Raises:
            StoreError: When the write fails.
        """
        with self._write() as connection:
            return connection.execute(statement).rowcount

    def _masked(self, values: Mapping[str, Any]) -> dict[str, Any]:
        # Literal secrets (a --vars api_key or an Authorization header in a pipeline file) first reach
        # the runner in the task runs' parameters: learn them here, so every later log masks them too.
        self.masker.learn(values)
        return {key: self.masker.mask_value(value) for key, value in values.items()}

    # -- pipeline runs -------------------------------------------------------------------------

    def create_pipeline_run(self, tick: Mapping[str, Any] | None = None, **fields: Any) -> str:
        """Insert a pipeline run (status CREATED unless given) and return its id.

        Args:
            tick: The claim of the trigger that starts it (``store/ticks.py``: ``pipeline_alias``,
                ``trigger_kind``, ``trigger_name``, ``scheduled_for``), inserted as a STARTED tick in
                the same transaction: either both are written or neither.
            fields: Columns of ``pipeline_runs``.

        Raises:
            FireTimeClaimed: The tick's key (pipeline, kind, name, scheduled time) exists already;
                no run was written.
            StoreError: Any other failed write.
        """
        now = utcnow()
        record = {
            "id": fields.pop("id", None) or new_id(),
            "account_id": LOCAL_ACCOUNT_ID,
            "run_status": "CREATED",
            "message": "",
            "created_at": now,
            "updated_at": now,
            "triggered_by": [],
            "run_inputs": {},
            **fields,
        }
        try:
            with self._write() as connection:
                connection.execute(insert(PIPELINE_RUNS).values(**self._masked(record)))
                if tick is not None:
                    connection.execute(insert(TICKS).values(**started_tick(tick, record)))
        except StoreError as exc:
            if tick is not None and isinstance(exc.__cause__, IntegrityError):
                raise FireTimeClaimed(f"{tick['trigger_kind']} {tick['trigger_name']!r} of {tick['pipeline_alias']} "
                                      f"at {tick['scheduled_for'].isoformat()} was already started") from None
            raise
        return str(record["id"])

    def update_pipeline_run(self, run_id: str, outbox: Sequence[Mapping[str, Any]] = (), **fields: Any) -> None:
        """Update fields of a pipeline run (``updated_at`` is set), and insert the ``alert_outbox`` rows
        that change owes in the same transaction (``orchestra_local/alerts``)."""
        values = self._masked({**fields, "updated_at": utcnow()})
        with self._write() as connection:
            connection.execute(update_by_id(PIPELINE_RUNS), by_id(PIPELINE_RUNS, run_id, values))
            self._insert_outbox(connection, outbox)

    def _insert_outbox(self, connection: Connection, outbox: Sequence[Mapping[str, Any]]) -> None:
        if outbox:
            connection.execute(insert(ALERT_OUTBOX), [self._masked(row) for row in outbox])

    def get_pipeline_run(self, run_id: str) -> dict[str, Any] | None:
        """The pipeline run with this id, or None."""
        rows = self.read(select(PIPELINE_RUNS).where(PIPELINE_RUNS.c.id == run_id))
        return rows[0] if rows else None

    def list_pipeline_runs(self, limit: int = 20, pipeline_id: str | None = None) -> list[dict[str, Any]]:
        """Most recent pipeline runs first."""
        statement = select(PIPELINE_RUNS).order_by(PIPELINE_RUNS.c.created_at.desc()).limit(limit)
        if pipeline_id is not None:
            statement = statement.where(PIPELINE_RUNS.c.pipeline_id == pipeline_id)
        return self.read(statement)

    def count_runs_ahead(self, pipeline_id: str, run_id: str, created_at: datetime) -> int:
        """Runs of a pipeline that hold or precede ``run_id`` for a concurrency slot.

        Those RUNNING or CANCELLING, plus those still CREATED that were created earlier (a FIFO
        queue that every waiting run computes the same way).
        """
        runs = PIPELINE_RUNS.c
        statement = select(func.count()).select_from(PIPELINE_RUNS).where(
            runs.pipeline_id == pipeline_id,
            runs.id != run_id,
            (runs.run_status.in_(("RUNNING", "CANCELLING")))
            | ((runs.run_status == "CREATED") & (runs.created_at < created_at)),
        )
        return self.count(statement)

    def count(self, statement: Any) -> int:
        """Run a ``SELECT count(...)`` and return the number.

        Raises:
            StoreError: When the read fails.
        """
        try:
            with self.engine.connect() as connection:
                return int(connection.execute(statement).scalar_one())
        except SQLAlchemyError as exc:
            raise StoreError(f"metadata store read failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc

    def count_active_runs(self, pipeline_id: str) -> int:
        """Runs of a pipeline that are CREATED, RUNNING or CANCELLING."""
        statement = select(func.count()).select_from(PIPELINE_RUNS).where(
            PIPELINE_RUNS.c.pipeline_id == pipeline_id,
            PIPELINE_RUNS.c.run_status.in_(("CREATED", "RUNNING", "CANCELLING")),
        )
        return self.count(statement)

    # -- task runs -----------------------------------------------------------------------------

    def create_task_runs(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Insert task runs in one transaction (each record needs at least the non-null columns)."""
        if not records:
            return
        now = utcnow()
        rows = [
            self._masked({"account_id": LOCAL_ACCOUNT_ID, "status": "CREATED", "created_at": now, "updated_at": now,
                          "number_of_attempts": 0, **record})
            for record in records
        ]
        with self._write() as connection:
            connection.execute(insert(TASK_RUNS), rows)

    def update_task_run(self, task_run_id: str, outbox: Sequence[Mapping[str, Any]] = (), **fields: Any) -> None:
        """Update fields of one task run (``updated_at`` is set), with the alerts it owes (as
        :meth:`update_pipeline_run`)."""
        values = self._masked({**fields, "updated_at": utcnow()})
        with self._write() as connection:
            connection.execute(update_by_id(TASK_RUNS), by_id(TASK_RUNS, task_run_id, values))
            self._insert_outbox(connection, outbox)

    def update_task_runs(self, task_run_ids: Iterable[str], **fields: Any) -> None:
        """Apply the same update to many task runs in one transaction."""
        ids = list(task_run_ids)
        if not ids:
            return
        values = self._masked({**fields, "updated_at": utcnow()})
        with self._write() as connection:
            connection.execute(update(TASK_RUNS).where(TASK_RUNS.c.id.in_(ids)).values(**values))

    def update_task_run_batches(self, batches: Sequence[tuple[Iterable[str], Mapping[str, Any]]]) -> None:
        """Apply several ``(task run ids, fields)`` updates in ONE transaction (e.g. a bulk cancel)."""
        now = utcnow()
        with self._write() as connection:
            for ids, fields in batches:
                ids = list(ids)
                if ids:
                    values = self._masked({**fields, "updated_at": now})
                    connection.execute(update(TASK_RUNS).where(TASK_RUNS.c.id.in_(ids)).values(**values))

    def request_cancel(self, run_id: str) -> bool:
        """Set a run CANCELLING unless it has ended (one conditional update: never revives an ended run).

        Returns:
            Whether the run is now CANCELLING.
        """
        runs = PIPELINE_RUNS.c
        with self._write() as connection:
            result = connection.execute(
                update(PIPELINE_RUNS).where(runs.id == run_id, runs.run_status.in_(("CREATED", "RUNNING", "CANCELLING")))
                .values(run_status="CANCELLING", updated_at=utcnow()))
        return bool(result.rowcount)

    def end_run(self, run_id: str, *, run_status: str, message: str, task_statuses: Mapping[str, str],
                task_message: str, only_if_active: bool = False, outbox: Sequence[Mapping[str, Any]] = ()) -> bool:
        """End a pipeline run and its unfinished task runs in ONE transaction (cost independent of
        how many task runs change).

        Args:
            run_id: The pipeline run.
            run_status: Its final status.
            message: Its message.
            task_statuses: ``{current status: final status}`` for the task runs to end, e.g.
                ``{"RUNNING": "FAILED", "QUEUED": "CANCELLED"}``.
            task_message: Message of the task runs ended here.
            only_if_active: Change nothing if the run has already ended (another process ended it).
            outbox: ``alert_outbox`` rows this end owes, inserted in the same transaction.

        Returns:
            False when ``only_if_active`` and the run had already ended; True otherwise.
        """
        now = utcnow()
        run_values = self._masked({"run_status": run_status, "message": message, "completed_at": now,
                                   "updated_at": now})
        task_values = self._masked({"message": task_message, "completed_at": now, "updated_at": now})
        runs, tasks = PIPELINE_RUNS.c, TASK_RUNS.c
        with self._write() as connection:
            statement = update(PIPELINE_RUNS).where(runs.id == run_id)
            if only_if_active:
                statement = statement.where(runs.run_status.in_(("CREATED", "RUNNING", "CANCELLING")))
            if connection.execute(statement.values(**run_values)).rowcount == 0 and only_if_active:
                return False
            for current, final in task_statuses.items():
                connection.execute(update(TASK_RUNS).where(tasks.pipeline_run_id == run_id, tasks.status == current)
                                   .values(status=final, **task_values))
            self._insert_outbox(connection, outbox)
        return True

    def get_task_run(self, task_run_id: str) -> dict[str, Any] | None:
        """The task run with this id, or None."""
        rows = self.read(select(TASK_RUNS).where(TASK_RUNS.c.id == task_run_id))
        return rows[0] if rows else None

    def external_status(self, task_run_id: str) -> tuple[str | None, str | None]:
        """``(external_status, external_message)`` of a task run as stored now."""
        statement = select(TASK_RUNS.c.external_status, TASK_RUNS.c.external_message).where(
            TASK_RUNS.c.id == task_run_id)
        rows = self.read(statement)
        return (rows[0]["external_status"], rows[0]["external_message"]) if rows else (None, None)

    def decide_approval(self, task_run_id: str, *, approved: bool, message: str | None = None) -> None:
        """Approve or reject an APPROVAL task run that is waiting.

        Raises:
            StoreError: When no such task run is waiting for approval (the message says why).
        """
        record = self.get_task_run(task_run_id)
        if record is None:
            raise StoreError(f"no task run {task_run_id}")
        if record["integration_job"] != "APPROVAL" or record["status"] != "RUNNING" \
                or record["external_status"] != "WAITING_FOR_APPROVAL":
            raise StoreError(f"task run {task_run_id} is not waiting for approval "
                             f"({record['integration_job']}, {record['status']}, {record['external_status']})")
        self.update_task_run(task_run_id, external_status="APPROVED" if approved else "REJECTED",
                             external_message=message)

    def list_task_runs(self, pipeline_run_id: str) -> list[dict[str, Any]]:
        """Task runs of a pipeline run, in creation order (plan order)."""
        statement = (
            select(TASK_RUNS)
            .where(TASK_RUNS.c.pipeline_run_id == pipeline_run_id)
            .order_by(TASK_RUNS.c.position, TASK_RUNS.c.created_at)
        )
        return self.read(statement)

    # -- outputs, files, operations ------------------------------------------------------------

    def set_outputs(self, task_run_id: str, outputs: Mapping[str, Any]) -> None:
        """Store (or replace) named outputs of a task run."""
        if not outputs:
            return
        now = utcnow()
        with self._write() as connection:
            connection.execute(
                delete(TASK_OUTPUTS).where(
                    TASK_OUTPUTS.c.task_run_id == task_run_id, TASK_OUTPUTS.c.name.in_(list(outputs))
                )
            )
            connection.execute(
                insert(TASK_OUTPUTS),
                [self._masked({"task_run_id": task_run_id, "name": name, "value": value, "created_at": now})
                 for name, value in outputs.items()],
            )

    def get_outputs(self, task_run_id: str) -> dict[str, Any]:
        """Outputs of a task run as ``{name: value}``."""
        rows = self.read(select(TASK_OUTPUTS).where(TASK_OUTPUTS.c.task_run_id == task_run_id))
        return {row["name"]: row["value"] for row in rows}

    def outputs_of_run(self, pipeline_run_id: str) -> dict[str, dict[str, Any]]:
        """Outputs of every task run of a pipeline run, in one query: ``{task_run_id: {name: value}}``
        (task runs without outputs are absent)."""
        statement = (select(TASK_OUTPUTS).join(TASK_RUNS, TASK_RUNS.c.id == TASK_OUTPUTS.c.task_run_id)
                     .where(TASK_RUNS.c.pipeline_run_id == pipeline_run_id))
        outputs: dict[str, dict[str, Any]] = {}
        for row in self.read(statement):
            outputs.setdefault(row["task_run_id"], {})[row["name"]] = row["value"]
        return outputs

    def add_file(self, task_run_id: str, kind: str, filename: str, path: str, attempt: int | None = None, *,
                 defer: bool = False) -> None:
        """Record a log (``kind="log"``) or artifact (``kind="artifact"``) file of a task run.

        The name and path are masked like every other value (callers name files without secrets
        already, see ``TaskContext.log_path``; this is the last line of defence). ``defer`` writes
        the record with the store's next write (``store/deferred.py``): the runner does so for the
        files of an attempt, whose process record or final status follows within milliseconds.
        """
        values = self._masked({"task_run_id": task_run_id, "kind": kind, "filename": filename, "path": path,
                               "attempt": attempt, "created_at": utcnow()})
        if defer:
            self.defer(insert_into(TASK_RUN_FILES), values)
            return
        with self._write() as connection:
            connection.execute(insert_into(TASK_RUN_FILES), values)

    def list_files(self, task_run_id: str, kind: str) -> list[dict[str, Any]]:
        """Files of one kind of a task run, oldest first."""
        statement = (
            select(TASK_RUN_FILES)
            .where(TASK_RUN_FILES.c.task_run_id == task_run_id, TASK_RUN_FILES.c.kind == kind)
            .order_by(TASK_RUN_FILES.c.id)
        )
        return self.read(statement)

    def add_operations(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Insert operations in one transaction (``id``, ``account_id``, ``inserted_at`` defaulted)."""
        if not records:
            return
        now = utcnow()
        rows = [
            self._masked({"id": new_id(), "account_id": LOCAL_ACCOUNT_ID, "inserted_at": now, "dependencies": [],
                          **record})
            for record in records
        ]
        with self._write() as connection:
            connection.execute(insert(OPERATIONS), rows)

    def list_operations(self, pipeline_run_id: str | None = None, task_run_id: str | None = None) -> list[dict[str, Any]]:
        """Operations of a pipeline run or task run, in insertion order."""
        statement = select(OPERATIONS).order_by(OPERATIONS.c.inserted_at, OPERATIONS.c.started_at)
        if pipeline_run_id is not None:
            statement = statement.where(OPERATIONS.c.pipeline_run_id == pipeline_run_id)
        if task_run_id is not None:
            statement = statement.where(OPERATIONS.c.task_run_id == task_run_id)
        return self.read(statement)
