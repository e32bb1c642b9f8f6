"""Orchestra's own CLI (orchestra-cli from PyPI) against `orchestra-local serve` on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from textwrap import dedent

import duckdb
import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "cli-test-token-42"
REPO_ROOT = Path(__file__).resolve().parents[2]
ORCHESTRA = str(Path(sys.executable).with_name("orchestra"))

GOOD = """
version: v1
name: passes
pipeline:
  g:
    tasks:
      t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: "python -c 'print(1)'"}}
"""
FAILING = GOOD.replace("passes", "fails").replace("print(1)", "import sys; sys.exit(3)")
BAD = """
version: v1
name: bad
schedule: [{cron: "0 25 ? * * *"}]
pipeline:
  g:
    tasks:
      t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {commnd: "python x.py"}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(cli_path: str, root: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``orchestra-local serve`` for ``root`` on a free loopback port; yields the base URL."""
    port = free_port()
    process = subprocess.Popen([cli_path, "serve", "--port", str(port), "--repo-root", str(root), "--no-scheduler"],
                               env={**os.environ, **(env or {}), "ORCHESTRA_LOCAL_API_TOKEN": TOKEN},
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base_url}/api/engine/public/health").status_code == 200:
                break
        except httpx.TransportError:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
            time.sleep(0.1)
    try:
        yield base_url
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "Traceback" not in output, output


@pytest.fixture
def server(cli_path: str, repo: Path) -> Iterator[str]:
    for name, text in (("passes", GOOD), ("fails", FAILING), ("bad", BAD)):
        (repo / "orchestra" / f"{name}.yml").write_text(dedent(text))
    with serving(cli_path, repo) as base_url:
        yield base_url


def orchestra(base_url: str, *args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BASE_URL": base_url, "ORCHESTRA_API_KEY": TOKEN, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([ORCHESTRA, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          input=stdin)


def test_validate_good_and_bad_files(server: str, repo: Path) -> None:
    good = orchestra(server, "pipeline", "validate", str(repo / "orchestra" / "passes.yml"), cwd=repo)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Validation passed" in good.stdout
    bad = orchestra(server, "pipeline", "validate", str(repo / "orchestra" / "bad.yml"), cwd=repo)
    assert bad.returncode == 1
    assert "Error at: schedule.0.cron" in bad.stdout and "Invalid hour value" in bad.stdout
    assert "Error at: pipeline.g.tasks.t.parameters.commnd" in bad.stdout


def test_run_waits_and_exits_with_the_run_outcome(server: str, repo: Path) -> None:
    passed = orchestra(server, "pipeline", "run", "--alias", "passes", "--wait", cwd=repo)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Pipeline succeeded" in passed.stdout
    failed = orchestra(server, "pipeline", "run", "--alias", "fails", "--wait", cwd=repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Pipeline ended with status FAILED" in failed.stdout


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args], cwd=cwd,
                            capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A throwaway clone (tmp/work) of a bare origin (tmp/origin.git) holding orchestra/passes.yml."""
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    work = tmp_path / "work"
    git("clone", "-q", str(origin), str(work), cwd=tmp_path)
    git("checkout", "-q", "-b", "main", cwd=work)
    (work / "orchestra").mkdir()
    (work / "orchestra" / "passes.yml").write_text("# committed comment\n" + dedent(GOOD))
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "seed", cwd=work)
    git("push", "-q", "-u", "origin", "main", cwd=work)
    return work


def refs(repository: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repository)


