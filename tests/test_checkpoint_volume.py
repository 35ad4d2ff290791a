"""CheckpointVolume: the claim, its protection from pruning, snapshots, mounting, and the single-writer rule."""

from __future__ import annotations

import pytest
from crd_oracle import catalog_schema, schema_errors

from mlkube import BatchJob, CheckpointVolume, Environment, GpuTrainingJob, InferenceService, MlkubeError, Platform
from mlkube.testing import YamlSnapshotExtension, synth_app, synth_platform

IMAGE = "ghcr.io/acme/train:1.0.0"


@pytest.fixture
def yaml_snapshot(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


def minimal(app):
    CheckpointVolume(app, "checkpoints", size="100Gi")


def all_options(app):
    CheckpointVolume(app, "ckpt", name="llm-checkpoints", size="2Ti", storage_class="shared-rwx", access_mode="ReadWriteMany",
                     volume_mode="Filesystem", mount_path="/checkpoints",
                     snapshot={"versions": ["after-run-1"], "snapshot_class": "csi-snapshots"},
                     from_snapshot="llm-checkpoints-2025-01-01")


def train_and_serve(app):
    volume = CheckpointVolume(app, "checkpoints", size="1Ti", access_mode="ReadWriteMany")
    job = GpuTrainingJob(app, "finetune", image=IMAGE, nodes=2, resources={"gpu": {"count": 8}})
    job.mount(volume)
    server = InferenceService(app, "server", image=IMAGE, model=volume.model_uri("finetune/final"))
    volume.mount_into(server, read_only=True)


def test_minimal_snapshot(yaml_snapshot):
    assert synth_app(minimal).objects == yaml_snapshot


def test_all_options_snapshot(yaml_snapshot):
    assert synth_app(all_options).objects == yaml_snapshot


def test_claim_is_kept_by_argo_cd_and_synced_with_the_workloads_that_bind_it():
    """The default class may bind on first consumer (argoproj/argo-cd#12840): the claim syncs in the pods' wave."""
    claim = synth_app(minimal).get("PersistentVolumeClaim", "checkpoints")
    assert claim["metadata"]["annotations"] == {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
                                                "argocd.argoproj.io/sync-wave": "0"}
    assert "ownerReferences" not in claim["metadata"]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Gi"}}, "volumeMode": "Filesystem"}


def _wave(storage_class, modes):
    platform = Platform(environments=[Environment(name="dev", storage_binding_modes=modes)])
    platform.app("app", lambda app: CheckpointVolume(app, "data", size="1Gi", storage_class=storage_class))
    return synth_platform(platform).get("PersistentVolumeClaim", "data")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]


def test_claim_syncs_before_workloads_only_on_an_immediate_class():
    assert _wave("fast", {"fast": "Immediate"}) == "-1"
    assert _wave("fast", {"fast": "WaitForFirstConsumer"}) == "0"
    assert _wave("undeclared", {"fast": "Immediate"}) == "0"


