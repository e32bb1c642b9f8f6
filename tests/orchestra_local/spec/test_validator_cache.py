"""Orchestra's validator verdicts kept by the exact text it read (``spec/validator_cache.py``).

A document the validator has judged is answered from the cache with the same problems; any change
to the document, or an unreadable entry, runs the validator again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from orchestra_local.errors import PipelineValidationError
from orchestra_local.spec.loader import load_file, validate_file
from orchestra_local.spec.validator_cache import CACHE_FOLDER, cached_findings, store_findings

VALID = """version: v1
name: cached
pipeline:
  say_hello:
    integration: PYTHON
    integration_job: PYTHON_EXECUTE_SCRIPT
    parameters: {command: 'python -c pass'}
"""
# Refused by Orchestra's validator (an input type it does not know).
REFUSED = VALID.replace("pipeline:", "inputs:\n  day: {type: date}\npipeline:", 1)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    return tmp_path / "repo"


def entries(state: Path) -> list[Path]:
    folder = state / CACHE_FOLDER
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def no_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any import of ``oml_lang`` fail: a cache hit must not need it."""
    monkeypatch.setitem(sys.modules, "oml_lang", None)


@pytest.mark.parametrize("text", [VALID, REFUSED], ids=["valid", "refused"])
def test_a_judged_document_gets_the_same_verdict_without_the_validator(
    text: str, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo / "p.yml"
    path.write_text(text)

    def verdict() -> object:
        try:
            return [p.as_detail() for p in validate_file(path)]
        except PipelineValidationError as exc:
            return ("refused", [p.as_detail() for p in exc.problems])

    first = verdict()
    assert len(entries(tmp_path / "state")) == 1
    no_validator(monkeypatch)
    assert verdict() == first
    if text is REFUSED:
        assert first[0] == "refused"


def test_a_changed_document_runs_the_validator_again(repo: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = repo / "p.yml"
    path.write_text(VALID)
    load_file(path)
    path.write_text(VALID.replace("name: cached", "name: changed"))
    no_validator(monkeypatch)
    with pytest.raises(ImportError):
        load_file(path)


def test_an_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    store_findings(folder, "{}", [(("pipeline", "a"), "orchestra_schema", "bad")])
    assert cached_findings(folder, "{}") == [(("pipeline", "a"), "orchestra_schema", "bad")]
    assert cached_findings(folder, "{ }") is None
    (entry,) = folder.glob("*.json")
    entry.write_text('[["truncated"')
    assert cached_findings(folder, "{}") is None
