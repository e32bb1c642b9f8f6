"""SEND_SLACK_MESSAGE through the engine against a real webhook server on loopback."""

from __future__ import annotations

import json

import pytest

from orchestra_local.connections import Connection

PIPELINE = """
    version: v1
    name: notify
    pipeline:
      notify:
        tasks:
          post:
            integration: SLACK
            integration_job: SEND_SLACK_MESSAGE
            connection: team_slack
            configuration: {{retries: 1, retry_delay: 1}}
            parameters: {parameters}
    """


def _run(run_pipeline, service, parameters: dict, **fields: str):
    connection = Connection(name="team_slack", integration="SLACK",
                            fields={"webhook_url": service.url + "/services/T0/B0/xyz", **fields})
    finished = run_pipeline(PIPELINE.format(parameters=json.dumps(parameters)), connections={"team_slack": connection})
    return finished.by_label()["notify.post"]


def test_the_message_is_posted_as_json_to_the_webhook(run_pipeline, service) -> None:
    post = _run(run_pipeline, service, {"channel_name": "#data-alerts", "text": "Loaded 3 tables",
                                        "unfurl_links": False})
    assert post["status"] == "SUCCEEDED", post["message"]
    assert "#data-alerts" in post["message"] and post["external_status"] == "200"
    (request,) = service.received
    assert (request.method, request.path) == ("POST", "/services/T0/B0/xyz")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"text": "Loaded 3 tables", "unfurl_links": False}


def test_blocks_given_as_json_text_are_sent_as_a_list(run_pipeline, service) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}]
    post = _run(run_pipeline, service, {"channel_name": "alerts", "blocks": json.dumps(blocks),
                                        "attachments": [{"color": "#36a64f", "text": "ok"}]},
                channel_name="#Alerts")
    assert post["status"] == "SUCCEEDED", post["message"]
    assert service.received[0].json() == {"blocks": blocks, "attachments": [{"color": "#36a64f", "text": "ok"}]}


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"channel_name": "#alerts"}, "at least one of text, blocks or attachments"),
        ({"channel_name": "#alerts", "blocks": '{"type": "section"}'}, "blocks must be a JSON list"),
        ({"channel_name": "#alerts", "blocks": "[{"}, "blocks is not valid JSON"),
        ({"channel_name": "#finance", "text": "hi"}, "differs from the channel '#alerts'"),
    ],
    ids=["empty", "blocks-not-list", "blocks-not-json", "other-channel"],
)
def test_bad_messages_fail_without_posting_or_retrying(run_pipeline, service, parameters: dict, fragment: str) -> None:
    post = _run(run_pipeline, service, parameters, channel_name="#alerts")
    assert post["status"] == "FAILED" and fragment in post["message"]
    assert post["number_of_attempts"] == 1 and service.received == []


def test_a_rejected_payload_fails_with_slacks_status_and_answer(run_pipeline, service) -> None:
    service.reply("/services/T0/B0/xyz", 400, "invalid_payload", content_type="text/plain")
    post = _run(run_pipeline, service, {"channel_name": "#alerts", "text": "hi"})
    assert post["status"] == "FAILED" and "HTTP 400" in post["message"] and "invalid_payload" in post["message"]
    assert post["number_of_attempts"] == 1


def test_a_connection_without_webhook_url_names_the_missing_field(run_pipeline) -> None:
    text = PIPELINE.format(parameters=json.dumps({"channel_name": "#alerts", "text": "hi"}))
    finished = run_pipeline(text, connections={"team_slack": Connection(name="team_slack", integration="SLACK")})
    post = finished.by_label()["notify.post"]
    assert post["status"] == "FAILED" and "lacks field(s) webhook_url" in post["message"]
