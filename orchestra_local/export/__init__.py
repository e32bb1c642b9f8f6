"""Adapters: the same Orchestra pipeline YAML as Dagster definitions and Airflow DAGs.

Built on the runner's own plan and integration modules, so semantics are not re-implemented
per target: ``run_state.py`` (what passes between steps, the run graph rebuilt from it),
``steps.py`` (one task run: decide, run one attempt), ``dagster_*.py`` (the Dagster target),
``airflow_*.py`` (the Airflow target; ``airflow_schedules`` imports no Airflow, so the export runs
without it), ``codegen.py`` (the files a deployment loads). Imports of dagster and airflow stay in
their modules: nothing else of the runner needs them.
"""
