"""``orchestra-local``: validate, plan and run Orchestra pipeline YAML on this machine.

\b
Examples:
  orchestra-local validate orchestra/
  orchestra-local plan orchestra/tpch_elt.yml
  orchestra-local run orchestra/tpch_elt.yml --input write_disposition=replace --max-parallel 4
  orchestra-local runs
  orchestra-local runs <pipeline_run_id>
  orchestra-local logs <pipeline_run_id> dbt_build
  orchestra-local export dagster --out deploy/dagster/

\b
Exit codes:
  0  the run SUCCEEDED or ended WARNING (validate: every file is valid)
  1  the run FAILED, was CANCELLED or SKIPPED, or the runner itself failed
  2  invalid input: bad YAML, unknown file, missing or wrong run input, remote-only tasks
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from orchestra_local.cli_alerts import alert_connection_problems, alerts, deliver_run_alerts
from orchestra_local.cli_export import export
from orchestra_local.cli_scheduling import scheduler, ticks
from orchestra_local.cli_support import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    errors_to_exit_codes,
    open_store,
    print_problems,
    scheduler_options,
    server_options,
    stderr,
    stdout,
    store_options,
)
from orchestra_local.errors import (
    InvalidInputError,
    PipelineValidationError,
    StoreError,
)
from orchestra_local.settings import PYTHON_ISOLATIONS, resolve_settings
from orchestra_local.spec.loader import LoadedPipeline, discover, load_file, validate_file

# Each command imports what only it needs (the store, the engine, rich's tables, networkx) in its
# body, so `validate` and `run` start without SQLAlchemy, FastAPI, dbt or dlt unless they use them.
if TYPE_CHECKING:
    from orchestra_local.store import RunStore

def _loadable(paths: list[Path]) -> dict[str, LoadedPipeline]:
    """The files the runner can load, by their name as given (one it refuses was reported already)."""
    loaded = {}
    for path in paths:
        try:
            loaded[str(path)] = load_file(path)
        except PipelineValidationError:
            continue  # valid for Orchestra, not runnable here: its warning says why; it triggers nothing locally
    return loaded


def _parse_inputs(pairs: tuple[str, ...]) -> dict[str, str]:
    inputs = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"--input expects name=value, got {pair!r}")
        inputs[name.strip()] = value
    return inputs


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _cancel_on_termination_signals() -> None:
    """SIGTERM and SIGHUP (e.g. the terminal closed) cancel the run cleanly, like Ctrl-C.

    A SIGHUP ignored when we started (``nohup``) stays ignored.
    """
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _raise_keyboard_interrupt)


@click.group(help=__doc__, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="orchestra-local")
def main(debug: bool) -> None:
    """Entry point of the ``orchestra-local`` console script."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json prints Orchestra's {'detail': [...]} shape per file.")
@errors_to_exit_codes
def validate(paths: tuple[Path, ...], output: str) -> None:
    """Validate pipeline files (folders are searched for *.yml/*.yaml). Every bad file is reported."""
    files = discover(paths)
    report: dict[str, Any] = {}
    bad = 0
    for path in files:
        try:
            warnings = validate_file(path)  # refuses only what Orchestra refuses (spec/agreement.py)
            report[str(path)] = {"message": "Pipeline schema is valid",
                                 "warnings": [p.as_detail() for p in warnings]}
            if output == "text":
                stdout.print(f"[green]valid[/]   {escape(str(path))}", highlight=False)
                print_problems(list(warnings))
        except PipelineValidationError as exc:
            bad += 1
            report[str(path)] = {"detail": [p.as_detail() for p in exc.problems]}
            if output == "text":
                print_problems(exc.problems)
    loaded = _loadable([path for path in files if "detail" not in report[str(path)]]) if len(files) > 1 else {}
    if len(loaded) > 1:
        from orchestra_local.spec.trigger_graph import trigger_loops  # networkx: only for several files
    keys = {str(pipeline.path): key for key, pipeline in loaded.items()}
    for problem in trigger_loops(list(loaded.values())) if len(loaded) > 1 else []:
        report[keys[str(problem.file)]]["warnings"].append(problem.as_detail())  # a loop across files: a warning
        if output == "text":
            print_problems([problem])
    if output == "json":
        click.echo(json.dumps(report, indent=2, default=str))
    elif bad:
        stderr.print(f"{bad} of {len(files)} files invalid")
    sys.exit(EXIT_INVALID if bad else EXIT_OK)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--input", "inputs", multiple=True, metavar="NAME=VALUE", help="Run input (repeatable).")
