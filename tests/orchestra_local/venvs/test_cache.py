"""The environment cache itself: keys, publication, interrupted builds, one build across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from orchestra_local.venvs import CommandOutcome, EnvironmentSpec, default_search_path, ensure_environment
from orchestra_local.venvs.cache import EnvironmentBuildError

RUNNER_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def _spec(project: Path, *, version: str | None = None, build: str | None = None) -> EnvironmentSpec:
    return EnvironmentSpec(project, version, build)


def _project(tmp_path: Path, requirements: str = "inflection==0.5.1\n") -> Path:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    (project / "requirements.txt").write_text(requirements)
    return project


def _run_step(log: list[str]) -> Callable[[Sequence[str], Path, Mapping[str, str]], CommandOutcome]:
    def run(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> CommandOutcome:
        log.append(" ".join(argv[1:3]))
        completed = subprocess.run(list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
        output = (completed.stdout + completed.stderr).strip().splitlines()
        return CommandOutcome(completed.returncode, output[-1] if output else "")

    return run


def _ensure(spec: EnvironmentSpec, venvs: Path, log: list[str]):  # type: ignore[no-untyped-def]
    return ensure_environment(spec, venvs_dir=venvs, base_env=os.environ, search_path=default_search_path(os.environ),
                              run=_run_step(log))


# Each change below must give another key (so another environment); "same" must give the same key.
KEY_CASES: list[tuple[str, Callable[[Path], EnvironmentSpec], bool]] = [
    ("same-inputs", lambda p: _spec(p), True),
    ("requirements-content", lambda p: ((p / "requirements.txt").write_text("inflection==0.5.0\n"), _spec(p))[1], False),
    ("included-file-content", lambda p: ((p / "base.txt").write_text("toolz\n"), _spec(p))[1], False),
    ("pyproject-added", lambda p: ((p / "pyproject.toml").write_text("[project]\n"), _spec(p))[1], False),
    ("build-command", lambda p: _spec(p, build="pip install -r requirements.txt"), False),
    ("python-version", lambda p: _spec(p, version="3.12" if RUNNER_VERSION != "3.12" else "3.11"), False),
    ("unrelated-file", lambda p: ((p / "main.py").write_text("print(1)\n"), _spec(p))[1], True),
]


@pytest.mark.parametrize(("change", "same"), [pytest.param(c, s, id=i) for i, c, s in KEY_CASES])
def test_key_changes_exactly_when_the_environment_would(tmp_path: Path, change: Callable[[Path], EnvironmentSpec],
                                                        same: bool) -> None:
    project = _project(tmp_path, "-r base.txt\ninflection==0.5.1\n")
    (project / "base.txt").write_text("")
    before = _spec(project).key()
    assert (change(project).key() == before) is same


def test_key_names_the_project_and_version(tmp_path: Path) -> None:
    key = _spec(_project(tmp_path), version="3.12").key()
    assert key.startswith("proj-py3.12-") and len(key.rsplit("-", 1)[1]) == 16


def test_an_include_loop_is_bounded(tmp_path: Path) -> None:
    project = _project(tmp_path, "-r requirements.txt\n")  # includes itself: followed once
    assert list(_spec(project).hashed_files()) == ["requirements.txt"]


def test_interrupted_build_is_removed_and_built_again(tmp_path: Path) -> None:
    project = _project(tmp_path)
    venvs = tmp_path / "venvs"
    key = _spec(project).key()
    (venvs / key / "bin").mkdir(parents=True)  # a build killed half-way: folder, no manifest
    (venvs / key / "half-written").write_text("")
    log: list[str] = []
    environment = _ensure(_spec(project), venvs, log)
    assert not environment.reused and log == ["venv --no-config", "pip install"]
    assert not (venvs / key / "half-written").exists()
    assert json.loads((venvs / f"{key}.json").read_text())["key"] == key
    again = _ensure(_spec(project), venvs, log)
    assert again.reused and len(log) == 2


def test_environment_whose_interpreter_vanished_is_rebuilt(tmp_path: Path) -> None:
    project = _project(tmp_path)
    venvs = tmp_path / "venvs"
    log: list[str] = []
    built = _ensure(_spec(project), venvs, log)
    built.python.unlink()  # e.g. its base interpreter was uninstalled
    rebuilt = _ensure(_spec(project), venvs, log)
    assert not rebuilt.reused and rebuilt.python.exists()


def test_failed_build_publishes_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path, "inflection==0.0.999\n")
    venvs = tmp_path / "venvs"
    with pytest.raises(EnvironmentBuildError, match=r"failed at uv pip install \(exit code \d+\)"):
        _ensure(_spec(project), venvs, [])
    assert [p.name for p in venvs.iterdir() if not p.name.endswith(".lock")] == []


WORKER = """
import json, os, sys, subprocess
from pathlib import Path
from orchestra_local.venvs import CommandOutcome, EnvironmentSpec, default_search_path, ensure_environment
def run(argv, cwd, env):
    done = subprocess.run(list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True)
    return CommandOutcome(done.returncode, done.stderr.strip()[-200:])
project, venvs = Path(sys.argv[1]), Path(sys.argv[2])
env = ensure_environment(EnvironmentSpec(project, None, None), venvs_dir=venvs, base_env=os.environ,
                         search_path=default_search_path(os.environ), run=run)
print(json.dumps({"reused": env.reused, "path": str(env.path)}))
"""


def test_processes_starting_together_build_once(tmp_path: Path) -> None:
    project = _project(tmp_path)
    venvs = tmp_path / "venvs"
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(project), str(venvs)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["reused"] for r in results) == [False, True, True, True]
    assert len({r["path"] for r in results}) == 1
