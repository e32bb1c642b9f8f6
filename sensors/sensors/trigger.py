"""``--trigger PIPELINE``: start a pipeline once the sensor is met, never twice for one sensor task run.

The blueprint's original sensor pattern: a sensor pipeline waits, then starts the pipeline that
does the work through Orchestra's API (``POST /pipelines/{id_or_alias}/start`` with ``runInputs``).
The state document (:mod:`sensors.state`) makes it safe to retry the sensor task:

1. before the request, the intent (pipeline, time) is stored;
2. after the answer, the new ``pipelineRunId`` is stored;
3. a retry that finds an id starts nothing; one that finds only an intent (the process died, or
   the answer was lost) adopts the newest run of that pipeline created since the intent (minus
   :data:`CLOCK_SKEW`), and starts a run only when there is none.

A run of that pipeline started by someone else in the same seconds would be adopted too; without
run ids in the environment (a sensor run by hand) there is no state and every invocation starts a run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from worker_kit.errors import UsageError, WorkerError
from worker_kit.orchestra_api import AmbiguousStartError, ApiError, OrchestraClient

from sensors.poke import iso, now_utc
from sensors.state import SensorState

logger = logging.getLogger("sensors")

CLOCK_SKEW = timedelta(seconds=30)
"""How much earlier than the stored intent a run may be created and still be the one it asked for."""


class TriggerFailed(WorkerError):
    """The pipeline could not be started (refused, or the API unreachable after the retries)."""


def parse_trigger_inputs(pairs: Sequence[str]) -> list[tuple[str, str]]:
    """``["day=ds"]`` -> ``[("day", "ds")]``: run input name, sensor output name.

    Raises:
        UsageError: A pair is not ``NAME=OUTPUT``.
    """
    parsed = []
    for pair in pairs:
        name, sep, output = pair.partition("=")
        if not sep or not name.strip() or not output.strip():
            raise UsageError(f"--trigger-input {pair!r}: write NAME=OUTPUT, e.g. day=ds")
        parsed.append((name.strip(), output.strip()))
    return parsed


def run_inputs(pairs: Sequence[tuple[str, str]], outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The triggered run's inputs: ``{name: outputs[output]}`` for each pair of :func:`parse_trigger_inputs`.

    Raises:
        UsageError: A pair names an output the sensor does not emit.
    """
    missing = [output for _, output in pairs if output not in outputs]
    if missing:
        raise UsageError(f"--trigger-input: the sensor has no output {', '.join(missing)}; "
                         f"it emits {', '.join(sorted(outputs))}")
    return {name: outputs[output] for name, output in pairs}


def trigger_once(client: OrchestraClient, pipeline: str, inputs: dict[str, Any], state: SensorState) -> str:
    """Start ``pipeline`` unless this sensor task run already did; the pipeline run id either way.

    Args:
        client: The API client.
        pipeline: Id or alias of the pipeline to start.
        inputs: Its run inputs.
        state: This sensor task run's stored document (saved here, twice).

    Returns:
        The pipeline run id started (or adopted).

    Raises:
        TriggerFailed: Orchestra refused the start, or it could not be sent; or it was sent and
            its answer lost and no run can be found (the message says to look before re-running).
    """
    stored = state.document.get("trigger")
    if stored and stored.get("pipeline") == pipeline and stored.get("pipeline_run_id"):
        logger.info("%s was already started by this sensor: pipeline run %s", pipeline, stored["pipeline_run_id"])
        return str(stored["pipeline_run_id"])
    if stored and stored.get("pipeline") == pipeline:
        adopted = _adopt(client, pipeline, datetime.fromisoformat(stored["intent_at"]))
        if adopted:
            logger.info("%s: adopting pipeline run %s, started by an earlier attempt whose answer was lost",
                        pipeline, adopted)
            _record(state, pipeline, stored["intent_at"], adopted)
            return adopted
    intent_at = now_utc().isoformat()
    _record(state, pipeline, intent_at, None)
    try:
        run_id = client.start(pipeline, run_inputs=inputs or None)
    except AmbiguousStartError as exc:
        adopted = _adopt(client, pipeline, datetime.fromisoformat(intent_at))
        if not adopted:
            raise TriggerFailed(f"starting {pipeline}: {exc}; no new run found: check its runs before re-running") from None
        run_id = adopted
    except ApiError as exc:
        raise TriggerFailed(f"starting {pipeline}: {exc}") from None
    _record(state, pipeline, intent_at, run_id)
    logger.info("started %s: pipeline run %s", pipeline, run_id)
    return run_id


def _adopt(client: OrchestraClient, pipeline: str, intent_at: datetime) -> str | None:
    """The newest run of ``pipeline`` created since ``intent_at - CLOCK_SKEW``, or None."""
    try:
        pipeline_id = str(client.pipeline(pipeline)["id"])
        runs = client.runs_since(pipeline_id, intent_at - CLOCK_SKEW)
    except ApiError as exc:
        raise TriggerFailed(f"looking up the runs of {pipeline} started since {iso(intent_at)}: {exc}") from None
    return str(runs[0]["id"]) if runs else None


def _record(state: SensorState, pipeline: str, intent_at: str, run_id: str | None) -> None:
    state.document["trigger"] = {"pipeline": pipeline, "intent_at": intent_at, "pipeline_run_id": run_id}
    state.save()
