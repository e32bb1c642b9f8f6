"""SQLAlchemy 2 tables of the run metadata store.

Field meanings follow Orchestra's Metadata API records (orchestra-contract section 7; the
``PipelineRunResponse``, ``TaskRunResponse`` and ``OperationResponse`` schemas of its OpenAPI
document). Columns are snake_case; the API layer renders camelCase. Timestamps are stored as naive
UTC and read back as aware UTC datetimes. A few local columns have no Orchestra counterpart and are
marked as such.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

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


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class PipelineRun(Base):
    """One execution of a pipeline (Orchestra: pipeline run)."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (  # a list query's filter, then its order (migration 0006)
        Index("ix_pipeline_runs_status_created", "run_status", "created_at"),
        Index("ix_pipeline_runs_pipeline_created", "pipeline_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(ID)
    pipeline_name: Mapped[str] = mapped_column(String(100))
    pipeline_alias: Mapped[str] = mapped_column(String(200))  # local: file stem, the API's alias
    yaml_path: Mapped[str] = mapped_column(Text)  # local: repo-relative path of the pipeline file
    account_id: Mapped[str] = mapped_column(ID)
    env_id: Mapped[str | None] = mapped_column(ID)
    env_name: Mapped[str | None] = mapped_column(String(200))
    run_status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None] = mapped_column(index=True)  # trigger events poll on it
    branch: Mapped[str | None] = mapped_column(String(200))
    commit: Mapped[str | None] = mapped_column(String(64))
    pipeline_version_number: Mapped[int | None]
    triggered_by: Mapped[list[Any]] = mapped_column(default=list)
    run_inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any] | None]


