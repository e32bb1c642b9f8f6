"""Sensor checks the local runner evaluates: one function per ``sensor_type``, one shared contract.

Orchestra's schema leaves a check's ``parameters`` free-form (``BaseSensorParametersModel`` allows
any field) and its docs name them only as form labels, so the parameter names below are **our
choice**, each the snake_case of the label on Orchestra's page for that sensor:

==========================  ===============  ==================================================  ================
sensor_type                 integration      parameters                                          outputs
==========================  ===============  ==================================================  ================
POSTGRES_QUERY              POSTGRES         ``statement``, ``database`` (optional)              ``results``, ``row_count``
ORCHESTRA_PIPELINE_STATUS   ORCHESTRA        ``pipeline_id`` (id or alias), ``status``,          ``pipeline_run_id``, ``status``,
                                             ``check_latest`` (default false)                    ``completed_at``
ORCHESTRA_WEBHOOK_EVENT     ORCHESTRA        ``event_type``, ``check_latest`` (default false)    the event's fields
AWS_S3_FILE                 AWS_S3           ``bucket_name``, ``file_prefix`` (optional)         ``files``
==========================  ===============  ==================================================  ================

Every other type of Orchestra's ``SensorChecksEnum`` (SNOWFLAKE_QUERY, ADLS_FILE, ...) is
evaluated only by hosted Orchestra: :func:`check_for` answers None and the scheduler records the
window as SKIPPED, never a faked pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orchestra_local.scheduling.sensor_checks import orchestra, query, s3
from orchestra_local.scheduling.sensor_checks.base import (
    CheckContext,
    CheckParameters,
    CheckResult,
    SensorConfigError,
)

Check = Callable[[CheckContext], CheckResult]
"""A check: its context in, its finding out (see :class:`CheckResult` for the errors it may raise)."""


@dataclass(frozen=True)
class SensorCheckType:
    """One check type the runner evaluates (what ``GET /sensor_checks/`` lists).

    Attributes:
        sensor_type: Orchestra's ``SensorChecksEnum`` value.
        integration: The integration it belongs to (its connection's, when it needs one).
        parameters: Its parameters model.
        output_keys: The keys of its outputs (``${{ outputs.<key> }}``); empty when they vary.
        run: The check.
    """

    sensor_type: str
    integration: str
    parameters: type[CheckParameters]
    output_keys: tuple[str, ...]
    run: Check

    @property
    def description(self) -> str:
        """The first line of the parameters model's docstring."""
        return (self.parameters.__doc__ or "").strip().splitlines()[0]


CHECKS: dict[str, SensorCheckType] = {kind.sensor_type: kind for kind in (
    SensorCheckType("POSTGRES_QUERY", "POSTGRES", query.Parameters, query.OUTPUT_KEYS, query.postgres_query),
    SensorCheckType("ORCHESTRA_PIPELINE_STATUS", "ORCHESTRA", orchestra.PipelineStatusParameters,
                    orchestra.PIPELINE_STATUS_OUTPUT_KEYS, orchestra.pipeline_status),
    SensorCheckType("ORCHESTRA_WEBHOOK_EVENT", "ORCHESTRA", orchestra.WebhookEventParameters, (),
                    orchestra.webhook_event),
    SensorCheckType("AWS_S3_FILE", "AWS_S3", s3.Parameters, s3.OUTPUT_KEYS, s3.s3_file),
)}
"""sensor_type -> the check type, for every type evaluated locally."""


def check_for(integration: str, sensor_type: str) -> Check | None:
    """The local check of ``sensor_type``; None when only hosted Orchestra evaluates it.

    Raises:
        SensorConfigError: The type is local but ``integration`` is not the one it belongs to.
    """
    kind = CHECKS.get(sensor_type.upper())
    if kind is None:
        return None
    if integration.upper() != kind.integration:
        raise SensorConfigError(f"sensor_type {sensor_type} belongs to integration {kind.integration}, "
                                f"not {integration}")
    return kind.run


__all__ = ["CHECKS", "Check", "CheckContext", "CheckResult", "SensorCheckType", "SensorConfigError", "check_for"]
