"""``python -m sensors <kind> ...``: poke a condition until it is met, then emit outputs or start a pipeline.

Exit codes (``worker_kit.cli``): 0 met (or timed out with ``--soft-fail``), 1 timed out or failed
(one ``Error:`` line on stderr), 2 invalid arguments, 130 interrupted. The last stdout line is a
JSON object, the task's outputs (``${{ TASK.<id>.outputs.<name> }}`` downstream, the same channel as
the ingest worker): ``ready`` (true/false), ``sensor``, ``first_poke_at``, ``deadline``, ``pokes``,
the kind's own outputs (``files``, ``ack_file``, the row, ``status_code``, ``pipeline_run_id`` ...) and,
with ``--trigger``, ``triggered_pipeline_run_id``. Under ``set_outputs: true`` the same outputs also go
to ``ORCHESTRA_WEBHOOK_URL`` as orchestra-sdk's ``SET_OUTPUT`` events, the only channel hosted
Orchestra reads (:mod:`sensors.outputs`). Every poke logs one line on stderr. Credentials are
read from environment variables named on the command line and never printed.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from worker_kit.cli import add_common_flags, run_cli
from worker_kit.connection import url_from_env
from worker_kit.errors import ConfigError, UsageError, WorkerError
from worker_kit.masking import SecretMasker
from worker_kit.orchestra_api import HOSTED_APP_URL, OrchestraClient

from sensors.files import STRATEGIES, FilesCheck
from sensors.http import HttpCheck, auth_from_env
from sensors.outputs import publish
from sensors.pipeline import PipelineCheck, parse_since, parse_statuses
from sensors.poke import Check, Outcome, Poke, iso, now_utc, poke_until
from sensors.sql import SqlCheck, parse_expect
from sensors.state import DEFAULT_STATE_DIR, SensorState
from sensors.trigger import parse_trigger_inputs, run_inputs, trigger_once

logger = logging.getLogger("sensors")


class SensorTimedOut(WorkerError):
    """The condition was not met by the deadline (and ``--soft-fail`` was not given)."""


def build_parser() -> argparse.ArgumentParser:
    """The parser: one sub-command per kind, the common options on each."""
    common = argparse.ArgumentParser(add_help=False)
    add_common_flags(common)
    common.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds from the first poke of this task run to give up (retries keep it; default 3600)")
    common.add_argument("--poke-interval", type=float, default=60.0, help="seconds between pokes (default 60)")
    common.add_argument("--soft-fail", action="store_true",
                        help="on timeout exit 0 with output ready=false (downstream tasks skip on their condition)")
    common.add_argument("--state-dir", default=os.environ.get("SENSORS_STATE_DIR") or DEFAULT_STATE_DIR,
                        help="local folder or fsspec URL for the deadline and trigger state "
                             "(default $SENSORS_STATE_DIR, else %(default)s)")
    common.add_argument("--trigger", metavar="PIPELINE", help="when met, start this pipeline (id or alias) once")
    common.add_argument("--trigger-input", action="append", default=[], metavar="NAME=OUTPUT",
                        help="run input NAME of the triggered pipeline = this sensor's output OUTPUT (repeatable)")
    common.add_argument("--api-url", default=os.environ.get("ORCHESTRA_API_URL") or HOSTED_APP_URL,
                        help="Orchestra's URL for --trigger and the pipeline sensor (default $ORCHESTRA_API_URL, "
                             "else %(default)s)")
    common.add_argument("--token-env", default="ORCHESTRA_API_KEY",
                        help="NAME of the variable holding the API token (default %(default)s)")

    parser = argparse.ArgumentParser(prog="python -m sensors", description=__doc__.split("\n\n")[0])
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    files = kinds.add_parser("files", parents=[common], help="starlake pre-load strategies over a datasets root")
    files.add_argument("--root", required=True, help="datasets root: local path or fsspec URL (s3://bucket/datasets)")
    files.add_argument("--domain", required=True, help="the domain (folder) to check")
    files.add_argument("--tables", default="", help="comma-separated table names; only their files count")
    files.add_argument("--strategy", choices=STRATEGIES, default="pending", help="pre-load strategy (default pending)")
    files.add_argument("--ack-file", help="ack file path template ({root}, {domain}, {ds}); "
                                          "default {root}/pending/{domain}/{ds}.ack")
    files.add_argument("--ds", help="logical date of the load (names the ack file), e.g. ${{ inputs.ds }}")

    sql = kinds.add_parser("sql", parents=[common], help="a query met when it returns a row")
    sql.add_argument("--url-env", default="SENSOR_DATABASE_URL",
                     help="NAME of the variable holding the SQLAlchemy URL (default %(default)s)")
    sql.add_argument("--query", required=True, help="a SELECT; met when it returns a row")
    sql.add_argument("--expect", help="compare the first column: >0, >=100, =1, !=0, <5")

    http = kinds.add_parser("http", parents=[common], help="a GET met on a status and a JSON-path condition")
    http.add_argument("--url", required=True, help="the URL to GET (no secrets in it: it is logged)")
    http.add_argument("--status", default="200", help="comma-separated status codes that count (default 200)")
    http.add_argument("--json-path", help="JSONPath the body must match, e.g. $.state")
    http.add_argument("--equals", help="value the first match must equal (JSON or text)")
    http.add_argument("--bearer-env", help="NAME of the variable holding a bearer token")
    http.add_argument("--username-env", help="NAME of the variable holding the basic-auth user")
    http.add_argument("--password-env", help="NAME of the variable holding the basic-auth password")

    pipeline = kinds.add_parser("pipeline", parents=[common], help="the latest run of an Orchestra pipeline")
    pipeline.add_argument("--pipeline-id", required=True, help="the pipeline's id (UUID) or alias")
    pipeline.add_argument("--statuses", default="SUCCEEDED", help="comma-separated run statuses (default SUCCEEDED)")
    pipeline.add_argument("--since", default="24h",
                          help="ISO 8601 time, or a span before the first poke (30m, 24h, 7d; default 24h)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    return run_cli(build_parser(), run_sensor, argv)


def run_sensor(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Poke until met or timed out, then trigger (``--trigger``); the outputs.

    Raises:
        UsageError: Invalid arguments (exit 2).
        SensorTimedOut: Not met by the deadline, without ``--soft-fail`` (exit 1).
        WorkerError: The check failed for good (credentials, a bad query) or the trigger failed.
    """
    env = os.environ if environ is None else environ
    masker = SecretMasker()
    for handler in logging.getLogger().handlers:
        handler.addFilter(masker)
    if args.timeout <= 0 or args.poke_interval <= 0:
        raise UsageError("--timeout and --poke-interval are seconds and must be greater than 0")
    trigger_pairs = parse_trigger_inputs(args.trigger_input)

    state = SensorState(args.state_dir, env)
    first_poke = _stored_time(state, "first_poke_at") or now_utc()
    deadline = _stored_time(state, "deadline") or first_poke + timedelta(seconds=args.timeout)
    if "deadline" not in state.document:
        state.document.update(first_poke_at=first_poke.isoformat(), deadline=deadline.isoformat())
        state.save()
    elif deadline > now_utc():
        logger.info("retried sensor task: keeping the deadline %s of the first poke at %s", iso(deadline), iso(first_poke))

    client = _client(args, env, masker) if args.kind == "pipeline" or args.trigger else None
    check = _check(args, env, masker, first_poke, client)
    if "met" in state.document:  # an earlier attempt was met, then failed later (trigger, outputs)
        logger.info("an earlier attempt of this task run met the condition; not poking again")
        outcome = Outcome(Poke(True, "met by an earlier attempt", state.document["met"]), 0, deadline)
    else:
        outcome = poke_until(check, deadline, args.poke_interval)
        if outcome.met and outcome.poke is not None:
            state.document["met"] = dict(outcome.poke.outputs)
            state.save()
    outputs: dict[str, Any] = {**(outcome.poke.outputs if outcome.poke else {}), "ready": outcome.met,
                               "sensor": args.kind, "first_poke_at": iso(first_poke), "deadline": iso(deadline),
                               "pokes": outcome.pokes}
    if not outcome.met:
        last = outcome.poke.detail if outcome.poke else "the deadline had passed before this attempt"
        message = (f"{args.kind} sensor timed out: not met by {iso(deadline)} ({args.timeout:g}s after the first "
                   f"poke at {iso(first_poke)}); last poke: {last}")
        if not args.soft_fail:
            raise SensorTimedOut(message + "; raise --timeout, or pass --soft-fail to skip the downstream tasks")
        logger.warning("%s; --soft-fail: exiting 0 with ready=false", message)
    elif args.trigger:
        assert client is not None
        inputs = run_inputs(trigger_pairs, outputs)
        outputs["triggered_pipeline_run_id"] = trigger_once(client, args.trigger, inputs, state)
    publish(outputs, env)
    return outputs


