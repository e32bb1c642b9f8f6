"""Finding the run behind a start whose answer was lost: one clear match, or unknown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from worker_kit.orchestra_api import OrchestraClient

from run_multiple.recover import CLOCK_SKEW, find_started_run

PIPELINE_ID = "0b6cc4d4-64c5-4bb1-9d4e-8c2bd7a2c0f3"
SENT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
INPUTS = {"start_date": "1995-02-01", "end_date": "1995-02-28"}


def api(runs: list[str], parameters: dict[str, list[dict[str, Any]]]) -> tuple[OrchestraClient, list[str]]:
    """A client over an in-memory answer: ``runs`` created since the request, ``parameters`` per run
    (a list of successive answers: the task runs resolve their parameters when they start)."""
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.endswith("/pipeline_runs"):
            assert request.url.params["time_from"] == (SENT - CLOCK_SKEW).isoformat()
            results = [{"id": run} for run in runs]
        else:
            run_id = request.url.path.split("/")[-2]
            answers = parameters[run_id]
            results = [{"id": "t", "taskParameters": answers.pop(0) if len(answers) > 1 else answers[0]}]
        return httpx.Response(200, json={"page": 1, "pageSize": 100, "total": len(results), "results": results})

    return OrchestraClient("http://orchestra.test", "t0ken", transport=httpx.MockTransport(handle)), asked


def command(start: str, end: str) -> dict[str, Any]:
    return {"command": f"python -m ingest --initial-value {start} --end-value {end}"}


def test_the_one_new_run_carrying_the_inputs_is_found_once_its_parameters_resolve() -> None:
    unresolved = {"command": "python -m ingest --initial-value ${{ inputs.start_date }}"}
    client, _ = api(["mine", "other"], {"mine": [unresolved, command("1995-02-01", "1995-02-28")],
                                        "other": [command("1995-03-01", "1995-03-31")]})
    sleeps: list[float] = []
    found = find_started_run(client, PIPELINE_ID, INPUTS, SENT, known_run_ids={"older"}, sleep=sleeps.append)
    assert found.pipeline_run_id == "mine" and sleeps == [2.0]


def test_runs_the_batch_already_owns_are_never_the_answer() -> None:
    client, _ = api(["known"], {"known": [command("1995-02-01", "1995-02-28")]})
    found = find_started_run(client, PIPELINE_ID, INPUTS, SENT, known_run_ids={"known"}, attempts=2, sleep=lambda s: None)
    assert found.pipeline_run_id is None and found.explanation == "no run of the pipeline was created after the request"


def test_two_runs_with_the_same_inputs_cannot_be_told_apart() -> None:
    client, _ = api(["a", "b"], {"a": [command("1995-02-01", "1995-02-28")], "b": [command("1995-02-01", "1995-02-28")]})
    found = find_started_run(client, PIPELINE_ID, INPUTS, SENT, known_run_ids=set(), sleep=lambda s: None)
    assert found.pipeline_run_id is None and "2 runs created after the request carry its inputs" in found.explanation


def test_a_new_run_without_the_inputs_is_not_taken() -> None:
    client, asked = api(["someone_elses"], {"someone_elses": [command("1995-03-01", "1995-03-31")]})
    found = find_started_run(client, PIPELINE_ID, INPUTS, SENT, known_run_ids=set(), attempts=3, sleep=lambda s: None)
    assert found.pipeline_run_id is None and "none showing its inputs" in found.explanation
    assert asked.count("/api/engine/public/pipeline_runs") == 3
