"""Connection URLs from named environment variables, and secrets masked in messages."""

from __future__ import annotations

import pytest
from worker_kit.connection import describe_url, mask_secrets, url_from_env
from worker_kit.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "could not connect to postgresql://app:hunter2@db:5432/crm",
            "could not connect to postgresql://app:***@db:5432/crm",
        ),
        (
            "a snowflake://u:p%40ss@acct/db and mysql+pymysql://root:pw@h/x",
            "a snowflake://u:***@acct/db and mysql+pymysql://root:***@h/x",
        ),
        ("sqlite:///tmp/source.sqlite", "sqlite:///tmp/source.sqlite"),
        ("postgresql://app@db/crm has no password", "postgresql://app@db/crm has no password"),
        ("time 12:30:00 is not a URL", "time 12:30:00 is not a URL"),
    ],
)
def test_mask_secrets(text: str, expected: str) -> None:
    assert mask_secrets(text) == expected


def test_url_is_read_from_the_named_variable() -> None:
    url = url_from_env("CRM_URL", "the CRM", {"CRM_URL": " sqlite:///crm.sqlite "})

    assert url.drivername == "sqlite"
    assert url.database == "crm.sqlite"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_bare_postgres_urls_use_psycopg_3(scheme: str) -> None:
    url = url_from_env("U", "x", {"U": f"{scheme}://app:pw@db/crm"})

    assert url.drivername == "postgresql+psycopg"
    assert describe_url(url) == "postgresql+psycopg://app:***@db/crm"


@pytest.mark.parametrize("environ", [{}, {"CRM_URL": ""}, {"CRM_URL": "   "}])
def test_unset_variable_is_named_in_the_error(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="environment variable CRM_URL is not set; set it to"):
        url_from_env("CRM_URL", "the CRM", environ)


def test_invalid_url_is_reported_without_its_password() -> None:
    with pytest.raises(ConfigError) as raised:
        url_from_env("CRM_URL", "the CRM", {"CRM_URL": "not a url://app:hunter2@db"})

    assert "CRM_URL does not hold a valid SQLAlchemy URL" in str(raised.value)
    assert "hunter2" not in str(raised.value)
