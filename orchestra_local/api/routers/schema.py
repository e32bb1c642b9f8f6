"""POST /pipelines/schema: validate a pipeline dict as Orchestra does (open, no token)."""

from __future__ import annotations

from typing import Any

import pydantic
from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic.alias_generators import to_snake

from orchestra_local.errors import PipelineValidationError, Problem
from orchestra_local.spec.agreement import reconcile
from orchestra_local.spec.limits import check_document_bounds
from orchestra_local.spec.models import ENTRY_TAGS, Pipeline
from orchestra_local.spec.orchestra_lang import orchestra_problems
from orchestra_local.spec.portability import check_portability
from orchestra_local.spec.references import check_references
from orchestra_local.spec.rules import check_rules

router = APIRouter(tags=["pipelines"])

# Keys whose value is free-form data (kept as sent) or a map of user ids (keys kept, values walked).
_FREE_FORM = frozenset({"parameters", "meta", "run_inputs", "environment_variables", "map_outputs", "default",
                        "options", "anomalies"})
_ID_MAPS = frozenset({"pipeline", "tasks", "sensors", "checks", "inputs", "operation_metadata"})


def snake_case_keys(value: Any, parent: str | None = None) -> Any:
    """The file dialect of an API body: structural camelCase keys in snake_case, user data untouched.

    Orchestra's validator reads the file dialect (snake_case only), the API accepts both; this
    lets it check a body our models could not type (whose snake_case dump is then unavailable).
    """
    if isinstance(value, list):
        return [snake_case_keys(item, parent) for item in value]
    if not isinstance(value, dict):
        return value
    if parent in _ID_MAPS:
        return {key: snake_case_keys(item) for key, item in value.items()}
    out = {}
    for key, item in value.items():
        name = to_snake(key) if isinstance(key, str) else key
        out[name] = item if name in _FREE_FORM else snake_case_keys(item, name)
    return out


def _model_problems(exc: pydantic.ValidationError) -> list[Problem]:
    return [
        Problem(loc=tuple(p for p in error["loc"] if p not in ENTRY_TAGS), msg=error["msg"], type=error["type"],
                input=error.get("input") if isinstance(error.get("input"), (str, int)) else None, blocks_run=True)
        for error in exc.errors(include_url=False)
    ]


def validate_api_document(document: Any) -> list[Problem]:
    """Problems of a pipeline sent as JSON (camelCase or snake_case keys, as Orchestra's API accepts).

    The body is bounded first (``limits.check_document_bounds``), then typed by our models and
    checked by Orchestra's validator in every case; our findings Orchestra does not share are
    warnings (``agreement.reconcile``), so a body Orchestra accepts is never refused.

    Returns:
        Every problem: errors (the body is invalid) and warnings.
    """
    if not isinstance(document, dict):
        return [Problem(loc=(), msg="the body must be a JSON object (a pipeline)", type="dict_type")]
    try:
        check_document_bounds(document)
    except PipelineValidationError as exc:
        return exc.problems
    ours: list[Problem] = []
    try:
        model: Pipeline | None = Pipeline.model_validate(document, by_alias=True, by_name=True)
    except pydantic.ValidationError as exc:
        model = None
        ours += _model_problems(exc)
    if model is not None:
        snake = model.model_dump(mode="json", by_alias=False, exclude_unset=True)
        ours += check_references(snake) + check_rules(model, snake) + check_portability(model, None, snake)
    else:
        snake = snake_case_keys(document)
        ours += check_references(snake)
    return reconcile(ours, orchestra_problems(snake))


@router.post("/pipelines/schema")
def validate_pipeline(document: Any = Body(...)) -> JSONResponse:  # noqa: B008 - FastAPI idiom
    """200 ``{"message": "Pipeline schema is valid"}`` or 422 ``{"detail": [{loc, msg, type, input}]}``.

    The 422 body holds our model's findings and Orchestra's validator's, together.
    """
    problems = validate_api_document(document)
    errors = [p for p in problems if p.severity == "error"]
    if errors:  # every item carries "input", null when unknown or not shown, as FastAPI's 422 items do
        return JSONResponse(status_code=422, content={"detail": [{"input": None, **p.as_detail()} for p in errors]})
    body: dict[str, Any] = {"message": "Pipeline schema is valid"}
    if problems:  # findings Orchestra does not enforce (a local addition to the body)
        body["warnings"] = [p.as_detail() for p in problems]
    return JSONResponse(body)