@click.option("--env-file", type=click.Path(path_type=Path), help="dotenv file for ${{ ENV.X }}.")
@errors_to_exit_codes
def plan(file: Path, inputs: tuple[str, ...], env_file: Path | None) -> None:
    """Show task groups and tasks after matrix expansion, with dependencies and conditions."""
    from orchestra_local.console import plan_tree
    from orchestra_local.engine.inputs import resolve_inputs
    from orchestra_local.engine.plan import build_plan
    from orchestra_local.expressions import Scope
    from orchestra_local.workspace import Workspace

    loaded = load_file(file)
    env = Workspace.load(resolve_settings(loaded.path).repo_root, env_file=env_file).env
    resolved = resolve_inputs(loaded.model, _parse_inputs(inputs), Scope(env=env))
    stdout.print(plan_tree(build_plan(loaded.model, Scope(inputs=resolved, env=env))))


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--input", "inputs", multiple=True, metavar="NAME=VALUE", help="Run input (repeatable).")
@click.option("--max-parallel", type=click.IntRange(min=1), help="Most tasks running at once [default: CPUs].")
@click.option("--env-file", type=click.Path(path_type=Path), help="dotenv file: values for ${{ ENV.X }} and tasks.")
@click.option("--environment", help="Environment to select from the environments file [default: its default].")
@click.option("--environments-file", type=click.Path(path_type=Path), help="[default: <repo>/environments.yml if present]")
@click.option("--connections-file", type=click.Path(path_type=Path), help="[default: <repo>/connections.yml if present]")
@click.option("--task-ids", help="Run only these tasks (comma-separated ids); the others end SKIPPED.")
@click.option("--continue-downstream", is_flag=True, help="With --task-ids, also run everything downstream.")
@click.option("--retry-from-failed", metavar="PIPELINE_RUN_ID",
              help="Re-run the failed and skipped tasks of that run with its inputs; reuse what succeeded.")
@click.option("--skip-remote", is_flag=True, help="Record remote-only (SaaS) tasks SKIPPED instead of refusing.")
@click.option("--metadata-url", envvar="ORCHESTRA_LOCAL_METADATA_URL",
              help="SQLAlchemy URL of the metadata DB [env ORCHESTRA_LOCAL_METADATA_URL; default: SQLite in state dir].")
@click.option("--state-dir", type=click.Path(path_type=Path), envvar="ORCHESTRA_LOCAL_HOME",
              help="State directory [env ORCHESTRA_LOCAL_HOME; default <repo>/.orchestra_local].")
@click.option("--retry-delay-scale", type=click.FloatRange(min=0), envvar="ORCHESTRA_LOCAL_RETRY_DELAY_SCALE",
              help="Multiply retry_delay (minutes) by this [env ORCHESTRA_LOCAL_RETRY_DELAY_SCALE; default 1].")
@click.option("--progress/--no-progress", default=True, help="Live progress display (off: one line per task).")
@click.option("--isolation", type=click.Choice(PYTHON_ISOLATIONS), envvar="ORCHESTRA_LOCAL_PYTHON_ISOLATION",
              help="Python tasks run in the runner's interpreter (shared) or a cached environment of their project "
                   "(per-project) [env ORCHESTRA_LOCAL_PYTHON_ISOLATION; default auto: per-project when the project "
                   "has requirements.txt, a build_command or another python_version].")
