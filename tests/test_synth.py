"""The synth pipeline: layout, determinism, all-or-nothing writes, cross-object checks, cdk8s interop."""

from __future__ import annotations

import cdk8s
import pytest

from mlkube import Environment, InferenceService, MlkubeError, Platform
from mlkube.testing import synth_app

IMAGE = "ghcr.io/acme/fraud:1.4.2"


def two_app_platform(out_dir, apps=("fraud", "llm")) -> Platform:
    platform = Platform(environments=[Environment(name="dev"), Environment(name="prod", namespace="ml-prod-{app}")], out_dir=out_dir)
    for name in apps:
        platform.app(name, lambda app: InferenceService(app, "server", image=IMAGE))
    return platform


def tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_layout_is_environment_then_app_then_one_file_per_object(tmp_path):
    two_app_platform(tmp_path / "dist").synthesize()
    files = tree(tmp_path / "dist")
    assert "dev/fraud/deployment-server.yaml" in files
    assert "prod/llm/networkpolicy-server.yaml" in files
    assert {name.split("/")[0] for name in files} == {"dev", "prod", ".mlkube-output"}  # the marker: mlkube.output
    assert b"namespace: ml-prod-llm" in files["prod/llm/service-server.yaml"]
    assert b"namespace: fraud" in files["dev/fraud/service-server.yaml"]


def test_output_is_byte_identical_across_runs(tmp_path):
    two_app_platform(tmp_path / "a").synthesize()
    two_app_platform(tmp_path / "b").synthesize()
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_files_start_with_apiversion_kind_metadata(tmp_path):
    two_app_platform(tmp_path / "dist").synthesize()
    text = (tmp_path / "dist/dev/fraud/service-server.yaml").read_text()
    assert text.splitlines()[:3] == ["apiVersion: v1", "kind: Service", "metadata:"]


def test_stale_files_of_removed_apps_disappear(tmp_path):
    two_app_platform(tmp_path / "dist").synthesize()
    (tmp_path / "dist/dev/llm/unrelated.yaml").write_text("stale: true\n")
    two_app_platform(tmp_path / "dist", apps=("fraud",)).synthesize()
    assert not (tmp_path / "dist/dev/llm").exists()
    assert (tmp_path / "dist/dev/fraud/deployment-server.yaml").exists()


def test_failed_synth_leaves_the_output_untouched(tmp_path):
    two_app_platform(tmp_path / "dist").synthesize()
    before = tree(tmp_path / "dist")
    broken = Platform(environments=[Environment(name="dev")], out_dir=tmp_path / "dist")
    broken.app("fraud", lambda app: InferenceService(app, "server", image=IMAGE, autoscaling={"min_replicas": 3, "max_replicas": 1}))
    with pytest.raises(MlkubeError, match="nothing was written"):
        broken.synthesize()
    assert tree(tmp_path / "dist") == before


def test_synth_exits_non_zero_without_traceback(tmp_path, capsys):
    broken = Platform(environments=[Environment(name="dev")], out_dir=tmp_path / "dist")
    broken.app("fraud", lambda app: InferenceService(app, "server", image=IMAGE, port=80))
    with pytest.raises(SystemExit) as exit_info:
        broken.synth()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "dev/fraud/server: port: Input should be greater than or equal to 1024 (got 80)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "dist").exists()


def test_fails_when_a_service_selector_matches_no_pods():
    def build(app):
        server = InferenceService(app, "s", image=IMAGE)
        server.service["spec"]["selector"] = {"app.kubernetes.io/name": "typo"}
    with pytest.raises(MlkubeError) as caught:
        synth_app(build)
    assert "test/app/s: spec.selector: Service 's' selects no pods" in str(caught.value)


def test_fails_when_a_pdb_selects_no_pods():
    def build(app):
        server = InferenceService(app, "s", image=IMAGE)
        server.objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] = {"x": "y"}
    with pytest.raises(MlkubeError, match="PodDisruptionBudget 's' selects no pods"):
        synth_app(build)


