"""The run viewer of ``serve`` in-process: the token guard, the runs list, a run's page and a task's log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestra_local.viewer.auth import COOKIE, safe_next, session_value
from tests.orchestra_local.api.conftest import TOKEN

RETRIED = """
version: v1
name: viewer demo
pipeline:
  g:
    tasks:
      first: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
              parameters: {project_dir: py, command: "python task.py --name viewer-first"}}
      flaky: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [first],
              configuration: {retries: 1, retry_delay: 0},
              parameters: {project_dir: py, command: "python task.py --fail-until-attempt-file COUNTER"}}
      broken: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [first],
               parameters: {project_dir: py, command: "python task.py --exit 3"}}
      after: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [broken],
              parameters: {project_dir: py, command: "python task.py"}}
"""


@pytest.fixture
def finished_run(api, write_pipeline, tmp_path: Path) -> str:
    """A run of RETRIED: first succeeds, flaky needs two attempts, broken fails, after is skipped."""
    write_pipeline("viewer_demo", RETRIED.replace("COUNTER", str(tmp_path / "counter")))
    run_id = api.post("/pipelines/viewer_demo/start", json={}).json()["pipelineRunId"]
    assert api.wait(run_id)["runStatus"] == "FAILED"
    api.client.cookies.clear()
    return run_id


def _login(api) -> None:
    api.client.cookies.set(COOKIE, session_value(TOKEN))


def test_without_a_session_every_page_is_the_login_page_and_no_data(api, finished_run: str) -> None:
    for path in ("/", f"/runs/{finished_run}", f"/runs/{finished_run}/tasks/x", f"/?token=wrong-{TOKEN}"):
        response = api.client.get(path, follow_redirects=False)
        assert response.status_code == 401 and "<h1>Log in</h1>" in response.text, path
        assert finished_run not in response.text.replace(f"/runs/{finished_run}", ""), path  # only in `next`
        assert "viewer demo" not in response.text and "viewer-first" not in response.text
    assert "is not this server" in api.client.get(f"/?token=wrong-{TOKEN}").text
    api.client.cookies.set(COOKIE, session_value("another-token"))
    assert api.client.get("/").status_code == 401
    assert api.client.get("/static/plotly.min.js").status_code == 200  # a library, not data


def test_token_once_then_the_cookie(api, finished_run: str) -> None:
    response = api.client.get(f"/runs/{finished_run}?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/runs/{finished_run}"
    cookie = response.headers["set-cookie"]
    assert TOKEN not in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert api.client.get(f"/runs/{finished_run}").status_code == 200
    assert api.client.get("/api/engine/public/pipeline_runs").status_code == 401  # the cookie is not an API key
    assert api.client.get("/logout", follow_redirects=False).status_code == 303
    api.client.cookies.clear()
    assert api.client.get("/").status_code == 401


def test_the_login_form(api, finished_run: str) -> None:
    refused = api.client.post("/login", data={"token": "nope", "next": "/"})
    assert refused.status_code == 401 and "is not this server" in refused.text
    accepted = api.client.post("/login", data={"token": TOKEN, "next": f"/runs/{finished_run}"}, follow_redirects=False)
    assert accepted.status_code == 303 and accepted.headers["location"] == f"/runs/{finished_run}"
    offsite = api.client.post("/login", data={"token": TOKEN, "next": "//evil.example/x"}, follow_redirects=False)
    assert offsite.headers["location"] == "/"
    assert [safe_next(url) for url in ("/runs/1?x=2", "https://evil.example", "//evil", "/\\evil", None)] == [
        "/runs/1?x=2", "/", "/", "/", "/"]


def test_the_runs_list_filters_and_links_to_runs(api, finished_run: str) -> None:
    _login(api)
    page = api.client.get("/").text
    assert f'href="/runs/{finished_run}"' in page and "viewer demo" in page and ">FAILED<" in page
    assert f'href="/runs/{finished_run}"' not in api.client.get("/", params={"status": "SUCCEEDED"}).text
    assert "No runs match" in api.client.get("/", params={"pipeline": "00000000-0000-0000-0000-000000000000"}).text


def test_the_run_page_shows_the_gantt_statuses_outputs_and_log_links(api, finished_run: str) -> None:
    _login(api)
    page = api.client.get(f"/runs/{finished_run}").text
    assert 'id="gantt"' in page and '<script src="/static/plotly.min.js">' in page
    for label, status in (("g.first", "SUCCEEDED"), ("g.flaky", "SUCCEEDED"), ("g.broken", "FAILED"),
                          ("g.after", "SKIPPED")):
        row = re.search(rf"<td>{re.escape(label)}<br>.*?</tr>", page, re.S)
        assert row is not None and f">{status}<" in row.group(0), label
    flaky = re.search(r"<td>g\.flaky<br>.*?</tr>", page, re.S).group(0)  # type: ignore[union-attr]
    assert ">attempt 1<" in flaky and ">attempt 2<" in flaky and '<td class="number">2</td>' in flaky
    assert "rows_written" in page  # the worker's summary output
    assert "2 attempts" in page  # the retried bar's label in the chart
    assert api.client.get("/runs/no-such-run").status_code == 404


def test_a_task_log_page_shows_the_attempt_asked_for(api, finished_run: str) -> None:
    _login(api)
    task_runs = api.get(f"/pipeline_runs/{finished_run}/task_runs").json()["results"]
    by_task = {record["taskId"]: record["id"] for record in task_runs}
    first = api.client.get(f"/runs/{finished_run}/tasks/{by_task['flaky']}?attempt=1").text
    assert "first attempt fails" in first and "attempt 1 of 2" in first
    latest = api.client.get(f"/runs/{finished_run}/tasks/{by_task['flaky']}").text
    assert "first attempt fails" not in latest and "attempt 2 of 2" in latest
    broken = api.client.get(f"/runs/{finished_run}/tasks/{by_task['broken']}").text
    assert "failing on purpose with 3" in broken
    assert api.client.get(f"/runs/{finished_run}/tasks/{by_task['flaky']}?attempt=9").status_code == 404
    assert api.client.get(f"/runs/{finished_run}/tasks/not-a-task-run").status_code == 404


def test_pages_say_what_started_a_run_and_the_ticks_page_why_one_did_or_did_not_run(api, finished_run: str) -> None:
    from datetime import UTC, datetime

    from orchestra_local.store.ticks import TickOutcome, TriggerKind, claim, record_tick

    _login(api)
    assert "started by API" in api.client.get(f"/runs/{finished_run}").text  # started through the API
    assert "No alert rule matched" in api.client.get(f"/runs/{finished_run}").text
    assert re.search(r"<td>API</td>", api.client.get("/").text)
    store = api.app.state.service.store
    record_tick(store, claim("p-id", "nightly", TriggerKind.SENSOR, "landed", datetime(2026, 12, 7, 10, tzinfo=UTC)),
                TickOutcome.TIMED_OUT, "timed out: no pass in 4 poll(s); last: check 'batch': query returned 0 row(s)")
    page = api.client.get("/ticks?pipeline=nightly").text
    assert "TIMED_OUT" in page and "query returned 0 row(s)" in page and "sensor <code>landed</code>" in page
    assert "No ticks yet" in api.client.get("/ticks?pipeline=other").text
    api.client.cookies.clear()
    assert api.client.get("/ticks", follow_redirects=False).status_code == 401
