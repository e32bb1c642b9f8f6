"""Orchestra's OpenAPI document and a validator of our responses against it (used by test_contract.py).

The document is Orchestra's published OpenAPI 3.1 document of its public API (as served by the
hosted platform; the copy we use is the fixture ``tests/fixtures/openapi_live.json`` of
orchestra-hq/orchestra-mcp). It is looked for, in order, at:

1. ``$ORCHESTRA_OPENAPI_DOCUMENT``;
2. ``tests/orchestra_local/api/orchestra-openapi.json`` (a copy beside this file);
3. ``<repo>/../shared/reference/orchestra-openapi.json`` (where the project's machines and CI
   keep the reference data next to the clone).

The document is Orchestra's, not ours, and is not redistributed in this repository. Where it is
missing (e.g. a fresh clone of the template on a laptop) the tests that need it are skipped as
"not reachable", and under ``REQUIRE_TEST_SERVICES=1`` (CI, see tests/conftest.py) that skip is a
failure, so CI can never go green without the contract checked.

One widening: the document's ``IntegrationsEnum`` predates orchestra-lang 2026.1015.2, whose
dialect knows more integrations (``ANTHROPIC``, ``MYSQL``, ...); the runner's catalog
(``orchestra_local/spec/catalog.json``) holds both, and the enum is widened to it here.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from orchestra_local.spec.catalog import integrations

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
DOCUMENT_URI = "urn:orchestra-openapi"
CANDIDATES = (
    HERE / "orchestra-openapi.json",
    REPO_ROOT.parent / "shared" / "reference" / "orchestra-openapi.json",
)


def document_path() -> Path:
    """Where the OpenAPI document is.

    Raises:
        FileNotFoundError: Naming every place looked at and how to provide the document.
    """
    given = os.environ.get("ORCHESTRA_OPENAPI_DOCUMENT")
    candidates = (Path(given),) if given else CANDIDATES
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "Orchestra's OpenAPI document is needed for the API contract test; looked at "
        + ", ".join(str(c) for c in candidates)
        + ". Set ORCHESTRA_OPENAPI_DOCUMENT to its path."
    )


@cache
def document() -> dict[str, Any]:
    """The parsed OpenAPI document, ``IntegrationsEnum`` widened to the runner's catalog."""
    try:
        path = document_path()
    except FileNotFoundError as exc:
        pytest.skip(f"Orchestra's OpenAPI document is not reachable: {exc}")
    parsed = json.loads(path.read_text(encoding="utf-8"))
    enum = parsed["components"]["schemas"]["IntegrationsEnum"]
    enum["enum"] = sorted(set(enum["enum"]) | integrations())
    return parsed


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT_URI, resource)


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def operation(method: str, path: str) -> dict[str, Any]:
    """The OpenAPI operation of ``METHOD /public/...`` (KeyError when undeclared)."""
    return document()["paths"][path][method.lower()]


def response_errors(method: str, path: str, status: int, body: Any) -> list[str]:
    """Schema violations of one response body against the declared response of that status.

    Args:
        method: HTTP method.
        path: The OpenAPI path template, e.g. ``/public/pipeline_runs/{pipeline_run_id}/status``.
        status: The response's status code (must be declared for that operation).
        body: The parsed JSON body.

    Returns:
        One readable line per violation (empty: the body conforms).
    """
    declared = operation(method, path)["responses"][str(status)]
    if "content" not in declared:
        return [] if body is None else [f"{status} declares no body, got {str(body)[:200]}"]
    pointer = _pointer("paths", path, method.lower(), "responses", str(status), "content", "application/json",
                       "schema")
    validator = Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/{pointer}"}, registry=_registry(),
                                     format_checker=FormatChecker())
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message[:300]}"
            for error in validator.iter_errors(body)]


def declared_get_paths() -> list[str]:
    """Every path of the document with a GET operation."""
    return sorted(path for path, operations in document()["paths"].items() if "get" in operations)