def test_fails_when_the_hpa_target_does_not_exist():
    def build(app):
        server = InferenceService(app, "s", image=IMAGE)
        server.objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] = "gone"
    with pytest.raises(MlkubeError, match="targets Deployment/gone, which is not among the objects"):
        synth_app(build)


def test_fails_when_gpu_request_differs_from_limit_or_is_fractional():
    def build(app):
        server = InferenceService(app, "s", image=IMAGE, resources={"gpu": {"count": 1}})
        resources = server.main_container["resources"]
        resources["requests"]["nvidia.com/gpu"] = "500m"
    with pytest.raises(MlkubeError) as caught:
        synth_app(build)
    message = str(caught.value)
    assert "spec.template.spec.containers[0].resources.requests.nvidia.com/gpu: nvidia.com/gpu must be a whole number of devices (got '500m')" in message
    assert "nvidia.com/gpu request (500m) differs from its limit (1)" in message


def test_fails_when_an_object_breaks_the_strict_schema_naming_construct_and_field():
    def build(app):
        server = InferenceService(app, "s", image=IMAGE)
        server.main_container["imagePulPolicy"] = "Always"
    with pytest.raises(MlkubeError) as caught:
        synth_app(build)
    assert "test/app/s: spec.template.spec.containers[0].imagePulPolicy: Deployment/s: unknown field 'imagePulPolicy'; did you mean 'imagePullPolicy'?" in str(caught.value)


def test_fails_when_two_objects_share_kind_and_name():
    def build(app):
        InferenceService(app, "a", name="same", image=IMAGE)
        InferenceService(app, "b", name="same", image=IMAGE)
    with pytest.raises(MlkubeError, match=r"Deployment/same is defined twice \(also at test/app/a\)"):
        synth_app(build)


def test_fails_for_an_unknown_kubernetes_version():
    with pytest.raises(MlkubeError, match=r"no Kubernetes schemas for version '1\.9'"):
        synth_app(lambda app: InferenceService(app, "s", image=IMAGE), environments=[Environment(name="x", kubernetes_version="1.9")])


def test_objects_added_with_plain_cdk8s_are_validated_and_written():
    def build(app):
        InferenceService(app, "s", image=IMAGE)
        cdk8s.ApiObject(app, "extra", api_version="v1", kind="ConfigMap", metadata={"name": "extra"})
    objects = synth_app(build)
    assert objects.get("ConfigMap", "extra")["metadata"]["namespace"] == "ml"


def test_cdk8s_sees_mlkube_objects_through_the_chart():
    platform = Platform(environments=[Environment(name="dev")])
    platform.app("fraud", lambda app: InferenceService(app, "s", image=IMAGE))
    chart = platform.apps[0]
    kinds = [obj["kind"] for obj in cdk8s.Testing.synth(chart)]
    assert "Deployment" in kinds and "NetworkPolicy" in kinds
    assert "kind: HorizontalPodAutoscaler" in platform.synth_yaml()


def test_fails_when_two_apps_share_a_namespace_and_names(tmp_path):
    platform = Platform(environments=[Environment(name="prod", namespace="shared")], out_dir=tmp_path / "dist")
    platform.app("fraud", lambda app: InferenceService(app, "server", image=IMAGE))
    platform.app("llm", lambda app: InferenceService(app, "server", image=IMAGE))
    with pytest.raises(MlkubeError, match=r"prod/llm/server: metadata.name: Deployment/server is defined twice \(also at prod/fraud/server\)"):
        platform.synthesize()


def test_output_has_no_yaml_anchors_even_for_shared_values(tmp_path):
    shared = {"team": "fraud"}

    def build(app):
        server = InferenceService(app, "s", image=IMAGE)
        server.deployment["metadata"]["annotations"] = shared
        server.deployment["spec"]["template"]["metadata"]["annotations"] = shared
    platform = Platform(environments=[Environment(name="dev")], out_dir=tmp_path / "dist")
    platform.app("fraud", build)
    platform.synthesize()
    for path in (tmp_path / "dist").rglob("*.yaml"):
        text = path.read_text()
        assert "&id" not in text and "*id" not in text, path