def test_build_update_new_delete_write_files_and_never_touch_git(cli_path: str, clone: Path) -> None:
    origin = clone.parent / "origin.git"
    origin_before, head_before = refs(origin), git("rev-parse", "HEAD", cwd=clone)
    passes = clone / "orchestra" / "passes.yml"
    passes.write_text(passes.read_text().replace("name: passes", "name: passes locally"))  # uncommitted edit
    edited = passes.read_text()
    drafts = clone / "drafts"
    drafts.mkdir()
    with serving(cli_path, clone) as base_url:
        built = orchestra(base_url, "pipeline", "build", "--path", str(passes), "--force", cwd=clone)
        assert built.returncode == 0, built.stdout + built.stderr
        assert "Updating draft pipeline" in built.stdout and "Pipeline succeeded" in built.stdout
        assert passes.read_text() == edited  # same definition: the file, comments included, is untouched

        (drafts / "passes.yml").write_text(dedent(GOOD).replace("name: passes", "name: passes updated"))
        updated = orchestra(base_url, "pipeline", "update", "--path", str(drafts / "passes.yml"), "--alias",
                            "passes", cwd=clone)
        assert updated.returncode == 0, updated.stdout + updated.stderr
        assert "updated successfully" in updated.stdout
        assert "name: passes updated" in passes.read_text()

        (drafts / "fresh.yml").write_text(dedent(GOOD).replace("name: passes", "name: fresh"))
        created = orchestra(base_url, "pipeline", "new", "--path", str(drafts / "fresh.yml"), "--alias", "fresh",
                            cwd=clone)
        assert created.returncode == 0, created.stdout + created.stderr
        fresh = clone / "orchestra" / "fresh.yml"
        assert "name: fresh" in fresh.read_text()

        (drafts / "new_build.yml").write_text(dedent(GOOD).replace("name: passes", "name: built new"))
        built_new = orchestra(base_url, "pipeline", "build", "--path", str(drafts / "new_build.yml"), "--force",
                              cwd=clone)
        assert built_new.returncode == 0, built_new.stdout + built_new.stderr
        assert "Creating draft pipeline (alias: new_build)" in built_new.stdout
        assert "Pipeline succeeded" in built_new.stdout
        assert "name: built new" in (clone / "orchestra" / "new_build.yml").read_text()

        refused = orchestra(base_url, "pipeline", "delete", "--alias", "fresh", cwd=clone, stdin="n\n")
        assert refused.returncode == 1 and fresh.exists()
        deleted = orchestra(base_url, "pipeline", "delete", "--alias", "fresh", cwd=clone, stdin="y\n")
        assert deleted.returncode == 0, deleted.stdout + deleted.stderr
        assert not fresh.exists()
        by_path = orchestra(base_url, "pipeline", "delete", "--path", str(clone / "orchestra" / "new_build.yml"),
                            cwd=clone, stdin="y\n")
        assert by_path.returncode == 0, by_path.stdout + by_path.stderr
        assert not (clone / "orchestra" / "new_build.yml").exists()

    assert refs(origin) == origin_before  # nothing pushed
    assert git("rev-parse", "HEAD", cwd=clone) == head_before  # nothing committed
    assert git("branch", "--list", cwd=clone).split() == ["*", "main"]  # no branch created
    assert git("status", "--porcelain", cwd=clone).split() == ["M", "orchestra/passes.yml", "??", "drafts/"]


def test_get_by_path_and_run_one_task_by_alias(cli_path: str, clone: Path) -> None:
    (clone / "orchestra" / "two.yml").write_text(dedent("""
        version: v1
        name: two
        pipeline:
          first:
            name: First group
            tasks:
              a: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: "python -c 'print(1)'"}}
          second:
            depends_on: [first]
            tasks:
              b: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, name: Second task,
                  parameters: {command: "python -c 'print(2)'"}}
        """))
    (clone / "orchestra" / "tpch_elt.yml").write_text((REPO_ROOT / "orchestra" / "tpch_elt.yml").read_text())
    with serving(cli_path, clone) as base_url:
        demo = orchestra(base_url, "pipeline", "get", "--path", "orchestra/tpch_elt.yml", cwd=clone)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "Name: TPC-H ELT #demo" in demo.stdout and "Num Tasks: 2" in demo.stdout
        got = orchestra(base_url, "pipeline", "get", "--path", "orchestra/passes.yml", cwd=clone)
        assert got.returncode == 0, got.stdout + got.stderr
        assert "Alias: passes" in got.stdout and "Storage Provider: ORCHESTRA" in got.stdout
        assert "YAML Path: orchestra/passes.yml" in got.stdout

        ran = orchestra(base_url, "pipeline", "run", "--alias", "two", "--task", "Second task", "--force", cwd=clone)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "Pipeline succeeded" in ran.stdout
        run = httpx.get(f"{base_url}/api/engine/public/pipeline_runs", headers={"Authorization": f"Bearer {TOKEN}"},
                        params={"pipeline_ids": got.stdout.split("ID: ")[1].split()[0]}).json()
        assert run["total"] == 0  # that was the id of passes, which did not run
        (two_run,) = httpx.get(f"{base_url}/api/engine/public/pipeline_runs",
                               headers={"Authorization": f"Bearer {TOKEN}"}).json()["results"]
        task_runs = httpx.get(f"{base_url}/api/engine/public/pipeline_runs/{two_run['id']}/task_runs",
                              headers={"Authorization": f"Bearer {TOKEN}"}).json()["results"]
        assert {t["taskId"]: t["status"] for t in task_runs}["b"] == "SUCCEEDED"
        assert {t["taskId"]: t["status"] for t in task_runs}["a"] != "SUCCEEDED"

        by_path = orchestra(base_url, "pipeline", "run", "--path", "orchestra/passes.yml", "--force", cwd=clone)
        assert by_path.returncode == 0, by_path.stdout + by_path.stderr
        assert "Pipeline succeeded" in by_path.stdout
        listed = orchestra(base_url, "pipeline", "list", cwd=clone)
        assert listed.returncode == 0 and '"latestRunStatus": "SUCCEEDED"' in listed.stdout


