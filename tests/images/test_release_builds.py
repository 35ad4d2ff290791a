"""The release's builds, for real: reproducible bytes per content tag, and a pushed tag never rebuilt.

Real parts: docker-registry on 127.0.0.1, buildah builds of the generated Dockerfiles, the real
`mlkube images plan` and `mlkube pin` commands. The build timestamp is the one the generated release
workflow gives its build step (SOURCE_DATE_EPOCH), passed to buildah as `--timestamp`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import PACKAGE_ROOT, run_mlkube
from image_app import make_context
from realtools import Buildah, Registry, buildah_unusable, make_python_base
from ruamel.yaml import YAML

from mlkube.core.gitops_settings import GitOps
from mlkube.gitops.workflows import render_workflows

REASON = buildah_unusable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"cannot build images here: {REASON}")
TESTS = Path(__file__).resolve().parent.parent

BLUEPRINT = """\
from image_app import ImageWorkload
from mlkube import Image, Platform

platform = Platform([{{"name": "dev", "registry": {registry!r}}}])


@platform.app("fraud")
def fraud(app):
    ImageWorkload(app, "server", Image.build("models/fraud", base={base!r}, base_digest={base_digest!r}), init_image=None)
    ImageWorkload(app, "retrain", Image.build("models/trainer", purpose="training", base={base!r},
                                              base_digest={base_digest!r}), kind="CronJob", init_image=None)


platform.synth()
"""


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Buildah, Registry, Path]]:
    root = tmp_path_factory.mktemp("release")
    registry = Registry(root).start()
    try:
        yield Buildah(root), registry, root
    finally:
        registry.stop()
        shutil.rmtree(root, ignore_errors=True)


def mlkube(repo: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    result = run_mlkube(*args, cwd=repo, env={"PYTHONPATH": f"{PACKAGE_ROOT}:{TESTS}"})
    assert result.returncode == expect, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def workflow_timestamp() -> str:
    """The SOURCE_DATE_EPOCH of the generated release workflow's build step."""
    release = YAML(typ="safe", pure=True).load(render_workflows(GitOps())["config-repo-release.yml"])
    build = next(step for step in release["jobs"]["build"]["steps"] if step.get("id") == "push")
    return str(build["env"]["SOURCE_DATE_EPOCH"])


def build(buildah: Buildah, repo: Path, image: dict, reference: str, *timestamp: str) -> None:
    dockerfile = repo / "dist" / image["dockerfile"]
    buildah("bud", *timestamp, "--isolation", "chroot", "--network", "host", "--layers=false", "--tls-verify=false",
            "-f", str(dockerfile), "--ignorefile", str(dockerfile.parent / ".dockerignore"), "-t", reference, str(repo / image["context"]))


def push(buildah: Buildah, reference: str, digest_file: Path) -> str:
    buildah("push", "--tls-verify=false", "--digestfile", str(digest_file), reference, f"docker://{reference}")
    return digest_file.read_text().strip()


@pytest.fixture(scope="module")
def repo(tools: tuple[Buildah, Registry, Path]) -> Path:
    buildah, registry, root = tools
    base = f"{registry.address}/mlkube-test/python:3.11"
    make_python_base(buildah, base)
    base_digest = push(buildah, base, root / "base.digest")
    repo = root / "repo"
    make_context(repo, "fraud")
    make_context(repo, "trainer")
    (repo / "app.py").write_text(BLUEPRINT.format(base=base, base_digest=base_digest, registry=f"{registry.address}/ml"))
    mlkube(repo, "synth", "--app", "app.py", "--out", "dist")
    return repo


def test_two_builds_of_one_content_tag_give_one_digest_with_the_workflows_timestamp(tools, repo, tmp_path):
    buildah, registry, _ = tools
    image = json.loads((repo / "dist/images.json").read_text())["images"][0]
    reference = f"{registry.address}/repro/{image['name']}:{image['tag']}"
    fixed = ("--timestamp", workflow_timestamp())
    digests = []
    for attempt in range(2):
        build(buildah, repo, image, reference, *fixed)
        digests.append(push(buildah, reference, tmp_path / f"fixed-{attempt}.digest"))
    assert digests[0] == digests[1]
    # Without the fixed timestamp (the old release workflow), the same inputs give other bytes.
    build(buildah, repo, image, reference)
    assert push(buildah, reference, tmp_path / "unfixed.digest") != digests[0]


