"""The ``salesforce`` source kind: its command-line options and its factory (see :mod:`ingest.kinds`).

Credentials never appear on the command line: ``--credentials-env-prefix`` names the environment
variables (``<PREFIX>USERNAME``, ``<PREFIX>PASSWORD``, ...) and they are all checked before any
request is sent. Every worker run builds the parser, so this module imports only light modules;
simple-salesforce (about 0.2 s to import, with zeep) is loaded by :func:`open_salesforce`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ingest.errors import UsageError
from ingest.kinds import OptionGroup, seconds
from ingest.sources.base import Source
from ingest.sources.salesforce.credentials import (
    LOGIN_URL_VARIABLE,
    OPTIONAL_VARIABLES,
    REQUIRED_VARIABLES,
    LoginFlow,
    credentials_from_env,
    login_url,
)
from ingest.sources.salesforce.settings import DEFAULT_BULK_TIMEOUT_SECONDS, Api, SalesforceSettings

DEFAULT_ENV_PREFIX = "SALESFORCE_"
DEFAULT_DOMAIN = "login"
DEFAULT_API_VERSION = "59.0"  # simple-salesforce 1.12's default (Winter '24)
_VERSION = re.compile(r"^\d{2,3}\.0$")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _field_list(text: str) -> tuple[str, ...]:
    fields = tuple(part.strip() for part in text.split(","))
    if not all(fields):
        raise argparse.ArgumentTypeError(f"expected FIELD[,FIELD...], got {text!r}")
    return fields


def _minutes(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more minutes, got {text}")
    return value


def _api_version(text: str) -> str:
    if not _VERSION.match(text):
        raise argparse.ArgumentTypeError(f"expected a version such as {DEFAULT_API_VERSION}, got {text!r}")
    return text


def add_salesforce_options(group: OptionGroup) -> None:
    """Add the ``salesforce`` source's options to its argument group."""
    variables = ", ".join(
        f"{flow.value}: "
        + " ".join(REQUIRED_VARIABLES[flow] + tuple(f"[{v}]" for v in OPTIONAL_VARIABLES.get(flow, ())))
        for flow in LoginFlow
    )
    group.add("--api", type=Api, choices=list(Api), default=Api.REST,
              help="rest: query/queryAll with nextRecordsUrl paging (default); bulk: Bulk API 2.0 "
              "query jobs, for large objects")  # fmt: skip
    group.add("--fields", type=_field_list, metavar="FIELD[,FIELD]",
              help="fields to load (default: every field except compound and base64 ones); a compound "
              "field such as BillingAddress selects its components; Id and IsDeleted are always loaded")  # fmt: skip
    group.add("--include-deleted", action=argparse.BooleanOptionalAction, default=True,
              help="read deleted records too (queryAll), so deletions land as IsDeleted = true "
              "(default: on)")  # fmt: skip
    group.add("--lookback-minutes", type=_minutes, default=0.0, metavar="MINUTES",
              help="with --incremental-cursor, start this many minutes before the stored watermark, to "
              "catch records committed late with an earlier SystemModstamp (default: 0)")  # fmt: skip
    group.add("--login-flow", type=LoginFlow, choices=list(LoginFlow), default=LoginFlow.PASSWORD,
              help=f"how to log in (default: password); variables after the prefix: {variables}")  # fmt: skip
    group.add("--credentials-env-prefix", default=DEFAULT_ENV_PREFIX, metavar="PREFIX",
              help=f"prefix of the credential variables' NAMES (default: {DEFAULT_ENV_PREFIX}); "
              f"<PREFIX>{LOGIN_URL_VARIABLE} overrides the login URL")  # fmt: skip
    group.add("--domain", default=DEFAULT_DOMAIN,
              help="login (production, default), test (sandbox) or your My Domain, e.g. acme.my "
              "(for https://acme.my.salesforce.com)")  # fmt: skip
    group.add("--api-version", type=_api_version, default=DEFAULT_API_VERSION,
              help=f"Salesforce API version (default: {DEFAULT_API_VERSION})")  # fmt: skip
    group.add("--bulk-timeout", type=seconds, default=DEFAULT_BULK_TIMEOUT_SECONDS, metavar="SECONDS",
              help=f"longest wait for a Bulk API 2.0 job (default: {DEFAULT_BULK_TIMEOUT_SECONDS:g})")  # fmt: skip


def open_salesforce(options: Mapping[str, Any], environ: Mapping[str, str]) -> Source:
    """Build the source from its option values and the environment; no request is sent yet.

    Args:
        options: Values of the options :func:`add_salesforce_options` declared, by ``dest``.
        environ: Environment holding the credentials.

    Returns:
        The source.

    Raises:
        UsageError: If ``--domain`` or ``--credentials-env-prefix`` is malformed, or the
            client-credentials flow has no My Domain.
        ConfigError: If credential variables are missing or the login URL is not https.
    """
    domain = str(options["domain"]).strip()
    if not _DOMAIN.match(domain) or domain.lower().endswith("salesforce.com"):
        raise UsageError(
            f"--domain takes the part before .salesforce.com (login, test or e.g. acme.my), got {domain!r}"
        )
    prefix = str(options["credentials_env_prefix"])
    if not _PREFIX.match(prefix):
        raise UsageError(f"--credentials-env-prefix must be an environment variable name prefix, got {prefix!r}")
    flow = LoginFlow(options["login_flow"])
    credentials = credentials_from_env(flow, prefix, environ)
    override = environ.get(prefix + LOGIN_URL_VARIABLE, "").strip() or None
    if flow is LoginFlow.CLIENT_CREDENTIALS and domain in ("login", "test") and override is None:
        raise UsageError("--login-flow client-credentials needs your My Domain: pass --domain <name>.my")
    version = str(options["api_version"])
    # Imported here so that runs of other sources never load simple-salesforce (module docstring).
    from worker_kit.masking import SecretMasker

    from ingest.sources.salesforce.auth import Authenticator
    from ingest.sources.salesforce.client import SalesforceClient
    from ingest.sources.salesforce.source import SalesforceSource
    from ingest.sources.salesforce.transport import TimeoutSession

    redact = SecretMasker()
    http = TimeoutSession()
    authenticator = Authenticator(credentials, domain, login_url(domain, override), version, http, redact)
    settings = SalesforceSettings(
        api=Api(options["api"]),
        fields=options["fields"],
        include_deleted=bool(options["include_deleted"]),
        lookback=dt.timedelta(minutes=float(options["lookback_minutes"])),
        bulk_timeout=float(options["bulk_timeout"]),
    )
    return SalesforceSource(SalesforceClient(authenticator, version, http, redact), settings)
