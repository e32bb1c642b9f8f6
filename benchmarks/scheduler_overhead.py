"""The scheduler with many schedules: time per pass, and the delay from fire time to run start.

Writes ``--pipelines`` pipeline files into a throwaway repository, each scheduled every minute
(``0/1 * ? * * *``) with one PYTHON task (``python -V``), and runs the real scheduler loop
(``Scheduler.run``, one pass a second, SQLite store) on the real clock across ``--minutes`` minute
boundaries. Reports:

- pass duration (the scheduler's own work: listing and checking the files, reading ticks, claiming
  and creating runs), p50/p95/max, for passes with nothing due and for the passes that fire;
- delay from each fire time to its run's creation (``created_at - scheduled_for`` of every STARTED
  tick), p50/p95/max, and whether every fire time started exactly one run.

With ``--sensors N``, N more pipelines each have a sensor whose window opens every minute and
whose ORCHESTRA_WEBHOOK_EVENT check (a store read) is polled every 5 s and never passes: the
passes then also open, poll (in the scheduler's thread pool) and time out N windows a minute.

A pass starts the due runs one after another (each ``RunService.start``: plan, records, a thread),
while the runs it started already compete for the CPUs, so the delay grows along the pass.

    .venv/bin/python benchmarks/scheduler_overhead.py [--pipelines 200] [--sensors 0] [--minutes 2]
        [--write benchmarks/results/scheduler_overhead.md]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from orchestra_local.api.service import RunService
from orchestra_local.scheduling.scheduler import Scheduler
from orchestra_local.settings import resolve_settings
from orchestra_local.store import RunStore
from orchestra_local.store.ticks import list_ticks
from orchestra_local.workspace import Workspace

PIPELINE = """\
version: v1
name: bench {index}
schedule:
  - name: every minute
    cron: "0/1 * ? * * *"
pipeline:
  g:
    tasks:
      t{index}: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {{command: "python -V"}}}}
"""
SENSED = """\
version: v1
name: sensed {index}
sensors:
  waiting:
    name: waits for an event that never comes
    cron: "0/1 * ? * * *"
    timezone: UTC
    timeout_mins: 1
    frequency_secs: 5
    checks:
      event: {{integration: ORCHESTRA, sensor_type: ORCHESTRA_WEBHOOK_EVENT, parameters: {{event_type: never}}}}
pipeline:
  g:
    tasks:
      t{index}: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {{command: "python -V"}}}}
"""


class TimedScheduler(Scheduler):
    """The scheduler, with the duration of each pass and how many runs it started."""

    passes: list[tuple[float, int]]

    def evaluate(self, now=None):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        results = super().evaluate(now)
        self.passes.append((time.perf_counter() - start, sum(1 for r in results if r.outcome == "STARTED")))
        return results


def _quantiles(values: list[float]) -> str:
    if not values:
        return "- | - | -"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f} | {p95 * 1000:.1f} | {ordered[-1] * 1000:.1f}"


def main() -> int:
    """Run the benchmark; print (and with --write, save) a Markdown table. Exit 1 if a fire time started twice."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--sensors", type=int, default=0, help="pipelines with a sensor polled every 5 s")
    parser.add_argument("--minutes", type=int, default=2, help="minute boundaries to cross")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder) / "repo"
        (repo / ".git").mkdir(parents=True)
        (repo / "orchestra").mkdir()
        for index in range(args.pipelines):
            (repo / "orchestra" / f"bench_{index:03d}.yml").write_text(PIPELINE.format(index=index))
        for index in range(args.sensors):
            (repo / "orchestra" / f"sensed_{index:03d}.yml").write_text(SENSED.format(index=index))
        os.environ["ORCHESTRA_LOCAL_PYTHON_ISOLATION"] = "shared"
        settings = resolve_settings(repo / "orchestra", repo_root=repo, state_dir=Path(folder) / "state", max_parallel=2)
        service = RunService(settings, RunStore(settings.metadata_url), Workspace.load(repo))
        scheduler = TimedScheduler(service)
        scheduler.passes = []
        now = datetime.now(UTC)
        end = now.replace(second=0, microsecond=0).timestamp() + 60 * args.minutes + 5
        stop = threading.Event()
        thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
        thread.start()
        while time.time() < end:
            time.sleep(0.5)
        stop.set()
        thread.join(timeout=60)
        runs = service.store.list_pipeline_runs(limit=100_000)
        for run in runs:
            service.wait(run["id"], timeout=600)
        runs = service.store.list_pipeline_runs(limit=100_000)  # their final statuses
        all_ticks = list_ticks(service.store, limit=100_000)
        ticks = [tick for tick in all_ticks if tick["outcome"] == "STARTED"]
        timed_out = sum(1 for tick in all_ticks if tick["outcome"] == "TIMED_OUT")
        created = {run["id"]: run["created_at"] for run in runs}
        delays = [(created[tick["pipeline_run_id"]] - tick["scheduled_for"]).total_seconds() for tick in ticks]
        per_fire = Counter((tick["pipeline_id"], tick["scheduled_for"]) for tick in ticks)
        statuses = Counter(run["run_status"] for run in runs)
        service.shutdown()
    idle = [seconds for seconds, started in scheduler.passes if started == 0]
    firing = [seconds for seconds, started in scheduler.passes if started > 0]
    once = bool(per_fire) and set(per_fire.values()) == {1}
    table = "\n".join([
        f"# scheduler: {args.pipelines} pipelines scheduled every minute"
        + (f", {args.sensors} sensors polled every 5 s" if args.sensors else "")
        + f", {args.minutes} minute boundaries, SQLite store",
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {date.today().isoformat()}",
        "",
        "| measure | n | p50 (ms) | p95 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|",
        f"| pass with nothing due | {len(idle)} | {_quantiles(idle)} |",
        f"| pass that fires (starts {max((s for _, s in scheduler.passes), default=0)} runs) | {len(firing)} | "
        f"{_quantiles(firing)} |",
        f"| fire time -> run created | {len(delays)} | {_quantiles(delays)} |",
        "",
        f"Runs started: {len(runs)} ({dict(statuses)}); each fire time started exactly one run: {'yes' if once else 'NO'}."
        + (f" Sensor windows timed out: {timed_out}." if args.sensors else ""),
        "",
        f"Reproduce: `.venv/bin/python benchmarks/scheduler_overhead.py --pipelines {args.pipelines} "
        f"--sensors {args.sensors} --minutes {args.minutes}`",
    ])
    print(table)
    if args.write:
        args.write.write_text(table + "\n", encoding="utf-8")
    return 0 if once else 1


if __name__ == "__main__":
    sys.exit(main())
