"""Temporary files and directories named after the process that owns them.

A worker killed with SIGKILL cannot remove its temporary files. Naming them
``<prefix><pid>-<random>`` lets the next worker recognise and remove the ones whose owner is
gone, without touching those of workers still running.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)


def owned_prefix(prefix: str) -> str:
    """The name prefix for a temporary file or directory owned by this process.

    Args:
        prefix: Fixed part identifying the kind of file, e.g. ``.ingest-staging-``.

    Returns:
        ``<prefix><pid>-``; pass it to :mod:`tempfile` as ``prefix``.
    """
    return f"{prefix}{os.getpid()}-"


def remove_orphans(parent: Path, prefix: str) -> list[Path]:
    """Remove entries of ``parent`` named ``<prefix><pid>-...`` whose process no longer runs.

    Args:
        parent: Directory to look in; a missing directory holds no orphans.
        prefix: The fixed prefix given to :func:`owned_prefix`.

    Returns:
        The files and directories removed.
    """
    removed = []
    for candidate in parent.glob(f"{prefix}*"):
        owner = candidate.name[len(prefix) :].split("-", 1)[0]
        if not owner.isdigit() or _process_exists(int(owner)):
            continue
        if candidate.is_dir():
            remove_tree(candidate)
        else:
            candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def remove_tree(path: Path) -> None:
    """Delete a directory tree, logging (not raising) what cannot be deleted.

    Args:
        path: Directory to delete; a missing directory is fine.
    """

    def report(
        function: object,
        failed: str,
        info: tuple[type[BaseException], BaseException, TracebackType],
    ) -> None:
        if not isinstance(info[1], FileNotFoundError):
            logger.warning("could not remove %s: %s", failed, info[1])

    shutil.rmtree(path, onerror=report)


class OwnedDirectory:
    """A private temporary directory ``<prefix><pid>-<random>`` under ``parent``.

    Entering removes the directories of owners that are gone (:func:`remove_orphans`) and
    creates this process's own; leaving removes it with everything in it.

    Args:
        parent: Directory to create it in (created if missing).
        prefix: Fixed part of the name identifying its kind, e.g. ``.ingest-staging-``.
    """

    def __init__(self, parent: Path, prefix: str) -> None:
        self.parent = parent
        self._prefix = prefix
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        """The directory; only valid inside the ``with`` block.

        Raises:
            RuntimeError: Outside the ``with`` block.
        """
        if self._path is None:
            raise RuntimeError(f"{type(self).__name__} used outside its 'with' block")
        return self._path

    def __enter__(self) -> OwnedDirectory:
        self.parent.mkdir(parents=True, exist_ok=True)
        for orphan in remove_orphans(self.parent, self._prefix):
            logger.info("removed %s left by a process that is gone", orphan)
        self._path = Path(tempfile.mkdtemp(dir=self.parent, prefix=owned_prefix(self._prefix)))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._path is not None:
            remove_tree(self._path)
            self._path = None


def _process_exists(pid: int) -> bool:
    """Whether a process with this id runs (on this machine, in this PID namespace)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True
