"""REST source files: valid shapes load; each invalid one fails with its file, line and key path;
missing variables are named together; the worker reports a bad file in one line."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ingest.errors import ConfigError
from ingest.sources.rest.config import CursorPagination, LinkHeaderPagination, NoPagination
from ingest.sources.rest.config_file import load_config
from ingest.sources.rest.resolve import resolve_api

if TYPE_CHECKING:
    from conftest import Rest

GITHUB_EXAMPLE = Path(__file__).resolve().parents[4] / "python" / "rest_sources" / "github.yml"

MINIMAL = """\
base_url: https://api.example.com/v1
endpoints:
  users:
    path: users
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "api.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_minimal_file_gets_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))

    endpoint = config.endpoints["users"]
    assert (endpoint.method, endpoint.records_path, endpoint.undeclared_fields) == ("GET", "", "infer")
    assert isinstance(config.pagination_of(endpoint), NoPagination)
    assert (config.retry.max_attempts, config.timeouts.read_seconds) == (5, 60.0)


def test_endpoint_pagination_overrides_the_files(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            MINIMAL.replace(
                "endpoints:",
                "pagination: {type: link_header}\nendpoints:\n  events:\n    path: events\n"
                "    pagination: {type: cursor, cursor_path: meta.next}",
            ),
        )
    )

    assert isinstance(config.pagination_of(config.endpoints["users"]), LinkHeaderPagination)
    events = config.pagination_of(config.endpoints["events"])
    assert isinstance(events, CursorPagination) and events.cursor_param == "cursor"


def test_the_shipped_example_is_valid() -> None:
    config = load_config(GITHUB_EXAMPLE)

    assert "issues" in config.endpoints
    assert config.auth is not None and config.base_url_env is not None


INVALID = [
    pytest.param(
        "endpoints:\n  users:\n    path: users\n    pagnation: {type: offset}\n",
        "api.yml:5: endpoints.users.pagnation: unknown key",
        id="misspelt-key",
    ),
    pytest.param(
        "endpoints:\n  users:\n    records_path: items\n",
        "api.yml:3: endpoints.users.path: required key is missing",
        id="missing-path",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: users\n    pagination: {type: pages}\n",
        "api.yml:5: endpoints.users.pagination: Input tag 'pages' found using 'type' does not match",
        id="unknown-pagination",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: users\n    pagination: {type: offset}\n",
        "api.yml:5: endpoints.users.pagination.limit: required key is missing",
        id="offset-needs-limit",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: users\n    primary_key: [id]\n",
        "api.yml:3: endpoints.users: primary_key field(s) id must be declared in columns",
        id="undeclared-key",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: users\n    columns: {id: int}\n",
        "api.yml:5: endpoints.users.columns.id.type: Input should be 'string', 'integer'",
        id="column-type",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: users\n    columns: {id: {type: integer, format: x}}\n",
        "endpoints.users.columns.id: format applies to timestamp and date columns",
        id="format-on-integer",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: users\n    columns: {at: timestamp}\n"
        "    incremental: {cursor_field: at, param: since, format: epoch}\n",
        "endpoints.users.incremental.format: format is one of iso8601",
        id="bound-format",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: users\n    incremental: {cursor_field: at, param: since}\n",
        "endpoints.users: incremental.cursor_field 'at' must be declared in columns",
        id="undeclared-cursor",
    ),
    pytest.param(
        "headers: {Authorization: token abc}\nendpoints:\n  users:\n    path: users\n",
        "api.yml:2: headers: header(s) Authorization carry credentials: use auth",
        id="secret-header",
    ),
    pytest.param(
        "auth: {type: bearer, token: abc}\nendpoints:\n  users:\n    path: users\n",
        "api.yml:2: auth.token: unknown key",
        id="inline-token",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: https://other.example.com/users\n",
        "endpoints.users.path: path is relative to base_url",
        id="absolute-path",
    ),
    pytest.param(
        "endpoints:\n  users:\n    path: users\n  users:\n    path: people\n",
        'api.yml:5: invalid YAML: found duplicate key "users"',
        id="duplicate-key",
    ),
    pytest.param("endpoints: {}\n", "api.yml:2: endpoints: Dictionary should have at least 1 item", id="no-endpoints"),
    pytest.param(
        "endpoints:\n  user-list:\n    path: users\n",
        "endpoints.user-list.[key]: String should match pattern",
        id="endpoint-name",
    ),
]


@pytest.mark.parametrize(("body", "expected"), INVALID)
def test_invalid_files_are_located(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, "base_url: https://api.example.com\n" + body)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    message = str(raised.value)
    assert expected in message
    assert "\n" not in message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path, "base_url: https://x.example\nendpoints:\n  a:\n    path: a\n    colums: {}\n  b:\n    method: PUT\n"
    )

    with pytest.raises(ConfigError, match=r"^rest config \(3 problems\): ") as raised:
        load_config(path)

    for fragment in (
        "api.yml:5: endpoints.a.colums: unknown key",
        "api.yml:6: endpoints.b.path: required key",
        "api.yml:7: endpoints.b.method: Input should be",
    ):
        assert fragment in str(raised.value)


def test_missing_variables_are_named_together(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """\
        base_url_env: API_BASE_URL
        auth: {type: basic, username_env: API_USER, password_env: API_PASSWORD}
        endpoints:
          users: {path: users}
        """,
        )
    )

    with pytest.raises(ConfigError) as raised:
        resolve_api(config, tmp_path / "api.yml", {"API_USER": "ada"})

    assert "set the environment variable(s) API_BASE_URL, API_PASSWORD" in str(raised.value)


def test_base_url_variable_overrides_the_file_and_must_be_http(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "base_url_env: API_BASE_URL\n"))

    assert resolve_api(config, tmp_path, {}).base_url == "https://api.example.com/v1/"
    assert resolve_api(config, tmp_path, {"API_BASE_URL": "http://127.0.0.1:9/x"}).base_url == "http://127.0.0.1:9/x/"
    with pytest.raises(ConfigError, match="API_BASE_URL must hold an http:// or https:// URL"):
        resolve_api(config, tmp_path, {"API_BASE_URL": "ftp://user:pw@host"})


def test_worker_reports_a_bad_file_in_one_line_and_a_missing_option_as_usage(rest: Rest) -> None:
    config = rest.write_config(
        rest.config.read_text().replace("    records_path: results\n", "    record_path: x\n", 1)
    )

    run = rest.ingest("orders", config=config)

    assert (run.returncode, run.stdout) == (1, "")
    assert run.error_lines == [
        f"Error: rest config {config}:23: endpoints.orders.record_path: unknown key "
        f"(check the spelling; see python/README.md)"
    ]
    assert rest.api.requests == []
    usage = rest.run_worker("ingest", "--source", "rest", "--table", "users", env=rest.env())
    assert usage.returncode == 2
    assert usage.error_lines == ["Error: --source rest needs --rest-config FILE"]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^rest config .*nope\.yml: file not found$"):
        load_config(tmp_path / "nope.yml")
