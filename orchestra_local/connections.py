"""Connections: the local stand-in for the credentials hosted Orchestra keeps per integration.

A connections file (YAML, ignored by git; ``connections.example.yml`` is committed) names each
connection as a task's ``connection`` refers to it, with its integration and its fields::

    connections:
      warehouse_postgres_12345:
        integration: POSTGRES
        fields: {host: 127.0.0.1, port: 5432, user: loader, password: ..., database: analytics}

A task linked to a connection gets its fields as environment variables named
``<INTEGRATION>__<CONNECTION>__<FIELD>`` (upper case, non-alphanumerics as ``_``; orchestra-contract
section 4); integrations such as POSTGRES or SLACK read the fields directly.

Only secret fields are masked in logs, files, run metadata, outputs and error messages: those
whose name says so (``password``, ``bearer_token``, ``api_key``, ``webhook_url``, ...) and the
credentials embedded in any field (a ``url``'s password, a ``headers`` object's Authorization).
``host``, ``port``, ``user``, ``database`` stay readable; the rule is
:func:`orchestra_local.masking.secret_values`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestra_local.errors import InvalidInputError
from orchestra_local.masking import secret_values
from orchestra_local.spec.yaml_source import load_yaml_model


class Connection(BaseModel):
    """One connection.

    Attributes:
        name: How tasks refer to it (``connection: <name>``).
        integration: The integration it authenticates, e.g. ``POSTGRES``.
        fields: Field name -> value (secret ones per :func:`~orchestra_local.masking.secret_values`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    integration: str
    fields: dict[str, str] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _fields_as_text(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
                    for k, v in value.items()}
        return value

    def env_vars(self) -> dict[str, str]:
        """``<INTEGRATION>__<CONNECTION>__<FIELD>`` -> value for every field."""
        return {env_var_name(self.integration, self.name, key): value for key, value in self.fields.items()}

    def secrets(self) -> list[str]:
        """Values to mask: secret fields and credentials embedded in any field (not host, port, user...)."""
        return secret_values(self.fields)

    def require(self, *names: str) -> dict[str, str]:
        """The named fields.

        Raises:
            InvalidInputError: Naming every missing field and the connection.
        """
        missing = [n for n in names if not self.fields.get(n)]
        if missing:
            raise InvalidInputError(
                f"connection '{self.name}' lacks field(s) {', '.join(missing)}; add them to the connections file"
            )
        return {n: self.fields[n] for n in names}


def env_var_name(*parts: str) -> str:
    """Join parts as Orchestra names connection variables.

    Each part: runs of non-alphanumerics become one ``_``, outer ``_`` stripped, upper case; parts
    joined with ``__`` (the rule ``orchestra-sdk``'s ``linked_connections`` module reads back).
    """
    return "__".join(re.sub(r"[^A-Za-z0-9]+", "_", part).strip("_").upper() for part in parts)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integration: str
    fields: dict[str, Any] = Field(default_factory=dict)


class _ConnectionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connections: dict[str, _Entry] = Field(default_factory=dict)


def load_connections(path: Path) -> dict[str, Connection]:
    """Read a connections file.

    Raises:
        InvalidInputError: The file cannot be read.
        PipelineValidationError: It is not valid (located by line; values are never echoed).
    """
    parsed = load_yaml_model(path, _ConnectionsFile, "connections")
    return {
        name: Connection.model_validate({"name": name, "integration": entry.integration.upper(), "fields": entry.fields})
        for name, entry in parsed.connections.items()
    }
