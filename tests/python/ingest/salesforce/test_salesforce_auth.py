"""The login flows other than password against the test org: client credentials, JWT bearer, and
an existing session (which cannot be renewed)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from conftest import SalesforceOrg as Org
    from conftest import StartOrg

ACCOUNTS = 1000


@pytest.fixture
def jwt_org(start_org: StartOrg, test_server_package: ModuleType, tmp_path: Path) -> tuple[Org, Path]:
    """An org that trusts a freshly made RSA key for the JWT bearer flow, and the key's file."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_file = tmp_path / "connected-app.key"
    key_file.write_bytes(test_server_package.private_key_pem(key))
    return start_org(credentials=test_server_package.OrgCredentials(jwt_public_key=public)), key_file


def oauth_env(org: Org, **variables: str) -> dict[str, str]:
    """The worker environment with only the login URL, CA bundle and ``variables`` as credentials."""
    base = org.env()
    for name in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"):
        base.pop(name)
    return {**base, **variables}


def test_client_credentials_flow(org: Org) -> None:
    credentials = org.server.state.credentials
    env = oauth_env(org, SALESFORCE_CONSUMER_KEY=credentials.consumer_key,
                    SALESFORCE_CONSUMER_SECRET=credentials.consumer_secret)  # fmt: skip

    run = org.ingest("--object", "Account", "--login-flow", "client-credentials", env=env)

    assert run.returncode == 0, run.stderr
    assert run.summary["rows_written"] == ACCOUNTS
    assert org.faults.requests("/services/oauth2/token", status=200)


def test_jwt_bearer_flow(jwt_org: tuple[Org, Path]) -> None:
    org, key_file = jwt_org
    credentials = org.server.state.credentials
    env = oauth_env(org, SALESFORCE_CONSUMER_KEY=credentials.consumer_key, SALESFORCE_USERNAME=credentials.username,
                    SALESFORCE_PRIVATE_KEY_FILE=str(key_file))  # fmt: skip

    run = org.ingest("--object", "Account", "--login-flow", "jwt", env=env)

    assert run.returncode == 0, run.stderr
    assert run.summary["rows_written"] == ACCOUNTS


def test_jwt_flow_with_an_unknown_key_is_refused(
    jwt_org: tuple[Org, Path], test_server_package: ModuleType, tmp_path: Path
) -> None:
    org, _ = jwt_org
    other = tmp_path / "other.key"
    other.write_bytes(
        test_server_package.private_key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    )
    credentials = org.server.state.credentials
    env = oauth_env(org, SALESFORCE_CONSUMER_KEY=credentials.consumer_key, SALESFORCE_USERNAME=credentials.username,
                    SALESFORCE_PRIVATE_KEY_FILE=str(other))  # fmt: skip

    run = org.ingest("--object", "Account", "--login-flow", "jwt", env=env)

    assert run.returncode == 1
    assert run.error_lines == [
        "Error: Salesforce login failed (jwt flow, user integration@example.com): invalid_grant: "
        "invalid assertion: InvalidSignatureError"
    ]


def test_existing_session_is_used_and_cannot_be_renewed(org: Org) -> None:
    session_id = org.server.state.new_session()
    env = oauth_env(org, SALESFORCE_INSTANCE_URL=org.server.url, SALESFORCE_SESSION_ID=session_id)

    first = org.ingest("--object", "Account", "--login-flow", "session", env=env)
    org.faults.expire_session("/queryAll/")
    second = org.ingest("--object", "Account", "--login-flow", "session", env=env)

    assert first.returncode == 0, first.stderr
    assert first.summary["rows_written"] == ACCOUNTS
    assert second.returncode == 1
    assert "INVALID_SESSION_ID" in second.error_lines[0]
    assert "SALESFORCE_SESSION_ID cannot be renewed" in second.error_lines[0]
    assert session_id not in second.stdout + second.stderr
