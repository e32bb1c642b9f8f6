"""The run viewer of a real ``orchestra-local serve``, in headless Chromium: login, runs, a run's Gantt, a task log."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.browser_checks import collect_errors, gantt_bars_in_screenshot
from tests.e2e.serving import serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "viewer-token-0123456789abcdef"
PIPELINE = """\
version: v1
name: Viewer e2e
pipeline:
  sources:
    tasks:
      extract:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {project_dir: scripts, command: python step.py extract}
  load:
    depends_on: [sources]
    matrix:
      inputs:
        table: [orders, customers]
    tasks:
      load_table:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {project_dir: scripts, command: "python step.py ${{ MATRIX.table }}"}
  release:
    depends_on: [load]
    tasks:
      publish:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        configuration: {retries: 0}
        parameters: {project_dir: scripts, command: python step.py publish}
"""
STEP = """\
import json, sys, time
time.sleep(0.3)
if sys.argv[1] == "publish":
    sys.exit("publish refused: the target is read-only")
print(f"loading {sys.argv[1]}")
print(json.dumps({"table": sys.argv[1], "rows_written": 5}))
"""


GROUPS = {"extract": "sources", "load_table": "load", "publish": "release"}


def _run(url: str) -> tuple[str, dict[str, str]]:
    """Start the pipeline through the API, wait for it; its id and ``{task label: status}``."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    api = f"{url}/api/engine/public"
    run_id = httpx.post(f"{api}/pipelines/viewer_e2e/start", json={}, headers=headers).json()["pipelineRunId"]
    deadline = time.monotonic() + 120
    while httpx.get(f"{api}/pipeline_runs/{run_id}/status", headers=headers).json()["runStatus"] not in (
            "SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.2)
    records = httpx.get(f"{api}/pipeline_runs/{run_id}/task_runs", headers=headers).json()["results"]
    labels = {}
    for record in records:
        matrix = (record["runParameters"] or {}).get("matrix")
        if record["taskId"] == "load_table" and not matrix:
            continue  # the matrix parent: its iterations are the bars
        labels[record["taskId"] + (f"[{matrix['table']}]" if matrix else "")] = record["status"]
    return run_id, {GROUPS[label.split("[")[0]] + "." + label: status for label, status in labels.items()}


def test_the_viewer_in_a_browser(repo: Path, browser) -> None:
    (repo / "orchestra" / "viewer_e2e.yml").write_text(PIPELINE)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "step.py").write_text(STEP)
    with serving({}, repo, TOKEN) as url:
        run_id, expected = _run(url)
        assert expected == {"sources.extract": "SUCCEEDED", "load.load_table[orders]": "SUCCEEDED",
                            "load.load_table[customers]": "SUCCEEDED", "release.publish": "FAILED"}
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(f"{url}/")  # no token: the login page, never data
        assert page.title().startswith("Log in") and page.locator("a.run-link").count() == 0
        assert run_id not in page.content() and "Viewer e2e" not in page.content()

        errors = collect_errors(page)
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.locator(f'a.run-link[href="/runs/{run_id}"]').click()
        assert page.url == f"{url}/runs/{run_id}"
        assert gantt_bars_in_screenshot(page) == expected
        page.locator("#tasks tr", has_text="release.publish").locator("a.log-link").first.click()
        assert "publish refused: the target is read-only" in page.locator("pre.log").first.text_content()
        page.go_back()
        page.locator("#tasks tr", has_text="load.load_table[orders]").locator("a.log-link").first.click()
        assert "loading orders" in page.locator("pre.log").first.text_content()
        assert errors == []

        fresh = browser.new_page()
        fresh.goto(f"{url}/?token={TOKEN}")  # a link with the token: a session, and the token leaves the address
        assert fresh.url == f"{url}/" and fresh.locator(f'a.run-link[href="/runs/{run_id}"]').count() == 1
