"""The committed connections.example.yml loads and documents every integration that reads a connection."""

from __future__ import annotations

from orchestra_local.connections import load_connections
from orchestra_local.integrations.postgres import FIELDS as POSTGRES_FIELDS
from orchestra_local.scheduling.sensor_checks.s3 import CLIENT_FIELDS as S3_FIELDS
from tests.conftest import REPO_ROOT

CONNECTION_FIELDS = {
    "HTTP": {"base_url", "bearer_token", "headers"},
    "POSTGRES": set(POSTGRES_FIELDS),
    "MOTHERDUCK": {"path"},
    "SLACK": {"webhook_url", "channel_name"},
    "MICROSOFT_TEAMS": {"webhook_url"},
    "AWS_S3": set(S3_FIELDS),
    "WEBHOOK": {"base_url", "bearer_token", "username", "password"},
    "EMAIL": {"host", "port", "username", "password", "starttls", "ssl", "from_address"},
}


def test_the_example_has_an_entry_per_integration_with_only_fields_we_read() -> None:
    connections = load_connections(REPO_ROOT / "connections.example.yml")
    assert {c.integration for c in connections.values()} == set(CONNECTION_FIELDS)
    for connection in connections.values():
        assert set(connection.fields) <= CONNECTION_FIELDS[connection.integration], connection.name
