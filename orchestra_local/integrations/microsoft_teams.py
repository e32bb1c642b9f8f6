"""MICROSOFT_TEAMS / SEND_MICROSOFT_TEAMS_MESSAGE: post a card through a Teams incoming webhook.

Contract: Orchestra's ``MicrosoftTeamsSendMessageParametersModel`` (read from ``oml_lang``): one
parameter, ``content``, an object: "Adaptive Card JSON payload to send to Teams ... delivered via
an incoming webhook using the Adaptive Card schema".

Connection (``integration: MICROSOFT_TEAMS``) field ``webhook_url`` **(our choice)**: a Teams
incoming webhook or a Workflows ("When a Teams webhook request is received") URL. The body sent
**(our choice)**: an Adaptive Card is wrapped in the message envelope both accept
(``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"content": <card>}]}``); ``content`` that is already an envelope (``"type": "message"``) or a legacy
``MessageCard`` (``"@type": "MessageCard"``) is sent as it is.
"""

from __future__ import annotations

from typing import Any

from orchestra_local.errors import InvalidParametersError
from orchestra_local.integrations.base import IntegrationParameters, TaskContext, TaskResult
from orchestra_local.integrations.http_client import post_to_webhook
from orchestra_local.integrations.outcomes import settled
from orchestra_local.spec.statuses import TaskRunStatus

SHELL_PARAMETERS: frozenset[str] = frozenset()

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


class Parameters(IntegrationParameters):
    """Parameters of SEND_MICROSOFT_TEAMS_MESSAGE (Orchestra's names and types)."""

    content: dict[str, Any]


def teams_payload(content: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The webhook body for ``content`` and what kind of card it carries.

    Returns:
        ``(body, kind)`` with kind ``Adaptive Card``, ``message`` or ``MessageCard``.

    Raises:
        InvalidParametersError: ``content`` is empty.
    """
    if not content:
        raise InvalidParametersError("content is empty: give an Adaptive Card, e.g. "
                                       '{"type": "AdaptiveCard", "version": "1.4", "body": [...]}')
    if content.get("type") == "message":
        return content, "message"
    if content.get("@type") == "MessageCard":
        return content, "MessageCard"
    envelope = {"type": "message",
                "attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": content}]}
    return envelope, "Adaptive Card"


@settled
def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Post the card once.

    Returns:
        SUCCEEDED when Teams answers 2xx (``external_status`` is the status code).

    Raises:
        InvalidParametersError: Empty content.
        TerminalIntegrationError: No MICROSOFT_TEAMS connection with a ``webhook_url``, or a 4xx answer.
        IntegrationError: Connection failures and 5xx/429 answers (the engine may retry).
    """
    payload, kind = teams_payload(params.content)
    response, seconds = post_to_webhook(ctx, "MICROSOFT_TEAMS", payload, "Microsoft Teams webhook")
    return TaskResult(
        TaskRunStatus.SUCCEEDED,
        f"posted a {kind} to Microsoft Teams through the webhook (HTTP {response.status_code}, {seconds:.2f}s)",
        external_status=str(response.status_code),
    )
