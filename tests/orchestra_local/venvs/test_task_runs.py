"""PYTHON_EXECUTE_SCRIPT tasks in their project's own environment: real uv, real interpreters, real PyPI."""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestra_local.integrations.python_env import choose_isolation
from tests.orchestra_local.venvs.projects import (
    MAIN_ANY_PY,
    PACKAGE,
    Finished,
    Runner,
    make_project,
    pipeline_yaml,
    run_file,
)

pytestmark = pytest.mark.slow


@dataclass
class BuiltProject:
    """The session's 3.12 project: its repo, state folder and the run that built its environment."""

    pipeline: Path
    state_dir: Path
    first: Finished
    env: dict[str, str]


@pytest.fixture(scope="session")
def py312(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path, other_version: str) -> BuiltProject:
    """Built once for the session: a ``python_version`` project pinning a package the runner lacks."""
    root = tmp_path_factory.mktemp("py312") / "repo"
    make_project(root)
    pipeline = root / "orchestra" / "py312.yml"
    pipeline.write_text(pipeline_yaml(python_version=other_version, project_dir="proj"))
    state_dir = root.parent / "state"
    env = {"UV_CACHE_DIR": str(uv_cache)}  # session fixtures run before the per-test environment fixture
    return BuiltProject(pipeline, state_dir, run_file(pipeline, state_dir=state_dir, env=env), env)


def _outputs(finished: Finished) -> dict[str, object]:
    return finished.store.get_outputs(finished.only()["id"])


def _seconds(log: str, word: str) -> float:
    match = re.search(rf"{word} Python \S+ environment \S+ in ([0-9.]+)s", log)
    assert match, f"no '{word}' line in the environment log:\n{log}"
    return float(match.group(1))


def test_the_runner_lacks_the_package() -> None:
    # What the isolation tests below prove rests on this.
    assert importlib.util.find_spec(PACKAGE) is None


def test_requested_version_and_pinned_package_run_succeeded(py312: BuiltProject, other_version: str) -> None:
    assert py312.first.status == "SUCCEEDED", py312.first.only()["message"]
    outputs = _outputs(py312.first)
    assert str(outputs["python"]).startswith(other_version + ".")
    assert outputs["inflection"] == "0.5.1"
    assert outputs["word"] == "SnakeCase"
    assert Path(str(outputs["prefix"])).parent == py312.state_dir / "venvs"
    build = _seconds(py312.first.log(py312.first.only()["id"]), "built")
    print(f"\nenvironment build: {build:.2f}s")


def test_second_run_reuses_the_environment_and_says_how_long(py312: BuiltProject) -> None:
    second = run_file(py312.pipeline, state_dir=py312.state_dir, env=py312.env)
    assert second.status == "SUCCEEDED"
    log = second.log(second.only()["id"])
    reuse = _seconds(log, "reused")
    assert "built once in" in log
    assert _outputs(second)["prefix"] == _outputs(py312.first)["prefix"]
    print(f"\nenvironment reuse: {reuse:.3f}s")
    assert reuse < 1.0


def test_shared_isolation_runs_the_runners_interpreter_and_notes_the_version(py312: BuiltProject, run: Runner,
                                                                              tmp_path: Path) -> None:
    finished = run(py312.pipeline, state_dir=tmp_path / "state", isolation="shared")
    # the 3.12-only syntax fails under the runner's 3.11: what every run did before per-project environments
    assert finished.status == "FAILED"
    error = "SyntaxError" if sys.version_info < (3, 12) else "ModuleNotFoundError"  # PEP 695, else the package
    assert error in finished.log(finished.only()["id"], step="command")
    assert not (tmp_path / "state" / "venvs").exists()


def test_unavailable_version_fails_once_naming_the_interpreters_found(
        tmp_path: Path, run: Runner, runner_interpreter_bin: Path, other_version: str) -> None:
    root = tmp_path / "repo"
    make_project(root)
    pipeline = root / "orchestra" / "p.yml"
    pipeline.write_text(pipeline_yaml(python_version=other_version, project_dir="proj")
                        + "        configuration:\n          retries: 2\n")
    finished = run(pipeline, state_dir=tmp_path / "state",
                   env={"ORCHESTRA_LOCAL_PYTHON_SEARCH_PATH": str(runner_interpreter_bin)})
    task_run = finished.only()
    assert finished.status == "FAILED"
    assert f"python_version {other_version} is not installed on this machine" in task_run["message"]
    runner_version = ".".join(map(str, sys.version_info[:3]))
    assert f"Interpreters found: {runner_version} (" in task_run["message"]
    assert task_run["number_of_attempts"] == 1  # retrying cannot install a Python
    assert list((tmp_path / "state" / "venvs").glob("*.json")) == []


def test_matrix_of_eight_tasks_builds_the_environment_once(tmp_path: Path, run: Runner) -> None:
    root = tmp_path / "repo"
    make_project(root, main=MAIN_ANY_PY)
    pipeline = root / "orchestra" / "matrix.yml"
    pipeline.write_text(pipeline_yaml(project_dir="proj").replace(
        "  run_project:\n", "  run_project:\n    matrix:\n      inputs:\n        n: [1, 2, 3, 4, 5, 6, 7, 8]\n"))
    finished = run(pipeline, state_dir=tmp_path / "state", workers=8)
    assert finished.status == "SUCCEEDED"
    logs = [finished.log(t["id"]) for t in finished.task_runs()]
    assert len(logs) == 8
    built = [log for log in logs if re.search(r"^built Python", log, re.M)]
    reused = [log for log in logs if re.search(r"^reused Python", log, re.M)]
    assert (len(built), len(reused)) == (1, 7), logs
    assert sum("uv pip install" in log for log in logs) == 1
    assert len(list((tmp_path / "state" / "venvs").glob("*.json"))) == 1


