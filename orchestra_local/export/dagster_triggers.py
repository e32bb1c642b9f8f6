"""A pipeline file's ``schedule`` and ``trigger_events`` as Dagster schedules and run-status sensors.

- ``schedule`` entry -> ``ScheduleDefinition``: the EventBridge cron is translated by the runner's
  own ``scheduling/fire_times.to_croniter`` (``?`` -> ``*``, day-of-week 1-7 = SUN-SAT -> 0-6,
  ``nL``, ``n#k``), its seconds and year fields dropped (Dagster's cron has five fields), and run
  in the entry's ``timezone`` (``execution_timezone``). A year other than ``*`` and the ``exclude``
  dates are checked at each tick (``should_execute``). ``run_inputs`` become the run config.
- ``trigger_events`` entry -> one ``run_status_sensor`` per Dagster run status its ``statuses``
  need (SUCCEEDED, WARNING, SKIPPED -> SUCCESS; FAILED -> FAILURE; CANCELLED -> CANCELED). It
  monitors the named pipeline's job (``*``: every other exported job), reads the ended run's
  Orchestra status from its event log (``dagster_statuses``), and requests a run keyed by the
  upstream run's id when it is one of ``statuses``, with ``run_inputs`` evaluated by the scheduler's
  own ``run_inputs_of`` (``${{ outputs.pipeline_run }}``).

``environment`` and ``branch`` of a schedule have no Dagster equivalent (a deployment runs the code
it loaded, with its own environment): an entry that sets them is refused, with its YAML path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dagster import (
    DagsterRunStatus,
    JobDefinition,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SkipReason,
    run_status_sensor,
)
from dagster._utils.schedules import is_valid_cron_string

from orchestra_local.errors import OrchestraLocalError, PipelineValidationError, Problem
from orchestra_local.export.dagster_jobs import RESOURCE_KEY, dagster_name
from orchestra_local.export.dagster_statuses import pipeline_status
from orchestra_local.export.steps import ExportedPipeline
from orchestra_local.scheduling.fire_times import parse_exclude, to_croniter
from orchestra_local.scheduling.trigger_events import DEFAULT_STATUSES, run_inputs_of

DAGSTER_STATUS = {"SUCCEEDED": DagsterRunStatus.SUCCESS, "WARNING": DagsterRunStatus.SUCCESS,
                  "SKIPPED": DagsterRunStatus.SUCCESS, "FAILED": DagsterRunStatus.FAILURE,
                  "CANCELLED": DagsterRunStatus.CANCELED}


def run_config(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Dagster run config that gives an exported job these Orchestra run inputs."""
    return {"resources": {RESOURCE_KEY: {"config": {"inputs": dict(inputs or {})}}}}


def _problem(pipeline: ExportedPipeline, loc: tuple[str | int, ...], msg: str) -> PipelineValidationError:
    line, column = pipeline.loaded.locate(loc)
    return PipelineValidationError([Problem(loc=loc, msg=msg, type="export", file=str(pipeline.loaded.path),
                                            line=line, column=column)])


def dagster_cron(expression: str) -> tuple[str, str | None]:
    """``(five-field Dagster cron, year field or None)`` of an EventBridge expression.

    Raises:
        CronError: The expression is invalid (Orchestra's message).
        ValueError: Dagster cannot express it.
    """
    fields = to_croniter(expression).split()
    cron, year = " ".join(fields[:5]), fields[6]
    if not is_valid_cron_string(cron):
        raise ValueError(f"{expression!r} translates to {cron!r}, which Dagster's cron does not accept")
    return cron, None if year == "*" else year


def schedules(pipeline: ExportedPipeline, job: JobDefinition) -> list[ScheduleDefinition]:
    """The ``schedule`` entries of a pipeline as Dagster schedules of its job.

    Raises:
        PipelineValidationError: A cron Dagster cannot express, or ``environment``/``branch`` set
            (located ``schedule.<index>...``).
    """
    out = []
    for index, entry in enumerate(pipeline.loaded.model.schedule or ()):
        for unsupported in ("environment", "branch"):
            if getattr(entry, unsupported):
                raise _problem(pipeline, ("schedule", index, unsupported),
                               f"a Dagster deployment has no {unsupported} per schedule; remove it to export")
        try:
            cron, year = dagster_cron(entry.cron)
        except ValueError as exc:
            raise _problem(pipeline, ("schedule", index, "cron"), str(exc)) from None
        excluded = parse_exclude(entry.exclude)
        timezone = entry.timezone or "UTC"

        def should_execute(context: Any, year: str | None = year, excluded: frozenset = excluded) -> bool:
            moment: datetime = context.scheduled_execution_time
            if year is not None and not _year_matches(year, moment.year):
                return False
            return moment.date() not in excluded

        out.append(ScheduleDefinition(
            name=dagster_name(pipeline.alias, "schedule", str(index), entry.name or ""), cron_schedule=cron,
            execution_timezone=timezone, job=job, run_config=run_config(entry.run_inputs),
            should_execute=should_execute if year is not None or excluded else None,
            description=f"{entry.name or 'schedule'}: EventBridge cron {entry.cron!r} in {timezone} "
                        f"({pipeline.yaml_path} schedule[{index}])",
        ))
    return out


