"""Scheduling and identity on every workload: node selector, affinity, tolerations, topology spread, extended
resources, added capabilities (with a waiver) and ServiceAccount annotations, from Python, YAML and overrides."""

from __future__ import annotations

from typing import Any

import pytest

from mlkube import BatchJob, Environment, GpuSpec, GpuTrainingJob, InferenceService, MlkubeError, Platform, ResourcesSpec, ScheduledJob
from mlkube.core.gitops_settings import GitOps, WorkloadOverride
from mlkube.core.waivers import Waiver
from mlkube.testing import YamlSnapshotExtension, synth_app, synth_platform

IMAGE = "ghcr.io/acme/train:1.0"
ROLE = "arn:aws:iam::111122223333:role/train"
EFA = "vpc.amazonaws.com/efa"
PLACEMENT: dict[str, Any] = {
    "node_selector": {"node.kubernetes.io/instance-type": "p5.48xlarge"},
    "affinity": {"required_node_terms": [{"match_expressions": [{"key": "topology.kubernetes.io/zone", "values": ["us-east-1a"]}]}],
                 "preferred_node_terms": [{"weight": 50, "match_expressions": [{"key": "karpenter.sh/capacity-type", "values": ["on-demand"]}]}],
                 "pod_anti_affinity": {"required": True}},
    "tolerations": [{"key": EFA, "operator": "Exists", "effect": "NoSchedule"}],
    "topology_spread": [{"topology_key": "topology.kubernetes.io/zone", "min_domains": 2}],
    "add_capabilities": ["IPC_LOCK"],
    "waivers": [Waiver(rule="MLK-PSS-005", reason="GPUDirect RDMA registers pinned memory (IPC_LOCK)")],
    "service_account_annotations": {"eks.amazonaws.com/role-arn": ROLE},
}
RESOURCES = ResourcesSpec(cpu="8", memory="64Gi", gpu=GpuSpec(count=8), extended={EFA: 4, "rdma/hca_shared_devices_a": 1})


