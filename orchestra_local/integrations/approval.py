"""ORCHESTRA / APPROVAL: the run waits until someone approves or rejects the task.

Parameters are those of hosted Orchestra's ``ApprovalParametersModel`` (probed with oml_lang):
``message``, ``approvers``, and where hosted Orchestra also posts the request
(``message_integration`` such as SLACK, EMAIL or MICROSOFT_TEAMS, ``message_connection_id``,
``message_destination``). Hosted Orchestra asks the approvers in its UI and that channel; locally
the request is not posted anywhere (the task's note says so and names the channel), and the task
waits until ``orchestra-local approve <task_run_id> [--reject]`` or the local API decides, which
record the decision in the metadata store (``RunStore.decide_approval``). The task's ``timeout``
(seconds), if set, bounds the wait; cancelling the run ends it.
"""

from __future__ import annotations

from pydantic import StrictStr

from orchestra_local.integrations.base import IntegrationParameters, TaskContext, TaskResult
from orchestra_local.spec.statuses import TaskRunStatus

SHELL_PARAMETERS: frozenset[str] = frozenset()
POLL_SECONDS = 0.5
WAITING, APPROVED, REJECTED = "WAITING_FOR_APPROVAL", "APPROVED", "REJECTED"


class Parameters(IntegrationParameters):
    """Parameters of APPROVAL."""

    message: StrictStr | None = None
    approvers: list[StrictStr] | None = None
    message_integration: StrictStr | None = None
    message_connection_id: StrictStr | None = None
    message_destination: StrictStr | None = None


def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Wait for a decision.

    Returns:
        SUCCEEDED when approved; FAILED when rejected or when ``timeout`` passes first;
        CANCELLED when the run is cancelled while waiting.
    """
    ctx.update_external(WAITING, params.message)
    who = f" (approvers: {', '.join(params.approvers)})" if params.approvers else ""
    ctx.note(f"{ctx.task_id} waits for approval{who}: orchestra-local approve {ctx.task_run_id} [--reject]")
    if params.message_integration:
        where = " ".join(filter(None, [params.message_destination, params.message_connection_id]))
        ctx.note(f"{ctx.task_id}: the approval request is not posted to {params.message_integration} {where} "
                 "locally (hosted Orchestra posts it there)")
    waited = 0.0
    while True:
        status, message = ctx.read_external()
        if status == APPROVED:
            return TaskResult(TaskRunStatus.SUCCEEDED, f"approved{': ' + message if message else ''}")
        if status == REJECTED:
            return TaskResult(TaskRunStatus.FAILED, f"rejected{': ' + message if message else ''}", retryable=False)
        if ctx.timeout is not None and waited >= ctx.timeout:
            return TaskResult(TaskRunStatus.FAILED, f"no decision within {ctx.timeout:g} seconds", retryable=False)
        if ctx.processes.cancelled.wait(POLL_SECONDS):
            return TaskResult(TaskRunStatus.CANCELLED, "cancelled while waiting for approval")
        waited += POLL_SECONDS
