"""The batch config: Orchestra's shape read unchanged, every problem located, tokens from the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from run_multiple.config import ConfigError, load_config, parse_config, resolve_tokens

# The shape of Orchestra's own run_multiple_pipelines config, as its blueprint documents it.
ORCHESTRA_SHAPE: dict[str, Any] = {
    "workspaces": {"prod": "ORCHESTRA_API_KEY_PROD", "dev": "ORCHESTRA_API_KEY_DEV"},
    "pipelines": [
        {"workspace": "prod", "pipeline": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "branch": "main",
         "commit": None, "environment": "production", "run_inputs": {"full_refresh": True}},
        {"workspace": "dev", "pipeline": "tpch_elt", "branch": "", "commit": "", "environment": "",
         "run_inputs": None},
    ],
}


def problems(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "batch.json")
    return caught.value.problems


def test_orchestras_shape_is_read_unchanged_with_empty_values_absent() -> None:
    config = parse_config(ORCHESTRA_SHAPE)
    first, second = config.pipelines
    assert (first.branch, first.commit, first.environment, first.run_inputs) == ("main", None, "production",
                                                                                 {"full_refresh": True})
    assert (second.branch, second.commit, second.environment, second.run_inputs) == (None, None, None, {})


def test_a_typo_in_the_last_entry_names_its_index_and_field() -> None:
    data = json.loads(json.dumps(ORCHESTRA_SHAPE))
    data["pipelines"].append({"workspace": "prod", "pipeline": "tpch_elt", "run_input": {"x": 1}})
    assert problems(data) == ["batch.json: pipelines[2].run_input: Extra inputs are not permitted"]


def test_every_problem_is_reported_at_once() -> None:
    data = {"workspaces": {"prod": "T"}, "pipelines": [
        {"workspace": "prod", "pipeline": ""},
        {"workspace": "prod", "pipeline": "p", "backfill": {"start": "2024-02-01", "end": "2024-01-01"}},
        {"workspace": "prod", "pipeline": "p", "backfill": {"start": "2024-01-01", "end": "2024-02-01",
                                                            "step": "1 year", "inputs": {"d": "{day}"}}},
        {"pipeline": "p"},
    ]}
    found = problems(data)
    assert found[0].startswith("batch.json: pipelines[0].pipeline: String should have at least 1 character")
    assert "batch.json: pipelines[1].backfill: Value error, end 2024-01-01 is before start 2024-02-01" in found
    assert any(p.startswith("batch.json: pipelines[2].backfill.step: Value error, step '1 year'") for p in found)
    assert any(p.startswith("batch.json: pipelines[2].backfill.inputs: Value error, input 'd' uses {day}")
               for p in found)
    assert "batch.json: pipelines[3].workspace: Field required" in found


def test_unknown_workspaces_and_duplicate_entries_are_refused() -> None:
    data = {"workspaces": {"prod": "T"}, "pipelines": [
        {"workspace": "prod", "pipeline": "p", "run_inputs": {"a": 1}},
        {"workspace": "prd", "pipeline": "p"},
        {"workspace": "prod", "pipeline": "p", "run_inputs": {"a": 1}, "branch": ""},
    ]}
    assert problems(data) == [
        "batch.json: pipelines[1].workspace: unknown workspace 'prd' (the config's workspaces: prod)",
        "batch.json: pipelines[2]: the same entry as pipelines[0]; remove one (each entry starts its runs once)",
    ]


@pytest.mark.parametrize(("data", "expected"), [
    ([], "batch.json: (top level): Input should be a valid dictionary or instance of BatchConfig"),
    ({"workspaces": {}, "pipelines": []}, "batch.json: workspaces: Dictionary should have at least 1 item"),
])
def test_empty_or_wrong_top_level(data: Any, expected: str) -> None:
    assert expected in problems(data)[0]


def test_files_that_are_not_json_say_where(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_text('{"workspaces": {"prod": "T"},\n "pipelines": [,]}')
    with pytest.raises(ConfigError, match=rf"^{path}:2:16: not JSON: Expecting value$"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read the config: No such file or directory"):
        load_config(tmp_path / "missing.json")


def test_tokens_come_from_the_named_variables_and_their_values_never_appear() -> None:
    config = parse_config(ORCHESTRA_SHAPE)
    tokens = resolve_tokens(config, {"ORCHESTRA_API_KEY_PROD": "tok-prod", "ORCHESTRA_API_KEY_DEV": "tok-dev"})
    assert tokens == {"prod": "tok-prod", "dev": "tok-dev"}
    with pytest.raises(ConfigError) as caught:
        resolve_tokens(config, {"ORCHESTRA_API_KEY_PROD": "tok-prod", "ORCHESTRA_API_KEY_DEV": ""}, "batch.json")
    assert caught.value.problems == ["batch.json: workspaces.dev: environment variable ORCHESTRA_API_KEY_DEV is not "
                                     "set; export it or put it in the --env file"]
    assert "tok-prod" not in str(caught.value)


def test_unused_workspaces_need_no_token() -> None:
    config = parse_config({"workspaces": {"prod": "A", "spare": "B"}, "pipelines": [{"workspace": "prod", "pipeline": "p"}]})
    assert resolve_tokens(config, {"A": "t"}) == {"prod": "t"}