@pytest.fixture
def yaml_snapshot(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


def every_workload(app, **placement):
    InferenceService(app, "server", image=IMAGE, resources=RESOURCES, **placement)
    GpuTrainingJob(app, "train", image=IMAGE, nodes=2, resources=RESOURCES, **placement)
    BatchJob(app, "batch", image=IMAGE, resources=RESOURCES, **placement)
    ScheduledJob(app, "nightly", image=IMAGE, schedule="0 3 * * *", resources=RESOURCES, **placement)


def _pods(objects) -> dict[str, dict[str, Any]]:
    pods = {}
    for obj in objects:
        spec = obj.get("spec") or {}
        template = spec.get("template") or (spec.get("jobTemplate") or {}).get("spec", {}).get("template")
        if template and obj["kind"] in ("Deployment", "Job", "CronJob"):
            pods[obj["metadata"]["name"]] = template["spec"]
    return pods


def test_every_workload_gets_the_scheduling_fields():
    objects = synth_app(lambda app: every_workload(app, **PLACEMENT))  # synth validates every object against Kubernetes 1.x strict schemas
    pods = _pods(objects)
    assert sorted(pods) == ["batch", "nightly", "server", "train"]
    for name, pod in pods.items():
        assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "p5.48xlarge"}, name
        assert {"effect": "NoSchedule", "key": EFA, "operator": "Exists"} in pod["tolerations"]
        assert {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"} in pod["tolerations"]  # the GPU one stays
        node = pod["affinity"]["nodeAffinity"]
        assert node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"] == [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1a"]}]
        assert node["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 50
        anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert anti["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == name
        assert anti["topologyKey"] == "kubernetes.io/hostname"
        own = pod["topologySpreadConstraints"][-1]
        assert own == {"labelSelector": {"matchLabels": anti["labelSelector"]["matchLabels"]}, "maxSkew": 1, "minDomains": 2,
                       "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}
        main = pod["containers"][0]
        assert main["resources"]["requests"][EFA] == main["resources"]["limits"][EFA] == 4
        assert main["resources"]["limits"]["rdma/hca_shared_devices_a"] == 1
        assert main["securityContext"]["capabilities"] == {"add": ["IPC_LOCK"], "drop": ["ALL"]}
    for account in objects.of_kind("ServiceAccount"):
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE


def test_the_server_keeps_its_spread_preset_and_adds_the_own_constraints():
    objects = synth_app(lambda app: InferenceService(app, "server", image=IMAGE, topology_spread=[{"topology_key": "rack"}]))
    keys = [c["topologyKey"] for c in _pods(objects)["server"]["topologySpreadConstraints"]]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname", "rack"]


def _with_namespaces(build):
    """A GitOps platform: synth emits the Namespace objects (restricted Pod Security enforced)."""
    platform = Platform(environments=[Environment(name="test", namespace="ml")], gitops=GitOps(repo_url="https://git.example.com/ml.git"))
    platform.app("app", build)
    return synth_platform(platform)


def test_a_waived_capability_lowers_only_the_enforced_pod_security_level_of_its_namespace():
    # IPC_LOCK is outside both restricted and baseline (kubernetes.io/docs/concepts/security/pod-security-standards):
    # admission would reject the pod in a namespace enforcing either.
    objects = _with_namespaces(lambda app: every_workload(app, **PLACEMENT))
    labels = objects.get("Namespace", "ml")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/audit"] == labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert "Job/batch" in objects.get("Namespace", "ml")["metadata"]["annotations"]["mlkube.dev/privileged-for"]


def test_without_added_capabilities_the_namespace_stays_restricted():
    objects = _with_namespaces(lambda app: BatchJob(app, "batch", image=IMAGE, tolerations=[{"key": "spot", "value": "true"}]))
    assert objects.get("Namespace", "ml")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_all_placement_options_snapshot(yaml_snapshot):
    assert synth_app(lambda app: every_workload(app, **PLACEMENT)).objects == yaml_snapshot


def test_kserve_predictor_carries_affinity():
    env = [Environment(name="test", namespace="ml", network={"egress_https_cidrs": ["0.0.0.0/0"]})]
    objects = synth_app(lambda app: InferenceService(app, "server", backend="kserve", model="s3://m/v1",
                                                     kserve={"model_format": "sklearn"}, node_selector={"pool": "serving"},
                                                     affinity={"pod_anti_affinity": {}}), environments=env)
    predictor = objects.get("InferenceService", "server")["spec"]["predictor"]
    assert predictor["nodeSelector"] == {"pool": "serving"}
    assert predictor["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"][
        "labelSelector"] == {"matchLabels": {"serving.kserve.io/inferenceservice": "server"}}


def test_an_environment_overrides_placement_through_spec():
    override = WorkloadOverride(spec={"node_selector": {"pool": "prod-gpu"},
                                      "service_account_annotations": {"iam.gke.io/gcp-service-account": "trainer@prod-proj.iam.gserviceaccount.com"},
                                      "resources": {"extended": {EFA: 32}}})
    env = [Environment(name="prod", namespace="ml", overrides={"app/batch": override})]
    objects = synth_app(lambda app: BatchJob(app, "batch", image=IMAGE, node_selector={"pool": "dev"},
                                             resources={"extended": {EFA: 1}}), environments=env)
    pod = _pods(objects)["batch"]
    assert pod["nodeSelector"] == {"pool": "prod-gpu"}
    assert pod["containers"][0]["resources"]["limits"][EFA] == 32
    assert objects.get("ServiceAccount", "batch")["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "trainer@prod-proj.iam.gserviceaccount.com"}


def _error(**fields) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(lambda app: BatchJob(app, "b", image=IMAGE, **fields))
    return str(caught.value)


def test_fails_when_a_capability_is_added_without_a_waiver():
    message = _error(add_capabilities=["IPC_LOCK"])
    assert "add_capabilities ['IPC_LOCK'] breaks the restricted Pod Security Standard (rule MLK-PSS-005)" in message
    assert "Waiver(rule='MLK-PSS-005'" in message


def test_fails_when_sys_admin_is_added():
    assert "SYS_ADMIN gives the container the node" in _error(add_capabilities=["SYS_ADMIN"])


def test_fails_when_a_capability_has_the_cap_prefix():
    assert "'CAP_IPC_LOCK' is not a capability name" in _error(add_capabilities=["CAP_IPC_LOCK"])


def test_fails_when_the_irsa_role_is_not_an_arn():
    message = _error(service_account_annotations={"eks.amazonaws.com/role-arn": "train-role"})
    assert "eks.amazonaws.com/role-arn must be an IAM role ARN" in message and "'train-role'" in message


def test_fails_when_the_gke_account_is_not_an_email():
    assert "iam.gke.io/gcp-service-account must be a Google service account email" in _error(
        service_account_annotations={"iam.gke.io/gcp-service-account": "train"})


def test_fails_when_an_extended_resource_is_fractional():
    assert "resources.extended.vpc.amazonaws.com/efa: Input should be a valid integer" in _error(resources={"extended": {EFA: 0.5}})


def test_fails_when_an_extended_resource_is_a_gpu_or_unprefixed():
    assert "request GPUs with resources.gpu" in _error(resources={"extended": {"nvidia.com/gpu": 1}})
    assert "'efa' is not an extended resource name" in _error(resources={"extended": {"efa": 1}})
    assert "kubernetes.io domain" in _error(resources={"extended": {"example.kubernetes.io/thing": 1}})


def test_fails_when_a_node_requirement_has_no_values():
    assert "operator In needs at least one value" in _error(affinity={"required_node_terms": [{"match_expressions": [{"key": "zone"}]}]})


def test_fails_when_a_toleration_has_seconds_without_noexecute():
    assert "toleration_seconds applies only to effect NoExecute" in _error(tolerations=[{"key": "spot", "toleration_seconds": 30}])


def test_fails_when_a_node_selector_key_is_not_a_label_key():
    assert "'bad key!' is not a label key" in _error(node_selector={"bad key!": "x"})


def test_a_yaml_blueprint_declares_the_same_placement(tmp_path):
    from mlkube.blueprint import parse_blueprints

    path = tmp_path / "mlkube.yaml"
    path.write_text("""\
apiVersion: mlkube.dev/v1alpha1
kind: Blueprint
app: app
workloads:
  batch:
    kind: BatchJob
    image: ghcr.io/acme/train:1.0
    nodeSelector: {pool: gpu}
    tolerations: [{key: spot, operator: Exists}]
    resources: {extended: {vpc.amazonaws.com/efa: 2}}
    addCapabilities: [IPC_LOCK]
    waivers: [{rule: MLK-PSS-005, reason: GPUDirect RDMA pins memory}]
    serviceAccountAnnotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::111122223333:role/train"}
""")
    platform = Platform(environments=[Environment(name="test", namespace="ml")])
    platform.load_blueprints(tmp_path)
    objects = synth_platform(platform)
    pod = _pods(objects)["batch"]
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["tolerations"] == [{"key": "spot", "operator": "Exists"}]
    assert pod["containers"][0]["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"]
    assert objects.get("ServiceAccount", "batch")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE
    assert parse_blueprints(path)[1] == []


def test_fails_when_a_yaml_capability_has_no_waiver_with_file_and_line(tmp_path):

    path = tmp_path / "mlkube.yaml"
    path.write_text("apiVersion: mlkube.dev/v1alpha1\nkind: Blueprint\napp: app\nworkloads:\n  batch:\n    kind: BatchJob\n"
                    "    image: ghcr.io/acme/train:1.0\n    addCapabilities: [IPC_LOCK]\n")
    platform = Platform(environments=[Environment(name="test", namespace="ml")])
    platform.load_blueprints(tmp_path)
    with pytest.raises(MlkubeError) as raised:
        synth_platform(platform)
    assert f"{path}:6:5" in str(raised.value) and "MLK-PSS-005" in str(raised.value)


def test_placement_in_custom_resources_passes_their_upstream_schemas(upstream):
    from helpers import upstream_errors

    env = [Environment(name="test", namespace="ml", network={"egress_https_cidrs": ["0.0.0.0/0"]})]

    def build(app):
        GpuTrainingJob(app, "train", image=IMAGE, nodes=2, backend="jobset", resources=RESOURCES, **PLACEMENT)
        InferenceService(app, "server", backend="kserve", model="s3://m/v1", kserve={"model_format": "sklearn"},
                         **{k: v for k, v in PLACEMENT.items() if k not in ("add_capabilities", "waivers")})

    objects = synth_app(build, environments=env)
    jobset, isvc = objects.get("JobSet", "train"), objects.get("InferenceService", "server")
    pod = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    assert pod["affinity"]["nodeAffinity"] and pod["containers"][0]["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"]
    assert isvc["spec"]["predictor"]["affinity"]["podAntiAffinity"] and isvc["spec"]["predictor"]["tolerations"]
    assert upstream_errors(upstream, jobset) == []
    assert upstream_errors(upstream, isvc) == []


def test_fails_when_a_trainjob_asks_for_spread_over_its_own_pods():
    env = [Environment(name="test", namespace="ml", operators={"trainer": "2.2"})]
    with pytest.raises(MlkubeError) as caught:
        synth_app(lambda app: GpuTrainingJob(app, "t", image=IMAGE, backend="trainjob", topology_spread=[{"topology_key": "zone"}]),
                  environments=env)
    assert "topology_spread: is not supported with backend 'trainjob'" in str(caught.value)


def test_a_trainjob_keeps_node_placement_and_extended_resources():
    # synth validates the TrainJob with the schema generated from the Kubeflow Trainer CRD (constructs/mlkube/crd_schemas).
    env = [Environment(name="test", namespace="ml", operators={"trainer": "2.2"})]
    placement = {k: v for k, v in PLACEMENT.items() if k not in ("topology_spread",)}
    placement["affinity"] = {"required_node_terms": PLACEMENT["affinity"]["required_node_terms"]}
    job = synth_app(lambda app: GpuTrainingJob(app, "t", image=IMAGE, backend="trainjob", nodes=2, resources=RESOURCES, **placement),
                    environments=env).get("TrainJob", "t")
    pod = job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "p5.48xlarge"} and pod["affinity"]["nodeAffinity"]
    assert pod["containers"][0]["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"]
    assert job["spec"]["trainer"]["resourcesPerNode"]["limits"][EFA] == 4
