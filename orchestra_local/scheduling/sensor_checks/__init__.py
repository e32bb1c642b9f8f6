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

from orchestra_local.scheduling.sensor_checks.base import CheckContext, CheckResult, SensorConfigError
from orchestra_local.scheduling.sensor_checks.orchestra import pipeline_status, webhook_event
from orchestra_local.scheduling.sensor_checks.query import postgres_query
from orchestra_local.scheduling.sensor_checks.s3 import s3_file

Check = Callable[[CheckContext], CheckResult]
"""A check: its context in, its finding out (see :class:`CheckResult` for the errors it may raise)."""

CHECKS: dict[str, tuple[str, Check]] = {
    "POSTGRES_QUERY": ("POSTGRES", postgres_query),
    "ORCHESTRA_PIPELINE_STATUS": ("ORCHESTRA", pipeline_status),
    "ORCHESTRA_WEBHOOK_EVENT": ("ORCHESTRA", webhook_event),
    "AWS_S3_FILE": ("AWS_S3", s3_file),
}
"""sensor_type -> (the integration it belongs to, the check)."""


def check_for(integration: str, sensor_type: str) -> Check | None:
    """The local check of ``sensor_type``; None when only hosted Orchestra evaluates it.

    Raises:
        SensorConfigError: The type is local but ``integration`` is not the one it belongs to.
    """
    entry = CHECKS.get(sensor_type.upper())
    if entry is None:
        return None
    owner, check = entry
    if integration.upper() != owner:
        raise SensorConfigError(f"sensor_type {sensor_type} belongs to integration {owner}, not {integration}")
    return check


__all__ = ["CHECKS", "Check", "CheckContext", "CheckResult", "SensorConfigError", "check_for"]
