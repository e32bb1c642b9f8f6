"""The real CLI on real YAML: validation reports, exit codes, Ctrl-C, and a crash losing nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from textwrap import dedent

import pytest

from orchestra_local.store import RunStore

pytestmark = pytest.mark.e2e

GOOD_TASK = "{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python -V}}"
BROKEN = {
    "indentation.yml": ("version: v1\nname: x\npipeline:\n  g:\n    tasks: {}\n   bad: 1\n", 6, "invalid YAML"),
    "unknown_key.yml": (f"version: v1\nname: x\npipeline:\n  g:\n    tasks:\n      t: {GOOD_TASK}\n    tags: [a]\n",
                        7, "pipeline.g.tags: unknown key"),
    "unknown_dependency.yml": (f"version: v1\nname: x\npipeline:\n  g:\n    depends_on: [ghost]\n    tasks:\n"
                               f"      t: {GOOD_TASK}\n", 5, "pipeline.g.depends_on[0]: 'g' depends on 'ghost'"),
    "cycle.yml": (f"version: v1\nname: x\npipeline:\n  a:\n    depends_on: [b]\n    tasks:\n      t1: {GOOD_TASK}\n"
                  f"  b:\n    depends_on: [a]\n    tasks:\n      t2: {GOOD_TASK}\n", 5, "dependency cycle: a -> b -> a"),
    "missing_field.yml": ("version: v1\nname: x\npipeline:\n  g:\n    tasks:\n      t:\n        integration: PYTHON\n"
                          "        parameters: {}\n", 6, "pipeline.g.tasks.t.integration_job: required key is missing"),
}


def test_validate_reports_every_broken_file_with_path_and_line(cli, repo: Path) -> None:
    folder = repo / "orchestra"
    (folder / "good.yml").write_text(f"version: v1\nname: good\npipeline:\n  g:\n    tasks:\n      t: {GOOD_TASK}\n")
    for name, (text, _, _) in BROKEN.items():
        (folder / name).write_text(text)
    result = cli("validate", str(folder))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    for name, (_, line, fragment) in BROKEN.items():
        located = [row for row in result.stderr.splitlines() if f"{folder / name}:{line}:" in row]
        assert located and fragment in located[0], (name, result.stderr)
    assert f"valid   {folder / 'good.yml'}" in result.stdout
    assert "5 of 6 files invalid" in result.stderr


def test_validate_json_output_is_orchestra_shaped(cli, repo: Path) -> None:
    path = repo / "orchestra" / "missing_field.yml"
    path.write_text(BROKEN["missing_field.yml"][0])
    result = cli("validate", "--output", "json", str(path))
    assert result.returncode == 2
    detail = json.loads(result.stdout)[str(path)]["detail"]
    assert detail[0]["loc"] == ["pipeline", "g", "tasks", "t", "integration_job"]
    assert detail[0]["type"] == "missing" and detail[0]["line"] == 6


def write(repo: Path, text: str) -> Path:
    path = repo / "orchestra" / "p.yml"
    path.write_text(dedent(text))
    return path


def test_run_exit_codes(cli, repo: Path) -> None:
    ok = write(repo, """
        version: v1
        name: ok
        inputs:
          who: {type: string}
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                  parameters: {command: "python -c 'import sys; print(sys.argv[1])' ${{ inputs.who }}"}}
        """)
    missing = cli("run", str(ok))
    assert missing.returncode == 2 and "Missing required pipeline input: who" in missing.stderr
    done = cli("run", str(ok), "--input", "who=there")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout
    assert cli("run", str(repo / "orchestra" / "nope.yml")).returncode == 2
    failing = write(repo, """
        version: v1
        name: failing
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                  parameters: {command: "python -c 'import sys; sys.exit(4)'"}}
        """)
    result = cli("run", str(failing))
    assert result.returncode == 1 and "exited with code 4" in result.stdout
    listed = cli("runs", cwd=repo)
    assert listed.returncode == 0 and listed.stdout.count("p ") >= 2


SLOW = """
    version: v1
    name: slow
    pipeline:
      first:
        tasks:
          quick: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {{command: "python -V"}}}}
      second:
        depends_on: [first]
        tasks:
          slow: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                  parameters: {{command: "python -c 'import os, time; open(\\"{pidfile}\\", \\"w\\").write(str(os.getpid())); time.sleep(120)'"}}}}
    """


def start_slow_run(cli_path: str, repo: Path, pidfile: Path) -> subprocess.Popen[str]:
    """Start the CLI on a pipeline whose second task sleeps, and wait until that task runs."""
    path = write(repo, SLOW.format(pidfile=pidfile))
    # A terminal's Ctrl-C reaches a runner whose SIGINT is at its default. A test run started in the
    # background by a shell without job control inherits SIGINT ignored, and so would the runner (as
    # after nohup, it then rightly ignores Ctrl-C): start it with the default, as a terminal does.
    # PYTHONFAULTHANDLER: a runner that hangs anyway is sent SIGABRT and prints every thread's stack.
    process = subprocess.Popen([cli_path, "run", str(path), "--no-progress"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONFAULTHANDLER": "1"},
                               preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline and process.poll() is None, "the slow task never started"
        time.sleep(0.05)
    return process


def _default_sigint() -> None:
    """In the child, before exec: SIGINT back to its default (see ``start_slow_run``)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def communicate_or_dump(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """The runner's output once it exits; if it does not within ``timeout`` seconds, fail with its threads' stacks."""
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler dumps every thread's Python stack, then it dies
        output = process.communicate(timeout=30)[0]
        raise AssertionError(f"the runner did not exit within {timeout:g} s:\n{output[-20_000:]}") from None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def latest_run() -> tuple[dict, list[dict]]:
    store = RunStore(f"sqlite:///{os.environ['ORCHESTRA_LOCAL_HOME']}/metadata.db")
    run = store.list_pipeline_runs(limit=1)[0]
    return run, store.list_task_runs(run["id"])


def test_ctrl_c_cancels_the_run_and_its_processes(cli_path: str, repo: Path) -> None:
    pidfile = repo / "pid"
    process = start_slow_run(cli_path, repo, pidfile)
    process.send_signal(signal.SIGINT)
    output = communicate_or_dump(process)
    assert process.returncode == 1, output
    assert "CANCELLED" in output and "Traceback" not in output
    run, task_runs = latest_run()
    assert run["run_status"] == "CANCELLED"
    assert {t["task_id"]: t["status"] for t in task_runs} == {"quick": "SUCCEEDED", "slow": "CANCELLED"}
    deadline = time.monotonic() + 10
    while alive(int(pidfile.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(int(pidfile.read_text()))


def test_a_crashed_runner_loses_no_finished_record(cli_path: str, repo: Path) -> None:
    pidfile = repo / "pid"
    process = start_slow_run(cli_path, repo, pidfile)
    process.kill()  # SIGKILL: no cleanup code runs
    process.wait(timeout=10)
    run, task_runs = latest_run()
    statuses = {t["task_id"]: t["status"] for t in task_runs}
    assert statuses["quick"] == "SUCCEEDED"
    assert statuses["slow"] == "RUNNING"  # what the runner knew when it died
    assert run["run_status"] == "RUNNING"
    deadline = time.monotonic() + 5  # the task got the parent-death signal: no orphan keeps running
    while alive(int(pidfile.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(int(pidfile.read_text()))
    cleared = subprocess.run([cli_path, "cancel", run["id"]], cwd=repo, capture_output=True, text=True, timeout=60)
    assert cleared.returncode == 0 and "marked CANCELLED" in cleared.stdout, cleared.stderr
    run, task_runs = latest_run()
    assert run["run_status"] == "CANCELLED"
    assert {t["task_id"]: t["status"] for t in task_runs} == {"quick": "SUCCEEDED", "slow": "CANCELLED"}


def test_cancel_from_another_terminal_stops_the_runner(cli_path: str, repo: Path) -> None:
    pidfile = repo / "pid"
    process = start_slow_run(cli_path, repo, pidfile)
    run, _ = latest_run()
    result = subprocess.run([cli_path, "cancel", run["id"]], cwd=repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "cancelled the run: CANCELLED" in result.stdout, result.stderr
    output = communicate_or_dump(process)
    assert process.returncode == 1 and "CANCELLED" in output
    assert not alive(int(pidfile.read_text()))
    again = subprocess.run([cli_path, "cancel", run["id"]], cwd=repo, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already ended CANCELLED" in again.stderr
