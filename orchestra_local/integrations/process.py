"""Running a task's child process: logs streamed to a file, timeout and cancellation kill its group.

A child never outlives the process responsible for it: it runs in its own process group (so a
terminal's signals do not reach it and the whole group can be signalled), receives SIGKILL when
the thread that started it dies (Linux ``PR_SET_PDEATHSIG``; that thread waits for the child, so
it lives as long as the child should), this process's guard (``process_guard.py``) kills its whole
group if this process dies (its grandchildren, which the parent-death signal does not reach), and
its group id and start time are recorded through the registry's recorder, so ``orchestra-local
cancel`` can kill what a dead runner left behind without ever signalling a reused pid.

Output lines longer than :data:`MAX_LINE_CHARS` are split into several log lines.
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import ctypes
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from orchestra_local.masking import Masker

KILL_GRACE_SECONDS = 5.0
"""After SIGTERM, how long a process group gets to exit before SIGKILL."""

TAIL_LINES = 20

LEFTOVER_OUTPUT_SECONDS = 5.0
"""After the task's process exited, how long its output pipes are still read (seconds) while a
process it started outside its group (``setsid``, a daemon) holds them open; then the runner stops
reading, so such a process can never keep the task, and its run, RUNNING."""

MAX_LINE_CHARS = 64 * 1024
"""Longest log line (characters): a longer line is written as several lines of this length."""

SECRET_MARGIN_CHARS = 16 * 1024
"""A long line is cut only once this much more has arrived, so a secret (up to this long) that
crosses the cut is whole in the text masked before cutting."""

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

ProcessRecorder = Callable[[str | None, int | None, int, float], Callable[[], None]]
"""``recorder(task_run_id, attempt, pgid, create_time) -> ended``: records a started process group
(``create_time``: the leader's start, seconds since the epoch as psutil reports it) and returns
the function to call once its leader has exited."""


class _Guard:
    """This process's guard (``process_guard.py``), started with the first task process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def _send(self, line: str) -> None:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(  # run by path: stdlib + psutil only, not our whole package
                    [sys.executable, "-I", str(Path(__file__).with_name("process_guard.py"))], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                )
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(line.encode() + b"\n")
                self._process.stdin.flush()
            except OSError:  # it died: the next line starts another; the parent-death signal remains
                self._process = None

    def watch(self, pgid: int, create_time: float) -> None:
        """Kill this group if this process dies before :meth:`release`."""
        self._send(f"+ {pgid} {create_time!r}")

    def release(self, pgid: int) -> None:
        """The group's leader exited: forget it."""
        self._send(f"- {pgid}")


_GUARD = _Guard()


