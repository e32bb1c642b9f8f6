"""Which local DuckDB files a dbt task's targets write, read the way dbt reads its profile.

The runner serialises tasks that write one DuckDB file (see ``engine/pool_claims.py``); for a dbt
task that file is the ``path`` of the selected target of a ``type: duckdb`` output (and the
``attach`` entries that are not ``read_only``). The profile is rendered by dbt's own
``ProfileRenderer`` (``env_var()``, filters, ``target:`` selection) against the task's environment,
not the runner's, so the answer is the file dbt itself will open.

Selection follows dbt's flags for each command: ``--profiles-dir`` / ``DBT_PROFILES_DIR`` / the
project folder when it holds ``profiles.yml`` / ``~/.dbt``; ``--profile`` / ``DBT_PROFILE`` /
``dbt_project.yml``'s ``profile``; ``--target`` / ``-t`` / ``DBT_TARGET`` / the profile's
``target``. Not considered: ``--vars`` in profiles, ``--project-dir`` overrides inside commands.
"""

from __future__ import annotations

import contextvars
import os
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

IN_MEMORY_OR_REMOTE = (":memory:", "md:", "motherduck:")


def _flag(args: list[str], *names: str) -> str | None:
    """Value of the last ``--name value`` / ``--name=value`` among ``args``."""
    value = None
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                value = args[index + 1]
            elif arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
    return value


def _local_file(raw: Any, project: Path) -> Path | None:
    """The absolute file of a dbt-duckdb ``path`` value; None for memory, MotherDuck or URLs."""
    if not isinstance(raw, str) or not raw.strip():
        return None  # dbt-duckdb's default is an in-memory database
    text = raw.strip()
    if text.lower().startswith(IN_MEMORY_OR_REMOTE) or "://" in text:
        return None
    path = Path(text).expanduser()
    # One name per file, whatever symlinks or ``..`` lead to it: the pool's name is this path.
    return Path(os.path.realpath(path if path.is_absolute() else project / path))


def _target_files(output: Mapping[str, Any], renderer: Any, project: Path) -> list[Path]:
    if str(renderer.render_value(output.get("type", ""))).lower() != "duckdb":
        return []
    files = [_local_file(renderer.render_value(output.get("path")), project)]
    for attached in output.get("attach") or []:
        if isinstance(attached, Mapping) and not renderer.render_value(attached.get("read_only", False)):
            files.append(_local_file(renderer.render_value(attached.get("path")), project))
    return [file for file in files if file is not None]


def _files_of_command(args: list[str], project: Path, env: Mapping[str, str]) -> list[Path]:
    from dbt.config.profile import read_profile
    from dbt.config.project import PartialProject
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    set_invocation_context(env)  # env_var() in the profile reads the task's environment
    renderer = ProfileRenderer({})
    profiles_dir = _flag(args, "--profiles-dir") or env.get("DBT_PROFILES_DIR")
    if not profiles_dir:
        home = Path(env.get("HOME", str(Path.home())))
        profiles_dir = str(project if (project / "profiles.yml").is_file() else home / ".dbt")
    profiles = read_profile(profiles_dir)
    name = _flag(args, "--profile") or env.get("DBT_PROFILE")
    if name is None:
        name = PartialProject.from_project_root(str(project)).render_profile_name(renderer)
    profile = profiles.get(name) if name else None
    if not isinstance(profile, Mapping):
        return []
    target = _flag(args, "--target", "-t") or env.get("DBT_TARGET")
    if target is None:
        target = renderer.render_value(profile.get("target", "default"))
    output = (profile.get("outputs") or {}).get(target)
    return _target_files(output, renderer, project) if isinstance(output, Mapping) else []


def duckdb_files(project: Path, env: Mapping[str, str], commands: Iterable[str]) -> list[Path]:
    """The local DuckDB files the commands' targets write, resolved to absolute real paths.

    Args:
        project: The dbt project folder (dbt's working directory; relative paths start there).
        env: The environment dbt runs with (``DBT_*`` and the variables ``env_var()`` reads).
        commands: dbt commands as written, e.g. ``dbt build --target duckdb``.

    Returns:
        Each file once, in the order found; empty when no target is a local DuckDB file.

    Raises:
        Exception: What dbt raises for a profile or project it cannot read or render (e.g.
            ``DbtProfileError`` for an ``env_var()`` without a value); dbt would fail the same way.
    """
    found: list[Path] = []
    for command in commands:
        args = shlex.split(command)[1:]
        # dbt keeps the environment in a context variable: render in a copy, leaving the caller's alone.
        for file in contextvars.copy_context().run(_files_of_command, args, project, env):
            if file not in found:
                found.append(file)
    return found