def test_snapshot_versions_and_restore_from_snapshot():
    objects = synth_app(all_options)
    claim = objects.get("PersistentVolumeClaim", "llm-checkpoints")
    assert claim["spec"]["dataSource"] == {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "llm-checkpoints-2025-01-01"}
    snapshot = objects.get("VolumeSnapshot", "llm-checkpoints-after-run-1")
    assert snapshot["spec"] == {"source": {"persistentVolumeClaimName": "llm-checkpoints"}, "volumeSnapshotClassName": "csi-snapshots"}
    assert snapshot["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "1"
    assert snapshot["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"


def test_no_snapshot_unless_a_version_is_requested():
    def volume(app):
        CheckpointVolume(app, "data", size="1Gi", snapshot={"snapshot_class": "csi"})

    assert synth_app(volume).of_kind("VolumeSnapshot") == []


def _snapshot_platform(versions):
    platform = Platform(environments=[Environment(name="dev")])
    platform.app("app", lambda app: CheckpointVolume(app, "data", size="1Gi", snapshot={"versions": versions}))
    return platform


def test_fails_when_a_snapshot_would_copy_a_volume_created_in_the_same_change(tmp_path):
    out = tmp_path / "dist"
    _snapshot_platform([]).synthesize(out)
    (out / "dev/app/persistentvolumeclaim-data.yaml").unlink()  # as if the app had no volume yet
    with pytest.raises(MlkubeError) as raised:
        _snapshot_platform(["run-1"]).synthesize(out)
    assert "VolumeSnapshot data-run-1 would copy claim data, which this change creates: a new, empty volume" in str(raised.value)


def test_snapshot_added_after_a_run_is_taken(tmp_path):
    out = tmp_path / "dist"
    _snapshot_platform([]).synthesize(out)
    _snapshot_platform(["run-1"]).synthesize(out)
    assert (out / "dev/app/volumesnapshot-data-run-1.yaml").exists()


def test_volume_snapshot_is_valid_for_the_upstream_crd_schema(shared_dir):
    schema = catalog_schema(shared_dir, "snapshot.storage.k8s.io", "VolumeSnapshot", "v1")
    snapshot = synth_app(all_options).get("VolumeSnapshot", "llm-checkpoints-after-run-1")
    assert schema_errors(schema, snapshot) == []
    assert schema_errors(schema, {**snapshot, "spec": {**snapshot["spec"], "sourc": {}}})  # the oracle is strict


def test_training_job_mounts_read_write_and_server_read_only():
    objects = synth_app(train_and_serve)
    job_pod = objects.get("Job", "finetune")["spec"]["template"]["spec"]
    trainer = job_pod["containers"][0]
    assert {"name": "pvc-checkpoints", "persistentVolumeClaim": {"claimName": "checkpoints"}} in job_pod["volumes"]
    assert {"mountPath": "/mnt/checkpoints", "name": "pvc-checkpoints"} in trainer["volumeMounts"]
    assert {"name": "CHECKPOINT_DIR", "value": "/mnt/checkpoints"} in trainer["env"]
    assert {"name": "RESUME_FROM_CHECKPOINT", "value": "latest"} in trainer["env"]
    server_pod = objects.get("Deployment", "server")["spec"]["template"]["spec"]
    server = server_pod["containers"][0]
    assert {"name": "pvc-checkpoints", "persistentVolumeClaim": {"claimName": "checkpoints", "readOnly": True}} in server_pod["volumes"]
    assert {"mountPath": "/mnt/checkpoints", "name": "pvc-checkpoints", "readOnly": True} in server["volumeMounts"]
    assert {"name": "CHECKPOINT_DIR", "value": "/mnt/checkpoints"} in server["env"]
    # The model itself comes from the volume too, read-only.
    assert {"mountPath": "/mnt/models", "name": "model", "readOnly": True, "subPath": "finetune/final"} in server["volumeMounts"]
    assert {"name": "model", "persistentVolumeClaim": {"claimName": "checkpoints", "readOnly": True}} in server_pod["volumes"]


def test_mount_path_can_be_chosen_per_workload():
    def build(app):
        volume = CheckpointVolume(app, "data", size="10Gi")
        BatchJob(app, "prep", image=IMAGE).mount(volume, path="/data", env="DATA_DIR")
    main = synth_app(build).get("Job", "prep")["spec"]["template"]["spec"]["containers"][0]
    assert {"mountPath": "/data", "name": "pvc-data"} in main["volumeMounts"]
    assert {"name": "DATA_DIR", "value": "/data"} in main["env"]


def test_one_writer_and_readers_may_share_a_read_write_once_volume_on_one_node():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="10Gi")
        job = GpuTrainingJob(app, "train", image=IMAGE).mount(volume)
        server = InferenceService(app, "server", image=IMAGE).mount(volume, read_only=True)
        job.objects["Job"]["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "gpu-node-7"}
        server.pod_spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["gpu-node-7"]}]}]}}}
    assert synth_app(build).get("PersistentVolumeClaim", "checkpoints")["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_fails_when_a_read_write_once_volume_is_read_by_replicas_on_several_hosts():
    # The server's 2-4 replicas spread across hosts: a second node cannot attach the volume (Multi-Attach error).
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="10Gi")
        InferenceService(app, "server", image=IMAGE).mount(volume, read_only=True)
    message = _error(build)
    assert ("test/app/checkpoints: spec.accessModes: PersistentVolumeClaim 'checkpoints' is ReadWriteOnce (attaches to one node, "
            "read-only mounts too) but up to 5 pods that may land on different nodes mount it: test/app/server (Deployment/server, 5 pods)") in message
    assert "pin every pod to one node (nodeSelector kubernetes.io/hostname" in message


