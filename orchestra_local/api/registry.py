"""The pipeline registry of the API: the files under ``<repo>/orchestra``, validated once per content.

Pipelines are the files under ``<repo>/orchestra/`` (``**/*.yml``/``*.yaml``); a pipeline's alias
is its file stem and its id a uuid5 of its repo-relative path (stable across restarts and
machines). Listing is a directory walk on every call, so added and removed files show at once.

Validating a file (our models, the reference rules and Orchestra's own validator) takes tens of
milliseconds, so :meth:`PipelineRegistry.load` keeps each file's outcome (the loaded pipeline or
its validation error) keyed by the file's mtime, size and SHA-256 of its bytes: a changed file is
revalidated on the next request, an unchanged one never. The cache is safe to use from the
server's worker threads; two requests for the same changed file validate it once.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from orchestra_local.engine.runner import pipeline_identity
from orchestra_local.errors import InvalidInputError, PipelineValidationError
from orchestra_local.spec.loader import YAML_SUFFIXES, LoadedPipeline, load_text

PIPELINES_FOLDER = "orchestra"


class NotFoundError(LookupError):
    """The addressed pipeline, run or file does not exist (HTTP 404)."""


@dataclass(frozen=True)
class PipelineFile:
    """One pipeline of the registry.

    Attributes:
        id: uuid5 of ``yaml_path``.
        alias: The file stem.
        path: Absolute path of the file.
        yaml_path: Path relative to the repository root, POSIX separators (``orchestra/x.yml``).
    """

    id: str
    alias: str
    path: Path
    yaml_path: str

    def modified_at(self) -> datetime:
        """The file's modification time (UTC)."""
        return datetime.fromtimestamp(self.path.stat().st_mtime, tz=UTC)


@dataclass(frozen=True)
class _Cached:
    fingerprint: tuple[int, int, str]  # (mtime in ns, size in bytes, sha256 hex of the bytes)
    loaded: LoadedPipeline | None
    error: PipelineValidationError | None


def repository_slug(remote_url: str) -> str | None:
    """``owner/name`` of a git remote URL, as orchestra-cli derives it (``detect_repository_slug``).

    ``git@github.com:acme/data.git``, ``https://github.com/acme/data`` and Azure DevOps'
    ``https://dev.azure.com/org/project/_git/repo`` forms are understood.
    """
    cleaned = re.sub(r"/(?:_git|scm|v3)(?=/)", "", remote_url.strip())
    match = re.search(r".*[:/]([^/]+)/([^/]+?)(?:\.git)?/?$", cleaned)
    return f"{match.group(1)}/{match.group(2)}" if match else None


