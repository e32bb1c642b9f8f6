"""``orchestra-local scheduler`` (the schedules without the API) and ``orchestra-local ticks`` (why a pipeline did or didn't run)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from orchestra_local.cli_support import (
    errors_to_exit_codes,
    open_store,
    scheduler_options,
    server_options,
    stderr,
    stdout,
    store_options,
)
from orchestra_local.settings import resolve_settings


@click.command()
@server_options
@scheduler_options
@errors_to_exit_codes
def scheduler(repo_root: Path | None, max_parallel: int | None, env_file: Path | None, connections_file: Path | None,
              environments_file: Path | None, metadata_url: str | None, state_dir: Path | None, isolation: str | None,
              catch_up: str) -> None:
    """Start the runs the schedules of orchestra/*.yml ask for, until Ctrl-C or SIGTERM (which cancel the runs it started).

    Several schedulers (or `serve`s) may share one metadata database: each fire time starts one run.
    """
    from orchestra_local.api.service import RunService
    from orchestra_local.scheduling.scheduler import Scheduler
    from orchestra_local.store import RunStore
    from orchestra_local.workspace import Workspace

    runner = resolve_settings(repo_root or Path.cwd(), repo_root=repo_root, state_dir=state_dir,
                              metadata_url=metadata_url, max_parallel=max_parallel, python_isolation=isolation)
    workspace = Workspace.load(runner.repo_root, env_file=env_file, connections_file=connections_file,
                               environments_file=environments_file)
    service = RunService(runner, RunStore(runner.metadata_url, workspace.masker), workspace)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, lambda *_: stop.set())
    stderr.print(f"scheduling {runner.repo_root / 'orchestra'} (catch-up: {catch_up}); Ctrl-C stops", highlight=False)
    try:
        Scheduler(service, catch_up=catch_up).run(stop)  # type: ignore[arg-type]
    finally:
        service.shutdown()


@click.command()
@click.argument("pipeline", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True, help="Ticks to list.")
@store_options
@errors_to_exit_codes
def ticks(pipeline: str | None, limit: int, metadata_url: str | None, state_dir: Path | None) -> None:
    """Why a pipeline did or didn't run: its latest schedule fire times and what each did (newest first).

    PIPELINE is a pipeline's alias (file stem) or id; without it, every pipeline's ticks.
    """
    from orchestra_local.store.ticks import list_ticks

    store = open_store(metadata_url, state_dir)
    try:
        rows = list_ticks(store, pipeline, limit=limit)
    finally:
        store.close()
    table = Table(title="ticks (newest first)", title_justify="left")
    for column in ("pipeline", "trigger", "scheduled for (UTC)", "evaluated (UTC)", "outcome", "pipeline run / reason"):
        table.add_column(column)
    colours = {"STARTED": "green", "SKIPPED": "yellow", "TIMED_OUT": "yellow", "FAILED": "red"}
    for row in rows:
        table.add_row(escape(row["pipeline_alias"]), escape(f"{row['trigger_kind'].lower()} {row['trigger_name']}"),
                      f"{row['scheduled_for']:%Y-%m-%d %H:%M:%S}", f"{row['evaluated_at']:%Y-%m-%d %H:%M:%S}",
                      f"[{colours.get(row['outcome'], 'white')}]{row['outcome']}[/]",
                      escape(row["pipeline_run_id"] or row["reason"]))
    stdout.print(table if rows else "no ticks yet: no schedule has fired (is `serve` or `scheduler` running?)")
