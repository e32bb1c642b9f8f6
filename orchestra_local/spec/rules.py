"""Orchestra's semantic rules beyond the schema: catalog, schedules, expressions, local parameters.

These run on a schema-valid model (``models.Pipeline``) and return located problems:

- ``integration`` and ``integration_job`` are known to Orchestra, and the job belongs to the
  integration (``catalog.py``);
- schedule and sensor ``cron`` are valid EventBridge expressions and ``timezone`` an IANA name;
- every ``${{ ... }}`` parses, and its references exist: ``tasks['x']`` /
  ``ORCHESTRA.PIPELINE_RUN_TASKS['x']`` name a task, ``task_groups['x']`` a top-level entry,
  ``inputs.x`` a declared input;
- parameters of the integrations this runner executes match their models (required keys,
  unknown keys, literal types; values holding expressions are checked at run time).
"""

from __future__ import annotations

import ast
import difflib
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pydantic

from orchestra_local.errors import Problem
from orchestra_local.expressions import MAX_EXPRESSION_LENGTH, TEMPLATE, has_template
from orchestra_local.spec import catalog
from orchestra_local.spec.cron import CronError, validate_cron
from orchestra_local.spec.models import Pipeline

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


def _schedule_problems(model: Pipeline) -> Iterator[Problem]:
    timezones = zoneinfo.available_timezones()
    triggers: list[tuple[Loc, str, str | None]] = [
        (("schedule", index), item.cron, item.timezone) for index, item in enumerate(model.schedule or [])
    ]
    triggers += [(("sensors", sid), sensor.cron, sensor.timezone) for sid, sensor in (model.sensors or {}).items()]
    for loc, cron, timezone in triggers:
        try:
            validate_cron(cron)
        except CronError as exc:
            yield Problem(loc=(*loc, "cron"), msg=str(exc), type="cron", input=cron)
        if timezone is not None and timezone not in timezones:
            yield Problem(loc=(*loc, "timezone"), msg=f"unknown timezone '{timezone}' (use an IANA name such as "
                          f"Europe/London){_suggest(timezone, sorted(timezones))}", type="timezone", input=timezone)


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


def _subscript_key(node: ast.Subscript) -> str | None:
    key = node.slice
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def _references(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """``(kind, name)`` for each literal reference: ``task``, ``group`` or ``input``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and (key := _subscript_key(node)) is not None:
            target = node.value
            if isinstance(target, ast.Name) and target.id.lower() == "tasks":
                yield "task", key
            elif isinstance(target, ast.Name) and target.id.lower() == "task_groups":
                yield "group", key
            elif isinstance(target, ast.Attribute) and target.attr.upper() == "PIPELINE_RUN_TASKS":
                yield "task", key
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id.lower() == "inputs":
            yield "input", node.attr


def _expression_problems(model: Pipeline, document: dict[str, Any]) -> Iterator[Problem]:
    tasks = {task_id.lower() for _, task_id, _ in model.iter_tasks()}
    groups = {entry_id.lower() for entry_id in model.pipeline}
    inputs = set(model.inputs or {})
    known = {"task": tasks, "group": groups, "input": inputs}
    words = {"task": "task", "group": "task group", "input": "declared input"}
    for section in ("pipeline", "schedule", "sensors", "trigger_events", "inputs", "webhook"):
        for loc, text in _strings(document.get(section), (section,)):
            if not has_template(text):
                continue
            for match in TEMPLATE.finditer(text):
                expression = match.group(1).strip()
                if len(expression) > MAX_EXPRESSION_LENGTH:
                    yield Problem(loc=loc, msg=f"expression longer than {MAX_EXPRESSION_LENGTH} characters",
                                  type="expression")
                    continue
                try:
                    tree = ast.parse(expression, mode="eval")
                except SyntaxError as exc:
                    yield Problem(loc=loc, msg=f"expression '${{{{ {expression} }}}}' has a syntax error ({exc.msg})",
                                  type="expression_syntax")
                    continue
                for kind, name in _references(tree):
                    candidates = known[kind]
                    present = name in candidates if kind == "input" else name.lower() in candidates
                    if not present:
                        listed = ", ".join(sorted(candidates)) or "none"
                        yield Problem(loc=loc, msg=f"expression '${{{{ {expression} }}}}' names {words[kind]} "
                                      f"'{name}', which does not exist (known: {listed})", type="unknown_reference")


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
                yield Problem(loc=where, msg=f"{task.integration_job}: {message}", type=error["type"])


def check_rules(model: Pipeline, document: dict[str, Any]) -> list[Problem]:
    """Every rule problem of a schema-valid pipeline, located by YAML path (no file or line yet)."""
    problems = list(_catalog_problems(model))
    problems += _schedule_problems(model)
    problems += _expression_problems(model, document)
    problems += _parameter_problems(model)
    return problems
