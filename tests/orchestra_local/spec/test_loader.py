"""Loading pipeline YAML: valid files load; every invalid one is reported with file, YAML path, line."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from orchestra_local.errors import InvalidInputError, PipelineValidationError
from orchestra_local.spec.loader import load_file, load_text, validate_text
from orchestra_local.spec.models import Task, TaskGroup

HEADER = "version: v1\nname: t\n"
# A task in flow style: "{PY}" fits at any indentation. Block-style tasks are spelt out below.
PY = "{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}"


def doc(body: str) -> str:
    return HEADER + dedent(body).lstrip("\n")


VALID = {
    "group": doc(f"""
        pipeline:
          g:
            tasks:
              t: {PY}
        """),
    "standalone-task": doc(f"""
        pipeline:
          t: {PY}
        """),
    "every-top-level-key": doc("""
        schedule:
          - {name: daily, cron: "0 6 ? * * *", timezone: UTC}
        sensors:
          s1:
            name: wait
            cron: "0 6 ? * * *"
            timezone: UTC
            timeout_mins: 30
            frequency_secs: 120
            checks:
              c1: {integration: POSTGRES, sensor_type: POSTGRES_QUERY, parameters: {}}
        trigger_events:
          - {type: pipeline, pipeline_id: "*", statuses: [SUCCEEDED]}
        webhook: {enabled: true}
        configuration: {retries: 2, retry_delay: 5, timeout: 60, concurrency: {max_active: 1}}
        inputs:
          day: {type: string, default: "2024-01-01"}
          n: {type: number, optional: true}
        alerts:
          - name: a
            statuses: [FAILED]
            destinations: [{integration: SLACK, destination: "#data"}]
        meta: {owner: data}
        anomalies: []
        pipeline:
          g:
            name: group
            condition: "${{ inputs.day != '' }}"
            matrix: {inputs: {t: [a, b]}, sequential: true, continue_on_error: true}
            meta: {x: 1}
            paused: false
            tasks:
              t:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                parameters: {command: python x.py}
                tags: [x]
                connection: my_conn_12345
                configuration: {retries: 1}
                operation_metadata: {m: {integration: SNOWFLAKE}}
                paused: false
                anomalies: []
        """),
}

INVALID = {
    "unknown-key": (doc("""
        pipeline:
          g:
            tasks:
              t:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                parameters: {command: python x.py}
                retrys: 3
        """), "pipeline.g.tasks.t.retrys", 10, "unknown key"),
    "missing-required": (doc("""
        pipeline:
          g:
            tasks:
              t:
                integration: PYTHON
                parameters: {}
        """), "pipeline.g.tasks.t.integration_job", 6, "required key is missing"),
    "unknown-depends-on": (doc(f"""
        pipeline:
          g:
            depends_on: [nowhere]
            tasks:
              t: {PY}
        """), "pipeline.g.depends_on[0]", 5, "'g' depends on 'nowhere', which is not an entry"),
    "cycle": (doc(f"""
        pipeline:
          a:
            depends_on: [b]
            tasks:
              t1: {PY}
          b:
            depends_on: [a]
            tasks:
              t2: {PY}
        """), "pipeline.a.depends_on", 5, "dependency cycle: a -> b -> a"),
    "cross-level": (doc(f"""
        pipeline:
          a:
            tasks:
              t1: {PY}
          b:
            tasks:
              t2:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                parameters: {{command: python x.py}}
                depends_on: [t1]
        """), "pipeline.b.tasks.t2.depends_on[0]", 13, "from group 'a'"),
    "duplicate-id": (doc(f"""
        pipeline:
          a:
            tasks:
              t1: {PY}
          b:
            tasks:
              t1: {PY}
        """), "pipeline.b.tasks.t1", 9, "already used"),
    "duplicate-key": (doc("""
        pipeline: {}
        pipeline: {}
        """), "<root>", 4, "duplicate key"),
    "bad-indentation": (doc("""
        pipeline:
          g:
            tasks: {}
           bad: 1
        """), "<root>", 6, "invalid YAML"),
    "wrong-version": (doc("pipeline: {}").replace("v1", "v2"), "version", 1, "v1"),
    "group-with-tags": (doc(f"""
        pipeline:
          g:
            tags: [x]
            tasks:
              t: {PY}
        """), "pipeline.g.tags", 5, "unknown key"),
    "not-a-mapping": ("- just\n- a list\n", "<root>", 1, "must be a YAML mapping"),
    "camel-case-key-in-a-file": (doc("""
        pipeline:
          g:
            dependsOn: []
            tasks:
              t: {PY}
        """.replace("{PY}", PY)), "pipeline.g.dependsOn", 5, "YAML keys are snake_case: write 'depends_on'"),
    "job-of-another-integration": (doc("""
        pipeline:
          g:
            tasks:
              t: {integration: DBT_CORE, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}
        """), "pipeline.g.tasks.t.integration_job", 6, "belongs to integration PYTHON, not DBT_CORE"),
    "unknown-integration": (doc("""
        pipeline:
          g:
            tasks:
              t: {integration: PYTHN, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}
        """), "pipeline.g.tasks.t.integration", 6, "unknown integration 'PYTHN' (did you mean PYTHON?)"),
    "bad-cron": (doc("""
        schedule: [{cron: "0 25 ? * * *"}]
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}
        """), "schedule[0].cron", 3, "Invalid hour value"),
    "unknown-task-reference": (doc("""
        pipeline:
          g:
            condition: "${{ tasks['lod'].status == 'SUCCEEDED' }}"
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}
        """), "pipeline.g.condition", 5, "names task 'lod', which does not exist"),
    "unknown-group-reference": (doc("""
        pipeline:
          g:
            condition: "${{ task_groups['ingest'].all().status == 'SUCCEEDED' }}"
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}
        """), "pipeline.g.condition", 5, "names task group 'ingest'"),
    "missing-local-parameter": (doc("""
        pipeline:
          g:
            tasks:
              t: {integration: DBT_CORE, integration_job: DBT_CORE_EXECUTE, parameters: {project_dir: dbt}}
        """), "pipeline.g.tasks.t.parameters.commands", 6, "DBT_CORE_EXECUTE: Field required"),
    "hosted-only-rule": (doc("""
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: ls -la}}
        """), "pipeline.g.tasks.t.parameters.command", 6, "command must start with python, poetry or uv"),
}

# Accepted by Orchestra's validator, so `validate` only warns (spec/agreement.py); a run is possible.
WARNED = {
    "bad-timezone": (doc("""
        schedule: [{cron: "0 5 ? * * *", timezone: Europe/Londn}]
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}
        """), "schedule[0].timezone", 3, "unknown timezone 'Europe/Londn'"),
    "undeclared-input": (doc("""
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: "python x.py ${{ inputs.day }}"}}
        """), "pipeline.g.tasks.t.parameters.command", 6, "names declared input 'day', which does not exist"),
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_valid_documents_load(text: str) -> None:
    loaded = load_text(text, "p.yml")
    assert loaded.model.version == "v1"
    assert loaded.model.pipeline


@pytest.mark.parametrize(("text", "path", "line", "fragment"), INVALID.values(), ids=INVALID.keys())
def test_invalid_documents_are_located(text: str, path: str, line: int, fragment: str) -> None:
    with pytest.raises(PipelineValidationError) as caught:
        load_text(text, "p.yml")
    matches = [p for p in caught.value.problems if fragment in p.msg]
    assert matches, [p.human() for p in caught.value.problems]
    problem = matches[0]
    assert problem.yaml_path() == path
    assert problem.line == line
    assert problem.human().startswith(f"p.yml:{line}")


def test_all_problems_of_a_file_are_reported_together() -> None:
    text = doc("""
        pipeline:
          g:
            depends_on: [missing]
            tasks:
              t:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                parameters: {command: python x.py}
                bogus: 1
              u:
                integration: PYTHON
                parameters: {}
        """)
    with pytest.raises(PipelineValidationError) as caught:
        load_text(text, "p.yml")
    kinds = sorted(p.type for p in caught.value.problems)
    assert kinds == ["extra_forbidden", "missing", "unknown_dependency"]


def test_entries_are_typed_by_their_keys() -> None:
    loaded = load_text(VALID["group"], "p.yml")
    assert isinstance(loaded.model.pipeline["g"], TaskGroup)
    loaded = load_text(VALID["standalone-task"], "p.yml")
    assert isinstance(loaded.model.pipeline["t"], Task)


def test_a_wrong_type_is_located_at_its_key() -> None:
    text = doc("""
        pipeline:
          g:
            tasks:
              t:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                parameters: {command: python x.py}
                treat_failure_as_warning: maybe
        """)
    with pytest.raises(PipelineValidationError) as caught:
        load_text(text, "p.yml")
    (problem,) = caught.value.problems
    assert problem.line == 10
    assert problem.yaml_path() == "pipeline.g.tasks.t.treat_failure_as_warning"


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such pipeline file"):
        load_file(tmp_path / "nope.yml")


def test_repository_pipelines_are_valid() -> None:
    for path in sorted(Path(__file__).resolve().parents[3].joinpath("orchestra").glob("*.yml")):
        assert load_file(path).model.name


@pytest.mark.parametrize(("text", "path", "line", "fragment"), WARNED.values(), ids=WARNED.keys())
def test_rules_orchestra_does_not_share_warn_with_the_reason(text: str, path: str, line: int, fragment: str) -> None:
    warnings = validate_text(text, "p.yml")
    matches = [p for p in warnings if fragment in p.msg]
    assert matches and all(p.severity == "warning" for p in warnings), [p.human() for p in warnings]
    assert matches[0].yaml_path() == path and matches[0].line == line
    assert "Orchestra's validator" in matches[0].msg
    assert load_text(text, "p.yml").warnings == warnings