@click.option("--branch", help="Run the pipeline as it is on this git branch (a worktree under the state dir).")
@click.option("--commit", help="Run the pipeline as it is at this commit (with --branch: a commit on that branch).")
@errors_to_exit_codes
def run(
    file: Path, inputs: tuple[str, ...], max_parallel: int | None, env_file: Path | None, environment: str | None,
    environments_file: Path | None, connections_file: Path | None, task_ids: str | None, continue_downstream: bool,
    retry_from_failed: str | None, skip_remote: bool, metadata_url: str | None, state_dir: Path | None,
    retry_delay_scale: float | None, progress: bool, isolation: str | None, branch: str | None, commit: str | None,
) -> None:
    """Run a pipeline file and record it in the metadata store."""
    from orchestra_local.console import RUN_SUMMARY_ROWS, LiveProgress
    from orchestra_local.engine.events import RunListener
    from orchestra_local.engine.runner import prepare_run
    from orchestra_local.engine.supervisor import execute_supervised
    from orchestra_local.store import RunStore
    from orchestra_local.workspace import Workspace
    from orchestra_local.worktrees import at_revision

    started = time.monotonic()
    settings = resolve_settings(
        file, state_dir=state_dir, metadata_url=metadata_url, max_parallel=max_parallel,
        retry_delay_scale=retry_delay_scale, python_isolation=isolation,
    )
    workspace = Workspace.load(settings.repo_root, env_file=env_file, connections_file=connections_file,
                               environments_file=environments_file)
    revision = at_revision(settings, file, branch=branch, commit=commit)  # the working tree when None
    if revision is not None:
        settings = revision.settings
    loaded = load_file(file if revision is None else revision.pipeline_path)
    print_problems(list(loaded.warnings) + alert_connection_problems(loaded.model, workspace.connections, str(file)))
    request = workspace.request(
        environment=environment, inputs=_parse_inputs(inputs), skip_remote=skip_remote,
        task_ids=[t for t in (task_ids or "").split(",") if t.strip()], continue_downstream=continue_downstream,
        retry_from_failed=retry_from_failed,
    )
    if continue_downstream and not task_ids:
        raise InvalidInputError("--continue-downstream needs --task-ids")
    store = RunStore(settings.metadata_url, workspace.masker)
    console = stdout
    listener: LiveProgress | RunListener = LiveProgress(console, workspace.masker)
    execution = prepare_run(loaded, request, settings=settings, store=store, listener=listener)
    _cancel_on_termination_signals()
    if progress and console.is_terminal:
        with listener:  # type: ignore[union-attr]
            outcome = execute_supervised(execution)
    else:
        outcome = execute_supervised(execution)
    _print_run(store, outcome.pipeline_run_id, limit=RUN_SUMMARY_ROWS)
    deliver_run_alerts(store, workspace, outcome.pipeline_run_id)
    where = escape(f"logs and artifacts under {settings.runs_dir / outcome.pipeline_run_id}; metadata in "
                   f"{store.engine.url.render_as_string(hide_password=True)}")
    console.print(
        f"pipeline run {outcome.pipeline_run_id} [bold]{outcome.status}[/] in {time.monotonic() - started:.1f}s; {where}",
        highlight=False, soft_wrap=True,
    )
    sys.exit(EXIT_OK if outcome.status in ("SUCCEEDED", "WARNING") else EXIT_FAILED)


def _print_run(store: RunStore, pipeline_run_id: str, limit: int | None = None) -> None:
    from orchestra_local.console import failure_details, run_summary_rows, task_run_table

    task_runs = store.list_task_runs(pipeline_run_id)
    shown, rest = run_summary_rows(task_runs, limit) if limit is not None else (task_runs, "")
    operations: dict[str, list[dict[str, Any]]] = {}
    for op in store.list_operations(pipeline_run_id=pipeline_run_id):
        operations.setdefault(op["task_run_id"], []).append(op)
    by_task_run = store.outputs_of_run(pipeline_run_id)
    outputs = {tr["id"]: by_task_run.get(tr["id"], {}) for tr in task_runs if not tr["matrix_parent"]}
    stdout.print(task_run_table(shown, outputs, operations))
    if rest:
        stdout.print(f"{rest}: `orchestra-local runs {pipeline_run_id}` lists every one")
    for detail in failure_details(task_runs):
        stdout.print(detail, soft_wrap=True)


