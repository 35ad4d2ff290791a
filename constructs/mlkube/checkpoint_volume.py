"""CheckpointVolume: a PersistentVolumeClaim for checkpoints, datasets and caches that outlives every pod.

It is never lost by accident: no Job owns it, Argo CD may neither prune nor delete it, and its
sync wave comes before the workloads that mount it. ``volume.mount_into(workload)`` (or
``workload.mount(volume)``) adds the volume, the mount and ``CHECKPOINT_DIR`` in one call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from constructs import Construct
from pydantic import Field

from .policy.waivers import Waiver
from .construct import MlConstruct
from .labels import standard_labels
from .pod import mount_claim
from .quantity import Quantity
from .spec import AbsolutePath, DnsLabel, Spec

__all__ = ["CheckpointVolume", "CheckpointVolumeSpec", "SnapshotSpec", "VolumeUser",
           "KEEP_ANNOTATIONS", "STORAGE_SYNC_WAVE", "SNAPSHOT_API_VERSION"]

SNAPSHOT_API_VERSION = "snapshot.storage.k8s.io/v1"
#: Argo CD never prunes nor deletes the volume, even when it leaves the config repo or the app is deleted.
KEEP_ANNOTATIONS = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}
#: Storage syncs before workloads (wave 0), so a pod never waits for a claim that does not exist yet.
STORAGE_SYNC_WAVE = "-1"
DEFAULT_MOUNT_PATH = "/mnt/checkpoints"


class SnapshotSpec(Spec):
    """A VolumeSnapshot of the volume (a backup the CSI driver takes once, when the snapshot is created)."""

    name: DnsLabel | None = Field(None, description="VolumeSnapshot name. Default: '<volume>-snapshot'.")
    snapshot_class: str | None = Field(None, description="volumeSnapshotClassName. Default: the cluster's default snapshot class.")


class CheckpointVolumeSpec(Spec):
    """Storage that outlives pods: checkpoints, datasets, caches."""

    name: DnsLabel | None = Field(None, description="Claim name (what pvc://<claim>/<path> refers to). Default: the construct id.")
    size: Quantity = Field(description="Requested capacity, e.g. '500Gi'.")
    storage_class: str | None = Field(None, description="storageClassName. Default: the cluster's default storage class.")
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] = Field(
        "ReadWriteOnce", description="ReadWriteMany when several pods or nodes write (multi-node training). Default: ReadWriteOnce.")
    volume_mode: Literal["Filesystem", "Block"] = Field("Filesystem", description="volumeMode. Default: Filesystem.")
    mount_path: AbsolutePath = Field(DEFAULT_MOUNT_PATH, description=f"Where workloads see the volume (env CHECKPOINT_DIR). Default: {DEFAULT_MOUNT_PATH}.")
    snapshot: SnapshotSpec | None = Field(None, description="Also emit a VolumeSnapshot of this volume. Default: none.")
    from_snapshot: DnsLabel | None = Field(None, description="Create the volume from this VolumeSnapshot (dataSource). Default: an empty volume.")
    waivers: list[Waiver] = Field(default_factory=list, description="Policy exceptions for this construct's objects, each with its reason (written as annotations). Default: none.")


@dataclass(frozen=True)
class VolumeUser:
    """A workload that mounts the volume."""

    path: str
    read_only: bool


class CheckpointVolume(MlConstruct):
    """``CheckpointVolume(app, "checkpoints", size="1Ti", access_mode="ReadWriteMany")``.

    Emits a PersistentVolumeClaim (and a VolumeSnapshot with ``snapshot``). Mount it with
    ``volume.mount_into(job)`` or ``job.mount(volume)``; serve from it with
    ``model=volume.model_uri("llm/final")`` and ``server.mount(volume, read_only=True)``.
    """

    def __init__(self, scope: Construct, id: str, spec: CheckpointVolumeSpec | Mapping[str, Any] | None = None, **fields: Any) -> None:
        super().__init__(scope, id)
        self.spec = self._parse(CheckpointVolumeSpec, spec, fields)
        self.claim_name = (self.spec.name if self.spec else None) or id
        self.users: list[VolumeUser] = []
        self.objects: dict[str, dict[str, Any]] = {}
        if self.spec is not None:
            self._build(self.spec)

    @property
    def claim(self) -> dict[str, Any]:
        return self.objects["PersistentVolumeClaim"]

    def model_uri(self, path: str = "") -> str:
        """``pvc://<claim>/<path>``, the InferenceService model option for a model on this volume."""
        return f"pvc://{self.claim_name}/{path.strip('/')}".rstrip("/")

    def mount_into(self, workload: Any, *, read_only: bool = False, path: str | None = None, env: str = "CHECKPOINT_DIR") -> None:
        """Mount into every pod of ``workload`` (anything with ``MountsVolumes``): volume, mount, env ``env``."""
        mount_path = path or (self.spec.mount_path if self.spec else DEFAULT_MOUNT_PATH)
        if not mount_path.startswith("/"):
            self._report("mount_path", f"mount path {mount_path!r} of {workload.construct_path} is not absolute", "give an absolute path")
            return
        for pod_spec in workload._pod_specs():
            mount_claim(pod_spec, volume=f"pvc-{self.claim_name}"[:63].rstrip("-"), claim=self.claim_name,
                        mount_path=mount_path, read_only=read_only, env=env)
        self.users.append(VolumeUser(workload.construct_path, read_only))
        workload._mounted(self, read_only=read_only, path=mount_path)

    def _metadata(self, name: str) -> dict[str, Any]:
        annotations = {**KEEP_ANNOTATIONS, "argocd.argoproj.io/sync-wave": STORAGE_SYNC_WAVE}
        return {"annotations": annotations, "labels": standard_labels(self.claim_name, "storage", self.ml_app.app_name),
                "name": name, "namespace": self.namespace}

    def _build(self, spec: CheckpointVolumeSpec) -> None:
        body: dict[str, Any] = {
            "accessModes": [spec.access_mode],
            "resources": {"requests": {"storage": spec.size}},
            "volumeMode": spec.volume_mode,
        }
        if spec.storage_class is not None:
            body["storageClassName"] = spec.storage_class
        if spec.from_snapshot is not None:
            body["dataSource"] = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": spec.from_snapshot}
        self.objects["PersistentVolumeClaim"] = self._emit({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                            "metadata": self._metadata(self.claim_name), "spec": body})
        if spec.snapshot is not None:
            self.objects["VolumeSnapshot"] = self._emit(self._snapshot(spec.snapshot))

    def _snapshot(self, snapshot: SnapshotSpec) -> dict[str, Any]:
        body: dict[str, Any] = {"source": {"persistentVolumeClaimName": self.claim_name}}
        if snapshot.snapshot_class is not None:
            body["volumeSnapshotClassName"] = snapshot.snapshot_class
        metadata = self._metadata(snapshot.name or f"{self.claim_name}-snapshot")
        # The snapshot is taken once the claim exists: one wave after the storage.
        metadata["annotations"]["argocd.argoproj.io/sync-wave"] = str(int(STORAGE_SYNC_WAVE) + 1)
        return {"apiVersion": SNAPSHOT_API_VERSION, "kind": "VolumeSnapshot", "metadata": metadata, "spec": body}
