"""The operators of an exported Airflow DAG: one Orchestra task run per task instance, state through XCom.

Every operator holds only text and numbers (the pipeline file's path, entry and task ids, an
iteration index), so Airflow serialises it; the pipeline itself is loaded once per process
(:func:`exported_pipeline`). Each task instance pulls the states its direct upstream tasks pushed
(XCom key ``orchestra_state``, see :mod:`.run_state`), lets :meth:`ExportedPipeline.step` decide and
run ONE attempt through the runner's own code, and pushes its own state, so the runner's gating,
conditions (``tasks['x'].status == 'FAILED'`` included: every task runs with
``trigger_rule="all_done"``) and outputs hold. Its Airflow end says Orchestra's status:

| Orchestra | Airflow task instance |
|---|---|
| SUCCEEDED, WARNING | success (WARNING logged at warning level) |
| SKIPPED (condition false, upstream not succeeded, paused) | skipped (``AirflowSkipException``) |
| FAILED, attempts left and a retry can help | failed for this try; Airflow retries after ``retry_delay`` |
| FAILED, last attempt | failed (``AirflowFailException``), state pushed first |

``orchestra_run_status`` (after every task) computes the run's Orchestra status, returns it with
every task run's record, and announces it as an event of the asset ``orchestra/<alias>/<STATUS>``
(through the alias ``orchestra/<alias>``) for ``trigger_events`` of other DAGs;
``orchestra_run_result`` fails the DAG run when that status is FAILED (Airflow judges a run by its
last tasks only).
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, AssetAlias, BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from orchestra_local.engine.plan import PlannedEntry, PlannedTask, expand_matrix
from orchestra_local.errors import ExpressionError, OrchestraLocalError
from orchestra_local.export.airflow_schedules import asset_name, cron_plan, trigger_plans
from orchestra_local.export.run_state import State, merge_states, node_label
from orchestra_local.export.steps import ExportedPipeline, as_warning
from orchestra_local.scheduling.trigger_events import run_inputs_of
from orchestra_local.spec.loader import load_file
from orchestra_local.spec.statuses import TaskRunStatus, pipeline_run_status

STATE_KEY = "orchestra_state"
RUN_NAMESPACE = uuid.UUID("5c0d7a44-2f0e-4b8a-9f53-0a1f3b7e9d21")


@functools.cache
def exported_pipeline(path: str) -> ExportedPipeline:
    """The pipeline file at ``path`` (absolute), loaded once per process.

    Raises:
        PipelineValidationError, RemoteOnlyIntegrationError: As :class:`ExportedPipeline` does.
    """
    return ExportedPipeline(load_file(Path(path)))


def pipeline_run_id(context: Mapping[str, Any]) -> str:
    """Orchestra's pipeline run id of an Airflow DAG run: uuid5 of its dag id and run id."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{context['dag'].dag_id}/{context['run_id']}"))


def _started_at(context: Mapping[str, Any]) -> datetime:
    started = getattr(context["dag_run"], "start_date", None)
    return started.astimezone(UTC) if isinstance(started, datetime) else datetime.now(UTC)


def _triggered_inputs(pipeline: ExportedPipeline, context: Mapping[str, Any]) -> dict[str, Any]:
    """Run inputs of the ``trigger_events`` entries whose assets started this run."""
    events: dict[str, Any] = {}
    for key, received in dict(context.get("triggering_asset_events") or {}).items():
        if received:
            events[getattr(key, "name", str(key))] = received[-1]
    if not events:
        return {}
    siblings = sibling_identities(str(pipeline.loaded.path))
    inputs: dict[str, Any] = {}
    for plan in trigger_plans(pipeline, siblings):
        for name in plan.assets:
            if name in events:
                record = dict(getattr(events[name], "extra", None) or {})
                for moment in ("started_at", "completed_at"):
                    record[moment] = datetime.fromisoformat(record[moment]) if record.get(moment) else None
                inputs.update(run_inputs_of(plan.entry, record, dict(os.environ), f"trigger_events.{plan.index}"))
    return inputs


@functools.cache
def sibling_identities(path: str) -> tuple[tuple[str, str], ...]:
    """``(pipeline id, alias)`` of every pipeline file in the folder of ``path``."""
    from orchestra_local.engine.runner import pipeline_identity
    from orchestra_local.settings import resolve_settings
    from orchestra_local.spec.loader import discover

    repo_root = resolve_settings(Path(path)).repo_root
    return tuple(pipeline_identity(p, repo_root)[:2] for p in discover([Path(path).parent]))


