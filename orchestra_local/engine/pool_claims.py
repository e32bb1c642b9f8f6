"""Which pools a task claims: the ones its YAML names, and the local DuckDB files it writes.

DuckDB lets one process at a time write a database file, and a second writer fails at once
("Could not set lock on file"). Tasks that write one file therefore claim the pool
``duckdb:<absolute real path>`` (see :mod:`orchestra_local.engine.pools`), found from what they
run, after their parameters are resolved:

| task | pool | claim |
|---|---|---|
| DBT_CORE_EXECUTE whose target is ``type: duckdb`` with a local ``path`` (or writable ``attach``) | ``duckdb:<path>`` | exclusive: dbt cannot wait for the lock |
| DBT_CORE_EXECUTE | ``folder:<target folder>`` | exclusive: runs of one project share dbt's target folder under the state directory |
| MOTHERDUCK_EXECUTE_QUERY (a DuckDB file locally) | ``duckdb:<connection path>`` | exclusive |
| PYTHON_EXECUTE_SCRIPT running the ingestion worker (``python -m ingest``) to its ``duckdb`` destination | ``duckdb:<WAREHOUSE_DUCKDB_PATH>`` | shared: the worker waits for DuckDB's lock itself and holds the file only while it commits, so workers run side by side but never beside dbt |
| other PYTHON_EXECUTE_SCRIPT whose ``environment_variables`` set ``WAREHOUSE_DUCKDB_PATH`` | ``duckdb:<that path>`` | exclusive |
| any task with ``meta: {orchestra_local: {pools: [...]}}`` | each name | exclusive, or shared with ``{name: ..., shared: true}`` |

Pools are taken in name order, so ``duckdb:`` before ``folder:``: a dbt task waits first for its
warehouse, and its message names the warehouse's holder.

``meta`` is a free dict in Orchestra's schema (``docs/orchestra-contract.md``), so hosted
Orchestra accepts and ignores this key. Named pools have one slot unless the pools file gives more
(:mod:`orchestra_local.settings`). Detection is deliberately narrow: a Python script that writes a
DuckDB file some other way claims its pool through ``meta``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestra_local.engine.pools import PoolClaim
from orchestra_local.errors import InvalidParametersError
from orchestra_local.integrations.base import TaskContext, parse_environment_variables

META_KEY = "orchestra_local"
WAREHOUSE_ENV = "WAREHOUSE_DUCKDB_PATH"
"""The ingestion worker's DuckDB file (``python/ingest/destinations/__init__.py``)."""


def duckdb_pool(path: Path) -> str:
    """Name of the pool of a DuckDB file: ``duckdb:`` and its absolute real path."""
    return f"duckdb:{os.path.realpath(path)}"


class _NamedPool(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=500)]
    shared: bool = False


class _LocalMeta(BaseModel):
    """``meta.orchestra_local`` of a task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pools: list[_NamedPool] = Field(default_factory=list)

    @field_validator("pools", mode="before")
    @classmethod
    def _names_as_entries(cls, value: Any) -> Any:
        """A bare name stands for ``{name: <name>}``."""
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value


def declared_claims(meta: Mapping[str, Any] | None, where: str, slots: Mapping[str, int]) -> list[PoolClaim]:
    """The pools a task's ``meta.orchestra_local.pools`` names.

    Args:
        meta: The task's ``meta`` (None when absent).
        where: YAML path of the task, for errors (``pipeline.<group>.tasks.<task>``).
        slots: Slots of named pools (pools not listed have one).

    Raises:
        InvalidParametersError: ``meta.orchestra_local`` is not ``{pools: [name | {name, shared}]}``,
            or claims a pool of several slots shared.
    """
    raw = (meta or {}).get(META_KEY)
    if raw is None:
        return []
    try:
        local = _LocalMeta.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{where}.meta.{META_KEY}.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise InvalidParametersError(f"{problems} (expected pools: [name, {{name: ..., shared: true}}])") from None
    claims = []
    for index, entry in enumerate(local.pools):
        try:
            claims.append(PoolClaim(entry.name, slots.get(entry.name, 1), entry.shared, f"{where}.meta"))
        except ValueError as exc:
            raise InvalidParametersError(f"{where}.meta.{META_KEY}.pools.{index}: {exc}") from None
    return claims


def _ingest_destination(command: str) -> str | None:
    """``duckdb``/``postgres``/... when the command runs ``python -m ingest``; None otherwise."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not any(words[i] == "-m" and words[i + 1] == "ingest" for i in range(len(words) - 1)):
        return None
    destination = "duckdb"  # the worker's default (python/ingest/cli.py)
    for index, word in enumerate(words):
        if word == "--destination" and index + 1 < len(words):
            destination = words[index + 1]
        elif word.startswith("--destination="):
            destination = word.split("=", 1)[1]
    return destination


def _python_claims(ctx: TaskContext, params: Any) -> list[PoolClaim]:
    variables = parse_environment_variables(params.environment_variables)
    folder = ctx.resolve_project_dir(params.project_dir)  # the process's working directory
    destination = _ingest_destination(params.command or "") if params.source == "GIT" else None
    if destination == "duckdb":
        raw = variables.get(WAREHOUSE_ENV) or ctx.base_env.get(WAREHOUSE_ENV, "")
        # The worker's default file: python/ingest/destinations/__init__.py (default_warehouse_path).
        path = Path(raw).expanduser() if raw.strip() else ctx.repo_root / ".orchestra_local" / "warehouse.duckdb"
        return [PoolClaim(duckdb_pool(folder / path), shared=True, reason="ingestion worker, duckdb destination")]
    if variables.get(WAREHOUSE_ENV, "").strip():
        path = Path(variables[WAREHOUSE_ENV]).expanduser()
        return [PoolClaim(duckdb_pool(folder / path), reason=f"environment_variables set {WAREHOUSE_ENV}")]
    return []


def _dbt_claims(ctx: TaskContext, params: Any) -> list[PoolClaim]:
    from orchestra_local.integrations import dbt_core

    project = ctx.resolve_project_dir(params.project_dir)
    claims = [PoolClaim(f"folder:{dbt_core.target_folder(ctx, project)}", reason="dbt target folder")]
    for file in dbt_core.duckdb_targets(ctx, params):
        claims.append(PoolClaim(duckdb_pool(file), reason="dbt target of type duckdb"))
    return claims


def _motherduck_claims(ctx: TaskContext, params: Any) -> list[PoolClaim]:
    from orchestra_local.integrations.motherduck import database_file

    connection = ctx.connection
    if connection is None or connection.integration != "MOTHERDUCK" or not connection.fields.get("path"):
        return []  # the task fails on its own with the reason
    return [PoolClaim(duckdb_pool(database_file(ctx, connection.fields["path"])), reason="MOTHERDUCK local file")]


DETECTORS = {
    "DBT_CORE_EXECUTE": _dbt_claims,
    "MOTHERDUCK_EXECUTE_QUERY": _motherduck_claims,
    "PYTHON_EXECUTE_SCRIPT": _python_claims,
}


def detected_claims(ctx: TaskContext, params: Any) -> list[PoolClaim]:
    """The DuckDB (and dbt target) pools a task writes, per this module's table.

    Args:
        ctx: The attempt's context (environment, connection, folders).
        params: The integration's validated parameters.

    Raises:
        Exception: Whatever finding the files raises (an unreadable dbt profile, a ``project_dir``
            that does not exist); the caller decides (the task would fail on it anyway).
    """
    detector = DETECTORS.get(ctx.integration_job)
    return detector(ctx, params) if detector is not None else []
