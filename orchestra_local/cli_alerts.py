"""``orchestra-local alerts``: the alert outbox (what was owed, sent, retried, dead) and ``alerts deliver``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from orchestra_local.cli_support import errors_to_exit_codes, open_store, stdout, store_options
from orchestra_local.errors import OrchestraLocalError, Problem

if TYPE_CHECKING:
    from orchestra_local.spec.models import Pipeline
    from orchestra_local.store import RunStore
    from orchestra_local.workspace import Workspace

COLOURS = {"DELIVERED": "green", "PENDING": "yellow", "SENDING": "yellow", "DEAD": "red", "REMOTE_ONLY": "dim"}


@click.group(invoke_without_command=True)
@click.option("--run", "pipeline_run_id", help="Only the alerts of this pipeline run.")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True, help="Alerts to list.")
@store_options
@click.pass_context
@errors_to_exit_codes
def alerts(ctx: click.Context, pipeline_run_id: str | None, limit: int, metadata_url: str | None,
           state_dir: Path | None) -> None:
    """List alerts owed by pipeline and task runs and their delivery state (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    from orchestra_local.store.alert_outbox import list_alerts

    store = open_store(metadata_url, state_dir)
    try:
        rows = list_alerts(store, pipeline_run_id, limit=limit)
    finally:
        store.close()
    table = Table(title="alerts (newest first)", title_justify="left")
    for column in ("created (UTC)", "alert", "event", "to", "state", "attempts", "pipeline run / last error"):
        table.add_column(column)
    for row in rows:
        to = f"{row['integration']} {row['destination'] or ''}".strip()
        detail = row["detail"]
        event = f"{detail.get('task_name') or 'pipeline'} {detail['status']}"
        table.add_row(f"{row['created_at']:%Y-%m-%d %H:%M:%S}", escape(row["alert_name"]), escape(event), escape(to),
                      f"[{COLOURS.get(row['state'], 'white')}]{row['state']}[/]", str(row["attempts"]),
                      escape(row["last_error"] or row["pipeline_run_id"]))
    stdout.print(table if rows else "no alerts: no run reached a status an `alerts:` rule names")


@alerts.command()
@click.option("--repo-root", type=click.Path(path_type=Path), help="Repository whose connections.yml is used [default: cwd].")
@click.option("--connections-file", type=click.Path(path_type=Path), help="[default: <repo>/connections.yml if present]")
@click.option("--timeout", type=click.FloatRange(min=0), default=60, show_default=True,
              help="Seconds to keep retrying alerts that fail before giving up (they stay owed).")
@store_options
@errors_to_exit_codes
def deliver(repo_root: Path | None, connections_file: Path | None, timeout: float, metadata_url: str | None,
            state_dir: Path | None) -> None:
    """Send every alert still owed (after a crash, or with `serve` stopped); exit 1 if any ends DEAD or stays owed."""
    from orchestra_local.alerts.delivery import Deliverer
    from orchestra_local.store.alert_outbox import OPEN_STATES, list_alerts
    from orchestra_local.workspace import Workspace

    workspace = Workspace.load(repo_root or Path.cwd(), connections_file=connections_file)
    store = open_store(metadata_url, state_dir)
    store.masker = workspace.masker
    try:
        attempts = Deliverer(store, workspace).drain(timeout)
        still_owed = len(list_alerts(store, states=OPEN_STATES, limit=1000))
    finally:
        store.close()
    final = {attempt.alert_id: attempt for attempt in attempts}
    delivered = sum(1 for a in final.values() if a.state == "DELIVERED")
    dead = [a for a in final.values() if a.state == "DEAD"]
    stdout.print(f"{delivered} delivered, {len(dead)} dead, {still_owed} still owed ({len(attempts)} attempts)")
    for attempt in dead:
        stdout.print(f"  dead {attempt.alert_id}: {escape(attempt.error or '')}")
    if dead or still_owed:
        raise SystemExit(1)


RUN_DRAIN_SECONDS = 30.0
"""How long ``orchestra-local run`` keeps retrying its run's alerts before leaving them owed, in seconds."""


def deliver_run_alerts(store: RunStore, workspace: Workspace, pipeline_run_id: str) -> None:
    """Send the alerts a run just ended owes (``run`` calls it before exiting) and print one line about them.

    Those still failing after :data:`RUN_DRAIN_SECONDS` stay owed: ``serve`` or ``alerts deliver`` sends them.
    """
    from orchestra_local.store.alert_outbox import list_alerts

    try:
        if not list_alerts(store, pipeline_run_id, limit=1):
            return
        from orchestra_local.alerts.delivery import Deliverer  # httpx, smtplib: only when alerts are owed

        Deliverer(store, workspace).drain(RUN_DRAIN_SECONDS, pipeline_run_id)
        states = Counter(row["state"] for row in list_alerts(store, pipeline_run_id, limit=1000))
    except OrchestraLocalError as exc:  # the run's outcome stands; its alerts stay owed in the outbox
        stdout.print(f"alerts: not delivered ({escape(str(exc))}); `orchestra-local alerts deliver` sends them",
                     highlight=False)
        return
    owed = states["PENDING"] + states["SENDING"]
    parts = [f"{count} {state.lower().replace('_', '-')}" for state, count in sorted(states.items())]
    hint = "; `orchestra-local alerts deliver` retries the owed ones" if owed else ""
    stdout.print(f"alerts: {', '.join(parts)}{hint}", highlight=False)


def alert_connection_problems(model: Pipeline, connections: Mapping[str, object], file: str) -> list[Problem]:
    """Warnings, before a run, for alert destinations naming a connection the connections file lacks
    (their alerts would end DEAD): ``run`` prints them with their YAML path."""
    from orchestra_local.spec.rules import LOCAL_ALERT_INTEGRATIONS, alert_destinations

    return [Problem(loc=(*loc, "connection_id"), type="local_runner", severity="warning", file=file,
                    msg=f"no connection '{destination.connection_id}' in the connections file, so this alert would "
                        "not be delivered; add it (see connections.example.yml)")
            for loc, destination in alert_destinations(model)
            if destination.integration in LOCAL_ALERT_INTEGRATIONS and destination.connection_id
            and destination.connection_id not in connections]
