"""An OCI model artifact pushed to a real docker-registry is pinned by the registry's digest and synthesized by digest."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import run_mlkube
from realtools import Registry

from mlkube import InferenceService, Model, Platform
from mlkube.pinning.lock import LOCK_FILE

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry is not installed (bin/apt-packages.txt)")

IMAGE = "ghcr.io/acme/server@sha256:" + "a" * 64
DOWNLOADER = "kserve/storage-initializer@sha256:" + "c" * 64
NETWORK = {"egress_https_cidrs": ["0.0.0.0/0"]}


@pytest.fixture()
def registry(tmp_path: Path) -> Iterator[Registry]:
    (tmp_path / "registry").mkdir()
    running = Registry(tmp_path / "registry").start()
    yield running
    running.stop()


def _blob(address: str, name: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(f"http://{address}/v2/{name}/blobs/uploads/", method="POST")
    with urllib.request.urlopen(start, timeout=10) as answer:
        location = answer.headers["Location"]
    location = location if location.startswith("http") else f"http://{address}{location}"
    put = urllib.request.Request(f"{location}{'&' if '?' in location else '?'}digest={digest}", data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(put, timeout=10).close()
    return digest


def push_model(address: str, name: str, tag: str, files: dict[str, bytes]) -> str:
    """A model directory as an OCI image (its files under /models, as KServe modelcars read them); the manifest digest."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(f"models/{path}")
            info.size, info.mtime = len(data), 0
            archive.addfile(info, io.BytesIO(data))
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(layer.getvalue()).hexdigest()]}}).encode()
    manifest: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _blob(address, name, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _blob(address, name, layer.getvalue()),
                    "size": len(layer.getvalue())}]}
    body = json.dumps(manifest).encode()
    put = urllib.request.Request(f"http://{address}/v2/{name}/manifests/{tag}", data=body, method="PUT",
                                 headers={"Content-Type": manifest["mediaType"]})
    urllib.request.urlopen(put, timeout=10).close()
    return "sha256:" + hashlib.sha256(body).hexdigest()


def synth(out: Path, model: str) -> None:
    platform = Platform([{"name": "staging", "network": NETWORK}])

    @platform.app("chat")
    def chat(app: Any) -> None:
        InferenceService(app, "server", image=IMAGE, model=Model.from_uri(model, downloader_image=DOWNLOADER))

    platform.synthesize(out)


def test_an_oci_model_tag_is_pinned_by_the_registry_digest(tmp_path: Path, registry: Registry) -> None:
    digest = push_model(registry.address, "models/chat", "v1", {"config.json": b"{}", "model.safetensors": b"\0" * 64})
    uri = f"oci://{registry.address}/models/chat:v1"
    out = tmp_path / "dist"
    synth(out, uri)
    result = run_mlkube("pin", "--resolve", "--insecure-registry", registry.address, "--dist", str(out), env={"MLKUBE_REVISION": "r1"})
    assert result.returncode == 0, result.stderr
    entry = json.loads((out / LOCK_FILE).read_text())["environments"]["staging"]["models"][uri]
    assert entry["pinned"] == f"oci://{registry.address}/models/chat@{digest}"
    assert entry["source"] == {"via": "resolve", "from": f"registry HEAD {registry.address}/models/chat:v1", "revision": "r1"}
    synth(out, uri)
    assert f"- oci://{registry.address}/models/chat@{digest}\n" in (out / "staging/chat/deployment-server.yaml").read_text()


def test_an_unknown_oci_model_tag_changes_nothing(tmp_path: Path, registry: Registry) -> None:
    out = tmp_path / "dist"
    synth(out, f"oci://{registry.address}/models/chat:missing")
    result = run_mlkube("pin", "--resolve", "--insecure-registry", registry.address, "--dist", str(out))
    assert result.returncode == 2 and "not every model could be pinned; nothing was changed" in result.stderr
    assert not (out / LOCK_FILE).exists()
