"""The runner's exception hierarchy.

One base, :class:`OrchestraLocalError`; each subclass also inherits the built-in it resembles so
callers can catch either. The CLI boundary alone turns these into exit codes (see ``cli.py``):
:class:`InvalidInputError` and its subclasses exit 2, everything else 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One located finding about a pipeline file, shaped like one item of Orchestra's 422 body.

    Attributes:
        loc: YAML path from the document root, e.g. ``("pipeline", "ingest", "tasks", "t1", "integration")``.
        msg: What is wrong and, when we know it, what to do.
        type: A machine-readable kind, e.g. ``extra_forbidden``, ``missing``, ``dependency_cycle``.
        file: The file the problem is in, when it came from a file.
        line: 1-based line number in ``file``, when known.
        column: 1-based column, when known.
        input: The offending value, when small and not secret (Orchestra's ``input`` field).
        severity: ``error`` (the file is invalid) or ``warning`` (reported; the file stays valid).
        blocks_run: The local runner cannot run the file while this holds, even as a warning
            (Orchestra accepts it; ``validate`` warns and ``run`` refuses, see ``spec/agreement.py``).
    """

    loc: tuple[str | int, ...]
    msg: str
    type: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    input: Any = None
    severity: str = "error"
    blocks_run: bool = False

    def yaml_path(self) -> str:
        """Render ``loc`` as a dotted YAML path, e.g. ``pipeline.ingest.tasks[0]`` (root ``<root>``)."""
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out or "<root>"

    def human(self) -> str:
        """One terminal line: ``file:line:col: yaml.path: message``."""
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.yaml_path()}: {self.msg}"

    def as_detail(self) -> dict[str, Any]:
        """The Orchestra API form: ``{"loc": [...], "msg": ..., "type": ...}`` plus location keys."""
        detail: dict[str, Any] = {"loc": list(self.loc), "msg": self.msg, "type": self.type}
        if self.severity != "error":
            detail["severity"] = self.severity
        if self.blocks_run:
            detail["blocks_run"] = True
        if self.input is not None:
            detail["input"] = self.input
        if self.file is not None:
            detail["file"] = self.file
        if self.line is not None:
            detail["line"] = self.line
        return detail


class OrchestraLocalError(Exception):
    """Base of every error the runner raises on purpose."""


class InvalidInputError(OrchestraLocalError, ValueError):
    """The user's input (files, options, run inputs) is wrong; the CLI exits 2."""


class PipelineValidationError(InvalidInputError):
    """A pipeline file is not valid Orchestra v1.

    Attributes:
        problems: Every problem found, located by file, YAML path and line.
    """

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"] or self.problems
        first = errors[0].human() if errors else "invalid pipeline"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first + more)


class RunInputError(InvalidInputError):
    """Run inputs do not match the pipeline's declared ``inputs`` (Orchestra answers 400)."""


class ExpressionError(OrchestraLocalError, ValueError):
    """A ``${{ ... }}`` expression cannot be parsed or evaluated.

    Attributes:
        expression: The expression text between ``${{`` and ``}}``.
        where: Where it appears (YAML path of the parameter or condition), when known.
    """

    def __init__(self, message: str, *, expression: str, where: str | None = None):
        self.expression = expression
        self.where = where
        location = f" in {where}" if where else ""
        super().__init__(f"expression '${{{{ {expression} }}}}'{location}: {message}")


class IntegrationError(OrchestraLocalError, RuntimeError):
    """A task's integration failed in a way that ends the attempt.

    Attributes:
        retryable: Whether another attempt could succeed (class default: True).
    """

    retryable = True


class InvalidParametersError(IntegrationError):
    """A task's parameters are wrong after substitution; retrying cannot help."""

    retryable = False


class RemoteOnlyIntegrationError(InvalidInputError):
    """The pipeline uses integrations that only exist as SaaS and cannot run locally."""


class StoreError(OrchestraLocalError, RuntimeError):
    """The metadata store cannot be opened or written."""


class FireTimeClaimed(StoreError):
    """Another process (or an earlier life of this one) already started this fire time: the tick's key exists."""


@dataclass
class ErrorList:
    """Collects problems before raising them all at once (resolve everything, then report)."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        """Record one problem."""
        self.problems.append(problem)

    @property
    def warnings(self) -> list[Problem]:
        """The problems that do not make the file invalid."""
        return [p for p in self.problems if p.severity == "warning"]

    def raise_if_any(self) -> None:
        """Raise :class:`PipelineValidationError` with every problem, if any is an error."""
        if any(p.severity == "error" for p in self.problems):
            raise PipelineValidationError(self.problems)
