"""The ``http`` sensor: a GET met on a status code and, optionally, a JSON-path condition.

Met when the response's status is one of ``--status`` (default 200) and, with ``--json-path``
(JSONPath as ``jsonpath-ng`` parses it, e.g. ``$.state`` or ``$.jobs[0].status``), the expression
matches; with ``--equals`` too, when the first match equals that value (compared as JSON text, so
``--equals true`` matches the boolean and ``--equals 3`` the number). A 401 or 403 fails at once
(waiting will not fix credentials); any other status, a connection error or a timeout is "not yet".
Credentials come from environment variables named on the command line (``--bearer-env``,
``--username-env``/``--password-env``) and never appear in a log line or an output.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse as parse_json_path
from worker_kit.errors import ConfigError, TransientError, UsageError, WorkerError
from worker_kit.masking import SecretMasker

from sensors.poke import Poke

REQUEST_TIMEOUT_SECONDS = 30.0


class CredentialsRejected(WorkerError):
    """The server answered 401 or 403."""


@dataclass
class HttpCheck:
    """One GET (a :data:`sensors.poke.Check`).

    Args:
        url: What to GET (its query string may carry no secret: it is logged).
        statuses: Status codes that count as met.
        json_path: JSONPath the body must match, or None.
        equals: Value (JSON text or plain text) the first match must equal, or None.
        auth: ``httpx`` auth (basic), or None.
        headers: Extra headers (the bearer token).
        masker: Hides the credentials in anything logged.

    Raises:
        UsageError: ``--json-path`` does not parse, or ``--equals`` without ``--json-path``.
    """

    url: str
    statuses: Collection[int]
    json_path: str | None = None
    equals: str | None = None
    auth: httpx.Auth | None = None
    headers: dict[str, str] | None = None
    masker: SecretMasker | None = None

    def __post_init__(self) -> None:
        if self.equals is not None and self.json_path is None:
            raise UsageError("--equals compares the first match of --json-path; give --json-path too")
        try:
            self._expression = parse_json_path(self.json_path) if self.json_path else None
        except (JsonPathParserError, Exception) as exc:  # noqa: BLE001 - jsonpath-ng raises plain Exception for some syntax
            raise UsageError(f"--json-path {self.json_path!r} is not JSONPath: {exc}") from None
        self._client = httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=True, auth=self.auth,
                                    headers=self.headers or {})

    def __call__(self) -> Poke:
        """GET once; see the module docstring."""
        mask = self.masker or SecretMasker()
        try:
            response = self._client.get(self.url)
        except httpx.HTTPError as exc:
            raise TransientError(mask(f"GET {self.url}: {type(exc).__name__}: {exc}")) from None
        status = response.status_code
        if status in (401, 403):
            raise CredentialsRejected(f"GET {mask(self.url)}: HTTP {status}; check the credentials "
                                      "(--bearer-env / --username-env / --password-env)")
        if status not in self.statuses:
            return Poke(False, f"HTTP {status}, waiting for {', '.join(map(str, sorted(self.statuses)))}")
        outputs: dict[str, Any] = {"status_code": status, "url": mask(self.url)}
        if self._expression is None:
            return Poke(True, f"HTTP {status}", outputs)
        try:
            body = response.json()
        except ValueError:
            return Poke(False, f"HTTP {status}, body is not JSON")
        matches = [match.value for match in self._expression.find(body)]
        if not matches:
            return Poke(False, f"HTTP {status}, {self.json_path} matches nothing")
        outputs["value"] = matches[0]
        if self.equals is None:
            return Poke(True, f"HTTP {status}, {self.json_path} matches", outputs)
        met = _same(matches[0], self.equals)
        shown = mask(json.dumps(matches[0]))[:80]
        return Poke(met, f"HTTP {status}, {self.json_path} = {shown}" + ("" if met else f", waiting for {self.equals}"),
                    outputs)


def _same(value: Any, expected: str) -> bool:
    """True when ``value`` equals ``expected`` read as JSON (``true``, ``3``, ``"x"``) or as plain text."""
    try:
        parsed: Any = json.loads(expected)
    except ValueError:
        parsed = expected
    return value == parsed or (isinstance(value, str) and value == expected)


def auth_from_env(environ: dict[str, str], bearer_env: str | None, username_env: str | None,
                  password_env: str | None) -> tuple[httpx.Auth | None, dict[str, str], list[str]]:
    """The request's auth and headers from the named environment variables, and the secrets to mask.

    Raises:
        ConfigError: A named variable is unset or empty (the message names the variable, never a value).
        UsageError: Only one of ``--username-env`` and ``--password-env``.
    """
    def read(name: str) -> str:
        value = environ.get(name, "")
        if not value:
            raise ConfigError(f"environment variable {name} is not set; set it to the credential the URL needs")
        return value

    if bool(username_env) != bool(password_env):
        raise UsageError("basic auth needs both --username-env and --password-env")
    headers: dict[str, str] = {}
    secrets: list[str] = []
    auth = None
    if bearer_env:
        token = read(bearer_env)
        headers["Authorization"] = f"Bearer {token}"
        secrets.append(token)
    if username_env and password_env:
        password = read(password_env)
        auth = httpx.BasicAuth(read(username_env), password)
        secrets.append(password)
    return auth, headers, secrets
