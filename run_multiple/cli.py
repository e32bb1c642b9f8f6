"""``python run_multiple_pipelines.py``: start many pipeline runs from one config, backfill, wait, resume.

Exit codes: 0 every run was accepted (with --wait: every run ended SUCCEEDED or WARNING); 1 a
run failed, was cancelled, was refused, did not start, timed out or has an unknown outcome, or the
API refused the token; 2 the config, the arguments or the state file are invalid (nothing started);
130 interrupted (the state file holds everything that happened; run the same command to resume).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from dotenv import dotenv_values
from rich.console import Console
from worker_kit.orchestra_api import HOSTED_APP_URL, ApiError, OrchestraClient

from run_multiple.batch import Batch, BatchOptions, Outcome, RunView
from run_multiple.config import BatchConfig, ConfigError, load_config, resolve_tokens
from run_multiple.display import Display, plan_table, runs_table, show, summary_document
from run_multiple.plan import PlannedRun, RangeOverride, plan_runs
from run_multiple.state import Reprocess, StateError, StateFile, decide, default_state_path
from run_multiple.windows import Step, WindowError

DEFAULT_CONFIG = "run_multiple_pipelines.json"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageProblem(Exception):
    """Invalid config, arguments or state: exit 2 before anything starts."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's help ends with its default ("off" for switches, "not set" for None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default:" in text or action.default is argparse.SUPPRESS:
            return text
        default = {False: "off", None: "not set"}.get(action.default, "%(default)s")  # type: ignore[call-overload]
        return f"{text} (default: {default})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``--help`` shows every flag with its default."""
    parser = argparse.ArgumentParser(
        prog="run_multiple_pipelines.py", formatter_class=_HelpFormatter,
        description="Start many Orchestra pipeline runs from one JSON config (hosted Orchestra or "
                    "orchestra-local serve): full refreshes and date-window backfills, never starting a run twice, "
                    "optionally waiting for them, resumable after a crash.",
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG), help="the batch config (JSON)")
    parser.add_argument("--env", type=Path, default=None, metavar="FILE",
                        help="dotenv file with the token variables the config names (besides the environment)")
    parser.add_argument("--app-url", default=HOSTED_APP_URL,
                        help="Orchestra's URL; http://127.0.0.1:PORT for orchestra-local serve")
    parser.add_argument("--max-retries", type=_non_negative_int, default=3,
                        help="retries of a request that provably did not reach Orchestra, or got 429")
    window = parser.add_argument_group("backfill (applied to every entry; overrides the entries' own ranges)")
    window.add_argument("--from", dest="start", type=date.fromisoformat, default=None, metavar="DATE",
                        help="first day of the backfill (YYYY-MM-DD)")
    window.add_argument("--to", dest="end", type=date.fromisoformat, default=None, metavar="DATE",
                        help="last day of the backfill, inclusive")
    window.add_argument("--step", default="1 day", help="window size: N day(s), N week(s) or N month(s)")
    window.add_argument("--newest-first", action="store_true", help="start the newest window first")
    batch = parser.add_argument_group("batch")
    batch.add_argument("--dry-run", action="store_true", help="print the expanded plan and start nothing")
    batch.add_argument("--max-concurrent", type=_positive_int, default=None, metavar="N",
                       help="most runs active at once (default: 1 when any entry is backfilled, else all)")
    batch.add_argument("--wait", action="store_true", help="wait until every run has ended")
    batch.add_argument("--stop-on-failure", action="store_true",
                       help="start nothing more once a run FAILED or a start was refused")
    batch.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS",
                       help="stop waiting for a run after this long (it is not cancelled; a re-run attaches to it)")
    batch.add_argument("--request-timeout", type=_seconds, default=30.0, metavar="SECONDS",
                       help="seconds to wait for one API response")
    batch.add_argument("--state", type=Path, default=None, metavar="FILE",
                       help="state file (default: .run_multiple_pipelines/<config name>.jsonl)")
    batch.add_argument("--reprocess", type=Reprocess, choices=list(Reprocess), default=Reprocess.FAILED,
                       help="runs that ended in an earlier invocation to start again: failed (not SUCCEEDED/WARNING), "
                            "all, or none")
    batch.add_argument("--output", choices=("table", "json"), default="table",
                       help="summary as a table, or as JSON on stdout (progress then on stderr)")
    return parser


