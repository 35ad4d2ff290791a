"""Plain cdk8s in a Platform's tree: every chart synthesized or reported, every node.add_validation in the report."""

from __future__ import annotations

import textwrap

import cdk8s
import jsii
import pytest
import yaml
from helpers import run_mlkube
from odd_replicas import OddReplicas

from constructs import Construct, IValidation
from mlkube import Environment, InferenceService, MlkubeError, Platform
from mlkube.testing import synth_app

IMAGE = "ghcr.io/acme/fraud:1.4.2"


class CacheChart(cdk8s.Chart):
    """A chart as cdk8s users write them: objects created in the chart's constructor."""

    def __init__(self, scope: Construct, id: str, data_key: str = "data", **options) -> None:
        super().__init__(scope, id, **options)
        cdk8s.ApiObject(self, "settings", api_version="v1", kind="ConfigMap", metadata={"name": "cache-settings"}).add_json_patch(
            cdk8s.JsonPatch.add(f"/{data_key}", {"size": "1Gi"}))


@jsii.implements(IValidation)
class Crashes:
    def validate(self) -> list[str]:
        raise ValueError("lookup table missing")


def _platform(tmp_path) -> Platform:
    return Platform(environments=[Environment(name="dev", namespace="ml-{app}")], out_dir=tmp_path / "dist")


# -- charts ---------------------------------------------------------------------------------------------

def test_fails_when_a_chart_is_outside_every_app(tmp_path):
    platform = _platform(tmp_path)
    platform.app("fraud", lambda app: InferenceService(app, "server", image=IMAGE))
    CacheChart(platform, "cache")
    with pytest.raises(MlkubeError) as failure:
        platform.synthesize()
    message = str(failure.value)
    assert "cache: cdk8s Chart 'cache' is outside every app of the platform" in message
    assert "CacheChart(app, 'cache')" in message  # the fix, with the user's own class
    assert not (tmp_path / "dist").exists()


def test_an_empty_chart_outside_every_app_is_reported_too(tmp_path):
    platform = _platform(tmp_path)
    platform.app("fraud", lambda app: InferenceService(app, "server", image=IMAGE))
    scope = platform.node.find_child("dev")
    cdk8s.Chart(scope, "stray")
    with pytest.raises(MlkubeError, match=r"dev/stray: cdk8s Chart 'stray' is outside every app"):
        platform.synthesize()


def test_a_chart_inside_an_app_is_written_to_the_app_folder(tmp_path):
    def build(app):
        InferenceService(app, "server", image=IMAGE)
        CacheChart(app, "cache", namespace=app.namespace_name)
    platform = _platform(tmp_path)
    platform.app("fraud", build)
    platform.synthesize()
    settings = yaml.safe_load((tmp_path / "dist/dev/fraud/configmap-cache-settings.yaml").read_text())
    assert settings["data"] == {"size": "1Gi"} and settings["metadata"]["namespace"] == "ml-fraud"


def test_a_chart_nested_in_a_construct_of_an_app_is_validated_as_the_app_objects_are(tmp_path):
    def build(app):
        server = InferenceService(app, "server", image=IMAGE)
        CacheChart(server, "cache", data_key="dataa", namespace=app.namespace_name)
    platform = _platform(tmp_path)
    platform.app("fraud", build)
    with pytest.raises(MlkubeError, match=r"dev/fraud/server/cache/ConfigMap/cache-settings: dataa: ConfigMap/cache-settings: "
                                          r"unknown field 'dataa'; did you mean 'data'\?"):
        platform.synthesize()


def test_a_chart_inside_an_app_meets_the_platform_rules(tmp_path):
    # The tenancy rules apply to a chart's objects as to the app's own: here, the namespace cdk8s gave them.
    platform = _platform(tmp_path)
    platform.app("fraud", lambda app: CacheChart(app, "cache", namespace="kube-system"))
    with pytest.raises(MlkubeError, match=r"ConfigMap/cache-settings of app 'fraud' is in namespace 'kube-system', "
                                          r"not the app's namespace 'ml-fraud'"):
        platform.synthesize()


# -- node.add_validation ------------------------------------------------------------------------------

def test_a_failing_validation_joins_the_problem_report(tmp_path):
    def build(app):
        server = InferenceService(app, "server", image=IMAGE)
        server.node.add_validation(OddReplicas(2))
        InferenceService(app, "bad", image=IMAGE, port=80)  # a spec problem collected before synth
        cdk8s.ApiObject(app, "extra", api_version="v1", kind="ConfigMap", metadata={"name": "extra"})
    platform = _platform(tmp_path)
    platform.app("fraud", build)
    with pytest.raises(MlkubeError) as failure:
        platform.synthesize()
    message = str(failure.value)
    assert "dev/fraud/server: replicas must be odd for a quorum, got 2" in message
    assert "dev/fraud/bad: port: Input should be greater than or equal to 1024" in message


