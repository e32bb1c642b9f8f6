"""A pipeline file as one Dagster job: one op per task run, the plan's dependencies as the DAG.

| Orchestra | Dagster |
|---|---|
| task (one run) | an op, named ``<entry>__<task>`` (a standalone task: ``<task>``) |
| matrix given as a list | one op per iteration: ``<entry>__<task>__<index>_<value>`` |
| matrix from an expression (upstream outputs, inputs, ENV) | an op ``<entry>__matrix`` evaluates it at run time and yields a ``DynamicOutput`` per value; each task of the group is mapped over them, downstream collects |
| ``depends_on`` (groups, tasks) | op dependencies; every root task of a group waits for every last task of each upstream group (all iterations) |
| ``retries``, ``retry_delay`` (minutes) | ``RetryPolicy(max_retries, delay=minutes x 60 s)`` |
| ``timeout`` (seconds) | enforced by the integration inside the op, as ``orchestra-local`` does |
| ``condition``, gating, paused | evaluated in the op by the runner's own ``RunGraph.decide`` |
| SKIPPED | the op logs why and yields its ``skipped`` output instead of ``state``, so Dagster skips its dependents; when a condition downstream may read it, the op yields its record and the dependents decide |
| FAILED | the op fails (``Failure``); Dagster does not run its dependents (Orchestra: SKIPPED) |
| ``treat_failure_as_warning`` | the last attempt's failure becomes a WARNING output, logged at warning level |
| run ``inputs`` | run config ``resources: {orchestra: {config: {inputs: {...}}}}`` |
| task outputs, statuses | the op's output (:mod:`.run_state`) and its metadata ``orchestra/*`` |
| ``matrix.sequential``/``max_parallel`` | the multiprocess executor's ``tag_concurrency_limits`` on tag ``orchestra/matrix`` |

Each op's log files are copied into Dagster's event log after its attempt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from dagster import Any as AnyType
from dagster import (
    Bool,
    DynamicOut,
    DynamicOutput,
    Failure,
    Field,
    Float,
    In,
    JobDefinition,
    MetadataValue,
    Nothing,
    OpDefinition,
    Out,
    Output,
    Permissive,
    ResourceDefinition,
    RetryPolicy,
    String,
    graph,
    multiprocess_executor,
)

from orchestra_local.engine.plan import PlannedEntry, PlannedTask, expand_matrix
from orchestra_local.errors import ExpressionError, OrchestraLocalError
from orchestra_local.export.run_state import State, merge_states, node_label, value_text
from orchestra_local.export.steps import ExportedPipeline, StepSpec, as_warning
from orchestra_local.spec.statuses import TaskRunStatus

RESOURCE_KEY = "orchestra"
STATE = "state"
SKIPPED = "skipped"
"""Output an op yields instead of ``state`` when it ends SKIPPED and no downstream reads it (no op consumes it)."""
ITERATIONS = "iterations"
INPUT_TYPES = {"string": String, "number": Float, "boolean": Bool}
MAX_NAME = 200


def dagster_name(*parts: str) -> str:
    """A Dagster name (``[A-Za-z0-9_]``, at most 200 characters) from YAML ids joined by ``__``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", "__".join(p for p in parts if p))[:MAX_NAME]


def _mapping_key(index: int, value: Any) -> str:
    """``<index>_<value>`` (the value reduced to ``[A-Za-z0-9_]``, at most 40 characters)."""
    slug = re.sub(r"_+", "_", dagster_name(value_text(value))).strip("_")[:40].strip("_")
    return f"{index}_{slug}" if slug else str(index)


def _conditional_downstream(entries: tuple[PlannedEntry, ...]) -> set[tuple[str, str]]:
    """``(entry, task)`` whose SKIPPED record must still flow: a condition downstream may read it."""
    downstream: dict[str, set[str]] = {e.entry_id: set() for e in entries}
    for entry in reversed(entries):  # plan order is topological: children are complete before parents
        for other in entries:
            if entry.entry_id in other.depends_on:
                downstream[entry.entry_id] |= {other.entry_id} | downstream[other.entry_id]
    by_id = {e.entry_id: e for e in entries}
    flows = set()
    for entry in entries:
        later = [by_id[d] for d in downstream[entry.entry_id]]
        later_conditions = any(e.condition or any(t.task.condition for t in e.tasks) for e in later)
        for task in entry.tasks:
            below, frontier = set(), {task.task_id}
            while frontier:
                frontier = {t.task_id for t in entry.tasks if set(t.depends_on) & frontier} - below
                below |= frontier
            if later_conditions or entry.condition and below or any(t.task.condition for t in entry.tasks
                                                                   if t.task_id in below):
                flows.add((entry.entry_id, task.task_id))
    return flows


def _metadata(label: str, outcome_node: Any) -> dict[str, Any]:
    outputs = json.loads(json.dumps(outcome_node.outputs, default=str))
    return {"orchestra/label": label, "orchestra/status": outcome_node.status.value,
            "orchestra/message": outcome_node.message, "orchestra/attempts": outcome_node.attempts,
            "orchestra/task_run_id": outcome_node.task_run_id, "orchestra/outputs": MetadataValue.json(outputs)}


