"""Database URLs: read from a named environment variable, validated, and masked for messages.

Workers never take a URL on the command line, only the *name* of the environment variable that
holds it, so secrets stay out of process listings and run logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from worker_kit.errors import ConfigError

# scheme://user:password@host -> scheme://user:***@host, for any URL-like text in a message.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s]+@")

# The psycopg 3 driver is the one pinned in requirements.txt; a bare "postgresql://" URL would
# otherwise select psycopg2, which is not installed.
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


def mask_secrets(text: str) -> str:
    """Replace the password of every URL in ``text`` with ``***``.

    Args:
        text: Any message that may quote a connection URL.

    Returns:
        The text with ``scheme://user:password@`` rewritten to ``scheme://user:***@``.
    """
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


def url_from_env(variable: str, purpose: str, environ: Mapping[str, str] | None = None) -> URL:
    """Read and parse the SQLAlchemy URL held by an environment variable.

    Args:
        variable: Name of the environment variable, e.g. ``SOURCE_DATABASE_URL``.
        purpose: What the URL points at, used in error messages ("the source database").
        environ: Environment to read; defaults to ``os.environ``.

    Returns:
        The parsed URL; ``postgresql://`` URLs are given the psycopg 3 driver.

    Raises:
        ConfigError: If the variable is unset or empty, or its value is not a SQLAlchemy URL.
            The message names the variable and never contains the value's password.
    """
    env = os.environ if environ is None else environ
    raw = env.get(variable, "").strip()
    if not raw:
        raise ConfigError(
            f"environment variable {variable} is not set; set it to the SQLAlchemy URL of "
            f"{purpose} (e.g. sqlite:///path/to/file.sqlite or "
            f"postgresql+psycopg://user@host:5432/dbname)"
        )
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(
            f"environment variable {variable} does not hold a valid SQLAlchemy URL "
            f"({mask_secrets(raw)!r}): {mask_secrets(str(exc))}"
        ) from None
    driver = _DEFAULT_DRIVERS.get(url.drivername)
    return url.set(drivername=driver) if driver else url


def describe_url(url: URL) -> str:
    """Render a URL for logs and messages with its password hidden.

    Args:
        url: The URL to render.

    Returns:
        The URL as text, password replaced by ``***``.
    """
    return url.render_as_string(hide_password=True)
