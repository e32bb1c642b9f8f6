"""SLACK / SEND_SLACK_MESSAGE: post a message through the connection's Slack incoming webhook.

Contract: Orchestra's ``SlackSendMessageParametersModel`` (read from ``oml_lang``):
``channel_name`` (required), ``text``, ``blocks`` (Block Kit, a list or a JSON string),
``attachments`` (legacy attachments), ``unfurl_links``, ``unfurl_media``; "at least one of text,
blocks, or attachments must be provided" (stated by the model, checked here when the task runs,
because the schema ``oml_lang`` validates cannot express it).

Locally the message goes to an incoming webhook **(our choice)**: connection (``integration:
SLACK``) field ``webhook_url``. Slack binds a webhook to one channel and ignores any channel in the
body, so ``channel_name`` cannot pick the channel here; when the connection also has a
``channel_name`` field, a task naming another channel fails instead of posting to the wrong one.
"""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool

from orchestra_local.errors import InvalidParametersError
from orchestra_local.integrations.base import IntegrationParameters, TaskContext, TaskResult
from orchestra_local.integrations.http_client import parse_json_text, post_to_webhook
from orchestra_local.integrations.outcomes import TerminalIntegrationError, connection_fields, settled
from orchestra_local.spec.statuses import TaskRunStatus

SHELL_PARAMETERS: frozenset[str] = frozenset()


class Parameters(IntegrationParameters):
    """Parameters of SEND_SLACK_MESSAGE (Orchestra's names, types and defaults)."""

    channel_name: str
    text: str | None = None
    blocks: list[Any] | str | None = None
    attachments: list[Any] | None = None
    unfurl_links: StrictBool | None = None
    unfurl_media: StrictBool | None = None


def _channel(name: str) -> str:
    return name.strip().lstrip("#").lower()


def slack_payload(params: Parameters) -> dict[str, Any]:
    """The webhook body: ``text``, ``blocks``, ``attachments`` and the unfurl flags that are set.

    Raises:
        InvalidParametersError: ``blocks`` is text that is not a JSON list, or the message has
            no text, blocks or attachments.
    """
    blocks: Any = params.blocks
    if isinstance(blocks, str):
        blocks = parse_json_text(blocks, "blocks") if blocks.strip() else None
        if blocks is not None and not isinstance(blocks, list):
            raise InvalidParametersError("blocks must be a JSON list of Block Kit blocks")
    payload: dict[str, Any] = {"text": params.text or None, "blocks": blocks or None,
                               "attachments": params.attachments or None,
                               "unfurl_links": params.unfurl_links, "unfurl_media": params.unfurl_media}
    payload = {key: value for key, value in payload.items() if value is not None}
    if not {"text", "blocks", "attachments"} & payload.keys():
        raise InvalidParametersError("the message is empty: give at least one of text, blocks or attachments")
    return payload


@settled
def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Post the message once.

    Returns:
        SUCCEEDED when Slack answers 2xx (``external_status`` is the status code).

    Raises:
        InvalidParametersError: An empty or malformed message.
        TerminalIntegrationError: No SLACK connection with a ``webhook_url``, a channel other than
            the connection's, or a 4xx answer.
        IntegrationError: Connection failures and 5xx/429 answers (the engine may retry).
    """
    payload = slack_payload(params)
    bound = connection_fields(ctx, "SLACK", optional=("channel_name",)).get("channel_name")
    if bound is not None and _channel(bound) != _channel(params.channel_name):
        raise TerminalIntegrationError(
            f"channel_name '{params.channel_name}' differs from the channel '{bound}' the connection's webhook "
            "posts to; link a connection for that channel"
        )
    response, seconds = post_to_webhook(ctx, "SLACK", payload, "Slack webhook")
    return TaskResult(
        TaskRunStatus.SUCCEEDED,
        f"posted to Slack channel {params.channel_name} through the webhook "
        f"(HTTP {response.status_code}, {seconds:.2f}s)",
        external_status=str(response.status_code),
    )
