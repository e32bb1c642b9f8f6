"""Carry out a batch: start the planned runs (never one twice), keep at most N active, wait for them.

One loop, one thread: it starts runs while fewer than ``max_concurrent`` are active, then polls the
active runs' ``/pipeline_runs/{id}/status``, each on its own backoff (``POLL_FIRST_SECONDS`` growing
by half up to ``POLL_MAX_SECONDS``; a 429's ``Retry-After`` is honoured by the client). Every start
is preceded by a ``requested`` event and followed by ``started`` or ``unknown`` in the state file,
and every terminal status is recorded as ``ended``, each before the loop goes on (``state.py``).

Without ``wait`` the loop returns once every run has been started (waiting only for a free slot);
with it, once every run has ended, timed out (``timeout``: the tool stops waiting and says so; the
run is not cancelled, and a re-run attaches to it again) or could not be followed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from worker_kit.orchestra_api import AmbiguousStartError, ApiError, OrchestraClient

from run_multiple.plan import PlannedRun
from run_multiple.recover import Found, find_started_run
from run_multiple.state import DONE_STATUSES, TERMINAL_STATUSES, Action, Decision, StateFile

POLL_FIRST_SECONDS = 2.0
POLL_MAX_SECONDS = 30.0


class Outcome(StrEnum):
    """Where a planned run stands; the summary's ``outcome`` column."""

    PLANNED = "planned"  # not started yet
    RUNNING = "running"  # started (or attached to), not ended yet
    ACCEPTED = "accepted"  # started and not waited for (no --wait)
    ENDED = "ended"  # reached a terminal status (see ``status``)
    SKIPPED = "skipped"  # ended in an earlier invocation and not reprocessed
    UNKNOWN = "unknown"  # a start request whose outcome could not be told
    REJECTED = "rejected"  # Orchestra refused the start (4xx), or it could not be sent
    NOT_STARTED = "not_started"  # left out: --stop-on-failure, or the batch was interrupted
    TIMED_OUT = "timed_out"  # still not ended after --timeout seconds
    LOST = "lost"  # its status could not be read any more (e.g. 404)


