"""`orchestra-local run` with per-project Python environments and with --commit, as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestra_local.store import RunStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OTHER_VERSION = "3.12" if sys.version_info[:2] != (3, 12) else "3.11"
PIPELINE = f"""\
version: v1
name: project_env
pipeline:
  run_project:
    tasks:
      run_main:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          project_dir: proj
          python_version: '{OTHER_VERSION}'
          command: python main.py
"""
# PEP 695 syntax (a SyntaxError before 3.12) and a package the runner's environment lacks.
MAIN = """\
import sys
import inflection
def first[T](items: list[T]) -> T:
    return items[0]
print("running", sys.version.split()[0], "inflection", inflection.__version__, first(["{said}"]))
"""

Cli = Callable[..., subprocess.CompletedProcess[str]]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """A git repository: commit one says 'v1', the working tree says 'v2'; one state dir and uv cache."""
    base = tmp_path_factory.mktemp("task-envs")
    repo = base / "repo"
    (repo / "orchestra").mkdir(parents=True)
    (repo / "proj").mkdir()
    (repo / "orchestra" / "project_env.yml").write_text(PIPELINE)
    (repo / "proj" / "requirements.txt").write_text("inflection==0.5.1\n")
    (repo / "proj" / "main.py").write_text(MAIN.replace("{said}", "v1"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    sha = git(repo, "rev-parse", "HEAD")
    (repo / "proj" / "main.py").write_text(MAIN.replace("{said}", "v2"))
    return {"repo": repo, "state": base / "state", "uv_cache": base / "uv-cache", "sha": sha}


def _run(cli: Cli, project: dict[str, Path | str], *args: str, env: dict[str, str] | None = None,
         state: Path | None = None) -> subprocess.CompletedProcess[str]:
    repo = Path(project["repo"])
    return cli("run", str(repo / "orchestra" / "project_env.yml"), "--no-progress", "--state-dir",
               str(state or project["state"]), *args, cwd=repo,
               env={"UV_CACHE_DIR": str(project["uv_cache"]), **(env or {})})


def _log_of(state: Path, stdout: str) -> str:
    run_id = re.search(r"pipeline run (\S+) (SUCCEEDED|FAILED)", stdout)
    assert run_id, stdout
    (log,) = (state / "runs" / run_id.group(1)).glob("*/logs/1/command.log")
    return log.read_text()


def test_python_version_and_requirements_build_once_then_reuse(cli: Cli, project: dict[str, Path | str]) -> None:
    first = _run(cli, project, "--isolation", "per-project")
    assert first.returncode == 0, first.stdout + first.stderr
    built = re.search(rf"run_main: built Python ({OTHER_VERSION}\.\d+) environment (\S+) in ([0-9.]+)s", first.stdout)
    assert built, first.stdout
    said = _log_of(Path(project["state"]), first.stdout)
    assert said.strip() == f"running {built.group(1)} inflection 0.5.1 v2"
    # auto (the default outside the test suite): a requirements.txt means per-project
    second = _run(cli, project, env={"ORCHESTRA_LOCAL_PYTHON_ISOLATION": "auto"})
    assert second.returncode == 0, second.stdout + second.stderr
    reused = re.search(rf"reused Python {OTHER_VERSION}\.\d+ environment {built.group(2)} in ([0-9.]+)s", second.stdout)
    assert reused, second.stdout
    print(f"\nCLI: environment built in {built.group(3)}s, reused in {reused.group(1)}s")


def test_shared_isolation_keeps_the_runners_interpreter(cli: Cli, project: dict[str, Path | str],
                                                        tmp_path: Path) -> None:
    shared = _run(cli, project, "--isolation", "shared", state=tmp_path / "state")
    assert shared.returncode == 1
    assert f"python_version {OTHER_VERSION} asked, but isolation is shared" in shared.stdout
    error = "SyntaxError" if sys.version_info < (3, 12) else "ModuleNotFoundError"  # PEP 695, else the package
    assert error in _log_of(tmp_path / "state", shared.stdout)


def test_unavailable_version_names_the_interpreters_found(cli: Cli, project: dict[str, Path | str],
                                                          tmp_path: Path) -> None:
    result = _run(cli, project, "--isolation", "per-project", state=tmp_path / "state",
                  env={"ORCHESTRA_LOCAL_PYTHON_SEARCH_PATH": str(Path(sys.base_prefix) / "bin")})
    assert result.returncode == 1
    store = RunStore(f"sqlite:///{tmp_path / 'state' / 'metadata.db'}")
    (task_run,) = store.list_task_runs(store.list_pipeline_runs(limit=1)[0]["id"])
    runner = ".".join(map(str, sys.version_info[:3]))
    assert f"python_version {OTHER_VERSION} is not installed on this machine" in task_run["message"]
    assert f"Interpreters found: {runner} ({sys.base_prefix}/bin/python" in task_run["message"]


def test_commit_runs_that_commits_code(cli: Cli, project: dict[str, Path | str]) -> None:
    at_commit = _run(cli, project, "--isolation", "per-project", "--commit", str(project["sha"]))
    assert at_commit.returncode == 0, at_commit.stdout + at_commit.stderr
    assert _log_of(Path(project["state"]), at_commit.stdout).strip().endswith("inflection 0.5.1 v1")
    unknown = _run(cli, project, "--commit", "0" * 40)
    assert unknown.returncode == 2
    assert f"Error: unknown commit '{'0' * 40}'" in unknown.stderr
