"""What every ``orchestra-local`` command shares: consoles, exit codes, the error boundary, server options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from orchestra_local.errors import InvalidInputError, OrchestraLocalError, PipelineValidationError, Problem
from orchestra_local.settings import PYTHON_ISOLATIONS, resolve_settings

if TYPE_CHECKING:  # the store (SQLAlchemy, alembic) is imported by the commands that open it
    from orchestra_local.store import RunStore

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
# Without a terminal (CI, pipes) rich would wrap at 80 columns; logs read better unwrapped.
stdout = Console(width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def errors_to_exit_codes(command: F) -> F:
    """The CLI boundary: known errors become one ``Error:`` line and an exit code (``--debug``: traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return command(*args, **kwargs)
        except PipelineValidationError as exc:
            if debug:
                raise
            print_problems(exc.problems)
            sys.exit(EXIT_INVALID)
        except InvalidInputError as exc:
            if debug:
                raise
            stderr.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            sys.exit(EXIT_INVALID)
        except OrchestraLocalError as exc:
            if debug:
                raise
            stderr.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            sys.exit(EXIT_FAILED)

    return wrapper  # type: ignore[return-value]


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        label = "[yellow]warning[/]" if problem.severity == "warning" else "[red]error[/]"
        stderr.print(f"{label} {escape(problem.human().replace('warning: ', '', 1))}", highlight=False, soft_wrap=True)



def server_options(command: F) -> F:
    """The options of a long-running process that starts runs (``serve``, ``scheduler``): where the
    repository, state and metadata are, and what the runs get (env, connections, environments, isolation)."""
    options = [
        click.option("--repo-root", type=click.Path(path_type=Path),
                     help="Repository whose orchestra/ folder is used [default: cwd's repo]."),
        click.option("--max-parallel", type=click.IntRange(min=1), help="Most tasks running at once per run [default: CPUs]."),
        click.option("--env-file", type=click.Path(path_type=Path), help="dotenv file for the runs."),
        click.option("--connections-file", type=click.Path(path_type=Path),
                     help="[default: <repo>/connections.yml if present]"),
        click.option("--environments-file", type=click.Path(path_type=Path),
                     help="[default: <repo>/environments.yml if present]"),
        click.option("--metadata-url", envvar="ORCHESTRA_LOCAL_METADATA_URL", help="SQLAlchemy URL of the metadata DB."),
        click.option("--state-dir", type=click.Path(path_type=Path), envvar="ORCHESTRA_LOCAL_HOME", help="State directory."),
        click.option("--isolation", type=click.Choice(PYTHON_ISOLATIONS), envvar="ORCHESTRA_LOCAL_PYTHON_ISOLATION",
                     help="Where Python tasks run, as for `run` [env ORCHESTRA_LOCAL_PYTHON_ISOLATION; default auto]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def scheduler_options(command: F) -> F:
    """``--catch-up``: what a scheduler does with fire times missed while it was not running."""
    return click.option("--catch-up", type=click.Choice(["none", "last"]), default="none", show_default=True,
                        help="Fire times missed while down: none (recorded as skipped ticks) or last "
                             "(one run for the latest).")(command)


def store_options(command: F) -> F:
    """``--metadata-url`` and ``--state-dir``: where a command that reads the metadata store finds it."""
    command = click.option("--state-dir", type=click.Path(path_type=Path), envvar="ORCHESTRA_LOCAL_HOME",
                           help="State directory.")(command)
    return click.option("--metadata-url", envvar="ORCHESTRA_LOCAL_METADATA_URL",
                        help="SQLAlchemy URL of the metadata DB.")(command)


def open_store(metadata_url: str | None, state_dir: Path | None) -> RunStore:
    """The metadata store the options name (default: the SQLite file of the state directory).

    Raises:
        StoreError: It cannot be opened.
    """
    from orchestra_local.store import RunStore

    return RunStore(resolve_settings(Path.cwd(), state_dir=state_dir, metadata_url=metadata_url).metadata_url)
