"""Salesforce credentials: which environment variables each login flow needs, read all at once.

Only the *names* of the variables are configurable (``--credentials-env-prefix``); values never
appear on the command line or in messages. This module is light to import: the ``salesforce``
kind registers its options with it while simple-salesforce is loaded only for Salesforce runs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ingest.errors import ConfigError


class LoginFlow(enum.StrEnum):
    """How the worker obtains a session."""

    PASSWORD = "password"
    CLIENT_CREDENTIALS = "client-credentials"
    JWT = "jwt"
    SESSION = "session"


# Variable suffixes (after the prefix, e.g. SALESFORCE_) each flow needs, and may use.
REQUIRED_VARIABLES: Mapping[LoginFlow, tuple[str, ...]] = {
    LoginFlow.PASSWORD: ("USERNAME", "PASSWORD"),
    LoginFlow.CLIENT_CREDENTIALS: ("CONSUMER_KEY", "CONSUMER_SECRET"),
    LoginFlow.JWT: ("CONSUMER_KEY", "USERNAME", "PRIVATE_KEY_FILE"),
    LoginFlow.SESSION: ("INSTANCE_URL", "SESSION_ID"),
}
OPTIONAL_VARIABLES: Mapping[LoginFlow, tuple[str, ...]] = {LoginFlow.PASSWORD: ("SECURITY_TOKEN",)}
SECRET_VARIABLES = frozenset({"PASSWORD", "SECURITY_TOKEN", "CONSUMER_SECRET", "SESSION_ID"})
LOGIN_URL_VARIABLE = "LOGIN_URL"


@dataclass(frozen=True, repr=False)
class Credentials:
    """What one flow needs, read from ``<prefix><SUFFIX>`` environment variables.

    Attributes:
        flow: The login flow.
        prefix: Prefix of the variable names, e.g. ``SALESFORCE_`` (for messages).
        values: Variable suffix -> value, for the variables that are set.
    """

    flow: LoginFlow
    prefix: str
    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, suffix: str) -> str | None:
        """The value of ``<prefix><suffix>``, or None when unset."""
        return self.values.get(suffix)

    def secrets(self) -> list[str]:
        """The secret values among the credentials (to remove from any message)."""
        return [value for suffix, value in self.values.items() if suffix in SECRET_VARIABLES]

    def __repr__(self) -> str:
        return f"Credentials(flow={self.flow.value!r}, variables={sorted(self.values)})"


def credentials_from_env(flow: LoginFlow, prefix: str, environ: Mapping[str, str]) -> Credentials:
    """Read a flow's variables, reporting every missing one at once.

    Args:
        flow: The login flow.
        prefix: Variable name prefix, e.g. ``SALESFORCE_``.
        environ: The environment.

    Returns:
        The credentials (values stripped of surrounding whitespace).

    Raises:
        ConfigError: If required variables are unset or empty; the message names them all.
    """
    suffixes = REQUIRED_VARIABLES[flow] + OPTIONAL_VARIABLES.get(flow, ())
    values = {s: environ[prefix + s].strip() for s in suffixes if environ.get(prefix + s, "").strip()}
    missing = [prefix + s for s in REQUIRED_VARIABLES[flow] if s not in values]
    if missing:
        needed = ", ".join(prefix + s for s in REQUIRED_VARIABLES[flow])
        raise ConfigError(
            f"Salesforce {flow.value} login needs environment variables {needed}; "
            f"not set: {', '.join(missing)} (change the names with --credentials-env-prefix)"
        )
    return Credentials(flow, prefix, values)


def login_url(domain: str, override: str | None) -> str:
    """The base URL logins go to, without a trailing slash.

    Args:
        domain: ``login`` (production), ``test`` (sandbox) or a My Domain such as ``acme.my``.
        override: Value of ``<prefix>LOGIN_URL``, if set.

    Returns:
        ``override`` when given, else ``https://<domain>.salesforce.com``.

    Raises:
        ConfigError: If the override is not an ``https://`` URL (credentials never travel in
            clear text).
    """
    if not override:
        return f"https://{domain}.salesforce.com"
    parts = urlsplit(override.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigError(f"the Salesforce login URL must be an https:// URL, got {override.strip()!r}")
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"
