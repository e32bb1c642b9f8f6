"""A pipeline file's ``schedule`` and ``trigger_events`` in Airflow's terms, without importing Airflow.

``orchestra-local export airflow`` runs in the project's environment, where Airflow is not installed
(its fastapi pin clashes with ``serve``'s), so everything an export must refuse is decided here and
:mod:`.airflow_dags` only turns the result into Airflow objects:

- ``schedule`` -> a five-field cron per entry (the runner's own ``to_croniter``: ``?`` -> ``*``,
  day-of-week 1-7 = SUN-SAT -> 0-6, ``nL``, ``n#k``; seconds and year dropped) in the entries'
  common ``timezone``: ``CronTriggerTimetable`` (one entry) or ``MultipleCronTriggerTimetable``.
  Refused, with their YAML path: a year other than ``*``, ``exclude`` dates (an Airflow cron
  timetable cannot skip either), ``environment``/``branch``, entries in different time zones or
  with different ``run_inputs`` (an Airflow DAG run cannot tell which cron of several fired).
- ``trigger_events`` -> the assets ``orchestra/<upstream alias>/<STATUS>`` it waits for: one per
  status of ``statuses`` (default SUCCEEDED, WARNING) and upstream pipeline (``*``: every other
  pipeline file in the same folder). Each exported DAG announces its run's Orchestra status on
  exactly one of these (see ``airflow_tasks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestra_local.errors import PipelineValidationError, Problem
from orchestra_local.export.steps import ExportedPipeline
from orchestra_local.scheduling.fire_times import to_croniter
from orchestra_local.scheduling.trigger_events import DEFAULT_STATUSES
from orchestra_local.spec.cron import CronError

ANNOUNCED_STATUSES = ("SUCCEEDED", "WARNING", "SKIPPED", "FAILED")
"""Run statuses an exported DAG announces (a cancelled Airflow run runs no task, so announces nothing)."""


@dataclass(frozen=True)
class CronPlan:
    """The ``schedule`` of a pipeline as Airflow will run it.

    Attributes:
        crons: Five-field crons, one per ``schedule`` entry.
        timezone: Their IANA time zone.
        run_inputs: Run inputs of a scheduled run (the entries' common ``run_inputs``).
        description: The EventBridge expressions, for the DAG's documentation.
    """

    crons: tuple[str, ...]
    timezone: str
    run_inputs: dict[str, Any]
    description: str


@dataclass(frozen=True)
class TriggerPlan:
    """One ``trigger_events`` entry as the assets it waits for.

    Attributes:
        index: Its position in ``trigger_events``.
        assets: Asset names ``orchestra/<alias>/<STATUS>``; any of them starts a run.
        entry: The YAML entry (its ``run_inputs`` are evaluated per run).
    """

    index: int
    assets: tuple[str, ...]
    entry: Any


def asset_name(alias: str, status: str) -> str:
    """The asset a DAG run of pipeline ``alias`` ending ``status`` updates: ``orchestra/<alias>/<STATUS>``."""
    return f"orchestra/{alias}/{status}"


def _problem(pipeline: ExportedPipeline, loc: tuple[str | int, ...], msg: str) -> PipelineValidationError:
    line, column = pipeline.loaded.locate(loc)
    return PipelineValidationError([Problem(loc=loc, msg=msg, type="export", file=str(pipeline.loaded.path),
                                            line=line, column=column)])


def five_field_cron(expression: str) -> tuple[str, str]:
    """``(five-field cron, year field)`` of an EventBridge expression (year ``*`` when any).

    Raises:
        CronError: The expression is invalid (Orchestra's message).
    """
    fields = to_croniter(expression).split()
    return " ".join(fields[:5]), fields[6]


def cron_plan(pipeline: ExportedPipeline) -> CronPlan | None:
    """The pipeline's ``schedule`` as Airflow crons, or None without one.

    Raises:
        PipelineValidationError: What an Airflow cron timetable cannot express (module docstring),
            located at ``schedule[<index>]...``.
    """
    entries = list(pipeline.loaded.model.schedule or ())
    if not entries:
        return None
    crons = []
    for index, entry in enumerate(entries):
        for unsupported in ("environment", "branch", "exclude"):
            if getattr(entry, unsupported):
                raise _problem(pipeline, ("schedule", index, unsupported),
                               f"an Airflow cron timetable has no {unsupported}; remove it to export")
        try:
            cron, year = five_field_cron(entry.cron)
        except CronError as exc:
            raise _problem(pipeline, ("schedule", index, "cron"), str(exc)) from None
        if year != "*":
            raise _problem(pipeline, ("schedule", index, "cron"),
                           f"year {year!r}: an Airflow cron has no year field; use '*' to export")
        crons.append(cron)
    first = entries[0]
    for index, entry in enumerate(entries[1:], start=1):
        if (entry.timezone or "UTC") != (first.timezone or "UTC"):
            raise _problem(pipeline, ("schedule", index, "timezone"),
                           "every schedule entry of an exported pipeline needs the same timezone")
        if (entry.run_inputs or {}) != (first.run_inputs or {}):
            raise _problem(pipeline, ("schedule", index, "run_inputs"),
                           "every schedule entry of an exported pipeline needs the same run_inputs")
    described = "; ".join(f"{e.name or 'schedule'}: {e.cron!r}" for e in entries)
    return CronPlan(tuple(crons), first.timezone or "UTC", dict(first.run_inputs or {}),
                    f"{described} (EventBridge) in {first.timezone or 'UTC'}")


def trigger_plans(pipeline: ExportedPipeline, siblings: Sequence[tuple[str, str]]) -> list[TriggerPlan]:
    """The pipeline's ``trigger_events`` as the assets each waits for.

    Args:
        pipeline: The triggered pipeline.
        siblings: ``(pipeline id, alias)`` of every pipeline file in its folder (itself included).

    Raises:
        PipelineValidationError: A ``pipeline_id`` naming no pipeline file of the folder (by id or alias).
    """
    plans = []
    for index, entry in enumerate(pipeline.loaded.model.trigger_events or ()):
        wanted = entry.pipeline_id
        if wanted == "*":
            upstream = [alias for pid, alias in siblings if pid != pipeline.pipeline_id]
        else:
            upstream = [alias for pid, alias in siblings if wanted.lower() in (pid, alias.lower())]
            if not upstream:
                known = ", ".join(sorted(alias for _, alias in siblings))
                raise _problem(pipeline, ("trigger_events", index, "pipeline_id"),
                               f"no pipeline file next to it has id or alias {wanted!r} (found: {known})")
        statuses = [str(s) for s in (entry.statuses or DEFAULT_STATUSES)]
        for status in statuses:
            if status not in ANNOUNCED_STATUSES:
                raise _problem(pipeline, ("trigger_events", index, "statuses"),
                               f"an Airflow DAG run announces {', '.join(ANNOUNCED_STATUSES)}, not {status}")
        plans.append(TriggerPlan(index, tuple(asset_name(a, s) for a in upstream for s in statuses), entry))
    return plans
