"""What every sensor check receives and returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from orchestra_local.connections import Connection
from orchestra_local.store import RunStore

CHECK_TIMEOUT_SECONDS = 20
"""Longest one check may take to connect or answer (database connect and statement timeouts, S3
connect and read timeouts), in seconds: a hung source costs a poll, never the scheduler."""


class CheckParameters(BaseModel):
    """Base of each check's parameters: unknown fields are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ParamsT = TypeVar("ParamsT", bound=CheckParameters)


class SensorConfigError(Exception):
    """A check that cannot work as written (a missing parameter, an unknown connection, a wrong
    integration): its window ends FAILED at once instead of polling until the timeout."""


@dataclass(frozen=True)
class CheckContext:
    """One poll of one check.

    Attributes:
        where: The check's YAML path, e.g. ``sensors.landed.checks.orders`` (for messages).
        parameters: The check's parameters, ``${{ }}`` already substituted.
        connection: The check's connection from the connections file, or None when it names none.
        window_start: When the sensor's window opened (aware UTC): "since the sensor started".
        store: The metadata store (pipeline runs and sensor events).
    """

    where: str
    parameters: Mapping[str, Any]
    connection: Connection | None
    window_start: datetime
    store: RunStore

    def parse(self, model: type[ParamsT]) -> ParamsT:
        """The parameters as the check's pydantic model.

        Raises:
            SensorConfigError: Naming each field that is missing, mistyped or unknown (by YAML path).
        """
        try:
            return model.model_validate(dict(self.parameters))
        except ValidationError as exc:
            problems = "; ".join(f"{self.where}.parameters.{'.'.join(str(part) for part in error['loc'])}: "
                                 f"{error['msg'].lower()}" for error in exc.errors())
            raise SensorConfigError(problems) from None

    def connection_of(self, integration: str) -> Connection:
        """The check's connection, which must belong to ``integration``.

        Raises:
            SensorConfigError: No connection, or one of another integration.
        """
        if self.connection is None:
            raise SensorConfigError(f"{self.where}.connection: a {integration} connection is required")
        if self.connection.integration != integration:
            raise SensorConfigError(f"{self.where}.connection: '{self.connection.name}' is a "
                                    f"{self.connection.integration} connection, not {integration}")
        return self.connection


@dataclass(frozen=True)
class CheckResult:
    """What one poll found.

    Attributes:
        passed: The check is satisfied.
        outputs: What ``${{ outputs.<key> }}`` sees in ``map_outputs`` (JSON-like values).
        detail: One line saying what was found, for ticks ("query returned 0 rows").

    A check raises :class:`SensorConfigError` for a configuration it cannot work with, and lets a
    source's own error (connection refused, timeout, access denied: ``OSError``, SQLAlchemy's or
    botocore's errors) propagate: the poll is recorded as failed and the next one tries again.
    """

    passed: bool
    detail: str
    outputs: Mapping[str, Any]
