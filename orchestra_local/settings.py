"""Where the runner keeps things and how it is tuned: the one place that reads its environment.

Environment variables (each has a CLI option of the same meaning, which wins):

| variable | meaning | default |
|---|---|---|
| ``ORCHESTRA_LOCAL_REPO_ROOT`` | repository root; ``project_dir`` is relative to it | nearest ancestor of the pipeline file holding ``.git`` |
| ``ORCHESTRA_LOCAL_HOME`` | state directory (metadata DB, logs, artifacts) | ``<repo root>/.orchestra_local`` |
| ``ORCHESTRA_LOCAL_METADATA_URL`` | SQLAlchemy URL of the metadata DB | SQLite file ``<state>/metadata.db`` |
| ``ORCHESTRA_LOCAL_RETRY_DELAY_SCALE`` | factor applied to ``retry_delay`` (tests use ~0.001) | ``1`` |
| ``ORCHESTRA_LOCAL_PYTHON_ISOLATION`` | where Python tasks run: ``shared`` (the runner's interpreter), ``per-project`` (a cached virtual environment per project, ``orchestra_local/venvs/``), ``auto`` | ``auto``: per-project when the project has a ``requirements.txt``, a ``build_command`` or a ``python_version`` other than the runner's |
| ``ORCHESTRA_LOCAL_PYTHON_SEARCH_PATH`` | folders (``os.pathsep``-separated) where per-project environments look for interpreters | pyenv's installed versions, then ``PATH`` |

Slots of named pools (``engine/pools.py``) come from ``<state dir>/pools.yml``, read by every
process sharing the state directory (as ``$DAGSTER_HOME/dagster.yaml`` holds Dagster's pool limits),
e.g. ``pools: {api_quota: 2}``; a pool it does not list has one slot.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from orchestra_local.errors import InvalidInputError

STATE_DIR_NAME = ".orchestra_local"
VENVS_DIR_NAME = "venvs"
"""Folder of the state directory holding cached per-project Python environments."""
WORKTREES_DIR_NAME = "worktrees"
"""Folder of the state directory holding git worktrees of runs of a given revision, one per commit."""
POOLS_FILE_NAME = "pools.yml"
"""File of the state directory giving named pools their slots: ``pools: {<name>: <slots>}``."""
MAX_POOL_SLOTS = 1000

PythonIsolation = Literal["auto", "shared", "per-project"]
PYTHON_ISOLATIONS: tuple[str, ...] = get_args(PythonIsolation)


class GitRef(BaseModel):
    """The branch and commit a run executes when it was started at a revision (``worktrees.py``)."""

    model_config = ConfigDict(frozen=True)

    branch: str | None
    commit: str


class PythonEnvironments(BaseModel):
    """Where PYTHON_EXECUTE_SCRIPT tasks run (``orchestra_local/venvs/``).

    Attributes:
        isolation: ``shared`` = the runner's interpreter; ``per-project`` = a cached virtual
            environment per (project_dir, python_version, requirements); ``auto`` = per-project
            when the project has a ``requirements.txt``, a ``build_command`` or a
            ``python_version`` other than the runner's, shared otherwise.
        search_path: Folders where interpreters are looked for; None = pyenv's installed versions,
            then ``PATH`` (``venvs.interpreters.default_search_path``).
    """

    model_config = ConfigDict(frozen=True)

    isolation: PythonIsolation = "auto"
    search_path: tuple[str, ...] | None = None


class RunnerSettings(BaseModel):
    """Resolved settings of one runner invocation.

    Attributes:
        repo_root: Absolute repository root.
        state_dir: Absolute state directory.
        metadata_url: SQLAlchemy URL of the metadata database.
        max_parallel: Most task attempts running at once (>= 1).
        retry_delay_scale: Multiplier of ``retry_delay`` minutes (1.0 = as configured).
        python: Where Python tasks run (isolation, interpreter search path).
        git_ref: Set when ``repo_root`` is a worktree of a requested branch/commit: what the run
            records and ``ORCHESTRA.CURRENT_BRANCH`` says (the worktree's HEAD is detached).
        pool_slots: Slots of named pools (``<state dir>/pools.yml``); others have one.
    """

    model_config = ConfigDict(frozen=True)

    repo_root: Path
    state_dir: Path
    metadata_url: str
    max_parallel: int = Field(ge=1)
    retry_delay_scale: float = Field(ge=0)
    python: PythonEnvironments = PythonEnvironments()
    git_ref: GitRef | None = None
    pool_slots: dict[str, int] = Field(default_factory=dict)

    @property
    def runs_dir(self) -> Path:
        """Folder holding each pipeline run's logs and artifacts."""
        return self.state_dir / "runs"

    @property
    def venvs_dir(self) -> Path:
        """Folder holding the cached per-project Python environments."""
        return self.state_dir / VENVS_DIR_NAME

    @property
    def pools_dir(self) -> Path:
        """Folder holding the pools' lock files (``engine/pools.py``)."""
        return self.state_dir / "pools"

    @property
    def worktrees_dir(self) -> Path:
        """Folder holding the git worktrees of runs of a given branch or commit, one per commit."""
        return self.state_dir / WORKTREES_DIR_NAME


def find_repo_root(start: Path) -> Path:
    """The nearest ancestor of ``start`` (inclusive) that holds ``.git``.

    Falls back to the parent of an ``orchestra/`` folder on the way up, then to ``start`` itself.
    """
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    for candidate in (folder, *folder.parents):
        if candidate.name == "orchestra":
            return candidate.parent
    return folder


def resolve_settings(
    pipeline_path: Path | None,
    *,
    repo_root: Path | None = None,
    state_dir: Path | None = None,
    metadata_url: str | None = None,
    max_parallel: int | None = None,
    retry_delay_scale: float | None = None,
    python_isolation: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunnerSettings:
    """Combine options, environment variables and defaults into :class:`RunnerSettings`.

    Args:
        pipeline_path: The pipeline file being run, used to find the repository root.
        repo_root, state_dir, metadata_url, max_parallel, retry_delay_scale, python_isolation: Explicit
            options.
        environ: The environment to read (``os.environ`` by default).

    Raises:
        InvalidInputError: When a numeric environment variable is not a number, an isolation is
            not one of ``PYTHON_ISOLATIONS``, or the pools file is not ``pools: {<name>: <slots>}``.
    """
    env = os.environ if environ is None else environ
    root = repo_root or _path(env.get("ORCHESTRA_LOCAL_REPO_ROOT"))
    if root is None:
        root = find_repo_root(pipeline_path) if pipeline_path is not None else Path.cwd()
    root = root.resolve()
    state = (state_dir or _path(env.get("ORCHESTRA_LOCAL_HOME")) or root / STATE_DIR_NAME).resolve()
    url = metadata_url or env.get("ORCHESTRA_LOCAL_METADATA_URL") or f"sqlite:///{state / 'metadata.db'}"
    scale = retry_delay_scale
    if scale is None:
        scale = _number(env, "ORCHESTRA_LOCAL_RETRY_DELAY_SCALE", 1.0)
    return RunnerSettings(
        repo_root=root,
        state_dir=state,
        metadata_url=url,
        max_parallel=max_parallel or os.cpu_count() or 1,
        retry_delay_scale=scale,
        python=_python_environments(python_isolation, env),
        pool_slots=_pool_slots(state / POOLS_FILE_NAME),
    )


def _pool_slots(path: Path) -> dict[str, int]:
    """``pools`` of the pools file (empty without the file).

    Raises:
        InvalidInputError: Unreadable YAML, or anything but a map of names to 1..MAX_POOL_SLOTS.
    """
    if not path.is_file():
        return {}
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except (OSError, YAMLError) as exc:
        raise InvalidInputError(f"{path}: cannot read the pools file ({type(exc).__name__}: {exc})") from None
    pools = data.get("pools") if isinstance(data, dict) else None
    if not isinstance(pools, dict) or set(data) != {"pools"}:
        raise InvalidInputError(f"{path}: expected `pools: {{<name>: <slots>}}`, e.g. `pools: {{api_quota: 2}}`")
    for name, slots in pools.items():
        if not isinstance(slots, int) or isinstance(slots, bool) or not 1 <= slots <= MAX_POOL_SLOTS:
            raise InvalidInputError(f"{path}: pools.{name}: slots must be a whole number from 1 to {MAX_POOL_SLOTS}, "
                                    f"got {slots!r}")
    return {str(name): slots for name, slots in pools.items()}


def _python_environments(isolation: str | None, env: Mapping[str, str]) -> PythonEnvironments:
    chosen = isolation or env.get("ORCHESTRA_LOCAL_PYTHON_ISOLATION") or "auto"
    if chosen not in PYTHON_ISOLATIONS:
        where = "--isolation" if isolation else "ORCHESTRA_LOCAL_PYTHON_ISOLATION"
        raise InvalidInputError(f"{where} must be one of {', '.join(PYTHON_ISOLATIONS)}, got {chosen!r}")
    raw = env.get("ORCHESTRA_LOCAL_PYTHON_SEARCH_PATH")
    search_path = tuple(p for p in raw.split(os.pathsep) if p) if raw else None
    return PythonEnvironments(isolation=chosen, search_path=search_path)  # type: ignore[arg-type]


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise InvalidInputError(f"environment variable {name} must be a number, got {raw!r}") from None
