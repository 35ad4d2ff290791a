"""An environment's operator and Kubernetes versions decide what is emitted; scheduling options need their operators.

Version facts come from upstream source (cited in mlkube/core/operators.py): KServe's deployment mode
names and webhook, the storage initializer tags, JobSet's CRD fields, Kubernetes feature gates."""

from __future__ import annotations

import pytest

from mlkube import BatchJob, Environment, GpuTrainingJob, InferenceService, MlkubeError, Platform, ScheduledJob
from mlkube.core.gitops_settings import GitOps
from mlkube.testing import synth_app, synth_platform

IMAGE = "ghcr.io/acme/server:1.0.0"


def _env(**fields):
    # Model downloads leave the cluster over HTTPS; synth refuses a download with no declared egress (tests/traffic).
    fields.setdefault("network", {"egress_https_cidrs": ["0.0.0.0/0"]})
    return [Environment(name="test", namespace="ml", **fields)]


def _error(build, **fields) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build, environments=_env(**fields))
    return str(caught.value)


def _kserve(app, **kserve):
    InferenceService(app, "s", backend="kserve", model="s3://m/v1", kserve=kserve)


# -- KServe ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "mode", "annotation"), [
    ("0.15", "Standard", "RawDeployment"), ("0.15.2", "Knative", "Serverless"),
    ("0.16", "Standard", "Standard"), ("v0.17.1", "Knative", "Knative"),
])
def test_kserve_mode_is_named_as_the_version_knows_it(version, mode, annotation):
    objects = synth_app(lambda app: _kserve(app, deployment_mode=mode), environments=_env(operators={"kserve": version}))
    isvc = objects.get("InferenceService", "s")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == annotation
    # The webhook of every version refuses deploymentStrategy outside raw/Standard mode.
    assert ("deploymentStrategy" in isvc["spec"]["predictor"]) == (mode == "Standard")


