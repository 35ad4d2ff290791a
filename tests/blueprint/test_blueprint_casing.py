"""Blueprints in Kubernetes' camelCase (issue 18, item 5): one alias rule on the spec base, Python keeps snake_case."""

from __future__ import annotations

import json
import re

import pytest
from blueprint_helpers import HEADER, problems_of, write
from helpers import REPO_ROOT
from pydantic.alias_generators import to_camel

from mlkube import AutoscalingSpec, InferenceService, InferenceServiceSpec, MlkubeError
from mlkube.blueprint import parse_blueprints
from mlkube.core.spec import Spec
from mlkube.testing import synth_app

CAMEL = HEADER + """\
workloads:
  server:
    kind: InferenceService
    image: ghcr.io/acme/server:1.0
    autoscaling: {minReplicas: 2, maxReplicas: 6, targetCpuUtilization: 65}
    allowFrom:
      - namespace: support
        podLabels: {app.kubernetes.io/name: helpdesk}
    config: {LOG_LEVEL: info, max_batch: "8"}
"""


def test_a_camel_case_blueprint_gives_the_spec_python_builds_with_snake_case(tmp_path):
    [blueprint], problems = parse_blueprints(write(tmp_path, CAMEL))
    assert problems == []
    python = InferenceServiceSpec(image="ghcr.io/acme/server:1.0",
                                  autoscaling=AutoscalingSpec(min_replicas=2, max_replicas=6, target_cpu_utilization=65),
                                  allow_from=[{"namespace": "support", "pod_labels": {"app.kubernetes.io/name": "helpdesk"}}],
                                  config={"LOG_LEVEL": "info", "max_batch": "8"})  # data keys stay as written
    assert blueprint.workloads[0].spec == python


def test_fails_when_a_blueprint_uses_python_casing_naming_the_camel_case_key(tmp_path):
    path = write(tmp_path, HEADER + "workloads:\n  server:\n    kind: InferenceService\n    image: ghcr.io/acme/server:1.0\n"
                 "    autoscaling: {min_replicas: 2}\n    metrics_port: 9100\n")
    assert problems_of(path) == [
        "8:19 workloads.server.autoscaling.min_replicas: unknown field 'min_replicas': blueprints write field names in camelCase, "
        "as Kubernetes objects do | write 'minReplicas'",
        "9:5 workloads.server.metrics_port: unknown field 'metrics_port': blueprints write field names in camelCase, "
        "as Kubernetes objects do | write 'metricsPort'",
    ]


def test_errors_name_camel_case_paths_and_fields(tmp_path):
    path = write(tmp_path, HEADER + "workloads:\n  server:\n    kind: InferenceService\n    image: ghcr.io/acme/server:1.0\n"
                 "    autoscaling: {minReplicas: 5, maxReplicas: 3}\n    topologySpread: [{maxSkew: 1}]\n"
                 "    allowFrom: [{podLabelz: {a: b}}]\n")
    assert problems_of(path) == [
        "9:22 workloads.server.topologySpread[0].topologyKey: Field required",
        "8:18 workloads.server.autoscaling: 'minReplicas' (5) must be less than or equal to 'maxReplicas' (3)",
        "10:18 workloads.server.allowFrom[0].podLabelz: unknown field 'podLabelz' | did you mean 'podLabels'?",
    ]


def test_python_errors_keep_python_names():
    with pytest.raises(MlkubeError) as raised:
        synth_app(lambda app: InferenceService(app, "server", image="ghcr.io/acme/server:1.0",
                                               autoscaling={"min_replicas": 5, "max_replicas": 3}, topology_spread=[{"max_skew": 1}]))
    message = str(raised.value)
    assert "test/app/server: autoscaling: 'min_replicas' (5) must be less than or equal to 'max_replicas' (3)" in message
    assert "test/app/server: topology_spread[0].topology_key: Field required" in message


def test_runtime_presets_fill_defaults_beside_camel_case_fields(tmp_path):
    # The preset fills metricsPort and the probe paths; the blueprint's own camelCase values win, nothing is doubled.
    path = write(tmp_path, HEADER + "workloads:\n  server:\n    kind: InferenceService\n    image: nvcr.io/nvidia/tritonserver:25.01-py3\n"
                 "    runtime: triton\n    metricsPort: 9100\n    probes: {readinessPath: /ready}\n")
    [blueprint], problems = parse_blueprints(path)
    assert problems == []
    spec = blueprint.workloads[0].spec
    assert (spec.metrics_port, spec.probes.readiness_path, spec.probes.liveness_path) == (9100, "/ready", "/v2/health/live")


def _property_names(schema):
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _property_names(item)


def test_the_schema_names_fields_in_camel_case():
    schema = json.loads((REPO_ROOT / "schemas" / "blueprint.schema.json").read_text())
    names = set(_property_names(schema))
    assert {"minReplicas", "allowFrom", "readOnly", "podLabels"} <= names
    assert sorted(name for name in names if "_" in name) == []


def test_one_alias_rule_for_every_spec_field():
    import mlkube.blueprint

    mlkube.blueprint.workload_kinds()
    pending, checked = [Spec], 0
    while pending:
        model = pending.pop()
        pending += model.__subclasses__()
        for name, info in model.model_fields.items():
            assert info.alias == to_camel(name), f"{model.__name__}.{name}"
            assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", info.alias), f"{model.__name__}.{name} -> {info.alias}"
            checked += 1
    assert checked > 200


def test_a_construct_problem_of_a_yaml_workload_names_its_camel_case_field_and_file(tmp_path):
    from mlkube import Environment, Platform
    from mlkube.testing import synth_platform

    write(tmp_path, HEADER + "workloads:\n  server:\n    kind: InferenceService\n    image: ghcr.io/acme/server:1.0\n"
          "    externalSecrets:\n      - {name: db, store: vault, data: {password: sentiment/db}, mountPath: /var/run/secrets/db}\n",
          "apps/nlp/mlkube.yaml")
    platform = Platform(environments=[Environment(name="dev", namespace="ml", operators=["kueue"])])
    platform.load_blueprints(tmp_path / "apps")
    with pytest.raises(MlkubeError) as raised:
        synth_platform(platform)
    [problem] = raised.value.problems
    assert problem.where.startswith("dev/sentiment/server (") and problem.where.endswith("apps/nlp/mlkube.yaml:5:3)")
    assert problem.field == "externalSecrets"
    assert "needs External Secrets Operator, which environment 'dev' does not have" in problem.message
