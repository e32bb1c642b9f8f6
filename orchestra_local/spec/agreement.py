"""Combine our findings with Orchestra's validator so we never refuse a file Orchestra accepts.

Orchestra's validator (``oml_lang``, see ``orchestra_lang.py``) is the authority on what the hosted
platform accepts: every one of its findings is an error. Our own checks (pydantic models, reference
rules, the catalog, local parameter models, cron, expressions) are more precise where they agree
with it, but some flag files Orchestra accepts. The rule (``docs/orchestra-contract.md``):

- one of our errors stays an error only when Orchestra also flags something at the same YAML
  path, above it or below it (its message is then the more helpful one and ours is kept);
- otherwise it becomes a **warning** that says why. When the local runner cannot run the file
  at all while the finding holds (``Problem.blocks_run``: a dependency it cannot order, parameters
  its integration module cannot read, a document our models cannot type), ``validate`` warns and
  ``run``/``plan`` refuse (``loader.load_text``);
- Orchestra's findings that none of ours already covers are added as errors.

So when ``oml_lang`` reports nothing, the result holds no error, by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from orchestra_local.errors import Problem

# Why a rule of ours that Orchestra's validator does not share still matters, by problem type.
_REASONS = {
    "enum": "Orchestra's validator accepts names outside its catalog; the local runner treats the task as "
            "remote-only",
    "integration_job_mismatch": "Orchestra's validator does not flag it; the local runner treats the task as "
                                "remote-only",
    "timezone": "Orchestra's validator does not check time zones; schedules never run locally",
    "cron": "Orchestra's validator accepts this cron; schedules never run locally",
    "unknown_input_reference": "Orchestra's validator accepts it; a run fails where the expression is evaluated",
    "unknown_task_reference": "Orchestra's validator accepts it; a run fails where the expression is evaluated",
    "unknown_pipeline_run_task_reference": "Orchestra's validator accepts it; a run fails where the expression "
                                           "is evaluated",
    "unknown_group_reference": "Orchestra's validator accepts it; a run fails where the expression is evaluated",
}
_DEFAULT_REASON = "Orchestra's validator accepts this; a local run may fail where it applies"
_BLOCKING_REASON = "Orchestra's validator accepts this, but the local runner cannot run the file: `run` refuses it"


def _related(a: tuple[str | int, ...], b: tuple[str | int, ...]) -> bool:
    """True when one YAML path lies on the other's branch (equal, ancestor or descendant)."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def as_unconfirmed(problem: Problem) -> Problem:
    """A warning in place of an error Orchestra's validator does not share, with the reason appended."""
    reason = _BLOCKING_REASON if problem.blocks_run else _REASONS.get(problem.type, _DEFAULT_REASON)
    return replace(problem, severity="warning", msg=f"{problem.msg} ({reason})")


def reconcile(ours: Sequence[Problem], theirs: Sequence[Problem]) -> list[Problem]:
    """Our problems, with severities settled against Orchestra's, plus Orchestra's uncovered findings.

    Args:
        ours: Problems from our models and rules (errors and warnings).
        theirs: Problems from ``orchestra_lang.orchestra_problems`` (all errors).

    Returns:
        Ours first (errors Orchestra does not share turned into warnings), then each of Orchestra's
        findings that no remaining error of ours covers (one of ours at its path or below it).
    """
    settled = []
    for problem in ours:
        if problem.severity == "error" and not any(_related(problem.loc, other.loc) for other in theirs):
            problem = as_unconfirmed(problem)
        settled.append(problem)
    covered = [p.loc for p in settled if p.severity == "error"]
    extra = [p for p in theirs if not any(loc[: len(p.loc)] == p.loc for loc in covered)]
    return [*settled, *extra]


def blockers(problems: Sequence[Problem]) -> list[Problem]:
    """The problems that stop a local run: errors, and warnings the runner cannot work around."""
    return [p for p in problems if p.severity == "error" or p.blocks_run]
