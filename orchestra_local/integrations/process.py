"""Running a task's child process: logs streamed to a file, timeout and cancellation kill its group."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestra_local.masking import Masker

KILL_GRACE_SECONDS = 5.0
"""After SIGTERM, how long a process group gets to exit before SIGKILL."""

TAIL_LINES = 20


class ProcessRegistry:
    """Running child processes of one pipeline run, so cancellation reaches them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._cancellers: dict[int, Callable[[], None]] = {}
        self.cancelled = threading.Event()

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
        """Track a started process (terminated at once if the run is already cancelled)."""
        with self._lock:
            self._processes[process.pid] = process
        if self.cancelled.is_set():
            _terminate_group(process)

    def unregister(self, process: subprocess.Popen[bytes]) -> None:
        """Stop tracking a process that has exited."""
        with self._lock:
            self._processes.pop(process.pid, None)

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


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
        os.killpg(process.pid, signal.SIGKILL)


def _terminate_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    def _finish() -> None:
        # Whether or not the leader exits within the grace period, SIGKILL the group afterwards
        # so children that ignored SIGTERM do not outlive the task.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=KILL_GRACE_SECONDS)
        _kill_group(process)

    threading.Thread(target=_finish, name=f"kill-{process.pid}", daemon=True).start()


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

    Lines are masked before they are written. The process group is terminated when the timeout
    passes or the run is cancelled (SIGTERM, then SIGKILL after ``KILL_GRACE_SECONDS``).

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
    process = subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    timed_out = threading.Event()

    def _on_timeout() -> None:
        timed_out.set()
        _terminate_group(process)

    timer = threading.Timer(timeout, _on_timeout) if timeout else None
    processes.register(process)
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        raw_last_stdout, tail = _pump(process, log_path, masker)
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

    Returns the last non-empty stdout line unmasked, and the masked tail.
    """
    assert process.stdout is not None and process.stderr is not None
    selector = selectors.DefaultSelector()
    buffers = {process.stdout.fileno(): b"", process.stderr.fileno(): b""}
    stdout_fd = process.stdout.fileno()
    for stream in (process.stdout, process.stderr):
        selector.register(stream, selectors.EVENT_READ)
    last_stdout = ""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with log_path.open("a", encoding="utf-8") as log:

        def emit(fd: int, raw: bytes) -> None:
            nonlocal last_stdout
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            line = masker.mask(text)
            log.write(line + "\n")
            if line.strip():
                tail.append(line)
                if fd == stdout_fd:
                    last_stdout = text

        while selector.get_map():
            for key, _ in selector.select():
                fd = key.fd
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    if buffers[fd]:
                        emit(fd, buffers[fd])
                    continue
                data = buffers[fd] + chunk
                *lines, buffers[fd] = data.split(b"\n")
                for raw in lines:
                    emit(fd, raw)
            log.flush()
    selector.close()
    process.stdout.close()
    process.stderr.close()
    return last_stdout, tail