def given_inputs(pipeline: ExportedPipeline, context: Mapping[str, Any]) -> dict[str, Any]:
    """The run inputs of this DAG run: DAG params (conf over defaults; unset ones left out), then a
    schedule's ``run_inputs`` (scheduled runs) or a trigger's (asset-triggered runs)."""
    declared = pipeline.loaded.model.inputs or {}
    inputs = {k: v for k, v in dict(context.get("params") or {}).items() if k in declared and v is not None}
    run_type = str(getattr(context["dag_run"], "run_type", ""))
    if run_type.endswith("scheduled") and (plan := cron_plan(pipeline)) is not None:
        inputs.update(plan.run_inputs)
    if run_type.endswith("asset_triggered"):
        inputs.update(_triggered_inputs(pipeline, context))
    return inputs


class _OrchestraOperator(BaseOperator):
    """What every operator of an exported DAG shares: its pipeline file and the states upstream pushed."""

    ui_color = "#e8f1fb"

    def __init__(self, *, pipeline_path: str, entry_id: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.pipeline_path = pipeline_path
        self.entry_id = entry_id

    @property
    def pipeline(self) -> ExportedPipeline:
        return exported_pipeline(self.pipeline_path)

    def entry(self) -> PlannedEntry:
        return next(e for e in self.pipeline.plan.entries if e.entry_id == self.entry_id)

    def received_state(self, context: Mapping[str, Any]) -> State:
        """The merged states of the direct upstream tasks (the same iteration's, inside a matrix group)."""
        ti = context["ti"]
        states: list[Any] = []
        for upstream_id in sorted(self.upstream_task_ids):
            upstream = self.dag.get_task(upstream_id)
            same_iteration = (getattr(upstream, "entry_id", None) == self.entry_id and ti.map_index >= 0
                              and not isinstance(upstream, OrchestraMatrixOperator))
            if same_iteration:
                states.append(ti.xcom_pull(task_ids=upstream_id, key=STATE_KEY, map_indexes=ti.map_index))
            else:
                states.extend(ti.xcom_pull(task_ids=[upstream_id], key=STATE_KEY) or ())
        return merge_states(s for s in states if s is not None)

    def run_context(self, context: Mapping[str, Any], state: State) -> Any:
        try:
            return self.pipeline.run_context(pipeline_run_id(context), _started_at(context),
                                             given_inputs(self.pipeline, context), state, self.log.info)
        except OrchestraLocalError as exc:
            raise AirflowFailException(f"{self.pipeline.yaml_path}: {exc}") from None


class OrchestraTaskOperator(_OrchestraOperator):
    """One Orchestra task run: ``iteration`` is its matrix index (None outside a matrix)."""

    template_fields = ()

    def __init__(self, *, orchestra_task_id: str, iteration: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.orchestra_task_id = orchestra_task_id
        self.iteration = iteration

    def _task(self, entry: PlannedEntry) -> PlannedTask:
        return next(t for t in entry.tasks if t.task_id == self.orchestra_task_id)

    def execute(self, context: Any) -> None:
        pipeline, entry = self.pipeline, self.entry()
        task = self._task(entry)
        state = self.received_state(context)
        value = None
        if entry.matrix is not None and self.iteration is not None:
            values = entry.matrix_values if entry.matrix_values is not None else state["matrix"][entry.entry_id]
            value = values[int(self.iteration)]
        label = node_label(entry, task.task_id, value)
        run = self.run_context(context, state)
        attempt = int(context["ti"].try_number)
        try:
            outcome = pipeline.step(run, pipeline.spec(entry, task, value), state, attempt, value)
        except AirflowException:
            raise
        except BaseException as exc:  # an error of ours, or Airflow's own execution_timeout: recorded FAILED
            failed = {**state, "tasks": {**state["tasks"], label: {
                "entry_id": entry.entry_id, "task_id": task.task_id, "matrix_value": value, "status": "FAILED",
                "message": f"{type(exc).__name__}: {exc}", "outputs": {}, "counts_as_ok": False, "attempts": attempt}}}
            context["ti"].xcom_push(key=STATE_KEY, value=failed)
            raise
        for filename, text in outcome.logs():
            self.log.info("%s: log %s\n%s", label, filename, text)
        node = outcome.node
        if node.status in (TaskRunStatus.FAILED, TaskRunStatus.CANCELLED):
            last = not outcome.retryable or attempt > task.configuration.retries
            if node.status == TaskRunStatus.FAILED and last and outcome.ran and task.task.treat_failure_as_warning:
                outcome = as_warning(outcome)
            elif last:
                context["ti"].xcom_push(key=STATE_KEY, value=outcome.state)
                raise AirflowFailException(f"{label} {node.status.value} (attempt {attempt}): {node.message}")
            else:
                raise AirflowException(f"{label} {node.status.value} (attempt {attempt}), retrying: {node.message}")
        node = outcome.node
        context["ti"].xcom_push(key=STATE_KEY, value=outcome.state)
        if node.status == TaskRunStatus.WARNING:
            self.log.warning("%s WARNING: %s", label, node.message)
        elif node.status == TaskRunStatus.SKIPPED:
            raise AirflowSkipException(f"{label} SKIPPED: {node.message}")


class OrchestraMatrixOperator(_OrchestraOperator):
    """Evaluates a matrix expression (upstream outputs, inputs, ENV) at run time; returns the
    iteration indexes the group's mapped tasks expand over, and pushes the values in its state."""

    def execute(self, context: Any) -> list[int]:
        entry = self.entry()
        assert entry.matrix is not None
        state = self.received_state(context)
        run = self.run_context(context, state)
        where = f"pipeline.{entry.entry_id}.matrix.inputs.{entry.matrix.key}"
        try:
            values = list(expand_matrix(entry.matrix, run.scope(None), where))
        except ExpressionError as exc:
            parents = {f"{entry.entry_id}.{t.task_id}[*]": {"entry_id": entry.entry_id, "task_id": t.task_id,
                                                             "status": "FAILED", "message": str(exc), "outputs": {},
                                                             "counts_as_ok": False, "attempts": 0} for t in entry.tasks}
            context["ti"].xcom_push(key=STATE_KEY, value={**state, "tasks": {**state["tasks"], **parents}})
            raise AirflowFailException(f"{self.pipeline.yaml_path}: {where}: {exc}") from None
        self.log.info("%s: %d matrix value(s): %s", entry.entry_id, len(values), str(values)[:2000])
        context["ti"].xcom_push(key=STATE_KEY, value={"tasks": state["tasks"],
                                                      "matrix": {**state["matrix"], entry.entry_id: values}})
        return list(range(len(values)))


class OrchestraRunStatusOperator(_OrchestraOperator):
    """Orchestra's status of the DAG run, from every task run's record; announced as an asset event."""

    def __init__(self, *, alias: str, **kwargs: Any) -> None:
        super().__init__(outlets=[AssetAlias(f"orchestra/{alias}")], **kwargs)
        self.alias = alias

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        states = [s for upstream in sorted(self.upstream_task_ids)
                  for s in (ti.xcom_pull(task_ids=[upstream], key=STATE_KEY) or ()) if s is not None]
        records = merge_states(states)["tasks"]
        children = [TaskRunStatus(r["status"]) for label, r in records.items()
                    if not label.endswith("[*]") or r["status"] == "FAILED"]
        status = pipeline_run_status(children, cancelled=False).value
        pipeline = self.pipeline
        announced = {"id": pipeline_run_id(context), "pipeline_id": pipeline.pipeline_id,
                     "pipeline_name": pipeline.loaded.model.name, "run_status": status, "message": None,
                     "started_at": _started_at(context).isoformat(), "completed_at": datetime.now(UTC).isoformat(),
                     "airflow_run_id": context["run_id"]}
        context["outlet_events"][AssetAlias(f"orchestra/{self.alias}")].add(Asset(asset_name(self.alias, status)),
                                                                             extra=announced)
        self.log.info("Orchestra run status %s (%d task runs)", status, len(records))
        return {**announced, "tasks": {label: {k: r.get(k) for k in ("status", "attempts", "message", "outputs")}
                                       for label, r in sorted(records.items())}}


class OrchestraRunResultOperator(BaseOperator):
    """Fails the DAG run when ``orchestra_run_status`` says FAILED (Airflow judges a run by its last tasks)."""

    def __init__(self, *, status_task_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.status_task_id = status_task_id

    def execute(self, context: Any) -> str:
        result = context["ti"].xcom_pull(task_ids=self.status_task_id) or {}
        status = result.get("run_status")
        if status is None:
            raise AirflowFailException(f"{self.status_task_id} did not record the run's status")
        if status == "FAILED":
            failed = sorted(label for label, r in result.get("tasks", {}).items() if r.get("status") == "FAILED")
            raise AirflowFailException(f"Orchestra run status FAILED: {', '.join(failed)}")
        return str(status)
