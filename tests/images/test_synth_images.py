"""Synth with built images: Dockerfiles beside the manifests, images.json, tags, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from image_app import ImageWorkload, make_context

from mlkube import Environment, Image, Platform
from mlkube.errors import MlkubeError


def synth(out: Path, images: dict[str, Any], environments: list[dict[str, Any]] | None = None) -> Platform:
    platform = Platform(environments or [{"name": "dev"}, {"name": "prod", "registry": "ghcr.io/acme"}])

    @platform.app("fraud")
    def fraud(app: Any) -> None:
        for index, (name, image) in enumerate(images.items()):
            ImageWorkload(app, name, image, kind="CronJob" if index % 2 else "Deployment")

    platform.synthesize(out)
    return platform


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_context(tmp_path, "fraud")
    make_context(tmp_path, "trainer")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def two_images() -> dict[str, Any]:
    return {"server": Image.build("models/fraud"),
            "train": Image.build("models/trainer", purpose="training", accelerator="cuda", platforms=["linux/amd64", "linux/arm64"])}


def test_writes_build_files_and_the_images_manifest(repo: Path) -> None:
    platform = synth(repo / "dist", two_images())
    dist = repo / "dist"
    tags = {name: image.tag for name, image in platform.built_images.images.items()}
    for name in ("fraud", "trainer"):
        assert (dist / "images" / name / "Dockerfile").read_text().startswith("# syntax=docker/dockerfile:1\n")
        assert (dist / "images" / name / ".dockerignore").read_bytes() == (dist / "images" / name / "Dockerfile.dockerignore").read_bytes()
    manifest = json.loads((dist / "images.json").read_text())
    assert manifest == {"version": 1, "images": [
        {"name": "fraud", "context": "models/fraud", "dockerfile": "images/fraud/Dockerfile",
         "ignorefile": "images/fraud/.dockerignore", "tag": tags["fraud"],
         "base": {"reference": "python:3.11-slim-bookworm", "digest": None}, "purpose": "serving", "platforms": ["linux/amd64"],
         "references": {"dev": f"registry.example.com/ml/fraud:{tags['fraud']}", "prod": f"ghcr.io/acme/fraud:{tags['fraud']}"},
         "users": [{"environment": "dev", "path": "dev/fraud/server", "container": "server"},
                   {"environment": "prod", "path": "prod/fraud/server", "container": "server"}]},
        {"name": "trainer", "context": "models/trainer", "dockerfile": "images/trainer/Dockerfile",
         "ignorefile": "images/trainer/.dockerignore", "tag": tags["trainer"],
         "base": {"reference": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime", "digest": None}, "purpose": "training",
         "platforms": ["linux/amd64", "linux/arm64"],
         "references": {"dev": f"registry.example.com/ml/trainer:{tags['trainer']}", "prod": f"ghcr.io/acme/trainer:{tags['trainer']}"},
         "users": [{"environment": "dev", "path": "dev/fraud/train", "container": "main"},
                   {"environment": "prod", "path": "prod/fraud/train", "container": "main"}]}]}
    server = (dist / "dev" / "fraud" / "deployment-server.yaml").read_text()
    assert f"image: registry.example.com/ml/fraud:{tags['fraud']}\n" in server
    cronjob = (dist / "prod" / "fraud" / "cronjob-train.yaml").read_text()
    assert f"image: ghcr.io/acme/trainer:{tags['trainer']}\n" in cronjob


def test_changing_a_file_changes_exactly_that_images_tag(repo: Path) -> None:
    before = {n: i.tag for n, i in synth(repo / "dist", two_images()).built_images.images.items()}
    (repo / "models" / "trainer" / "train.py").write_text("print('training v2')\n")
    after = {n: i.tag for n, i in synth(repo / "dist", two_images()).built_images.images.items()}
    assert after["fraud"] == before["fraud"]
    assert after["trainer"] != before["trainer"]


def test_synth_is_byte_identical_across_runs(repo: Path) -> None:
    synth(repo / "a", two_images())
    synth(repo / "b", two_images())
    files_a = {p.relative_to(repo / "a"): p.read_bytes() for p in (repo / "a").rglob("*") if p.is_file()}
    files_b = {p.relative_to(repo / "b"): p.read_bytes() for p in (repo / "b").rglob("*") if p.is_file()}
    assert files_a == files_b


def test_an_output_inside_the_context_does_not_change_the_tag(repo: Path) -> None:
    (repo / "requirements.txt").write_text("pip>=20\n")
    images = {"server": Image.build(".", name="monorepo")}
    platform = Platform([{"name": "dev"}], out_dir="dist")
    platform.app("fraud", lambda app: ImageWorkload(app, "server", images["server"]))
    platform.synthesize()
    first = platform.built_images.images["monorepo"].tag
    second = synth(repo / "dist", images, [{"name": "dev"}]).built_images.images["monorepo"].tag
    assert first == second
    assert (repo / "dist/images/monorepo/.dockerignore").read_text().endswith("# The synth output folder.\ndist\n")


def test_registry_images_are_used_as_written_and_build_nothing(repo: Path) -> None:
    platform = synth(repo / "dist", {"server": "ghcr.io/acme/fraud:1.4.2"})
    assert len(platform.built_images) == 0
    assert not (repo / "dist" / "images.json").exists() and not (repo / "dist" / "images").exists()
    assert "image: ghcr.io/acme/fraud:1.4.2\n" in (repo / "dist" / "dev" / "fraud" / "deployment-server.yaml").read_text()


def test_fails_when_context_requirements_and_base_are_wrong_and_writes_nothing(repo: Path) -> None:
    (repo / "models" / "trainer" / "requirements.txt").unlink()
    images = {"server": Image.build("models/missing"),
              "train": Image.build("models/trainer"),
              "batch": Image.build("models/fraud", name="batch", base="Python:3.11!")}
    with pytest.raises(MlkubeError) as caught:
        synth(repo / "dist", images, [{"name": "dev"}])
    text = str(caught.value)
    assert "synth failed; nothing was written (3 problems)" in text
    assert "dev/fraud/server: image.context: build context 'models/missing' does not exist" in text
    assert "dev/fraud/train: image.requirements: 'requirements.txt' is not a file in the build context 'models/trainer'" in text
    assert "dev/fraud/batch: image.base: 'Python:3.11!' is not a valid image reference" in text
    assert not (repo / "dist").exists()


def test_fails_when_the_requirements_file_is_ignored(repo: Path) -> None:
    with pytest.raises(MlkubeError, match=r"'requirements.txt' is excluded by the image's .dockerignore patterns"):
        synth(repo / "dist", {"server": Image.build("models/fraud", ignore=["*.txt"])}, [{"name": "dev"}])


def test_fails_when_one_name_has_two_specs(repo: Path) -> None:
    images = {"server": Image.build("models/fraud"), "other": Image.build("models/trainer", name="fraud")}
    with pytest.raises(MlkubeError, match="image 'fraud' is already defined by dev/fraud/server with a different spec"):
        synth(repo / "dist", images, [{"name": "dev"}])


def test_fails_when_the_registry_is_not_a_registry(repo: Path) -> None:
    with pytest.raises(MlkubeError, match=r"environments\[0\]: registry: String should match pattern"):
        synth(repo / "dist", {"server": "nginx:1.27"}, [{"name": "dev", "registry": "https://registry.example.com/"}])


def test_environment_defaults() -> None:
    environment = Environment(name="dev")
    assert (environment.registry, environment.require_pinned_images) == ("registry.example.com/ml", False)
