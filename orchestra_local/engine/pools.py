"""Named resource pools held across processes: tasks that write one resource take its slots in turn.

A pool is a name (``duckdb:/abs/path/warehouse.duckdb``, ``api_quota``) with a number of slots
(1 unless the pools file gives more; see :mod:`orchestra_local.settings`). Holding a slot is holding
an OS lock (``flock``) on the slot's file under ``<state dir>/pools/``: every runner process using
that state directory (CLI runs, ``serve``) and every thread of one process sees it, and the kernel
drops the lock when its process dies, so a crashed or killed runner never leaves a pool held.
(Like Dagster's pools and Airflow's pools, except that the lock, not a database row, is the truth.)

A claim is *exclusive* (one holder per slot) or *shared* (any number of shared holders and no
exclusive one; pools of one slot only). A writer that waits for the resource on its own, such as
the ingestion workers with DuckDB's file lock, claims shared; one that cannot wait, such as dbt,
claims exclusive. An exclusive claimant is not starved by a stream of shared ones: while it waits
it holds the pool's gate (one more lock file), which every claimant passes before taking a slot.

Waiting is a poll (non-blocking ``flock`` every :data:`POLL_SECONDS`) so that cancellation ends it
at once. It has no limit of its own: each holder is a running task bounded by its own ``timeout``,
and a holder that dies releases its slot.

Who holds a pool is recorded for messages only, best-effort: each holder keeps a small JSON file
under ``holders/`` locked while it holds; a file whose lock can be taken belongs to a holder that
is gone and is removed. Every process must be given the same slot counts (the pools file lives in
the state directory they share); a process counting more slots may use the extra ones.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.1
"""How often a waiting claimant tries the pool's locks again (seconds)."""

REPORT_SECONDS = 1.0
"""How often a waiting claimant re-reads who holds the pool, for its message (seconds)."""


class PoolWaitCancelled(Exception):
    """The run was cancelled while a task waited for a pool.

    Attributes:
        pool: Name of the pool it waited for.
    """

    def __init__(self, pool: str):
        super().__init__(f"cancelled while waiting for pool {pool}")
        self.pool = pool


@dataclass(frozen=True)
class PoolClaim:
    """One pool a task needs while it runs.

    Attributes:
        name: The pool's name (any text; ``duckdb:<absolute path>`` for a DuckDB file).
        slots: Places in the pool (>= 1).
        shared: Share one slot with other shared claimants (pools of one slot only).
        reason: Why the task claims it, for messages (e.g. ``dbt target duckdb``).

    Raises:
        ValueError: ``slots`` below 1, an empty name, or a shared claim on a pool of several slots.
    """

    name: str
    slots: int = 1
    shared: bool = False
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a pool needs a name")
        if self.slots < 1:
            raise ValueError(f"pool {self.name}: slots must be at least 1, got {self.slots}")
        if self.shared and self.slots != 1:
            raise ValueError(f"pool {self.name}: only a pool of one slot can be claimed shared ({self.slots} slots)")


@dataclass(frozen=True)
class Holder:
    """Who holds (or claims) a pool: a task run of a pipeline run.

    Attributes:
        pipeline_run_id: Id of the pipeline run.
        task_run_id: Id of the task run.
        task: The task's label (``task_id`` or ``task_id[matrix value]``).
        shared: Whether it holds a shared claim.
    """

    pipeline_run_id: str
    task_run_id: str
    task: str
    shared: bool = False

    def describe(self) -> str:
        """``run <pipeline_run_id> task <task>``."""
        return f"run {self.pipeline_run_id} task {self.task}"


WaitReport = Callable[[PoolClaim, list[Holder]], None]
"""Called while a claimant waits: the claim, and who holds the pool now (maybe nobody known)."""


def merge_claims(claims: Sequence[PoolClaim]) -> list[PoolClaim]:
    """One claim per pool name, sorted by name (the order every claimant takes pools in).

    Two claims of one pool merge into one with the larger slot count, exclusive unless both are
    shared (and the pool has one slot); reasons are joined.
    """
    merged: dict[str, PoolClaim] = {}
    for claim in claims:
        seen = merged.get(claim.name)
        if seen is None:
            merged[claim.name] = claim
            continue
        reasons = seen.reason if claim.reason in seen.reason else f"{seen.reason}; {claim.reason}".strip("; ")
        slots = max(seen.slots, claim.slots)
        merged[claim.name] = PoolClaim(claim.name, slots, seen.shared and claim.shared and slots == 1, reasons)
    return [merged[name] for name in sorted(merged)]


