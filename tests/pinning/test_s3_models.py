"""S3 models pinned at object versions: pin --resolve against a loopback S3, the downloader fetches exactly those versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_mlkube
from s3_stand_in import GcsStandIn, S3StandIn, running_gcs, running_s3, s3_environment

from mlkube import InferenceService, Model, Platform
from mlkube.core.model import ModelReference
from mlkube.core.model_fetch import object_set_digest, versioned_uri
from mlkube.errors import MlkubeError
from mlkube.pinning.lock import LOCK_FILE

pytest.importorskip("boto3", reason="boto3 is a dev dependency (pyproject.toml)")

IMAGE = "ghcr.io/acme/server@sha256:" + "a" * 64
DOWNLOADER = "kserve/storage-initializer@sha256:" + "c" * 64
NETWORK = {"egress_https_cidrs": ["0.0.0.0/0"]}
URI = "s3://models/fraud/v3"


def synth(out: Path, model: str, environments: list[dict[str, Any]] | None = None, backend: str = "kubernetes") -> Any:
    platform = Platform(environments or [{"name": "staging", "network": NETWORK}])

    @platform.app("fraud")
    def fraud(app: Any) -> None:
        options: dict[str, Any] = {"backend": backend}
        if backend == "kserve":
            options["kserve"] = {"model_format": "sklearn"}
        InferenceService(app, "server", image=IMAGE, model=Model.from_uri(model, downloader_image=DOWNLOADER), **options)

    return platform.synthesize(out)


def downloader(out: Path, env: str = "staging") -> dict[str, Any]:
    deployment = yaml.safe_load((out / env / "fraud" / "deployment-server.yaml").read_text())
    return next(c for c in deployment["spec"]["template"]["spec"]["initContainers"] if c["name"] == "model-downloader")


def run_downloader(container: dict[str, Any], dest: Path, store: S3StandIn, uri: str | None = None) -> subprocess.CompletedProcess[str]:
    """The init container's command, run with this machine's python3 (boto3 1.38.4, as in KServe 0.15's image)."""
    command, args = container["command"], container["args"]
    assert command[:2] == ["python3", "-c"]
    env = {"PATH": os.environ["PATH"], **s3_environment(store)}
    return subprocess.run([sys.executable, "-c", command[2], uri or args[0], str(dest)], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture()
def s3() -> Any:
    store = S3StandIn()
    store.put("models", "fraud/v3/model.joblib", b"weights-1")
    store.put("models", "fraud/v3/config/settings.json", b'{"threshold": 0.7}')
    store.put("models", "fraud/v30/other.bin", b"not this folder")
    with running_s3(store) as running:
        yield running


def test_pin_resolve_locks_each_object_at_its_version_id(tmp_path: Path, s3: S3StandIn) -> None:
    out = tmp_path / "dist"
    synth(out, URI + "/")
    result = run_mlkube("pin", "--resolve", "--dist", str(out), env={**s3_environment(s3), "MLKUBE_REVISION": "r1"})
    assert result.returncode == 0, result.stderr
    entry = json.loads((out / LOCK_FILE).read_text())["environments"]["staging"]["models"][URI + "/"]
    objects = {"model.joblib": s3.objects["models"]["fraud/v3/model.joblib"][-1][0],
               "config/settings.json": s3.objects["models"]["fraud/v3/config/settings.json"][-1][0]}
    assert entry["pinned"] == versioned_uri(URI + "/", objects)
    assert entry["pinned"].startswith(f"{URI}/?versionManifest={object_set_digest(URI + '/', objects)}&config/settings.json=v1-")
    assert entry["source"] == {"via": "resolve", "from": f"S3 ListObjectsV2 + HeadObject {URI}/ (2 objects)", "revision": "r1"}
    assert any(r.startswith("HEAD /models/fraud/v3/model.joblib") for r in s3.requests)
    # pin rewrote the manifest, and synth agrees with it byte for byte.
    assert downloader(out)["args"][0] == entry["pinned"]
    pinned = {path: path.read_bytes() for path in out.rglob("*.yaml")}
    synth(out, URI + "/")
    assert {path: path.read_bytes() for path in out.rglob("*.yaml")} == pinned


def test_the_downloader_fetches_the_pinned_versions_not_the_newest(tmp_path: Path, s3: S3StandIn) -> None:
    """The failing-before test of item 1: KServe's storage initializer downloads the prefix's current objects."""
    out = tmp_path / "dist"
    synth(out, URI + "/")
    assert run_mlkube("pin", "--resolve", "--dist", str(out), env=s3_environment(s3)).returncode == 0
    s3.put("models", "fraud/v3/model.joblib", b"weights-2 (overwritten after review)")
    dest = tmp_path / "mnt-models"
    dest.mkdir()
    result = run_downloader(downloader(out), dest, s3)
    assert result.returncode == 0, result.stderr
    assert (dest / "model.joblib").read_bytes() == b"weights-1"
    assert (dest / "config" / "settings.json").read_bytes() == b'{"threshold": 0.7}'
    assert not (dest / "other.bin").exists()
    assert any("versionId=v1-" in r for r in s3.requests if r.startswith("GET /models/fraud/v3/model.joblib"))


def test_the_downloader_refuses_a_hand_edited_version(tmp_path: Path, s3: S3StandIn) -> None:
    out = tmp_path / "dist"
    synth(out, URI + "/")
    assert run_mlkube("pin", "--resolve", "--dist", str(out), env=s3_environment(s3)).returncode == 0
    container = downloader(out)
    edited = container["args"][0].replace("model.joblib=v1-", "model.joblib=v2-")
    assert not ModelReference(edited).immutable
    result = run_downloader(container, tmp_path, s3, uri=edited)
    assert result.returncode == 1 and "does not match the listed object versions" in result.stderr
    with pytest.raises(ValueError, match="a pinned object set must read"):
        Model.from_uri(edited)


def test_an_unversioned_bucket_pins_nothing(tmp_path: Path) -> None:
    store = S3StandIn(versioned=False)
    store.put("models", "fraud/v3/model.joblib", b"weights")
    with running_s3(store):
        out = tmp_path / "dist"
        synth(out, URI)
        before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
        result = run_mlkube("pin", "--resolve", "--dist", str(out), env=s3_environment(store))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not every model could be pinned; nothing was changed" in result.stderr and "bucket is not versioned" in result.stderr
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


def test_a_prefix_that_spills_past_its_folder_is_refused(tmp_path: Path, s3: S3StandIn) -> None:
    out = tmp_path / "dist"
    synth(out, URI)  # s3://models/fraud/v3 also matches fraud/v30/...: KServe would mix both in
    result = run_mlkube("pin", "--resolve", "--dist", str(out), env=s3_environment(s3))
    assert result.returncode == 2 and "outside the folder 'fraud/v3/'" in result.stderr and "end the URI with '/'" in result.stderr


def test_production_refuses_an_unpinned_s3_model(tmp_path: Path) -> None:
    """Failing before: production only warned about s3:// (no immutable form was known)."""
    with pytest.raises(MlkubeError) as caught:
        synth(tmp_path / "dist", URI, [{"name": "prod", "production": True, "network": NETWORK}])
    assert "requires pinned models" in str(caught.value) and "turn on versioning on the bucket" in str(caught.value)


def test_production_serves_a_pinned_s3_model(tmp_path: Path) -> None:
    pinned = versioned_uri(URI, {"": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"})
    synth(tmp_path / "dist", pinned, [{"name": "prod", "production": True, "network": NETWORK}])
    container = downloader(tmp_path / "dist", "prod")
    assert container["args"][0] == pinned and container["command"][:2] == ["python3", "-c"]


def test_kserve_backend_refuses_a_pinned_s3_model(tmp_path: Path) -> None:
    """KServe's storage initializer ignores the query and would serve the newest objects."""
    pinned = versioned_uri(URI, {"": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"})
    with pytest.raises(MlkubeError) as caught:
        synth(tmp_path / "dist", pinned, backend="kserve")
    assert "KServe would ignore the versions" in str(caught.value) and "mlkube model package" in str(caught.value)


@pytest.mark.parametrize("version", ["null", "", "a b"])
def test_references_with_unusable_versions_are_not_immutable(version: str) -> None:
    assert not ModelReference(versioned_uri(URI, {"model.bin": version})).immutable
    assert ModelReference(versioned_uri("gs://models/fraud", {"model.bin": "1700000000000000"})).immutable
    assert not ModelReference(versioned_uri("gs://models/fraud", {"model.bin": "v1"})).immutable


def test_the_downloader_fetches_gcs_objects_at_their_pinned_generations(tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.storage", reason="google-cloud-storage is a dev dependency (pyproject.toml)")
    store = GcsStandIn()
    generation = store.put("models", "fraud/v3/model.joblib", b"weights-1")
    store.put("models", "fraud/v3/model.joblib", b"weights-2 (overwritten after review)")
    pinned = versioned_uri("gs://models/fraud/v3/", {"model.joblib": str(generation)})
    out = tmp_path / "dist"
    models = tmp_path / "models.json"
    models.write_text(json.dumps({"gs://models/fraud/v3/": pinned}))
    synth(out, "gs://models/fraud/v3/")
    assert run_mlkube("pin", "--models", str(models), "--dist", str(out)).returncode == 0
    container = downloader(out)
    assert container["args"][0] == pinned
    dest = tmp_path / "mnt-models"
    dest.mkdir()
    with running_gcs(store):
        env = {"PATH": os.environ["PATH"], "STORAGE_EMULATOR_HOST": f"http://{store.address}"}
        result = subprocess.run([sys.executable, "-c", container["command"][2], pinned, str(dest)], env=env, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (dest / "model.joblib").read_bytes() == b"weights-1"
    assert store.requests == [f"/download/storage/v1/b/models/o/fraud%2Fv3%2Fmodel.joblib?alt=media&generation={generation}"]


def test_the_resolver_is_bounded_in_objects(s3: S3StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlkube.pinning.models import S3Resolver

    for key, value in s3_environment(s3).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(MlkubeError, match="more than 1 objects under the prefix"):
        S3Resolver(max_objects=1).resolve(URI + "/")


def test_the_resolver_is_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint that accepts and never answers fails the pin after the read timeout (two attempts), not never."""
    import socket

    from mlkube.pinning.models import S3Resolver

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        for key, value in s3_environment(S3StandIn()).items():
            monkeypatch.setenv(key, value)
        with pytest.raises(MlkubeError) as caught:
            S3Resolver(endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5).resolve(URI + "/")
        assert "Read timeout" in str(caught.value) or "timed out" in str(caught.value)
    finally:
        silent.close()


def test_pin_resolve_locks_each_gcs_object_at_its_generation(tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.storage", reason="google-cloud-storage is a dev dependency (pyproject.toml)")
    store = GcsStandIn()
    weights = store.put("models", "fraud/v3/model.joblib", b"weights-1")
    config = store.put("models", "fraud/v3/config.json", b"{}")
    store.put("models", "fraud/v30/other.bin", b"not this folder")
    out = tmp_path / "dist"
    synth(out, "gs://models/fraud/v3")
    with running_gcs(store):
        env = {"STORAGE_EMULATOR_HOST": f"http://{store.address}", "MLKUBE_REVISION": "r1"}
        result = run_mlkube("pin", "--resolve", "--dist", str(out), env=env)
    assert result.returncode == 0, result.stderr
    entry = json.loads((out / LOCK_FILE).read_text())["environments"]["staging"]["models"]["gs://models/fraud/v3"]
    assert entry["pinned"] == versioned_uri("gs://models/fraud/v3", {"model.joblib": str(weights), "config.json": str(config)})
    assert entry["source"] == {"via": "resolve", "from": "GCS objects.list gs://models/fraud/v3 (2 objects)", "revision": "r1"}
    assert downloader(out)["args"][0] == entry["pinned"]


def test_pin_resolve_of_a_missing_gcs_prefix_changes_nothing(tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.storage", reason="google-cloud-storage is a dev dependency (pyproject.toml)")
    out = tmp_path / "dist"
    synth(out, "gs://models/missing")
    with running_gcs(GcsStandIn()) as store:
        result = run_mlkube("pin", "--resolve", "--dist", str(out), env={"STORAGE_EMULATOR_HOST": f"http://{store.address}"})
    assert result.returncode == 2 and "no object under gs://models/missing" in result.stderr and "Traceback" not in result.stderr
    assert not (out / LOCK_FILE).exists()
