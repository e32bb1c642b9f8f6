"""Create, rewrite and remove pipeline files for the API's ``POST``/``PUT``/``DELETE /pipelines``.

Hosted Orchestra stores an ``ORCHESTRA``-backed pipeline's definition itself; locally the
definition *is* the file under ``<repo>/orchestra/``, so these endpoints write or remove that file.
Guarantees:

- the definition is validated first (our models, the reference rules, Orchestra's validator); an
  invalid one answers 422 and nothing is written;
- files are written atomically (a temporary file in the same folder, fsynced, then renamed), so a
  reader sees the old file or the new one, never half of one;
- only ``orchestra/**/*.yml``/``*.yaml`` is ever written or removed; a path that resolves outside
  (``..``, absolute, a symlink leading out) is refused;
- git is never run: committing is the developer's business;
- an update whose definition equals the file's (orchestra-cli sends the file it read from disk)
  leaves the file untouched, comments and layout included.

A rewritten file is rendered from the JSON definition in the file dialect (snake_case keys, block
style), so comments of a file replaced by a *different* definition are not kept.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML

from orchestra_local.api.registry import NotFoundError, PipelineFile, PipelineRegistry
from orchestra_local.api.routers.schema import validate_api_document
from orchestra_local.errors import InvalidInputError, PipelineValidationError
from orchestra_local.spec.loader import YAML_SUFFIXES, load_text
from orchestra_local.spec.models import Pipeline

ALIAS_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,99}")
"""A local alias is a file stem: letters, digits, ``_`` and ``-``, at most 100 characters."""


class PipelineConflictError(InvalidInputError):
    """A pipeline with that alias or file already exists (HTTP 409)."""


def _snake_definition(document: Any) -> dict[str, Any]:
    """Validate an API definition (camelCase or snake_case keys) and return it in the file dialect.

    Raises:
        PipelineValidationError: With every problem, as ``POST /pipelines/schema`` reports them.
    """
    errors = [p for p in validate_api_document(document) if p.severity == "error"]
    if errors:
        raise PipelineValidationError(errors)
    model = Pipeline.model_validate(document, by_alias=True, by_name=True)
    return model.model_dump(mode="json", by_alias=False, exclude_unset=True)


def render_yaml(definition: dict[str, Any]) -> str:
    """A snake_case definition as block-style YAML (multi-line strings as ``|`` blocks)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # keep the definition's key order
    yaml.width = 4096

    def literal_multiline(representer: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return representer.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    yaml.representer.add_representer(str, literal_multiline)
    buffer = io.StringIO()
    yaml.dump(definition, buffer)
    return buffer.getvalue()


class PipelineFiles:
    """Writes the files of a :class:`PipelineRegistry` (one writer at a time).

    Args:
        registry: The registry whose folder is written; its cache is told about every change.
    """

    def __init__(self, registry: PipelineRegistry):
        self.registry = registry
        self._lock = threading.Lock()

    def target(self, yaml_path: str) -> Path:
        """The absolute file for a repo-relative ``yaml_path`` under the pipelines folder.

        Raises:
            InvalidInputError: The path is absolute, leaves the folder, or is not ``.yml``/``.yaml``.
        """
        relative = PurePosixPath(yaml_path.replace("\\", "/"))
        folder = self.registry.folder.resolve()
        resolved = (self.registry.repo_root / relative).resolve()
        if relative.is_absolute() or resolved.suffix not in YAML_SUFFIXES or not resolved.is_relative_to(folder):
            raise InvalidInputError(f"yamlPath {yaml_path!r}: must be a .yml/.yaml file under "
                                    f"{folder.relative_to(self.registry.repo_root)}/")
        return resolved

    def create(self, document: Any, *, alias: str | None = None, yaml_path: str | None = None) -> PipelineFile:
        """Write a new pipeline file: ``orchestra/<alias>.yml``, or ``yaml_path`` when given.

        Raises:
            InvalidInputError: Neither alias nor yaml_path, a bad alias, or an alias that is not
                the file stem of ``yaml_path`` (HTTP 400).
            PipelineConflictError: The alias or file exists already (HTTP 409).
            PipelineValidationError: The definition is invalid (HTTP 422).
        """
        if alias is not None and not ALIAS_PATTERN.fullmatch(alias):
            raise InvalidInputError(f"alias {alias!r}: use letters, digits, '_' and '-' (at most 100); "
                                    "locally the alias is the file name")
        if yaml_path:
            path = self.target(yaml_path)
            if alias is not None and alias != path.stem:
                raise InvalidInputError(f"alias {alias!r} must be the file stem of yamlPath {yaml_path!r} locally")
        elif alias:
            path = self.target(f"{self.registry.folder.relative_to(self.registry.repo_root).as_posix()}/{alias}.yml")
        else:
            raise InvalidInputError("Provide alias (or yamlPath) for the new pipeline")
        definition = _snake_definition(document)
        with self._lock:
            existing = [p for p in self.registry.all() if p.alias == path.stem or p.path == path]
            if existing:
                raise PipelineConflictError(f"Pipeline {path.stem!r} already exists ({existing[0].yaml_path}); "
                                            "update it instead")
            self._write(path, render_yaml(definition), mode=None)
        return self.registry.describe(path)

    def update(self, pipeline: PipelineFile, document: Any) -> bool:
        """Replace a pipeline file's definition.

        Returns:
            True when the file was rewritten, False when it already held this definition.

        Raises:
            NotFoundError: The file disappeared.
            PipelineValidationError: The new definition is invalid (HTTP 422).
        """
        path = self.target(pipeline.yaml_path)
        definition = _snake_definition(document)
        with self._lock:
            try:
                current = self.registry.load(pipeline).model.model_dump(mode="json", exclude_unset=True)
            except PipelineValidationError:
                current = None  # an invalid file is replaced by the valid definition
            if current == definition:
                return False
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except FileNotFoundError:
                raise NotFoundError("Pipeline not found") from None
            self._write(path, render_yaml(definition), mode=mode)
        return True

    def delete(self, pipeline: PipelineFile) -> None:
        """Remove a pipeline file.

        Raises:
            NotFoundError: It does not exist (any more).
        """
        path = self.target(pipeline.yaml_path)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                raise NotFoundError("Pipeline not found") from None
            finally:
                self.registry.forget(path)

    def _write(self, path: Path, text: str, *, mode: int | None) -> None:
        load_text(text, str(path))  # what we render must load as the definition we validated
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o644 if mode is None else mode)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        finally:
            self.registry.forget(path)