@dataclass
class RunView:
    """One planned run as the batch sees it (mutated as the batch goes)."""

    run: PlannedRun
    outcome: Outcome = Outcome.PLANNED
    pipeline_run_id: str | None = None
    status: str | None = None  # Orchestra's runStatus, last seen
    message: str = ""
    origin: str = ""  # how the batch has its run: started, attached, recovered (a lost answer), earlier (skipped)
    started: float | None = None  # time.monotonic() when it started or was attached to
    next_poll: float = 0.0
    poll_delay: float = POLL_FIRST_SECONDS

    @property
    def ok(self) -> bool:
        """Counts as a success for the exit code (``wait``: ended SUCCEEDED or WARNING)."""
        if self.outcome in (Outcome.ENDED, Outcome.SKIPPED):
            return self.status in DONE_STATUSES
        return self.outcome in (Outcome.ACCEPTED, Outcome.RUNNING)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready row of the summary."""
        return {**self.run.describe(), "outcome": str(self.outcome), "status": self.status,
                "pipeline_run_id": self.pipeline_run_id, "origin": self.origin, "message": self.message}


@dataclass
class BatchOptions:
    """How the batch runs (see ``cli.py`` for the flags).

    Attributes:
        max_concurrent: Most runs active at once.
        wait: Wait until every run ended.
        stop_on_failure: Start nothing more once a run ended FAILED or a start was refused.
        timeout: Seconds to wait for one run (from its start) before giving up on it; None: no limit.
    """

    max_concurrent: int
    wait: bool = False
    stop_on_failure: bool = False
    timeout: float | None = None
    lookup_attempts: int = 15
    lookup_delay: float = 2.0


@dataclass
class Batch:
    """A batch being carried out.

    Args:
        decisions: What to do with each planned run (``state.decide``), in plan order.
        clients: One API client per workspace label.
        pipeline_ids: ``(workspace, pipeline id or alias)`` -> the pipeline's id.
        state: The state file.
        options: See :class:`BatchOptions`.
        changed: Called after each change of a view (the display).
    """

    decisions: list[Decision]
    clients: Mapping[str, OrchestraClient]
    pipeline_ids: Mapping[tuple[str, str], str]
    state: StateFile
    options: BatchOptions
    changed: Callable[[RunView], None] = lambda view: None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    views: list[RunView] = field(default_factory=list)
    stopping: str = ""

    def __post_init__(self) -> None:
        self.views = [RunView(decision.run) for decision in self.decisions]

    def known_run_ids(self) -> set[str]:
        """Every run id this batch has recorded (never the answer to a look-up)."""
        events = self.state.events()
        return {event["pipeline_run_id"] for event in events if event.get("pipeline_run_id")}

    def _set(self, view: RunView, outcome: Outcome, message: str = "", **fields: Any) -> None:
        view.outcome, view.message = outcome, message
        for name, value in fields.items():
            setattr(view, name, value)
        self.changed(view)

    def _running(self, view: RunView, pipeline_run_id: str, origin: str, message: str = "") -> None:
        view.started, view.origin = self.clock(), origin
        view.next_poll = view.started + view.poll_delay
        self._set(view, Outcome.RUNNING, message, pipeline_run_id=pipeline_run_id)

    def _look_up(self, view: RunView, requested_at: datetime, why: str) -> None:
        run = view.run
        try:
            found = find_started_run(self.clients[run.workspace], self.pipeline_ids[(run.workspace, run.pipeline)],
                                     run.run_inputs, requested_at, self.known_run_ids(),
                                     attempts=self.options.lookup_attempts, delay=self.options.lookup_delay,
                                     sleep=self.sleep)
        except ApiError as exc:
            found = Found(None, f"looking for it failed: {exc}")
        if found.pipeline_run_id is None:
            self.state.append("unknown", run.key, detail=f"{why}; {found.explanation}",
                              requested_at=requested_at.isoformat())
            self._set(view, Outcome.UNKNOWN, f"{why}; {found.explanation}; not started again (check Orchestra)")
            return
        self.state.append("started", run.key, pipeline_run_id=found.pipeline_run_id, run=run.describe(), recovered=True)
        self._running(view, found.pipeline_run_id, "recovered", f"{why}; {found.explanation}")

    def _start(self, view: RunView) -> None:
        run = view.run
        requested = self.state.append("requested", run.key, pipeline=run.pipeline)
        requested_at = datetime.fromisoformat(requested["at"])
        try:
            run_id = self.clients[run.workspace].start(run.pipeline, branch=run.branch, commit=run.commit,
                                                       environment=run.environment, run_inputs=run.run_inputs)
        except AmbiguousStartError as exc:
            self._look_up(view, requested_at, f"start answer lost ({exc})")
            return
        except ApiError as exc:
            self.state.append("rejected", run.key, detail=str(exc))
            self._set(view, Outcome.REJECTED, str(exc))
            self._stop_on_failure(f"a start was refused ({exc})")
            return
        self.state.append("started", run.key, pipeline_run_id=run_id, run=run.describe())
        self._running(view, run_id, "started")

    def _stop_on_failure(self, why: str) -> None:
        if self.options.stop_on_failure and not self.stopping:
            self.stopping = f"not started: --stop-on-failure, {why}"

    def _poll(self, view: RunView, now: float) -> None:
        assert view.pipeline_run_id is not None and view.started is not None
        try:
            record = self.clients[view.run.workspace].run_status(view.pipeline_run_id)
        except ApiError as exc:
            if exc.status == 404:
                self._set(view, Outcome.LOST, str(exc))
                return
            view.message = f"status not read: {exc}"  # transient: keep polling
            record = {"runStatus": view.status}
        status = record.get("runStatus")
        if status in TERMINAL_STATUSES:
            self.state.append("ended", view.run.key, pipeline_run_id=view.pipeline_run_id, status=status)
            self._set(view, Outcome.ENDED, record.get("message") or "", status=status)
            if status == "FAILED":
                self._stop_on_failure(f"run {view.pipeline_run_id} FAILED")
            return
        if self.options.timeout is not None and now - view.started >= self.options.timeout:
            self._set(view, Outcome.TIMED_OUT, f"not ended after {self.options.timeout:g}s (still {status}); "
                                               "a re-run attaches to it", status=status)
            return
        if status != view.status:
            view.status = status
            self.changed(view)
        view.poll_delay = min(view.poll_delay * 1.5, POLL_MAX_SECONDS)
        view.next_poll = now + view.poll_delay

    def _prepare(self, decision: Decision, view: RunView) -> None:
        if decision.action is Action.SKIP:
            self._set(view, Outcome.SKIPPED, "ended in an earlier invocation", origin="earlier",
                      pipeline_run_id=decision.pipeline_run_id, status=decision.status)
        elif decision.action is Action.ATTACH:
            assert decision.pipeline_run_id is not None
            self._running(view, decision.pipeline_run_id, "attached", "started by an earlier invocation")
        elif decision.action is Action.UNKNOWN:
            requested_at = datetime.fromisoformat(decision.requested_at) if decision.requested_at else datetime.now(UTC)
            self._look_up(view, requested_at, "an earlier invocation sent its start and recorded no answer")

    def run(self) -> list[RunView]:
        """Carry the batch out; the views, in plan order.

        Raises:
            OSError: The state file cannot be written (the batch stops: an unrecorded start is unsafe).
            KeyboardInterrupt: Passed on; the state file holds everything that happened.
        """
        pending: deque[RunView] = deque()
        for decision, view in zip(self.decisions, self.views, strict=True):
            if decision.action is Action.START:
                pending.append(view)
            else:
                self._prepare(decision, view)
        active = [view for view in self.views if view.outcome is Outcome.RUNNING]
        while True:
            while pending and not self.stopping and len(active) < self.options.max_concurrent:
                view = pending.popleft()
                self._start(view)
                if view.outcome is Outcome.RUNNING:
                    active.append(view)
            if not active or (not pending and not self.options.wait) or (self.stopping and not self.options.wait):
                break
            now = self.clock()
            for view in [view for view in active if view.next_poll <= now]:
                self._poll(view, now)
            active = [view for view in active if view.outcome is Outcome.RUNNING]
            if active and (not pending or self.stopping or len(active) >= self.options.max_concurrent):
                self.sleep(max(0.0, min(view.next_poll for view in active) - self.clock()))
        for view in active:
            self._set(view, Outcome.ACCEPTED, view.message, status=view.status)
        for view in pending:
            self._set(view, Outcome.NOT_STARTED, self.stopping or "not started")
        return self.views
