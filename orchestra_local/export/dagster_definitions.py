"""``orchestra_definitions("orchestra/")``: every pipeline file as a job of one ``dagster.Definitions``.

A Dagster deployment loads the file ``orchestra-local export dagster`` writes
(``deploy/dagster/definitions.py``), which calls :func:`orchestra_definitions` on the repository's
``orchestra/`` folder at load time: the YAML stays the one source, nothing is generated per pipeline.
Jobs: :mod:`.dagster_jobs`; schedules and trigger events: :mod:`.dagster_triggers`.

Not exported (each reported by :func:`export_notes`): ``sensors:`` (their checks poll systems
from ``orchestra-local serve``'s scheduler; a Dagster sensor of your own can start the job),
``alerts:`` (use Dagster's run-failure sensors or alerting), ``webhook:``, ``concurrency.max_active``
(set ``max_concurrent_runs`` / tag limits of Dagster's run coordinator).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dagster import Definitions, JobDefinition

from orchestra_local.errors import InvalidInputError, OrchestraLocalError
from orchestra_local.export.dagster_jobs import build_job
from orchestra_local.export.dagster_triggers import schedules, trigger_sensors
from orchestra_local.export.steps import ExportedPipeline
from orchestra_local.spec.loader import discover, load_file


def exported_pipelines(paths: Sequence[str | Path]) -> list[ExportedPipeline]:
    """Load every pipeline file under ``paths`` (files or folders) for export.

    Raises:
        InvalidInputError: A path does not exist, or two files share an alias (file stem) and so a
            job name. Every file's problems are reported together, one per line.
        PipelineValidationError, RemoteOnlyIntegrationError: A single file that is invalid or uses
            integrations that only run on hosted Orchestra.
    """
    pipelines, problems = [], []
    for path in discover(list(paths)):
        try:
            pipelines.append(ExportedPipeline(load_file(path)))
        except OrchestraLocalError as exc:
            problems.append((exc, f"{path}: {exc}" if str(path) not in str(exc) else str(exc)))
    if len(problems) == 1:
        raise problems[0][0]
    if problems:
        raise InvalidInputError("cannot export:\n" + "\n".join(text for _, text in problems))
    aliases: dict[str, str] = {}
    for pipeline in pipelines:
        if pipeline.alias in aliases:
            raise InvalidInputError(f"{pipeline.yaml_path} and {aliases[pipeline.alias]} would both be the job "
                                    f"{pipeline.alias!r}; rename one file")
        aliases[pipeline.alias] = pipeline.yaml_path
    return pipelines


def export_notes(pipelines: Sequence[ExportedPipeline], target: str = "Dagster",
                 exported: Sequence[str] = ()) -> list[str]:
    """What the export leaves out, one line per pipeline file and feature (see the module docstring).

    Args:
        pipelines: The exported pipelines.
        target: The orchestrator named in the notes.
        exported: Features of the list the target does export (Airflow: ``concurrency.max_active``).
    """
    notes = []
    for pipeline in pipelines:
        model = pipeline.loaded.model
        left_out = [what for what, present in (
            ("sensors", bool(model.sensors)), ("alerts", bool(model.alerts)),
            ("webhook", bool(model.webhook and model.webhook.enabled)),
            ("concurrency.max_active", bool(model.configuration and model.configuration.concurrency
                                            and model.configuration.concurrency.max_active is not None)),
        ) if present and what not in exported]
        if left_out:
            notes.append(f"{pipeline.yaml_path}: not exported to {target}: {', '.join(left_out)} "
                         "(deploy/README.md says what to use instead)")
    return notes


def orchestra_definitions(*paths: str | Path) -> Definitions:
    """A ``dagster.Definitions`` with one job per pipeline file, its schedules and trigger sensors.

    Args:
        paths: Pipeline files or folders (default: nothing; pass ``"orchestra/"``). Relative paths
            are relative to the working directory.

    Returns:
        Jobs named by the files' aliases (``tpch_elt``), schedules ``<alias>__schedule__<i>__<name>``,
        sensors ``<alias>__trigger__<i>__<dagster status>``.

    Raises:
        InvalidInputError: No paths, or :func:`exported_pipelines`' errors (remote-only
            integrations: the list ``orchestra-local run`` refuses with).
        PipelineValidationError: A schedule or trigger event Dagster cannot express (located).
    """
    if not paths:
        raise InvalidInputError("orchestra_definitions needs pipeline files or folders, e.g. 'orchestra/'")
    pipelines = exported_pipelines(paths)
    jobs: dict[str, tuple[ExportedPipeline, JobDefinition]] = {p.pipeline_id: (p, build_job(p)) for p in pipelines}
    all_schedules, sensors = [], []
    for pipeline, job in jobs.values():
        all_schedules += schedules(pipeline, job)
        sensors += trigger_sensors(pipeline, job, jobs)
    return Definitions(jobs=[job for _, job in jobs.values()], schedules=all_schedules, sensors=sensors)
