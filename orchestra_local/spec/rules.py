"""Orchestra's semantic rules beyond the schema: catalog, schedules, expressions, local parameters.

These run on a schema-valid model (``models.Pipeline``) and return located problems:

- ``integration`` and ``integration_job`` are known to Orchestra, and the job belongs to the
  integration (``catalog.py``);
- schedule and sensor ``cron`` are valid EventBridge expressions and ``timezone`` an IANA name;
- every ``${{ ... }}`` parses, and its references exist: ``tasks['x']`` /
  ``ORCHESTRA.PIPELINE_RUN_TASKS['x']`` name a task, ``task_groups['x']`` a top-level entry,
  ``inputs.x`` a declared input;
- parameters of the integrations this runner executes match their models (required keys,
  unknown keys, literal types; values holding expressions are checked at run time);
- a literal matrix stays within ``limits.MAX_MATRIX_VALUES``.

Orchestra's validator does not share all of these; ``agreement.reconcile`` turns the ones it does
not confirm into warnings, so a file Orchestra accepts is never refused by ``validate``.
"""

from __future__ import annotations

import ast
import difflib
import functools
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from typing import Any

import pydantic

from orchestra_local.errors import Problem
from orchestra_local.expressions import FUNCTIONS, MAX_EXPRESSION_LENGTH, TEMPLATE, has_template
from orchestra_local.scheduling.fire_times import FireTimes
from orchestra_local.spec import catalog
from orchestra_local.spec.cron import CronError, validate_cron
from orchestra_local.spec.limits import MAX_MATRIX_VALUES
from orchestra_local.spec.models import Alert, AlertDestination, Pipeline, TaskGroup

Loc = tuple[str | int, ...]


