"""``schedule`` and ``trigger_events`` as an Airflow cron timetable and assets, checked by loading the DAG
files with Airflow's ``DagBag`` (zero import errors), and the committed deploy/airflow/dags/ kept fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestra_local.errors import PipelineValidationError, RemoteOnlyIntegrationError
from orchestra_local.export.airflow_schedules import five_field_cron
from orchestra_local.export.codegen import airflow_dag_files, write_airflow_dags
from tests.orchestra_local.export.test_dagster_triggers import DOWNSTREAM, UPSTREAM, write

REPO_ROOT = Path(__file__).resolve().parents[3]
COMMITTED = REPO_ROOT / "deploy" / "airflow" / "dags"


@pytest.mark.parametrize(("eventbridge", "airflow"), [
    ("0 8 ? * MON-FRI *", "0 8 * * 1-5"),
    ("0 6 ? * * *", "0 6 * * *"),
    ("0 9 ? * 2#1 *", "0 9 * * 1#1"),
])
def test_eventbridge_cron_in_airflow_terms(eventbridge: str, airflow: str) -> None:
    assert five_field_cron(eventbridge) == (airflow, "*")


def test_what_an_airflow_timetable_cannot_express_is_refused_with_its_yaml_path(task_repo: Path) -> None:
    write(task_repo, "yearly.yml", UPSTREAM.replace("0 8 ? * MON-FRI *", "0 8 ? * MON-FRI 2027"))
    with pytest.raises(PipelineValidationError, match=r"yearly\.yml:\d+.*schedule\[0\]\.cron: year '2027'"):
        airflow_dag_files(task_repo / "orchestra" / "yearly.yml", task_repo / "dags")
    assert not (task_repo / "dags").exists()


def test_the_committed_dag_files_are_what_export_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    files, _notes = airflow_dag_files(Path("orchestra"), Path("deploy/airflow/dags/"))
    committed = {path.name: path.read_text() for path in COMMITTED.glob("*.py")}
    assert committed == files, "deploy/airflow/dags/ is stale: run orchestra-local export airflow --out deploy/airflow/dags/"


def test_remote_only_integrations_are_refused_like_run(task_repo: Path, cli) -> None:
    path = write(task_repo, "saas.yml", """
        version: v1
        name: saas
        pipeline:
          sync:
            tasks:
              fivetran_sync:
                integration: FIVETRAN
                integration_job: FIVETRAN_SYNC_ALL
                parameters:
                  connector_id: abc
    """)
    listed = "sync.fivetran_sync (FIVETRAN/FIVETRAN_SYNC_ALL)"
    with pytest.raises(RemoteOnlyIntegrationError, match="only run on hosted Orchestra"):
        write_airflow_dags(path, task_repo / "dags")
    ran = cli("run", str(path))
    exported = cli("export", "airflow", "--pipelines", str(path), "--out", str(task_repo / "dags"))
    assert ran.returncode == exported.returncode == 2
    assert listed in ran.stdout + ran.stderr and listed in exported.stdout + exported.stderr
    assert not (task_repo / "dags").exists()


@pytest.mark.slow
def test_a_schedule_and_a_trigger_event_load_in_airflow_dagbag(task_repo: Path, airflow) -> None:
    write(task_repo, "upstream.yml", UPSTREAM)
    write(task_repo, "downstream.yml", DOWNSTREAM)
    written, _notes = write_airflow_dags(task_repo / "orchestra", task_repo / "dags")
    assert sorted(p.name for p in written) == ["downstream.py", "upstream.py"]
    loaded = airflow("dagbag", task_repo / "dags", str(COMMITTED))
    assert loaded["import_errors"] == {}
    dags = loaded["dags"]
    upstream, downstream = dags["upstream"], dags["downstream"]
    assert (upstream["timetable"], upstream["cron"], upstream["timezone"]) == (
        "CronTriggerTimetable", "0 8 * * 1-5", "Europe/London")
    assert upstream["params"] == {"day": "", "fail": False}
    assert downstream["timetable"] == "AssetTriggeredTimetable"
    assert downstream["assets"] == ["orchestra/upstream/FAILED", "orchestra/upstream/SUCCEEDED"]
    assert set(downstream["tasks"]) == {"follow.follow_up", "orchestra_run_status", "orchestra_run_result"}
    # every committed DAG file loads too; the demo's daily cron in UTC
    assert {path.stem for path in COMMITTED.glob("*.py")} <= set(dags)
    assert (dags["tpch_elt"]["cron"], dags["tpch_elt"]["timezone"]) == ("0 6 * * *", "UTC")