@main.command()
@click.argument("pipeline_run_id", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Runs to list.")
@store_options
@errors_to_exit_codes
def runs(pipeline_run_id: str | None, limit: int, metadata_url: str | None, state_dir: Path | None) -> None:
    """List recent pipeline runs, or show one run's task runs."""
    from orchestra_local.console import pipeline_runs_table

    store = open_store(metadata_url, state_dir)
    if pipeline_run_id is None:
        stdout.print(pipeline_runs_table(store.list_pipeline_runs(limit=limit)))
        return
    record = store.get_pipeline_run(pipeline_run_id)
    if record is None:
        raise InvalidInputError(f"no pipeline run {pipeline_run_id} in {store.engine.url.render_as_string(hide_password=True)}")
    stdout.print(pipeline_runs_table([record]))
    _print_run(store, pipeline_run_id)


@main.command()
@click.argument("pipeline_run_id")
@click.argument("task", required=False)
@click.option("--attempt", type=click.IntRange(min=1), help="Attempt to show  [default: the latest].")
@click.option("--metadata-url", envvar="ORCHESTRA_LOCAL_METADATA_URL", help="SQLAlchemy URL of the metadata DB.")
@click.option("--state-dir", type=click.Path(path_type=Path), envvar="ORCHESTRA_LOCAL_HOME", help="State directory.")
@errors_to_exit_codes
def logs(pipeline_run_id: str, task: str | None, attempt: int | None, metadata_url: str | None,
         state_dir: Path | None) -> None:
    """Print a task's logs (TASK: task id, group.task, task[matrix value] or task run id); without TASK, the tasks."""
    from orchestra_local.run_logs import print_logs
    from orchestra_local.store import RunStore

    settings = resolve_settings(Path.cwd(), state_dir=state_dir, metadata_url=metadata_url)
    store = RunStore(settings.metadata_url)
    if store.get_pipeline_run(pipeline_run_id) is None:
        raise InvalidInputError(f"no pipeline run {pipeline_run_id} in {settings.metadata_url}")
    if task is None:
        _print_run(store, pipeline_run_id)
    else:
        print_logs(store, pipeline_run_id, task, attempt, stdout, stderr)


@main.command()
@click.argument("pipeline_run_id")
@click.option("--metadata-url", envvar="ORCHESTRA_LOCAL_METADATA_URL", help="SQLAlchemy URL of the metadata DB.")
@click.option("--state-dir", type=click.Path(path_type=Path), envvar="ORCHESTRA_LOCAL_HOME", help="State directory.")
@errors_to_exit_codes
def cancel(pipeline_run_id: str, metadata_url: str | None, state_dir: Path | None) -> None:
    """Cancel a run, whoever executes it (`orchestra-local run` or `serve`), or clear one whose runner died.

    A run whose runner died: the task processes it left are killed (each checked by its start
    time) and the run is marked CANCELLED. Exit 1 if the run has not ended within 30 seconds.
    """
    from orchestra_local.engine.stale import cancel_run
    from orchestra_local.store import RunStore

    settings = resolve_settings(Path.cwd(), state_dir=state_dir, metadata_url=metadata_url)
    outcome = cancel_run(RunStore(settings.metadata_url), pipeline_run_id)
    stdout.print(outcome.message, highlight=False)
    if not outcome.ended:
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("task_run_id")
@click.option("--reject", is_flag=True, help="Reject instead of approving (the task fails).")
@click.option("--message", help="Reason, recorded on the task run.")
@click.option("--metadata-url", envvar="ORCHESTRA_LOCAL_METADATA_URL", help="SQLAlchemy URL of the metadata DB.")
@click.option("--state-dir", type=click.Path(path_type=Path), envvar="ORCHESTRA_LOCAL_HOME", help="State directory.")
@errors_to_exit_codes
def approve(task_run_id: str, reject: bool, message: str | None, metadata_url: str | None, state_dir: Path | None) -> None:
    """Approve (or --reject) an ORCHESTRA/APPROVAL task that a run is waiting on."""
    from orchestra_local.store import RunStore

    settings = resolve_settings(Path.cwd(), state_dir=state_dir, metadata_url=metadata_url)
    store = RunStore(settings.metadata_url)
    try:
        store.decide_approval(task_run_id, approved=not reject, message=message)
    except StoreError as exc:
        raise InvalidInputError(str(exc)) from None
    stdout.print(f"task run {task_run_id} {'rejected' if reject else 'approved'}")


@main.group()
def db() -> None:
    """The metadata database's schema (Alembic migrations; every command also upgrades on open)."""


@db.command("upgrade")
@click.option("--metadata-url", envvar="ORCHESTRA_LOCAL_METADATA_URL", help="SQLAlchemy URL of the metadata DB.")
@click.option("--state-dir", type=click.Path(path_type=Path), envvar="ORCHESTRA_LOCAL_HOME", help="State directory.")
@errors_to_exit_codes
def db_upgrade(metadata_url: str | None, state_dir: Path | None) -> None:
    """Apply every pending migration (under a lock: safe while other processes use the database)."""
    from orchestra_local.store import RunStore
    from orchestra_local.store.schema import HEAD, current_revision

    settings = resolve_settings(Path.cwd(), state_dir=state_dir, metadata_url=metadata_url)
    store = RunStore(settings.metadata_url)  # opening upgrades
    try:
        with store.engine.connect() as connection:
            revision = current_revision(connection)
    finally:
        store.close()
    newest = "newest" if revision == HEAD else f"this runner's newest is {HEAD}"
    stdout.print(f"metadata database at revision {revision} ({newest})", highlight=False)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8000, show_default=True)
