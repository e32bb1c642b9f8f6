"""Pydantic v2 models of an Orchestra pipeline file, version v1.

Source of the contract: ``docs/orchestra-contract.md`` section 1, itself compiled from the ``PipelineModel``,
``TaskGroupModel``, ``TaskModel`` and related schemas of Orchestra's public OpenAPI document.
The models enforce exactly the constraints of those JSON schemas, as Orchestra's own validator
(``oml_lang``) does; limits that Orchestra only documents in prose (at most 10 tags, retry_delay
at most 120 minutes, frequency_secs 60-600, one matrix input, ...) are warnings in ``rules.py``.
Keys are snake_case in YAML; the camelCase spelling the API uses is accepted as an alias. Every
model forbids unknown keys, so a misspelt key is an error (``extra_forbidden``).

Values that may hold ``${{ ... }}`` expressions stay strings here; the engine resolves them at run
time (``orchestra_local.expressions``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from pydantic.alias_generators import to_camel

from orchestra_local.spec.statuses import AlertStatus, PipelineRunStatus


class SpecModel(BaseModel):
    """Base of every pipeline-file model: unknown keys forbidden, camelCase aliases accepted."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        loc_by_alias=False,
        frozen=True,
    )


class Concurrency(SpecModel):
    """``configuration.concurrency``: ``max_active`` concurrent runs of the pipeline (None = unlimited)."""

    max_active: int | None = None


class Configuration(SpecModel):
    """Retry and timeout defaults. A task's block overrides the pipeline's, key by key.

    Attributes:
        retries: Extra attempts after the first failed one.
        retry_delay: Wait before each retry, in **minutes** (at most 120).
        timeout: Limit of one attempt, in **seconds**.
        concurrency: Limit of concurrent runs of the whole pipeline.
    """

    retries: int | None = None
    retry_delay: int | None = None
    timeout: int | None = None
    concurrency: Concurrency | None = None


class OperationMetadata(SpecModel):
    """Lineage hints attached to a task (``operation_metadata`` values)."""

    model_config = ConfigDict(extra="allow", alias_generator=None, frozen=True)

    integration: str
    connection: str | None = None
    s3_bucket_name: str | None = None
    s3_key_prefix: str | None = None
    dbt_warehouse_identifier: str | None = None


class AlertDestination(SpecModel):
    """Where an alert goes: EMAIL, SLACK, MICROSOFT_TEAMS, WEBHOOK, PAGER_DUTY or DATADOG."""

    integration: Literal["EMAIL", "DATADOG", "MICROSOFT_TEAMS", "PAGER_DUTY", "SLACK", "WEBHOOK"]
    destination: str | None = None
    connection_id: str | None = None
    parameters: dict[str, Any] | None = None


class Alert(SpecModel):
    """An alert rule (orchestra-contract section 6)."""

    name: str
    statuses: Annotated[list[AlertStatus], Field(min_length=1)]
    destinations: Annotated[list[AlertDestination], Field(min_length=1)]
    custom_message: Annotated[str, Field(max_length=200)] | None = None


class Task(SpecModel):
    """One task: an ``integration_job`` of an ``integration`` with its ``parameters``."""

    integration: str
    integration_job: str
    parameters: dict[str, Any]
    depends_on: list[str] = Field(default_factory=list)
    condition: str | None = None
    name: Annotated[str, Field(max_length=100)] = ""
    connection: str | None = None
    configuration: Configuration | None = None
    treat_failure_as_warning: bool | None = None
    operation_metadata: dict[str, OperationMetadata] | None = None
    tags: list[str] | None = None
    alerts: list[Alert] | None = None
    meta: dict[str, Any] | None = None
    paused: bool | None = None
    anomalies: list[Any] | None = None


class Matrix(SpecModel):
    """``matrix`` of a task group: one iteration of the whole group per value.

    Attributes:
        inputs: Exactly one key, whose value is a list or an expression that yields a list.
        sequential: Run iterations one at a time.
        max_parallel: Most iterations running at once.
        continue_on_error: Keep starting iterations after one failed (default: stop).
    """

    inputs: dict[str, list[Any] | str]
    sequential: bool | None = None
    max_parallel: int | None = None
    continue_on_error: bool | None = None

    @property
    def key(self) -> str:
        """The matrix input name, as in ``${{ MATRIX.<key> }}`` (the first; Orchestra allows one; "" if none)."""
        return next(iter(self.inputs), "")

    @property
    def values(self) -> list[Any] | str:
        """The list of values, or the expression text that yields it (no input: no values)."""
        return self.inputs[self.key] if self.inputs else []