def test_changed_requirements_rebuild(tmp_path: Path, run: Runner) -> None:
    root = tmp_path / "repo"
    project = make_project(root, main=MAIN_ANY_PY)
    pipeline = root / "orchestra" / "p.yml"
    pipeline.write_text(pipeline_yaml(project_dir="proj"))
    state = tmp_path / "state"

    def run_once() -> tuple[str, str]:
        finished = run(pipeline, state_dir=state)
        assert finished.status == "SUCCEEDED", finished.only()["message"]
        log = finished.log(finished.only()["id"])
        return log.splitlines()[-1].split()[0], str(_outputs(finished)["inflection"])

    assert run_once() == ("built", "0.5.1")
    assert run_once() == ("reused", "0.5.1")
    (project / "requirements.txt").write_text(f"{PACKAGE}==0.5.0\n")
    assert run_once() == ("built", "0.5.0")
    assert run_once() == ("reused", "0.5.0")


@pytest.mark.parametrize(("package_manager", "build_command", "command", "installed"), [
    pytest.param("PIP", "pip install -r requirements.txt", "python main.py", "Successfully installed inflection-0.5.1",
                 id="pip-seeded-into-the-env"),
    pytest.param("UV", "uv pip install -r requirements.txt", "uv run --no-project python main.py",
                 " + inflection==0.5.1", id="uv-build-and-uv-run"),
])
def test_build_command_runs_inside_the_environment(tmp_path: Path, run: Runner, package_manager: str,
                                                   build_command: str, command: str, installed: str) -> None:
    root = tmp_path / "repo"
    make_project(root, main=MAIN_ANY_PY)
    pipeline = root / "orchestra" / "p.yml"
    pipeline.write_text(pipeline_yaml(project_dir="proj", build_command=build_command, command=command,
                                      package_manager=package_manager))
    finished = run(pipeline, state_dir=tmp_path / "state", isolation="auto")
    assert finished.status == "SUCCEEDED", finished.only()["message"]
    log = finished.log(finished.only()["id"])
    assert f"$ /bin/sh -c '{build_command}'" in log
    assert installed in log  # the installer's own words: it ran, into the environment
    outputs = _outputs(finished)
    assert Path(str(outputs["prefix"])).parent == tmp_path / "state" / "venvs"
    assert outputs["python"] == ".".join(map(str, sys.version_info[:3]))  # no python_version: the runner's


def test_failed_build_fails_the_task_and_leaves_no_environment(tmp_path: Path, run: Runner) -> None:
    root = tmp_path / "repo"
    make_project(root, requirements=f"{PACKAGE}==0.0.999\n")
    pipeline = root / "orchestra" / "p.yml"
    pipeline.write_text(pipeline_yaml(project_dir="proj"))
    finished = run(pipeline, state_dir=tmp_path / "state")
    assert finished.status == "FAILED"
    assert "building the task's Python environment failed at uv pip install (exit code" in finished.only()["message"]
    venvs = tmp_path / "state" / "venvs"
    assert sorted(p.name for p in venvs.iterdir() if not p.name.endswith(".lock")) == []


@pytest.mark.parametrize(
    ("setting", "files", "python_version", "build_command", "expected"),
    [
        pytest.param("auto", [], None, None, "shared", id="auto-bare-project-shared"),
        pytest.param("auto", ["requirements.txt"], None, None, "per-project", id="auto-requirements"),
        pytest.param("auto", [], None, "pip install .", "per-project", id="auto-build-command"),
        pytest.param("auto", [], "3.12" if sys.version_info[:2] != (3, 12) else "3.11", None, "per-project",
                     id="auto-other-python-version"),
        pytest.param("auto", [], f"{sys.version_info.major}.{sys.version_info.minor}", None, "shared",
                     id="auto-runner-python-version"),
        pytest.param("shared", ["requirements.txt"], "3.12", "pip install .", "shared", id="shared-wins"),
        pytest.param("per-project", [], None, None, "per-project", id="per-project-wins"),
    ],
)
def test_choose_isolation(tmp_path: Path, setting: str, files: list[str], python_version: str | None,
                          build_command: str | None, expected: str) -> None:
    for name in files:
        (tmp_path / name).write_text("")
    assert choose_isolation(setting, tmp_path, python_version, build_command) == expected


def test_auto_runs_a_bare_project_in_the_runner(tmp_path: Path, run: Runner) -> None:
    root = tmp_path / "repo"
    make_project(root, requirements=None, main="import json, sys\nprint(json.dumps({'prefix': sys.prefix}))\n")
    pipeline = root / "orchestra" / "p.yml"
    pipeline.write_text(pipeline_yaml(project_dir="proj"))
    finished = run(pipeline, state_dir=tmp_path / "state", isolation="auto")
    assert finished.status == "SUCCEEDED"
    assert _outputs(finished)["prefix"] == sys.prefix
