"""pvc:// models at a named snapshot version: served from a claim restored from the VolumeSnapshot (issue 20, item 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube import CheckpointVolume, InferenceService, MlkubeError, Platform

IMAGE = "ghcr.io/acme/server@sha256:" + "a" * 64
PROD = [{"name": "prod", "production": True}]
STAGING = [{"name": "staging"}]


def platform(environments: list[dict[str, Any]], versions: list[str], served: str | None, backend: str = "kubernetes") -> Platform:
    result = Platform(environments)

    @result.app("chat")
    def chat(app: Any) -> None:
        volume = CheckpointVolume(app, "checkpoints", size="1Ti", access_mode="ReadWriteMany", storage_class="shared-rwx",
                                  snapshot={"versions": versions, "snapshot_class": "csi-snapshots"})
        options: dict[str, Any] = {"backend": backend}
        if backend == "kserve":
            options["kserve"] = {"model_format": "huggingface"}
        InferenceService(app, "server", image=IMAGE, model=volume.model_uri("finetune/final", version=served), **options)

    return result


def load(out: Path, env: str, name: str) -> dict[str, Any]:
    return yaml.safe_load((out / env / "chat" / name).read_text())


def test_a_served_version_is_a_claim_restored_from_its_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    platform(STAGING, ["run-1"], None).synthesize(out)  # the snapshot is taken in one change...
    platform(STAGING, ["run-1"], "run-1").synthesize(out)  # ... and served in a later one
    claim = load(out, "staging", "persistentvolumeclaim-checkpoints-run-1.yaml")
    assert claim["spec"] == {"accessModes": ["ReadOnlyMany"], "resources": {"requests": {"storage": "1Ti"}}, "volumeMode": "Filesystem",
                             "storageClassName": "shared-rwx",
                             "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "checkpoints-run-1"}}
    assert claim["metadata"]["annotations"]["mlkube.dev/restored-from"] == "checkpoints-run-1"
    assert claim["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
    pod = load(out, "staging", "deployment-server.yaml")["spec"]["template"]["spec"]
    model = next(v for v in pod["volumes"] if v["name"] == "model")
    assert model == {"name": "model", "persistentVolumeClaim": {"claimName": "checkpoints-run-1", "readOnly": True}}


def test_production_refuses_a_model_on_a_writable_claim(tmp_path: Path) -> None:
    """Failing before: a pvc:// model on the training volume itself passed in production."""
    with pytest.raises(MlkubeError) as caught:
        platform(PROD, [], None).synthesize(tmp_path / "dist")
    text = str(caught.value)
    assert "model on claim 'checkpoints' can change after review" in text and "'prod' requires pinned models" in text
    assert "model=volume.model_uri(path, version='v1')" in text


def test_production_serves_a_snapshot_version(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLKUBE_ALLOW_UNPINNED", "1")
        platform(PROD, ["run-1"], None).synthesize(out)
    platform(PROD, ["run-1"], "run-1").synthesize(out)
    assert (out / "prod" / "chat" / "persistentvolumeclaim-checkpoints-run-1.yaml").exists()


def test_the_kserve_backend_serves_the_restored_claim(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    platform(STAGING, ["run-1"], None, "kserve").synthesize(out)
    platform(STAGING, ["run-1"], "run-1", "kserve").synthesize(out)
    service = load(out, "staging", "inferenceservice-server.yaml")
    assert service["spec"]["predictor"]["model"]["storageUri"] == "pvc://checkpoints-run-1/finetune/final"


def test_fails_when_a_version_is_served_in_the_change_that_takes_it(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    platform(STAGING, [], None).synthesize(out)
    with pytest.raises(MlkubeError, match="which this change takes: Argo CD would wait for the claim before the snapshot exists"):
        platform(STAGING, ["run-1"], "run-1").synthesize(out)


def test_fails_when_the_version_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(MlkubeError, match=r"model_uri\(version='run-2'\): no such snapshot version of checkpoints \(versions: run-1\)"):
        platform(STAGING, ["run-1"], "run-2").synthesize(tmp_path / "dist")
