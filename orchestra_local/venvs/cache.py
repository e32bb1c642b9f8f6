"""Isolated Python environments for tasks, built once per project and reused while it is unchanged.

What Orchest calls *environments* and hosted Orchestra does for each PYTHON_EXECUTE_SCRIPT task:
the task runs in a virtual environment of its own ``python_version`` holding its project's
requirements, not in the runner's interpreter. An environment is identified by a key derived from
the absolute ``project_dir``, the requested ``python_version``, the ``build_command`` and the
contents of the project's requirement files (``requirements*.txt`` with their ``-r``/``-c``
includes, ``pyproject.toml``, lock files): any change gives another key, hence a new build.

Layout under ``<state dir>/venvs/``:

| path | what |
|---|---|
| ``<key>/`` | the virtual environment, built in place (scripts pip writes hold absolute paths) |
| ``<key>.json`` | its manifest, renamed into place only after the build succeeded: its presence publishes the environment |
| ``<key>.lock`` | cross-process lock held while checking and building |

A build runs ``uv venv --python <version>`` (``--seed`` adds pip when there is a
``build_command``), then the ``build_command`` inside the environment, or else ``uv pip install -r
requirements.txt`` when that file exists. A failed or interrupted build leaves no manifest, and its
folder is removed (at once, or by the next builder), so a half-built environment is never used.
Eight tasks of a matrix asking for the same environment at once build it once: the first takes the
lock and builds, the others wait and reuse it.

Nothing is pruned: an environment whose key no longer matches (edited requirements) stays until
someone removes it; deleting ``<state dir>/venvs`` while no run is active is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestra_local.errors import IntegrationError
from orchestra_local.venvs.interpreters import installed_interpreters, unavailable_error, uv_binary, uv_environment

REQUIREMENTS_FILE = "requirements.txt"
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "uv.lock", "poetry.lock", "Pipfile", "Pipfile.lock")
"""Files of a project whose content is part of its environment's key (with ``requirements*.txt``)."""
MAX_HASHED_FILES = 100
"""Bound on requirement files followed through ``-r``/``-c`` includes."""
LOCK_POLL_SECONDS = 0.25
MANIFEST_FORMAT = 1

_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s+|=)(\S+)")

CommandRunner = Callable[[Sequence[str], Path, Mapping[str, str]], "CommandOutcome"]
"""``(argv, cwd, env) -> CommandOutcome``: runs one build step, its output going to the task's log."""


class EnvironmentBuildError(IntegrationError):
    """A build step of a task environment failed (the partial environment was removed)."""


@dataclass(frozen=True)
class CommandOutcome:
    """How one build step ended: exit code (negative = signal) and the last output line."""

    returncode: int
    last_line: str = ""


@dataclass(frozen=True)
class EnvironmentSpec:
    """What a task asks of its environment.

    Attributes:
        project_dir: Absolute project folder (the task's working directory).
        python_version: e.g. ``3.12``; None = the runner's own major.minor version.
        build_command: Shell command run inside the new environment, or None.
    """

    project_dir: Path
    python_version: str | None
    build_command: str | None

    @property
    def requested_version(self) -> str:
        """The version asked of ``uv``: ``python_version`` or the runner's ``major.minor``."""
        return self.python_version or f"{sys.version_info.major}.{sys.version_info.minor}"

    def hashed_files(self) -> dict[str, str]:
        """``{path relative to project_dir: sha256}`` of every file the environment depends on.

        Raises:
            EnvironmentBuildError: When includes reach more than ``MAX_HASHED_FILES`` files.
        """
        pending = sorted(self.project_dir.glob("requirements*.txt"))
        pending += [self.project_dir / name for name in PROJECT_FILES if (self.project_dir / name).is_file()]
        hashes: dict[str, str] = {}
        while pending:
            path = pending.pop(0).resolve()
            name = os.path.relpath(path, self.project_dir)
            if name in hashes or not path.is_file():
                continue
            if len(hashes) >= MAX_HASHED_FILES:
                raise EnvironmentBuildError(f"requirement files of {self.project_dir} include more than "
                                            f"{MAX_HASHED_FILES} files (an include loop?)")
            data = path.read_bytes()
            hashes[name] = hashlib.sha256(data).hexdigest()
            if path.suffix == ".txt":
                for line in data.decode("utf-8", errors="replace").splitlines():
                    match = _INCLUDE.match(line)
                    if match:
                        pending.append(path.parent / match.group(1))
        return dict(sorted(hashes.items()))

    def key(self) -> str:
        """``<project folder name>-py<version>-<16 hex digits>``, unique per project, version and contents."""
        identity = {"format": MANIFEST_FORMAT, "project_dir": str(self.project_dir),
                    "python_version": self.requested_version, "build_command": self.build_command,
                    "files": self.hashed_files()}
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.project_dir.name) or "project"
        return f"{slug}-py{self.requested_version}-{digest}"