def test_a_validation_runs_when_the_app_has_no_plain_cdk8s_object(tmp_path):
    def build(app):
        InferenceService(app, "server", image=IMAGE).node.add_validation(OddReplicas(4))
    platform = _platform(tmp_path)
    platform.app("fraud", build)
    with pytest.raises(MlkubeError, match="dev/fraud/server: replicas must be odd for a quorum, got 4"):
        platform.synthesize()
    assert not (tmp_path / "dist").exists()


def test_a_passing_validation_lets_synth_write(tmp_path):
    def build(app):
        InferenceService(app, "server", image=IMAGE).node.add_validation(OddReplicas(3))
        CacheChart(app, "cache", namespace=app.namespace_name).node.add_validation(OddReplicas(1))
    platform = _platform(tmp_path)
    platform.app("fraud", build)
    platform.synthesize()
    assert (tmp_path / "dist/dev/fraud/configmap-cache-settings.yaml").is_file()


def test_a_validation_that_raises_is_reported_with_its_path(tmp_path):
    platform = _platform(tmp_path)
    platform.app("fraud", lambda app: InferenceService(app, "server", image=IMAGE).node.add_validation(Crashes()))
    with pytest.raises(MlkubeError, match=r"dev/fraud/server: a validation of this construct failed to run: .*lookup table missing"):
        platform.synthesize()


def test_a_failing_validation_exits_2_without_traceback(tmp_path, capsys):
    def build(app):
        InferenceService(app, "server", image=IMAGE).node.add_validation(OddReplicas(2))
        cdk8s.ApiObject(app, "extra", api_version="v1", kind="ConfigMap", metadata={"name": "extra"})
    platform = _platform(tmp_path)
    platform.app("fraud", build)
    with pytest.raises(SystemExit) as exit_info:
        platform.synth()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "dev/fraud/server: replicas must be odd for a quorum, got 2" in err
    assert "Traceback" not in err and len(err.splitlines()) < 6


def test_objects_of_plain_cdk8s_in_the_app_itself_are_still_written():
    def build(app):
        InferenceService(app, "server", image=IMAGE)
        cdk8s.ApiObject(app, "extra", api_version="v1", kind="ConfigMap", metadata={"name": "extra"})
    assert synth_app(build).get("ConfigMap", "extra")["metadata"]["namespace"] == "ml"


def test_mlkube_synth_reports_a_failing_validation_with_exit_2(tmp_path):
    app = tmp_path / "main.py"
    app.write_text(textwrap.dedent(f"""\
        import cdk8s, jsii
        from constructs import IValidation
        from mlkube import Environment, InferenceService, Platform

        @jsii.implements(IValidation)
        class Quorum:
            def validate(self):
                return ["replicas must be odd for a quorum, got 2"]

        def build(app):
            InferenceService(app, "server", image="{IMAGE}").node.add_validation(Quorum())
            InferenceService(app, "bad", image="{IMAGE}", port=80)
            cdk8s.ApiObject(app, "extra", api_version="v1", kind="ConfigMap", metadata={{"name": "extra"}})

        platform = Platform(environments=[Environment(name="dev")])
        platform.app("fraud", build)
        platform.synth()
        """))
    result = run_mlkube("synth", "--app", str(app), "--out", str(tmp_path / "dist"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "dev/fraud/server: replicas must be odd for a quorum, got 2" in result.stderr
    assert "dev/fraud/bad: port: Input should be greater than or equal to 1024" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_cdk8s_plus_objects_in_a_chart_meet_the_policy_and_take_patches(tmp_path):
    kplus = pytest.importorskip("cdk8s_plus_35", reason="cdk8s-plus-35 (the bench extra, installed by bin/setup) is absent")
    from mlkube import api_object_of

    def build(app, patched):
        chart = cdk8s.Chart(app, "web", namespace=app.namespace_name, disable_resource_name_hashes=True)
        deployment = kplus.Deployment(chart, "web", metadata={"name": "web"}, automount_service_account_token=False,
                                      security_context=kplus.PodSecurityContextProps(user=10001, group=10001))
        deployment.add_container(image="ghcr.io/acme/web:1.0", port_number=8080,
                                 security_context=kplus.ContainerSecurityContextProps(user=10001, group=10001))
        if patched:  # cdk8s-plus has no field for it: the escape hatch (cdk8s's ApiObject.of rule) adds it
            api_object_of(deployment).add_json_patch(cdk8s.JsonPatch.add(
                "/spec/template/spec/containers/0/securityContext/capabilities", {"drop": ["ALL"]}))

    failures = {}
    for patched in (False, True):
        platform = _platform(tmp_path / str(patched))
        platform.app("shop", lambda app, patched=patched: build(app, patched))
        with pytest.raises(MlkubeError) as failure:
            platform.synthesize()
        failures[patched] = str(failure.value)
    assert "dev/shop/web/Deployment/web: spec.template.spec.containers[0].securityContext.capabilities.drop: MLK-PSS-005" in failures[False]
    assert "MLK-PSS-005" not in failures[True] and "MLK-PRB-001" in failures[True]  # patched; the other rules still apply
