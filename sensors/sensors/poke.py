"""The poke loop: check a condition every ``poke_interval`` seconds until it is met or the deadline passes.

The deadline is fixed once, at the first poke of the sensor task in its pipeline run, and stored
(:mod:`sensors.state`), so a retried task ends at the original deadline, never a new one (Airflow's
rule for sensors: ``timeout`` counts from the first poke, retries do not reset it). Every poke logs
one line: the poke number, what the check saw, the deadline and the seconds left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from worker_kit.errors import TransientError

logger = logging.getLogger("sensors")


@dataclass(frozen=True)
class Poke:
    """What one check saw.

    Attributes:
        met: True when the condition holds and the sensor may end.
        detail: One line for the log, e.g. ``2 file(s) in s3://lake/pending/sales``; never a secret.
        outputs: JSON-ready values the sensor emits when met (files found, the row, the status code).
    """

    met: bool
    detail: str
    outputs: Mapping[str, Any] = field(default_factory=dict)


Check = Callable[[], Poke]
"""One poke. Raises :class:`~worker_kit.errors.TransientError` for "cannot tell yet" (a server down:
logged, then poked again) and any other :class:`~worker_kit.errors.WorkerError` to fail at once."""


@dataclass(frozen=True)
class Outcome:
    """How the poke loop ended.

    Attributes:
        poke: The last poke (``met`` False when the deadline passed first; None when no poke ran
            because the deadline had already passed, e.g. a retry after the window closed).
        pokes: Pokes made by this process.
        deadline: When the sensor gives up (UTC).
    """

    poke: Poke | None
    pokes: int
    deadline: datetime

    @property
    def met(self) -> bool:
        """True when the condition was met before the deadline."""
        return self.poke is not None and self.poke.met


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-12-06T20:15:00Z``: second precision, UTC, for logs and outputs."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def poke_until(check: Check, deadline: datetime, poke_interval_seconds: float,
               sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Poke ``check`` until it is met or ``deadline`` passes; the last poke happens at the deadline.

    Args:
        check: One poke (see :data:`Check`).
        deadline: Timezone-aware UTC time after which no poke starts.
        poke_interval_seconds: Seconds between the start of one poke and the next (> 0).
        sleep: Waits a number of seconds (tests pass a fake clock).

    Returns:
        The :class:`Outcome`; met or not, it never raises for a condition that is not met.

    Raises:
        WorkerError: A check failed in a way waiting cannot fix (bad query, credentials rejected).
    """
    pokes = 0
    last: Poke | None = None
    while True:
        started = now_utc()
        if pokes == 0 and started > deadline:
            return Outcome(None, 0, deadline)  # a retry that starts after the window closed
        pokes += 1
        try:
            last = check()
        except TransientError as exc:
            last = Poke(False, f"cannot tell yet: {exc}")
        left = (deadline - now_utc()).total_seconds()
        logger.info("poke %d: %s; %s (deadline %s, %.0fs left)", pokes, "met" if last.met else "not met",
                    last.detail, iso(deadline), max(left, 0.0))
        if last.met or left <= 0:
            return Outcome(last, pokes, deadline)
        elapsed = (now_utc() - started).total_seconds()
        sleep(max(0.0, min(poke_interval_seconds - elapsed, left)))
