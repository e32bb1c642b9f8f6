"""POSTGRES_RUN_QUERY and POSTGRES_RUN_TEST through the engine against the real local PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from orchestra_local.connections import Connection
from orchestra_local.errors import PipelineValidationError
from tests.conftest import postgres_fields

pytestmark = pytest.mark.postgres


@pytest.fixture
def warehouse(postgres_url: str) -> dict[str, Connection]:
    """The test database as a POSTGRES connection with host/port/user/database fields."""
    return {"warehouse": Connection(name="warehouse", integration="POSTGRES", fields=postgres_fields(postgres_url))}


def _pipeline(tasks: dict[str, dict], *, retries: int = 0, timeout: int = 60) -> str:
    """A one-group pipeline of POSTGRES tasks, each given as ``{"job": ..., **parameters}``."""
    group = {}
    for task_id, spec in tasks.items():
        group[task_id] = {
            "integration": "POSTGRES", "integration_job": spec["job"], "connection": "warehouse",
            "configuration": {"retries": retries, "retry_delay": 1, "timeout": timeout},
            "parameters": {key: value for key, value in spec.items() if key != "job"},
        }
    return json.dumps({"version": "v1", "name": "postgres", "pipeline": {"sql": {"tasks": group}}})  # JSON is YAML


def _scalar(postgres_url: str, sql: str) -> object:
    engine = sqlalchemy.create_engine(postgres_url, poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        value = connection.exec_driver_sql(sql).scalar()
    engine.dispose()
    return value


def test_statements_run_in_one_transaction_with_one_operation_each(run_pipeline, warehouse, schema) -> None:
    sql = (f"create table {schema}.orders (order_id int, status text);"
           f" insert into {schema}.orders values (1, 'open'), (2, 'open'), (3, 'done');"
           f" update {schema}.orders set status = 'late' where status = 'open' and order_id < 100;"
           f" select order_id, status, now()::date as loaded_on from {schema}.orders where status like 'l%' order by 1")
    finished = run_pipeline(_pipeline({"load": {"job": "POSTGRES_RUN_QUERY", "statement": sql, "set_outputs": True}}),
                            connections=warehouse)
    load = finished.by_label()["sql.load"]
    assert load["status"] == "SUCCEEDED", load["message"]
    assert load["message"].startswith("4 statements: CREATE TABLE, INSERT 0 3, UPDATE 2, SELECT 2 (committed")
    operations = finished.store.list_operations(task_run_id=load["id"])
    assert [(op["operation_type"], op["external_status"], op["rows_affected"]) for op in operations] == [
        ("QUERY", "CREATE TABLE", None), ("QUERY", "INSERT 0 3", 3), ("QUERY", "UPDATE 2", 2), ("QUERY", "SELECT 2", 2)]
    assert [op["external_id"] for op in operations] == [f"load.statement_{i}" for i in range(1, 5)]
    outputs = finished.store.get_outputs(load["id"])
    assert outputs["row_count"] == 2
    assert [(r["order_id"], r["status"]) for r in outputs["results"]] == [(1, "late"), (2, "late")]
    assert isinstance(outputs["results"][0]["loaded_on"], str)  # dates become ISO 8601 text


def test_a_failing_statement_rolls_back_the_others_and_is_not_retried(run_pipeline, warehouse, schema,
                                                                      postgres_url: str) -> None:
    sql = f"create table {schema}.t (a int); insert into {schema}.t values (1); insert into {schema}.missing values (2)"
    finished = run_pipeline(_pipeline({"load": {"job": "POSTGRES_RUN_QUERY", "statement": sql}}, retries=2),
                            connections=warehouse)
    load = finished.by_label()["sql.load"]
    assert load["status"] == "FAILED" and load["number_of_attempts"] == 1
    assert "PostgreSQL error 42P01" in load["message"] and "missing" in load["message"]
    assert _scalar(postgres_url, f"select to_regclass('{schema}.t') is null") is True


def test_the_database_parameter_overrides_a_url_connection(run_pipeline, schema, postgres_url: str) -> None:
    url = make_url(postgres_url).set(database="postgres")  # the connection points at another database
    connections = {"warehouse": Connection(name="warehouse", integration="POSTGRES",
                                           fields={"url": url.render_as_string(hide_password=False)})}
    pipeline = _pipeline({"probe": {"job": "POSTGRES_RUN_QUERY", "statement": "select current_database() as db",
                                    "database": make_url(postgres_url).database, "set_outputs": True}})
    finished = run_pipeline(pipeline, connections=connections)
    probe = finished.by_label()["sql.probe"]
    assert probe["status"] == "SUCCEEDED", probe["message"]
    assert finished.store.get_outputs(probe["id"])["results"] == [{"db": make_url(postgres_url).database}]


def test_sql_tests_succeed_warn_or_fail_by_their_thresholds(run_pipeline, warehouse, schema, postgres_url: str) -> None:
    setup = (f"create table {schema}.people (person_id int, age int);"
             f" insert into {schema}.people values (1, 30), (2, -4), (3, -1), (4, 51)")
    run_pipeline(_pipeline({"setup": {"job": "POSTGRES_RUN_QUERY", "statement": setup}}), connections=warehouse)
    negative_ages = f"select * from {schema}.people where age < 0"
    finished = run_pipeline(_pipeline({
        "no_duplicates": {"job": "POSTGRES_RUN_TEST",
                          "statement": f"select person_id from {schema}.people group by 1 having count(*) > 1"},
        "few_negative_ages": {"job": "POSTGRES_RUN_TEST", "statement": negative_ages,
                              "error_threshold_expression": ">= 3", "warn_threshold_expression": "> 0"},
        "no_negative_ages": {"job": "POSTGRES_RUN_TEST", "statement": negative_ages},
        "four_people": {"job": "POSTGRES_RUN_TEST", "statement": f"select * from {schema}.people",
                        "error_threshold_expression": "!=4", "warn_threshold_expression": "<= 3"},
    }), connections=warehouse)
    assert finished.status == "FAILED"
    assert finished.statuses() == {"sql.no_duplicates": "SUCCEEDED", "sql.few_negative_ages": "WARNING",
                                   "sql.no_negative_ages": "FAILED", "sql.four_people": "SUCCEEDED"}
    runs = finished.by_label()
    assert runs["sql.few_negative_ages"]["message"] == "2 rows returned: meets the warn threshold '> 0'"
    assert runs["sql.no_negative_ages"]["message"] == "2 rows returned: meets the error threshold '> 0'"
    failed = finished.store.list_operations(task_run_id=runs["sql.no_negative_ages"]["id"])
    assert [(op["operation_type"], op["operation_status"], op["rows_affected"]) for op in failed] == [
        ("TEST", "FAILED", 2)]
    warned = finished.store.list_operations(task_run_id=runs["sql.few_negative_ages"]["id"])
    assert [(op["operation_status"], op["rows_affected"]) for op in warned] == [("WARNING", 2)]


def test_a_sql_test_never_changes_data(run_pipeline, warehouse, schema, postgres_url: str) -> None:
    sql = f"create table {schema}.scratch as select 1 as a; select * from {schema}.scratch"
    finished = run_pipeline(_pipeline({"check": {"job": "POSTGRES_RUN_TEST", "statement": sql,
                                                 "error_threshold_expression": "= 0"}}), connections=warehouse)
    assert finished.statuses() == {"sql.check": "WARNING"}  # one row meets the default warn threshold '> 0'
    assert _scalar(postgres_url, f"select to_regclass('{schema}.scratch') is null") is True


def test_a_sql_test_whose_last_statement_returns_no_rows_fails(run_pipeline, warehouse, schema) -> None:
    pipeline = _pipeline({"check": {"job": "POSTGRES_RUN_TEST", "statement": f"create table {schema}.x (a int)"}})
    finished = run_pipeline(pipeline, connections=warehouse)
    check = finished.by_label()["sql.check"]
    assert check["status"] == "FAILED" and "not a query" in check["message"]


def test_an_invalid_threshold_expression_is_rejected_before_the_run(run_pipeline, warehouse) -> None:
    pipeline = _pipeline({"check": {"job": "POSTGRES_RUN_TEST", "statement": "select 1",
                                    "error_threshold_expression": "== 0"}})
    with pytest.raises(PipelineValidationError) as caught:
        run_pipeline(pipeline, connections=warehouse)
    assert any("error_threshold_expression" in p.yaml_path() and "comparator" in p.msg for p in caught.value.problems)


def test_a_query_over_the_timeout_is_cancelled_on_the_server(run_pipeline, warehouse, postgres_url: str) -> None:
    finished = run_pipeline(_pipeline({"slow": {"job": "POSTGRES_RUN_QUERY", "statement": "select pg_sleep(30)"}},
                                      timeout=1), connections=warehouse)
    slow = finished.by_label()["sql.slow"]
    assert slow["status"] == "FAILED" and slow["message"].startswith("timed out after 1 seconds")
    active = "select count(*) from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'"
    assert _scalar(postgres_url, active) == 0


def test_cancelling_the_run_interrupts_the_query(run_pipeline, warehouse, postgres_url: str) -> None:
    marker = f"select pg_sleep(30) as cancel_{uuid.uuid4().hex[:8]}"
    active = f"select count(*) from pg_stat_activity where query = '{marker}' and state = 'active'"

    def cancel_when_running(execution) -> None:
        def watch() -> None:
            deadline = time.monotonic() + 20
            while _scalar(postgres_url, active) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            execution.cancel()

        threading.Thread(target=watch, daemon=True).start()

    started = time.monotonic()
    finished = run_pipeline(_pipeline({"slow": {"job": "POSTGRES_RUN_QUERY", "statement": marker}}),
                            connections=warehouse, on_start=cancel_when_running)
    assert time.monotonic() - started < 20
    slow = finished.by_label()["sql.slow"]
    assert finished.status == "CANCELLED" and slow["status"] == "CANCELLED", slow["message"]
    assert slow["message"] == "cancelled: the PostgreSQL query was interrupted"
    assert _scalar(postgres_url, active) == 0


def test_an_unreachable_server_fails_retryably(run_pipeline) -> None:
    connections = {"warehouse": Connection(name="warehouse", integration="POSTGRES",
                                           fields={"host": "127.0.0.1", "port": "9", "user": "postgres",
                                                   "database": "test"})}
    finished = run_pipeline(_pipeline({"load": {"job": "POSTGRES_RUN_QUERY", "statement": "select 1"}}, retries=1),
                            connections=connections)
    load = finished.by_label()["sql.load"]
    assert load["status"] == "FAILED" and "PostgreSQL error" in load["message"] and load["number_of_attempts"] == 2


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"host": "127.0.0.1", "url": "postgresql://u@h/db", "user": "u"}, "both url and host"),
        ({"url": "mysql://u@h/db"}, "not a postgresql:// URL"),
        ({"host": "127.0.0.1", "user": "postgres", "port": "five"}, "port must be a number"),
        ({"host": "127.0.0.1", "user": "postgres"}, "names no database"),
        ({"password": "pw"}, "needs either a url field or host"),
    ],
    ids=["url-and-host", "not-postgres", "bad-port", "no-database", "nothing"],
)
def test_bad_connection_fields_fail_without_retrying(run_pipeline, fields: dict, fragment: str) -> None:
    connections = {"warehouse": Connection(name="warehouse", integration="POSTGRES", fields=fields)}
    finished = run_pipeline(_pipeline({"load": {"job": "POSTGRES_RUN_QUERY", "statement": "select 1"}}, retries=2),
                            connections=connections)
    load = finished.by_label()["sql.load"]
    assert load["status"] == "FAILED" and fragment in load["message"] and load["number_of_attempts"] == 1
