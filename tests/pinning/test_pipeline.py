"""The real pipeline, as CI runs it: synth, build with buildah, push to a registry, pin, check, re-synth.

Real parts only: docker-registry on 127.0.0.1 at a free port, a base image the test makes and
pushes, buildah builds of the generated Dockerfiles, ``mlkube pin --resolve`` over the registry
API on a copy of the tree, compared with ``buildah push --digestfile`` and ``skopeo inspect``.
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
from pin_tree import snapshot_tree
from realtools import Buildah, Registry, buildah_unusable, make_python_base

from mlkube.pinning.scan import scan_images

REASON = buildah_unusable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"cannot build images here: {REASON}")
TESTS = Path(__file__).resolve().parent.parent

BLUEPRINT = """\
from image_app import ImageWorkload
from mlkube import Image, Platform

BASE = {base!r}
BASE_DIGEST = {base_digest!r}
platform = Platform([{{"name": "dev", "registry": {registry!r}}}, {{"name": "prod", "registry": {registry!r}}}])


@platform.app("fraud")
def fraud(app):
    ImageWorkload(app, "server", Image.build("models/fraud", base=BASE, base_digest=BASE_DIGEST), init_image=BASE)
    ImageWorkload(app, "retrain", Image.build("models/trainer", purpose="training", accelerator="cuda", base=BASE,
                                              base_digest=BASE_DIGEST), kind="CronJob", init_image=None)


platform.synth()
"""


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Buildah, Registry]]:
    root = tmp_path_factory.mktemp("pipeline")
    registry = Registry(root).start()
    try:
        yield Buildah(root), registry
    finally:
        registry.stop()
        shutil.rmtree(root, ignore_errors=True)


def mlkube(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_mlkube(*args, cwd=repo, env={"PYTHONPATH": f"{PACKAGE_ROOT}:{TESTS}"})
    assert result.returncode == 0, result.stderr
    return result


def push(buildah: Buildah, reference: str, digest_file: Path) -> str:
    buildah("push", "--tls-verify=false", "--digestfile", str(digest_file), reference, f"docker://{reference}")
    return digest_file.read_text().strip()


def skopeo_digest(reference: str) -> str:
    result = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{reference}"],
                            capture_output=True, text=True, timeout=120, check=True)
    return str(json.loads(result.stdout)["Digest"])


def image_values(dist: Path) -> dict[str, list[str]]:
    return {str(p.relative_to(dist)): [s.value for s in scan_images(p.read_text())]
            for p in sorted(dist.rglob("*.yaml")) if scan_images(p.read_text())}


def test_build_push_pin_check_resynth(tools: tuple[Buildah, Registry], tmp_path: Path) -> None:
    buildah, registry = tools
    base = f"{registry.address}/mlkube-test/python:3.11"
    make_python_base(buildah, base)
    base_digest = push(buildah, base, tmp_path / "base.digest")

    repo = tmp_path / "repo"
    make_context(repo, "fraud")
    make_context(repo, "trainer", {"data/huge.bin": "not in the image\n"})
    (repo / "app.py").write_text(BLUEPRINT.format(base=base, base_digest=base_digest, registry=f"{registry.address}/ml"))
    mlkube(repo, "synth", "--app", "app.py", "--out", "dist")

    # CI's build job: read the matrix, build each image with buildah, push it, keep its digest file.
    images = json.loads((repo / "dist" / "images.json").read_text())["images"]
    assert [image["name"] for image in images] == ["fraud", "trainer"]
    pushed: dict[str, str] = {}
    for image in images:
        reference = image["references"]["dev"]
        assert image["references"]["prod"] == reference
        buildah.bud(repo / "dist" / image["dockerfile"], repo / image["context"], reference, "--tls-verify=false",
                    "--platform", image["platforms"][0], "--build-arg", "REVISION=0000abc")
        pushed[reference] = push(buildah, reference, tmp_path / f"{image['name']}.digest")
        assert skopeo_digest(reference) == pushed[reference]

    # CI's pin job works on a copy of the tree.
    pinned = repo / "pinned"
    shutil.copytree(repo / "dist", pinned)
    before = snapshot_tree(pinned)
    result = mlkube(repo, "pin", "--dist", "pinned", "--resolve", "--insecure-registry", registry.address, "--revision", "0000abc")
    assert result.stdout == "pinned 6 image references in 4 files; lock updated\n"

    expected = {reference.rsplit(":", 1)[0] + "@" + digest for reference, digest in pushed.items()}
    base_pinned = f"{registry.address}/mlkube-test/python@{base_digest}"
    assert image_values(pinned) == {
        f"{env}/fraud/{name}": values for env in ("dev", "prod") for name, values in (
            ("cronjob-retrain.yaml", [f"{registry.address}/ml/trainer@{pushed[images[1]['references']['dev']]}"]),
            ("deployment-server.yaml", [f"{registry.address}/ml/fraud@{pushed[images[0]['references']['dev']]}", base_pinned]))}
    assert expected <= {value for values in image_values(pinned).values() for value in values}
    lock = json.loads((pinned / "images.lock.json").read_text())["environments"]
    assert lock["prod"]["images"]["fraud"] == {
        "repository": f"{registry.address}/ml/fraud", "tag": images[0]["tag"], "digest": pushed[images[0]["references"]["dev"]],
        "source": {"contentTag": images[0]["tag"], "revision": "0000abc"}}
    assert lock["dev"]["images"][f"{registry.address}/mlkube-test/python"]["digest"] == base_digest
    # Nothing but image values changed (the lock is new).
    after = snapshot_tree(pinned)
    assert sorted(set(after) - set(before)) == ["images.lock.json"]

    assert mlkube(repo, "check", "--pinned", "--dist", "pinned").stdout == "6 image references pinned by digest\n"

    # Synth again into the pinned tree: the lock pins the same images, byte for byte.
    mlkube(repo, "synth", "--app", "app.py", "--out", "pinned")
    assert snapshot_tree(pinned) == after

    # A second pin asks the registry nothing new and changes nothing.
    second = mlkube(repo, "pin", "--dist", "pinned", "--resolve", "--insecure-registry", registry.address)
    assert second.stdout == "nothing to pin: no file changed\n"
    assert snapshot_tree(pinned) == after

    # The unpinned tree fails the check, listing each container.
    failed = run_mlkube("check", "--pinned", "--dist", "dist", cwd=repo)
    assert failed.returncode == 1
    assert failed.stderr.count("is not pinned by digest") == 6
