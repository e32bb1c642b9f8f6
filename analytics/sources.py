"""Where the report reads run metadata from: the runner's store, or the warehouse tables of ``metadata_api/``.

Either source fills three tables of an in-memory DuckDB database with the same columns, which
``metrics.py`` queries:

- ``pipeline_runs``: id, pipeline_name, run_status, created_at, started_at, completed_at
- ``task_runs``: id, pipeline_run_id, task_id, label (``group.task[value]`` as ``runs`` prints it;
  the warehouse has no group: ``task[value]``), integration, status, number_of_attempts,
  matrix_parent, started_at, completed_at
- ``operations``: id, pipeline_run_id, task_run_id, operation_name, operation_type,
  operation_status, integration, started_at, completed_at, inserted_at, operation_duration
  (seconds), rows_affected

Timestamps are naive UTC. Only runs created in the selection's window (and of its pipelines, when
named) are loaded, with their task runs and operations. Rows stream from the store in Arrow batches
of :data:`BATCH_ROWS`; the warehouse is attached read-only and copied by DuckDB itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
from sqlalchemy import Engine, Select, create_engine, inspect, select
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from orchestra_local.console import task_label
from orchestra_local.store.repository import OPERATIONS, PIPELINE_RUNS, TASK_RUNS
from orchestra_local.viewer.gantt import GanttBar, bars_from_task_runs

BATCH_ROWS = 5_000
TIMESTAMP = pa.timestamp("us")
RUN_SCHEMA = pa.schema({"id": pa.string(), "pipeline_name": pa.string(), "run_status": pa.string(),
                        "created_at": TIMESTAMP, "started_at": TIMESTAMP, "completed_at": TIMESTAMP})
TASK_SCHEMA = pa.schema({"id": pa.string(), "pipeline_run_id": pa.string(), "task_id": pa.string(),
                         "label": pa.string(), "integration": pa.string(), "status": pa.string(),
                         "number_of_attempts": pa.int64(), "matrix_parent": pa.bool_(),
                         "started_at": TIMESTAMP, "completed_at": TIMESTAMP})
OPERATION_SCHEMA = pa.schema({"id": pa.string(), "pipeline_run_id": pa.string(), "task_run_id": pa.string(),
                              "operation_name": pa.string(), "operation_type": pa.string(),
                              "operation_status": pa.string(), "integration": pa.string(),
                              "started_at": TIMESTAMP, "completed_at": TIMESTAMP, "inserted_at": TIMESTAMP,
                              "operation_duration": pa.float64(), "rows_affected": pa.int64()})


class SourceError(Exception):
    """The source cannot be read (missing file, missing tables, unknown run); the message says what to do."""


@dataclass(frozen=True)
class Selection:
    """Which runs the report covers.

    Attributes:
        since: How far back from ``now`` runs were created (e.g. 30 days).
        pipelines: Pipeline names to keep; empty keeps every pipeline.
        now: End of the window (aware UTC).
    """

    since: timedelta
    pipelines: tuple[str, ...] = ()
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def start(self) -> datetime:
        """Start of the window (aware UTC)."""
        return self.now - self.since


class MetadataSource(Protocol):
    """A place run metadata is read from."""

    description: str

    def load(self, connection: duckdb.DuckDBPyConnection, selection: Selection) -> None:
        """Create ``pipeline_runs``, ``task_runs`` and ``operations`` (see the module doc) in ``connection``."""

    def run_bars(self, run_id: str) -> tuple[dict[str, Any], list[GanttBar]]:
        """The pipeline run ``run_id`` (id, pipeline_name, run_status) and its task runs as Gantt bars.

        Raises:
            SourceError: No such run.
        """

    def close(self) -> None:
        """Release what the source holds."""


def _naive(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


def _batches(engine: Engine, statement: Select[Any], schema: pa.Schema,
             derive: Any = None) -> Iterator[pa.RecordBatch]:
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=BATCH_ROWS).execute(statement)
        for rows in result.partitions():
            records = [derive(row._mapping) if derive else row._mapping for row in rows]
            columns = [[_naive(r[name]) if schema.field(name).type == TIMESTAMP else r[name] for r in records]
                       for name in schema.names]
            yield pa.record_batch([pa.array(values, type=schema.field(name).type)
                                   for name, values in zip(schema.names, columns, strict=True)], schema=schema)


def _create(connection: duckdb.DuckDBPyConnection, table: str, schema: pa.Schema,
            batches: Iterator[pa.RecordBatch]) -> None:
    reader = pa.RecordBatchReader.from_batches(schema, batches)  # noqa: F841 - DuckDB scans it by name
    connection.execute(f"create or replace table {table} as select * from reader")


def _task_record(row: Any) -> dict[str, Any]:
    return {**row, "label": task_label(row)}


@contextmanager
def _reading(description: str) -> Iterator[None]:
    """Database errors while reading a source, as a :class:`SourceError` naming it (no password, no traceback)."""
    try:
        yield
    except (SQLAlchemyError, duckdb.Error) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SourceError(f"cannot read the {description}: {type(exc).__name__}: {reason}") from None


class StoreSource:
    """The runner's metadata store (``ORCHESTRA_LOCAL_METADATA_URL``; SQLite by default), read only.

    Unlike the runner, the report never migrates the store: it reads the tables as they are (the
    columns it reads exist since the first revision).

    Raises (at construction):
        SourceError: The SQLite file does not exist, the database cannot be reached or holds no runs
            table; the message hides any password.
    """

    def __init__(self, url: str):
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            raise SourceError(f"no metadata store at {url}; run a pipeline first (`make demo`)")
        try:
            self.engine = create_engine(url)
        except (ArgumentError, ModuleNotFoundError) as exc:
            raise SourceError(f"cannot open the metadata store: {exc}") from None
        self.description = f"store {self.engine.url.render_as_string(hide_password=True)}"
        with _reading(self.description):
            if not inspect(self.engine).has_table("pipeline_runs"):
                self.close()
                raise SourceError(f"the {self.description} holds no pipeline runs table; run a pipeline first")

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def load(self, connection: duckdb.DuckDBPyConnection, selection: Selection) -> None:
        """See :class:`MetadataSource`."""
        with _reading(self.description):
            self._load(connection, selection)

    def _load(self, connection: duckdb.DuckDBPyConnection, selection: Selection) -> None:
        runs = select(PIPELINE_RUNS.c.id).where(PIPELINE_RUNS.c.created_at >= selection.start,
                                                PIPELINE_RUNS.c.created_at <= selection.now)
        if selection.pipelines:
            runs = runs.where(PIPELINE_RUNS.c.pipeline_name.in_(selection.pipelines))
        ids = runs  # used as a subquery below: each table is one query
        run_columns = [PIPELINE_RUNS.c[name] for name in RUN_SCHEMA.names]
        _create(connection, "pipeline_runs", RUN_SCHEMA,
                _batches(self.engine, select(*run_columns).where(PIPELINE_RUNS.c.id.in_(ids)), RUN_SCHEMA))
        task_columns = [TASK_RUNS.c[name] for name in TASK_SCHEMA.names if name != "label"]
        task_columns += [TASK_RUNS.c.group_id, TASK_RUNS.c.run_parameters]
        _create(connection, "task_runs", TASK_SCHEMA,
                _batches(self.engine, select(*task_columns).where(TASK_RUNS.c.pipeline_run_id.in_(ids)), TASK_SCHEMA,
                         _task_record))
        operation_columns = [OPERATIONS.c[name] for name in OPERATION_SCHEMA.names]
        _create(connection, "operations", OPERATION_SCHEMA,
                _batches(self.engine, select(*operation_columns).where(OPERATIONS.c.pipeline_run_id.in_(ids)),
                         OPERATION_SCHEMA))

    def run_bars(self, run_id: str) -> tuple[dict[str, Any], list[GanttBar]]:
        """See :class:`MetadataSource`."""
        with _reading(self.description), self.engine.connect() as connection:
            run = connection.execute(select(PIPELINE_RUNS).where(PIPELINE_RUNS.c.id == run_id)).mappings().first()
            tasks = connection.execute(select(TASK_RUNS).where(TASK_RUNS.c.pipeline_run_id == run_id)
                                       .order_by(TASK_RUNS.c.position, TASK_RUNS.c.created_at)).mappings().all()
        if run is None:
            raise SourceError(f"no pipeline run {run_id} in the {self.description}; `orchestra-local runs` lists them")
        return dict(run), bars_from_task_runs(tasks)


LABEL_SQL = """case when json_type(run_parameters -> 'matrix') = 'OBJECT'
    then task_id || '[' || (json_extract_string(run_parameters -> 'matrix', '$.*'))[1] || ']'
    else task_id end"""
"""A warehouse task run's label: ``task_id`` plus its matrix value (the Data App has no group)."""


