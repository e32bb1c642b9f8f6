"""The scheduler loop: starts the runs every pipeline's ``schedule`` entries ask for, each fire time once.

Runs inside ``orchestra-local serve`` (a thread; ``--no-scheduler`` turns it off) or alone
(``orchestra-local scheduler``). Each pass (:meth:`Scheduler.evaluate`, about once a second):

1. lists the pipeline files of ``orchestra/`` (``PipelineRegistry``: a changed file is read again,
   an invalid one is skipped and logged once per content);
2. for each ``schedule`` entry, takes the fire times since the last one evaluated up to now: since
   the store's latest tick of that schedule; without one, since the last pass of any scheduler
   process on this state directory (the heartbeat file :data:`HEARTBEAT_FILE`, written after each
   pass, so a restart resumes where the killed process stopped and loses no fire time); without
   that either (the first start), from now: starting ``serve`` never fires what was due before;
3. starts a run for each fire time at most :data:`GRACE` late, through ``RunService.start`` with the
   tick as the claim (``store/ticks.py``): a fire time another scheduler or an earlier life of this
   one started already is left alone;
4. records older fire times as SKIPPED ticks ("missed"): there is no catch-up by default, as
   Orchestra documents none and a backlog of runs after a long outage is rarely what a team wants;
   ``catch_up="last"`` starts one run for the latest missed time. At most :data:`MAX_MISSED_RECORDED`
   missed times are recorded per schedule and pass (the latest), the rest are counted in the reason.

A pipeline with ``meta: {orchestra_local: {paused: true}}`` starts nothing; its fire times are
recorded SKIPPED ("paused"). Hosted Orchestra pauses a pipeline in its UI, not its YAML; this local
switch lives under ``meta``, which Orchestra keeps as free data.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from orchestra_local.api.registry import PipelineFile
from orchestra_local.api.service import RunService, StartOptions
from orchestra_local.errors import ExpressionError, FireTimeClaimed, OrchestraLocalError
from orchestra_local.scheduling.fire_times import DueTimes, FireTimes
from orchestra_local.scheduling.sensors import SensorTrigger, SensorWindows
from orchestra_local.scheduling.trigger_events import (
    LOOKBACK,
    MAX_TRIGGER_CHAIN,
    EventTrigger,
    chain_of,
    ended_runs,
    loop_reason,
    run_inputs_of,
    triggered_by,
)
from orchestra_local.spec.models import Pipeline, Schedule
from orchestra_local.store.repository import utcnow
from orchestra_local.store.ticks import TICKS, TickOutcome, TriggerKind, claim, record_tick

GRACE = timedelta(seconds=60)
"""Latest a fire time may be evaluated and still start a run (a restart within the minute starts it)."""
MAX_MISSED_RECORDED = 100
"""Missed fire times recorded per schedule and pass; older ones are only counted."""
PASS_SECONDS = 1.0
"""Time between passes, in seconds."""
HEARTBEAT_FILE = "scheduler.heartbeat"
"""In the state directory: the end (ISO 8601, UTC) of the last pass a scheduler process finished."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleTrigger:
    """One ``schedule`` entry of one pipeline file.

    Attributes:
        pipeline: The file.
        name: The entry's ``name``, or ``schedule[<index>]`` when it has none (the tick's trigger name).
        entry: The entry (cron, timezone, environment, branch, run_inputs).
        fire_times: When it fires.
        paused: The pipeline's triggers are paused (``meta.orchestra_local.paused``).
    """

    pipeline: PipelineFile
    name: str
    entry: Schedule
    fire_times: FireTimes
    paused: bool


@dataclass(frozen=True)
class TickResult:
    """What a pass did for one fire time (a schedule's, a sensor window's opening, or an upstream
    run's end): its outcome, and the run it started (STARTED only)."""

    trigger: ScheduleTrigger | EventTrigger | SensorTrigger
    scheduled_for: datetime
    outcome: TickOutcome | None  # None: another process had claimed it
    pipeline_run_id: str | None = None
    reason: str = ""


def _paused(model: Pipeline) -> bool:
    local = (model.meta or {}).get("orchestra_local")
    return isinstance(local, dict) and local.get("paused") is True


