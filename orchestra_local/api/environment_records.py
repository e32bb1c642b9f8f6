"""Environments (``environments.yml``) and connections (``connections.yml``) as Orchestra's records.

Shapes: ``ProtectedEnvironmentsResponse`` / ``EnvironmentsResponse`` and
``IntegrationConnectionMetadataResponse`` of Orchestra's OpenAPI document (see
``docs/orchestra-contract.md``). Local choices **(our choice)**: an environment's id is a uuid5 of
its name and a connection's id is its name, so both are stable across restarts; timestamps are
the time the server loaded the files; a connection's ``authStatus`` is ``INITIATED`` (configured,
never validated by the runner). Values pass through the workspace's masker: a secret never leaves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from orchestra_local.connections import Connection
from orchestra_local.environments import Environment, EnvironmentValue, looks_secret
from orchestra_local.masking import Masker
from orchestra_local.store.repository import LOCAL_ACCOUNT_ID

ENVIRONMENT_NAMESPACE = uuid.UUID("1b0e7f6c-2a49-4d8e-9c61-5e0d3f4a7b21")


def environment_id(name: str) -> str:
    """The stable id of a named environment (uuid5 of the name)."""
    return str(uuid.uuid5(ENVIRONMENT_NAMESPACE, name))


def environment_names(environments: Mapping[str, Environment], values: Iterable[str]) -> list[str]:
    """Filter values (environment ids or names) as environment names; unknown values are kept as given."""
    by_id = {environment_id(name): name for name in environments}
    return [by_id.get(value.lower(), value) for value in values]


def environment_summary(name: str, environment: Environment) -> dict[str, Any]:
    """``ProtectedEnvironmentsResponse``: metadata only, no values."""
    return {"accountId": LOCAL_ACCOUNT_ID, "environmentId": environment_id(name), "name": name,
            "defaultEnv": environment.default}


def environment_record(name: str, environment: Environment, loaded_at: str, masker: Masker) -> dict[str, Any]:
    """``EnvironmentsResponse``: the summary plus ``values`` (``{type, value}``; secrets, and values
    whose name looks secret, read ``***``)."""
    values = {}
    for key, raw in environment.values.items():
        value = raw if isinstance(raw, EnvironmentValue) else EnvironmentValue(value=raw)
        shown = masker.mask(value.value) if isinstance(value.value, str) else value.value
        if looks_secret(key) and isinstance(shown, str):
            shown = "***"
        values[key] = {"type": value.type, "value": shown}
    return {**environment_summary(name, environment), "values": values, "createdAt": loaded_at,
            "updatedAt": loaded_at}


def connection_record(connection: Connection, loaded_at: str) -> dict[str, Any]:
    """``IntegrationConnectionMetadataResponse`` of one connection (no field values)."""
    return {"integration": connection.integration, "authStatus": "INITIATED", "connectionId": connection.name,
            "connectionName": connection.name, "isDefault": False, "createdAt": loaded_at, "updatedAt": loaded_at}
