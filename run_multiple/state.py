"""The batch's state file: every start and every outcome, appended as it happens, read to resume.

One JSON object per line (``.jsonl``), written with ``flush`` and ``fsync`` before the tool goes on,
so a crash or ``kill -9`` loses at most the line being written (a torn last line is ignored when
reading). Events, each with ``key`` (``plan.PlannedRun.key``) and ``at`` (ISO 8601, UTC):

* ``{"event": "requested", "pipeline"}``: a start request is about to be sent (its ``at`` is when);
* ``{"event": "started", "pipeline_run_id", "run"}``: Orchestra accepted the start request;
* ``{"event": "rejected", "detail"}``: Orchestra refused it (4xx) or it could not be sent: no run;
* ``{"event": "ended", "pipeline_run_id", "status"}``: the run reached a terminal status;
* ``{"event": "unknown", "detail", "requested_at"}``: a start request may or may not have created a
  run, and looking for it did not tell.

A key whose last event is ``requested`` (killed between sending and recording the answer) is as
unknown as an ``unknown`` one: a resumed batch looks that run up (``recover.py``), never re-sends.

:func:`decide` turns the events into what a re-run of the same command does with each planned run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from run_multiple.plan import PlannedRun

DONE_STATUSES = frozenset({"SUCCEEDED", "WARNING"})
"""Terminal statuses after which a window is done and skipped on resume (unless ``--reprocess all``)."""

TERMINAL_STATUSES = DONE_STATUSES | {"FAILED", "CANCELLED", "SKIPPED"}
"""Orchestra's terminal pipeline run statuses (docs/orchestra-contract.md section 7)."""

STATE_FOLDER = ".run_multiple_pipelines"


class StateError(ValueError):
    """The state file cannot be read as this tool wrote it (names the file and line)."""


class Reprocess(StrEnum):
    """``--reprocess``: which runs that already ended a resumed batch starts again."""

    FAILED = "failed"  # every ended run that is not SUCCEEDED or WARNING (the default)
    ALL = "all"  # every ended run
    NONE = "none"  # none


class Action(StrEnum):
    """What a resumed batch does with one planned run."""

    START = "start"  # never started, or ended and to be reprocessed
    ATTACH = "attach"  # started and not known to have ended: wait for that run, start nothing
    SKIP = "skip"  # ended and not reprocessed
    UNKNOWN = "unknown"  # a start whose outcome is unknown: looked up again, never re-sent


@dataclass(frozen=True)
class KeyState:
    """The latest known state of one planned run (by key)."""

    pipeline_run_id: str | None = None
    status: str | None = None  # a terminal status, or None while running or unknown
    unknown: bool = False
    requested_at: str | None = None  # when the start request of an unknown outcome was sent (ISO 8601)


@dataclass(frozen=True)
class Decision:
    """A planned run and what to do with it (``pipeline_run_id``: the run to attach to or that ended;
    ``requested_at``: when an unknown outcome's request was sent)."""

    run: PlannedRun
    action: Action
    pipeline_run_id: str | None = None
    status: str | None = None
    requested_at: str | None = None


def default_state_path(config_path: Path) -> Path:
    """``.run_multiple_pipelines/<config file name without suffix>.jsonl`` in the current directory."""
    return Path(STATE_FOLDER) / f"{config_path.stem}.jsonl"


class StateFile:
    """Append-only, fsync'ed event log of one batch (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: str, key: str, **fields: Any) -> dict[str, Any]:
        """Write one event durably (flushed and fsync'ed) before returning it (with its ``at``).

        Raises:
            OSError: The file cannot be written (the caller stops: an unrecorded start is unsafe).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"event": event, "key": key, "at": datetime.now(UTC).isoformat(), **fields}
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write(line)
            sink.flush()
            os.fsync(sink.fileno())
        return record

    def events(self) -> list[dict[str, Any]]:
        """Every event in order; none when the file does not exist. A torn last line is ignored.

        Raises:
            StateError: A line other than the last is not one of this tool's events.
        """
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").split("\n")
        events = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                if not isinstance(event, dict) or not isinstance(event.get("key"), str) or "event" not in event:
                    raise ValueError("not an event of run_multiple_pipelines")
            except ValueError as exc:
                if number == len(lines):  # the last line, without its newline: a write cut short
                    break
                raise StateError(f"{self.path}:{number}: {exc}; move the file away to start the batch afresh") from None
            events.append(event)
        return events

    def states(self) -> dict[str, KeyState]:
        """The latest state of every key the file mentions."""
        states: dict[str, KeyState] = {}
        for event in self.events():
            key, kind = event["key"], event["event"]
            if kind == "requested":
                states[key] = KeyState(unknown=True, requested_at=event.get("at"))
            elif kind == "started":
                states[key] = KeyState(pipeline_run_id=event.get("pipeline_run_id"))
            elif kind == "ended":
                states[key] = KeyState(pipeline_run_id=event.get("pipeline_run_id"), status=event.get("status"))
            elif kind == "rejected":
                states.pop(key, None)
            elif kind == "unknown":
                states[key] = KeyState(unknown=True, requested_at=event.get("requested_at"))
        return states


def decide(runs: list[PlannedRun], states: dict[str, KeyState], reprocess: Reprocess = Reprocess.FAILED) -> list[Decision]:
    """What a (re-)run of the batch does with each planned run, in plan order."""
    decisions = []
    for run in runs:
        state = states.get(run.key)
        if state is None:
            decisions.append(Decision(run, Action.START))
        elif state.unknown:
            decisions.append(Decision(run, Action.UNKNOWN, requested_at=state.requested_at))
        elif state.status is None:
            decisions.append(Decision(run, Action.ATTACH, state.pipeline_run_id))
        else:
            again = reprocess is Reprocess.ALL or (reprocess is Reprocess.FAILED and state.status not in DONE_STATUSES)
            decisions.append(Decision(run, Action.START if again else Action.SKIP, state.pipeline_run_id, state.status))
    return decisions
