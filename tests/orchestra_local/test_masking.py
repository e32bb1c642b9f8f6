"""What is a secret, what is masked, and what must stay readable (tables with readable ids)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestra_local.connections import Connection
from orchestra_local.integrations.base import task_visible_env
from orchestra_local.integrations.dbt_core import vars_secrets
from orchestra_local.masking import Masker, is_secret_name, maskable, scrub_tree, secret_values
from orchestra_local.workspace import Workspace

SECRET_NAMES = [
    "password", "PASSWORD", "DB_PASSWORD", "PGPASSWORD", "passwd", "token", "bearer_token", "GITHUB_TOKEN",
    "accessToken", "api_key", "API_KEY", "apiKey", "APIKEY", "private_key", "privateKey", "access_key",
    "AWS_SECRET_ACCESS_KEY", "client_secret", "clientSecret", "secret", "credentials",
    "GOOGLE_APPLICATION_CREDENTIALS", "webhook_url", "SLACK_WEBHOOK_URL", "Authorization", "X-Api-Key",
    "ORCHESTRA_LOCAL_API_TOKEN", "passphrase", "Cookie",
]
PLAIN_NAMES = [
    "host", "HOST", "port", "user", "username", "database", "schema", "warehouse", "role", "account", "PWD",
    "OLDPWD", "PATH", "HOME", "DATABASE_URL", "base_url", "path", "sslmode", "PRIVATE_KEY_PATH",
    "TOKEN_FILE", "channel_name", "WAREHOUSE_DUCKDB_PATH", "rows_written", "monkey", "ORCHESTRA_LOCAL_HOME",
    "keyboard_layout", "primary_key", "SORT_KEY", "partition_keys", "cursor_key",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("abc", False, id="shorter-than-4"),
        pytest.param("5432", False, id="port-number"),
        pytest.param("15432", False, id="any-number"),
        pytest.param("-1.5", False, id="signed-decimal"),
        pytest.param("true", False, id="boolean"),
        pytest.param("Localhost", False, id="common-word-any-case"),
        pytest.param("postgres", False, id="default-user-word"),
        pytest.param("  ", False, id="blank"),
        pytest.param("Bearer ${{ ENV.API_TOKEN }}", False, id="unresolved-expression"),
        pytest.param("s3cr", True, id="four-chars"),
        pytest.param("hunter2-long", True, id="password"),
        pytest.param("12ab", True, id="digits-and-letters"),
    ],
)
def test_maskable_values(value: str, expected: bool) -> None:
    assert maskable(value) is expected


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({"host": "db.internal", "port": "5432", "user": "loader", "database": "analytics",
                      "password": "pw-1234"}, ["pw-1234"], id="connection-fields"),
        pytest.param({"url": "postgresql://loader:pw-in-url@db.internal:5432/analytics"}, ["pw-in-url"],
                     id="url-password-only"),
        pytest.param({"DSN": "host=db.internal user=loader password=dsn-pw-99 dbname=analytics"}, ["dsn-pw-99"],
                     id="libpq-key-value"),
        pytest.param({"base_url": "https://api.example.com/v1?api_key=query-key-77&page=2"}, ["query-key-77"],
                     id="url-query-key"),
        pytest.param({"headers": '{"Authorization": "Bearer hdr-tok-55", "X-Client": "orchestra-local"}'},
                     ["Bearer hdr-tok-55"], id="json-headers"),
        pytest.param({"webhook_url": "https://hooks.slack.com/services/T0/B0/xyz"},
                     ["https://hooks.slack.com/services/T0/B0/xyz"], id="webhook-is-the-secret"),
        pytest.param({"nested": {"client_secret": "nested-sec"}}, ["nested-sec"], id="nested-mapping"),
        pytest.param({"PWD": "/work/main", "HOME": "/home/me"}, [], id="working-directory"),
        pytest.param({"commands": """dbt build --vars '{"api_key": "vars-key-3", "schema": "main"}'"""},
                     ["vars-key-3"], id="quoted-pair-in-a-command"),
        pytest.param({"primary_key": "order_id", "merge_key": "customer_id"}, [], id="data-keys"),
    ],
)
def test_secret_values(variables: dict[str, object], expected: list[str]) -> None:
    assert secret_values(variables) == expected


def test_masker_masks_encoded_forms_and_keeps_numbers_and_words() -> None:
    masker = Masker(["p@ss\"word-9", "5432", "true", "abc"])
    assert not masker.found_in(b"5432 true abc")
    assert masker.mask('{"rows_written": 15432, "ok": true}') == '{"rows_written": 15432, "ok": true}'
    assert masker.mask(json.dumps({"v": 'p@ss"word-9'})) == '{"v": "***"}'
    assert masker.mask("postgresql://u:p%40ss%22word-9@h/db") == "postgresql://u:***@h/db"
    assert masker.mask_value({"k-p@ss\"word-9": ["p@ss\"word-9", 3]}) == {"k-***": ["***", 3]}
    headers = Masker(secret_values({"headers": '{"Authorization": "Bearer hdr-tok-55"}'}))
    assert headers.mask("sent hdr-tok-55 as Bearer hdr-tok-55") == "sent *** as ***"


def test_multi_line_secret_is_masked_line_by_line() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
    masker = Masker(secret_values({"SNOWFLAKE_PRIVATE_KEY": pem}))
    logged = [masker.mask(line) for line in pem.splitlines()]  # how process.py writes a log
    assert logged == ["***", "***", "***", "***"]
    assert masker.mask(json.dumps({"private_key": pem})) == '{"private_key": "***"}'


def test_masker_learns_literal_secrets_from_records() -> None:
    masker = Masker()
    masker.learn({"task_parameters": {"commands": """dbt run --vars '{"signing_key": "lit-sign-1"}'""",
                                      "custom_headers": {"Authorization": "Bearer lit-bearer-2"},
                                      "environment_variables": '{"API_TOKEN": "lit-token-3", "TABLE": "orders"}'},
                  "run_inputs": {"source_password": "lit-input-4", "table": "orders"}})
    text = "lit-sign-1 Bearer lit-bearer-2 lit-token-3 lit-input-4 orders"
    assert masker.mask(text) == "*** *** *** *** orders"


def test_connection_masks_only_secret_fields() -> None:
    connection = Connection.model_validate({"name": "wh", "integration": "POSTGRES", "fields": {
        "host": "db.internal", "port": 5432, "user": "loader", "database": "analytics", "password": "conn-pw-1"}})
    masker = Masker(connection.secrets())
    text = "loader@db.internal:5432/analytics.main.stg_orders with conn-pw-1"
    assert masker.mask(text) == "loader@db.internal:5432/analytics.main.stg_orders with ***"


def test_workspace_registers_env_file_environment_and_process_secrets(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SOURCE_API_KEY=env-file-key\nWAREHOUSE_SCHEMA=analytics\n")
    (tmp_path / "environments.yml").write_text(
        "environments:\n  dev:\n    default: true\n    values:\n      DEPLOY_TOKEN: env-yml-token\n"
        "      TARGET_DATABASE: analytics_dev\n")
    workspace = Workspace.load(tmp_path, env_file=tmp_path / ".env",
                               environ={"GITHUB_TOKEN": "process-token", "PWD": str(tmp_path), "PORT": "8080"})
    workspace.request()
    text = f"env-file-key env-yml-token process-token {tmp_path} 8080 analytics analytics_dev"
    assert workspace.masker.mask(text) == f"*** *** *** {tmp_path} 8080 analytics analytics_dev"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param(["build", "--vars", '{"api_key": "vars-key-1", "schema": "main"}'], ["vars-key-1"], id="json"),
        pytest.param(["run", "--vars=client_secret: vars-sec-2"], ["vars-sec-2"], id="yaml-equals"),
        pytest.param(["build", "--vars", "{not: [valid"], [], id="unparsable-left-to-dbt"),
        pytest.param(["build", "--select", "api_key"], [], id="no-vars"),
    ],
)
def test_dbt_vars_secrets(command: list[str], expected: list[str]) -> None:
    assert vars_secrets(command) == expected


def test_task_env_drops_only_the_runner_secret_settings() -> None:
    env = {"ORCHESTRA_LOCAL_API_TOKEN": "api-token-1234", "ORCHESTRA_LOCAL_HOME": "/state",
           "ORCHESTRA_LOCAL_METADATA_URL": "postgresql://u:meta-pw@h/db", "GITHUB_TOKEN": "kept-for-the-task",
           "PATH": "/usr/bin"}
    assert task_visible_env(env) == {"ORCHESTRA_LOCAL_HOME": "/state", "GITHUB_TOKEN": "kept-for-the-task",
                                     "PATH": "/usr/bin"}


def test_scrub_tree_masks_text_renames_names_and_drops_binary_caches(tmp_path: Path) -> None:
    masker = Masker(["tree-secret-1"])
    (tmp_path / "compiled" / "tree-secret-1").mkdir(parents=True)
    (tmp_path / "compiled" / "tree-secret-1" / "model.sql").write_text("select 'tree-secret-1' as k")
    (tmp_path / "run_results.json").write_text('{"args": {"vars": {"api_key": "tree-secret-1"}}}')
    (tmp_path / "partial_parse.msgpack").write_bytes(b"\x92\xadtree-secret-1\xff")
    (tmp_path / "clean.json").write_text("{}")
    (tmp_path / "warehouse.duckdb").write_bytes(b"DUCK\xff\xfe tree-secret-1 \x00")
    scrubbed = scrub_tree(tmp_path, masker)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert names == ["clean.json", "compiled/***/model.sql", "run_results.json", "warehouse.duckdb"]
    assert scrubbed.left == [tmp_path / "warehouse.duckdb"]  # a database is reported, never deleted
    assert (tmp_path / "run_results.json").read_text() == '{"args": {"vars": {"api_key": "***"}}}'
    assert (tmp_path / "compiled" / "***" / "model.sql").read_text() == "select '***' as k"