def _suggest(value: str, options: frozenset[str] | list[str]) -> str:
    close = difflib.get_close_matches(value.upper(), list(options), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _catalog_problems(model: Pipeline) -> Iterator[Problem]:
    known = catalog.integrations()
    for entry_id, task_id, task in model.iter_tasks():
        loc: Loc = ("pipeline", entry_id, "tasks", task_id) if entry_id != task_id else ("pipeline", entry_id)
        if task.integration not in known:
            yield Problem(loc=(*loc, "integration"), msg=f"unknown integration '{task.integration}'"
                          f"{_suggest(task.integration, known)}", type="enum", input=task.integration)
            continue
        owner = catalog.job_owner(task.integration_job)
        if owner is None:
            jobs = catalog.jobs_of(task.integration)
            yield Problem(loc=(*loc, "integration_job"),
                          msg=f"unknown integration_job '{task.integration_job}'; {task.integration} jobs: "
                              f"{', '.join(jobs) or 'none'}", type="enum", input=task.integration_job)
        elif owner != task.integration:
            yield Problem(loc=(*loc, "integration_job"),
                          msg=f"integration_job '{task.integration_job}' belongs to integration {owner}, "
                              f"not {task.integration}", type="integration_job_mismatch", input=task.integration_job)


@functools.cache
def _available_timezones() -> frozenset[str]:
    """IANA zone names of this machine, read once (a walk of the zoneinfo folders: ~10 ms)."""
    return frozenset(zoneinfo.available_timezones())


def _schedule_problems(model: Pipeline) -> Iterator[Problem]:
    triggers: list[tuple[Loc, str, str | None]] = [
        (("schedule", index), item.cron, item.timezone) for index, item in enumerate(model.schedule or [])
    ]
    triggers += [(("sensors", sid), sensor.cron, sensor.timezone) for sid, sensor in (model.sensors or {}).items()]
    for loc, cron, timezone in triggers:
        try:
            validate_cron(cron)
        except CronError as exc:
            yield Problem(loc=(*loc, "cron"), msg=str(exc), type="cron", input=cron)
        if timezone is not None and timezone not in _available_timezones():
            yield Problem(loc=(*loc, "timezone"), msg=f"unknown timezone '{timezone}' (use an IANA name such as "
                          f"Europe/London){_suggest(timezone, sorted(_available_timezones()))}", type="timezone", input=timezone)


def located_strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """Every string inside ``value`` (dicts, lists, scalars) with its YAML path below ``loc``."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from located_strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from located_strings(item, (*loc, index))


def _subscript_key(node: ast.Subscript) -> str | None:
    key = node.slice
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def _references(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """``(kind, name)`` of each literal reference.

    Kinds: ``task`` (``tasks['x']``), ``pipeline_run_task`` (``ORCHESTRA.PIPELINE_RUN_TASKS['x']``),
    ``group``, ``input``, ``function`` (called names) and ``name`` (namespaces).
    """
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield ("function" if id(node) in called else "name"), node.id
        if isinstance(node, ast.Subscript) and (key := _subscript_key(node)) is not None:
            target = node.value
            if isinstance(target, ast.Name) and target.id.lower() == "tasks":
                yield "task", key
            elif isinstance(target, ast.Name) and target.id.lower() == "task_groups":
                yield "group", key
            elif isinstance(target, ast.Attribute) and target.attr.upper() == "PIPELINE_RUN_TASKS":
                yield "pipeline_run_task", key
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id.lower() == "inputs":
            yield "input", node.attr


@functools.lru_cache(maxsize=4096)
def _parsed_references(expression: str) -> tuple[tuple[str, str], ...] | str:
    """The references of one expression, or the parser's message when it is not valid Python.

    Cached: a file repeating one expression thousands of times costs one parse.
    """
    try:
        return tuple(_references(ast.parse(expression, mode="eval")))
    except SyntaxError as exc:
        return str(exc.msg)
    except (RecursionError, MemoryError):
        return "too deeply nested"


def _expression_problems(model: Pipeline, document: dict[str, Any]) -> Iterator[Problem]:
    tasks = {task_id.lower() for _, task_id, _ in model.iter_tasks()}
    groups = {entry_id.lower() for entry_id in model.pipeline}
    inputs = set(model.inputs or {})
    known = {"task": tasks, "pipeline_run_task": tasks, "group": groups, "input": inputs, "function": set(FUNCTIONS),
             "name": {"inputs", "env", "secrets", "matrix", "orchestra", "tasks", "task_groups", "outputs",
                      "true", "false", "none"}}
    words = {"task": "task", "pipeline_run_task": "task", "group": "task group", "input": "declared input",
             "function": "function", "name": "namespace"}
    for section in ("pipeline", "schedule", "sensors", "trigger_events", "inputs", "webhook"):
        for loc, text in located_strings(document.get(section), (section,)):
            if not has_template(text):
                continue
            for match in TEMPLATE.finditer(text):
                expression = match.group(1).strip()
                if len(expression) > MAX_EXPRESSION_LENGTH:
                    yield Problem(loc=loc, msg=f"expression longer than {MAX_EXPRESSION_LENGTH} characters",
                                  type="expression")
                    continue
                references = _parsed_references(expression)
                if isinstance(references, str):
                    yield Problem(loc=loc, msg=f"expression '${{{{ {expression} }}}}' has a syntax error ({references})",
                                  type="expression_syntax")
                    continue
                for kind, name in references:
                    candidates = known[kind]
                    present = name in candidates if kind in ("input", "function") else name.lower() in candidates
                    if not present:
                        listed = ", ".join(sorted(candidates)) or "none"
                        yield Problem(loc=loc, msg=f"expression '${{{{ {expression} }}}}' names {words[kind]} "
                                      f"'{name}', which does not exist (known: {listed})",
                                      type=f"unknown_{kind}_reference")


def _parameter_problems(model: Pipeline) -> Iterator[Problem]:
    # Imported here: integrations build on spec (connections read YAML through it).
    from orchestra_local.integrations import local_integration

    for entry_id, task_id, task in model.iter_tasks():
        module = local_integration(task.integration, task.integration_job)
        if module is None:
            continue
        loc: Loc = ("pipeline", entry_id, "tasks", task_id) if entry_id != task_id else ("pipeline", entry_id)
        try:
            module.Parameters.model_validate(task.parameters)
        except pydantic.ValidationError as exc:
            for error in exc.errors(include_url=False):
                field = error["loc"][0] if error["loc"] else None
                if field is not None and has_template(task.parameters.get(field)):
                    continue  # its value is only known after substitution, at run time
                if field is None and any(has_template(v) for v in task.parameters.values()):
                    continue  # a cross-field rule over values known only at run time
                where = (*loc, "parameters", *error["loc"])
                message = str(error["msg"]).removeprefix("Value error, ")
                # The module cannot read these parameters, so the task cannot run here.
                yield Problem(loc=where, msg=f"{task.integration_job}: {message}", type=error["type"], blocks_run=True)


def _warning(loc: Loc, message: str) -> Problem:
    return Problem(loc=loc, msg=f"{message} (Orchestra documents this limit; its validator does not enforce it)",
                   type="documented_limit", severity="warning")


def _configuration_limits(config: Any, loc: Loc) -> Iterator[Problem]:
    if config is None:
        return
    if config.retries is not None and config.retries < 0:
        yield _warning((*loc, "retries"), "retries below 0 count as 0")
    if config.retry_delay is not None and not 0 <= config.retry_delay <= 120:
        yield _warning((*loc, "retry_delay"), "retry_delay is in minutes, 0 to 120")
    if config.timeout is not None and config.timeout < 1:
        yield _warning((*loc, "timeout"), "timeout is in seconds and below 1 stops the task at once")
    if config.concurrency is not None and config.concurrency.max_active is not None and config.concurrency.max_active < 1:
        yield _warning((*loc, "concurrency", "max_active"), "max_active below 1 counts as 1")


def _documented_limits(model: Pipeline) -> Iterator[Problem]:
    """Warnings for limits Orchestra states in prose only (the engine clamps what it must)."""
    yield from _configuration_limits(model.configuration, ("configuration",))
    for entry_id, entry in model.pipeline.items():
        if isinstance(entry, TaskGroup):
            if not entry.tasks:
                yield _warning(("pipeline", entry_id, "tasks"), "a task group needs at least one task")
            matrix = entry.matrix
            if matrix is not None and len(matrix.inputs) > 1:
                yield _warning(("pipeline", entry_id, "matrix", "inputs"),
                               f"matrix inputs take exactly one key (found {len(matrix.inputs)}; the first is used)")
            elif matrix is not None and not matrix.inputs:
                yield _warning(("pipeline", entry_id, "matrix", "inputs"),
                               "matrix inputs take exactly one key (found none: the group has no iteration and is "
                               "skipped)")
            if matrix is not None and matrix.max_parallel is not None and matrix.max_parallel < 1:
                yield _warning(("pipeline", entry_id, "matrix", "max_parallel"), "max_parallel below 1 counts as 1")
    for entry_id, task_id, task in model.iter_tasks():
        loc: Loc = ("pipeline", entry_id, "tasks", task_id) if entry_id != task_id else ("pipeline", entry_id)
        yield from _configuration_limits(task.configuration, (*loc, "configuration"))
        if task.tags is not None and len(task.tags) > 10:
            yield _warning((*loc, "tags"), f"at most 10 tags ({len(task.tags)} given)")
    for sensor_id, sensor in (model.sensors or {}).items():
        if sensor.frequency_secs is not None and not 60 <= sensor.frequency_secs <= 600:
            yield _warning(("sensors", sensor_id, "frequency_secs"), "frequency_secs is 60 to 600 seconds")
        if sensor.timeout_mins < 1:
            yield _warning(("sensors", sensor_id, "timeout_mins"), "timeout_mins is at least 1 minute")
        if not sensor.checks:
            yield _warning(("sensors", sensor_id, "checks"), "a sensor needs at least one check")
        gap = _shortest_interval(sensor.cron, sensor.timezone)
        if gap is not None and timedelta(minutes=sensor.timeout_mins) >= gap:
            yield _warning(("sensors", sensor_id, "timeout_mins"),
                           f"timeout_mins ({sensor.timeout_mins}) must be shorter than the interval between cron "
                           f"times ({gap.total_seconds() / 60:g} minutes): each new window replaces the open one")


def _shortest_interval(cron: str, timezone: str | None) -> timedelta | None:
    """The shortest gap between the next 10 fire times of a cron (None: an invalid cron, reported elsewhere)."""
    try:
        times = list(islice(FireTimes.of(cron, timezone).after(datetime.now(UTC)), 10))
    except (ValueError, LookupError):  # a bad cron or timezone: _schedule_problems reports it as an error
        return None
    return min((later - earlier for earlier, later in pairwise(times)), default=None)


def _local_limits(model: Pipeline) -> Iterator[Problem]:
    """The runner's own bounds (``limits.py``) that a file Orchestra accepts can exceed."""
    for entry_id, entry in model.pipeline.items():
        if isinstance(entry, TaskGroup) and entry.matrix is not None and isinstance(entry.matrix.values, list):
            count = len(entry.matrix.values)
            if count > MAX_MATRIX_VALUES:
                yield Problem(loc=("pipeline", entry_id, "matrix", "inputs", entry.matrix.key),
                              msg=f"matrix of task group '{entry_id}' has {count:,} values; the local runner runs at "
                                  f"most {MAX_MATRIX_VALUES:,} (MAX_MATRIX_VALUES), so `run` refuses the file",
                              type="matrix_too_large", severity="warning", blocks_run=True)


def check_rules(model: Pipeline, document: dict[str, Any]) -> list[Problem]:
    """Every rule problem of a schema-valid pipeline, located by YAML path (no file or line yet)."""
    problems = list(_catalog_problems(model))
    problems += _schedule_problems(model)
    problems += _expression_problems(model, document)
    problems += _parameter_problems(model)
    problems += _documented_limits(model)
    problems += _local_limits(model)
    problems += [problem for _destination, problem in alert_destination_problems(model)]
    return problems


LOCAL_ALERT_INTEGRATIONS = frozenset({"WEBHOOK", "SLACK", "MICROSOFT_TEAMS", "EMAIL"})
"""Alert destinations the local runner delivers (``orchestra_local/alerts``); the others are hosted-only."""


def alert_destinations(model: Pipeline) -> Iterator[tuple[Loc, AlertDestination]]:
    """Every alert destination of the pipeline and of its tasks, with its YAML path."""
    owners: list[tuple[Loc, list[Alert]]] = [(("alerts",), model.alerts or [])]
    for entry_id, task_id, task in model.iter_tasks():
        loc: Loc = ("pipeline", entry_id, "tasks", task_id) if entry_id != task_id else ("pipeline", entry_id)
        owners.append(((*loc, "alerts"), task.alerts or []))
    for base, alerts in owners:
        for index, alert in enumerate(alerts):
            for position, destination in enumerate(alert.destinations):
                yield (*base, index, "destinations", position), destination


def alert_destination_problems(model: Pipeline) -> Iterator[tuple[AlertDestination, Problem]]:
    """Warnings for alert destinations the local runner cannot deliver as written."""
    for loc, destination in alert_destinations(model):
        if destination.integration not in LOCAL_ALERT_INTEGRATIONS:
            yield destination, _local_warning((*loc, "integration"), f"{destination.integration} alerts are delivered by "
                                        "hosted Orchestra only; locally they are recorded REMOTE_ONLY")
        elif not destination.connection_id:
            yield destination, _local_warning((*loc, "connection_id"), f"locally a {destination.integration} alert needs "
                                        "connection_id naming a connection of connections.yml "
                                        "(see connections.example.yml)")
        elif destination.integration == "EMAIL" and not (destination.destination or "").strip():
            yield destination, _local_warning((*loc, "destination"), "an EMAIL alert needs its recipients' addresses "
                                        "in destination (comma-separated)")


def _local_warning(loc: Loc, message: str) -> Problem:
    """A warning about what the local runner does with a file Orchestra accepts as it is."""
    return Problem(loc=loc, msg=message, type="local_runner", severity="warning")