def _open(path: Path, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    return os.open(path, flags | os.O_CLOEXEC, 0o644)


def _try_lock(fd: int, *, shared: bool) -> bool:
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class PoolSet:
    """The pools of one state directory.

    Args:
        folder: Where the lock files live (``<state dir>/pools``); created on first use.
    """

    def __init__(self, folder: Path):
        self.folder = folder

    def folder_of(self, name: str) -> Path:
        """The folder of one pool: a readable part of its name and a digest of the whole name."""
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[-60:] or "pool"
        return self.folder / f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"

    @contextmanager
    def hold(
        self, claims: Sequence[PoolClaim], holder: Holder, *, cancelled: threading.Event, on_wait: WaitReport,
    ) -> Iterator[None]:
        """Take every claimed pool (waiting as long as needed), hold them for the block, release them.

        Pools are taken one at a time in name order (so two claimants never wait for each other in
        a cycle) and released when the block ends, however it ends.

        Args:
            claims: The pools (merged with :func:`merge_claims`; duplicates are allowed).
            holder: Who claims them, recorded for other claimants' messages.
            cancelled: Set when the run is cancelled; a wait then ends within :data:`POLL_SECONDS`.
            on_wait: Called once the claimant has waited one poll, then about every :data:`REPORT_SECONDS`.

        Raises:
            PoolWaitCancelled: ``cancelled`` was set while waiting (nothing is held then).
            OSError: The state directory cannot hold the lock files.
        """
        with ExitStack() as held:
            for claim in merge_claims(claims):
                held.enter_context(self._hold_one(claim, holder, cancelled, on_wait))
            yield

    @contextmanager
    def _hold_one(self, claim: PoolClaim, holder: Holder, cancelled: threading.Event, on_wait: WaitReport
                  ) -> Iterator[None]:
        folder = self.folder_of(claim.name)
        (folder / "holders").mkdir(parents=True, exist_ok=True)
        slot = self._take_slot(folder, claim, cancelled, on_wait)
        record = _write_record(folder, Holder(holder.pipeline_run_id, holder.task_run_id, holder.task, claim.shared))
        try:
            yield
        finally:
            if record is not None:
                path, fd = record
                path.unlink(missing_ok=True)  # before its lock goes: no one sees a live record unlocked
                os.close(fd)
            os.close(slot)  # closing the file releases its lock

    def _take_slot(self, folder: Path, claim: PoolClaim, cancelled: threading.Event, on_wait: WaitReport) -> int:
        """Pass the gate, lock a free slot file, leave the gate; returns the locked slot's descriptor."""
        gate = _open(folder / "gate.lock")
        slots = [_open(folder / f"slot-{index}.lock") for index in range(claim.slots)]
        taken: list[int] = []

        def try_slots() -> bool:
            for fd in slots:
                if _try_lock(fd, shared=claim.shared):
                    taken.append(fd)
                    return True
            return False

        try:
            self._wait(lambda: _try_lock(gate, shared=claim.shared), folder, claim, cancelled, on_wait)
            self._wait(try_slots, folder, claim, cancelled, on_wait)
        finally:
            os.close(gate)
            for fd in slots:
                if fd not in taken:
                    os.close(fd)
        return taken[0]

    def _wait(self, attempt: Callable[[], bool], folder: Path, claim: PoolClaim, cancelled: threading.Event,
              on_wait: WaitReport) -> None:
        if attempt():
            return
        next_report = 0.0
        while True:
            if cancelled.wait(POLL_SECONDS):
                raise PoolWaitCancelled(claim.name)
            if attempt():
                return
            # Reported after one poll, not at once: a holder that has just taken its slot has had time
            # to record itself, so the first message names it.
            if time.monotonic() >= next_report:
                on_wait(claim, holders(folder))
                next_report = time.monotonic() + REPORT_SECONDS

    def holders_of(self, name: str) -> list[Holder]:
        """Who holds the pool called ``name`` now (best-effort; see the module docstring)."""
        return holders(self.folder_of(name))


def _write_record(folder: Path, holder: Holder) -> tuple[Path, int] | None:
    """Record the holder in a file it keeps locked (written under a temporary name, then renamed).

    Best-effort **(our choice)**: the record only feeds other claimants' messages, so a failure to
    write it (a full disk) leaves the pool held without a record rather than failing the task.

    Returns:
        The record's path and its open, locked descriptor; None when it could not be written.
    """
    token = f"{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}"
    temporary = folder / "holders" / f".{token}.tmp"
    path = folder / "holders" / f"{token}.json"
    try:
        fd = _open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps(holder.__dict__).encode())
        os.rename(temporary, path)  # the lock belongs to the open file, so it survives the rename
    except OSError:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        return None
    return path, fd


def holders(folder: Path) -> list[Holder]:
    """The live holders recorded in a pool folder; records of holders that are gone are removed."""
    found: list[Holder] = []
    records = folder / "holders"
    if not records.is_dir():
        return found
    for path in sorted(records.glob("*.json")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # released meanwhile
        try:
            if _try_lock(fd, shared=True):  # nobody holds it: its holder is gone
                path.unlink(missing_ok=True)
                continue
            data = json.loads(os.read(fd, 4096) or b"{}")
            found.append(Holder(str(data.get("pipeline_run_id", "?")), str(data.get("task_run_id", "?")),
                                str(data.get("task", "?")), bool(data.get("shared", False))))
        except (OSError, ValueError):
            continue  # a record being replaced or unreadable: messages only, see the module docstring
        finally:
            os.close(fd)
    return found
