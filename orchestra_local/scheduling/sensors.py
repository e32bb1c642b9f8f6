"""Native sensors: at each ``cron`` time a window opens; its checks are polled until all pass.

A ``sensors`` entry (orchestra-contract section 5; Orchestra's "Sensors" pages) opens a window of
``timeout_mins`` minutes at each fire time of its ``cron`` (``timezone``, ``exclude`` dates as
for schedules). Within it the checks (``sensor_checks``) are polled every ``frequency_secs``
seconds (default 60), the first poll at the opening. When every check passes and ``condition``
(if any) holds, the pipeline starts once, with ``run_inputs`` overlaid by each check's
``map_outputs`` (``${{ outputs.<key> }}`` of that check's result), and the window closes; a window
that reaches its end without a pass starts nothing and is recorded TIMED_OUT with its last finding.

Every window ends as one tick keyed by (pipeline, SENSOR, sensor id, window opening): STARTED
(claimed in the run's own transaction, so two schedulers start it once), TIMED_OUT, FAILED (a check
that cannot work as written: missing parameter, unknown connection; reported at once instead of
polled for hours) or SKIPPED (paused; a check type only hosted Orchestra evaluates; missed while no
scheduler ran). Policy choices **(ours where Orchestra documents none)**:

- A window already open when the scheduler first starts is not opened, as Orchestra says of a
  sensor created inside its window. After a restart (the heartbeat file), windows still open are
  polled again and those that closed meanwhile are recorded SKIPPED ("missed").
- One window per sensor at a time: Orchestra requires ``timeout_mins`` shorter than the cron
  interval; if it is not, a new window supersedes the open one (recorded SKIPPED).
- ``condition`` sees ``inputs`` (the inputs the run would start with: ``run_inputs`` and every
  ``map_outputs``), ``ENV`` and ``ORCHESTRA.CURRENT_TIME``; Orchestra's validator refuses
  ``outputs`` there.
- ``environments``: the run starts in the first one listed (default: the default environment).
- The run records ``triggeredBy: [{triggerType: SENSOR, sensorName, sensorRunId}]``
  (Orchestra's ``TriggeredByApiModel``; ``sensorRunId`` identifies the window).

Polls run in a small thread pool so a slow source (up to ``CHECK_TIMEOUT_SECONDS`` per check)
never delays schedules; tests pass ``synchronous=True`` to poll inline on an injected clock.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from orchestra_local.api.registry import PipelineFile
from orchestra_local.api.service import RunService, StartOptions
from orchestra_local.errors import ExpressionError
from orchestra_local.expressions import Scope, evaluate_template, resolve
from orchestra_local.scheduling.fire_times import DueTimes, FireTimes
from orchestra_local.scheduling.sensor_checks import CheckContext, SensorConfigError, check_for
from orchestra_local.spec.models import Sensor
from orchestra_local.store.ticks import TICKS, TickOutcome, TriggerKind, claim

MAX_MISSED_RECORDED = 100
"""Windows recorded as missed per sensor and pass (the latest); older ones are not recorded."""
POLL_THREADS = 4
"""Checks polled at once (threads); more due polls wait for a free thread."""
DEFAULT_FREQUENCY_SECS = 60
PAUSED = "paused (meta.orchestra_local.paused in the pipeline file)"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SensorTrigger:
    """One ``sensors`` entry of one pipeline file (``name``: its id, the tick's trigger name)."""

    pipeline: PipelineFile
    name: str
    entry: Sensor
    fire_times: FireTimes
    paused: bool

    @property
    def timeout(self) -> timedelta:
        return timedelta(minutes=self.entry.timeout_mins)

    @property
    def frequency(self) -> timedelta:
        return timedelta(seconds=max(1, self.entry.frequency_secs or DEFAULT_FREQUENCY_SECS))


@dataclass(frozen=True)
class Poll:
    """What one poll of all of a window's checks found.

    Attributes:
        passed: Every check passed and the condition held.
        finding: One line for the tick's reason (the first check that did not pass, and why).
        run_inputs: The run's inputs (``run_inputs`` overlaid by ``map_outputs``), when passed.
        broken: The sensor cannot work as written: the window ends FAILED.
    """

    passed: bool
    finding: str
    run_inputs: dict[str, Any] | None = None
    broken: bool = False


@dataclass
class Window:
    """An open window of one sensor (in memory; its end is a tick)."""

    trigger: SensorTrigger
    opened: datetime
    next_poll: datetime
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    polls: int = 0
    finding: str = "not polled yet"
    pending: Future[Poll] | None = None

    @property
    def closes(self) -> datetime:
        return self.opened + self.trigger.timeout


Record = Callable[[Any, dict[str, Any], TickOutcome, str], Any]
"""``(trigger, tick, outcome, reason) -> TickResult``: a tick that started nothing (the scheduler's)."""
Start = Callable[[Any, dict[str, Any], StartOptions, str], Any]
"""``(trigger, tick, options, what) -> TickResult``: start a run claiming the tick (the scheduler's)."""


class SensorWindows:
    """Opens, polls and closes the windows of every sensor (see the module doc).

    Args:
        service: Reads pipelines, connections and the store.
        record: Records a tick that started nothing.
        start: Starts a run with its tick as the claim.
        resume_from: The end of the last pass of a scheduler on this state directory, if any.
        synchronous: Poll inline (tests on an injected clock) instead of in the thread pool.
    """

    def __init__(self, service: RunService, record: Record, start: Start, resume_from: datetime | None, *,
                 synchronous: bool = False):
        self.service, self._record, self._start = service, record, start
        self._resume_from = resume_from
        self._synchronous = synchronous
        self._pool = None if synchronous else ThreadPoolExecutor(POLL_THREADS, thread_name_prefix="sensor-poll")
        self._windows: dict[tuple[str, str], Window] = {}
        self._evaluated: dict[tuple[str, str], datetime] = {}
        self._due = DueTimes()

    def close(self) -> None:
        """Stop polling: running checks finish, nothing new starts."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def evaluate(self, triggers: list[SensorTrigger], now: datetime, unloaded: frozenset[str] = frozenset()
                 ) -> list[Any]:
        """One pass over every sensor: open due windows, settle finished polls, start due ones.

        ``unloaded``: ids of pipelines whose file could not be read this pass (half-saved, say): their
        open windows are kept, not ended as removed.
        """
        results: list[Any] = []
        live = set()
        for trigger in triggers:
            key = (trigger.pipeline.id, trigger.name)
            live.add(key)
            if key in self._windows:  # an edited file: the open window polls the checks as they are now
                self._windows[key].trigger = trigger
            try:  # the open window first (it may have just closed), then a new one and its first poll
                results += self._advance(key, now)
                results += self._open(trigger, now)
                results += self._advance(key, now)
            except Exception:  # one sensor's failure (a store write) must not stop the others
                log.exception("%s: sensor %r: evaluation failed; retried next pass", trigger.pipeline.yaml_path,
                              trigger.name)
        for key in [key for key in self._windows if key not in live and key[0] not in unloaded]:
            window = self._windows[key]  # the sensor went away: its window ends with it
            try:
                results.append(self._record(window.trigger, self._claim(window.trigger, window.opened),
                                            TickOutcome.SKIPPED, "the sensor was removed while its window was open"))
            except Exception:  # the tick is written next pass; the window stays until then
                log.exception("sensor %r: recording its removal failed; retried next pass", key[1])
                continue
            del self._windows[key]
        self._resume_from = None  # the heartbeat is for the first pass
        return results

    def _claim(self, trigger: SensorTrigger, opened: datetime) -> dict[str, Any]:
        return claim(trigger.pipeline.id, trigger.pipeline.alias, TriggerKind.SENSOR, trigger.name, opened)

    def _since(self, trigger: SensorTrigger, now: datetime) -> datetime:
        key = (trigger.pipeline.id, trigger.name)
        if key not in self._evaluated:
            rows = self.service.store.read(
                select(TICKS.c.scheduled_for)
                .where(TICKS.c.pipeline_id == trigger.pipeline.id, TICKS.c.trigger_kind == TriggerKind.SENSOR.value,
                       TICKS.c.trigger_name == trigger.name)
                .order_by(TICKS.c.scheduled_for.desc()).limit(1))
            if rows:
                self._evaluated[key] = rows[0]["scheduled_for"]
            elif self._resume_from is not None:  # a restart: windows that may still be open are resumed
                self._evaluated[key] = min(self._resume_from, now) - trigger.timeout
            else:  # the first start: a window already open is not opened (Orchestra's rule)
                self._evaluated[key] = now
        return self._evaluated[key]

    def _open(self, trigger: SensorTrigger, now: datetime) -> list[Any]:
        """Open the window of the latest due fire time; record older ones as missed or superseded.

        State changes only after the ticks that justify them are written: a failed write leaves
        everything to the next pass, whose writes of already-recorded ticks change nothing.
        """
        key = (trigger.pipeline.id, trigger.name)
        due = self._due.between(key, trigger.fire_times, self._since(trigger, now), now)
        if not due:
            self._evaluated[key] = now
            return []
        results = []
        latest = due[-1]
        superseded = (f"superseded by the window opened at {latest.isoformat()} (timeout_mins is longer than the "
                      "interval between cron times)")
        for moment in due[:-1][-MAX_MISSED_RECORDED:]:
            ended = moment + trigger.timeout <= now
            reason = "missed: the window closed while the scheduler was not running" if ended else superseded
            results.append(self._record(trigger, self._claim(trigger, moment), TickOutcome.SKIPPED, reason))
        current = self._windows.get(key)
        if current is not None:
            results.append(self._record(trigger, self._claim(trigger, current.opened), TickOutcome.SKIPPED,
                                        superseded))
            del self._windows[key]
        results += self._start_window(trigger, latest, now)
        self._evaluated[key] = now
        return results

    def _start_window(self, trigger: SensorTrigger, opened: datetime, now: datetime) -> list[Any]:
        """Open a window at ``opened``, or record why it cannot be evaluated."""
        refusal = _refusal(trigger)  # a sensor that cannot work says so first, whatever else holds
        if refusal is None and opened + trigger.timeout <= now:
            refusal = TickOutcome.SKIPPED, "missed: the window closed while the scheduler was not running"
        elif refusal is None and trigger.paused:
            refusal = TickOutcome.SKIPPED, PAUSED
        if refusal is not None:
            return [self._record(trigger, self._claim(trigger, opened), *refusal)]
        self._windows[(trigger.pipeline.id, trigger.name)] = Window(trigger, opened, next_poll=opened)
        return []

    def _advance(self, key: tuple[str, str], now: datetime) -> list[Any]:
        window = self._windows.get(key)
        if window is None:
            return []
        if window.pending is not None and window.pending.done():
            poll, window.pending = window.pending.result(), None
            ended = self._settle(window, poll)
            if ended is not None:
                return [ended]
        if now >= window.closes or window.trigger.paused:
            if window.trigger.paused:
                outcome, reason = TickOutcome.SKIPPED, PAUSED
            else:  # a poll still running is abandoned: its late finding is ignored
                outcome = TickOutcome.TIMED_OUT
                reason = (f"timed out: no pass in {window.polls} poll(s) between {window.opened.isoformat()} and "
                          f"{window.closes.isoformat()}; last: {window.finding}")
            ended = self._record(window.trigger, self._claim(window.trigger, window.opened), outcome, reason)
            del self._windows[key]
            return [ended]
        if window.pending is not None or now < window.next_poll:
            return []
        window.polls += 1
        while window.next_poll <= now:
            window.next_poll += window.trigger.frequency
        if self._pool is None:
            ended = self._settle(window, self.poll(window.trigger, window.opened, now))
            return [ended] if ended is not None else []
        window.pending = self._pool.submit(self.poll, window.trigger, window.opened, now)
        return []

    def _settle(self, window: Window, poll: Poll) -> Any:
        """The tick a finished poll ends its window with (None: the window stays open)."""
        trigger = window.trigger
        key = (trigger.pipeline.id, trigger.name)
        if not poll.passed and not poll.broken:
            window.finding = poll.finding
            return None
        tick = {**self._claim(trigger, window.opened), "reason": poll.finding}
        if poll.broken:
            log.warning("%s: sensor %r: %s", trigger.pipeline.yaml_path, trigger.name, poll.finding)
            ended = self._record(trigger, tick, TickOutcome.FAILED, poll.finding)
        else:
            environments = trigger.entry.environments
            environment = environments[0] if isinstance(environments, list) and environments else environments
            options = StartOptions(
                run_inputs=poll.run_inputs, environment=environment if isinstance(environment, str) else None,
                triggered_by=[{"triggerType": "SENSOR", "sensorName": trigger.entry.name,
                               "sensorRunId": window.run_id}],
                tick=tick,
            )
            ended = self._start(trigger, tick, options, f"sensor {trigger.name!r} ({poll.finding})")
        self._windows.pop(key, None)
        return ended

    def poll(self, trigger: SensorTrigger, opened: datetime, now: datetime) -> Poll:
        """Evaluate every check of ``trigger`` once, in order, stopping at the first that does not pass.

        A check's own failure (source unreachable, query error) is a finding and the next poll
        tries again; a configuration it cannot work with makes the poll ``broken``. Never raises.
        """
        workspace = self.service.workspace
        entry = trigger.entry
        scope = Scope(env=workspace.env, orchestra={"CURRENT_TIME": now.isoformat()})
        run_inputs = dict(entry.run_inputs or {})
        outputs: dict[str, Any] = {}
        findings: list[str] = []
        for check_id, check in entry.checks.items():
            where = f"sensors.{trigger.name}.checks.{check_id}"
            try:
                run = check_for(check.integration, check.sensor_type)
                if run is None:
                    raise SensorConfigError(f"{where}: {check.sensor_type} is evaluated only by hosted Orchestra")
                context = CheckContext(where, resolve(check.parameters, scope, f"{where}.parameters"),
                                       self._connection(check.connection, scope, where), opened, self.service.store)
                result = run(context)
                if result.passed:
                    for name, expression in (check.map_outputs or {}).items():
                        run_inputs[name] = evaluate_template(
                            expression, Scope(env=workspace.env, orchestra=scope.orchestra, outputs=result.outputs),
                            f"{where}.map_outputs.{name}")
            except (SensorConfigError, ExpressionError) as exc:
                return Poll(False, workspace.masker.mask(str(exc)), broken=True)
            except Exception as exc:  # noqa: BLE001 - the source's failure is this poll's finding; the next poll retries
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                return Poll(False, workspace.masker.mask(f"check {check_id!r} failed: {type(exc).__name__}: {first}"))
            if not result.passed:
                return Poll(False, f"check {check_id!r}: {result.detail}")
            outputs[check_id] = dict(result.outputs)
            findings.append(f"check {check_id!r}: {result.detail}")
        if entry.condition:
            where = f"sensors.{trigger.name}.condition"
            try:
                held = evaluate_template(entry.condition, Scope(env=workspace.env, orchestra=scope.orchestra,
                                                                inputs=run_inputs), where)
            except ExpressionError as exc:
                return Poll(False, workspace.masker.mask(str(exc)), broken=True)
            if not held:
                return Poll(False, f"every check passed but the condition {entry.condition!r} is false")
        return Poll(True, "; ".join(findings), run_inputs=run_inputs)

    def _connection(self, name: str | None, scope: Scope, where: str) -> Any:
        if not name:
            return None
        resolved = resolve(name, scope, f"{where}.connection")
        connection = self.service.workspace.connections.get(resolved)
        if connection is None:
            raise SensorConfigError(f"{where}.connection: no connection named {resolved!r} in the connections file "
                                    "(see connections.example.yml)")
        return connection


def _refusal(trigger: SensorTrigger) -> tuple[TickOutcome, str] | None:
    """Why a window of ``trigger`` cannot be evaluated locally at all (None: it can)."""
    remote = []
    for check_id, check in trigger.entry.checks.items():
        try:
            if check_for(check.integration, check.sensor_type) is None:
                remote.append(f"{check_id} ({check.sensor_type})")
        except SensorConfigError as exc:
            return TickOutcome.FAILED, f"sensors.{trigger.name}.checks.{check_id}: {exc}"
    if remote:
        return TickOutcome.SKIPPED, (f"check(s) {', '.join(remote)} are evaluated only by hosted Orchestra; "
                                     "the local runner never fakes them")
    if not trigger.entry.checks:
        return TickOutcome.FAILED, f"sensors.{trigger.name}.checks: a sensor needs at least one check"
    if trigger.entry.timeout_mins < 1:
        return TickOutcome.FAILED, (f"sensors.{trigger.name}.timeout_mins is {trigger.entry.timeout_mins}: a window "
                                    "needs at least 1 minute")
    return None
