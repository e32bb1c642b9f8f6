"""Load one resource of a REST API into the warehouse with dlt's declarative ``rest_api`` source.

The worked example is GitHub's REST API for one repository (issues and issue comments): bearer
token, ``Link``-header pagination, merge on ``id``, and an incremental ``since`` parameter fed
from the highest ``updated_at`` already loaded. To load another API, change ``base_url`` in
``.dlt/config.toml`` and the resource list below; the command line stays the same.

Configuration (``[sources.rest_api]`` in ``.dlt/config.toml``, or environment variables):
  base_url      SOURCES__REST_API__BASE_URL      the API root, e.g. https://api.github.com/repos/org/repo/
  start_date    SOURCES__REST_API__START_DATE    ISO 8601 instant the first run starts from
  access_token  SOURCES__REST_API__ACCESS_TOKEN  bearer token (a secret: environment or secrets.toml)

examples:
  python rest_api_pipeline.py --resource issues
  python rest_api_pipeline.py --resource issue_comments
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from dlt.extract import DltResource
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources
from dlt.sources.rest_api.typing import EndpointResource
from pipeline_cli import add_common_flags, run_cli
from pipeline_load import run_load

import dlt

SECTION = "rest_api"
"""Config section: settings live under ``[sources.rest_api]`` (or ``[sources.rest_api.github]``)."""

PAGE_SIZE = 100  # records per request; GitHub's maximum


def _updated_since(name: str, path: str, **params: Any) -> EndpointResource:
    """A resource that asks only for records updated at or after the last loaded ``updated_at``.

    Args:
        name: Resource and destination table name.
        path: Endpoint path relative to ``base_url``.
        **params: Further query parameters of the endpoint.

    Returns:
        The resource's declarative config (its ``initial_value`` is filled in by the source).
    """
    return {
        "name": name,
        "endpoint": {
            "path": path,
            # ascending by update time, so a run stopped part-way resumes where it stopped
            "params": {"sort": "updated", "direction": "asc", "since": "{incremental.start_value}", **params},
            "incremental": {"cursor_path": "updated_at"},
        },
    }


RESOURCES: tuple[EndpointResource, ...] = (
    _updated_since("issues", "issues", state="all"),
    _updated_since("issue_comments", "issues/comments"),
)
"""The endpoints this script loads; ``--resource`` picks one by name."""


@dlt.source(name="github", section=SECTION)
def github(
    base_url: str = dlt.config.value,
    start_date: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
) -> Iterator[DltResource]:
    """The REST API's resources, configured declaratively for dlt's ``rest_api`` source.

    Args:
        base_url: API root every endpoint path is relative to.
        start_date: ISO 8601 instant (e.g. ``2024-01-01T00:00:00Z``); the first run loads records
            updated at or after it, later runs continue from the highest ``updated_at`` loaded.
        access_token: Bearer token sent in the ``Authorization`` header.

    Yields:
        One resource per entry of :data:`RESOURCES`, merged on ``id``.
    """
    resources = copy.deepcopy(list(RESOURCES))  # rest_api_resources consumes parts of the dicts
    for resource in resources:
        resource["endpoint"]["incremental"]["initial_value"] = start_date  # type: ignore[index]
    config: RESTAPIConfig = {
        "client": {
            "base_url": base_url,
            "auth": {"type": "bearer", "token": access_token},
            "paginator": {"type": "header_link"},  # follow Link: <...>; rel="next"
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"params": {"per_page": PAGE_SIZE}},
        },
        "resources": resources,  # type: ignore[typeddict-item]
    }
    yield from rest_api_resources(config)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description="Load one REST API resource into the warehouse with dlt's rest_api source.",
        epilog="configuration:" + __doc__.split("Configuration", 1)[1].split(":", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--resource", required=True, choices=[str(resource["name"]) for resource in RESOURCES],
        help="the resource (endpoint) to load; it lands in the table of the same name",
    )
    add_common_flags(parser)
    return parser


def load(args: argparse.Namespace) -> Mapping[str, object]:
    """Resolve the configuration, then load the one selected resource.

    Args:
        args: Parsed command line of :func:`build_parser`.

    Returns:
        The load summary (see ``pipeline_load.LoadSummary``).

    Raises:
        ConfigFieldMissingException: When ``base_url``, ``start_date`` or ``access_token`` is not
            configured (all missing ones are named at once).
        PipelineStepFailed: When a request fails (e.g. HTTP 401 for a wrong token) or the load fails.
    """
    source = github().with_resources(args.resource)
    return run_load(f"rest_api__{args.resource}", source, args.resource).as_dict()


if __name__ == "__main__":
    sys.exit(run_cli(build_parser(), load))