def _started_at(context: Any) -> datetime:
    record = context.instance.get_run_record_by_id(context.run_id)
    created = getattr(record, "create_timestamp", None)
    return created.astimezone(UTC) if isinstance(created, datetime) else datetime.now(UTC)


def _run_context(pipeline: ExportedPipeline, context: Any, state: State) -> Any:
    try:
        return pipeline.run_context(context.run_id, _started_at(context), getattr(context.resources, RESOURCE_KEY),
                                    state, context.log.info)
    except OrchestraLocalError as exc:
        raise Failure(f"{pipeline.yaml_path}: {exc}", allow_retries=False) from None


def _task_op(pipeline: ExportedPipeline, spec: StepSpec, name: str, inputs: list[str], *, mapped: bool,
             flows_when_skipped: bool) -> OpDefinition:
    entry, task = spec.entry, spec.task

    def compute(context, received: Mapping[str, Any]) -> Iterator[Output]:
        state = merge_states(received.values())
        value = spec.matrix_value
        if mapped:
            value = state["matrix"][entry.entry_id][int(context.get_mapping_key().split("_", 1)[0])]
        label = node_label(entry, task.task_id, value)
        run = _run_context(pipeline, context, state)
        attempt = context.retry_number + 1
        outcome = pipeline.step(run, spec, state, attempt, value)
        for filename, text in outcome.logs():
            context.log.info(f"{label}: log {filename}\n{text}")
        node = outcome.node
        if node.status in (TaskRunStatus.FAILED, TaskRunStatus.CANCELLED):
            last = not outcome.retryable or attempt > task.configuration.retries
            if node.status == TaskRunStatus.FAILED and last and outcome.ran and task.task.treat_failure_as_warning:
                outcome = as_warning(outcome)
            else:
                raise Failure(description=f"{label} {node.status.value} (attempt {attempt}): {node.message}",
                              metadata=_metadata(label, node), allow_retries=not last)
        node = outcome.node
        if node.status == TaskRunStatus.WARNING:
            context.log.warning(f"{label} WARNING: {node.message}")
        elif node.status == TaskRunStatus.SKIPPED:
            context.log.info(f"{label} SKIPPED: {node.message}")
            if not (node.counts_as_ok or flows_when_skipped or mapped):
                # no state: Dagster skips the dependents, as Orchestra's default rule does
                yield Output(None, output_name=SKIPPED, metadata=_metadata(label, node))
                return
        yield Output(outcome.state, output_name=STATE, metadata=_metadata(label, node))

    retry = task.configuration.retries
    tags = {"orchestra/entry": entry.entry_id, "orchestra/task": task.task_id,
            "orchestra/integration": f"{task.task.integration}/{task.task.integration_job}"}
    if not mapped:
        tags["orchestra/label"] = node_label(entry, task.task_id, spec.matrix_value)
    if entry.matrix is not None and (entry.matrix.sequential or entry.matrix.max_parallel is not None):
        tags["orchestra/matrix"] = entry.entry_id
    return OpDefinition(
        compute_fn=compute, name=name, ins={n: In(AnyType) for n in inputs},
        outs={STATE: Out(AnyType, is_required=False), SKIPPED: Out(Nothing, is_required=False)},
        required_resource_keys={RESOURCE_KEY}, tags=tags,
        description=f"{task.name} ({task.task.integration}/{task.task.integration_job}) in {pipeline.yaml_path}",
        retry_policy=RetryPolicy(max_retries=retry, delay=spec.retry_delay_seconds) if retry else None,
    )


def _matrix_op(pipeline: ExportedPipeline, entry: PlannedEntry, name: str, inputs: list[str]) -> OpDefinition:
    assert entry.matrix is not None
    matrix = entry.matrix
    where = f"pipeline.{entry.entry_id}.matrix.inputs.{matrix.key}"

    def compute(context, received: Mapping[str, Any]) -> Iterator[Output | DynamicOutput]:
        state = merge_states(received.values())
        run = _run_context(pipeline, context, state)
        try:
            values = expand_matrix(matrix, run.scope(None), where)
        except ExpressionError as exc:
            raise Failure(f"{pipeline.yaml_path}: {where}: {exc}", allow_retries=False) from None
        state = {"tasks": state["tasks"], "matrix": {**state["matrix"], entry.entry_id: list(values)}}
        context.log.info(f"{entry.entry_id}: {len(values)} matrix value(s): {json.dumps(list(values), default=str)[:2000]}")
        yield Output(state, output_name=STATE, metadata={"orchestra/matrix_values": len(values)})
        for index, value in enumerate(values):
            yield DynamicOutput(state, output_name=ITERATIONS, mapping_key=_mapping_key(index, value))

    return OpDefinition(
        compute_fn=compute, name=name, ins={n: In(AnyType) for n in inputs},
        outs={STATE: Out(AnyType), ITERATIONS: DynamicOut(AnyType, is_required=False)},
        required_resource_keys={RESOURCE_KEY}, tags={"orchestra/entry": entry.entry_id},
        description=f"expands the matrix {matrix.values!r} of {entry.entry_id} at run time",
    )