def _stored_time(state: SensorState, key: str) -> datetime | None:
    value = state.document.get(key)
    return datetime.fromisoformat(value) if value else None


def _client(args: argparse.Namespace, env: Mapping[str, str], masker: SecretMasker) -> OrchestraClient:
    token = env.get(args.token_env, "")
    if not token:
        raise ConfigError(f"environment variable {args.token_env} is not set; set it to the Orchestra API token "
                          "(or name another variable with --token-env)")
    masker.add(token)
    return OrchestraClient(args.api_url, token)


def _check(args: argparse.Namespace, env: Mapping[str, str], masker: SecretMasker, first_poke: datetime,
           client: OrchestraClient | None) -> Check:
    """The kind's check, built (and its arguments validated) before the first poke."""
    if args.kind == "files":
        tables = tuple(t.strip() for t in args.tables.split(",") if t.strip())
        return FilesCheck(args.root, args.domain, args.strategy, tables, args.ack_file, args.ds)
    if args.kind == "sql":
        url = url_from_env(args.url_env, "the database the sensor queries", env)
        masker.add(url.password if isinstance(url.password, str) else None)
        return SqlCheck(url, args.query, parse_expect(args.expect))
    if args.kind == "http":
        try:
            statuses = {int(code) for code in args.status.split(",") if code.strip()}
        except ValueError:
            raise UsageError(f"--status {args.status!r}: give status codes such as 200 or 200,204") from None
        auth, headers, secrets = auth_from_env(dict(env), args.bearer_env, args.username_env, args.password_env)
        masker.add(*secrets)
        return HttpCheck(args.url, statuses or {200}, args.json_path, args.equals, auth, headers, masker)
    assert client is not None
    since = parse_since(args.since, first_poke)
    return PipelineCheck(client, args.pipeline_id, parse_statuses(args.statuses), since)
