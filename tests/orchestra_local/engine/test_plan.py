"""Plan building: deterministic order, matrix expansion, configuration inheritance, cycles."""

from __future__ import annotations

import pytest

from orchestra_local.engine.dag import CycleError, topological_layers, topological_order
from orchestra_local.engine.plan import EffectiveConfiguration, build_plan
from orchestra_local.errors import PipelineValidationError
from orchestra_local.expressions import Scope
from orchestra_local.spec.limits import MAX_MATRIX_VALUES
from orchestra_local.spec.loader import load_text
from orchestra_local.spec.models import Pipeline

PY = "{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}"

DAGS = {
    "empty": ({}, []),
    "chain": ({"c": ["b"], "b": ["a"], "a": []}, [["a"], ["b"], ["c"]]),
    "diamond-sorted-layers": ({"d": ["b", "c"], "c": ["a"], "b": ["a"], "a": []}, [["a"], ["b", "c"], ["d"]]),
    "independent-sorted": ({"z": [], "a": [], "m": []}, [["a", "m", "z"]]),
}


@pytest.mark.parametrize(("graph", "layers"), DAGS.values(), ids=DAGS.keys())
def test_layers_are_deterministic(graph: dict[str, list[str]], layers: list[list[str]]) -> None:
    assert topological_layers(graph) == layers
    assert topological_layers(dict(reversed(list(graph.items())))) == layers


@pytest.mark.parametrize(
    ("graph", "path"),
    [({"a": ["a"]}, "a -> a"), ({"a": ["b"], "b": ["a"]}, None), ({"a": ["c"], "b": ["a"], "c": ["b"], "d": []}, None)],
    ids=["self", "pair", "triangle"],
)
def test_cycles_print_their_path(graph: dict[str, list[str]], path: str | None) -> None:
    with pytest.raises(CycleError) as caught:
        topological_order(graph)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1] and set(cycle) <= set(graph)
    for before, after in zip(cycle, cycle[1:], strict=False):
        assert before in graph[after], f"{after} should depend on {before} in {cycle}"
    if path:
        assert str(caught.value) == f"dependency cycle: {path}"


def plan_of(text: str, **inputs: object):
    loaded = load_text("version: v1\nname: p\n" + text, "p.yml")
    return build_plan(loaded.model, Scope(inputs=inputs))


def test_entries_and_tasks_follow_dependencies_then_names() -> None:
    plan = plan_of(f"""
pipeline:
  zeta:
    tasks:
      b: {PY}, depends_on: [a]}}
      a: {PY}}}
  alpha:
    depends_on: [zeta]
    tasks:
      only: {PY}}}
  beta:
    tasks:
      t: {PY}}}
""")
    assert [e.entry_id for e in plan.entries] == ["beta", "zeta", "alpha"]
    assert [t.task_id for t in plan.entry("zeta").tasks] == ["a", "b"]


def test_matrix_values_from_a_list_or_from_inputs() -> None:
    text = f"""
inputs:
  tables: {{type: list, default: [x]}}
pipeline:
  literal:
    matrix: {{inputs: {{t: [a, b]}}}}
    tasks:
      t1: {PY}}}
  from_inputs:
    matrix: {{inputs: {{t: "${{{{ inputs.tables }}}}"}}}}
    tasks:
      t2: {PY}}}
  from_outputs:
    depends_on: [literal]
    matrix: {{inputs: {{t: "${{{{ tasks['t1'].outputs['tables'] }}}}"}}}}
    tasks:
      t3: {PY}}}
"""
    plan = plan_of(text, tables=["orders", "lineitem"])
    assert plan.entry("literal").matrix_values == ("a", "b")
    assert plan.entry("from_inputs").matrix_values == ("orders", "lineitem")
    assert plan.entry("from_outputs").deferred_matrix
    assert plan.task_count == 2 + 2 + 1


def test_a_matrix_expression_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(PipelineValidationError, match="must yield a list"):
        plan_of(f"""
pipeline:
  g:
    matrix: {{inputs: {{t: "${{{{ 'not a list' }}}}"}}}}
    tasks:
      t: {PY}}}
""")


def test_task_configuration_overrides_the_pipeline_key_by_key() -> None:
    plan = plan_of(f"""
configuration: {{retries: 2, retry_delay: 5, timeout: 60}}
pipeline:
  g:
    tasks:
      inherits: {PY}}}
      overrides: {PY}, configuration: {{timeout: 10}}}}
""")
    configs = {t.task_id: t.configuration for t in plan.entry("g").tasks}
    assert configs["inherits"] == EffectiveConfiguration(retries=2, retry_delay_minutes=5, timeout_seconds=60)
    assert configs["overrides"] == EffectiveConfiguration(retries=2, retry_delay_minutes=5, timeout_seconds=10)


def test_remote_only_tasks_are_listed() -> None:
    plan = plan_of(f"""
pipeline:
  g:
    tasks:
      local: {PY}}}
      saas: {{integration: POWER_BI, integration_job: POWER_BI_REFRESH_DATASET, parameters: {{dataset_id: d1}}}}
""")
    assert [(entry, task.task_id) for entry, task in plan.remote_only()] == [("g", "saas")]


MATRIX_OVER_THE_LIMIT = {
    "literal-list": ("inputs:\n  n: {type: number, default: 1}\npipeline:\n  fan_out:\n    matrix: {inputs: {v: "
                     + "[" + ", ".join(str(i) for i in range(MAX_MATRIX_VALUES + 1)) + "]}}\n    tasks:\n      t: "
                     + PY + "}\n", {}),
    "expression-over-an-input": ("inputs:\n  items: {type: list}\npipeline:\n  fan_out:\n    matrix: {inputs: "
                                 "{v: '${{ inputs.items }}'}}\n    tasks:\n      t: " + PY + "}\n",
                                 {"items": list(range(MAX_MATRIX_VALUES + 1))}),
}


@pytest.mark.parametrize(("text", "inputs"), MATRIX_OVER_THE_LIMIT.values(), ids=MATRIX_OVER_THE_LIMIT.keys())
def test_a_matrix_over_the_limit_is_refused_naming_its_group(text: str, inputs: dict) -> None:
    """A 200,000-value matrix used to be accepted and materialised."""
    model = Pipeline.model_validate(load_yaml(text))
    with pytest.raises(PipelineValidationError) as caught:
        build_plan(model, Scope(inputs=inputs))
    [problem] = caught.value.problems
    assert problem.loc[:2] == ("pipeline", "fan_out")
    assert "pipeline.fan_out.matrix.inputs.v" in problem.msg and f"{MAX_MATRIX_VALUES + 1:,} values" in problem.msg


def test_a_matrix_at_the_limit_is_planned() -> None:
    plan = plan_of("pipeline:\n  fan_out:\n    matrix: {inputs: {v: '${{ inputs.items }}'}}\n    tasks:\n      t: "
                   + PY + "}\ninputs:\n  items: {type: list}\n", items=list(range(MAX_MATRIX_VALUES)))
    assert len(plan.entry("fan_out").matrix_values or ()) == MAX_MATRIX_VALUES


def load_yaml(text: str) -> dict:
    from orchestra_local.spec.yaml_source import parse_text

    return parse_text("version: v1\nname: p\n" + text, "p.yml")[1]
