"""Traffic per construct and backend: every declared connection is allowed (both directions), anything
undeclared is denied, with and without the namespace guard rails; the faults of issue 15 each have a test."""

from __future__ import annotations

import runpy
from collections import defaultdict

import pytest
from helpers import REPO_ROOT

from mlkube import (
    BatchJob,
    EgressRule,
    Environment,
    GpuTrainingJob,
    InferenceService,
    KedaScaling,
    MlkubeError,
    Model,
    MonitoringSpec,
    Peer,
    Platform,
    ScheduledJob,
)
from mlkube.core.gitops_settings import GitOps
from mlkube.kube.loader import load_manifests
from mlkube.kube.network_policy import External, Pod
from mlkube.testing import synth_platform
from mlkube.traffic.check import connection_problems, environment_connections, managed_namespaces, undeclared_flows
from mlkube.traffic.cluster import traffic_view

IMAGE = "ghcr.io/acme/app:1.0"
S3 = Model.from_uri("s3://models/fraud/v3", egress=[EgressRule(cidrs=["52.216.0.0/15"], reason="S3 eu-west-1")])
ELSEWHERE = Pod("elsewhere", {"app": "curious"}, "elsewhere/curious")
INTERNET = External("203.0.113.7")


def build(builder, *, gitops=True, network=None):
    environment = Environment(name="dev", namespace="ml", network=network or {})
    platform = Platform(environments=[environment], gitops=GitOps() if gitops else None)
    platform.app("app", builder)
    return platform, synth_platform(platform)


def view_and_connections(platform, objects, environment="dev"):
    env = next(e for e in platform.environments if e.name == environment)
    view = traffic_view([m for m in objects.manifests if m.environment == environment])
    return view, environment_connections(platform, env), managed_namespaces(platform, env)


def pod_of(view, kind, name):
    return next(p for p in view.pods if p.name == f"ml/{kind}/{name}")


CASES = {
    "job-single-node": lambda app: GpuTrainingJob(app, "train", image=IMAGE),
    "job-multi-node": lambda app: GpuTrainingJob(app, "train", image=IMAGE, nodes=2),
    "jobset": lambda app: GpuTrainingJob(app, "train", image=IMAGE, nodes=3, backend="jobset"),
    "batch-job": lambda app: BatchJob(app, "score", image=IMAGE, egress=[EgressRule(namespace="data", pod_labels={"app": "minio"}, ports=[9000])]),
    "scheduled-job": lambda app: ScheduledJob(app, "nightly", image=IMAGE, schedule="0 2 * * *"),
    "server": lambda app: InferenceService(app, "fraud", image=IMAGE, model=S3,
                                           allow_from=[Peer(), Peer(namespace="payments", pod_labels={"app": "checkout"})]),
    "server-kserve": lambda app: InferenceService(app, "fraud", backend="kserve", model=S3),
    "server-keda": lambda app: InferenceService(app, "fraud", image=IMAGE, keda=KedaScaling(threshold="50")),
    "server-monitoring": lambda app: InferenceService(app, "fraud", image=IMAGE, metrics_port=9090, monitoring=MonitoringSpec()),
    "server-and-jobs": lambda app: (InferenceService(app, "fraud", image=IMAGE, allow_from=[Peer(pod_labels={"app.kubernetes.io/name": "score"})]),
                                    BatchJob(app, "score", image=IMAGE), GpuTrainingJob(app, "train", image=IMAGE, nodes=2)),
}


