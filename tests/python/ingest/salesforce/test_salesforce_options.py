"""The salesforce kind's options and configuration, checked before any request is sent."""

from __future__ import annotations

import pytest
from ingest.cli import build_parser, config_from_args
from ingest.errors import ConfigError, UsageError
from ingest.sources import open_source
from ingest.sources.salesforce.credentials import LoginFlow, credentials_from_env

PASSWORD_ENV = {"SALESFORCE_USERNAME": "user@example.com", "SALESFORCE_PASSWORD": "pw-123456"}


def open_with(args: list[str], environ: dict[str, str]) -> object:
    """Parse a worker command line and open its source, as ``python -m ingest`` does."""
    config = config_from_args(build_parser().parse_args(["--source", "salesforce", "--object", "Account", *args]))
    return open_source(config.source, config.source_options, environ)


@pytest.mark.parametrize(
    ("args", "environ", "error", "message"),
    [
        pytest.param(
            [],
            {"SALESFORCE_USERNAME": "user@example.com"},
            ConfigError,
            "Salesforce password login needs environment variables SALESFORCE_USERNAME, SALESFORCE_PASSWORD; "
            "not set: SALESFORCE_PASSWORD (change the names with --credentials-env-prefix)",
            id="missing-password",
        ),
        pytest.param(
            ["--credentials-env-prefix", "CRM_"],
            PASSWORD_ENV,
            ConfigError,
            "Salesforce password login needs environment variables CRM_USERNAME, CRM_PASSWORD; "
            "not set: CRM_USERNAME, CRM_PASSWORD (change the names with --credentials-env-prefix)",
            id="other-prefix",
        ),
        pytest.param(
            ["--login-flow", "jwt"],
            {"SALESFORCE_USERNAME": "user@example.com"},
            ConfigError,
            "Salesforce jwt login needs environment variables SALESFORCE_CONSUMER_KEY, SALESFORCE_USERNAME, "
            "SALESFORCE_PRIVATE_KEY_FILE; not set: SALESFORCE_CONSUMER_KEY, SALESFORCE_PRIVATE_KEY_FILE "
            "(change the names with --credentials-env-prefix)",
            id="jwt-missing-two",
        ),
        pytest.param(
            [],
            {**PASSWORD_ENV, "SALESFORCE_LOGIN_URL": "http://127.0.0.1:9"},
            ConfigError,
            "the Salesforce login URL must be an https:// URL, got 'http://127.0.0.1:9'",
            id="plain-http-login-url",
        ),
        pytest.param(
            ["--login-flow", "client-credentials"],
            {"SALESFORCE_CONSUMER_KEY": "key", "SALESFORCE_CONSUMER_SECRET": "secret-123"},
            UsageError,
            "--login-flow client-credentials needs your My Domain: pass --domain <name>.my",
            id="client-credentials-without-my-domain",
        ),
        pytest.param(
            ["--domain", "acme.my.salesforce.com"],
            PASSWORD_ENV,
            UsageError,
            "--domain takes the part before .salesforce.com (login, test or e.g. acme.my), got 'acme.my.salesforce.com'",
            id="full-host-as-domain",
        ),
        pytest.param(
            ["--credentials-env-prefix", "CRM-"],
            PASSWORD_ENV,
            UsageError,
            "--credentials-env-prefix must be an environment variable name prefix, got 'CRM-'",
            id="bad-prefix",
        ),
    ],
)
def test_configuration_problems_are_reported_before_any_request(
    args: list[str], environ: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        open_with(args, environ)
    assert str(raised.value) == message


def test_a_complete_configuration_opens_without_contacting_salesforce() -> None:
    source = open_with(["--domain", "acme.my", "--api", "bulk", "--fields", "Name"], PASSWORD_ENV)
    try:
        assert type(source).__name__ == "SalesforceSource"
    finally:
        source.close()  # type: ignore[attr-defined]


def test_credentials_keep_secrets_out_of_their_repr() -> None:
    credentials = credentials_from_env(
        LoginFlow.PASSWORD, "SALESFORCE_", {**PASSWORD_ENV, "SALESFORCE_SECURITY_TOKEN": "tok-98765"}
    )

    assert credentials.secrets() == ["pw-123456", "tok-98765"]
    assert "pw-123456" not in repr(credentials) and "tok-98765" not in repr(credentials)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--api-version", "v59.0"], "expected a version such as 59.0"),
        (["--lookback-minutes", "-5"], "must be zero or more minutes"),
        (["--fields", "Name,,Id"], "expected FIELD[,FIELD...]"),
        (["--api", "soap"], "invalid Api value"),
    ],
)
def test_malformed_options_are_argument_errors(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["--source", "salesforce", "--object", "Account", *args])
    assert raised.value.code == 2
    assert fragment in capsys.readouterr().err
