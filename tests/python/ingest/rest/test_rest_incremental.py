"""Incremental runs: the watermark reaches the API as its ``updated_since`` parameter, only newer
records are read, updates merge into one row per key, and a re-run changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Rest

CURSOR = ("--incremental-cursor", "updated_at")


def succeeded(run: Any) -> dict[str, Any]:
    """Assert the worker succeeded; return its JSON summary."""
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    summary: dict[str, Any] = run.summary
    return summary


def test_incremental_merge_reads_newer_records_and_rerun_changes_nothing(rest: Rest) -> None:
    first = succeeded(rest.ingest("users", *CURSOR))
    assert (first["rows_read"], first["rows_written"], first["watermark"]) == (7, 7, "2024-01-07T00:00:00+00:00")
    assert "updated_since" not in rest.api.requests_to("/v1/users")[0]

    users = rest.api.records["users"]
    users[2] = {**users[2], "name": "renamed", "updated_at": "2024-01-09T00:00:00Z"}
    users.append({"id": 8, "name": "user 8", "updated_at": "2024-01-10T00:00:00Z", "address": {"city": "x"}})
    rest.api.requests.clear()

    second = succeeded(rest.ingest("users", *CURSOR))

    requests = rest.api.requests_to("/v1/users")
    assert {r["updated_since"] for r in requests} == {"2024-01-07T00:00:00Z"}
    # users 7 (at the watermark, unchanged), 3 (updated) and 8 (new) are read; 3 and 8 are written
    assert (second["rows_read"], second["rows_written"], second["watermark"]) == (3, 2, "2024-01-10T00:00:00+00:00")
    rows = rest.rows("raw.users", "id, name")
    assert [key for key, _ in rows] == list(range(1, 9))
    assert dict(rows)[3] == "renamed"
    before = rest.rows("raw.users")

    third = succeeded(rest.ingest("users", *CURSOR))

    assert (third["rows_read"], third["rows_written"]) == (1, 0)
    assert rest.rows("raw.users") == before  # values and _loaded_at untouched


def test_initial_value_and_append_through_link_header_pages(rest: Rest) -> None:
    args = (*CURSOR, "--initial-value", "2024-01-03T00:00:00Z", "--write-disposition", "append")

    first = succeeded(rest.ingest("tickets", *args))

    assert rest.api.requests_to("/v1/tickets")[0]["updated_since"] == "2024-01-03T00:00:00Z"
    assert (first["rows_read"], first["rows_written"]) == (5, 5)
    before = rest.rows("raw.tickets")
    assert [row[0] for row in before] == [3, 4, 5, 6, 7]

    second = succeeded(rest.ingest("tickets", *args))

    assert (second["rows_read"], second["rows_written"]) == (1, 0)  # ticket 7 is already there
    assert rest.rows("raw.tickets") == before


def test_cursor_without_an_api_parameter_is_filtered_by_the_worker(rest: Rest) -> None:
    succeeded(rest.ingest("events", *CURSOR, "--initial-value", "2024-01-05T00:00:00Z"))

    assert all("updated_since" not in params for params in rest.api.requests_to("/v1/events"))
    assert [row[0] for row in rest.rows("raw.events", "id")] == [5, 6, 7]


def test_window_keeps_records_between_its_bounds_without_a_watermark(rest: Rest) -> None:
    # The API gets only the lower bound (users) or nothing (events); the worker keeps the window.
    window = ("--initial-value", "2024-01-03T00:00:00Z", "--end-value", "2024-01-05T00:00:00Z")

    users = succeeded(rest.ingest("users", *CURSOR, *window))
    events = succeeded(rest.ingest("events", *CURSOR, *window, "--write-disposition", "append"))

    assert {r["updated_since"] for r in rest.api.requests_to("/v1/users")} == {"2024-01-03T00:00:00Z"}
    assert (users["rows_read"], users["rows_written"], users["watermark"]) == (3, 3, None)
    assert (events["rows_read"], events["rows_written"], events["watermark"]) == (3, 3, None)
    assert [row[0] for row in rest.rows("raw.users", "id")] == [3, 4, 5]
    assert [row[0] for row in rest.rows("raw.events", "id")] == [3, 4, 5]
    assert ("_ingest_state",) not in rest.rows("duckdb_tables()", "table_name")  # no watermark
