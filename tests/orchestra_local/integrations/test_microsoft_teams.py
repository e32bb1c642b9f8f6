"""SEND_MICROSOFT_TEAMS_MESSAGE through the engine against a real webhook server on loopback."""

from __future__ import annotations

import json

from orchestra_local.connections import Connection

PIPELINE = """
    version: v1
    name: notify
    pipeline:
      notify:
        tasks:
          post:
            integration: MICROSOFT_TEAMS
            integration_job: SEND_MICROSOFT_TEAMS_MESSAGE
            connection: team_channel
            configuration: {{retries: 1, retry_delay: 1}}
            parameters: {{content: {content}}}
    """

CARD = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "Pipeline finished"}]}


def _run(run_pipeline, service, content: dict, *, integration: str = "MICROSOFT_TEAMS"):
    connection = Connection(name="team_channel", integration=integration,
                            fields={"webhook_url": service.url + "/webhookb2/abc"})
    text = PIPELINE.format(content=json.dumps(content))
    return run_pipeline(text, connections={"team_channel": connection}).by_label()["notify.post"]


def test_an_adaptive_card_is_posted_inside_a_message_envelope(run_pipeline, service) -> None:
    post = _run(run_pipeline, service, CARD)
    assert post["status"] == "SUCCEEDED", post["message"]
    assert "Adaptive Card" in post["message"]
    (request,) = service.received
    assert (request.method, request.path) == ("POST", "/webhookb2/abc")
    assert request.json() == {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": CARD}]}


def test_a_message_card_is_posted_as_it_is(run_pipeline, service) -> None:
    card = {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": "s", "text": "done"}
    post = _run(run_pipeline, service, card)
    assert post["status"] == "SUCCEEDED" and "MessageCard" in post["message"]
    assert service.received[0].json() == card


def test_a_server_error_fails_with_its_status_and_is_retried(run_pipeline, service) -> None:
    service.reply("/webhookb2/abc", 502, "Bad Gateway from upstream", content_type="text/plain")
    post = _run(run_pipeline, service, CARD)
    assert post["status"] == "FAILED" and "HTTP 502" in post["message"] and "Bad Gateway" in post["message"]
    assert post["number_of_attempts"] == 2 and len(service.received) == 2


def test_empty_content_and_a_connection_of_another_integration_fail_without_posting(run_pipeline, service) -> None:
    empty = _run(run_pipeline, service, {})
    assert empty["status"] == "FAILED" and "content is empty" in empty["message"]
    other = _run(run_pipeline, service, CARD, integration="SLACK")
    assert other["status"] == "FAILED" and "is a SLACK connection, not MICROSOFT_TEAMS" in other["message"]
    assert other["number_of_attempts"] == 1 and service.received == []
