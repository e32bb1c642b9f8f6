"""The batch config: which pipeline runs to start, in Orchestra's ``run_multiple_pipelines`` shape.

::

    {"workspaces": {"prod": "ORCHESTRA_API_KEY_PROD"},
     "pipelines": [{"workspace": "prod", "pipeline": "tpch_elt", "branch": "main", "commit": null,
                    "environment": null, "run_inputs": {"write_disposition": "merge"},
                    "backfill": {"start": "2024-01-01", "end": "2024-03-31", "step": "1 month",
                                 "inputs": {"start_date": "{window_start}", "end_date": "{window_end}"}}}]}

``workspaces`` maps a label to the *name* of the environment variable holding that workspace's API
token; tokens never appear in the config. ``pipeline`` is a pipeline's id (UUID) or alias. Empty
strings and nulls of ``branch``, ``commit`` and ``environment`` mean absent, as Orchestra's own
clients send them. ``backfill`` is this project's addition (``windows.py``). The whole file is
checked before anything starts: every problem is reported with the entry's index and field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from run_multiple.windows import Step, WindowError, check_templates


class ConfigError(ValueError):
    """The config (or a token variable it names) is unusable; ``problems`` are located lines.

    Attributes:
        problems: ``"<file>: pipelines[3].workspace: ..."`` strings, one per problem.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Backfill(_Strict):
    """A date range cut into windows, each one run whose ``inputs`` templates are filled per window."""

    start: date
    end: date
    step: str = "1 day"
    inputs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("step")
    @classmethod
    def _step(cls, value: str) -> str:
        try:
            Step.parse(value)
        except WindowError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("inputs")
    @classmethod
    def _templates(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            check_templates(value)
        except WindowError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Backfill:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class PipelineEntry(_Strict):
    """One entry of ``pipelines``: one run, or one run per backfill window."""

    workspace: str = Field(min_length=1)
    pipeline: str = Field(min_length=1, description="pipeline id (UUID) or alias")
    branch: str | None = None
    commit: str | None = None
    environment: str | None = None
    run_inputs: dict[str, Any] = Field(default_factory=dict)
    backfill: Backfill | None = None

    @field_validator("branch", "commit", "environment", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("run_inputs", mode="before")
    @classmethod
    def _null_inputs(cls, value: Any) -> Any:
        return {} if value is None else value


class BatchConfig(_Strict):
    """The whole config file."""

    workspaces: dict[str, str] = Field(min_length=1, description="label -> name of the token's environment variable")
    pipelines: list[PipelineEntry] = Field(min_length=1)


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_config(data: Any, source: str = "config") -> BatchConfig:
    """Check a config's data: shape, known workspaces, no entry twice.

    Args:
        data: The parsed JSON.
        source: The file name, for messages.

    Raises:
        ConfigError: Every problem found, each as ``"<source>: <path>: <what>"``.
    """
    try:
        config = BatchConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{source}: {_location(error['loc'])}: {error['msg']}" for error in exc.errors()]) from None
    problems = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(config.pipelines):
        if entry.workspace not in config.workspaces:
            problems.append(f"{source}: pipelines[{index}].workspace: unknown workspace {entry.workspace!r} "
                            f"(the config's workspaces: {', '.join(sorted(config.workspaces))})")
        key = json.dumps(entry.model_dump(mode="json"), sort_keys=True)
        if key in seen:
            problems.append(f"{source}: pipelines[{index}]: the same entry as pipelines[{seen[key]}]; remove one "
                            "(each entry starts its runs once)")
        seen.setdefault(key, index)
    if problems:
        raise ConfigError(problems)
    return config


def load_config(path: Path) -> BatchConfig:
    """Read and check a config file (see :func:`parse_config`).

    Raises:
        ConfigError: The file is missing, not JSON (with its line and column), or invalid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the config: {exc.strerror}"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}"]) from None
    return parse_config(data, str(path))


def resolve_tokens(config: BatchConfig, environ: Mapping[str, str], source: str = "config") -> dict[str, str]:
    """Each used workspace's API token, read from the environment variable the config names.

    Args:
        config: A checked config.
        environ: The process environment merged with ``--env`` (dotenv) values.
        source: The file name, for messages.

    Returns:
        ``{workspace label: token}`` for the workspaces some entry uses.

    Raises:
        ConfigError: A variable is unset or empty (named; a token's value never appears).
    """
    used = sorted({entry.workspace for entry in config.pipelines})
    problems = [f"{source}: workspaces.{label}: environment variable {config.workspaces[label]} is not set; "
                "export it or put it in the --env file" for label in used if not environ.get(config.workspaces[label])]
    if problems:
        raise ConfigError(problems)
    return {label: environ[config.workspaces[label]] for label in used}
