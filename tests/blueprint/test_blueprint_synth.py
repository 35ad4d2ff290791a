"""YAML apps in a platform: the same objects as Python, environment selection, and failing synth."""

from __future__ import annotations

import pytest
from blueprint_helpers import HEADER, write
from helpers import run_mlkube

from mlkube import Environment, InferenceService, MlkubeError, Platform
from mlkube.testing import synth_platform

SERVER_YAML = HEADER + """\
workloads:
  server:
    kind: InferenceService
    image: ghcr.io/acme/sentiment:2.3.0
    model: hf://distilbert/sst-2
    config: {LOG_LEVEL: info}
    resources: {cpu: 1, memory: 2Gi}
    autoscaling: {minReplicas: 2, maxReplicas: 6, targetCpuUtilization: 65}
"""

# The model download leaves the cluster over HTTPS.
_NETWORK = {"egress_https_cidrs": ["0.0.0.0/0"]}
ENVIRONMENTS = [Environment(name="dev", namespace="ml-{app}", network=_NETWORK), Environment(name="prod", namespace="ml-{app}", network=_NETWORK)]


def test_a_yaml_app_synthesizes_to_the_same_objects_as_the_python_app(tmp_path):
    write(tmp_path, SERVER_YAML, "apps/nlp/mlkube.yaml")
    from_yaml = Platform(environments=ENVIRONMENTS)
    [blueprint] = from_yaml.load_blueprints(tmp_path / "apps")
    from_python = Platform(environments=ENVIRONMENTS)
    from_python.app("sentiment", lambda app: InferenceService(
        app, "server", image="ghcr.io/acme/sentiment:2.3.0", model="hf://distilbert/sst-2", config={"LOG_LEVEL": "info"},
        resources={"cpu": 1, "memory": "2Gi"}, autoscaling={"min_replicas": 2, "max_replicas": 6, "target_cpu_utilization": 65}))
    yaml_objects, python_objects = synth_platform(from_yaml), synth_platform(from_python)
    assert yaml_objects.files == python_objects.files
    assert yaml_objects.get("Deployment", "server", "prod")["metadata"]["namespace"] == "ml-sentiment"
    assert blueprint.app == "sentiment"


def test_python_and_yaml_apps_mix_in_one_platform(tmp_path):
    write(tmp_path, SERVER_YAML.replace("app: sentiment", "app: sentiment\nenvironments: [prod]"), "apps/nlp/mlkube.yaml")
    platform = Platform(environments=ENVIRONMENTS)
    platform.app("fraud", lambda app: InferenceService(app, "scorer", image="ghcr.io/acme/fraud:1.4.2"))
    platform.load_blueprints(tmp_path / "apps")
    apps = sorted({name.rsplit("/", 1)[0] for name in synth_platform(platform).files})
    assert apps == ["dev/fraud", "prod/fraud", "prod/sentiment"]


def test_fails_when_a_blueprint_names_an_unknown_environment(tmp_path):
    path = write(tmp_path, SERVER_YAML.replace("app: sentiment", "app: sentiment\nenvironments: [prd]"), "apps/nlp/mlkube.yaml")
    platform = Platform(environments=ENVIRONMENTS)
    platform.load_blueprints(tmp_path / "apps")
    with pytest.raises(MlkubeError) as raised:
        synth_platform(platform)
    [problem] = raised.value.problems
    assert (problem.where, problem.field, problem.message, problem.hint) == (
        f"{path}:4:16", "environments[0]", "the platform has no environment 'prd'", "did you mean 'prod'?")


def test_fails_when_a_blueprint_reuses_the_name_of_a_python_app(tmp_path):
    write(tmp_path, SERVER_YAML, "apps/nlp/mlkube.yaml")
    platform = Platform(environments=ENVIRONMENTS)
    platform.app("sentiment", lambda app: None)
    platform.load_blueprints(tmp_path / "apps")
    with pytest.raises(MlkubeError, match="the app 'sentiment' is already defined in Python"):
        synth_platform(platform)


MAIN = """\
from pathlib import Path
from mlkube import Environment, InferenceService, Platform

platform = Platform(environments=[Environment(name="dev", network={"egress_https_cidrs": ["0.0.0.0/0"]})])
platform.app("fraud", lambda app: InferenceService(app, "scorer", image="ghcr.io/acme/fraud:1.4.2"))
platform.load_blueprints(Path(__file__).parent)

if __name__ == "__main__":
    platform.synth()
"""


def test_a_synth_that_fails_on_a_blueprint_leaves_dist_exactly_as_it_was(tmp_path):
    write(tmp_path, MAIN, "apps/main.py")
    blueprint = write(tmp_path, SERVER_YAML, "apps/nlp/mlkube.yaml")
    first = run_mlkube("synth", "--app", "apps/main.py", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = {p.relative_to(tmp_path): p.read_bytes() for p in sorted((tmp_path / "dist").rglob("*")) if p.is_file()}
    assert "dist/dev/sentiment/deployment-server.yaml" in {str(p) for p in before}

    blueprint.write_text(SERVER_YAML.replace("    resources: {cpu: 1, memory: 2Gi}", "    resources: {cpu: 1, memroy: 4Gi}"))
    failed = run_mlkube("synth", "--app", "apps/main.py", cwd=tmp_path)
    assert failed.returncode == 2
    assert "apps/nlp/mlkube.yaml:10:25: workloads.server.resources.memroy: unknown field 'memroy'" in failed.stderr
    assert "did you mean 'memory'?" in failed.stderr and "Traceback" not in failed.stderr
    after = {p.relative_to(tmp_path): p.read_bytes() for p in sorted((tmp_path / "dist").rglob("*")) if p.is_file()}
    assert after == before
