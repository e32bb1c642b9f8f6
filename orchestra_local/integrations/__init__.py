"""Local integrations: one module per integration family, all with the shape of ``base.Integration``.

``LOCAL_INTEGRATIONS`` maps ``(integration, integration_job)`` to the module that executes it on
this machine. Anything else is remote-only (a SaaS such as Fivetran or Power BI): it validates,
but a local run refuses it, or records it SKIPPED when asked to skip remote-only tasks.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import ModuleType

_MODULES: dict[tuple[str, str], str] = {
    ("PYTHON", "PYTHON_EXECUTE_SCRIPT"): "python_script",
    ("DBT_CORE", "DBT_CORE_EXECUTE"): "dbt_core",
    ("HTTP", "HTTP_REQUEST"): "http_request",
    ("POSTGRES", "POSTGRES_RUN_QUERY"): "postgres.run_query",
    ("POSTGRES", "POSTGRES_RUN_TEST"): "postgres.run_test",
    ("MOTHERDUCK", "MOTHERDUCK_EXECUTE_QUERY"): "motherduck",
    ("SLACK", "SEND_SLACK_MESSAGE"): "slack",
    ("MICROSOFT_TEAMS", "SEND_MICROSOFT_TEAMS_MESSAGE"): "microsoft_teams",
    ("ORCHESTRA", "APPROVAL"): "approval",
}


class _Registry(Mapping[tuple[str, str], ModuleType]):
    """``(integration, integration_job)`` -> module, each imported the first time it is asked for.

    The modules pull in dbt, SQLAlchemy, psycopg, duckdb and requests: a run of Python tasks, or
    ``validate``, should not pay for the ones it never uses.
    """

    def __getitem__(self, key: tuple[str, str]) -> ModuleType:
        return importlib.import_module(f"{__name__}.{_MODULES[key]}")

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)

    def __contains__(self, key: object) -> bool:
        return key in _MODULES


LOCAL_INTEGRATIONS: Mapping[tuple[str, str], ModuleType] = _Registry()


def is_local(integration: str, integration_job: str) -> bool:
    """Whether this job runs on this machine (without importing its module)."""
    return (integration.upper(), integration_job.upper()) in _MODULES


def local_integration(integration: str, integration_job: str) -> ModuleType | None:
    """The module executing this job locally (imported on first use), or None when it is remote-only."""
    key = (integration.upper(), integration_job.upper())
    return LOCAL_INTEGRATIONS[key] if key in _MODULES else None
