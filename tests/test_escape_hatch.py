"""cdk8s's escape hatch on mlkube constructs: api_object_of(...).add_json_patch(...) with the real cdk8s runtime."""

from __future__ import annotations

import cdk8s
import pytest
import yaml

from mlkube import CheckpointVolume, Environment, InferenceService, MlkubeError, Platform, api_object_of
from mlkube.testing import synth_app

IMAGE = "ghcr.io/acme/fraud:1.4.2"


def _platform(build, out_dir) -> Platform:
    platform = Platform(environments=[Environment(name="dev", namespace="ml-{app}")], out_dir=out_dir)
    platform.app("fraud", build)
    return platform


def _patched_server(app) -> None:
    server = InferenceService(app, "server", image=IMAGE)
    api_object_of(server, "Deployment").add_json_patch(
        cdk8s.JsonPatch.add("/spec/revisionHistoryLimit", 3),
        cdk8s.JsonPatch.add("/spec/template/spec/containers/0/env/-", {"name": "EXTRA_FLAG", "value": "on"}))
    server.api_object("NetworkPolicy", "server-clients").add_json_patch(
        cdk8s.JsonPatch.add("/metadata/annotations", {"team": "fraud"}))


def test_json_patches_reach_the_written_objects(tmp_path):
    _platform(_patched_server, tmp_path / "dist").synthesize()
    deployment = yaml.safe_load((tmp_path / "dist/dev/fraud/deployment-server.yaml").read_text())
    assert deployment["spec"]["revisionHistoryLimit"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"][-1] == {"name": "EXTRA_FLAG", "value": "on"}
    policy = yaml.safe_load((tmp_path / "dist/dev/fraud/networkpolicy-server-clients.yaml").read_text())
    assert policy["metadata"]["annotations"] == {"team": "fraud"}


def test_patched_output_is_byte_identical_across_runs(tmp_path):
    for name in ("a", "b"):
        _platform(_patched_server, tmp_path / name).synthesize()
    files = sorted(path.relative_to(tmp_path / "a") for path in (tmp_path / "a").rglob("*.yaml"))
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_patches_apply_once_when_synth_runs_twice(tmp_path):
    platform = _platform(_patched_server, tmp_path / "dist")
    platform.synthesize()
    platform.synthesize()
    deployment = yaml.safe_load((tmp_path / "dist/dev/fraud/deployment-server.yaml").read_text())
    assert [item["name"] for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]].count("EXTRA_FLAG") == 1


def test_patched_objects_are_validated_against_the_schema(tmp_path):
    def build(app):
        server = InferenceService(app, "server", image=IMAGE)
        api_object_of(server, "Deployment").add_json_patch(cdk8s.JsonPatch.add("/spec/replicaz", 3))
    with pytest.raises(MlkubeError, match=r"dev/fraud/server: spec.replicaz: Deployment/server: unknown field 'replicaz'; "
                                          r"did you mean 'replicas'\?"):
        _platform(build, tmp_path / "dist").synthesize()
    assert not (tmp_path / "dist").exists()


def test_patched_objects_meet_the_policy(tmp_path):
    def build(app):
        server = InferenceService(app, "server", image=IMAGE)
        server.api_object("Deployment").add_json_patch(
            cdk8s.JsonPatch.replace("/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem", False))
    with pytest.raises(MlkubeError) as failure:
        _platform(build, tmp_path / "dist").synthesize()
    assert "MLK-SEC-002" in str(failure.value) and "dev/fraud/server" in str(failure.value)


def test_fails_when_a_patch_path_does_not_resolve(tmp_path):
    def build(app):
        InferenceService(app, "server", image=IMAGE).api_object("Service").add_json_patch(cdk8s.JsonPatch.replace("/spec/nothing/here", 1))
    with pytest.raises(MlkubeError, match=r"dev/fraud/server: Service/server: a JSON patch failed: .*undefined") as failure:
        _platform(build, tmp_path / "dist").synthesize()
    assert "hint: patch paths are JSON pointers" in str(failure.value)


