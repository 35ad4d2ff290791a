"""CheckpointVolume: a PersistentVolumeClaim for checkpoints, datasets and caches that outlives every pod.

It is never lost by accident: no Job owns it, Argo CD may neither prune nor delete it, and its
sync wave comes before the workloads that mount it. ``volume.mount_into(workload)`` (or
``workload.mount(volume)``) adds the volume, the mount and ``CHECKPOINT_DIR`` in one call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Unpack

from pydantic import Field

from constructs import Construct

from ..kube.labels import standard_labels
from ..kube.quantity import Quantity
from .construct import MlConstruct
from .pod import mount_claim
from .spec import AbsolutePath, DnsLabel, Spec
from .waivers import Waiver

if TYPE_CHECKING:
    from .keywords import CheckpointVolumeFields

__all__ = ["CheckpointVolume", "CheckpointVolumeSpec", "SnapshotSpec", "VolumeUser", "new_volume_snapshots",
           "RESTORED_FROM_ANNOTATION", "KEEP_ANNOTATIONS", "STORAGE_SYNC_WAVE", "CONSUMER_SYNC_WAVE", "SNAPSHOT_API_VERSION", "SNAPSHOT_OF_ANNOTATION"]

SNAPSHOT_API_VERSION = "snapshot.storage.k8s.io/v1"
#: Argo CD never prunes nor deletes the volume, even when it leaves the config repo or the app is deleted.
KEEP_ANNOTATIONS = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}
#: Storage on an Immediate class syncs before workloads (wave 0), so a pod never waits for a claim that does not exist yet.
STORAGE_SYNC_WAVE = "-1"
#: A WaitForFirstConsumer claim stays Pending until a pod that uses it is scheduled, and Argo CD waits for a
#: wave's claims to be healthy (a Pending claim is Progressing: argoproj/gitops-engine pkg/health/health_pvc.go)
#: before the next wave: in wave -1 it would wait for ever for the wave-0 pod (argoproj/argo-cd#12840). It
#: syncs in the workloads' wave instead; within a wave Argo CD still applies claims before pods (by kind).
CONSUMER_SYNC_WAVE = "0"
#: Snapshots are taken after the workloads of their sync (their wave waits for the Jobs of that sync to finish).
SNAPSHOT_SYNC_WAVE = "1"
DEFAULT_MOUNT_PATH = "/mnt/checkpoints"
#: On a VolumeSnapshot: the claim it copies (synth refuses a snapshot of a claim that is new in this change).
SNAPSHOT_OF_ANNOTATION = "mlkube.dev/snapshot-of"
#: On a claim restored from a snapshot version (``model_uri(path, version=...)``): the VolumeSnapshot it holds.
RESTORED_FROM_ANNOTATION = "mlkube.dev/restored-from"


class SnapshotSpec(Spec):
    """VolumeSnapshots of the volume, taken on request: the CSI driver copies the data once, when a snapshot is created.

    Add a version after a run (``versions=["after-run-1"]``): the change creates VolumeSnapshot
    ``<claim>-after-run-1`` of what the run wrote. Versions stay (Prune=false,Delete=false): removing one
    from the list keeps the snapshot.
    """

    versions: list[DnsLabel] = Field(default_factory=list, description="One VolumeSnapshot '<claim>-<version>' per entry, "
                                     "taken when the entry is added. Default: none (no snapshot).")
    snapshot_class: str | None = Field(default=None, description="volumeSnapshotClassName. Default: the cluster's default snapshot class.")
    serve_access_mode: Literal["ReadOnlyMany", "ReadWriteOnce", "ReadWriteMany"] = Field(
        default="ReadOnlyMany", description="Access mode of the claim restored from a version that model_uri(path, version=...) serves "
        "(mounted read-only by every server). ReadOnlyMany lets replicas on many nodes share it, where the CSI driver "
        "supports it. Default: ReadOnlyMany.")


class CheckpointVolumeSpec(Spec):
    """Storage that outlives pods: checkpoints, datasets, caches."""

    name: DnsLabel | None = Field(default=None, description="Claim name (what pvc://<claim>/<path> refers to). Default: the construct id.")
    size: Quantity = Field(description="Requested capacity, e.g. '500Gi'.")
    storage_class: str | None = Field(default=None, description="storageClassName. Default: the cluster's default storage class.")
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] = Field(
        default="ReadWriteOnce", description="ReadWriteMany when several pods or nodes write (multi-node training). Default: ReadWriteOnce.")
    volume_mode: Literal["Filesystem", "Block"] = Field(default="Filesystem", description="volumeMode. Default: Filesystem.")
    mount_path: AbsolutePath = Field(default=DEFAULT_MOUNT_PATH, description=f"Where workloads see the volume (env CHECKPOINT_DIR). Default: {DEFAULT_MOUNT_PATH}.")
    snapshot: SnapshotSpec | None = Field(default=None, description="VolumeSnapshots of this volume, one per version added after a run. Default: none.")
    from_snapshot: DnsLabel | None = Field(default=None, description="Create the volume from this VolumeSnapshot (dataSource). Default: an empty volume.")
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

    def __init__(self, scope: Construct, id: str, spec: CheckpointVolumeSpec | Mapping[str, Any] | None = None,
                 **fields: Unpack[CheckpointVolumeFields]) -> None:
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

    def model_uri(self, path: str = "", *, version: str | None = None) -> str:
        """``pvc://<claim>/<path>``, the InferenceService model option for a model on this volume.

        With ``version`` (one of ``snapshot.versions``), the model is served from a claim restored from that
        VolumeSnapshot, ``<claim>-<version>``: the weights cannot change after review (a snapshot is a point-in-time copy that
        nothing writes to; the restored claim is a new volume that only read-only servers mount), which production requires.
        """
        claim = self.claim_name
        if version is not None:
            versions = self.spec.snapshot.versions if self.spec and self.spec.snapshot else []
            if version not in versions:
                self._report("snapshot.versions", f"model_uri(version={version!r}): no such snapshot version of {self.claim_name} "
                             f"(versions: {', '.join(versions) or 'none'})",
                             "add it to snapshot.versions in one change, then serve it with model_uri(path, version=...) in a later one")
            else:
                claim = self._restored_claim(version)
        return f"pvc://{claim}/{path.strip('/')}".rstrip("/")

    def _restored_claim(self, version: str) -> str:
        """Emit (once) the claim restored from snapshot version ``version``: same size, class and volume mode as the volume."""
        assert self.spec is not None and self.spec.snapshot is not None
        name = f"{self.claim_name}-{version}"[:253]
        key = f"PersistentVolumeClaim/{version}"
        if key not in self.objects:
            body: dict[str, Any] = {
                "accessModes": [self.spec.snapshot.serve_access_mode],
                # A dataSource of kind VolumeSnapshot restores the snapshot's content into the new volume; the request must be
                # at least the snapshot's restoreSize (kubernetes.io/docs/concepts/storage/volume-snapshots, "Provisioning
                # Volumes from Snapshots"): the size of the volume it was taken of.
                "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": name},
                "resources": {"requests": {"storage": self.spec.size}},
                "volumeMode": self.spec.volume_mode,
            }
            if self.spec.storage_class is not None:
                body["storageClassName"] = self.spec.storage_class
            metadata = self._metadata(name, self._binding_wave(self.spec))
            metadata["annotations"][RESTORED_FROM_ANNOTATION] = name
            self.objects[key] = self._emit({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": body})
        return name

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

    def _binding_wave(self, spec: CheckpointVolumeSpec) -> str:
        modes = getattr(self.ml_app.environment, "storage_binding_modes", {}) or {}
        immediate = spec.storage_class is not None and modes.get(spec.storage_class) == "Immediate"
        return STORAGE_SYNC_WAVE if immediate else CONSUMER_SYNC_WAVE

    def _metadata(self, name: str, wave: str = STORAGE_SYNC_WAVE) -> dict[str, Any]:
        annotations = {**KEEP_ANNOTATIONS, "argocd.argoproj.io/sync-wave": wave}
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
                                                            "metadata": self._metadata(self.claim_name, self._binding_wave(spec)),
                                                            "spec": body})
        if spec.snapshot is not None:
            for version in spec.snapshot.versions:
                self.objects[f"VolumeSnapshot/{version}"] = self._emit(self._snapshot(spec.snapshot, version))

    def _snapshot(self, snapshot: SnapshotSpec, version: str) -> dict[str, Any]:
        body: dict[str, Any] = {"source": {"persistentVolumeClaimName": self.claim_name}}
        if snapshot.snapshot_class is not None:
            body["volumeSnapshotClassName"] = snapshot.snapshot_class
        metadata = self._metadata(f"{self.claim_name}-{version}"[:253], SNAPSHOT_SYNC_WAVE)
        metadata["annotations"][SNAPSHOT_OF_ANNOTATION] = self.claim_name
        return {"apiVersion": SNAPSHOT_API_VERSION, "kind": "VolumeSnapshot", "metadata": metadata, "spec": body}


def new_volume_snapshots(ctx: Any) -> None:
    """CHECK: a snapshot version added together with its claim would copy a new, empty volume.

    Judged against the output being replaced: the claim must already be there. A first synth into an
    empty folder has nothing to compare with and is not checked.
    """
    from ..errors import Problem
    from ..kube.render import file_name

    claims = {(m.environment, m.app, m.namespace, m.name): m for m in ctx.manifests if m.kind == "PersistentVolumeClaim"}
    for manifest in ctx.manifests:
        claim_name = ((manifest.obj.get("metadata") or {}).get("annotations") or {}).get(SNAPSHOT_OF_ANNOTATION)
        claim = claims.get((manifest.environment, manifest.app, manifest.namespace, claim_name))
        folder = ctx.out_dir / manifest.environment
        if manifest.kind != "VolumeSnapshot" or claim is None or not folder.is_dir():
            continue
        if (folder / manifest.app / file_name(manifest.obj)).exists() or (folder / manifest.app / file_name(claim.obj)).exists():
            continue
        ctx.problems.append(Problem(manifest.where, "snapshot.versions", f"VolumeSnapshot {manifest.name} would copy claim "
                                    f"{claim_name}, which this change creates: a new, empty volume",
                                    "add the version in a later change, once a run has written to the volume"))