def test_fails_before_kserve_015_got_standard_which_it_does_not_know():
    objects = synth_app(_kserve, environments=_env(operators={"kserve": "0.15"}))
    assert objects.get("InferenceService", "s")["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "RawDeployment"}


@pytest.mark.parametrize(("operators", "image"), [
    (None, "kserve/storage-initializer:v0.15.2"),
    (["kserve"], "kserve/storage-initializer:v0.15.2"),
    ({"kserve": "0.16"}, "kserve/storage-initializer:v0.16.0"),
    ({"kserve": "0.17.0"}, "kserve/storage-initializer:v0.17.1"),
])
def test_the_model_downloader_is_the_storage_initializer_of_the_environments_kserve(operators, image):
    objects = synth_app(lambda app: InferenceService(app, "s", image=IMAGE, model="s3://m/v1"), environments=_env(operators=operators))
    downloader = objects.get("Deployment", "s")["spec"]["template"]["spec"]["initContainers"][0]
    assert downloader["image"] == image


@pytest.mark.parametrize(("operators", "expected"), [
    ({"kserve": "fifteen"}, "operators.kserve: version 'fifteen' is not MAJOR.MINOR[.PATCH]"),
    ({"kserve": "0.13"}, "KServe 0.13 lacks predictor deploymentStrategy (added in 0.14)"),
    ({"kserve": "0.99"}, "KServe 0.99 is newer than mlkube knows (0.14, 0.15, 0.16, 0.17)"),
    ({"jobset": "0.5.2"}, "JobSet 0.5.2 lacks network.publishNotReadyAddresses and failurePolicy.rules"),
])
def test_fails_when_an_operator_version_cannot_be_honoured(operators, expected):
    with pytest.raises(MlkubeError) as caught:
        synth_platform(Platform(environments=[{"name": "test", "operators": operators}]))
    assert expected in str(caught.value)
    assert "environments[0]" in str(caught.value)


def test_the_list_form_of_operators_still_works():
    environment = Environment(name="x", operators=["kserve", "kueue"])
    assert environment.operator_versions == {"kserve": None, "kueue": None}


# -- Kubernetes features --------------------------------------------------------------------------------


def _server(app, **fields):
    InferenceService(app, "s", image=IMAGE, **fields)


def _container(objects):
    return objects.get("Deployment", "s")["spec"]["template"]["spec"]["containers"][0]


def test_fails_before_prestop_sleep_was_written_for_kubernetes_129_where_it_is_off():
    # PodLifecycleSleepAction is alpha (off) in 1.29: the API server would drop the sleep and pods stop at once.
    objects = synth_app(_server, environments=_env(kubernetes_version="1.29"))
    assert _container(objects)["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "10"]}}}


def test_prestop_sleep_is_native_from_kubernetes_130():
    objects = synth_app(_server, environments=_env(kubernetes_version="1.30"))
    assert _container(objects)["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}


def test_fails_when_native_sidecars_are_used_before_kubernetes_129():
    message = _error(lambda app: _server(app, sidecars=[{"name": "exporter", "image": IMAGE}]), kubernetes_version="1.28")
    assert "test/app/s: sidecars: native sidecars (init containers with restartPolicy Always) are off by default in Kubernetes 1.28" in message


# -- scheduling wiring ----------------------------------------------------------------------------------


def test_fails_when_a_queued_job_has_no_kueue():
    message = _error(lambda app: BatchJob(app, "b", image=IMAGE, queue="batch"), operators=["prometheus-operator"], kueue_cluster_queue="cq")
    assert "test/app/b: queue: needs Kueue, which environment 'test' does not have" in message


def test_fails_when_a_queued_job_has_no_local_queue_to_be_admitted_through():
    message = _error(lambda app: BatchJob(app, "b", image=IMAGE, queue="batch"))
    assert ("test/app/b: queue: Job/b is queued on 'batch' but namespace 'ml' has no LocalQueue 'batch' and environment 'test' "
            "names no kueue_cluster_queue") in message


def test_one_local_queue_per_queue_name_points_at_the_cluster_queue():
    def build(app):
        GpuTrainingJob(app, "train", image=IMAGE, queue="gpu-training")
        GpuTrainingJob(app, "train-2", image=IMAGE, queue="gpu-training", nodes=2, backend="jobset")
        ScheduledJob(app, "nightly", image=IMAGE, schedule="0 2 * * *", queue="batch")
    objects = synth_app(build, environments=_env(kueue_cluster_queue="ml-prod"))
    queues = {q["metadata"]["name"]: q for q in objects.of_kind("LocalQueue")}
    assert sorted(queues) == ["batch", "gpu-training"]
    assert {q["metadata"]["namespace"] for q in queues.values()} == {"ml"}
    assert {q["spec"]["clusterQueue"] for q in queues.values()} == {"ml-prod"}


def test_with_gitops_the_default_queue_is_not_emitted_twice_and_queues_get_their_sync_wave():
    platform = Platform(environments=_env(kueue_cluster_queue="cq"), gitops=GitOps())
    platform.app("app", lambda app: (BatchJob(app, "a", image=IMAGE, queue="default"), BatchJob(app, "b", image=IMAGE, queue="batch")))
    objects = synth_platform(platform)
    assert sorted(q["metadata"]["name"] for q in objects.of_kind("LocalQueue")) == ["batch", "default"]
    assert objects.get("LocalQueue", "batch")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-2"


def test_fails_when_jobset_or_volcano_is_used_without_its_operator():
    message = _error(lambda app: GpuTrainingJob(app, "t", image=IMAGE, nodes=2, backend="jobset", gang_scheduler="volcano"),
                     operators=["kueue"])
    assert "test/app/t: backend: needs JobSet, which environment 'test' does not have" in message
    assert "test/app/t: gang_scheduler: needs Volcano, which environment 'test' does not have" in message


def test_fails_when_legacy_mode_names_meet_a_kserve_that_validates_them_as_knative():
    message = _error(lambda app: _kserve(app, legacy_mode_names=True), operators={"kserve": "0.16"})
    assert "test/app/s: kserve.legacy_mode_names: KServe 0.16 validates 'RawDeployment' as a Knative-mode service" in message
    on_015 = synth_app(lambda app: _kserve(app, legacy_mode_names=True), environments=_env(operators={"kserve": "0.15"}))
    assert on_015.get("InferenceService", "s")["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"


def test_fails_before_knative_mode_scaled_on_cpu_which_the_kpa_webhook_refuses():
    predictor = synth_app(lambda app: _kserve(app, deployment_mode="Knative"), environments=_env()).get("InferenceService", "s")["spec"]["predictor"]
    assert predictor["scaleMetric"] == "concurrency" and "scaleTarget" not in predictor
    message = _error(lambda app: _kserve(app, deployment_mode="Knative", scale_metric="cpu"))
    assert "scale_metric 'cpu' is refused by KServe's webhook in Knative mode, which scales on concurrency or rps" in message


def test_fails_when_the_kueue_version_lacks_what_a_job_uses():
    message = _error(lambda app: GpuTrainingJob(app, "t", image=IMAGE, backend="jobset", queue="gpu", workload_priority_class="high"),
                     operators={"kueue": "0.3", "jobset": "0.8"}, kueue_cluster_queue="cq")
    assert "test/app/t: workload_priority_class: a WorkloadPriorityClass needs Kueue 0.5 or later; environment 'test' runs Kueue 0.3" in message
    assert "test/app/t: queue: queueing a JobSet needs Kueue 0.4 or later; environment 'test' runs Kueue 0.3" in message


def test_fails_when_a_job_needs_a_pod_failure_policy_on_kubernetes_125():
    message = _error(lambda app: BatchJob(app, "b", image=IMAGE), kubernetes_version="1.25")
    assert "test/app/b: ignore_disruptions: needs a Job podFailurePolicy, which is off by default in Kubernetes 1.25" in message
    job = synth_app(lambda app: BatchJob(app, "b", image=IMAGE, ignore_disruptions=False),
                    environments=_env(kubernetes_version="1.25")).get("Job", "b")
    assert "podFailurePolicy" not in job["spec"]
