"""Settling our findings against Orchestra's validator (``spec/agreement.py``)."""

from __future__ import annotations

import pytest

from orchestra_local.errors import Problem
from orchestra_local.spec.agreement import blockers, reconcile

TASK = ("pipeline", "g", "tasks", "t")


def ours(loc: tuple, kind: str = "missing", blocks_run: bool = False, severity: str = "error") -> Problem:
    return Problem(loc=loc, msg="ours", type=kind, blocks_run=blocks_run, severity=severity)


def theirs(loc: tuple) -> Problem:
    return Problem(loc=loc, msg="theirs", type="orchestra_schema")


CASES = {
    # (our problems, Orchestra's, expected (msg, severity, blocks_run) in order)
    "confirmed-at-the-same-path": ([ours((*TASK, "x"))], [theirs((*TASK, "x"))], [("ours", "error", False)]),
    "confirmed-by-an-enclosing-finding": ([ours((*TASK, "x"))], [theirs(TASK)], [("ours", "error", False)]),
    "confirmed-by-a-finding-below-which-is-kept": ([ours(TASK)], [theirs((*TASK, "parameters", "a"))],
                                                   [("ours", "error", False), ("theirs", "error", False)]),
    "unconfirmed-becomes-a-warning": ([ours((*TASK, "x"), "timezone")], [], [("ours (Orchestra's validator does not "
                                      "check time zones; schedules never run locally)", "warning", False)]),
    "unconfirmed-blocker-keeps-its-mark": ([ours((*TASK, "depends_on"), "unknown_task_dependency", True)], [],
                                           [("ours (Orchestra's validator accepts this, but the local runner cannot "
                                             "run the file: `run` refuses it)", "warning", True)]),
    "a-finding-elsewhere-does-not-confirm": ([ours(("schedule", 0, "timezone"), "timezone")], [theirs(TASK)],
                                             [("ours (Orchestra's validator does not check time zones; schedules "
                                               "never run locally)", "warning", False), ("theirs", "error", False)]),
    "warnings-pass-unchanged": ([ours(TASK, "documented_limit", severity="warning")], [],
                                [("ours", "warning", False)]),
    "orchestras-findings-uncovered-by-an-error-are-added": ([], [theirs(TASK)], [("theirs", "error", False)]),
}


@pytest.mark.parametrize(("mine", "orchestra", "expected"), CASES.values(), ids=CASES.keys())
def test_reconcile(mine: list[Problem], orchestra: list[Problem], expected: list[tuple]) -> None:
    settled = reconcile(mine, orchestra)
    assert [(p.msg, p.severity, p.blocks_run) for p in settled] == expected


def test_without_findings_from_orchestra_nothing_is_an_error() -> None:
    kinds = ["missing", "extra_forbidden", "enum", "cron", "timezone", "duplicate_id", "expression_syntax"]
    settled = reconcile([ours((*TASK, k), k, blocks_run=i % 2 == 0) for i, k in enumerate(kinds)], [])
    assert settled and all(p.severity == "warning" for p in settled)
    assert [p.loc[-1] for p in blockers(settled)] == kinds[::2]
