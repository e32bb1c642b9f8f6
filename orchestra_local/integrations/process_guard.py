"""The guard: one small process per runner that kills its task process groups when the runner dies.

The parent-death signal (``process.py``) reaches a task's first process only; what that process
started (``sh -c "cd x && python job.py"`` runs python as a grandchild) would outlive a runner
killed with SIGKILL. So each runner process starts one guard (``python -I .../process_guard.py``:
this file alone, importing nothing but psutil, starts in 0.1 s; in its own session, so a
terminal's SIGHUP or a ``kill`` of the runner's process group does not reach it) and tells it on
its stdin about every task process group:

    + <pgid> <create_time>      a group started (its leader's start time, psutil, epoch seconds)
    - <pgid>                    its leader exited

When stdin reaches end of file (the runner exited or was killed: the kernel closes the pipe), the
guard sends SIGTERM to every group still listed, SIGKILL after ``KILL_GRACE_SECONDS``, and exits.
Only verified members are signalled (:func:`group_members`), so a reused pid is never hit.
"""

from __future__ import annotations

import os
import signal
import sys

import psutil

START_TIME_TOLERANCE = 1e-3
"""Seconds: psutil derives start times from clock ticks (1/100 s), identically in every process."""

KILL_GRACE_SECONDS = 5.0
"""After SIGTERM, how long a group gets before SIGKILL (as ``process.KILL_GRACE_SECONDS``)."""


def same_process(process: psutil.Process, create_time: float) -> bool:
    """Whether ``process`` is the one that started at ``create_time`` (not a reused pid)."""
    try:
        return abs(process.create_time() - create_time) < START_TIME_TOLERANCE
    except psutil.Error:
        return False


def living(process: psutil.Process) -> bool:
    """Whether ``process`` still exists and is not a zombie (exited, waiting to be reaped)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def group_members(pgid: int, create_time: float) -> list[psutil.Process]:
    """Living processes of a recorded process group that are verifiably that group's.

    A live (or zombie) leader with another start time means the pid was reused: nothing is ours.
    A group whose leader is gone is still ours while any member lives (Linux never hands out a pid
    that is still a group's id), so its members that started after the recorded leader count.

    Args:
        pgid: The group id (its leader's pid).
        create_time: The leader's recorded start time.

    Returns:
        The members, the leader first when it lives; empty when the group is gone or not ours.
    """
    try:
        leader: psutil.Process | None = psutil.Process(pgid)
    except psutil.Error:
        leader = None
    if leader is not None and not same_process(leader, create_time):
        return []
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) != pgid or not living(process):
                continue
            if process.pid == pgid or process.create_time() >= create_time - START_TIME_TOLERANCE:
                members.append(process)
        except (OSError, psutil.Error):
            continue  # exited while we looked
    members.sort(key=lambda p: p.pid != pgid)
    return members


def terminate(members: list[psutil.Process], grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM ``members``, SIGKILL those still alive after ``grace`` seconds, wait until they are gone.

    psutil re-checks each process's identity before signalling it.
    """
    for process in members:
        _send(process, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(members, timeout=grace) if members else ([], [])
    for process in alive:
        _send(process, signal.SIGKILL)
    if alive:
        psutil.wait_procs(alive, timeout=grace)


def _send(process: psutil.Process, signum: int) -> None:
    try:
        process.send_signal(signum)
    except psutil.NoSuchProcess:
        return  # exited on its own meanwhile


def main() -> None:
    """Read the protocol from stdin; at end of file terminate every group still listed."""
    for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)  # only the pipe's end decides when we act
    groups: dict[int, float] = {}
    for line in sys.stdin.buffer:
        parts = line.split()
        try:
            if len(parts) == 3 and parts[0] == b"+":
                groups[int(parts[1])] = float(parts[2])
            elif len(parts) == 2 and parts[0] == b"-":
                groups.pop(int(parts[1]), None)
        except ValueError:
            continue  # a garbled line must not end the guard (and with it every task's protection)
    terminate([p for pgid, created in groups.items() for p in group_members(pgid, created)])


if __name__ == "__main__":  # started by process.py (by path), one per runner process
    main()
