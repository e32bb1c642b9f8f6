"""The pipeline registry of the API: the files under ``<repo>/orchestra``, validated once per content.

Pipelines are the files under ``<repo>/orchestra/`` (``**/*.yml``/``*.yaml``); a pipeline's alias
is its file stem and its id a uuid5 of its repo-relative path (stable across restarts and
machines). Listing is a directory walk on every call, so added and removed files show at once.

Validating a file (our models, the reference rules and Orchestra's own validator) takes tens of
milliseconds, so :meth:`PipelineRegistry.load` keeps each file's outcome (the loaded pipeline or
its validation error, and whatever :meth:`PipelineRegistry.derive` computed from it): while the
file's mtime, size, ctime and inode are unchanged it is not even read; when any of them changes
it is read and hashed (SHA-256), and revalidated only when the bytes differ. ctime cannot be set
back by a writer, so an edit that keeps size and mtime is still seen. The cache is safe to use
from the server's worker threads; two requests for the same changed file validate it once.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

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


@dataclass
class _Cached:
    stat_key: tuple[int, int, int, int]  # (mtime ns, size bytes, ctime ns, inode): unchanged -> not re-read
    digest: str  # sha256 hex of the bytes: unchanged -> not revalidated
    loaded: LoadedPipeline | None
    error: PipelineValidationError | None
    derived: dict[str, Any] = field(default_factory=dict)


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
        self._described: dict[str, PipelineFile] = {}
        self._path_locks: dict[Path, threading.Lock] = {}
        self._lock = threading.Lock()
        self._remote: tuple[tuple[int, int] | None, str | None] | None = None

    def all(self) -> list[PipelineFile]:
        """Every pipeline file, sorted by path (symlinked folders are not entered, as ``Path.rglob``)."""
        found: list[tuple[str, bool]] = []
        folders = [str(self.folder)]
        while folders:
            try:
                with os.scandir(folders.pop()) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(entry.path)
                        elif entry.name.endswith(YAML_SUFFIXES) and entry.is_file():
                            found.append((entry.path, entry.is_symlink()))
            except FileNotFoundError:
                continue
        found.sort()
        with self._lock:
            memo = [None if symlink else self._described.get(path) for path, symlink in found]
        return [hit or self.describe(Path(path), symlink=symlink) for hit, (path, symlink) in zip(memo, found, strict=True)]

    def describe(self, path: Path, *, symlink: bool | None = None) -> PipelineFile:
        """The registry entry of a file under the pipelines folder (which need not exist yet).

        Entries of plain files are memoized by path (resolving paths dominated a listing's cost);
        a symlink is resolved on every call, as its target may change.

        Args:
            path: The file.
            symlink: Whether it is a symlink, when the caller knows (saves a ``lstat``).
        """
        symlink = path.is_symlink() if symlink is None else symlink
        with self._lock:
            memo = None if symlink else self._described.get(str(path))
        if memo is not None:
            return memo
        pipeline_id, alias, yaml_path = pipeline_identity(path, self.repo_root)
        described = PipelineFile(pipeline_id, alias, path.resolve(), yaml_path)
        if not symlink:
            with self._lock:
                self._described[str(path)] = described
        return described

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
        cached = self._entry(pipeline)
        if cached.error is not None:
            raise PipelineValidationError(cached.error.problems)
        assert cached.loaded is not None
        return cached.loaded

    def derive(self, pipeline: PipelineFile, name: str, compute: Callable[[LoadedPipeline], Any]) -> Any:
        """``compute(loaded)``, computed once per file content and kept with the cached file.

        Raises:
            The errors of :meth:`load`.
        """
        cached = self._entry(pipeline)
        if cached.error is not None:
            raise PipelineValidationError(cached.error.problems)
        assert cached.loaded is not None
        with self._lock:
            if name in cached.derived:
                return cached.derived[name]
        value = compute(cached.loaded)
        with self._lock:
            cached.derived[name] = value
        return value

    def is_cached(self, pipeline: PipelineFile, name: str) -> bool:
        """True when :meth:`derive` of ``name`` would answer from the cache: one ``stat``, never a
        wait on a file being validated, so an async route may call it on the event loop."""
        try:
            stat = pipeline.path.stat()
        except OSError:
            return False
        with self._lock:
            cached = self._cache.get(pipeline.path)
            return (cached is not None and cached.stat_key == (stat.st_mtime_ns, stat.st_size, stat.st_ctime_ns, stat.st_ino)
                    and (cached.error is not None or name in cached.derived))

    def _entry(self, pipeline: PipelineFile) -> _Cached:
        path = pipeline.path
        with self._lock:
            path_lock = self._path_locks.setdefault(path, threading.Lock())
        with path_lock:
            try:
                stat = path.stat()
                stat_key = (stat.st_mtime_ns, stat.st_size, stat.st_ctime_ns, stat.st_ino)
                with self._lock:
                    cached = self._cache.get(path)
                if cached is not None and cached.stat_key == stat_key:
                    return cached
                content = path.read_bytes()
            except FileNotFoundError:
                self.forget(path)
                raise NotFoundError("Pipeline not found") from None
            except OSError as exc:
                raise InvalidInputError(f"{path}: cannot read the file ({exc.__class__.__name__})") from None
            digest = hashlib.sha256(content).hexdigest()
            if cached is not None and cached.digest == digest:
                cached.stat_key = stat_key  # touched or rewritten with the same bytes: still valid
            else:
                cached = self._validate(path, content, stat_key, digest)
            with self._lock:
                self._cache[path] = cached
            return cached

    @staticmethod
    def _validate(path: Path, content: bytes, stat_key: tuple[int, int, int, int], digest: str) -> _Cached:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{path}: not UTF-8 text") from None
        try:
            return _Cached(stat_key, digest, replace(load_text(text, str(path)), path=path), None)
        except PipelineValidationError as exc:
            return _Cached(stat_key, digest, None, exc)

    def forget(self, path: Path) -> None:
        """Drop a file's cached outcome (after the API removed or rewrote it)."""
        with self._lock:
            self._cache.pop(path.resolve(), None)

    def cached_paths(self) -> list[Path]:
        """Files whose outcome is cached (tests and diagnostics)."""
        with self._lock:
            return sorted(self._cache)