class PipelineRegistry:
    """The pipelines under ``<repo_root>/orchestra``.

    Args:
        repo_root: The repository root (resolved to an absolute path).
        folder: The pipelines folder, relative to ``repo_root``.
    """

    def __init__(self, repo_root: Path, folder: str = PIPELINES_FOLDER):
        self.repo_root = repo_root.resolve()
        self.folder = self.repo_root / folder
        self._cache: dict[Path, _Cached] = {}
        self._path_locks: dict[Path, threading.Lock] = {}
        self._lock = threading.Lock()
        self._remote: tuple[tuple[int, int] | None, str | None] | None = None

    def all(self) -> list[PipelineFile]:
        """Every pipeline file, sorted by path."""
        files = sorted(p for p in self.folder.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        return [self.describe(path) for path in files]

    def describe(self, path: Path) -> PipelineFile:
        """The registry entry of a file under the pipelines folder (which need not exist yet)."""
        pipeline_id, alias, yaml_path = pipeline_identity(path, self.repo_root)
        return PipelineFile(pipeline_id, alias, path.resolve(), yaml_path)

    def find(self, id_or_alias: str) -> PipelineFile:
        """The pipeline with this id or alias.

        Raises:
            NotFoundError: When there is none.
        """
        for pipeline in self.all():
            if id_or_alias in (pipeline.id, pipeline.alias):
                return pipeline
        raise NotFoundError("Pipeline not found")

    def select(self, *, pipeline_id: str | None = None, alias: str | None = None, repository: str | None = None,
               yaml_path: str | None = None) -> PipelineFile:
        """The pipeline addressed by exactly one of Orchestra's selectors (empty values count as absent).

        The selectors are those of ``GET /pipeline`` in Orchestra's OpenAPI document: ``pipeline_id``,
        ``alias``, or the pair ``repository`` + ``yaml_path``. Locally ``yaml_path`` is relative to
        the repository root and ``repository`` must name the served repository: its ``origin``
        remote as ``owner/name`` (compared case-insensitively, as GitHub does), or the name of
        its directory.

        Raises:
            InvalidInputError: No selector, several, or half of the repository pair (HTTP 400).
            NotFoundError: Nothing matches (HTTP 404).
        """
        given = [name for name, value in (("pipeline_id", pipeline_id), ("alias", alias),
                                          ("repository", repository), ("yaml_path", yaml_path)) if value]
        if not given:
            raise InvalidInputError("Provide one selector: pipeline_id, alias, or repository with yaml_path")
        if {"repository", "yaml_path"} & set(given) and not {"repository", "yaml_path"} <= set(given):
            raise InvalidInputError("repository and yaml_path must be given together")
        if len(given) > 1 and set(given) != {"repository", "yaml_path"}:
            raise InvalidInputError(f"Provide only one selector, not {' and '.join(given)}")
        if pipeline_id or alias:
            return self.find(pipeline_id or alias or "")
        assert repository is not None and yaml_path is not None
        self._check_repository(repository)
        wanted = PurePosixPath(yaml_path.replace("\\", "/")).as_posix().removeprefix("./")
        for pipeline in self.all():
            if pipeline.yaml_path == wanted:
                return pipeline
        raise NotFoundError(f"Pipeline not found: no pipeline file at {wanted}")

    def origin_slug(self) -> str | None:
        """``owner/name`` of the repository's ``origin`` remote (None without one); re-read when ``.git/config`` changes."""
        config = self.repo_root / ".git" / "config"
        try:
            stat = config.stat()
            key: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None
        with self._lock:
            if self._remote is not None and self._remote[0] == key:
                return self._remote[1]
        result = subprocess.run(["git", "config", "--get", "remote.origin.url"], cwd=self.repo_root,
                                capture_output=True, text=True, check=False, timeout=10)
        slug = repository_slug(result.stdout) if result.returncode == 0 and result.stdout.strip() else None
        with self._lock:
            self._remote = (key, slug)
        return slug

    def _check_repository(self, repository: str) -> None:
        slug = self.origin_slug()
        if repository.casefold() in {s.casefold() for s in (slug, self.repo_root.name) if s}:
            return
        served = f"{slug} (origin)" if slug else f"{self.repo_root.name} (directory; no origin remote)"
        raise NotFoundError(f"Pipeline not found: repository {repository} is not the served repository, {served}")

    def load(self, pipeline: PipelineFile) -> LoadedPipeline:
        """The validated pipeline of a file, from the cache when the file is unchanged.

        Raises:
            NotFoundError: The file no longer exists.
            InvalidInputError: It cannot be read.
            PipelineValidationError: It is not a valid pipeline.
        """
        path = pipeline.path
        with self._lock:
            path_lock = self._path_locks.setdefault(path, threading.Lock())
        with path_lock:
            try:
                stat = path.stat()
                content = path.read_bytes()
            except FileNotFoundError:
                self.forget(path)
                raise NotFoundError("Pipeline not found") from None
            except OSError as exc:
                raise InvalidInputError(f"{path}: cannot read the file ({exc.__class__.__name__})") from None
            fingerprint = (stat.st_mtime_ns, stat.st_size, hashlib.sha256(content).hexdigest())
            with self._lock:
                cached = self._cache.get(path)
            if cached is None or cached.fingerprint != fingerprint:
                cached = self._validate(path, content, fingerprint)
                with self._lock:
                    self._cache[path] = cached
        if cached.error is not None:
            raise PipelineValidationError(cached.error.problems)
        assert cached.loaded is not None
        return cached.loaded

    @staticmethod
    def _validate(path: Path, content: bytes, fingerprint: tuple[int, int, str]) -> _Cached:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{path}: not UTF-8 text") from None
        try:
            return _Cached(fingerprint, replace(load_text(text, str(path)), path=path), None)
        except PipelineValidationError as exc:
            return _Cached(fingerprint, None, exc)

    def forget(self, path: Path) -> None:
        """Drop a file's cached outcome (after the API removed or rewrote it)."""
        with self._lock:
            self._cache.pop(path.resolve(), None)

    def cached_paths(self) -> list[Path]:
        """Files whose outcome is cached (tests and diagnostics)."""
        with self._lock:
            return sorted(self._cache)
