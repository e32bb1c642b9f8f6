"""Where the runner keeps things and how it is tuned: the one place that reads its environment.

Environment variables (each has a CLI option of the same meaning, which wins):

| variable | meaning | default |
|---|---|---|
| ``ORCHESTRA_LOCAL_REPO_ROOT`` | repository root; ``project_dir`` is relative to it | nearest ancestor of the pipeline file holding ``.git`` |
| ``ORCHESTRA_LOCAL_HOME`` | state directory (metadata DB, logs, artifacts) | ``<repo root>/.orchestra_local`` |
| ``ORCHESTRA_LOCAL_METADATA_URL`` | SQLAlchemy URL of the metadata DB | SQLite file ``<state>/metadata.db`` |
| ``ORCHESTRA_LOCAL_RETRY_DELAY_SCALE`` | factor applied to ``retry_delay`` (tests use ~0.001) | ``1`` |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from orchestra_local.errors import InvalidInputError

STATE_DIR_NAME = ".orchestra_local"


class RunnerSettings(BaseModel):
    """Resolved settings of one runner invocation.

    Attributes:
        repo_root: Absolute repository root.
        state_dir: Absolute state directory.
        metadata_url: SQLAlchemy URL of the metadata database.
        max_parallel: Most task attempts running at once (>= 1).
        retry_delay_scale: Multiplier of ``retry_delay`` minutes (1.0 = as configured).
    """

    model_config = ConfigDict(frozen=True)

    repo_root: Path
    state_dir: Path
    metadata_url: str
    max_parallel: int = Field(ge=1)
    retry_delay_scale: float = Field(ge=0)

    @property
    def runs_dir(self) -> Path:
        """Folder holding each pipeline run's logs and artifacts."""
        return self.state_dir / "runs"


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
    environ: Mapping[str, str] | None = None,
) -> RunnerSettings:
    """Combine options, environment variables and defaults into :class:`RunnerSettings`.

    Args:
        pipeline_path: The pipeline file being run, used to find the repository root.
        repo_root, state_dir, metadata_url, max_parallel, retry_delay_scale: Explicit options.
        environ: The environment to read (``os.environ`` by default).

    Raises:
        InvalidInputError: When a numeric environment variable is not a number.
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
    )


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
