"""Read pipeline YAML into :class:`~orchestra_local.spec.models.Pipeline` with located errors.

Loading never raises a bare parser or pydantic error: every problem becomes a
:class:`~orchestra_local.errors.Problem` carrying the file, the YAML path and the line, and all of
a file's problems are reported together in one :class:`PipelineValidationError`.

Two entry points, one analysis (:func:`analyse_text`):

- :func:`validate_text` / :func:`validate_file` (``orchestra-local validate``) refuse only what
  Orchestra refuses; what only our rules flag is a warning (``agreement.py``);
- :func:`load_text` / :func:`load_file` (``plan``, ``run``, the API's start) also refuse what the
  local runner cannot run (``Problem.blocks_run``), and return the typed model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pydantic

from orchestra_local.errors import ErrorList, InvalidInputError, PipelineValidationError, Problem
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.agreement import blockers, reconcile
from orchestra_local.spec.limits import MAX_FILE_BYTES
from orchestra_local.spec.models import Pipeline
from orchestra_local.spec.orchestra_lang import orchestra_problems
from orchestra_local.spec.portability import check_portability
from orchestra_local.spec.references import check_references
from orchestra_local.spec.rules import check_rules
from orchestra_local.spec.validator_cache import CACHE_FOLDER
from orchestra_local.spec.yaml_source import locate, parse_text, problems_from_validation

YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class LoadedPipeline:
    """A validated pipeline with where it came from.

    Attributes:
        path: The YAML file (absolute).
        model: The validated pipeline.
        document: The parsed YAML as plain Python data (dicts, lists, scalars).
        source: The document's round-trip tree, parsed when first needed (line numbers for located errors).
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


@dataclass(frozen=True)
class Analysis:
    """Everything validation found about one document.

    Attributes:
        source: The document's round-trip tree, parsed when first needed.
        document: The parsed YAML as plain data.
        model: The typed pipeline, or None when our models cannot type the document.
        problems: Every problem, located (file, line), severities settled by ``agreement.reconcile``.
    """

    source: Any
    document: dict[str, Any]
    model: Pipeline | None
    problems: tuple[Problem, ...]


def analyse_text(text: str, file: str | None = None, repo_root: Path | None = None,
                 cache_dir: Path | None = None) -> Analysis:
    """Parse a pipeline document and run every check on it: ours and Orchestra's validator.

    Args:
        text: YAML (or JSON) text.
        file: The file name to put in problems, if any.
        repo_root: The repository the file belongs to, for checks of local paths (``project_dir``);
            None skips them.
        cache_dir: Where Orchestra's validator keeps its verdicts (``validator_cache.py``); None
            runs it every time.

    Raises:
        PipelineValidationError: When the text is not a YAML mapping or exceeds a limit of
            ``limits.py`` (nothing else can be checked then).
    """
    source, document = parse_text(text, file)
    model: Pipeline | None = None
    ours: list[Problem] = []
    try:
        # Files are snake_case only, as on hosted Orchestra (its validator rejects camelCase keys
        # in YAML); the camelCase aliases are for API bodies (see ``validate_api_document``).
        model = Pipeline.model_validate(document, by_alias=False, by_name=True)
    except pydantic.ValidationError as exc:
        ours.extend(replace(p, blocks_run=True) for p in problems_from_validation(exc, source, file))
    ours += check_references(document)
    if model is not None:
        ours += check_rules(model, document)
        ours += check_portability(model, repo_root, document)
    located = []
    for problem in reconcile(ours, orchestra_problems(document, cache_dir)):
        if problem.line is None:
            line, column = locate(source, problem.loc)
            problem = replace(problem, file=file, line=line, column=column)
        located.append(problem)
    return Analysis(source=source, document=document, model=model, problems=tuple(located))


def validate_text(text: str, file: str | None = None, repo_root: Path | None = None,
                  cache_dir: Path | None = None) -> tuple[Problem, ...]:
    """Validate a pipeline document as ``orchestra-local validate`` does (``cache_dir``: see
    :func:`analyse_text`).

    Returns:
        The warnings, including what only the local runner cannot run (``blocks_run``).

    Raises:
        PipelineValidationError: With every problem, when Orchestra's validator or a rule it
            shares refuses the document, or it exceeds a limit of ``limits.py``.
    """
    analysis = analyse_text(text, file, repo_root, cache_dir)
    errors = ErrorList(list(analysis.problems))
    errors.raise_if_any()
    return tuple(errors.warnings)


def load_text(text: str, file: str | None = None, repo_root: Path | None = None,
              cache_dir: Path | None = None) -> LoadedPipeline:
    """Parse and validate one pipeline document for a local run.

    Args:
        text: YAML (or JSON) text.
        file: The file name to put in problems, if any.
        repo_root: The repository, for checks of local paths; None skips them.
        cache_dir: Where Orchestra's validator keeps its verdicts; None runs it every time.

    Returns:
        The validated pipeline, with its warnings.

    Raises:
        PipelineValidationError: With every problem found: syntax, limits, schema (ours),
            references, Orchestra's rules (``rules.py``) and Orchestra's own validator
            (``orchestra_lang.py``); also what Orchestra accepts but the local runner cannot run
            (those problems are errors here).
    """
    analysis = analyse_text(text, file, repo_root, cache_dir)
    refused = blockers(analysis.problems)
    if refused or analysis.model is None:
        raise PipelineValidationError(
            [replace(p, severity="error") if p in refused else p for p in analysis.problems]
        )
    path = Path(file).resolve() if file else Path("<input>")
    return LoadedPipeline(path=path, model=analysis.model, document=analysis.document, source=analysis.source,
                          warnings=analysis.problems)


def _read(path: Path) -> str:
    """The file's text, refused (located) when over ``MAX_FILE_BYTES`` or not UTF-8."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PipelineValidationError([Problem(
                loc=(), msg=f"the file is {size:,} bytes; pipeline files are limited to {MAX_FILE_BYTES:,} bytes "
                "(MAX_FILE_BYTES)", type="file_too_large", file=str(path), line=1)])
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such pipeline file") from None
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the file ({exc.__class__.__name__}: {exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PipelineValidationError([Problem(
            loc=(), msg=f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            type="encoding", file=str(path), line=line, column=column)]) from None


def validate_file(path: str | Path) -> tuple[Problem, ...]:
    """Validate a pipeline file as ``orchestra-local validate`` does (see :func:`validate_text`).

    Raises:
        InvalidInputError: When the file does not exist or cannot be read.
        PipelineValidationError: When Orchestra would refuse it, or it exceeds a limit.
    """
    path = Path(path)
    settings = resolve_settings(path)
    return validate_text(_read(path), str(path), settings.repo_root, settings.state_dir / CACHE_FOLDER)


def load_file(path: str | Path) -> LoadedPipeline:
    """Read and validate a pipeline file for a local run (see :func:`load_text`).

    Raises:
        InvalidInputError: When the file does not exist or cannot be read.
        PipelineValidationError: When it is not a valid pipeline, or the local runner cannot run it.
    """
    path = Path(path)
    settings = resolve_settings(path)
    loaded = load_text(_read(path), str(path), settings.repo_root, settings.state_dir / CACHE_FOLDER)
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