def _override(args: argparse.Namespace) -> RangeOverride | None:
    if args.start is None and args.end is None:
        return None
    if args.start is None or args.end is None:
        raise UsageProblem("--from and --to go together")
    if args.end < args.start:
        raise UsageProblem(f"--to {args.end} is before --from {args.start}")
    try:
        return RangeOverride(args.start, args.end, Step.parse(args.step))
    except WindowError as exc:
        raise UsageProblem(f"--step: {exc}") from None


def _environ(env_file: Path | None) -> dict[str, str]:
    environ = dict(os.environ)
    if env_file is not None:
        if not env_file.is_file():
            raise UsageProblem(f"--env {env_file}: no such file")
        environ.update({name: value for name, value in dotenv_values(env_file).items() if value is not None})
    return environ


def _pipeline_ids(config: BatchConfig, clients: dict[str, OrchestraClient], source: str) -> dict[tuple[str, str], str]:
    """Every entry's pipeline id, looked up before anything starts.

    Raises:
        UsageProblem: A pipeline the workspace does not have (404).
        ApiError: The API refused the token or could not be reached.
    """
    ids: dict[tuple[str, str], str] = {}
    problems = []
    for index, entry in enumerate(config.pipelines):
        pair = (entry.workspace, entry.pipeline)
        if pair in ids:
            continue
        try:
            ids[pair] = str(clients[entry.workspace].pipeline(entry.pipeline)["id"])
        except ApiError as exc:
            if exc.status != 404:
                raise ApiError(f"workspace {entry.workspace!r} (token from {config.workspaces[entry.workspace]})",
                               exc.status, exc.detail) from None
            problems.append(f"{source}: pipelines[{index}].pipeline: workspace {entry.workspace!r} has no pipeline "
                            f"{entry.pipeline!r} ({exc.detail})")
    if problems:
        raise UsageProblem("\n".join(problems))
    return ids


def _default_concurrency(runs: Sequence[PlannedRun]) -> int:
    return 1 if any(run.window is not None for run in runs) else max(1, len(runs))


def _exit_code(views: Sequence[RunView]) -> int:
    return EXIT_OK if all(view.ok for view in views) else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; the exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    progress = err if args.output == "json" else out
    try:
        config = load_config(args.config)
        runs = plan_runs(config, override=_override(args), newest_first=args.newest_first)
        state = StateFile(args.state or default_state_path(args.config))
        decisions = decide(runs, state.states(), args.reprocess)
        if args.dry_run:
            views = [RunView(run) for run in runs]
            show(out, plan_table(views, [str(decision.action) for decision in decisions]))
            return EXIT_OK
        tokens = resolve_tokens(config, _environ(args.env), str(args.config))
    except (ConfigError, UsageProblem, StateError, WindowError) as exc:
        err.print(f"run_multiple_pipelines: {exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    clients = {label: OrchestraClient(args.app_url, token, max_retries=args.max_retries, timeout=args.request_timeout)
               for label, token in tokens.items()}
    try:
        try:
            pipeline_ids = _pipeline_ids(config, clients, str(args.config))
        except UsageProblem as exc:
            err.print(f"run_multiple_pipelines: {exc}", markup=False, soft_wrap=True)
            return EXIT_USAGE
        except ApiError as exc:
            err.print(f"run_multiple_pipelines: {exc}; nothing started", markup=False, soft_wrap=True)
            return EXIT_FAILED
        options = BatchOptions(max_concurrent=args.max_concurrent or _default_concurrency(runs), wait=args.wait,
                               stop_on_failure=args.stop_on_failure, timeout=args.timeout)
        batch = Batch(decisions, clients, pipeline_ids, state, options)
        display = Display(batch.views, progress)
        batch.changed = display.changed
        code = EXIT_INTERRUPTED
        try:
            with display.showing():
                batch.run()
            code = _exit_code(batch.views)
        except KeyboardInterrupt:
            err.print(f"interrupted; the state file {state.path} holds what happened: run the same command to resume",
                      markup=False, soft_wrap=True)
        except OSError as exc:  # an unrecorded start would be started again by a resumed batch: stop now
            err.print(f"run_multiple_pipelines: cannot write the state file {state.path}: {exc}; stopped",
                      markup=False, soft_wrap=True)
            code = EXIT_FAILED
        if args.output == "json":
            sys.stdout.write(summary_document(batch.views, code) + "\n")
        else:
            waited = sum(view.outcome is Outcome.ENDED for view in batch.views)
            show(out, runs_table(batch.views, title=f"{len(batch.views)} runs, {waited} ended here; exit {code}"))
        return code
    finally:
        for client in clients.values():
            client.close()
