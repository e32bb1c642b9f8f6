"""The state file: durable appends, torn last lines, and what a resumed batch does with each run."""

from __future__ import annotations

from pathlib import Path

import pytest

from run_multiple.config import parse_config
from run_multiple.plan import plan_runs
from run_multiple.state import Action, Reprocess, StateError, StateFile, decide, default_state_path

CONFIG = {"workspaces": {"local": "TOKEN"}, "pipelines": [
    {"workspace": "local", "pipeline": "tpch_elt", "backfill": {
        "start": "2024-01-01", "end": "2024-06-30", "step": "1 month",
        "inputs": {"start_date": "{window_start}", "end_date": "{window_end}"}}}]}


@pytest.fixture
def runs():
    return plan_runs(parse_config(CONFIG))


def test_the_default_path_is_named_after_the_config() -> None:
    assert default_state_path(Path("configs/backfill_2024.json")) == Path(".run_multiple_pipelines/backfill_2024.jsonl")


def test_events_are_read_back_in_order(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "deep" / "batch.jsonl")
    assert state.events() == []
    state.append("started", "k1", pipeline_run_id="r1", run={"pipeline": "p"})
    state.append("ended", "k1", pipeline_run_id="r1", status="FAILED")
    state.append("started", "k1", pipeline_run_id="r2")
    events = state.events()
    assert [(e["event"], e.get("pipeline_run_id")) for e in events] == [("started", "r1"), ("ended", "r1"),
                                                                        ("started", "r2")]
    assert events[0]["run"] == {"pipeline": "p"} and events[0]["at"].endswith("+00:00")
    assert state.states()["k1"].pipeline_run_id == "r2" and state.states()["k1"].status is None


def test_a_torn_last_line_is_ignored_and_a_bad_middle_line_is_located(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "batch.jsonl")
    state.append("started", "k1", pipeline_run_id="r1")
    with state.path.open("a") as sink:
        sink.write('{"event": "ended", "key": "k1", "pipeline_')  # killed mid-write
    assert [e["event"] for e in state.events()] == ["started"]
    state.path.write_text('{"event": "started", "key": "k1"}\n[1, 2]\n{"event": "ended", "key": "k1"}\n')
    with pytest.raises(StateError, match=r"batch.jsonl:2: not an event of run_multiple_pipelines; move the file"):
        state.events()


def test_a_resumed_batch_skips_done_windows_attaches_to_running_ones_and_restarts_failed_ones(tmp_path: Path,
                                                                                              runs) -> None:
    state = StateFile(tmp_path / "batch.jsonl")
    state.append("started", runs[0].key, pipeline_run_id="r0")
    state.append("ended", runs[0].key, pipeline_run_id="r0", status="SUCCEEDED")
    state.append("started", runs[1].key, pipeline_run_id="r1")
    state.append("ended", runs[1].key, pipeline_run_id="r1", status="WARNING")
    state.append("started", runs[2].key, pipeline_run_id="r2")  # still running when the tool died
    state.append("started", runs[3].key, pipeline_run_id="r3")
    state.append("ended", runs[3].key, pipeline_run_id="r3", status="FAILED")
    state.append("unknown", runs[4].key, detail="read timeout after the request was sent")
    decisions = decide(runs, state.states())
    assert [(d.action, d.pipeline_run_id) for d in decisions] == [
        (Action.SKIP, "r0"), (Action.SKIP, "r1"), (Action.ATTACH, "r2"), (Action.START, "r3"), (Action.UNKNOWN, None),
        (Action.START, None)]
    every = [d.action for d in decide(runs, state.states(), Reprocess.ALL)]
    assert every == [Action.START, Action.START, Action.ATTACH, Action.START, Action.UNKNOWN, Action.START]
    none = [d.action for d in decide(runs, state.states(), Reprocess.NONE)]
    assert none == [Action.SKIP, Action.SKIP, Action.ATTACH, Action.SKIP, Action.UNKNOWN, Action.START]


@pytest.mark.parametrize("status", ["CANCELLED", "SKIPPED"])
def test_other_endings_are_reprocessed_by_default(tmp_path: Path, runs, status: str) -> None:
    state = StateFile(tmp_path / "batch.jsonl")
    state.append("ended", runs[0].key, pipeline_run_id="r0", status=status)
    assert decide(runs[:1], state.states())[0].action is Action.START


def test_a_request_without_a_recorded_answer_is_unknown_with_when_it_was_sent(tmp_path: Path, runs) -> None:
    state = StateFile(tmp_path / "batch.jsonl")
    sent = state.append("requested", runs[0].key, pipeline="p")  # killed before the answer was recorded
    state.append("requested", runs[1].key, pipeline="p")
    state.append("started", runs[1].key, pipeline_run_id="r1")
    state.append("requested", runs[2].key, pipeline="p")
    state.append("unknown", runs[2].key, detail="lost", requested_at="2024-01-01T00:00:00+00:00")
    state.append("requested", runs[3].key, pipeline="p")
    state.append("rejected", runs[3].key, detail="HTTP 400: missing input")
    decisions = decide(runs[:4], state.states())
    assert [(d.action, d.pipeline_run_id, d.requested_at) for d in decisions] == [
        (Action.UNKNOWN, None, sent["at"]), (Action.ATTACH, "r1", None),
        (Action.UNKNOWN, None, "2024-01-01T00:00:00+00:00"), (Action.START, None, None)]
