"""The ``pipeline`` sensor: met when the latest run of an Orchestra pipeline reached one of ``--statuses``.

Each poke asks Orchestra's public API (hosted or ``orchestra-local serve``; endpoints in
:mod:`worker_kit.orchestra_api`) for the pipeline's runs created since ``--since`` and looks at the
newest: met when its ``runStatus`` is one of the statuses (default ``SUCCEEDED``); a newer run still
``RUNNING``, or one that ended otherwise, is "not yet" (someone may re-run it). ``--since`` is an ISO
8601 time or a span before the sensor's first poke (``30m``, ``24h``, ``7d``; default ``24h``); it is
fixed at the first poke like the deadline. Hosted Orchestra lists at most 7 days per request.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from worker_kit.errors import ConfigError, TransientError, UsageError
from worker_kit.orchestra_api import ApiError, OrchestraClient

from sensors.poke import Poke, iso

RUN_STATUSES = ("CREATED", "RUNNING", "SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLING", "CANCELLED")
"""Orchestra's pipeline run statuses (``PipelineRunResponse.runStatus``)."""
_SPAN = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, first_poke: datetime) -> datetime:
    """``--since`` as an aware UTC time: ISO 8601 (no offset = UTC) or a span before ``first_poke``.

    Raises:
        UsageError: Neither form.
    """
    span = _SPAN.match(text.strip())
    if span:
        return first_poke - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r}: give an ISO 8601 time or a span such as 30m, 24h or 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=first_poke.tzinfo)


def parse_statuses(text: str) -> tuple[str, ...]:
    """``"SUCCEEDED,WARNING"`` -> the statuses, checked against Orchestra's run statuses.

    Raises:
        UsageError: An unknown status.
    """
    statuses = tuple(part.strip().upper() for part in text.split(",") if part.strip())
    unknown = [status for status in statuses if status not in RUN_STATUSES]
    if unknown or not statuses:
        raise UsageError(f"--statuses {text!r}: use one or more of {', '.join(RUN_STATUSES)}")
    return statuses


@dataclass
class PipelineCheck:
    """One look at a pipeline's latest run (a :data:`sensors.poke.Check`).

    Args:
        client: The API client (base URL and token).
        pipeline: The pipeline's id (UUID) or alias.
        statuses: Run statuses that count as met.
        since: Only runs created at or after this moment count.
    """

    client: OrchestraClient
    pipeline: str
    statuses: Collection[str]
    since: datetime

    def __post_init__(self) -> None:
        self._pipeline_id: str | None = None

    def __call__(self) -> Poke:
        """Poke once; see the module docstring.

        Raises:
            ConfigError: The API refused the token (401/403) or does not know the pipeline (404).
            TransientError: The API could not be reached or answered 5xx after its retries.
        """
        try:
            if self._pipeline_id is None:
                self._pipeline_id = str(self.client.pipeline(self.pipeline)["id"])
            runs = self.client.runs_since(self._pipeline_id, self.since)
        except ApiError as exc:
            if exc.status in (400, 401, 403, 404, 422):
                raise ConfigError(f"pipeline sensor for {self.pipeline!r}: {exc}") from None
            raise TransientError(str(exc)) from None
        if not runs:
            return Poke(False, f"no run of {self.pipeline} since {iso(self.since)}")
        latest = runs[0]
        status = latest.get("runStatus")
        detail = f"latest run {latest.get('id')} of {self.pipeline} is {status}"
        if status not in self.statuses:
            return Poke(False, f"{detail}, waiting for {'/'.join(self.statuses)}")
        return Poke(True, detail, {"pipeline_id": self._pipeline_id, "pipeline_run_id": latest.get("id"),
                                   "run_status": status, "completed_at": latest.get("completedAt")})
