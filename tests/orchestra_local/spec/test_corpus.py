"""The pipeline-file corpus: every key and expression form, valid and invalid, against both validators.

``corpus/valid`` files load with no problem; ``corpus/warnings`` files load with the warning named
on their first line (``# expect: ...``); ``corpus/invalid`` files are refused with that error, located
by line. The agreement test runs our models and rules and Orchestra's own validator (``oml_lang``)
over every file and fails on any disagreement, except the documented carve-outs below.
"""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from orchestra_local.errors import PipelineValidationError, Problem
from orchestra_local.integrations import local_integration
from orchestra_local.spec.loader import load_text
from orchestra_local.spec.models import Pipeline
from orchestra_local.spec.orchestra_lang import orchestra_problems
from orchestra_local.spec.references import check_references
from orchestra_local.spec.rules import check_rules
from orchestra_local.spec.yaml_source import parse_text

CORPUS = Path(__file__).with_name("corpus")

# Rules the local runner enforces that Orchestra's validator does not check (it accepts these
# files): the engine cannot order or resolve them, and the parity issue asks for them.
OURS_ONLY = frozenset({
    "unknown_task_dependency", "cross_level_task_dependency", "task_dependency_cycle", "duplicate_id",
    "unknown_input_reference", "unknown_pipeline_run_task_reference", "timezone",
})


def files(folder: str) -> list[Path]:
    return sorted((CORPUS / folder).glob("*.yml"))


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <fragment>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", files("valid"), ids=lambda p: p.stem)
def test_valid_files_load_without_problems(path: Path) -> None:
    source, document = parse_text(path.read_text(), path.name)
    assert load_text(path.read_text(), path.name).model.pipeline
    assert orchestra_problems(document) == []


@pytest.mark.parametrize("path", files("warnings"), ids=lambda p: p.stem)
def test_documented_limits_warn_but_load(path: Path) -> None:
    problems = _ours(path)
    assert not [p for p in problems if p.severity == "error"], problems
    assert any(expectation(path) in p.msg and p.severity == "warning" for p in problems), problems


@pytest.mark.parametrize("path", files("invalid"), ids=lambda p: p.stem)
def test_invalid_files_are_refused_with_a_located_error(path: Path) -> None:
    with pytest.raises(PipelineValidationError) as caught:
        load_text(path.read_text(), path.name)
    problems = caught.value.problems
    assert any(expectation(path) in p.human() for p in problems), \
        [p.human() for p in problems]
    assert all(p.line is not None and p.file == path.name for p in problems)


def _ours(path: Path) -> list[Problem]:
    source, document = parse_text(path.read_text(), path.name)
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


def parseable() -> list[Path]:
    out = []
    for path in files("valid") + files("warnings") + files("invalid"):
        try:
            parse_text(path.read_text(), path.name)
        except PipelineValidationError:
            continue  # YAML syntax errors never reach either validator
        out.append(path)
    return out


@pytest.mark.parametrize("path", parseable(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_our_models_agree_with_orchestras_validator(path: Path) -> None:
    _, document = parse_text(path.read_text(), path.name)
    ours = [p for p in _ours(path) if p.severity == "error" and p.type not in OURS_ONLY]
    # oml alone knows the parameter schemas of the integrations we never run (we do not copy them).
    theirs = [p for p in orchestra_problems(document) if not _remote_parameters(document, p.loc)]
    assert bool(ours) == bool(theirs), {"ours": [p.msg for p in ours], "orchestra": [p.msg for p in theirs]}


def test_the_carve_outs_are_exercised() -> None:
    """Every OURS_ONLY rule is hit by some corpus file, so none of them is dead weight."""
    hit = {p.type for path in parseable() for p in _ours(path)}
    assert hit >= OURS_ONLY, OURS_ONLY - hit