def _year_matches(field: str, year: int) -> bool:
    """Whether ``year`` is in an EventBridge year field (``2027``, ``2026-2028``, ``2026,2030``, ``*/2``)."""
    for part in field.split(","):
        base, _, step = part.partition("/")
        low, _, high = base.partition("-")
        start = 1970 if low == "*" else int(low)
        end = 2199 if low == "*" else int(high or (2199 if step else low))
        if start <= year <= end and (year - start) % int(step or 1) == 0:
            return True
    return False


def trigger_sensors(pipeline: ExportedPipeline, job: JobDefinition,
                    jobs: Mapping[str, tuple[ExportedPipeline, JobDefinition]]) -> list[SensorDefinition]:
    """The ``trigger_events`` of a pipeline as run-status sensors requesting its job.

    Args:
        pipeline: The triggered pipeline.
        job: Its job.
        jobs: Every exported pipeline's job by pipeline id (the upstreams a trigger may name).

    Raises:
        PipelineValidationError: A ``pipeline_id`` naming no exported pipeline (by id or alias).
    """
    sensors = []
    for index, entry in enumerate(pipeline.loaded.model.trigger_events or ()):
        wanted = entry.pipeline_id
        if wanted == "*":
            upstream = [j for pid, (_, j) in jobs.items() if pid != pipeline.pipeline_id]
        else:
            upstream = [j for pid, (p, j) in jobs.items() if wanted.lower() in (pid, p.alias.lower())]
            if not upstream:
                known = ", ".join(sorted(p.alias for p, _ in jobs.values()))
                raise _problem(pipeline, ("trigger_events", index, "pipeline_id"),
                               f"no exported pipeline has id or alias {wanted!r} (exported: {known})")
        statuses = [str(s) for s in (entry.statuses or DEFAULT_STATUSES)]
        for dagster_status in dict.fromkeys(DAGSTER_STATUS[s] for s in statuses):
            sensors.append(_trigger_sensor(pipeline, job, index, entry, upstream, statuses, dagster_status, jobs))
    return sensors


def _trigger_sensor(pipeline: ExportedPipeline, job: JobDefinition, index: int, entry: Any, upstream: list[JobDefinition],
                    statuses: list[str], dagster_status: DagsterRunStatus,
                    jobs: Mapping[str, tuple[ExportedPipeline, JobDefinition]]) -> SensorDefinition:
    by_name = {j.name: (p, j) for p, j in jobs.values()}
    where = f"trigger_events.{index}"

    def evaluate(context: Any) -> RunRequest | SkipReason:
        ended = context.dagster_run
        source, source_job = by_name[ended.job_name]
        status = pipeline_status(context.instance, ended.run_id, source_job).value
        if status not in statuses:
            return SkipReason(f"run {ended.run_id} of {source.alias} ended {status}, not one of {statuses}")
        stats = context.instance.get_run_stats(ended.run_id)
        record = {"id": ended.run_id, "pipeline_id": source.pipeline_id, "pipeline_name": source.loaded.model.name,
                  "run_status": status, "message": None,
                  "started_at": datetime.fromtimestamp(stats.start_time).astimezone() if stats.start_time else None,
                  "completed_at": datetime.fromtimestamp(stats.end_time).astimezone() if stats.end_time else None}
        try:
            inputs = run_inputs_of(entry, record, dict(os.environ), where)
        except OrchestraLocalError as exc:
            return SkipReason(f"{pipeline.yaml_path}: {exc}")
        return RunRequest(run_key=f"{ended.run_id}:{index}", run_config=run_config(inputs),
                          tags={"orchestra/triggered_by": ended.run_id})

    name = dagster_name(pipeline.alias, "trigger", str(index), dagster_status.value.lower())
    return run_status_sensor(run_status=dagster_status, name=name, monitored_jobs=upstream, request_job=job,
                             description=f"{pipeline.yaml_path} {where}: when {entry.pipeline_id} ends "
                                         f"{' or '.join(statuses)}")(evaluate)
