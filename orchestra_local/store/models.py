"""SQLAlchemy Core tables of the run metadata store.

Field meanings follow Orchestra's Metadata API records (orchestra-contract section 7; the
``PipelineRunResponse``, ``TaskRunResponse`` and ``OperationResponse`` schemas of its OpenAPI
document). Columns are snake_case; the API layer renders camelCase. Timestamps are stored as naive
UTC and read back as aware UTC datetimes. A few local columns have no Orchestra counterpart and are
marked as such.

Core ``Table`` objects, not ORM classes: every reader and writer of the store works with Core
statements, and importing ``sqlalchemy.orm`` plus building declarative classes cost every CLI
command ~60 ms before it did anything (``benchmarks/results/engine_overhead.md``). Columns are
NOT NULL unless they say ``nullable=True``; the schema is created and changed only by the Alembic
migrations (``store/migrations``), which ``tests/orchestra_local/store/test_schema.py`` compares
with these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

ID = String(36)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC (portable to SQLite) and returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(timezone.utc)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


METADATA = MetaData()
"""Every table of the store (Alembic's ``target_metadata``)."""


def _column(name: str, type_: TypeEngine[Any] | type[TypeEngine[Any]] | ForeignKey, *, nullable: bool = False,
            **kwargs: Any) -> Column[Any]:
    """A column, NOT NULL unless ``nullable``; given a ForeignKey, it takes the referenced column's type."""
    return Column(name, type_, nullable=nullable, **kwargs)


def _timestamp(name: str, *, nullable: bool = False, **kwargs: Any) -> Column[Any]:
    """A :class:`UTCDateTime` column, NOT NULL unless ``nullable``."""
    return Column(name, UTCDateTime(), nullable=nullable, **kwargs)


PIPELINE_RUNS = Table(
    "pipeline_runs", METADATA,
    # One execution of a pipeline (Orchestra: pipeline run).
    Column("id", ID, primary_key=True),
    _column("pipeline_id", ID),
    _column("pipeline_name", String(100)),
    _column("pipeline_alias", String(200)),  # local: file stem, the API's alias
    _column("yaml_path", Text),  # local: repo-relative path of the pipeline file
    _column("account_id", ID),
    _column("env_id", ID, nullable=True),
    _column("env_name", String(200), nullable=True),
    _column("run_status", String(16)),
    _column("message", Text, default=""),
    _timestamp("created_at", index=True),
    _timestamp("updated_at"),
    _timestamp("started_at", nullable=True),
    _timestamp("completed_at", nullable=True, index=True),  # trigger events poll on it
    _column("branch", String(200), nullable=True),
    _column("commit", String(64), nullable=True),
    _column("pipeline_version_number", Integer, nullable=True),
    _column("triggered_by", JSON, default=list),
    _column("run_inputs", JSON, default=dict),
    _column("data", JSON, nullable=True),
    # a list query's filter, then its order (migration 0006)
    Index("ix_pipeline_runs_status_created", "run_status", "created_at"),
    Index("ix_pipeline_runs_pipeline_created", "pipeline_id", "created_at"),
)

TASK_RUNS = Table(
    "task_runs", METADATA,
    # One execution of one task in a pipeline run; matrix iterations are children of a parent.
    Column("id", ID, primary_key=True),
    _column("pipeline_run_id", ForeignKey("pipeline_runs.id")),
    _column("pipeline_id", ID),
    _column("task_id", String(200)),
    _column("task_name", String(100)),
    _column("group_id", String(200)),  # local: the top-level entry holding the task
    _column("iteration", Integer, nullable=True),  # local: 0-based matrix iteration of a child run
    _column("position", Integer, default=0),  # local: order in the plan
    _column("account_id", ID),
    _column("integration", String(64)),
    _column("integration_job", String(64)),
    _column("status", String(16)),
    _column("message", Text, nullable=True),
    _column("external_status", String(64), nullable=True),
    _column("external_message", Text, nullable=True),
    _column("platform_link", Text, nullable=True),
    _column("task_parameters", JSON, nullable=True),
    _column("run_parameters", JSON, nullable=True),
    _column("connection_id", String(200), nullable=True),
    _column("number_of_attempts", Integer, default=0),
    _column("matrix_parent", Boolean, default=False),
    _column("matrix_parent_id", ID, nullable=True, index=True),
    _column("depends_on", JSON, nullable=True),
    _timestamp("created_at", index=True),
    _timestamp("updated_at"),
    _timestamp("started_at", nullable=True),
    _timestamp("completed_at", nullable=True),
    Index("ix_task_runs_run_task", "pipeline_run_id", "task_id"),
    # a list query's filter, then its order (migration 0006)
    Index("ix_task_runs_status_created", "status", "created_at"),
    Index("ix_task_runs_integration_created", "integration", "created_at"),
    Index("ix_task_runs_pipeline_created", "pipeline_id", "created_at"),
)

TASK_OUTPUTS = Table(
    "task_outputs", METADATA,
    # One named output of a task run (Orchestra: SET_OUTPUT; locally also the worker's summary).
    Column("task_run_id", ForeignKey("task_runs.id"), primary_key=True),
    Column("name", String(200), primary_key=True),
    _column("value", JSON),
    _timestamp("created_at"),
)

TASK_RUN_FILES = Table(
    "task_run_files", METADATA,
    # A log or artifact file of a task run, as listed by the logs/artifacts endpoints.
    Column("id", Integer, primary_key=True, autoincrement=True),
    _column("task_run_id", ForeignKey("task_runs.id"), index=True),
    _column("kind", String(16)),  # "log" or "artifact"
    _column("filename", Text),  # the name the API shows, e.g. "1/dbt build.log"
    _column("path", Text),  # absolute path on this machine
    _column("attempt", Integer, nullable=True),
    _timestamp("created_at"),
)

TASK_PROCESSES = Table(
    "task_processes", METADATA,
    # A process group a task attempt started (local: no Orchestra counterpart). Lets
    # ``orchestra-local cancel`` and ``--retry-from-failed`` find what a dead runner left running,
    # and check a pid is still that process (its start time) before signalling it.
    Column("id", Integer, primary_key=True, autoincrement=True),
    _column("pipeline_run_id", ForeignKey("pipeline_runs.id"), index=True),
    _column("task_run_id", ForeignKey("task_runs.id"), nullable=True, index=True),
    _column("attempt", Integer, nullable=True),
    _column("host", String(255)),
    _column("pgid", Integer),  # the group leader's pid (each task process leads its own group)
    _column("create_time", Float),  # the leader's start, seconds since the epoch (psutil)
    _timestamp("started_at"),
    _timestamp("ended_at", nullable=True),  # when the leader exited (None: running, or its runner died)
)

OPERATIONS = Table(
    "operations", METADATA,
    # A unit of work inside a task run (a dbt node, a table load).
    Column("id", ID, primary_key=True),
    _column("account_id", ID),
    _column("pipeline_run_id", ForeignKey("pipeline_runs.id"), index=True),
    _column("task_run_id", ForeignKey("task_runs.id"), nullable=True, index=True),
    _timestamp("inserted_at", index=True),
    _column("message", Text, nullable=True),
    _column("operation_name", Text, nullable=True),
    _column("operation_status", String(16)),
    _column("operation_type", String(32)),
    _column("external_id", Text),
    _column("external_status", String(64), nullable=True),
    _column("external_detail", Text, nullable=True),
    _column("integration", String(64), nullable=True),
    _column("integration_job", String(64), nullable=True),
    _timestamp("started_at", nullable=True),
    _timestamp("completed_at", nullable=True),
    _column("dependencies", JSON, default=list),
    _column("operation_duration", Float, nullable=True),  # seconds
    _column("rows_affected", Integer, nullable=True),
    _column("asset_external_id", Text, nullable=True),
    _column("meta", JSON, nullable=True),
    # a list query's filter, then its order (migration 0006)
    Index("ix_operations_status_inserted", "operation_status", "inserted_at"),
    Index("ix_operations_integration_inserted", "integration", "inserted_at"),
)

TICKS = Table(
    "ticks", METADATA,
    # One evaluation of a trigger: a schedule's fire time, a sensor's window, a trigger event
    # (local). Answers "why did (or didn't) this run?". The unique key (pipeline, trigger kind,
    # trigger name, scheduled time) is the claim on a fire time: it is inserted in the transaction
    # that creates the pipeline run it starts, so two schedulers on one database, or a restart
    # within the minute, start it at most once.
    Column("id", ID, primary_key=True),
    _column("pipeline_id", ID, index=True),
    _column("pipeline_alias", String(200)),
    _column("trigger_kind", String(16)),  # SCHEDULE, SENSOR, TRIGGER_EVENT
    _column("trigger_name", String(200)),  # schedule name (or its index), sensor id, upstream run id
    _timestamp("scheduled_for", index=True),  # the fire time / window start / upstream end
    _timestamp("evaluated_at"),
    _column("outcome", String(16)),  # STARTED, SKIPPED, TIMED_OUT, FAILED
    _column("reason", Text, default=""),
    _column("pipeline_run_id", ForeignKey("pipeline_runs.id"), nullable=True),
    UniqueConstraint("pipeline_id", "trigger_kind", "trigger_name", "scheduled_for", name="uq_ticks_claim"),
)

SENSOR_EVENTS = Table(
    "sensor_events", METADATA,
    # An event POSTed for ``ORCHESTRA_WEBHOOK_EVENT`` sensor checks (local; Orchestra keeps them 7
    # days). Body received (Orchestra's "Webhook events sensor" page): ``{"event_type":
    # "SENSOR_EVENT", "sensor_event_type": "<type>", "sensor_event": {...any JSON object...}}``.
    Column("id", ID, primary_key=True),
    _column("sensor_event_type", String(200)),
    _column("sensor_event", JSON),
    _timestamp("received_at"),
    Index("ix_sensor_events_type_received", "sensor_event_type", "received_at"),
)

ALERT_OUTBOX = Table(
    "alert_outbox", METADATA,
    # An alert owed: written with the status that caused it, sent afterwards (local;
    # ``orchestra_local/alerts``). ``state``: PENDING (due at ``next_attempt_at``), SENDING (claimed
    # by a deliverer until ``next_attempt_at``; a deliverer that died is taken over after that),
    # DELIVERED, DEAD (the last attempt failed, or a permanent error: ``last_error``), REMOTE_ONLY
    # (a destination only hosted Orchestra delivers to).
    Column("id", ID, primary_key=True),
    _column("pipeline_run_id", ForeignKey("pipeline_runs.id"), index=True),
    _column("task_run_id", ID, nullable=True),
    _column("alert_name", Text),
    _column("event_type", String(32)),  # PIPELINE_RUN_COMPLETED, TASK_RUN_COMPLETED
    _column("integration", String(32)),  # WEBHOOK, SLACK, MICROSOFT_TEAMS, EMAIL, ...
    _column("destination", Text, nullable=True),
    _column("connection_id", Text, nullable=True),
    _column("parameters", JSON),
    _column("custom_message", Text, nullable=True),
    _column("detail", JSON),  # the event's detail (Orchestra's webhook body)
    _column("state", String(16)),
    _column("attempts", Integer),
    _timestamp("next_attempt_at"),
    _column("last_error", Text, nullable=True),
    _timestamp("created_at"),
    _timestamp("delivered_at", nullable=True),
    Index("ix_alert_outbox_due", "state", "next_attempt_at"),
)
