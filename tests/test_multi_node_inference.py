"""InferenceService(nodes=N): multi-node vLLM on a LeaderWorkerSet, judged by the upstream LWS CRD."""

from __future__ import annotations

import pytest
import yaml
from helpers import SHARED_DIR

from mlkube import CheckpointVolume, Environment, GpuSpec, InferenceService, MlkubeError, Platform, ResourcesSpec
from mlkube.core.gitops_settings import GitOps
from mlkube.kube.network_policy import Pod
from mlkube.policy.pods import pod_views
from mlkube.testing import synth_app, synth_platform
from mlkube.traffic.check import connection_problems, environment_connections, managed_namespaces, undeclared_flows
from mlkube.traffic.cluster import traffic_view

IMAGE = "vllm/vllm-openai:v0.11.0"
LWS = [{"name": "t", "namespace": "ml", "operators": ["lws"]}]
GPU_NODE = ResourcesSpec(cpu="32", memory="512Gi", shm_size="16Gi", gpu=GpuSpec(count=8))
WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"


def llm(app, **fields):
    options = {"image": IMAGE, "runtime": "vllm", "model": "pvc://models/llama-405b", "nodes": 2, "resources": GPU_NODE, **fields}
    return InferenceService(app, "llm", **options)


def _objects(build=llm, environments=LWS):
    return {(m.obj["kind"], m.obj["metadata"]["name"]): m.obj for m in synth_app(build, environments=environments).manifests}


def _templates(objects):
    return objects[("LeaderWorkerSet", "llm")]["spec"]["leaderWorkerTemplate"]


def _errors(build, environments=LWS) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build, environments=environments)
    return str(caught.value)


def test_snapshot(yaml_snapshot):
    assert synth_app(llm, environments=LWS).objects == yaml_snapshot


def test_a_group_is_a_ray_head_running_vllm_and_workers_joining_it():
    objects = _objects()
    assert ("Deployment", "llm") not in objects
    lws = objects[("LeaderWorkerSet", "llm")]
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1"
    assert "replicas" not in lws["spec"], "the HPA owns the group count"
    assert lws["spec"]["startupPolicy"] == "LeaderCreated"
    templates = lws["spec"]["leaderWorkerTemplate"]
    assert templates["size"] == 2 and templates["restartPolicy"] == "RecreateGroupOnPodRestart"
    leader = templates["leaderTemplate"]["spec"]["containers"][0]
    worker = templates["workerTemplate"]["spec"]["containers"][0]
    assert leader["command"][:2] == ["sh", "-c"] and "args" not in leader
    script = leader["command"][2]
    assert script.index("ray start --head --port=6379") < script.index('= "$LWS_GROUP_SIZE"') < script.index("exec vllm serve")
    assert "--tensor-parallel-size 8 --pipeline-parallel-size 2 --distributed-executor-backend ray" in script
    assert worker["command"] == ["sh", "-c", "until ray start --address=$(LWS_LEADER_ADDRESS):6379 --block --disable-usage-stats; "
                                             "do sleep 5; done"]
    assert "readinessProbe" in leader and "readinessProbe" not in worker and "ports" not in worker
    for container in (leader, worker):
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"mountPath": "/mnt/models", "name": "model", "readOnly": True, "subPath": "llama-405b"} in container["volumeMounts"]


def test_the_service_selects_the_leaders_and_the_hpa_scales_groups():
    objects = _objects()
    assert objects[("Service", "llm")]["spec"]["selector"][WORKER_INDEX] == "0"
    assert objects[("HorizontalPodAutoscaler", "llm")]["spec"]["scaleTargetRef"] == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "name": "llm"}
    fixed = _objects(lambda app: llm(app, replicas=3))
    assert fixed[("LeaderWorkerSet", "llm")]["spec"]["replicas"] == 3 and ("HorizontalPodAutoscaler", "llm") not in fixed
    assert fixed[("PodDisruptionBudget", "llm")]["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/instance": "llm", "app.kubernetes.io/name": "llm"}


def test_the_leader_worker_set_is_valid_against_the_upstream_crd():
    if SHARED_DIR is None:
        pytest.skip("../shared is absent: the upstream LeaderWorkerSet CRD is not available")
    import jsonschema

    crd = yaml.safe_load((SHARED_DIR / "crds/lws/leaderworkerset.x-k8s.io_leaderworkersets.yaml").read_text())
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]
    for build in (llm, lambda app: llm(app, replicas=3)):
        lws = _objects(build)[("LeaderWorkerSet", "llm")]
        errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(lws), key=str)
        assert not errors, errors[0].message


