"""Running a pipeline as it is at a given branch or commit: one git worktree per commit.

Orchestra's start request takes ``branch`` and ``commit`` (``docs/orchestra-contract.md``, section
7): the run executes the repository at that revision. Locally the revision is checked out with
``git worktree add --detach`` into ``<state dir>/worktrees/<commit sha>`` (cached: later runs of
the same commit reuse it; a ``<sha>.ready`` marker, written last, tells a finished checkout from
one a crash interrupted). The run then reads the pipeline file and every ``project_dir`` from the
checkout, and records the branch and commit. An unknown branch or commit is an error before any
run is created.

With both ``branch`` and ``commit``, the commit must be on the branch (an ancestor of its tip).
With only ``branch``, its tip commit runs (a local branch first, else ``origin/<branch>``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from orchestra_local.errors import InvalidInputError
from orchestra_local.settings import GitRef, RunnerSettings

MAX_REVISION_LENGTH = 256
LOCK_TIMEOUT_SECONDS = 600.0
"""Longest wait for another process checking out the same commit."""
GIT_TIMEOUT_SECONDS = 600.0
_UNSAFE_REVISION = re.compile(r"^-|[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")


class RevisionError(InvalidInputError):
    """A branch or commit that cannot be run (unknown, not on the branch, or not a git repository)."""


@dataclass(frozen=True)
class Revision:
    """A run's checkout of a branch or commit.

    Attributes:
        commit: Full sha of the commit that runs.
        branch: The requested branch, if any.
        worktree: The worktree folder (``<state dir>/worktrees/<commit>``).
        settings: The runner settings with ``repo_root`` inside the worktree and ``git_ref`` set.
        pipeline_path: The pipeline file inside the worktree.
        reused: False when this call checked the commit out.
    """

    commit: str
    branch: str | None
    worktree: Path
    settings: RunnerSettings
    pipeline_path: Path
    reused: bool


def at_revision(settings: RunnerSettings, pipeline_path: Path, *, branch: str | None,
                commit: str | None) -> Revision | None:
    """Check out ``branch``/``commit`` (cached) and point the run at it; None when neither is given.

    Args:
        settings: The runner settings (``repo_root`` = the working tree).
        pipeline_path: The pipeline file in the working tree; the same repo-relative path is run.
        branch: Branch name (``main``), or None.
        commit: Commit sha or any revision git resolves to a commit, or None.

    Raises:
        RevisionError: Not a git repository, an unknown branch or commit, a commit not on the
            branch, or a pipeline file the revision does not hold.
    """
    branch, commit = (branch or None), (commit or None)
    if branch is None and commit is None:
        return None
    for name, value in (("branch", branch), ("commit", commit)):
        if value is not None and (len(value) > MAX_REVISION_LENGTH or _UNSAFE_REVISION.search(value)):
            raise RevisionError(f"{name} {value[:80]!r} is not a valid git revision name")
    root = settings.repo_root
    toplevel = Path(_git(root, "rev-parse", "--show-toplevel", error=f"{root} is not a git repository, so a "
                                                                        "branch or commit cannot be run"))
    sha = _resolve(root, branch, commit)
    worktree, reused = _checkout(root, settings.worktrees_dir, sha)
    inside = worktree / root.resolve().relative_to(toplevel.resolve())
    relative = pipeline_path.resolve().relative_to(root.resolve())
    target = inside / relative
    if not target.is_file():
        raise RevisionError(f"{relative} does not exist at {_describe(branch, sha)}")
    run_settings = settings.model_copy(update={"repo_root": inside, "git_ref": GitRef(branch=branch, commit=sha)})
    return Revision(sha, branch, worktree, run_settings, target, reused)


def _describe(branch: str | None, sha: str) -> str:
    return f"commit {sha[:12]}" + (f" of branch {branch}" if branch else "")


def _resolve(root: Path, branch: str | None, commit: str | None) -> str:
    branch_sha = None
    if branch is not None:
        for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
            branch_sha = _try_git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
            if branch_sha:
                break
        if not branch_sha:
            known = _try_git(root, "for-each-ref", "--count=20", "--format=%(refname:short)", "refs/heads") or ""
            raise RevisionError(f"unknown branch {branch!r} in {root} (branches: {', '.join(known.split()) or 'none'})")
    if commit is None:
        assert branch_sha is not None
        return branch_sha
    sha = _try_git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{commit}^{{commit}}")
    if not sha:
        raise RevisionError(f"unknown commit {commit!r} in {root}: fetch it or check the sha")
    if branch_sha and sha != branch_sha and _try_git(root, "merge-base", "--is-ancestor", sha, branch_sha) is None:
        raise RevisionError(f"commit {sha[:12]} is not on branch {branch!r}")
    return sha


def _checkout(root: Path, worktrees_dir: Path, sha: str) -> tuple[Path, bool]:
    """The worktree of ``sha``, created once under a cross-process lock."""
    from filelock import FileLock, Timeout  # here: most runs check out nothing (7 ms of every start-up)

    worktrees_dir.mkdir(parents=True, exist_ok=True)
    worktree, ready = worktrees_dir / sha, worktrees_dir / f"{sha}.ready"
    try:
        with FileLock(worktrees_dir / f"{sha}.lock", timeout=LOCK_TIMEOUT_SECONDS):
            if ready.is_file() and (worktree / ".git").exists():
                return worktree, True
            ready.unlink(missing_ok=True)
            if worktree.exists():  # an interrupted checkout: forget it, then start again
                _try_git(root, "worktree", "remove", "--force", str(worktree))
                shutil.rmtree(worktree, ignore_errors=True)
            _try_git(root, "worktree", "prune")
            _git(root, "worktree", "add", "--detach", str(worktree), sha,
                 error=f"could not check out commit {sha[:12]} into {worktree}")
            partial = worktrees_dir / f".{sha}.ready.{os.getpid()}"
            partial.write_text(sha + "\n", encoding="utf-8")
            os.replace(partial, ready)
            return worktree, False
    except Timeout:
        raise RevisionError(f"another process has been checking out {sha[:12]} for {LOCK_TIMEOUT_SECONDS:.0f}s; "
                            f"remove {worktrees_dir / (sha + '.lock')} if it died") from None


def _run_git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=env,
                          timeout=GIT_TIMEOUT_SECONDS, check=False, stdin=subprocess.DEVNULL)


def _try_git(root: Path, *args: str) -> str | None:
    """Stripped stdout of a git command, or None when it failed."""
    completed = _run_git(root, *args)
    return completed.stdout.strip() if completed.returncode == 0 else None


def _git(root: Path, *args: str, error: str) -> str:
    completed = _run_git(root, *args)
    if completed.returncode != 0:
        detail = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RevisionError(f"{error}: {detail}")
    return completed.stdout.strip()
