"""``POST /webhook``: the body Orchestra's "Webhook events sensor" page documents is stored for sensor checks."""

from __future__ import annotations

from orchestra_local.store.sensor_events import latest_sensor_event


def test_the_documented_sensor_event_body_is_stored(api) -> None:
    body = {"event_type": "SENSOR_EVENT", "sensor_event_type": "files_ready", "sensor_event": {"hello": "world"}}
    stored = api.client.post("/webhook", json=body, headers=api.headers)
    assert stored.status_code == 200 and stored.json() == {"message": "Event stored"}
    event = latest_sensor_event(api.app.state.service.store, "files_ready", None)
    assert event is not None and event["sensor_event"] == {"hello": "world"}


def test_a_webhook_call_without_the_token_or_with_another_event_type_is_refused(api) -> None:
    body = {"event_type": "SENSOR_EVENT", "sensor_event_type": "files_ready", "sensor_event": {}}
    assert api.client.post("/webhook", json=body).status_code == 401
    other = api.client.post("/webhook", json={**body, "event_type": "SET_OUTPUT"}, headers=api.headers)
    assert other.status_code == 422 and "SENSOR_EVENT" in other.text
    empty = api.client.post("/webhook", json={**body, "sensor_event_type": ""}, headers=api.headers)
    assert empty.status_code == 422
    assert latest_sensor_event(api.app.state.service.store, "files_ready", None) is None


def test_sensor_checks_lists_the_types_the_scheduler_evaluates_with_their_parameters(api) -> None:
    listed = {record["id"]: record for record in api.get("/sensor_checks/").json()}
    assert sorted(listed) == ["AWS_S3_FILE", "ORCHESTRA_PIPELINE_STATUS", "ORCHESTRA_WEBHOOK_EVENT", "POSTGRES_QUERY"]
    query = listed["POSTGRES_QUERY"]
    assert query["integration"] == "POSTGRES" and query["outputKeys"] == ["results", "row_count"]
    assert [(item["name"], item["optional"]) for item in query["sensorSchema"]] == [("statement", False),
                                                                                   ("database", True)]
    assert [item["name"] for item in listed["AWS_S3_FILE"]["sensorSchema"]] == ["bucket_name", "file_prefix"]
