"""Synth and the lock: the lock pins what synth renders, survives synth, and can be required."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from image_app import ImageWorkload, make_context

from mlkube import Image, Platform
from mlkube.errors import MlkubeError
from mlkube.pinning.lock import Lock, LockEntry

A = "sha256:" + "a" * 64
D = "sha256:" + "d" * 64


def synth(out: Path, environments: list[dict[str, Any]] | None = None) -> Platform:
    platform = Platform(environments or [{"name": "dev"}])

    @platform.app("fraud")
    def fraud(app: Any) -> None:
        ImageWorkload(app, "server", Image.build("models/fraud"))
        ImageWorkload(app, "job", "busybox:1.36", kind="CronJob", init_image=None)

    platform.synthesize(out)
    return platform


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_context(tmp_path, "fraud")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lock_for(platform: Platform, environment: str = "dev") -> Lock:
    tag = platform.built_images.images["fraud"].tag
    return Lock({environment: {"fraud": LockEntry("registry.example.com/ml/fraud", tag, A, tag, "rev"),
                               "busybox": LockEntry("busybox", "1.36", D)}})


def test_synth_applies_and_keeps_the_lock(repo: Path) -> None:
    dist = repo / "dist"
    platform = synth(dist)
    (dist / "images.lock.json").write_bytes(lock_for(platform).to_bytes())
    synth(dist)
    assert f"image: registry.example.com/ml/fraud@{A}\n" in (dist / "dev/fraud/deployment-server.yaml").read_text()
    assert f"image: busybox@{D}\n" in (dist / "dev/fraud/cronjob-job.yaml").read_text()
    assert (dist / "images.lock.json").read_bytes() == lock_for(platform).to_bytes()
    # images.json keeps the tags: it is what CI builds and pushes.
    assert ":" in json.loads((dist / "images.json").read_text())["images"][0]["references"]["dev"].rsplit("/", 1)[1]


def test_a_changed_context_is_not_pinned_by_a_stale_lock(repo: Path) -> None:
    dist = repo / "dist"
    (dist.mkdir())
    platform = synth(dist)
    (dist / "images.lock.json").write_bytes(lock_for(platform).to_bytes())
    (repo / "models/fraud/serve.py").write_text("print('v2')\n")
    new = synth(dist).built_images.images["fraud"].tag
    assert f"image: registry.example.com/ml/fraud:{new}\n" in (dist / "dev/fraud/deployment-server.yaml").read_text()


def test_the_lock_applies_per_environment(repo: Path) -> None:
    dist = repo / "dist"
    platform = synth(dist, [{"name": "dev"}, {"name": "prod"}])
    (dist / "images.lock.json").write_bytes(lock_for(platform, "prod").to_bytes())
    synth(dist, [{"name": "dev"}, {"name": "prod"}])
    assert "@sha256" not in (dist / "dev/fraud/deployment-server.yaml").read_text()
    assert "@sha256" in (dist / "prod/fraud/deployment-server.yaml").read_text()


def test_fails_when_the_lock_is_invalid_and_writes_nothing(repo: Path) -> None:
    dist = repo / "dist"
    synth(dist)
    (dist / "images.lock.json").write_text("{not json")
    before = {p: p.read_bytes() for p in dist.rglob("*") if p.is_file()}
    with pytest.raises(MlkubeError, match=r"images.lock.json:1:2: not valid JSON"):
        synth(dist)
    assert {p: p.read_bytes() for p in dist.rglob("*") if p.is_file()} == before


def test_require_pinned_images_lists_each_unpinned_image(repo: Path) -> None:
    with pytest.raises(MlkubeError) as caught:
        synth(repo / "dist", [{"name": "dev"}, {"name": "prod", "require_pinned_images": True}])
    text = str(caught.value)
    assert "(3 problems)" in text  # the server, its init container, the job
    assert ("prod/fraud/server: spec.template.spec.containers[0].image: Deployment/server container 'server': image "
            "'registry.example.com/ml/fraud:") in text
    assert ("prod/fraud/job: spec.jobTemplate.spec.template.spec.containers[0].image: CronJob/job container 'main': "
            "image 'busybox:1.36' is not pinned by digest, and environment 'prod' requires pinned images") in text
    assert not (repo / "dist").exists()


def test_require_pinned_images_passes_once_locked(repo: Path) -> None:
    dist = repo / "dist"
    platform = synth(dist)
    (dist / "images.lock.json").write_bytes(lock_for(platform, "prod").to_bytes())
    synth(dist, [{"name": "dev"}, {"name": "prod", "require_pinned_images": True}])


def test_allow_unpinned_synthesizes_with_warnings(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLKUBE_ALLOW_UNPINNED", "1")
    platform = Platform([{"name": "prod", "require_pinned_images": True}])
    platform.app("fraud", lambda app: ImageWorkload(app, "job", "busybox:1.36", init_image=None))
    result = platform.synthesize(repo / "dist")
    # The pinning check says why it let the image through; the policy's digest rule (a warning here) agrees.
    assert result.warnings == ["prod/fraud/job: Deployment/job container 'server': image busybox:1.36 is not pinned (MLKUBE_ALLOW_UNPINNED=1)",
                               "MLK-IMG-001 prod/fraud/job Deployment/job: spec.template.spec.containers[0].image: container 'server' uses "
                               "'busybox:1.36', not pinned by digest"]
