"""Runs of a branch or commit: a real git repository in tmp_path, its revisions checked out as worktrees."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from orchestra_local.engine.runner import RunRequest, prepare_run
from orchestra_local.settings import RunnerSettings, resolve_settings
from orchestra_local.spec.loader import load_file
from orchestra_local.store import RunStore
from orchestra_local.worktrees import RevisionError, at_revision

PIPELINE = """\
version: v1
name: which_code
pipeline:
  g:
    tasks:
      say:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          project_dir: py
          command: python say.py
          environment_variables: '{"BRANCH": "${{ ORCHESTRA.CURRENT_BRANCH }}"}'
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def _say(repo: Path, version: str) -> None:
    (repo / "py" / "say.py").write_text(
        f'import json, os\nprint(json.dumps({{"version": "{version}", "branch": os.environ["BRANCH"]}}))\n')


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A repository whose say.py prints v1 at commit one (branch ``old``) and v2 at main; v3 uncommitted."""
    repo = tmp_path / "repo"
    (repo / "py").mkdir(parents=True)
    (repo / "orchestra").mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "orchestra" / "which_code.yml").write_text(PIPELINE)
    _say(repo, "v1")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    git(repo, "branch", "old")
    shas = {"v1": git(repo, "rev-parse", "HEAD")}
    _say(repo, "v2")
    git(repo, "commit", "-q", "-am", "v2")
    shas["v2"] = git(repo, "rev-parse", "HEAD")
    _say(repo, "v3")  # the working tree differs from every commit
    return repo, shas


def _settings(repo: Path, tmp_path: Path) -> RunnerSettings:
    return resolve_settings(repo / "orchestra" / "which_code.yml", state_dir=tmp_path / "state", max_parallel=1)


def _run(settings: RunnerSettings, pipeline: Path, revision_branch: str | None = None,
         revision_commit: str | None = None) -> tuple[str, dict[str, object], dict[str, object]]:
    """Run like the CLI does; returns (status, outputs of `say`, pipeline run record)."""
    revision = at_revision(settings, pipeline, branch=revision_branch, commit=revision_commit)
    run_settings = settings if revision is None else revision.settings
    store = RunStore(settings.metadata_url)
    execution = prepare_run(load_file(pipeline if revision is None else revision.pipeline_path),
                            RunRequest(env=dict(os.environ)), settings=run_settings, store=store)
    outcome = execution.execute()
    (task_run,) = store.list_task_runs(outcome.pipeline_run_id)
    record = store.get_pipeline_run(outcome.pipeline_run_id)
    assert record is not None
    return outcome.status.value, store.get_outputs(task_run["id"]), record


def test_a_commit_runs_that_commits_code(history: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, shas = history
    settings = _settings(repo, tmp_path)
    pipeline = repo / "orchestra" / "which_code.yml"
    status, outputs, record = _run(settings, pipeline, revision_commit=shas["v1"])
    assert (status, outputs["version"]) == ("SUCCEEDED", "v1")
    assert record["commit"] == shas["v1"] and record["branch"] is None and outputs["branch"] == ""
    assert _run(settings, pipeline)[1]["version"] == "v3"  # no revision: the working tree, as before
    assert _run(settings, pipeline, revision_branch="main")[1]["version"] == "v2"
    status, outputs, record = _run(settings, pipeline, revision_branch="old")
    assert outputs["version"] == "v1" and (record["branch"], record["commit"]) == ("old", shas["v1"])
    assert outputs["branch"] == "old"  # ORCHESTRA.CURRENT_BRANCH, though the worktree's HEAD is detached
    assert _run(settings, pipeline, revision_branch="main", revision_commit=shas["v1"])[1]["version"] == "v1"


def test_a_commits_worktree_is_checked_out_once(history: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, shas = history
    settings = _settings(repo, tmp_path)
    pipeline = repo / "orchestra" / "which_code.yml"
    first = at_revision(settings, pipeline, branch=None, commit=shas["v1"][:10])
    second = at_revision(settings, pipeline, branch="old", commit=None)
    assert first is not None and second is not None
    assert (first.reused, second.reused) == (False, True)
    assert first.worktree == second.worktree == tmp_path / "state" / "worktrees" / shas["v1"]
    assert first.settings.repo_root == first.worktree and first.settings.state_dir == settings.state_dir
    assert at_revision(settings, pipeline, branch="", commit="") is None  # empty spellings are absent


def test_an_interrupted_checkout_is_redone(history: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, shas = history
    settings = _settings(repo, tmp_path)
    pipeline = repo / "orchestra" / "which_code.yml"
    (settings.worktrees_dir / shas["v2"]).mkdir(parents=True)  # no .ready marker: a crash mid-checkout
    revision = at_revision(settings, pipeline, branch=None, commit=shas["v2"])
    assert revision is not None and not revision.reused
    assert "v2" in (revision.worktree / "py" / "say.py").read_text()


@pytest.mark.parametrize(("branch", "commit", "fragment"), [
    pytest.param(None, "0" * 40, "unknown commit '0000000000000000000000000000000000000000'", id="unknown-commit"),
    pytest.param("nope", None, "unknown branch 'nope'", id="unknown-branch-lists-branches"),
    pytest.param("old", "V2", "is not on branch 'old'", id="commit-not-on-branch"),
    pytest.param(None, "--output=/tmp/x", "is not a valid git revision name", id="option-injection"),
    pytest.param("main..old", None, "is not a valid git revision name", id="range-not-a-branch"),
])
def test_revisions_that_cannot_run_fail_before_any_run(history: tuple[Path, dict[str, str]], tmp_path: Path,
                                                       branch: str | None, commit: str | None, fragment: str) -> None:
    repo, shas = history
    settings = _settings(repo, tmp_path)
    with pytest.raises(RevisionError) as caught:
        at_revision(settings, repo / "orchestra" / "which_code.yml", branch=branch,
                    commit=shas["v2"] if commit == "V2" else commit)
    assert fragment in str(caught.value)
    if branch == "nope":
        assert "(branches: main, old)" in str(caught.value)


def test_a_pipeline_the_commit_lacks_is_named(history: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, shas = history
    newer = repo / "orchestra" / "only_in_working_tree.yml"
    newer.write_text(textwrap.dedent(PIPELINE))
    with pytest.raises(RevisionError, match=r"orchestra/only_in_working_tree.yml does not exist at commit \w{12}"):
        at_revision(_settings(repo, tmp_path), newer, branch=None, commit=shas["v1"])


def test_not_a_git_repository(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    (repo / "orchestra").mkdir(parents=True)
    settings = resolve_settings(repo / "orchestra" / "p.yml", repo_root=repo, state_dir=tmp_path / "state")
    with pytest.raises(RevisionError, match="is not a git repository, so a branch or commit cannot be run"):
        at_revision(settings, repo / "orchestra" / "p.yml", branch="main", commit=None)
