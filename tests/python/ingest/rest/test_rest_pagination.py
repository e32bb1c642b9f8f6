"""Every pagination style against the fake API: exact rows, exact requests, nested fields flattened."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Rest

UTC = dt.UTC


def succeeded(run: Any) -> dict[str, Any]:
    """Assert the worker succeeded; return its JSON summary."""
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    summary: dict[str, Any] = run.summary
    return summary


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 1, n, tzinfo=UTC)


# endpoint, path, columns read back, expected rows from the fake API's records, expected requests
CASES = [
    pytest.param(
        "users",
        "/v1/users",
        "id, name, address__city, address__geo__lat, tags, updated_at",
        lambda r: (
            r["id"],
            r["name"],
            r["address"]["city"],
            r["address"]["geo"]["lat"],
            f'["a","{r["id"]}"]',
            day(r["id"]),
        ),
        [{"page": str(p), "per_page": "3"} for p in (1, 2, 3)],
        id="page_number",
    ),
    pytest.param(
        "orders",
        "/v1/orders",
        "id, amount, status",
        lambda r: (r["id"], Decimal(r["amount"]), r["status"]),
        # the server caps limit at 3: offsets advance by the records received
        [{"offset": str(o), "limit": "5"} for o in (0, 3, 6)],
        id="offset",
    ),
    pytest.param(
        "events",
        "/v1/events",
        "id, kind",
        lambda r: (r["id"], r["kind"]),
        [{}, {"cursor": "Mw=="}, {"cursor": "Ng=="}],
        id="body_cursor",
    ),
    pytest.param(
        "tickets",
        "/v1/tickets",
        "id, title",
        lambda r: (r["id"], r["title"]),
        [{"per_page": "3", "state": "all"}] + [{"per_page": "3", "state": "all", "page": str(p)} for p in (2, 3)],
        id="link_header",
    ),
    pytest.param(
        "comments",
        "/v1/comments",
        "*",
        lambda r: (r["id"], r["body"], day(r["id"])),
        [{}, {"after": "3"}],
        id="next_url",
    ),
    pytest.param(
        "search",
        "/v1/search",
        "id, hit",
        lambda r: (r["id"], r["hit"]),
        [{}],
        id="post_single_page",
    ),
]


@pytest.mark.parametrize(("endpoint", "path", "columns", "expected_row", "requests"), CASES)
def test_each_pagination_style_loads_exactly_the_records(
    rest: Rest, endpoint: str, path: str, columns: str, expected_row: Any, requests: list[dict[str, str]]
) -> None:
    records = rest.api.records[endpoint]

    summary = succeeded(rest.ingest(endpoint))

    assert (summary["rows_read"], summary["rows_written"]) == (len(records), len(records))
    assert summary["destination_table"] == f"raw.{endpoint}"
    selected = columns if columns != "*" else "* EXCLUDE (_loaded_at, _deleted_at)"
    assert rest.rows(f"raw.{endpoint}", selected) == sorted(expected_row(r) for r in records)
    assert rest.api.requests_to(path) == requests


def test_declared_only_endpoint_ignores_the_other_fields(rest: Rest) -> None:
    succeeded(rest.ingest("comments"))

    assert list(rest.column_types("raw.comments")) == ["id", "body", "updated_at", "_loaded_at", "_deleted_at"]


def test_an_api_that_ignores_the_page_parameter_is_stopped(rest: Rest) -> None:
    config = rest.write_config(
        rest.config.read_text().replace(
            "pagination: {type: page_number, size_param: per_page",
            "pagination: {type: page_number, page_param: p, size_param: per_page",
        )
    )

    run = rest.ingest("users", config=config)

    assert run.returncode == 1
    assert run.error_lines == [
        "Error: endpoint 'users': page 2 repeats page 1; does the API honour the pagination parameters?"
    ]
    assert len(rest.api.requests_to("/v1/users")) == 2
    assert not rest.warehouse.exists()
