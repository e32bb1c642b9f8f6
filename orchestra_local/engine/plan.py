"""The plan of a pipeline run: entries (task groups, standalone tasks) in dependency order, each with
its tasks in dependency order and its matrix values when they are known before the run.

Matrix values given as a list, or as an expression over ``inputs``/``ENV``/``ORCHESTRA`` times, are
expanded here; an expression that reads other tasks (their outputs or statuses) is expanded by the
executor when the entry becomes ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestra_local.engine.dag import topological_order
from orchestra_local.errors import ExpressionError, PipelineValidationError, Problem
from orchestra_local.expressions import TEMPLATE, Scope, evaluate_template, names_used
from orchestra_local.integrations import is_local
from orchestra_local.spec.limits import MAX_MATRIX_VALUES
from orchestra_local.spec.models import Configuration, Matrix, Pipeline, Task, TaskGroup

RUN_STATE_NAMES = frozenset({"tasks", "task_groups"})


@dataclass(frozen=True)
class EffectiveConfiguration:
    """A task's configuration after the task's block overrides the pipeline's, key by key.

    Attributes:
        retries: Extra attempts after a failed one (default 0).
        retry_delay_minutes: Wait before each retry, in minutes (default 0, our choice).
        timeout_seconds: Limit of one attempt in seconds, or None for none.
    """

    retries: int = 0
    retry_delay_minutes: int = 0
    timeout_seconds: int | None = None


def effective_configuration(pipeline: Configuration | None, task: Configuration | None) -> EffectiveConfiguration:
    """Merge pipeline-level and task-level configuration (task wins where it sets a value)."""

    def pick(name: str) -> Any:
        for block in (task, pipeline):
            if block is not None and getattr(block, name) is not None:
                return getattr(block, name)
        return None

    return EffectiveConfiguration(  # negative values (a validation warning) count as 0
        retries=max(0, pick("retries") or 0),
        retry_delay_minutes=max(0, pick("retry_delay") or 0),
        timeout_seconds=pick("timeout"),
    )


@dataclass(frozen=True)
class PlannedTask:
    """One task of an entry.

    Attributes:
        task_id: Id in the YAML.
        task: The task's model.
        depends_on: Ids of tasks of the same entry it waits for.
        configuration: Retries, retry delay and timeout after inheritance.
        local: True when an integration module can execute it on this machine.
    """

    task_id: str
    task: Task
    depends_on: tuple[str, ...]
    configuration: EffectiveConfiguration
    local: bool

    @property
    def name(self) -> str:
        """Display name: the task's ``name`` or its id."""
        return self.task.name or self.task_id


@dataclass(frozen=True)
class PlannedEntry:
    """A top-level entry: a task group or a standalone task (then ``is_group`` is False).

    Attributes:
        entry_id: Id in the YAML.
        name: Display name.
        is_group: Whether the entry is a task group.
        depends_on: Ids of entries it waits for.
        condition: The group condition (None for standalone tasks, whose condition is the task's).
        paused: The group is paused.
        matrix: The matrix block, if any.
        matrix_values: The iteration values when known before the run; None when the matrix
            expression reads other tasks (expanded at run time), or when there is no matrix.
        tasks: Tasks in dependency order.
    """

    entry_id: str
    name: str
    is_group: bool
    depends_on: tuple[str, ...]
    condition: str | None
    paused: bool
    matrix: Matrix | None
    matrix_values: tuple[Any, ...] | None
    tasks: tuple[PlannedTask, ...]

    @property
    def deferred_matrix(self) -> bool:
        """True when the matrix values are only known at run time."""
        return self.matrix is not None and self.matrix_values is None


@dataclass(frozen=True)
class Plan:
    """Entries of a pipeline in dependency order."""

    pipeline: Pipeline
    entries: tuple[PlannedEntry, ...]

    def entry(self, entry_id: str) -> PlannedEntry:
        """The entry with this id (exact match).

        Raises:
            KeyError: When there is none.
        """
        for entry in self.entries:
            if entry.entry_id == entry_id:
                return entry
        raise KeyError(entry_id)

    def remote_only(self) -> list[tuple[str, PlannedTask]]:
        """``(entry_id, task)`` of every task that cannot run locally."""
        return [(e.entry_id, t) for e in self.entries for t in e.tasks if not t.local]

    @property
    def task_count(self) -> int:
        """Number of task runs the plan will execute (matrix children counted; deferred as 1 each)."""
        return sum(len(e.tasks) * (len(e.matrix_values) if e.matrix_values is not None else 1) for e in self.entries)


