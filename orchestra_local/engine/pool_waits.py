"""A task waiting for its pools: QUEUED with the reason while it waits, RUNNING once it holds them.

An attempt takes its pools (:mod:`orchestra_local.engine.pool_claims`) after its parameters are
resolved and before it starts, and gives them back when it ends; between attempts (the retry
delay) it holds none. While it waits, its task run's ``message`` says for which pool and who holds
it, e.g. ``waiting for pool duckdb:/abs/warehouse.duckdb (held by run <id> task dbt_build)``; the
status stays QUEUED for the first attempt (a retry waits RUNNING, as retries never leave RUNNING).
The wait is kept in the attempt's ``pool.log`` (one line per change, then how long it took), the
record a run keeps after its message has moved on.

The attempt's ``timeout`` counts from when it holds its pools and is RUNNING **(our choice)**:
waiting is not running, and the holder's own timeout already bounds the wait. A waiting task keeps
its worker of ``max_parallel``; that cannot deadlock, because a pool's holder is already running
and never waits for a worker (pools are taken in name order, so holders never wait in a cycle).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra_local.engine.pool_claims import declared_claims, detected_claims
from orchestra_local.engine.pools import Holder, PoolClaim, PoolSet
from orchestra_local.integrations.base import TaskContext
from orchestra_local.store import utcnow

if TYPE_CHECKING:
    from orchestra_local.engine.attempts import RunContext
    from orchestra_local.engine.graph import NodeRun

HOLDERS_SHOWN = 3
"""Holders named in a waiting message; more are counted."""


def waiting_message(claim: PoolClaim, holders: list[Holder]) -> str:
    """``waiting for pool <name> (held by run <id> task <t>, ...)``."""
    if not holders:
        return f"waiting for pool {claim.name} (busy)"
    named = ", ".join(holder.describe() + (" (shared)" if holder.shared else "") for holder in holders[:HOLDERS_SHOWN])
    more = f" and {len(holders) - HOLDERS_SHOWN} more" if len(holders) > HOLDERS_SHOWN else ""
    return f"waiting for pool {claim.name} (held by {named}{more})"


class _WaitReport:
    """Puts a wait on the task run (message), the console (one note) and the attempt's pool.log."""

    def __init__(self, run: RunContext, node: NodeRun, ctx: TaskContext):
        self.run, self.node, self.ctx = run, node, ctx
        self.started: float | None = None
        self.last = ""
        self.message_before = node.message
        self.log: Path | None = None

    def __call__(self, claim: PoolClaim, holders: list[Holder]) -> None:
        message = waiting_message(claim, holders)
        if self.node.attempts > 1:
            message = f"attempt {self.node.attempts} {message}"
        if message == self.last:
            return
        if self.started is None:
            self.started = time.monotonic()
            self.run.listener.note(f"{self.node.label}: {message}")
        self.last = message
        self._write(f"{message}; claimed for: {claim.reason}" if claim.reason else message)
        self.node.message = message
        # QUEUED is first written here (the executor keeps it in memory): a first attempt waits QUEUED
        self.run.store.update_task_run(self.node.task_run_id, status=self.node.status.value, message=message)
        self.run.listener.node_changed(self.node)

    def acquired(self, claims: list[PoolClaim]) -> None:
        if self.started is None:
            return
        names = ", ".join(claim.name for claim in claims)
        self._write(f"holds {names} after waiting {time.monotonic() - self.started:.1f}s")
        self.node.message = self.message_before
        self.run.store.update_task_run(self.node.task_run_id, message=self.message_before)

    def _write(self, line: str) -> None:
        if self.log is None:
            self.log = self.ctx.log_path("pool")
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"{utcnow().isoformat(timespec='seconds')}  {self.ctx.masker.mask(line)}\n")


def _claims(run: RunContext, node: NodeRun, ctx: TaskContext, params: Any) -> list[PoolClaim]:
    where = f"pipeline.{node.entry_id}.tasks.{node.task.task_id}"
    claims = declared_claims(node.task.task.meta, where, run.settings.pool_slots)
    try:
        claims += detected_claims(ctx, params)
    except Exception as exc:  # noqa: BLE001 - the task itself fails on this, with its own message
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        ctx.note(f"{node.label}: could not tell which DuckDB files it writes ({type(exc).__name__}: {first}); "
                 "it runs without their pools")
    return claims


@contextmanager
def pools_held(run: RunContext, node: NodeRun, ctx: TaskContext, params: Any) -> Iterator[None]:
    """Hold the attempt's pools for the block, waiting first as this module's docstring says.

    Args:
        run: The run.
        node: The task run (its ``attempts`` is the current attempt).
        ctx: The attempt's context.
        params: The integration's validated parameters.

    Raises:
        InvalidParametersError: The task's ``meta.orchestra_local`` is malformed.
        PoolWaitCancelled: The run was cancelled during the wait (no pool is held then).
    """
    claims = _claims(run, node, ctx, params)
    if not claims:
        yield
        return
    report = _WaitReport(run, node, ctx)
    holder = Holder(run.pipeline_run_id, node.task_run_id, node.label)
    with PoolSet(run.settings.pools_dir).hold(claims, holder, cancelled=run.processes.cancelled, on_wait=report):
        report.acquired(claims)
        yield