class Scheduler:
    """Evaluates schedules and starts due runs (see the module doc).

    Args:
        service: Starts runs (the API's service: runs are tracked, cancelled at shutdown, queued by
            ``concurrency.max_active`` like any other).
        catch_up: ``none`` (default) or ``last``: what to do with fire times missed while down.
        clock: The current time (aware UTC); tests inject one.
        synchronous_sensors: Poll sensor checks inline rather than in threads (tests on an injected clock).
    """

    def __init__(self, service: RunService, *, catch_up: Literal["none", "last"] = "none",
                 clock: Callable[[], datetime] = utcnow, synchronous_sensors: bool = False):
        self.service, self.catch_up, self.clock = service, catch_up, clock
        self.heartbeat = service.settings.state_dir / HEARTBEAT_FILE
        self._resume_from = self._read_heartbeat()
        self._evaluated: dict[tuple[str, str], datetime] = {}  # (pipeline id, schedule name) -> up to when
        self._events_since: datetime | None = None  # runs that ended after this were not looked at yet
        self._seen_ends: dict[str, datetime] = {}  # ended runs handled, still inside the lookback
        self._broken: dict[str, str] = {}  # path -> the error last logged for it
        self._due = DueTimes()
        self.unloaded: set[str] = set()  # ids of pipelines whose file could not be read in the last pass
        self.sensors = SensorWindows(service, self._record, self._start, self._resume_from,
                                     synchronous=synchronous_sensors)

    def _read_heartbeat(self) -> datetime | None:
        try:
            moment = datetime.fromisoformat(self.heartbeat.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None  # never ran here (or an unreadable file: start from now, as the first time)
        return moment if moment.tzinfo is not None else None

    def beat(self, moment: datetime) -> None:
        """Record that every fire time up to ``moment`` was evaluated (the heartbeat file, replaced atomically)."""
        self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
        partial = self.heartbeat.with_name(f".{self.heartbeat.name}.{os.getpid()}")
        partial.write_text(moment.isoformat(), encoding="utf-8")
        partial.replace(self.heartbeat)

    def triggers(self) -> tuple[list[ScheduleTrigger], list[EventTrigger], list[SensorTrigger]]:
        """Every schedule, trigger_events and sensors entry of every valid pipeline file (invalid ones are
        logged once)."""
        schedules: list[ScheduleTrigger] = []
        events: list[EventTrigger] = []
        sensors: list[SensorTrigger] = []
        self.unloaded = set()
        for pipeline in self.service.registry.all():
            try:
                model = self.service.load(pipeline).model
            except (OrchestraLocalError, LookupError, OSError) as exc:
                self._log_once(str(pipeline.path), f"{pipeline.yaml_path}: not scheduled: {exc}")
                self.unloaded.add(pipeline.id)
                continue
            schedules += self._schedules(pipeline, model)
            events += [EventTrigger(pipeline, index, entry, _paused(model))
                       for index, entry in enumerate(model.trigger_events or [])]
            sensors += self._sensors(pipeline, model)
        return schedules, events, sensors

    def _schedules(self, pipeline: PipelineFile, model: Pipeline) -> Iterator[ScheduleTrigger]:
        for index, entry in enumerate(model.schedule or []):
            name = entry.name or f"schedule[{index}]"
            try:
                fire_times = FireTimes.of(entry.cron, entry.timezone, entry.exclude)
            except ValueError as exc:
                self._log_once(f"{pipeline.path}#{name}", f"{pipeline.yaml_path}: schedule {name!r}: {exc}")
                continue
            yield ScheduleTrigger(pipeline, name, entry, fire_times, _paused(model))

    def _sensors(self, pipeline: PipelineFile, model: Pipeline) -> Iterator[SensorTrigger]:
        for sensor_id, entry in (model.sensors or {}).items():
            try:
                fire_times = FireTimes.of(entry.cron, entry.timezone, entry.exclude)
            except ValueError as exc:
                self._log_once(f"{pipeline.path}#sensors.{sensor_id}",
                               f"{pipeline.yaml_path}: sensor {sensor_id!r}: {exc}")
                continue
            yield SensorTrigger(pipeline, sensor_id, entry, fire_times, _paused(model))

    def _log_once(self, key: str, message: str) -> None:
        if self._broken.get(key) != message:
            self._broken[key] = message
            log.warning(message)

    def _since(self, trigger: ScheduleTrigger, now: datetime) -> datetime:
        key = (trigger.pipeline.id, trigger.name)
        if key not in self._evaluated:
            rows = self.service.store.read(
                select(TICKS.c.scheduled_for)
                .where(TICKS.c.pipeline_id == trigger.pipeline.id, TICKS.c.trigger_kind == TriggerKind.SCHEDULE.value,
                       TICKS.c.trigger_name == trigger.name)
                .order_by(TICKS.c.scheduled_for.desc()).limit(1))
            self._evaluated[key] = rows[0]["scheduled_for"] if rows else min(self._resume_from or now, now)
        return self._evaluated[key]

    def evaluate(self, now: datetime | None = None) -> list[TickResult]:
        """One pass: every schedule's fire times in (last evaluated, now]; see the module doc."""
        now = now or self.clock()
        results: list[TickResult] = []
        schedules, events, sensors = self.triggers()
        for trigger in schedules:
            try:
                results += self._evaluate_schedule(trigger, now)
            except Exception:  # one schedule's failure (a store write) must not stop the others
                log.exception("%s: schedule %r: evaluation failed; retried next pass", trigger.pipeline.yaml_path,
                              trigger.name)
        results += self.sensors.evaluate(sensors, now, frozenset(self.unloaded))
        if self._events_since is None:
            self._events_since = min(self._resume_from or now, now)
        if events:
            for run in ended_runs(self.service.store, self._events_since, now):
                if run["id"] in self._seen_ends:
                    continue  # read again through the lookback: handled by an earlier pass
                try:
                    results += [self._fire_event(event, run, now) for event in events if event.matches(run)]
                except Exception:  # left unseen: the next pass (through the lookback) tries it again
                    log.exception("trigger events of run %s: evaluation failed", run["id"])
                    continue
                self._seen_ends[run["id"]] = run["completed_at"]
        self._seen_ends = {key: end for key, end in self._seen_ends.items() if end > self._events_since - LOOKBACK}
        self._events_since = now
        self._resume_from = None  # the heartbeat is for the first pass: schedules added later start from now
        return results

    def _evaluate_schedule(self, trigger: ScheduleTrigger, now: datetime) -> list[TickResult]:
        due = self._due.between((trigger.pipeline.id, trigger.name), trigger.fire_times, self._since(trigger, now), now)
        missed = [moment for moment in due if now - moment > GRACE]
        on_time = [moment for moment in due if now - moment <= GRACE]
        if self.catch_up == "last" and missed:
            on_time.insert(0, missed.pop())
        results = self._record_missed(trigger, missed)
        results += [self._fire(trigger, moment) for moment in on_time]
        self._evaluated[(trigger.pipeline.id, trigger.name)] = now
        return results

    def _record_missed(self, trigger: ScheduleTrigger, missed: list[datetime]) -> list[TickResult]:
        results = []
        uncounted = max(0, len(missed) - MAX_MISSED_RECORDED)
        for index, moment in enumerate(missed[uncounted:]):
            reason = "missed: the scheduler was not running at this fire time (no catch-up; see --catch-up)"
            if index == 0 and uncounted:
                reason += f"; {uncounted} earlier missed fire times not recorded"
            tick = claim(trigger.pipeline.id, trigger.pipeline.alias, TriggerKind.SCHEDULE, trigger.name, moment)
            results.append(self._skip(trigger, tick, reason))
        return results

    def _fire(self, trigger: ScheduleTrigger, moment: datetime) -> TickResult:
        tick = claim(trigger.pipeline.id, trigger.pipeline.alias, TriggerKind.SCHEDULE, trigger.name, moment)
        if trigger.paused:
            return self._skip(trigger, tick, "paused (meta.orchestra_local.paused in the pipeline file)")
        entry = trigger.entry
        options = StartOptions(
            run_inputs=dict(entry.run_inputs or {}), environment=entry.environment, branch=entry.branch,
            triggered_by=[{"triggerType": "SCHEDULED", "scheduleName": trigger.name, "scheduleCron": entry.cron,
                           "scheduleTimezone": entry.timezone or "UTC"}],
            tick=tick,
        )
        return self._start(trigger, tick, options, f"schedule {trigger.name!r}")

    def _fire_event(self, trigger: EventTrigger, run: dict[str, Any], now: datetime) -> TickResult:
        tick = claim(trigger.pipeline.id, trigger.pipeline.alias, TriggerKind.TRIGGER_EVENT, run["id"],
                     run["completed_at"])
        if trigger.paused:
            return self._skip(trigger, tick, "paused (meta.orchestra_local.paused in the pipeline file)")
        if now - run["completed_at"] > GRACE + LOOKBACK:  # it ended while no scheduler ran: no catch-up
            return self._skip(trigger, tick, "missed: the upstream run ended while the scheduler was not running")
        chain = chain_of(run)
        if len(chain) >= MAX_TRIGGER_CHAIN:
            reason = loop_reason(chain, trigger.pipeline.alias)
            log.warning("%s: trigger_events[%d]: %s", trigger.pipeline.yaml_path, trigger.index, reason)
            return self._skip(trigger, tick, reason)
        try:
            run_inputs = run_inputs_of(trigger.entry, run, self.service.workspace.env,
                                       f"trigger_events[{trigger.index}]")
        except ExpressionError as exc:
            return self._record(trigger, tick, TickOutcome.FAILED, f"the run could not start: {exc}")
        options = StartOptions(run_inputs=run_inputs, triggered_by=triggered_by(run, trigger.entry.pipeline_id == "*"),
                               tick=tick, trigger_chain=chain)
        return self._start(trigger, tick, options, f"trigger_events[{trigger.index}] (run {run['id']} ended)")

    def _skip(self, trigger: ScheduleTrigger | EventTrigger, tick: dict[str, Any], reason: str) -> TickResult:
        return self._record(trigger, tick, TickOutcome.SKIPPED, reason)

    def _record(self, trigger: ScheduleTrigger | EventTrigger | SensorTrigger, tick: dict[str, Any],
                outcome: TickOutcome, reason: str) -> TickResult:
        recorded = record_tick(self.service.store, tick, outcome, reason)
        return TickResult(trigger, tick["scheduled_for"], outcome if recorded else None, reason=reason)

    def _start(self, trigger: ScheduleTrigger | EventTrigger | SensorTrigger, tick: dict[str, Any], options: StartOptions,
               what: str) -> TickResult:
        moment = tick["scheduled_for"]
        try:
            run_id = self.service.start(trigger.pipeline.id, options)
        except FireTimeClaimed:
            return TickResult(trigger, moment, None)
        except (OrchestraLocalError, LookupError, OSError) as exc:  # refused start: recorded, never silent
            reason = f"the run could not start: {exc}"
            log.warning("%s: %s at %s: %s", trigger.pipeline.yaml_path, what, moment.isoformat(), reason)
            recorded = record_tick(self.service.store, tick, TickOutcome.FAILED, reason)
            return TickResult(trigger, moment, TickOutcome.FAILED if recorded else None, reason=reason)
        log.info("%s: %s at %s started run %s", trigger.pipeline.yaml_path, what, moment.isoformat(), run_id)
        return TickResult(trigger, moment, TickOutcome.STARTED, run_id)

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; a pass that raises is logged and the loop goes on."""
        while not stop.is_set():
            now = self.clock()
            try:
                self.evaluate(now)
                self.beat(now)
            except Exception:  # the loop must outlive one bad pass; the traceback is logged whole
                log.exception("scheduler pass failed; retrying in %.0f s", PASS_SECONDS)
            now = self.clock()
            stop.wait(PASS_SECONDS - (now.timestamp() % PASS_SECONDS) + 0.02)  # just after the next second
        self.sensors.close()

    def start_thread(self) -> tuple[threading.Thread, threading.Event]:
        """Run :meth:`run` in a daemon thread; returns it and the event that stops it."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="scheduler", daemon=True)
        thread.start()
        return thread, stop


def describe(result: TickResult) -> dict[str, Any]:
    """A pass result as a log/JSON record."""
    trigger = result.trigger
    name = (trigger.name if isinstance(trigger, ScheduleTrigger) else f"sensors.{trigger.name}"
            if isinstance(trigger, SensorTrigger) else f"trigger_events[{trigger.index}]")
    return {"pipeline": trigger.pipeline.alias, "trigger": name,
            "scheduled_for": result.scheduled_for.isoformat(),
            "outcome": result.outcome.value if result.outcome else "CLAIMED_ELSEWHERE",
            "pipeline_run_id": result.pipeline_run_id, "reason": result.reason}
