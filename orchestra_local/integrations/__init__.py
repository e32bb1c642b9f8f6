"""Local integrations: one module per integration family, all with the shape of ``base.Integration``.

``LOCAL_INTEGRATIONS`` maps ``(integration, integration_job)`` to the module that executes it on
this machine. Anything else is remote-only (a SaaS such as Fivetran or Power BI): it validates,
but a local run refuses it, or records it SKIPPED when asked to skip remote-only tasks.
"""

from __future__ import annotations

from types import ModuleType

from orchestra_local.integrations import (
    approval,
    dbt_core,
    http_request,
    microsoft_teams,
    motherduck,
    python_script,
    slack,
)
from orchestra_local.integrations.postgres import run_query as postgres_run_query
from orchestra_local.integrations.postgres import run_test as postgres_run_test

LOCAL_INTEGRATIONS: dict[tuple[str, str], ModuleType] = {
    ("PYTHON", "PYTHON_EXECUTE_SCRIPT"): python_script,
    ("DBT_CORE", "DBT_CORE_EXECUTE"): dbt_core,
    ("HTTP", "HTTP_REQUEST"): http_request,
    ("POSTGRES", "POSTGRES_RUN_QUERY"): postgres_run_query,
    ("POSTGRES", "POSTGRES_RUN_TEST"): postgres_run_test,
    ("MOTHERDUCK", "MOTHERDUCK_EXECUTE_QUERY"): motherduck,
    ("SLACK", "SEND_SLACK_MESSAGE"): slack,
    ("MICROSOFT_TEAMS", "SEND_MICROSOFT_TEAMS_MESSAGE"): microsoft_teams,
    ("ORCHESTRA", "APPROVAL"): approval,
}


def local_integration(integration: str, integration_job: str) -> ModuleType | None:
    """The module executing this job locally, or None when it is remote-only."""
    return LOCAL_INTEGRATIONS.get((integration.upper(), integration_job.upper()))
