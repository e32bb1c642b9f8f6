"""Warnings about files that behave differently on this machine than on hosted Orchestra.

Neither is an error (Orchestra accepts both files), but a run that succeeds locally would not
succeed the same way once pushed:

- **outputs without ``set_outputs``**: locally, a PYTHON task's last stdout line, when it is a JSON
  object, becomes the task's outputs **(our choice**, ``integrations/python_script.py``). Hosted
  Orchestra records outputs only from ``orchestra-sdk``'s ``set_output`` with ``set_outputs: true``
  (``docs/orchestra-contract.md`` section 4). A later task or condition reading
  ``tasks['x'].OUTPUTS`` of such a task works here and reads nothing on Orchestra.
- **a ``project_dir`` that does not exist** in the repository: the task fails when it starts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orchestra_local.errors import Problem
from orchestra_local.expressions import MAX_EXPRESSION_LENGTH, TEMPLATE, has_template
from orchestra_local.spec.models import Pipeline
from orchestra_local.spec.rules import located_strings

Loc = tuple[str | int, ...]
PYTHON_JOBS = frozenset({("PYTHON", "PYTHON_EXECUTE_SCRIPT")})


def _task_loc(entry_id: str, task_id: str) -> Loc:
    return ("pipeline", entry_id, "tasks", task_id) if entry_id != task_id else ("pipeline", entry_id)


def _task_of(node: ast.AST) -> str | None:
    """``x`` for ``tasks['x']`` or ``ORCHESTRA.PIPELINE_RUN_TASKS['x']``, else None."""
    if not isinstance(node, ast.Subscript):
        return None
    key = node.slice
    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
        return None
    target = node.value
    if isinstance(target, ast.Name) and target.id.lower() == "tasks":
        return key.value
    if isinstance(target, ast.Attribute) and target.attr.upper() == "PIPELINE_RUN_TASKS":
        return key.value
    return None


def outputs_read(text: str) -> set[str]:
    """Lower-cased ids of the tasks whose ``.OUTPUTS`` the ``${{ }}`` expressions of ``text`` read."""
    found: set[str] = set()
    for match in TEMPLATE.finditer(text):
        expression = match.group(1).strip()
        if len(expression) > MAX_EXPRESSION_LENGTH:
            continue  # reported by the expression rules, and never parsed
        try:
            tree = ast.parse(expression, mode="eval")
        except (SyntaxError, RecursionError, MemoryError):
            continue  # reported by the expression rules
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.upper() == "OUTPUTS":
                task = _task_of(node.value)
                if task is not None:
                    found.add(task.lower())
    return found


def _sets_outputs(parameters: dict[str, Any]) -> bool:
    value = parameters.get("set_outputs")
    return value is True or (isinstance(value, str) and (value.strip().lower() == "true" or has_template(value)))


def _outputs_without_sdk(model: Pipeline, document: dict[str, Any]) -> Iterator[Problem]:
    readers: dict[str, list[Loc]] = {}
    for loc, text in located_strings(document.get("pipeline"), ("pipeline",)):
        if has_template(text):
            for task in outputs_read(text):
                readers.setdefault(task, []).append(loc)
    for entry_id, task_id, task in model.iter_tasks():
        where = readers.get(task_id.lower())
        if not where or (task.integration.upper(), task.integration_job.upper()) not in PYTHON_JOBS:
            continue
        if _sets_outputs(task.parameters):
            continue
        first = ".".join(str(part) for part in where[0])
        more = f" and {len(where) - 1} more place(s)" if len(where) > 1 else ""
        yield Problem(
            loc=(*_task_loc(entry_id, task_id), "parameters"),
            msg=f"tasks['{task_id}'].OUTPUTS is read (at {first}{more}) but set_outputs is not true: hosted "
                "Orchestra only records outputs the script sets with orchestra-sdk's set_output under "
                "set_outputs: true, while the local runner also takes the last JSON line of stdout; this works "
                "locally and reads no outputs on Orchestra (add set_outputs: true and call set_output)",
            type="outputs_without_set_outputs", severity="warning")


def _missing_project_dirs(model: Pipeline, repo_root: Path) -> Iterator[Problem]:
    for entry_id, task_id, task in model.iter_tasks():
        project_dir = task.parameters.get("project_dir")
        if not isinstance(project_dir, str) or not project_dir.strip() or has_template(project_dir):
            continue
        folder = repo_root / project_dir
        if not folder.is_dir():
            yield Problem(loc=(*_task_loc(entry_id, task_id), "parameters", "project_dir"),
                          msg=f"project_dir '{project_dir}' is not a folder under the repository root {repo_root} "
                              "(the task fails when it starts; paths are relative to the repository root)",
                          type="missing_project_dir", severity="warning", input=project_dir)


def check_portability(model: Pipeline, repo_root: Path | None, document: dict[str, Any] | None = None) -> list[Problem]:
    """Warnings for behaviour that differs between a local run and hosted Orchestra.

    Args:
        model: A schema-valid pipeline.
        repo_root: The repository the file belongs to; None skips the ``project_dir`` check.
        document: The plain document (defaults to the model dumped in snake_case).

    Returns:
        Warnings located by YAML path (no file or line yet), at most one per task and kind.
    """
    if document is None:
        document = model.model_dump(mode="json", by_alias=False, exclude_unset=True)
    problems = list(_outputs_without_sdk(model, document))
    if repo_root is not None:
        problems += _missing_project_dirs(model, repo_root)
    return problems

