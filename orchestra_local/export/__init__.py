"""Adapters: the same Orchestra pipeline YAML as Dagster definitions (and, later, Airflow DAGs).

Built on the runner's own plan and integration modules, so semantics are not re-implemented
per target: ``run_state.py`` (what passes between steps, the run graph rebuilt from it),
``steps.py`` (one task run: decide, run one attempt), ``dagster_*.py`` (the Dagster target),
``codegen.py`` (the ``definitions.py`` a deployment loads). Imports of dagster stay in the
``dagster_*`` modules: nothing else of the runner needs it.
"""