def test_a_single_object_construct_needs_no_kind():
    def build(app):
        volume = CheckpointVolume(app, "ckpt", size="10Gi")
        api_object_of(volume).add_json_patch(cdk8s.JsonPatch.add("/metadata/labels/tier", "cold"))
    assert synth_app(build).get("PersistentVolumeClaim", "ckpt")["metadata"]["labels"]["tier"] == "cold"


def test_to_json_shows_the_object_with_pending_patches():
    platform = Platform(environments=[Environment(name="dev")])
    handles = []

    def build(app):
        handle = api_object_of(InferenceService(app, "server", image=IMAGE), "Service")
        handle.add_json_patch(cdk8s.JsonPatch.add("/metadata/labels/extra", "yes"))
        handles.append(handle)
    platform.app("fraud", build)
    assert handles[0].to_json()["metadata"]["labels"]["extra"] == "yes"
    assert (handles[0].api_version, handles[0].kind, handles[0].name) == ("v1", "Service", "server")


def test_fails_when_the_object_is_ambiguous_or_absent():
    platform = Platform(environments=[Environment(name="dev")])
    server = []
    platform.app("fraud", lambda app: server.append(InferenceService(app, "server", image=IMAGE)))
    with pytest.raises(MlkubeError, match=r"dev/fraud/server: InferenceService emitted 2 objects with kind='NetworkPolicy' "
                                          r"\(it emitted: .*NetworkPolicy/server, NetworkPolicy/server-clients\)"):
        api_object_of(server[0], "NetworkPolicy")
    with pytest.raises(MlkubeError, match="emitted no object with kind='Job'"):
        api_object_of(server[0], "Job")


def test_a_cdk8s_api_object_is_returned_as_it_is():
    def build(app):
        config = cdk8s.ApiObject(app, "config", api_version="v1", kind="ConfigMap", metadata={"name": "config"})
        assert api_object_of(config) is config
        api_object_of(config).add_json_patch(cdk8s.JsonPatch.add("/data", {"mode": "fast"}))
    assert synth_app(build).get("ConfigMap", "config")["data"] == {"mode": "fast"}


def test_fails_when_an_operation_is_not_a_json_patch():
    platform = Platform(environments=[Environment(name="dev")])
    server = []
    platform.app("fraud", lambda app: server.append(InferenceService(app, "server", image=IMAGE)))
    with pytest.raises(TypeError, match=r"add_json_patch takes cdk8s.JsonPatch operations"):
        server[0].api_object("Service").add_json_patch({"op": "add", "path": "/x", "value": 1})


def _node_calls(monkeypatch) -> list[int]:
    """Counts every Python-to-Node round trip of the jsii kernel."""
    from jsii._kernel.providers import process

    calls = [0]
    send = process._NodeProcess.send

    def counting(self, *args, **kwargs):
        calls[0] += 1
        return send(self, *args, **kwargs)
    monkeypatch.setattr(process._NodeProcess, "send", counting)
    return calls


@pytest.mark.parametrize("patched", [False, True])
def test_synth_makes_as_many_node_calls_for_ten_servers_as_for_one(tmp_path, monkeypatch, patched):
    """The escape hatch keeps mlkube's objects out of Node: a patched object costs one call, the others none."""
    counts = []
    for servers in (1, 10):
        def build(app, servers=servers):
            for index in range(servers):
                server = InferenceService(app, f"server-{index}", image=IMAGE)
                if patched and index == 0:
                    server.api_object("Deployment").add_json_patch(cdk8s.JsonPatch.add("/spec/revisionHistoryLimit", 2))
        platform = _platform(build, tmp_path / f"dist-{servers}")
        calls = _node_calls(monkeypatch)
        platform.synthesize()
        counts.append(calls[0])
        monkeypatch.undo()
    assert counts[0] == counts[1], counts
    # A patch asks Node for the patched object; without one, nothing of the platform is ever created in Node.
    assert (counts[0] > 0) if patched else (counts[0] == 0), counts


def test_fails_when_a_construct_has_no_object_to_patch():
    from constructs import Construct

    platform = Platform(environments=[Environment(name="dev")])
    groups = []
    platform.app("fraud", lambda app: groups.append(Construct(app, "group")))
    with pytest.raises(MlkubeError, match=r"dev/fraud/group: Construct has no object to patch: .*cannot find a \(direct or indirect\) child"):
        api_object_of(groups[0])
