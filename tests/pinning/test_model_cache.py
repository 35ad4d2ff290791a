"""One download per model revision for every replica (a ReadWriteMany claim, no hostPath), and the node storage check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from s3_stand_in import S3StandIn, running_s3, s3_environment

from mlkube import CheckpointVolume, InferenceService, MlkubeError, Model, Platform
from mlkube.core.model import _FETCH_PROGRAM
from mlkube.core.model_fetch import versioned_uri

pytest.importorskip("boto3", reason="boto3 is a dev dependency (pyproject.toml)")

IMAGE = "ghcr.io/acme/server@sha256:" + "a" * 64
NETWORK = {"egress_https_cidrs": ["0.0.0.0/0"]}


def pod(out: Path) -> dict[str, Any]:
    return yaml.safe_load((out / "staging" / "fraud" / "deployment-server.yaml").read_text())["spec"]["template"]["spec"]


def synth(out: Path, model: Any, environment: dict[str, Any] | None = None) -> None:
    platform = Platform([{"name": "staging", "network": NETWORK, **(environment or {})}])

    @platform.app("fraud")
    def fraud(app: Any) -> None:
        CheckpointVolume(app, "model-cache", size="500Gi", access_mode="ReadWriteMany", storage_class="shared-rwx")
        InferenceService(app, "server", image=IMAGE, model=model, replicas=3)

    platform.synthesize(out)


def run(container: dict[str, Any], dest: Path, cache: Path, store: S3StandIn) -> subprocess.CompletedProcess[str]:
    """The init container's program as the pod runs it, with the cache claim at ``cache`` (env rewritten to that path)."""
    env = {"PATH": os.environ["PATH"], **s3_environment(store), "MLKUBE_MODEL_CACHE": str(cache)}
    assert {"name": "MLKUBE_MODEL_CACHE", "value": "/var/cache/mlkube-models"} in container["env"]
    return subprocess.run([sys.executable, "-c", container["command"][2], container["args"][0], str(dest)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_replicas_share_one_download_of_the_pinned_revision(tmp_path: Path) -> None:
    store = S3StandIn()
    version = store.put("models", "fraud/v3/model.joblib", b"weights-1")
    uri = versioned_uri("s3://models/fraud/v3/", {"model.joblib": version})
    out = tmp_path / "dist"
    synth(out, Model.from_uri(uri, shared_cache="model-cache"))
    spec = pod(out)
    assert {"name": "model-cache", "persistentVolumeClaim": {"claimName": "model-cache"}} in spec["volumes"]
    assert not any("hostPath" in volume for volume in spec["volumes"])
    server = spec["containers"][0]
    assert {"mountPath": "/var/cache/mlkube-models", "name": "model-cache", "readOnly": True} in server["volumeMounts"]
    downloader = next(c for c in spec["initContainers"] if c["name"] == "model-downloader")
    cache = tmp_path / "claim"
    cache.mkdir()
    with running_s3(store):
        replicas = []
        for replica in range(3):
            dest = tmp_path / f"replica-{replica}"
            dest.mkdir()
            result = run(downloader, dest, cache, store)
            assert result.returncode == 0, result.stderr
            replicas.append(dest)
    gets = [r for r in store.requests if r.startswith("GET /models/fraud/v3/model.joblib")]
    assert len(gets) == 1  # the first replica downloaded; the others found the revision in the claim
    for dest in replicas:
        assert (dest / "model.joblib").is_symlink() and (dest / "model.joblib").read_bytes() == b"weights-1"
    assert [p.name for p in cache.iterdir() if p.name.startswith(".partial")] == []


def test_a_new_revision_is_a_new_folder_of_the_cache(tmp_path: Path) -> None:
    store = S3StandIn()
    first = store.put("models", "fraud/v3/model.joblib", b"weights-1")
    second = store.put("models", "fraud/v3/model.joblib", b"weights-2")
    cache = tmp_path / "claim"
    cache.mkdir()
    container = {"command": ["python3", "-c", _FETCH_PROGRAM], "env": [{"name": "MLKUBE_MODEL_CACHE", "value": "/var/cache/mlkube-models"}]}
    with running_s3(store):
        for version, expected in ((first, b"weights-1"), (second, b"weights-2")):
            dest = tmp_path / f"pod-{version}"
            dest.mkdir()
            result = run({**container, "args": [versioned_uri("s3://models/fraud/v3/", {"model.joblib": version})]}, dest, cache, store)
            assert result.returncode == 0, result.stderr
            assert (dest / "model.joblib").read_bytes() == expected
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 2


def test_fails_when_the_download_does_not_fit_the_nodes_disk(tmp_path: Path) -> None:
    """Issue 20 item 3: the size is declared and checked against the node's storage."""
    with pytest.raises(MlkubeError) as caught:
        synth(tmp_path / "dist", Model.from_uri("hf://acme/chat", cache_size="200Gi"), {"node_model_storage": "100Gi"})
    text = str(caught.value)
    assert "model.cache_size" in text and "the model's cache_size (200Gi) does not fit the disk a node of staging has for models (100Gi" in text
    assert "shared_cache" in text
    synth(tmp_path / "fits", Model.from_uri("hf://acme/chat", cache_size="80Gi"), {"node_model_storage": "100Gi"})


def test_the_kserve_backend_refuses_a_shared_cache(tmp_path: Path) -> None:
    platform = Platform([{"name": "staging", "network": NETWORK}])

    @platform.app("fraud")
    def fraud(app: Any) -> None:
        InferenceService(app, "server", backend="kserve", kserve={"model_format": "sklearn"},
                         model=Model.from_uri("s3://models/fraud/v3/", shared_cache="model-cache"))

    with pytest.raises(MlkubeError, match="KServe's LocalModelCache"):
        platform.synthesize(tmp_path / "dist")
