"""Outputs for hosted Orchestra: the sensor's outputs sent as ``SET_OUTPUT`` events to ``ORCHESTRA_WEBHOOK_URL``.

Hosted Orchestra records a Python task's outputs only from the events orchestra-sdk's
``set_output`` posts under ``set_outputs: true`` (``POST $ORCHESTRA_WEBHOOK_URL`` with
``{"event_type": "SET_OUTPUT", "task_run_id", "output_name", "output_value", "metadata"}`` and
``Authorization: Bearer $ORCHESTRA_API_KEY``); the local runner reads the same events, and also the
last JSON line of stdout. So a sensor whose ``ready`` output gates downstream tasks works on both
when its task sets ``set_outputs: true``. The body is the SDK's, sent here with httpx so the
sensors need not install the SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from worker_kit.errors import WorkerError
from worker_kit.retry import RetryableError, RetryPolicy, call_with_retries

logger = logging.getLogger("sensors")

POLICY = RetryPolicy(max_attempts=4, initial_delay_seconds=0.5, max_delay_seconds=5, max_retry_after_seconds=30)


class OutputsNotRecorded(WorkerError):
    """Orchestra did not accept an output after the retries (downstream conditions could not read it)."""


def publish(outputs: Mapping[str, Any], environ: Mapping[str, str]) -> int:
    """Send each output as a ``SET_OUTPUT`` event when the task has a webhook; the number sent.

    Args:
        outputs: Output name -> JSON value.
        environ: Holds ``ORCHESTRA_WEBHOOK_URL``, ``ORCHESTRA_API_KEY`` and ``ORCHESTRA_TASK_RUN_ID``;
            without all three (a sensor run by hand) nothing is sent.

    Raises:
        OutputsNotRecorded: An event was refused (4xx) or could not be delivered after the retries.
    """
    url, token, task_run_id = (environ.get(name, "") for name in
                               ("ORCHESTRA_WEBHOOK_URL", "ORCHESTRA_API_KEY", "ORCHESTRA_TASK_RUN_ID"))
    if not (url and token and task_run_id):
        return 0
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        for name, value in outputs.items():
            body = {"event_type": "SET_OUTPUT", "task_run_id": task_run_id, "output_name": name,
                    "output_value": value, "metadata": {}}

            def send(body: dict[str, Any] = body) -> None:
                try:
                    response = client.post(url, json=body)
                except httpx.TransportError as exc:
                    raise RetryableError(f"SET_OUTPUT {body['output_name']}: {type(exc).__name__}") from None
                if response.status_code == 429 or response.status_code >= 500:
                    raise RetryableError(f"SET_OUTPUT {body['output_name']}: HTTP {response.status_code}")
                if response.is_error:
                    raise OutputsNotRecorded(f"SET_OUTPUT {body['output_name']}: HTTP {response.status_code}: "
                                             f"{response.text[:200]}")

            call_with_retries(send, POLICY, "recording the sensor's outputs",
                              lambda failure, reason: OutputsNotRecorded(reason))
    logger.info("recorded %d output(s) through ORCHESTRA_WEBHOOK_URL (SET_OUTPUT)", len(outputs))
    return len(outputs)
