"""GpuTrainingJob: single and multi-node Jobs, JobSet, torchrun env, rank-0 DNS, failures, queues."""

from __future__ import annotations

import pytest
from crd_oracle import crd_json_schema, schema_errors

from mlkube import Environment, GpuSpec, GpuTrainingJob, MlkubeError, ResourcesSpec, SecretMount
from mlkube.testing import YamlSnapshotExtension, synth_app

IMAGE = "ghcr.io/acme/train:1.0.0"
#: An environment whose namespaces get a LocalQueue for every queue a job names (Kueue admits through it).
QUEUED = [Environment(name="test", namespace="ml", kueue_cluster_queue="team-queue")]


@pytest.fixture
def yaml_snapshot(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


def minimal(app):
    GpuTrainingJob(app, "train", image=IMAGE)


def options(**overrides):
    fields = dict(
        name="llm-finetune", image=IMAGE, command=["torchrun"], args=["train.py"], env={"WANDB_MODE": "offline"},
        secrets=[SecretMount(secret="hf-token", mount_path="/var/run/secrets/hf")],
        nodes=2, nproc_per_node=4, master_port=23456,
        resources=ResourcesSpec(cpu=32, memory="256Gi", shm_size="32Gi",
                                gpu=GpuSpec(count=8, product="NVIDIA-H100-80GB-HBM3", runtime_class="nvidia")),
        backoff_limit=5, fail_on_exit_codes=[3, 2], active_deadline_seconds=86400, ttl_seconds_after_finished=3600,
        termination_grace_period_seconds=600, queue="gpu-training", workload_priority_class="high",
        priority_class_name="training-high", gang_scheduler="volcano", volcano_queue="research",
    )
    return {**fields, **overrides}


def all_options(app):
    GpuTrainingJob(app, "ft", **options())


def all_options_jobset(app):
    GpuTrainingJob(app, "ft", **options(backend="jobset"))


def test_minimal_snapshot(yaml_snapshot):
    assert synth_app(minimal).objects == yaml_snapshot


def test_all_options_snapshot(yaml_snapshot):
    assert synth_app(all_options, environments=QUEUED).objects == yaml_snapshot


def test_all_options_jobset_snapshot(yaml_snapshot):
    assert synth_app(all_options_jobset, environments=QUEUED).objects == yaml_snapshot


def test_single_node_is_a_plain_job_that_never_restarts_in_place():
    objects = synth_app(minimal)
    assert sorted(o["kind"] for o in objects) == ["Job", "NetworkPolicy", "ServiceAccount"]
    job = objects.get("Job", "train")
    assert "completionMode" not in job["spec"] and "suspend" not in job["spec"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert "subdomain" not in pod
    main = pod["containers"][0]
    assert main["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert main["env"][-8:] == [{"name": "MASTER_ADDR", "value": "127.0.0.1"}, {"name": "MASTER_PORT", "value": "29500"},
                           {"name": "NNODES", "value": "1"}, {"name": "NPROC_PER_NODE", "value": "1"}, {"name": "NODE_RANK", "value": "0"},
                           {"name": "PET_NNODES", "value": "1"}, {"name": "PET_NPROC_PER_NODE", "value": "1"},
                           {"name": "PET_STANDALONE", "value": "1"}]
    assert job["spec"]["podFailurePolicy"] == {"rules": [{"action": "Ignore", "onPodConditions": [{"status": "True", "type": "DisruptionTarget"}]}]}
    assert job["spec"]["backoffLimit"] == 3


def test_pods_are_restricted():
    pod = synth_app(all_options, environments=QUEUED).get("Job", "llm-finetune")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_multi_node_pods_reach_rank_0_by_dns():
    objects = synth_app(lambda app: GpuTrainingJob(app, "finetune", image=IMAGE, nodes=3, resources={"gpu": {"count": 8}}))
    job, service = objects.get("Job", "finetune"), objects.get("Service", "finetune")
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    # An Indexed Job with a subdomain gives pod i the hostname "<job name>-<i>" in "<subdomain>.<namespace>.svc".
    hostnames = [f"{job['metadata']['name']}-{index}" for index in range(spec["completions"])]
    assert pod["subdomain"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert all(labels[key] == value for key, value in service["spec"]["selector"].items())
    env = {item["name"]: item for item in pod["containers"][0]["env"]}
    assert env["MASTER_ADDR"]["value"] == f"{hostnames[0]}.{pod['subdomain']}.{job['metadata']['namespace']}.svc" == "finetune-0.finetune.ml.svc"
    assert env["MASTER_PORT"]["value"] == "29500"
    assert env["NNODES"]["value"] == "3" and env["NPROC_PER_NODE"]["value"] == "8"
    assert env["NODE_RANK"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}


def test_jobset_pods_reach_rank_0_by_dns():
    jobset = synth_app(all_options_jobset, environments=QUEUED).get("JobSet", "llm-finetune")
    replicated = jobset["spec"]["replicatedJobs"][0]
    inner = replicated["template"]["spec"]
    assert (inner["completionMode"], inner["completions"], inner["parallelism"]) == ("Indexed", 2, 2)
    network = jobset["spec"]["network"]
    assert network == {"enableDNSHostnames": True, "publishNotReadyAddresses": True, "subdomain": "llm-finetune"}
    # JobSet names its Jobs "<jobset>-<replicated job>-<job index>"; their pods are "<job>-<pod index>".
    rank0 = f"{jobset['metadata']['name']}-{replicated['name']}-0-0"
    env = {item["name"]: item for item in inner["template"]["spec"]["containers"][0]["env"]}
    assert env["MASTER_ADDR"]["value"] == f"{rank0}.{network['subdomain']}.ml.svc" == "llm-finetune-node-0-0.llm-finetune.ml.svc"
    assert env["MASTER_PORT"]["value"] == "23456" and env["NPROC_PER_NODE"]["value"] == "4"


def test_jobset_restarts_the_group_and_fails_fast_on_exit_codes():
    jobset = synth_app(all_options_jobset, environments=QUEUED).get("JobSet", "llm-finetune")
    assert jobset["spec"]["failurePolicy"] == {"maxRestarts": 5, "rules": [{"action": "FailJobSet", "name": "FailOnExitCodes",
                                                                            "onJobFailureReasons": ["PodFailurePolicy"]}]}
    assert jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["backoffLimit"] == 0
    assert jobset["spec"]["suspend"] is True and jobset["spec"]["ttlSecondsAfterFinished"] == 3600
    assert jobset["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-training"
    assert "suspend" not in jobset["spec"]["replicatedJobs"][0]["template"]["spec"]  # Kueue suspends the JobSet, not its Jobs


def test_jobset_is_valid_for_the_upstream_crd(shared_dir):
    schema = crd_json_schema(shared_dir / "crds" / "jobset.x-k8s.io_jobsets.yaml", "v1alpha2")
    jobset = synth_app(all_options_jobset, environments=QUEUED).get("JobSet", "llm-finetune")
    assert schema_errors(schema, jobset) == []
    broken = {**jobset, "spec": {**jobset["spec"], "network": {"enableDNSHostname": True}}}
    assert schema_errors(schema, broken)  # the oracle is strict


def test_failure_handling():
    spec = synth_app(all_options, environments=QUEUED).get("Job", "llm-finetune")["spec"]
    assert spec["backoffLimit"] == 5
    assert spec["podFailurePolicy"]["rules"] == [
        {"action": "Ignore", "onPodConditions": [{"status": "True", "type": "DisruptionTarget"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [2, 3]}},
    ]
    assert spec["activeDeadlineSeconds"] == 86400 and spec["ttlSecondsAfterFinished"] == 3600
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 600


def test_queue_priority_and_gang_scheduling():
    objects = synth_app(all_options, environments=QUEUED)
    job = objects.get("Job", "llm-finetune")
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-training"
    assert job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == "high"
    assert job["spec"]["suspend"] is True
    pod = job["spec"]["template"]
    assert pod["spec"]["priorityClassName"] == "training-high"
    assert pod["spec"]["schedulerName"] == "volcano"
    assert pod["metadata"]["annotations"] == {"scheduling.k8s.io/group-name": "llm-finetune"}
    group = objects.get("PodGroup", "llm-finetune")
    assert group["apiVersion"] == "scheduling.volcano.sh/v1beta1"
    assert group["spec"] == {"minMember": 2, "priorityClassName": "training-high", "queue": "research"}


def test_gpu_scheduling_and_shared_memory():
    pod = synth_app(all_options, environments=QUEUED).get("Job", "llm-finetune")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert pod["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert pod["runtimeClassName"] == "nvidia"
    assert {"emptyDir": {"medium": "Memory", "sizeLimit": "32Gi"}, "name": "dshm"} in pod["volumes"]
    main = pod["containers"][0]
    assert main["resources"]["requests"] == main["resources"]["limits"] == {"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": 8}


def test_mig_profile_gives_one_slice_and_one_process():
    job = synth_app(lambda app: GpuTrainingJob(app, "t", image=IMAGE, resources={"gpu": {"mig_profile": "3g.40gb"}})).get("Job", "t")
    main = job["spec"]["template"]["spec"]["containers"][0]
    assert main["resources"]["limits"] == {"cpu": "1", "memory": "2Gi", "nvidia.com/mig-3g.40gb": 1}
    assert {"name": "NPROC_PER_NODE", "value": "1"} in main["env"]


def _error(build) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build)
    return str(caught.value)


def test_fails_when_gpu_count_is_fractional():
    message = _error(lambda app: GpuTrainingJob(app, "t", image=IMAGE, resources={"gpu": {"count": 1.5}}))
    assert "test/app/t: resources.gpu.count: Input should be a valid integer, got a number with a fractional part (got 1.5)" in message


def test_fails_when_a_container_asks_for_two_mig_profiles():
    message = _error(lambda app: GpuTrainingJob(app, "t", image=IMAGE,
                                                resources={"gpu": [{"mig_profile": "1g.10gb"}, {"mig_profile": "2g.20gb"}]}))
    assert ("test/app/t: resources.gpu: one container takes one MIG profile, not several (got ['1g.10gb', '2g.20gb']); "
            "pick one profile, or run a workload per profile") in message


def test_fails_when_two_mig_profiles_are_given_in_one_string():
    message = _error(lambda app: GpuTrainingJob(app, "t", image=IMAGE, resources={"gpu": {"mig_profile": "1g.10gb,2g.20gb"}}))
    assert "resources.gpu.mig_profile: one container takes one MIG profile, not several (got '1g.10gb,2g.20gb')" in message


def test_fails_when_active_deadline_is_negative():
    message = _error(lambda app: GpuTrainingJob(app, "t", image=IMAGE, active_deadline_seconds=-60))
    assert "test/app/t: active_deadline_seconds: Input should be greater than 0 (got -60)" in message


def test_fails_when_exit_code_zero_would_fail_the_job():
    message = _error(lambda app: GpuTrainingJob(app, "t", image=IMAGE, fail_on_exit_codes=[0, 1]))
    assert "fail_on_exit_codes: exit codes must be between 1 and 255 (got [0]); 0 means success" in message


def test_fails_when_backend_is_unknown():
    message = _error(lambda app: GpuTrainingJob(app, "t", image=IMAGE, backend="mpi"))
    assert "test/app/t: backend: Input should be 'job', 'jobset' or 'trainjob' (got 'mpi')" in message


def test_network_policy_admits_only_the_other_ranks():
    objects = synth_app(lambda app: GpuTrainingJob(app, "finetune", image=IMAGE, nodes=2))
    selector = {"matchLabels": {"app.kubernetes.io/instance": "finetune", "app.kubernetes.io/name": "finetune"}}
    spec = objects.get("NetworkPolicy", "finetune")["spec"]
    # Every TCP port between ranks, in both directions: NCCL and Gloo listen on ports picked at run time.
    assert spec["ingress"] == [{"from": [{"podSelector": selector}], "ports": [{"protocol": "TCP"}]}]
    assert spec["egress"][0] == {"ports": [{"protocol": "TCP"}], "to": [{"podSelector": selector}]}
    assert spec["podSelector"] == selector and spec["policyTypes"] == ["Ingress", "Egress"]
    single = synth_app(minimal).get("NetworkPolicy", "train")["spec"]
    assert "ingress" not in single and single["policyTypes"] == ["Ingress", "Egress"]
    assert [rule["ports"] for rule in single["egress"]] == [[{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]]