class WarehouseSource:
    """The Data App tables ``metadata_api/`` loads (schema ``orchestra_metadata`` of a DuckDB warehouse).

    Raises (at construction):
        SourceError: The warehouse file or its ``pipeline_runs`` table is missing.
    """

    def __init__(self, path: Path, schema: str = "orchestra_metadata"):
        if not path.is_file():
            raise SourceError(f"no warehouse at {path}; load it with `python metadata_api/orchestra_metadata_pipeline.py`")
        self.path, self.schema = path, schema
        self.description = f"warehouse {path} (schema {schema})"
        with _reading(self.description), duckdb.connect(str(path), read_only=True) as connection:
            found = connection.execute("select count(*) from information_schema.tables where table_schema = ? and "
                                       "table_name in ('pipeline_runs', 'task_runs', 'operations')", [schema]).fetchone()
        if not found or found[0] != 3:
            raise SourceError(f"{self.description} lacks pipeline_runs, task_runs or operations; "
                              "load it with `python metadata_api/orchestra_metadata_pipeline.py`")

    def _attach(self, connection: duckdb.DuckDBPyConnection) -> None:
        attached = {row[0] for row in connection.execute("select database_name from duckdb_databases()").fetchall()}
        if "warehouse" not in attached:
            literal = str(self.path).replace("'", "''")  # ATTACH takes no parameters: a quoted literal
            connection.execute(f"attach '{literal}' as warehouse (read_only)")

    def close(self) -> None:
        """Nothing held between calls."""

    def load(self, connection: duckdb.DuckDBPyConnection, selection: Selection) -> None:
        """See :class:`MetadataSource`."""
        with _reading(self.description):
            self._load(connection, selection)

    def _load(self, connection: duckdb.DuckDBPyConnection, selection: Selection) -> None:
        self._attach(connection)
        table = f"warehouse.{self.schema}"
        pipelines = list(selection.pipelines) or None
        connection.execute(
            f"create or replace table pipeline_runs as select id, pipeline_name, run_status, "
            f"created_at::timestamp as created_at, started_at::timestamp as started_at, "
            f"completed_at::timestamp as completed_at from {table}.pipeline_runs "
            f"where created_at >= ? and created_at <= ? and (?::varchar[] is null or list_contains(?, pipeline_name))",
            [selection.start, selection.now, pipelines, pipelines])
        connection.execute(
            f"create or replace table task_runs as select id, pipeline_run_id, task_id, {LABEL_SQL} as label, "
            f"integration, status, number_of_attempts::bigint as number_of_attempts, false as matrix_parent, "
            f"started_at::timestamp as started_at, completed_at::timestamp as completed_at "
            f"from {table}.task_runs where pipeline_run_id in (select id from pipeline_runs)")
        connection.execute(
            f"create or replace table operations as select id, pipeline_run_id, task_run_id, operation_name, "
            f"operation_type, operation_status, integration, started_at::timestamp as started_at, "
            f"completed_at::timestamp as completed_at, inserted_at::timestamp as inserted_at, "
            f"operation_duration::double as operation_duration, rows_affected::bigint as rows_affected "
            f"from {table}.operations where pipeline_run_id in (select id from pipeline_runs)")

    def run_bars(self, run_id: str) -> tuple[dict[str, Any], list[GanttBar]]:
        """See :class:`MetadataSource`."""
        with _reading(self.description), duckdb.connect() as connection:
            self._attach(connection)
            table = f"warehouse.{self.schema}"
            run = connection.execute(f"select id, pipeline_name, run_status from {table}.pipeline_runs where id = ?",
                                     [run_id]).fetchone()
            if run is None:
                raise SourceError(f"no pipeline run {run_id} in the {self.description}")
            rows = connection.execute(
                f"select id, {LABEL_SQL} as label, status, number_of_attempts, started_at, completed_at "
                f"from {table}.task_runs where pipeline_run_id = ? order by created_at, task_id", [run_id]).fetchall()
        bars = [GanttBar(label=label, status=status, started_at=_aware(started), completed_at=_aware(completed),
                         attempts=int(attempts or 0), task_run_id=task_run_id)
                for task_run_id, label, status, attempts, started, completed in rows]
        return {"id": run[0], "pipeline_name": run[1], "run_status": run[2]}, bars


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def open_source(kind: str, *, metadata_url: str, warehouse: Path, schema: str = "orchestra_metadata") -> MetadataSource:
    """The source named by ``--source``: ``store`` or ``warehouse``.

    Raises:
        SourceError: See :class:`StoreSource` and :class:`WarehouseSource`.
    """
    if kind == "warehouse":
        return WarehouseSource(warehouse, schema)
    return StoreSource(metadata_url)


def latest_run_id(connection: duckdb.DuckDBPyConnection) -> str | None:
    """The most recently created run of the loaded selection, or None when it is empty."""
    row = connection.execute("select id from pipeline_runs order by created_at desc limit 1").fetchone()
    return row[0] if row else None


__all__: Sequence[str] = ("MetadataSource", "Selection", "SourceError", "StoreSource", "WarehouseSource",
                          "latest_run_id", "open_source")