class ProcessRegistry:
    """Running child processes of one pipeline run, so cancellation reaches them all.

    Args:
        recorder: Records each started process group (see :data:`ProcessRecorder`); None records
            nothing. Its errors propagate from ``run_process`` after the process was terminated.
    """

    def __init__(self, recorder: ProcessRecorder | None = None) -> None:
        self._lock = threading.Lock()
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._cancellers: dict[int, Callable[[], None]] = {}
        self._ended: dict[int, Callable[[], None]] = {}
        self.cancelled = threading.Event()
        self.recorder = recorder
        self.owner: tuple[str | None, int | None] = (None, None)

    def for_attempt(self, task_run_id: str, attempt: int) -> ProcessRegistry:
        """A view of this registry (same processes, same cancellation) that records its processes
        as those of one attempt of one task run."""
        view = copy.copy(self)  # shares the lock, the dicts and the event: only ``owner`` differs
        view.owner = (task_run_id, attempt)
        return view

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` when the run is cancelled (at once if it already is).

        For work that is not a child process (e.g. dbt running in this process). Returns a
        function that unregisters the callback.
        """
        key = id(callback)
        with self._lock:
            self._cancellers[key] = callback
        if self.cancelled.is_set():
            callback()

        def remove() -> None:
            with self._lock:
                self._cancellers.pop(key, None)

        return remove

    def register(self, process: subprocess.Popen[bytes]) -> None:
        """Track a started process (terminated at once if the run is already cancelled) and record it.

        Raises:
            Exception: Whatever the recorder raises (the process is tracked already).
        """
        with self._lock:
            self._processes[process.pid] = process
        if self.cancelled.is_set():
            _terminate_group(process)
        # Not reaped yet (we have not waited), so even an exited leader still has its start time.
        created = psutil.Process(process.pid).create_time()
        _GUARD.watch(process.pid, created)
        if self.recorder is not None:
            ended = self.recorder(*self.owner, process.pid, created)
            with self._lock:
                self._ended[process.pid] = ended

    def unregister(self, process: subprocess.Popen[bytes]) -> None:
        """Stop tracking a process that has exited (and record that it did)."""
        _GUARD.release(process.pid)
        with self._lock:
            self._processes.pop(process.pid, None)
            ended = self._ended.pop(process.pid, None)
        if ended is not None:
            ended()

    def _tracked(self) -> list[subprocess.Popen[bytes]]:
        with self._lock:
            return list(self._processes.values())

    def _notify(self) -> None:
        with self._lock:
            callbacks = list(self._cancellers.values())
        for callback in callbacks:
            callback()

    def cancel_all(self) -> None:
        """Mark the run cancelled, SIGTERM every process group (SIGKILL after a grace period),
        and tell in-process work (``on_cancel``)."""
        self.cancelled.set()
        for process in self._tracked():
            _terminate_group(process)
        self._notify()

    def kill_all(self) -> None:
        """SIGKILL every process group now (a second Ctrl-C; the runner is about to exit)."""
        self.cancelled.set()
        for process in self._tracked():
            _kill_group(process)
        self._notify()


@dataclass(frozen=True)
class ProcessResult:
    """How a child process ended.

    Attributes:
        returncode: Exit status (negative: killed by that signal).
        seconds: Wall time from start to exit.
        timed_out: Killed because it ran past its timeout.
        cancelled: Killed because the pipeline run was cancelled.
        last_stdout_line: The last non-empty line written to stdout (masked), or "".
        tail: The last lines of combined output (masked), for error messages.
        raw_last_stdout_line: The same line unmasked, ONLY for parsing a worker's outputs (mask
            what is parsed from it before it is stored or shown: ``"rows_written": 15432`` must
            be read before a secret "5432" turns it into ``1***``).
    """

    returncode: int
    seconds: float
    timed_out: bool
    cancelled: bool
    last_stdout_line: str
    tail: tuple[str, ...]
    raw_last_stdout_line: str = ""


_REAP_LOCK = threading.Lock()
"""Held while a task's group is signalled by its leader's pid and while the leader is reaped: a
group is signalled only while its leader is not reaped (alive or a zombie), so the pid, and with it
the group id, cannot have been given to another process."""


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> bool:
    """Signal the task's process group unless its leader was reaped; whether it was signalled."""
    with _REAP_LOCK:
        if process.returncode is not None:
            return False  # reaped: its pid may belong to anyone now (run_process killed the group before)
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:  # the whole group is already gone
            return False
        return True


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    _signal_group(process, signal.SIGKILL)


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the leader has exited, without reaping it (only ``run_process`` reaps)."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _wait_unreaped(process: subprocess.Popen[bytes]) -> None:
    """Block until the leader has exited, leaving it a zombie so its group can still be signalled."""
    with contextlib.suppress(ChildProcessError):
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)


def _terminate_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after a grace period."""
    if not _signal_group(process, signal.SIGTERM):
        return

    def _finish() -> None:
        # Whether or not the leader exits within the grace period, SIGKILL the group afterwards
        # so children that ignored SIGTERM do not outlive the task (skipped once the leader was
        # reaped: run_process killed the group just before).
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        while not _exited(process) and time.monotonic() < deadline:
            time.sleep(0.05)
        _kill_group(process)
        with _REAP_LOCK:  # reap it if nobody will (run_process raised): no zombie is left behind
            if process.returncode is None and _exited(process):
                process.wait()

    threading.Thread(target=_finish, name=f"kill-{process.pid}", daemon=True).start()


SETPRIV = shutil.which("setpriv")
"""util-linux's ``setpriv``: sets the parent-death signal and execs the task, so the runner can
spawn with ``vfork`` (a ``preexec_fn`` forces a full ``fork`` of the runner: ~25 ms per task for a
runner that has imported dbt, measured with benchmarks/engine_overhead.py)."""


def die_with_parent(argv: Sequence[str], *, use_setpriv: bool = True) -> tuple[list[str], Callable[[], None] | None]:
    """``(argv, preexec_fn)`` for a child that gets SIGKILL when the thread that started it dies.

    Linux: through ``setpriv --pdeathsig KILL`` when it is installed (the signal survives its
    exec), else through :func:`_die_with_parent`; elsewhere unchanged (the guard process still
    ends the task's group when the runner dies).
    """
    if use_setpriv and SETPRIV and sys.platform.startswith("linux"):
        return [SETPRIV, "--pdeathsig", "KILL", "--", *argv], None
    return list(argv), _die_with_parent()


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` giving the child SIGKILL when the thread that forked it dies (Linux only).

    ``prctl`` is looked up before the fork, so the child only makes two system calls. If the
    runner already died between fork and ``prctl`` (the child was re-parented), the child exits.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    timeout: float | None,
    processes: ProcessRegistry,
    masker: Masker,
) -> ProcessResult:
    """Run ``argv`` in its own process group, streaming stdout and stderr into ``log_path``.

    Lines are masked before they are written; a line longer than :data:`MAX_LINE_CHARS` is
    written as several. The process group is terminated when the timeout passes or the run is
    cancelled (SIGTERM, then SIGKILL after ``KILL_GRACE_SECONDS``); the child is killed when the
    calling thread dies (see the module docstring).

    Args:
        argv: Program and arguments (use ``["/bin/sh", "-c", command]`` for a shell command).
        cwd: Working directory.
        env: Complete environment of the child.
        log_path: File receiving the combined output.
        timeout: Seconds before the process is killed, or None for no limit.
        processes: The run's registry, so cancellation reaches this process.
        masker: Secrets to hide in the log.

    Raises:
        OSError: When the program cannot be started (e.g. ``cwd`` vanished).
    """
    started = time.monotonic()
    launch, preexec = die_with_parent(argv)
    process = subprocess.Popen(
        launch, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=preexec,
    )
    timed_out = threading.Event()

    def _on_timeout() -> None:
        timed_out.set()
        _terminate_group(process)

    timer = threading.Timer(timeout, _on_timeout) if timeout else None
    try:
        processes.register(process)
        if timer is not None:
            timer.daemon = True
            timer.start()
        raw_last_stdout, tail = _pump(process, log_path, masker)
        _wait_unreaped(process)
        # Background jobs of the task (`cmd &`) end with it, as in Orchestra's per-task container;
        # killed while the leader is a zombie, so the group id is still the task's.
        _kill_group(process)
        with _REAP_LOCK:
            returncode = process.wait()
    except BaseException:
        _terminate_group(process)  # e.g. KeyboardInterrupt in the sequential path: leave no orphan
        raise
    finally:
        if timer is not None:
            timer.cancel()
        processes.unregister(process)
    return ProcessResult(
        returncode=returncode,
        seconds=time.monotonic() - started,
        timed_out=timed_out.is_set(),
        cancelled=processes.cancelled.is_set() and returncode != 0,
        last_stdout_line=masker.mask(raw_last_stdout),
        tail=tuple(tail),
        raw_last_stdout_line=raw_last_stdout,
    )


