"""Orchestra's integrations and integration jobs, and which job belongs to which integration.

The data (``catalog.json``) comes from the ``IntegrationsEnum`` and ``IntegrationJobsEnum`` of
Orchestra's public OpenAPI document; the owner of each job was confirmed with ``oml_lang``
(Orchestra's validator answers "Value must be exactly equal to X" for a job under the wrong
integration). When Orchestra adds integrations, regenerate::

    python -m orchestra_local.spec.catalog --openapi path/to/openapi.json
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


def _probe_owner(job: str, guess: str) -> str:
    """Ask oml_lang which integration a job belongs to (it names it when ``guess`` is wrong)."""
    import oml_lang

    document = {"version": "v1", "name": "probe", "pipeline": {"g": {"tasks": {"t": {
        "integration": guess, "integration_job": job, "parameters": {}}}}}}
    for message in oml_lang.analyze(json.dumps(document)).errors():
        found = re.search(r'Value must be exactly equal to "([A-Z0-9_]+)"', message.message())
        if found:
            return found.group(1)
    return guess


def build(openapi: dict[str, Any]) -> dict[str, Any]:
    """Catalog data from an OpenAPI document (jobs' owners confirmed with oml_lang)."""
    schemas = openapi["components"]["schemas"]
    names = sorted(schemas["IntegrationsEnum"]["enum"])
    jobs = {}
    for job in sorted(schemas["IntegrationJobsEnum"]["enum"]):
        prefixes = [name for name in names if job == name or job.startswith(name + "_")]
        jobs[job] = _probe_owner(job, max(prefixes, key=len) if prefixes else "PYTHON")
    return {"_source": _catalog()["_source"], "integrations": names, "jobs": jobs}


def main() -> None:
    """Regenerate ``catalog.json`` from an OpenAPI file."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--openapi", type=Path, required=True, help="Orchestra's OpenAPI JSON document")
    args = parser.parse_args()
    data = build(json.loads(args.openapi.read_text(encoding="utf-8")))
    CATALOG_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(data['integrations'])} integrations and {len(data['jobs'])} jobs to {CATALOG_FILE}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
