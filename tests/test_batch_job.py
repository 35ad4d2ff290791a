"""BatchJob: a one-off Job with the shared pod, failure and queue options."""

from __future__ import annotations

import pytest

from mlkube import BatchJob, CheckpointVolume, Environment, MlkubeError
from mlkube.testing import YamlSnapshotExtension, synth_app

IMAGE = "ghcr.io/acme/batch:2.0.1"
#: An environment whose namespaces get a LocalQueue for every queue a job names (Kueue admits through it).
QUEUED = [Environment(name="test", namespace="ml", kueue_cluster_queue="team-queue")]


@pytest.fixture
def yaml_snapshot(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


def minimal(app):
    BatchJob(app, "backfill", image=IMAGE)


def all_options(app):
    volume = CheckpointVolume(app, "feature-store", size="500Gi", access_mode="ReadWriteMany")
    job = BatchJob(app, "features", name="feature-gen", image=IMAGE, command=["python"], args=["-m", "features"],
                   env={"SHARDS": "8"}, secret_env=[{"env": "DB_PASSWORD", "secret": "db", "key": "password", "reason": "the scoring tool reads DB_PASSWORD only"}],
                   completions=8, parallelism=4, indexed=True,
                   resources={"cpu": 4, "memory": "16Gi", "gpu": {"mig_profile": "1g.10gb"}},
                   backoff_limit=1, fail_on_exit_codes=[64], ignore_disruptions=False, active_deadline_seconds=7200,
                   ttl_seconds_after_finished=600, termination_grace_period_seconds=45,
                   queue="batch", workload_priority_class="low", priority_class_name="batch-low",
                   gang_scheduler="volcano")
    job.mount(volume, path="/features")


def test_minimal_snapshot(yaml_snapshot):
    assert synth_app(minimal).objects == yaml_snapshot


def test_all_options_snapshot(yaml_snapshot):
    assert synth_app(all_options, environments=QUEUED).objects == yaml_snapshot


def test_minimal_job_runs_once_with_a_restricted_pod():
    job = synth_app(minimal).get("Job", "backfill")
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 1
    assert job["spec"]["backoffLimit"] == 3
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["name"] == "main"
    assert pod["containers"][0]["securityContext"]["runAsNonRoot"] is True
    assert not {"MASTER_ADDR", "NODE_RANK"} & {item["name"] for item in pod["containers"][0]["env"]}  # no torchrun env outside training
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "batch"


def test_all_options_job_fields():
    objects = synth_app(all_options, environments=QUEUED)
    job = objects.get("Job", "feature-gen")
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["completionMode"]) == (8, 4, "Indexed")
    assert spec["podFailurePolicy"] == {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [64]}}]}
    assert spec["suspend"] is True and job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "batch"
    main = spec["template"]["spec"]["containers"][0]
    assert main["resources"]["limits"]["nvidia.com/mig-1g.10gb"] == 1
    assert {"name": "CHECKPOINT_DIR", "value": "/features"} in main["env"]
    assert not any(item["name"] == "RESUME_FROM_CHECKPOINT" for item in main["env"])  # resume is a training notion
    assert objects.get("PodGroup", "feature-gen")["spec"] == {"minMember": 4, "priorityClassName": "batch-low"}


def _error(build) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build)
    return str(caught.value)


def test_fails_when_parallelism_exceeds_completions():
    message = _error(lambda app: BatchJob(app, "b", image=IMAGE, completions=2, parallelism=5))
    assert "test/app/b: 'parallelism' (5) must be less than or equal to 'completions' (2)" in message


def test_fails_when_ttl_is_negative():
    message = _error(lambda app: BatchJob(app, "b", image=IMAGE, ttl_seconds_after_finished=-1))
    assert "test/app/b: ttl_seconds_after_finished: Input should be greater than or equal to 0 (got -1)" in message


def test_fails_when_gpu_count_is_fractional():
    message = _error(lambda app: BatchJob(app, "b", image=IMAGE, resources={"gpu": {"count": 0.25}}))
    assert "resources.gpu.count: Input should be a valid integer, got a number with a fractional part (got 0.25)" in message