class TaskGroup(SpecModel):
    """A task group: tasks that run together, gated by ``depends_on`` on other top-level entries."""

    tasks: dict[str, Task]
    depends_on: list[str] = Field(default_factory=list)
    condition: str | None = None
    name: Annotated[str, Field(max_length=100)] | None = ""
    matrix: Matrix | None = None
    meta: dict[str, Any] | None = None
    paused: bool | None = None


class PipelineInput(SpecModel):
    """A declared run input. Required (no default, not optional) ones must be given at start."""

    type: Literal["string", "number", "boolean", "dict", "list"]
    default: Any = None
    optional: bool | None = None
    options: list[Any] | None = None

    @property
    def required(self) -> bool:
        """True when a start request must supply this input."""
        return self.default is None and not self.optional


class Schedule(SpecModel):
    """A cron schedule (six-field EventBridge cron, orchestra-contract section 5)."""

    cron: str
    name: str | None = None
    timezone: str | None = "UTC"
    environment: str | None = None
    branch: str | None = None
    exclude: list[str] | None = None
    run_inputs: dict[str, Any] | None = None


class SensorCheck(SpecModel):
    """One check of a sensor; all checks must pass for the sensor to trigger."""

    integration: str
    sensor_type: str
    parameters: dict[str, Any]
    connection: str | None = None
    map_outputs: dict[str, str] | None = None


class Sensor(SpecModel):
    """A sensor: a cron-opened window in which ``checks`` are polled every ``frequency_secs``."""

    name: Annotated[str, Field(max_length=100)]
    cron: str
    timezone: str
    timeout_mins: Annotated[int, Field(le=7200)]
    checks: dict[str, SensorCheck]
    frequency_secs: int | None = 60
    condition: str | None = None
    environments: list[str] | str | None = None
    exclude: list[str] | None = None
    run_inputs: dict[str, Any] | None = None
    alerts: list[Alert] | None = None


class TriggerEvent(SpecModel):
    """Start this pipeline when another pipeline's run ends in one of ``statuses``."""

    type: Literal["pipeline"]
    pipeline_id: str
    statuses: list[PipelineRunStatus] | None = None
    run_inputs: dict[str, Any] | None = None


class Webhook(SpecModel):
    """Manual/API trigger settings."""

    enabled: bool = False
    run_inputs: dict[str, Any] | None = None
    operation_metadata: dict[str, OperationMetadata] | None = None


def _entry_kind(value: Any) -> str:
    """Discriminate a top-level entry: a mapping with ``tasks`` is a group, anything else a task."""
    if isinstance(value, dict):
        return ENTRY_TAG_GROUP if "tasks" in value else ENTRY_TAG_TASK
    return ENTRY_TAG_GROUP if isinstance(value, TaskGroup) else ENTRY_TAG_TASK


ENTRY_TAG_GROUP = "TaskGroup"
ENTRY_TAG_TASK = "Task"
ENTRY_TAGS = frozenset({ENTRY_TAG_GROUP, ENTRY_TAG_TASK})
"""Tags pydantic inserts into error locations of ``pipeline.<id>``; the loader strips them."""

Entry = Annotated[
    Annotated[TaskGroup, Tag(ENTRY_TAG_GROUP)] | Annotated[Task, Tag(ENTRY_TAG_TASK)],
    Discriminator(_entry_kind),
]
"""A top-level ``pipeline`` entry: a task group (recommended) or a standalone task.

Deciding by keys (rather than trying both models) makes errors name the intended model only.
"""


class Pipeline(SpecModel):
    """A whole pipeline file (``version: v1``)."""

    version: Literal["v1"]
    name: Annotated[str, Field(max_length=100)]
    pipeline: dict[str, Entry]
    schedule: list[Schedule] | None = None
    sensors: dict[str, Sensor] | None = None
    trigger_events: list[TriggerEvent] | None = None
    webhook: Webhook = Field(default_factory=Webhook)
    configuration: Configuration | None = None
    inputs: dict[str, PipelineInput] | None = None
    alerts: list[Alert] | None = None
    meta: dict[str, Any] | None = None
    anomalies: list[Any] | None = None

    def iter_tasks(self) -> Iterator[tuple[str, str, Task]]:
        """Yield ``(entry_id, task_id, task)`` for every task; a standalone task is its own entry."""
        for entry_id, entry in self.pipeline.items():
            if isinstance(entry, TaskGroup):
                for task_id, task in entry.tasks.items():
                    yield entry_id, task_id, task
            else:
                yield entry_id, entry_id, entry