@dataclass(frozen=True)
class TaskEnvironment:
    """A ready environment.

    Attributes:
        key: Its key (folder name under ``venvs/``).
        path: The virtual environment's folder.
        python_version: Full version of its interpreter, e.g. ``3.12.1``.
        reused: False when this call built it.
        seconds: Build time when built; time to find and check it when reused (seconds).
        waited_seconds: Time spent waiting for another task's build (seconds).
        built_seconds: How long its build took, whenever it happened (seconds).
    """

    key: str
    path: Path
    python_version: str
    reused: bool
    seconds: float
    waited_seconds: float
    built_seconds: float

    @property
    def python(self) -> Path:
        """The environment's ``python`` executable."""
        return self.path / "bin" / "python"

    def activate(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` as ``source bin/activate`` would leave it: ``python`` and scripts come from here.

        ``UV_PROJECT_ENVIRONMENT`` points there too, so ``uv sync`` and ``uv run`` (commands may
        start with ``uv``) use this environment instead of creating a ``.venv`` in the project.
        """
        activated = {k: v for k, v in env.items() if k not in ("PYTHONHOME", "CONDA_PREFIX")}
        activated["VIRTUAL_ENV"] = activated["UV_PROJECT_ENVIRONMENT"] = str(self.path)
        activated["PATH"] = os.pathsep.join([str(self.path / "bin"), env.get("PATH", os.defpath)])
        return activated

    def summary(self) -> str:
        """One line for the task's log and messages."""
        if not self.reused:
            return f"built Python {self.python_version} environment {self.key} in {self.seconds:.1f}s"
        waited = f" after waiting {self.waited_seconds:.1f}s for its build" if self.waited_seconds >= 0.05 else ""
        return (f"reused Python {self.python_version} environment {self.key} in {self.seconds:.2f}s{waited} "
                f"(built once in {self.built_seconds:.1f}s)")


def ensure_environment(
    spec: EnvironmentSpec,
    *,
    venvs_dir: Path,
    base_env: Mapping[str, str],
    search_path: Sequence[str],
    run: CommandRunner,
    cancelled: Callable[[], bool] = lambda: False,
) -> TaskEnvironment:
    """The environment for ``spec``: reused when published, else built (once, under a file lock).

    Args:
        spec: What the task asks for.
        venvs_dir: ``<state dir>/venvs``.
        base_env: Environment of build steps (the run's environment, e.g. ``UV_CACHE_DIR``, proxies).
        search_path: Folders where interpreters are looked for (``interpreters.default_search_path``).
        run: Runs one build step, writing its output to the task's log.
        cancelled: True once the run is cancelled (stops waiting for the lock).

    Returns:
        The ready environment.

    Raises:
        PythonVersionUnavailableError: No interpreter of the version (names those found).
        EnvironmentBuildError: A build step failed, or the run was cancelled while waiting.
    """
    started = time.monotonic()
    key = spec.key()
    venvs_dir.mkdir(parents=True, exist_ok=True)
    ready = _published(venvs_dir, key)
    if ready is not None:
        return _reused(venvs_dir, key, ready, time.monotonic() - started, 0.0)
    from filelock import FileLock, Timeout  # here: runs that build no environment skip its import (7 ms)

    lock = FileLock(venvs_dir / f"{key}.lock")
    while True:
        try:
            lock.acquire(timeout=LOCK_POLL_SECONDS)
            break
        except Timeout:
            if cancelled():
                raise EnvironmentBuildError(f"cancelled while waiting for environment {key}") from None
    try:
        waited = time.monotonic() - started
        ready = _published(venvs_dir, key)
        if ready is not None:
            return _reused(venvs_dir, key, ready, time.monotonic() - started - waited, waited)
        build_started = time.monotonic()
        manifest = _build(spec, key, venvs_dir, base_env, search_path, run)
        seconds = time.monotonic() - build_started
        manifest["build_seconds"] = round(seconds, 3)
        _publish(venvs_dir, key, manifest)
        return TaskEnvironment(key, venvs_dir / key, manifest["python_version"], False, seconds, waited, seconds)
    finally:
        lock.release()


def _published(venvs_dir: Path, key: str) -> dict[str, object] | None:
    """The manifest of a published, usable environment (its interpreter still exists), else None."""
    try:
        manifest = json.loads((venvs_dir / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(manifest, dict) or not (venvs_dir / key / "bin" / "python").exists():
        return None  # e.g. the base interpreter was uninstalled: rebuild
    return manifest


def _reused(venvs_dir: Path, key: str, manifest: Mapping[str, object], seconds: float, waited: float) -> TaskEnvironment:
    built = manifest.get("build_seconds")
    return TaskEnvironment(key, venvs_dir / key, str(manifest.get("python_version", "?")), True, seconds, waited,
                           float(built) if isinstance(built, (int, float)) else 0.0)


def _publish(venvs_dir: Path, key: str, manifest: Mapping[str, object]) -> None:
    partial = venvs_dir / f".{key}.json.{os.getpid()}.partial"
    partial.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(partial, venvs_dir / f"{key}.json")  # atomic: readers see no manifest or a whole one


def _build(spec: EnvironmentSpec, key: str, venvs_dir: Path, base_env: Mapping[str, str],
           search_path: Sequence[str], run: CommandRunner) -> dict[str, object]:
    """Build the environment of ``key`` in place; on any failure remove it and raise."""
    uv = uv_binary()
    target = venvs_dir / key
    (venvs_dir / f"{key}.json").unlink(missing_ok=True)  # an unusable published env is rebuilt
    shutil.rmtree(target, ignore_errors=True)  # left over by an interrupted build
    uv_env = uv_environment(base_env, search_path)
    try:
        interpreter = _find_interpreter(uv, spec.requested_version, venvs_dir, uv_env)
        venv_argv = [uv, "venv", "--no-config", "--no-project", "--no-python-downloads", "--python", interpreter]
        if spec.build_command:
            venv_argv.append("--seed")  # build commands say `pip install ...`
        _step(run, "uv venv", [*venv_argv, str(target)], venvs_dir, uv_env)
        env = TaskEnvironment(key, target, "", False, 0.0, 0.0, 0.0)
        if spec.build_command:
            build_env = env.activate(base_env)  # `uv ...` build commands find the runner's uv after the env
            build_env["PATH"] = os.pathsep.join([str(target / "bin"), os.path.dirname(uv), base_env.get("PATH", "")])
            _step(run, "build_command", ["/bin/sh", "-c", spec.build_command], spec.project_dir, build_env)
        elif (spec.project_dir / REQUIREMENTS_FILE).is_file():
            _step(run, "uv pip install", [uv, "pip", "install", "--no-config", "--python", str(env.python), "-r",
                                          REQUIREMENTS_FILE], spec.project_dir, uv_env)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return {"format": MANIFEST_FORMAT, "key": key, "project_dir": str(spec.project_dir),
            "python_version": _venv_version(target) or spec.requested_version, "interpreter": interpreter,
            "requested_version": spec.requested_version,
            # a build command may carry a token (an index URL): only its hash is kept
            "build_command_sha256": hashlib.sha256((spec.build_command or "").encode()).hexdigest(),
            "files": spec.hashed_files(), "built_at": datetime.now(UTC).isoformat()}


def _find_interpreter(uv: str, version: str, cwd: Path, uv_env: Mapping[str, str]) -> str:
    """Path of an installed interpreter of ``version``, found by ``uv python find``.

    Raises:
        PythonVersionUnavailableError: None is installed (the message lists those that are).
    """
    completed = subprocess.run([uv, "python", "find", "--no-config", "--no-project", "--system",
                                "--no-python-downloads", version], cwd=cwd, env=dict(uv_env), capture_output=True,
                               text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    path = completed.stdout.strip()
    if completed.returncode != 0 or not path:
        raise unavailable_error(version, installed_interpreters(uv, uv_env))
    return path


def _step(run: CommandRunner, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
    outcome = run(argv, cwd, env)
    if outcome.returncode != 0:
        how = f"killed by signal {-outcome.returncode}" if outcome.returncode < 0 else f"exit code {outcome.returncode}"
        raise EnvironmentBuildError(f"building the task's Python environment failed at {name} ({how}): "
                                    f"{outcome.last_line or '(no output)'}")


def _venv_version(target: Path) -> str | None:
    """``version_info`` from the environment's ``pyvenv.cfg`` (written by uv), e.g. ``3.12.1``."""
    try:
        for line in (target / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition("=")
            if name.strip() in ("version_info", "version"):
                return value.strip()
    except OSError:
        return None
    return None
