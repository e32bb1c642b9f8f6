"""trigger_events loops across pipeline files: a located warning in every file on the loop, none without one."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from click.testing import CliRunner

from orchestra_local.cli import main
from orchestra_local.engine.runner import PIPELINE_ID_NAMESPACE
from orchestra_local.spec.loader import load_file
from orchestra_local.spec.trigger_graph import trigger_loops

TEMPLATE = """version: v1
name: {name}
{triggers}
pipeline:
  g:
    tasks:
      t_{name}: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {{command: "python -V"}}}}
"""


def _id(name: str) -> str:
    return str(uuid.uuid5(PIPELINE_ID_NAMESPACE, f"orchestra/{name}.yml"))


def _write(repo: Path, name: str, *upstream: str) -> Path:
    entries = "".join(f"\n  - type: pipeline\n    pipeline_id: \"{_id(u) if u != '*' else '*'}\"" for u in upstream)
    path = repo / "orchestra" / f"{name}.yml"
    path.write_text(TEMPLATE.format(name=name, triggers=f"trigger_events:{entries}" if upstream else ""))
    return path


def test_a_loop_is_reported_in_every_file_on_it_at_its_entry(repo: Path) -> None:
    paths = [_write(repo, "a", "c"), _write(repo, "b", "a"), _write(repo, "c", "b"), _write(repo, "d", "c")]
    problems = trigger_loops([load_file(path) for path in paths])
    assert sorted(Path(p.file).stem for p in problems) == ["a", "b", "c"]  # d hangs off the loop, not on it
    for problem in problems:
        assert problem.severity == "warning" and problem.type == "trigger_loop"
        assert problem.loc == ("trigger_events", 0, "pipeline_id") and problem.line == 5
        assert "trigger loop among a, b, c (this entry listens to " in problem.msg


def test_chains_and_self_wildcards_are_not_loops(repo: Path) -> None:
    paths = [_write(repo, "a"), _write(repo, "b", "a"), _write(repo, "c", "b", "*")]
    assert trigger_loops([load_file(path) for path in paths]) == []  # * is every other pipeline, not c itself
    paths.append(_write(repo, "d", "*"))  # c listens to d, d listens to c: a loop through wildcards
    assert sorted(Path(p.file).stem for p in trigger_loops([load_file(path) for path in paths])) == ["c", "d"]


def test_validate_warns_and_stays_valid(repo: Path) -> None:
    _write(repo, "ping", "pong")
    _write(repo, "pong", "ping")
    text = CliRunner().invoke(main, ["validate", str(repo / "orchestra")])
    assert text.exit_code == 0, text.output
    assert text.output.count("trigger loop among ping, pong") == 2 and "ping.yml:5:" in text.output
    report = json.loads(CliRunner().invoke(main, ["validate", str(repo / "orchestra"), "--output", "json"]).output)
    for entry in report.values():
        assert entry["message"] == "Pipeline schema is valid"
        assert [warning["type"] for warning in entry["warnings"]] == ["trigger_loop"]