def test_fails_when_a_writer_and_a_reader_of_a_read_write_once_volume_may_be_on_two_nodes():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="10Gi")
        GpuTrainingJob(app, "train", image=IMAGE).mount(volume)
        InferenceService(app, "server", image=IMAGE, replicas=1, rollout="save-gpus").mount(volume, read_only=True)
    message = _error(build)
    assert "up to 2 pods that may land on different nodes mount it: test/app/train (Job/train, 1 pod), test/app/server (Deployment/server, 1 pod)" in message


def test_fails_when_a_read_write_once_pod_volume_is_mounted_by_two_pods_even_on_one_node():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="10Gi", access_mode="ReadWriteOncePod")
        server = InferenceService(app, "server", image=IMAGE, replicas=2, rollout="save-gpus").mount(volume, read_only=True)
        server.pod_spec["nodeName"] = "gpu-node-7"
    assert "is ReadWriteOncePod (one pod in the cluster) but is mounted by up to 2 pods at once" in _error(build)


def test_fails_when_a_kserve_service_serves_replicas_from_a_read_write_once_volume():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="10Gi")
        InferenceService(app, "server", backend="kserve", model=volume.model_uri("run/final"))
    assert "test/app/server (InferenceService/server, 4 pods)" in _error(build)


def test_one_pod_that_is_replaced_without_surge_may_read_a_read_write_once_volume_anywhere():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="10Gi")
        InferenceService(app, "server", image=IMAGE, replicas=1, rollout="save-gpus").mount(volume, read_only=True)
    assert synth_app(build).get("Deployment", "server")["spec"]["replicas"] == 1


def test_fails_when_a_rolling_update_would_start_a_second_pod_of_a_read_write_once_volume():
    # maxSurge 1: the new pod may be scheduled on another node while the old one holds the volume; the rollout never ends.
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="10Gi")
        InferenceService(app, "server", image=IMAGE, replicas=1).mount(volume, read_only=True)
    message = _error(build)
    assert "up to 2 pods that may land on different nodes mount it: test/app/server (Deployment/server, 2 pods)" in message
    assert "rollout='save-gpus'" in message


def _error(build) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build)
    return str(caught.value)


def test_fails_when_a_read_write_once_volume_is_written_by_a_multi_node_job():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="1Ti")
        GpuTrainingJob(app, "finetune", image=IMAGE, nodes=4).mount(volume)
    message = _error(build)
    assert ("test/app/checkpoints: spec.accessModes: PersistentVolumeClaim 'checkpoints' is ReadWriteOnce but "
            "test/app/finetune (Job/finetune) writes it from 4 pods at once (multi-node)") in message
    assert "access_mode='ReadWriteMany'" in message


def test_fails_when_a_read_write_once_volume_is_written_by_two_workloads():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="1Ti", access_mode="ReadWriteOncePod")
        GpuTrainingJob(app, "train", image=IMAGE).mount(volume)
        BatchJob(app, "evaluate", image=IMAGE).mount(volume)
    message = _error(build)
    assert ("PersistentVolumeClaim 'checkpoints' is ReadWriteOncePod but is written by 2 workloads: "
            "test/app/train and test/app/evaluate") in message


def test_fails_when_a_multi_node_jobset_writes_a_read_write_once_volume():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="1Ti")
        GpuTrainingJob(app, "finetune", image=IMAGE, nodes=2, backend="jobset").mount(volume)
    assert "test/app/finetune (JobSet/finetune) writes it from 2 pods at once" in _error(build)


def test_fails_when_size_is_not_a_quantity():
    message = _error(lambda app: CheckpointVolume(app, "checkpoints", size="1 TB"))
    assert "test/app/checkpoints: size: '1 TB' is not a Kubernetes quantity: ' TB' cannot follow the number (examples: 500m, 2, 0.5, 512Mi, 10Gi, 1e3)" in message


def test_fails_when_access_mode_is_unknown():
    message = _error(lambda app: CheckpointVolume(app, "checkpoints", size="1Ti", access_mode="ReadOnlyMany"))
    assert "test/app/checkpoints: access_mode: Input should be 'ReadWriteOnce', 'ReadWriteMany' or 'ReadWriteOncePod'" in message


def test_fails_with_only_the_spec_error_when_a_broken_job_is_mounted():
    def build(app):
        volume = CheckpointVolume(app, "checkpoints", size="1Ti")
        GpuTrainingJob(app, "train", image=IMAGE, nodes=0).mount(volume)
    message = _error(build)
    assert "(1 problem)" in message and "test/app/train: nodes: Input should be greater than 0 (got 0)" in message
