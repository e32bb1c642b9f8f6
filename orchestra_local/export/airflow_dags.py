"""``orchestra_dag("orchestra/tpch_elt.yml")``: one pipeline file as one Airflow DAG.

The files ``orchestra-local export airflow`` writes (``deploy/airflow/dags/<alias>.py``) call this
with their pipeline file's path when Airflow parses them: the YAML stays the one source.

| Orchestra | Airflow |
|---|---|
| pipeline file | DAG ``<alias>`` (the file stem), tag ``orchestra`` |
| task group | ``TaskGroup`` ``<group>``; a standalone task is a task of the DAG |
| task (one task run) | an ``OrchestraTaskOperator`` ``<group>.<task>`` (:mod:`.airflow_tasks`) |
| matrix given as a list | the group's tasks mapped (``expand``) over the iteration indexes |
| matrix from an expression | task ``<group>.matrix`` evaluates it at run time; the group's tasks expand over its result |
| ``depends_on`` | ``>>``: a group's first tasks wait for every last task (all iterations) of each upstream group |
| ``retries``, ``retry_delay`` (minutes) | ``retries``, ``retry_delay=timedelta(minutes x 60 s x ORCHESTRA_LOCAL_RETRY_DELAY_SCALE)`` |
| ``timeout`` (seconds) | enforced by the integration (as locally); ``execution_timeout`` = timeout + 30 s backstop |
| ``condition``, gating, paused | the runner's ``RunGraph.decide`` in the task; every task is ``trigger_rule="all_done"`` |
| run ``inputs`` | DAG ``params`` (typed; a required input is ``None`` until given, then Orchestra's error) |
| ``schedule`` | ``CronTriggerTimetable`` / ``MultipleCronTriggerTimetable`` in the schedule's ``timezone`` |
| ``trigger_events`` | the DAG is scheduled on the assets ``orchestra/<upstream>/<STATUS>`` (or with its cron: ``AssetOrTimeSchedule``) |
| ``matrix.sequential``/``max_parallel`` | ``max_active_tis_per_dagrun`` of the mapped tasks |
| ``concurrency.max_active`` | ``max_active_runs`` |
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetAny, AssetOrTimeSchedule, Param, TaskGroup
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable, MultipleCronTriggerTimetable

from orchestra_local.engine.plan import PlannedEntry, PlannedTask
from orchestra_local.export.airflow_schedules import cron_plan, trigger_plans
from orchestra_local.export.airflow_tasks import (
    OrchestraMatrixOperator,
    OrchestraRunResultOperator,
    OrchestraRunStatusOperator,
    OrchestraTaskOperator,
    exported_pipeline,
    sibling_identities,
)
from orchestra_local.export.steps import ExportedPipeline

TIMEOUT_GRACE_SECONDS = 30
"""Airflow's ``execution_timeout`` exceeds the task's ``timeout`` by this much: the integration stops
the task first (killing its process group and recording Orchestra's message); Airflow's is a backstop."""

PARAM_TYPES = {"string": "string", "number": "number", "boolean": "boolean", "dict": "object", "list": "array"}
START_DATE = datetime(2026, 1, 1)
STATUS_TASK, RESULT_TASK = "orchestra_run_status", "orchestra_run_result"


def _params(pipeline: ExportedPipeline) -> dict[str, Param]:
    params = {}
    for name, spec in (pipeline.loaded.model.inputs or {}).items():
        kind: Any = PARAM_TYPES[spec.type]
        options = {"enum": list(spec.options)} if spec.options else {}
        if spec.default is None:  # required or optional without a default: None until given
            kind, options = [kind, "null"], {"enum": [*spec.options, None]} if spec.options else {}
        params[name] = Param(spec.default, type=kind, description=f"Orchestra run input {name} ({spec.type})",
                             **options)
    return params


def _schedule(pipeline: ExportedPipeline) -> Any:
    """The DAG's ``schedule``: cron timetable, asset condition, both, or None."""
    crons = cron_plan(pipeline)
    timetable = None
    if crons is not None:
        timetable = (CronTriggerTimetable(crons.crons[0], timezone=crons.timezone) if len(crons.crons) == 1
                     else MultipleCronTriggerTimetable(*crons.crons, timezone=crons.timezone))
    names = [name for plan in trigger_plans(pipeline, sibling_identities(str(pipeline.loaded.path)))
             for name in plan.assets] if pipeline.loaded.model.trigger_events else []
    assets = AssetAny(*(Asset(name) for name in dict.fromkeys(names))) if names else None
    if timetable is not None and assets is not None:
        return AssetOrTimeSchedule(timetable=timetable, assets=assets)
    return timetable if timetable is not None else assets


def _sinks(entry: PlannedEntry) -> list[PlannedTask]:
    """Tasks of an entry no other task of it depends on."""
    return [t for t in entry.tasks if not any(t.task_id in other.depends_on for other in entry.tasks)]


def _task_arguments(pipeline: ExportedPipeline, entry: PlannedEntry, task: PlannedTask) -> dict[str, Any]:
    spec = pipeline.spec(entry, task)
    timeout = task.configuration.timeout_seconds
    return {
        "task_id": task.task_id if entry.is_group else entry.entry_id, "pipeline_path": str(pipeline.loaded.path),
        "entry_id": entry.entry_id, "orchestra_task_id": task.task_id, "retries": task.configuration.retries,
        "retry_delay": timedelta(seconds=spec.retry_delay_seconds),
        "execution_timeout": timedelta(seconds=timeout + TIMEOUT_GRACE_SECONDS) if timeout else None,
        "doc_md": f"{task.name} ({task.task.integration}/{task.task.integration_job}) in {pipeline.yaml_path}",
    }


def orchestra_dag(path: str | Path) -> DAG:
    """The Airflow DAG of one pipeline file (see this module's docstring for the mapping).

    Args:
        path: The pipeline file (relative paths: to the working directory).

    Raises:
        PipelineValidationError: Invalid YAML, or a schedule/trigger Airflow cannot express (located).
        RemoteOnlyIntegrationError: Integrations that only run on hosted Orchestra (the list
            ``orchestra-local run`` refuses with).
    """
    pipeline = exported_pipeline(str(Path(path).resolve()))
    model = pipeline.loaded.model
    concurrency = model.configuration.concurrency if model.configuration else None
    crons = cron_plan(pipeline)
    dag = DAG(
        dag_id=pipeline.alias, description=f"{model.name} ({pipeline.yaml_path})", schedule=_schedule(pipeline),
        start_date=START_DATE, catchup=False, params=_params(pipeline), tags=["orchestra"],
        max_active_runs=concurrency.max_active if concurrency and concurrency.max_active else 16,
        doc_md=f"`{pipeline.yaml_path}`, exported by orchestra-local (orchestra_local/export/airflow_dags.py)."
               + (f" Schedule: {crons.description}." if crons else ""),
    )
    with dag:
        sinks: dict[str, list[Any]] = {}
        every: list[Any] = []
        for entry in pipeline.plan.entries:
            upstream = [op for dep in entry.depends_on for op in sinks[dep]]
            group = TaskGroup(entry.entry_id, tooltip=entry.name) if entry.is_group else contextlib.nullcontext()
            with group:
                iterations: Any = None
                matrix_op = None
                limit = None
                if entry.matrix is not None:
                    if entry.matrix.sequential or entry.matrix.max_parallel is not None:
                        limit = 1 if entry.matrix.sequential else max(1, entry.matrix.max_parallel or 1)
                    if entry.matrix_values is not None:
                        iterations = list(range(len(entry.matrix_values)))
                    else:
                        matrix_op = OrchestraMatrixOperator(task_id="matrix", pipeline_path=str(pipeline.loaded.path),
                                                            entry_id=entry.entry_id)
                        matrix_op.set_upstream(upstream)
                        iterations, upstream = matrix_op.output, []
                        every.append(matrix_op)
                made: dict[str, Any] = {}
                for task in entry.tasks:
                    arguments = _task_arguments(pipeline, entry, task)
                    if iterations is None:
                        op = OrchestraTaskOperator(**arguments)
                    else:
                        op = OrchestraTaskOperator.partial(**arguments, max_active_tis_per_dagrun=limit
                                                           ).expand(iteration=iterations)
                    op.set_upstream([made[d] for d in task.depends_on] or upstream)
                    made[task.task_id] = op
                    every.append(op)
            sinks[entry.entry_id] = [made[t.task_id] for t in _sinks(entry)] + ([matrix_op] if matrix_op else [])
        status = OrchestraRunStatusOperator(task_id=STATUS_TASK, pipeline_path=str(pipeline.loaded.path),
                                            alias=pipeline.alias)
        status.set_upstream(every)
        status >> OrchestraRunResultOperator(task_id=RESULT_TASK, status_task_id=STATUS_TASK)
    return dag