def _sinks(entry: PlannedEntry) -> list[PlannedTask]:
    """Tasks of an entry no other task of it depends on."""
    return [t for t in entry.tasks if not any(t.task_id in other.depends_on for other in entry.tasks)]


def _inputs_resource(pipeline: ExportedPipeline) -> ResourceDefinition:
    fields = {}
    for name, spec in (pipeline.loaded.model.inputs or {}).items():
        kind = INPUT_TYPES.get(str(spec.type), AnyType)
        fields[name] = Field(kind, is_required=False, description=f"run input {name} ({spec.type})")
    return ResourceDefinition(
        resource_fn=lambda init: dict(init.resource_config.get("inputs") or {}),
        config_schema={"inputs": Field(Permissive(fields), is_required=False, default_value={},
                                       description="Orchestra run inputs (defaults from the pipeline file)")},
        description=f"run inputs of {pipeline.yaml_path}",
    )


def build_job(pipeline: ExportedPipeline) -> JobDefinition:
    """The Dagster job of one pipeline file (see this module's docstring for the mapping)."""
    plan = pipeline.plan
    flows = _conditional_downstream(plan.entries)
    limits = [{"key": "orchestra/matrix", "value": e.entry_id,
               "limit": 1 if e.matrix.sequential else max(1, e.matrix.max_parallel or 1)}
              for e in plan.entries if e.matrix is not None and (e.matrix.sequential or e.matrix.max_parallel is not None)]

    def invoke(make: Any, node: str, sources: list[Any], **options: Any) -> Any:
        """Invoke a new op (named ``<alias>__<node>``: op names are unique in a repository) as node ``node``."""
        names = [f"up_{i}" for i in range(len(sources))]
        op_def = make(dagster_name(pipeline.alias, node), names, **options)
        return op_def.alias(node)(**dict(zip(names, sources, strict=True)))

    def invoke_task(spec: StepSpec, node: str, sources: list[Any], *, mapped: bool) -> Any:
        """Invoke a task's op; its ``state`` output (the one dependents take)."""
        flows_when_skipped = mapped or (spec.entry.entry_id, spec.task.task_id) in flows
        outputs = invoke(lambda name, ins: _task_op(pipeline, spec, name, ins, mapped=mapped,
                                                    flows_when_skipped=flows_when_skipped), node, sources)
        return outputs[0]

    def compose() -> None:
        handles: dict[str, list[Any]] = {}
        for entry in plan.entries:
            upstream = [h for dep in entry.depends_on for h in handles[dep]]
            base = entry.entry_id if entry.is_group else ""
            if entry.matrix is None or entry.matrix_values is not None:
                handles[entry.entry_id] = []
                for index, value in enumerate(entry.matrix_values or (None,)):
                    suffix = _mapping_key(index, value) if entry.matrix is not None else ""
                    made: dict[str, Any] = {}
                    for task in entry.tasks:
                        made[task.task_id] = invoke_task(pipeline.spec(entry, task, value),
                                                         dagster_name(base, task.task_id, suffix),
                                                         [made[d] for d in task.depends_on] or upstream, mapped=False)
                    handles[entry.entry_id] += [made[t.task_id] for t in _sinks(entry)]
                continue
            state, iterations = invoke(lambda name, ins, entry=entry: _matrix_op(pipeline, entry, name, ins),
                                       dagster_name(base, "matrix"), upstream)

            def per_iteration(item: Any, entry: PlannedEntry = entry, base: str = base) -> Any:
                made: dict[str, Any] = {}
                for task in entry.tasks:
                    made[task.task_id] = invoke_task(pipeline.spec(entry, task), dagster_name(base, task.task_id),
                                                     [made[d] for d in task.depends_on] or [item], mapped=True)
                sinks = tuple(made[t.task_id] for t in _sinks(entry))
                return sinks if len(sinks) > 1 else sinks[0]

            mapped = iterations.map(per_iteration)
            handles[entry.entry_id] = [m.collect() for m in (mapped if isinstance(mapped, tuple) else (mapped,))]
            handles[entry.entry_id].append(state)

    name = dagster_name(pipeline.alias)
    job_graph = graph(name=name, description=pipeline.loaded.model.name)(compose)
    executor = multiprocess_executor.configured({"tag_concurrency_limits": limits}) if limits else multiprocess_executor
    return job_graph.to_job(
        name=name, description=f"{pipeline.loaded.model.name} ({pipeline.yaml_path}, exported by orchestra-local)",
        resource_defs={RESOURCE_KEY: _inputs_resource(pipeline)}, executor_def=executor,
        tags={"orchestra/pipeline_id": pipeline.pipeline_id, "orchestra/yaml_path": pipeline.yaml_path},
    )

