"""The table at the end of a run: every task run of a small run; a big run's that did not succeed first."""

from __future__ import annotations

from orchestra_local.console import run_summary_rows


def _records(statuses: list[str]) -> list[dict]:
    parent = {"id": "parent", "task_id": "t", "status": "SUCCEEDED", "matrix_parent": True}
    return [parent] + [{"id": f"r{i}", "task_id": f"t{i}", "status": s, "matrix_parent": False}
                       for i, s in enumerate(statuses)]


def test_a_run_within_the_limit_shows_every_task_run_but_matrix_parents() -> None:
    shown, rest = run_summary_rows(_records(["SUCCEEDED", "FAILED", "SKIPPED"]), limit=3)
    assert [r["id"] for r in shown] == ["r0", "r1", "r2"] and rest == ""


def test_a_bigger_run_keeps_what_did_not_succeed_then_fills_in_plan_order() -> None:
    statuses = ["SUCCEEDED"] * 6 + ["FAILED"] + ["SUCCEEDED"] * 2 + ["SKIPPED", "WARNING"]
    shown, rest = run_summary_rows(_records(statuses), limit=5)
    assert [r["id"] for r in shown] == ["r0", "r1", "r6", "r9", "r10"]  # plan order kept
    assert rest == "6 more task runs not shown (6 succeeded)"


def test_more_failures_than_the_limit_shows_the_first_ones_and_counts_the_others() -> None:
    shown, rest = run_summary_rows(_records(["FAILED"] * 4 + ["SUCCEEDED", "CANCELLED"]), limit=3)
    assert [r["id"] for r in shown] == ["r0", "r1", "r2"]
    assert rest == "3 more task runs not shown (1 failed, 1 succeeded, 1 cancelled)"
