"""Logging in to Salesforce with one of four flows, through simple-salesforce.

Flows (``--login-flow``), and the contract each follows:

- ``password``: SOAP ``login()`` with username, password and optional security token (SOAP API
  Developer Guide, "login()"), through ``simple_salesforce.SalesforceLogin``.
- ``client-credentials``: OAuth 2.0 client credentials flow of a connected app (Salesforce Help,
  "OAuth 2.0 Client Credentials Flow for Server-to-Server Integration"); needs a My Domain.
- ``jwt``: OAuth 2.0 JWT bearer flow (Salesforce Help, "OAuth 2.0 JWT Bearer Flow for
  Server-to-Server Integration"): an RS256 assertion signed with the connected app's key.
- ``session``: an existing instance URL and session id (access token); it cannot be renewed.

The OAuth flows post to ``<login URL>/services/oauth2/token`` and read the answer with
``simple_salesforce.login.token_login``. The login URL is ``https://<domain>.salesforce.com``
unless ``<PREFIX>LOGIN_URL`` overrides it (a proxy, or the tests' loopback server); the
JWT audience is that login URL, as in simple-salesforce. Credentials: :mod:`.credentials`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests
from simple_salesforce import SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import token_login
from worker_kit.masking import SecretMasker

from ingest.errors import ConfigError
from ingest.sources.salesforce.credentials import Credentials, LoginFlow
from ingest.sources.salesforce.errors import TRANSIENT_CODES, SalesforceAuthError, last_line
from ingest.sources.salesforce.retry import RetryableError, call_with_retries
from ingest.sources.salesforce.transport import describe_failure

JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce accepts assertions that expire within 3 minutes


@dataclass(frozen=True, repr=False)
class SalesforceSession:
    """A session: the bearer token and the instance serving the org.

    Attributes:
        session_id: Session id / OAuth access token (a secret).
        instance: Host (and port when not 443) of the org's instance, e.g. ``acme.my.salesforce.com``.
    """

    session_id: str
    instance: str

    def __repr__(self) -> str:
        return f"SalesforceSession(instance={self.instance!r})"


class Authenticator:
    """Obtains sessions for one set of credentials.

    Args:
        credentials: What the flow needs.
        domain: ``login``, ``test`` or a My Domain (``acme.my``).
        base_url: Login base URL (see :func:`login_url`).
        api_version: API version, e.g. ``59.0`` (the SOAP login endpoint is versioned).
        http: Session the login requests go through.
        redact: Removes secrets from messages.
    """

    def __init__(
        self,
        credentials: Credentials,
        domain: str,
        base_url: str,
        api_version: str,
        http: requests.Session,
        redact: SecretMasker,
    ) -> None:
        self.credentials = credentials
        self._domain = domain
        self._base_url = base_url
        self._api_version = api_version
        self._http = http
        self._redact = redact
        redact.add(*credentials.secrets())

    @property
    def can_renew(self) -> bool:
        """Whether a new session can be obtained when the current one expires."""
        return self.credentials.flow is not LoginFlow.SESSION

    def login(self) -> SalesforceSession:
        """Obtain a session, retrying throttled or failed login requests.

        Returns:
            The session.

        Raises:
            SalesforceAuthError: If Salesforce refused the credentials (e.g. ``INVALID_LOGIN``).
            SalesforceUnavailableError: If the login endpoint kept failing or was unreachable.
            ConfigError: If the private key file (JWT flow) cannot be read or used, or the
                session flow's instance URL is not https.
        """
        flow = self.credentials.flow
        if flow is LoginFlow.SESSION:
            return self._given_session()
        session = call_with_retries(self._login_once, f"logging in ({flow.value} flow)")
        self._redact.add(session.session_id)
        return session

    def _given_session(self) -> SalesforceSession:
        url = self.credentials.get("INSTANCE_URL") or ""
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc:
            raise ConfigError(
                f"{self.credentials.prefix}INSTANCE_URL must be an https:// URL such as "
                f"https://acme.my.salesforce.com, got {url!r}"
            )
        session_id = self.credentials.get("SESSION_ID") or ""
        return SalesforceSession(session_id, parts.netloc.removesuffix(":443"))

    def _login_once(self) -> SalesforceSession:
        """One login request; raises :class:`RetryableError` for outcomes worth repeating."""
        try:
            session_id, instance = self._exchange()
        except SalesforceAuthenticationFailed as exc:
            code = exc.code
            if (isinstance(code, int) and (code == 429 or code >= 500)) or str(code) in TRANSIENT_CODES:
                raise RetryableError(f"login answered {code}") from None
            raise SalesforceAuthError(self._redact(self._refusal(str(code), exc.auth_message))) from None
        except requests.RequestException as exc:
            # A login changes nothing on the server, so it is safe to repeat after any failure.
            raise RetryableError(self._redact(describe_failure(exc))) from None
        return SalesforceSession(str(session_id), str(instance))

    def _refusal(self, code: str, message: str) -> str:
        flow = self.credentials.flow
        user = self.credentials.get("USERNAME")
        who = f", user {user}" if user else ""
        return f"Salesforce login failed ({flow.value} flow{who}): {code}: {last_line(message)}"

    def _exchange(self) -> tuple[str, str]:
        """Run the flow's login request; returns ``(session id, instance host)``."""
        credentials = self.credentials
        if credentials.flow is LoginFlow.PASSWORD:
            # scratch_url is simple-salesforce's parameter for the SOAP login base URL.
            return SalesforceLogin(
                username=credentials.get("USERNAME"),
                password=credentials.get("PASSWORD"),
                security_token=credentials.get("SECURITY_TOKEN"),
                sf_version=self._api_version,
                session=self._http,
                domain=self._domain,
                scratch_url=self._base_url,
            )
        consumer_key = credentials.get("CONSUMER_KEY") or ""
        if credentials.flow is LoginFlow.CLIENT_CREDENTIALS:
            form = {
                "grant_type": "client_credentials",
                "client_id": consumer_key,
                "client_secret": credentials.get("CONSUMER_SECRET"),
            }
        else:
            form = {"grant_type": JWT_GRANT_TYPE, "assertion": self._jwt_assertion(consumer_key)}
        token_url = f"{self._base_url}/services/oauth2/token"
        session_id, instance = token_login(token_url, form, self._domain, consumer_key, None, None, self._http)
        return str(session_id), str(instance).split("/")[0]

    def _jwt_assertion(self, consumer_key: str) -> str:
        """The signed JWT of the bearer flow: issuer = consumer key, subject = username."""
        variable = f"{self.credentials.prefix}PRIVATE_KEY_FILE"
        path = Path(self.credentials.get("PRIVATE_KEY_FILE") or "").expanduser()
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the private key file {path} named by {variable}: {exc.strerror}") from None
        claims = {
            "iss": consumer_key,
            "sub": self.credentials.get("USERNAME"),
            "aud": self._base_url,
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError(
                f"the file {path} named by {variable} is not a usable RSA private key (PEM): {type(exc).__name__}"
            ) from None
