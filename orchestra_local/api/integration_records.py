"""Integrations and integration jobs as Orchestra's ``IntegrationResponse``/``IntegrationJobResponse``.

``GET /integrations/`` lists every integration of Orchestra's ``IntegrationsEnum`` (the catalog in
``spec/catalog.json``), tagged ``local`` when the runner executes at least one of its jobs and
``remote-only`` otherwise **(our choice: hosted has no such tag)**. ``GET /integrations/jobs``
lists the jobs the runner executes, each with a ``jobSchema`` built from the job's parameters
model, so a client sees exactly what a local task accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from orchestra_local.integrations import LOCAL_INTEGRATIONS
from orchestra_local.spec.catalog import integrations

JOB_TYPES: dict[str, str] = {
    "PYTHON_EXECUTE_SCRIPT": "Utility",
    "DBT_CORE_EXECUTE": "Transformation",
    "HTTP_REQUEST": "Utility",
    "POSTGRES_RUN_QUERY": "Warehouse",
    "POSTGRES_RUN_TEST": "Warehouse",
    "MOTHERDUCK_EXECUTE_QUERY": "Warehouse",
    "SEND_SLACK_MESSAGE": "Notifications",
    "SEND_MICROSOFT_TEAMS_MESSAGE": "Notifications",
    "APPROVAL": "Orchestration",
}
"""``IntegrationJobType`` of each local job (a new local job needs a line here; a test checks)."""
DATA_QUALITY_JOBS = frozenset({"POSTGRES_RUN_TEST"})
_FORM_TYPES = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean",
               "object": "dict", "array": "array"}


def display_name(identifier: str) -> str:
    """``MICROSOFT_TEAMS`` -> ``Microsoft Teams``."""
    return identifier.replace("_", " ").title()


def local_integrations() -> frozenset[str]:
    """Integrations with at least one job the runner executes."""
    return frozenset(integration for integration, _job in LOCAL_INTEGRATIONS)


def integration_record(integration: str) -> dict[str, Any]:
    """``IntegrationResponse`` of one catalog integration (no auth schema: connections are local files)."""
    local = integration in local_integrations()
    job_types = sorted({JOB_TYPES[job] for owner, job in LOCAL_INTEGRATIONS if owner == integration})
    return {
        "id": integration, "displayName": display_name(integration), "baseLogoUrl": None, "darkModeLogoUrl": None,
        "jobTypes": job_types, "authSchema": [], "validateSchema": None, "status": "RELEASE",
        "setupGuideUrl": None, "setupDocsUrl": None, "supportedAssetTypes": [], "supportedAssetFeatures": None,
        "priority": 0, "top": local, "tags": ["local" if local else "remote-only"],
    }


def all_integrations() -> list[dict[str, Any]]:
    """Every catalog integration, sorted by id."""
    return [integration_record(name) for name in sorted(integrations())]


def _form_type(schema: dict[str, Any]) -> str:
    options = schema.get("anyOf", [schema])
    for option in options:
        kind = option.get("type")
        if kind in _FORM_TYPES:
            return _FORM_TYPES[kind]
        if "enum" in option or "const" in option:
            return "string"
    return "string"


def job_schema(parameters: type[BaseModel]) -> list[dict[str, Any]]:
    """``BaseFormSchemaItem`` list of a parameters model: one item per field, in declaration order."""
    properties = parameters.model_json_schema().get("properties", {})
    items = []
    for name, field in parameters.model_fields.items():
        key = field.alias or name
        schema = properties.get(key, {})
        item: dict[str, Any] = {"name": key, "type": _form_type(schema), "label": display_name(key).capitalize(),
                                "optional": not field.is_required()}
        default = schema.get("default")
        if isinstance(default, (str, bool, int, list)) or default is None and not field.is_required():
            item["default_value"] = default
        if field.description:
            item["info"] = field.description
        items.append(item)
    return items


def job_records() -> list[dict[str, Any]]:
    """``IntegrationJobResponse`` of each job the runner executes, sorted by job id."""
    records = []
    for (integration, job), module in sorted(LOCAL_INTEGRATIONS.items(), key=lambda item: item[0][1]):
        records.append({
            "id": job, "displayName": display_name(job), "description": (module.__doc__ or "").strip().split("\n")[0],
            "integration": integration, "type": JOB_TYPES[job], "status": "RELEASE", "setupGuideUrl": None,
            "jobSchema": job_schema(module.Parameters), "isDataQualityTest": job in DATA_QUALITY_JOBS,
            "outputKeys": None,
        })
    return records
