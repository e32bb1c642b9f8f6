"""Read pipeline YAML into :class:`~orchestra_local.spec.models.Pipeline` with located errors.

Loading never raises a bare parser or pydantic error: every problem becomes a
:class:`~orchestra_local.errors.Problem` carrying the file, the YAML path and the line, and all of
a file's problems are reported together in one :class:`PipelineValidationError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pydantic

from orchestra_local.errors import ErrorList, InvalidInputError, Problem
from orchestra_local.spec.models import Pipeline
from orchestra_local.spec.orchestra_lang import merge, orchestra_problems
from orchestra_local.spec.references import check_references
from orchestra_local.spec.rules import check_rules
from orchestra_local.spec.yaml_source import locate, parse_text, problems_from_validation

YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class LoadedPipeline:
    """A validated pipeline with where it came from.

    Attributes:
        path: The YAML file (absolute).
        model: The validated pipeline.
        document: The parsed YAML as plain Python data (dicts, lists, scalars).
        source: The ruamel round-trip tree, which keeps line numbers for later located errors.
        warnings: Problems that do not make the file invalid (documented limits).
    """

    path: Path
    model: Pipeline
    document: dict[str, Any]
    source: Any
    warnings: tuple[Problem, ...] = ()

    def locate(self, loc: Sequence[str | int]) -> tuple[int | None, int | None]:
        """1-based (line, column) of a YAML path in this file, or of its nearest existing parent."""
        return locate(self.source, loc)


def load_text(text: str, file: str | None = None) -> LoadedPipeline:
    """Parse and validate one pipeline document.

    Args:
        text: YAML (or JSON) text.
        file: The file name to put in problems, if any.

    Returns:
        The validated pipeline.

    Raises:
        PipelineValidationError: With every problem found: syntax, schema (ours), references,
            Orchestra's rules (``rules.py``) and Orchestra's own validator (``orchestra_lang.py``).
    """
    source, document = parse_text(text, file)
    model: Pipeline | None = None
    ours = []
    try:
        # Files are snake_case only, as on hosted Orchestra (its validator rejects camelCase keys
        # in YAML); the camelCase aliases are for API bodies (see ``validate_api_document``).
        model = Pipeline.model_validate(document, by_alias=False, by_name=True)
    except pydantic.ValidationError as exc:
        ours.extend(problems_from_validation(exc, source, file))
    unlocated = check_references(document)
    if model is not None:
        unlocated += check_rules(model, document)
    errors = ErrorList()
    for problem in merge([*ours, *unlocated], orchestra_problems(document)):
        if problem.line is None:
            line, column = locate(source, problem.loc)
            problem = replace(problem, file=file, line=line, column=column)
        errors.add(problem)
    errors.raise_if_any()
    assert model is not None  # no errors means validation succeeded
    path = Path(file).resolve() if file else Path("<input>")
    return LoadedPipeline(path=path, model=model, document=document, source=source, warnings=tuple(errors.warnings))


def load_file(path: str | Path) -> LoadedPipeline:
    """Read and validate a pipeline file.

    Raises:
        InvalidInputError: When the file does not exist or cannot be read.
        PipelineValidationError: When it is not a valid pipeline.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such pipeline file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read the file ({exc.__class__.__name__}: {exc})") from None
    loaded = load_text(text, str(path))
    return replace(loaded, path=path.resolve())


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files and folders into the sorted list of pipeline files (``*.yml``, ``*.yaml``).

    Raises:
        InvalidInputError: When a path does not exist, or a folder holds no pipeline file.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
            if not found:
                raise InvalidInputError(f"{path}: folder holds no .yml/.yaml pipeline file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInputError(f"{path}: no such file or folder")
    return files
