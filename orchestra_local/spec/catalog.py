"""Orchestra's integrations and integration jobs, and which job belongs to which integration.

The data (``catalog.json``) comes from Orchestra's validator first: ``oml_lang`` names the owner of
every job it knows when a probe document gives that job a wrong integration ("Value must be exactly
equal to X"). The job names to probe are the ``IntegrationJobsEnum`` of Orchestra's public OpenAPI
document plus every ``integration_job`` constant of the dialect schema bundled in ``oml_lang``'s
native library (that schema knows jobs the OpenAPI enum lacks, e.g. ``SFTP_GET_FILE``). A job only
the OpenAPI enum lists gets the integration its name starts with and is listed under
``unconfirmed``. When Orchestra adds integrations, or ``orchestra-lang`` is upgraded, regenerate::

    python -m orchestra_local.spec.catalog --openapi path/to/openapi.json

``test_catalog.py`` fails when the installed ``oml_lang`` knows a job the file lacks.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from pathlib import Path
from typing import Any

CATALOG_FILE = Path(__file__).with_name("catalog.json")


@functools.cache
def _catalog() -> dict[str, Any]:
    with CATALOG_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)


def integrations() -> frozenset[str]:
    """Every integration name Orchestra knows (e.g. ``PYTHON``, ``FIVETRAN``)."""
    return frozenset(_catalog()["integrations"])


def job_owner(integration_job: str) -> str | None:
    """The integration a job belongs to, or None for an unknown job."""
    return _catalog()["jobs"].get(integration_job)


def jobs_of(integration: str) -> list[str]:
    """The jobs of one integration, sorted."""
    return sorted(job for job, owner in _catalog()["jobs"].items() if owner == integration)


PROBE_INTEGRATION = "NOT_AN_INTEGRATION"
"""An integration no job belongs to: oml_lang then names the job's real owner."""


def probe_owner(job: str) -> str | None:
    """The integration oml_lang says ``job`` belongs to, or None when it does not know the job."""
    import oml_lang

    document = {"version": "v1", "name": "probe", "pipeline": {"g": {"tasks": {"t": {
        "integration": PROBE_INTEGRATION, "integration_job": job, "parameters": {}}}}}}
    for message in oml_lang.analyze(json.dumps(document, indent=2)).errors():
        found = re.search(r'Value must be exactly equal to "([A-Z0-9_]+)"', message.message())
        if found:
            return found.group(1)
    return None


def oml_job_names() -> set[str]:
    """Every ``integration_job`` constant in the dialect schema bundled with ``oml_lang``.

    The schema ships as text inside the native library; the names found are candidates only,
    each confirmed by :func:`probe_owner`.
    """
    import oml_lang

    library = Path(oml_lang.__file__).parent / "_kson" / "libkson.so"
    data = library.read_bytes() if library.exists() else b""
    return {name.decode() for name in re.findall(rb"integration_job:\s+const: ([A-Z0-9_]+)", data)}


def build(openapi: dict[str, Any]) -> dict[str, Any]:
    """Catalog data: jobs and owners from oml_lang, completed by the OpenAPI enums.

    Returns:
        ``{"_source", "integrations": [name, ...], "jobs": {job: integration}, "unconfirmed": [job, ...]}``.
    """
    import oml_lang

    schemas = openapi["components"]["schemas"]
    names = set(schemas["IntegrationsEnum"]["enum"])
    jobs: dict[str, str] = {}
    unconfirmed = []
    for job in sorted(set(schemas["IntegrationJobsEnum"]["enum"]) | oml_job_names()):
        owner = probe_owner(job)
        if owner is None:
            prefixes = [name for name in names if job == name or job.startswith(name + "_")]
            if not prefixes:
                continue
            owner = max(prefixes, key=len)
            unconfirmed.append(job)
        jobs[job] = owner
        names.add(owner)
    source = (f"Job owners from oml_lang (orchestra-lang {oml_lang.__version__}), which was probed for every job of "
              "its bundled dialect schema and of the IntegrationsEnum/IntegrationJobsEnum of Orchestra's public "
              "OpenAPI document; 'unconfirmed' jobs are known to the OpenAPI document only. Regenerate with: "
              "python -m orchestra_local.spec.catalog --openapi <file>")
    return {"_source": source, "integrations": sorted(names), "jobs": jobs, "unconfirmed": unconfirmed}


def main() -> None:
    """Regenerate ``catalog.json`` from an OpenAPI file and the installed ``oml_lang``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--openapi", type=Path, required=True, help="Orchestra's OpenAPI JSON document")
    args = parser.parse_args()
    data = build(json.loads(args.openapi.read_text(encoding="utf-8")))
    CATALOG_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(data['integrations'])} integrations and {len(data['jobs'])} jobs to {CATALOG_FILE}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