@pytest.mark.parametrize("gitops", [True, False], ids=["guard-rails", "no-guard-rails"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_declared_connections_are_allowed_and_nothing_else(case, gitops):
    platform, objects = build(CASES[case], gitops=gitops)
    view, connections, managed = view_and_connections(platform, objects)
    assert connections, "every workload declares at least DNS"
    assert connection_problems(connections, view, managed) == []
    assert [flow.describe() for flow in undeclared_flows(connections, view, managed)] == []


# -- issue 15's traffic faults -------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["job", "jobset"])
def test_multi_node_ranks_reach_each_other_on_every_tcp_port(backend):
    """Failed before: the namespace default-deny allowed DNS egress only, so rank N could not reach rank 0."""
    platform, objects = build(lambda app: GpuTrainingJob(app, "train", image=IMAGE, nodes=2, backend=backend))
    view, _, _ = view_and_connections(platform, objects)
    kind = "JobSet" if backend == "jobset" else "Job"
    rank = pod_of(view, kind, "train")
    for port in (29500, 40123, 61000):   # rendezvous, then ports NCCL/Gloo pick at run time
        assert view.cluster.check(rank, rank, port).allowed, port
    assert not view.cluster.check(ELSEWHERE, rank, 29500).allowed
    assert not view.cluster.check(rank, INTERNET, 443).allowed


def test_a_client_in_the_same_namespace_reaches_the_inference_service():
    """Failed before: the server admitted the namespace's pods, but their egress was denied by the default-deny."""
    platform, objects = build(lambda app: (InferenceService(app, "fraud", image=IMAGE), BatchJob(app, "score", image=IMAGE)))
    view, _, _ = view_and_connections(platform, objects)
    server, job = pod_of(view, "Deployment", "fraud"), pod_of(view, "Job", "score")
    hand_written = Pod("ml", {"app": "notebook"}, "ml/notebook")
    for client in (job, hand_written):
        assert view.cluster.check(client, server, 8080).allowed, client
        assert not view.cluster.check(client, server, 8081).allowed, client
    assert not view.cluster.check(ELSEWHERE, server, 8080).allowed


def test_the_kserve_predictor_pods_admit_their_callers_and_reach_their_storage():
    platform, objects = build(CASES["server-kserve"])
    view, _, _ = view_and_connections(platform, objects)
    predictor = pod_of(view, "InferenceService", "fraud")
    assert dict(predictor.labels) == {"serving.kserve.io/inferenceservice": "fraud"}
    assert view.cluster.check(Pod("ml", {}, "ml/client"), predictor, 8080).allowed
    assert view.cluster.check(predictor, External("52.216.10.1"), 443).allowed
    assert not view.cluster.check(predictor, INTERNET, 443).allowed


def test_monitoring_scrapes_the_metrics_port_only():
    platform, objects = build(CASES["server-monitoring"])
    view, _, _ = view_and_connections(platform, objects)
    server, prometheus = pod_of(view, "Deployment", "fraud"), Pod("monitoring", {"app": "prometheus"}, "monitoring/prometheus")
    assert view.cluster.check(prometheus, server, 9090).allowed
    assert not view.cluster.check(prometheus, server, 8080).allowed


def test_monitoring_scrapes_a_sidecar_exporter():
    """Failing before: the example's dcgm-exporter sidecar (port 9400) was admitted from no one."""
    from mlkube import SidecarSpec

    exporter = SidecarSpec(name="dcgm-exporter", image="nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04", ports={"gpu-metrics": 9400})
    platform, objects = build(lambda app: InferenceService(app, "fraud", image=IMAGE, sidecars=[exporter]))
    view, _, _ = view_and_connections(platform, objects)
    server, prometheus = pod_of(view, "Deployment", "fraud"), Pod("monitoring", {"app": "prometheus"}, "monitoring/prometheus")
    assert view.cluster.check(prometheus, server, 9400).allowed
    assert not view.cluster.check(ELSEWHERE, server, 9400).allowed


def test_model_download_without_egress_fails_synth():
    """Failed before: no egress to S3/GCS/HF and no warning; the init container hung at start."""
    with pytest.raises(MlkubeError) as caught:
        build(lambda app: InferenceService(app, "fraud", image=IMAGE, model="s3://models/fraud/v3"))
    message = str(caught.value)
    assert "dev/app/fraud: model.egress: the model downloader fetches 's3://models/fraud/v3' over the network, " \
           "but no egress to its storage is declared" in message
    assert "egress_https_cidrs" in message and caught.value.exit_code == 2


def test_model_download_uses_the_environments_https_egress_or_an_in_cluster_store():
    platform, objects = build(lambda app: InferenceService(app, "fraud", image=IMAGE, model="hf://org/model"),
                              network={"egress_https_cidrs": ["0.0.0.0/0"]})
    view, connections, _ = view_and_connections(platform, objects)
    assert any(c.reason == "model download from hf://org/model" for c in connections)
    assert view.cluster.check(pod_of(view, "Deployment", "fraud"), INTERNET, 443).allowed
    minio = Model.from_uri("s3://models/m", egress=[EgressRule(namespace="storage", pod_labels={"app": "minio"}, ports=[9000])])
    platform, objects = build(lambda app: InferenceService(app, "fraud", image=IMAGE, model=minio))
    view, _, _ = view_and_connections(platform, objects)
    server = pod_of(view, "Deployment", "fraud")
    assert view.cluster.check(server, Pod("storage", {"app": "minio"}, "storage/minio"), 9000).allowed
    assert not view.cluster.check(server, INTERNET, 443).allowed


def test_synth_names_the_policy_and_direction_that_blocks_a_declared_connection():
    def edited(app):
        job = GpuTrainingJob(app, "train", image=IMAGE, nodes=2)
        job.objects["NetworkPolicy"]["spec"]["egress"] = job.objects["NetworkPolicy"]["spec"]["egress"][1:]  # drop rank-to-rank
    with pytest.raises(MlkubeError) as caught:
        build(edited, gitops=False)
    message = str(caught.value)
    assert "dev/app/train: connections: declared connection ml/train -> ml/train on all/TCP (ranks reach each other" in message
    assert "egress of the sender ml/train is denied: it is selected by NetworkPolicy ml/train" in message


def test_cross_namespace_callers_are_admitted_by_the_receiver_only():
    platform, objects = build(CASES["server"])
    view, _, _ = view_and_connections(platform, objects)
    server = pod_of(view, "Deployment", "fraud")
    assert view.cluster.check(Pod("payments", {"app": "checkout"}, "payments/checkout"), server, 8080).allowed
    assert not view.cluster.check(Pod("payments", {"app": "ledger"}, "payments/ledger"), server, 8080).allowed


# -- the committed example ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def example_platform():
    """apps/main.py's platform, built (not synthesized) as `cdk8s synth` would."""
    return runpy.run_path(str(REPO_ROOT / "apps" / "main.py"), run_name="example")["platform"]


def test_the_committed_dist_allows_every_declared_connection_and_nothing_else(example_platform, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    by_environment = defaultdict(list)
    for manifest in load_manifests([REPO_ROOT / "dist"]):
        environment = manifest.file.split("dist/", 1)[1].split("/", 1)[0]
        by_environment[environment].append(manifest)
    assert sorted(by_environment) == ["dev", "prod", "staging"]
    for environment in example_platform.environments:
        view = traffic_view(by_environment[environment.name])
        connections = environment_connections(example_platform, environment)
        managed = managed_namespaces(example_platform, environment)
        assert connection_problems(connections, view, managed) == [], environment.name
        assert [f.describe() for f in undeclared_flows(connections, view, managed)] == [], environment.name
        rank = next(p for p in view.pods if p.name == "ml-llm-chat/Job/llm-finetune")
        assert view.cluster.check(rank, rank, 29500).allowed and view.cluster.check(rank, rank, 45000).allowed


def test_the_old_ingress_only_job_policy_is_caught_by_the_check():
    """The policy mlkube wrote before (ingress from the peers, no egress) under the namespace default-deny."""
    def old_policy(app):
        job = GpuTrainingJob(app, "train", image=IMAGE, nodes=2)
        selector = job.objects["NetworkPolicy"]["spec"]["podSelector"]
        job.objects["NetworkPolicy"]["spec"] = {"ingress": [{"from": [{"podSelector": selector}]}], "podSelector": selector,
                                                "policyTypes": ["Ingress"]}
    with pytest.raises(MlkubeError) as caught:
        build(old_policy)
    assert "egress of the sender ml/train is denied: it is selected by NetworkPolicy ml/default-deny" in str(caught.value)


def test_callers_in_another_namespace_of_the_environment_get_their_egress_there():
    environment = Environment(name="dev", namespace="ml-{app}")
    platform = Platform(environments=[environment], gitops=GitOps())
    platform.app("shop", lambda app: BatchJob(app, "checkout", image=IMAGE))
    platform.app("fraud", lambda app: InferenceService(
        app, "scorer", image=IMAGE, allow_from=[Peer(namespace="ml-shop", pod_labels={"app.kubernetes.io/name": "checkout"})]))
    objects = synth_platform(platform)
    view, connections, managed = view_and_connections(platform, objects)
    assert connection_problems(connections, view, managed) == []
    assert [f.describe() for f in undeclared_flows(connections, view, managed)] == []
    checkout = next(p for p in view.pods if p.name == "ml-shop/Job/checkout")
    scorer = next(p for p in view.pods if p.name == "ml-fraud/Deployment/scorer")
    assert view.cluster.check(checkout, scorer, 8080).allowed
    assert not view.cluster.check(Pod("ml-shop", {}, "ml-shop/other"), scorer, 8080).allowed
    assert "dev/shop/networkpolicy-egress-to-ml-fraud-scorer.yaml" in objects.files


def test_cluster_dns_is_configurable_per_environment():
    network = {"dns_namespace": "openshift-dns", "dns_pod_labels": {"dns.operator.openshift.io/daemonset-dns": "default"},
               "dns_cidrs": ["169.254.20.10/32"]}
    platform, objects = build(lambda app: BatchJob(app, "score", image=IMAGE), network=network)
    view, connections, managed = view_and_connections(platform, objects)
    assert connection_problems(connections, view, managed) == []
    assert [f.describe() for f in undeclared_flows(connections, view, managed)] == []
    job = pod_of(view, "Job", "score")
    openshift_dns = Pod("openshift-dns", {"dns.operator.openshift.io/daemonset-dns": "default"}, "openshift-dns/dns")
    for dns in (openshift_dns, External("169.254.20.10")):
        assert view.cluster.check(job, dns, 53, "UDP").allowed and view.cluster.check(job, dns, 53, "TCP").allowed
    assert not view.cluster.check(job, Pod("kube-system", {"k8s-app": "kube-dns"}, "kube-dns"), 53, "UDP").allowed
    guard_rail = objects.get("NetworkPolicy", "default-deny", "dev")["spec"]["egress"]
    assert guard_rail == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                           "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-dns"}},
                                   "podSelector": {"matchLabels": {"dns.operator.openshift.io/daemonset-dns": "default"}}},
                                  {"ipBlock": {"cidr": "169.254.20.10/32"}}]}]