def _pump(process: subprocess.Popen[bytes], log_path: Path, masker: Masker) -> tuple[str, deque[str]]:
    """Copy both pipes line by line into the log (masked) until both reach end of file.

    Work is linear in the output: text is decoded incrementally, and what waits for its newline is
    at most ``MAX_LINE_CHARS + SECRET_MARGIN_CHARS`` plus one read; a longer line is masked whole
    and written in pieces of ``MAX_LINE_CHARS``.

    Returns the last non-empty stdout line unmasked, and the masked tail.
    """
    assert process.stdout is not None and process.stderr is not None
    selector = selectors.DefaultSelector()
    stdout_fd = process.stdout.fileno()
    pending = {process.stdout.fileno(): "", process.stderr.fileno(): ""}
    decoders = {fd: codecs.getincrementaldecoder("utf-8")(errors="replace") for fd in pending}
    for stream in (process.stdout, process.stderr):
        selector.register(stream, selectors.EVENT_READ)
    last_stdout = ""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with log_path.open("a", encoding="utf-8") as log:

        def emit(fd: int, text: str) -> None:
            nonlocal last_stdout
            text = text.rstrip("\r\n")
            line = masker.mask(text)  # whole, before any cut: a secret across a cut is masked too
            for start in range(0, max(len(line), 1), MAX_LINE_CHARS):
                piece = line[start:start + MAX_LINE_CHARS]
                log.write(piece + "\n")
                if piece.strip():
                    tail.append(piece)
            if line.strip() and fd == stdout_fd:
                last_stdout = text

        def feed(fd: int, text: str) -> None:
            *lines, rest = text.split("\n")
            if lines:
                emit(fd, pending[fd] + lines[0])
                for line in lines[1:]:
                    emit(fd, line)
                pending[fd] = rest
            else:
                pending[fd] += rest
            if len(pending[fd]) > MAX_LINE_CHARS + SECRET_MARGIN_CHARS:
                # write the whole pieces now, keep the margin: what waits stays bounded
                long_line = masker.mask(pending[fd])
                cut = (len(long_line) - SECRET_MARGIN_CHARS) // MAX_LINE_CHARS * MAX_LINE_CHARS
                emit(fd, long_line[:cut])
                pending[fd] = long_line[cut:]

        exited_at: float | None = None
        while selector.get_map():
            if _exited(process):
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > LEFTOVER_OUTPUT_SECONDS:
                    log.write(f"[orchestra-local] the task's process exited {LEFTOVER_OUTPUT_SECONDS:g} s ago but a "
                              "process it started outside its group still holds its output open: output no "
                              "longer read\n")
                    break
            for key, _ in selector.select(timeout=0.5):
                fd = key.fd
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    rest = pending[fd] + decoders[fd].decode(b"", final=True)
                    if rest:
                        emit(fd, rest)
                    continue
                feed(fd, decoders[fd].decode(chunk))
            log.flush()
    selector.close()
    process.stdout.close()
    process.stderr.close()
    return last_stdout, tail
