"""A worker's final JSON line is parsed as printed, then masked: a secret never costs the outputs."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from orchestra_local.engine.runner import prepare_run
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.loader import load_file
from orchestra_local.store import RunStore
from orchestra_local.workspace import Workspace

# A password that overlaps the JSON text of the summary line: masked first, the line would read
# {"table": "orders", "rows_written***5432, ...} and no longer parse.
OVERLAPPING_SECRET = '": 1'
PLAIN_SECRET = "wrk-secret-8812"

WORKER = '''
import json, os
print(json.dumps({"table": "orders", "rows_written": 15432, "seconds": 0.5, "token_echo": os.environ["API_TOKEN"]}))
'''


def test_outputs_and_operation_survive_secrets_and_secret_values_are_masked(task_repo: Path, tmp_path: Path) -> None:
    (task_repo / "py" / "worker.py").write_text(WORKER)
    env_file = tmp_path / "worker.env"
    env_file.write_text(f"SOURCE_PASSWORD='{OVERLAPPING_SECRET}'\nAPI_TOKEN={PLAIN_SECRET}\n")
    pipeline = task_repo / "orchestra" / "p.yml"
    pipeline.write_text(dedent("""
        version: v1
        name: outputs
        pipeline:
          g:
            tasks:
              load: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                     parameters: {project_dir: py, command: python worker.py}}
        """))
    workspace = Workspace.load(task_repo, env_file=env_file, environ={"PATH": "/usr/bin:/bin"})
    assert workspace.masker.mask(f'"rows_written": 15432 {PLAIN_SECRET}') == '"rows_written***5432 ***'
    settings = resolve_settings(pipeline, max_parallel=1)
    store = RunStore(settings.metadata_url, workspace.masker)
    execution = prepare_run(load_file(pipeline), workspace.request(), settings=settings, store=store)
    outcome = execution.execute()
    assert outcome.status.value == "SUCCEEDED"
    (task_run,) = store.list_task_runs(outcome.pipeline_run_id)
    assert store.get_outputs(task_run["id"]) == {"table": "orders", "rows_written": 15432, "seconds": 0.5,
                                                 "token_echo": "***"}
    (operation,) = store.list_operations(task_run_id=task_run["id"])
    assert (operation["operation_name"], operation["operation_type"], operation["rows_affected"]) == (
        "orders", "INGESTION", 15432)
    assert PLAIN_SECRET not in (operation["external_detail"] or "")
    log = next(Path(f["path"]) for f in store.list_files(task_run["id"], "log"))
    assert PLAIN_SECRET not in log.read_text() and "rows_written***5432" in log.read_text()  # the log copy is masked
