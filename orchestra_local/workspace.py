"""Everything a run needs from the machine: environment, env file, environments, connections, secrets.

Resolved once per CLI invocation or API server, before any work, so that every missing file or
unknown environment is reported up front, and so that every secret is registered with the masker
before anything is logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from orchestra_local.connections import Connection, load_connections
from orchestra_local.engine.runner import RunRequest
from orchestra_local.environments import Environment, load_environments, select_environment
from orchestra_local.errors import InvalidInputError
from orchestra_local.masking import Masker, secret_values

CONNECTIONS_FILE = "connections.yml"
ENVIRONMENTS_FILE = "environments.yml"


@dataclass
class Workspace:
    """The resolved local configuration.

    Attributes:
        env: Process environment overlaid with the env file (the env file wins).
        connections: Connections by name.
        environments: Environments by name.
        masker: Every known secret value: values of secret-named variables of the process
            environment, the env file and the selected environment, secret connection fields, and
            credentials embedded in any of them (rules: ``orchestra_local.masking``).
    """

    env: dict[str, str]
    connections: dict[str, Connection] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)
    masker: Masker = field(default_factory=Masker)

    @classmethod
    def load(
        cls,
        repo_root: Path,
        *,
        env_file: Path | None = None,
        connections_file: Path | None = None,
        environments_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Workspace:
        """Read the configuration files (explicit ones must exist; defaults are optional).

        Args:
            repo_root: Where ``connections.yml`` and ``environments.yml`` are looked for by default.
            env_file: A dotenv file.
            connections_file: A connections file (default ``<repo>/connections.yml`` if present).
            environments_file: An environments file (default ``<repo>/environments.yml`` if present).
            environ: The process environment (default ``os.environ``).

        Raises:
            InvalidInputError: A given file is missing or unreadable.
            PipelineValidationError: A connections or environments file is invalid.
        """
        env = dict(os.environ if environ is None else environ)
        if env_file is not None:
            if not env_file.is_file():
                raise InvalidInputError(f"--env-file {env_file}: no such file")
            env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        connections = _optional(connections_file, repo_root / CONNECTIONS_FILE, load_connections, "connections")
        environments = _optional(environments_file, repo_root / ENVIRONMENTS_FILE, load_environments, "environments")
        masker = Masker(secret_values(env))
        for connection in connections.values():
            masker.add(*connection.secrets())
        return cls(env=env, connections=connections, environments=environments, masker=masker)

    def request(self, *, environment: str | None = None, inputs: Mapping[str, Any] | None = None,
                env_overrides: Mapping[str, str] | None = None, **options: Any) -> RunRequest:
        """A :class:`RunRequest` for the selected environment (the default one if None).

        Args:
            environment: Environment name.
            inputs: Run inputs.
            env_overrides: Values that win over the environment's (Orchestra's ``environmentOverrides``).
            options: Other :class:`RunRequest` fields.

        Raises:
            InvalidInputError: An unknown environment.
        """
        name, variables = select_environment(self.environments, environment)
        variables = {**variables, **(env_overrides or {})}
        self.masker.add(*secret_values(variables))
        return RunRequest(inputs=dict(inputs or {}), env={**self.env, **variables}, connections=self.connections,
                          environment=name, **options)


def _optional(given: Path | None, default: Path, load: Any, what: str) -> dict[str, Any]:
    if given is not None:
        if not given.is_file():
            raise InvalidInputError(f"{what} file {given}: no such file")
        return load(given)
    return load(default) if default.is_file() else {}
