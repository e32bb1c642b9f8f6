"""run_process: output without newlines stays linear and bounded; the child dies with its thread."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from orchestra_local.integrations.process import (
    LEFTOVER_OUTPUT_SECONDS,
    MAX_LINE_CHARS,
    SETPRIV,
    ProcessRegistry,
    die_with_parent,
    run_process,
)
from orchestra_local.masking import Masker

SECRET = "s3cr3t-Value-9f8e7d6c5b4a"
TWENTY_MB = 20 * 1024 * 1024


def _run(code: str, tmp_path: Path, masker: Masker | None = None) -> tuple[float, list[str]]:
    log = tmp_path / "out.log"
    started = time.monotonic()
    result = run_process([sys.executable, "-c", code], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, log_path=log,
                         timeout=120, processes=ProcessRegistry(), masker=masker or Masker())
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.tail
    return seconds, log.read_text(encoding="utf-8").split("\n")[:-1]


@pytest.mark.parametrize(("char", "label"), [("x", "ascii"), ("é", "two-byte utf-8, split across reads")],
                         ids=["ascii", "utf8"])
def test_a_20_mb_line_without_newline_is_split_fast(tmp_path: Path, char: str, label: str) -> None:
    count = TWENTY_MB // len(char.encode())
    seconds, lines = _run(f"import sys; sys.stdout.write({char!r} * {count}); sys.stdout.flush()", tmp_path)
    print(f"20 MB line ({label}): {seconds:.2f}s, {len(lines)} log lines")
    assert seconds < 8, f"{seconds:.1f}s: the log pump is not linear (it took 20 s when it re-joined its buffer)"
    assert all(len(line) <= MAX_LINE_CHARS for line in lines)
    assert len(lines) == -(-count // MAX_LINE_CHARS)
    assert "".join(lines) == char * count  # nothing lost, no replacement character at a cut


def test_a_secret_crossing_a_cut_is_still_masked(tmp_path: Path) -> None:
    before = "x" * (MAX_LINE_CHARS - 5)  # the secret starts 5 characters before the first cut
    code = f"import sys; sys.stdout.write({before!r} + {SECRET!r} + 'y' * 300000 + '\\n'); sys.stdout.flush()"
    _seconds, lines = _run(code, tmp_path, Masker([SECRET]))
    text = "\n".join(lines)
    assert SECRET[:5] not in text and SECRET[5:] not in text
    assert "***" in text


def test_short_lines_are_unchanged(tmp_path: Path) -> None:
    _seconds, lines = _run("print('a'); print(''); print('b' * 70000); print('c', end='')", tmp_path)
    assert lines == ["a", "", "b" * MAX_LINE_CHARS, "b" * (70000 - MAX_LINE_CHARS), "c"]


@pytest.mark.parametrize("use_setpriv", [True, False], ids=["setpriv", "preexec"])
def test_a_child_dies_with_the_thread_that_started_it(tmp_path: Path, use_setpriv: bool) -> None:
    """PR_SET_PDEATHSIG: the thread that forked the child ends (as a worker thread killed by an
    escaping error would) while the child would sleep a minute: the kernel kills the child."""
    if use_setpriv and SETPRIV is None:
        pytest.skip("setpriv (util-linux) is not installed")
    started: list[int] = []
    pidfile = tmp_path / "pid"

    def start_and_die() -> None:
        argv, preexec = die_with_parent([sys.executable, "-c", f"import os,time; open({str(pidfile)!r},'w')"
                                         f".write(str(os.getpid())); time.sleep(60)"], use_setpriv=use_setpriv)
        child = subprocess.Popen(argv, preexec_fn=preexec, start_new_session=True)
        started.append(child.pid)
        deadline = time.monotonic() + 30
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    thread = threading.Thread(target=start_and_die)
    thread.start()
    thread.join()
    process = psutil.Process(started[0])
    deadline = time.monotonic() + 5
    while process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.status() == psutil.STATUS_ZOMBIE  # killed when its thread ended; left for us to reap
    process.wait(timeout=5)


def test_a_background_job_of_the_task_ends_with_it(tmp_path: Path) -> None:
    """``sleep 60 &`` with its output redirected stays in the task's group: it dies when the task ends."""
    pid_file = tmp_path / "job.pid"
    result = run_process(["/bin/sh", "-c", f"sleep 60 >/dev/null 2>&1 & echo $! > {pid_file}"], cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin"}, log_path=tmp_path / "out.log", timeout=60,
                         processes=ProcessRegistry(), masker=Masker())
    assert result.returncode == 0
    job = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(job) and psutil.Process(job).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the background job outlived its task"
        time.sleep(0.05)


def test_a_process_outside_the_group_holding_the_output_cannot_hang_the_task(tmp_path: Path) -> None:
    """``setsid`` escapes the group; it keeps stdout open for a minute, the task returns after the grace."""
    pid_file = tmp_path / "daemon.pid"
    started = time.monotonic()
    result = run_process(["/bin/sh", "-c", f"setsid sh -c 'echo $$ > {pid_file}; exec sleep 60' & sleep 0.5; echo done"],
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, log_path=tmp_path / "out.log", timeout=None,
                         processes=ProcessRegistry(), masker=Masker())
    seconds = time.monotonic() - started
    try:
        assert result.returncode == 0
        assert seconds < LEFTOVER_OUTPUT_SECONDS + 10, f"{seconds:.1f}s: the pump waited for the escaped process"
        assert "output no longer read" in (tmp_path / "out.log").read_text()
    finally:
        psutil.Process(int(pid_file.read_text())).kill()


def test_no_group_is_signalled_by_a_pid_once_its_leader_was_reaped(tmp_path: Path, monkeypatch) -> None:
    """A reaped leader's pid (the group id) may belong to another process: nothing signals it any more."""
    from orchestra_local.integrations import process as module

    signalled: list[tuple[int, int]] = []
    real_killpg = module.os.killpg

    def recording_killpg(pgid: int, signum: int) -> None:
        signalled.append((pgid, signum))
        real_killpg(pgid, signum)

    monkeypatch.setattr(module.os, "killpg", recording_killpg)
    registry = ProcessRegistry()
    result = run_process(["/bin/sh", "-c", "sleep 0.2 &"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                         log_path=tmp_path / "out.log", timeout=60, processes=registry, masker=Masker())
    assert result.returncode == 0
    assert len(signalled) == 1  # the group's background job, killed while the leader was a zombie
    del signalled[:]
    popen = subprocess.Popen(["/bin/true"], start_new_session=True)
    popen.wait()
    module._terminate_group(popen)  # what cancel_all and kill_all do with a process they still track
    module._kill_group(popen)
    time.sleep(0.2)
    assert signalled == []