def test_plan_builds_only_images_whose_content_tag_is_not_pushed(tools, repo, tmp_path):
    buildah, registry, _ = tools
    images = {image["name"]: image for image in json.loads((repo / "dist/images.json").read_text())["images"]}
    fraud = images["fraud"]["references"]["dev"]
    build(buildah, repo, images["fraud"], fraud, "--timestamp", workflow_timestamp())
    fraud_digest = push(buildah, fraud, tmp_path / "fraud.digest")

    matrix, existing = tmp_path / "matrix.json", tmp_path / "existing.json"
    result = mlkube(repo, "images", "plan", "--dist", "dist", "--insecure-registry", registry.address,
                    "--matrix-out", str(matrix), "--digests-out", str(existing))
    assert "1 image(s) to build (trainer)" in result.stdout
    planned = json.loads(matrix.read_text())
    assert [entry["name"] for entry in planned] == ["trainer"]
    assert planned[0]["repository"] == f"{registry.address}/ml/trainer"
    assert json.loads(existing.read_text()) == {fraud: fraud_digest}

    # CI builds what the plan lists, then pins from both digest files: every image is pinned.
    trainer = images["trainer"]["references"]["dev"]
    build(buildah, repo, images["trainer"], trainer, "--timestamp", workflow_timestamp())
    built = tmp_path / "built.json"
    built.write_text(json.dumps({trainer: push(buildah, trainer, tmp_path / "trainer.digest")}))
    mlkube(repo, "pin", "--dist", "dist", "--digests", str(existing), "--digests", str(built), "--revision", "0000abc")
    mlkube(repo, "check", "--pinned", "--dist", "dist")

    # Nothing left to build: the next release pushes nothing and overwrites no tag.
    again = mlkube(repo, "images", "plan", "--dist", "dist", "--insecure-registry", registry.address, "--matrix-out", str(matrix))
    assert "0 image(s) to build" in again.stdout
    assert json.loads(matrix.read_text()) == []


def test_plan_fails_cleanly_when_the_registry_cannot_answer(repo, tmp_path):
    matrix = tmp_path / "matrix.json"
    result = mlkube(repo, "images", "plan", "--dist", "dist", "--insecure-registry", "127.0.0.1:9",
                    "--matrix-out", str(matrix), expect=2)
    assert "cannot tell which images to build" in result.stderr and "cannot reach the registry" in result.stderr
    assert not matrix.exists()


def test_bases_are_pinned_through_the_lock(tools, repo, tmp_path):
    buildah, registry, root = tools
    base = f"{registry.address}/mlkube-test/python:3.11"
    base_digest = (root / "base.digest").read_text().strip()
    unpinned = tmp_path / "unpinned"
    make_context(unpinned, "fraud")
    make_context(unpinned, "trainer")
    (unpinned / "app.py").write_text(BLUEPRINT.format(base=base, base_digest=None, registry=f"{registry.address}/ml"))
    first = mlkube(unpinned, "synth", "--app", "app.py", "--out", "dist")
    assert f"base {base} is used by tag, not by digest" in first.stderr
    dockerfile = unpinned / "dist/images/fraud/Dockerfile"
    assert f"FROM {base} AS base" in dockerfile.read_text()
    before = {image["name"]: image for image in json.loads((unpinned / "dist/images.json").read_text())["images"]}
    assert before["fraud"]["base"] == {"reference": base, "digest": None}

    locked = mlkube(unpinned, "images", "pin-bases", "--dist", "dist", "--resolve", "--insecure-registry", registry.address)
    assert "locked 1 base image(s)" in locked.stdout
    assert json.loads((unpinned / "dist/images.lock.json").read_text())["bases"] == {base: base_digest}

    second = mlkube(unpinned, "synth", "--app", "app.py", "--out", "dist")
    assert "used by tag" not in second.stderr
    assert f"ARG BASE_DIGEST={base_digest}\nFROM {base}@${{BASE_DIGEST}} AS base" in dockerfile.read_text()
    after = {image["name"]: image for image in json.loads((unpinned / "dist/images.json").read_text())["images"]}
    assert after["fraud"]["base"] == {"reference": base, "digest": base_digest}
    assert after["fraud"]["tag"] != before["fraud"]["tag"]  # the Dockerfile names other bytes: a new content tag
    # The lock survives synth, and the pinned Dockerfile builds from the locked base.
    assert json.loads((unpinned / "dist/images.lock.json").read_text())["bases"] == {base: base_digest}
    build(buildah, unpinned, after["fraud"], after["fraud"]["references"]["dev"], "--timestamp", "0")
    again = mlkube(unpinned, "images", "pin-bases", "--dist", "dist", "--resolve", "--insecure-registry", registry.address)
    assert "nothing changed" in again.stdout
