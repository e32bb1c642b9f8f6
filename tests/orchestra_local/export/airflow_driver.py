"""Run inside the Airflow environment (``airflow_venv.py``) by the Airflow export tests; prints one JSON line.

    <airflow python> airflow_driver.py dagbag <dags folder> [<dags folder> ...]
        {"import_errors": {file: error}, "dags": {dag_id: {"timetable", "summary", "cron", "timezone",
                                                            "assets", "params", "tasks"}}}
    <airflow python> airflow_driver.py test <dags folder> <dag id> <run conf as JSON>
        {"state": <DAG run state>, "tasks": {"<task id>[<map index>]": {"state", "try_number"}},
         "orchestra": <the XCom orchestra_run_status returned>}

``AIRFLOW_HOME`` must be a fresh folder: the metadata database (SQLite) is migrated there first.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _migrate() -> None:
    from airflow.utils.db import initdb

    initdb()


def dagbag(*folders: str) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bags = [DagBag(dag_folder=folder) for folder in folders]
    dags = {}
    for dag_id, dag in ((i, d) for bag in bags for i, d in bag.dags.items()):
        timetable = dag.timetable
        condition = getattr(timetable, "asset_condition", None)
        inner = getattr(timetable, "timetable", timetable)
        dags[dag_id] = {
            "timetable": type(timetable).__name__,
            "cron": getattr(inner, "expression", None), "timezone": str(getattr(inner, "timezone", "")) or None,
            "assets": sorted(a.name for a in getattr(condition, "objects", ())) if condition is not None else [],
            "params": {name: dag.params.get_param(name).resolve(suppress_exception=True) for name in dag.params},
            "tasks": sorted(dag.task_dict),
        }
    return {"import_errors": {k: str(v) for bag in bags for k, v in bag.import_errors.items()}, "dags": dags}


def test(folder: str, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    _migrate()
    bag = DagBag(dag_folder=folder)
    assert not bag.import_errors, bag.import_errors
    run = bag.dags[dag_id].test(run_conf=conf)
    with create_session() as session:
        tis = run.get_task_instances(session=session)
        tasks = {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id:
                 {"state": getattr(ti.state, "value", ti.state), "try_number": ti.try_number} for ti in tis}
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, task_ids="orchestra_run_status",
                                                  key="return_value")).all()
        orchestra = XComModel.deserialize_value(rows[0]) if rows else None
    return {"state": getattr(run.state, "value", run.state), "tasks": tasks,
            "orchestra": orchestra}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    if command == "dagbag":
        out = dagbag(*args)
    else:
        out = test(args[0], args[1], json.loads(args[2]))
    print(json.dumps(out, default=str))