@click.option("--token", envvar="ORCHESTRA_LOCAL_API_TOKEN",
              help="Bearer token clients must send [env ORCHESTRA_LOCAL_API_TOKEN; default: generated and printed].")
@server_options
@click.option("--max-body-bytes", type=click.IntRange(min=1024), default=1024 * 1024, show_default=True,
              help="Largest request body accepted; larger ones answer 413 before they are read.")
@click.option("--docs/--no-docs", default=False, show_default=True,
              help="Serve Swagger UI at /api/engine/public/docs (its page loads scripts from a CDN).")
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True, show_default=True,
              help="Start the pipelines' schedules (`orchestra-local scheduler` runs them without the API).")
@scheduler_options
@errors_to_exit_codes
def serve(
    host: str, port: int, token: str | None, repo_root: Path | None, max_parallel: int | None, env_file: Path | None,
    connections_file: Path | None, environments_file: Path | None, metadata_url: str | None, state_dir: Path | None,
    isolation: str | None, max_body_bytes: int, docs: bool, with_scheduler: bool, catch_up: str,
) -> None:
    """Serve Orchestra's public API (/api/engine/public) for the pipelines in orchestra/, the run viewer (/)
    and, unless --no-scheduler, their schedules."""
    import uvicorn

    from orchestra_local.api.app import ApiSettings, create_app
    from orchestra_local.workspace import Workspace

    runner = resolve_settings(repo_root or Path.cwd(), repo_root=repo_root, state_dir=state_dir,
                              metadata_url=metadata_url, max_parallel=max_parallel, python_isolation=isolation)
    workspace = Workspace.load(runner.repo_root, env_file=env_file, connections_file=connections_file,
                               environments_file=environments_file)
    generated = not (token or "").strip()  # unset, "" and blanks alike: never serve with an empty token
    settings = ApiSettings(runner=runner, token=ApiSettings.new_token() if generated else str(token),
                           max_body_bytes=max_body_bytes, docs=docs, scheduler=with_scheduler, catch_up=catch_up)
    app = create_app(settings, workspace)
    if generated:
        stderr.print(f"API token (set ORCHESTRA_LOCAL_API_TOKEN to choose one): {settings.token}", highlight=False)
    stderr.print(f"serving {runner.repo_root / 'orchestra'} at http://{host}:{port}/api/engine/public; "
                 f"run viewer at http://{host}:{port}/; schedules {'on' if with_scheduler else 'off'}", highlight=False)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # a closed terminal shuts down like Ctrl-C:
        signal.signal(signal.SIGHUP, lambda *_: signal.raise_signal(signal.SIGTERM))  # runs cancelled
    uvicorn.run(app, host=host, port=port, log_level="warning")


main.add_command(scheduler)
main.add_command(ticks)
main.add_command(alerts)
main.add_command(export)


if __name__ == "__main__":  # pragma: no cover - `python -m orchestra_local.cli`
    main()
