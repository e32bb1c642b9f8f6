"""Resolve a REST source file against the environment: base URL and secrets, all at once.

Nothing is requested before every variable the file names is checked, and one error names all
the missing ones. Secret values are kept only in the auth object and the masker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from requests.auth import AuthBase
from worker_kit.masking import SecretMasker

from ingest.errors import ConfigError
from ingest.sources.rest.auth import build_auth, secret_variables
from ingest.sources.rest.config import RestApiConfig


@dataclass(frozen=True)
class ResolvedApi:
    """A REST source file with its environment applied.

    Attributes:
        config: The validated file.
        base_url: Root URL, ending with ``/``.
        auth: Auth object of every request; None for a public API.
        credential_variables: Names of the variables holding the credentials, for hints.
        masker: Hides the secret values in messages and logs.
    """

    config: RestApiConfig
    base_url: str
    auth: AuthBase | None
    credential_variables: tuple[str, ...]
    masker: SecretMasker


def resolve_api(config: RestApiConfig, config_path: Path, environ: Mapping[str, str]) -> ResolvedApi:
    """Apply the environment to a REST source file.

    Args:
        config: The validated file.
        config_path: Where it was read from, for messages.
        environ: The environment.

    Returns:
        The resolved API.

    Raises:
        ConfigError: If a variable the file names is unset or empty (all such variables are
            named in one message), or ``base_url_env`` holds something other than an http(s)
            URL (its value is not shown: it may embed credentials).
    """
    missing = []
    base_url = config.base_url
    if config.base_url_env is not None:
        from_env = environ.get(config.base_url_env, "").strip()
        if from_env:
            if not from_env.startswith(("http://", "https://")):
                raise ConfigError(
                    f"rest config {config_path}: {config.base_url_env} must hold an http:// or https:// URL"
                )
            base_url = from_env
        elif base_url is None:
            missing.append(config.base_url_env)
    values = {}
    variables = secret_variables(config.auth)
    for variable in variables:
        value = environ.get(variable, "")
        if value.strip():
            values[variable] = value
        else:
            missing.append(variable)
    if missing:
        raise ConfigError(
            f"rest config {config_path}: set the environment variable(s) {', '.join(missing)} "
            f"(base URL and credentials of the API)"
        )
    assert base_url is not None  # the model requires base_url or base_url_env
    auth = build_auth(config.auth, values) if config.auth is not None else None
    return ResolvedApi(config, base_url.rstrip("/") + "/", auth, variables, SecretMasker(values.values()))
