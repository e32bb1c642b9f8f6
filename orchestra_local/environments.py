"""Environments: named sets of values for ``${{ ENV.X }}``, as Orchestra's environments hold.

An environments file (YAML, committed; no secrets in it) mirrors Orchestra's environment records
(``EnvironmentsResponse``: a name, ``defaultEnv`` and ``values`` of ``{type, value}``)::

    environments:
      dev:
        default: true
        values:
          WAREHOUSE_SCHEMA: {type: string, value: dev}
          FULL_REFRESH: {type: bool, value: false}
      prod:
        values:
          WAREHOUSE_SCHEMA: prod        # shorthand for {type: string, value: prod}

The selected environment's values override the process environment and the env file for
``${{ ENV.X }}`` and for the tasks' processes.

Secrets belong in the env file or the connections file. Values whose name looks secret are masked,
and so are credentials embedded in any value (see :mod:`orchestra_local.masking`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestra_local.errors import InvalidInputError
from orchestra_local.masking import is_secret_name, secret_values
from orchestra_local.spec.yaml_source import load_yaml_model


class EnvironmentValue(BaseModel):
    """One value, typed as Orchestra types environment values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["string", "int", "bool", "integration_credential"] = "string"
    value: str | int | bool | float

    def as_text(self) -> str:
        """The value as an environment variable holds it (booleans as ``true``/``false``)."""
        return str(self.value).lower() if isinstance(self.value, bool) else str(self.value)


class Environment(BaseModel):
    """A named environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: bool = False
    values: dict[str, EnvironmentValue | str | int | bool] = Field(default_factory=dict)

    def variables(self) -> dict[str, str]:
        """``{NAME: text}`` of every value."""
        return {
            name: value.as_text() if isinstance(value, EnvironmentValue) else EnvironmentValue(value=value).as_text()
            for name, value in self.values.items()
        }


class _EnvironmentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environments: dict[str, Environment]


def load_environments(path: Path) -> dict[str, Environment]:
    """Read an environments file.

    Raises:
        InvalidInputError: The file cannot be read, or more than one environment is the default.
        PipelineValidationError: It is not valid (located by line).
    """
    parsed = load_yaml_model(path, _EnvironmentsFile, "environments")
    defaults = [name for name, env in parsed.environments.items() if env.default]
    if len(defaults) > 1:
        raise InvalidInputError(f"{path}: only one environment may be the default, found {', '.join(defaults)}")
    return parsed.environments


def select_environment(environments: dict[str, Environment], name: str | None) -> tuple[str | None, dict[str, str]]:
    """The selected environment's name and variables (the default one when ``name`` is None).

    Raises:
        InvalidInputError: When ``name`` is not defined.
    """
    if name is None:
        name = next((n for n, env in environments.items() if env.default), None)
        if name is None:
            return None, {}
    if name not in environments:
        raise InvalidInputError(f"unknown environment '{name}' (defined: {', '.join(sorted(environments)) or 'none'})")
    return name, environments[name].variables()


def looks_secret(name: str) -> bool:
    """Whether a variable name holds a secret (the one rule: :func:`orchestra_local.masking.is_secret_name`)."""
    return is_secret_name(name)


def secrets_of(variables: dict[str, Any]) -> list[str]:
    """Values to mask among variables (the one rule: :func:`orchestra_local.masking.secret_values`)."""
    return secret_values(variables)