def test_run_the_demo_transform_group_alone(cli, cli_path: str, tmp_path: Path) -> None:
    """`orchestra pipeline run --alias tpch_elt --task transform`: only dbt runs, over raw tables loaded before."""
    env = {"TPCH_SOURCE_URL": f"sqlite:///{tmp_path / 'tpch_source.sqlite'}"}
    generated = subprocess.run([sys.executable, "-m", "tpch_source", "--scale-factor", "0.01"],
                               cwd=REPO_ROOT / "python", env={**os.environ, **env}, capture_output=True, text=True,
                               timeout=300)
    assert generated.returncode == 0, generated.stderr
    ingested = cli("run", str(REPO_ROOT / "orchestra" / "tpch_elt.yml"), "--task-ids", "ingest_table", env=env)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    warehouse = Path(os.environ["WAREHOUSE_DUCKDB_PATH"])
    with serving(cli_path, REPO_ROOT, env) as base_url:
        ran = orchestra(base_url, "pipeline", "run", "--alias", "tpch_elt", "--task", "transform", cwd=tmp_path)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "Pipeline succeeded" in ran.stdout
        headers = {"Authorization": f"Bearer {TOKEN}"}
        latest = httpx.get(f"{base_url}/api/engine/public/pipeline", params={"alias": "tpch_elt"},
                           headers=headers).json()
        task_runs = httpx.get(f"{base_url}/api/engine/public/pipeline_runs/{latest['latestRunId']}/task_runs",
                              params={"page_size": 50}, headers=headers).json()["results"]
    statuses = {t["taskId"]: t["status"] for t in task_runs if not t["matrixParentId"]}
    assert statuses["dbt_build"] == "SUCCEEDED" and statuses["ingest_table"] == "SKIPPED"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute("select count(*) from analytics.fct_orders").fetchone() == (15000,)


def test_import_answers_for_a_file_of_the_served_repository(cli_path: str, clone: Path) -> None:
    origin = clone.parent / "origin.git"
    # orchestra-cli imports only from a known git host: GitHub for fetching, the bare origin for any push
    git("remote", "set-url", "origin", "git@github.com:acme/data.git", cwd=clone)
    git("remote", "set-url", "--push", "origin", str(origin), cwd=clone)
    before = refs(origin)
    with serving(cli_path, clone) as base_url:
        imported = orchestra(base_url, "pipeline", "import", "--path", "orchestra/passes.yml", "--default-branch",
                             "main", cwd=clone)
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert "acme/data/orchestra/passes.yml imported successfully" in imported.stdout
        other = orchestra(base_url, "pipeline", "import", "--path", "orchestra/passes.yml", "--default-branch",
                          "main", "--alias", "x", cwd=clone)
        assert other.returncode == 1
        assert "locally a pipeline's alias is its file stem" in other.stdout
    assert refs(origin) == before