def test_synth_validates_the_leader_worker_set_against_the_carried_schema():
    def broken(app):
        llm(app).leader_worker_set["spec"]["startupPolicy"] = "WorkersFirst"

    assert "startupPolicy" in _errors(broken)


def test_policy_and_the_traffic_view_see_leader_and_worker_pods():
    lws = _objects()[("LeaderWorkerSet", "llm")]
    views = pod_views(lws)
    assert [view.path for view in views] == ["spec.leaderWorkerTemplate.leaderTemplate.spec", "spec.leaderWorkerTemplate.workerTemplate.spec"]
    assert [view.labels[WORKER_INDEX] for view in views] == ["0", "1"]
    assert all(view.labels["leaderworkerset.sigs.k8s.io/name"] == "llm" for view in views)


def test_callers_reach_the_leader_only_and_the_group_reaches_itself_on_every_port():
    environment = Environment(name="dev", namespace="ml", operators=["lws"])
    platform = Platform(environments=[environment], gitops=GitOps())
    platform.app("app", llm)
    objects = synth_platform(platform)
    view = traffic_view([m for m in objects.manifests if m.environment == "dev"])
    connections = environment_connections(platform, environment)
    managed = managed_namespaces(platform, environment)
    assert connection_problems(connections, view, managed) == []
    assert [flow.describe() for flow in undeclared_flows(connections, view, managed)] == []
    pods = [pod for pod in view.pods if pod.name == "ml/LeaderWorkerSet/llm"]
    leader, worker = sorted(pods, key=lambda pod: dict(pod.labels)[WORKER_INDEX])
    client = Pod("ml", {"app": "chat"}, "ml/chat")
    assert view.cluster.check(client, leader, 8000).allowed
    assert not view.cluster.check(client, worker, 8000).allowed
    assert not view.cluster.check(client, leader, 6379).allowed
    for port in (6379, 8000, 41234):  # Ray GCS, the server, a port Ray or NCCL picks at run time
        assert view.cluster.check(worker, leader, port).allowed, port
        assert view.cluster.check(leader, worker, port).allowed, port


# -- misuse ---------------------------------------------------------------------------------------------------

def test_fails_when_nodes_is_set_with_the_kserve_backend():
    message = _errors(lambda app: InferenceService(app, "llm", backend="kserve", model="hf://meta/llama", nodes=2, resources=GPU_NODE))
    assert "'nodes' (2) > 1" in message and "kserve backend serves on one node" in message


def test_fails_when_a_multi_node_server_has_no_gpus():
    message = _errors(lambda app: llm(app, resources=ResourcesSpec(cpu="8", memory="32Gi")))
    assert "set resources.gpu" in message


def test_fails_when_a_multi_node_server_is_not_vllm():
    message = _errors(lambda app: InferenceService(app, "llm", image=IMAGE, nodes=2, resources=GPU_NODE))
    assert "set runtime='vllm'" in message


def test_fails_when_the_environment_lacks_the_lws_operator():
    message = _errors(llm, environments=[{"name": "t", "namespace": "ml", "operators": ["kserve"]}])
    assert "LeaderWorkerSet" in message and "add 'lws' to the environment's operators" in message


def test_fails_when_the_model_volume_is_read_write_once():
    def build(app):
        CheckpointVolume(app, "models", size="1Ti")  # ReadWriteOnce: attaches to one node
        llm(app, replicas=1)

    message = _errors(build)
    assert "PersistentVolumeClaim 'models' is ReadWriteOnce" in message and "up to 2 pods" in message

    def shared(app):
        CheckpointVolume(app, "models", size="1Ti", access_mode="ReadWriteMany")
        llm(app, replicas=1)

    synth_app(shared, environments=LWS)


def test_argo_cd_leaves_the_group_count_to_the_hpa():
    from mlkube.gitops.controller_fields import ignore_differences

    manifests = synth_app(llm, environments=LWS).manifests
    items = [item for item in ignore_differences(manifests) if item["kind"] == "LeaderWorkerSet"]
    assert items == [{"group": "leaderworkerset.x-k8s.io", "jsonPointers": ["/spec/replicas"], "kind": "LeaderWorkerSet",
                      "name": "llm", "namespace": "ml"}]


def test_fails_when_a_worker_asks_for_a_fraction_of_a_gpu():
    def edited(app):
        worker = llm(app).leader_worker_set["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
        worker["resources"]["requests"]["nvidia.com/gpu"] = "0.5"

    message = _errors(edited)
    assert "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].resources.requests.nvidia.com/gpu" in message
