"""Outputs through the unmodified orchestra-sdk, read downstream; group conditions take each branch."""

from __future__ import annotations

from pathlib import Path

import pytest

PRODUCER = '''
import os, sys
from orchestra_sdk.orchestra import OrchestraSDK
from orchestra_sdk.enum import TaskRunStatus
sdk = OrchestraSDK(api_key=os.environ["ORCHESTRA_API_KEY"])
assert sdk.set_output("row_count", int(sys.argv[1]))
assert sdk.set_output("Table-Name", "orders")
assert sdk.update_task(status=TaskRunStatus.RUNNING, message="half way")
if int(sys.argv[1]) < 0:
    sys.exit(1)
'''

CONSUMER = '''
import sys
print("received", sys.argv[1:])
open(sys.argv[1], "w").write(" ".join(sys.argv[2:]))
'''

WRONG_TOKEN = '''
import os, requests
response = requests.post(os.environ["ORCHESTRA_WEBHOOK_URL"], headers={"Authorization": "Bearer not-the-token"},
                         json={"event_type": "SET_OUTPUT", "task_run_id": os.environ["ORCHESTRA_TASK_RUN_ID"],
                               "output_name": "x", "output_value": 1, "metadata": {}})
print(response.status_code)
assert response.status_code == 401
'''


@pytest.fixture
def scripts(task_repo: Path) -> Path:
    for name, text in (("produce.py", PRODUCER), ("consume.py", CONSUMER), ("wrong_token.py", WRONG_TOKEN)):
        (task_repo / "py" / name).write_text(text)
    return task_repo


PIPELINE = """
version: v1
name: outputs
inputs:
  rows: {{type: number}}
pipeline:
  produce_group:
    tasks:
      produce:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        treat_failure_as_warning: true
        parameters: {{project_dir: py, command: "python produce.py ${{{{ inputs.rows }}}}", set_outputs: {set_outputs}}}
  when_ok:
    depends_on: [produce_group]
    condition: "${{{{ task_groups['produce_group'].all().status == 'SUCCEEDED' }}}}"
    tasks:
      consume:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          project_dir: py
          command: >-
            python consume.py {out} ${{{{ ORCHESTRA.PIPELINE_RUN_TASKS['produce'].OUTPUTS['row_count'] }}}}
            ${{{{ tasks['produce'].outputs['table-name'] }}}}
  when_warned:
    depends_on: [produce_group]
    condition: "${{{{ task_groups['produce_group'].any().status in ['WARNING', 'FAILED'] }}}}"
    tasks:
      alert:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {{project_dir: py, command: "python consume.py {out}.alert produce was ${{{{ tasks['produce'].status }}}}"}}
"""


def test_sdk_outputs_flow_downstream_and_conditions_pick_a_branch(run_pipeline, scripts: Path) -> None:
    out = scripts / "received.txt"
    ok = run_pipeline(PIPELINE.format(set_outputs="true", out=out), inputs={"rows": 42})
    assert ok.status == "SUCCEEDED"
    assert ok.statuses() == {"produce_group.produce": "SUCCEEDED", "when_ok.consume": "SUCCEEDED",
                             "when_warned.alert": "SKIPPED"}
    assert out.read_text() == "42 orders"
    produce = ok.by_label()["produce_group.produce"]
    assert ok.store.get_outputs(produce["id"]) == {"row_count": 42, "Table-Name": "orders"}
    assert produce["external_status"] == "RUNNING" and produce["external_message"] == "half way"

    warned = run_pipeline(PIPELINE.format(set_outputs="true", out=out), inputs={"rows": -1})
    assert warned.status == "WARNING"
    assert warned.statuses() == {"produce_group.produce": "WARNING", "when_ok.consume": "SKIPPED",
                                 "when_warned.alert": "SUCCEEDED"}
    assert Path(f"{out}.alert").read_text() == "produce was WARNING"


def test_set_outputs_false_ignores_sdk_outputs(run_pipeline, scripts: Path) -> None:
    out = scripts / "received.txt"
    finished = run_pipeline(PIPELINE.format(set_outputs="false", out=out), inputs={"rows": 7})
    produce = finished.by_label()["produce_group.produce"]
    assert produce["status"] == "SUCCEEDED"
    assert finished.store.get_outputs(produce["id"]) == {}
    consume = finished.by_label()["when_ok.consume"]
    assert consume["status"] == "FAILED" and "OUTPUTS has no 'row_count'" in consume["message"]


def test_a_wrong_token_is_rejected(run_pipeline, scripts: Path) -> None:
    finished = run_pipeline("""
        version: v1
        name: wrong-token
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                  parameters: {project_dir: py, command: python wrong_token.py, set_outputs: true}}
        """)
    record = finished.by_label()["g.t"]
    assert record["status"] == "SUCCEEDED", record["message"]
    assert finished.store.get_outputs(record["id"]) == {}