def expand_matrix(matrix: Matrix, scope: Scope, where: str) -> tuple[Any, ...]:
    """The list of iteration values of a matrix.

    Args:
        matrix: The task group's matrix block.
        scope: Inputs, environment and run state the expression may read.
        where: YAML path of the matrix input, e.g. ``pipeline.<group>.matrix.inputs.<key>``.

    Returns:
        At most ``limits.MAX_MATRIX_VALUES`` (1,000) values.

    Raises:
        ExpressionError: When the expression fails, does not yield a list, or yields more than
            ``MAX_MATRIX_VALUES`` values (the message names the group's YAML path).
    """
    values = matrix.values
    if isinstance(values, list):
        return _bounded(tuple(values), str(values)[:60], where)
    result = evaluate_template(values, scope, where)
    if isinstance(result, str):
        raise ExpressionError(
            f"matrix inputs must yield a list, got text {result[:60]!r}", expression=values, where=where
        )
    if not isinstance(result, (list, tuple)):
        raise ExpressionError(
            f"matrix inputs must yield a list, got {type(result).__name__}", expression=values, where=where
        )
    return _bounded(tuple(result), values, where)


def _bounded(values: tuple[Any, ...], expression: str, where: str) -> tuple[Any, ...]:
    if len(values) > MAX_MATRIX_VALUES:
        raise ExpressionError(
            f"the matrix has {len(values):,} values; the local runner runs at most {MAX_MATRIX_VALUES:,} iterations "
            "of one task group (MAX_MATRIX_VALUES)", expression=expression, where=where,
        )
    return values


def _reads_run_state(text: str) -> bool:
    """True when an expression reads other tasks' statuses or outputs (known only during the run)."""
    if "PIPELINE_RUN_TASKS" in text.upper():
        return True
    return any(names_used(match.group(1)) & RUN_STATE_NAMES for match in TEMPLATE.finditer(text))


def build_plan(pipeline: Pipeline, scope: Scope, *, expand_expressions: bool = True) -> Plan:
    """Order a validated pipeline into a :class:`Plan`.

    Args:
        pipeline: A pipeline whose references were checked by the loader.
        scope: Inputs, environment and run metadata used to expand matrix expressions.
        expand_expressions: False leaves every matrix given as an expression deferred (expanded at
            run time), as an exported job does: its inputs and environment are only known per run.

    Raises:
        PipelineValidationError: When a matrix expression over inputs fails or yields no list.
    """
    order = topological_order({eid: list(entry.depends_on) for eid, entry in pipeline.pipeline.items()})
    entries = []
    for entry_id in order:
        entry = pipeline.pipeline[entry_id]
        tasks: Mapping[str, Task] = entry.tasks if isinstance(entry, TaskGroup) else {entry_id: entry}
        in_group = {tid: list(t.depends_on) if isinstance(entry, TaskGroup) else [] for tid, t in tasks.items()}
        planned_tasks = tuple(
            PlannedTask(
                task_id=tid,
                task=tasks[tid],
                depends_on=tuple(in_group[tid]),
                configuration=effective_configuration(pipeline.configuration, tasks[tid].configuration),
                local=is_local(tasks[tid].integration, tasks[tid].integration_job),
            )
            for tid in topological_order(in_group)
        )
        matrix = entry.matrix if isinstance(entry, TaskGroup) else None
        values: tuple[Any, ...] | None = None
        if matrix is not None:
            raw = matrix.values
            if isinstance(raw, list) or (expand_expressions and not _reads_run_state(raw)):
                where = f"pipeline.{entry_id}.matrix.inputs.{matrix.key}"
                try:
                    values = expand_matrix(matrix, scope, where)
                except ExpressionError as exc:
                    raise PipelineValidationError(
                        [Problem(loc=("pipeline", entry_id, "matrix", "inputs", matrix.key), msg=str(exc), type="expression")]
                    ) from None
        entries.append(
            PlannedEntry(
                entry_id=entry_id,
                name=(entry.name or entry_id) if isinstance(entry, TaskGroup) else (entry.name or entry_id),
                is_group=isinstance(entry, TaskGroup),
                depends_on=tuple(entry.depends_on),
                condition=entry.condition if isinstance(entry, TaskGroup) else None,
                paused=bool(entry.paused),
                matrix=matrix,
                matrix_values=values,
                tasks=planned_tasks,
            )
        )
    return Plan(pipeline=pipeline, entries=tuple(entries))
