"""Reference rules of a pipeline file: unique ids, ``depends_on`` targets, cycles.

The rules (orchestra-contract section 1): ids are unique across the whole file; a top-level entry
depends only on other top-level entries; a task inside a group depends only on tasks of the same
group; neither level may form a cycle.

The checks read the plain parsed document rather than the validated model, tolerating parts of
the wrong shape, so a file with schema errors still gets its reference errors in the same report.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from orchestra_local.engine.dag import CycleError, topological_layers
from orchestra_local.errors import Problem


class _Entry:
    """The reference-relevant view of one top-level entry of the plain document."""

    def __init__(self, value: Any):
        mapping = value if isinstance(value, Mapping) else {}
        self.depends_on = _id_list(mapping.get("depends_on", mapping.get("dependsOn")))
        tasks = mapping.get("tasks")
        self.is_group = "tasks" in mapping
        self.tasks: dict[str, list[str]] = {}
        if isinstance(tasks, Mapping):
            for task_id, task in tasks.items():
                task_map = task if isinstance(task, Mapping) else {}
                self.tasks[str(task_id)] = _id_list(task_map.get("depends_on", task_map.get("dependsOn")))


def _id_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _entries(document: Mapping[str, Any]) -> dict[str, _Entry]:
    pipeline = document.get("pipeline")
    if not isinstance(pipeline, Mapping):
        return {}
    return {str(k): _Entry(v) for k, v in pipeline.items()}


def _task_owner(entries: Mapping[str, _Entry]) -> dict[str, str]:
    """Task id -> id of the group that holds it (standalone tasks are not included)."""
    return {task_id: group_id for group_id, entry in entries.items() for task_id in entry.tasks}


def _unique_ids(entries: Mapping[str, _Entry]) -> Iterator[Problem]:
    seen: dict[str, tuple[str, ...]] = {gid.lower(): ("pipeline", gid) for gid in entries}
    for group_id, entry in entries.items():
        for task_id in entry.tasks:
            loc = ("pipeline", group_id, "tasks", task_id)
            first = seen.get(task_id.lower())
            if first is not None:
                yield Problem(
                    loc=loc,
                    msg=f"id '{task_id}' is already used at {'.'.join(first)}; ids must be unique across the file "
                    "(ids are compared case-insensitively)",
                    type="duplicate_id",
                )
            else:
                seen[task_id.lower()] = loc


def _cycle_problem(exc: CycleError, loc_of: Mapping[str, tuple[str | int, ...]], kind: str = "dependency_cycle") -> Problem:
    return Problem(loc=loc_of[exc.cycle[0]], msg=str(exc), type=kind)


def _top_level(entries: Mapping[str, _Entry], owner: Mapping[str, str]) -> Iterator[Problem]:
    graph: dict[str, list[str]] = {}
    for entry_id, entry in entries.items():
        graph[entry_id] = []
        for index, dep in enumerate(entry.depends_on):
            loc = ("pipeline", entry_id, "depends_on", index)
            if dep in entries:
                graph[entry_id].append(dep)
            elif dep in owner:
                yield Problem(
                    loc=loc,
                    msg=f"'{entry_id}' depends on '{dep}', a task inside group '{owner[dep]}'; a top-level "
                    f"entry may depend only on top-level entries (use '{owner[dep]}')",
                    type="cross_level_dependency",
                    input=dep,
                )
            else:
                yield Problem(
                    loc=loc,
                    msg=f"'{entry_id}' depends on '{dep}', which is not an entry of this pipeline "
                    f"(entries: {', '.join(sorted(entries))})",
                    type="unknown_dependency",
                    input=dep,
                )
    try:
        topological_layers(graph)
    except CycleError as exc:
        yield _cycle_problem(exc, {k: ("pipeline", k, "depends_on") for k in graph})


def _in_group(
    entries: Mapping[str, _Entry], group_id: str, group: _Entry, owner: Mapping[str, str]
) -> Iterator[Problem]:
    graph: dict[str, list[str]] = {}
    for task_id, depends_on in group.tasks.items():
        graph[task_id] = []
        for index, dep in enumerate(depends_on):
            loc = ("pipeline", group_id, "tasks", task_id, "depends_on", index)
            if dep in group.tasks:
                graph[task_id].append(dep)
            elif dep in entries or dep in owner:
                where = f"group '{owner[dep]}'" if dep in owner else "the top level"
                yield Problem(
                    loc=loc,
                    msg=f"task '{task_id}' depends on '{dep}' from {where}; a task may depend only on tasks "
                    f"of its own group '{group_id}' (put the dependency on the group instead)",
                    type="cross_level_task_dependency",
                    input=dep,
                )
            else:
                yield Problem(
                    loc=loc,
                    msg=f"task '{task_id}' depends on '{dep}', which is not a task of group '{group_id}' "
                    f"(tasks: {', '.join(sorted(group.tasks))})",
                    type="unknown_task_dependency",
                    input=dep,
                )
    try:
        topological_layers(graph)
    except CycleError as exc:
        yield _cycle_problem(exc, {k: ("pipeline", group_id, "tasks", k, "depends_on") for k in graph},
                             "task_dependency_cycle")


def check_references(document: Mapping[str, Any]) -> list[Problem]:
    """Every reference problem of a parsed pipeline document, located by YAML path.

    Args:
        document: The plain parsed YAML (need not be schema-valid).

    Returns:
        Problems in file order (no file or line yet), each marked ``blocks_run``; empty when the
        references are sound.
    """
    entries = _entries(document)
    owner = _task_owner(entries)
    problems = list(_unique_ids(entries))
    problems.extend(_top_level(entries, owner))
    for group_id, entry in entries.items():
        if entry.is_group:
            problems.extend(_in_group(entries, group_id, entry, owner))
    # The engine cannot order (or tell apart) what these rules refuse, whatever Orchestra accepts.
    return [replace(problem, blocks_run=True) for problem in problems]

