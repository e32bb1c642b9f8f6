"""DBT_CORE_EXECUTE through the engine: real dbt (dbtRunner) on a small DuckDB project."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import duckdb
import pytest

from orchestra_local.errors import PipelineValidationError

pytestmark = pytest.mark.slow


@pytest.fixture
def dbt_repo(task_repo: Path, tmp_path: Path) -> Path:
    project = task_repo / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "seeds").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: small\nversion: '1.0'\nprofile: small\nflags: {send_anonymous_usage_stats: false}\n"
    )
    (project / "profiles.yml").write_text(
        "small:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {tmp_path / 'small.duckdb'}\n"
    )
    (project / "seeds" / "people.csv").write_text("person_id,age\n1,30\n2,-4\n")
    (project / "models" / "stg_people.sql").write_text("select person_id, age from {{ ref('people') }}\n")
    (project / "models" / "_models.yml").write_text(
        "models:\n"
        "  - name: stg_people\n"
        "    columns:\n"
        "      - name: person_id\n"
        "        data_tests: [unique, not_null]\n"
        "      - name: age\n"
        "        data_tests:\n"
        "          - accepted_values:\n"
        "              arguments: {values: [30], quote: false}\n"
        "              config: {severity: warn}\n"
    )
    return task_repo


DBT_PIPELINE = """
    version: v1
    name: dbt
    pipeline:
      transform:
        tasks:
          build:
            integration: DBT_CORE
            integration_job: DBT_CORE_EXECUTE
            parameters: {{project_dir: dbt, commands: "{commands}"}}
      after:
        depends_on: [transform]
        tasks:
          next: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {{project_dir: py, command: python task.py}}}}
    """


def test_nodes_become_operations_and_a_warning_makes_the_task_warning(run_pipeline, dbt_repo: Path) -> None:
    finished = run_pipeline(DBT_PIPELINE.format(commands="dbt seed; dbt build;"))
    assert finished.status == "WARNING"
    build = finished.by_label()["transform.build"]
    assert build["status"] == "WARNING" and "warn" in build["message"]
    assert finished.by_label()["after.next"]["status"] == "SUCCEEDED"
    operations = finished.store.list_operations(task_run_id=build["id"])
    by_id = {(op["external_id"], op["operation_type"], op["operation_status"]) for op in operations}
    assert ("seed.small.people", "SEED", "SUCCEEDED") in by_id  # from `dbt seed` and again from `dbt build`
    assert ("model.small.stg_people", "MATERIALISATION", "SUCCEEDED") in by_id
    warned = [op for op in operations if op["operation_status"] == "WARNING"]
    assert len(warned) == 1 and warned[0]["operation_type"] == "TEST"
    model = next(op for op in operations if op["external_id"] == "model.small.stg_people")
    assert model["dependencies"] == ["seed.small.people"]
    assert model["operation_duration"] > 0 and model["started_at"] <= model["completed_at"]
    artifacts = {f["filename"] for f in finished.store.list_files(build["id"], "artifact")}
    assert {"1_seed/run_results.json", "2_build/run_results.json", "2_build/manifest.json"} <= artifacts
    run_results = json.loads(Path(next(f["path"] for f in finished.store.list_files(build["id"], "artifact")
                                       if f["filename"] == "2_build/run_results.json")).read_text())
    assert run_results["metadata"]["dbt_schema_version"].endswith("run-results/v6.json")
    logs = {f["filename"] for f in finished.store.list_files(build["id"], "log")}
    assert {"1/dbt seed.log", "1/dbt build.log"} <= logs
    assert not (dbt_repo / "dbt" / "target").exists() and not (dbt_repo / "dbt" / "logs").exists()


def test_a_failing_model_fails_the_task_and_skips_downstream(run_pipeline, dbt_repo: Path, tmp_path: Path) -> None:
    (dbt_repo / "dbt" / "models" / "broken.sql").write_text("select no_such_column from {{ ref('people') }}\n")
    finished = run_pipeline(DBT_PIPELINE.format(commands="dbt seed; dbt build"))
    assert finished.status == "FAILED"
    build = finished.by_label()["transform.build"]
    assert build["status"] == "FAILED" and "'dbt build' failed" in build["message"]
    assert finished.by_label()["after.next"]["status"] == "SKIPPED"
    failed = [op for op in finished.store.list_operations(task_run_id=build["id"]) if op["operation_status"] == "FAILED"]
    assert [op["operation_name"] for op in failed] == ["broken"]
    assert "no_such_column" in (failed[0]["external_detail"] or "")
    with duckdb.connect(str(tmp_path / "small.duckdb"), read_only=True) as warehouse:
        assert warehouse.execute("select count(*) from stg_people").fetchone() == (2,)


def test_a_command_that_is_not_dbt_is_refused_before_the_run(run_pipeline, dbt_repo: Path) -> None:
    with pytest.raises(PipelineValidationError, match="each command must start with 'dbt' \\(got 'rm -rf /'\\)"):
        run_pipeline(DBT_PIPELINE.format(commands="dbt seed; rm -rf /"))


SLOW_MODEL = "{{ config(materialized='table') }}\nselect sum(hash(range)) as n from range(20000000000)\n"  # minutes unless interrupted


@pytest.mark.parametrize("ending", ["timeout", "cancel"])
def test_a_long_dbt_query_is_interrupted_on_timeout_and_cancel(run_pipeline, dbt_repo: Path, ending: str) -> None:
    (dbt_repo / "dbt" / "models" / "slow.sql").write_text(SLOW_MODEL)
    extra = ", configuration: {timeout: 2}" if ending == "timeout" else ""
    yaml_text = f"""
        version: v1
        name: slow dbt
        pipeline:
          transform:
            tasks:
              build: {{integration: DBT_CORE, integration_job: DBT_CORE_EXECUTE,
                       parameters: {{project_dir: dbt, commands: "dbt seed; dbt run"}}{extra}}}
        """

    def cancel_soon(execution) -> None:
        threading.Timer(4, execution.cancel).start()

    started = time.monotonic()
    finished = run_pipeline(yaml_text, on_start=cancel_soon if ending == "cancel" else None)
    assert time.monotonic() - started < 30
    build = finished.by_label()["transform.build"]
    if ending == "timeout":
        assert build["status"] == "FAILED" and "timed out after 2 seconds" in build["message"]
    else:
        assert build["status"] == "CANCELLED" and finished.status == "CANCELLED"


def test_a_failed_node_is_named_with_dbts_message_and_the_log_path(run_pipeline, dbt_repo: Path) -> None:
    (dbt_repo / "dbt" / "models" / "broken.sql").write_text("select no_such_column from {{ ref('people') }}\n")
    build = run_pipeline(DBT_PIPELINE.format(commands="dbt seed; dbt build")).by_label()["transform.build"]
    headline, *details = build["message"].splitlines()
    assert headline.startswith("'dbt build' failed: 1 node(s) failed (")
    assert details[0].startswith("  model broken: ") and "no_such_column" in "\n".join(details)
    assert details[-1].startswith("full log: ") and Path(details[-1].removeprefix("full log: ")).is_file()


def test_a_parse_error_is_shown_whole_and_no_older_manifest_is_recorded(run_pipeline, dbt_repo: Path) -> None:
    first = run_pipeline(DBT_PIPELINE.format(commands="dbt seed")).by_label()["transform.build"]
    assert first["status"] == "SUCCEEDED"  # target/manifest.json now exists
    (dbt_repo / "dbt" / "models" / "bad_jinja.sql").write_text("select {{ ref('people' }}\n")
    finished = run_pipeline(DBT_PIPELINE.format(commands="dbt build"))
    build = finished.by_label()["transform.build"]
    assert build["status"] == "FAILED" and "bad_jinja" in build["message"] and len(build["message"].splitlines()) > 2
    artifacts = {f["filename"] for f in finished.store.list_files(build["id"], "artifact")}
    assert "manifest.json" not in artifacts
