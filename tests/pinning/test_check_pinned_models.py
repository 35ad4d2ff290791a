"""``mlkube check --pinned`` compares the model values of the manifests with the lock (issue 20, item 5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import REPO_ROOT, run_mlkube

from mlkube import InferenceService, Model, Platform
from mlkube.core.model_fetch import versioned_uri
from mlkube.pinning.check import check_pinned_models

IMAGE = "ghcr.io/acme/server@sha256:" + "a" * 64
DOWNLOADER = "kserve/storage-initializer@sha256:" + "c" * 64
NETWORK = {"egress_https_cidrs": ["0.0.0.0/0"]}
SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def synth(out: Path, model: str) -> Path:
    platform = Platform([{"name": "staging", "network": NETWORK}])

    @platform.app("chat")
    def chat(app: Any) -> None:
        InferenceService(app, "server", image=IMAGE, model=Model.from_uri(model, downloader_image=DOWNLOADER))

    platform.synthesize(out)
    return out / "staging" / "chat" / "deployment-server.yaml"


def pin(out: Path, pins: dict[str, str]) -> None:
    models = out.parent / "models.json"
    models.write_text(json.dumps(pins))
    result = run_mlkube("pin", "--models", str(models), "--dist", str(out))
    assert result.returncode == 0, result.stderr


def check(out: Path) -> Any:
    return run_mlkube("check", "--pinned", "--dist", str(out))


def test_a_pinned_model_passes(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    synth(out, "hf://acme/chat")
    pin(out, {"hf://acme/chat": SHA})
    result = check(out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2 image references pinned by digest, 1 model references at their locked revision\n"


def test_a_hand_edited_model_revision_fails(tmp_path: Path) -> None:
    """Failing before: check --pinned looked at images only and passed."""
    out = tmp_path / "dist"
    manifest = synth(out, "hf://acme/chat")
    pin(out, {"hf://acme/chat": SHA})
    manifest.write_text(manifest.read_text().replace(SHA, OTHER))
    result = check(out)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = next(n for n, text in enumerate(manifest.read_text().splitlines(), 1) if OTHER in text)
    assert (f"{manifest}:{line}: spec.template.spec.initContainers[0].args[0]: model 'hf://acme/chat:{OTHER}' is not the "
            f"revision locked for hf://acme/chat in staging (hf://acme/chat:{SHA})") in result.stderr
    assert "run mlkube synth to apply the lock" in result.stderr


def test_an_unpinned_model_fails(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    synth(out, "hf://acme/chat")
    result = check(out)
    assert result.returncode == 1 and "model 'hf://acme/chat' is not pinned" in result.stderr
    assert "error: 1 of 3 image, model and chart references are not pinned to the locked digest or revision" in result.stderr


def test_a_hand_edited_s3_object_version_fails(tmp_path: Path) -> None:
    pinned = versioned_uri("s3://models/chat/", {"model.safetensors": "v1"})
    out = tmp_path / "dist"
    manifest = synth(out, "s3://models/chat/")
    pin(out, {"s3://models/chat/": pinned})
    assert check(out).returncode == 0
    manifest.write_text(manifest.read_text().replace("model.safetensors=v1", "model.safetensors=v2"))
    result = check(out)
    assert result.returncode == 1 and "its versionManifest digest does not match the object versions listed" in result.stderr


def test_the_example_platform_serves_pinned_models_in_every_environment() -> None:
    for env in ("dev", "staging", "prod"):
        problems, checked = check_pinned_models(REPO_ROOT / "dist", frozenset({env}))
        assert problems == [] and checked >= 1, (env, problems)
    # pvc:// models are served from claims restored from snapshot versions (synth refuses anything else in prod).
    deployment = (REPO_ROOT / "dist" / "prod" / "llm-chat" / "deployment-llm-server.yaml").read_text()
    assert "claimName: llm-checkpoints-finetune-v1" in deployment
