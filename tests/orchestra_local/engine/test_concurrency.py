"""configuration.concurrency.max_active: runs of one pipeline beyond the limit wait their turn."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from orchestra_local.engine.runner import RunRequest, prepare_run
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.loader import load_file
from orchestra_local.store import RunStore

SPAN = '''
import sys, time
start = time.time(); time.sleep(0.4)
open(sys.argv[1], "a").write(f"{start} {time.time()}\\n")
'''


def test_runs_beyond_max_active_wait_and_never_overlap(task_repo: Path) -> None:
    (task_repo / "py" / "span.py").write_text(SPAN)
    spans = task_repo / "spans.txt"
    path = task_repo / "orchestra" / "p.yml"
    path.write_text(f"""
version: v1
name: one-at-a-time
configuration: {{concurrency: {{max_active: 1}}}}
pipeline:
  g:
    tasks:
      t: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {{project_dir: py, command: "python span.py {spans}"}}}}
""")
    settings = resolve_settings(path, max_parallel=2)
    executions = [prepare_run(load_file(path), RunRequest(env=dict(os.environ)), settings=settings,
                              store=RunStore(settings.metadata_url)) for _ in range(3)]
    outcomes = []
    threads = [threading.Thread(target=lambda e=e: outcomes.append(e.execute())) for e in executions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [o.status for o in outcomes] == ["SUCCEEDED"] * 3
    intervals = sorted(tuple(map(float, line.split())) for line in spans.read_text().splitlines())
    assert len(intervals) == 3
    for (_, first_end), (second_start, _) in zip(intervals, intervals[1:], strict=False):
        assert second_start >= first_end, intervals
    store = RunStore(settings.metadata_url)
    started = sorted(store.get_pipeline_run(e.pipeline_run_id)["started_at"] for e in executions)
    created = sorted(store.get_pipeline_run(e.pipeline_run_id)["created_at"] for e in executions)
    assert [store.get_pipeline_run(e.pipeline_run_id)["started_at"] for e in executions] == started  # FIFO
    assert created == [store.get_pipeline_run(e.pipeline_run_id)["created_at"] for e in executions]
