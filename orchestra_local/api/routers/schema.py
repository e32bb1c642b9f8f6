"""POST /pipelines/schema: validate a pipeline dict as Orchestra does (open, no token)."""

from __future__ import annotations

from typing import Any

import pydantic
from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from orchestra_local.errors import Problem
from orchestra_local.spec.models import Pipeline
from orchestra_local.spec.orchestra_lang import merge, orchestra_problems
from orchestra_local.spec.references import check_references
from orchestra_local.spec.rules import check_rules

router = APIRouter(tags=["pipelines"])


def validate_api_document(document: Any) -> list[Problem]:
    """Problems of a pipeline sent as JSON (camelCase or snake_case keys, as Orchestra's API accepts).

    The body is typed by our models first; when that succeeds it is re-serialised in snake_case
    for the reference rules and Orchestra's own validator (which reads the file dialect).
    """
    if not isinstance(document, dict):
        return [Problem(loc=(), msg="the body must be a JSON object (a pipeline)", type="dict_type")]
    try:
        model = Pipeline.model_validate(document, by_alias=True, by_name=True)
    except pydantic.ValidationError as exc:
        return [
            Problem(loc=tuple(p for p in error["loc"] if p not in ("TaskGroup", "Task")), msg=error["msg"],
                    type=error["type"], input=error.get("input") if isinstance(error.get("input"), (str, int)) else None)
            for error in exc.errors(include_url=False)
        ] + check_references(document)
    snake = model.model_dump(mode="json", by_alias=False, exclude_unset=True)
    return merge([*check_references(snake), *check_rules(model, snake)], orchestra_problems(snake))


@router.post("/pipelines/schema")
def validate_pipeline(document: Any = Body(...)) -> JSONResponse:  # noqa: B008 - FastAPI idiom
    """200 ``{"message": "Pipeline schema is valid"}`` or 422 ``{"detail": [{loc, msg, type, input}]}``."""
    problems = validate_api_document(document)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        return JSONResponse(status_code=422, content={"detail": [p.as_detail() for p in errors]})
    body: dict[str, Any] = {"message": "Pipeline schema is valid"}
    if problems:  # documented limits Orchestra does not enforce (a local addition to the body)
        body["warnings"] = [p.as_detail() for p in problems]
    return JSONResponse(body)
