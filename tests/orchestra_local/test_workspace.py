"""Environments file, env file and connections file feed ${{ ENV.X }} and tasks; bad files are located."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from orchestra_local.errors import InvalidInputError, PipelineValidationError
from orchestra_local.workspace import Workspace

ENVIRONMENTS = """
environments:
  dev:
    default: true
    values:
      WAREHOUSE_SCHEMA: {type: string, value: dev}
      FULL_REFRESH: {type: bool, value: false}
  prod:
    values:
      WAREHOUSE_SCHEMA: prod
      API_TOKEN: prod-token-value
"""


def test_environments_select_values_for_env_expressions(run_pipeline, task_repo: Path) -> None:
    (task_repo / "environments.yml").write_text(dedent(ENVIRONMENTS))
    (task_repo / "py" / "show.py").write_text("import json, sys; print(json.dumps({'schema': sys.argv[1]}))\n")
    workspace = Workspace.load(task_repo, environ={"PATH": "/usr/bin:/bin"})
    default = workspace.request()
    assert default.environment == "dev" and default.env["WAREHOUSE_SCHEMA"] == "dev"
    assert default.env["FULL_REFRESH"] == "false"
    prod = workspace.request(environment="prod", env_overrides={"EXTRA": "1"})
    assert prod.env["WAREHOUSE_SCHEMA"] == "prod" and prod.env["EXTRA"] == "1"
    assert workspace.masker.mask("token prod-token-value") == "token ***"
    with pytest.raises(InvalidInputError, match="unknown environment 'stage'"):
        workspace.request(environment="stage")
    finished = run_pipeline("""
        version: v1
        name: env
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                  parameters: {project_dir: py, command: "python show.py ${{ ENV.WAREHOUSE_SCHEMA }}"}}
        """, env=prod.env)
    assert finished.store.get_outputs(finished.by_label()["g.t"]["id"]) == {"schema": "prod"}


def test_env_file_values_with_secret_names_are_masked(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DB_PASSWORD=hunter2-long\nPLAIN=visible-value\nSOURCE_URL=postgresql://u:pw-in-url@h/db\n")
    workspace = Workspace.load(tmp_path, env_file=env_file, environ={})
    masked = workspace.masker.mask("hunter2-long visible-value postgresql://u:pw-in-url@h/db")
    assert masked == "*** visible-value postgresql://u:***@h/db"  # a URL keeps its host and database
    assert workspace.masker.mask("pw-in-url") == "***"


def test_bad_configuration_files_are_reported_with_lines(tmp_path: Path) -> None:
    (tmp_path / "connections.yml").write_text("connections:\n  c1:\n    integraton: POSTGRES\n")
    with pytest.raises(PipelineValidationError) as caught:
        Workspace.load(tmp_path, environ={})
    located = {(p.yaml_path(), p.line) for p in caught.value.problems}
    assert located == {("connections.c1.integration", 2), ("connections.c1.integraton", 3)}
    with pytest.raises(InvalidInputError, match="no such file"):
        Workspace.load(tmp_path, env_file=tmp_path / "missing.env", environ={})
