"""The pipeline-file corpus: every key and expression form, valid and invalid, against both validators.

``corpus/valid`` files load with no problem; ``corpus/warnings`` files are accepted by Orchestra's
validator (``oml_lang`` reports nothing) and by ``validate``, with the warning named on their first
line (``# expect: ...``); ``corpus/invalid`` files are refused with that error, located by line.

Two agreement checks: ``validate`` never refuses a file ``oml_lang`` accepts (every corpus file and
every repository pipeline), and our raw models and rules agree with ``oml_lang`` on the valid and
invalid folders (so a drift of our models from Orchestra's schema shows up here).
"""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from orchestra_local.errors import PipelineValidationError, Problem
from orchestra_local.integrations import local_integration
from orchestra_local.spec.loader import load_text, validate_text
from orchestra_local.spec.models import Pipeline
from orchestra_local.spec.orchestra_lang import orchestra_problems
from orchestra_local.spec.references import check_references
from orchestra_local.spec.rules import check_rules
from orchestra_local.spec.yaml_source import parse_text

CORPUS = Path(__file__).with_name("corpus")
REPO = Path(__file__).parents[3]
REPOSITORY_PIPELINES = sorted((REPO / "orchestra").glob("*.yml"))


def files(folder: str) -> list[Path]:
    return sorted((CORPUS / folder).glob("*.yml"))


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <fragment>'"
    return first.removeprefix("# expect: ")


def validate(path: Path) -> tuple[Problem, ...]:
    """What ``orchestra-local validate`` does with the file (``project_dir`` relative to this repository)."""
    return validate_text(path.read_text(), path.name, REPO)


@pytest.mark.parametrize("path", files("valid"), ids=lambda p: p.stem)
def test_valid_files_load_without_problems(path: Path) -> None:
    _, document = parse_text(path.read_text(), path.name)
    assert validate(path) == ()
    assert load_text(path.read_text(), path.name, REPO).model.pipeline
    assert orchestra_problems(document) == []


@pytest.mark.parametrize("path", files("warnings"), ids=lambda p: p.stem)
def test_files_orchestra_accepts_are_valid_with_a_warning(path: Path) -> None:
    _, document = parse_text(path.read_text(), path.name)
    assert orchestra_problems(document) == []
    warnings = validate(path)
    assert all(p.severity == "warning" and p.line is not None for p in warnings), warnings
    assert any(expectation(path) in p.msg for p in warnings), [p.msg for p in warnings]


@pytest.mark.parametrize("path", files("warnings"), ids=lambda p: p.stem)
def test_run_refuses_exactly_what_the_runner_cannot_run(path: Path) -> None:
    blocking = [p for p in validate(path) if p.blocks_run]
    if not blocking:
        assert load_text(path.read_text(), path.name, REPO).model.pipeline
        return
    with pytest.raises(PipelineValidationError) as caught:
        load_text(path.read_text(), path.name, REPO)
    refused = [p for p in caught.value.problems if p.severity == "error"]
    assert refused and all("local runner" in p.msg for p in refused), [p.msg for p in refused]


@pytest.mark.parametrize("path", files("invalid"), ids=lambda p: p.stem)
def test_invalid_files_are_refused_with_a_located_error(path: Path) -> None:
    with pytest.raises(PipelineValidationError) as caught:
        validate(path)
    problems = caught.value.problems
    assert any(expectation(path) in p.human() for p in problems), [p.human() for p in problems]
    assert all(p.line is not None and p.file == path.name for p in problems)
    with pytest.raises(PipelineValidationError):
        load_text(path.read_text(), path.name, REPO)


def parseable(*folders: str) -> list[Path]:
    out = []
    for path in [p for folder in folders for p in files(folder)]:
        try:
            parse_text(path.read_text(), path.name)
        except PipelineValidationError:
            continue  # YAML syntax errors and documents over the limits never reach either validator
        out.append(path)
    return out


def test_what_orchestra_accepts_is_never_refused() -> None:
    """Every corpus file and repository pipeline: no finding from oml_lang means no error from us."""
    accepted = []
    for path in parseable("valid", "warnings", "invalid") + REPOSITORY_PIPELINES:
        _, document = parse_text(path.read_text(), path.name)
        if not orchestra_problems(document):
            validate(path)  # raises PipelineValidationError if we refused it
            accepted.append(path.name)
    assert len(accepted) >= len(files("valid")) + len(files("warnings")) + len(REPOSITORY_PIPELINES)


def _ours(path: Path) -> list[Problem]:
    _, document = parse_text(path.read_text(), path.name)
    problems = list(check_references(document))
    try:
        model = Pipeline.model_validate(document, by_alias=False, by_name=True)
    except pydantic.ValidationError as exc:
        return problems + [Problem(loc=tuple(e["loc"]), msg=e["msg"], type=e["type"]) for e in exc.errors()]
    return problems + check_rules(model, document)


def _remote_parameters(document: dict, loc: tuple) -> bool:
    """Whether a location lies in the parameters of an integration that only runs on hosted Orchestra."""
    if len(loc) < 5 or loc[0] != "pipeline" or loc[2] != "tasks" or loc[4] != "parameters":
        return False
    task = document["pipeline"][loc[1]]["tasks"][loc[3]]
    return local_integration(task["integration"], task["integration_job"]) is None


@pytest.mark.parametrize("path", parseable("valid", "invalid"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_our_models_agree_with_orchestras_validator(path: Path) -> None:
    _, document = parse_text(path.read_text(), path.name)
    ours = [p for p in _ours(path) if p.severity == "error"]
    # oml alone knows the parameter schemas of the integrations we never run (we do not copy them).
    theirs = [p for p in orchestra_problems(document) if not _remote_parameters(document, p.loc)]
    assert bool(ours) == bool(theirs), {"ours": [p.msg for p in ours], "orchestra": [p.msg for p in theirs]}


def test_every_warning_kind_of_our_own_rules_has_a_corpus_file() -> None:
    """The rules Orchestra's validator does not share are each shown accepted-with-a-warning."""
    kinds = {p.type for path in files("warnings") for p in validate(path)}
    assert kinds >= {
        "unknown_task_dependency", "cross_level_task_dependency", "task_dependency_cycle", "duplicate_id",
        "unknown_input_reference", "unknown_pipeline_run_task_reference", "timezone", "enum",
        "matrix_too_large", "outputs_without_set_outputs", "missing_project_dir", "documented_limit",
    }, kinds