class TaskRun(Base):
    """One execution of one task in a pipeline run; matrix iterations are children of a parent."""

    __tablename__ = "task_runs"
    __table_args__ = (
        Index("ix_task_runs_run_task", "pipeline_run_id", "task_id"),
        # a list query's filter, then its order (migration 0006)
        Index("ix_task_runs_status_created", "status", "created_at"),
        Index("ix_task_runs_integration_created", "integration", "created_at"),
        Index("ix_task_runs_pipeline_created", "pipeline_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    pipeline_run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id"))
    pipeline_id: Mapped[str] = mapped_column(ID)
    task_id: Mapped[str] = mapped_column(String(200))
    task_name: Mapped[str] = mapped_column(String(100))
    group_id: Mapped[str] = mapped_column(String(200))  # local: the top-level entry holding the task
    iteration: Mapped[int | None]  # local: 0-based matrix iteration of a child run
    position: Mapped[int] = mapped_column(Integer, default=0)  # local: order in the plan
    account_id: Mapped[str] = mapped_column(ID)
    integration: Mapped[str] = mapped_column(String(64))
    integration_job: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    external_status: Mapped[str | None] = mapped_column(String(64))
    external_message: Mapped[str | None] = mapped_column(Text)
    platform_link: Mapped[str | None] = mapped_column(Text)
    task_parameters: Mapped[dict[str, Any] | None]
    run_parameters: Mapped[dict[str, Any] | None]
    connection_id: Mapped[str | None] = mapped_column(String(200))
    number_of_attempts: Mapped[int] = mapped_column(Integer, default=0)
    matrix_parent: Mapped[bool] = mapped_column(Boolean, default=False)
    matrix_parent_id: Mapped[str | None] = mapped_column(ID, index=True)
    depends_on: Mapped[list[Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class TaskOutput(Base):
    """One named output of a task run (Orchestra: SET_OUTPUT; locally also the worker's summary)."""

    __tablename__ = "task_outputs"

    task_run_id: Mapped[str] = mapped_column(ForeignKey("task_runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]


class TaskRunFile(Base):
    """A log or artifact file of a task run, as listed by the logs/artifacts endpoints."""

    __tablename__ = "task_run_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_run_id: Mapped[str] = mapped_column(ForeignKey("task_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "log" or "artifact"
    filename: Mapped[str] = mapped_column(Text)  # the name the API shows, e.g. "1/dbt build.log"
    path: Mapped[str] = mapped_column(Text)  # absolute path on this machine
    attempt: Mapped[int | None]
    created_at: Mapped[datetime]


class TaskProcess(Base):
    """A process group a task attempt started (local: no Orchestra counterpart).

    Lets ``orchestra-local cancel`` and ``--retry-from-failed`` find what a dead runner left
    running, and check a pid is still that process (its start time) before signalling it.
    """

    __tablename__ = "task_processes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id"), index=True)
    task_run_id: Mapped[str | None] = mapped_column(ForeignKey("task_runs.id"), index=True)
    attempt: Mapped[int | None]
    host: Mapped[str] = mapped_column(String(255))
    pgid: Mapped[int]  # the group leader's pid (each task process leads its own group)
    create_time: Mapped[float] = mapped_column(Float)  # the leader's start, seconds since the epoch (psutil)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]  # when the leader exited (None: running, or its runner died)


class Operation(Base):
    """A unit of work inside a task run (a dbt node, a table load)."""

    __tablename__ = "operations"
    __table_args__ = (  # a list query's filter, then its order (migration 0006)
        Index("ix_operations_status_inserted", "operation_status", "inserted_at"),
        Index("ix_operations_integration_inserted", "integration", "inserted_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ID)
    pipeline_run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id"), index=True)
    task_run_id: Mapped[str | None] = mapped_column(ForeignKey("task_runs.id"), index=True)
    inserted_at: Mapped[datetime] = mapped_column(index=True)
    message: Mapped[str | None] = mapped_column(Text)
    operation_name: Mapped[str | None] = mapped_column(Text)
    operation_status: Mapped[str] = mapped_column(String(16))
    operation_type: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(Text)
    external_status: Mapped[str | None] = mapped_column(String(64))
    external_detail: Mapped[str | None] = mapped_column(Text)
    integration: Mapped[str | None] = mapped_column(String(64))
    integration_job: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    dependencies: Mapped[list[Any]] = mapped_column(default=list)
    operation_duration: Mapped[float | None] = mapped_column(Float)  # seconds
    rows_affected: Mapped[int | None]
    asset_external_id: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None]


class Tick(Base):
    """One evaluation of a trigger: a schedule's fire time, a sensor's window, a trigger event (local).

    Answers "why did (or didn't) this run?". The unique key (pipeline, trigger kind, trigger name,
    scheduled time) is the claim on a fire time: it is inserted in the transaction that creates the
    pipeline run it starts, so two schedulers on one database, or a restart within the minute, start
    it at most once.
    """

    __tablename__ = "ticks"
    __table_args__ = (UniqueConstraint("pipeline_id", "trigger_kind", "trigger_name", "scheduled_for",
                                       name="uq_ticks_claim"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(ID, index=True)
    pipeline_alias: Mapped[str] = mapped_column(String(200))
    trigger_kind: Mapped[str] = mapped_column(String(16))  # SCHEDULE, SENSOR, TRIGGER_EVENT
    trigger_name: Mapped[str] = mapped_column(String(200))  # schedule name (or its index), sensor id, upstream run id
    scheduled_for: Mapped[datetime] = mapped_column(index=True)  # the fire time / window start / upstream end
    evaluated_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # STARTED, SKIPPED, TIMED_OUT, FAILED
    reason: Mapped[str] = mapped_column(Text, default="")
    pipeline_run_id: Mapped[str | None] = mapped_column(ForeignKey("pipeline_runs.id"))


class SensorEvent(Base):
    """An event POSTed for ``ORCHESTRA_WEBHOOK_EVENT`` sensor checks (local; Orchestra keeps them 7 days).

    Body received (Orchestra's "Webhook events sensor" page): ``{"event_type": "SENSOR_EVENT",
    "sensor_event_type": "<type>", "sensor_event": {...any JSON object...}}``.
    """

    __tablename__ = "sensor_events"
    __table_args__ = (Index("ix_sensor_events_type_received", "sensor_event_type", "received_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    sensor_event_type: Mapped[str] = mapped_column(String(200))
    sensor_event: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class AlertOutbox(Base):
    """An alert owed: written with the status that caused it, sent afterwards (local; ``orchestra_local/alerts``).

    ``state``: PENDING (due at ``next_attempt_at``), SENDING (claimed by a deliverer until
    ``next_attempt_at``; a deliverer that died is taken over after that), DELIVERED, DEAD (the last
    attempt failed, or a permanent error: ``last_error``), REMOTE_ONLY (a destination only hosted
    Orchestra delivers to).
    """

    __tablename__ = "alert_outbox"
    __table_args__ = (Index("ix_alert_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    pipeline_run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id"), index=True)
    task_run_id: Mapped[str | None] = mapped_column(ID)
    alert_name: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(32))  # PIPELINE_RUN_COMPLETED, TASK_RUN_COMPLETED
    integration: Mapped[str] = mapped_column(String(32))  # WEBHOOK, SLACK, MICROSOFT_TEAMS, EMAIL, ...
    destination: Mapped[str | None] = mapped_column(Text)
    connection_id: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]]
    custom_message: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]]  # the event's detail (Orchestra's webhook body)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
