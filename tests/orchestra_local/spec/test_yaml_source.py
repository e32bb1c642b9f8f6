"""The two YAML readers of ``yaml_source.py`` give the same data, and problems are still located by line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestra_local.errors import PipelineValidationError
from orchestra_local.spec import yaml_source
from orchestra_local.spec.limits import check_yaml_bounds
from orchestra_local.spec.yaml_source import Source, locate, parse_text

REPO = Path(__file__).parents[3]
SKIPPED_PARTS = {".git", ".venv", "dbt_packages", "target", "node_modules", ".orchestra_local"}
REPOSITORY_YAML = sorted(
    path for pattern in ("*.yml", "*.yaml") for path in REPO.rglob(pattern)
    if not SKIPPED_PARTS & set(path.relative_to(REPO).parts)
)

TRICKY = {
    "yaml 1.2 scalars": "a: yes\nb: on\nc: 010\nd: 0o17\ne: 0x1F\nf: 1_000\ng: 1:20\nh: ~\ni:\nj: .inf\nk: -1.5e3\nl: 'true'\n",
    "quoting and blocks": 'a: "x: y"\nb: |\n  line 1\n  line 2\nc: >-\n  folded\n  text\nd: "\\u00e9\\t"\ne: \'it\'\'s\'\n',
    "anchors": "base: &b {retries: 2, timeout: 60}\ntask: *b\nlist: [*b, *b]\n",
    "keys that are not strings": "2: two\ntrue: yes\nnull: nothing\n3.5: half\n",
    "json": '{"version": "v1", "name": "j", "pipeline": {"g": {"tasks": {}}}, "n": [1, 2.5, null, false]}',
    "unicode": "name: 'Pipeline ünïcødé 🚀'\nk: 日本\n",
}


def ordered(value: Any) -> Any:
    """The value with every mapping as a list of pairs, so key order is compared too."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


def round_trip(text: str) -> dict[str, Any]:
    return yaml_source.to_plain(yaml_source._yaml().load(text))


def test_the_fast_reader_is_libyaml() -> None:
    assert yaml_source._fast_yaml() is not None, "ruamel.yaml.clib is not installed (requirements.txt)"


@pytest.mark.parametrize("path", REPOSITORY_YAML, ids=lambda p: str(p.relative_to(REPO)))
def test_both_readers_agree_on_every_yaml_file_of_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        check_yaml_bounds(text, str(path))  # what parse_text measures before either reader reads
    except PipelineValidationError:
        return
    try:
        expected = round_trip(text)
    except Exception:  # noqa: BLE001 - a file the round-trip reader refuses: the fast one must not decide it
        assert yaml_source._read_fast(text) is None or not isinstance(yaml_source._yaml().load(text), dict)
        return
    fast = yaml_source._read_fast(text)
    if fast is not None:
        assert ordered(fast) == ordered(expected)


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_both_readers_agree_on_tricky_documents(name: str) -> None:
    fast = yaml_source._read_fast(TRICKY[name])
    assert fast is not None, f"{name}: fell back to the round-trip reader"
    assert json.dumps(ordered(fast)) == json.dumps(ordered(round_trip(TRICKY[name])))


@pytest.mark.parametrize("text", [
    "when: 2024-01-01\n",  # a timestamp: the round-trip reader's own type is kept
    "when: 2024-01-01T10:00:00+02:00\n",
    "v: !Custom x\n",  # a tag the safe reader does not know
    "s: !!set {a, b}\n",
    "a: 1\na: 2\n",  # a duplicate key: the round-trip reader reports it
    "base: &b {x: 1}\ntask:\n  <<: *b\n  y: 2\n",  # a merge key: the readers order the keys differently
    "a: [1, 2\n",  # a syntax error
    "- a list\n",  # not a mapping
])
def test_what_the_fast_reader_does_not_decide_goes_to_the_round_trip_reader(text: str) -> None:
    assert yaml_source._read_fast(text) is None


def test_a_duplicate_key_is_still_refused_with_its_line() -> None:
    with pytest.raises(PipelineValidationError) as caught:
        parse_text("version: v1\nname: n\nname: again\n", "p.yml")
    problem = caught.value.problems[0]
    assert (problem.type, problem.file, problem.line) == ("duplicate_key", "p.yml", 3)


def test_the_round_trip_tree_is_parsed_only_to_locate_a_problem() -> None:
    text = "version: v1\nname: n\npipeline:\n  g:\n    tasks:\n      t1: {integration: PYTHON}\n"
    source, document = parse_text(text)
    assert isinstance(source, Source) and source._tree is None
    assert document["pipeline"]["g"]["tasks"]["t1"] == {"integration": "PYTHON"}
    assert locate(source, ("pipeline", "g", "tasks", "t1", "integration")) == (6, 12)
    assert source._tree is not None


def test_a_document_only_libyaml_reads_is_located_in_libyaml_s_own_node_graph() -> None:
    # A tab inside a flow mapping's key: libyaml reads it, ruamel's own parser refuses it (found by
    # test_fuzz.py), so positions must come from the reader whose data were used.
    text = "version: v1\nname: n\npipeline:\n  g:\n    tasks:\n      t1: {integration: PYTHON, parameters: {projec\tt_dir: d}}\n"
    source, document = parse_text(text, "p.yml")
    assert document["pipeline"]["g"]["tasks"]["t1"]["parameters"] == {"projec\tt_dir": "d"}
    assert locate(source, ("pipeline", "g", "tasks", "t1", "parameters", "projec\tt_dir")) == (6, 46)
    assert locate(source, ("pipeline", "g", "tasks", "t1", "missing_key")) == (6, 7)  # deepest existing node
